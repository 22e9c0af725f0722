//! The seccomp compiler against libseccomp 2.5 (optimisation level 2, its
//! binary tree), both starting from the same resolved filter, in the same
//! run. Prints a table per profile and architecture set: program length,
//! mean and max instructions executed over x86_64 syscall numbers 0 to 460
//! with zero arguments (counted by the interpreter), build time, and the
//! time ratio to libseccomp; then lets criterion measure both builds.

#![allow(missing_docs)] // criterion's macros generate undocumented public functions
#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use std::fs::File;
use std::hint::black_box;
use std::path::Path;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};

/// The libseccomp adapter of the differential tests, shared so that the
/// bench measures the peer exactly as the tests compare with it.
#[allow(dead_code)]
#[path = "../../crates/spo-compile/tests/common/scmp.rs"]
mod scmp;
use libseccomp::ScmpFilterContext;
use spo_compile::bpf::interp::{run_checked, SeccompData};
use spo_compile::bpf::{self, Insn};
use spo_compile::seccomp::{compile_with, Options};
use spo_model::seccomp::{resolve, Filter, Target};
use spo_model::Arch;

const PROFILES: &[&str] =
    &["docker-default", "moby-default-docker29", "containers-common", "containerd-default", "spo-baseprofile-runc"];
const ARCH_SETS: &[(&str, &[Arch])] =
    &[("x86_64", &[Arch::X86_64]), ("x86_64+x86+x32", &[Arch::X86_64, Arch::X86, Arch::X32])];

fn load(name: &str) -> Filter {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../crates/spo-compile/tests/fixtures/profiles")
        .join(format!("{name}.json"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let doc = spo_parse::seccomp::parse_spec(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
    resolve(&doc.spec, &Target { native: Arch::X86_64, ..Target::default() })
}

/// `filter` for `arches`, as libseccomp builds it at level 2 (the same
/// adapter the differential tests use).
fn libseccomp_context(filter: &Filter, arches: &[Arch]) -> ScmpFilterContext {
    let mut f = filter.clone();
    f.arches = arches.to_vec();
    scmp::context(&f, 2, true).unwrap()
}

/// libseccomp's build and export, as a runtime does it.
fn libseccomp_build(filter: &Filter, arches: &[Arch], out: &File) {
    libseccomp_context(filter, arches).export_bpf(out).unwrap();
}

fn libseccomp_program(filter: &Filter, arches: &[Arch]) -> Vec<Insn> {
    scmp::export(&libseccomp_context(filter, arches), false).unwrap()
}

fn ours(filter: &Filter, arches: &[Arch]) -> Vec<u8> {
    let prog = compile_with(filter, &Options { arches: Some(arches.to_vec()) }).unwrap();
    bpf::to_bytes(&prog)
}

/// Mean and max instructions executed over x86_64 numbers 0..=460.
fn executed(prog: &[Insn]) -> (f64, usize) {
    bpf::interp::check(prog).unwrap();
    let counts: Vec<usize> = (0..=460u32)
        .map(|nr| {
            let d = SeccompData { nr, arch: Arch::X86_64.audit_arch(), ..SeccompData::default() };
            run_checked(prog, &d).executed
        })
        .collect();
    (counts.iter().sum::<usize>() as f64 / counts.len() as f64, counts.iter().copied().max().unwrap_or(0))
}

/// Median wall time of `f` over enough runs to fill about 200 ms.
fn time(mut f: impl FnMut()) -> Duration {
    let start = Instant::now();
    f();
    let once = start.elapsed().max(Duration::from_nanos(100));
    let runs = (Duration::from_millis(200).as_nanos() / once.as_nanos()).clamp(5, 20_000) as usize;
    let mut samples: Vec<Duration> = (0..runs)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed()
        })
        .collect();
    samples.sort();
    samples[samples.len() / 2]
}

fn table() {
    let devnull = File::options().write(true).open("/dev/null").unwrap();
    println!(
        "\n{:<22} {:<15} {:<16} {:>6} {:>7} {:>4} {:>11} {:>7}",
        "profile", "arches", "compiler", "insns", "mean", "max", "build", "speedup"
    );
    for name in PROFILES {
        let filter = load(name);
        for (label, arches) in ARCH_SETS {
            let theirs = libseccomp_program(&filter, arches);
            let t_theirs = time(|| libseccomp_build(black_box(&filter), arches, &devnull));
            let prog = compile_with(&filter, &Options { arches: Some(arches.to_vec()) }).unwrap();
            let t_ours = time(|| {
                black_box(ours(black_box(&filter), arches));
            });
            for (who, p, t) in [("spo-rs", &prog, t_ours), ("libseccomp -O2", &theirs, t_theirs)] {
                let (mean, max) = executed(p);
                let ratio = t_theirs.as_secs_f64() / t.as_secs_f64();
                println!(
                    "{name:<22} {label:<15} {who:<16} {:>6} {mean:>7.2} {max:>4} {:>9.1}us {ratio:>6.1}x",
                    p.len(),
                    t.as_secs_f64() * 1e6
                );
            }
        }
    }
    println!();
}

fn bench(c: &mut Criterion) {
    table();
    let devnull = File::options().write(true).open("/dev/null").unwrap();
    let filter = load("docker-default");
    let arches = [Arch::X86_64, Arch::X86, Arch::X32];
    let mut g = c.benchmark_group("seccomp/docker-default/x86_64+x86+x32");
    g.bench_function("spo-rs", |b| b.iter(|| ours(black_box(&filter), &arches)));
    g.bench_function("libseccomp-O2", |b| b.iter(|| libseccomp_build(black_box(&filter), &arches, &devnull)));
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
