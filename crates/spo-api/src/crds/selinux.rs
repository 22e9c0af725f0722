//! `SelinuxProfile` (SPO's structured form: inherit a base policy, add
//! allow rules) and `RawSelinuxProfile` (a CIL module verbatim).

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube_derive::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use spo_model::selinux as model;

use super::schema;
use super::status::{ProfileState, SpecState};
use crate::ApiError;

/// An SELinux policy built from a base policy plus allow rules, installed
/// with `semodule` on every node as the CIL block `NAME`.
#[derive(CustomResource, Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    crates(kube_core = "::kube_core"),
    group = "security-profiles-operator.x-k8s.io",
    version = "v1",
    kind = "SelinuxProfile",
    shortname = "selp",
    status = "SelinuxProfileStatus",
    derive = "PartialEq",
    doc = "An SELinux policy module; pods use it as the type NAME.process.",
    printcolumn = r#"{"name":"Usage","type":"string","jsonPath":".status.usage"}"#,
    printcolumn = r#"{"name":"Status","type":"string","jsonPath":".status.status"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct SelinuxProfileSpec {
    /// Policies this one builds on; the system `container` policy by
    /// default (SPO's).
    #[serde(default = "default_inherit")]
    #[schemars(extend("x-kubernetes-list-type" = "atomic"))]
    pub inherit: Vec<PolicyRef>,
    /// Allow rules: source type label (`@self` for this policy's own
    /// type) to object class to permissions.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[schemars(schema_with = "schema::selinux_allow")]
    pub allow: BTreeMap<String, BTreeMap<String, Vec<String>>>,
    /// Enforcing (the default) or Permissive.
    #[serde(default)]
    pub mode: SelinuxMode,
    /// spo-rs: namespaces whose pods may use this profile (enforced at pod
    /// admission); every namespace when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "schema::allowed_namespaces")]
    pub allowed_namespaces: Option<Vec<String>>,
    /// `Disabled`: keep the object but install nothing.
    #[serde(default)]
    pub state: SpecState,
}

/// SPO's default base: the system `container` template.
pub fn default_inherit() -> Vec<PolicyRef> {
    vec![PolicyRef { kind: InheritKind::System, name: "container".into() }]
}

/// A policy to inherit from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PolicyRef {
    /// System (installed on the node) or SelinuxProfile (in this namespace).
    #[serde(default)]
    pub kind: InheritKind,
    /// Name of the policy.
    #[schemars(length(min = 1), pattern(r"^[-a-zA-Z0-9._]+$"))]
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
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum SelinuxMode {
    /// Deny and log violations.
    #[default]
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
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["type"]))]
    pub conditions: Vec<Condition>,
    /// Pods using the profile.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "set"))]
    pub active_workloads: Vec<String>,
    /// How many pods use the profile.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "schema::workload_count")]
    pub active_workloads_count: Option<i32>,
    /// The type to write in a pod's `seLinuxOptions.type`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<String>,
}

/// An SELinux policy module given as CIL text.
#[derive(CustomResource, Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    crates(kube_core = "::kube_core"),
    group = "security-profiles-operator.x-k8s.io",
    version = "v1",
    kind = "RawSelinuxProfile",
    shortname = "rselp",
    status = "SelinuxProfileStatus",
    derive = "PartialEq",
    doc = "An SELinux policy module in CIL, installed as written.",
    printcolumn = r#"{"name":"Usage","type":"string","jsonPath":".status.usage"}"#,
    printcolumn = r#"{"name":"Status","type":"string","jsonPath":".status.status"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct RawSelinuxProfileSpec {
    /// The CIL module (required in practice: a profile without it is
    /// refused at admission and on the node).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 500000))]
    pub policy: Option<String>,
    /// spo-rs: namespaces whose pods may use this profile (enforced at pod
    /// admission); every namespace when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "schema::allowed_namespaces")]
    pub allowed_namespaces: Option<Vec<String>>,
    /// `Disabled`: keep the object but install nothing.
    #[serde(default)]
    pub state: SpecState,
}

impl InheritKind {
    /// The name written in `inherit[].kind`.
    pub fn as_str(self) -> &'static str {
        match self {
            InheritKind::System => "System",
            InheritKind::SelinuxProfile => "SelinuxProfile",
        }
    }
}

impl SelinuxMode {
    /// The name written in `mode`.
    pub fn as_str(self) -> &'static str {
        match self {
            SelinuxMode::Enforcing => "Enforcing",
            SelinuxMode::Permissive => "Permissive",
        }
    }
}

impl From<SelinuxProfileSpec> for model::SelinuxProfileSpec {
    fn from(s: SelinuxProfileSpec) -> Self {
        model::SelinuxProfileSpec {
            inherit: s
                .inherit
                .into_iter()
                .map(|r| model::PolicyRef { kind: r.kind.as_str().to_owned(), name: r.name })
                .collect(),
            mode: Some(s.mode.as_str().to_owned()),
            permissive: None,
            allow: s.allow,
            disabled: s.state.is_disabled().then_some(true),
        }
    }
}

