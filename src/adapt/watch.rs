//! `lfc adapt --watch` as a daemon: polls for hours and keeps going.
//!
//! - lf_kernel unloaded (or reloaded, which gives the family a new id):
//!   the error is logged, the connection dropped, and a new one tried every
//!   `retry` until lf_kernel is back; the candidate being judged is judged
//!   again then (a file that hits kernel trouble [`MAX_KERNEL_TRIES`] times
//!   is rejected with the error, so one bad file cannot wedge the loop).
//! - Malformed files are rejected by the compiler, half-written ones wait
//!   until two polls see the same size and mtime, removed ones are rejected
//!   (or never seen): see [`super::Adapter::scan`].
//! - A full disk: the state file is written atomically (temporary file,
//!   then rename), so a failed write leaves the previous state whole; the
//!   error is logged and the write retried at the next change.
//! - SIGTERM or SIGINT: the flag from [`stop_flag`] is raised, the current
//!   step ends (a shadow stops early, a candidate interrupted before its
//!   verdict is unloaded and judged again at the next start), the state is
//!   saved, and [`run`] returns.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use super::{Adapter, Event, System};
use crate::Result;

/// Errors on one file before it is rejected with the last of them.
pub const MAX_KERNEL_TRIES: u32 = 3;

static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: libc::c_int) {
    STOP.store(true, Ordering::Relaxed);
}

/// Installs SIGTERM and SIGINT handlers that only raise the returned flag.
/// A second signal kills the process as usual.
pub fn stop_flag() -> &'static AtomicBool {
    // SAFETY: the handler only stores to an atomic (async-signal-safe);
    // SA_RESETHAND restores the default action for a second signal.
    unsafe {
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = on_signal as extern "C" fn(libc::c_int) as usize;
        sa.sa_flags = libc::SA_RESETHAND;
        libc::sigemptyset(&mut sa.sa_mask);
        libc::sigaction(libc::SIGTERM, &sa, std::ptr::null_mut());
        libc::sigaction(libc::SIGINT, &sa, std::ptr::null_mut());
    }
    &STOP
}

/// How the daemon paces itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WatchOptions {
    /// Between two scans of the directory.
    pub poll: Duration,
    /// Between two attempts to reach lf_kernel.
    pub retry: Duration,
}

impl Default for WatchOptions {
    fn default() -> Self {
        WatchOptions {
            poll: Duration::from_secs(1),
            retry: Duration::from_secs(2),
        }
    }
}

/// What the daemon reports besides candidate events.
pub trait Notices {
    /// `event` is a short tag (`watching`, `kernel-lost`, `kernel-back`,
    /// `error`, `stopped`), `text` the line for people.
    fn notice(&mut self, event: &str, text: String);
}

impl<F: FnMut(&str, String)> Notices for F {
    fn notice(&mut self, event: &str, text: String) {
        self(event, text)
    }
}

/// Sleeps `d` in short steps; false if `stop` was raised.
fn nap(d: Duration, stop: &AtomicBool) -> bool {
    let step = Duration::from_millis(100);
    let mut left = d;
    while !left.is_zero() {
        if stop.load(Ordering::Relaxed) {
            return false;
        }
        let s = left.min(step);
        std::thread::sleep(s);
        left -= s;
    }
    !stop.load(Ordering::Relaxed)
}

/// Runs until `stop` is raised. `connect` makes a [`System`] (a fresh
/// netlink connection); it is called again after any kernel error.
pub fn run(
    adapter: &mut Adapter,
    connect: &mut dyn FnMut() -> Result<Box<dyn System>>,
    opts: WatchOptions,
    stop: &AtomicBool,
    log: &mut dyn FnMut(&Event<'_>),
    notices: &mut dyn Notices,
) {
    let mut sys: Option<Box<dyn System>> = None;
    let mut lost: Option<String> = None;
    while !stop.load(Ordering::Relaxed) {
        let s = match sys.as_mut() {
            Some(s) => s,
            None => match connect() {
                Ok(s) => {
                    if lost.take().is_some() {
                        notices.notice("kernel-back", "adapt: lf_kernel is back".into());
                    }
                    sys.insert(s)
                }
                Err(e) => {
                    let e = e.to_string();
                    if lost.as_deref() != Some(e.as_str()) {
                        notices.notice(
                            "kernel-lost",
                            format!(
                                "adapt: lf_kernel unreachable: {e}; retrying every {:.1} s",
                                opts.retry.as_secs_f64()
                            ),
                        );
                        lost = Some(e);
                    }
                    nap(opts.retry, stop);
                    continue;
                }
            },
        };
        match adapter.poll_resilient(s.as_mut(), true, log) {
            Ok(_) => {
                nap(opts.poll, stop);
            }
            Err(e) if stop.load(Ordering::Relaxed) => {
                notices.notice("error", format!("adapt: interrupted: {e}"));
            }
            Err(e) => {
                notices.notice(
                    "error",
                    format!(
                        "adapt: error: {e}; reconnecting in {:.1} s",
                        opts.retry.as_secs_f64()
                    ),
                );
                sys = None;
                lost = Some(String::new());
                nap(opts.retry, stop);
            }
        }
    }
    if let Err(e) = adapter.save_state() {
        notices.notice("error", format!("adapt: state not saved at exit: {e}"));
    }
    notices.notice("stopped", "adapt: stopped".into());
}
