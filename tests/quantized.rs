//! Quantized ONNX import (issue 8): models quantized by onnxruntime
//! (`quantize_static`, QDQ and QOperator) and a PyTorch-style QDQ model,
//! made by `scripts/gen-quant-fixtures.py` with onnxruntime's outputs
//! checked in (`tests/fixtures/quant/`). No Python at test time.

use std::path::{Path, PathBuf};
use std::process::Command;

use lfc::commands::{run_fixed, Engine};
use lfc::data;
use lfc::pipeline::{self, CompileOptions, Compiled};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/quant")
        .join(name)
}

fn lfc(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_lfc"))
        .args(args)
        .output()
        .expect("run lfc");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        !stderr.contains("panicked"),
        "lfc panicked on {args:?}:\n{stderr}"
    );
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr,
    )
}

const MODELS: &[&str] = &[
    "aurora_qdq",
    "aurora_qop",
    "torch_qdq",
    "conv_qop",
    "concat_qdq",
    "concat_qop",
    "maxpool_qdq",
    "maxpool_qop",
    "constop_qdq",
    "constop_qop",
];

fn compile(name: &str, input_scale: i64) -> Compiled {
    pipeline::compile(
        &fixture(&format!("{name}.onnx")),
        &CompileOptions {
            input_scale,
            output_scale: 1_000_000,
            ..Default::default()
        },
    )
    .unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// Per row, the largest |lfc quantum - onnxruntime quantum| over the
/// outputs (the output's integers, from the s64 answers and onnxruntime's
/// dequantized floats).
fn quantum_diffs(c: &Compiled, set: &str, engine: Engine) -> Vec<i64> {
    let name = c.program.model_name.clone();
    let q = c.imported.as_ref().expect("a quantized model");
    let rows = data::read_matrix(&fixture(&format!("{name}.{set}.csv"))).unwrap();
    let ort = data::read_matrix(&fixture(&format!("{name}.{set}.ort.csv"))).unwrap();
    let fixed = pipeline::to_fixed(Path::new("rows"), &rows, c.program.input_scale).unwrap();
    let out = run_fixed(c, &fixed, engine).unwrap();
    let interp = run_fixed(c, &fixed, Engine::Interp).unwrap();
    assert_eq!(out, interp, "{name} {set}: {engine:?} != interpreter");
    let o = &q.outputs[0];
    let ty = &q.tensor(o.tensor).ty;
    let os = c.program.output_scale as f64;
    out.iter()
        .enumerate()
        .map(|(r, y)| {
            y.iter()
                .zip(ort.row(r))
                .map(|(&v, &f)| {
                    let ours = (v as f64 / os / ty.scale).round() as i64;
                    let theirs = (f / ty.scale).round() as i64;
                    (ours - theirs).abs()
                })
                .max()
                .unwrap()
        })
        .collect()
}

fn share_exact(d: &[i64]) -> f64 {
    d.iter().filter(|&&x| x == 0).count() as f64 / d.len() as f64
}

/// The done-when of issue 8: on the calibration rows and on rows where
/// onnxruntime saturates, at least 99 % of rows give onnxruntime's output
/// quantum exactly and every row is within one quantum; the emitted C
/// equals the interpreter bit for bit. At `--input-scale 10^6` (the s64
/// boundary finer than the models' input quanta: see the README on
/// boundary rounding).
#[test]
fn quantized_models_give_onnxruntime_quanta() {
    for name in MODELS {
        let c = compile(name, 1_000_000);
        for set in ["calib", "sat"] {
            let d = quantum_diffs(&c, set, Engine::C);
            let share = share_exact(&d);
            let worst = *d.iter().max().unwrap();
            eprintln!(
                "{name} {set}: {} rows, {:.2} % exact quantum, worst {worst} quanta",
                d.len(),
                100.0 * share
            );
            assert!(share >= 0.99, "{name} {set}: {:.2} % exact", 100.0 * share);
            assert!(worst <= 1, "{name} {set}: a row {worst} quanta off");
        }
    }
    // The Rust back end prints the same instructions: bit-exact too.
    let c = compile("torch_qdq", 1_000_000);
    assert_eq!(
        quantum_diffs(&c, "sat", Engine::Rust),
        quantum_diffs(&c, "sat", Engine::Interp)
    );
}

/// The saturating rows really saturate: the snapshot's input domain (the
/// interval the model's input QuantizeLinear maps onto its type) clamps
/// features of every one of them, or a later quantization does.
#[test]
fn quantized_saturating_rows_leave_the_input_range_or_saturate_inside() {
    for name in MODELS {
        let c = compile(name, 1_000_000);
        let q = c.imported.as_ref().unwrap();
        let rows = data::read_matrix(&fixture(&format!("{name}.sat.csv"))).unwrap();
        let mut saturated = 0;
        for row in rows.iter_rows() {
            let t = q.simulate_all(row);
            let any = q
                .tensors
                .iter()
                .enumerate()
                .any(|(i, ten)| t[i].iter().any(|&v| v == ten.ty.qmin || v == ten.ty.qmax));
            saturated += any as usize;
        }
        assert_eq!(saturated, rows.rows, "{name}: rows without saturation");
    }
}

/// The integer program against the exact simulation of the QDQ graph
/// (`lfc eval`'s reference) on every tensor's output: the same integers
/// on at least 99.9 % of rows, never more than one quantum apart.
#[test]
fn quantized_program_matches_the_qdq_simulation() {
    for name in MODELS.iter().chain(&["conv_qdq"]) {
        let c = compile(name, 1_000_000);
        let q = c.imported.as_ref().unwrap();
        for set in ["calib", "sat"] {
            let rows = data::read_matrix(&fixture(&format!("{name}.{set}.csv"))).unwrap();
            let fixed =
                pipeline::to_fixed(Path::new("rows"), &rows, c.program.input_scale).unwrap();
            let mut same = 0;
            for (row, x) in rows.iter_rows().zip(&fixed) {
                let sim = q.simulate(row);
                let out = lfc::back::interp::run(&c.program, x);
                let ty = &q.tensor(q.outputs[0].tensor).ty;
                let os = c.program.output_scale as f64;
                let d = sim
                    .iter()
                    .zip(&out)
                    .map(|(s, &v)| ((s - v as f64 / os) / ty.scale).abs().round() as i64)
                    .max()
                    .unwrap();
                assert!(d <= 1, "{name} {set}: {d} quanta from the simulation");
                same += (d == 0) as usize;
            }
            eprintln!(
                "{name} {set}: {same} of {} rows equal the QDQ simulation",
                rows.rows
            );
            assert!(
                same as f64 >= 0.999 * rows.rows as f64,
                "{name} {set}: {same} of {} rows equal the simulation",
                rows.rows
            );
        }
    }
}

/// At the default `--input-scale 1000` the s64 rounding of each input comes
/// before the model's own input quantization: Aurora's input quantum is
/// 0.0216, 21.6 s64 steps, and the CLI says so.
#[test]
fn quantized_coarse_input_scale_is_reported() {
    let c = compile("aurora_qdq", 1000);
    assert!(
        c.warnings
            .iter()
            .any(|w| w.message.contains("--input-scale")),
        "{:?}",
        c.warnings
    );
    let d = quantum_diffs(&c, "calib", Engine::Interp);
    eprintln!(
        "aurora_qdq calib at --input-scale 1000: {:.2} % exact, worst {}",
        100.0 * share_exact(&d),
        d.iter().max().unwrap()
    );
    let c = compile("aurora_qdq", 1_000_000);
    assert!(c.warnings.is_empty(), "{:?}", c.warnings);
}

/// No calibration is needed, and `--precision` is refused with a message.
#[test]
fn quantized_cli_needs_no_calibration_and_refuses_precision() {
    let dir = tempfile::tempdir().unwrap();
    let m = fixture("torch_qdq.onnx");
    let out = dir.path().join("m.c");
    let (ok, _, err) = lfc(&["compile", m.to_str().unwrap(), "-o", out.to_str().unwrap()]);
    assert!(ok, "{err}");
    assert!(out.exists());
    let (ok, _, err) = lfc(&[
        "compile",
        m.to_str().unwrap(),
        "--precision",
        "int8",
        "-o",
        out.to_str().unwrap(),
    ]);
    assert!(!ok);
    assert!(
        err.contains("--precision") && err.contains("quantized model"),
        "{err}"
    );
}

/// The quantized node tests lfc does not list in node-tests.txt are
/// refused with the reason named, never answered wrongly.
#[test]
fn quantized_node_tests_refused_clearly() {
    use crate::conformance::{all_tests, run_test, Outcome};
    use lfc::ir::Precision;
    let refused = [
        ("test_quantizelinear_blocked_asymmetric", "block_size"),
        ("test_dequantizelinear_blocked", "block_size"),
        (
            "test_quantizelinear_axis",
            "per-axis quantization of a runtime tensor",
        ),
        (
            "test_dequantizelinear_axis",
            "per-axis quantization of a runtime tensor",
        ),
        (
            "test_qlinearmatmul_3D_uint8_float32",
            "lfc takes 2-D weights",
        ),
    ];
    let tests = all_tests();
    for (name, why) in refused {
        let t = tests.iter().find(|t| t.name == name).expect(name);
        match run_test(t, Precision::Int16) {
            Outcome::Fail(msg) => {
                assert!(
                    msg.contains("refused") && msg.contains(why),
                    "{name}: {msg}"
                )
            }
            other => panic!("{name}: {other:?}"),
        }
    }
}

/// DynamicQuantizeLinear is refused with what to do instead.
#[test]
fn quantized_dynamic_quantization_refused_with_advice() {
    use lfc::front::onnx::load_quantized;
    use prost::Message;
    use tract_onnx::pb::{GraphProto, ModelProto, NodeProto, OperatorSetIdProto};
    let node = NodeProto {
        op_type: "DynamicQuantizeLinear".into(),
        name: "dql".into(),
        input: vec!["x".into()],
        output: vec!["y".into(), "y_scale".into(), "y_zp".into()],
        ..Default::default()
    };
    let m = ModelProto {
        ir_version: 8,
        opset_import: vec![OperatorSetIdProto {
            domain: String::new(),
            version: 13,
        }],
        graph: Some(GraphProto {
            node: vec![node],
            input: vec![crate::models::value_info(
                "x",
                Some(&[crate::models::D::N(1), crate::models::D::N(4)]),
            )],
            output: vec![crate::models::value_info("y", None)],
            ..Default::default()
        }),
        ..Default::default()
    };
    let err = load_quantized(&m.encode_to_vec(), Path::new("dyn.onnx"))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("`dql`") && err.contains("quantize_static") && err.contains("--calibration"),
        "{err}"
    );
}

