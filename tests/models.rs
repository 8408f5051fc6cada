//! ONNX test models, built in Rust with the prost types tract-onnx ships.
//!
//! Every builder returns the encoded model. Weights are deterministic
//! pseudo-random draws from N(0, 1/sqrt(fan_in)) (as a trained net's), from a
//! fixed seed per model, so every run and every engineer sees the same files.
//! Half the weight tensors are stored as `raw_data` and half as `float_data`,
//! the two encodings exporters use.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use prost::Message;
use tract_onnx::pb::{
    self, attribute_proto::AttributeType, tensor_shape_proto::dimension, type_proto,
    AttributeProto, GraphProto, ModelProto, NodeProto, OperatorSetIdProto, TensorProto,
    TensorShapeProto, TypeProto, ValueInfoProto,
};

/// Writes `bytes` to `dir/name.onnx` and returns the path.
pub fn write_model(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(format!("{name}.onnx"));
    std::fs::write(&path, bytes).unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
    path
}

/// The models the front end must lower, by name.
pub fn good_models() -> Vec<(&'static str, Vec<u8>)> {
    vec![
        ("mlp_relu", mlp_relu()),
        ("matmul_affine", matmul_affine()),
        ("clip_softmax", clip_softmax()),
        ("residual", residual()),
        ("symbolic_batch", symbolic_batch()),
        ("clip_attrs_opset10", clip_attrs_opset10()),
        ("column_gemm", column_gemm()),
        ("folded_shapes", folded_shapes()),
        ("softmax_legacy_3d", softmax_legacy_3d()),
        ("two_outputs", two_outputs()),
        ("gemm_bn_relu", gemm_bn_relu()),
        ("conv1d_policy", conv1d_policy()),
        ("conv2d_pools", conv2d_pools()),
        ("index_maps", index_maps()),
        ("matmul_rows", matmul_rows()),
        ("unary_tables", unary_tables()),
        ("gelu_opset20", gelu_opset20()),
        ("concat_blocks", concat_blocks()),
        ("layer_norm_mlp", layer_norm_mlp()),
        ("input_slice", input_slice()),
    ]
}

/// A splitmix64 stream: small, seedable, good enough for test weights.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Standard normal (Box-Muller).
    pub fn normal(&mut self) -> f64 {
        let u1 = 1.0 - self.uniform(); // (0, 1]
        let u2 = self.uniform();
        (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
    }
}

/// A tensor dimension in a type: fixed or symbolic.
#[derive(Clone, Copy)]
pub enum D {
    N(i64),
    S(&'static str),
}

pub fn value_info(name: &str, dims: Option<&[D]>) -> ValueInfoProto {
    let shape = dims.map(|dims| TensorShapeProto {
        dim: dims
            .iter()
            .map(|d| pb::tensor_shape_proto::Dimension {
                denotation: String::new(),
                value: Some(match *d {
                    D::N(n) => dimension::Value::DimValue(n),
                    D::S(s) => dimension::Value::DimParam(s.to_owned()),
                }),
            })
            .collect(),
    });
    ValueInfoProto {
        name: name.to_owned(),
        r#type: Some(TypeProto {
            denotation: String::new(),
            value: Some(type_proto::Value::TensorType(type_proto::Tensor {
                elem_type: pb::tensor_proto::DataType::Float as i32,
                shape,
            })),
        }),
        ..Default::default()
    }
}

pub fn float_tensor(name: &str, dims: &[i64], data: &[f32], raw: bool) -> TensorProto {
    assert_eq!(
        dims.iter().product::<i64>() as usize,
        data.len(),
        "tensor `{name}`"
    );
    let mut t = TensorProto {
        name: name.to_owned(),
        dims: dims.to_vec(),
        data_type: pb::tensor_proto::DataType::Float as i32,
        ..Default::default()
    };
    if raw {
        t.raw_data = data.iter().flat_map(|v| v.to_le_bytes()).collect();
    } else {
        t.float_data = data.to_vec();
    }
    t
}

pub fn int64_tensor(name: &str, dims: &[i64], data: &[i64]) -> TensorProto {
    TensorProto {
        name: name.to_owned(),
        dims: dims.to_vec(),
        data_type: pb::tensor_proto::DataType::Int64 as i32,
        int64_data: data.to_vec(),
        ..Default::default()
    }
}

pub fn attr_f(name: &str, f: f32) -> AttributeProto {
    AttributeProto {
        name: name.to_owned(),
        r#type: AttributeType::Float as i32,
        f,
        ..Default::default()
    }
}

pub fn attr_i(name: &str, i: i64) -> AttributeProto {
    AttributeProto {
        name: name.to_owned(),
        r#type: AttributeType::Int as i32,
        i,
        ..Default::default()
    }
}

pub fn attr_ints(name: &str, v: &[i64]) -> AttributeProto {
    AttributeProto {
        name: name.to_owned(),
        r#type: AttributeType::Ints as i32,
        ints: v.to_vec(),
        ..Default::default()
    }
}

pub fn attr_s(name: &str, v: &str) -> AttributeProto {
    AttributeProto {
        name: name.to_owned(),
        r#type: AttributeType::String as i32,
        s: v.as_bytes().to_vec(),
        ..Default::default()
    }
}

pub fn attr_t(name: &str, t: TensorProto) -> AttributeProto {
    AttributeProto {
        name: name.to_owned(),
        r#type: AttributeType::Tensor as i32,
        t: Some(t),
        ..Default::default()
    }
}

/// Accumulates one graph.
pub struct Builder {
    pub graph: GraphProto,
    pub opset: i64,
    rng: Rng,
    raw_next: bool,
}

impl Builder {
    pub fn new(name: &str, seed: u64, opset: i64) -> Builder {
        Builder {
            graph: GraphProto {
                name: name.to_owned(),
                ..Default::default()
            },
            opset,
            rng: Rng::new(seed),
            raw_next: true,
        }
    }

