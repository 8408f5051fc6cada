//! ONNX front end: lowered graphs agree with tract's float execution, and
//! models it cannot lower are refused with messages that name the culprit.

use std::path::{Path, PathBuf};

use lfc::front::onnx::{self, FloatModel};
use lfc::ir::{Activation, Graph, OpKind};
use rand::{Rng, SeedableRng};

use crate::models;

/// How far `Graph::eval` (f64) may be from tract (f32): relative, with an
/// absolute floor for outputs near zero.
struct Tolerance {
    rel: f64,
    abs: f64,
}

const FLOAT_VS_TRACT: Tolerance = Tolerance {
    rel: 1e-4,
    abs: 1e-6,
};

impl Tolerance {
    fn check(&self, what: &str, row: &[f32], got: &[f64], want: &[f32]) {
        assert_eq!(got.len(), want.len(), "{what}: output length");
        for (i, (g, w)) in got.iter().zip(want).enumerate() {
            let w = *w as f64;
            assert!(
                (g - w).abs() <= self.abs + self.rel * w.abs(),
                "{what}: output {i}: graph {g}, tract {w} (input {row:?})"
            );
        }
    }
}

fn aurora_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/aurora/aurora.onnx")
}

/// Runs `rows` random inputs in [-range, range] through both.
fn agree(what: &str, path: &Path, rows: usize, range: f32) -> Graph {
    let graph = onnx::load(path).unwrap_or_else(|e| panic!("{what}: {e}"));
    let reference = FloatModel::load(path).unwrap_or_else(|e| panic!("{what}: {e}"));
    assert_eq!(
        graph.input_len(),
        reference.input_len(),
        "{what}: input length"
    );
    let mut rng = rand::rngs::StdRng::seed_from_u64(0x1fc);
    let mut outputs = Vec::new();
    for _ in 0..rows {
        let row: Vec<f32> = (0..graph.input_len())
            .map(|_| rng.random_range(-range..range))
            .collect();
        let want = reference
            .run(&row)
            .unwrap_or_else(|e| panic!("{what}: {e}"));
        let got = graph.eval(&row.iter().map(|v| *v as f64).collect::<Vec<_>>());
        FLOAT_VS_TRACT.check(what, &row, &got, &want);
        outputs.push(got);
    }
    // a fixture whose outputs barely move (saturated activations) would
    // hide lowering mistakes: every output must take many distinct values
    for j in 0..graph.output_len() {
        let mut col: Vec<f64> = outputs.iter().map(|o| o[j]).collect();
        col.sort_by(f64::total_cmp);
        col.dedup();
        assert!(
            col.len() > rows / 4,
            "{what}: output {j} takes only {} values",
            col.len()
        );
    }
    graph
}

#[test]
fn front_fixtures_agree_with_tract() {
    let dir = tempfile::tempdir().unwrap();
    for (name, bytes) in models::good_models() {
        let path = models::write_model(dir.path(), name, &bytes);
        let graph = agree(name, &path, 300, 3.0);
        // the graph's ops cover every node that computes (aliases excepted)
        assert!(!graph.ops.is_empty(), "{name}: no ops");
    }
}

#[test]
fn front_external_data_weights() {
    let dir = tempfile::tempdir().unwrap();
    let path = models::write_external_weights_model(dir.path());
    let graph = agree("external_weights", &path, 100, 3.0);
    match &graph.ops[0].kind {
        OpKind::Dense { bias, .. } => assert_eq!(bias, &[0.25, -0.5, 0.75]),
        k => panic!("fc lowered to {k:?}"),
    }
    // without a directory the external file cannot be found
    let bytes = std::fs::read(&path).unwrap();
    let msg = refused(&bytes, "external_weights.onnx");
    assert_mentions(
        &msg,
        &["external_weights.onnx", "not a loadable ONNX model"],
    );
}

#[test]
fn front_aurora_agrees_with_tract() {
    let graph = agree("aurora", &aurora_path(), 300, 2.0);
    assert_eq!((graph.input_len(), graph.output_len()), (30, 1));
    assert_eq!(graph.macs(), 30 * 32 + 32 * 16 + 16);
    let kinds: Vec<&str> = graph.ops.iter().map(|op| op.onnx_op.as_str()).collect();
    assert_eq!(kinds, ["Gemm", "Tanh", "Gemm", "Tanh", "Gemm"]);
}

