//! The edges of the compiler: jumps past 255 instructions, the kernel's
//! 4096-instruction limit, architectures without a table, names an
//! architecture lacks.

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

mod common;

use common::*;
use spo_compile::bpf::{self, op};
use spo_compile::seccomp::{compile, compile_with, Options};
use spo_compile::CompileError;
use spo_model::seccomp::{Action, ArgCmp, Filter, FilterRule, Operator};
use spo_model::Arch;

/// A filter with an argument check on each of the first `n` x86_64
/// syscalls, on x86_64, x86 and x32.
fn many_checks(n: usize, conds: usize) -> Filter {
    let mut f = Filter::new(Action::Errno(1), vec![Arch::X86_64, Arch::X86, Arch::X32]);
    for (i, (name, _)) in Arch::X86_64.table().unwrap().entries().iter().take(n).enumerate() {
        let args = (0..conds)
            .map(|c| ArgCmp { index: c as u8, op: Operator::ALL[(i + c) % 7], value: (i * 7 + c) as u64, value_two: 0 })
            .map(|a| if a.op == Operator::MaskedEqual { ArgCmp { value_two: a.value & 3, ..a } } else { a })
            .collect();
        f.rules.push(FilterRule { syscall: (*name).to_owned(), action: Action::Allow, args });
    }
    f
}

#[test]
fn jumps_past_255_instructions_use_trampolines() {
    let f = many_checks(60, 2);
    let prog = compile(&f).unwrap();
    assert!(prog.len() > 600, "only {} instructions", prog.len());
    assert!(prog.iter().any(|i| i.code == op::JMP_JA), "no long jump in {} instructions", prog.len());
    let bad = mismatches(&f, &f.arches, &prog, 9, &|_, _| false);
    assert!(bad.is_empty(), "{}", bad.join("\n"));
    assert_eq!(bpf::from_bytes(&bpf::to_bytes(&prog)).unwrap(), prog);
}

#[test]
fn past_4096_instructions_is_a_clear_error() {
    let f = many_checks(300, 6);
    match compile(&f) {
        Err(CompileError::TooLong { len, max }) => {
            assert!(len > 4096, "{len}");
            assert_eq!(max, 4096);
        }
        other => panic!("expected TooLong, got {:?}", other.map(|p| p.len())),
    }
}

#[test]
fn architectures_without_a_table_are_refused() {
    let f = Filter::new(Action::Allow, vec![Arch::X86_64, Arch::S390]);
    assert_eq!(compile(&f), Err(CompileError::UnsupportedArch { arch: "SCMP_ARCH_S390".into() }));
    assert_eq!(compile_with(&f, &Options { arches: Some(vec![]), ..Options::default() }), Err(CompileError::NoArch));
    assert!(compile_with(&f, &Options { arches: Some(vec![Arch::X86_64]), ..Options::default() }).is_ok());
}

#[test]
fn names_an_architecture_lacks_are_skipped_there() {
    let mut f = Filter::new(Action::Errno(1), vec![Arch::Aarch64]);
    let empty = compile(&f).unwrap();
    // arch_prctl exists on x86_64 only.
    f.rules.push(FilterRule { syscall: "arch_prctl".into(), action: Action::Allow, args: vec![] });
    assert_eq!(compile(&f).unwrap(), empty);
    f.arches.push(Arch::X86_64);
    let both = compile(&f).unwrap();
    let nr = Arch::X86_64.syscall_number("arch_prctl").unwrap();
    assert_eq!(run(&both, Arch::X86_64.audit_arch(), nr, &[0; 6]).ret, Action::Allow.to_ret());
    assert_eq!(run(&both, Arch::Aarch64.audit_arch(), nr, &[0; 6]).ret, Action::Errno(1).to_ret());
}

#[test]
fn x32_numbers_follow_the_x32_rules() {
    let read = |a: Arch| a.syscall_number("read").unwrap();
    let token = Arch::X86_64.audit_arch();
    let mut f = Filter::new(Action::Errno(1), vec![Arch::X86_64]);
    f.bad_arch_action = Action::KillProcess;
    f.rules.push(FilterRule { syscall: "read".into(), action: Action::Allow, args: vec![] });
    // x86_64 alone: x32 numbers are a bad architecture, -1 is x86_64's.
    let p = compile(&f).unwrap();
    assert_eq!(run(&p, token, read(Arch::X86_64), &[0; 6]).ret, Action::Allow.to_ret());
    assert_eq!(run(&p, token, read(Arch::X32), &[0; 6]).ret, Action::KillProcess.to_ret());
    assert_eq!(run(&p, token, u32::MAX, &[0; 6]).ret, Action::Errno(1).to_ret());
    // x32 alone: x86_64 numbers are.
    f.arches = vec![Arch::X32];
    let p = compile(&f).unwrap();
    assert_eq!(run(&p, token, read(Arch::X32), &[0; 6]).ret, Action::Allow.to_ret());
    assert_eq!(run(&p, token, read(Arch::X86_64), &[0; 6]).ret, Action::KillProcess.to_ret());
}