    pub fn input(&mut self, name: &str, dims: &[D]) -> &mut Self {
        self.graph.input.push(value_info(name, Some(dims)));
        self
    }

    pub fn output(&mut self, name: &str, dims: &[D]) -> &mut Self {
        self.graph.output.push(value_info(name, Some(dims)));
        self
    }

    /// An initializer of exact values.
    pub fn init(&mut self, name: &str, dims: &[i64], data: &[f32]) -> &mut Self {
        let raw = self.raw_next;
        self.raw_next = !raw;
        self.graph
            .initializer
            .push(float_tensor(name, dims, data, raw));
        self
    }

    /// A random N(0, 1/sqrt(fan_in)) initializer.
    pub fn weight(&mut self, name: &str, dims: &[i64], fan_in: usize) -> &mut Self {
        let n = dims.iter().product::<i64>() as usize;
        let sd = 1.0 / (fan_in as f64).sqrt();
        let data: Vec<f32> = (0..n).map(|_| (self.rng.normal() * sd) as f32).collect();
        self.init(name, dims, &data)
    }

    pub fn node(
        &mut self,
        op: &str,
        name: &str,
        inputs: &[&str],
        outputs: &[&str],
        attrs: Vec<AttributeProto>,
    ) -> &mut Self {
        self.graph.node.push(NodeProto {
            op_type: op.to_owned(),
            name: name.to_owned(),
            input: inputs.iter().map(|s| s.to_string()).collect(),
            output: outputs.iter().map(|s| s.to_string()).collect(),
            attribute: attrs,
            ..Default::default()
        });
        self
    }

    pub fn build(&self) -> Vec<u8> {
        ModelProto {
            ir_version: 8,
            producer_name: "lfc-tests".to_owned(),
            opset_import: vec![OperatorSetIdProto {
                domain: String::new(),
                version: self.opset,
            }],
            graph: Some(self.graph.clone()),
            ..Default::default()
        }
        .encode_to_vec()
    }
}

/// (a) x[1,8] → Gemm(transB=1) → Relu → Gemm(alpha, beta, 2-D bias) → Sigmoid → y[1,4]
pub fn mlp_relu() -> Vec<u8> {
    let mut b = Builder::new("mlp_relu", 1, 13);
    b.input("x", &[D::N(1), D::N(8)])
        .weight("fc1.weight", &[16, 8], 8)
        .weight("fc1.bias", &[16], 8)
        .weight("fc2.weight", &[16, 4], 16)
        .weight("fc2.bias", &[1, 4], 16)
        .node(
            "Gemm",
            "fc1",
            &["x", "fc1.weight", "fc1.bias"],
            &["h1"],
            vec![attr_i("transB", 1)],
        )
        .node("Relu", "relu1", &["h1"], &["a1"], vec![])
        .node(
            "Gemm",
            "fc2",
            &["a1", "fc2.weight", "fc2.bias"],
            &["h2"],
            vec![attr_f("alpha", 0.75), attr_f("beta", 1.5)],
        )
        .node("Sigmoid", "out", &["h2"], &["y"], vec![])
        .output("y", &[D::N(1), D::N(4)]);
    b.build()
}

/// (b) x[1,6] → MatMul(const [6,10]) → Add(const [10]) → Mul(const [1,10])
/// → LeakyRelu(0.1) → Sub(x - const scalar) → Sub(const [10] - x)
/// → HardSigmoid(0.3, 0.45) → y[1,10]
pub fn matmul_affine() -> Vec<u8> {
    // gains and mirror offsets keep HardSigmoid out of saturation mostly
    let gain: Vec<f32> = (0..10).map(|i| 0.5 + 0.1 * i as f32).collect();
    let mirror: Vec<f32> = (0..10).map(|i| 0.1 * (i as f32 - 5.0)).collect();
    let mut b = Builder::new("matmul_affine", 2, 13);
    b.input("x", &[D::N(1), D::N(6)])
        .weight("W", &[6, 10], 6)
        .weight("bias", &[10], 6)
        .init("gain", &[1, 10], &gain)
        .init("shift", &[], &[0.25])
        .init("mirror", &[10], &mirror)
        .node("MatMul", "mm", &["x", "W"], &["m"], vec![])
        .node("Add", "add_bias", &["m", "bias"], &["a"], vec![])
        .node("Mul", "scale", &["a", "gain"], &["s"], vec![])
        .node(
            "LeakyRelu",
            "lrelu",
            &["s"],
            &["l"],
            vec![attr_f("alpha", 0.1)],
        )
        .node("Sub", "shift_down", &["l", "shift"], &["d"], vec![])
        .node("Sub", "mirror_sub", &["mirror", "d"], &["r"], vec![])
        .node(
            "HardSigmoid",
            "hsig",
            &["r"],
            &["y"],
            vec![attr_f("alpha", 0.3), attr_f("beta", 0.45)],
        )
        .output("y", &[D::N(1), D::N(10)]);
    b.build()
}

/// (c) x[1,12] → Gemm → Reshape [1,2,5] (shape from a Constant node) → Clip
/// (min input, max omitted) → Flatten → Identity → Cast(float) → Gemm →
/// Softmax(last axis) → y[1,6]
pub fn clip_softmax() -> Vec<u8> {
    let mut b = Builder::new("clip_softmax", 3, 13);
    b.input("x", &[D::N(1), D::N(12)])
        .weight("W1", &[12, 10], 12)
        .weight("b1", &[10], 12)
        .init("clip_min", &[], &[-0.4])
        .weight("W2", &[10, 6], 10)
        .weight("b2", &[6], 10)
        .node(
            "Constant",
            "shape_const",
            &[],
            &["shape"],
            vec![attr_t("value", int64_tensor("", &[3], &[1, 2, 5]))],
        )
        .node("Gemm", "fc1", &["x", "W1", "b1"], &["h"], vec![])
        .node("Reshape", "to3d", &["h", "shape"], &["h3"], vec![])
        .node("Clip", "clip", &["h3", "clip_min", ""], &["c3"], vec![])
        .node("Flatten", "flat", &["c3"], &["c"], vec![attr_i("axis", 1)])
        .node("Identity", "ident", &["c"], &["ci"], vec![])
        .node("Cast", "cast", &["ci"], &["cf"], vec![attr_i("to", 1)])
        .node("Gemm", "fc2", &["cf", "W2", "b2"], &["logits"], vec![])
        .node("Softmax", "softmax", &["logits"], &["y"], vec![])
        .output("y", &[D::N(1), D::N(6)]);
    b.build()
}