#[test]
fn front_aurora_matches_onnxruntime_reference() {
    // the 60 calibration rows and onnxruntime's outputs on them
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/aurora");
    let graph = onnx::load(&aurora_path()).unwrap();
    let rows = std::fs::read_to_string(dir.join("representative_dataset.csv")).unwrap();
    let refs = std::fs::read_to_string(dir.join("reference_output.csv")).unwrap();
    let parse = |l: &str| -> Option<Vec<f64>> {
        l.split(',').map(|v| v.trim().parse::<f64>().ok()).collect()
    };
    let rows: Vec<Vec<f64>> = rows
        .lines()
        .filter_map(parse)
        .filter(|r| r.len() == 30)
        .collect();
    let refs: Vec<Vec<f64>> = refs
        .lines()
        .filter_map(parse)
        .filter(|r| !r.is_empty())
        .collect();
    assert_eq!(rows.len(), 60, "calibration rows");
    assert_eq!(refs.len(), 60, "reference outputs");
    for (row, want) in rows.iter().zip(&refs) {
        let got = graph.eval(row)[0];
        let want = *want.last().unwrap();
        assert!(
            (got - want).abs() <= 1e-5 + 1e-4 * want.abs(),
            "graph {got}, onnxruntime {want}"
        );
    }
}

fn lowered(bytes: &[u8], name: &str) -> Graph {
    onnx::load_bytes(bytes, name).unwrap_or_else(|e| panic!("{name}: {e}"))
}