/// `lfc eval` compares against the QDQ simulation by default (the only
/// difference left is the s64 output rounding, half a step of
/// `--output-scale`), and against the float original with
/// `--float-model`; `lfc inspect` lists the imported scales and the fused
/// nodes.
#[test]
fn quantized_eval_and_inspect() {
    let m = fixture("aurora_qdq.onnx");
    let data = fixture("aurora_qdq.calib.csv");
    let (m, data) = (m.to_str().unwrap(), data.to_str().unwrap());
    let base = [
        "eval",
        m,
        "--data",
        data,
        "--input-scale",
        "1000000",
        "--engine",
        "interp",
    ];
    let (ok, out, err) = lfc(&base);
    assert!(ok, "{err}");
    assert!(out.contains("vs QDQ simulation"), "{out}");
    let max_err: f64 = out
        .lines()
        .find(|l| l.trim_start().starts_with("0 "))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("{out}"));
    assert!(max_err <= 0.0005, "{out}");
    let float = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/aurora/aurora.onnx");
    let (ok, out, err) = lfc(&[&base[..], &["--float-model", float.to_str().unwrap()]].concat());
    assert!(ok, "{err}");
    assert!(out.contains("vs tract f32"), "{out}");
    let (ok, out, err) = lfc(&["inspect", fixture("aurora_qop.onnx").to_str().unwrap()]);
    assert!(ok, "{err}");
    assert!(
        out.contains("imported quantization")
            && out.contains("fc0_quantized")
            && out.contains("1.7458148e-1")
            && out.contains(
                "tanh0 (Tanh) -> h0_quantized: fc0_DequantizeLinear, tanh0, h0_QuantizeLinear"
            ),
        "{out}"
    );
    // The per-channel weight scales (onnxruntime's per_channel=True): 32
    // for the first QGemm, one per output.
    assert!(
        out.contains("weight scales (the model's):")
            && out.contains("fc0_quant (QGemm): per channel, 32 channels"),
        "{out}"
    );
}

