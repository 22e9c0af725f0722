//! The crate's one error type.

/// What can go wrong turning profiles into custom resources.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApiError {
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
}
