//! The seccomp compiler against libseccomp 2.5 (optimisation level 2, its
//! binary tree), both starting from the same resolved filter, in the same
//! run. Prints a table per profile and architecture set: program length,
//! mean and max instructions executed over x86_64 syscall numbers 0 to 460
//! with zero arguments (counted by the interpreter), build time, and the
//! time ratio to libseccomp; then lets criterion measure both builds.

use std::fs::File;
use std::hint::black_box;
use std::path::Path;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use libseccomp::{ScmpAction, ScmpArch, ScmpArgCompare, ScmpCompareOp, ScmpFilterContext, ScmpSyscall};
use spo_compile::bpf::interp::{run_checked, SeccompData};
use spo_compile::bpf::{self, Insn};
use spo_compile::seccomp::{compile_with, Options};
use spo_model::seccomp::{resolve, Action, Filter, Operator, Target};
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

fn scmp_arch(a: Arch) -> ScmpArch {
    match a {
        Arch::X86 => ScmpArch::X86,
        Arch::X32 => ScmpArch::X32,
        _ => ScmpArch::X8664,
    }
}

fn scmp_action(a: Action) -> ScmpAction {
    match a {
        Action::KillProcess => ScmpAction::KillProcess,
        Action::KillThread => ScmpAction::KillThread,
        Action::Trap => ScmpAction::Trap,
        Action::Errno(e) => ScmpAction::Errno(i32::from(e)),
        Action::Trace(d) => ScmpAction::Trace(d),
        Action::Notify => ScmpAction::Notify,
        Action::Log => ScmpAction::Log,
        Action::Allow => ScmpAction::Allow,
    }
}

/// libseccomp's build and export, as a runtime does it: new context,
/// architectures, every rule (names resolved by libseccomp; rules with the
/// default action or an unknown name skipped, as runc does), export.
fn libseccomp_build(filter: &Filter, arches: &[Arch], out: &File) {
    let mut ctx = ScmpFilterContext::new(scmp_action(filter.default_action)).unwrap();
    ctx.set_act_badarch(scmp_action(filter.bad_arch_action)).unwrap();
    ctx.set_ctl_optimize(2).unwrap();
    ctx.remove_arch(ScmpArch::native()).unwrap();
    for &a in arches {
        ctx.add_arch(scmp_arch(a)).unwrap();
    }
    for r in &filter.rules {
        if r.action == filter.default_action {
            continue;
        }
        let Ok(sc) = ScmpSyscall::from_name(&r.syscall) else {
            continue;
        };
        let conds: Vec<ScmpArgCompare> = r
            .args
            .iter()
            .map(|c| {
                let op = match c.op {
                    Operator::NotEqual => ScmpCompareOp::NotEqual,
                    Operator::LessThan => ScmpCompareOp::Less,
                    Operator::LessOrEqual => ScmpCompareOp::LessOrEqual,
                    Operator::Equal => ScmpCompareOp::Equal,
                    Operator::GreaterOrEqual => ScmpCompareOp::GreaterEqual,
                    Operator::GreaterThan => ScmpCompareOp::Greater,
                    Operator::MaskedEqual => ScmpCompareOp::MaskedEqual(c.value),
                };
                let datum = if c.op == Operator::MaskedEqual { c.value_two } else { c.value };
                ScmpArgCompare::new(u32::from(c.index), op, datum)
            })
            .collect();
        ctx.add_rule_conditional(scmp_action(r.action), sc, &conds).unwrap();
    }
    ctx.export_bpf(out).unwrap();
}

fn libseccomp_program(filter: &Filter, arches: &[Arch]) -> Vec<Insn> {
    let path = std::env::temp_dir().join(format!("spo-bench-seccomp-{}.bpf", std::process::id()));
    let file = File::create(&path).unwrap();
    libseccomp_build(filter, arches, &file);
    drop(file);
    let bytes = std::fs::read(&path).unwrap();
    let _ = std::fs::remove_file(&path);
    bpf::from_bytes(&bytes).unwrap()
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
