//! The three recorders, on a real kernel, must agree: the same deterministic
//! program (a thread, a fork, an exec and a 32-bit `int $0x80` call) gives
//! the same set of (architecture, syscall) under eBPF, ptrace and the audit
//! log. The program is compiled from `tests/programs/probe.c` with `cc` at
//! test time. Needs root (cgroups, BPF, audit); skips loudly otherwise.

use std::collections::BTreeSet;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::time::Duration;

use spo_model::Arch;
use spo_node::record::{record, Plan, RecorderKind, Recording};

/// The recorders watch the whole machine's audit stream and tracepoint;
/// one recording at a time keeps the tests from timing each other out.
static SERIAL: Mutex<()> = Mutex::new(());

fn skip(why: &str) -> bool {
    spo_test_support::skip(why);
    true
}

fn cannot_run() -> bool {
    if !spo_test_support::is_root() {
        return skip("recorder tests need root");
    }
    if spo_node::record::cgroup::cgroup2_root().is_none() {
        return skip("no cgroup v2 hierarchy mounted");
    }
    false
}

fn probe() -> Option<PathBuf> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/programs/probe.c");
    static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let out = std::env::temp_dir().join(format!("spo-probe-{}-{n}", std::process::id()));
    match Command::new("cc").args(["-O1", "-pthread", "-o"]).arg(&out).arg(&src).status() {
        Ok(s) if s.success() => Some(out),
        Ok(s) => {
            skip(&format!("cc failed ({s}) on {}", src.display()));
            None
        }
        Err(e) => {
            skip(&format!("no C compiler (`cc`): {e}"));
            None
        }
    }
}

fn run(kind: RecorderKind, program: &Path) -> Recording {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let plan = Plan::new(vec![OsString::from(program)], kind);
    let rec = record(&plan, &mut |_, _| {}).unwrap_or_else(|e| panic!("{kind}: {e}"));
    assert!(rec.workload.success(), "{kind}: the probe failed: {}", rec.workload);
    rec
}

fn names(r: &Recording) -> BTreeSet<(Arch, &'static str)> {
    r.syscalls.by_name().into_keys().collect()
}

#[test]
fn every_recorder_sees_the_same_calls_including_thread_fork_exec_and_compat() {
    if cannot_run() {
        return;
    }
    let Some(program) = probe() else { return };
    let mut kinds = vec![RecorderKind::Ptrace, RecorderKind::Logs];
    if spo_node::record::ebpf_available() {
        kinds.insert(0, RecorderKind::Ebpf);
    } else {
        spo_test_support::skip("the eBPF recorder (this kernel refuses the program); comparing ptrace and logs only");
    }
    let results: Vec<(RecorderKind, BTreeSet<(Arch, &str)>)> =
        kinds.iter().map(|k| (*k, names(&run(*k, &program)))).collect();
    let _ = std::fs::remove_file(&program);
    let native = Arch::native().unwrap();
    for (kind, set) in &results {
        for call in ["getcpu", "getpriority", "times", "execve", "clone", "wait4", "futex"] {
            assert!(set.contains(&(native, call)), "{kind} missed {call}: {set:?}");
        }
        if native == Arch::X86_64 {
            assert!(set.contains(&(Arch::X86, "getppid")), "{kind} missed the int $0x80 getppid: {set:?}");
            assert!(!set.contains(&(native, "getppid")), "{kind} saw a native getppid the probe never made");
        }
    }
    let (first_kind, first) = &results[0];
    for (kind, set) in &results[1..] {
        let only_first: Vec<_> = first.difference(set).collect();
        let only_this: Vec<_> = set.difference(first).collect();
        assert!(
            only_first.is_empty() && only_this.is_empty(),
            "{first_kind} and {kind} disagree: only {first_kind}: {only_first:?}; only {kind}: {only_this:?}"
        );
    }
}

#[test]
fn a_trigger_drives_a_server_that_is_then_stopped() {
    if cannot_run() {
        return;
    }
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    // The "server": sleeps until stopped; the trigger succeeds.
    let mut plan = Plan::new(vec!["sleep".into(), "300".into()], RecorderKind::Ptrace);
    plan.trigger = Some("exit 0".into());
    plan.ready_delay = Some(Duration::from_millis(200));
    plan.grace = Duration::from_secs(2);
    let mut ticks = 0;
    let rec = record(&plan, &mut |_, _| ticks += 1).unwrap();
    assert!(rec.trigger.unwrap().success());
    assert_eq!(std::os::unix::process::ExitStatusExt::signal(&rec.workload), Some(libc_sigterm()));
    assert!(ticks > 0, "no progress was reported");
    let set = names(&rec);
    let native = Arch::native().unwrap();
    assert!(set.contains(&(native, "clock_nanosleep")) || set.contains(&(native, "nanosleep")), "{set:?}");

    // A failing trigger is reported as such.
    plan.trigger = Some("exit 3".into());
    let rec = record(&plan, &mut |_, _| {}).unwrap();
    assert_eq!(rec.trigger.unwrap().code(), Some(3));

    // A workload that dies before it is ready is an error, not a hang.
    plan.command = vec!["false".into()];
    plan.ready_port = Some(1);
    let e = record(&plan, &mut |_, _| {}).unwrap_err();
    assert!(e.to_string().contains("before it was ready"), "{e}");
}

#[test]
fn concurrent_log_recordings_see_only_their_own_workload() {
    if cannot_run() {
        return;
    }
    let Some(program) = probe() else { return };
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let busy = Plan::new(vec![OsString::from(&program)], RecorderKind::Logs);
    let quiet = Plan::new(vec!["sleep".into(), "0.5".into()], RecorderKind::Logs);
    let (a, b) = std::thread::scope(|s| {
        let a = s.spawn(|| record(&busy, &mut |_, _| {}));
        let b = s.spawn(|| record(&quiet, &mut |_, _| {}));
        (a.join().unwrap().unwrap(), b.join().unwrap().unwrap())
    });
    let _ = std::fs::remove_file(&program);
    let native = Arch::native().unwrap();
    let (a, b) = (names(&a), names(&b));
    for call in ["getcpu", "getpriority", "times"] {
        assert!(a.contains(&(native, call)), "the probe's {call} is missing: {a:?}");
        assert!(!b.contains(&(native, call)), "the probe's {call} leaked into the other recording: {b:?}");
    }
    assert!(b.contains(&(native, "clock_nanosleep")) || b.contains(&(native, "nanosleep")), "{b:?}");
}

fn libc_sigterm() -> i32 {
    15
}
