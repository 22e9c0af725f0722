//! Priming (Kubernetes issue 85191): a profile recorded from a workload
//! alone blocks what the container runtime does between applying the
//! filter and exec'ing the workload, so the container cannot start; the
//! same recording with `--base runc` (or `--base crun`) starts it. (crun
//! 1.8 makes only one call after applying the filter, `close`, and ignores
//! its failure, so for crun only the primed start is checked.)
//!
//! Records busybox `true` on the host, then runs it in a busybox-static
//! container under each recorded profile. Needs root, Debian's `runc`
//! (and `crun`) and `busybox-static`; skips loudly otherwise.

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use std::path::Path;
use std::process::{Command, Output, Stdio};

const SPOC: &str = env!("CARGO_BIN_EXE_spoc");

use spo_test_support::{have, is_root};

fn record(dir: &Path, base: &str, busybox: &Path) -> serde_json::Value {
    let out = dir.join(format!("true-{base}.json"));
    let st = Command::new(SPOC)
        .args(["record", "--recorder", "ptrace", "--format", "oci", "--base", base, "-o"])
        .arg(&out)
        .arg("--")
        .arg(busybox)
        .arg("true")
        .output()
        .unwrap();
    assert!(st.status.success(), "{}", String::from_utf8_lossy(&st.stderr));
    serde_json::from_str(&std::fs::read_to_string(out).unwrap()).unwrap()
}

fn run_container(runtime: &str, bundle: &Path, seccomp: &serde_json::Value, id: &str) -> Output {
    let cfg_path = bundle.join("config.json");
    let mut cfg: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&cfg_path).unwrap()).unwrap();
    cfg["process"]["args"] = serde_json::json!(["/bin/busybox", "true"]);
    cfg["process"]["terminal"] = serde_json::json!(false);
    cfg["linux"]["seccomp"] = seccomp.clone();
    std::fs::write(&cfg_path, serde_json::to_string(&cfg).unwrap()).unwrap();
    let out =
        Command::new(runtime).arg("run").arg("--bundle").arg(bundle).arg(id).stdin(Stdio::null()).output().unwrap();
    let _ = Command::new(runtime).args(["delete", "-f", id]).output();
    out
}

#[test]
fn a_recorded_profile_starts_its_container_only_with_the_runtime_base() {
    if !is_root() {
        return spo_test_support::skip("running containers needs root");
    }
    let Some(busybox) = ["/bin/busybox", "/usr/bin/busybox"].into_iter().map(Path::new).find(|p| p.exists()) else {
        return spo_test_support::skip("busybox-static is not installed");
    };
    let runtimes: Vec<&str> = ["runc", "crun"].into_iter().filter(|r| have(r)).collect();
    if runtimes.is_empty() {
        return spo_test_support::skip("neither runc nor crun is installed");
    }
    let tmp = tempfile::tempdir().unwrap();
    let bundle = tmp.path().join("bundle");
    std::fs::create_dir_all(bundle.join("rootfs/bin")).unwrap();
    std::fs::copy(busybox, bundle.join("rootfs/bin/busybox")).unwrap();
    assert!(Command::new("runc").arg("spec").current_dir(&bundle).status().is_ok_and(|s| s.success()) || !have("runc"));
    if !bundle.join("config.json").exists() {
        assert!(Command::new("crun").arg("spec").current_dir(&bundle).status().unwrap().success());
    }
    let bare = record(tmp.path(), "none", busybox);
    for rt in runtimes {
        let primed = record(tmp.path(), rt, busybox);
        let id = format!("spo-priming-{rt}-{}", std::process::id());
        let ok = run_container(rt, &bundle, &primed, &id);
        let err = String::from_utf8_lossy(&ok.stderr);
        if rt == "crun" && (err.contains("hybrid mode") || err.contains("hugetlb")) {
            spo_test_support::skip(format!(
                "crun refuses this hybrid cgroup host ({}): run scripts/prepare-host.sh as root, which moves \
                 the controllers left on cgroup v2 to v1 hierarchies",
                err.trim()
            ));
            continue;
        }
        assert!(
            ok.status.success(),
            "{rt}: the container did not start under the profile primed with --base {rt}: {}",
            String::from_utf8_lossy(&ok.stderr)
        );
        // runc (Go) applies the filter and then still opens, reads and
        // closes files, takes futexes and writes to its sync pipe: without
        // its base the container cannot start. crun applies the filter right
        // before execve and ignores its one later call failing (`close`),
        // so there the bare profile happens to work.
        if rt == "runc" {
            let bad = run_container(rt, &bundle, &bare, &id);
            assert!(
                !bad.status.success(),
                "runc: the container started under a profile with no runtime base; priming would prove nothing"
            );
        }
    }
}
