//! The crate's one error type.

/// What can go wrong in spod's Kubernetes mode.
#[derive(Debug, thiserror::Error)]
pub enum SpodError {
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
    /// The node agent library failed.
    #[error(transparent)]
    Node(#[from] spo_node::NodeError),
    /// A request to the Kubernetes API server failed.
    #[cfg(feature = "kubernetes")]
    #[error("cannot {op}")]
    Kube {
        /// What was attempted, with the object.
        op: String,
        /// Why.
        #[source]
        source: kube::Error,
    },
}

/// An error and its sources on one line, `outer: inner: ...`.
pub fn chain(err: &dyn std::error::Error) -> String {
    let mut out = err.to_string();
    let mut source = err.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}
