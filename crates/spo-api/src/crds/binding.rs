//! `ProfileBinding`: give every container running an image a profile,
//! without editing the workload.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, LabelSelector};
use kube_derive::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Binds a profile to the containers of this namespace that run an image.
#[derive(CustomResource, Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    crates(kube_core = "::kube_core"),
    group = "security-profiles-operator.x-k8s.io",
    version = "v1",
    kind = "ProfileBinding",
    namespaced,
    shortname = "pb",
    status = "ProfileBindingStatus",
    derive = "PartialEq",
    doc = "Binds a profile to the containers of this namespace that run an image.",
    printcolumn = r#"{"name":"Kind","type":"string","jsonPath":".spec.profileRef.kind"}"#,
    printcolumn = r#"{"name":"Profile","type":"string","jsonPath":".spec.profileRef.name"}"#,
    printcolumn = r#"{"name":"Image","type":"string","jsonPath":".spec.image"}"#,
    printcolumn = r#"{"name":"Ready","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].status"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct ProfileBindingSpec {
    /// The profile to apply.
    pub profile_ref: ProfileRef,
    /// Image reference to match: `*` matches every image, and `*` inside a
    /// pattern matches any run of characters, `/` and `:` included
    /// (`*/nginx:*`, `registry.example/team/*`); anything else must equal
    /// the container's image as written in the pod.
    #[schemars(length(min = 1))]
    pub image: String,
    /// Only pods whose labels match; every pod of the namespace when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod_selector: Option<LabelSelector>,
}

/// The profile a binding applies.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ProfileRef {
    /// Kind of the profile.
    pub kind: BoundKind,
    /// Name of the profile (profiles are cluster-wide; one restricted by
    /// `spec.allowedNamespaces` must allow the binding's namespace).
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
}

/// Profile kinds a binding can apply (SPO binds the first two).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum BoundKind {
    /// A `SeccompProfile`.
    SeccompProfile,
    /// A `SelinuxProfile`.
    SelinuxProfile,
    /// An `AppArmorProfile`.
    AppArmorProfile,
}

/// Status of a binding.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProfileBindingStatus {
    /// Pods the binding applied to.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "set"))]
    pub active_workloads: Vec<String>,
    /// Conditions, one per type (`Ready`: the bound profile exists).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["type"]))]
    pub conditions: Vec<Condition>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spo_binding_deserialises_and_unknown_kind_fails() {
        let spec: ProfileBindingSpec = serde_json::from_value(serde_json::json!({
            "profileRef": {"kind": "SeccompProfile", "name": "profile-allow-unsafe"},
            "image": "nginx:1.19.1",
        }))
        .expect("SPO binding");
        assert_eq!(spec.profile_ref.kind, BoundKind::SeccompProfile);
        assert_eq!(spec.pod_selector, None);
        let selected: ProfileBindingSpec = serde_json::from_value(serde_json::json!({
            "profileRef": {"kind": "AppArmorProfile", "name": "web"},
            "image": "*/nginx:*",
            "podSelector": {"matchLabels": {"app": "web"}},
        }))
        .expect("binding with a pod selector");
        let labels = selected.pod_selector.and_then(|s| s.match_labels).expect("matchLabels");
        assert_eq!(labels["app"], "web");
        let bad = serde_json::from_value::<ProfileBindingSpec>(serde_json::json!({
            "profileRef": {"kind": "Pod", "name": "x"}, "image": "nginx",
        }));
        assert!(bad.is_err());
    }
}
