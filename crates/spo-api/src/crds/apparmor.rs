//! `AppArmorProfile`: SPO's abstract allow lists, or a policy written out.

use kube_derive::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use spo_model::apparmor as model;

use super::schema;
use super::status::{ProfileStatus, SpecState};

/// An AppArmor profile, loaded with `apparmor_parser` on every node.
#[derive(CustomResource, Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    crates(kube_core = "::kube_core"),
    group = "security-profiles-operator.x-k8s.io",
    version = "v1",
    kind = "AppArmorProfile",
    shortname = "aa",
    status = "ProfileStatus",
    derive = "PartialEq",
    doc = "An AppArmor profile, loaded on every node under the object's name.",
    printcolumn = r#"{"name":"Status","type":"string","jsonPath":".status.status"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct AppArmorProfileSpec {
    /// Enforce (the default) or Complain.
    #[serde(default)]
    pub mode: AppArmorMode,
    /// Allow lists the profile is generated from.
    #[serde(default, rename = "abstract", skip_serializing_if = "Option::is_none")]
    pub abstract_: Option<AppArmorAbstract>,
    /// spo-rs: a complete profile in AppArmor's language, used instead of
    /// `abstract` when set. Its top-level profile must carry the object's
    /// name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<String>,
    /// spo-rs: namespaces whose pods may use this profile (enforced at pod
    /// admission); every namespace when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "schema::allowed_namespaces")]
    pub allowed_namespaces: Option<Vec<String>>,
    /// `Disabled`: keep the object but load nothing.
    #[serde(default)]
    pub state: SpecState,
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
    /// ptrace between processes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ptrace: Option<AppArmorPtraceRules>,
}

/// Programs the container may run and libraries it may map.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AppArmorExecutableRules {
    /// Executables (paths or globs).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "set"), inner(pattern(schema::APPARMOR_PATH)))]
    pub allowed_executables: Vec<String>,
    /// Shared libraries (paths or globs).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "set"), inner(pattern(schema::APPARMOR_PATH)))]
    pub allowed_libraries: Vec<String>,
}

/// Paths by access.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AppArmorFilesystemRules {
    /// Read only.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "set"), inner(pattern(schema::APPARMOR_PATH)))]
    pub read_only_paths: Vec<String>,
    /// Write only.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "set"), inner(pattern(schema::APPARMOR_PATH)))]
    pub write_only_paths: Vec<String>,
    /// Read and write.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "set"), inner(pattern(schema::APPARMOR_PATH)))]
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
    #[schemars(extend("x-kubernetes-list-type" = "set"), inner(pattern(schema::CAPABILITY)))]
    pub allowed_capabilities: Vec<String>,
}

/// ptrace accesses allowed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AppArmorPtraceRules {
    /// Of `read`, `readby`, `trace`, `tracedby`.
    #[schemars(schema_with = "schema::ptrace_access")]
    pub allowed_access: Vec<String>,
    /// Only with this peer profile.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 256), pattern(r"^(?:[a-zA-Z0-9_./*?-]|@\{profile_name\})+$"))]
    pub peer: Option<String>,
}

/// Whether denials are enforced.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum AppArmorMode {
    /// Deny and log.
    #[default]
    Enforce,
    /// Log only.
    Complain,
}

impl From<AppArmorMode> for model::Mode {
    fn from(m: AppArmorMode) -> Self {
        match m {
            AppArmorMode::Enforce => model::Mode::Enforce,
            AppArmorMode::Complain => model::Mode::Complain,
        }
    }
}

impl From<model::Mode> for AppArmorMode {
    fn from(m: model::Mode) -> Self {
        match m {
            model::Mode::Enforce => AppArmorMode::Enforce,
            model::Mode::Complain => AppArmorMode::Complain,
        }
    }
}

