//! The adaptation loop against a fake kernel: the Aurora model as the
//! candidate, its float model as the "active snapshot" (so stability is
//! known), records files written here.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use super::*;
use crate::control::{RealRecord, ShadowRecord, ShadowStatus, SlotStatus};

mod shadow;
mod watch;

const AURORA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/aurora");

fn aurora(f: &str) -> PathBuf {
    Path::new(AURORA).join(f)
}

fn slot(index: u32, uuid: u64, active: bool) -> SlotStatus {
    SlotStatus {
        index,
        uuid,
        name: "aurora".into(),
        digest: "00".into(),
        module: c::stem(uuid),
        queries: 0,
        errors: 0,
        input_scale: 1000,
        output_scale: 1000,
        active,
        // As an ABI 2 lf_kernel reports them.
        facts: crate::control::SlotFacts {
            drift: Some(0),
            guard_hits: Some(0),
            ..Default::default()
        },
    }
}

fn app1(slots: Vec<SlotStatus>) -> AppStatus {
    AppStatus {
        app: 1,
        name: "aurora".into(),
        input_len: 30,
        output_len: 1,
        active_slot: slots.iter().find(|s| s.active).map(|s| s.index),
        queries: 0,
        no_active: 0,
        dropped: Some(0),
        recording: Some(false),
        staging: None,
        shadow: None,
        slots,
        budget: None,
    }
}

/// lf_kernel's slot behaviour in miniature: a loaded snapshot becomes
/// active, the active one standby, the standby is evicted (stays loaded).
struct Fake {
    apps: Vec<AppStatus>,
    modules: Vec<String>,
    float: FloatModel,
    built: Vec<u64>,
    loads: Vec<PathBuf>,
    unloads: Vec<String>,
    infers: usize,
    fail_load: bool,
    /// Shadow support: staging on, staged uuids, the programs built.
    staging: bool,
    staged: Vec<u64>,
    programs: BTreeMap<u64, Compiled>,
    /// Added to the active snapshot's shadowed answers (real units).
    active_offset: f64,
    /// Shadow results to deliver at most (None: as many as asked).
    shadow_results: Option<usize>,
    /// Per canary sleep: queries answered, refused.
    per_sleep: (u64, u64),
    /// Per canary sleep: guardrail hits and drift of the active snapshot.
    per_sleep_flags: (u64, u64),
    /// An lf_kernel before snapshot ABI 2: no guardrail or drift counters.
    abi1: bool,
    slept: std::time::Duration,
    rollbacks: usize,
    activations: Vec<u64>,
    /// Calls of apps() that fail before the next ones work.
    fail_apps: usize,
    stop: bool,
}

impl Fake {
    fn new(active: u64, standby: Option<u64>) -> Fake {
        let mut slots = vec![slot(0, active, true)];
        if let Some(s) = standby {
            slots.push(slot(1, s, false));
        }
        let mut modules: Vec<String> = slots.iter().map(|s| s.module.clone()).collect();
        modules.push("ext4".into());
        Fake {
            apps: vec![app1(slots)],
            modules,
            float: FloatModel::load(&aurora("aurora.onnx")).unwrap(),
            built: vec![],
            loads: vec![],
            unloads: vec![],
            infers: 0,
            fail_load: false,
            staging: false,
            staged: vec![],
            programs: BTreeMap::new(),
            active_offset: 0.0,
            shadow_results: None,
            per_sleep: (100, 0),
            per_sleep_flags: (0, 0),
            abi1: false,
            slept: std::time::Duration::ZERO,
            rollbacks: 0,
            activations: vec![],
            fail_apps: 0,
            stop: false,
        }
    }

    fn active(&self) -> Option<u64> {
        self.apps[0].slots.iter().find(|s| s.active).map(|s| s.uuid)
    }

    /// lf_kernel's lf_install: `uuid` into the standby slot, made active;
    /// the previous standby evicted.
    fn install(&mut self, uuid: u64) {
        let old = self.active();
        let mut slots = vec![slot(0, uuid, true)];
        if let Some(o) = old {
            slots.push(slot(1, o, false));
        }
        if self.abi1 {
            slots.iter_mut().for_each(|s| s.facts = Default::default());
        }
        let keep = self.apps[0].clone();
        self.apps[0] = AppStatus {
            slots,
            active_slot: Some(0),
            ..keep
        };
    }

