//! Seccomp profiles.
//!
//! [`SeccompSpec`] is the superset of the three formats users write: SPO's
//! `SeccompProfile` custom resource spec, the OCI runtime-spec
//! `linux.seccomp` object, and Docker/Moby/containers-common JSON (with
//! `archMap`, `defaultErrnoRet` and per-rule `includes`/`excludes`).
//! [`resolve`] evaluates it against a [`Target`] (architecture,
//! capabilities, kernel version) into a [`Filter`], the flat rule list a
//! compiler consumes.

mod merge;
pub mod multiplex;
mod names;
pub mod policy;
mod resolve;
mod validate;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub use merge::{diff, merge, resolve_base, ArchDiff, MAX_BASE_DEPTH};
pub use names::{ret, Action, ActionName, FilterFlag, Operator, DEFAULT_ERRNO};
pub use resolve::{
    resolve, restrictiveness, shadows, ArchRule, ArgCmp, Filter, FilterRule, KernelVersion, Target, DOCKER_DEFAULT_CAPS,
};
pub use validate::{validate, validate_partial, validate_with, Unread, ValidateOptions};

use crate::Arch;

/// The API group of SPO's custom resources, which spo-rs keeps.
pub const API_GROUP: &str = "security-profiles-operator.x-k8s.io";

/// `SeccompProfile`, the custom resource.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SeccompProfile {
    /// `security-profiles-operator.x-k8s.io/v1` (SPO's `v1beta1` is
    /// accepted too).
    pub api_version: String,
    /// Always `SeccompProfile`.
    pub kind: String,
    /// Name, namespace, labels, annotations.
    #[serde(default)]
    pub metadata: ObjectMeta,
    /// The profile itself.
    pub spec: SeccompSpec,
}

impl SeccompProfile {
    /// Wrap a spec in a custom resource named `name`.
    pub fn new(name: &str, spec: SeccompSpec) -> Self {
        Self {
            api_version: format!("{API_GROUP}/v1"),
            kind: "SeccompProfile".into(),
            metadata: ObjectMeta { name: Some(name.into()), ..ObjectMeta::default() },
            spec,
        }
    }
}

/// The subset of Kubernetes object metadata a profile file carries.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ObjectMeta {
    /// Object name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Labels.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// Annotations.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

/// A seccomp profile in any of the supported formats.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SeccompSpec {
    /// Action for syscalls no rule matches.
    pub default_action: ActionName,
    /// errno for an `SCMP_ACT_ERRNO` default action (Docker, OCI).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_errno_ret: Option<u32>,
    /// containers-common: the default errno by name (`ENOSYS`); used when
    /// `defaultErrnoRet` is absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_errno: Option<String>,
    /// Architectures the filter accepts.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub architectures: Vec<Arch>,
    /// `SCMP_ARCH_NATIVE` was listed: the target's own architecture is
    /// accepted besides [`SeccompSpec::architectures`]. Not serialised: a
    /// profile written out is resolved for a node and names its
    /// architectures.
    #[serde(skip)]
    pub native_architecture: bool,
    /// Docker's per-native-architecture list of accepted architectures.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub arch_map: Vec<ArchMapEntry>,
    /// seccomp(2) flags.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub flags: Vec<FilterFlag>,
    /// Unix socket of the `SCMP_ACT_NOTIFY` listener.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub listener_path: Option<String>,
    /// Opaque data sent to the listener.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub listener_metadata: Option<String>,
    /// The rules.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub syscalls: Vec<SyscallRule>,
    /// SPO: a profile whose rules this one extends.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_profile_name: Option<String>,
    /// SPO: keep the object but do not install it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disabled: Option<bool>,
}

impl SeccompSpec {
    /// An empty profile with `default_action`.
    pub fn new(default_action: ActionName) -> Self {
        Self {
            default_action,
            default_errno_ret: None,
            default_errno: None,
            architectures: Vec::new(),
            native_architecture: false,
            arch_map: Vec::new(),
            flags: Vec::new(),
            listener_path: None,
            listener_metadata: None,
            syscalls: Vec::new(),
            base_profile_name: None,
            disabled: None,
        }
    }
}

impl SeccompSpec {
    /// The errno of the default action: `defaultErrnoRet`, else the number
    /// of the symbolic `defaultErrno`.
    pub fn effective_default_errno(&self) -> Option<u32> {
        self.default_errno_ret.or_else(|| self.default_errno.as_deref().and_then(crate::errno::errno_number))
    }
}

/// Docker's `archMap` entry: on native `architecture`, also accept the
/// `subArchitectures`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ArchMapEntry {
    /// The native architecture.
    pub architecture: Arch,
    /// Architectures also accepted there.
    #[serde(default)]
    pub sub_architectures: Vec<Arch>,
}

/// One rule: these syscalls get this action when all conditions hold.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SyscallRule {
    /// Syscall names.
    #[serde(default)]
    pub names: Vec<String>,
    /// Old Docker format: a single name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// What happens.
    pub action: ActionName,
    /// errno (for `SCMP_ACT_ERRNO`) or trace data (for `SCMP_ACT_TRACE`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub errno_ret: Option<u32>,
    /// containers-common: the errno by name (`EPERM`); used when `errnoRet`
    /// is absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub errno: Option<String>,
    /// Argument conditions, all of which must hold.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<ArgCondition>,
    /// Free text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// Docker: apply only when all of these hold.
    #[serde(default, skip_serializing_if = "Conditions::is_empty")]
    pub includes: Conditions,
    /// Docker: skip when any of these holds.
    #[serde(default, skip_serializing_if = "Conditions::is_empty")]
    pub excludes: Conditions,
}

impl SyscallRule {
    /// A rule with no conditions.
    pub fn new(names: &[&str], action: ActionName) -> Self {
        Self {
            names: names.iter().map(|s| (*s).to_owned()).collect(),
            name: None,
            action,
            errno_ret: None,
            errno: None,
            args: Vec::new(),
            comment: None,
            includes: Conditions::default(),
            excludes: Conditions::default(),
        }
    }

    /// The errno (or trace data) of this rule: `errnoRet`, else the number
    /// of the symbolic `errno`.
    pub fn effective_errno(&self) -> Option<u32> {
        self.errno_ret.or_else(|| self.errno.as_deref().and_then(crate::errno::errno_number))
    }

    /// `names` plus the old single `name`; an empty `name` is ignored, as
    /// Moby and containers-common ignore it (their files write `"name": ""`
    /// beside `names`).
    pub fn all_names(&self) -> impl Iterator<Item = &str> {
        self.names.iter().map(String::as_str).chain(self.name.as_deref().filter(|n| !n.is_empty()))
    }
}

/// One argument condition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ArgCondition {
    /// Argument index, 0 to 5.
    pub index: u32,
    /// Compared value (the mask for `SCMP_CMP_MASKED_EQ`).
    pub value: u64,
    /// The expected masked value for `SCMP_CMP_MASKED_EQ`.
    #[serde(default)]
    pub value_two: u64,
    /// The operator.
    pub op: Operator,
}

/// Docker's `includes`/`excludes`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Conditions {
    /// Capabilities (`CAP_SYS_ADMIN`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub caps: Vec<String>,
    /// Native architectures (Go names such as `amd64`, or `SCMP_ARCH_*`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub arches: Vec<String>,
    /// Minimum kernel version, `MAJOR.MINOR`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_kernel: Option<String>,
}

impl Conditions {
    /// Whether no condition is set.
    pub fn is_empty(&self) -> bool {
        self.caps.is_empty() && self.arches.is_empty() && self.min_kernel.is_none()
    }
}