/// A 2x2 AveragePool between equal scales (the QDQ image model) puts a
/// quarter of its sums exactly on half a quantum. onnxruntime runs it as
/// QLinearAveragePool, which averages in float32 and rounds `y / y_scale +
/// y_zero_point` half to even: the stored integer, zero point included. lfc
/// lowers that op, and only that op, with the rescale that rounds ties to
/// odd before the odd zero point 21 (the QOperator form pools between
/// different scales, where no tie is reachable, and keeps half up). The
/// shares are measured: onnxruntime's float32 sum of four dequantized
/// values is off the exact half on a few ties (59 of 1,867 pool ties on
/// these 200 rows), and there it rounds the other way; integer code cannot
/// reproduce that float noise. Half up there was 13 % / 32 % exact.
#[test]
fn quantized_exact_ties_round_as_onnxruntime() {
    use lfc::ir::{InstrKind, Round};
    let rounds = |name: &str| -> Vec<(String, Option<Round>)> {
        let c = compile(name, 1_000_000);
        assert!(c.warnings.is_empty(), "{name}: {:?}", c.warnings);
        c.program
            .instrs
            .iter()
            .filter(|i| matches!(i.kind, InstrKind::Dense { .. }))
            .map(|i| (i.node.clone(), i.kind.tie_rounding()))
            .collect()
    };
    let qdq = rounds("conv_qdq");
    let odd: Vec<&str> = qdq
        .iter()
        .filter(|(_, r)| r.is_some())
        .map(|(n, _)| n.as_str())
        .collect();
    assert_eq!(odd, ["pool"], "{qdq:?}");
    assert!(qdq.contains(&("pool".to_string(), Some(Round::HalfOdd))));
    for name in MODELS {
        assert!(rounds(name).iter().all(|(_, r)| r.is_none()), "{name}");
    }
    let c = compile("conv_qdq", 1_000_000);
    for set in ["calib", "sat"] {
        let d = quantum_diffs(&c, set, Engine::C);
        eprintln!(
            "conv_qdq {set}: {:.2} % exact quantum, worst {} quanta",
            100.0 * share_exact(&d),
            d.iter().max().unwrap()
        );
        // Measured: 92 % (calib), 86 % (sat); every row within one quantum.
        assert!(share_exact(&d) >= 0.85, "{set}");
        assert!(*d.iter().max().unwrap() <= 1, "{set}");
    }
    assert_eq!(
        quantum_diffs(&c, "sat", Engine::Rust),
        quantum_diffs(&c, "sat", Engine::Interp)
    );
    // The half-up form of the same program is measurably further off.
    let mut up = compile("conv_qdq", 1_000_000);
    for i in &mut up.program.instrs {
        if let InstrKind::Dense { rescale, .. } = &mut i.kind {
            for r in rescale.iter_mut() {
                *r = r.with_round(Round::HalfUp);
            }
        }
    }
    for set in ["calib", "sat"] {
        let (d, u) = (
            quantum_diffs(&c, set, Engine::Interp),
            quantum_diffs(&up, set, Engine::Interp),
        );
        eprintln!(
            "conv_qdq {set} rounding half up: {:.2} % exact, worst {}",
            100.0 * share_exact(&u),
            u.iter().max().unwrap()
        );
        assert!(share_exact(&d) > share_exact(&u), "{set}");
    }
}