/// (d) x[1,8] → Gemm → Tanh = t; Gemm(t) = g; Add(t, g); Mul(·, x);
/// Sub(·, t) → y[1,8]: every Binary op.
pub fn residual() -> Vec<u8> {
    let mut b = Builder::new("residual", 4, 13);
    b.input("x", &[D::N(1), D::N(8)])
        .weight("W1", &[8, 8], 8)
        .weight("b1", &[8], 8)
        .weight("W2", &[8, 8], 8)
        .weight("b2", &[8], 8)
        .node("Gemm", "fc1", &["x", "W1", "b1"], &["h"], vec![])
        .node("Tanh", "tanh", &["h"], &["t"], vec![])
        .node("Gemm", "fc2", &["t", "W2", "b2"], &["g"], vec![])
        .node("Add", "skip_add", &["t", "g"], &["s"], vec![])
        .node("Mul", "gate", &["s", "x"], &["m"], vec![])
        .node("Sub", "diff", &["m", "t"], &["y"], vec![])
        .output("y", &[D::N(1), D::N(8)]);
    b.build()
}

/// (e) x[N,5] → Gemm(transB=1) → Tanh → Gemm → y[N,2], batch symbolic.
pub fn symbolic_batch() -> Vec<u8> {
    let mut b = Builder::new("symbolic_batch", 5, 13);
    b.input("x", &[D::S("N"), D::N(5)])
        .weight("W1", &[7, 5], 5)
        .weight("b1", &[7], 5)
        .weight("W2", &[7, 2], 7)
        .weight("b2", &[2], 7)
        .node(
            "Gemm",
            "fc1",
            &["x", "W1", "b1"],
            &["h"],
            vec![attr_i("transB", 1)],
        )
        .node("Tanh", "tanh", &["h"], &["t"], vec![])
        .node("Gemm", "fc2", &["t", "W2", "b2"], &["y"], vec![])
        .output("y", &[D::S("N"), D::N(2)]);
    b.build()
}

/// Opset 10: Clip bounds are attributes; Softmax is the legacy
/// coerce-to-2-D form (axis 1 on [1,6]). Unnamed nodes.
pub fn clip_attrs_opset10() -> Vec<u8> {
    let mut b = Builder::new("clip_attrs_opset10", 6, 10);
    b.input("x", &[D::N(1), D::N(4)])
        .weight("W", &[4, 6], 4)
        .node("MatMul", "", &["x", "W"], &["h"], vec![])
        .node(
            "Clip",
            "",
            &["h"],
            &["c"],
            vec![attr_f("min", -0.5), attr_f("max", 0.6)],
        )
        .node("Softmax", "", &["c"], &["y"], vec![])
        .output("y", &[D::N(1), D::N(6)]);
    b.build()
}

/// Several outputs: x[1,4] → Gemm → h (output `scores`, also read on)
/// → Softmax → y (output `probs`). The module answers `scores` then
/// `probs`, concatenated.
pub fn two_outputs() -> Vec<u8> {
    let mut b = Builder::new("two_outputs", 11, 13);
    b.input("x", &[D::N(1), D::N(4)])
        .weight("W", &[3, 4], 4)
        .weight("c", &[3], 4)
        .node(
            "Gemm",
            "fc",
            &["x", "W", "c"],
            &["scores"],
            vec![attr_i("transB", 1)],
        )
        .node("Softmax", "sm", &["scores"], &["probs"], vec![])
        .output("scores", &[D::N(1), D::N(3)])
        .output("probs", &[D::N(1), D::N(3)]);
    b.build()
}

/// The runtime tensor on the right: Gemm(W [3,5], x [5,1], C [3,1]) with
/// transA, x given as a [5,1] column.
pub fn column_gemm() -> Vec<u8> {
    let mut b = Builder::new("column_gemm", 7, 13);
    b.input("x", &[D::N(5), D::N(1)])
        .weight("Wt", &[5, 3], 5)
        .weight("c", &[3, 1], 5)
        .node(
            "Gemm",
            "col",
            &["Wt", "x", "c"],
            &["h"],
            vec![attr_i("transA", 1), attr_f("alpha", 2.0)],
        )
        .node("Relu", "relu", &["h"], &["y"], vec![])
        .output("y", &[D::N(3), D::N(1)]);
    b.build()
}

