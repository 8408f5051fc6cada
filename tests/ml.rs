//! Models as real tools export them: several outputs, ONNX-ML ops
//! (skl2onnx, onnxmltools fixtures in `tests/fixtures/ml/`, made by
//! `scripts/ml_fixtures.py` with onnxruntime's outputs checked in).

use std::process::Command;

use crate::models;

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
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    (out.status.success(), stdout, stderr)
}

/// `lfc run` answers every output with named CSV columns, in graph order;
/// `--output NAME` keeps one; an unknown name is refused with the list.
#[test]
fn ml_run_writes_every_output_with_named_columns() {
    let dir = tempfile::tempdir().unwrap();
    let model = models::write_model(dir.path(), "two_outputs", &models::two_outputs());
    let rows = dir.path().join("rows.csv");
    std::fs::write(&rows, "0.5,-1,0.25,1\n-2,2,0,0.125\n").unwrap();
    let m = model.to_str().unwrap();
    let r = rows.to_str().unwrap();
    let base = [
        "run",
        m,
        "--input-range=-2:2",
        "--input",
        r,
        "--engine",
        "interp",
    ];
    let (ok, out, err) = lfc(&base);
    assert!(ok, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines[0],
        "scores[0],scores[1],scores[2],probs[0],probs[1],probs[2]"
    );
    assert_eq!(lines.len(), 3, "{out}");
    let probs: Vec<f64> = lines[1]
        .split(',')
        .skip(3)
        .map(|v| v.parse().unwrap())
        .collect();
    let sum: f64 = probs.iter().sum();
    assert!((sum - 1.0).abs() < 0.005, "probabilities sum to {sum}");

    let (ok, sel, err) = lfc(&[&base[..], &["--output", "probs"]].concat());
    assert!(ok, "{err}");
    let sel: Vec<&str> = sel.lines().collect();
    assert_eq!(sel[0], "probs[0],probs[1],probs[2]");
    assert_eq!(sel[1], lines[1].splitn(4, ',').nth(3).unwrap());

    let (ok, _, err) = lfc(&[&base[..], &["--output", "label"]].concat());
    assert!(!ok);
    assert!(
        err.contains("--output") && err.contains("`label`") && err.contains("`scores`, `probs`"),
        "{err}"
    );
}
