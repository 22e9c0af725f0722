//! Calls some architectures also reach through a multiplexer.
//!
//! On 32-bit x86, ppc, ppc64, s390x and 32-bit mips the socket calls (`socket`, `connect`,
//! `sendto`, ...) and the System V IPC calls (`shmget`, `semop`, ...) can
//! be made through `socketcall(2)` and `ipc(2)`, whose first argument says
//! which call is meant (`SYS_SOCKET`, `SHMGET`, ...); some of them exist
//! only that way (`send`, `recv` and `accept` on x86, `semop` everywhere).
//! A rule for such a call is worthless on those architectures unless the
//! multiplexer is filtered too, so libseccomp 2.5 adds, for every rule
//! naming one, a rule for the multiplexer with argument 0 equal to the
//! call's code (replacing any condition the rule had on argument 0, and
//! keeping those on the others), besides the rule for the direct number
//! when the architecture has one. spo-rs does the same, so that a profile
//! means on those architectures what it means under runc and crun.
//!
//! libseccomp 2.5.4 does this for x86, ppc, ppc64, ppc64le, s390, s390x,
//! mips and mipsel (a test checks the list against the installed library).

use crate::Arch;

/// Which multiplexer a call goes through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Multiplexer {
    /// `socketcall(2)`.
    Socketcall,
    /// `ipc(2)`.
    Ipc,
}

impl Multiplexer {
    /// The multiplexer's syscall name.
    pub fn name(self) -> &'static str {
        match self {
            Multiplexer::Socketcall => "socketcall",
            Multiplexer::Ipc => "ipc",
        }
    }
}

/// Every multiplexed call with its code in argument 0 (`SYS_SOCKET` is 1,
/// `SEMOP` is 1, from `linux/net.h` and `linux/ipc.h`).
pub const MULTIPLEXED: &[(&str, Multiplexer, u32)] = &[
    ("socket", Multiplexer::Socketcall, 1),
    ("bind", Multiplexer::Socketcall, 2),
    ("connect", Multiplexer::Socketcall, 3),
    ("listen", Multiplexer::Socketcall, 4),
    ("accept", Multiplexer::Socketcall, 5),
    ("getsockname", Multiplexer::Socketcall, 6),
    ("getpeername", Multiplexer::Socketcall, 7),
    ("socketpair", Multiplexer::Socketcall, 8),
    ("send", Multiplexer::Socketcall, 9),
    ("recv", Multiplexer::Socketcall, 10),
    ("sendto", Multiplexer::Socketcall, 11),
    ("recvfrom", Multiplexer::Socketcall, 12),
    ("shutdown", Multiplexer::Socketcall, 13),
    ("setsockopt", Multiplexer::Socketcall, 14),
    ("getsockopt", Multiplexer::Socketcall, 15),
    ("sendmsg", Multiplexer::Socketcall, 16),
    ("recvmsg", Multiplexer::Socketcall, 17),
    ("accept4", Multiplexer::Socketcall, 18),
    ("recvmmsg", Multiplexer::Socketcall, 19),
    ("sendmmsg", Multiplexer::Socketcall, 20),
    ("semop", Multiplexer::Ipc, 1),
    ("semget", Multiplexer::Ipc, 2),
    ("semctl", Multiplexer::Ipc, 3),
    ("semtimedop", Multiplexer::Ipc, 4),
    ("msgsnd", Multiplexer::Ipc, 11),
    ("msgrcv", Multiplexer::Ipc, 12),
    ("msgget", Multiplexer::Ipc, 13),
    ("msgctl", Multiplexer::Ipc, 14),
    ("shmat", Multiplexer::Ipc, 21),
    ("shmdt", Multiplexer::Ipc, 22),
    ("shmget", Multiplexer::Ipc, 23),
    ("shmctl", Multiplexer::Ipc, 24),
];

/// Whether rules on multiplexed calls also go to the multiplexer on `arch`.
pub fn multiplexes(arch: Arch) -> bool {
    matches!(
        arch,
        Arch::X86 | Arch::Ppc | Arch::Ppc64 | Arch::Ppc64le | Arch::S390 | Arch::S390x | Arch::Mips | Arch::Mipsel
    )
}

/// The multiplexer's syscall number on `arch` and the code of `name` in
/// its argument 0, when a rule on `name` also goes to the multiplexer there.
pub fn multiplexed(arch: Arch, name: &str) -> Option<(u32, u32)> {
    if !multiplexes(arch) {
        return None;
    }
    let &(_, mux, code) = MULTIPLEXED.iter().find(|(n, _, _)| *n == name)?;
    Some((arch.syscall_number(mux.name())?, code))
}

/// Whether `name` exists on `arch`, directly or through a multiplexer.
pub fn reachable(arch: Arch, name: &str) -> bool {
    arch.syscall_number(name).is_some() || multiplexed(arch, name).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn x86_socket_calls_go_through_socketcall() {
        assert_eq!(multiplexed(Arch::X86, "socket"), Some((102, 1)));
        assert_eq!(multiplexed(Arch::X86, "send"), Some((102, 9)));
        assert_eq!(multiplexed(Arch::X86, "shmget"), Some((117, 23)));
        assert_eq!(multiplexed(Arch::X86_64, "socket"), None);
        assert_eq!(multiplexed(Arch::X86, "read"), None);
        // `send` has no number of its own on x86, but is reachable.
        assert_eq!(Arch::X86.syscall_number("send"), None);
        assert!(reachable(Arch::X86, "send"));
        assert!(!reachable(Arch::X86_64, "send"));
    }
}