    /// The Aurora calibration rows at the input scale.
    fn rows() -> Vec<Vec<i64>> {
        let m = crate::data::read_matrix(&aurora("representative_dataset.npy")).unwrap();
        pipeline::to_fixed(Path::new("rows"), &m, 1000).unwrap()
    }
}

impl System for Fake {
    fn apps(&mut self) -> Result<Vec<AppStatus>> {
        if self.fail_apps > 0 {
            self.fail_apps -= 1;
            return Err(Error::Other(
                "lf_kernel is not loaded (no generic netlink family `liteflow`)".into(),
            ));
        }
        Ok(self.apps.clone())
    }
    fn loaded_modules(&mut self) -> Result<Vec<String>> {
        Ok(self.modules.clone())
    }
    fn infer(&mut self, app: u32, input: &[i64]) -> Result<InferReply> {
        assert_eq!(app, 1);
        self.infers += 1;
        let active = self.apps[0].slots.iter().find(|s| s.active).unwrap().uuid;
        let x: Vec<f32> = input.iter().map(|&v| v as f32 / 1000.0).collect();
        let y = self.float.run(&x)?;
        Ok(InferReply {
            uuid: active,
            output: y
                .iter()
                .map(|v| (*v as f64 * 1000.0).round() as i64)
                .collect(),
        })
    }
    fn set_staging(&mut self, app: u32, on: bool) -> Result<()> {
        assert_eq!(app, 1);
        self.staging = on;
        Ok(())
    }
    fn shadow(
        &mut self,
        app: u32,
        uuid: u64,
        every: u32,
        count: usize,
        _timeout: std::time::Duration,
    ) -> Result<ShadowTake> {
        assert_eq!(app, 1);
        assert!(
            self.staged.contains(&uuid),
            "shadowing unstaged uuid {uuid}"
        );
        assert_ne!(self.active(), Some(uuid), "shadowing the active snapshot");
        let p = &self.programs[&uuid].program;
        let active = self.active().unwrap();
        let n = self.shadow_results.unwrap_or(count).min(count);
        let mut records = Vec::new();
        for (k, input) in Fake::rows().into_iter().cycle().take(n).enumerate() {
            let x: Vec<f32> = input.iter().map(|&v| v as f32 / 1000.0).collect();
            let y = self.float.run(&x)?;
            records.push(ShadowRecord {
                uuid: active,
                timestamp_ns: k as u64,
                output: y
                    .iter()
                    .map(|v| ((*v as f64 + self.active_offset) * 1000.0).round() as i64)
                    .collect(),
                shadow_output: crate::back::interp::run(p, &input),
                shadow_error: 0,
                input,
            });
        }
        let a = &mut self.apps[0];
        a.queries += n as u64 * every as u64;
        a.shadow = Some(ShadowStatus {
            uuid,
            every: 0,
            sampled: n as u64,
            run: n as u64,
            output_scale: 1000,
            ..ShadowStatus::default()
        });
        Ok(ShadowTake {
            records,
            ..ShadowTake::default()
        })
    }
    fn activate(&mut self, app: u32, uuid: u64) -> Result<()> {
        assert_eq!(app, 1);
        self.activations.push(uuid);
        self.staged.retain(|&u| u != uuid);
        self.install(uuid);
        Ok(())
    }
    fn rollback(&mut self, _app: u32) -> Result<()> {
        self.rollbacks += 1;
        let a = &mut self.apps[0];
        for s in &mut a.slots {
            s.active = !s.active;
        }
        a.active_slot = a.slots.iter().find(|s| s.active).map(|s| s.index);
        Ok(())
    }
    fn sleep(&mut self, d: std::time::Duration) {
        self.slept += d;
        let a = &mut self.apps[0];
        a.queries += self.per_sleep.0;
        a.no_active += self.per_sleep.1;
        let (guard, drift) = self.per_sleep_flags;
        if let Some(s) = a.slots.iter_mut().find(|s| s.active) {
            s.queries += self.per_sleep.0;
            let f = &mut s.facts;
            f.guard_hits = f.guard_hits.map(|g| g + guard);
            f.drift = f.drift.map(|d| d + drift);
        }
    }
    fn stopping(&self) -> bool {
        self.stop
    }
    fn collect(&mut self, _app: u32, _count: usize) -> Result<RecordSet> {
        Ok(RecordSet::new(30, 1))
    }
    fn build_ko(&mut self, compiled: &Compiled, out: &Path) -> Result<PathBuf> {
        self.built.push(compiled.meta.uuid);
        self.programs.insert(compiled.meta.uuid, compiled.clone());
        std::fs::write(out, b"fake ko").unwrap();
        Ok(out.to_path_buf())
    }
    fn load(&mut self, ko: &Path) -> Result<()> {
        if self.fail_load {
            return Err(Error::Other(
                "finit_module: File exists (os error 17)".into(),
            ));
        }
        let name = ko.file_stem().unwrap().to_str().unwrap().to_string();
        let uuid = uuid_of_module(&name).expect("a snapshot module");
        self.loads.push(ko.to_path_buf());
        self.modules.push(name);
        if self.apps.is_empty() {
            self.apps.push(app1(vec![])); // a snapshot for an unknown app creates it
        }
        if self.staging {
            self.staged.push(uuid);
            return Ok(());
        }
        let old = self.apps[0].slots.iter().find(|s| s.active).map(|s| s.uuid);
        let mut slots = vec![slot(0, uuid, true)];
        if let Some(o) = old {
            slots.push(slot(1, o, false));
        }
        if self.abi1 {
            slots.iter_mut().for_each(|s| s.facts = Default::default());
        }
        self.apps[0] = app1(slots);
        Ok(())
    }
    fn unload(&mut self, module: &str) -> Result<()> {
        assert!(
            !self.apps[0].slots.iter().any(|s| s.module == module),
            "unloading a slotted snapshot {module}"
        );
        if let Some(u) = uuid_of_module(module) {
            self.staged.retain(|&s| s != u);
        }
        self.unloads.push(module.to_string());
        self.modules.retain(|m| m != module);
        Ok(())
    }
}

