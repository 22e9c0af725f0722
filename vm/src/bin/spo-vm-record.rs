//! `spo-vm-record NAME OUT PROGRAM [ARGS...]`: run a workload under the BPF
//! LSM recorder (`spo_node::record::lsm`) and write the `AppArmorProfile`
//! named NAME that allows what it did to OUT, as JSON (a manifest spod
//! reads; the workload keeps stdout and stderr).
//! Runs inside the VM tier's guests, whose kernel has the BPF LSM; what it
//! could not express goes to stderr, and its exit status is the
//! workload's.
//!
//! `spo-vm-record --overhead CALLS ROUNDS`: the syscall recorder's cost on
//! the raw tracepoint and on fentry (`spo_node::record::fentry`), measured
//! in one run: this process joins a cgroup of its own and makes CALLS
//! `getppid` calls ROUNDS times with nothing attached (before and after),
//! with the raw tracepoint program, and with the fentry programs; it
//! prints one JSON object with the median nanoseconds per call of each,
//! the overhead ratio fentry / raw tracepoint (each less the bare call),
//! and the calls each attachment counted (which must be CALLS per round).
//! Under emulation these are emulated timings: compare them only with
//! each other.

use std::time::Instant;

use std::process::{Command, ExitCode};

use spo_model::apparmor::{AppArmorProfile, AppArmorSpec};
use spo_node::record::cgroup::Cgroup;
use spo_node::record::fentry::{Attached, Attachment};
use spo_node::record::lsm;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}

/// Nanoseconds per `getppid` call over `calls` calls.
fn timed(calls: u64) -> f64 {
    let t = Instant::now();
    let mut sum = 0u64;
    for _ in 0..calls {
        sum = sum.wrapping_add(u64::from(std::os::unix::process::parent_id()));
    }
    std::hint::black_box(sum);
    t.elapsed().as_nanos() as f64 / calls as f64
}

fn overhead(calls: u64, rounds: usize) -> Result<serde_json::Value, String> {
    let cg = Cgroup::create().map_err(|e| e.to_string())?;
    let me = std::process::id().to_string();
    std::fs::write(cg.path().join("cgroup.procs"), &me).map_err(|e| format!("cannot join the cgroup: {e}"))?;
    let getppid = spo_model::Arch::X86_64.syscall_number("getppid").unwrap_or(110);
    let (mut bare, mut raw, mut fentry) = (Vec::new(), Vec::new(), Vec::new());
    let (mut counted_raw, mut counted_fentry) = (0u64, 0u64);
    let mut attach_s = serde_json::Map::new();
    let mut run = || -> Result<(), String> {
        // Each attachment is made once (fentry's hundreds of trampolines
        // take long to build), measured ROUNDS times, then taken away; the
        // bare call is measured before and after.
        for _ in 0..rounds.div_ceil(2) {
            bare.push(timed(calls));
        }
        for how in [Attachment::RawTracepoint, Attachment::Fentry] {
            let t = Instant::now();
            let a = Attached::new(cg.id(), how).map_err(|e| format!("{how:?}: {e}"))?;
            attach_s.insert(format!("{how:?}"), t.elapsed().as_secs_f64().into());
            for _ in 0..rounds {
                let ns = timed(calls);
                match how {
                    Attachment::RawTracepoint => raw.push(ns),
                    Attachment::Fentry => fentry.push(ns),
                }
            }
            let n = a.calls().numbers(spo_model::Arch::X86_64).find(|(nr, _)| *nr == getppid).map_or(0, |(_, n)| n);
            match how {
                Attachment::RawTracepoint => counted_raw = n,
                Attachment::Fentry => counted_fentry = n,
            }
        }
        for _ in 0..rounds / 2 {
            bare.push(timed(calls));
        }
        Ok(())
    };
    let result = run();
    // Leave the cgroup so that it can be removed.
    let _ = std::fs::write(cg.path().parent().unwrap_or(cg.path()).join("cgroup.procs"), &me);
    result?;
    let (b, r, f) = (median(bare), median(raw), median(fentry));
    Ok(serde_json::json!({
        "calls": calls,
        "rounds": rounds,
        "bare_ns": b,
        "raw_tracepoint_ns": r,
        "fentry_ns": f,
        "overhead_ratio_fentry_to_raw_tracepoint": (f - b) / (r - b),
        "counted_raw_tracepoint": counted_raw,
        "counted_fentry": counted_fentry,
        "fentry_function": spo_node::record::fentry::DISPATCH,
        "attach_seconds": attach_s,
        "timings": "emulated (qemu TCG): compare only with each other",
    }))
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let [flag, calls, rounds] = args.as_slice() {
        if flag == "--overhead" {
            let (Ok(calls), Ok(rounds)) = (calls.parse(), rounds.parse()) else {
                eprintln!("usage: spo-vm-record --overhead CALLS ROUNDS");
                return ExitCode::from(2);
            };
            return match overhead(calls, rounds) {
                Ok(v) => {
                    println!("{v}");
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("spo-vm-record: {e}");
                    ExitCode::from(1)
                }
            };
        }
    }
    let [name, out, program, rest @ ..] = args.as_slice() else {
        eprintln!("usage: spo-vm-record NAME OUT PROGRAM [ARGS...]");
        return ExitCode::from(2);
    };
    let mut cmd = Command::new(program);
    cmd.args(rest);
    let rec = match lsm::record(cmd) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("spo-vm-record: {e}");
            return ExitCode::from(1);
        }
    };
    let (abstract_, notes) = lsm::to_abstract(&rec.accesses);
    for n in notes {
        eprintln!("spo-vm-record: {n}");
    }
    eprintln!("spo-vm-record: {} distinct accesses", rec.accesses.len());
    let profile = AppArmorProfile::new(name, AppArmorSpec { abstract_: Some(abstract_), ..AppArmorSpec::default() });
    let written = serde_json::to_string_pretty(&profile)
        .map_err(|e| e.to_string())
        .and_then(|json| std::fs::write(out, json + "\n").map_err(|e| format!("cannot write {out}: {e}")));
    if let Err(e) = written {
        eprintln!("spo-vm-record: {e}");
        return ExitCode::from(1);
    }
    match rec.status.and_then(|s| s.code()) {
        Some(0) => ExitCode::SUCCESS,
        Some(c) => ExitCode::from(c as u8),
        None => ExitCode::from(1),
    }
}
