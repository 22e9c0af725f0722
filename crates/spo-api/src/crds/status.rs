//! Status shared by the profile kinds.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Where a profile is in its life, aggregated over the nodes (SPO's values).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum ProfileState {
    /// Accepted, not yet picked up by any node.
    Pending,
    /// Some nodes are installing it.
    InProgress,
    /// Installed on every node.
    Installed,
    /// Being deleted; waits until no workload uses it.
    Terminating,
    /// At least one node failed to install it (the condition says why;
    /// SPO leaves the status empty here).
    Error,
    /// Installed on some nodes only.
    Partial,
    /// `disabled: true`: kept but not installed.
    Disabled,
}

impl ProfileState {
    /// The name written in `.status.status`.
    pub fn as_str(self) -> &'static str {
        match self {
            ProfileState::Pending => "Pending",
            ProfileState::InProgress => "InProgress",
            ProfileState::Installed => "Installed",
            ProfileState::Terminating => "Terminating",
            ProfileState::Error => "Error",
            ProfileState::Partial => "Partial",
            ProfileState::Disabled => "Disabled",
        }
    }
}

/// `spec.state` of every profile kind (SPO's): a `Disabled` profile is kept
/// but installed nowhere.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum SpecState {
    /// Installed on every node (the default).
    #[default]
    Enabled,
    /// Kept, installed nowhere.
    Disabled,
}

impl SpecState {
    /// Whether the profile is `Disabled`.
    pub fn is_disabled(self) -> bool {
        self == SpecState::Disabled
    }

    /// `Disabled` when `disabled`, else `Enabled`.
    pub fn from_disabled(disabled: bool) -> SpecState {
        if disabled {
            SpecState::Disabled
        } else {
            SpecState::Enabled
        }
    }
}

/// Status of a seccomp or AppArmor profile.
///
/// `conditions` is a list map keyed by `type` and `activeWorkloads` a set,
/// so the operator and the node agents can each server-side-apply their
/// own entries without overwriting the others'.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProfileStatus {
    /// Aggregated state over the nodes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<ProfileState>,
    /// Conditions, one per type.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["type"]))]
    pub conditions: Vec<Condition>,
    /// Pods using the profile (`namespace/name`); a profile in use is not
    /// deleted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "set"))]
    pub active_workloads: Vec<String>,
    /// How many pods use the profile (SPO's count beside the list).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "super::schema::workload_count")]
    pub active_workloads_count: Option<i32>,
    /// What to write in a pod's `securityContext.*Profile.localhostProfile`
    /// (`operator/NAME.json` for seccomp, as SPO writes it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub localhost_profile: Option<String>,
    /// Seccomp: the file on every node
    /// (`KUBELET_ROOT/seccomp/operator/NAME.json`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// Seccomp (spo-rs): the immutable version in force on every node,
    /// `operator/NAME/SHA256.json`, once all nodes agree on the content.
    /// Bindings pin new pods to it, so a later edit reaches only pods
    /// created after it (see `docs/operator.md`, versioned rollouts).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pinned_profile: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_merge_by_key_under_server_side_apply() {
        let schema = serde_json::to_value(schemars::schema_for!(ProfileStatus)).expect("schema");
        let props = &schema["properties"];
        assert_eq!(props["conditions"]["x-kubernetes-list-type"], "map");
        assert_eq!(props["conditions"]["x-kubernetes-list-map-keys"], serde_json::json!(["type"]));
        assert_eq!(props["activeWorkloads"]["x-kubernetes-list-type"], "set");
    }
}
