//! The crate's one error type.

/// What can go wrong in spo-operator.
#[derive(Debug, thiserror::Error)]
pub enum OperatorError {
    /// A model profile uses a field the custom resource has no place for
    /// (Docker's `archMap` or `includes`, for example): converting it would
    /// silently change what the profile does.
    #[error("{kind} field `{field}` cannot be expressed in the custom resource: {reason}")]
    NotExpressible {
        /// The resource kind being produced.
        kind: &'static str,
        /// Path of the offending field in the model profile.
        field: String,
        /// Why it does not fit.
        reason: &'static str,
    },
    /// A request to the API server failed.
    #[error("{action}")]
    Kube {
        /// What the operator was doing (`patching the status of SeccompProfile ns/name`).
        action: String,
        /// The client's error.
        #[source]
        source: kube::Error,
    },
    /// A watch the controllers need ended before its first full list.
    #[error("the {what} watch stopped before its first full list")]
    CacheNeverReady {
        /// Which watch.
        what: &'static str,
    },
}