/// The 60 Aurora calibration rows as records of snapshot `uuid`, outputs
/// = the float model's + `offset`.
fn records_file(dir: &Path, uuid: u64, offset: f64) -> PathBuf {
    let m = crate::data::read_matrix(&aurora("representative_dataset.npy")).unwrap();
    let float = FloatModel::load(&aurora("aurora.onnx")).unwrap();
    let mut set = RecordSet::new(30, 1);
    for (k, row) in m.iter_rows().enumerate() {
        let x: Vec<f32> = row.iter().map(|&v| v as f32).collect();
        let y = float.run(&x).unwrap();
        set.rows.push(RealRecord {
            uuid,
            timestamp_ns: 1_000 + k as u64,
            input: row.to_vec(),
            output: y.iter().map(|&v| v as f64 + offset).collect(),
            flags: None,
        });
    }
    let p = dir.join("recent.csv");
    set.write(&p).unwrap();
    p
}

fn options(watch: &Path, samples: SampleSource, engine: Engine) -> AdaptOptions {
    AdaptOptions {
        app: 1,
        watch: watch.to_path_buf(),
        compile: CompileOptions {
            calibration: Some(aurora("representative_dataset.npy")),
            input_range: Some(pipeline::InputRange::File(aurora("input_domain.csv"))),
            ..CompileOptions::default()
        },
        criteria: Criteria::default(),
        engine,
        samples,
        ko_dir: None,
        shadow: None,
        on_drift: None,
    }
}

struct Setup {
    _tmp: tempfile::TempDir,
    watch: PathBuf,
    data: PathBuf,
}

fn setup(record_uuid: u64, offset: f64) -> Setup {
    let tmp = tempfile::tempdir().unwrap();
    let watch = tmp.path().join("models");
    std::fs::create_dir(&watch).unwrap();
    let data = records_file(tmp.path(), record_uuid, offset);
    Setup {
        _tmp: tmp,
        watch,
        data,
    }
}

fn run_once(a: &mut Adapter, fake: &mut Fake) -> (Vec<Outcome>, Vec<String>) {
    let mut lines = Vec::new();
    let o = a
        .poll(fake, false, &mut |l: &Event| lines.push(l.to_string()))
        .unwrap();
    (o, lines)
}

