//! What the agent reports: the status of every profile, the verification
//! of running processes, and the enricher's counters.
//!
//! These types are the JSON of `GET /status` and are read back by
//! `spoc status`, so they are plain serde data with SPO's status names.
//! Unlike SPO, a failed install is never left without status: it is
//! `Error` with the file, line and message, and the version still in
//! force (if any) is reported beside it.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// The profile kinds the agent knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum ProfileKind {
    /// `SeccompProfile` (or a bare OCI/Docker seccomp JSON file).
    SeccompProfile,
    /// `SelinuxProfile`.
    SelinuxProfile,
    /// `RawSelinuxProfile`.
    RawSelinuxProfile,
    /// `AppArmorProfile`.
    AppArmorProfile,
}

impl ProfileKind {
    /// Every kind.
    pub const ALL: [ProfileKind; 4] = [
        ProfileKind::SeccompProfile,
        ProfileKind::SelinuxProfile,
        ProfileKind::RawSelinuxProfile,
        ProfileKind::AppArmorProfile,
    ];

    /// The resource kind as written in manifests.
    pub fn as_str(self) -> &'static str {
        match self {
            ProfileKind::SeccompProfile => "SeccompProfile",
            ProfileKind::SelinuxProfile => "SelinuxProfile",
            ProfileKind::RawSelinuxProfile => "RawSelinuxProfile",
            ProfileKind::AppArmorProfile => "AppArmorProfile",
        }
    }

    /// The kind for a manifest's `kind` field.
    pub fn from_kind(kind: &str) -> Option<ProfileKind> {
        ProfileKind::ALL.into_iter().find(|k| k.as_str() == kind)
    }

    /// The metric family stem SPO uses (`seccomp`, `selinux`, `apparmor`).
    pub fn metric_stem(self) -> &'static str {
        match self {
            ProfileKind::SeccompProfile => "seccomp",
            ProfileKind::SelinuxProfile | ProfileKind::RawSelinuxProfile => "selinux",
            ProfileKind::AppArmorProfile => "apparmor",
        }
    }
}

/// SPO's profile states.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Phase {
    /// Known but not yet installed (waiting for a base profile, an
    /// installer, or the manifest to settle).
    Pending,
    /// Being compiled and written.
    InProgress,
    /// In force.
    Installed,
    /// Invalid or failed to install; see the errors.
    Error,
    /// Deleted from the manifests; removed once nothing uses it.
    Terminating,
    /// `spec.disabled: true` or `spec.state: Disabled`: kept, not installed.
    Disabled,
    /// Valid and compiled, but this node's kernel cannot enforce it (an
    /// AppArmor profile on a kernel without AppArmor): nothing confines a
    /// workload that asks for it. Not an SPO state; the message says why.
    Unsupported,
}

impl Phase {
    /// Every phase, for gauges that must show zeros.
    pub const ALL: [Phase; 7] = [
        Phase::Pending,
        Phase::InProgress,
        Phase::Installed,
        Phase::Error,
        Phase::Terminating,
        Phase::Disabled,
        Phase::Unsupported,
    ];

    /// The name SPO uses.
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Pending => "Pending",
            Phase::InProgress => "InProgress",
            Phase::Installed => "Installed",
            Phase::Error => "Error",
            Phase::Terminating => "Terminating",
            Phase::Disabled => "Disabled",
            Phase::Unsupported => "Unsupported",
        }
    }
}

/// Enforce or complain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Block what the profile forbids.
    #[default]
    Enforce,
    /// Allow everything, log what would have been blocked (seccomp
    /// `SCMP_ACT_LOG`, AppArmor complain, SELinux permissive).
    Complain,
}

/// A place in a manifest file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Location {
    /// The manifest file.
    pub file: PathBuf,
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
}

/// One located problem.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProblemReport {
    /// Where, when the problem is in a manifest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<Location>,
    /// What is wrong.
    pub message: String,
    /// How to fix it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub help: Option<String>,
}

/// The status of one profile.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProfileStatus {
    /// Resource kind.
    pub kind: ProfileKind,
    /// `metadata.name` (or the file stem of a bare JSON profile).
    pub name: String,
    /// The state.
    pub status: Phase,
    /// Enforce or complain.
    pub mode: Mode,
    /// Where the manifest is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<Location>,
    /// SHA-256 of the version in force, if any (also while in `Error`: the
    /// previous good version stays installed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// The file consumers reference (for seccomp, relative to the
    /// kubelet's seccomp root it is `operator/NAME.json`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<PathBuf>,
    /// The reference a pod uses (`localhostProfile`), for seccomp.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub localhost_profile: Option<String>,
    /// Problems, for `Error` (and warnings otherwise).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<ProblemReport>,
    /// A short human explanation of the state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Running processes that use this profile.
    #[serde(default)]
    pub in_use_by: usize,
    /// Unix time of the last state change.
    pub updated: u64,
}

