//! Helpers for the tests that run the `spod` binary: start it on a free
//! port, talk HTTP to it, and wait for conditions.

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running `spod`.
pub struct Spod {
    pub child: Child,
    pub addr: String,
}

impl Spod {
    /// Start `spod` on the given directories with extra arguments; waits
    /// until it listens.
    pub fn start(manifests: &Path, kubelet: &Path, state: &Path, extra: &[&str]) -> Spod {
        let mut child = Command::new(env!("CARGO_BIN_EXE_spod"))
            .arg("--manifests")
            .arg(manifests)
            .arg("--kubelet-root")
            .arg(kubelet)
            .arg("--state")
            .arg(state)
            .args(["--listen", "127.0.0.1:0", "--node", "test-node"])
            .args(extra)
            .stderr(Stdio::piped())
            .spawn()
            .expect("spod starts");
        let stderr = child.stderr.take().unwrap();
        let mut lines = BufReader::new(stderr).lines();
        let addr = loop {
            let line = lines.next().expect("spod prints its address").unwrap();
            if let Some(a) = line.strip_prefix("spod: listening on ") {
                break a.to_owned();
            }
        };
        // Keep draining stderr so spod never blocks on a full pipe.
        std::thread::spawn(move || {
            for l in lines.map_while(Result::ok) {
                eprintln!("[spod] {l}");
            }
        });
        Spod { child, addr }
    }

    /// GET `path`; returns status code and body.
    pub fn get(&self, path: &str) -> (u16, String) {
        http_get(&self.addr, path)
    }

    /// `/status` as JSON.
    pub fn status(&self) -> serde_json::Value {
        let (code, body) = self.get("/status");
        assert_eq!(code, 200, "{body}");
        serde_json::from_str(&body).unwrap()
    }

    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Spod {
    fn drop(&mut self) {
        self.kill();
    }
}

pub fn http_get(addr: &str, path: &str) -> (u16, String) {
    spo_node::http::get(addr, path).expect("spod answers")
}

/// Poll `f` until it returns `Some`, or panic after `secs` with `what`.
pub fn wait_for<T>(secs: u64, what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The profile entry of `name` in a status.
pub fn profile<'a>(status: &'a serde_json::Value, name: &str) -> Option<&'a serde_json::Value> {
    status["profiles"].as_array()?.iter().find(|p| p["name"] == name)
}

/// Write `text` to `dir/file` atomically, as an editor that renames would.
pub fn write_manifest(dir: &Path, file: &str, text: &str) {
    static SEQ: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let tmp: PathBuf = dir.join(format!(".{file}.{}-{n}.tmp", std::process::id()));
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(tmp, dir.join(file)).unwrap();
}

#[allow(unused_imports)] // not every test crate including this module needs it
pub use spo_test_support::is_root;

pub fn seccomp_manifest(name: &str, annotations: &str, spec: &str) -> String {
    format!(
        "apiVersion: security-profiles-operator.x-k8s.io/v1\nkind: SeccompProfile\nmetadata:\n  name: {name}\n{annotations}spec:\n{spec}"
    )
}
