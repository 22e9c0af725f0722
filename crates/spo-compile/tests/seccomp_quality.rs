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
    let prog = compile_with(&filter, &Options { arches: Some(arches.to_vec()) }).unwrap();
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
