//! `SelinuxProfile` (SPO's structured form: inherit a base policy, add
//! allow rules) and `RawSelinuxProfile` (a CIL module verbatim).

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::status::ProfileState;

/// An SELinux policy built from a base policy plus allow rules, installed
/// with `semodule` on every node.
#[derive(CustomResource, Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "security-profiles-operator.x-k8s.io",
    version = "v1",
    kind = "SelinuxProfile",
    namespaced,
    status = "SelinuxProfileStatus",
    derive = "PartialEq",
    doc = "An SELinux policy module for the containers of this namespace.",
    printcolumn = r#"{"name":"Usage","type":"string","jsonPath":".status.usage"}"#,
    printcolumn = r#"{"name":"Status","type":"string","jsonPath":".status.status"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct SelinuxProfileSpec {
    /// Policies this one builds on; the system `container` policy when
    /// empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub inherit: Vec<PolicyRef>,
    /// Allow rules: source type label (`@self` for this policy's own
    /// type) to object class to permissions.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub allow: BTreeMap<String, BTreeMap<String, Vec<String>>>,
    /// Enforcing (the default) or Permissive.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<SelinuxMode>,
    /// SPO's older switch for Permissive mode.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub permissive: Option<bool>,
    /// Keep the object but install nothing.
    #[serde(default)]
    pub disabled: bool,
}

/// A policy to inherit from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PolicyRef {
    /// System (installed on the node) or SelinuxProfile (in this namespace).
    #[serde(default)]
    pub kind: InheritKind,
    /// Name of the policy.
    #[schemars(length(min = 1))]
    pub name: String,
}

/// Where an inherited policy comes from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum InheritKind {
    /// A policy already installed on the node (`container`, `net_container`).
    #[default]
    System,
    /// Another `SelinuxProfile`.
    SelinuxProfile,
}

/// Enforcement mode of an SELinux policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum SelinuxMode {
    /// Deny and log violations.
    Enforcing,
    /// Log violations, deny nothing.
    Permissive,
}

/// Status of an SELinux profile.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SelinuxProfileStatus {
    /// Aggregated state over the nodes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<ProfileState>,
    /// Conditions, one per type.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    /// Pods using the profile.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub active_workloads: Vec<String>,
    /// The type to write in a pod's `seLinuxOptions.type`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<String>,
}

/// An SELinux policy module given as CIL text.
#[derive(CustomResource, Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "security-profiles-operator.x-k8s.io",
    version = "v1",
    kind = "RawSelinuxProfile",
    namespaced,
    status = "SelinuxProfileStatus",
    derive = "PartialEq",
    doc = "An SELinux policy module in CIL, installed as written.",
    printcolumn = r#"{"name":"Usage","type":"string","jsonPath":".status.usage"}"#,
    printcolumn = r#"{"name":"Status","type":"string","jsonPath":".status.status"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct RawSelinuxProfileSpec {
    /// The CIL module.
    #[schemars(length(min = 1, max = 500000))]
    pub policy: String,
    /// Keep the object but install nothing.
    #[serde(default)]
    pub disabled: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spo_shaped_spec_deserialises_with_defaults() {
        let spec: SelinuxProfileSpec = serde_json::from_value(serde_json::json!({
            "inherit": [{"name": "container"}],
            "allow": {"var_log_t": {"dir": ["open", "read"], "file": ["getattr"]}},
        }))
        .expect("SPO-shaped spec");
        assert_eq!(spec.inherit[0].kind, InheritKind::System);
        assert_eq!(spec.allow["var_log_t"]["dir"], ["open", "read"]);
        assert_eq!(spec.mode, None);
        let back = serde_json::to_value(&spec).expect("json");
        assert_eq!(back["inherit"][0]["kind"], "System");
        assert!(back.get("mode").is_none());
    }

    #[test]
    fn unknown_mode_is_rejected() {
        let res =
            serde_json::from_value::<SelinuxProfileSpec>(serde_json::json!({"mode": "Audit"}));
        assert!(res.is_err());
    }
}
