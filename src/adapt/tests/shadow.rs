//! `lfc adapt --shadow` against the fake kernel: stage, shadow, judge,
//! promote or unload, canary.

use super::*;
use crate::adapt::shadow::{shadow_reason, CanaryOptions, Rates, ShadowOptions, ShadowVerdict};

fn shadow_opts(canary: Option<CanaryOptions>) -> ShadowOptions {
    ShadowOptions {
        samples: 64,
        every: 4,
        timeout: std::time::Duration::from_secs(5),
        canary,
    }
}

fn canary(seconds: f64) -> CanaryOptions {
    CanaryOptions {
        seconds,
        poll: std::time::Duration::from_millis(500),
        max_guard_rate: 0.05,
        max_drift_rate: 0.05,
        max_fallback_rate: 0.01,
    }
}

/// A watch directory and an adapter in shadow mode (interpreter engine).
fn shadow_setup(so: ShadowOptions) -> (tempfile::TempDir, PathBuf, Adapter) {
    let tmp = tempfile::tempdir().unwrap();
    let watch = tmp.path().join("models");
    std::fs::create_dir(&watch).unwrap();
    let mut opts = options(&watch, SampleSource::None, Engine::Interp);
    opts.shadow = Some(so);
    let a = Adapter::new(opts).unwrap();
    (tmp, watch, a)
}

fn poll(a: &mut Adapter, fake: &mut Fake) -> (Vec<Outcome>, Vec<String>) {
    let mut lines = Vec::new();
    let o = a
        .poll_resilient(fake, false, &mut |l: &Event| lines.push(l.to_string()))
        .unwrap();
    (o, lines)
}

fn reason(o: &Outcome) -> &str {
    match &o.verdict {
        Verdict::Rejected(why) => why,
        v => panic!("not rejected: {v:?}"),
    }
}

#[test]
fn good_candidate_is_shadowed_promoted_and_survives_the_canary() {
    let (_t, watch, mut a) = shadow_setup(shadow_opts(Some(canary(5.0))));
    std::fs::copy(aurora("aurora.onnx"), watch.join("good.onnx")).unwrap();
    let mut fake = Fake::new(3, Some(2));
    let (out, lines) = poll(&mut a, &mut fake);
    let o = &out[0];
    assert!(!o.rejected(), "{o}\n{lines:#?}");
    assert_eq!(fake.activations, vec![4], "promoted by uuid");
    assert_eq!(fake.active(), Some(4));
    assert!(fake.staged.is_empty());
    // Judged on the live samples: kernel == interpreter, error figures.
    let (fid, _) = o.fidelity.unwrap();
    assert!(fid > 0.0 && fid <= 0.05, "{fid}");
    let text = lines.join("\n");
    for want in [
        "staged lf_model_4 (loaded, in no slot); shadowing 1 query in 4 per CPU until 64 samples",
        "shadow: 64 results received, 64 sampled of 256 queries (25.0 %)",
        "shadow verdict on 64 live samples: kernel == interpreter on 64 of 64, errors 0, fidelity max 0.0",
        "promoted uuid 4 (active), standby uuid 3",
        "canary: 5.0 s passed (1000 queries, fallback rate 0.0000, guardrail rate 0.0000, drift rate 0.0000), \
         limits fallback 0.01 guardrail 0.05 drift 0.05: kept",
    ] {
        assert!(text.contains(want), "missing `{want}` in\n{text}");
    }
    assert_eq!(fake.slept, std::time::Duration::from_secs(5));
    // The evicted standby (uuid 2, not ours) stays; nothing of ours to unload.
    assert!(fake.unloads.is_empty(), "{:?}", fake.unloads);
    assert!(matches!(
        &o.verdict,
        Verdict::Installed {
            standby: Some(3),
            ..
        }
    ));
}

#[test]
fn unstable_candidate_is_rejected_on_live_samples_and_unloaded() {
    let (_t, watch, mut a) = shadow_setup(shadow_opts(Some(canary(5.0))));
    std::fs::copy(aurora("aurora.onnx"), watch.join("unstable.onnx")).unwrap();
    let mut fake = Fake::new(3, None);
    fake.active_offset = 1.5; // the active answers 1.5 away from the candidate
    let (out, lines) = poll(&mut a, &mut fake);
    let why = reason(&out[0]);
    assert!(
        why.starts_with("mean output change 1.")
            && why.contains("against the active snapshot on live samples exceeds 1")
            && why.ends_with("; unloaded lf_model_4"),
        "{why}\n{lines:#?}"
    );
    assert_eq!(fake.unloads, vec![c::stem(4)]);
    assert!(fake.activations.is_empty() && fake.rollbacks == 0);
    assert_eq!(fake.active(), Some(3), "the running snapshot is untouched");
    assert!(!fake.staging, "staging is switched off again");
    assert!(a.loaded_by_us().is_empty());
}

