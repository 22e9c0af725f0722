//! AppArmor validation speed against `apparmor_parser -Q -K` on the same
//! files in the same run: every profile shipped by Debian's `apparmor`,
//! `apparmor-profiles` and `apparmor-profiles-extra` (with their includes,
//! resolved over `/etc/apparmor.d`). Prints profiles/s and the ratio, for a
//! fresh validator per profile (every abstraction parsed again, as the
//! peer does) and for one validator over the corpus (abstractions parsed
//! once). The peer also compiles each profile to its DFA, which is work
//! validation does not do; both verdicts answer "will this load?". Skips
//! loudly when the profiles or the tool are missing.

#![allow(missing_docs)] // criterion's macros generate undocumented public functions

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use spo_parse::apparmor::{Options, Validator};

const FEATURES: &str = "/usr/share/apparmor-features/features";

fn corpus() -> Vec<(PathBuf, String)> {
    let mut out = Vec::new();
    for dir in ["/etc/apparmor.d", "/usr/share/apparmor/extra-profiles"] {
        let Ok(rd) = std::fs::read_dir(dir) else { continue };
        let mut files: Vec<PathBuf> =
            rd.flatten().map(|e| e.path()).filter(|p| p.is_file() && !p.ends_with("README")).collect();
        files.sort();
        for f in files {
            if let Ok(t) = std::fs::read_to_string(&f) {
                out.push((f, t));
            }
        }
    }
    out
}

fn ours_fresh(files: &[(PathBuf, String)]) -> usize {
    files
        .iter()
        .map(|(p, t)| {
            let mut v = Validator::new(Options::default());
            v.validate(p, t).iter().map(|r| r.diagnostics.len()).sum::<usize>()
        })
        .sum()
}

fn ours_shared(files: &[(PathBuf, String)]) -> usize {
    let mut v = Validator::new(Options::default());
    files.iter().map(|(p, t)| v.validate(p, t).iter().map(|r| r.diagnostics.len()).sum::<usize>()).sum()
}

fn peer(files: &[(PathBuf, String)]) -> Option<(Duration, usize)> {
    let t = Instant::now();
    let mut failed = 0;
    for (f, _) in files {
        let st = Command::new("apparmor_parser")
            .args(["-Q", "-K", "-M", FEATURES, "-I", "/etc/apparmor.d", "-o", "/dev/null"])
            .arg(f)
            .output()
            .ok()?;
        if !st.status.success() {
            failed += 1;
        }
    }
    Some((t.elapsed(), failed))
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn bench(c: &mut Criterion) {
    let files = corpus();
    if files.is_empty() || !Path::new(FEATURES).exists() || peer(&files[..1]).is_none() {
        eprintln!("SKIPPED: needs Debian's apparmor, apparmor-profiles and apparmor-profiles-extra");
        return;
    }
    let n = files.len();
    let errors = ours_fresh(&files);
    eprintln!("apparmor corpus: {n} profiles, {errors} diagnostics from spo-parse");
    let mut g = c.benchmark_group("apparmor_corpus");
    g.throughput(Throughput::Elements(n as u64));
    g.sample_size(10);
    g.bench_function("validate_fresh", |b| b.iter(|| ours_fresh(&files)));
    g.bench_function("validate_shared", |b| b.iter(|| ours_shared(&files)));
    g.finish();
    let (mut fresh, mut shared, mut theirs) = (Vec::new(), Vec::new(), Vec::new());
    let mut peer_failed = 0;
    for _ in 0..3 {
        let t = Instant::now();
        std::hint::black_box(ours_fresh(&files));
        fresh.push(t.elapsed());
        let t = Instant::now();
        std::hint::black_box(ours_shared(&files));
        shared.push(t.elapsed());
        if let Some((d, f)) = peer(&files) {
            theirs.push(d);
            peer_failed = f;
        }
    }
    let (fresh, shared, theirs) = (median(fresh), median(shared), median(theirs));
    let rate = |d: Duration| n as f64 / d.as_secs_f64();
    eprintln!(
        "apparmor: spo-parse {:.0} profiles/s fresh ({fresh:?}), {:.0} profiles/s shared ({shared:?}); \
         apparmor_parser -Q -K {:.0} profiles/s ({theirs:?}, {peer_failed} rejected); \
         ratio {:.1}x fresh, {:.1}x shared",
        rate(fresh),
        rate(shared),
        rate(theirs),
        theirs.as_secs_f64() / fresh.as_secs_f64(),
        theirs.as_secs_f64() / shared.as_secs_f64()
    );
}

criterion_group!(benches, bench);
criterion_main!(benches);
