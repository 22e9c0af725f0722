//! Check a compiled program against [`Filter::evaluate`] by running it.
//!
//! The interpreter runs the program for every syscall number of every
//! architecture the filter accepts (plus numbers outside the tables and an
//! unknown architecture), with argument values on both sides of every
//! constant the rules compare against. It is the property the tests and the
//! fuzz target assert, and a cheap self-check before a filter is installed.

use spo_model::arch::X32_SYSCALL_BIT;
use spo_model::seccomp::Filter;
use spo_model::Arch;

use crate::bpf::interp::{self, SeccompData};
use crate::bpf::Insn;
use crate::CompileError;

/// Which architecture's rules apply to `nr` under `token` (`None`: a bad
/// architecture), as the compiler splits x86_64 and x32.
pub fn abi_of(arches: &[Arch], token: u32, nr: u32) -> Option<Arch> {
    if token == Arch::X86_64.audit_arch() {
        if nr == u32::MAX && arches.contains(&Arch::X86_64) {
            return Some(Arch::X86_64);
        }
        let a = if nr >= X32_SYSCALL_BIT { Arch::X32 } else { Arch::X86_64 };
        return arches.contains(&a).then_some(a);
    }
    arches.iter().copied().find(|a| a.audit_arch() == token)
}

/// Run `prog` over the probe grid of `filter`; the first disagreement with
/// `Filter::evaluate` is an error.
pub fn verify(filter: &Filter, prog: &[Insn]) -> Result<(), CompileError> {
    interp::check(prog)?;
    let mut tokens: Vec<u32> = filter.arches.iter().map(|a| a.audit_arch()).collect();
    tokens.push(0);
    tokens.dedup();
    let per_arch: Vec<(Arch, Vec<spo_model::seccomp::ArchRule>)> =
        filter.arches.iter().map(|&a| (a, filter.arch_rules(a))).collect();
    for token in tokens {
        let mut probes: Vec<u32> = vec![0, 1, 0x3fff_ffff, 0x4000_0000, 0x7fff_ffff, u32::MAX - 1, u32::MAX];
        for a in Arch::ALL.iter().filter(|a| a.audit_arch() == token) {
            if let Some(t) = a.table() {
                probes.extend(t.entries().iter().map(|e| e.1));
                probes.extend(t.entries().iter().map(|e| e.1 + 1));
            }
        }
        probes.sort_unstable();
        probes.dedup();
        for nr in probes {
            let abi = abi_of(&filter.arches, token, nr);
            let mut values: Vec<u64> = vec![0, u64::MAX];
            if let Some((_, rules)) = abi.and_then(|a| per_arch.iter().find(|(x, _)| *x == a)) {
                for r in rules.iter().filter(|r| r.nr == nr) {
                    for c in &r.args {
                        values.extend([c.value, c.value.wrapping_add(1), c.value.wrapping_sub(1), c.value_two]);
                        values.extend([c.value ^ (1 << 32), c.value_two | !c.value]);
                    }
                }
            }
            values.sort_unstable();
            values.dedup();
            for (i, v) in values.iter().enumerate() {
                // Every value on every argument at once, and each alone.
                for args in [[*v; 6], one_arg(i % 6, *v)] {
                    let want = match abi {
                        Some(a) => filter.evaluate(a, nr, &args).to_ret(),
                        None => filter.bad_arch_action.to_ret(),
                    };
                    let d = SeccompData { nr, arch: token, instruction_pointer: 0, args };
                    let got = interp::run_checked(prog, &d).ret;
                    if got != want {
                        return Err(CompileError::Disagrees { token, nr, args, got, want });
                    }
                }
            }
        }
    }
    Ok(())
}

fn one_arg(i: usize, v: u64) -> [u64; 6] {
    let mut a = [0; 6];
    a[i] = v;
    a
}
