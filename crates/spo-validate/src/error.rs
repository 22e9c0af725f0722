//! The crate's one error type: validation itself never fails (problems are
//! diagnostics); only reading the files it is pointed at can.

use std::path::PathBuf;

/// What can stop a validation before it produces diagnostics.
#[derive(Debug, thiserror::Error)]
pub enum ValidateError {
    /// A directory given as a CIL base cannot be listed.
    #[error("cannot read directory {}", path.display())]
    ReadDir {
        /// The directory.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A file given as a CIL base cannot be read, or is refused (too
    /// large, not a regular file, outside its directory).
    #[error(transparent)]
    Input(spo_parse::ParseError),
    /// A CIL base file does not parse, so nothing can be checked against it.
    #[error("base file {}:{line}:{column}: {message}", path.display())]
    BadBase {
        /// The base file.
        path: PathBuf,
        /// 1-based line of the first error.
        line: usize,
        /// 1-based column of the first error.
        column: usize,
        /// The parser's message.
        message: String,
    },
}
