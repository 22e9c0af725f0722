//! `spoc run` on the real kernel: the profile is enforced on the command,
//! `--complain` logs instead of blocking, and profiles that cannot work are
//! refused before anything runs.

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use spo_model::seccomp::Action;
use spo_model::Arch;
use spo_node::audit::{AuditSocket, SeccompRecord, AUDIT_SECCOMP};
use spo_node::seccomp::action_available;

const DENY_MKDIR: &str = r#"{
  "defaultAction": "SCMP_ACT_ALLOW",
  "syscalls": [
    { "names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1 }
  ]
}"#;

fn usable() -> bool {
    if !action_available(spo_model::seccomp::ret::ALLOW) {
        spo_test_support::skip("this kernel has no seccomp filter support");
        return false;
    }
    true
}

fn mkdir_bin() -> Option<PathBuf> {
    let found = ["/bin/mkdir", "/usr/bin/mkdir"].iter().map(PathBuf::from).find(|p| p.exists());
    if found.is_none() {
        spo_test_support::skip("no mkdir binary");
    }
    found
}

fn write_profile(dir: &Path, text: &str) -> PathBuf {
    let p = dir.join("profile.json");
    std::fs::write(&p, text).unwrap();
    p
}

fn spoc(args: &[&std::ffi::OsStr]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_spoc")).args(args).output().expect("spoc runs")
}

fn run(profile: &Path, complain: bool, cmd: &[&std::ffi::OsStr]) -> Output {
    let mut args = vec!["run".as_ref(), "--profile".as_ref(), profile.as_os_str()];
    if complain {
        args.push("--complain".as_ref());
    }
    args.push("--".as_ref());
    args.extend_from_slice(cmd);
    spoc(&args)
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn a_denied_call_fails_with_the_profile_errno() {
    let (true, Some(mkdir)) = (usable(), mkdir_bin()) else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let profile = write_profile(tmp.path(), DENY_MKDIR);
    let target = tmp.path().join("x");
    let out = run(&profile, false, &[mkdir.as_os_str(), target.as_os_str()]);
    assert_eq!(out.status.code(), Some(1), "mkdir exits 1 on failure; stderr: {}", stderr(&out));
    assert!(stderr(&out).contains("Operation not permitted"), "stderr: {}", stderr(&out));
    assert!(!target.exists());
}

#[test]
fn complain_mode_lets_the_call_through_and_logs_it() {
    let (true, Some(mkdir)) = (usable(), mkdir_bin()) else {
        return;
    };
    // Root, judged by the effective uid in /proc.
    let root = std::fs::read_to_string("/proc/self/status")
        .map(|s| s.lines().any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(2) == Some("0")))
        .unwrap_or(false);
    let mut audit = if root { AuditSocket::open().ok() } else { None };
    if audit.is_none() {
        spo_test_support::skip("audit part: the audit multicast group needs root");
    }
    let tmp = tempfile::tempdir().unwrap();
    let profile = write_profile(tmp.path(), DENY_MKDIR);
    let target = tmp.path().join("x");
    let child = Command::new(env!("CARGO_BIN_EXE_spoc"))
        .args(["run".as_ref(), "--profile".as_ref(), profile.as_os_str(), "--complain".as_ref(), "--".as_ref()])
        .args([mkdir.as_os_str(), target.as_os_str()])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spoc runs");
    let pid = child.id();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "stderr: {}", stderr(&out));
    assert!(target.is_dir());
    let Some(audit) = audit.as_mut() else { return };
    let native = Arch::native().unwrap();
    let wanted: Vec<u32> = ["mkdir", "mkdirat"].iter().filter_map(|n| native.syscall_number(n)).collect();
    let rec = audit
        .wait_for(Duration::from_secs(5), |r| {
            r.record_type == AUDIT_SECCOMP
                && SeccompRecord::parse(&r.text).is_ok_and(|s| s.pid == pid && wanted.contains(&s.syscall))
        })
        .unwrap()
        .unwrap_or_else(|| panic!("no SECCOMP record for mkdir from pid {pid} within 5 s"));
    let rec = SeccompRecord::parse(&rec.text).unwrap();
    assert_eq!(rec.action(), Action::Log);
    assert!(rec.exe.as_deref().is_some_and(|e| e.ends_with("/mkdir")), "{rec:?}");
}

#[test]
fn the_exit_status_is_the_commands() {
    if !usable() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let profile = write_profile(tmp.path(), r#"{"defaultAction": "SCMP_ACT_ALLOW"}"#);
    let out = run(&profile, false, &["/bin/sh".as_ref(), "-c".as_ref(), "exit 7".as_ref()]);
    assert_eq!(out.status.code(), Some(7), "stderr: {}", stderr(&out));
    let out = run(&profile, false, &[tmp.path().join("no-such-program").as_os_str()]);
    assert_eq!(out.status.code(), Some(127), "stderr: {}", stderr(&out));
}

#[test]
fn an_invalid_profile_is_refused_before_anything_runs() {
    let tmp = tempfile::tempdir().unwrap();
    let profile = write_profile(tmp.path(), r#"{"defaultAction": "SCMP_ACT_ALOW"}"#);
    let marker = tmp.path().join("ran");
    let out = run(&profile, false, &["/bin/touch".as_ref(), marker.as_os_str()]);
    assert_eq!(out.status.code(), Some(2), "stderr: {}", stderr(&out));
    assert!(stderr(&out).contains("SCMP_ACT_ALOW"), "stderr: {}", stderr(&out));
    assert!(stderr(&out).contains("nothing was run"), "stderr: {}", stderr(&out));
    assert!(!marker.exists());
}

#[test]
fn a_profile_that_blocks_execve_is_refused_with_a_reason() {
    let tmp = tempfile::tempdir().unwrap();
    let profile = write_profile(
        tmp.path(),
        r#"{"defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": ["execve"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}]}"#,
    );
    let marker = tmp.path().join("ran");
    let out = run(&profile, false, &["/bin/touch".as_ref(), marker.as_os_str()]);
    assert_eq!(out.status.code(), Some(2), "stderr: {}", stderr(&out));
    assert!(stderr(&out).contains("execve"), "stderr: {}", stderr(&out));
    assert!(!marker.exists());
    // In complain mode the same profile only logs, so the command runs.
    if usable() {
        let out = run(&profile, true, &["/bin/touch".as_ref(), marker.as_os_str()]);
        assert!(out.status.success(), "stderr: {}", stderr(&out));
        assert!(marker.exists());
    }
}

#[test]
fn docker_default_runs_a_shell_and_blocks_namespace_creation() {
    if !usable() {
        return;
    }
    let profile = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/seccomp/docker-default.json");
    let unshare = ["/usr/bin/unshare", "/bin/unshare"].iter().map(Path::new).find(|p| p.exists());
    let Some(unshare) = unshare else {
        spo_test_support::skip("no unshare binary (Debian util-linux)");
        return;
    };
    let script = format!("echo started; {} --user true; echo unshare=$?", unshare.display());
    let out = run(&profile, false, &["/bin/sh".as_ref(), "-c".as_ref(), script.as_ref()]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "stderr: {}", stderr(&out));
    assert!(stdout.contains("started"), "stdout: {stdout}");
    // Without CAP_SYS_ADMIN in the target, Docker's profile denies unshare.
    assert!(stdout.contains("unshare=1"), "stdout: {stdout}; stderr: {}", stderr(&out));
    assert!(stderr(&out).contains("Operation not permitted"), "stderr: {}", stderr(&out));
}
