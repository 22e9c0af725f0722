//! The node agent's figures, against the goals and against a floor
//! measured in the same run:
//!
//! 1. cold start: 1,000 seccomp profiles (a quarter of them the full
//!    Docker default, the rest a web-server allow list) installed from an
//!    empty kubelet root, in a fresh process; wall time and peak RSS. The
//!    floor is writing the same 1,000 output files with plain `fs::write`
//!    (no parsing, no validation, no fsync).
//! 2. steady state: the same agent with its HTTP server, scanning and
//!    verifying for three seconds; RSS.
//! 3. enricher throughput: a child under a filter that logs `getppid`
//!    calls it N times; the enricher reads the audit netlink stream and
//!    must see every one of the N records (the kernel's count), at a rate
//!    in records per second. The child calls at fixed rates (150,000 and
//!    300,000 calls per second by default, `SPOD_BENCH_RATES`, comma
//!    separated) and then as fast as it can (`0`): the goal is a rate, so
//!    the paced floods show whether it is sustained without a loss, and the
//!    unpaced one where the limit lies. Needs root; skipped with a message
//!    otherwise.
//!
//! Goals: 1,000 profiles in under 1 s, RSS under 30 MB, at least 100,000
//! records/s with none dropped. Run with `cargo bench -p spo-benches --bench
//! spod`; `SPOD_BENCH_PROFILES` and `SPOD_BENCH_RECORDS` change the sizes.

#![allow(missing_docs)] // criterion's macros generate undocumented public functions
#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test
#![allow(unsafe_code)]

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use spo_model::seccomp::{Action, Filter, FilterRule};
use spo_model::Arch;
use spo_node::agent::{Agent, AgentConfig, Shared};
use spo_node::enrich::{Attributor, Enricher, EventLog, EventRing, StreamCounters};
use spo_node::metrics::Metrics;
use spo_node::seccomp::Program;

fn env_usize(k: &str, d: usize) -> usize {
    std::env::var(k).ok().and_then(|v| v.parse().ok()).unwrap_or(d)
}

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/seccomp")
}

/// `VmHWM` and `VmRSS` of this process, in KiB.
fn rss_kib() -> (u64, u64) {
    let s = fs::read_to_string("/proc/self/status").unwrap_or_default();
    let get = |k: &str| {
        s.lines().find_map(|l| l.strip_prefix(k)).and_then(|v| v.split_whitespace().next()?.parse().ok()).unwrap_or(0)
    };
    (get("VmHWM:"), get("VmRSS:"))
}

/// User plus system CPU time of this process so far, in ms (the machine
/// may be shared: wall time alone says little).
fn cpu_ms() -> f64 {
    let stat = fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<f64> = after.split_whitespace().filter_map(|x| x.parse().ok()).collect();
    // After the command name: the state letter (not a number, dropped
    // here), then ppid ... cmajflt, utime, stime: numbers 10 and 11.
    let ticks = f.get(10).copied().unwrap_or(0.0) + f.get(11).copied().unwrap_or(0.0);
    ticks * 1000.0 / 100.0
}

/// Write `n` manifests into `dir`.
fn make_manifests(dir: &Path, n: usize) {
    fs::create_dir_all(dir).unwrap();
    let web = fs::read_to_string(examples().join("web-server.yaml")).unwrap();
    let docker = fs::read_to_string(examples().join("docker-default.json")).unwrap();
    for i in 0..n {
        if i % 4 == 0 {
            fs::write(dir.join(format!("docker-{i}.json")), &docker).unwrap();
        } else {
            let text = web.replace("name: web-server", &format!("name: web-{i}"));
            fs::write(dir.join(format!("web-{i}.yaml")), text).unwrap();
        }
    }
}

fn config(root: &Path) -> AgentConfig {
    let mut cfg = AgentConfig::new(root.join("m"), root.join("k"), root.join("s"));
    cfg.interval = Duration::from_millis(250);
    cfg
}

