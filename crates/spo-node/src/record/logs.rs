//! The audit-log recorder: run the workload under a seccomp filter whose
//! every verdict is `SCMP_ACT_LOG` and read the kernel's `SECCOMP` (1326)
//! audit records back from the audit netlink socket. The kernel reports the
//! architecture and number of each call as the filter saw them, so this is
//! exactly the view a profile will have; complain mode and the log enricher
//! rely on the same records.
//!
//! Attribution: the child starts a new audit session by writing its
//! login uid before it installs the filter, so every record of the workload
//! and only those carry its session id (`ses=`), however the process tree
//! forks, execs or reparents. That needs `CAP_AUDIT_CONTROL`.
//!
//! Completeness: records reach the socket asynchronously. When the workload
//! is gone, a marker process logs one call; records are delivered in queue
//! order, so once the marker's arrives every record of the workload has.
#![allow(unsafe_code)]

use std::collections::HashMap;
use std::fs;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, ExitStatus};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use spo_model::seccomp::{Action, Filter};
use spo_model::Arch;

use super::session::Running;
use super::set::{arch_of, SyscallSet};
use crate::audit::{AuditSocket, SeccompRecord, AUDIT_SECCOMP};
use crate::seccomp::Program;
use crate::NodeError;

const RECORDER: &str = "logs";

/// How long to wait for the marker's record before calling the stream
/// incomplete.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(20);

/// The session id no process has (`AUDIT_SID_UNSET`).
const SID_UNSET: u32 = u32::MAX;

/// The filter: log every call of every architecture this machine runs.
pub fn log_everything_program() -> Result<Program, NodeError> {
    let native = Arch::native().unwrap_or(Arch::X86_64);
    let mut arches = vec![native];
    if native == Arch::X86_64 {
        arches.extend([Arch::X86, Arch::X32]);
    }
    let mut filter = Filter::new(Action::Log, arches);
    filter.bad_arch_action = Action::Log;
    let insns = spo_compile::seccomp::compile(&filter)
        .map_err(|e| NodeError::Workload { what: format!("cannot compile the log-everything filter: {e}") })?;
    Program::from_bytes(&spo_compile::bpf::to_bytes(&insns))
}

#[derive(Debug, Default)]
struct Shared {
    /// Our session id once known, `-1` before.
    ses: AtomicI64,
    /// The marker's pid once forked, 0 before.
    marker: AtomicU32,
    /// Set when the marker's record arrived.
    drained: AtomicBool,
    /// Stop reading.
    stop: AtomicBool,
    seen: AtomicUsize,
    /// Calls per audit session: records may arrive before our session id
    /// is known, so every logging session is kept until the end.
    sets: Mutex<HashMap<u32, SyscallSet>>,
    /// Receive errors (lost records) seen.
    errors: Mutex<Vec<String>>,
}

#[derive(Debug)]
struct Logged {
    child: Child,
    status: Option<ExitStatus>,
    shared: Arc<Shared>,
    reader: Option<JoinHandle<()>>,
    program: Arc<Program>,
}

/// Spawn `cmd` in a new audit session, under the log-everything filter
/// when `install` is set.
pub(super) fn start(mut cmd: Command, install: bool) -> Result<Box<dyn Running>, NodeError> {
    let program = Arc::new(log_everything_program()?);
    let mut sock = AuditSocket::open()?;
    // SAFETY: getuid(2) cannot fail.
    let uid = unsafe { libc::getuid() };
    let uid_text = uid.to_string().into_bytes();
    let prog = Arc::clone(&program);
    // SAFETY: the hook makes only open/write/close/prctl/seccomp calls on
    // data prepared before the fork, and allocates nothing (install_raw
    // does not allocate, even on failure).
    unsafe {
        cmd.pre_exec(move || {
            new_audit_session(&uid_text)?;
            if install {
                prog.install_raw(0)?;
            }
            Ok(())
        });
    }
    let shared = Arc::new(Shared { ses: AtomicI64::new(-1), ..Shared::default() });
    let sh = Arc::clone(&shared);
    let reader = thread::Builder::new()
        .name("spo-audit".into())
        .spawn(move || read(&mut sock, &sh))
        .map_err(|source| NodeError::Recorder { recorder: RECORDER, op: "start the audit reader".into(), source })?;
    let child = cmd.spawn().map_err(|source| NodeError::Spawn { tool: format!("{:?}", cmd.get_program()), source })?;
    let ses_path = format!("/proc/{}/sessionid", child.id());
    let ses: u32 = fs::read_to_string(&ses_path).ok().and_then(|t| t.trim().parse().ok()).unwrap_or(SID_UNSET);
    if ses == SID_UNSET {
        shared.stop.store(true, Ordering::Relaxed);
        return Err(NodeError::Workload {
            what: "the workload did not get an audit session of its own; the logs recorder needs CAP_AUDIT_CONTROL"
                .into(),
        });
    }
    shared.ses.store(i64::from(ses), Ordering::Relaxed);
    Ok(Box::new(Logged { child, status: None, shared, reader: Some(reader), program }))
}

