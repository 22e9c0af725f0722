//! `AppArmorProfile`: SPO's abstract allow lists, or a policy written out.

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::status::ProfileStatus;

/// An AppArmor profile, loaded with `apparmor_parser` on every node.
#[derive(CustomResource, Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "security-profiles-operator.x-k8s.io",
    version = "v1",
    kind = "AppArmorProfile",
    namespaced,
    shortname = "aa",
    status = "ProfileStatus",
    derive = "PartialEq",
    doc = "An AppArmor profile for the containers of this namespace.",
    printcolumn = r#"{"name":"Status","type":"string","jsonPath":".status.status"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct AppArmorProfileSpec {
    /// Allow lists the profile is generated from.
    #[serde(default, rename = "abstract", skip_serializing_if = "Option::is_none")]
    pub abstract_: Option<AppArmorAbstract>,
    /// A complete profile in AppArmor's language (SPO's first format);
    /// used instead of `abstract` when set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<String>,
    /// Log violations instead of denying them.
    #[serde(default)]
    pub complain_mode: bool,
    /// Keep the object but install nothing.
    #[serde(default)]
    pub disabled: bool,
}

/// The allow lists.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AppArmorAbstract {
    /// Programs and libraries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub executable: Option<AppArmorExecutableRules>,
    /// Files and directories.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filesystem: Option<AppArmorFilesystemRules>,
    /// Sockets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network: Option<AppArmorNetworkRules>,
    /// Linux capabilities.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capability: Option<AppArmorCapabilityRules>,
}

/// Programs the container may run and libraries it may map.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AppArmorExecutableRules {
    /// Executables (paths or globs).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allowed_executables: Vec<String>,
    /// Shared libraries (paths or globs).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allowed_libraries: Vec<String>,
}

/// Paths by access.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AppArmorFilesystemRules {
    /// Read only.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub read_only_paths: Vec<String>,
    /// Write only.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub write_only_paths: Vec<String>,
    /// Read and write.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub read_write_paths: Vec<String>,
}

/// Network access.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AppArmorNetworkRules {
    /// Raw sockets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_raw: Option<bool>,
    /// TCP and UDP.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed_protocols: Option<AppArmorProtocols>,
}

/// Protocols allowed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct AppArmorProtocols {
    /// TCP sockets.
    #[serde(default, rename = "allowTcp", skip_serializing_if = "Option::is_none")]
    pub allow_tcp: Option<bool>,
    /// UDP sockets.
    #[serde(default, rename = "allowUdp", skip_serializing_if = "Option::is_none")]
    pub allow_udp: Option<bool>,
}

/// Capabilities allowed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AppArmorCapabilityRules {
    /// Capability names without the `CAP_` prefix, lower case (`net_bind_service`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allowed_capabilities: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spo_abstract_profile_deserialises() {
        let spec: AppArmorProfileSpec = serde_json::from_value(serde_json::json!({
            "abstract": {
                "executable": {"allowedExecutables": ["/usr/bin/nginx"]},
                "filesystem": {"readOnlyPaths": ["/etc/nginx/**"]},
                "network": {"allowedProtocols": {"allowTcp": true}},
                "capability": {"allowedCapabilities": ["net_bind_service"]},
            },
            "complainMode": true,
        }))
        .expect("SPO-shaped spec");
        let abs = spec.abstract_.as_ref().expect("abstract");
        assert_eq!(
            abs.executable.as_ref().unwrap().allowed_executables,
            ["/usr/bin/nginx"]
        );
        assert_eq!(
            abs.network
                .as_ref()
                .unwrap()
                .allowed_protocols
                .as_ref()
                .unwrap()
                .allow_tcp,
            Some(true)
        );
        assert!(spec.complain_mode);
        let back = serde_json::to_value(&spec).expect("json");
        assert_eq!(
            back["abstract"]["network"]["allowedProtocols"]["allowTcp"],
            true
        );
    }
}
