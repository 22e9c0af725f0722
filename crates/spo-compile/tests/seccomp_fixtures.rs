//! Every fixture profile, compiled for several architecture sets, gives
//! the verdict `Filter::evaluate` gives for every syscall number of every
//! architecture, for argument values around every compared constant; and
//! its unconditional verdicts never read the arguments.
//!
//! By default every fixture is checked for x86_64 alone and for
//! x86_64+x86+x32, and Docker's profile on every architecture set;
//! `SPO_SECCOMP_FULL=1` checks every fixture on every set.

mod common;

use common::*;
use spo_compile::seccomp::{compile_with, Options};
use spo_model::Arch;

const ARCH_SETS: &[&[Arch]] = &[
    &[Arch::X86_64],
    &[Arch::X86_64, Arch::X86, Arch::X32],
    &[Arch::X32],
    &[Arch::Aarch64, Arch::Arm],
    &[Arch::Riscv64],
    &[Arch::Ppc64le, Arch::Ppc64, Arch::Ppc],
    &[Arch::S390x],
    &[Arch::Mips, Arch::Mipsel, Arch::Mips64, Arch::Mipsel64],
    &[Arch::Loongarch64],
];

#[test]
fn fixtures_agree_with_evaluate_on_every_arch() {
    for (name, filter) in fixture_profiles() {
        let sets = if full_run() || name == "docker-default" { ARCH_SETS } else { &ARCH_SETS[..2] };
        for arches in sets {
            let opts = Options { arches: Some(arches.to_vec()), ..Options::default() };
            let prog = compile_with(&filter, &opts).unwrap_or_else(|e| panic!("{name} {arches:?}: {e}"));
            let bad = mismatches(&filter, arches, &prog, 7, &|_, _| false);
            assert!(bad.is_empty(), "{name} for {arches:?}:\n{}", bad.join("\n"));
        }
    }
}

#[test]
fn unconditional_verdicts_never_read_arguments() {
    for (name, filter) in fixture_profiles() {
        let arches = [Arch::X86_64, Arch::X86, Arch::X32];
        let prog = compile_with(&filter, &Options { arches: Some(arches.to_vec()), ..Options::default() }).unwrap();
        let mut checked = 0;
        for a in arches {
            let rules = filter.arch_rules(a);
            for nr in probe_numbers(a) {
                // A multiplexer is conditional when a call it carries is.
                let conditional = rules.iter().any(|r| r.nr == nr && !r.args.is_empty());
                if conditional {
                    continue;
                }
                // Arguments and instruction pointer are poison: reading them is flagged.
                let out = run(&prog, a.audit_arch(), nr, &[0xdead_beef_dead_beef; 6]);
                assert!(!out.read_args_or_ip(), "{name}: {a} nr {nr} read {:#06x}", out.loaded);
                checked += 1;
            }
        }
        assert!(checked > 300, "{name}: only {checked} numbers checked");
    }
}
