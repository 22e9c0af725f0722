//! The corpus of public profiles (`tests/fixtures/{profiles,corpus}`, see
//! `corpus/PROVENANCE`) against libseccomp 2.5.4: every profile loads as
//! runc and Moby load it (spo-parse reports no error), and, resolved for
//! each native architecture of a set and compiled for the whole set, the
//! program spo-rs compiles and the one libseccomp exports give the verdict
//! of `Filter::evaluate` for every syscall number of every architecture,
//! argument values around every compared constant, and every multiplexer
//! code on `socketcall` and `ipc`. Zero mismatches.
//!
//! Besides the corpus, hand-written profiles pin the cases the corpus has
//! few of: x86 socket and IPC calls through their multiplexers, with and
//! without conditions of their own, and `MASKED_EQ` with zero, partial and
//! high-word-only masks next to unconditional rules of the same syscall.
#![allow(clippy::unwrap_used)]

mod common;

use common::scmp;
use common::*;
use spo_compile::seccomp::compile;
use spo_model::seccomp::{resolve, Action, ArgCmp, Filter, FilterRule, Operator, Target};
use spo_model::Arch;

/// Little-endian architecture sets both libseccomp 2.5.4 and spo-rs
/// compile, native first.
const SETS: &[&[Arch]] = &[
    &[Arch::X86_64, Arch::X86, Arch::X32],
    &[Arch::X86, Arch::X86_64],
    &[Arch::Aarch64, Arch::Arm],
    &[Arch::Riscv64],
    &[Arch::Ppc64le],
    &[Arch::Mipsel64, Arch::Mipsel],
];

/// Compare both programs for `filter` (already reduced to what both know)
/// with `evaluate`; returns the mismatches and the verdicts compared.
fn compare(name: &str, filter: &Filter) -> (Vec<String>, usize) {
    let ours = compile(filter).unwrap_or_else(|e| panic!("{name} {:?}: {e}", filter.arches));
    let theirs = scmp::try_build(filter, 2).unwrap_or_else(|e| panic!("libseccomp refuses {name}: {e}"));
    let mut bad = mismatches(filter, &filter.arches, &ours, 17, &|_, _| false);
    bad.extend(
        mismatches(filter, &filter.arches, &theirs, 17, &|_, _| false)
            .into_iter()
            .map(|m| format!("libseccomp vs evaluate: {m}")),
    );
    (bad.into_iter().map(|m| format!("{name} {:?}: {m}", filter.arches)).collect(), probes(filter))
}

/// How many verdicts `mismatches` compares for one program.
fn probes(filter: &Filter) -> usize {
    let mut n = 0;
    for &a in &filter.arches {
        let ruled: std::collections::HashSet<u32> = filter.arch_rules(a).iter().map(|r| r.nr).collect();
        for nr in probe_numbers(a) {
            n += if ruled.contains(&nr) { probe_args(filter, a, nr, 17).len() } else { 2 };
        }
    }
    n
}

#[test]
fn every_corpus_profile_loads_as_the_runtimes_load_it() {
    let mut n = 0;
    for (name, text) in corpus_texts() {
        let file = spo_parse::seccomp::parse_file(&text);
        let errors: Vec<_> = file.diagnostics.iter().filter(|d| d.is_error()).map(|d| &d.message).collect();
        assert!(errors.is_empty(), "{name}: {errors:#?}");
        assert_eq!(file.documents.len(), 1, "{name}");
        n += 1;
    }
    assert!(n >= 25, "only {n} corpus profiles");
}

#[test]
fn corpus_matches_libseccomp_on_every_architecture() {
    let mut bad = Vec::new();
    let (mut builds, mut verdicts) = (0, 0);
    for (name, text) in corpus_texts() {
        let spec = spo_parse::seccomp::parse_spec(&text).unwrap_or_else(|e| panic!("{name}: {e}")).spec;
        let sets = if full_run() { SETS } else { &SETS[..3] };
        for arches in sets {
            let filter = resolve(&spec, &Target { native: arches[0], ..Target::default() });
            let filter = scmp::comparable(&filter, arches);
            let (b, v) = compare(&name, &filter);
            bad.extend(b);
            builds += 1;
            verdicts += v;
        }
    }
    eprintln!("{builds} builds, about {verdicts} verdicts per compiler compared");
    assert!(bad.is_empty(), "{} mismatches:\n{}", bad.len(), bad[..bad.len().min(40)].join("\n"));
}

fn rule(name: &str, action: Action, args: &[(u8, Operator, u64, u64)]) -> FilterRule {
    FilterRule {
        syscall: name.into(),
        action,
        args: args.iter().map(|&(index, op, value, value_two)| ArgCmp { index, op, value, value_two }).collect(),
    }
}