/// Child role: install everything from cold, print `ms hwm_kib`.
fn role_cold(root: &Path) {
    let shared = Arc::new(Shared::new(Vec::new()));
    let t = Instant::now();
    let mut agent = Agent::new(config(root), shared.clone()).unwrap();
    while !agent.is_ready() {
        agent.tick();
    }
    let ms = t.elapsed().as_secs_f64() * 1e3;
    let st = shared.snapshot();
    let installed = st.profiles.iter().filter(|p| p.status == spo_node::status::Phase::Installed).count();
    println!("{ms:.1} {} {installed} {:.1}", rss_kib().0, cpu_ms());
}

/// Child role: run the agent with its HTTP server for three seconds,
/// print `rss_kib hwm_kib`.
fn role_steady(root: &Path) {
    let shared = Arc::new(Shared::new(Vec::new()));
    let _server = spo_node::http::HttpServer::start("127.0.0.1:0", shared.clone()).unwrap();
    let mut agent = Agent::new(config(root), shared.clone()).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    std::thread::spawn(move || {
        std::thread::sleep(Duration::from_secs(3));
        flag.store(true, Ordering::Relaxed);
    });
    agent.run(&stop);
    let (hwm, rss) = rss_kib();
    println!("{rss} {hwm}");
}

fn child(role: &str, root: &Path) -> Vec<f64> {
    let out = Command::new(std::env::current_exe().unwrap())
        .env("SPOD_BENCH_ROLE", role)
        .env("SPOD_BENCH_ROOT", root)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    text.split_whitespace().filter_map(|x| x.parse().ok()).collect()
}

fn bench_install(n: usize) {
    let tmp = tempfile::tempdir().unwrap();
    make_manifests(&tmp.path().join("m"), n);
    let cold = child("cold", tmp.path());
    let steady = child("steady", tmp.path());
    // Floor: write the same outputs with no parsing, checking or fsync.
    let outputs: Vec<(PathBuf, Vec<u8>)> = fs::read_dir(tmp.path().join("k/seccomp/operator"))
        .unwrap()
        .flatten()
        .filter(|e| e.path().is_file())
        .map(|e| (e.path(), fs::read(e.path()).unwrap()))
        .collect();
    let floor_dir = tmp.path().join("floor");
    fs::create_dir(&floor_dir).unwrap();
    let t = Instant::now();
    for (p, b) in &outputs {
        fs::write(floor_dir.join(p.file_name().unwrap()), b).unwrap();
    }
    let floor_ms = t.elapsed().as_secs_f64() * 1e3;
    let (ms, hwm, installed, cpu) = (cold[0], cold[1] / 1024.0, cold[2], cold[3]);
    let load = fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!(
        "spod cold start: {installed} of {n} profiles installed in {ms:.1} ms wall, {cpu:.0} ms CPU (goal < 1000 ms), peak RSS {hwm:.1} MiB (goal < 30); load average {}",
        load.split_whitespace().next().unwrap_or("?")
    );
    println!(
        "  floor (plain fs::write of the {} outputs): {floor_ms:.1} ms; spod/floor = {:.1}x",
        outputs.len(),
        ms / floor_ms.max(0.001)
    );
    println!(
        "spod steady state with {n} profiles: RSS {:.1} MiB, peak {:.1} MiB (goal < 30)",
        steady[0] / 1024.0,
        steady[1] / 1024.0
    );
}

