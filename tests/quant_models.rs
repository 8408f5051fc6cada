//! Quantized ONNX fixtures built in Rust with prost (issue 8), in the
//! shape PyTorch's quantized export gives them. The checked-in files in
//! `tests/fixtures/quant/` are what these builders write
//! (`quantized_fixture_builders_reproduce_the_checked_in_files`), so the
//! onnxruntime outputs `scripts/gen-quant-fixtures.py` computes from those
//! files stay tied to this code. Regenerate with
//! `LFC_WRITE_QUANT_FIXTURES=1 cargo test quantized_fixture_builders`, then
//! run the script (`torch`) for the saturating rows and onnxruntime's
//! outputs. Models made by onnxruntime's `quantize_static` stay as that
//! exporter wrote them (the script makes them).

use std::path::Path;

use prost::Message;
use tract_onnx::pb::{
    tensor_proto::DataType, GraphProto, ModelProto, NodeProto, OperatorSetIdProto, TensorProto,
};

use crate::models::{attr_i, float_tensor, value_info, Rng, D};

/// A built fixture: the encoded model and its calibration rows.
pub struct Built {
    pub onnx: Vec<u8>,
    pub calib: Vec<Vec<f32>>,
}

fn normal(rng: &mut Rng, n: usize, sd: f64) -> Vec<f32> {
    (0..n).map(|_| (rng.normal() * sd) as f32).collect()
}

fn int_tensor(name: &str, dims: &[i64], ty: DataType, v: &[i64]) -> TensorProto {
    let raw: Vec<u8> = match ty {
        DataType::Int8 => v.iter().map(|&x| x as i8 as u8).collect(),
        DataType::Uint8 => v.iter().map(|&x| x as u8).collect(),
        _ => unreachable!("8-bit integers only"),
    };
    TensorProto {
        name: name.to_owned(),
        dims: dims.to_vec(),
        data_type: ty as i32,
        raw_data: raw,
        ..Default::default()
    }
}

/// `x [rows][k] @ w[n][k]^T + b` in float32, row by row.
fn linear(x: &[Vec<f32>], w: &[f32], b: &[f32], relu: bool) -> Vec<Vec<f32>> {
    let n = b.len();
    x.iter()
        .map(|r| {
            (0..n)
                .map(|j| {
                    let row = &w[j * r.len()..(j + 1) * r.len()];
                    let v = row.iter().zip(r).fold(0f32, |a, (w, x)| a + w * x) + b[j];
                    if relu {
                        v.max(0.0)
                    } else {
                        v
                    }
                })
                .collect()
        })
        .collect()
}

/// torch's MinMaxObserver for quint8: the range widened to include 0,
/// `scale = (hi - lo) / 255` in float32, `zp = round(-lo / scale)`.
fn act_q(a: &[Vec<f32>]) -> (f32, i64) {
    let all = a.iter().flatten();
    let lo = all.clone().fold(0f32, |m, &v| m.min(v)) as f64;
    let hi = all.fold(0f32, |m, &v| m.max(v)) as f64;
    let scale = ((hi - lo) / 255.0) as f32;
    let zp = (-lo / scale as f64).round_ties_even().clamp(0.0, 255.0) as i64;
    (scale, zp)
}

/// Accumulates the graph in PyTorch's QDQ shape.
struct Qdq {
    graph: GraphProto,
}

impl Qdq {
    fn node(&mut self, op: &str, name: &str, inputs: &[&str], outputs: &[&str]) -> &mut NodeProto {
        self.graph.node.push(NodeProto {
            op_type: op.to_owned(),
            name: name.to_owned(),
            input: inputs.iter().map(|s| s.to_string()).collect(),
            output: outputs.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        });
        self.graph.node.last_mut().unwrap()
    }

    fn init(&mut self, t: TensorProto) -> String {
        let name = t.name.clone();
        self.graph.initializer.push(t);
        name
    }

