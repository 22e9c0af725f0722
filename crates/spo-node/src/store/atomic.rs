//! Crash-safe file replacement.
//!
//! A reader (the kubelet, a container runtime, `semodule`) must only ever
//! see a complete old file or a complete new one, and a power cut must not
//! leave an empty file behind. The recipe is the classic one: write a
//! temporary file in the same directory, `fsync` it, `rename` it over the
//! target (atomic within one file system), then `fsync` the directory so the
//! rename itself is durable.
//!
//! Installing a thousand profiles that way costs four thousand `fsync`s
//! (seconds on a virtual disk), so [`StagedWrite`] offers the same
//! guarantee for a batch: every temporary file is written, one `syncfs`
//! makes all their contents durable, all are renamed, and a second
//! `syncfs` makes the renames durable. A crash at any point leaves each
//! target either old or new and complete.
#![allow(unsafe_code)]

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use crate::NodeError;

/// Prefix of the temporary files this module creates; anything in a
/// managed directory that starts with it is debris of a crash.
pub const TMP_PREFIX: &str = ".spod-tmp-";

fn io<'a>(op: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> NodeError + 'a {
    move |source| NodeError::Io { op, path: path.to_owned(), source }
}

/// Replace `path` with `bytes` atomically and durably (mode 0644).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), NodeError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let file_name = path.file_name().map_or_else(Default::default, |n| n.to_string_lossy().into_owned());
    let tmp = unique_tmp(dir, &file_name);
    let result = (|| {
        let mut f =
            OpenOptions::new().write(true).create_new(true).mode(0o644).open(&tmp).map_err(io("create", &tmp))?;
        f.write_all(bytes).map_err(io("write", &tmp))?;
        f.sync_all().map_err(io("sync", &tmp))?;
        drop(f);
        fs::rename(&tmp, path).map_err(io("rename into place", path))?;
        sync_dir(dir)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// A write prepared by [`stage`]: the content is in a temporary file
/// beside the target, not yet durable and not yet in place.
#[derive(Debug)]
pub struct StagedWrite {
    tmp: PathBuf,
    target: PathBuf,
}

/// Write `bytes` to a temporary file beside `path` without syncing.
pub fn stage(path: &Path, bytes: &[u8]) -> Result<StagedWrite, NodeError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let file_name = path.file_name().map_or_else(Default::default, |n| n.to_string_lossy().into_owned());
    let tmp = unique_tmp(dir, &file_name);
    let result = (|| {
        let mut f =
            OpenOptions::new().write(true).create_new(true).mode(0o644).open(&tmp).map_err(io("create", &tmp))?;
        f.write_all(bytes).map_err(io("write", &tmp))
    })();
    match result {
        Ok(()) => Ok(StagedWrite { tmp, target: path.to_owned() }),
        Err(e) => {
            let _ = fs::remove_file(&tmp);
            Err(e)
        }
    }
}

/// Put staged writes in place, in order, durably: sync the file system
/// holding `dir` (every staged content becomes durable), rename each, sync
/// again (the renames become durable). Callers order `writes` so that a
/// file others point at lands before the file that points at it.
pub fn commit_staged(dir: &Path, writes: Vec<StagedWrite>) -> Result<(), NodeError> {
    if writes.is_empty() {
        return Ok(());
    }
    let result = (|| {
        syncfs(dir)?;
        for w in &writes {
            fs::rename(&w.tmp, &w.target).map_err(io("rename into place", &w.target))?;
        }
        syncfs(dir)
    })();
    if result.is_err() {
        for w in &writes {
            let _ = fs::remove_file(&w.tmp);
        }
    }
    result
}

/// `syncfs(2)` on the file system holding `dir`: everything written there
/// so far becomes durable, in one journal commit.
pub fn syncfs(dir: &Path) -> Result<(), NodeError> {
    use std::os::fd::AsRawFd;
    let d = File::open(dir).map_err(io("open", dir))?;
    // SAFETY: `d` is an open descriptor for the duration of the call;
    // syncfs only reads it.
    let rc = unsafe { libc::syncfs(d.as_raw_fd()) };
    if rc != 0 {
        return Err(io("sync the file system of", dir)(std::io::Error::last_os_error()));
    }
    Ok(())
}

/// Remove `path` durably; a missing file is not an error.
pub fn remove_durable(path: &Path) -> Result<(), NodeError> {
    match fs::remove_file(path) {
        Ok(()) => sync_dir(path.parent().unwrap_or(Path::new("."))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(io("remove", path)(e)),
    }
}

/// `fsync` a directory, making renames and removals in it durable.
pub fn sync_dir(dir: &Path) -> Result<(), NodeError> {
    File::open(dir).and_then(|d| d.sync_all()).map_err(io("sync directory", dir))
}

/// Create `dir` and its parents.
pub fn ensure_dir(dir: &Path) -> Result<(), NodeError> {
    fs::create_dir_all(dir).map_err(io("create directory", dir))
}

/// Remove temporary files a crash left in `dir`; returns how many.
pub fn clean_debris(dir: &Path) -> usize {
    let Ok(entries) = fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with(TMP_PREFIX))
        .filter(|e| fs::remove_file(e.path()).is_ok())
        .count()
}

fn unique_tmp(dir: &Path, name: &str) -> PathBuf {
    use std::sync::atomic::{AtomicU64, Ordering};
    static SEQ: AtomicU64 = AtomicU64::new(0);
    let n = SEQ.fetch_add(1, Ordering::Relaxed);
    dir.join(format!("{TMP_PREFIX}{}-{n}-{name}", std::process::id()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_whole_files_and_leaves_no_debris() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("a.json");
        write_atomic(&p, b"one").unwrap();
        write_atomic(&p, b"two").unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"two");
        let names: Vec<_> = fs::read_dir(d.path()).unwrap().flatten().map(|e| e.file_name()).collect();
        assert_eq!(names, ["a.json"]);
        fs::write(d.path().join(format!("{TMP_PREFIX}1-0-a.json")), b"half").unwrap();
        assert_eq!(clean_debris(d.path()), 1);
        remove_durable(&p).unwrap();
        remove_durable(&p).unwrap();
        assert!(!p.exists());
    }

    #[test]
    fn staged_writes_land_together() {
        let d = tempfile::tempdir().unwrap();
        let a = d.path().join("a");
        fs::write(&a, b"old").unwrap();
        let w = vec![stage(&a, b"new").unwrap(), stage(&d.path().join("b"), b"bee").unwrap()];
        assert_eq!(fs::read(&a).unwrap(), b"old");
        commit_staged(d.path(), w).unwrap();
        assert_eq!(fs::read(&a).unwrap(), b"new");
        assert_eq!(fs::read(d.path().join("b")).unwrap(), b"bee");
        assert_eq!(fs::read_dir(d.path()).unwrap().count(), 2);
    }

    #[test]
    fn a_failed_write_reports_the_path() {
        let err = write_atomic(Path::new("/nonexistent-dir/x"), b"x").unwrap_err();
        assert!(err.to_string().contains("/nonexistent-dir"), "{err}");
    }
}
