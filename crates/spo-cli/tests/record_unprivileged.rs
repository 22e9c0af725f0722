//! The ptrace recorder works for an unprivileged user, who cannot create a
//! cgroup: the workload is then tracked by ptrace alone, including a child
//! it leaves running when told to stop. Runs `spoc` as `nobody` through
//! `setpriv`; needs root to switch users, skips loudly otherwise.

use std::os::unix::fs::PermissionsExt;
use std::process::Command;

const SPOC: &str = env!("CARGO_BIN_EXE_spoc");

#[test]
fn ptrace_records_without_privileges_or_a_cgroup() {
    let root = std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(2) == Some("0"));
    if !root {
        return spo_test_support::skip("switching to an unprivileged user needs root");
    }
    if Command::new("setpriv").arg("--version").output().is_err() {
        return spo_test_support::skip("setpriv (util-linux) is not installed");
    }
    let tmp = tempfile::tempdir().unwrap();
    std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    let out_file = tmp.path().join("p.yaml");
    let out = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", SPOC])
        .args(["record", "--recorder", "ptrace", "--base", "none", "--grace", "1"])
        .args(["--trigger", "exit 0", "--ready-delay", "0.2", "-o"])
        .arg(&out_file)
        .args(["--", "sh", "-c", "sleep 100 & wait"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    if stderr.contains("Permission denied") && !stderr.contains("no cgroup") {
        return spo_test_support::skip(format!("nobody cannot run spoc from this target directory: {stderr}"));
    }
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("tracking its processes by ptrace alone"), "{stderr}");
    assert!(stderr.contains("was killed"), "the left-behind sleep should have been killed: {stderr}");
    let yaml = std::fs::read_to_string(&out_file).unwrap();
    for call in ["wait4", "clock_nanosleep", "execve"] {
        assert!(yaml.contains(&format!("- {call}\n")), "{call} missing:\n{yaml}");
    }
    let left = Command::new("pgrep").args(["-u", "65534", "-f", "^sleep 100$"]).output();
    if let Ok(l) = left {
        assert!(l.stdout.is_empty(), "a sleep 100 of nobody survived the recording");
    }
}