/// What PyTorch exports for `x.view(x.size(0), -1)` and friends: a
/// Shape → Gather → Unsqueeze → Concat chain computing Reshape's target,
/// weights scaled by a Mul of two initializers, inference Dropout,
/// Unsqueeze/Squeeze with axes inputs. tract folds the constant parts.
pub fn folded_shapes() -> Vec<u8> {
    let mut b = Builder::new("folded_shapes", 8, 13);
    b.input("x", &[D::S("batch"), D::N(2), D::N(3)])
        .weight("W", &[6, 4], 6)
        .init("w_scale", &[], &[0.5])
        .init("b", &[4], &[0.1, -0.2, 0.3, -0.4]);
    b.graph.initializer.push(int64_tensor("zero", &[], &[0]));
    b.graph
        .initializer
        .push(int64_tensor("minus_one", &[1], &[-1]));
    b.graph.initializer.push(int64_tensor("axes0", &[1], &[0]));
    b.graph.initializer.push(int64_tensor("axes1", &[1], &[1]));
    b.node("Shape", "shape", &["x"], &["x_shape"], vec![])
        .node(
            "Gather",
            "batch_dim",
            &["x_shape", "zero"],
            &["n"],
            vec![attr_i("axis", 0)],
        )
        .node("Unsqueeze", "n_1d", &["n", "axes0"], &["n1"], vec![])
        .node(
            "Concat",
            "target",
            &["n1", "minus_one"],
            &["target_shape"],
            vec![attr_i("axis", 0)],
        )
        .node("Reshape", "view", &["x", "target_shape"], &["flat"], vec![])
        .node(
            "Dropout",
            "drop",
            &["flat"],
            &["dropped"],
            vec![attr_f("ratio", 0.3)],
        )
        .node("Mul", "scale_w", &["W", "w_scale"], &["W_scaled"], vec![])
        .node("MatMul", "mm", &["dropped", "W_scaled"], &["m"], vec![])
        .node("Add", "bias", &["m", "b"], &["h"], vec![])
        .node("Unsqueeze", "up", &["h", "axes1"], &["h3"], vec![])
        .node("Tanh", "tanh", &["h3"], &["t3"], vec![])
        .node("Squeeze", "down", &["t3", "axes1"], &["y"], vec![])
        .output("y", &[D::S("batch"), D::N(4)]);
    b.build()
}

/// Opset 11 Softmax (axis 1) on [1,2,3]: the input is coerced to [1, 6], so
/// the softmax runs over all six values, not over axis 1 alone.
pub fn softmax_legacy_3d() -> Vec<u8> {
    let mut b = Builder::new("softmax_legacy_3d", 20, 11);
    b.input("x", &[D::N(1), D::N(2), D::N(3)])
        .weight("scale", &[2, 3], 1)
        .node("Mul", "scale", &["x", "scale"], &["s"], vec![])
        .node("Softmax", "sm", &["s"], &["y"], vec![attr_i("axis", 1)])
        .output("y", &[D::N(1), D::N(2), D::N(3)]);
    b.build()
}

/// BatchNormalization statistics of `c` channels as a trained net has them:
/// scale near 1, small shifts, positive variances.
fn bn_params(b: &mut Builder, prefix: &str, c: usize) {
    let mut rng = Rng::new(c as u64 * 31 + prefix.len() as u64);
    let mut draw = |lo: f64, hi: f64| -> Vec<f32> {
        (0..c)
            .map(|_| (lo + rng.uniform() * (hi - lo)) as f32)
            .collect()
    };
    let (scale, bias, mean, var) = (
        draw(0.5, 1.5),
        draw(-0.3, 0.3),
        draw(-0.5, 0.5),
        draw(0.2, 2.0),
    );
    let d = [c as i64];
    b.init(&format!("{prefix}.weight"), &d, &scale)
        .init(&format!("{prefix}.bias"), &d, &bias)
        .init(&format!("{prefix}.running_mean"), &d, &mean)
        .init(&format!("{prefix}.running_var"), &d, &var);
}

fn bn_node(b: &mut Builder, prefix: &str, input: &str, output: &str) {
    let ins: Vec<String> = ["weight", "bias", "running_mean", "running_var"]
        .iter()
        .map(|s| format!("{prefix}.{s}"))
        .collect();
    b.node(
        "BatchNormalization",
        prefix,
        &[input, &ins[0], &ins[1], &ins[2], &ins[3]],
        &[output],
        vec![attr_f("epsilon", 1e-5)],
    );
}

/// PyTorch `Linear -> BatchNorm1d -> ReLU -> Linear` (issue 7):
/// x[1,10] -> Gemm(transB) -> BatchNormalization -> Relu -> Gemm -> y[1,2].
pub fn gemm_bn_relu() -> Vec<u8> {
    let mut b = Builder::new("gemm_bn_relu", 30, 13);
    b.input("x", &[D::N(1), D::N(10)])
        .weight("fc1.weight", &[16, 10], 10)
        .weight("fc1.bias", &[16], 10)
        .weight("fc2.weight", &[2, 16], 16)
        .weight("fc2.bias", &[2], 16);
    bn_params(&mut b, "bn1", 16);
    b.node(
        "Gemm",
        "fc1",
        &["x", "fc1.weight", "fc1.bias"],
        &["h"],
        vec![attr_i("transB", 1)],
    );
    bn_node(&mut b, "bn1", "h", "hn");
    b.node("Relu", "relu", &["hn"], &["a"], vec![])
        .node(
            "Gemm",
            "fc2",
            &["a", "fc2.weight", "fc2.bias"],
            &["y"],
            vec![attr_i("transB", 1)],
        )
        .output("y", &[D::N(1), D::N(2)]);
    b.build()
}

/// A Conv1d policy over Aurora's 30 inputs (issue 7): obs[1,30] -> Reshape
/// [1,10,3] (10 intervals x 3 features) -> Transpose [1,3,10] -> Conv(8
/// channels, kernel 3, pad 1) -> Relu -> Flatten -> Gemm -> Tanh -> y[1,1].
pub fn conv1d_policy() -> Vec<u8> {
    let mut b = Builder::new("conv1d_policy", 31, 13);
    b.input("obs", &[D::N(1), D::N(30)])
        .weight("conv.weight", &[8, 3, 3], 9)
        .weight("conv.bias", &[8], 9)
        .weight("fc.weight", &[1, 80], 80)
        .weight("fc.bias", &[1], 80);
    b.graph
        .initializer
        .push(int64_tensor("hist_shape", &[3], &[1, 10, 3]));
    b.node("Reshape", "view", &["obs", "hist_shape"], &["hist"], vec![])
        .node(
            "Transpose",
            "to_channels",
            &["hist"],
            &["chan"],
            vec![attr_ints("perm", &[0, 2, 1])],
        )
        .node(
            "Conv",
            "conv",
            &["chan", "conv.weight", "conv.bias"],
            &["c"],
            vec![attr_ints("kernel_shape", &[3]), attr_ints("pads", &[1, 1])],
        )
        .node("Relu", "relu", &["c"], &["r"], vec![])
        .node("Flatten", "flat", &["r"], &["f"], vec![attr_i("axis", 1)])
        .node(
            "Gemm",
            "fc",
            &["f", "fc.weight", "fc.bias"],
            &["h"],
            vec![attr_i("transB", 1)],
        )
        .node("Tanh", "tanh", &["h"], &["y"], vec![])
        .output("y", &[D::N(1), D::N(1)]);
    b.build()
}

