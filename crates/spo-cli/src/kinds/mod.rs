//! Per-profile-kind glue between the command line and the libraries.

pub mod apparmor;
pub mod seccomp;
pub mod selinux;

pub use spo_validate::{detect, has_resource, FileKind};
