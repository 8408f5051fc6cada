//! `lfc adapt --watch` as a daemon, against the fake kernel: lf_kernel
//! gone and back, files malformed / half-written / removed, a full disk.

use super::*;

fn full_disk(p: &Path, _: &[u8]) -> Result<()> {
    Err(Error::io(
        p,
        std::io::Error::from_raw_os_error(libc::ENOSPC),
    ))
}

#[test]
fn kernel_errors_are_retried_then_the_file_is_rejected() {
    let s = setup(3, 0.0);
    std::fs::copy(aurora("aurora.onnx"), s.watch.join("v4.onnx")).unwrap();
    let mut fake = Fake::new(3, None);
    let opts = options(&s.watch, SampleSource::File(s.data.clone()), Engine::Interp);
    let mut a = Adapter::new(opts).unwrap();
    let mut lines = Vec::new();
    let mut log = |l: &Event| lines.push(l.to_string());
    // lf_kernel unloaded: the first two attempts fail, nothing is decided.
    for _ in 0..2 {
        fake.fail_apps = 1;
        let e = a.poll_resilient(&mut fake, false, &mut log).unwrap_err();
        assert!(e.to_string().contains("lf_kernel is not loaded"), "{e}");
    }
    // Back: the file is judged normally.
    let out = a.poll_resilient(&mut fake, false, &mut log).unwrap();
    assert!(!out[0].rejected(), "{}", out[0]);

    // A file that meets kernel trouble three times in a row is rejected.
    std::fs::copy(aurora("aurora.onnx"), s.watch.join("v5.onnx")).unwrap();
    for _ in 0..2 {
        fake.fail_apps = 1;
        assert!(a.poll_resilient(&mut fake, false, &mut log).is_err());
    }
    fake.fail_apps = 1;
    let out = a.poll_resilient(&mut fake, false, &mut log).unwrap();
    let Verdict::Rejected(why) = &out[0].verdict else {
        panic!("{}", out[0])
    };
    assert!(
        why.starts_with("3 attempts failed on kernel errors, the last: lf_kernel is not loaded"),
        "{why}"
    );
    assert!(a
        .poll_resilient(&mut fake, false, &mut log)
        .unwrap()
        .is_empty());
}

#[test]
fn a_full_disk_is_logged_and_the_old_state_survives() {
    let s = setup(3, 0.0);
    let state = s.watch.join(".lfc-adapt-app1.state");
    std::fs::write(&state, "module\tlf_model_2\n").unwrap();
    std::fs::copy(aurora("aurora.onnx"), s.watch.join("v4.onnx")).unwrap();
    let mut fake = Fake::new(3, None);
    let opts = options(&s.watch, SampleSource::File(s.data.clone()), Engine::Interp);
    let mut a = Adapter::new(opts.clone()).unwrap();
    a.set_state_writer(full_disk);
    let mut lines = Vec::new();
    let out = a
        .poll_resilient(&mut fake, false, &mut |l: &Event| lines.push(l.to_string()))
        .unwrap();
    assert!(!out[0].rejected(), "{}", out[0]);
    assert!(
        lines
            .iter()
            .any(|l| l.contains("warning: state file not written")
                && l.contains("No space left on device")),
        "{lines:#?}"
    );
    // The previous state is whole (atomic writes only).
    assert_eq!(
        std::fs::read_to_string(&state).unwrap(),
        "module\tlf_model_2\n"
    );
    // Space again: the next save writes everything kept in memory.
    a.set_state_writer(pipeline::write_atomic);
    a.save_state().unwrap();
    let b = Adapter::new(opts).unwrap();
    assert_eq!(b.loaded_by_us(), &BTreeSet::from([c::stem(4)]));
    let text = std::fs::read_to_string(&state).unwrap();
    assert!(
        text.contains("file\t") && text.contains("\tv4.onnx\n"),
        "{text}"
    );
}

#[test]
fn half_written_then_completed_file_is_judged_once_complete() {
    let s = setup(3, 0.0);
    let full = std::fs::read(aurora("aurora.onnx")).unwrap();
    let path = s.watch.join("v4.onnx");
    std::fs::write(&path, &full[..full.len() / 2]).unwrap();
    let mut fake = Fake::new(3, None);
    let opts = options(&s.watch, SampleSource::File(s.data.clone()), Engine::Interp);
    let mut a = Adapter::new(opts).unwrap();
    let mut log = |_: &Event| {};
    // Seen once: waits (it may still be written).
    assert!(a
        .poll_resilient(&mut fake, true, &mut log)
        .unwrap()
        .is_empty());
    // Still half after two polls: judged, and rejected as malformed.
    let out = a.poll_resilient(&mut fake, true, &mut log).unwrap();
    assert!(out[0].rejected(), "{}", out[0]);
    // The writer finishes: new size, judged again, installed.
    std::fs::write(&path, &full).unwrap();
    assert!(a
        .poll_resilient(&mut fake, true, &mut log)
        .unwrap()
        .is_empty());
    let out = a.poll_resilient(&mut fake, true, &mut log).unwrap();
    assert!(!out[0].rejected(), "{}", out[0]);
    assert_eq!(fake.loads.len(), 1);
}

