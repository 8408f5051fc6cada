//! `lfc adapt`: LiteFlow's userspace adaptation loop.
//!
//! A directory is watched for new `.onnx` models. Each one is compiled into
//! a snapshot with a fresh uuid, judged on recent inputs (a file from
//! `lfc collect`, or records collected live), and, if it passes both
//! criteria, built into a `.ko` and loaded, which makes it the active
//! snapshot with the previous active one as standby. Snapshots this loop
//! loaded earlier and that are now in no slot are unloaded.
//!
//! Criteria (both must hold; figures printed for every candidate):
//! - **fidelity**: max |candidate - its own float model (tract)| over every
//!   output of every sample, in real output units, where the candidate is
//!   the integer program run by [`AdaptOptions::engine`] (default: the
//!   emitted C built for userspace, the very source the module gets; the
//!   interpreter is bit-exact with it) ≤ `max_fidelity_error`;
//! - **stability**: mean |candidate - active snapshot| over the same
//!   samples, real output units, ≤ `max_output_change`. The active
//!   snapshot's outputs are taken from the records themselves when they
//!   were produced by it (same uuid), else asked from the kernel (INFER).
//!   With no active snapshot there is nothing to compare with: n/a, passes.
//!
//! A candidate that fails to load, compile, build or pass is rejected with
//! the reason and nothing is loaded. Kernel access goes through the
//! [`System`] trait ([`system::RealSystem`] in production), so the decisions
//! are unit-tested without a kernel.
//!
//! Which files were processed (name, mtime, size) and which modules this
//! loop loaded are kept in `DIR/.lfc-adapt-app<N>.state`, so repeated
//! `--once` runs (cron) neither redo a model nor forget what to unload. A
//! file is processed again when its mtime or size changes.

pub mod shadow;
pub mod system;
#[cfg(test)]
mod tests;
pub mod watch;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use crate::back::c;
use crate::commands::{self, Engine};
use crate::control::{AppStatus, InferReply, RecordSet, ShadowTake, SlotStatus};
use crate::data::{self, Matrix};
use crate::error::Error;
use crate::front::onnx::FloatModel;
use crate::pipeline::{self, CompileOptions, Compiled};
use crate::Result;

/// Kernel and build operations the loop needs.
pub trait System {
    /// GET_APP: every app with its slots.
    fn apps(&mut self) -> Result<Vec<AppStatus>>;
    /// Names of the loaded kernel modules (`/proc/modules`).
    fn loaded_modules(&mut self) -> Result<Vec<String>>;
    /// INFER on the app's active snapshot.
    fn infer(&mut self, app: u32, input: &[i64]) -> Result<InferReply>;
    /// `count` live records of `app` (fewer if they do not come in time).
    fn collect(&mut self, app: u32, count: usize) -> Result<RecordSet>;
    /// The snapshot's `.ko` at (or near) `out`; returns its path.
    fn build_ko(&mut self, compiled: &Compiled, out: &Path) -> Result<PathBuf>;
    /// Loads a module (it registers its snapshot as the active one).
    fn load(&mut self, ko: &Path) -> Result<()>;
    /// Unloads a module by name.
    fn unload(&mut self, module: &str) -> Result<()>;
    /// LF_CMD_STAGING: while on, snapshots of `app` load into no slot.
    fn set_staging(&mut self, app: u32, on: bool) -> Result<()>;
    /// Shadows the loaded snapshot `uuid` on one query in `every` per CPU
    /// of `app` until `count` results arrived or `timeout` passed, then
    /// stops the shadow (also on error).
    fn shadow(
        &mut self,
        app: u32,
        uuid: u64,
        every: u32,
        count: usize,
        timeout: std::time::Duration,
    ) -> Result<ShadowTake>;
    /// LF_CMD_ACTIVATE by uuid.
    fn activate(&mut self, app: u32, uuid: u64) -> Result<()>;
    /// LF_CMD_ROLLBACK.
    fn rollback(&mut self, app: u32) -> Result<()>;
    /// Waits (the canary's clock).
    fn sleep(&mut self, d: std::time::Duration);
    /// A stop was asked for (SIGTERM): long steps end early.
    fn stopping(&self) -> bool {
        false
    }
}

/// Guardrail hits of a slot's snapshot (`LF_SLOT_ATTR_GUARD`; `None` from
/// an lf_kernel before snapshot ABI 2).
pub(crate) fn slot_guard(s: &SlotStatus) -> Option<u64> {
    s.facts.guard_hits
}

/// Drift (queries with an input outside the domain) of a slot's snapshot
/// (`LF_SLOT_ATTR_DRIFT`; `None` before ABI 2).
pub(crate) fn slot_drift(s: &SlotStatus) -> Option<u64> {
    s.facts.drift
}

/// Acceptance thresholds, in real output units.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Criteria {
    pub max_fidelity_error: f64,
    pub max_output_change: f64,
    /// Share of the samples that may lie outside the candidate's input
    /// domain and be left out of its fidelity (`--max-drift-rate`); above
    /// it they are judged too: the domain does not cover the traffic.
    pub max_drift_rate: f64,
}

pub const DEFAULT_MAX_FIDELITY_ERROR: f64 = 0.05;
pub const DEFAULT_MAX_OUTPUT_CHANGE: f64 = 1.0;

