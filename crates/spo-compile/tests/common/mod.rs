//! Shared helpers of the seccomp compiler tests: fixture profiles, the
//! probe grid (syscall numbers and argument values) and the expected
//! verdict from `Filter::evaluate`.

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test
#![allow(dead_code)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use spo_compile::bpf::interp::{self, SeccompData};
use spo_compile::bpf::Insn;
use spo_model::arch::X32_SYSCALL_BIT;
use spo_model::seccomp::{multiplex, resolve, Filter, SeccompSpec, Target};
use spo_model::Arch;

pub fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// Whether the long runs were asked for (`SPO_SECCOMP_FULL=1`): every
/// fixture on every architecture set, instead of a sample that keeps the
/// default test run within seconds.
pub fn full_run() -> bool {
    std::env::var_os("SPO_SECCOMP_FULL").is_some_and(|v| v == "1")
}

/// A Docker/OCI/SPO JSON profile resolved for an x86_64 node with Docker's
/// default capabilities.
pub fn filter_from_json(text: &str) -> Filter {
    let spec: SeccompSpec = spo_parse::seccomp::parse_spec(text).expect("profile parses").spec;
    resolve(&spec, &Target { native: Arch::X86_64, ..Target::default() })
}

/// Every profile under `tests/fixtures/profiles`, sorted by file name.
pub fn fixture_profiles() -> Vec<(String, Filter)> {
    profiles_in("profiles").into_iter().map(|(name, text)| (name, filter_from_json(&text))).collect()
}

/// The public profiles of the corpus (`tests/fixtures/profiles` and
/// `tests/fixtures/corpus`, see `corpus/PROVENANCE`): file stem and text.
pub fn corpus_texts() -> Vec<(String, String)> {
    let mut out = profiles_in("profiles");
    out.extend(profiles_in("corpus"));
    out
}

/// The JSON files of a fixture directory, sorted by name: stem and text.
fn profiles_in(dir: &str) -> Vec<(String, String)> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(fixtures_dir().join(dir))
        .expect("fixture directory")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    paths.sort();
    paths
        .into_iter()
        .map(|p| {
            let name = p.file_stem().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read_to_string(&p).unwrap())
        })
        .collect()
}

/// Which architecture's rules apply to `nr` under audit token `token`, or
/// `None` when the filter does not accept it (the bad-architecture case).
pub fn abi_of(arches: &[Arch], token: u32, nr: u32) -> Option<Arch> {
    if token == Arch::X86_64.audit_arch() {
        // -1 (a tracer's skipped call) is x86_64's when it is there.
        if nr == u32::MAX && arches.contains(&Arch::X86_64) {
            return Some(Arch::X86_64);
        }
        let a = if nr >= X32_SYSCALL_BIT { Arch::X32 } else { Arch::X86_64 };
        return arches.contains(&a).then_some(a);
    }
    arches.iter().copied().find(|a| a.audit_arch() == token)
}

/// The return value `Filter::evaluate` expects.
pub fn expected(filter: &Filter, arches: &[Arch], token: u32, nr: u32, args: &[u64; 6]) -> u32 {
    match abi_of(arches, token, nr) {
        // `abi_of` only answers architectures of `arches`, which `evaluate`
        // must accept too.
        Some(a) if filter.arches.contains(&a) => filter.evaluate(a, nr, args).to_ret(),
        Some(a) => {
            let mut f = filter.clone();
            f.arches.push(a);
            f.evaluate(a, nr, args).to_ret()
        }
        None => filter.bad_arch_action.to_ret(),
    }
}

/// Syscall numbers worth probing on `arch`: its table, the gaps around
/// it, and a few far out of range.
pub fn probe_numbers(arch: Arch) -> Vec<u32> {
    let table = arch.table().expect("table");
    let mut v: Vec<u32> = table.entries().iter().map(|e| e.1).collect();
    let max = v.iter().copied().max().unwrap_or(0);
    let base = if arch == Arch::X32 { X32_SYSCALL_BIT } else { 0 };
    v.extend([
        base,
        base + 1,
        max + 1,
        max + 2,
        max + 1000,
        base.wrapping_sub(1),
        0x3fff_ffff,
        0x4000_0000,
        0x7fff_ffff,
        0xffff_ffff,
    ]);
    for nr in base..max {
        if table.name(nr).is_none() {
            v.push(nr);
            break;
        }
    }
    v.sort_unstable();
    v.dedup();
    v
}

