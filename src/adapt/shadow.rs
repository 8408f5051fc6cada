//! `lfc adapt --shadow`: a candidate proves itself on live traffic before it
//! answers any, then survives a canary window or is rolled back.
//!
//! 1. **Stage.** The candidate's module is loaded while the app is staging
//!    (`LF_CMD_STAGING`): lf_kernel registers it but puts it in no slot.
//! 2. **Shadow.** lf_kernel runs it on one live query in `every` per CPU,
//!    off the datapath (`LF_CMD_SHADOW`, runtime-kmod/lf_shadow.c), and
//!    ships its answers beside the active snapshot's. After `samples` of
//!    them (or `timeout`) the shadow is stopped and the candidate judged:
//!    - every sample arrived, and none of the candidate's runs failed;
//!    - **exactness**: the kernel's answers equal this machine's run of the
//!      same program ([`AdaptOptions::engine`]) on the same inputs, bit for
//!      bit;
//!    - **fidelity**: max |candidate − its float model| ≤ the limit;
//!    - **stability**: mean |candidate − active snapshot| ≤ the limit, both
//!      on the very queries the datapath asked.
//! 3. **Promote** (`LF_CMD_ACTIVATE` by uuid: the active becomes standby),
//!    or unload the rejected candidate.
//! 4. **Canary.** For `canary.seconds` after promotion the app's counters
//!    are read every `canary.poll`; if the rate of guardrail hits, of drift
//!    (queries with an input outside the domain) or of fallbacks (queries
//!    the client got no answer for: no active snapshot, or an error) exceeds
//!    its limit, the app is rolled back to the previous snapshot at once.
//!
//! Every step is logged with its figures.

use std::path::Path;
use std::time::Duration;

use super::{fidelity, ok_or, Event, Outcome, System, Verdict};
use crate::back::c;
use crate::commands::{self, Engine};
use crate::control::{AppStatus, ShadowRecord, ShadowTake};
use crate::front::onnx::FloatModel;
use crate::pipeline::Compiled;
use crate::Result;

/// How a candidate is shadowed.
#[derive(Clone, Debug, PartialEq)]
pub struct ShadowOptions {
    /// Shadow samples needed before a decision (M).
    pub samples: usize,
    /// One query in `every` per CPU is shadowed (K).
    pub every: u32,
    /// Longest wait for the samples.
    pub timeout: Duration,
    /// `None`: no canary window after promotion.
    pub canary: Option<CanaryOptions>,
}

/// The window after a promotion, and the rates that end it in a rollback.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CanaryOptions {
    /// The window (T).
    pub seconds: f64,
    /// How often the counters are read.
    pub poll: Duration,
    /// Rates over the window's queries, 0..1.
    pub max_guard_rate: f64,
    pub max_drift_rate: f64,
    pub max_fallback_rate: f64,
}

pub const DEFAULT_SHADOW_SAMPLES: usize = 64;
pub const DEFAULT_SHADOW_EVERY: u32 = 1;
pub const DEFAULT_CANARY_SECONDS: f64 = 5.0;
pub const DEFAULT_MAX_GUARD_RATE: f64 = 0.05;
pub const DEFAULT_MAX_DRIFT_RATE: f64 = 0.05;
pub const DEFAULT_MAX_FALLBACK_RATE: f64 = 0.01;

/// What the shadow samples say about a candidate.
#[derive(Clone, Debug, PartialEq)]
pub struct ShadowVerdict {
    pub samples: usize,
    /// Runs of the candidate that returned an error.
    pub errors: usize,
    /// Samples whose kernel answer differs from this machine's run.
    pub mismatches: usize,
    /// Over the samples inside the candidate's input domain (NaN: none).
    pub max_fidelity_error: f64,
    pub mean_change: f64,
    pub max_change: f64,
    /// Samples where the candidate clamped an input (drift) or an output
    /// (guardrail), from its infer() flags.
    pub drift: usize,
    pub guard: usize,
}

/// infer() flags a successful run may return (lf_kernel.h, LF_INFER_*).
const LF_INFER_DRIFT: i32 = 0x1;
const LF_INFER_GUARD: i32 = 0x2;

