//! `spo-e2e up` and `down` as a person runs them: `up` returns with a
//! ready API server, spo-operator and spod, and a kubeconfig, leaves the
//! components running after it exits, and `down` stops exactly those.
//! (`--no-node`: the real node is exercised by `tests/pods.rs`.)

use std::process::Command;

use spo_e2e::Binaries;

fn spo_e2e(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_spo-e2e")).args(args).output().expect("spo-e2e runs")
}

#[test]
fn up_then_down_from_the_command_line() {
    if Binaries::for_test("up_then_down_from_the_command_line").is_none() {
        return;
    }
    let exe = std::path::Path::new(env!("CARGO_BIN_EXE_spo-e2e"));
    let built = |name: &str| exe.parent().is_some_and(|d| d.join(name).is_file());
    if !built("spo-operator") || !built("spod") {
        spo_test_support::skip(
            "up_then_down_from_the_command_line needs spo-operator and spod beside spo-e2e \
             (cargo build -p spo-operator -p spod, or cargo test --workspace)",
        );
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path().to_str().expect("utf-8 temp dir");

    let out = spo_e2e(&["up", "--no-node", "--dir", d]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("spo-operator (webhooks on https://127.0.0.1:"), "{stderr}");
    let kubeconfig = dir.path().join("kubeconfig");
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), format!("KUBECONFIG={}", kubeconfig.display()));
    let pids = std::fs::read_to_string(dir.path().join("pids")).expect("pid file");
    let recorded: Vec<u32> = pids.lines().map(|l| l.split_whitespace().nth(1).unwrap().parse().unwrap()).collect();
    assert!(recorded.len() >= 4, "{pids}");
    assert!(pids.contains("spo-operator ") && pids.contains("spod "), "{pids}");
    for pid in &recorded {
        assert!(std::path::Path::new(&format!("/proc/{pid}")).exists(), "pid {pid} not running after up exited");
    }

    // A second `up` on the same directory is refused.
    let again = spo_e2e(&["up", "--no-spo", "--no-node", "--dir", d]);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("already has a running cluster"));

    let out = spo_e2e(&["down", "--dir", d]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stopped = String::from_utf8_lossy(&out.stderr);
    assert!(stopped.contains("kube-apiserver") && stopped.contains("spo-operator"), "{stopped}");
    for pid in &recorded {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        assert!(stat.is_empty() || stat.contains(") Z "), "pid {pid} survived down: {stat}");
    }
    assert!(!dir.path().join("pids").exists());
    let out = spo_e2e(&["down", "--dir", d]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("nothing was running"));
}
