//! Files and directories written so that a failure (an error, a full disk,
//! lfc killed with SIGKILL) never leaves a half-written result behind:
//! atomic file writes, and temporary working directories that the next
//! lfc run removes if their owner died.
//!
//! An owned temporary directory holds `.lfc-owner`, a file its process
//! keeps `flock`ed for the directory's life. The kernel drops the lock when
//! the process ends, however it ends, so a directory whose lock can be
//! taken belongs to nobody. The lock file is created under another name
//! and renamed into place once locked: `.lfc-owner` is never there
//! unlocked while its owner lives. A directory without it (its owner died
//! in that window, or an older lfc made it) is removed once it is older
//! than [`UNOWNED_AGE`].

use std::fs::File;
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::error::Error;
use crate::Result;

/// The lock file inside an owned temporary directory.
const OWNER: &str = ".lfc-owner";

/// How old a temporary directory without an owner file must be before it
/// counts as abandoned.
pub const UNOWNED_AGE: Duration = Duration::from_secs(3600);

/// Writes `bytes` to `path` atomically (a temporary sibling renamed into
/// place). The file gets the mode any new file gets (0666 less the umask),
/// not the temporary file's 0600.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    use std::os::unix::fs::PermissionsExt;
    let parent = parent_of(path);
    let mut f = tempfile::Builder::new()
        .permissions(std::fs::Permissions::from_mode(0o666))
        .tempfile_in(&parent)
        .map_err(|e| Error::io(path, e))?;
    f.write_all(bytes).map_err(|e| Error::io(path, e))?;
    f.persist(path).map_err(|e| Error::io(path, e.error))?;
    Ok(())
}

/// The directory `path` is in (`.` for a bare file name).
pub fn parent_of(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// A temporary directory owned by this process (see the module doc),
/// deleted on drop unless [`OwnedTempDir::keep`] is called.
pub struct OwnedTempDir {
    dir: tempfile::TempDir,
    _lock: File,
}

impl OwnedTempDir {
    /// Removes the abandoned `prefix*` directories in `parent`, then
    /// creates and locks a new one there.
    pub fn new_in(parent: &Path, prefix: &str) -> Result<OwnedTempDir> {
        sweep_stale(parent, prefix);
        let dir = tempfile::Builder::new()
            .prefix(prefix)
            .tempdir_in(parent)
            .map_err(|e| Error::io(parent, e))?;
        let pending = dir.path().join(".lfc-owner.new");
        let lock = File::create(&pending).map_err(|e| Error::io(&pending, e))?;
        if !try_lock(&lock) {
            return Err(Error::io(
                &pending,
                std::io::Error::other("cannot flock a file just created"),
            ));
        }
        let owner = dir.path().join(OWNER);
        std::fs::rename(&pending, &owner).map_err(|e| Error::io(&owner, e))?;
        Ok(OwnedTempDir { dir, _lock: lock })
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Keeps the directory (without its owner file) and returns its path:
    /// the caller renames it into place. Until then it counts as unowned
    /// (removed only after [`UNOWNED_AGE`]).
    pub fn keep(self) -> PathBuf {
        let _ = std::fs::remove_file(self.dir.path().join(OWNER));
        self.dir.keep()
    }
}

/// Non-blocking exclusive `flock`; true when taken.
fn try_lock(f: &File) -> bool {
    // SAFETY: flock on a file descriptor this File owns.
    unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) == 0 }
}

/// Whether `dir` (a temporary directory) belongs to no live process.
fn abandoned(dir: &Path) -> bool {
    match File::open(dir.join(OWNER)) {
        // Taking the lock means its owner is gone (the lock is dropped
        // with the File at the end of this function).
        Ok(f) => try_lock(&f),
        Err(_) => std::fs::symlink_metadata(dir)
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age >= UNOWNED_AGE),
    }
}

/// Removes the `prefix*` directories in `parent` that belong to no live
/// process (best effort: a directory that cannot be read or removed is
/// left, a later run tries again). Returns the directories removed.
pub fn sweep_stale(parent: &Path, prefix: &str) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(parent) else {
        return Vec::new();
    };
    let mut removed = Vec::new();
    for e in entries.flatten() {
        let name = e.file_name();
        let is_dir = e.file_type().map(|t| t.is_dir()).unwrap_or(false);
        if !is_dir || !name.to_string_lossy().starts_with(prefix) {
            continue;
        }
        let p = e.path();
        if abandoned(&p) && std::fs::remove_dir_all(&p).is_ok() {
            removed.push(p);
        }
    }
    removed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_atomic_uses_the_umask_mode() {
        use std::os::unix::fs::PermissionsExt;
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("f.txt");
        // SAFETY: umask is process-wide; this test restores it, and no
        // other test in this binary depends on it.
        let old = unsafe { libc::umask(0o022) };
        let r = write_atomic(&p, b"x");
        unsafe { libc::umask(old) };
        r.unwrap();
        let mode = std::fs::metadata(&p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o644);
        assert_eq!(std::fs::read(&p).unwrap(), b"x");
    }

    #[test]
    fn live_owned_dir_survives_a_sweep_dead_one_does_not() {
        let d = tempfile::tempdir().unwrap();
        let live = OwnedTempDir::new_in(d.path(), ".t-").unwrap();
        assert!(sweep_stale(d.path(), ".t-").is_empty());
        assert!(live.path().is_dir());
        // A dead owner's directory: its owner file exists, unlocked.
        let dead = d.path().join(".t-dead");
        std::fs::create_dir(&dead).unwrap();
        std::fs::write(dead.join(OWNER), "").unwrap();
        // A fresh directory without an owner file is left (its owner may
        // be between creating it and locking), other prefixes too.
        let fresh = d.path().join(".t-fresh");
        std::fs::create_dir(&fresh).unwrap();
        let other = d.path().join(".u-dead");
        std::fs::create_dir(&other).unwrap();
        std::fs::write(other.join(OWNER), "").unwrap();
        assert_eq!(sweep_stale(d.path(), ".t-"), vec![dead]);
        assert!(live.path().is_dir() && fresh.is_dir() && other.is_dir());
        let kept = live.keep();
        assert!(kept.is_dir() && !kept.join(OWNER).exists());
    }
}
