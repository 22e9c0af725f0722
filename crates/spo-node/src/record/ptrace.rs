//! The ptrace recorder: stop every process and thread of the workload at
//! each syscall entry and ask the kernel which call of which architecture
//! it is (`PTRACE_GET_SYSCALL_INFO`, Linux 5.3), so a 32-bit call from a
//! 64-bit process is told apart exactly as seccomp tells it apart.
//!
//! It needs no privilege beyond tracing one's own child, which makes it the
//! fallback where eBPF is not allowed, at the price of two context switches
//! per call. All ptrace requests must come from the tracing thread, so the
//! workload is spawned and traced on a thread of its own.
//!
//! The child asks to be traced (`PTRACE_TRACEME`) in its `pre_exec` hook;
//! the first stop is then the one after its `execve`, so that `execve` call
//! itself is added to the set rather than observed.
#![allow(unsafe_code)]

use std::collections::HashSet;
use std::io;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Command, ExitStatus};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};

use spo_model::Arch;

use super::session::Running;
use super::set::{arch_of, SyscallSet};
use crate::NodeError;

const RECORDER: &str = "ptrace";

/// `PTRACE_GET_SYSCALL_INFO`.
const PTRACE_GET_SYSCALL_INFO: libc::c_uint = 0x420e;
/// `PTRACE_SYSCALL_INFO_ENTRY`.
const INFO_ENTRY: u8 = 1;

/// `struct ptrace_syscall_info`, entry member only (the largest union
/// member is read into `rest`).
#[repr(C)]
#[derive(Debug, Default)]
struct SyscallInfo {
    op: u8,
    pad: [u8; 3],
    arch: u32,
    instruction_pointer: u64,
    stack_pointer: u64,
    nr: u64,
    rest: [u64; 7],
}

#[derive(Debug, Default)]
struct Shared {
    seen: AtomicUsize,
    root: Mutex<Option<ExitStatus>>,
    /// Tracees alive; empty once the tracer is done.
    live: Mutex<HashSet<i32>>,
}

#[derive(Debug)]
struct Traced {
    pid: u32,
    shared: Arc<Shared>,
    tracer: Option<JoinHandle<Result<SyscallSet, NodeError>>>,
}

fn os_err(op: &str) -> NodeError {
    NodeError::Recorder { recorder: RECORDER, op: op.to_owned(), source: io::Error::last_os_error() }
}

