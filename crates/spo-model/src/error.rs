use thiserror::Error;

/// Errors of the model crate: lookups and conversions that can fail.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum ModelError {
    /// An architecture name that is neither an `SCMP_ARCH_*` name nor a
    /// common alias.
    #[error("unknown architecture `{name}`")]
    UnknownArch { name: String },
    /// A seccomp action name that is not one of `SCMP_ACT_*`.
    #[error("unknown seccomp action `{name}`")]
    UnknownAction { name: String },
    /// An argument comparison operator that is not one of `SCMP_CMP_*`.
    #[error("unknown comparison operator `{name}`")]
    UnknownOperator { name: String },
    /// A seccomp filter flag that is not one of `SECCOMP_FILTER_FLAG_*`.
    #[error("unknown seccomp filter flag `{name}`")]
    UnknownFlag { name: String },
    /// A kernel version string that is not `MAJOR.MINOR[.PATCH]`.
    #[error("invalid kernel version `{text}`: expected MAJOR.MINOR such as 5.10")]
    BadKernelVersion { text: String },
    /// The profile failed validation; the problems say where and why.
    #[error("profile is invalid: {count} problem(s), first: {first}")]
    Invalid { count: usize, first: String },
    /// `merge` was given no profile.
    #[error("nothing to merge: no profile given")]
    MergeNothing,
    /// Profiles to merge disagree on the default action.
    #[error(
        "cannot merge profiles with different default actions: the first has {first}, profile {index} has {other}"
    )]
    MergeDefaultAction { index: usize, first: String, other: String },
    /// A `baseProfileName` chain loops.
    #[error("baseProfileName cycle: {chain}")]
    BaseProfileCycle { chain: String },
    /// A `baseProfileName` chain is longer than the limit.
    #[error("baseProfileName chain deeper than {limit}: {chain}")]
    BaseProfileDepth { chain: String, limit: usize },
    /// A `baseProfileName` names no known profile.
    #[error("base profile `{name}` not found (chain: {chain})")]
    BaseProfileMissing { name: String, chain: String },
    /// A base profile's default action differs from the profile's.
    #[error("base profile `{base}` has default action {other}, but the profile has {first}")]
    BaseProfileDefaultAction { base: String, first: String, other: String },
}