#[test]
fn front_lowering_shapes() {
    let g = lowered(&models::mlp_relu(), "mlp_relu");
    let kinds: Vec<&str> = g.ops.iter().map(|op| op.node.as_str()).collect();
    assert_eq!(kinds, ["fc1", "relu1", "fc2", "out"]);
    match &g.ops[2].kind {
        OpKind::Dense { weight, bias } => assert_eq!((weight.len(), bias.len()), (64, 4)),
        k => panic!("fc2 lowered to {k:?}"),
    }
    assert_eq!(g.value(g.input).name, "x");
    assert_eq!(g.value(g.outputs[0]).name, "y");

    // Reshape, Flatten, Identity, Cast are aliases: no ops of their own
    let g = lowered(&models::clip_softmax(), "clip_softmax");
    let ops: Vec<&str> = g.ops.iter().map(|op| op.onnx_op.as_str()).collect();
    assert_eq!(ops, ["Gemm", "Clip", "Gemm", "Softmax"]);
    assert_eq!(
        g.ops[1].kind,
        OpKind::Activation(Activation::Clip {
            min: -0.4,
            max: f32::INFINITY
        })
    );
    assert_eq!(g.ops[2].inputs, vec![g.ops[1].output]);
    assert_eq!(g.ops[3].kind, OpKind::Softmax { axis_len: 6 });

    // c - x is an Affine with scale -1; x - c negates the offset
    let g = lowered(&models::matmul_affine(), "matmul_affine");
    let affine = |node: &str| match &g.ops.iter().find(|op| op.node == node).unwrap().kind {
        OpKind::Affine { scale, offset } => (scale.clone(), offset.clone()),
        k => panic!("{node} lowered to {k:?}"),
    };
    let (scale, offset) = affine("shift_down");
    assert!(scale.iter().all(|s| *s == 1.0) && offset.iter().all(|o| *o == -0.25));
    let (scale, _) = affine("mirror_sub");
    assert!(scale.iter().all(|s| *s == -1.0) && scale.len() == 10);

    // two runtime tensors: Binary ops with two inputs
    let g = lowered(&models::residual(), "residual");
    let binary: Vec<usize> = g
        .ops
        .iter()
        .filter(|op| matches!(op.kind, OpKind::Binary { .. }))
        .map(|op| op.inputs.len())
        .collect();
    assert_eq!(binary, [2, 2, 2]);

    // unnamed nodes are `op#index`; legacy attribute Clip bounds
    let g = lowered(&models::clip_attrs_opset10(), "clip_attrs_opset10");
    let names: Vec<&str> = g.ops.iter().map(|op| op.node.as_str()).collect();
    assert_eq!(names, ["MatMul#0", "Clip#1", "Softmax#2"]);
    assert_eq!(
        g.ops[1].kind,
        OpKind::Activation(Activation::Clip {
            min: -0.5,
            max: 0.6
        })
    );

    // tract folds the shape arithmetic; Dropout, Reshape, Squeeze and
    // Unsqueeze are aliases
    let g = lowered(&models::folded_shapes(), "folded_shapes");
    let ops: Vec<&str> = g.ops.iter().map(|op| op.node.as_str()).collect();
    // (the bias Add folds into the MatMul's Dense)
    assert_eq!(ops, ["mm+bias", "tanh"]);
    assert_eq!(g.ops[1].output, g.outputs[0]);
    assert_eq!(
        g.value(g.outputs[0]).name,
        "y",
        "the output value takes the graph output's name"
    );

    // legacy Softmax coerces to 2-D at its axis
    let g = lowered(&models::softmax_legacy_3d(), "softmax_legacy_3d");
    assert_eq!(g.ops[1].kind, OpKind::Softmax { axis_len: 6 });

    // BatchNormalization folds into the Gemm before it
    let g = lowered(&models::gemm_bn_relu(), "gemm_bn_relu");
    let names: Vec<&str> = g.ops.iter().map(|op| op.node.as_str()).collect();
    assert_eq!(names, ["fc1+bn1", "relu", "fc2"]);
    assert_eq!(g.ops[0].onnx_op, "Gemm+BatchNormalization");

    // the Transpose folds into the Conv's weights: one Dense over the input
    let g = lowered(&models::conv1d_policy(), "conv1d_policy");
    let names: Vec<&str> = g.ops.iter().map(|op| op.node.as_str()).collect();
    assert_eq!(names, ["to_channels+conv", "relu", "fc", "tanh"]);
    assert_eq!(g.ops[0].inputs, vec![g.input]);
    match &g.ops[0].kind {
        // 8 channels x 10 positions, 3 taps x 3 channels, minus the 2 x 8 x 3 padded taps
        OpKind::Dense { weight, .. } => assert_eq!(
            (weight.len(), weight.iter().filter(|w| **w != 0.0).count()),
            (80 * 30, 80 * 9 - 2 * 8 * 3)
        ),
        k => panic!("conv lowered to {k:?}"),
    }

    // every index map folds into a Dense but the two reading the input
    // (Split's halves; b's broadcast is a map of a Dense output)
    let g = lowered(&models::index_maps(), "index_maps");
    let gathers = g
        .ops
        .iter()
        .filter(|op| matches!(op.kind, OpKind::Gather { .. }))
        .count();
    assert!(gathers <= 3, "{}", lfc::ir::dump::graph(&g));

    // x * Sigmoid(x) is one Swish table; every other function one table
    let g = lowered(&models::unary_tables(), "unary_tables");
    let op = g.ops.iter().find(|op| op.node == "silu_sig+silu").unwrap();
    assert_eq!(
        op.kind,
        OpKind::Activation(Activation::Table(lfc::ir::LutFunc::Swish))
    );
    let tables = g
        .ops
        .iter()
        .filter(|op| matches!(op.kind, OpKind::Activation(Activation::Table(_))))
        .count();
    assert_eq!(tables, 9, "{}", lfc::ir::dump::graph(&g));

    // symbolic batch is fixed to 1
    let g = lowered(&models::symbolic_batch(), "symbolic_batch");
    assert_eq!((g.input_len(), g.output_len()), (5, 2));
}

/// The error message of a model that must not load.
fn refused(bytes: &[u8], name: &str) -> String {
    match onnx::load_bytes(bytes, name) {
        Ok(g) => panic!("{name}: lowered to {} ops, expected an error", g.ops.len()),
        Err(e) => e.to_string(),
    }
}

fn assert_mentions(msg: &str, parts: &[&str]) {
    for p in parts {
        assert!(msg.contains(p), "message {msg:?} does not mention {p:?}");
    }
}

