//! The JSON field names are an interface: these tests pin them literally.

use std::path::PathBuf;

use serde_json::json;

use super::json;
use crate::adapt::{Event, Outcome, Verdict};
use crate::commands::{ErrorStats, EvalReport};
use crate::control::{AppStatus, SlotStatus};

fn app() -> AppStatus {
    AppStatus {
        app: 1,
        name: "aurora".into(),
        input_len: 30,
        output_len: 1,
        active_slot: Some(0),
        queries: 1200,
        no_active: 3,
        dropped: None,
        recording: Some(false),
        slots: vec![SlotStatus {
            index: 0,
            uuid: u64::MAX,
            name: "aurora".into(),
            digest: "3f2a".into(),
            module: "lf_model_1".into(),
            queries: 1200,
            errors: 0,
            input_scale: 1000,
            output_scale: 1000,
            active: true,
        }],
    }
}

#[test]
fn json_status_field_names() {
    let v = json::status(&[app()]);
    assert_eq!(
        v,
        json!({
            "schema": "lfc.status/1",
            "apps": [{
                "app": 1, "name": "aurora", "input_len": 30, "output_len": 1,
                "active_slot": 0, "queries": 1200, "no_active": 3,
                "dropped": null, "recording": false,
                "slots": [{
                    "index": 0, "uuid": 18446744073709551615u64, "active": true,
                    "model": "aurora", "digest": "3f2a", "module": "lf_model_1",
                    "queries": 1200, "errors": 0,
                    "input_scale": 1000, "output_scale": 1000,
                }],
            }],
        })
    );
    // A u64 uuid survives as an exact integer, not a double.
    assert!(v.to_string().contains("18446744073709551615"));
    assert_eq!(
        json::status(&[]),
        json!({"schema": "lfc.status/1", "apps": []})
    );
}

#[test]
fn json_eval_field_names() {
    let r = EvalReport {
        rows: 60,
        per_output: vec![ErrorStats {
            max: 0.5,
            mean: 0.25,
            p99: f64::NAN,
        }],
        mismatch: Some((4, 0, 7, 8)),
    };
    assert_eq!(
        json::eval(&r),
        json!({
            "schema": "lfc.eval/1", "rows": 60, "reference": "tract f32",
            "outputs": [{"output": 0, "max_abs_err": 0.5, "mean_abs_err": 0.25, "p99_abs_err": null}],
            "c_equals_interp": false,
            "mismatch": {"row": 5, "output": 0, "c": 7, "interp": 8},
        })
    );
}

#[test]
fn json_adapt_lines() {
    let installed = Outcome {
        file: "v2.onnx".into(),
        uuid: Some(2),
        fidelity: Some((0.003, 0.05)),
        stability: Some((None, 1.0)),
        verdict: Verdict::Installed {
            module: "lf_model_2".into(),
            ko: PathBuf::from("/tmp/lf_model_2.ko"),
            standby: Some(1),
            unloaded: vec!["lf_model_0".into()],
        },
    };
    assert_eq!(
        json::adapt_event(&Event::Decision(&installed)),
        json!({
            "event": "decision", "file": "v2.onnx", "uuid": 2,
            "fidelity": {"max_abs_err": 0.003, "limit": 0.05, "ok": true},
            "stability": {"mean_abs_change": null, "limit": 1.0, "ok": null},
            "verdict": "installed", "module": "lf_model_2", "ko": "/tmp/lf_model_2.ko",
            "standby_uuid": 1, "unloaded": ["lf_model_0"],
        })
    );
    let rejected = Outcome {
        file: "v3.onnx".into(),
        uuid: Some(3),
        fidelity: Some((0.2, 0.05)),
        stability: Some((Some(1.5), 1.0)),
        verdict: Verdict::Rejected("fidelity error 0.200000 exceeds 0.05".into()),
    };
    let line = json::adapt_event(&Event::Decision(&rejected)).to_string();
    assert!(!line.contains('\n'), "one line per event: {line}");
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&line).unwrap(),
        json!({
            "event": "decision", "file": "v3.onnx", "uuid": 3,
            "fidelity": {"max_abs_err": 0.2, "limit": 0.05, "ok": false},
            "stability": {"mean_abs_change": 1.5, "limit": 1.0, "ok": false},
            "verdict": "rejected", "reason": "fidelity error 0.200000 exceeds 0.05",
        })
    );
    assert_eq!(
        json::adapt_event(&Event::step("v3.onnx", "built x.ko".into())),
        json!({"event": "step", "file": "v3.onnx", "message": "built x.ko"})
    );
}