/// 2-D: x[1,32] -> Reshape [1,2,4,4] -> Conv(4 ch, 3x3, pads 1, no bias)
/// -> BatchNormalization -> Relu -> depthwise Conv(group 4, 2x2, stride 2,
/// dilation 1) -> AveragePool(2x2, pads, count_include_pad 0) ->
/// GlobalAveragePool -> Flatten -> Gemm -> y[1,3]; and a strided, dilated
/// Conv of the same image through SAME_UPPER padding, averaged, added.
pub fn conv2d_pools() -> Vec<u8> {
    let mut b = Builder::new("conv2d_pools", 32, 13);
    b.input("x", &[D::N(1), D::N(32)])
        .weight("c1.weight", &[4, 2, 3, 3], 18)
        .weight("dw.weight", &[4, 1, 2, 2], 4)
        .weight("dw.bias", &[4], 4)
        .weight("c2.weight", &[4, 2, 2, 2], 8)
        .weight("fc.weight", &[4, 3], 4)
        .weight("fc.bias", &[3], 4);
    bn_params(&mut b, "bn", 4);
    b.graph
        .initializer
        .push(int64_tensor("img_shape", &[4], &[1, 2, 4, 4]));
    b.node("Reshape", "img", &["x", "img_shape"], &["im"], vec![])
        .node(
            "Conv",
            "c1",
            &["im", "c1.weight"],
            &["c1"],
            vec![attr_ints("pads", &[1, 1, 1, 1])],
        );
    bn_node(&mut b, "bn", "c1", "bn_out");
    b.node("Relu", "relu", &["bn_out"], &["r"], vec![])
        .node(
            "Conv",
            "dw",
            &["r", "dw.weight", "dw.bias"],
            &["d"],
            vec![attr_i("group", 4), attr_ints("strides", &[1, 1])],
        )
        .node(
            "AveragePool",
            "avg",
            &["d"],
            &["p"],
            vec![
                attr_ints("kernel_shape", &[2, 2]),
                attr_ints("strides", &[2, 2]),
                attr_ints("pads", &[0, 0, 1, 1]),
            ],
        )
        .node("GlobalAveragePool", "gap", &["p"], &["g"], vec![])
        .node(
            "Conv",
            "c2",
            &["im", "c2.weight"],
            &["c2"],
            vec![
                attr_s("auto_pad", "SAME_UPPER"),
                attr_ints("strides", &[2, 2]),
                attr_ints("dilations", &[2, 1]),
            ],
        )
        .node("GlobalAveragePool", "gap2", &["c2"], &["g2"], vec![])
        .node("Add", "join", &["g", "g2"], &["gs"], vec![])
        .node("Flatten", "flat", &["gs"], &["f"], vec![attr_i("axis", 1)])
        .node("Gemm", "fc", &["f", "fc.weight", "fc.bias"], &["y"], vec![])
        .output("y", &[D::N(1), D::N(3)]);
    b.build()
}

/// Index maps and constant arithmetic: x[1,24] -> Reshape [1,4,6] ->
/// Slice(axis 2, 1:-1) [1,4,4] -> Transpose [1,4,4] -> Gather(axis 2,
/// [3,0,-1]) [1,4,3] -> Split(axis 1, [1,3]) -> (a [1,1,3], b [1,3,3]);
/// a: Div by 0.5 -> Pow 2 -> ReduceSum(axis 2) [1,1,1]; b: ReduceMean(axis
/// 1, keepdims 0) [1,3] -> Tanh; MatMul(b', const [3,3]) + Sub(a) -> y[1,3].
pub fn index_maps() -> Vec<u8> {
    let mut b = Builder::new("index_maps", 33, 13);
    b.input("x", &[D::N(1), D::N(24)])
        .weight("W", &[3, 3], 3)
        .init("half", &[], &[0.5])
        .init("two", &[], &[2.0]);
    for (name, v) in [
        ("shape3", vec![1, 4, 6]),
        ("starts", vec![1]),
        ("ends", vec![-1]),
        ("axes2", vec![2]),
        ("steps", vec![1]),
        ("gidx", vec![3, 0, -1]),
        ("split", vec![1, 3]),
        ("axes1", vec![1]),
    ] {
        b.graph
            .initializer
            .push(int64_tensor(name, &[v.len() as i64], &v));
    }
    b.node("Reshape", "view", &["x", "shape3"], &["v"], vec![])
        .node(
            "Slice",
            "odd_cols",
            &["v", "starts", "ends", "axes2", "steps"],
            &["s"],
            vec![],
        )
        .node(
            "Transpose",
            "swap",
            &["s"],
            &["t"],
            vec![attr_ints("perm", &[0, 2, 1])],
        )
        .node(
            "Gather",
            "pick",
            &["t", "gidx"],
            &["g"],
            vec![attr_i("axis", 2)],
        )
        .node(
            "Split",
            "halves",
            &["g", "split"],
            &["a", "bb"],
            vec![attr_i("axis", 1)],
        )
        .node("Div", "div", &["a", "half"], &["ad"], vec![])
        .node("Pow", "square", &["ad", "two"], &["a2"], vec![])
        .node("ReduceSum", "energy", &["a2", "axes2"], &["e"], vec![])
        .node(
            "ReduceMean",
            "mean",
            &["bb"],
            &["m"],
            vec![attr_ints("axes", &[1]), attr_i("keepdims", 0)],
        )
        .node("Tanh", "tanh", &["m"], &["mt"], vec![])
        .node("MatMul", "mix", &["mt", "W"], &["mm"], vec![])
        .node("Squeeze", "e1", &["e", "axes1"], &["es"], vec![])
        .node("Sub", "out", &["mm", "es"], &["y"], vec![])
        .output("y", &[D::N(1), D::N(3)]);
    b.build()
}