#[test]
fn removed_file_is_never_judged_or_rejected_cleanly() {
    let s = setup(3, 0.0);
    let path = s.watch.join("v4.onnx");
    std::fs::copy(aurora("aurora.onnx"), &path).unwrap();
    let mut fake = Fake::new(3, None);
    let opts = options(&s.watch, SampleSource::File(s.data.clone()), Engine::Interp);
    let mut a = Adapter::new(opts).unwrap();
    let mut log = |_: &Event| {};
    assert!(a
        .poll_resilient(&mut fake, true, &mut log)
        .unwrap()
        .is_empty());
    std::fs::remove_file(&path).unwrap();
    assert!(a
        .poll_resilient(&mut fake, true, &mut log)
        .unwrap()
        .is_empty());
    // Removed between the scan and the compile: rejected with the reason.
    std::fs::copy(aurora("aurora.onnx"), &path).unwrap();
    let ready = a.scan(false).unwrap();
    std::fs::remove_file(&path).unwrap();
    let o = a.process(&mut fake, &ready[0].0, &mut log).unwrap();
    let Verdict::Rejected(why) = &o.verdict else {
        panic!("{o}")
    };
    assert!(
        why.starts_with("compile: ") && why.contains("v4.onnx"),
        "{why}"
    );
    assert!(fake.loads.is_empty());
}

#[test]
fn daemon_waits_for_lf_kernel_survives_its_reload_and_stops_on_request() {
    use std::sync::atomic::{AtomicBool, Ordering};
    static STOP: AtomicBool = AtomicBool::new(false);
    let s = setup(3, 0.0);
    std::fs::copy(aurora("aurora.onnx"), s.watch.join("v4.onnx")).unwrap();
    let opts = options(&s.watch, SampleSource::File(s.data.clone()), Engine::Interp);
    let mut a = Adapter::new(opts).unwrap();
    let mut attempts = 0;
    // Not loaded, not loaded, then a kernel that works until the file is
    // done, and the test "sends SIGTERM" once it is.
    let mut connect = || -> Result<Box<dyn System>> {
        attempts += 1;
        if attempts <= 2 {
            return Err(Error::Other("lf_kernel is not loaded".into()));
        }
        Ok(Box::new(Fake::new(3, None)))
    };
    let mut decisions = Vec::new();
    let mut log = |e: &Event| {
        if let Event::Decision(o) = e {
            decisions.push(o.to_string());
            STOP.store(true, Ordering::Relaxed);
        }
    };
    let mut notes = Vec::new();
    let mut notices = |ev: &str, t: String| notes.push(format!("{ev}: {t}"));
    let opts = crate::adapt::watch::WatchOptions {
        poll: std::time::Duration::from_millis(10),
        retry: std::time::Duration::from_millis(10),
    };
    crate::adapt::watch::run(&mut a, &mut connect, opts, &STOP, &mut log, &mut notices);
    assert_eq!(decisions.len(), 1, "{decisions:?}");
    assert!(
        decisions[0].contains("installed lf_model_4"),
        "{decisions:?}"
    );
    assert!(
        notes[0].starts_with("kernel-lost: adapt: lf_kernel unreachable: lf_kernel is not loaded"),
        "{notes:?}"
    );
    assert_eq!(
        notes
            .iter()
            .filter(|n| n.starts_with("kernel-lost"))
            .count(),
        1,
        "said once: {notes:?}"
    );
    assert!(
        notes
            .iter()
            .any(|n| n == "kernel-back: adapt: lf_kernel is back"),
        "{notes:?}"
    );
    assert_eq!(notes.last().unwrap(), "stopped: adapt: stopped");
    // The state is consistent: a fresh adapter knows the file and module.
    let b = Adapter::new(a.opts.clone()).unwrap();
    assert_eq!(b.loaded_by_us(), &BTreeSet::from([c::stem(4)]));
    let mut b = b;
    assert!(b.scan(false).unwrap().is_empty());
}