#[test]
fn accepts_installs_and_unloads_evicted() {
    let s = setup(3, 0.0);
    std::fs::copy(aurora("aurora.onnx"), s.watch.join("v4.onnx")).unwrap();
    std::fs::write(s.watch.join("notes.txt"), "not a model").unwrap();
    // An earlier run loaded uuid 2 (now standby): the state file says so.
    std::fs::write(
        s.watch.join(".lfc-adapt-app1.state"),
        format!("module\t{}\n", c::stem(2)),
    )
    .unwrap();
    let mut fake = Fake::new(3, Some(2));
    let opts = options(&s.watch, SampleSource::File(s.data.clone()), Engine::C);
    let mut a = Adapter::new(opts).unwrap();
    let (out, lines) = run_once(&mut a, &mut fake);
    assert_eq!(out.len(), 1, "{lines:?}");
    let o = &out[0];
    assert_eq!(o.uuid, Some(4));
    let (fid, _) = o.fidelity.unwrap();
    assert!(fid > 0.0 && fid <= 0.05, "{fid}");
    let (stab, _) = o.stability.unwrap();
    // the active snapshot is the float model: the change is the fidelity error
    assert!(stab.unwrap() <= fid && stab.unwrap() > 0.0, "{stab:?}");
    assert_eq!(
        o.verdict,
        Verdict::Installed {
            module: c::stem(4),
            ko: s.watch.join(format!("{}.ko", c::stem(4))),
            standby: Some(3),
            unloaded: vec![c::stem(2)],
        }
    );
    assert_eq!(fake.unloads, vec![c::stem(2)]);
    assert_eq!(fake.infers, 0, "records of the active uuid need no INFER");
    let summary = o.to_string();
    assert!(
        summary.starts_with("adapt: candidate v4.onnx -> uuid 4: fidelity max 0.0")
            && summary.contains("(<= 0.05) ok, stability mean 0.0")
            && summary.contains("(<= 1) ok -> installed lf_model_4 (lf_model_4.ko, active), standby uuid 3, unloaded lf_model_2"),
        "{summary}"
    );
    assert!(
        lines.iter().any(|l| l.contains("compiled as uuid 4")),
        "{lines:?}"
    );
    assert_eq!(lines.last().unwrap(), &summary);
    assert_eq!(a.loaded_by_us(), &BTreeSet::from([c::stem(4)]));

    // Nothing new: nothing done, also for a fresh process (state file).
    let (out, _) = run_once(&mut a, &mut fake);
    assert!(out.is_empty());
    let mut b = Adapter::new(options(
        &s.watch,
        SampleSource::File(s.data.clone()),
        Engine::Interp,
    ))
    .unwrap();
    assert!(run_once(&mut b, &mut fake).0.is_empty());
    assert_eq!(b.loaded_by_us(), &BTreeSet::from([c::stem(4)]));
    assert_eq!(fake.loads.len(), 1);
}

#[test]
fn rejects_on_fidelity() {
    let s = setup(3, 0.0);
    std::fs::copy(aurora("aurora.onnx"), s.watch.join("v4.onnx")).unwrap();
    let mut fake = Fake::new(3, None);
    let mut opts = options(&s.watch, SampleSource::File(s.data.clone()), Engine::Interp);
    opts.criteria.max_fidelity_error = 1e-6;
    let mut a = Adapter::new(opts).unwrap();
    let (out, _) = run_once(&mut a, &mut fake);
    let o = &out[0];
    assert!(o.rejected());
    let Verdict::Rejected(why) = &o.verdict else {
        unreachable!()
    };
    assert!(
        why.starts_with("fidelity error 0.0") && why.ends_with("exceeds 0.000001"),
        "{why}"
    );
    assert!(o.to_string().contains("(<= 0.000001) FAILED"), "{o}");
    assert!(fake.loads.is_empty() && fake.built.is_empty() && fake.unloads.is_empty());
}