impl Default for Criteria {
    fn default() -> Self {
        Criteria {
            max_fidelity_error: DEFAULT_MAX_FIDELITY_ERROR,
            max_output_change: DEFAULT_MAX_OUTPUT_CHANGE,
            max_drift_rate: shadow::DEFAULT_MAX_DRIFT_RATE,
        }
    }
}

/// Where the inputs a candidate is judged on come from.
#[derive(Clone, Debug, PartialEq)]
pub enum SampleSource {
    /// A file: `lfc collect` output (records with outputs and uuids), or a
    /// plain matrix of inputs (any data format, one column per input).
    File(PathBuf),
    /// This many live records, collected before each candidate.
    Live(usize),
    /// None: only shadow evaluation judges candidates.
    None,
}

#[derive(Clone, Debug)]
pub struct AdaptOptions {
    pub app: u32,
    pub watch: PathBuf,
    /// Compile options of every candidate (`uuid` and `app` are set here).
    pub compile: CompileOptions,
    pub criteria: Criteria,
    pub engine: Engine,
    pub samples: SampleSource,
    /// Where `.ko` files are written (default: the watched directory).
    pub ko_dir: Option<PathBuf>,
    /// Judge candidates in the kernel on live queries (`--shadow`) instead
    /// of on `samples`, and watch each promotion through a canary window.
    pub shadow: Option<shadow::ShadowOptions>,
    /// `--on-drift RATE`: judge a candidate only when at least this share
    /// of the samples had an input outside the active snapshot's domain
    /// (the records' `LF_INFER_DRIFT` flag); below it the candidate is
    /// turned down and the running snapshot kept.
    pub on_drift: Option<f64>,
}

/// The inputs a candidate is judged on, with the active snapshot's outputs
/// where the records carry them.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Samples {
    pub inputs: Vec<Vec<f64>>,
    /// Per row: (uuid of the snapshot that answered, its real outputs).
    pub recorded: Vec<Option<(u64, Vec<f64>)>>,
    /// Share of the records whose snapshot saw an input outside its
    /// declared domain; `None` unless the records carry their flags.
    pub drift_rate: Option<f64>,
}

impl Samples {
    pub fn from_records(set: &RecordSet) -> Samples {
        Samples {
            inputs: set.rows.iter().map(|r| r.input.clone()).collect(),
            recorded: set
                .rows
                .iter()
                .map(|r| Some((r.uuid, r.output.clone())))
                .collect(),
            drift_rate: set.drift_rate(),
        }
    }

    pub fn from_inputs(m: &Matrix) -> Samples {
        Samples {
            inputs: m.iter_rows().map(|r| r.to_vec()).collect(),
            recorded: vec![None; m.rows],
            drift_rate: None,
        }
    }

    /// Reads `lfc collect` output (`.csv` with its header, `.parquet`,
    /// `.npy` with its `.meta.csv`), or else a plain input matrix of
    /// `input_len` columns.
    pub fn read(path: &Path, input_len: usize) -> Result<Samples> {
        let is_records = match path.extension().and_then(|e| e.to_str()) {
            Some(e) if e.eq_ignore_ascii_case("csv") => std::fs::read_to_string(path)
                .map_err(|e| Error::io(path, e))?
                .trim_start_matches('\u{feff}')
                .starts_with("in0"),
            Some(e) if e.eq_ignore_ascii_case("npy") => {
                crate::control::records::meta_path(path).is_file()
            }
            Some(e) if e.eq_ignore_ascii_case("parquet") => true,
            _ => false,
        };
        let s = if is_records {
            Samples::from_records(&RecordSet::read(path, input_len)?)
        } else {
            let m = data::read_matrix(path)?;
            data::check_width(path, &m, input_len, "the candidate's input")?;
            data::check_finite(path, &m)?;
            Samples::from_inputs(&m)
        };
        if s.inputs.is_empty() {
            return Err(Error::data(path, "no samples to judge a candidate on"));
        }
        Ok(s)
    }
}

/// What [`fidelity`] measured.
#[derive(Clone, Debug, PartialEq)]
pub struct Fidelity {
    /// Max |candidate - float model| over every output of the judged
    /// rows (NaN when none was judged).
    pub max: f64,
    /// Rows inside the candidate's declared input domain: judged.
    pub judged: usize,
    /// Rows with an input outside it (the candidate's own LF_INFER_DRIFT):
    /// the snapshot clamps them, so the float model on the unclamped
    /// input is not what it promises; counted as drift, not judged.
    pub drift: usize,
    /// The candidate's real outputs on every row, judged or not.
    pub real: Vec<Vec<f64>>,
    /// More rows drifted than the limit allowed: they were judged too.
    pub drift_judged: bool,
}

impl Fidelity {
    /// `fidelity max E over J samples[ (D outside its domain: drift, not
    /// judged)]`, for the logs.
    pub fn describe(&self) -> String {
        let mut s = format!(
            "fidelity max |snapshot - float model| {:.6} over {} in-domain samples",
            self.max, self.judged
        );
        if self.drift_judged {
            s = format!(
                "fidelity max |snapshot - float model| {:.6} over {} samples ({} outside its input domain: more than --max-drift-rate allows, so judged too, clamped)",
                self.max, self.judged, self.drift
            );
        } else if self.drift > 0 {
            s.push_str(&format!(
                " ({} outside its input domain: drift, not judged)",
                self.drift
            ));
        }
        s
    }

