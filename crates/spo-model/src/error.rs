use thiserror::Error;

/// Errors of the model crate: lookups and conversions that can fail.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum ModelError {
    /// An architecture name that is neither an `SCMP_ARCH_*` name nor a
    /// common alias.
    #[error("unknown architecture `{name}`")]
    UnknownArch {
        /// The name as written.
        name: String,
    },
    /// A seccomp action name that is not one of `SCMP_ACT_*`.
    #[error("unknown seccomp action `{name}`")]
    UnknownAction {
        /// The name as written.
        name: String,
    },
    /// An argument comparison operator that is not one of `SCMP_CMP_*`.
    #[error("unknown comparison operator `{name}`")]
    UnknownOperator {
        /// The name as written.
        name: String,
    },
    /// A seccomp filter flag that is not one of `SECCOMP_FILTER_FLAG_*`.
    #[error("unknown seccomp filter flag `{name}`")]
    UnknownFlag {
        /// The name as written.
        name: String,
    },
    /// A kernel version string that is not `MAJOR.MINOR[.PATCH]`.
    #[error("invalid kernel version `{text}`: expected MAJOR.MINOR such as 5.10")]
    BadKernelVersion {
        /// The version as written.
        text: String,
    },
    /// The profile failed validation; the problems say where and why.
    #[error("profile is invalid: {count} problem(s), first: {first}")]
    Invalid {
        /// How many problems were found.
        count: usize,
        /// The first problem, rendered.
        first: String,
    },
    /// `merge` was given no profile.
    #[error("nothing to merge: no profile given")]
    MergeNothing,
    /// Profiles to merge disagree on the default action.
    #[error(
        "cannot merge profiles with different default actions: the first has {first}, profile {index} has {other}"
    )]
    MergeDefaultAction {
        /// The position of the disagreeing profile in the input.
        index: usize,
        /// The first profile's default action.
        first: String,
        /// The disagreeing profile's default action.
        other: String,
    },
    /// A `baseProfileName` chain loops.
    #[error("baseProfileName cycle: {chain}")]
    BaseProfileCycle {
        /// The names on the loop, in order.
        chain: String,
    },
    /// A `baseProfileName` chain is longer than the limit.
    #[error("baseProfileName chain deeper than {limit}: {chain}")]
    BaseProfileDepth {
        /// The names followed, in order.
        chain: String,
        /// The deepest chain allowed.
        limit: usize,
    },
    /// A `baseProfileName` names no known profile.
    #[error("base profile `{name}` not found (chain: {chain})")]
    BaseProfileMissing {
        /// The base profile that was not found.
        name: String,
        /// The names followed to reach it.
        chain: String,
    },
    /// A base profile's default action differs from the profile's.
    #[error("base profile `{base}` has default action {other}, but the profile has {first}")]
    BaseProfileDefaultAction {
        /// The base profile's name.
        base: String,
        /// The profile's default action.
        first: String,
        /// The base profile's default action.
        other: String,
    },
}