    /// `QuantizeLinear -> DequantizeLinear` of `x` at (scale, uint8 zp):
    /// the name of the dequantized tensor.
    fn q_dq(&mut self, x: &str, name: &str, (scale, zp): (f32, i64)) -> String {
        let s = self.init(float_tensor(&format!("{name}.scale"), &[], &[scale], false));
        let z = self.init(int_tensor(
            &format!("{name}.zero_point"),
            &[],
            DataType::Uint8,
            &[zp],
        ));
        let q = format!("{name}.q");
        let dq = format!("{name}.dq");
        self.node(
            "QuantizeLinear",
            &format!("{name}_quant"),
            &[x, &s, &z],
            &[&q],
        );
        self.node(
            "DequantizeLinear",
            &format!("{name}_dequant"),
            &[&q, &s, &z],
            &[&dq],
        );
        dq
    }

    /// Symmetric per-channel int8 weights of `w [n][k]` (zero point 0,
    /// scale `max |w_row| / 127`), dequantized along axis 0, or stored
    /// transposed `[k][n]` along axis 1 (a MatMul's).
    fn weight(&mut self, name: &str, w: &[f32], n: usize, transpose: bool) -> String {
        let k = w.len() / n;
        let s: Vec<f32> = (0..n)
            .map(|j| {
                w[j * k..(j + 1) * k]
                    .iter()
                    .fold(0f32, |m, v| m.max(v.abs()))
                    / 127.0
            })
            .collect();
        let q: Vec<i64> = (0..n * k)
            .map(|i| {
                ((w[i] / s[i / k]) as f64)
                    .round_ties_even()
                    .clamp(-127.0, 127.0) as i64
            })
            .collect();
        let (q, dims, axis) = if transpose {
            let t = (0..k * n).map(|i| q[(i % n) * k + i / n]).collect();
            (t, [k as i64, n as i64], 1)
        } else {
            (q, [n as i64, k as i64], 0)
        };
        let wq = self.init(int_tensor(
            &format!("{name}.weight_q"),
            &dims,
            DataType::Int8,
            &q,
        ));
        let ws = self.init(float_tensor(
            &format!("{name}.weight_scale"),
            &[n as i64],
            &s,
            false,
        ));
        let wz = self.init(int_tensor(
            &format!("{name}.weight_zero_point"),
            &[n as i64],
            DataType::Int8,
            &vec![0; n],
        ));
        let out = format!("{name}.weight");
        self.node(
            "DequantizeLinear",
            &format!("{name}.weight_dequant"),
            &[&wq, &ws, &wz],
            &[&out],
        )
        .attribute
        .push(attr_i("axis", axis));
        out
    }
}