/// The emitted Rust of every quantized fixture equals the emitted C and
/// the interpreter bit for bit: on the calibration and saturating rows and
/// on 1,000 random rows of the input domain widened by 10 % (clamped).
#[test]
fn quantized_rust_matches_c_and_interpreter() {
    for name in MODELS {
        let c = compile(name, 1_000_000);
        let mut rows = Vec::new();
        for set in ["calib", "sat"] {
            let m = data::read_matrix(&fixture(&format!("{name}.{set}.csv"))).unwrap();
            rows.extend(pipeline::to_fixed(Path::new("rows"), &m, c.program.input_scale).unwrap());
        }
        let mut rng = crate::models::Rng::new(3);
        let scale = c.program.input_scale as f64;
        rows.extend((0..1000).map(|_| {
            c.domain
                .lo
                .iter()
                .zip(&c.domain.hi)
                .map(|(&lo, &hi)| {
                    let w = (hi - lo) * 0.1;
                    ((lo - w + rng.uniform() * (hi - lo + 2.0 * w)) * scale).round() as i64
                })
                .collect::<Vec<i64>>()
        }));
        let rust = run_fixed(&c, &rows, Engine::Rust).unwrap_or_else(|e| panic!("{name}: {e}"));
        let cout = run_fixed(&c, &rows, Engine::C).unwrap();
        let interp = run_fixed(&c, &rows, Engine::Interp).unwrap();
        assert_eq!(cout, interp, "{name}: C != interpreter");
        assert_eq!(rust, interp, "{name}: Rust != interpreter");
    }
}

