//! End-to-end harness: a real Kubernetes control plane on loopback.
//!
//! spo-rs's operator is only as good as its behaviour against a real API
//! server: schema validation, status subresources, RBAC and watches are the
//! server's, not a mock's. This crate builds etcd, kube-apiserver,
//! kube-controller-manager and kubectl from Go modules once ([`binaries`]),
//! caches them outside the repository keyed by Kubernetes version, and runs
//! them as plain processes on 127.0.0.1 with throwaway certificates
//! ([`certs`], [`cluster`]). With `Options { node: true }` it also runs a
//! real node ([`node`]: containerd, kubelet, scheduler, kube-proxy) whose
//! pods run, and spo-rs can be installed on it as users install it
//! ([`incluster`]: the images, `kubectl apply -k deploy/`).
//!
//! The same code serves the tests in `e2e/tests/` and a person at a
//! terminal (`spo-e2e up --dir DIR`, `spo-e2e down --dir DIR`).

pub mod binaries;
pub mod certs;
pub mod cluster;
mod error;
pub mod incluster;
pub mod manifests;
pub mod node;
mod process;
pub mod spo;
pub mod wait;

pub use binaries::Binaries;
pub use cluster::{Cluster, Options};
pub use error::E2eError;
pub use process::usage;
pub use wait::wait_for;