fn check_both(name: &str, f: &Filter) {
    let f = scmp::comparable(f, &f.arches);
    assert!(!f.rules.is_empty(), "{name}: nothing left to compare");
    let (bad, _) = compare(name, &f);
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

const SOCKET_CALLS: &[&str] = &[
    "socket",
    "bind",
    "connect",
    "listen",
    "accept",
    "getsockname",
    "getpeername",
    "socketpair",
    "send",
    "recv",
    "sendto",
    "recvfrom",
    "shutdown",
    "setsockopt",
    "getsockopt",
    "sendmsg",
    "recvmsg",
    "accept4",
    "recvmmsg",
    "sendmmsg",
];
const IPC_CALLS: &[&str] = &[
    "semop",
    "semget",
    "semctl",
    "semtimedop",
    "msgsnd",
    "msgrcv",
    "msgget",
    "msgctl",
    "shmat",
    "shmdt",
    "shmget",
    "shmctl",
];

#[test]
fn multiplexed_calls_match_libseccomp() {
    for set in [&[Arch::X86_64, Arch::X86][..], &[Arch::Ppc64le], &[Arch::Mipsel64, Arch::Mipsel]] {
        multiplexed_calls(set);
    }
}

fn multiplexed_calls(x86: &[Arch]) {
    use Operator::*;
    let muxer = *x86.last().unwrap();
    // Deny-list: each call alone, denied, so that its multiplexer code is
    // the only one refused.
    for (i, name) in SOCKET_CALLS.iter().chain(IPC_CALLS).enumerate() {
        let mut f = Filter::new(Action::Allow, x86.to_vec());
        f.rules.push(rule(name, Action::Errno(1 + i as u16), &[]));
        check_both(name, &f);
        let nr = muxer.syscall_number(if SOCKET_CALLS.contains(name) { "socketcall" } else { "ipc" }).unwrap();
        let code = spo_model::seccomp::multiplex::multiplexed(muxer, name).unwrap().1;
        let prog = compile(&f).unwrap();
        let got = |a0| run(&prog, muxer.audit_arch(), nr, &[a0, 0, 0, 0, 0, 0]).ret;
        assert_eq!(got(u64::from(code)), Action::Errno(1 + i as u16).to_ret(), "{name} on {muxer}");
        assert_eq!(got(u64::from(code) + 100), Action::Allow.to_ret(), "{name} on {muxer}");
    }
    // Allow-lists: all socket calls, some with conditions of their own
    // (on argument 0, which the multiplexer replaces, and on others, which
    // it keeps), with and without the multiplexer named too.
    for with_mux in [false, true] {
        let mut f = Filter::new(Action::Errno(38), x86.to_vec());
        for (i, name) in SOCKET_CALLS.iter().chain(IPC_CALLS).enumerate() {
            let args: &[(u8, Operator, u64, u64)] = match i % 4 {
                0 => &[],
                1 => &[(0, NotEqual, 40, 0)],
                2 => &[(1, Equal, 0x80000, 0), (2, LessThan, 16, 0)],
                _ => &[(0, Equal, 2, 0), (3, MaskedEqual, 0xff, 0x1ff)],
            };
            f.rules.push(rule(name, Action::Allow, args));
        }
        if with_mux {
            f.rules.push(rule("socketcall", Action::Errno(1), &[(1, Equal, 7, 0)]));
            f.rules.push(rule("ipc", Action::Allow, &[]));
        }
        check_both("socket allow-list", &f);
    }
}

#[test]
fn masked_equal_matches_libseccomp() {
    use Operator::*;
    let cases: &[(u64, u64)] = &[
        (0, 0),
        (0, 5),
        (0xffff_ffff_0000_0000, 0x1_0000_0000),
        (0xffff_ffff_0000_0000, 0),
        (0xf0, 0x1ff),
        (0x7e02_0000, 0),
        (0xffff_ffff, 0x0000_0001_0000_0002),
        (u64::MAX, 3),
    ];
    for arches in [&[Arch::X86_64][..], &[Arch::X86_64, Arch::X86, Arch::X32], &[Arch::Aarch64, Arch::Arm]] {
        for &(mask, datum) in cases {
            // Alone; before and after an unconditional rule of the same
            // syscall with another action; beside a more restrictive
            // conditional rule on another argument; inside a conjunction.
            // (Overlapping conditional rules with different actions on
            // different arguments are left out: libseccomp's verdict then
            // depends on how it merges them, see docs/seccomp-compiler.md.)
            let masked = rule("clone", Action::Allow, &[(0, MaskedEqual, mask, datum)]);
            let layouts: Vec<Vec<FilterRule>> = vec![
                vec![masked.clone()],
                vec![masked.clone(), rule("clone", Action::Errno(3), &[])],
                vec![rule("clone", Action::Errno(3), &[]), masked.clone()],
                vec![masked.clone(), rule("clone", Action::Trap, &[(1, GreaterThan, 7, 0)])],
                vec![
                    rule("clone", Action::Allow, &[(0, MaskedEqual, mask, datum), (2, Equal, 9, 0)]),
                    rule("clone", Action::Allow, &[(1, Equal, 4, 0)]),
                ],
            ];
            for rules in layouts {
                let mut f = Filter::new(Action::Errno(1), arches.to_vec());
                f.rules = rules;
                check_both(&format!("mask {mask:#x} datum {datum:#x}"), &f);
            }
        }
    }
}

/// The architectures spo-rs multiplexes are the ones the installed
/// libseccomp rewrites: there it names `socket` and `connect`, which every
/// architecture has a number for, by their negative pseudo-numbers.
#[test]
fn multiplexing_architectures_are_libseccomps() {
    use spo_model::seccomp::multiplex::multiplexes;
    let mut checked = 0;
    let mut bad = Vec::new();
    for &arch in Arch::ALL.iter().filter(|a| a.is_supported() && scmp::scmp_arch(**a).is_some()) {
        for name in ["socket", "connect", "shmget"] {
            let raw = scmp::scmp_raw_number(name, arch).unwrap_or_else(|| panic!("{name} on {arch}"));
            if (raw < 0) != multiplexes(arch) {
                bad.push(format!("{name} on {arch}: libseccomp says {raw}"));
            }
            checked += 1;
        }
    }
    assert!(bad.is_empty(), "{bad:#?}");
    assert!(checked >= 30, "{checked}");
}