    /// Why the candidate cannot be judged: no row inside its domain.
    pub fn unjudged(&self) -> Option<String> {
        (self.judged == 0).then(|| {
            format!(
                "fidelity not measurable: all {} samples have an input outside the candidate's input domain (drift); widen its --input-range or judge it on in-domain samples",
                self.drift
            )
        })
    }
}

/// Max |fixed-point candidate - float model| over every output of every
/// row inside the candidate's declared input domain, and the candidate's
/// real outputs. A row with an input outside the domain is clamped by the
/// snapshot (LF_INFER_DRIFT, decided by the interpreter exactly as the
/// kernel does): the float model's answer on the unclamped input is not
/// the snapshot's contract there, so such rows are counted as drift and
/// left out of the maximum, as long as they are at most `max_drift_rate`
/// of the rows. Beyond that the domain does not cover the traffic and
/// every row is judged: the clamp's error is what the traffic would get
/// (a PTQ candidate quantized from a few calibration rows is rejected so).
/// A candidate with a guardrail
/// (`--output-range`) is compared with the float model's answers clamped
/// to it: the clamp is part of what it was asked to compute; how often it
/// acts on live traffic is the canary's guardrail rate.
pub fn fidelity(
    compiled: &Compiled,
    float: &FloatModel,
    inputs: &[Vec<f64>],
    engine: Engine,
    max_drift_rate: f64,
) -> Result<Fidelity> {
    let p = &compiled.program;
    let m = Matrix::new(
        inputs.len(),
        p.input_len,
        inputs.iter().flatten().copied().collect(),
    );
    let fixed = pipeline::to_fixed(Path::new("<samples>"), &m, p.input_scale)?;
    let out = commands::run_fixed(compiled, &fixed, engine)?;
    let os = p.output_scale as f64;
    let guard = crate::quant::guard::real_guard(p);
    let drifts: Vec<bool> = fixed
        .iter()
        .map(|x| crate::back::interp::run_flags(p, x).1 & crate::ir::program::INFER_DRIFT != 0)
        .collect();
    let n_drift = drifts.iter().filter(|&&d| d).count();
    let judge_all = n_drift as f64 > max_drift_rate * inputs.len() as f64;
    let mut f = Fidelity {
        max: 0.0,
        judged: 0,
        drift: n_drift,
        real: Vec::with_capacity(out.len()),
        drift_judged: judge_all,
    };
    for (((row, o), &drift), _) in inputs.iter().zip(&out).zip(&drifts).zip(&fixed) {
        let r: Vec<f64> = o.iter().map(|&v| v as f64 / os).collect();
        if drift && !judge_all {
            f.real.push(r);
            continue;
        }
        let x: Vec<f32> = row.iter().map(|&v| v as f32).collect();
        let mut y = float.run(&x)?;
        if let Some(g) = &guard {
            for (v, &(lo, hi)) in y.iter_mut().zip(g) {
                *v = (*v as f64).clamp(lo, hi) as f32;
            }
        }
        if y.len() != o.len() {
            return Err(Error::Other(format!(
                "the float model gives {} outputs, the snapshot {}",
                y.len(),
                o.len()
            )));
        }
        for (a, b) in r.iter().zip(&y) {
            let e = (a - *b as f64).abs();
            f.max = if e.is_nan() {
                f64::INFINITY
            } else {
                f.max.max(e)
            };
        }
        f.judged += 1;
        f.real.push(r);
    }
    if f.judged == 0 {
        f.max = f64::NAN;
    }
    Ok(f)
}

/// Mean |a - b| over every value of every row.
pub fn mean_abs_change(a: &[Vec<f64>], b: &[Vec<f64>]) -> f64 {
    let mut sum = 0.0;
    let mut n = 0usize;
    for (x, y) in a.iter().zip(b) {
        for (u, v) in x.iter().zip(y) {
            sum += (u - v).abs();
            n += 1;
        }
    }
    if n == 0 {
        0.0
    } else {
        sum / n as f64
    }
}

/// The active snapshot's real outputs on every sample: from the records
/// where the active snapshot produced them, else by INFER. `None` when the
/// app has no active snapshot.
pub fn active_outputs(
    sys: &mut dyn System,
    status: Option<&AppStatus>,
    samples: &Samples,
) -> Result<Option<(u64, Vec<Vec<f64>>)>> {
    let Some(status) = status else {
        return Ok(None);
    };
    let Some(active) = status.slots.iter().find(|s| s.active) else {
        return Ok(None);
    };
    let mut out = Vec::with_capacity(samples.inputs.len());
    for (row, rec) in samples.inputs.iter().zip(&samples.recorded) {
        match rec {
            Some((uuid, o)) if *uuid == active.uuid => out.push(o.clone()),
            _ => {
                let m = Matrix::new(1, row.len(), row.clone());
                let fixed = pipeline::to_fixed(Path::new("<samples>"), &m, active.input_scale)?;
                let reply = sys.infer(status.app, &fixed[0])?;
                let scale = status
                    .slots
                    .iter()
                    .find(|s| s.uuid == reply.uuid)
                    .map(|s| s.output_scale)
                    .ok_or_else(|| {
                        Error::Other(format!(
                            "app {}: snapshot {} answered INFER, expected the active {}",
                            status.app, reply.uuid, active.uuid
                        ))
                    })?;
                out.push(
                    reply
                        .output
                        .iter()
                        .map(|&v| v as f64 / scale as f64)
                        .collect(),
                );
            }
        }
    }
    Ok(Some((active.uuid, out)))
}