/// Spawn `cmd` traced.
pub(super) fn start(mut cmd: Command) -> Result<Box<dyn Running>, NodeError> {
    // SAFETY: one ptrace(2) call with integer arguments; no allocation.
    unsafe {
        cmd.pre_exec(|| {
            if libc::ptrace(libc::PTRACE_TRACEME, 0, 0, 0) < 0 {
                return Err(io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let shared = Arc::new(Shared::default());
    let (tx, rx) = mpsc::channel();
    let sh = Arc::clone(&shared);
    let tracer = thread::Builder::new()
        .name("spo-ptrace".into())
        .spawn(move || {
            let child = match cmd.spawn() {
                Ok(c) => c,
                Err(source) => {
                    let _ = tx.send(Err(NodeError::Spawn { tool: format!("{:?}", cmd.get_program()), source }));
                    return Ok(SyscallSet::new());
                }
            };
            let pid = child.id();
            let _ = tx.send(Ok(pid));
            trace(pid, &sh)
        })
        .map_err(|source| NodeError::Recorder { recorder: RECORDER, op: "start the tracing thread".into(), source })?;
    let pid = rx.recv().map_err(|_| NodeError::Workload { what: "the tracing thread ended early".into() })??;
    Ok(Box::new(Traced { pid, shared, tracer: Some(tracer) }))
}

/// Resume a stopped tracee until its next syscall stop, delivering `sig`.
/// A tracee that vanished meanwhile (killed) is not an error.
fn resume(pid: i32, sig: i32) {
    // SAFETY: ptrace(2) with integer arguments.
    unsafe {
        libc::ptrace(libc::PTRACE_SYSCALL, pid, 0, sig as libc::c_long);
    }
}

/// The tracing loop: runs until no tracee is left.
fn trace(root: u32, shared: &Shared) -> Result<SyscallSet, NodeError> {
    let root = root as i32;
    let mut set = SyscallSet::new();
    let mut status = 0;
    // SAFETY: waitpid with a valid pointer to an int.
    if unsafe { libc::waitpid(root, &mut status, libc::__WALL) } < 0 {
        return Err(os_err("wait for the workload's first stop"));
    }
    if !libc::WIFSTOPPED(status) {
        *shared.root.lock().unwrap_or_else(|e| e.into_inner()) = Some(ExitStatus::from_raw(status));
        return Ok(set);
    }
    // The workload got here through a successful execve.
    if let Some(arch) = Arch::native() {
        if let Some(nr) = arch.syscall_number("execve") {
            set.add(arch, nr, 1);
        }
    }
    let opts = libc::PTRACE_O_TRACESYSGOOD
        | libc::PTRACE_O_TRACECLONE
        | libc::PTRACE_O_TRACEFORK
        | libc::PTRACE_O_TRACEVFORK
        | libc::PTRACE_O_TRACEEXEC
        | libc::PTRACE_O_EXITKILL;
    // SAFETY: ptrace(2) with integer arguments.
    if unsafe { libc::ptrace(libc::PTRACE_SETOPTIONS, root, 0, opts as libc::c_long) } < 0 {
        return Err(os_err("set the tracing options"));
    }
    resume(root, 0);
    let mut known: HashSet<i32> = HashSet::from([root]);
    let live = |f: &dyn Fn(&mut HashSet<i32>)| f(&mut shared.live.lock().unwrap_or_else(|e| e.into_inner()));
    live(&|l| {
        l.insert(root);
    });
    let mut info = SyscallInfo::default();
    loop {
        // SAFETY: waitpid with a valid pointer to an int.
        let pid = unsafe { libc::waitpid(-1, &mut status, libc::__WALL | libc::__WNOTHREAD) };
        if pid < 0 {
            let e = io::Error::last_os_error();
            match e.raw_os_error() {
                Some(libc::EINTR) => continue,
                Some(libc::ECHILD) => break,
                _ => return Err(NodeError::Recorder { recorder: RECORDER, op: "wait for tracees".into(), source: e }),
            }
        }
        if libc::WIFEXITED(status) || libc::WIFSIGNALED(status) {
            live(&|l| {
                l.remove(&pid);
            });
            if pid == root {
                *shared.root.lock().unwrap_or_else(|e| e.into_inner()) = Some(ExitStatus::from_raw(status));
            }
            continue;
        }
        if !libc::WIFSTOPPED(status) {
            continue;
        }
        let sig = libc::WSTOPSIG(status);
        let first = known.insert(pid);
        if first {
            live(&|l| {
                l.insert(pid);
            });
        }
        if first && sig == libc::SIGSTOP {
            // A new thread or child starts with a SIGSTOP of its own.
            resume(pid, 0);
            continue;
        }
        if sig == libc::SIGTRAP | 0x80 {
            // SAFETY: the kernel writes at most `size_of::<SyscallInfo>()`
            // bytes into `info`, a live, properly aligned struct.
            let n = unsafe {
                libc::ptrace(
                    PTRACE_GET_SYSCALL_INFO,
                    pid,
                    std::mem::size_of::<SyscallInfo>(),
                    &mut info as *mut SyscallInfo,
                )
            };
            if n > 0 && info.op == INFO_ENTRY {
                let nr = info.nr as u32;
                if let Some(arch) = arch_of(info.arch, nr) {
                    set.add(arch, nr, 1);
                    shared.seen.store(set.distinct(), Ordering::Relaxed);
                }
            }
            resume(pid, 0);
        } else if sig == libc::SIGTRAP && (status >> 16) != 0 {
            // fork, clone, vfork or exec event.
            resume(pid, 0);
        } else {
            resume(pid, sig);
        }
    }
    live(&|l| l.clear());
    Ok(set)
}

impl Running for Traced {
    fn live_pids(&self) -> Option<Vec<u32>> {
        let live = self.shared.live.lock().unwrap_or_else(|e| e.into_inner());
        Some(live.iter().map(|p| *p as u32).collect())
    }

    fn pid(&self) -> u32 {
        self.pid
    }

    fn try_wait(&mut self) -> Result<Option<ExitStatus>, NodeError> {
        Ok(*self.shared.root.lock().unwrap_or_else(|e| e.into_inner()))
    }

    fn seen(&mut self) -> usize {
        self.shared.seen.load(Ordering::Relaxed)
    }

    fn finish(mut self: Box<Self>) -> Result<(SyscallSet, Vec<String>), NodeError> {
        let handle =
            self.tracer.take().ok_or_else(|| NodeError::Workload { what: "recording finished twice".into() })?;
        let set = handle.join().map_err(|_| NodeError::Workload { what: "the tracing thread panicked".into() })??;
        Ok((set, Vec::new()))
    }
}
