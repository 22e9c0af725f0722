//! The spo-rs node agent library: what puts profiles on a machine and tells
//! the truth about them. Kernel and tool access sits behind small traits
//! whose real implementations are the ones the tests use.

pub mod agent;
pub mod apparmor;
pub mod audit;
pub mod enrich;
pub mod http;
pub mod metrics;
mod error;
pub mod record;
pub mod seccomp;
pub mod status;
pub mod store;
pub mod verify;
pub mod selinux;

pub use error::NodeError;
