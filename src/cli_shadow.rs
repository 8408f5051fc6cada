//! Arguments of `lfc shadow` and of `lfc adapt --shadow`/`--watch`
//! (parsing and printing only; the work is in `lfc::adapt::shadow`,
//! `lfc::adapt::watch` and `lfc::control::shadow`).

use std::time::Duration;

use clap::{Args, ValueEnum};

use lfc::adapt::shadow::{self as sh, CanaryOptions, ShadowOptions};
use lfc::{control, Error, Result};

#[derive(Clone, Copy, ValueEnum)]
pub enum OnOff {
    On,
    Off,
}

/// `lfc shadow`.
#[derive(Args, Clone)]
pub struct ShadowArgs {
    #[arg(long)]
    app: u32,
    /// The loaded, non-active snapshot to shadow (decimal or 0x-hex).
    #[arg(long, required_unless_present_any = ["off", "stage"])]
    uuid: Option<String>,
    /// Shadow one query in K per CPU.
    #[arg(long, value_name = "K", default_value_t = sh::DEFAULT_SHADOW_EVERY)]
    every: u32,
    /// Wait for N results, print their comparison, then stop the shadow.
    #[arg(long, value_name = "N")]
    count: Option<usize>,
    /// Longest wait for --count results, seconds.
    #[arg(long, default_value_t = 30.0)]
    seconds: f64,
    /// Stop the app's shadow.
    #[arg(long, conflicts_with_all = ["uuid", "count", "stage"])]
    off: bool,
    /// Staging: while on, snapshots loaded for the app go into no slot
    /// (loaded, answering nothing) until shadowed or activated by uuid.
    #[arg(long, value_enum, conflicts_with_all = ["uuid", "count"])]
    stage: Option<OnOff>,
}

fn seconds(option: &str, s: f64) -> Result<Duration> {
    Duration::try_from_secs_f64(s)
        .map_err(|_| Error::option(option, format!("`{s}` is not a number of seconds")))
}

pub fn shadow(a: ShadowArgs) -> Result<()> {
    let mut c = control::Client::connect()?;
    let app = a.app;
    if a.off {
        c.shadow_stop(app)?;
        println!("app {app}: shadow off");
        return Ok(());
    }
    if let Some(s) = a.stage {
        let on = matches!(s, OnOff::On);
        c.set_staging(app, on)?;
        println!("app {app}: staging {}", if on { "on" } else { "off" });
        return Ok(());
    }
    let uuid = control::parse_uuid(a.uuid.as_deref().unwrap_or_default())?;
    let Some(count) = a.count else {
        c.shadow_start(app, uuid, a.every)?;
        println!(
            "app {app}: uuid {uuid} shadows 1 query in {} per CPU",
            a.every
        );
        return Ok(());
    };
    let timeout = seconds("--seconds", a.seconds)?;
    let stop = control::interrupt_flag();
    let before = find(&mut c, app)?;
    let mut stream = c.subscribe_shadow()?;
    c.shadow_start(app, uuid, a.every)?;
    let got = stream.take(app, uuid, count, timeout, Some(stop));
    let stopped = c.shadow_stop(app);
    let got = got?;
    stopped?;
    let after = find(&mut c, app)?;
    let cmp = sh::Comparison::of(&got.records, &before, &after);
    println!("app {app}: shadow of uuid {uuid}: {cmp}");
    if got.malformed > 0 {
        eprintln!(
            "lfc: warning: {} malformed shadow messages skipped; first: {}",
            got.malformed,
            got.first_malformed.unwrap_or_default()
        );
    }
    if got.overruns > 0 {
        eprintln!(
            "lfc: warning: {} receive-buffer overruns: shadow results lost in userspace",
            got.overruns
        );
    }
    if got.records.len() < count {
        return Err(Error::Other(format!(
            "only {} of {count} shadow results arrived within {} s",
            got.records.len(),
            a.seconds
        )));
    }
    Ok(())
}