/// `lf_model_<decimal uuid>` (the module name lfc gives a snapshot) → uuid.
pub fn uuid_of_module(name: &str) -> Option<u64> {
    let dec = name.strip_prefix("lf_model_")?;
    if dec.is_empty()
        || !dec.bytes().all(|b| b.is_ascii_digit())
        || (dec.len() > 1 && dec.starts_with('0'))
    {
        return None;
    }
    dec.parse().ok()
}

/// The next uuid for `app`: the largest uuid in its slots + 1, skipping
/// every uuid in any slot of any app or owned by a loaded `lf_model_*`
/// module (uuids are unique per loaded snapshot).
pub fn next_uuid(apps: &[AppStatus], app: u32, loaded_modules: &[String]) -> Result<u64> {
    let base = apps
        .iter()
        .find(|a| a.app == app)
        .and_then(|a| a.slots.iter().map(|s| s.uuid).max())
        .unwrap_or(0);
    let taken: BTreeSet<u64> = apps
        .iter()
        .flat_map(|a| a.slots.iter().map(|s| s.uuid))
        .chain(loaded_modules.iter().filter_map(|m| uuid_of_module(m)))
        .collect();
    let mut u = base;
    loop {
        u = u.checked_add(1).ok_or_else(|| {
            Error::Other(format!("app {app}: no snapshot uuid left above {base}"))
        })?;
        if !taken.contains(&u) {
            return Ok(u);
        }
    }
}

/// A status of `app` with nothing in it.
fn empty_app(app: u32) -> AppStatus {
    AppStatus {
        app,
        name: String::new(),
        input_len: 0,
        output_len: 0,
        active_slot: None,
        queries: 0,
        no_active: 0,
        dropped: None,
        recording: None,
        staging: None,
        shadow: None,
        slots: vec![],
        budget: None,
    }
}

/// The first uuid above `floor` that no slot and no loaded `lf_model_*`
/// module holds (`app` names the app only).
fn next_uuid_above(
    apps: &[AppStatus],
    app: &AppStatus,
    floor: u64,
    loaded_modules: &[String],
) -> Result<u64> {
    let taken: BTreeSet<u64> = apps
        .iter()
        .flat_map(|a| a.slots.iter().map(|s| s.uuid))
        .chain(loaded_modules.iter().filter_map(|m| uuid_of_module(m)))
        .collect();
    let mut u = floor;
    loop {
        u = u.checked_add(1).ok_or_else(|| {
            Error::Other(format!(
                "app {}: no snapshot uuid left above {floor}",
                app.app
            ))
        })?;
        if !taken.contains(&u) {
            return Ok(u);
        }
    }
}

/// Modules this loop loaded that are still loaded but in no slot of any
/// app: the ones to unload. Never a module in a slot.
pub fn to_unload(
    loaded_by_us: &BTreeSet<String>,
    apps: &[AppStatus],
    loaded_now: &[String],
) -> Vec<String> {
    let slotted: BTreeSet<String> = apps
        .iter()
        .flat_map(|a| a.slots.iter())
        .flat_map(|s| [s.module.clone(), c::stem(s.uuid)])
        .collect();
    loaded_by_us
        .iter()
        .filter(|m| loaded_now.contains(m) && !slotted.contains(*m))
        .cloned()
        .collect()
}

/// What became of one candidate.
#[derive(Clone, Debug, PartialEq)]
pub enum Verdict {
    Installed {
        module: String,
        ko: PathBuf,
        standby: Option<u64>,
        unloaded: Vec<String>,
    },
    Rejected(String),
}

#[derive(Clone, Debug, PartialEq)]
pub struct Outcome {
    pub file: String,
    pub uuid: Option<u64>,
    /// (max error, threshold)
    pub fidelity: Option<(f64, f64)>,
    /// (mean change, threshold); `None` inside when there was no active
    /// snapshot to compare with.
    pub stability: Option<(Option<f64>, f64)>,
    pub verdict: Verdict,
}

impl Outcome {
    pub fn rejected(&self) -> bool {
        matches!(self.verdict, Verdict::Rejected(_))
    }
}

fn ok_or(v: f64, max: f64) -> &'static str {
    if v <= max {
        "ok"
    } else {
        "FAILED"
    }
}

impl fmt::Display for Outcome {
    /// `adapt: candidate v7.onnx -> uuid 4: fidelity max 0.0031 (<= 0.05)
    /// ok, stability mean 0.12 (<= 1) ok -> installed lf_model_… (active),
    /// standby uuid 3, unloaded lf_model_…`
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "adapt: candidate {}", self.file)?;
        if let Some(u) = self.uuid {
            write!(f, " -> uuid {u}")?;
        }
        let mut figures = Vec::new();
        if let Some((v, max)) = self.fidelity {
            figures.push(format!("fidelity max {v:.4} (<= {max}) {}", ok_or(v, max)));
        }
        match self.stability {
            Some((Some(v), max)) => figures.push(format!(
                "stability mean {v:.4} (<= {max}) {}",
                ok_or(v, max)
            )),
            Some((None, _)) => figures.push("stability n/a (no active snapshot)".into()),
            None => {}
        }
        if !figures.is_empty() {
            write!(f, ": {}", figures.join(", "))?;
        }
        match &self.verdict {
            Verdict::Installed {
                module,
                ko,
                standby,
                unloaded,
            } => {
                let ko_name = ko
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                write!(f, " -> installed {module} ({ko_name}, active)")?;
                match standby {
                    Some(s) => write!(f, ", standby uuid {s}")?,
                    None => write!(f, ", no standby")?,
                }
                if !unloaded.is_empty() {
                    write!(f, ", unloaded {}", unloaded.join(" "))?;
                }
                Ok(())
            }
            // After a canary rollback the running snapshot is the previous one.
            Verdict::Rejected(why) if why.starts_with("promoted, then ") => {
                write!(f, " -> rejected: {why}")
            }
            Verdict::Rejected(why) => write!(f, " -> rejected: {why}; running snapshot untouched"),
        }
    }
}