/// Concat of runtime tensors and constants: x[1,6] viewed [2,3] twice
/// along axis 1 (exact copies, rows interleaved), then that, Relu(x)
/// viewed [2,3] and a constant column along axis 1 (requantized into one
/// scale) -> [2,10] -> Gemm -> y[1,3].
pub fn concat_blocks() -> Vec<u8> {
    let mut b = Builder::new("concat_blocks", 41, 13);
    b.input("x", &[D::N(1), D::N(6)])
        .init("col", &[2, 1], &[0.75, -1.25])
        .weight("W", &[20, 3], 20);
    for (name, v) in [("rows", vec![2, 3]), ("flat", vec![1, 20])] {
        b.graph
            .initializer
            .push(int64_tensor(name, &[v.len() as i64], &v));
    }
    b.node("Reshape", "view", &["x", "rows"], &["x2"], vec![])
        .node(
            "Concat",
            "twice",
            &["x2", "x2"],
            &["d"],
            vec![attr_i("axis", 1)],
        )
        .node("Relu", "relu", &["x"], &["r"], vec![])
        .node("Reshape", "rview", &["r", "rows"], &["r2"], vec![])
        .node(
            "Concat",
            "join",
            &["d", "r2", "col"],
            &["e"],
            vec![attr_i("axis", -1)],
        )
        .node("Reshape", "flatten", &["e", "flat"], &["f"], vec![])
        .node("MatMul", "mix", &["f", "W"], &["y"], vec![])
        .output("y", &[D::N(1), D::N(3)]);
    b.build()
}

/// Gemm and MatMul with a fixed M > 1 (the ONNX node tests' shapes):
/// x[3,4] -> Gemm(transA, const [3,5]) [4,5] -> Relu -> MatMul(const
/// [2,4] on the left) [2,5] -> Gemm(const [5,2], C [2]) -> y[2,2].
pub fn matmul_rows() -> Vec<u8> {
    let mut b = Builder::new("matmul_rows", 34, 13);
    b.input("x", &[D::N(3), D::N(4)])
        .weight("A", &[3, 5], 3)
        .weight("L", &[2, 4], 4)
        .weight("B", &[5, 2], 5)
        .weight("C", &[2], 5)
        .node("Gemm", "g1", &["x", "A"], &["h"], vec![attr_i("transA", 1)])
        .node("Relu", "relu", &["h"], &["r"], vec![])
        .node("MatMul", "left", &["L", "r"], &["l"], vec![])
        .node(
            "Gemm",
            "g2",
            &["l", "B", "C"],
            &["y"],
            vec![attr_f("beta", 0.5)],
        )
        .output("y", &[D::N(2), D::N(2)]);
    b.build()
}

/// Every table function: x[1,6] -> Gemm -> Elu(0.8) -> x * Sigmoid(x)
/// (SiLU as exported) -> Gemm -> Gelu as
/// PyTorch exports it before opset 20 (x * 0.5 * (1 + Erf(x / sqrt 2)))
/// -> Gemm -> Selu -> HardSwish -> Softsign -> Gemm -> Exp -> Gemm ->
/// Softplus -> Add 0.1 -> Log -> y[1,3].
pub fn unary_tables() -> Vec<u8> {
    let mut b = Builder::new("unary_tables", 35, 13);
    b.input("x", &[D::N(1), D::N(6)])
        .weight("W1", &[6, 8], 6)
        .weight("W2", &[8, 8], 8)
        .weight("W3", &[8, 8], 8)
        .weight("W4", &[8, 4], 8)
        .weight("W5", &[4, 3], 4)
        .init("sqrt2", &[], &[std::f32::consts::SQRT_2])
        .init("one", &[], &[1.0])
        .init("half", &[], &[0.5])
        .init("eps", &[], &[0.1])
        .node("Gemm", "fc1", &["x", "W1"], &["h1"], vec![])
        .node("Elu", "elu", &["h1"], &["e1"], vec![attr_f("alpha", 0.8)])
        .node("Sigmoid", "silu_sig", &["e1"], &["sg1"], vec![])
        .node("Mul", "silu", &["sg1", "e1"], &["a1"], vec![])
        .node("Gemm", "fc2", &["a1", "W2"], &["h2"], vec![])
        .node("Div", "gelu_div", &["h2", "sqrt2"], &["g1"], vec![])
        .node("Erf", "gelu_erf", &["g1"], &["g2"], vec![])
        .node("Add", "gelu_add", &["g2", "one"], &["g3"], vec![])
        .node("Mul", "gelu_mul", &["h2", "g3"], &["g4"], vec![])
        .node("Mul", "gelu_half", &["g4", "half"], &["a2"], vec![])
        .node("Gemm", "fc3", &["a2", "W3"], &["h3"], vec![])
        .node("Selu", "selu", &["h3"], &["s3"], vec![])
        .node("HardSwish", "hswish", &["s3"], &["w3"], vec![])
        .node("Softsign", "softsign", &["w3"], &["a3"], vec![])
        .node("Gemm", "fc4", &["a3", "W4"], &["h4"], vec![])
        .node("Exp", "exp", &["h4"], &["e4"], vec![])
        .node("Gemm", "fc5", &["e4", "W5"], &["h5"], vec![])
        .node("Softplus", "softplus", &["h5"], &["p5"], vec![])
        .node("Add", "add_eps", &["p5", "eps"], &["q5"], vec![])
        .node("Log", "log", &["q5"], &["y"], vec![])
        .output("y", &[D::N(1), D::N(3)]);
    b.build()
}

