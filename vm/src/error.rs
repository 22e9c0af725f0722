//! The tier's one error type.

use std::path::PathBuf;

/// What can go wrong preparing or running a VM.
#[derive(Debug, thiserror::Error)]
pub enum VmError {
    /// A file operation failed.
    #[error("cannot {op} {}: {source}", path.display())]
    Io {
        /// What was attempted.
        op: &'static str,
        /// On what.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A host tool is missing: the tier cannot run here (tests skip).
    #[error("{what} is missing: {fix}")]
    Missing {
        /// What.
        what: String,
        /// How to get it.
        fix: String,
    },
    /// A host tool ran and failed.
    #[error("`{command}` failed ({status}): {output}")]
    Tool {
        /// The command line.
        command: String,
        /// Exit status.
        status: String,
        /// Its output, trimmed.
        output: String,
    },
    /// The guest did not finish in time.
    #[error("the VM did not finish within {secs} s; console tail:\n{console}")]
    Timeout {
        /// The bound.
        secs: u64,
        /// The last console lines.
        console: String,
    },
    /// The guest stopped without reporting that its scenario finished.
    #[error("the VM stopped before its scenario finished ({why}); console tail:\n{console}")]
    Incomplete {
        /// What was seen.
        why: String,
        /// The last console lines.
        console: String,
    },
    /// A result line could not be read.
    #[error("bad result line `{line}`: {why}")]
    BadResult {
        /// The line.
        line: String,
        /// Why.
        why: String,
    },
}

impl VmError {
    /// A closure for `map_err` on I/O results.
    pub fn io(op: &'static str, path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> VmError {
        let path = path.into();
        move |source| VmError::Io { op, path, source }
    }

    /// Whether the tier cannot run on this machine (a skip, not a failure).
    pub fn is_missing(&self) -> bool {
        matches!(self, VmError::Missing { .. })
    }
}