/// Logs the samples' drift rate; with `--on-drift RATE`, the reason to
/// turn the candidate down when the rate is below RATE or unknown.
fn drift_gate(
    samples: &Samples,
    on_drift: Option<f64>,
    name: &str,
    log: &mut dyn FnMut(&Event<'_>),
) -> Option<String> {
    let n = samples.inputs.len();
    match samples.drift_rate {
        Some(r) => log(&Event::step(
            name,
            format!(
                "drift rate {r:.4} ({} of {n} samples had an input outside the active snapshot's domain)",
                (r * n as f64).round() as usize
            ),
        )),
        None => log(&Event::step(
            name,
            "drift rate unknown (the samples carry no drift flags)".into(),
        )),
    }
    let min = on_drift?;
    match samples.drift_rate {
        Some(r) if r >= min => None,
        Some(r) => Some(format!(
            "drift rate {r:.4} is below --on-drift {min}: the active snapshot still covers its traffic"
        )),
        None => Some(format!(
            "--on-drift {min} needs records with drift flags (lfc collect from lf_kernel ABI 2)"
        )),
    }
}

/// One line of `lfc adapt`'s log: a step of judging a candidate, or the
/// decision on it. Printed as text (`Display`) or as a JSON line
/// (`report::json::adapt_event`).
#[derive(Clone, Debug, PartialEq)]
pub enum Event<'a> {
    /// `adapt: FILE: MESSAGE`
    Step { file: &'a str, message: String },
    /// The summary line of a candidate (see [`Outcome`]'s `Display`).
    Decision(&'a Outcome),
}

impl<'a> Event<'a> {
    pub fn step(file: &'a str, message: String) -> Event<'a> {
        Event::Step { file, message }
    }
}

impl fmt::Display for Event<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Event::Step { file, message } => write!(f, "adapt: {file}: {message}"),
            Event::Decision(o) => o.fmt(f),
        }
    }
}

/// (mtime in ns since the epoch, size) of a file.
type Stamp = (u128, u64);

fn stamp(path: &Path) -> Option<Stamp> {
    let md = std::fs::metadata(path).ok()?;
    let mtime = md
        .modified()
        .ok()?
        .duration_since(UNIX_EPOCH)
        .ok()?
        .as_nanos();
    md.is_file().then_some((mtime, md.len()))
}

/// The loop's memory (see the module documentation for the state file).
#[derive(Debug)]
pub struct Adapter {
    pub opts: AdaptOptions,
    processed: BTreeMap<String, Stamp>,
    /// Seen at the previous poll, not yet taken (size must stay stable).
    pending: BTreeMap<String, Stamp>,
    loaded_by_us: BTreeSet<String>,
    /// The last uuid given to a candidate (state file: `uuid N`).
    last_uuid: u64,
    /// Kernel errors met per file (see [`watch::MAX_KERNEL_TRIES`]).
    failures: BTreeMap<String, u32>,
    /// How the state file is written (tests inject a full disk).
    write_state: fn(&Path, &[u8]) -> Result<()>,
}

impl Adapter {
    pub fn new(opts: AdaptOptions) -> Result<Adapter> {
        if !opts.watch.is_dir() {
            return Err(Error::option(
                "--watch",
                format!("{} is not a directory", opts.watch.display()),
            ));
        }
        let mut a = Adapter {
            opts,
            processed: BTreeMap::new(),
            pending: BTreeMap::new(),
            loaded_by_us: BTreeSet::new(),
            last_uuid: 0,
            failures: BTreeMap::new(),
            write_state: pipeline::write_atomic,
        };
        a.load_state()?;
        Ok(a)
    }

    pub fn state_path(&self) -> PathBuf {
        self.opts
            .watch
            .join(format!(".lfc-adapt-app{}.state", self.opts.app))
    }

    /// Modules this loop loaded and has not unloaded yet.
    pub fn loaded_by_us(&self) -> &BTreeSet<String> {
        &self.loaded_by_us
    }

