//! `spod` end to end on the real kernel: a profile installed through the
//! manifests directory is applied to a process, which the agent then
//! verifies; in complain mode a violation is logged, attributed to the
//! profile and counted; a broken manifest is reported with its location
//! while the previous version stays in force.
//!
//! The process gets its filter the way a container runtime would: the
//! installed JSON is read back, compiled by the spo-rs compiler and loaded
//! just before `execve`.

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test
#![allow(unsafe_code)]

mod spod_common;
use spod_common as common;

use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command};

use common::{profile, seccomp_manifest, wait_for, write_manifest, Spod};
use spo_model::seccomp::{resolve, Target};
use spo_node::audit::AuditSocket;
use spo_node::seccomp::{action_available, Program};

const DENY_MKDIR: &str =
    "  defaultAction: SCMP_ACT_ALLOW\n  syscalls:\n  - action: SCMP_ACT_ERRNO\n    errnoRet: 1\n    names: [mkdir, mkdirat, umask]\n";
const COMPLAIN: &str = "  annotations:\n    spo-rs.io/mode: complain\n";

/// Start `sh -c script` under the installed profile `json`, announcing the
/// profile in its environment as `spoc run` does.
fn run_under(json: &Path, name: &str, version: &str, script: &str) -> Child {
    let text = std::fs::read_to_string(json).unwrap();
    let spec = spo_parse::seccomp::parse_spec(&text).expect("the installed JSON parses").spec;
    let filter = resolve(&spec, &Target::default());
    let insns = spo_compile::seccomp::compile(&filter).expect("the installed profile compiles");
    let prog = Program::from_bytes(&spo_compile::bpf::to_bytes(&insns)).unwrap();
    let mut cmd = Command::new("/bin/sh");
    cmd.args(["-c", script]).env("SPO_PROFILE", name).env("SPO_PROFILE_VERSION", version);
    // SAFETY: the hook only makes the prctl and seccomp system calls
    // (`install_raw` does not allocate).
    unsafe {
        cmd.pre_exec(move || prog.install_raw(0).map(drop));
    }
    cmd.spawn().expect("the command starts")
}

