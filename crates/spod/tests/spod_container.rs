//! A real container: containerd (Debian's, started here on a private
//! socket and state directory, CRI plugin off) runs a busybox container
//! whose seccomp profile is the one spod installed (`ctr run --seccomp
//! --seccomp-profile KUBELET_ROOT/seccomp/operator/NAME.json`, the file a
//! kubelet would hand over). spod must find the container from the
//! process's cgroup, read its bundle, recognise the filter as the installed
//! version of the profile, verify it, and attribute its audit events.
//!
//! Skips loudly without root, containerd, ctr or busybox-static
//! (`apt-get install containerd busybox-static`).

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

mod spod_common;
use spod_common as common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::{profile, seccomp_manifest, wait_for, write_manifest, Spod};

struct Containerd {
    child: Child,
    sock: PathBuf,
}

impl Drop for Containerd {
    fn drop(&mut self) {
        for args in [
            &["task", "kill", "-s", "KILL", "spod-ct"][..],
            &["task", "delete", "spod-ct"],
            &["container", "delete", "spod-ct"],
        ] {
            let _ = ctr(&self.sock, args).output();
            std::thread::sleep(Duration::from_millis(200));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn ctr(sock: &Path, args: &[&str]) -> Command {
    let mut c = Command::new("ctr");
    c.arg("--address").arg(sock).args(args);
    c
}

fn found(tool: &str) -> bool {
    Command::new("sh").args(["-c", &format!("command -v {tool}")]).output().is_ok_and(|o| o.status.success())
}

fn start_containerd(dir: &Path) -> Option<Containerd> {
    let sock = dir.join("containerd.sock");
    std::fs::create_dir_all(dir).unwrap();
    let config = dir.join("config.toml");
    std::fs::write(
        &config,
        format!(
            "version = 2\nroot = \"{0}/root\"\nstate = \"{0}/state\"\ndisabled_plugins = [\"io.containerd.grpc.v1.cri\"]\n[grpc]\n  address = \"{1}\"\n",
            dir.display(),
            sock.display()
        ),
    )
    .unwrap();
    let child = Command::new("containerd")
        .arg("--config")
        .arg(&config)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    let c = Containerd { child, sock };
    for _ in 0..100 {
        if ctr(&c.sock, &["version"]).output().is_ok_and(|o| o.status.success()) {
            return Some(c);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    spo_test_support::skip("containerd did not start");
    None
}

#[test]
fn a_containerd_container_is_verified_and_its_events_attributed() {
    if !common::is_root() || !["containerd", "ctr", "busybox"].iter().all(|t| found(t)) {
        spo_test_support::skip(
            "needs root, containerd, ctr and busybox-static (apt-get install containerd busybox-static)",
        );
        return;
    }
    if spo_node::audit::AuditSocket::open().is_err() {
        spo_test_support::skip("needs the audit netlink socket");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    let rootfs = t.join("rootfs");
    for d in ["bin", "tmp", "proc", "dev", "sys"] {
        std::fs::create_dir_all(rootfs.join(d)).unwrap();
    }
    let busybox =
        String::from_utf8(Command::new("sh").args(["-c", "command -v busybox"]).output().unwrap().stdout).unwrap();
    std::fs::copy(busybox.trim(), rootfs.join("bin/busybox")).unwrap();
    for c in ["sh", "sleep"] {
        std::os::unix::fs::symlink("busybox", rootfs.join("bin").join(c)).unwrap();
    }
    let Some(containerd) = start_containerd(&t.join("ctrd")) else {
        return;
    };

    let (m, k, s) = (t.join("m"), t.join("k"), t.join("s"));
    std::fs::create_dir(&m).unwrap();
    let spec = "  defaultAction: SCMP_ACT_ALLOW\n  syscalls:\n  - action: SCMP_ACT_ERRNO\n    names: [umask, mkdir, mkdirat]\n";
    write_manifest(&m, "ct.yaml", &seccomp_manifest("ct-demo", "  annotations:\n    spo-rs.io/mode: complain\n", spec));
    let pattern = format!("{}/ctrd/state/io.containerd.runtime.v2.task/*/{{id}}/config.json", t.display());
    let spod = Spod::start(&m, &k, &s, &["--bundle-pattern", &pattern]);
    let version = wait_for(5, "ct-demo Installed", || {
        let st = spod.status();
        let p = profile(&st, "ct-demo")?;
        (p["status"] == "Installed").then(|| p["version"].as_str().unwrap().to_owned())
    });

    let json = k.join("seccomp/operator/ct-demo.json");
    let out = ctr(&containerd.sock, &["run", "-d", "--rootfs", "--seccomp", "--seccomp-profile"])
        .arg(&json)
        .arg(&rootfs)
        .args(["spod-ct", "/bin/sh", "-c", "umask 077; exec sleep 30"])
        .output()
        .unwrap();
    if !out.status.success() {
        spo_test_support::skip(format!("ctr run failed: {}", String::from_utf8_lossy(&out.stderr)));
        return;
    }

    let check = wait_for(10, "the container's process verified", || {
        let st = spod.status();
        st["processes"].as_array()?.iter().find(|p| p["containerId"] == "spod-ct").cloned()
    });
    assert_eq!(check["profile"], "ct-demo", "{check:#}");
    assert_eq!(check["profileVersion"], version.as_str(), "{check:#}");
    assert_eq!(check["seccompMode"], 2);
    assert_eq!(check["ok"], true, "{check:#}");

    let ev = wait_for(20, "the container's umask event", || {
        let (_, body) = spod.get("/violations?profile=ct-demo");
        let evs: serde_json::Value = serde_json::from_str(&body).ok()?;
        evs.as_array()?.iter().find(|e| e["syscall"] == "umask").cloned()
    });
    assert_eq!(ev["containerId"], "spod-ct", "{ev:#}");
    assert_eq!(ev["action"], "SCMP_ACT_LOG");
    let st = spod.status();
    assert_eq!(profile(&st, "ct-demo").unwrap()["inUseBy"], 1);
}
