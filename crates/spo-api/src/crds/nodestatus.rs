//! `SecurityProfileNodeStatus`: one object per profile and node, written
//! by that node's agent; the operator aggregates them into the profile's
//! status.
//!
//! SPO keeps `nodeName` and `status` at the top level of the object; here
//! they sit in `spec` and `status` like every other kind. `status` is not a
//! subresource (see `without_status_subresource` in the parent module):
//! the node agent is the only writer and creates each object with its state
//! in one request, which halves its writes when a thousand profiles
//! arrive at once. The spec is immutable (a CEL rule the API server
//! enforces): an object always names the same profile on the same node.

use kube_derive::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::status::ProfileState;

/// The state of one profile on one node.
#[derive(CustomResource, Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    crates(kube_core = "::kube_core"),
    group = "security-profiles-operator.x-k8s.io",
    version = "v1",
    kind = "SecurityProfileNodeStatus",
    plural = "securityprofilenodestatuses",
    shortname = "spns",
    status = "SecurityProfileNodeStatusStatus",
    derive = "PartialEq",
    doc = "The state of one security profile on one node.",
    printcolumn = r#"{"name":"Status","type":"string","jsonPath":".status.status"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#,
    printcolumn = r#"{"name":"Node","type":"string","jsonPath":".spec.nodeName","priority":10}"#
)]
#[serde(rename_all = "camelCase")]
pub struct SecurityProfileNodeStatusSpec {
    /// The node.
    #[schemars(length(min = 1, max = 253))]
    pub node_name: String,
    /// Kind of the profile (`SeccompProfile`, ...).
    #[schemars(length(min = 1))]
    pub profile_kind: String,
    /// Name of the profile.
    #[schemars(length(min = 1))]
    pub profile_name: String,
}

/// What the node reports.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SecurityProfileNodeStatusStatus {
    /// The profile's state on this node.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "super::schema::node_state")]
    pub status: Option<ProfileState>,
    /// Why it is in that state (the installer's error for `Error`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 4096))]
    pub message: Option<String>,
    /// Digest of the installed content, to tell a stale install from a
    /// current one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_digest: Option<String>,
}

/// The name of the node status of profile `name` of `kind` on `node`:
/// `KINDLOWER-NAME-NODE` (`seccompprofile-web-node1`), in the profile's
/// namespace. Profile and node names are DNS subdomains of up to 253
/// characters each, so a name that would be longer keeps its first
/// characters and ends in `-` and 16 hexadecimal digits of a hash of the
/// whole, which keeps it a valid, stable and (in practice) unique name.
pub fn node_status_name(kind: &str, name: &str, node: &str) -> String {
    const MAX: usize = 253;
    let full = format!("{}-{name}-{node}", kind.to_ascii_lowercase());
    if full.len() <= MAX {
        return full;
    }
    // FNV-1a, 64 bits: no cryptographic strength needed, only spread.
    let hash = full.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3));
    let suffix = format!("-{hash:016x}");
    let mut cut = MAX - suffix.len();
    while !full.is_char_boundary(cut) {
        cut -= 1;
    }
    // A DNS subdomain's labels end in a letter or digit.
    let prefix = full[..cut].trim_end_matches(['-', '.']);
    format!("{prefix}{suffix}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_status_names_are_kind_name_node_and_fit_253_characters() {
        assert_eq!(node_status_name("SeccompProfile", "web", "node-1"), "seccompprofile-web-node-1");
        let long = format!("{}.{}", "a".repeat(200), "b".repeat(40));
        let n = node_status_name("SelinuxProfile", &long, "worker-17.example.com");
        assert_eq!(n.len(), 253, "{n}");
        assert!(n.starts_with("selinuxprofile-aaaa"), "{n}");
        assert_ne!(n, node_status_name("SelinuxProfile", &long, "worker-18.example.com"));
        assert_eq!(n, node_status_name("SelinuxProfile", &long, "worker-17.example.com"));
        // A cut right after a dot or dash must not leave it at the end.
        let dotted = format!("{}.{}", "a".repeat(220), "b".repeat(20));
        let n = node_status_name("SeccompProfile", &dotted, "n");
        assert!(!n.contains(".-") && !n.contains("--"), "{n}");
        assert!(spo_model::objname::check_object_name(&n).is_ok(), "{n}");
    }

    #[test]
    fn spec_is_immutable_by_a_cel_rule() {
        let crd =
            crate::all_crds().into_iter().find(|c| c.spec.names.kind == "SecurityProfileNodeStatus").expect("crd");
        let crd = serde_json::to_value(crd).expect("crd json");
        let rules = &crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["x-kubernetes-validations"];
        assert_eq!(rules[0]["rule"], "self.spec == oldSelf.spec");
    }
}