#[test]
fn install_verify_complain_and_break() {
    if !common::is_root() || !action_available(spo_model::seccomp::ret::LOG) {
        spo_test_support::skip("needs root and seccomp SCMP_ACT_LOG");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let (m, k, s) = (tmp.path().join("m"), tmp.path().join("k"), tmp.path().join("s"));
    std::fs::create_dir(&m).unwrap();
    write_manifest(&m, "demo.yaml", &seccomp_manifest("demo", "", DENY_MKDIR));
    let spod = Spod::start(&m, &k, &s, &[]);
    let json = k.join("seccomp/operator/demo.json");

    // Installed, then enforced on a process, then verified.
    let v1 = wait_for(5, "demo Installed", || {
        let st = spod.status();
        let p = profile(&st, "demo")?;
        (p["status"] == "Installed").then(|| p["version"].as_str().unwrap().to_owned())
    });
    assert_eq!(spod.get("/readyz").0, 200);
    let blocked = tmp.path().join("blocked");
    let mut child = run_under(&json, "demo", &v1, &format!("mkdir {} || exit 3; exit 0", blocked.display()));
    assert_eq!(child.wait().unwrap().code(), Some(3), "mkdir must fail under the profile");
    assert!(!blocked.exists());
    let mut sleeper = run_under(&json, "demo", &v1, "exec sleep 30");
    let pid = sleeper.id();
    let check = wait_for(5, "the sleeper verified", || {
        let st = spod.status();
        st["processes"].as_array()?.iter().find(|p| p["pid"] == pid).cloned()
    });
    assert_eq!(check["ok"], true, "{check:#}");
    assert_eq!(check["profile"], "demo");
    assert_eq!(check["seccompMode"], 2);
    assert!(check["seccompFilters"].as_u64().unwrap() >= 1);
    let st = spod.status();
    assert_eq!(profile(&st, "demo").unwrap()["inUseBy"], 1);

    // Complain mode: the new version replaces the old; the old stays on
    // disk while the sleeper runs under it.
    write_manifest(&m, "demo.yaml", &seccomp_manifest("demo", COMPLAIN, DENY_MKDIR));
    let v2 = wait_for(5, "demo in complain mode", || {
        let st = spod.status();
        let p = profile(&st, "demo")?;
        (p["mode"] == "complain" && p["version"] != v1.as_str()).then(|| p["version"].as_str().unwrap().to_owned())
    });
    assert!(k.join(format!("seccomp/operator/demo/{v1}.json")).exists(), "version in use was pruned");
    let check = wait_for(5, "the stale version flagged", || {
        let st = spod.status();
        let c = st["processes"].as_array()?.iter().find(|p| p["pid"] == pid)?.clone();
        (c["ok"] == false).then_some(c)
    });
    assert!(check["problems"][0].as_str().unwrap().contains("is installed now"), "{check:#}");
    sleeper.kill().unwrap();
    sleeper.wait().unwrap();
    wait_for(5, "the unused version pruned", || {
        (!k.join(format!("seccomp/operator/demo/{v1}.json")).exists()).then_some(())
    });

    if AuditSocket::open().is_err() {
        spo_test_support::skip("complain-mode attribution needs the audit netlink socket");
    } else {
        let allowed = tmp.path().join("allowed");
        // `umask` is a shell builtin: the shell itself makes the call and
        // lives on, so the event is attributed through its own /proc entry.
        // (The short-lived `mkdir` process is attributed through its parent,
        // see `tests/lineage.rs`, where spod can follow forks.) The shell repeats the
        // call every second: the audit stream is machine-wide, and a record
        // the kernel drops while other tests flood it must not fail this one.
        let script = format!("umask 077; mkdir {} && while :; do umask 077; sleep 1; done", allowed.display());
        let mut child = run_under(&json, "demo", &v2, &script);
        let ev = wait_for(20, "an attributed umask event", || {
            let (_, body) = spod.get("/violations?profile=demo");
            let evs: serde_json::Value = serde_json::from_str(&body).ok()?;
            evs.as_array()?.iter().find(|e| e["syscall"] == "umask").cloned()
        });
        assert_eq!(ev["action"], "SCMP_ACT_LOG");
        assert_eq!(ev["profile"], "demo");
        assert_eq!(ev["node"], "test-node");
        // The shell's `umask` comes before `mkdir`: give it a moment.
        wait_for(5, "mkdir allowed in complain mode", || allowed.exists().then_some(()));
        child.kill().unwrap();
        child.wait().unwrap();
        let (_, metrics) = spod.get("/metrics");
        let line = metrics
            .lines()
            .find(|l| {
                l.starts_with("security_profiles_operator_seccomp_profile_audit_total{")
                    && l.contains("syscall=\"umask\"")
            })
            .unwrap_or_else(|| panic!("no audit counter:\n{metrics}"));
        let n: u64 = line.rsplit(' ').next().unwrap().parse().unwrap();
        assert!(n >= 1, "{line}");
        let log = std::fs::read_to_string(s.join("events.jsonl")).unwrap_or_default();
        assert!(log.lines().any(|l| l.contains("\"profile\":\"demo\"")), "event log: {log}");
    }

    // A broken manifest: Error at its line; version 2 stays in force.
    write_manifest(&m, "demo.yaml", &seccomp_manifest("demo", COMPLAIN, &DENY_MKDIR.replace("mkdirat", "mkdirrat")));
    let p = wait_for(5, "demo in Error", || {
        let st = spod.status();
        let p = profile(&st, "demo")?.clone();
        (p["status"] == "Error").then_some(p)
    });
    assert_eq!(p["version"], v2.as_str());
    assert_eq!(p["errors"][0]["location"]["line"], 12, "{p:#}");
    assert!(p["errors"][0]["message"].as_str().unwrap().contains("mkdirrat"));
    assert_eq!(spo_node::store::sha256_hex(&std::fs::read(&json).unwrap()), v2);
    let (_, metrics) = spod.get("/metrics");
    assert!(metrics.contains("spo_profiles{kind=\"SeccompProfile\",status=\"Error\"} 1"), "{metrics}");
    assert!(metrics.contains("security_profiles_operator_seccomp_profile_error_total{reason=\"invalid-profile\"}"));
}
