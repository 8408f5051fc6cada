//! Building `.ko` files: runs kbuild for an emitted snapshot tree against a
//! kernel build directory, after building (or reusing) lf_kernel for that
//! same kernel so the snapshot links against its `Module.symvers`.
//!
//! lf_kernel's sources are embedded in the binary (see build.rs), so this
//! works from an installed `lfc` without a checkout. Built runtimes are
//! cached per kernel tree and source digest under `$LFC_CACHE`
//! (default `$XDG_CACHE_HOME/lfc` or `~/.cache/lfc`).

use std::path::{Path, PathBuf};
use std::process::Command;

use sha2::{Digest, Sha256};

use crate::back::c::CModule;
use crate::error::Error;
use crate::fsutil::OwnedTempDir;
use crate::Result;

pub mod rust;
pub mod sign;

include!(concat!(env!("OUT_DIR"), "/runtime_files.rs"));

/// The default kernel build directory: the running kernel's.
pub fn default_kdir() -> PathBuf {
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_string())
        .unwrap_or_default();
    PathBuf::from(format!("/lib/modules/{release}/build"))
}

fn check_kdir(kdir: &Path) -> Result<()> {
    if kdir.join("Makefile").is_file() {
        return Ok(());
    }
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_string())
        .unwrap_or_default();
    Err(Error::Build {
        tool: "kbuild".into(),
        output: format!(
            "kernel build directory {} not found (no Makefile there).\n\
             Install the headers of the kernel you build for (for the running one: \
             `apt-get install linux-headers-{release}`), or pass --kdir \
             /usr/src/linux-headers-<version>.",
            kdir.display()
        ),
    })
}

fn cache_root() -> PathBuf {
    if let Some(p) = std::env::var_os("LFC_CACHE") {
        return PathBuf::from(p);
    }
    if let Some(p) = std::env::var_os("XDG_CACHE_HOME") {
        return PathBuf::from(p).join("lfc");
    }
    match std::env::var_os("HOME") {
        Some(h) => PathBuf::from(h).join(".cache/lfc"),
        None => std::env::temp_dir().join("lfc-cache"),
    }
}

/// Runs make; on success, its stdout and stderr (kbuild's warnings).
fn run_make(dir: &Path, args: &[String]) -> Result<String> {
    let out = Command::new("make")
        .args(args)
        .current_dir(dir)
        .output()
        .map_err(|e| Error::Build {
            tool: "make".into(),
            output: format!("cannot run make: {e} (apt-get install build-essential)"),
        })?;
    let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&out.stderr));
    if !out.status.success() {
        // "exit status: 2", or "signal: 9 (SIGKILL)" when make was killed.
        text.push_str(&format!("make ended with {}\n", out.status));
        return Err(Error::Build {
            tool: format!("kbuild (make {})", args.join(" ")),
            output: text,
        });
    }
    Ok(text)
}

/// Builds lf_kernel for `kdir` (or reuses a cached build) and returns its
/// tree: `include/` and `Module.symvers` are there.
pub fn runtime_for(kdir: &Path) -> Result<PathBuf> {
    check_kdir(kdir)?;
    let kdir = kdir.canonicalize().map_err(|e| Error::io(kdir, e))?;
    let mut h = Sha256::new();
    h.update(kdir.to_string_lossy().as_bytes());
    for (name, text) in RUNTIME_FILES {
        h.update(name.as_bytes());
        h.update(text.as_bytes());
    }
    let tag: String = h
        .finalize()
        .iter()
        .take(8)
        .map(|b| format!("{b:02x}"))
        .collect();
    let dir = cache_root().join(format!("runtime-{tag}"));
    match stamp_of(&dir) {
        Some(s) if std::fs::read_to_string(dir.join(STAMP)).ok().as_deref() == Some(&s) => {
            return Ok(dir)
        }
        // An entry whose files do not match its stamp (or without one) is
        // not trusted: it is moved aside and rebuilt.
        _ if dir.exists() => discard(&dir)?,
        _ => {}
    }
    // Build in a temporary sibling, then rename: a failed or concurrent
    // build never leaves a half-built cache entry.
    let parent = dir.parent().unwrap().to_path_buf();
    std::fs::create_dir_all(&parent).map_err(|e| Error::io(&parent, e))?;
    // (Abandoned ones, of an lfc killed midway, are removed first.)
    let tmp = OwnedTempDir::new_in(&parent, ".runtime-")?;
    for (name, text) in RUNTIME_FILES {
        let p = tmp.path().join(name);
        std::fs::create_dir_all(p.parent().unwrap()).map_err(|e| Error::io(&p, e))?;
        std::fs::write(&p, text).map_err(|e| Error::io(&p, e))?;
    }
    run_make(
        tmp.path(),
        &[
            "-C".into(),
            kdir.to_string_lossy().into_owned(),
            format!("M={}", tmp.path().display()),
            "modules".into(),
        ],
    )?;
    let stamp = stamp_of(tmp.path()).ok_or_else(|| Error::Build {
        tool: "kbuild".into(),
        output: format!(
            "building lf_kernel in {} succeeded but left no lf_kernel.ko and Module.symvers",
            tmp.path().display()
        ),
    })?;
    let p = tmp.path().join(STAMP);
    std::fs::write(&p, &stamp).map_err(|e| Error::io(&p, e))?;
    let built = tmp.keep();
    match std::fs::rename(&built, &dir) {
        Ok(()) => Ok(dir),
        // Another lfc won the race: use its build.
        Err(_) if dir.join(STAMP).is_file() => {
            let _ = std::fs::remove_dir_all(&built);
            Ok(dir)
        }
        Err(e) => {
            let _ = std::fs::remove_dir_all(&built);
            Err(Error::io(&dir, e))
        }
    }
}

