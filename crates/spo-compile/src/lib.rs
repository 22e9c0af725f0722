//! spo-rs profiles to what the kernel and the policy tools consume.
//!
//! Pure functions: a profile in, bytes or text out, deterministic so that
//! golden tests can pin the output.

mod error;

pub use error::CompileError;
