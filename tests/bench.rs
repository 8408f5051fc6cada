//! `lfc bench`: the figures it prints come from running the emitted C (and
//! the per-layer counts add up to the total); bad input fails cleanly.

use std::path::PathBuf;
use std::process::Command;

fn root(p: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(p)
}

fn lfc(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_lfc"))
        .args(args)
        .output()
        .expect("run lfc")
}

fn figure(text: &str, prefix: &str) -> f64 {
    let line = text
        .lines()
        .find(|l| l.starts_with(prefix))
        .unwrap_or_else(|| panic!("no `{prefix}` in\n{text}"));
    line[prefix.len()..]
        .split_whitespace()
        .next()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no number in `{line}`"))
}

/// The per-layer rows' counts (the column before last, or the last when
/// the layer has no multiply-adds), summed.
fn layer_sum(text: &str) -> f64 {
    text.lines()
        .skip_while(|l| !l.trim_start().starts_with("layer"))
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let i = if f.last().unwrap().contains('.') {
                2
            } else {
                1
            };
            f[f.len() - i].parse::<f64>().unwrap()
        })
        .sum()
}

#[test]
fn bench_aurora_counts_every_layer() {
    let model = root("examples/aurora/aurora.onnx");
    let rows = root("examples/aurora/representative_dataset.npy");
    let out = lfc(&[
        "bench",
        model.to_str().unwrap(),
        "--calibration",
        rows.to_str().unwrap(),
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(figure(&text, "warm: ") > 0.0, "{text}");
    assert!(figure(&text, "cold: ") > 0.0, "{text}");
    assert!(figure(&text, "code: ") > 1000.0, "{text}");
    if !text.contains("valgrind not installed") {
        let total = figure(&text, "instructions/inference: ");
        let layers = layer_sum(&text);
        assert!(
            (layers - total).abs() < 0.01 * total,
            "{layers} vs {total}\n{text}"
        );
        // The three Gemm layers do 1,488 multiply-adds: at least one
        // instruction each.
        assert!(total > 1488.0, "{text}");
    }
}

/// A model tract cannot load (TreeEnsembleRegressor): the float
/// reference is lfc's own float graph, named; the 8 trees of depth 5 are
/// counted (at least one instruction per comparison on a path), and the
/// layers add up to the total.
#[test]
fn bench_tree_ensemble_against_lfc_float_graph() {
    let model = root("tests/fixtures/ml/skl_rf_reg.onnx");
    let rows = root("tests/fixtures/ml/heldout_reg.csv");
    let cal = root("tests/fixtures/ml/calib_reg.csv");
    let out = lfc(&[
        "bench",
        model.to_str().unwrap(),
        "--calibration",
        cal.to_str().unwrap(),
        "--rows",
        rows.to_str().unwrap(),
        "--input-scale",
        "1000000",
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(figure(&text, "lfc float graph (f64): ") > 0.0, "{text}");
    assert!(!text.contains("tract"), "{text}");
    if !text.contains("valgrind not installed") {
        let total = figure(&text, "instructions/inference: ");
        assert!(total > 8.0 * 5.0, "{text}");
        let layers = layer_sum(&text);
        assert!(
            (layers - total).abs() < 0.01 * total,
            "{layers} vs {total}\n{text}"
        );
        assert!(text.contains("treeensembleregressor"), "{text}");
    }
}

#[test]
fn bench_without_rows_names_the_option() {
    let model = root("examples/aurora/aurora.onnx");
    let out = lfc(&["bench", model.to_str().unwrap(), "--input-range", "-1:1"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--rows"), "{err}");
}

/// `--backend rust`: the Rust snapshot built as the kernel object is,
/// counted in the same run as the C; its per-layer counts add up to its
/// total, and the sizes are the rustc object's.
#[test]
fn bench_rust_counts_the_rust_object_beside_the_c() {
    let model = root("examples/aurora/aurora.onnx");
    let rows = root("examples/aurora/representative_dataset.npy");
    let out = lfc(&[
        "bench",
        model.to_str().unwrap(),
        "--calibration",
        rows.to_str().unwrap(),
        "--backend",
        "rust",
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(figure(&text, "rust: code: ") > 1000.0, "{text}");
    if text.contains("valgrind not installed") {
        return;
    }
    let c = figure(&text, "instructions/inference: ");
    let rust = figure(&text, "rust: instructions/inference: ");
    let line = text
        .lines()
        .find(|l| l.starts_with("rust: instructions/inference: "))
        .unwrap();
    assert!(line.contains(&format!("C {c:.0},")), "{text}");
    let layers: Vec<(String, f64)> = text
        .lines()
        .filter_map(|l| l.strip_prefix("  rust "))
        .map(|l| {
            // `NAME (maybe several words)  COUNT (C count)`
            let f: Vec<&str> = l.split_whitespace().collect();
            let k = f.iter().position(|w| w.parse::<f64>().is_ok()).unwrap();
            (f[..k].join(" "), f[k].parse::<f64>().unwrap())
        })
        .collect();
    let sum: f64 = layers.iter().map(|l| l.1).sum();
    assert!((sum - rust).abs() < 0.01 * rust, "{sum} vs {rust}\n{text}");
    for name in ["fc0", "fc1", "pi"] {
        assert!(layers.iter().any(|l| l.0 == name), "no {name}\n{text}");
    }
    assert!(rust > 1488.0, "{text}");
}
