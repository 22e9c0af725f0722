use std::path::PathBuf;
use std::sync::Arc;

use thiserror::Error;

use crate::Diagnostic;

/// Errors of the parsers and of the file readers, for callers that want a
/// `Result`.
#[derive(Debug, Error, Clone)]
pub enum ParseError {
    /// The input has errors; all of them are attached.
    #[error("{} error(s), first: {}", .diagnostics.iter().filter(|d| d.is_error()).count(), .diagnostics.iter().find(|d| d.is_error()).map(|d| d.message.as_str()).unwrap_or(""))]
    Invalid {
        /// Every diagnostic, errors and warnings.
        diagnostics: Vec<Diagnostic>,
    },
    /// A file is larger than [`Limits::file_size`](crate::Limits::file_size).
    #[error("{} is {size} bytes, more than the limit of {limit} (raise it with --limit file-size=N)", path.display())]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// Its size (or as much as was read).
        size: u64,
        /// The limit.
        limit: u64,
    },
    /// A path names something that is not a regular file.
    #[error("{} is {what}, not a regular file", path.display())]
    NotRegular {
        /// The path.
        path: PathBuf,
        /// What it is (`a character device`, `a FIFO`, ...).
        what: &'static str,
    },
    /// A path leads, once its symlinks are resolved, outside the directory
    /// it must stay in.
    #[error("{} leads outside {}; not read", path.display(), root.display())]
    Outside {
        /// The path.
        path: PathBuf,
        /// The directory.
        root: PathBuf,
    },
    /// A file is not UTF-8 text.
    #[error("{} is not UTF-8 text (invalid byte at offset {offset})", path.display())]
    NotUtf8 {
        /// The file.
        path: PathBuf,
        /// Where the first invalid byte is.
        offset: usize,
    },
    /// A file cannot be opened or read.
    #[error("cannot read {}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: Arc<std::io::Error>,
    },
}