/// Concat, QDQ (`DQ… -> Concat -> Q`, which onnxruntime fuses into
/// QLinearConcat) and QOperator (QLinearConcat): each input with other
/// parameters than the output's is requantized by an exact table, then the
/// program's one Concat instruction copies every block (sources, pieces);
/// a Concat on the last axis of [1, 2, k] tensors interleaves their rows. Both models are in `MODELS`
/// (onnxruntime's quanta exactly, C == interpreter); here the program's
/// shape is pinned and the Rust back end checked bit for bit.
#[test]
fn quantized_concat_requantizes_then_copies() {
    use lfc::ir::concat::PieceSrc;
    use lfc::ir::InstrKind;
    for name in ["concat_qdq", "concat_qop"] {
        let c = compile(name, 1_000_000);
        let cats: Vec<(&str, usize, usize)> = c
            .program
            .instrs
            .iter()
            .filter_map(|i| match &i.kind {
                InstrKind::Concat {
                    pieces,
                    consts,
                    clamp,
                    ..
                } => {
                    // Plain copies: the tables did the requantizing.
                    assert!(consts.is_empty() && clamp.is_none(), "{name}");
                    let copies = pieces.iter().all(|p| match p.src {
                        PieceSrc::Tensor { rescale, .. } => rescale.is_identity(),
                        PieceSrc::Const => false,
                    });
                    assert!(copies, "{name}: {}", i.node);
                    let srcs: std::collections::BTreeSet<_> = i.kind.srcs().into_iter().collect();
                    Some((i.node.as_str(), srcs.len(), pieces.len()))
                }
                _ => None,
            })
            .collect();
        let (c_node, d_node, e_node) = if name == "concat_qdq" {
            ("cat_c", "cat_d", "cat_e")
        } else {
            ("cat_c_quant", "cat_d_quant", "cat_e_quant")
        };
        assert_eq!(
            cats,
            [(c_node, 3, 3), (d_node, 2, 4), (e_node, 2, 2)],
            "{name}"
        );
        // Requantized inputs: a, b and x into c; a and b into d; d into e
        // (c has e's scale and zero point: copied as it is).
        let q = c.imported.as_ref().unwrap();
        let requant: Vec<&str> = q
            .ops
            .iter()
            .filter(|op| op.fused.iter().any(|f| f.ends_with("requantized")))
            .map(|op| op.node.as_str())
            .collect();
        assert_eq!(
            requant,
            [c_node, c_node, c_node, d_node, d_node, e_node],
            "{name}"
        );
        assert_eq!(
            quantum_diffs(&c, "sat", Engine::Rust),
            quantum_diffs(&c, "sat", Engine::Interp),
            "{name}"
        );
    }
}

