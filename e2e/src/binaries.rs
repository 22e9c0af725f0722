//! Where the control plane binaries live, and building them.
//!
//! The Kubernetes version is the one pinned in `e2e/k8s/go.mod`; the cache
//! directory is keyed by it, so bumping the pin builds a new set beside the
//! old one and never mixes versions.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::E2eError;

const GO_MOD: &str = include_str!("../k8s/go.mod");

/// The binaries without which there is no cluster. The controller manager
/// (garbage collection, service accounts, Deployments) and kubectl are used
/// when present, and the tests that need them say so when they are not.
pub const REQUIRED: [&str; 2] = ["etcd", "kube-apiserver"];

/// Every binary the build script makes, in build order. The kubelet and
/// the scheduler run pods for real (see [`crate::node`]); without them
/// pods are stored but never run. kube-proxy makes Services reach pods
/// (the in-cluster install, [`crate::incluster`]); Helm renders the chart.
pub const NAMES: [&str; 8] =
    ["etcd", "kube-apiserver", "kube-controller-manager", "kubectl", "kubelet", "kube-scheduler", "kube-proxy", "helm"];

/// The Kubernetes version pinned in `e2e/k8s/go.mod` (`v1.37.2`).
pub fn kubernetes_version() -> &'static str {
    GO_MOD
        .lines()
        .find_map(|l| {
            let l = l.trim();
            let l = l.strip_prefix("require ").unwrap_or(l).trim_start();
            let rest = l.strip_prefix("k8s.io/kubernetes ")?;
            rest.split_whitespace().next().filter(|v| v.starts_with('v'))
        })
        .unwrap_or("unknown")
}

/// The build script, in the source tree this harness was compiled from.
pub fn build_script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("k8s/build.sh")
}

/// A directory holding every binary in [`NAMES`].
#[derive(Debug, Clone)]
pub struct Binaries {
    dir: PathBuf,
}

impl Binaries {
    /// `$SPO_E2E_BIN_DIR`, else
    /// `${XDG_CACHE_HOME:-$HOME/.cache}/spo-rs/k8s/<version>/bin`.
    pub fn cache_dir() -> PathBuf {
        if let Some(dir) = std::env::var_os("SPO_E2E_BIN_DIR") {
            return PathBuf::from(dir);
        }
        let base = std::env::var_os("XDG_CACHE_HOME")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
            .unwrap_or_else(|| PathBuf::from("/tmp"));
        base.join("spo-rs/k8s").join(kubernetes_version()).join("bin")
    }

    /// The cached binaries, if at least the [`REQUIRED`] ones are there.
    pub fn cached() -> Result<Binaries, E2eError> {
        let dir = Self::cache_dir();
        if REQUIRED.iter().all(|n| dir.join(n).is_file()) {
            Ok(Binaries { dir })
        } else {
            Err(E2eError::NotBuilt { dir })
        }
    }

    /// The cached binaries, building the missing ones first (slow: tens of
    /// minutes on two cores the first time).
    pub fn build() -> Result<Binaries, E2eError> {
        let dir = Self::cache_dir();
        let script = build_script();
        let status = Command::new("bash")
            .arg(&script)
            .arg(&dir)
            .status()
            .map_err(|source| E2eError::Spawn { program: script.display().to_string(), source })?;
        if !status.success() {
            return Err(E2eError::Command {
                program: script.display().to_string(),
                status,
                stderr: "see the output above".into(),
            });
        }
        Self::cached()
    }

    /// What tests use: the cached binaries; with `SPO_E2E=1` build them when
    /// missing. `None` (the test should skip, loudly) when they are missing
    /// and building was not asked for.
    pub fn for_tests() -> Result<Option<Binaries>, E2eError> {
        match Self::cached() {
            Ok(b) => Ok(Some(b)),
            Err(E2eError::NotBuilt { .. }) if std::env::var_os("SPO_E2E").is_some_and(|v| v == "1") => {
                Self::build().map(Some)
            }
            Err(E2eError::NotBuilt { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// [`Binaries::for_tests`] for the test named `test`: `None` after
    /// printing the loud `SKIPPED:` line that says how to get the binaries;
    /// a failed build panics.
    pub fn for_test(test: &str) -> Option<Binaries> {
        match Self::for_tests() {
            Ok(Some(b)) => Some(b),
            Ok(None) => {
                spo_test_support::skip(format!(
                    "{test} needs the Kubernetes binaries in {} (build them with \
                     `cargo run -p spo-e2e -- build`, or set SPO_E2E=1)",
                    Self::cache_dir().display()
                ));
                None
            }
            Err(e) => panic!("building the Kubernetes binaries: {e}"),
        }
    }

    /// Path of one binary.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// Whether one binary is there.
    pub fn has(&self, name: &str) -> bool {
        self.path(name).is_file()
    }

    /// The binaries of [`NAMES`] that are not built yet.
    pub fn missing(&self) -> Vec<&'static str> {
        NAMES.iter().copied().filter(|n| !self.has(n)).collect()
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_comes_from_the_pinned_go_mod() {
        let v = kubernetes_version();
        assert!(v.starts_with("v1."), "{v}");
        assert!(GO_MOD.contains(&format!("k8s.io/api => k8s.io/api v0.{}", &v[3..])));
    }

    #[test]
    fn build_script_exists() {
        assert!(build_script().is_file());
    }
}
