use thiserror::Error;

/// Errors of the node agent library.
#[derive(Debug, Error)]
pub enum NodeError {
    /// An external tool could not be started.
    #[error("cannot run `{tool}`")]
    Spawn {
        /// The program.
        tool: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A file operation failed.
    #[error("cannot {op} `{path}`")]
    Io {
        /// What was attempted.
        op: &'static str,
        /// On which path.
        path: std::path::PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}
