//! Instructions per inference of every model-kind fixture of issue 7
//! (`tests/kinds.rs`): the ONNX-ML models of `tests/fixtures/ml/` and the
//! PyTorch-shaped graphs of `tests/fixtures/kinds/`, each compiled with
//! `--calibration` only (trees at input scale 10^6, as in the tests) and
//! measured by `lfc bench` ([`lfc::bench::run`]: the emitted C built with
//! the kernel's CFLAGS, checked against the interpreter, counted under
//! callgrind with start-up subtracted) on the fixture's 300 held-out rows.
//!
//!     cargo bench --bench ml

use std::path::{Path, PathBuf};

use lfc::bench::BenchOptions;
use lfc::pipeline::{self, CompileOptions};

/// ONNX-ML fixtures: (name, rows, has trees).
const ML: &[(&str, &str, bool)] = &[
    ("skl_scaler_mlp_reg", "reg", false),
    ("skl_scaler_linreg", "reg", false),
    ("skl_l2norm_linreg", "reg", false),
    ("skl_l1norm_linreg", "reg", false),
    ("skl_l1norm", "reg", false),
    ("skl_maxnorm_linreg", "reg", false),
    ("skl_binarizer_linreg", "reg", true),
    ("skl_logreg", "clf", false),
    ("skl_logreg_bin", "clf", false),
    ("skl_dtree_reg", "reg", true),
    ("skl_rf_reg", "reg", true),
    ("lgbm_reg", "reg", true),
    ("lgbm_cat_reg", "cat", true),
    ("lgbm_cat_neq_reg", "cat", true),
    ("xgb_reg", "reg", true),
    ("skl_rf_bin", "clf", true),
    ("skl_gb_bin", "clf", true),
    ("lgbm_clf", "clf", true),
    ("lgbm_bin", "clf", true),
    ("xgb_clf", "clf", true),
    ("xgb_bin", "clf", true),
    ("skl_mlp_clf", "clf", false),
];

/// PyTorch-shaped fixtures (rows per fixture).
const KINDS: &[&str] = &[
    "gemm_bn_relu",
    "conv1d_policy",
    "conv2d_pools",
    "max_pools",
    "index_maps",
    "concat_blocks",
    "layer_norm_mlp",
    "unary_tables",
    "gelu_opset20",
    "matmul_rows",
];

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn bench(name: &str, model: &Path, cal: PathBuf, held: &Path, input_scale: i64) {
    let opts = CompileOptions {
        calibration: Some(cal),
        input_scale,
        ..Default::default()
    };
    let start = std::time::Instant::now();
    let c = pipeline::compile(model, &opts).expect("compile");
    let ms = start.elapsed().as_secs_f64() * 1e3;
    let rows = lfc::commands::read_inputs(&c, held).expect("rows");
    let b = BenchOptions {
        warm_samples: 2_000,
        cold_samples: 20,
        ..Default::default()
    };
    let r = lfc::bench::run(&c, &rows, ms, &b).expect("lfc bench");
    match r.instructions {
        Some(n) => println!(
            "{name:<22} {n:8.0} instructions/inference ({} MACs, code {} / tables {} bytes)",
            r.macs, r.code_bytes, r.table_bytes
        ),
        None => println!("{name:<22} valgrind not installed, no instruction count"),
    }
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    if !args.is_empty() && !args.iter().any(|a| "ml".contains(a.as_str())) {
        return;
    }
    let ml = fixtures().join("ml");
    for &(name, task, trees) in ML {
        bench(
            name,
            &ml.join(format!("{name}.onnx")),
            ml.join(format!("calib_{task}.csv")),
            &ml.join(format!("heldout_{task}.csv")),
            if trees { 1_000_000 } else { 1000 },
        );
    }
    let kinds = fixtures().join("kinds");
    for &name in KINDS {
        bench(
            name,
            &kinds.join(format!("{name}.onnx")),
            kinds.join(format!("calib_{name}.csv")),
            &kinds.join(format!("heldout_{name}.csv")),
            1000,
        );
    }
}
