//! Hostile input stays linear: the whole `spoc validate` path (parse,
//! lower, validate, render every diagnostic rustc-style) on a small and a
//! large input of the same shape, measured in the same run, with the
//! ratio of the two printed next to the ratio of their sizes. Quadratic
//! paths show as a time ratio near the size ratio squared: before the
//! suggestion index and the windowed renderer, 10,000 unknown syscall
//! names took 30 times as long as 1,000 (0.18 s, 5 s) and 100,000 more
//! than 30 s.
//!
//! Cases: unknown syscall names in one rule (one long line of JSON, so
//! every diagnostic is on the same line), rules with an unknown action,
//! an object of many keys each defined twice (YAML).
#![allow(missing_docs)] // criterion's macros generate undocumented public functions

use std::path::Path;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use spo_validate::{render_human, Limits, Options, Validator};

fn names(n: usize) -> String {
    let names: Vec<String> = (0..n).map(|i| format!("\"nosuch{i}\"")).collect();
    format!(
        "{{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"syscalls\":[{{\"action\":\"SCMP_ACT_ALLOW\",\"names\":[\"exit\",\"exit_group\",{}]}}]}}",
        names.join(",")
    )
}

fn bad_actions(n: usize) -> String {
    let rules: Vec<&str> = (0..n).map(|_| "{\"action\":\"SCMP_ACT_BOGUS\",\"names\":[\"read\"]}").collect();
    format!("{{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{}]}}", rules.join(",\n"))
}

fn duplicate_keys(n: usize) -> String {
    let mut s = String::from("kind: SeccompProfile\nspec:\n  defaultAction: SCMP_ACT_ALLOW\nmetadata:\n");
    for i in 0..n / 2 {
        s.push_str(&format!("  k{i}: 1\n"));
    }
    for i in 0..n / 2 {
        s.push_str(&format!("  k{i}: 2\n"));
    }
    s
}

/// Diagnostics found and bytes rendered.
fn validate(v: &Validator, text: &str) -> (usize, usize) {
    let groups = v.check_documents(Path::new("hostile.json"), text).expect("no base needed");
    let n = groups.iter().map(|g| g.2.len()).sum();
    (n, render_human(&groups).len())
}

fn median_of(v: &Validator, text: &str) -> Duration {
    let mut runs: Vec<Duration> = (0..3)
        .map(|_| {
            let t = Instant::now();
            std::hint::black_box(validate(v, text));
            t.elapsed()
        })
        .collect();
    runs.sort();
    runs[1]
}

/// A case: its name, how to make an input of a size, a small and a large size.
type Case = (&'static str, fn(usize) -> String, usize, usize);

fn bench(c: &mut Criterion) {
    // Limits raised past the largest case, so every name is checked.
    let limits = Limits { names: 1_000_000, rules: 1_000_000, ..Limits::default() };
    let v = Validator::new(&Options { limits, ..Options::default() });
    let cases: [Case; 3] = [
        ("unknown syscall names", names, 1_000, 100_000),
        ("rules with an unknown action", bad_actions, 100, 10_000),
        ("duplicate keys", duplicate_keys, 1_000, 100_000),
    ];
    let mut g = c.benchmark_group("hostile");
    g.sample_size(10);
    for (name, make, small, large) in cases {
        let (s, l) = (make(small), make(large));
        g.bench_function(format!("{name} {small}"), |b| b.iter(|| validate(&v, &s)));
        g.bench_function(format!("{name} {large}"), |b| b.iter(|| validate(&v, &l)));
        let (ts, tl) = (median_of(&v, &s), median_of(&v, &l));
        let (ds, rendered) = (validate(&v, &s).0, validate(&v, &l));
        eprintln!(
            "hostile: {name}: {small} in {ts:.2?} ({ds} diagnostics), {large} in {tl:.2?} ({} diagnostics, {} KiB \
             rendered); time ratio {:.0} for a size ratio of {} (linear: about {}, quadratic: about {})",
            rendered.0,
            rendered.1 >> 10,
            tl.as_secs_f64() / ts.as_secs_f64(),
            large / small,
            large / small,
            (large / small).pow(2)
        );
        if name == "unknown syscall names" {
            let verdict = if tl < Duration::from_secs(1) { "met" } else { "NOT met" };
            eprintln!("hostile: goal 100,000 unknown names validated and rendered under 1 s: {verdict} ({tl:.2?})");
        }
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