/// The active snapshot's output scale for a record, from the status.
fn scale_of(status: &AppStatus, uuid: u64) -> Option<i64> {
    status
        .slots
        .iter()
        .find(|s| s.uuid == uuid)
        .map(|s| s.output_scale)
}

/// Judges the candidate on its shadow records: its own answers against
/// its float model and against this machine's run of the same program,
/// and against the active snapshot's answers.
pub fn judge(
    compiled: &Compiled,
    float: &FloatModel,
    records: &[ShadowRecord],
    status: &AppStatus,
    engine: Engine,
    max_drift_rate: f64,
) -> Result<ShadowVerdict> {
    let p = &compiled.program;
    let ok: Vec<&ShadowRecord> = records.iter().filter(|r| r.shadow_error >= 0).collect();
    let fixed: Vec<Vec<i64>> = ok.iter().map(|r| r.input.clone()).collect();
    let here = commands::run_fixed(compiled, &fixed, engine)?;
    let mismatches = ok
        .iter()
        .zip(&here)
        .filter(|(r, h)| r.shadow_output != **h)
        .count();
    let is = p.input_scale as f64;
    let real_in: Vec<Vec<f64>> = fixed
        .iter()
        .map(|r| r.iter().map(|&v| v as f64 / is).collect())
        .collect();
    // The candidate's run on this machine equals the kernel's where
    // mismatches is 0; its fidelity is that of the kernel's answers then.
    // Rows outside the candidate's domain are its drift (counted from its
    // own flags below), not judged against the float model.
    let max_err = fidelity(compiled, float, &real_in, engine, max_drift_rate)?.max;
    let os = p.output_scale as f64;
    let (mut sum, mut n, mut max) = (0.0, 0usize, 0.0f64);
    for r in &ok {
        let Some(act_scale) = scale_of(status, r.uuid) else {
            continue;
        };
        for (a, b) in r.output.iter().zip(&r.shadow_output) {
            let d = (*a as f64 / act_scale as f64 - *b as f64 / os).abs();
            sum += d;
            n += 1;
            max = max.max(d);
        }
    }
    Ok(ShadowVerdict {
        samples: records.len(),
        errors: records.len() - ok.len(),
        mismatches,
        max_fidelity_error: max_err,
        mean_change: if n == 0 { f64::NAN } else { sum / n as f64 },
        max_change: max,
        drift: ok
            .iter()
            .filter(|r| r.shadow_error & LF_INFER_DRIFT != 0)
            .count(),
        guard: ok
            .iter()
            .filter(|r| r.shadow_error & LF_INFER_GUARD != 0)
            .count(),
    })
}

/// App counters the canary compares across its window.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    /// Queries asked: answered plus refused.
    pub asked: u64,
    /// Queries the client got no answer for: no active snapshot, or the
    /// snapshot returned an error.
    pub fallbacks: u64,
    /// Guardrail hits and drift of the snapshot `uuid`, when the kernel
    /// reports them.
    pub guard: Option<u64>,
    pub drift: Option<u64>,
}

impl Counters {
    pub fn of(status: &AppStatus, uuid: u64) -> Counters {
        let errors: u64 = status.slots.iter().map(|s| s.errors).sum();
        let slot = status.slots.iter().find(|s| s.uuid == uuid);
        Counters {
            asked: status.queries + status.no_active,
            fallbacks: status.no_active + errors,
            guard: slot.and_then(super::slot_guard),
            drift: slot.and_then(super::slot_drift),
        }
    }
}

/// Rates over a canary window so far.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Rates {
    pub asked: u64,
    pub fallback: f64,
    pub guard: Option<f64>,
    pub drift: Option<f64>,
}

impl Rates {
    pub fn between(a: &Counters, b: &Counters) -> Rates {
        let asked = b.asked.saturating_sub(a.asked);
        let rate = |x: u64, y: u64| {
            if asked == 0 {
                0.0
            } else {
                y.saturating_sub(x) as f64 / asked as f64
            }
        };
        let opt = |x: Option<u64>, y: Option<u64>| Some(rate(x?, y?));
        Rates {
            asked,
            fallback: rate(a.fallbacks, b.fallbacks),
            guard: opt(a.guard, b.guard),
            drift: opt(a.drift, b.drift),
        }
    }

