//! The AppArmor profile language (`apparmor.d(5)`): a parser that reports
//! every error of a file in one pass, and a validator that follows
//! includes over search paths and checks variables across files.
//!
//! `apparmor_parser` stops at its first error, sometimes without a line;
//! here every problem is a [`Diagnostic`](crate::Diagnostic) with a span in
//! the file it belongs to, and problems inside included files are returned
//! with that file's path and text and the chain of includes that led there.

pub mod ast;
mod lexer;
pub mod names;
mod parser;
mod resolve;
pub mod resource;
mod rules;

pub use parser::{parse, parse_with, Parsed};
pub use resolve::{validate, FileReport, Options, Validator};