#[test]
fn rejects_on_stability() {
    // The active snapshot answered 0.8 above the float model on every row.
    let s = setup(3, 0.8);
    std::fs::copy(aurora("aurora.onnx"), s.watch.join("v4.onnx")).unwrap();
    let mut fake = Fake::new(3, None);
    let mut opts = options(&s.watch, SampleSource::File(s.data.clone()), Engine::Interp);
    let mut a = Adapter::new(opts.clone()).unwrap();
    let (out, _) = run_once(&mut a, &mut fake);
    // 0.8 +- the candidate's error: within the default 1.0
    assert!(!out[0].rejected(), "{}", out[0]);
    let ch = out[0].stability.unwrap().0.unwrap();
    assert!((ch - 0.8).abs() < 0.05, "{ch}");

    let s = setup(3, 0.8);
    std::fs::copy(aurora("aurora.onnx"), s.watch.join("v4.onnx")).unwrap();
    let mut fake = Fake::new(3, None);
    opts.watch = s.watch.clone();
    opts.samples = SampleSource::File(s.data.clone());
    opts.criteria.max_output_change = 0.5;
    let mut a = Adapter::new(opts).unwrap();
    let (out, _) = run_once(&mut a, &mut fake);
    let Verdict::Rejected(why) = &out[0].verdict else {
        panic!("{}", out[0])
    };
    assert!(
        why.starts_with("mean output change 0.") && why.ends_with("exceeds 0.5"),
        "{why}"
    );
    assert!(fake.loads.is_empty() && fake.built.is_empty());
}

#[test]
fn rejects_what_does_not_parse_and_goes_on() {
    let s = setup(3, 0.0);
    std::fs::write(
        s.watch.join("a-broken.onnx"),
        b"\x08\x07not protobuf at all",
    )
    .unwrap();
    std::fs::copy(aurora("aurora.onnx"), s.watch.join("b-good.onnx")).unwrap();
    // make the broken one older, so it is tried first
    let f = std::fs::File::options()
        .write(true)
        .open(s.watch.join("a-broken.onnx"))
        .unwrap();
    f.set_modified(std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_000_000))
        .unwrap();
    let mut fake = Fake::new(3, None);
    let mut a = Adapter::new(options(
        &s.watch,
        SampleSource::File(s.data.clone()),
        Engine::Interp,
    ))
    .unwrap();
    let (out, _) = run_once(&mut a, &mut fake);
    assert_eq!(out.len(), 2);
    assert_eq!(out[0].file, "a-broken.onnx");
    let Verdict::Rejected(why) = &out[0].verdict else {
        panic!()
    };
    assert!(
        why.starts_with("compile: ") && why.contains("a-broken.onnx"),
        "{why}"
    );
    assert!(out[0].fidelity.is_none());
    // uuid 4 named the broken one (in the log): the next gets 5, also
    // from a fresh process (the state file keeps the last uuid given)
    assert_eq!(out[0].uuid, Some(4));
    assert_eq!(out[1].uuid, Some(5));
    assert!(std::fs::read_to_string(a.state_path())
        .unwrap()
        .contains("uuid\t5\n"));
    assert!(!out[1].rejected());
    assert_eq!(fake.loads.len(), 1);
}

#[test]
fn rejects_when_the_module_does_not_load() {
    let s = setup(3, 0.0);
    std::fs::copy(aurora("aurora.onnx"), s.watch.join("v4.onnx")).unwrap();
    let mut fake = Fake::new(3, None);
    fake.fail_load = true;
    let mut a = Adapter::new(options(
        &s.watch,
        SampleSource::File(s.data.clone()),
        Engine::Interp,
    ))
    .unwrap();
    let (out, _) = run_once(&mut a, &mut fake);
    let Verdict::Rejected(why) = &out[0].verdict else {
        panic!()
    };
    assert!(
        why.contains("loading") && why.contains("File exists"),
        "{why}"
    );
    assert!(a.loaded_by_us().is_empty());
}

