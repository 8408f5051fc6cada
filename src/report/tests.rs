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
        staging: Some(false),
        shadow: Some(crate::control::ShadowStatus {
            uuid: 7,
            every: 4,
            sampled: 10,
            dropped: 1,
            run: 9,
            errors: 0,
            unsent: 2,
            running: true,
            output_scale: 1000,
        }),
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
            facts: crate::control::SlotFacts {
                drift: Some(4),
                guard_hits: Some(1),
                output_bounds: Some(vec![(-812, 905)]),
                guardrail: Some(vec![(-500, 500)]),
                cost: Some(crate::control::Cost {
                    macs: 1488,
                    stack_bytes: 496,
                    ..Default::default()
                }),
            },
        }],
        budget: Some(crate::control::Cost {
            macs: 2000,
            ..Default::default()
        }),
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
                "dropped": null, "recording": false, "staging": false,
                "shadow": {
                    "uuid": 7, "every": 4, "running": true, "sampled": 10,
                    "run": 9, "errors": 0, "dropped": 1, "unsent": 2,
                },
                "slots": [{
                    "index": 0, "uuid": 18446744073709551615u64, "active": true,
                    "model": "aurora", "digest": "3f2a", "module": "lf_model_1",
                    "queries": 1200, "errors": 0,
                    "input_scale": 1000, "output_scale": 1000,
                    "drift": 4, "guard_hits": 1,
                    "output_bounds": [[-812, 905]], "guardrail": [[-500, 500]],
                    "cost": {"macs": 1488, "cmps": 0, "stack_bytes": 496,
                             "rodata_bytes": 0, "scratch_bytes": 0},
                }],
                "budget": {"macs": 2000, "cmps": 0, "stack_bytes": 0,
                           "rodata_bytes": 0, "scratch_bytes": 0},
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
        reference: "tract f32".into(),
        per_output: vec![ErrorStats {
            max: 0.5,
            mean: 0.25,
            p99: f64::NAN,
        }],
        mismatch: Some((4, 0, 7, 8)),
        engine: crate::commands::Engine::C,
        domain: crate::commands::DomainReport {
            rows: 60,
            rows_outside: 2,
            per_feature: vec![0, 2, 1],
            worst: None,
        },
    };
    assert_eq!(
        json::eval(&r),
        json!({
            "schema": "lfc.eval/1", "rows": 60, "reference": "tract f32",
            "outputs": [{"output": 0, "max_abs_err": 0.5, "mean_abs_err": 0.25, "p99_abs_err": null}],
            "c_equals_interp": false,
            "domain": {"rows_outside": 2, "features_outside": 2, "per_feature": [0, 2, 1]},
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

mod analysis {
    use crate::report::analysis::{histogram, EvalRows};

    fn rows() -> EvalRows {
        // Error grows with input 1; input 0 is constant; input 2 is noise.
        let mut r = EvalRows::default();
        for k in 0..10 {
            let x1 = k as f64;
            r.inputs.push(vec![5.0, x1, ((k * 7) % 3) as f64]);
            r.float.push(vec![0.0]);
            r.snapshot.push(vec![0.1 * x1]);
            r.clamped.push(if k == 9 { vec![1] } else { vec![] });
        }
        r
    }

    #[test]
    fn analysis_worst_rows_and_features() {
        let r = rows();
        assert_eq!(r.worst_rows(3), vec![9, 8, 7]);
        assert_eq!(r.rows_clamped(), 1);
        let f = r.worst_features(3);
        assert_eq!(f[0].0, 1);
        assert!((f[0].1 - 1.0).abs() < 1e-12, "{f:?}");
        // A constant input correlates with nothing.
        assert_eq!(f.iter().find(|x| x.0 == 0).unwrap().1, 0.0);
    }

    #[test]
    fn analysis_histogram_bins() {
        let h = histogram(&[0.0, 0.1, 0.5, 1.0, 1.0], 4);
        assert_eq!(h.len(), 4);
        assert_eq!(h.iter().map(|b| b.2).collect::<Vec<_>>(), vec![2, 0, 1, 2]);
        assert_eq!((h[0].0, h[3].1), (0.0, 1.0));
        // All zero: one bin of width 1 holds everything.
        assert_eq!(histogram(&[0.0, 0.0], 2)[0].2, 2);
    }
}