    /// The first limit exceeded, as a reason.
    pub fn tripped(&self, c: &CanaryOptions) -> Option<String> {
        let mut checks = vec![("fallback", Some(self.fallback), c.max_fallback_rate)];
        checks.push(("guardrail", self.guard, c.max_guard_rate));
        checks.push(("drift", self.drift, c.max_drift_rate));
        checks.into_iter().find_map(|(what, v, max)| {
            let v = v?;
            (v > max).then(|| format!("{what} rate {v:.4} > {max} over {} queries", self.asked))
        })
    }
}

impl std::fmt::Display for Rates {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let opt = |v: Option<f64>| v.map_or("n/a".to_string(), |v| format!("{v:.4}"));
        write!(
            f,
            "{} queries, fallback rate {:.4}, guardrail rate {}, drift rate {}",
            self.asked,
            self.fallback,
            opt(self.guard),
            opt(self.drift)
        )
    }
}

/// The status of `app`, or an error naming it.
fn app_status(sys: &mut dyn System, app: u32) -> Result<AppStatus> {
    sys.apps()?
        .into_iter()
        .find(|a| a.app == app)
        .ok_or_else(|| crate::Error::Other(format!("app {app} is gone from lf_kernel")))
}

/// The line for a canary window that ran out without tripping. A window
/// that saw no query judged nothing: the line says so as a warning.
fn canary_kept(waited: Duration, rates: &Rates, uuid: u64, c: &CanaryOptions) -> String {
    let secs = waited.as_secs_f64();
    if rates.asked == 0 {
        return format!(
            "warning: canary: {secs:.1} s passed with no query to uuid {uuid}: \
             nothing was judged; it stays active unchecked"
        );
    }
    format!(
        "canary: {secs:.1} s passed ({rates}), limits fallback {} guardrail {} drift {}: kept",
        c.max_fallback_rate, c.max_guard_rate, c.max_drift_rate
    )
}

/// Watches a freshly promoted `uuid` for the canary window; rolls back and
/// returns the reason when a limit is exceeded.
pub fn canary(
    sys: &mut dyn System,
    app: u32,
    uuid: u64,
    c: &CanaryOptions,
    file: &str,
    log: &mut dyn FnMut(&Event<'_>),
) -> Result<Option<String>> {
    let start = Counters::of(&app_status(sys, app)?, uuid);
    let mut waited = Duration::ZERO;
    let window = Duration::from_secs_f64(c.seconds.max(0.0));
    loop {
        let step = c.poll.min(window.saturating_sub(waited));
        sys.sleep(step);
        waited += step;
        if sys.stopping() {
            log(&Event::step(
                file,
                format!(
                    "canary: interrupted after {:.1} s: uuid {uuid} stays active",
                    waited.as_secs_f64()
                ),
            ));
            return Ok(None);
        }
        let now = app_status(sys, app)?;
        let rates = Rates::between(&start, &Counters::of(&now, uuid));
        if let Some(why) = rates.tripped(c) {
            sys.rollback(app)?;
            let back = app_status(sys, app)?
                .slots
                .iter()
                .find(|s| s.active)
                .map(|s| s.uuid);
            let msg = format!(
                "canary: {why} after {:.1} s ({rates}): rolled back to uuid {}",
                waited.as_secs_f64(),
                back.map_or("none".into(), |u| u.to_string())
            );
            log(&Event::step(file, msg.clone()));
            return Ok(Some(msg));
        }
        if waited >= window {
            log(&Event::step(file, canary_kept(waited, &rates, uuid, c)));
            return Ok(None);
        }
    }
}

/// `lfc shadow --count`: the candidate's answers against the active
/// snapshot's on the same live queries, and the share of queries sampled.
#[derive(Clone, Debug, PartialEq)]
pub struct Comparison {
    pub results: usize,
    /// Results whose candidate run returned an error.
    pub errors: usize,
    /// Mean and max |candidate - active|, real output units (NaN: none).
    pub mean_change: f64,
    pub max_change: f64,
    /// What lf_kernel counted for this shadow.
    pub kernel: crate::control::ShadowStatus,
    /// App queries answered while it ran.
    pub queries: u64,
}

impl Comparison {
    /// `before`/`after`: the app's status around the shadow (`after`
    /// carries the finished shadow's counters and candidate scale).
    pub fn of(records: &[ShadowRecord], before: &AppStatus, after: &AppStatus) -> Comparison {
        let kernel = after.shadow.clone().unwrap_or_default();
        let cs = kernel.output_scale.max(1) as f64;
        let (mut sum, mut n, mut max) = (0.0, 0usize, 0.0f64);
        let mut errors = 0;
        for r in records {
            if r.shadow_error < 0 {
                errors += 1;
                continue;
            }
            let Some(scale) = scale_of(before, r.uuid).or_else(|| scale_of(after, r.uuid)) else {
                continue;
            };
            for (a, b) in r.output.iter().zip(&r.shadow_output) {
                let d = (*a as f64 / scale as f64 - *b as f64 / cs).abs();
                sum += d;
                n += 1;
                max = max.max(d);
            }
        }
        Comparison {
            results: records.len(),
            errors,
            mean_change: if n == 0 { f64::NAN } else { sum / n as f64 },
            max_change: max,
            kernel,
            queries: after.queries.saturating_sub(before.queries),
        }
    }
}

impl std::fmt::Display for Comparison {
    /// `64 results, mean |candidate - active| 0.0123, max 0.0456, errors 0;
    /// lf_kernel: 64 sampled of 256 queries (25.0 %), 64 run, 0 dropped, 0 unsent`
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let k = &self.kernel;
        write!(
            f,
            "{} results, mean |candidate - active| {:.6}, max {:.6}, errors {}; lf_kernel: {}, {} run, {} errors, {} dropped, {} unsent",
            self.results,
            self.mean_change,
            self.max_change,
            self.errors,
            share_of(k.sampled, self.queries),
            k.run,
            k.errors,
            k.dropped,
            k.unsent
        )
    }
}

