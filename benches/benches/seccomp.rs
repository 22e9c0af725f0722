//! The seccomp compiler against libseccomp 2.5 (optimisation level 2, its
//! binary tree), both starting from the same resolved filter, in the same
//! run. Prints a table per profile and architecture set: program length,
//! mean and max instructions executed over x86_64 syscall numbers 0 to 460
//! with zero arguments (counted by the interpreter), build time, and the
//! time ratio to libseccomp; then the corpus table (every profile of
//! `tests/fixtures/{profiles,corpus}` on three architecture sets: program
//! length, mean and max instructions executed over the native table's
//! numbers, and the mix of executed instructions); then lets criterion
//! measure both builds. `SPO_BENCH_TABLES_ONLY=1` stops after the tables.

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
    let prog = compile_with(filter, &Options { arches: Some(arches.to_vec()), ..Options::default() }).unwrap();
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
            let prog = compile_with(&filter, &Options { arches: Some(arches.to_vec()), ..Options::default() }).unwrap();
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

const CORPUS_SETS: &[(&str, &[Arch])] = &[
    ("x86_64", &[Arch::X86_64]),
    ("x86_64+x86+x32", &[Arch::X86_64, Arch::X86, Arch::X32]),
    ("aarch64+arm", &[Arch::Aarch64, Arch::Arm]),
];

/// Every JSON profile of the two fixture directories, by file stem.
fn corpus_files() -> Vec<(String, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../crates/spo-compile/tests/fixtures");
    let mut out = Vec::new();
    for dir in ["profiles", "corpus"] {
        let mut paths: Vec<_> = std::fs::read_dir(root.join(dir))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "json"))
            .collect();
        paths.sort();
        for p in paths {
            let name = p.file_stem().unwrap().to_string_lossy().into_owned();
            out.push((name, std::fs::read_to_string(&p).unwrap()));
        }
    }
    out
}

/// Executed instructions by kind: loads, ALU, conditional jumps, `ja`, returns.
#[derive(Default, Clone, Copy)]
struct Mix {
    ld: u64,
    alu: u64,
    jcond: u64,
    ja: u64,
    ret: u64,
}

impl Mix {
    fn total(&self) -> u64 {
        self.ld + self.alu + self.jcond + self.ja + self.ret
    }
    fn add(&mut self, o: &Mix) {
        self.ld += o.ld;
        self.alu += o.alu;
        self.jcond += o.jcond;
        self.ja += o.ja;
        self.ret += o.ret;
    }
}

/// Walk one run of `prog` (the instructions both compilers emit) counting
/// what executes; the verdict must be the interpreter's.
fn trace(prog: &[Insn], d: &SeccompData, mix: &mut Mix) {
    use bpf::op;
    let bytes = d.to_bytes();
    let word = |k: u32| {
        let b = &bytes[k as usize..k as usize + 4];
        u32::from_ne_bytes([b[0], b[1], b[2], b[3]])
    };
    let word = |k: u32| if d.arch & 0x4000_0000 != 0 { u32::from_le(word(k)) } else { u32::from_be(word(k)) };
    let (mut pc, mut a) = (0usize, 0u32);
    loop {
        let i = prog[pc];
        match i.code {
            op::LD_ABS_W => {
                a = word(i.k);
                mix.ld += 1;
            }
            op::AND_K => {
                a &= i.k;
                mix.alu += 1;
            }
            op::JMP_JA => {
                mix.ja += 1;
                pc += i.k as usize;
            }
            op::RET_K => {
                mix.ret += 1;
                assert_eq!(i.k, run_checked(prog, d).ret);
                return;
            }
            c if c & 0x07 == op::JMP => {
                mix.jcond += 1;
                let taken = match c & 0xf0 {
                    op::JEQ => a == i.k,
                    op::JGT => a > i.k,
                    op::JGE => a >= i.k,
                    op::JSET => a & i.k != 0,
                    _ => panic!("unexpected jump {c:#x}"),
                };
                pc += usize::from(if taken { i.jt } else { i.jf });
            }
            c => panic!("unexpected instruction {c:#x}"),
        }
        pc += 1;
    }
}