/// Argument vectors that exercise the conditions on `nr`: zeros, every
/// compared value and its neighbours, values with high bits set, and a few
/// pseudo-random ones.
pub fn probe_args(filter: &Filter, arch: Arch, nr: u32, seed: u64) -> Vec<[u64; 6]> {
    let mut out = vec![[0u64; 6], [u64::MAX; 6]];
    let mut rng = seed ^ u64::from(nr).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    let mut next = move || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    // The rules as they apply to `nr` (a multiplexer's include the codes of
    // the calls it carries in argument 0).
    let conds: Vec<_> = filter
        .arch_rules(arch)
        .into_iter()
        .filter(|r| r.nr == nr)
        .flat_map(|r| r.args)
        .chain(
            filter
                .rules
                .iter()
                .filter(|r| arch.syscall_number(&r.syscall) == Some(nr))
                .flat_map(|r| r.args.iter().copied()),
        )
        .collect();
    for c in &conds {
        let i = usize::from(c.index).min(5);
        for v in [
            c.value,
            c.value.wrapping_add(1),
            c.value.wrapping_sub(1),
            c.value_two,
            c.value_two | !c.value,
            c.value_two ^ 1,
            c.value ^ (1 << 32),
            c.value.wrapping_add(1 << 32),
            c.value.wrapping_sub(1 << 32),
            c.value & 0xffff_ffff,
        ] {
            let mut a = [0u64; 6];
            a[i] = v;
            out.push(a);
            // The same value with the other conditions satisfied by chance.
            let mut b = [0u64; 6];
            for d in &conds {
                b[usize::from(d.index).min(5)] = d.value_two | d.value & next();
            }
            b[i] = v;
            out.push(b);
        }
    }
    // A multiplexer with every code in argument 0 (`SYS_SOCKET` ...
    // `SYS_SENDMMSG`, `SEMOP` ... `SHMCTL`) and the numbers around them.
    if ["socketcall", "ipc"].iter().any(|m| arch.syscall_number(m) == Some(nr)) {
        for code in 0..=26u64 {
            out.push([code, 0, 0, 0, 0, 0]);
            out.push([code | 0x1_0000_0000, 0, 0, 0, 0, 0]);
        }
    }
    for _ in 0..4 {
        let mut a = [0u64; 6];
        for x in &mut a {
            *x = next() >> (next() % 64);
        }
        out.push(a);
    }
    out
}

/// Run `prog` for one call.
pub fn run(prog: &[Insn], token: u32, nr: u32, args: &[u64; 6]) -> interp::Outcome {
    let d = SeccompData { nr, arch: token, instruction_pointer: 0x7f00_dead_beef, args: *args };
    interp::run_checked(prog, &d)
}

/// Every mismatch between `prog` and `Filter::evaluate` over the probe
/// grid of `arches` (plus an unknown token), at most `limit` of them.
pub fn mismatches(
    filter: &Filter,
    arches: &[Arch],
    prog: &[Insn],
    seed: u64,
    skip: &dyn Fn(Arch, u32) -> bool,
) -> Vec<String> {
    interp::check(prog).expect("the kernel would accept the program");
    let mut filter = filter.clone();
    filter.arches = arches.to_vec();
    let filter = &filter;
    // `evaluate` on the rules of one syscall only: same answer, far faster.
    let mut per_nr: HashMap<(Arch, u32), Filter> = HashMap::new();
    for &a in Arch::ALL.iter().filter(|a| a.table().is_some()) {
        for r in &filter.rules {
            let direct = a.syscall_number(&r.syscall);
            let muxed = multiplex::multiplexed(a, &r.syscall).map(|m| m.0);
            for nr in direct.into_iter().chain(muxed) {
                per_nr
                    .entry((a, nr))
                    .or_insert_with(|| Filter { rules: Vec::new(), ..filter.clone() })
                    .rules
                    .push(r.clone());
            }
        }
    }
    let empty = Filter { rules: Vec::new(), ..filter.clone() };
    let mut bad = Vec::new();
    let mut tokens: Vec<u32> = arches.iter().map(|a| a.audit_arch()).collect();
    tokens.push(0x1234_5678);
    tokens.dedup();
    for &token in &tokens {
        let mut probe_arches: Vec<Arch> = arches.iter().copied().filter(|a| a.audit_arch() == token).collect();
        if token == Arch::X86_64.audit_arch() {
            probe_arches = vec![Arch::X86_64, Arch::X32];
        }
        if probe_arches.is_empty() {
            probe_arches.push(Arch::X86_64);
        }
        for &pa in &probe_arches {
            for nr in probe_numbers(pa) {
                let abi = abi_of(arches, token, nr).unwrap_or(pa);
                if skip(abi, nr) {
                    continue;
                }
                let sub = per_nr.get(&(abi, nr)).unwrap_or(&empty);
                for args in probe_args(sub, abi, nr, seed) {
                    let want = expected(sub, arches, token, nr, &args);
                    let got = run(prog, token, nr, &args).ret;
                    if got != want && bad.len() < 10 {
                        bad.push(format!(
                            "token {token:#x} nr {nr} ({:?}) args {args:x?}: got {got:#x}, want {want:#x}",
                            abi.syscall_name(nr)
                        ));
                    }
                }
            }
        }
    }
    bad
}
pub mod scmp;