/// A flood of `records` at `rate` calls per second (0: unpaced).
fn bench_enricher(records: usize, rate: u64) {
    let Ok(mut src) = spo_node::enrich::source::NetlinkSource::open() else {
        println!("SKIPPED: enricher throughput needs root and the audit netlink socket");
        return;
    };
    use spo_node::enrich::source::RecordSource;
    let tmp = tempfile::tempdir().unwrap();
    let (mut enricher, _) = enricher(tmp.path());
    let mut f = Filter::new(Action::Allow, vec![Arch::X86_64]);
    f.rules.push(FilterRule { syscall: "getppid".into(), action: Action::Log, args: vec![] });
    let insns = spo_compile::seccomp::compile(&f).unwrap();
    let prog = Program::from_bytes(&spo_compile::bpf::to_bytes(&insns)).unwrap();
    // SAFETY: the child only makes system calls (install_raw does not
    // allocate) and leaves with _exit.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0);
    if pid == 0 {
        std::thread::sleep(Duration::from_millis(200));
        if prog.install_raw(0).is_ok() {
            // Instant::now reads the vDSO clock and sleep is nanosleep:
            // neither allocates nor makes a logged call.
            let start = Instant::now();
            for i in 0..records {
                // SAFETY: getppid has no arguments and no side effects.
                unsafe { libc::getppid() };
                if rate > 0 && i % 512 == 0 {
                    let due = Duration::from_secs_f64(i as f64 / rate as f64);
                    if let Some(ahead) = due.checked_sub(start.elapsed()) {
                        std::thread::sleep(ahead);
                    }
                }
            }
        }
        // SAFETY: leave without running the parent's exit hooks.
        unsafe { libc::_exit(0) };
    }
    let lost_before = kernel_lost();
    let forked = Instant::now();
    let mut child_done: Option<Instant> = None;
    let mut seen = 0usize;
    let mut first: Option<Instant> = None;
    let mut last = Instant::now();
    let give_up = Instant::now() + Duration::from_secs(120);
    while seen < records && Instant::now() < give_up {
        match src.next(Duration::from_secs(2)) {
            Ok(Some((ty, text))) => {
                if let Some(e) = enricher.handle(ty, &text) {
                    if e.pid == pid as u32 && e.syscall == "getppid" {
                        first.get_or_insert_with(Instant::now);
                        last = Instant::now();
                        seen += 1;
                    }
                }
            }
            Ok(None) if first.is_some() => break,
            _ => {}
        }
        if child_done.is_none() && seen.is_multiple_of(4096) {
            let mut st = 0;
            // SAFETY: polling our own child without blocking.
            if unsafe { libc::waitpid(pid, &mut st, libc::WNOHANG) } == pid {
                child_done = Some(Instant::now());
            }
        }
    }
    enricher.flush();
    if child_done.is_none() {
        let mut status = 0;
        // SAFETY: reaping our own child.
        unsafe { libc::waitpid(pid, &mut status, 0) };
        child_done = Some(Instant::now());
    }
    let producer = child_done.map_or(0.0, |d| d.duration_since(forked).as_secs_f64() - 0.2);
    let lag_ms = child_done.map_or(0.0, |d| last.saturating_duration_since(d).as_secs_f64() * 1e3);
    let secs = first.map_or(0.0, |f| last.duration_since(f).as_secs_f64()).max(1e-9);
    let paced = if rate > 0 { format!("flood paced at {rate}/s") } else { "unpaced flood".to_owned() };
    println!(
        "enricher, {paced}: {seen} of {records} kernel records enriched ({} missing, {} buffer overruns reported), {:.0} records/s (goal >= 100000, none dropped)",
        records - seen,
        src.lost(),
        seen as f64 / secs
    );
    if let (Some(a), Some(b)) = (lost_before, kernel_lost()) {
        println!(
            "  the kernel's own lost counter moved by {} during the flood (records it dropped before any listener; other audit traffic on the machine counts too)",
            b.wrapping_sub(a)
        );
    }
    println!(
        "  the kernel produced them at {:.0} records/s (the child's loop); the enricher finished {lag_ms:.0} ms after the child",
        records as f64 / producer.max(1e-9)
    );
}