fn share_of(sampled: u64, queries: u64) -> String {
    if queries == 0 {
        format!("{sampled} sampled of 0 queries")
    } else {
        format!(
            "{sampled} sampled of {queries} queries ({:.1} %)",
            100.0 * sampled as f64 / queries as f64
        )
    }
}

/// The share of the app's queries the shadow sampled, for the log.
fn share(sampled: u64, before: &AppStatus, after: &AppStatus) -> String {
    share_of(sampled, after.queries.saturating_sub(before.queries))
}

/// Stages `ko`, shadows it and judges it; `Ok(Err(reason))` rejects it.
#[allow(clippy::too_many_arguments)]
pub(super) fn stage_and_judge(
    sys: &mut dyn System,
    so: &ShadowOptions,
    compiled: &Compiled,
    path: &Path,
    ko: &Path,
    engine: Engine,
    out: &mut Outcome,
    criteria: &super::Criteria,
    log: &mut dyn FnMut(&Event<'_>),
) -> Result<std::result::Result<(), String>> {
    let app = compiled.meta.app;
    let uuid = compiled.meta.uuid;
    let name = out.file.clone();
    sys.set_staging(app, true)?;
    let loaded = sys.load(ko);
    sys.set_staging(app, false)?;
    if let Err(e) = loaded {
        return Ok(Err(format!("loading {}: {e}", ko.display())));
    }
    log(&Event::step(
        &name,
        format!(
            "staged {} (loaded, in no slot); shadowing 1 query in {} per CPU until {} samples",
            c::stem(uuid),
            so.every,
            so.samples
        ),
    ));
    let before = app_status(sys, app)?;
    let take: ShadowTake = sys.shadow(app, uuid, so.every, so.samples, so.timeout)?;
    let after = app_status(sys, app)?;
    let sh = after.shadow.clone().unwrap_or_default();
    log(&Event::step(
        &name,
        format!(
            "shadow: {} results received, {}; kernel: {} run, {} errors, {} dropped, {} unsent; {} malformed, {} overruns",
            take.records.len(),
            share(sh.sampled, &before, &after),
            sh.run,
            sh.errors,
            sh.dropped,
            sh.unsent,
            take.malformed,
            take.overruns
        ),
    ));
    if take.records.len() < so.samples {
        return Ok(Err(format!(
            "only {} of {} shadow samples arrived within {:.1} s",
            take.records.len(),
            so.samples,
            so.timeout.as_secs_f64()
        )));
    }
    let float = match FloatModel::load(path) {
        Ok(f) => f,
        Err(e) => return Ok(Err(format!("float model: {e}"))),
    };
    let v = match judge(
        compiled,
        &float,
        &take.records,
        &before,
        engine,
        criteria.max_drift_rate,
    ) {
        Ok(v) => v,
        Err(e) => return Ok(Err(format!("judging the shadow samples: {e}"))),
    };
    out.fidelity = Some((v.max_fidelity_error, criteria.max_fidelity_error));
    out.stability = Some((Some(v.mean_change), criteria.max_output_change));
    log(&Event::step(
        &name,
        format!(
            "shadow verdict on {} live samples: kernel == {} on {} of {}, errors {}, fidelity max {:.6} (<= {}) {}, stability mean |candidate - active| {:.6} (<= {}) {} (max {:.6}), drift {} guardrail {}",
            v.samples,
            engine_name(engine),
            v.samples - v.errors - v.mismatches,
            v.samples - v.errors,
            v.errors,
            v.max_fidelity_error,
            criteria.max_fidelity_error,
            ok_or(v.max_fidelity_error, criteria.max_fidelity_error),
            v.mean_change,
            criteria.max_output_change,
            ok_or(v.mean_change, criteria.max_output_change),
            v.max_change,
            v.drift,
            v.guard
        ),
    ));
    Ok(shadow_reason(&v, criteria))
}

fn engine_name(e: Engine) -> &'static str {
    match e {
        Engine::C => "userspace C",
        Engine::Rust => "userspace Rust",
        Engine::Interp => "interpreter",
    }
}