#[test]
fn front_refuses_unsupported_ops() {
    let msg = refused(&models::unsupported_op(), "unsupported_op.onnx");
    assert_mentions(
        &msg,
        &[
            "node `hardmax_node` (Hardmax)",
            "unsupported op",
            "supported: Add, ArgMax, AveragePool, BatchNormalization, Cast, Clip, Concat, Conv",
        ],
    );
    let msg = refused(&models::unsupported_conv(), "conv.onnx");
    assert_mentions(
        &msg,
        &[
            "node `ConvTranspose#0` (ConvTranspose)",
            "unsupported op",
            "Gemm",
        ],
    );
    let msg = refused(&models::custom_domain_op(), "custom.onnx");
    assert_mentions(
        &msg,
        &[
            "node `mine` (MyOp)",
            "domain `com.example`",
            "supported: Add",
        ],
    );
    // ceil_mode=1 is lowered now: windows at 0 and 2 and the partial one
    // at 4 (a mean of one element)
    let g = onnx::load_bytes(&models::avgpool_ceil(), "ceil.onnx").unwrap();
    let y = g.eval(&[1.0, 2.0, 3.0, 4.0, 5.0]);
    assert_eq!(y, vec![1.5, 3.5, 5.0]);
    let (pow, div) = models::pow_and_div();
    let msg = refused(&pow, "pow.onnx");
    assert_mentions(
        &msg,
        &["node `cube` (Pow)", "holds 2.5", "integer powers 0..=16"],
    );
    let msg = refused(&div, "div.onnx");
    assert_mentions(&msg, &["node `ratio` (Div)", "divisor is a runtime tensor"]);
}

/// Several outputs are kept in graph order, under their ONNX names.
#[test]
fn front_keeps_several_outputs_in_graph_order() {
    let g = onnx::load_bytes(&models::two_outputs(), "two_outputs.onnx").unwrap();
    let names: Vec<&str> = g
        .outputs
        .iter()
        .map(|&o| g.value(o).name.as_str())
        .collect();
    assert_eq!(names, ["scores", "probs"]);
    assert_eq!(g.output_len(), 6);
}

#[test]
fn front_refuses_bad_inputs_and_outputs() {
    let msg = refused(&models::unknown_shape_input(), "unknown_shape.onnx");
    assert_mentions(&msg, &["unknown_shape.onnx", "input `x`", "unknown shape"]);
    let msg = refused(&models::symbolic_feature_input(), "sym.onnx");
    assert_mentions(&msg, &["input `x`", "dimension 1", "`F`"]);
    let msg = refused(&models::int64_input(), "ids.onnx");
    assert_mentions(&msg, &["input `ids`", "INT64", "only FLOAT"]);
    let msg = refused(&models::two_inputs(), "two_inputs.onnx");
    assert_mentions(
        &msg,
        &["2 runtime inputs", "`a`", "`b`", "exactly one input"],
    );
    let msg = refused(b"definitely not protobuf", "garbage.onnx");
    assert_mentions(&msg, &["garbage.onnx", "not a loadable ONNX model"]);
}

#[test]
fn front_refuses_bad_weights_and_axes() {
    let msg = refused(&models::nan_weight(), "nan.onnx");
    assert_mentions(
        &msg,
        &[
            "node `fc` (Gemm)",
            "initializer `fc.weight`",
            "NaN",
            "index 5",
        ],
    );
    // Softmax over a middle axis is lowered now (index maps around it): each
    // column of the [2, 3] sums to 1
    let g = onnx::load_bytes(&models::softmax_middle_axis(), "softmax.onnx").unwrap();
    let y = g.eval(&[0.0, 1.0, 2.0, 3.0, 4.0, 5.0]);
    for col in 0..3 {
        let s = y[col] + y[3 + col];
        assert!((s - 1.0).abs() < 1e-12, "column {col}: {y:?}");
    }
    assert!((y[3] - 1.0 / (1.0 + (-3f64).exp())).abs() < 1e-12, "{y:?}");
}

#[test]
fn front_float_model_checks_input_length() {
    let reference = FloatModel::load_bytes(&models::mlp_relu(), "mlp_relu").unwrap();
    assert_eq!(reference.input_len(), 8);
    assert_eq!(reference.run(&[0.0; 8]).unwrap().len(), 4);
    let msg = reference.run(&[0.0; 7]).unwrap_err().to_string();
    assert_mentions(&msg, &["7 values", "takes 8"]);
}