/// Write our uid to `/proc/self/loginuid`, which gives this process a new
/// audit session id inherited by all its descendants. No allocation.
fn new_audit_session(uid: &[u8]) -> io::Result<()> {
    // SAFETY: a NUL-terminated static path; the descriptor is closed below.
    let fd = unsafe { libc::open(c"/proc/self/loginuid".as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `uid` is a live buffer of the given length.
    let n = unsafe { libc::write(fd, uid.as_ptr().cast(), uid.len()) };
    let err = io::Error::last_os_error();
    // SAFETY: closing the descriptor opened above.
    unsafe { libc::close(fd) };
    if n < 0 {
        return Err(err);
    }
    Ok(())
}

/// The `ses=` field of a record's text.
fn session_of(text: &str) -> Option<u32> {
    let at = text.find(" ses=")?;
    let v = &text[at + 5..];
    v[..v.find(' ').unwrap_or(v.len())].parse().ok()
}

/// The reader thread: collect our session's calls until told to stop, or
/// until the marker's record arrives.
fn read(sock: &mut AuditSocket, shared: &Shared) {
    while !shared.stop.load(Ordering::Relaxed) {
        let rec = match sock.recv(Duration::from_millis(50)) {
            Ok(Some(r)) => r,
            Ok(None) => continue,
            Err(e) => {
                let why = std::error::Error::source(&e).map(ToString::to_string).unwrap_or_default();
                shared.errors.lock().unwrap_or_else(|e| e.into_inner()).push(format!("{e}: {why}"));
                continue;
            }
        };
        if rec.record_type != AUDIT_SECCOMP {
            continue;
        }
        let Ok(r) = SeccompRecord::parse(&rec.text) else {
            continue;
        };
        let marker = shared.marker.load(Ordering::Relaxed);
        if marker != 0 && r.pid == marker {
            shared.drained.store(true, Ordering::Relaxed);
            return;
        }
        let (Some(ses), Some(arch)) = (session_of(&rec.text), arch_of(r.arch, r.syscall)) else {
            continue;
        };
        if r.action() != Action::Log || ses == SID_UNSET {
            continue;
        }
        let mut sets = shared.sets.lock().unwrap_or_else(|e| e.into_inner());
        let set = sets.entry(ses).or_default();
        set.add(arch, r.syscall, 1);
        if i64::from(ses) == shared.ses.load(Ordering::Relaxed) {
            shared.seen.store(set.distinct(), Ordering::Relaxed);
        }
    }
}

/// A pipe whose two ends are closed when it is dropped, on every path out
/// of [`run_marker`] (a failed `fork` included).
struct Pipe {
    read: OwnedFd,
    write: OwnedFd,
}

impl Pipe {
    fn new() -> io::Result<Pipe> {
        let mut fds = [0; 2];
        // SAFETY: pipe2 writes two descriptors into a live array.
        if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: pipe2 succeeded, so both descriptors are open and owned by
        // nothing else.
        let (read, write) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
        Ok(Pipe { read, write })
    }
}

/// Fork a process that installs the filter and makes one logged call, and
/// reap it; its record marks the end of the workload's.
fn run_marker(program: &Program, shared: &Shared) -> Result<(), NodeError> {
    let pipe = Pipe::new().map_err(|source| NodeError::Recorder {
        recorder: RECORDER,
        op: "make a pipe for the end marker".into(),
        source,
    })?;
    // SAFETY: the child only calls read, prctl, seccomp, getpid and _exit,
    // all async-signal-safe, and allocates nothing.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(NodeError::Recorder {
            recorder: RECORDER,
            op: "fork the end marker".into(),
            source: io::Error::last_os_error(),
        });
    }
    if pid == 0 {
        let mut b = 0u8;
        // SAFETY: waits for the parent to publish our pid; one byte into a
        // live buffer.
        unsafe { libc::read(pipe.read.as_raw_fd(), (&mut b as *mut u8).cast(), 1) };
        let code = match program.install_raw(0) {
            Ok(_) => {
                // SAFETY: getpid cannot fail.
                unsafe { libc::getpid() };
                0
            }
            Err(_) => 1,
        };
        // SAFETY: ends the forked child without running any destructor.
        unsafe { libc::_exit(code) };
    }
    shared.marker.store(pid as u32, Ordering::Relaxed);
    // SAFETY: one byte from a live buffer to an open descriptor.
    unsafe { libc::write(pipe.write.as_raw_fd(), b"g".as_ptr().cast(), 1) };
    drop(pipe);
    let mut status = 0;
    // SAFETY: waitpid with a valid pointer to an int.
    unsafe { libc::waitpid(pid, &mut status, 0) };
    Ok(())
}