/// Opset 20 Gelu, both forms: x[1,6] -> Gemm -> Gelu -> Gemm ->
/// Gelu(approximate = tanh) -> y[1,4].
pub fn gelu_opset20() -> Vec<u8> {
    let mut b = Builder::new("gelu_opset20", 36, 20);
    b.input("x", &[D::N(1), D::N(6)])
        .weight("W1", &[6, 8], 6)
        .weight("W2", &[8, 4], 8)
        .node("Gemm", "fc1", &["x", "W1"], &["h1"], vec![])
        .node("Gelu", "gelu", &["h1"], &["a1"], vec![])
        .node("Gemm", "fc2", &["a1", "W2"], &["h2"], vec![])
        .node(
            "Gelu",
            "gelu_tanh",
            &["h2"],
            &["y"],
            vec![attr_s("approximate", "tanh")],
        )
        .output("y", &[D::N(1), D::N(4)]);
    b.build()
}

/// A transformer-style block (issue 7): x[1,8] -> Gemm(16) ->
/// LayerNormalization (axis -1, Scale and B; outputs Y and InvStdDev) ->
/// Relu -> Gemm -> y[1,2]; the graph answers y and the inverse deviation.
pub fn layer_norm_mlp() -> Vec<u8> {
    let mut b = Builder::new("layer_norm_mlp", 37, 17);
    b.input("x", &[D::N(1), D::N(8)])
        .weight("fc1.weight", &[16, 8], 8)
        .weight("fc1.bias", &[16], 8)
        .weight("ln.weight", &[16], 1)
        .weight("ln.bias", &[16], 4)
        .weight("fc2.weight", &[2, 16], 16)
        .weight("fc2.bias", &[2], 16)
        .node(
            "Gemm",
            "fc1",
            &["x", "fc1.weight", "fc1.bias"],
            &["h"],
            vec![attr_i("transB", 1)],
        )
        .node(
            "LayerNormalization",
            "ln",
            &["h", "ln.weight", "ln.bias"],
            &["hn", "", "inv_std"],
            vec![attr_i("axis", -1), attr_f("epsilon", 1e-5)],
        )
        .node("Relu", "relu", &["hn"], &["a"], vec![])
        .node(
            "Gemm",
            "fc2",
            &["a", "fc2.weight", "fc2.bias"],
            &["y"],
            vec![attr_i("transB", 1)],
        )
        .output("y", &[D::N(1), D::N(2)])
        .output("inv_std", &[D::N(1), D::N(1)]);
    b.build()
}

/// A Slice of the model input read in place (issue 7): x[1,160] ->
/// Slice(axis 1, 1..160 step 2) -> Tanh -> y[1,80]. The Quantize reads the
/// 80 odd inputs through its index map (a loop over a `pick` table); the
/// other 80 are never copied.
pub fn input_slice() -> Vec<u8> {
    let mut b = Builder::new("input_slice", 38, 13);
    b.input("x", &[D::N(1), D::N(160)]);
    for (name, v) in [("starts", 1), ("ends", 160), ("axes", 1), ("steps", 2)] {
        b.graph.initializer.push(int64_tensor(name, &[1], &[v]));
    }
    b.node(
        "Slice",
        "odd",
        &["x", "starts", "ends", "axes", "steps"],
        &["s"],
        vec![],
    )
    .node("Tanh", "tanh", &["s"], &["y"], vec![])
    .output("y", &[D::N(1), D::N(80)]);
    b.build()
}

/// A Gemm whose weight and bias live in `dir/external_weights.bin`
/// (ONNX external data: location, offset, length). Returns the model path.
pub fn write_external_weights_model(dir: &Path) -> PathBuf {
    let mut rng = Rng::new(9);
    let w: Vec<f32> = (0..5 * 3)
        .map(|_| (rng.normal() / 5f64.sqrt()) as f32)
        .collect();
    let bias = [0.25f32, -0.5, 0.75];
    let mut bin: Vec<u8> = vec![0xAB; 16]; // leading padding: offsets must be honoured
    let external = |name: &str, dims: &[i64], data: &[f32], bin: &mut Vec<u8>| {
        let offset = bin.len();
        bin.extend(data.iter().flat_map(|v| v.to_le_bytes()));
        let kv = |k: &str, v: String| pb::StringStringEntryProto {
            key: k.to_owned(),
            value: v,
        };
        TensorProto {
            name: name.to_owned(),
            dims: dims.to_vec(),
            data_type: pb::tensor_proto::DataType::Float as i32,
            data_location: Some(pb::tensor_proto::DataLocation::External as i32),
            external_data: vec![
                kv("location", "external_weights.bin".to_owned()),
                kv("offset", offset.to_string()),
                kv("length", (data.len() * 4).to_string()),
            ],
            ..Default::default()
        }
    };
    let mut b = Builder::new("external_weights", 9, 13);
    let wt = external("W", &[5, 3], &w, &mut bin);
    let bt = external("b", &[3], &bias, &mut bin);
    b.graph.initializer.extend([wt, bt]);
    b.input("x", &[D::N(1), D::N(5)])
        .node("Gemm", "fc", &["x", "W", "b"], &["h"], vec![])
        .node("Sigmoid", "sig", &["h"], &["y"], vec![])
        .output("y", &[D::N(1), D::N(3)]);
    std::fs::write(dir.join("external_weights.bin"), bin).unwrap();
    write_model(dir, "external_weights", &b.build())
}

// ---- models the front end must refuse ----

/// `ln` (Log) straight on the input.
pub fn log_of_input() -> Vec<u8> {
    let mut b = Builder::new("log_of_input", 24, 13);
    b.input("x", &[D::N(1), D::N(4)])
        .node("Log", "ln", &["x"], &["y"], vec![])
        .output("y", &[D::N(1), D::N(4)]);
    b.build()
}

/// `hardmax_node` (Hardmax) is not supported.
pub fn unsupported_op() -> Vec<u8> {
    let mut b = Builder::new("unsupported_op", 10, 13);
    b.input("x", &[D::N(1), D::N(4)])
        .node("Relu", "relu", &["x"], &["r"], vec![])
        .node("Hardmax", "hardmax_node", &["r"], &["y"], vec![])
        .output("y", &[D::N(1), D::N(4)]);
    b.build()
}

