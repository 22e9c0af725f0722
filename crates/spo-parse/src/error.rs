use thiserror::Error;

use crate::Diagnostic;

/// Errors of the parsers, for callers that want a `Result`.
#[derive(Debug, Error, Clone)]
pub enum ParseError {
    /// The input has errors; all of them are attached.
    #[error("{} error(s), first: {}", .diagnostics.iter().filter(|d| d.is_error()).count(), .diagnostics.iter().find(|d| d.is_error()).map(|d| d.message.as_str()).unwrap_or(""))]
    Invalid {
        /// Every diagnostic, errors and warnings.
        diagnostics: Vec<Diagnostic>,
    },
}
