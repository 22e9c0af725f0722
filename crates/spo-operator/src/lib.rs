//! The spo-rs operator: the profile controllers ([`controller`]: status,
//! finalizer, active workloads, recordings) and the admission webhooks
//! ([`webhook`]), both run by the `spo-operator` binary, and the leader
//! election ([`leader`]) that lets several replicas serve the webhooks
//! while one runs the controllers. The resource types they speak are
//! `spo-api`'s.

pub mod controller;
mod error;
pub mod leader;
pub mod webhook;

pub use error::OperatorError;
