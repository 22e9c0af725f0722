//! `SecurityProfileNodeStatus`: one object per profile and node, written
//! by that node's agent; the operator aggregates them into the profile's
//! status.
//!
//! SPO keeps `nodeName` and `status` at the top level of the object; here
//! they sit in `spec` and `status` like every other kind, so the node agent
//! writes its state through the status subresource and RBAC can let it
//! write nothing else. The spec is immutable (a CEL rule the API server
//! enforces): an object always names the same profile on the same node.

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::status::ProfileState;

/// The state of one profile on one node.
#[derive(CustomResource, Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "security-profiles-operator.x-k8s.io",
    version = "v1",
    kind = "SecurityProfileNodeStatus",
    plural = "securityprofilenodestatuses",
    namespaced,
    shortname = "spns",
    status = "SecurityProfileNodeStatusStatus",
    derive = "PartialEq",
    doc = "The state of one security profile on one node.",
    validation = Rule::new("self.spec == oldSelf.spec").message("spec is immutable: the object names one profile on one node"),
    printcolumn = r#"{"name":"Status","type":"string","jsonPath":".status.status"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#,
    printcolumn = r#"{"name":"Node","type":"string","jsonPath":".spec.nodeName","priority":10}"#
)]
#[serde(rename_all = "camelCase")]
pub struct SecurityProfileNodeStatusSpec {
    /// The node.
    #[schemars(length(min = 1))]
    pub node_name: String,
    /// Kind of the profile (`SeccompProfile`, ...).
    #[schemars(length(min = 1))]
    pub profile_kind: String,
    /// Name of the profile, in this object's namespace.
    #[schemars(length(min = 1))]
    pub profile_name: String,
}

/// What the node reports.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SecurityProfileNodeStatusStatus {
    /// The profile's state on this node.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<ProfileState>,
    /// Why it is in that state (the installer's error for `Error`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Digest of the installed content, to tell a stale install from a
    /// current one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_digest: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use kube::CustomResourceExt;

    #[test]
    fn spec_is_immutable_by_a_cel_rule() {
        let crd = serde_json::to_value(SecurityProfileNodeStatus::crd()).expect("crd json");
        let rules = &crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["x-kubernetes-validations"];
        assert_eq!(rules[0]["rule"], "self.spec == oldSelf.spec");
    }
}