impl Drop for Logged {
    fn drop(&mut self) {
        // A recording abandoned before `finish` must not leave the reader
        // running.
        self.shared.stop.store(true, Ordering::Relaxed);
    }
}

impl Running for Logged {
    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn try_wait(&mut self) -> Result<Option<ExitStatus>, NodeError> {
        if self.status.is_none() {
            self.status = self.child.try_wait().map_err(|source| NodeError::Recorder {
                recorder: RECORDER,
                op: "wait for the workload".into(),
                source,
            })?;
        }
        Ok(self.status)
    }

    fn seen(&mut self) -> usize {
        self.shared.seen.load(Ordering::Relaxed)
    }

    fn finish(mut self: Box<Self>) -> Result<(SyscallSet, Vec<String>), NodeError> {
        run_marker(&self.program, &self.shared)?;
        let deadline = Instant::now() + DRAIN_TIMEOUT;
        while !self.shared.drained.load(Ordering::Relaxed) && Instant::now() < deadline {
            thread::sleep(Duration::from_millis(1));
        }
        self.shared.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.reader.take() {
            let _ = h.join();
        }
        let errors = std::mem::take(&mut *self.shared.errors.lock().unwrap_or_else(|e| e.into_inner()));
        if !errors.is_empty() {
            return Err(NodeError::Workload {
                what: format!(
                    "the audit socket lost records ({}), so the recording would be incomplete",
                    errors.join("; ")
                ),
            });
        }
        if !self.shared.drained.load(Ordering::Relaxed) {
            return Err(NodeError::Workload {
                what: format!(
                    "the audit stream did not catch up within {DRAIN_TIMEOUT:?}; the recording would be incomplete"
                ),
            });
        }
        let ses = self.shared.ses.load(Ordering::Relaxed) as u32;
        let set = self.shared.sets.lock().unwrap_or_else(|e| e.into_inner()).remove(&ses).unwrap_or_default();
        Ok((set, Vec::new()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_ids_are_read_from_record_text() {
        let t = "audit(1.2:3): auid=0 uid=0 gid=0 ses=42 subj=unconfined pid=7 comm=\"x\"";
        assert_eq!(session_of(t), Some(42));
        assert_eq!(session_of("audit(1.2:3): ses=4294967295"), Some(u32::MAX));
        assert_eq!(session_of("audit(1.2:3): pid=1"), None);
    }

    /// The marker's pipe owns its descriptors: however `run_marker` leaves
    /// (a failed `fork` returns early), both ends are closed.
    #[test]
    fn the_marker_pipe_closes_both_ends_when_dropped() {
        // The inode a descriptor refers to, if it is open. Other tests of
        // this process may reuse a freed number at once, so "still open"
        // means "still this pipe".
        fn inode(fd: i32) -> Option<(u64, u64)> {
            // SAFETY: fstat writes into a zeroed, live stat buffer.
            let mut st: libc::stat = unsafe { std::mem::zeroed() };
            // SAFETY: as above; a closed descriptor only yields EBADF.
            (unsafe { libc::fstat(fd, &mut st) } == 0).then_some((st.st_dev, st.st_ino))
        }
        let pipe = Pipe::new().unwrap();
        let (r, w) = (pipe.read.as_raw_fd(), pipe.write.as_raw_fd());
        let ino = inode(r).expect("read end open");
        assert_eq!(inode(w), Some(ino));
        drop(pipe);
        assert!(inode(r) != Some(ino) && inode(w) != Some(ino), "an end of the dropped pipe is still open");
    }
}