/// A model profile as a custom resource spec: the model keeps `mode` and
/// `inherit[].kind` as free text (so it can report a misspelling with its
/// location); the resource accepts only the known names. An empty
/// `inherit` is SPO's default, the `container` template.
impl TryFrom<model::SelinuxProfileSpec> for SelinuxProfileSpec {
    type Error = ApiError;

    fn try_from(s: model::SelinuxProfileSpec) -> Result<Self, ApiError> {
        let refuse =
            |field: String| ApiError::NotExpressible { kind: "SelinuxProfile", field, reason: "not a known value" };
        let mode = match s.mode.as_deref() {
            None if s.permissive == Some(true) => SelinuxMode::Permissive,
            None | Some("Enforcing") => SelinuxMode::Enforcing,
            Some("Permissive") => SelinuxMode::Permissive,
            Some(_) => return Err(refuse("mode".into())),
        };
        let mut inherit = Vec::with_capacity(s.inherit.len());
        for (i, r) in s.inherit.into_iter().enumerate() {
            let kind = match r.kind.as_str() {
                "System" => InheritKind::System,
                "SelinuxProfile" => InheritKind::SelinuxProfile,
                _ => return Err(refuse(format!("inherit[{i}].kind"))),
            };
            inherit.push(PolicyRef { kind, name: r.name });
        }
        if inherit.is_empty() {
            inherit = default_inherit();
        }
        Ok(SelinuxProfileSpec {
            inherit,
            allow: s.allow,
            mode,
            state: SpecState::from_disabled(s.disabled.unwrap_or(false)),
            allowed_namespaces: None,
        })
    }
}

impl From<RawSelinuxProfileSpec> for model::RawSelinuxProfileSpec {
    fn from(s: RawSelinuxProfileSpec) -> Self {
        model::RawSelinuxProfileSpec {
            policy: s.policy.unwrap_or_default(),
            disabled: s.state.is_disabled().then_some(true),
        }
    }
}

impl From<model::RawSelinuxProfileSpec> for RawSelinuxProfileSpec {
    fn from(s: model::RawSelinuxProfileSpec) -> Self {
        RawSelinuxProfileSpec {
            policy: Some(s.policy),
            state: SpecState::from_disabled(s.disabled.unwrap_or(false)),
            allowed_namespaces: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spo_shaped_spec_deserialises_with_defaults() {
        let spec: SelinuxProfileSpec = serde_json::from_value(serde_json::json!({
            "allow": {"var_log_t": {"dir": ["open", "read"], "file": ["getattr"]}},
        }))
        .expect("SPO-shaped spec");
        assert_eq!(spec.inherit, default_inherit(), "SPO's default base is the container template");
        assert_eq!(spec.allow["var_log_t"]["dir"], ["open", "read"]);
        assert_eq!(spec.mode, SelinuxMode::Enforcing);
        assert_eq!(spec.state, SpecState::Enabled);
        let back = serde_json::to_value(&spec).expect("json");
        assert_eq!(back["inherit"][0]["kind"], "System");
        assert_eq!(back["inherit"][0]["name"], "container");
    }

    #[test]
    fn spec_converts_to_the_model_and_back() {
        let spec = SelinuxProfileSpec {
            inherit: vec![PolicyRef { kind: InheritKind::SelinuxProfile, name: "base".into() }],
            allow: [("@self".to_owned(), [("tcp_socket".to_owned(), vec!["listen".to_owned()])].into())].into(),
            mode: SelinuxMode::Permissive,
            state: SpecState::Disabled,
            allowed_namespaces: None,
        };
        let model: model::SelinuxProfileSpec = spec.clone().into();
        assert_eq!(model.inherit[0].kind, "SelinuxProfile");
        assert_eq!(model.mode.as_deref(), Some("Permissive"));
        assert_eq!(model.disabled, Some(true));
        assert_eq!(SelinuxProfileSpec::try_from(model).expect("expressible"), spec);

        let raw = RawSelinuxProfileSpec {
            policy: Some("(allow a b (file (read)))".into()),
            state: SpecState::Enabled,
            allowed_namespaces: None,
        };
        let model: model::RawSelinuxProfileSpec = raw.clone().into();
        assert_eq!(model.disabled, None);
        assert_eq!(RawSelinuxProfileSpec::from(model), raw);
    }

    #[test]
    fn misspelt_model_values_are_refused_with_their_path() {
        let mut model = model::SelinuxProfileSpec::default();
        model.inherit.push(model::PolicyRef { kind: "Sytem".into(), name: "container".into() });
        let err = SelinuxProfileSpec::try_from(model.clone()).expect_err("bad kind");
        assert!(err.to_string().contains("inherit[0].kind"), "{err}");
        model.inherit.clear();
        model.mode = Some("Enforce".into());
        let err = SelinuxProfileSpec::try_from(model).expect_err("bad mode");
        assert!(err.to_string().contains("`mode`"), "{err}");
    }

    #[test]
    fn unknown_mode_is_rejected() {
        let res = serde_json::from_value::<SelinuxProfileSpec>(serde_json::json!({"mode": "Audit"}));
        assert!(res.is_err());
    }
}