/// A PyTorch-style QDQ MLP, 16 -> 24 (Gemm, ReLU) -> 12 (MatMul + Add,
/// ReLU) -> 3, in the shape `torch.onnx.export` gives a model quantized
/// with torch.ao (fx, `get_default_qconfig`): uint8 activations with zero
/// points from a MinMax observer on 100 calibration rows, symmetric
/// per-channel int8 weights (zero point 0), float biases, `Linear + ReLU`
/// as `Gemm -> Relu -> QuantizeLinear`, one layer as `MatMul -> Add`, a
/// DequantizeLinear at the output.
pub fn torch_qdq() -> Built {
    let (n_in, h1, h2, n_out) = (16, 24, 12, 3);
    let mut rng = Rng::new(0x7041);
    let w1 = normal(&mut rng, h1 * n_in, 0.4);
    let b1 = normal(&mut rng, h1, 0.2);
    let w2 = normal(&mut rng, h2 * h1, 0.3);
    let b2 = normal(&mut rng, h2, 0.2);
    let w3 = normal(&mut rng, n_out * h2, 0.3);
    let b3 = normal(&mut rng, n_out, 0.1);
    let calib: Vec<Vec<f32>> = (0..100)
        .map(|_| {
            (0..n_in)
                .map(|_| (-1.0 + 3.0 * rng.uniform()) as f32)
                .collect()
        })
        .collect();
    let a1 = linear(&calib, &w1, &b1, true);
    let a2 = linear(&a1, &w2, &b2, true);
    let y = linear(&a2, &w3, &b3, false);
    let mut g = Qdq {
        graph: GraphProto {
            name: "torch_qdq".into(),
            ..Default::default()
        },
    };
    let x = g.q_dq("input", "x", act_q(&calib));
    let w = g.weight("fc1", &w1, h1, false);
    let b = g.init(float_tensor("fc1.bias", &[h1 as i64], &b1, false));
    g.node("Gemm", "fc1", &[&x, &w, &b], &["fc1.out"])
        .attribute
        .push(attr_i("transB", 1));
    g.node("Relu", "fc1_relu", &["fc1.out"], &["fc1.relu"]);
    let x = g.q_dq("fc1.relu", "a1", act_q(&a1));
    let w = g.weight("fc2", &w2, h2, true);
    g.node("MatMul", "fc2_matmul", &[&x, &w], &["fc2.mm"]);
    let b = g.init(float_tensor("fc2.bias", &[h2 as i64], &b2, false));
    g.node("Add", "fc2_add", &["fc2.mm", &b], &["fc2.out"]);
    g.node("Relu", "fc2_relu", &["fc2.out"], &["fc2.relu"]);
    let x = g.q_dq("fc2.relu", "a2", act_q(&a2));
    let w = g.weight("fc3", &w3, n_out, false);
    let b = g.init(float_tensor("fc3.bias", &[n_out as i64], &b3, false));
    g.node("Gemm", "fc3", &[&x, &w, &b], &["fc3.out"])
        .attribute
        .push(attr_i("transB", 1));
    g.q_dq("fc3.out", "y", act_q(&y));
    g.graph.node.last_mut().unwrap().output[0] = "output".into();
    g.graph.input = vec![value_info("input", Some(&[D::N(1), D::N(n_in as i64)]))];
    g.graph.output = vec![value_info("output", Some(&[D::N(1), D::N(n_out as i64)]))];
    let m = ModelProto {
        ir_version: 8,
        producer_name: "pytorch".into(),
        producer_version: "2.1.0".into(),
        opset_import: vec![OperatorSetIdProto {
            domain: String::new(),
            version: 13,
        }],
        graph: Some(g.graph),
        ..Default::default()
    };
    Built {
        onnx: m.encode_to_vec(),
        calib,
    }
}

/// The rows as the fixtures' CSV (shortest round-trip decimal of each
/// float32, as the script writes them).
pub fn csv(rows: &[Vec<f32>]) -> String {
    rows.iter()
        .map(|r| {
            let v: Vec<String> = r.iter().map(|x| format!("{:?}", *x as f64)).collect();
            v.join(",") + "\n"
        })
        .collect()
}

/// A fixture builder.
pub type BuildFn = fn() -> Built;

/// The builders and the files they write, by fixture name.
pub fn builders() -> Vec<(&'static str, BuildFn)> {
    vec![("torch_qdq", torch_qdq)]
}

/// Writes (with `LFC_WRITE_QUANT_FIXTURES` set) or checks every built
/// fixture against the checked-in `<name>.onnx` and `<name>.calib.csv`.
#[test]
fn quantized_fixture_builders_reproduce_the_checked_in_files() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/quant");
    let write = std::env::var_os("LFC_WRITE_QUANT_FIXTURES").is_some();
    for (name, build) in builders() {
        let b = build();
        let (onnx, calib) = (
            dir.join(format!("{name}.onnx")),
            dir.join(format!("{name}.calib.csv")),
        );
        if write {
            std::fs::write(&onnx, &b.onnx).unwrap();
            std::fs::write(&calib, csv(&b.calib)).unwrap();
            continue;
        }
        let have = std::fs::read(&onnx).unwrap();
        assert!(
            have == b.onnx,
            "{name}: the builder no longer writes the checked-in {} (regenerate: see tests/quant_models.rs)",
            onnx.display()
        );
        let have = std::fs::read_to_string(&calib).unwrap();
        assert_eq!(have, csv(&b.calib), "{name}: calibration rows");
    }
}
