//! `spoc validate` on every invalid fixture: the exit status is 1 and the
//! rendered diagnostics equal the `.stderr` file beside the input (refresh
//! with `SPO_BLESS=1`). Valid examples exit 0.

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use std::path::{Path, PathBuf};
use std::process::Command;

fn spoc() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_spoc"));
    c.env("NO_COLOR", "1");
    c
}

fn fixtures(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| !p.extension().is_some_and(|e| e == "stderr" || e == "jsonl"))
        .collect();
    v.sort();
    v
}

#[test]
fn invalid_fixtures_match_their_golden_diagnostics() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut golden = spo_test_support::Golden::new();
    let files = fixtures(&root.join("tests/fixtures/seccomp/invalid"));
    assert!(files.len() >= 5);
    for input in files {
        let rel = input.strip_prefix(root).unwrap();
        let out = spoc().current_dir(root).arg("validate").arg(rel).output().unwrap();
        if out.status.code() != Some(1) {
            golden.fail(format!("{} should be invalid (exit 1), exited with {:?}", rel.display(), out.status.code()));
        }
        let stderr = String::from_utf8(out.stderr).unwrap();
        golden
            .check(&input.with_extension(format!("{}.stderr", input.extension().unwrap().to_str().unwrap())), &stderr);
    }
    golden.finish();
}

#[test]
fn json_diagnostics_carry_location_and_help() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = spoc()
        .current_dir(root)
        .args(["validate", "--format", "json", "tests/fixtures/seccomp/invalid/typos.json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let lines: Vec<serde_json::Value> =
        String::from_utf8(out.stdout).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let mkdirr = lines
        .iter()
        .find(|v| v["message"] == "unknown syscall `mkdirr`; runc and crun skip it")
        .expect("mkdirr diagnostic");
    assert_eq!(mkdirr["line"], 6);
    assert_eq!(mkdirr["column"], 47);
    // The runtimes skip an unknown name: a warning, as they behave.
    assert_eq!(mkdirr["severity"], "warning");
    assert_eq!(mkdirr["help"], "did you mean `mkdir`?");
    assert_eq!(mkdirr["file"], "tests/fixtures/seccomp/invalid/typos.json");
}

#[test]
fn shipped_examples_are_valid() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut files = Vec::new();
    for dir in ["seccomp", "selinux", "apparmor", "spod"] {
        files.extend(fixtures(&root.join("examples").join(dir)));
    }
    assert!(files.len() >= 8, "{files:?}");
    let out = spoc().current_dir(&root).arg("validate").args(&files).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}
