//! The system calls that load a filter: `prctl(PR_SET_NO_NEW_PRIVS)` and
//! `seccomp(SECCOMP_SET_MODE_FILTER)`.
#![allow(unsafe_code)]

use std::fmt;
use std::io;
use std::os::fd::{FromRawFd, OwnedFd};

use super::flag_names;
use crate::NodeError;

/// `BPF_MAXINSNS`: the most instructions the kernel accepts in one filter.
pub const MAX_INSNS: usize = 4096;

/// Size of one `struct sock_filter`.
const INSN_BYTES: usize = 8;

/// A checked BPF program ready for the kernel.
#[derive(Clone)]
pub struct Program {
    insns: Vec<libc::sock_filter>,
}

impl fmt::Debug for Program {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Program").field("insns", &self.insns.len()).finish()
    }
}

/// Which step of an installation failed, with the kernel's errno. Kept free
/// of heap data so the install path never allocates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Failure {
    NoNewPrivs(i32),
    Seccomp(i32),
}

impl Program {
    /// Check `bytes` (instructions in the kernel's `struct sock_filter`
    /// layout, native byte order, as `spo_compile::bpf::to_bytes` writes
    /// them) and copy them into a properly aligned program.
    pub fn from_bytes(bytes: &[u8]) -> Result<Program, NodeError> {
        if !bytes.len().is_multiple_of(INSN_BYTES) {
            return Err(NodeError::BpfLength { bytes: bytes.len() });
        }
        let n = bytes.len() / INSN_BYTES;
        if n == 0 || n > MAX_INSNS {
            return Err(NodeError::BpfSize { insns: n, max: MAX_INSNS });
        }
        let insns = bytes
            .chunks_exact(INSN_BYTES)
            .map(|c| libc::sock_filter {
                code: u16::from_ne_bytes([c[0], c[1]]),
                jt: c[2],
                jf: c[3],
                k: u32::from_ne_bytes([c[4], c[5], c[6], c[7]]),
            })
            .collect();
        Ok(Program { insns })
    }

    /// Number of instructions.
    pub fn len(&self) -> usize {
        self.insns.len()
    }

    /// Always false: an empty program is refused by [`Program::from_bytes`].
    pub fn is_empty(&self) -> bool {
        self.insns.is_empty()
    }

    /// Set `no_new_privs` and install the filter on the calling thread (on
    /// every thread with `SECCOMP_FILTER_FLAG_TSYNC`). Returns the
    /// user-notification listener when `flags` has
    /// `SECCOMP_FILTER_FLAG_NEW_LISTENER`.
    ///
    /// Nothing is allocated unless the kernel refuses, so this may run in a
    /// forked child of a multi-threaded process.
    pub fn install(&self, flags: u32) -> Result<Option<OwnedFd>, NodeError> {
        self.install_quiet(flags).map_err(|f| self.explain(f, flags))
    }

    /// [`Program::install`] with the error as a bare errno: for `pre_exec`
    /// hooks and forked children that must not allocate even on failure.
    pub fn install_raw(&self, flags: u32) -> io::Result<Option<OwnedFd>> {
        self.install_quiet(flags).map_err(|f| match f {
            Failure::NoNewPrivs(e) | Failure::Seccomp(e) => io::Error::from_raw_os_error(e),
        })
    }

    fn install_quiet(&self, flags: u32) -> Result<Option<OwnedFd>, Failure> {
        // SAFETY: prctl with integer arguments only; no memory is passed.
        let rc = unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) };
        if rc != 0 {
            return Err(Failure::NoNewPrivs(errno()));
        }
        let fprog = libc::sock_fprog {
            // `from_bytes` bounds the length to MAX_INSNS, which fits a u16.
            len: self.insns.len() as u16,
            filter: self.insns.as_ptr().cast_mut(),
        };
        // SAFETY: `fprog` points at `len` initialised instructions that
        // live in `self` for the duration of the call; the kernel copies
        // them and does not keep the pointer.
        let rc = unsafe {
            libc::syscall(
                libc::SYS_seccomp,
                libc::SECCOMP_SET_MODE_FILTER,
                libc::c_ulong::from(flags),
                &fprog as *const libc::sock_fprog,
            )
        };
        if rc < 0 {
            return Err(Failure::Seccomp(errno()));
        }
        if flags & libc::SECCOMP_FILTER_FLAG_NEW_LISTENER as u32 != 0 {
            // SAFETY: with NEW_LISTENER the kernel returns a fresh file
            // descriptor that nothing else owns.
            return Ok(Some(unsafe { OwnedFd::from_raw_fd(rc as i32) }));
        }
        Ok(None)
    }

    fn explain(&self, failure: Failure, flags: u32) -> NodeError {
        match failure {
            Failure::NoNewPrivs(e) => NodeError::NoNewPrivs { source: io::Error::from_raw_os_error(e) },
            Failure::Seccomp(libc::EINVAL) if !flags_supported(flags) => {
                NodeError::SeccompFlags { flags: flag_names(flags), source: io::Error::from_raw_os_error(libc::EINVAL) }
            }
            Failure::Seccomp(e) => NodeError::SeccompRefused {
                insns: self.len(),
                flags: flag_names(flags),
                why: refusal_reason(e),
                source: io::Error::from_raw_os_error(e),
            },
        }
    }
}

