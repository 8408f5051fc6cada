//! The real [`System`]: lf_kernel over generic netlink, `/proc/modules`,
//! kbuild (or prebuilt modules), and the `finit_module` / `delete_module`
//! system calls (no insmod/rmmod binaries needed).

use std::ffi::CString;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use super::System;
use crate::back::c;
use crate::control::{self, AppStatus, Client, CollectLimit, InferReply, RecordSet, ShadowTake};
use crate::error::Error;
use crate::pipeline::Compiled;
use crate::Result;

pub struct RealSystem {
    pub client: Client,
    /// Kernel build directory for `.ko` builds (default: the running kernel's).
    pub kdir: Option<PathBuf>,
    /// Take `lf_model_<uuid>.ko` from
    /// here instead of building (for machines without kernel headers); it
    /// must carry this compile's digest and uuid in its modinfo.
    pub prebuilt: Option<PathBuf>,
    /// Longest wait for `--samples` live records.
    pub samples_timeout: Duration,
    pub stop: Option<&'static AtomicBool>,
    /// Sign built modules with this key (not prebuilt ones: those are
    /// loaded as they are).
    pub sign: Option<crate::kbuild::sign::SigningKey>,
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

fn os_err(what: String, e: std::io::Error) -> Error {
    Error::Other(format!("{what}: {e}"))
}

impl System for RealSystem {
    fn apps(&mut self) -> Result<Vec<AppStatus>> {
        self.client.apps()
    }

    fn loaded_modules(&mut self) -> Result<Vec<String>> {
        let text =
            std::fs::read_to_string("/proc/modules").map_err(|e| Error::io("/proc/modules", e))?;
        Ok(text
            .lines()
            .filter_map(|l| l.split_whitespace().next())
            .map(str::to_string)
            .collect())
    }

    fn infer(&mut self, app: u32, input: &[i64]) -> Result<InferReply> {
        self.client.infer(app, input)
    }

    fn collect(&mut self, app: u32, count: usize) -> Result<RecordSet> {
        let mut stream = self.client.subscribe_records()?;
        let limit = CollectLimit {
            count: Some(count),
            duration: Some(self.samples_timeout),
        };
        let got = control::collect(&mut self.client, &mut stream, app, limit, self.stop)?;
        match got.failed {
            Some(e) => Err(crate::Error::Other(format!("collecting records: {e}"))),
            None => Ok(got.set),
        }
    }

    fn build_ko(&mut self, compiled: &Compiled, out: &Path) -> Result<PathBuf> {
        let stem = c::stem(compiled.meta.uuid);
        if let Some(dir) = &self.prebuilt {
            // lf_model_<uuid>.ko: the module's own name.
            let ko = dir.join(format!("{stem}.ko"));
            let bytes = std::fs::read(&ko).map_err(|e| Error::io(&ko, e))?;
            let digest = format!("digest={}\0", compiled.meta.digest);
            let uuid = format!("uuid={}\0", compiled.meta.uuid);
            if !contains(&bytes, digest.as_bytes()) || !contains(&bytes, uuid.as_bytes()) {
                return Err(Error::Other(format!(
                    "prebuilt {} is not this candidate (its modinfo lacks digest {} or uuid {}): \
                     build it with the same model and compile options",
                    ko.display(),
                    compiled.meta.digest,
                    compiled.meta.uuid
                )));
            }
            return Ok(ko);
        }
        let module = compiled.emit_c()?;
        crate::kbuild::build_ko_signed(&module, out, self.kdir.as_deref(), self.sign.as_ref())
    }

    fn load(&mut self, ko: &Path) -> Result<()> {
        let f = std::fs::File::open(ko).map_err(|e| Error::io(ko, e))?;
        let params = CString::default();
        // SAFETY: a valid open fd, a NUL-terminated empty parameter string.
        let rc = unsafe {
            libc::syscall(
                libc::SYS_finit_module,
                f.as_raw_fd(),
                params.as_ptr(),
                0 as libc::c_int,
            )
        };
        if rc != 0 {
            return Err(os_err(
                format!("finit_module {}", ko.display()),
                std::io::Error::last_os_error(),
            ));
        }
        Ok(())
    }

    fn set_staging(&mut self, app: u32, on: bool) -> Result<()> {
        self.client.set_staging(app, on)
    }

    fn shadow(
        &mut self,
        app: u32,
        uuid: u64,
        every: u32,
        count: usize,
        timeout: Duration,
    ) -> Result<ShadowTake> {
        // Subscribed before the shadow starts, so no result is missed.
        let mut stream = self.client.subscribe_shadow()?;
        self.client.shadow_start(app, uuid, every)?;
        let got = stream.take(app, uuid, count, timeout, self.stop);
        let stopped = self.client.shadow_stop(app);
        let got = got?;
        stopped?;
        Ok(got)
    }

    fn activate(&mut self, app: u32, uuid: u64) -> Result<()> {
        self.client.activate(app, uuid)
    }

    fn rollback(&mut self, app: u32) -> Result<()> {
        self.client.rollback(app)
    }

    fn sleep(&mut self, d: Duration) {
        // In short steps, so SIGTERM/Ctrl-C is seen.
        let end = std::time::Instant::now() + d;
        while let Some(left) = end.checked_duration_since(std::time::Instant::now()) {
            if left.is_zero() || self.stop.is_some_and(|s| s.load(Ordering::Relaxed)) {
                break;
            }
            std::thread::sleep(left.min(Duration::from_millis(100)));
        }
    }

    fn stopping(&self) -> bool {
        self.stop.is_some_and(|s| s.load(Ordering::Relaxed))
    }

    fn unload(&mut self, module: &str) -> Result<()> {
        let name = CString::new(module)
            .map_err(|_| Error::Other(format!("module name `{module}` has a NUL byte")))?;
        // SAFETY: a NUL-terminated module name; O_NONBLOCK fails instead of
        // waiting for a module still in use.
        let rc = unsafe {
            libc::syscall(
                libc::SYS_delete_module,
                name.as_ptr(),
                libc::O_NONBLOCK as libc::c_uint,
            )
        };
        if rc != 0 {
            return Err(os_err(
                format!("delete_module {module}"),
                std::io::Error::last_os_error(),
            ));
        }
        Ok(())
    }
}
