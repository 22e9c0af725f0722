//! CIL parse+check speed against `secil2tree -A build` (libsepol's parser
//! and AST builder), measured in the same run on Debian's largest module
//! (`base`, ~70,000 lines) and on the whole store. Prints MB/s and the
//! ratio. Skips (loudly) when the store or secil2tree is missing.

#![allow(missing_docs)] // criterion's macros generate undocumented public functions

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use spo_parse::cil::{self, Base};

fn store() -> Vec<(String, PathBuf, String)> {
    let dir = Path::new("/var/lib/selinux/default/active/modules/100");
    let tmp = std::env::temp_dir().join("spo-bench-cil");
    let _ = std::fs::create_dir_all(&tmp);
    let Ok(rd) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let mut mods: Vec<_> = rd.flatten().map(|e| e.path()).collect();
    mods.sort();
    for m in mods {
        let Ok(o) = Command::new("bzcat").arg(m.join("cil")).output() else {
            continue;
        };
        if !o.status.success() {
            continue;
        }
        let name = m.file_name().unwrap_or_default().to_string_lossy().into_owned();
        let file = tmp.join(format!("{name}.cil"));
        let text = String::from_utf8_lossy(&o.stdout).into_owned();
        if std::fs::write(&file, &text).is_ok() {
            out.push((name, file, text));
        }
    }
    out
}

fn secil2tree(files: &[&Path]) -> Option<Duration> {
    let t = Instant::now();
    for f in files {
        let st = Command::new("secil2tree").args(["-A", "build", "-o", "/dev/null"]).arg(f).status().ok()?;
        let _ = st;
    }
    Some(t.elapsed())
}

fn ours(texts: &[&str], base: &Base) -> usize {
    texts
        .iter()
        .map(|t| {
            let (ast, d) = cil::parse(t);
            d.len() + cil::check_with_own_names(&ast, base).len()
        })
        .sum()
}

fn bench(c: &mut Criterion) {
    let store = store();
    if store.is_empty() || Command::new("secil2tree").arg("-h").output().is_err() {
        eprintln!("SKIPPED: needs Debian's selinux-policy-default store and secil2tree (secilc package)");
        return;
    }
    let mut base = Base::empty();
    for (_, _, t) in &store {
        base.add_cil(t);
    }
    let Some((_, base_file, base_text)) = store.iter().find(|(n, _, _)| n == "base") else {
        return;
    };
    let t = Instant::now();
    let (ast, d) = cil::parse(base_text);
    let tp = t.elapsed();
    let t = Instant::now();
    let dc = cil::check_with_own_names(&ast, &base);
    eprintln!("base: parse {tp:?} ({} diags), check {:?} ({} diags)", d.len(), t.elapsed(), dc.len());
    if let Some(n) = std::env::var_os("SPO_BENCH_PROFILE") {
        // A steady loop for a profiler (`SPO_BENCH_PROFILE=N` runs N times).
        let n = n.to_str().and_then(|n| n.parse().ok()).unwrap_or(30);
        // `SPO_BENCH_STORE=1`: the whole store instead of `base`.
        let texts: Vec<&str> = match std::env::var_os("SPO_BENCH_STORE") {
            Some(_) => store.iter().map(|(_, _, t)| t.as_str()).collect(),
            None => vec![base_text.as_str()],
        };
        let mut times = Vec::with_capacity(n);
        if std::env::var_os("SPO_BENCH_SPLIT").is_some() && n > 0 {
            // Parsing (with statement shapes) and checking apart.
            let (mut tp, mut tc) = (Vec::with_capacity(n), Vec::with_capacity(n));
            for _ in 0..n {
                let t = Instant::now();
                let (ast, d) = cil::parse(base_text);
                tp.push(t.elapsed());
                let t = Instant::now();
                std::hint::black_box(cil::check_with_own_names(&ast, &base).len() + d.len());
                tc.push(t.elapsed());
            }
            tp.sort();
            tc.sort();
            eprintln!(
                "split: parse fastest {:?} median {:?}; check fastest {:?} median {:?}",
                tp[0],
                tp[n / 2],
                tc[0],
                tc[n / 2]
            );
        }
        for _ in 0..n {
            let t = Instant::now();
            std::hint::black_box(ours(&texts, &base));
            times.push(t.elapsed());
        }
        times.sort();
        if let (Some(min), Some(mid)) = (times.first(), times.get(n / 2)) {
            eprintln!("loop: {n} runs, fastest {min:?}, median {mid:?}");
        }
        return;
    }
    if std::env::var_os("SPO_BENCH_PROBE").is_some() {
        for x in dc.iter().take(3) {
            eprintln!("{x:?}");
        }
        return;
    }
    let all_texts: Vec<&str> = store.iter().map(|(_, _, t)| t.as_str()).collect();
    let all_files: Vec<&Path> = store.iter().map(|(_, f, _)| f.as_path()).collect();
    let all_bytes: usize = all_texts.iter().map(|t| t.len()).sum();

    for (label, texts, files, bytes) in [
        ("base", vec![base_text.as_str()], vec![base_file.as_path()], base_text.len()),
        ("store", all_texts.clone(), all_files.clone(), all_bytes),
    ] {
        let mut g = c.benchmark_group(format!("cil_{label}"));
        g.throughput(Throughput::Bytes(bytes as u64));
        g.sample_size(10);
        g.bench_function("spo_parse_check", |b| b.iter(|| ours(&texts, &base)));
        g.finish();
        // Same-run comparison, median of 5 interleaved samples. Each of ours
        // follows one untimed warm-up run, as each secil2tree run finds the
        // file in the page cache and its binary and libraries mapped: both
        // sides are timed warm, neither right after the other evicted it.
        let mut t_ours = Vec::new();
        let mut t_peer = Vec::new();
        for _ in 0..5 {
            std::hint::black_box(ours(&texts, &base));
            let t = Instant::now();
            std::hint::black_box(ours(&texts, &base));
            t_ours.push(t.elapsed());
            if let Some(p) = secil2tree(&files) {
                t_peer.push(p);
            }
        }
        t_ours.sort();
        t_peer.sort();
        let (o, p) = (t_ours[2], t_peer.get(2).copied().unwrap_or_default());
        let mbs = bytes as f64 / 1e6 / o.as_secs_f64();
        eprintln!(
            "cil {label}: {:.1} MB in {:?} = {mbs:.0} MB/s; secil2tree -A build {:?}; ratio {:.1}x",
            bytes as f64 / 1e6,
            o,
            p,
            p.as_secs_f64() / o.as_secs_f64()
        );
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