fn find(c: &mut control::Client, app: u32) -> Result<control::AppStatus> {
    c.apps()?
        .into_iter()
        .find(|s| s.app == app)
        .ok_or_else(|| Error::Other(format!("lf_kernel has no app {app}")))
}

/// The `lfc adapt` options of shadow evaluation and the canary.
#[derive(Args, Clone)]
pub struct AdaptShadowArgs {
    /// Judge each candidate in the kernel on live queries: load it staged
    /// (in no slot), shadow it, promote it only if its live samples pass.
    #[arg(long)]
    shadow: bool,
    /// Shadow samples a candidate must pass (M).
    #[arg(long, value_name = "M", default_value_t = sh::DEFAULT_SHADOW_SAMPLES)]
    shadow_samples: usize,
    /// Shadow one query in K per CPU.
    #[arg(long, value_name = "K", default_value_t = sh::DEFAULT_SHADOW_EVERY)]
    shadow_every: u32,
    /// Longest wait for the shadow samples, seconds.
    #[arg(long, default_value_t = 30.0)]
    shadow_timeout: f64,
    /// Canary window after a promotion, seconds (0: none).
    #[arg(long, value_name = "T", default_value_t = sh::DEFAULT_CANARY_SECONDS)]
    canary_seconds: f64,
    /// Roll back if more than this share of the window's queries hit the
    /// guardrail.
    #[arg(long, default_value_t = sh::DEFAULT_MAX_GUARD_RATE)]
    max_guard_rate: f64,
    /// Roll back if more than this share had an input outside the domain;
    /// also the share of a candidate's samples that may lie outside its
    /// domain and be left out of its fidelity (above it they count too).
    #[arg(long, default_value_t = sh::DEFAULT_MAX_DRIFT_RATE)]
    max_drift_rate: f64,
    /// Roll back if more than this share got no answer (no active snapshot,
    /// or an error): the client fell back.
    #[arg(long, default_value_t = sh::DEFAULT_MAX_FALLBACK_RATE)]
    max_fallback_rate: f64,
}

impl AdaptShadowArgs {
    pub fn enabled(&self) -> bool {
        self.shadow
    }

    /// `--max-drift-rate`: the canary's limit, and the share of samples a
    /// candidate's fidelity may leave out as drift.
    pub fn max_drift_rate(&self) -> Result<f64> {
        let v = self.max_drift_rate;
        if !(0.0..=1.0).contains(&v) {
            return Err(Error::option(
                "--max-drift-rate",
                format!("`{v}` is not a rate in 0..1"),
            ));
        }
        Ok(v)
    }

    pub fn options(&self) -> Result<Option<ShadowOptions>> {
        if !self.shadow {
            return Ok(None);
        }
        if self.shadow_samples == 0 || self.shadow_every == 0 {
            return Err(Error::option(
                "--shadow-samples/--shadow-every",
                "must be at least 1",
            ));
        }
        for (o, v) in [
            ("--max-guard-rate", self.max_guard_rate),
            ("--max-drift-rate", self.max_drift_rate),
            ("--max-fallback-rate", self.max_fallback_rate),
        ] {
            if !(0.0..=1.0).contains(&v) {
                return Err(Error::option(o, format!("`{v}` is not a rate in 0..1")));
            }
        }
        let canary = (self.canary_seconds > 0.0).then_some(CanaryOptions {
            seconds: self.canary_seconds,
            poll: Duration::from_millis(500),
            max_guard_rate: self.max_guard_rate,
            max_drift_rate: self.max_drift_rate,
            max_fallback_rate: self.max_fallback_rate,
        });
        if canary.is_some() {
            seconds("--canary-seconds", self.canary_seconds)?;
        }
        Ok(Some(ShadowOptions {
            samples: self.shadow_samples,
            every: self.shadow_every,
            timeout: seconds("--shadow-timeout", self.shadow_timeout)?,
            canary,
        }))
    }
}
