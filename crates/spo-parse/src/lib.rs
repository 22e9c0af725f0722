//! Text to spo-rs profiles, with byte spans.
//!
//! **Architecture invariant:** parsing never panics and never stops at the
//! first problem: every entry point returns what it could build *and* every
//! [`Diagnostic`] it found, each with a byte span into the input. Rendering
//! (with line, column, caret) is the caller's job; [`SourceMap`] gives
//! line/column for a span.

pub mod apparmor;
pub mod audit;
pub mod cil;
mod diagnostic;
pub mod document;
mod error;
pub mod files;
pub mod limits;
pub mod seccomp;
mod source;
pub mod value;

pub use diagnostic::{snap_to_text, Diagnostic, Label, Severity, Span};
pub use error::ParseError;
pub use limits::{Limit, Limits};
pub use source::SourceMap;