/// MaxPool, QDQ (`DQ -> MaxPool -> Q` with the DQ's parameters, as
/// quantize_static writes it) and QOperator (MaxPool on the uint8 tensor):
/// both `maxpool_*` models are in `MODELS` (onnxruntime's quanta on every
/// row). Here: each pool is one window layout and one GroupMax, in the
/// source's type (no table, no rescale), and a Q with other parameters
/// than its DQ's requantizes the maximum by an exact table, equal to the
/// QDQ simulation (max of the dequantized window, then QuantizeLinear) on
/// every row, C == Rust == interpreter.
#[test]
fn quantized_maxpool_is_a_group_max_then_a_table_when_requantized() {
    use lfc::ir::InstrKind;
    use prost::Message;
    use tract_onnx::pb::ModelProto;
    let kinds = |c: &Compiled| -> Vec<(String, &'static str)> {
        c.program
            .instrs
            .iter()
            .filter(|i| i.onnx_op == "MaxPool")
            .map(|i| {
                let k = match i.kind {
                    InstrKind::Dense { .. } => "windows",
                    InstrKind::GroupMax { .. } => "max",
                    InstrKind::Lut { .. } => "table",
                    _ => "other",
                };
                (i.node.clone(), k)
            })
            .collect()
    };
    let pools = || -> Vec<(String, &str)> {
        [
            ("pool", "windows"),
            ("pool", "max"),
            ("pool2", "windows"),
            ("pool2", "max"),
        ]
        .into_iter()
        .map(|(n, k)| (n.to_string(), k))
        .collect()
    };
    for name in ["maxpool_qdq", "maxpool_qop"] {
        assert_eq!(kinds(&compile(name, 1_000_000)), pools(), "{name}");
    }
    // The QDQ model with pool's Q (and the DQ after it) at another scale
    // and zero point: pool requantizes into them, pool2 back into r's.
    let bytes = std::fs::read(fixture("maxpool_qdq.onnx")).unwrap();
    let mut m = ModelProto::decode(bytes.as_slice()).unwrap();
    let g = m.graph.as_mut().unwrap();
    let scale = g
        .initializer
        .iter()
        .find(|t| t.name == "r_scale")
        .expect("r_scale")
        .clone();
    let mut s2 = scale.clone();
    s2.name = "p_scale".into();
    let v = if s2.float_data.is_empty() {
        f32::from_le_bytes(s2.raw_data[..4].try_into().unwrap())
    } else {
        s2.float_data[0]
    };
    s2.raw_data.clear();
    s2.float_data = vec![v * 1.7];
    let mut z2 = g
        .initializer
        .iter()
        .find(|t| t.name == "r_zero_point")
        .unwrap()
        .clone();
    z2.name = "p_zero_point".into();
    z2.raw_data = vec![5];
    z2.int32_data.clear();
    g.initializer.extend([s2, z2]);
    for n in &mut g.node {
        if n.name == "p_QuantizeLinear" || n.name == "p_DequantizeLinear" {
            n.input[1] = "p_scale".into();
            n.input[2] = "p_zero_point".into();
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("maxpool_requant.onnx");
    std::fs::write(&path, m.encode_to_vec()).unwrap();
    let c = pipeline::compile(
        &path,
        &CompileOptions {
            input_scale: 1_000_000,
            output_scale: 1_000_000,
            ..Default::default()
        },
    )
    .unwrap();
    let mut want = pools();
    want.insert(2, ("pool".to_string(), "table"));
    want.push(("pool2".to_string(), "table"));
    assert_eq!(kinds(&c), want);
    let q = c.imported.as_ref().unwrap();
    let (mut rows, mut fixed) = (Vec::new(), Vec::new());
    for set in ["calib", "sat"] {
        let m = data::read_matrix(&fixture(&format!("maxpool_qdq.{set}.csv"))).unwrap();
        rows.extend(m.iter_rows().map(|r| r.to_vec()));
        fixed.extend(pipeline::to_fixed(Path::new("rows"), &m, c.program.input_scale).unwrap());
    }
    let interp = run_fixed(&c, &fixed, Engine::Interp).unwrap();
    assert_eq!(run_fixed(&c, &fixed, Engine::C).unwrap(), interp);
    assert_eq!(run_fixed(&c, &fixed, Engine::Rust).unwrap(), interp);
    let ty = &q.tensor(q.outputs[0].tensor).ty;
    let os = c.program.output_scale as f64;
    for (row, out) in rows.iter().zip(&interp) {
        let sim = q.simulate(row);
        for (s, &v) in sim.iter().zip(out) {
            assert_eq!(((s - v as f64 / os) / ty.scale).round(), 0.0, "{row:?}");
        }
    }
}

/// Add/Mul with a constant operand (an initializer), as quantize_static
/// writes them: QDQ (`DQ(x), DQ(constant) -> Add | Mul -> Q`) and QOperator
/// (QLinearAdd/QLinearMul with a uint8 constant as B, or as A in `mul_s`),
/// per-channel `[1, C, 1, 1]`, scalar and full-shape `[C, H, W]`
/// constants. Both `constop_*` models are in `MODELS` (onnxruntime's
/// quanta, C == interpreter); here each such op is pinned as one Dense
/// with one weight per output (the constant a bias at a fine unit, or a
/// per-element multiplier), and a constant that would enlarge the tensor
/// is refused with the node named.
#[test]
fn quantized_constant_operands_fold_into_a_dense() {
    use lfc::ir::InstrKind;
    use prost::Message;
    use tract_onnx::pb::ModelProto;
    for (name, suffix) in [("constop_qdq", ""), ("constop_qop", "_quant")] {
        let c = compile(name, 1_000_000);
        for node in ["add_c", "mul_c", "mul_s", "add_full"] {
            let node = format!("{node}{suffix}");
            let i = c
                .program
                .instrs
                .iter()
                .find(|i| i.node == node)
                .unwrap_or_else(|| panic!("{name}: no {node}"));
            let InstrKind::Dense { weight, bias, .. } = &i.kind else {
                panic!("{name} {node}: {:?}", i.kind);
            };
            let n = bias.len();
            assert_eq!(n, 75, "{name} {node}");
            // One weight per output, on the diagonal.
            for (k, &w) in weight.iter().enumerate() {
                assert!(w == 0 || k / n == k % n, "{name} {node}: weight {k}");
            }
            assert!(weight.iter().filter(|&&w| w != 0).count() >= 50, "{node}");
        }
    }
    // [2, 1, 1, 1] onto [1, 3, 5, 5]: would broadcast the tensor itself.
    let bytes = std::fs::read(fixture("constop_qdq.onnx")).unwrap();
    let mut m = ModelProto::decode(bytes.as_slice()).unwrap();
    let g = m.graph.as_mut().unwrap();
    let t = g
        .initializer
        .iter_mut()
        .find(|t| t.name == "k_add_quantized")
        .unwrap();
    t.dims = vec![3, 1, 1, 1];
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.onnx");
    std::fs::write(&path, m.encode_to_vec()).unwrap();
    let out = dir.path().join("bad.c");
    let (ok, _, err) = lfc(&[
        "compile",
        path.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
    ]);
    assert!(!ok && !out.exists());
    assert!(
        err.contains("`add_c`") && err.contains("does not broadcast"),
        "{err}"
    );
}
