//! A cgroup v2 group of its own for the recorded workload.
//!
//! Every recorder puts the workload there, for two reasons: the eBPF
//! program filters calls by the cgroup id, which every descendant inherits
//! whatever it forks or execs, and stopping the workload means stopping all
//! of it, which `cgroup.kill` does in one write even for processes that
//! daemonized away from the process tree.
#![allow(unsafe_code)]

use std::fs;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use crate::NodeError;

/// A cgroup made for one recording, removed when dropped.
#[derive(Debug)]
pub struct Cgroup {
    path: PathBuf,
    id: u64,
}

/// Where the unified (v2) hierarchy is mounted: `/sys/fs/cgroup` on a
/// unified system, `/sys/fs/cgroup/unified` on a hybrid one.
pub fn cgroup2_root() -> Option<PathBuf> {
    let text = fs::read_to_string("/proc/self/mountinfo").ok()?;
    text.lines().find_map(|l| {
        let (left, right) = l.split_once(" - ")?;
        let fstype = right.split_whitespace().next()?;
        if fstype == "cgroup2" {
            left.split_whitespace().nth(4).map(PathBuf::from)
        } else {
            None
        }
    })
}

impl Cgroup {
    /// Make a fresh cgroup under the v2 root.
    pub fn create() -> Result<Cgroup, NodeError> {
        static SERIAL: AtomicU32 = AtomicU32::new(0);
        let root = cgroup2_root().ok_or_else(|| NodeError::Workload {
            what: "no cgroup v2 hierarchy is mounted; the recorder needs one to contain the workload".into(),
        })?;
        let name = format!("spo-record-{}-{}", std::process::id(), SERIAL.fetch_add(1, Ordering::Relaxed));
        let path = root.join(name);
        fs::create_dir(&path).map_err(|source| NodeError::Io {
            op: "create the cgroup",
            path: path.clone(),
            source,
        })?;
        let id = fs::metadata(&path)
            .map_err(|source| NodeError::Io { op: "stat the cgroup", path: path.clone(), source })?
            .ino();
        Ok(Cgroup { path, id })
    }

    /// The cgroup's id, as `bpf_get_current_cgroup_id` reports it (the
    /// inode number of its directory).
    pub fn id(&self) -> u64 {
        self.id
    }

    /// Its directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// `cgroup.procs`, opened for writing: a child writes `0` to it (in a
    /// `pre_exec` hook, where opening a file is not possible) to join.
    pub fn procs_writer(&self) -> Result<OwnedFd, NodeError> {
        let p = self.path.join("cgroup.procs");
        let f = fs::OpenOptions::new().write(true).open(&p).map_err(|source| NodeError::Io {
            op: "open",
            path: p,
            source,
        })?;
        Ok(f.into())
    }

    /// Process ids in the cgroup now.
    pub fn pids(&self) -> Vec<u32> {
        fs::read_to_string(self.path.join("cgroup.procs"))
            .map(|t| t.lines().filter_map(|l| l.trim().parse().ok()).collect())
            .unwrap_or_default()
    }

    /// Whether any process is left.
    pub fn populated(&self) -> bool {
        match fs::read_to_string(self.path.join("cgroup.events")) {
            Ok(t) => t.lines().any(|l| l.trim() == "populated 1"),
            Err(_) => !self.pids().is_empty(),
        }
    }

    /// Wait until the cgroup is empty, at most `timeout`; whether it is.
    pub fn wait_empty(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        while self.populated() {
            if Instant::now() >= deadline {
                return false;
            }
            thread::sleep(Duration::from_millis(1));
        }
        true
    }

    /// SIGKILL every process in the cgroup, with `cgroup.kill` where the
    /// kernel has it and one by one otherwise.
    pub fn kill_all(&self) {
        if fs::write(self.path.join("cgroup.kill"), "1").is_ok() {
            return;
        }
        for pid in self.pids() {
            signal(pid, libc::SIGKILL);
        }
    }
}

impl Drop for Cgroup {
    fn drop(&mut self) {
        if self.populated() {
            self.kill_all();
            self.wait_empty(Duration::from_secs(5));
        }
        let _ = fs::remove_dir(&self.path);
    }
}

/// Send `sig` to `pid`, ignoring a process that is already gone.
pub fn signal(pid: u32, sig: i32) {
    let Ok(pid) = i32::try_from(pid) else { return };
    // SAFETY: kill(2) with plain integers; no memory is passed.
    unsafe {
        libc::kill(pid, sig);
    }
}

/// Move the calling process into the cgroup whose `cgroup.procs` is open as
/// `fd`. Makes one write(2) and allocates nothing: safe in `pre_exec`.
pub fn join(fd: &OwnedFd) -> io::Result<()> {
    // SAFETY: writes one byte from a static buffer to an open descriptor.
    let n = unsafe { libc::write(fd.as_raw_fd(), b"0".as_ptr().cast(), 1) };
    if n == 1 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}
