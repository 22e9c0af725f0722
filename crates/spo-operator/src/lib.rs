//! The Kubernetes side of spo-rs.
//!
//! It owns the custom resource definitions: the Rust types of every spo-rs
//! custom resource ([`crds`]), the CRD documents generated from them (so
//! the schema the API server enforces can never drift from the types the
//! operator deserialises), and conversions to the `spo-model` profile
//! types the rest of the workspace speaks. Beside them run the profile
//! controllers ([`controller`]: status, finalizer, active workloads) and
//! the admission webhooks ([`webhook`]), both in the `spo-operator` binary.

pub mod controller;
pub mod crds;
mod error;
pub mod recording;
pub mod webhook;

pub use crds::{all_crds, all_crds_yaml, crd_files};
pub use error::OperatorError;
