//! The spo-rs node agent library: what puts profiles on a machine and tells
//! the truth about them. Kernel and tool access sits behind small traits
//! whose real implementations are the ones the tests use.

pub mod audit;
mod error;
pub mod seccomp;
pub mod selinux;

pub use error::NodeError;
