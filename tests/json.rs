//! `lfc inspect --json` and `lfc eval --json` through the real binary, on
//! Aurora: the JSON parses, carries the documented fields, and agrees with
//! the text report and with facts computed here independently.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

fn example(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("examples/aurora")
        .join(name)
}

fn lfc_ok(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_lfc"))
        .args(args)
        .output()
        .expect("run lfc");
    assert!(
        out.status.success(),
        "lfc {args:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Per-feature [min, max] of the calibration CSV, read here without lfc.
fn csv_ranges(path: &Path) -> (Vec<f64>, Vec<f64>) {
    let text = std::fs::read_to_string(path).unwrap();
    let rows: Vec<Vec<f64>> = text
        .lines()
        .filter_map(|l| {
            let r: Result<Vec<f64>, _> = l.split(',').map(|v| v.trim().parse()).collect();
            r.ok()
        })
        .collect();
    let n = rows[0].len();
    let lo = (0..n).map(|j| rows.iter().map(|r| r[j]).fold(f64::INFINITY, f64::min));
    let hi = (0..n).map(|j| rows.iter().map(|r| r[j]).fold(f64::NEG_INFINITY, f64::max));
    (lo.collect(), hi.collect())
}

#[test]
fn json_inspect_aurora() {
    let model = example("aurora.onnx");
    let calib = example("representative_dataset.csv");
    // The calibration rows' own range (no domain margin), compared below.
    let args = [
        "inspect",
        model.to_str().unwrap(),
        "--calibration",
        calib.to_str().unwrap(),
        "--domain-margin",
        "0",
    ];
    let v: Value = serde_json::from_str(&lfc_ok(&[&args[..], &["--json"]].concat())).unwrap();
    assert_eq!(v["schema"], "lfc.inspect/1");
    assert_eq!(v["input_len"], 30);
    assert_eq!(v["output_len"], 1);
    assert_eq!(v["precision"], "int16");
    // 30*32 + 32*16 + 16*1
    assert_eq!(v["macs"], 1488);
    let (lo, hi) = csv_ranges(&calib);
    let jlo: Vec<f64> = serde_json::from_value(v["domain"]["lo"].clone()).unwrap();
    let jhi: Vec<f64> = serde_json::from_value(v["domain"]["hi"].clone()).unwrap();
    assert_eq!(jlo.len(), 30);
    for j in 0..30 {
        assert!((jlo[j] - lo[j]).abs() < 1e-6 && (jhi[j] - hi[j]).abs() < 1e-6);
    }
    let layers = v["layers"].as_array().unwrap();
    let text = lfc_ok(&args);
    let text_layers = text
        .lines()
        .skip_while(|l| !l.starts_with("#  op"))
        .skip(1)
        .take_while(|l| !l.is_empty())
        .count();
    assert_eq!(layers.len(), text_layers);
    for l in layers {
        if l["tensor"].is_null() {
            continue;
        }
        let (slo, shi) = (
            l["stored_lo"].as_i64().unwrap(),
            l["stored_hi"].as_i64().unwrap(),
        );
        let (qmin, qmax) = (l["qmin"].as_i64().unwrap(), l["qmax"].as_i64().unwrap());
        assert!(qmin <= slo && slo <= shi && shi <= qmax, "{l}");
    }
    assert!(layers.iter().any(|l| l["op"] == "Tanh"));
    let tables = v["tables"].as_array().unwrap();
    assert_eq!(tables.len(), 2, "two Tanh tables");
    assert!(tables
        .iter()
        .all(|t| t["max_error"].as_f64().unwrap() < 1e-3));
    assert!(v["storage"]["stack_bytes"].as_u64().is_some());
    assert!(v["c"]["lines"].as_u64().unwrap() > 10);
}

#[test]
fn json_eval_aurora() {
    let model = example("aurora.onnx");
    let calib = example("representative_dataset.csv");
    let args = [
        "eval",
        model.to_str().unwrap(),
        "--calibration",
        calib.to_str().unwrap(),
        "--data",
        calib.to_str().unwrap(),
    ];
    let v: Value = serde_json::from_str(&lfc_ok(&[&args[..], &["--json"]].concat())).unwrap();
    assert_eq!(v["schema"], "lfc.eval/1");
    assert_eq!(v["rows"], 60);
    assert_eq!(v["c_equals_interp"], true);
    assert!(v["mismatch"].is_null());
    let o = &v["outputs"][0];
    let max = o["max_abs_err"].as_f64().unwrap();
    assert!(max > 0.0 && max < 0.01, "{max}");
    // The same figure as the text report prints (6 decimals).
    let text = lfc_ok(&args);
    let row = text
        .lines()
        .find(|l| l.trim_start().starts_with("0 "))
        .unwrap();
    let text_max: f64 = row.split_whitespace().nth(1).unwrap().parse().unwrap();
    assert!((text_max - max).abs() < 5e-7, "{text_max} vs {max}");
}
