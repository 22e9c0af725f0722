//! The quality goals of the compiled filters, in instructions executed by
//! the interpreter (deterministic, unlike timings): over x86_64 syscall
//! numbers 0 to 460 with zero arguments, Docker's default profile compiled
//! for x86_64 alone executes at most 9 instructions on average and 14 at
//! most, argument-checked syscalls included; with x86 and x32 added, at most
//! 2 more on each figure.

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

mod common;

use common::*;
use spo_compile::seccomp::{compile_with, Options};
use spo_model::Arch;

fn figures(name: &str, arches: &[Arch]) -> (usize, f64, usize) {
    let filter = fixture_profiles().into_iter().find(|(n, _)| n == name).expect("fixture").1;
    let prog = compile_with(&filter, &Options { arches: Some(arches.to_vec()), ..Options::default() }).unwrap();
    let counts: Vec<usize> = (0..=460).map(|nr| run(&prog, Arch::X86_64.audit_arch(), nr, &[0; 6]).executed).collect();
    let mean = counts.iter().sum::<usize>() as f64 / counts.len() as f64;
    let max = counts.iter().copied().max().unwrap();
    let worst: Vec<(usize, usize)> = counts.iter().copied().enumerate().filter(|(_, c)| *c + 2 >= max).collect();
    eprintln!("deepest (nr, executed): {worst:?}");
    eprintln!("{name} {arches:?}: {} instructions, mean {mean:.2}, max {max}", prog.len());
    (prog.len(), mean, max)
}

#[test]
fn docker_default_meets_the_executed_instruction_goals() {
    let (_, mean, max) = figures("docker-default", &[Arch::X86_64]);
    assert!(mean <= 9.0 && max <= 14, "x86_64: mean {mean:.2}, max {max}");
    let (_, mean3, max3) = figures("docker-default", &[Arch::X86_64, Arch::X86, Arch::X32]);
    assert!(mean3 <= mean + 2.0 && max3 <= max + 2, "x86_64+x86+x32: mean {mean3:.2}, max {max3}");
}

/// `Options::frequency` puts the frequent calls shallower than the
/// uniform shape does, and the program still decides as `evaluate`.
#[test]
fn frequency_weighting_puts_frequent_calls_shallow() {
    let filter = fixture_profiles().into_iter().find(|(n, _)| n == "docker-default").expect("fixture").1;
    let arches = vec![Arch::X86_64, Arch::X86, Arch::X32];
    let uniform = compile_with(&filter, &Options { arches: Some(arches.clone()), ..Options::default() }).unwrap();
    let weighted = compile_with(&filter, &Options { arches: Some(arches.clone()), frequency: true }).unwrap();
    let hot = ["read", "write", "futex", "epoll_wait", "recvfrom", "sendto", "close", "openat"];
    let cost = |prog: &[spo_compile::bpf::Insn]| -> usize {
        hot.iter()
            .map(|n| run(prog, Arch::X86_64.audit_arch(), Arch::X86_64.syscall_number(n).unwrap(), &[0; 6]).executed)
            .sum()
    };
    let (u, w) = (cost(&uniform), cost(&weighted));
    eprintln!("frequent calls: {u} instructions uniform, {w} weighted");
    assert!(w < u, "weighted {w} >= uniform {u}");
    let bad = mismatches(&filter, &arches, &weighted, 3, &|_, _| false);
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}
