//! The library half of `spod`: its Kubernetes mode ([`kube`], feature
//! `kubernetes`, on by default), kept out of `spo-node` so that nothing
//! but this crate links a Kubernetes client. Standalone mode and every
//! installer, verifier and recorder are `spo-node`'s.

mod error;
#[cfg(feature = "kubernetes")]
pub mod kube;

pub use error::{chain, SpodError};