#[test]
fn asks_the_kernel_when_records_are_not_the_active_snapshots() {
    // Plain input rows (no outputs): every baseline comes from INFER.
    let s = setup(3, 0.0);
    std::fs::copy(aurora("aurora.onnx"), s.watch.join("v9.onnx")).unwrap();
    let mut fake = Fake::new(3, None);
    let data = aurora("representative_dataset.npy");
    let mut a = Adapter::new(options(&s.watch, SampleSource::File(data), Engine::Interp)).unwrap();
    let (out, _) = run_once(&mut a, &mut fake);
    assert_eq!(fake.infers, 60);
    assert!(!out[0].rejected(), "{}", out[0]);
    // records of another (evicted) snapshot: INFER too
    let s2 = setup(2, 5.0);
    std::fs::copy(aurora("aurora.onnx"), s2.watch.join("v9.onnx")).unwrap();
    let mut fake = Fake::new(3, None);
    let mut a = Adapter::new(options(
        &s2.watch,
        SampleSource::File(s2.data.clone()),
        Engine::Interp,
    ))
    .unwrap();
    let (out, _) = run_once(&mut a, &mut fake);
    assert_eq!(fake.infers, 60);
    assert!(out[0].stability.unwrap().0.unwrap() < 0.05, "{}", out[0]);
    // no active snapshot: stability n/a, installed without standby
    let s3 = setup(2, 5.0);
    std::fs::copy(aurora("aurora.onnx"), s3.watch.join("v1.onnx")).unwrap();
    let mut fake = Fake::new(3, None);
    fake.apps.clear();
    fake.modules.clear();
    let mut a = Adapter::new(options(
        &s3.watch,
        SampleSource::File(s3.data.clone()),
        Engine::Interp,
    ))
    .unwrap();
    let (out, _) = run_once(&mut a, &mut fake);
    assert_eq!(out[0].uuid, Some(1));
    assert_eq!(out[0].stability, Some((None, 1.0)));
    assert!(out[0].to_string().contains("stability n/a"), "{}", out[0]);
    assert!(matches!(
        out[0].verdict,
        Verdict::Installed { standby: None, .. }
    ));
}

#[test]
fn uuid_choice() {
    let mut other = app1(vec![slot(0, 6, true)]);
    other.app = 2;
    let apps = vec![app1(vec![slot(0, 5, true), slot(1, 3, false)]), other];
    let mods = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    // max of app 1 is 5; 6 is in app 2's slot, 7 and 8 loaded modules
    // (`lf_model_08` and `lf_model_9x` are not lfc's names)
    let loaded = mods(&[
        &c::stem(7),
        "lf_model_8",
        "lf_model_08",
        "lf_model_9x",
        "tcp_bbr",
    ]);
    assert_eq!(next_uuid(&apps, 1, &loaded).unwrap(), 9);
    assert_eq!(next_uuid(&apps, 1, &[]).unwrap(), 7);
    // an app with no slots starts at 1, skipping loaded ones and every
    // app's slotted ones (3)
    assert_eq!(
        next_uuid(&apps, 9, &mods(&[&c::stem(1), &c::stem(2)])).unwrap(),
        4
    );
    assert_eq!(next_uuid(&[], 1, &[]).unwrap(), 1);
    let full = vec![app1(vec![slot(0, u64::MAX, true)])];
    assert!(next_uuid(&full, 1, &[]).is_err());
    assert_eq!(uuid_of_module("lf_model_255"), Some(255));
    assert_eq!(uuid_of_module("lf_model_ff"), None);
    assert_eq!(uuid_of_module("lf_model_"), None);
}

#[test]
fn unload_choice() {
    let apps = vec![app1(vec![slot(0, 4, true), slot(1, 3, false)])];
    let ours: BTreeSet<String> = [1, 2, 3, 4].iter().map(|&u| c::stem(u)).collect();
    // 1 is no longer loaded; 3 and 4 are in slots; 5 is not ours
    let loaded: Vec<String> = [2, 3, 4, 5].iter().map(|&u| c::stem(u)).collect();
    assert_eq!(to_unload(&ours, &apps, &loaded), vec![c::stem(2)]);
    // a slot whose module name the kernel did not report: its uuid protects it
    let mut apps2 = apps.clone();
    apps2[0].slots[1].module.clear();
    assert_eq!(to_unload(&ours, &apps2, &loaded), vec![c::stem(2)]);
    assert!(to_unload(&BTreeSet::new(), &apps, &loaded).is_empty());
}