/// The kernel's count of audit records it dropped (`lost` of
/// `AUDIT_GET`), or `None` when it cannot be asked.
fn kernel_lost() -> Option<u32> {
    // SAFETY: a plain netlink socket; every buffer passed below is a live
    // local of the size given, and the descriptor is closed before return.
    unsafe {
        let fd = libc::socket(libc::AF_NETLINK, libc::SOCK_RAW | libc::SOCK_CLOEXEC, libc::NETLINK_AUDIT);
        if fd < 0 {
            return None;
        }
        // struct nlmsghdr: len, type = AUDIT_GET (1000), flags = NLM_F_REQUEST, seq, pid.
        let mut req = [0u8; 16];
        req[0..4].copy_from_slice(&16u32.to_ne_bytes());
        req[4..6].copy_from_slice(&1000u16.to_ne_bytes());
        req[6..8].copy_from_slice(&(libc::NLM_F_REQUEST as u16).to_ne_bytes());
        let mut addr: libc::sockaddr_nl = std::mem::zeroed();
        addr.nl_family = libc::AF_NETLINK as u16;
        let sent = libc::sendto(
            fd,
            req.as_ptr().cast(),
            req.len(),
            0,
            (&addr as *const libc::sockaddr_nl).cast(),
            std::mem::size_of::<libc::sockaddr_nl>() as u32,
        );
        let mut buf = [0u8; 512];
        let n = if sent == 16 { libc::recv(fd, buf.as_mut_ptr().cast(), buf.len(), 0) } else { -1 };
        libc::close(fd);
        // Reply: nlmsghdr (16 bytes) then struct audit_status, whose
        // seventh u32 is `lost`.
        let ty = u16::from_ne_bytes([buf[4], buf[5]]);
        (n >= 16 + 28 && ty == 1000).then(|| u32::from_ne_bytes([buf[40], buf[41], buf[42], buf[43]]))
    }
}

/// An enricher writing its event log in `dir`, and its counters.
fn enricher(dir: &std::path::Path) -> (Enricher, Arc<StreamCounters>) {
    let counters = Arc::new(StreamCounters::default());
    // As spod runs it: forks followed where the kernel allows.
    let attributor = Attributor::new(Vec::new());
    let _ = attributor.follow_forks();
    let enricher = Enricher::new(
        "bench".into(),
        Arc::new(attributor),
        Arc::new(Metrics::default()),
        Arc::new(EventRing::default()),
        counters.clone(),
        Some(EventLog::open(&dir.join("events.jsonl")).unwrap()),
    );
    (enricher, counters)
}

/// The enricher alone, on records already in memory: what it can take
/// when the kernel is not the limit.
fn bench_enricher_offline(records: usize) {
    let tmp = tempfile::tempdir().unwrap();
    let (mut enricher, counters) = enricher(tmp.path());
    let me = std::process::id();
    let texts: Vec<String> = (0..1000)
        .map(|i| {
            format!(
                "audit(1764255600.{:03}:{i}): auid=4294967295 uid=0 gid=0 ses=4294967295 subj=unconfined pid={me} comm=\"flood\" exe=\"/usr/bin/flood\" sig=0 arch=c000003e syscall=110 compat=0 ip=0x7f0000001000 code=0x7ffc0000",
                i % 1000
            )
        })
        .collect();
    let t = Instant::now();
    for i in 0..records {
        enricher.handle(spo_node::audit::AUDIT_SECCOMP, &texts[i % texts.len()]);
    }
    enricher.flush();
    let secs = t.elapsed().as_secs_f64();
    let events = counters.events.load(Ordering::Relaxed);
    println!(
        "enricher alone (records in memory, event log on disk): {events} events from {records} records, {:.0} records/s",
        records as f64 / secs
    );
}

fn main() {
    if let (Ok(role), Ok(root)) = (std::env::var("SPOD_BENCH_ROLE"), std::env::var("SPOD_BENCH_ROOT")) {
        match role.as_str() {
            "cold" => role_cold(Path::new(&root)),
            _ => role_steady(Path::new(&root)),
        }
        return;
    }
    // `cargo bench` passes `--bench`; `cargo test --benches` passes
    // nothing: run small then.
    let full = std::env::args().any(|a| a == "--bench");
    let n = env_usize("SPOD_BENCH_PROFILES", if full { 1000 } else { 50 });
    let records = env_usize("SPOD_BENCH_RECORDS", if full { 1_000_000 } else { 1000 });
    bench_install(n);
    let rates = std::env::var("SPOD_BENCH_RATES").unwrap_or_else(|_| "150000,300000,0".to_owned());
    for rate in rates.split(',').filter_map(|r| r.trim().parse::<u64>().ok()) {
        bench_enricher(records, rate);
    }
    bench_enricher_offline(records);
}
