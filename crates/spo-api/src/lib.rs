//! The spo-rs custom resources: SPO v1's API as Rust types.
//!
//! Everything a program needs to speak the API and nothing that talks to a
//! cluster: the resource types and their conversions to the `spo-model`
//! profiles ([`crds`]), the CRD documents generated from those types (so the
//! schema the API server enforces can never drift from the types the
//! programs deserialise), the names, labels, annotations and finalizers the
//! programs agree on ([`names`]), and the recording contract between the
//! webhook, the node agents and the operator ([`recording`]).
//!
//! **API boundary:** this crate depends on `kube-core`, `k8s-openapi` and
//! `schemars` only, never on a Kubernetes client, so a tool that only reads
//! or writes manifests does not link one.

pub mod crds;
mod error;
pub mod names;
pub mod recording;

pub use crds::{all_crds, all_crds_yaml, crd_files};
pub use error::ApiError;
