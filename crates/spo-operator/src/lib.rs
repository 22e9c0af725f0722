//! The spo-rs operator: the profile controllers ([`controller`]: status,
//! finalizer, active workloads, recordings) and the admission webhooks
//! ([`webhook`]), both run by the `spo-operator` binary. The resource types
//! they speak are `spo-api`'s.

pub mod controller;
mod error;
pub mod webhook;

pub use error::OperatorError;