/// Why the shadow verdict rejects, if it does (a NaN figure rejects).
#[allow(clippy::neg_cmp_op_on_partial_ord)]
pub fn shadow_reason(v: &ShadowVerdict, c: &super::Criteria) -> std::result::Result<(), String> {
    if v.errors > 0 {
        return Err(format!(
            "the candidate failed {} of {} shadow runs",
            v.errors, v.samples
        ));
    }
    if v.mismatches > 0 {
        return Err(format!(
            "the kernel's answers differ from this machine's on {} of {} samples",
            v.mismatches, v.samples
        ));
    }
    if v.max_fidelity_error.is_nan() && v.drift == v.samples - v.errors {
        return Err(format!(
            "fidelity not measurable: all {} live samples have an input outside the candidate's input domain (drift)",
            v.drift
        ));
    }
    if !(v.max_fidelity_error <= c.max_fidelity_error) {
        return Err(format!(
            "fidelity error {:.6} on live samples exceeds {}",
            v.max_fidelity_error, c.max_fidelity_error
        ));
    }
    if !(v.mean_change <= c.max_output_change) {
        return Err(format!(
            "mean output change {:.6} against the active snapshot on live samples exceeds {}",
            v.mean_change, c.max_output_change
        ));
    }
    Ok(())
}

/// Promotes a shadowed candidate, runs the canary; the verdict.
#[allow(clippy::too_many_arguments)]
pub(super) fn promote(
    sys: &mut dyn System,
    so: &ShadowOptions,
    app: u32,
    uuid: u64,
    module: String,
    ko: std::path::PathBuf,
    name: &str,
    log: &mut dyn FnMut(&Event<'_>),
) -> Result<Verdict> {
    sys.activate(app, uuid)?;
    let st = app_status(sys, app)?;
    let standby = st.slots.iter().find(|s| !s.active).map(|s| s.uuid);
    log(&Event::step(
        name,
        format!(
            "promoted uuid {uuid} (active), standby uuid {}",
            standby.map_or("none".into(), |u| u.to_string())
        ),
    ));
    if let Some(c) = &so.canary {
        if let Some(why) = canary(sys, app, uuid, c, name, log)? {
            return Ok(Verdict::Rejected(format!("promoted, then {why}")));
        }
    }
    Ok(Verdict::Installed {
        module,
        ko,
        standby,
        unloaded: Vec::new(),
    })
}