/// Pod coordinates of a container.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct PodRef {
    /// Namespace.
    pub namespace: String,
    /// Pod name.
    pub pod: String,
    /// Container name.
    pub container: String,
}

/// What one process was supposed to get and what it has.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProcessCheck {
    /// Process id.
    pub pid: u32,
    /// Command name.
    pub comm: String,
    /// Container id, when the process runs in a container.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container_id: Option<String>,
    /// Pod coordinates, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod: Option<PodRef>,
    /// The seccomp profile the process was started with, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
    /// Its version, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile_version: Option<String>,
    /// `Seccomp:` of `/proc/PID/status` (0 off, 1 strict, 2 filter).
    pub seccomp_mode: u8,
    /// `Seccomp_filters:`.
    pub seccomp_filters: u32,
    /// `/proc/PID/attr/current`, when SELinux labels processes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selinux_label: Option<String>,
    /// The type of that label (`web_ns.process`, `spc_t`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selinux_type: Option<String>,
    /// `/proc/PID/attr/apparmor/current`, when AppArmor is active.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub apparmor_label: Option<String>,
    /// Whether everything it was supposed to get is in force.
    pub ok: bool,
    /// What does not match.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub problems: Vec<String>,
}

/// The enricher's view of the audit stream.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EnricherStatus {
    /// Where records come from (`netlink`, `auditd-log`, `kmsg`, `none`).
    pub source: String,
    /// Audit records read.
    pub records: u64,
    /// SECCOMP events emitted.
    pub events: u64,
    /// Records the socket reported lost (receive buffer overruns).
    pub lost: u64,
    /// Why there is no source, when there is none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The whole of `GET /status`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeStatus {
    /// Node name.
    pub node: String,
    /// Whether the first scan of the manifests is done.
    pub ready: bool,
    /// The manifests directory.
    pub manifests: PathBuf,
    /// Every profile, by kind and name.
    pub profiles: Vec<ProfileStatus>,
    /// Problems of manifest files that name no profile (syntax errors,
    /// unknown kinds).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub file_errors: Vec<ProblemReport>,
    /// Verified processes.
    pub processes: Vec<ProcessCheck>,
    /// Audit enrichment.
    pub enricher: EnricherStatus,
}

/// One would-be (complain) or actual (enforce) violation, as the enricher
/// emits it: one JSON line per event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditEvent {
    /// Unix time in milliseconds, from the audit record.
    pub time_ms: u64,
    /// Audit serial number.
    pub serial: u64,
    /// Node name.
    pub node: String,
    /// Process id.
    pub pid: u32,
    /// Command name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comm: Option<String>,
    /// Executable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub executable: Option<String>,
    /// Syscall name (or number when the architecture is unknown).
    pub syscall: String,
    /// Syscall number.
    pub syscall_nr: u32,
    /// Architecture name.
    pub arch: String,
    /// The filter's action (`SCMP_ACT_LOG` in complain mode).
    pub action: String,
    /// Container id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container_id: Option<String>,
    /// Pod coordinates.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod: Option<PodRef>,
    /// The profile the process runs under, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
    /// For an AppArmor or SELinux record: what was accessed (the syscall
    /// fields are then empty: these records do not carry one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lsm: Option<LsmAccess>,
}

/// What an AppArmor or SELinux record was about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LsmAccess {
    /// `apparmor` or `selinux`.
    pub module: String,
    /// AppArmor's hook (`open`, `capable`, `create`, `exec`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operation: Option<String>,
    /// The AppArmor profile or SELinux source type the process ran under.
    pub subject: String,
    /// What was accessed: a path, `capability NAME`, `network FAMILY
    /// TYPE` (AppArmor), or the target type (SELinux).
    pub target: String,
    /// The SELinux object class (`file`, `tcp_socket`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub class: Option<String>,
    /// SELinux permissions, or AppArmor's `r`/`w`/`x`/`m`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub permissions: Vec<String>,
    /// The object's name or path, when the SELinux record gives one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Allowed and only logged: AppArmor complain mode, SELinux
    /// permissive mode or a permissive type.
    #[serde(default)]
    pub permissive: bool,
}
