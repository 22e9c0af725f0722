//! `ProfileRecording`: record what selected pods do and write a profile
//! from it.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, LabelSelector};
use kube_derive::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Records the syscalls (or SELinux and AppArmor accesses) of the selected
/// pods and produces one profile per container.
#[derive(CustomResource, Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    crates(kube_core = "::kube_core"),
    group = "security-profiles-operator.x-k8s.io",
    version = "v1",
    kind = "ProfileRecording",
    namespaced,
    shortname = "prec",
    status = "ProfileRecordingStatus",
    derive = "PartialEq",
    doc = "Records the selected pods and writes profiles from what they did.",
    printcolumn = r#"{"name":"Kind","type":"string","jsonPath":".spec.kind"}"#,
    printcolumn = r#"{"name":"Recorder","type":"string","jsonPath":".spec.recorder"}"#,
    printcolumn = r#"{"name":"Ready","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].status"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#,
    printcolumn = r#"{"name":"PodSelector","type":"string","jsonPath":".spec.podSelector","priority":10}"#
)]
#[serde(rename_all = "camelCase")]
pub struct ProfileRecordingSpec {
    /// Kind of profile to produce.
    pub kind: RecordedKind,
    /// How to record.
    pub recorder: Recorder,
    /// Pods to record; empty selects every pod of the namespace.
    pub pod_selector: LabelSelector,
    /// Containers to record; every container when empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "set"), inner(length(max = 63)))]
    pub containers: Vec<String>,
    /// Whether to merge the profiles of a workload's replicas.
    #[serde(default)]
    pub merge_strategy: MergeStrategy,
    /// Create the profiles disabled, for review before they take effect.
    #[serde(default)]
    pub disable_profile_after_recording: bool,
}

/// Kind of profile a recording produces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum RecordedKind {
    /// A `SeccompProfile`.
    SeccompProfile,
    /// A `SelinuxProfile`.
    SelinuxProfile,
    /// An `AppArmorProfile` (SPO spells it `ApparmorProfile`, accepted too).
    #[serde(alias = "ApparmorProfile")]
    AppArmorProfile,
}

/// The recording mechanism (SPO v1 spells `Bpf` and `Logs`; the older
/// `bpf` and `logs` of `v1alpha1` are converted by the operator's
/// conversion webhook).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum Recorder {
    /// eBPF on the node: every syscall, no audit log needed.
    Bpf,
    /// The audit log (seccomp `SCMP_ACT_LOG`, SELinux and AppArmor denials).
    Logs,
}

impl Recorder {
    /// The name in the pod annotation the webhook sets and in
    /// `status.recorded[].recorder` (`bpf`, `logs`).
    pub fn as_str(self) -> &'static str {
        match self {
            Recorder::Bpf => "bpf",
            Recorder::Logs => "logs",
        }
    }

    /// The recorder [`Recorder::as_str`] names, if any.
    pub fn from_name(name: &str) -> Option<Recorder> {
        [Recorder::Bpf, Recorder::Logs].into_iter().find(|r| r.as_str() == name)
    }
}

/// How recorded profiles are merged (`None`, `Containers`; `v1alpha1`'s
/// lowercase names are converted).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum MergeStrategy {
    /// One profile per recorded container instance.
    #[default]
    None,
    /// One profile per container name, the union over replicas.
    Containers,
}

/// Status of a recording.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProfileRecordingStatus {
    /// Pods being recorded.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "set"))]
    pub active_workloads: Vec<String>,
    /// Conditions, one per type.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["type"]))]
    pub conditions: Vec<Condition>,
    /// What each recorded container did, written by the agent of its node
    /// when the container ended; the operator turns these into profiles.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["pod", "container"]))]
    pub recorded: Vec<RecordedContainer>,
}

/// One recorded container instance.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RecordedContainer {
    /// The pod's name.
    pub pod: String,
    /// The container's name.
    pub container: String,
    /// The node it ran on.
    pub node: String,
    /// The recorder used (`bpf`, `logs`).
    pub recorder: String,
    /// Syscalls seen, per architecture, the container runtime's own
    /// (`runc` after the filter is loaded) included.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "atomic"))]
    pub syscalls: Vec<RecordedSyscalls>,
    /// Why nothing could be recorded, when the node could not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The syscalls of one architecture.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RecordedSyscalls {
    /// `SCMP_ARCH_X86_64`, ...
    pub architecture: String,
    /// Sorted syscall names.
    #[schemars(extend("x-kubernetes-list-type" = "atomic"))]
    pub names: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spo_recording_deserialises_with_spo_spelling() {
        let spec: ProfileRecordingSpec = serde_json::from_value(serde_json::json!({
            "kind": "ApparmorProfile",
            "recorder": "Bpf",
            "podSelector": {"matchLabels": {"app": "nginx"}},
        }))
        .expect("SPO recording");
        assert_eq!(spec.kind, RecordedKind::AppArmorProfile);
        assert_eq!(spec.merge_strategy, MergeStrategy::None);
        assert_eq!(spec.pod_selector.match_labels.as_ref().unwrap()["app"], "nginx");
        assert_eq!(serde_json::to_value(spec.recorder).unwrap(), "Bpf");
        assert!(serde_json::from_value::<Recorder>(serde_json::json!("bpf")).is_err(), "v1 has no lowercase names");
        for r in [Recorder::Bpf, Recorder::Logs] {
            assert_eq!(Recorder::from_name(r.as_str()), Some(r));
        }
        assert_eq!(Recorder::from_name("ebpf"), None);
    }
}