#[test]
fn corrupt_file_is_rejected_before_anything_is_loaded() {
    let (_t, watch, mut a) = shadow_setup(shadow_opts(None));
    std::fs::write(watch.join("corrupt.onnx"), b"\x08\x07 truncated protobuf").unwrap();
    let mut fake = Fake::new(3, None);
    let (out, _) = poll(&mut a, &mut fake);
    assert!(reason(&out[0]).starts_with("compile: "), "{}", out[0]);
    assert!(fake.loads.is_empty() && fake.built.is_empty() && fake.staged.is_empty());
}

#[test]
fn too_few_shadow_samples_reject() {
    let (_t, watch, mut a) = shadow_setup(shadow_opts(None));
    std::fs::copy(aurora("aurora.onnx"), watch.join("quiet.onnx")).unwrap();
    let mut fake = Fake::new(3, None);
    fake.shadow_results = Some(10);
    let (out, _) = poll(&mut a, &mut fake);
    assert!(
        reason(&out[0]).starts_with("only 10 of 64 shadow samples arrived within 5.0 s"),
        "{}",
        out[0]
    );
    assert_eq!(fake.active(), Some(3));
}

#[test]
fn canary_rolls_back_on_fallbacks() {
    let (_t, watch, mut a) = shadow_setup(shadow_opts(Some(canary(5.0))));
    std::fs::copy(aurora("aurora.onnx"), watch.join("good.onnx")).unwrap();
    let mut fake = Fake::new(3, None);
    // After promotion, 5 of every 105 queries find no answer: 4.8 % > 1 %.
    fake.per_sleep = (100, 5);
    let (out, lines) = poll(&mut a, &mut fake);
    let why = reason(&out[0]);
    assert!(
        why.starts_with(
            "promoted, then canary: fallback rate 0.0476 > 0.01 over 105 queries after 0.5 s"
        ) && why.ends_with("rolled back to uuid 3"),
        "{why}\n{lines:#?}"
    );
    assert_eq!(fake.rollbacks, 1);
    assert_eq!(fake.active(), Some(3));
    assert_eq!(
        fake.slept,
        std::time::Duration::from_millis(500),
        "rolled back at the first look"
    );
}

/// The canary reads the promoted snapshot's own guardrail and drift
/// counters (lf_kernel's per-CPU counts, summed): over a limit, it rolls
/// back at once and says which figure tripped.
#[test]
fn canary_rolls_back_on_guardrail_hits_and_on_drift() {
    for (flags, want) in [
        ((8, 0), "guardrail rate 0.0800 > 0.05 over 100 queries"),
        ((0, 6), "drift rate 0.0600 > 0.05 over 100 queries"),
    ] {
        let (_t, watch, mut a) = shadow_setup(shadow_opts(Some(canary(5.0))));
        std::fs::copy(aurora("aurora.onnx"), watch.join("good.onnx")).unwrap();
        let mut fake = Fake::new(3, Some(2));
        fake.per_sleep_flags = flags;
        let (out, lines) = poll(&mut a, &mut fake);
        let why = reason(&out[0]);
        assert!(
            why.starts_with(&format!(
                "promoted, then canary: {want} after 0.5 s (100 queries, "
            )) && why.ends_with("): rolled back to uuid 3"),
            "{why}\n{lines:#?}"
        );
        assert_eq!((fake.rollbacks, fake.active()), (1, Some(3)));
        assert_eq!(fake.activations, vec![4]);
    }
    // At the limit (5 of 100) is not over it: kept.
    let (_t, watch, mut a) = shadow_setup(shadow_opts(Some(canary(1.0))));
    std::fs::copy(aurora("aurora.onnx"), watch.join("good.onnx")).unwrap();
    let mut fake = Fake::new(3, None);
    fake.per_sleep_flags = (5, 5);
    let (out, lines) = poll(&mut a, &mut fake);
    assert!(!out[0].rejected(), "{}\n{lines:#?}", out[0]);
    assert!(lines.iter().any(|l| l.contains(
        "canary: 1.0 s passed (200 queries, fallback rate 0.0000, guardrail rate 0.0500, drift rate 0.0500)"
    )));
    assert_eq!((fake.rollbacks, fake.active()), (0, Some(4)));
}

/// A canary window in which the app answered no query judged nothing:
/// the snapshot stays, and the line is a warning that says so.
#[test]
fn canary_without_queries_warns() {
    let (_t, watch, mut a) = shadow_setup(shadow_opts(Some(canary(1.0))));
    std::fs::copy(aurora("aurora.onnx"), watch.join("good.onnx")).unwrap();
    let mut fake = Fake::new(3, None);
    fake.per_sleep = (0, 0);
    let (out, lines) = poll(&mut a, &mut fake);
    assert!(!out[0].rejected(), "{}\n{lines:#?}", out[0]);
    assert!(
        lines.iter().any(|l| l
            .contains("warning: canary: 1.0 s passed with no query to uuid 4: nothing was judged")),
        "{lines:#?}"
    );
    assert!(!lines.iter().any(|l| l.contains(": kept")), "{lines:#?}");
    assert_eq!((fake.rollbacks, fake.active()), (0, Some(4)));
}