#[test]
fn waits_for_files_to_settle_when_watching() {
    let s = setup(3, 0.0);
    let mut fake = Fake::new(3, None);
    let mut a = Adapter::new(options(
        &s.watch,
        SampleSource::File(s.data.clone()),
        Engine::Interp,
    ))
    .unwrap();
    let p = s.watch.join("v5.onnx");
    std::fs::write(&p, &std::fs::read(aurora("aurora.onnx")).unwrap()[..100]).unwrap();
    assert!(a.poll(&mut fake, true, &mut |_| {}).unwrap().is_empty());
    // still growing: not taken
    std::fs::copy(aurora("aurora.onnx"), &p).unwrap();
    assert!(a.poll(&mut fake, true, &mut |_| {}).unwrap().is_empty());
    // unchanged across two polls: taken
    let out = a.poll(&mut fake, true, &mut |_| {}).unwrap();
    assert_eq!(out.len(), 1);
    assert!(!out[0].rejected(), "{}", out[0]);
    // hidden (being renamed into place) files are never taken
    std::fs::copy(aurora("aurora.onnx"), s.watch.join(".v6.onnx")).unwrap();
    assert!(a.poll(&mut fake, true, &mut |_| {}).unwrap().is_empty());
    assert!(a.poll(&mut fake, true, &mut |_| {}).unwrap().is_empty());
}

#[test]
fn samples_files_are_checked() {
    let s = setup(3, 0.0);
    let short = s.watch.join("x.csv");
    std::fs::write(&short, "1,2,3\n").unwrap();
    let e = Samples::read(&short, 30).unwrap_err().to_string();
    assert!(e.contains("3 columns") && e.contains("30"), "{e}");
    let r = Samples::read(&s.data, 30).unwrap();
    assert_eq!(r.inputs.len(), 60);
    assert_eq!(r.recorded[0].as_ref().unwrap().0, 3);
    // the same records as `lfc collect -o x.parquet` writes them
    let pq = s.watch.join("x.parquet");
    RecordSet::read(&s.data, 30).unwrap().write(&pq).unwrap();
    let rp = Samples::read(&pq, 30).unwrap();
    assert_eq!(rp, r);
    let empty = s.watch.join("e.csv");
    RecordSet::new(30, 1).write(&empty).unwrap();
    assert!(Samples::read(&empty, 30)
        .unwrap_err()
        .to_string()
        .contains("no samples"));
}

#[test]
fn on_drift_gate_logs_the_rate_and_turns_down_below_it() {
    let samples = |rate: Option<f64>| Samples {
        inputs: vec![vec![0.0]; 10],
        recorded: vec![None; 10],
        drift_rate: rate,
    };
    let mut lines = Vec::new();
    let mut log = |e: &Event<'_>| lines.push(e.to_string());
    assert_eq!(
        drift_gate(&samples(Some(0.3)), None, "c.onnx", &mut log),
        None
    );
    assert_eq!(
        drift_gate(&samples(Some(0.3)), Some(0.2), "c.onnx", &mut log),
        None
    );
    let why = drift_gate(&samples(Some(0.1)), Some(0.2), "c.onnx", &mut log).unwrap();
    assert!(why.contains("0.1000 is below --on-drift 0.2"), "{why}");
    let why = drift_gate(&samples(None), Some(0.2), "c.onnx", &mut log).unwrap();
    assert!(why.contains("needs records with drift flags"), "{why}");
    assert_eq!(drift_gate(&samples(None), None, "c.onnx", &mut log), None);
    assert!(
        lines[0].contains("drift rate 0.3000 (3 of 10 samples had an input outside"),
        "{lines:?}"
    );
    assert!(lines[3].contains("drift rate unknown"), "{lines:?}");
}