impl From<AppArmorProfileSpec> for model::AppArmorSpec {
    fn from(s: AppArmorProfileSpec) -> Self {
        model::AppArmorSpec {
            mode: Some(s.mode.into()),
            complain_mode: None,
            abstract_: s.abstract_.map(|a| model::Abstract {
                executable: a.executable.map(|e| model::Executable {
                    allowed_executables: e.allowed_executables,
                    allowed_libraries: e.allowed_libraries,
                }),
                filesystem: a.filesystem.map(|f| model::Filesystem {
                    read_only_paths: f.read_only_paths,
                    write_only_paths: f.write_only_paths,
                    read_write_paths: f.read_write_paths,
                }),
                network: a.network.map(|n| model::Network {
                    allow_raw: n.allow_raw.unwrap_or(false),
                    allowed_protocols: n.allowed_protocols.map(|p| model::Protocols {
                        allow_tcp: p.allow_tcp.unwrap_or(false),
                        allow_udp: p.allow_udp.unwrap_or(false),
                    }),
                }),
                capability: a.capability.map(|c| model::Capability { allowed_capabilities: c.allowed_capabilities }),
                ptrace: a.ptrace.map(|t| model::Ptrace { allowed_access: t.allowed_access, peer: t.peer }),
            }),
            policy: s.policy,
            disabled: s.state.is_disabled(),
        }
    }
}

impl From<model::AppArmorSpec> for AppArmorProfileSpec {
    fn from(s: model::AppArmorSpec) -> Self {
        let complain = s.mode == Some(model::Mode::Complain) || s.complain_mode == Some(true);
        AppArmorProfileSpec {
            mode: if complain { AppArmorMode::Complain } else { AppArmorMode::Enforce },
            abstract_: s.abstract_.map(|a| AppArmorAbstract {
                executable: a.executable.map(|e| AppArmorExecutableRules {
                    allowed_executables: e.allowed_executables,
                    allowed_libraries: e.allowed_libraries,
                }),
                filesystem: a.filesystem.map(|f| AppArmorFilesystemRules {
                    read_only_paths: f.read_only_paths,
                    write_only_paths: f.write_only_paths,
                    read_write_paths: f.read_write_paths,
                }),
                network: a.network.map(|n| AppArmorNetworkRules {
                    allow_raw: n.allow_raw.then_some(true),
                    allowed_protocols: n.allowed_protocols.map(|p| AppArmorProtocols {
                        allow_tcp: p.allow_tcp.then_some(true),
                        allow_udp: p.allow_udp.then_some(true),
                    }),
                }),
                capability: a
                    .capability
                    .map(|c| AppArmorCapabilityRules { allowed_capabilities: c.allowed_capabilities }),
                ptrace: a.ptrace.map(|t| AppArmorPtraceRules { allowed_access: t.allowed_access, peer: t.peer }),
            }),
            policy: s.policy,
            state: SpecState::from_disabled(s.disabled),
            allowed_namespaces: None,
        }
    }
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
            "mode": "Complain",
        }))
        .expect("SPO-shaped spec");
        let abs = spec.abstract_.as_ref().expect("abstract");
        assert_eq!(abs.executable.as_ref().unwrap().allowed_executables, ["/usr/bin/nginx"]);
        assert_eq!(abs.network.as_ref().unwrap().allowed_protocols.as_ref().unwrap().allow_tcp, Some(true));
        assert_eq!(spec.mode, AppArmorMode::Complain);
        let back = serde_json::to_value(&spec).expect("json");
        assert_eq!(back["abstract"]["network"]["allowedProtocols"]["allowTcp"], serde_json::json!(true));
    }

    #[test]
    fn spec_converts_to_the_model_and_back() {
        let spec: AppArmorProfileSpec = serde_json::from_value(serde_json::json!({
            "mode": "Complain",
            "abstract": {
                "executable": {"allowedExecutables": ["/bin/sh"], "allowedLibraries": ["/lib/**"]},
                "filesystem": {"readWritePaths": ["/tmp/**"]},
                "network": {"allowRaw": true, "allowedProtocols": {"allowUdp": true}},
                "capability": {"allowedCapabilities": ["chown"]},
                "ptrace": {"allowedAccess": ["read", "trace"], "peer": "@{profile_name}"},
            },
            "state": "Disabled",
        }))
        .expect("spec");
        let model: model::AppArmorSpec = spec.clone().into();
        assert_eq!(model.mode, Some(model::Mode::Complain));
        let net = model.abstract_.as_ref().unwrap().network.as_ref().unwrap();
        assert!(net.allow_raw);
        assert!(net.allowed_protocols.as_ref().unwrap().allow_udp);
        assert!(model.disabled);
        assert_eq!(model.abstract_.as_ref().unwrap().ptrace.as_ref().unwrap().allowed_access, ["read", "trace"]);
        assert_eq!(AppArmorProfileSpec::from(model), spec);
    }
}