/// Before ABI 2 lf_kernel reports no guardrail or drift counters: those
/// rates are "n/a" and cannot trip; the fallback rate still can.
#[test]
fn canary_without_counters_says_na() {
    let (_t, watch, mut a) = shadow_setup(shadow_opts(Some(canary(1.0))));
    std::fs::copy(aurora("aurora.onnx"), watch.join("good.onnx")).unwrap();
    let mut fake = Fake::new(3, None);
    fake.abi1 = true;
    fake.apps[0].slots[0].facts = Default::default();
    fake.per_sleep_flags = (50, 50);
    let (out, lines) = poll(&mut a, &mut fake);
    assert!(!out[0].rejected(), "{}", out[0]);
    assert!(
        lines
            .iter()
            .any(|l| l.contains("guardrail rate n/a, drift rate n/a")),
        "{lines:#?}"
    );
}

#[test]
fn canary_rates() {
    let a = crate::adapt::shadow::Counters {
        asked: 1000,
        fallbacks: 3,
        guard: Some(10),
        drift: None,
    };
    let b = crate::adapt::shadow::Counters {
        asked: 1200,
        fallbacks: 4,
        guard: Some(30),
        drift: None,
    };
    let r = Rates::between(&a, &b);
    assert_eq!(
        (r.asked, r.fallback, r.guard, r.drift),
        (200, 0.005, Some(0.1), None)
    );
    assert_eq!(
        r.tripped(&canary(1.0)).unwrap(),
        "guardrail rate 0.1000 > 0.05 over 200 queries"
    );
    let quiet = Rates::between(&a, &a);
    assert_eq!(
        quiet.tripped(&canary(1.0)),
        None,
        "no queries: nothing to judge"
    );
}

#[test]
fn no_active_snapshot_means_no_shadow_and_no_samples_to_judge_on() {
    let (_t, watch, mut a) = shadow_setup(shadow_opts(None));
    std::fs::copy(aurora("aurora.onnx"), watch.join("first.onnx")).unwrap();
    let mut fake = Fake::new(3, None);
    fake.apps[0] = app1(vec![]);
    let (out, lines) = poll(&mut a, &mut fake);
    assert!(
        reason(&out[0]).starts_with("no samples to judge it on"),
        "{}",
        out[0]
    );
    assert!(lines
        .iter()
        .any(|l| l.contains("shadow n/a: app 1 has no active snapshot")));
    assert!(fake.loads.is_empty());
}

#[test]
fn interrupted_shadow_unloads_and_leaves_the_file_for_next_time() {
    let (_t, watch, mut a) = shadow_setup(shadow_opts(None));
    std::fs::copy(aurora("aurora.onnx"), watch.join("good.onnx")).unwrap();
    let mut fake = Fake::new(3, None);
    fake.stop = true; // SIGTERM arrived
    let mut lines = Vec::new();
    let e = a
        .poll_resilient(&mut fake, false, &mut |l: &Event| lines.push(l.to_string()))
        .unwrap_err();
    assert!(
        e.to_string().contains("interrupted before a verdict"),
        "{e}"
    );
    assert_eq!(fake.unloads, vec![c::stem(4)]);
    assert_eq!(fake.active(), Some(3));
    // Judged again by the next run.
    fake.stop = false;
    let (out, _) = poll(&mut a, &mut fake);
    assert_eq!(out.len(), 1);
    assert!(!out[0].rejected(), "{}", out[0]);
}

/// Shadow samples all outside the candidate's domain leave its fidelity
/// unmeasured (NaN over no in-domain sample): rejected, saying why; some
/// drift with in-domain samples judged is not a reason by itself.
#[test]
fn shadow_samples_all_drifting_are_not_judged() {
    let v = |max: f64, drift: usize| ShadowVerdict {
        samples: 64,
        errors: 0,
        mismatches: 0,
        max_fidelity_error: max,
        mean_change: 0.1,
        max_change: 0.2,
        drift,
        guard: 0,
    };
    let c = Criteria::default();
    let why = shadow_reason(&v(f64::NAN, 64), &c).unwrap_err();
    assert!(
        why.starts_with("fidelity not measurable: all 64 live samples have an input outside"),
        "{why}"
    );
    assert_eq!(shadow_reason(&v(0.01, 20), &c), Ok(()));
    assert!(shadow_reason(&v(0.5, 0), &c)
        .unwrap_err()
        .contains("exceeds"));
}