/// A candidate with a guardrail is compared with the float model clamped
/// to it: the clamp is what it was asked to compute. Against the bare
/// float model the same answers are off by as much as the clamp cut.
#[test]
fn fidelity_of_a_guarded_candidate_is_against_the_clamped_float_model() {
    let m = crate::data::read_matrix(&aurora("representative_dataset.npy")).unwrap();
    let rows: Vec<Vec<f64>> = (0..m.rows).map(|r| m.row(r).to_vec()).collect();
    let float = FloatModel::load(&aurora("aurora.onnx")).unwrap();
    let compile = |range: Option<&str>| {
        let opts = pipeline::CompileOptions {
            calibration: Some(aurora("representative_dataset.npy")),
            output_range: range.map(|r| crate::quant::guard::OutputRange::parse(r).unwrap()),
            ..Default::default()
        };
        pipeline::compile(&aurora("aurora.onnx"), &opts).unwrap()
    };
    let b = fidelity(&compile(None), &float, &rows, Engine::Interp, 0.05).unwrap();
    let g = fidelity(
        &compile(Some("-0.5:0.5")),
        &float,
        &rows,
        Engine::Interp,
        0.05,
    )
    .unwrap();
    assert_eq!((b.judged, b.drift, g.judged), (rows.len(), 0, rows.len()));
    let (bare, bare_out, guarded, out) = (b.max, b.real, g.max, g.real);
    let clamped = out.iter().filter(|o| o[0].abs() == 0.5).count();
    assert!(clamped > 10, "{clamped} of {} rows clamped", out.len());
    assert!(bare <= 0.05 && guarded <= bare + 1e-3, "{bare} {guarded}");
    // What the clamp cut, were it compared with the bare float model.
    let cut = bare_out
        .iter()
        .map(|o| (o[0].abs() - 0.5).max(0.0))
        .fold(0.0f64, f64::max);
    assert!(cut > 1.0, "{cut}");
}

/// Live inputs outside the candidate's declared domain are clamped by the
/// snapshot: judging them against the float model on the unclamped input
/// measured the clamp, not the quantization (a candidate once scored 2.91
/// for 0.05). Up to --max-drift-rate of them are counted as drift and left
/// out; the in-domain rows are judged as before. More than that and the
/// domain does not cover the traffic: every row is judged (the clamp's
/// error is what the traffic would get).
#[test]
fn fidelity_judges_in_domain_rows_and_counts_the_rest_as_drift() {
    let m = crate::data::read_matrix(&aurora("representative_dataset.npy")).unwrap();
    let rows: Vec<Vec<f64>> = (0..m.rows).map(|r| m.row(r).to_vec()).collect();
    let float = FloatModel::load(&aurora("aurora.onnx")).unwrap();
    let opts = pipeline::CompileOptions {
        calibration: Some(aurora("representative_dataset.npy")),
        input_range: Some(pipeline::InputRange::All(-2.0, 12.0)),
        ..Default::default()
    };
    let c = pipeline::compile(&aurora("aurora.onnx"), &opts).unwrap();
    let inside = fidelity(&c, &float, &rows, Engine::Interp, 0.05).unwrap();
    assert_eq!((inside.judged, inside.drift), (rows.len(), 0));
    assert!(inside.max <= 0.05, "{}", inside.max);

    // Every third row pushed far outside [-2, 12] on two features.
    let mut mixed = rows.clone();
    for r in mixed.iter_mut().step_by(3) {
        r[0] = 400.0;
        r[7] = -90.0;
    }
    let out = mixed.len().div_ceil(3);
    let f = fidelity(&c, &float, &mixed, Engine::Interp, 0.5).unwrap();
    assert_eq!((f.judged, f.drift), (mixed.len() - out, out));
    assert!(!f.drift_judged);
    assert_eq!(f.real.len(), mixed.len());
    assert!(f.max <= inside.max, "{} > {}", f.max, inside.max);
    let d = f.describe();
    assert!(
        d.contains(&format!(
            "over {} in-domain samples ({out} outside",
            mixed.len() - out
        )),
        "{d}"
    );
    assert!(f.unjudged().is_none());
    // A third is over a 5 % limit: all judged, the clamp's error shows.
    let all = fidelity(&c, &float, &mixed, Engine::Interp, 0.05).unwrap();
    assert_eq!((all.judged, all.drift), (mixed.len(), out));
    assert!(all.drift_judged && all.max > 0.05, "{}", all.max);
    assert_eq!(all.real, f.real);
    assert!(all
        .describe()
        .contains("more than --max-drift-rate allows, so judged too"));

    // None inside, every row allowed to drift: not judged, and said so.
    let far: Vec<Vec<f64>> = rows.iter().map(|r| vec![500.0; r.len()]).collect();
    let n = fidelity(&c, &float, &far, Engine::Interp, 1.0).unwrap();
    assert_eq!((n.judged, n.drift), (0, far.len()));
    assert!(n.max.is_nan());
    let why = n.unjudged().unwrap();
    assert!(why.contains(&format!("all {} samples", far.len())), "{why}");
}