/// Written last into a runtime cache entry: the SHA-256 of its
/// `lf_kernel.ko` and `Module.symvers`. An entry is used only when the
/// stamp matches the files (a build killed midway, a full disk or a
/// truncated file make an entry without a matching stamp).
const STAMP: &str = ".lfc-complete";

fn stamp_of(dir: &Path) -> Option<String> {
    let mut h = Sha256::new();
    for name in ["lf_kernel.ko", "Module.symvers"] {
        let bytes = std::fs::read(dir.join(name)).ok()?;
        if bytes.is_empty() {
            return None;
        }
        h.update(name.as_bytes());
        h.update((bytes.len() as u64).to_le_bytes());
        h.update(&bytes);
    }
    Some(h.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

/// Moves a bad cache entry aside (atomically, so a concurrent lfc never
/// sees it half-deleted), then deletes it.
fn discard(dir: &Path) -> Result<()> {
    let parent = dir.parent().unwrap_or(Path::new("."));
    let trash = OwnedTempDir::new_in(parent, ".discarded-")?;
    let to = trash.path().join("entry");
    match std::fs::rename(dir, &to) {
        Ok(()) => Ok(()),
        Err(_) if !dir.exists() => Ok(()), // another lfc moved it first
        Err(e) => Err(Error::io(dir, e)),
    }
}

/// Builds `module` into `out` (a `.ko` path) for `kdir` (default: the
/// running kernel's). Nothing is left at `out` on failure.
pub fn build_ko(module: &CModule, out: &Path, kdir: Option<&Path>) -> Result<PathBuf> {
    build_ko_signed(module, out, kdir, None)
}

/// [`build_ko`], then (with `sign`) signs the module with the kernel
/// tree's `scripts/sign-file` before it is moved to `out`: an unsigned or
/// half-signed module never appears there.
pub fn build_ko_signed(
    module: &CModule,
    out: &Path,
    kdir: Option<&Path>,
    sign: Option<&sign::SigningKey>,
) -> Result<PathBuf> {
    let files = vec![
        (
            format!("{}.c", module.stem),
            module.source.as_bytes().to_vec(),
        ),
        ("Kbuild".to_string(), module.kbuild.as_bytes().to_vec()),
        ("Makefile".to_string(), module.makefile.as_bytes().to_vec()),
    ];
    build_tree(&module.stem, &files, out, kdir, sign).map(|(ko, _)| ko)
}

/// Writes `files` into a temporary directory beside `out`, runs kbuild
/// there for `kdir` against lf_kernel's build, signs `<stem>.ko` (with
/// `sign`) and moves it to `out`. Returns `out` and kbuild's output.
fn build_tree(
    stem: &str,
    files: &[(String, Vec<u8>)],
    out: &Path,
    kdir: Option<&Path>,
    sign: Option<&sign::SigningKey>,
) -> Result<(PathBuf, String)> {
    if let Some(key) = sign {
        key.check()?;
    }
    let kdir = kdir.map(Path::to_path_buf).unwrap_or_else(default_kdir);
    let runtime = runtime_for(&kdir)?;
    let parent = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let tmp = OwnedTempDir::new_in(&parent, ".lfc-kbuild-")?;
    for (name, bytes) in files {
        let p = tmp.path().join(name);
        std::fs::write(&p, bytes).map_err(|e| Error::io(&p, e))?;
    }
    let kdir = kdir.canonicalize().map_err(|e| Error::io(&kdir, e))?;
    let log = run_make(
        tmp.path(),
        &[
            "-C".into(),
            kdir.to_string_lossy().into_owned(),
            format!("M={}", tmp.path().display()),
            format!("LF_RUNTIME={}", runtime.display()),
            format!("KBUILD_EXTRA_SYMBOLS={}/Module.symvers", runtime.display()),
            "modules".into(),
        ],
    )?;
    let ko = tmp.path().join(format!("{stem}.ko"));
    if !ko.is_file() {
        return Err(Error::Build {
            tool: "kbuild".into(),
            output: format!("kbuild succeeded but produced no {}", ko.display()),
        });
    }
    if let Some(key) = sign {
        sign::sign_module(&kdir, key, &ko)?;
    }
    std::fs::rename(&ko, out).map_err(|e| Error::io(out, e))?;
    Ok((out.to_path_buf(), log))
}