/// Check and install `bytes` as a seccomp filter with `flags`
/// (`SECCOMP_FILTER_FLAG_*` bits); see [`Program::install`].
pub fn install_filter(bytes: &[u8], flags: u32) -> Result<Option<OwnedFd>, NodeError> {
    Program::from_bytes(bytes)?.install(flags)
}

/// Whether this kernel accepts `flags` for `SECCOMP_SET_MODE_FILTER`.
///
/// The kernel checks the flags before it reads the program, so a call with
/// a null program fails with `EFAULT` when the flags are fine and with
/// `EINVAL` when they are not; nothing is installed either way.
pub fn flags_supported(flags: u32) -> bool {
    // SAFETY: a null program pointer is never dereferenced by user space;
    // the kernel reports EFAULT (or EINVAL for bad flags) and changes no
    // state.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            libc::SECCOMP_SET_MODE_FILTER,
            libc::c_ulong::from(flags),
            std::ptr::null::<libc::sock_fprog>(),
        )
    };
    rc < 0 && errno() == libc::EFAULT
}

/// Whether the kernel supports seccomp filters and the given action
/// (a `SECCOMP_RET_*` value without data), via `SECCOMP_GET_ACTION_AVAIL`.
pub fn action_available(action: u32) -> bool {
    let action = action & spo_model::seccomp::ret::ACTION_FULL;
    // SAFETY: the kernel reads one u32 from a live local variable.
    let rc = unsafe {
        libc::syscall(libc::SYS_seccomp, libc::SECCOMP_GET_ACTION_AVAIL, 0 as libc::c_ulong, &action as *const u32)
    };
    rc == 0
}

fn errno() -> i32 {
    io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

fn refusal_reason(errno: i32) -> &'static str {
    match errno {
        libc::EINVAL => {
            "the kernel's BPF checker rejected the program (bad instruction, jump out of range, or no return)"
        }
        libc::EACCES => "no_new_privs is not set and the caller lacks CAP_SYS_ADMIN",
        libc::EFAULT => "the program is not readable",
        libc::ENOMEM => "the filters attached to this thread exceed the kernel's memory limit",
        libc::EBUSY => "another user-notification listener is already installed",
        libc::ESRCH => "another thread has a different filter, so the filter cannot be synchronised",
        libc::ENOSYS => "the kernel has no seccomp filter support",
        _ => "unexpected error",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn programs_must_be_whole_instructions_within_the_kernel_limit() {
        assert!(matches!(Program::from_bytes(&[0; 12]), Err(NodeError::BpfLength { bytes: 12 })));
        assert!(matches!(Program::from_bytes(&[]), Err(NodeError::BpfSize { insns: 0, .. })));
        let big = vec![0u8; (MAX_INSNS + 1) * INSN_BYTES];
        assert!(matches!(Program::from_bytes(&big), Err(NodeError::BpfSize { insns: 4097, .. })));
        // BPF_RET|BPF_K 0x7fff0000: return ALLOW.
        let mut ret_allow = 0x06u16.to_ne_bytes().to_vec();
        ret_allow.extend([0, 0]);
        ret_allow.extend(0x7fff_0000u32.to_ne_bytes());
        let p = Program::from_bytes(&ret_allow).unwrap();
        assert_eq!(p.len(), 1);
        assert_eq!(p.insns[0].code, 0x06);
        assert_eq!(p.insns[0].k, 0x7fff_0000);
    }

    #[test]
    fn the_kernel_tells_which_flags_it_knows() {
        if !action_available(spo_model::seccomp::ret::ALLOW) {
            spo_test_support::skip("seccomp filters are not available on this kernel");
            return;
        }
        assert!(flags_supported(0));
        assert!(flags_supported(libc::SECCOMP_FILTER_FLAG_LOG as u32));
        assert!(!flags_supported(1 << 20));
        // WAIT_KILLABLE_RECV needs NEW_LISTENER.
        assert!(!flags_supported(libc::SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV as u32));
    }
}