    fn load_state(&mut self) -> Result<()> {
        let p = self.state_path();
        let text = match std::fs::read_to_string(&p) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(Error::io(&p, e)),
        };
        for (i, line) in text.lines().enumerate() {
            let f: Vec<&str> = line.splitn(4, '\t').collect();
            let bad = || {
                Error::data(
                    &p,
                    format!(
                        "line {}: not lfc adapt state (delete the file to start afresh)",
                        i + 1
                    ),
                )
            };
            match f.as_slice() {
                ["file", mtime, size, name] => {
                    let st = (
                        mtime.parse().map_err(|_| bad())?,
                        size.parse().map_err(|_| bad())?,
                    );
                    self.processed.insert(name.to_string(), st);
                }
                ["module", name] => {
                    self.loaded_by_us.insert(name.to_string());
                }
                ["uuid", n] => self.last_uuid = n.parse().map_err(|_| bad())?,
                [""] => {}
                _ => return Err(bad()),
            }
        }
        Ok(())
    }

    /// Replaces the state writer (tests: a disk that is full).
    #[cfg(test)]
    pub(crate) fn set_state_writer(&mut self, w: fn(&Path, &[u8]) -> Result<()>) {
        self.write_state = w;
    }

    /// Saves the state; a failure (a full disk) is logged, not fatal: the
    /// previous file stays whole and the next change writes it again.
    fn save_state_or_warn(&self, name: &str, log: &mut dyn FnMut(&Event<'_>)) {
        if let Err(e) = self.save_state() {
            log(&Event::step(
                name,
                format!("warning: state file not written (kept in memory, retried at the next change): {e}"),
            ));
        }
    }

    /// Writes the state file atomically.
    pub fn save_state(&self) -> Result<()> {
        let mut s = String::new();
        for (name, (mtime, size)) in &self.processed {
            s.push_str(&format!("file\t{mtime}\t{size}\t{name}\n"));
        }
        for m in &self.loaded_by_us {
            s.push_str(&format!("module\t{m}\n"));
        }
        if self.last_uuid > 0 {
            s.push_str(&format!("uuid\t{}\n", self.last_uuid));
        }
        let p = self.state_path();
        (self.write_state)(&p, s.as_bytes())
    }

    /// The `.onnx` files to process now, oldest first. With `settle`, a new
    /// or changed file is taken only once two polls saw the same mtime and
    /// size (so a file still being written waits); without, everything new
    /// is taken at once (`--once`: files are expected complete). Hidden
    /// files (`.name.onnx`, temporary files renamed into place) are skipped.
    pub fn scan(&mut self, settle: bool) -> Result<Vec<(String, Stamp)>> {
        let dir = &self.opts.watch;
        let mut found = Vec::new();
        for e in std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))? {
            let e = e.map_err(|e| Error::io(dir, e))?;
            let Ok(name) = e.file_name().into_string() else {
                continue;
            };
            if name.starts_with('.') || name.contains(['\n', '\t']) {
                continue;
            }
            let is_onnx = Path::new(&name)
                .extension()
                .map(|x| x.eq_ignore_ascii_case("onnx"))
                .unwrap_or(false);
            if !is_onnx {
                continue;
            }
            let Some(st) = stamp(&e.path()) else { continue };
            if self.processed.get(&name) == Some(&st) {
                continue;
            }
            found.push((name, st));
        }
        let mut ready = Vec::new();
        let mut pending = BTreeMap::new();
        for (name, st) in found {
            if !settle || self.pending.get(&name) == Some(&st) {
                ready.push((name, st));
            } else {
                pending.insert(name, st);
            }
        }
        self.pending = pending;
        ready.sort_by(|a, b| (a.1 .0, &a.0).cmp(&(b.1 .0, &b.0)));
        Ok(ready)
    }

    /// One poll: every ready candidate, in order, each logged step by step
    /// through `log` and summed up in its [`Outcome`].
    pub fn poll(
        &mut self,
        sys: &mut dyn System,
        settle: bool,
        log: &mut dyn FnMut(&Event<'_>),
    ) -> Result<Vec<Outcome>> {
        let mut outcomes = Vec::new();
        for (name, st) in self.scan(settle)? {
            let o = self.process(sys, &name, log)?;
            log(&Event::Decision(&o));
            self.processed.insert(name, st);
            self.save_state()?;
            outcomes.push(o);
        }
        Ok(outcomes)
    }

    /// [`Adapter::poll`] for the daemon: a kernel error on a file is
    /// returned (the caller reconnects, the file is tried again) until it
    /// happened [`watch::MAX_KERNEL_TRIES`] times, then the file is rejected
    /// with it; a state file that cannot be written is logged, not fatal.
    /// An error while `sys` is stopping never counts against the file.
    pub fn poll_resilient(
        &mut self,
        sys: &mut dyn System,
        settle: bool,
        log: &mut dyn FnMut(&Event<'_>),
    ) -> Result<Vec<Outcome>> {
        let mut outcomes = Vec::new();
        for (name, st) in self.scan(settle)? {
            let o = match self.process(sys, &name, log) {
                Ok(o) => o,
                Err(e) if sys.stopping() => return Err(e),
                Err(e) => {
                    let n = self.failures.entry(name.clone()).or_insert(0);
                    *n += 1;
                    if *n < watch::MAX_KERNEL_TRIES {
                        return Err(e);
                    }
                    Outcome {
                        file: name.clone(),
                        uuid: None,
                        fidelity: None,
                        stability: None,
                        verdict: Verdict::Rejected(format!(
                            "{n} attempts failed on kernel errors, the last: {e}"
                        )),
                    }
                }
            };
            self.failures.remove(&name);
            log(&Event::Decision(&o));
            self.processed.insert(name.clone(), st);
            self.save_state_or_warn(&name, log);
            outcomes.push(o);
        }
        Ok(outcomes)
    }

    /// Judges and (if it passes) installs one candidate. `Err` only for
    /// trouble with the kernel or the state, not with the candidate.
    pub fn process(
        &mut self,
        sys: &mut dyn System,
        name: &str,
        log: &mut dyn FnMut(&Event<'_>),
    ) -> Result<Outcome> {
        let app = self.opts.app;
        let mut out = Outcome {
            file: name.to_string(),
            uuid: None,
            fidelity: None,
            stability: None,
            verdict: Verdict::Rejected(String::new()),
        };
        let reject = |mut o: Outcome, why: String| {
            o.verdict = Verdict::Rejected(why);
            Ok(o)
        };
        let path = self.opts.watch.join(name);
        let apps = sys.apps()?;
        let status = apps.iter().find(|a| a.app == app).cloned();
        // Never a uuid this loop gave an earlier candidate: one uuid, one
        // model, in the logs and in the records.
        let uuid = next_uuid(&apps, app, &sys.loaded_modules()?)?;
        let uuid = if uuid <= self.last_uuid {
            let floor = AppStatus {
                slots: vec![],
                ..status.clone().unwrap_or_else(|| empty_app(app))
            };
            next_uuid_above(&apps, &floor, self.last_uuid, &sys.loaded_modules()?)?
        } else {
            uuid
        };
        self.last_uuid = uuid;
        out.uuid = Some(uuid);
        let opts = CompileOptions {
            uuid,
            app,
            ..self.opts.compile.clone()
        };
        let compiled = match pipeline::compile(&path, &opts) {
            Ok(c) => c,
            Err(e) => return reject(out, format!("compile: {e}")),
        };
        let p = &compiled.program;
        log(&Event::step(
            name,
            format!(
                "compiled as uuid {uuid} ({} -> {}, {})",
                p.input_len,
                p.output_len,
                p.precision.name()
            ),
        ));
        if let Some(s) = &status {
            if (s.input_len as usize, s.output_len as usize) != (p.input_len, p.output_len) {
                return reject(
                    out,
                    format!(
                        "the model maps {} inputs to {} outputs, app {app} has {} and {}",
                        p.input_len, p.output_len, s.input_len, s.output_len
                    ),
                );
            }
        }
        if let Some(so) = self.opts.shadow.clone() {
            match status.as_ref().filter(|s| s.slots.iter().any(|x| x.active)) {
                Some(st) => return self.process_shadow(sys, &so, &compiled, st, out, log),
                None => log(&Event::step(
                    name,
                    format!("shadow n/a: app {app} has no active snapshot to shadow against"),
                )),
            }
        }
        let samples = match &self.opts.samples {
            SampleSource::File(f) => match Samples::read(f, p.input_len) {
                Ok(s) => s,
                Err(e) => return reject(out, format!("samples: {e}")),
            },
            SampleSource::Live(k) => {
                let set = sys.collect(app, *k)?;
                if set.rows.is_empty() {
                    return reject(
                        out,
                        format!("no live records of app {app} arrived to judge it on"),
                    );
                }
                Samples::from_records(&set)
            }
            SampleSource::None => return reject(
                out,
                "no samples to judge it on (no active snapshot to shadow, no --data or --samples)"
                    .into(),
            ),
        };
        if let Some(why) = drift_gate(&samples, self.opts.on_drift, name, log) {
            return reject(out, why);
        }
        let float = match FloatModel::load(&path) {
            Ok(f) => f,
            Err(e) => return reject(out, format!("float model: {e}")),
        };
        let crit = self.opts.criteria;
        let fid = match fidelity(
            &compiled,
            &float,
            &samples.inputs,
            self.opts.engine,
            crit.max_drift_rate,
        ) {
            Ok(r) => r,
            Err(e) => return reject(out, format!("running the candidate: {e}")),
        };
        let max_err = fid.max;
        out.fidelity = Some((max_err, crit.max_fidelity_error));
        log(&Event::step(
            name,
            format!(
                "{} (<= {}) {}",
                fid.describe(),
                crit.max_fidelity_error,
                ok_or(max_err, crit.max_fidelity_error)
            ),
        ));
        if let Some(why) = fid.unjudged() {
            return reject(out, why);
        }
        let cand = fid.real;
        let active = active_outputs(sys, status.as_ref(), &samples)?;
        let change = active.as_ref().map(|(_, a)| mean_abs_change(&cand, a));
        out.stability = Some((change, crit.max_output_change));
        match (&active, change) {
            (Some((au, _)), Some(ch)) => log(&Event::step(
                name,
                format!(
                    "stability mean |candidate - active uuid {au}| {ch:.6} (<= {}) {}",
                    crit.max_output_change,
                    ok_or(ch, crit.max_output_change)
                ),
            )),
            _ => log(&Event::step(
                name,
                format!("stability n/a: app {app} has no active snapshot"),
            )),
        }
        // Written so that a NaN error is rejected too.
        #[allow(clippy::neg_cmp_op_on_partial_ord)]
        if !(max_err <= crit.max_fidelity_error) {
            return reject(
                out,
                format!(
                    "fidelity error {max_err:.6} exceeds {}",
                    crit.max_fidelity_error
                ),
            );
        }
        if let Some(ch) = change {
            #[allow(clippy::neg_cmp_op_on_partial_ord)]
            if !(ch <= crit.max_output_change) {
                return reject(
                    out,
                    format!(
                        "mean output change {ch:.6} exceeds {}",
                        crit.max_output_change
                    ),
                );
            }
        }
        let module = c::stem(uuid);
        let ko = match self.build(sys, &compiled, name, log) {
            Ok(k) => k,
            Err(why) => return reject(out, why),
        };
        if let Err(e) = sys.load(&ko) {
            return reject(out, format!("loading {}: {e}", ko.display()));
        }
        self.loaded_by_us.insert(module.clone());
        self.save_state_or_warn(name, log);
        let apps = sys.apps()?;
        let now = apps.iter().find(|a| a.app == app);
        let active_now = now
            .and_then(|a| a.slots.iter().find(|s| s.active))
            .map(|s| s.uuid);
        if active_now != Some(uuid) {
            log(&Event::step(
                name,
                format!(
                    "warning: {module} loaded but app {app}'s active snapshot is {active_now:?}"
                ),
            ));
        }
        let standby = now
            .and_then(|a| a.slots.iter().find(|s| !s.active))
            .map(|s| s.uuid);
        let unloaded = self.unload_unslotted(sys, name, log)?;
        out.verdict = Verdict::Installed {
            module,
            ko,
            standby,
            unloaded,
        };
        Ok(out)
    }

    /// Builds (or takes the prebuilt) `.ko` of a candidate; the reason when
    /// that fails.
    fn build(
        &self,
        sys: &mut dyn System,
        compiled: &Compiled,
        name: &str,
        log: &mut dyn FnMut(&Event<'_>),
    ) -> std::result::Result<PathBuf, String> {
        let module = c::stem(compiled.meta.uuid);
        let ko_dir = self
            .opts
            .ko_dir
            .clone()
            .unwrap_or_else(|| self.opts.watch.clone());
        let ko = sys
            .build_ko(compiled, &ko_dir.join(format!("{module}.ko")))
            .map_err(|e| format!("building the module: {e}"))?;
        log(&Event::step(name, format!("built {}", ko.display())));
        Ok(ko)
    }

    /// Unloads the modules this loop loaded that sit in no slot (and are
    /// not being shadowed); the ones unloaded.
    fn unload_unslotted(
        &mut self,
        sys: &mut dyn System,
        name: &str,
        log: &mut dyn FnMut(&Event<'_>),
    ) -> Result<Vec<String>> {
        let apps = sys.apps()?;
        let loaded_now = sys.loaded_modules()?;
        // Forget what someone else already unloaded.
        self.loaded_by_us.retain(|m| loaded_now.contains(m));
        let mut unloaded = Vec::new();
        for m in to_unload(&self.loaded_by_us, &apps, &loaded_now) {
            match sys.unload(&m) {
                Ok(()) => {
                    self.loaded_by_us.remove(&m);
                    unloaded.push(m);
                }
                Err(e) => log(&Event::step(
                    name,
                    format!("could not unload {m} (kept for later): {e}"),
                )),
            }
        }
        self.save_state_or_warn(name, log);
        Ok(unloaded)
    }

    /// `--shadow`: stage, shadow on live queries, judge, promote (or
    /// unload), canary. See [`shadow`].
    fn process_shadow(
        &mut self,
        sys: &mut dyn System,
        so: &shadow::ShadowOptions,
        compiled: &Compiled,
        status: &AppStatus,
        mut out: Outcome,
        log: &mut dyn FnMut(&Event<'_>),
    ) -> Result<Outcome> {
        let name = out.file.clone();
        let uuid = compiled.meta.uuid;
        let module = c::stem(uuid);
        let reject = |mut o: Outcome, why: String| {
            o.verdict = Verdict::Rejected(why);
            Ok(o)
        };
        let active = status.slots.iter().find(|s| s.active);
        let active_scale = active.map_or(0, |s| s.input_scale);
        if active_scale != compiled.program.input_scale {
            return reject(
                out,
                format!(
                    "input scale {} differs from the active snapshot's {active_scale}: both must read the same queries",
                    compiled.program.input_scale
                ),
            );
        }
        let ko = match self.build(sys, compiled, &name, log) {
            Ok(k) => k,
            Err(why) => return reject(out, why),
        };
        self.loaded_by_us.insert(module.clone());
        self.save_state_or_warn(&name, log);
        let path = self.opts.watch.join(&name);
        let judged = shadow::stage_and_judge(
            sys,
            so,
            compiled,
            &path,
            &ko,
            self.opts.engine,
            &mut out,
            &self.opts.criteria,
            log,
        );
        if sys.stopping() {
            // Interrupted (SIGTERM): no verdict; judged again next time.
            let unloaded = self.unload_unslotted(sys, &name, log)?;
            return Err(Error::Other(format!(
                "{name}: interrupted before a verdict (unloaded: {})",
                unloaded.join(" ")
            )));
        }
        if let Err(why) = judged? {
            let unloaded = self.unload_unslotted(sys, &name, log)?;
            let why = if unloaded.contains(&module) {
                format!("{why}; unloaded {module}")
            } else {
                why
            };
            return reject(out, why);
        }
        out.verdict = shadow::promote(sys, so, compiled.meta.app, uuid, module, ko, &name, log)?;
        let unloaded = self.unload_unslotted(sys, &name, log)?;
        if let Verdict::Installed { unloaded: u, .. } = &mut out.verdict {
            *u = unloaded;
        }
        Ok(out)
    }
}
