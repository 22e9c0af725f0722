//! The spo-rs node agent library: what puts profiles on a machine and tells
//! the truth about them. Kernel and tool access sits behind small traits
//! whose real implementations are the ones the tests use.

pub mod agent;
pub mod apparmor;
pub mod audit;
pub mod enrich;
mod error;
pub mod http;
pub mod metrics;
mod netlink;
pub mod record;
pub mod seccomp;
pub mod selinux;
pub mod status;
pub mod store;
pub mod verify;

pub use error::NodeError;