/// Length, mean and max executed over `arch`'s numbers 0 to its highest,
/// zero arguments, and the executed mix.
fn corpus_figures(prog: &[Insn], arch: Arch) -> (usize, f64, usize, Mix) {
    let hi = arch.table().unwrap().entries().iter().map(|e| e.1).max().unwrap();
    let lo = hi & spo_model::arch::X32_SYSCALL_BIT;
    let mut mix = Mix::default();
    let mut counts = Vec::new();
    for nr in lo..=hi {
        let d = SeccompData { nr, arch: arch.audit_arch(), ..SeccompData::default() };
        let mut m = Mix::default();
        trace(prog, &d, &mut m);
        counts.push(m.total() as usize);
        mix.add(&m);
    }
    let mean = counts.iter().sum::<usize>() as f64 / counts.len() as f64;
    (prog.len(), mean, counts.iter().copied().max().unwrap_or(0), mix)
}

fn corpus_table() {
    println!(
        "\n{:<46} {:<15} {:>5} {:>6} {:>4} | {:>5} {:>6} {:>4}",
        "corpus profile", "arches", "insns", "mean", "max", "O2", "mean", "max"
    );
    let (mut ours_all, mut theirs_all) = (Vec::new(), Vec::new());
    let (mut ours_mix, mut theirs_mix) = (Mix::default(), Mix::default());
    for (name, text) in corpus_files() {
        let Ok(doc) = spo_parse::seccomp::parse_spec(&text) else {
            println!("{name:<46} (spo-rs refuses it)");
            continue;
        };
        for (label, arches) in CORPUS_SETS {
            let filter = resolve(&doc.spec, &Target { native: arches[0], ..Target::default() });
            let prog = compile_with(&filter, &Options { arches: Some(arches.to_vec()), ..Options::default() }).unwrap();
            let mut f = filter.clone();
            f.arches = arches.to_vec();
            let Some(theirs) = scmp::context(&f, 2, true).ok().and_then(|ctx| scmp::export(&ctx, false)) else {
                println!("{name:<46} {label:<15} (libseccomp refuses it)");
                continue;
            };
            let (n, mean, max, mix) = corpus_figures(&prog, arches[0]);
            let (tn, tmean, tmax, tmix) = corpus_figures(&theirs, arches[0]);
            println!("{name:<46} {label:<15} {n:>5} {mean:>6.2} {max:>4} | {tn:>5} {tmean:>6.2} {tmax:>4}");
            ours_all.push((mean, max));
            theirs_all.push((tmean, tmax));
            ours_mix.add(&mix);
            theirs_mix.add(&tmix);
        }
    }
    for (who, all, mix) in [("spo-rs", &ours_all, ours_mix), ("libseccomp -O2", &theirs_all, theirs_mix)] {
        let mean = all.iter().map(|x| x.0).sum::<f64>() / all.len() as f64;
        let max = all.iter().map(|x| x.1).max().unwrap_or(0);
        let t = mix.total() as f64 / 100.0;
        println!(
            "{who:<16} {} builds: mean of means {mean:.2}, max {max}; mix ld {:.1}% alu {:.1}% jcond {:.1}% ja {:.1}% ret {:.1}%",
            all.len(),
            mix.ld as f64 / t,
            mix.alu as f64 / t,
            mix.jcond as f64 / t,
            mix.ja as f64 / t,
            mix.ret as f64 / t
        );
    }
    println!();
}

fn bench(c: &mut Criterion) {
    table();
    corpus_table();
    if std::env::var_os("SPO_BENCH_TABLES_ONLY").is_some_and(|v| v == "1") {
        return;
    }
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
