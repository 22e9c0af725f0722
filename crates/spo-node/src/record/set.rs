//! What a recording produces: syscall numbers seen per architecture, and
//! the profile that allows exactly those.
//!
//! Recorders store numbers, not names, because that is what the kernel
//! hands them; names are looked up once, at the end, in the architecture's
//! own table (the same call has different numbers on x86_64 and i386).

use std::collections::{BTreeMap, BTreeSet};

use spo_model::arch::X32_SYSCALL_BIT;
use spo_model::seccomp::{ActionName, SeccompSpec, SyscallRule};
use spo_model::Arch;

/// Syscalls every profile must allow for a process to end at all: without
/// them a workload that did everything right still dies on its way out, or
/// hangs returning from a signal handler.
pub const ALWAYS_ALLOWED: &[&str] = &["exit", "exit_group", "rt_sigreturn"];

/// Syscall numbers seen, with how often, per architecture.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SyscallSet {
    calls: BTreeMap<Arch, BTreeMap<u32, u64>>,
}

impl SyscallSet {
    /// An empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Count `n` calls of `nr` on `arch`.
    pub fn add(&mut self, arch: Arch, nr: u32, n: u64) {
        *self.calls.entry(arch).or_default().entry(nr).or_default() += n;
    }

    /// Add everything in `other`.
    pub fn extend(&mut self, other: &SyscallSet) {
        for (arch, m) in &other.calls {
            for (nr, n) in m {
                self.add(*arch, *nr, *n);
            }
        }
    }

    /// Distinct (architecture, syscall) pairs seen.
    pub fn distinct(&self) -> usize {
        self.calls.values().map(BTreeMap::len).sum()
    }

    /// Total calls counted.
    pub fn total(&self) -> u64 {
        self.calls.values().flat_map(BTreeMap::values).sum()
    }

    /// Whether nothing was seen.
    pub fn is_empty(&self) -> bool {
        self.calls.is_empty()
    }

    /// Architectures seen, in `Arch` order (native x86_64 before i386).
    pub fn arches(&self) -> impl Iterator<Item = Arch> + '_ {
        self.calls.keys().copied()
    }

    /// The call counts of one architecture by number.
    pub fn numbers(&self, arch: Arch) -> impl Iterator<Item = (u32, u64)> + '_ {
        self.calls.get(&arch).into_iter().flatten().map(|(nr, n)| (*nr, *n))
    }

    /// Names seen on `arch`, sorted; numbers the table does not know are
    /// returned separately.
    pub fn names(&self, arch: Arch) -> (BTreeSet<&'static str>, Vec<u32>) {
        let mut names = BTreeSet::new();
        let mut unknown = Vec::new();
        for (nr, _) in self.numbers(arch) {
            match arch.syscall_name(nr) {
                Some(n) => {
                    names.insert(n);
                }
                None => unknown.push(nr),
            }
        }
        (names, unknown)
    }

    /// Every syscall name seen on any architecture with the architectures
    /// it was seen on, for reports and comparisons between recorders.
    pub fn by_name(&self) -> BTreeMap<(Arch, &'static str), u64> {
        let mut out = BTreeMap::new();
        for (arch, m) in &self.calls {
            for (nr, n) in m {
                if let Some(name) = arch.syscall_name(*nr) {
                    *out.entry((*arch, name)).or_default() += *n;
                }
            }
        }
        out
    }

    /// The profile that allows exactly what was seen: default action
    /// `SCMP_ACT_ERRNO`, the architectures seen (`native` first, always
    /// present), one allow rule for the calls seen on the native
    /// architecture and, for each other architecture, one rule for the calls
    /// seen only there. [`ALWAYS_ALLOWED`] is added to the native rule.
    ///
    /// A profile names syscalls, and a name is resolved on every listed
    /// architecture, so a call seen only through the 32-bit entry point is
    /// also allowed through the 64-bit one; the separate rule, with a
    /// comment, keeps that visible.
    pub fn to_spec(&self, native: Arch) -> SeccompSpec {
        let mut spec = SeccompSpec::new(ActionName::Errno);
        spec.architectures.push(native);
        spec.architectures.extend(self.arches().filter(|a| *a != native));
        let (mut seen, _) = self.names(native);
        seen.extend(ALWAYS_ALLOWED.iter().copied().filter(|n| native.syscall_number(n).is_some()));
        let names: Vec<&str> = seen.iter().copied().collect();
        let mut rule = SyscallRule::new(&names, ActionName::Allow);
        rule.comment = Some(format!("recorded on {native}"));
        spec.syscalls.push(rule);
        let mut covered = seen;
        for arch in self.arches().filter(|a| *a != native) {
            let (names, _) = self.names(arch);
            let only: Vec<&str> = names.difference(&covered).copied().collect();
            if !only.is_empty() {
                let mut rule = SyscallRule::new(&only, ActionName::Allow);
                rule.comment = Some(format!("recorded on {arch} only"));
                spec.syscalls.push(rule);
            }
            covered.extend(names);
        }
        spec
    }
}

/// The architecture of a call from its `AUDIT_ARCH_*` token and number, as
/// ptrace and the audit log report them (x32 shares x86_64's token and is
/// told apart by a bit in the number).
pub fn arch_of(audit_arch: u32, nr: u32) -> Option<Arch> {
    if audit_arch == Arch::X86_64.audit_arch() {
        return Some(if nr & X32_SYSCALL_BIT != 0 { Arch::X32 } else { Arch::X86_64 });
    }
    Arch::ALL.iter().copied().find(|a| a.audit_arch() == audit_arch && a.is_supported())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_spec_allows_what_was_seen_per_architecture() {
        let mut s = SyscallSet::new();
        s.add(Arch::X86_64, 39, 3); // getpid
        s.add(Arch::X86_64, 0, 1); // read
        s.add(Arch::X86, 20, 1); // getpid on i386
        s.add(Arch::X86, 4, 1); // write on i386
        s.add(Arch::X86_64, 100_000, 1);
        assert_eq!(s.distinct(), 5);
        assert_eq!(s.total(), 7);
        let (_, unknown) = s.names(Arch::X86_64);
        assert_eq!(unknown, vec![100_000]);
        let spec = s.to_spec(Arch::X86_64);
        assert_eq!(spec.default_action, ActionName::Errno);
        assert_eq!(spec.architectures, vec![Arch::X86_64, Arch::X86]);
        assert_eq!(spec.syscalls[0].names, vec!["exit", "exit_group", "getpid", "read", "rt_sigreturn"]);
        assert_eq!(spec.syscalls[1].names, vec!["write"]);
        assert_eq!(spec.syscalls[1].comment.as_deref(), Some("recorded on SCMP_ARCH_X86 only"));
    }

    #[test]
    fn arch_tokens_map_to_architectures() {
        assert_eq!(arch_of(0xC000_003E, 39), Some(Arch::X86_64));
        assert_eq!(arch_of(0xC000_003E, X32_SYSCALL_BIT | 39), Some(Arch::X32));
        assert_eq!(arch_of(0x4000_0003, 20), Some(Arch::X86));
        assert_eq!(arch_of(0xC000_00B7, 1), Some(Arch::Aarch64));
        assert_eq!(arch_of(0x1234, 1), None);
    }
}
