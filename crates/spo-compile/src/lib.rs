//! spo-rs profiles to what the kernel and the policy tools consume.
//!
//! Pure functions: a profile in, bytes or text out, deterministic so that
//! golden tests can pin the output.

pub mod apparmor;
pub mod bpf;
pub mod cil;
mod error;
pub mod seccomp;

pub use error::CompileError;
