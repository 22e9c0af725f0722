//! Typed security profiles and their semantic validation.
//!
//! This crate is the vocabulary every other spo-rs crate speaks: the seccomp,
//! SELinux and AppArmor profile types (serde round-trippable, with SPO's field
//! names), the syscall tables of every supported architecture, and
//! validation that reports *every* problem with a field path. It performs no
//! I/O: turning text into these types, with byte spans for diagnostics, is
//! `spo-parse`'s job, and turning them into kernel formats is `spo-compile`'s.

pub mod apparmor;
pub mod arch;
pub mod errno;
mod error;
pub mod objname;
pub mod problem;
pub mod seccomp;
pub mod selinux;
pub mod suggest;
pub mod syscalls;

pub use arch::Arch;
pub use error::ModelError;
pub use problem::{FieldPath, PathSegment, Problem, Severity};
