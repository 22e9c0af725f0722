//! `spoc merge` and `spoc diff` on real files: the union keeps every
//! allowed call, mismatched default actions are refused with a clear error,
//! and diff reports per architecture with diff(1)'s exit codes.

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use std::path::Path;
use std::process::{Command, Output};

const SPOC: &str = env!("CARGO_BIN_EXE_spoc");

fn spoc(args: &[&str], dir: &Path) -> Output {
    Command::new(SPOC).args(args).current_dir(dir).output().unwrap()
}

const A: &str = "apiVersion: security-profiles-operator.x-k8s.io/v1
kind: SeccompProfile
metadata:
  name: a
spec:
  defaultAction: SCMP_ACT_ERRNO
  architectures: [SCMP_ARCH_X86_64]
  syscalls:
  - action: SCMP_ACT_ALLOW
    names: [read, write, open]
";

const B: &str = r#"{"defaultAction": "SCMP_ACT_ERRNO",
 "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_AARCH64"],
 "syscalls": [{"names": ["read", "close"], "action": "SCMP_ACT_ALLOW"},
              {"names": ["ptrace"], "action": "SCMP_ACT_LOG"}]}"#;

#[test]
fn merge_unions_and_diff_reports_per_architecture() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    std::fs::write(d.join("a.yaml"), A).unwrap();
    std::fs::write(d.join("b.json"), B).unwrap();

    let out = spoc(&["merge", "a.yaml", "b.json", "-o", "m.yaml", "--name", "both"], d);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let m = std::fs::read_to_string(d.join("m.yaml")).unwrap();
    assert!(m.contains("name: both"), "{m}");
    for call in ["close", "open", "read", "write", "ptrace"] {
        assert!(m.contains(&format!("- {call}\n")), "{call} missing:\n{m}");
    }
    assert!(m.contains("- SCMP_ARCH_AARCH64"), "{m}");

    // Merging is idempotent: the merged profile diffs equal to itself and
    // to a merge of itself with one of its inputs.
    let out = spoc(&["merge", "m.yaml", "a.yaml", "-o", "m2.json", "--format", "oci"], d);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out = spoc(&["diff", "m.yaml", "m2.json"], d);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stdout));
    assert!(out.stdout.is_empty());

    let out = spoc(&["diff", "a.yaml", "b.json"], d);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    let expected = "SCMP_ARCH_X86_64:\n  + close\n  + ptrace\n  - open\n  - write\n\
                    SCMP_ARCH_AARCH64 (only in the second profile):\n  + close\n  + ptrace\n  + read\n";
    assert_eq!(text, expected);
}

#[test]
fn merge_refuses_different_default_actions() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    std::fs::write(d.join("a.yaml"), A).unwrap();
    std::fs::write(d.join("k.json"), r#"{"defaultAction": "SCMP_ACT_KILL_PROCESS"}"#).unwrap();
    let out = spoc(&["merge", "a.yaml", "k.json", "-o", "m.yaml"], d);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("different default actions"), "{err}");
    assert!(err.contains("SCMP_ACT_KILL_PROCESS"), "{err}");
    assert!(!d.join("m.yaml").exists());
}