/// ConvTranspose, with an unnamed node: `ConvTranspose#0`.
pub fn unsupported_conv() -> Vec<u8> {
    let mut b = Builder::new("unsupported_conv", 11, 13);
    b.input("img", &[D::N(1), D::N(1), D::N(4), D::N(4)])
        .weight("k", &[1, 2, 3, 3], 9)
        .node("ConvTranspose", "", &["img", "k"], &["y"], vec![])
        .output("y", &[D::N(1), D::N(2), D::N(6), D::N(6)]);
    b.build()
}

/// `mine` (MyOp) is an op of a domain nobody knows, tract included.
pub fn custom_domain_op() -> Vec<u8> {
    let mut b = Builder::new("custom_domain_op", 18, 13);
    b.input("x", &[D::N(1), D::N(4)])
        .node("Relu", "relu", &["x"], &["r"], vec![])
        .node("MyOp", "mine", &["r"], &["y"], vec![]);
    b.graph.node[1].domain = "com.example".to_owned();
    b.output("y", &[D::N(1), D::N(4)]);
    b.build()
}

/// AveragePool `pool` with ceil_mode=1.
pub fn avgpool_ceil() -> Vec<u8> {
    let mut b = Builder::new("avgpool_ceil", 19, 13);
    b.input("x", &[D::N(1), D::N(1), D::N(5)])
        .node(
            "AveragePool",
            "pool",
            &["x"],
            &["y"],
            vec![
                attr_ints("kernel_shape", &[2]),
                attr_ints("strides", &[2]),
                attr_i("ceil_mode", 1),
            ],
        )
        .output("y", &[D::N(1), D::N(1), D::N(3)]);
    b.build()
}

/// Pow `cube` with exponent 2.5 (not an integer); Div `ratio` by a runtime
/// tensor.
pub fn pow_and_div() -> (Vec<u8>, Vec<u8>) {
    let mut b = Builder::new("pow_cube", 22, 13);
    b.input("x", &[D::N(1), D::N(4)])
        .init("p", &[], &[2.5])
        .node("Pow", "cube", &["x", "p"], &["y"], vec![])
        .output("y", &[D::N(1), D::N(4)]);
    let pow = b.build();
    let mut b = Builder::new("div_runtime", 23, 13);
    b.input("x", &[D::N(1), D::N(4)])
        .node("Relu", "relu", &["x"], &["r"], vec![])
        .node("Div", "ratio", &["x", "r"], &["y"], vec![])
        .output("y", &[D::N(1), D::N(4)]);
    (pow, b.build())
}

/// Input `x` has a type but no shape.
pub fn unknown_shape_input() -> Vec<u8> {
    let mut b = Builder::new("unknown_shape_input", 12, 13);
    b.graph.input.push(value_info("x", None));
    b.node("Relu", "relu", &["x"], &["y"], vec![])
        .output("y", &[D::N(1), D::N(4)]);
    b.build()
}

/// Input `x` has a symbolic feature dimension `F`.
pub fn symbolic_feature_input() -> Vec<u8> {
    let mut b = Builder::new("symbolic_feature_input", 13, 13);
    b.input("x", &[D::N(1), D::S("F")])
        .node("Relu", "relu", &["x"], &["y"], vec![])
        .output("y", &[D::N(1), D::S("F")]);
    b.build()
}

/// Input `ids` is INT64.
pub fn int64_input() -> Vec<u8> {
    let mut b = Builder::new("int64_input", 21, 13);
    b.input("ids", &[D::N(1), D::N(4)]);
    if let Some(type_proto::Value::TensorType(t)) = b.graph.input[0]
        .r#type
        .as_mut()
        .and_then(|t| t.value.as_mut())
    {
        t.elem_type = pb::tensor_proto::DataType::Int64 as i32;
    }
    b.node("Cast", "cast", &["ids"], &["y"], vec![attr_i("to", 1)])
        .output("y", &[D::N(1), D::N(4)]);
    b.build()
}

/// Two runtime inputs `a` and `b`.
pub fn two_inputs() -> Vec<u8> {
    let mut b = Builder::new("two_inputs", 14, 13);
    b.input("a", &[D::N(1), D::N(4)])
        .input("b", &[D::N(1), D::N(4)])
        .node("Add", "add", &["a", "b"], &["y"], vec![])
        .output("y", &[D::N(1), D::N(4)]);
    b.build()
}

/// Initializer `fc.weight` holds a NaN; node `fc` (Gemm) uses it.
pub fn nan_weight() -> Vec<u8> {
    let mut b = Builder::new("nan_weight", 16, 13);
    let mut w = vec![0.1f32; 12];
    w[5] = f32::NAN;
    b.input("x", &[D::N(1), D::N(4)])
        .init("fc.weight", &[4, 3], &w)
        .node("Gemm", "fc", &["x", "fc.weight"], &["y"], vec![])
        .output("y", &[D::N(1), D::N(3)]);
    b.build()
}

/// Softmax `sm` over axis 1 of a [1,2,3] tensor (opset 13): not the last axis.
pub fn softmax_middle_axis() -> Vec<u8> {
    let mut b = Builder::new("softmax_middle_axis", 17, 13);
    b.input("x", &[D::N(1), D::N(2), D::N(3)])
        .node("Softmax", "sm", &["x"], &["y"], vec![attr_i("axis", 1)])
        .output("y", &[D::N(1), D::N(2), D::N(3)]);
    b.build()
}

/// A classifier exported with ZipMap (probabilities as a list of maps).
pub fn with_zipmap() -> Vec<u8> {
    let mut b = Builder::new("with_zipmap", 21, 13);
    b.input("x", &[D::N(1), D::N(4)])
        .node("Softmax", "sm", &["x"], &["p"], vec![])
        .node("ZipMap", "zipmap", &["p"], &["z"], vec![])
        .output("z", &[D::N(1), D::N(4)]);
    b.build()
}
