//! `SeccompProfile`: SPO's fields, plus `defaultErrnoRet` (runc and crun
//! honour it; SPO drops it).

use std::collections::BTreeMap;

use kube_derive::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use spo_model::seccomp::{self as model, ActionName, FilterFlag, Operator};
use spo_model::Arch;

use super::schema;
use super::status::{ProfileStatus, SpecState};
use crate::ApiError;

/// A seccomp profile, installed on every node as a file the kubelet can
/// reference from `securityContext.seccompProfile.localhostProfile`.
#[derive(CustomResource, Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    crates(kube_core = "::kube_core"),
    group = "security-profiles-operator.x-k8s.io",
    version = "v1",
    kind = "SeccompProfile",
    shortname = "sp",
    status = "ProfileStatus",
    derive = "PartialEq",
    doc = "A seccomp profile, installed on every node as operator/NAME.json below the kubelet's seccomp directory.",
    printcolumn = r#"{"name":"Status","type":"string","jsonPath":".status.status"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#,
    printcolumn = r#"{"name":"LocalhostProfile","type":"string","jsonPath":".status.localhostProfile","priority":10}"#
)]
#[serde(rename_all = "camelCase")]
pub struct SeccompProfileSpec {
    /// Action for syscalls no rule matches.
    #[schemars(schema_with = "schema::seccomp_action")]
    pub default_action: ActionName,
    /// errno of an `SCMP_ACT_ERRNO` default action (EPERM when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "schema::errno_ret")]
    pub default_errno_ret: Option<u32>,
    /// Architectures the filter accepts; the node's own when empty
    /// (`SCMP_ARCH_NATIVE` names it explicitly).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(schema_with = "schema::architectures")]
    pub architectures: Vec<ArchName>,
    /// Flags for seccomp(2).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(schema_with = "schema::filter_flags")]
    pub flags: Vec<FilterFlag>,
    /// Unix socket of the agent that answers `SCMP_ACT_NOTIFY`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 107), pattern(r"^/var/run/security-profiles-operator/[a-zA-Z0-9_\-\.]+$"))]
    pub listener_path: Option<String>,
    /// Opaque data sent to that agent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub listener_metadata: Option<String>,
    /// The rules, first match wins within an action's priority.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "atomic"))]
    pub syscalls: Vec<SeccompSyscall>,
    /// A SeccompProfile whose rules are merged into this one, or an
    /// `oci://` reference to one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_profile_name: Option<String>,
    /// Namespaces whose pods may use this profile (cluster policy, enforced
    /// at pod admission); every namespace when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "schema::allowed_namespaces")]
    pub allowed_namespaces: Option<Vec<String>>,
    /// `Disabled`: keep the object but install nothing.
    #[serde(default)]
    pub state: SpecState,
}

/// One rule: these syscalls get this action when every argument condition
/// holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SeccompSyscall {
    /// Syscall names.
    #[schemars(length(min = 1), extend("x-kubernetes-list-type" = "set"))]
    pub names: Vec<String>,
    /// What happens.
    #[schemars(schema_with = "schema::seccomp_action")]
    pub action: ActionName,
    /// errno for `SCMP_ACT_ERRNO`, data for `SCMP_ACT_TRACE`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "schema::errno_ret")]
    pub errno_ret: Option<u32>,
    /// Argument conditions, all of which must hold.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 6), extend("x-kubernetes-list-type" = "atomic"))]
    pub args: Vec<SeccompArg>,
}

/// One argument condition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SeccompArg {
    /// Argument index.
    #[schemars(schema_with = "schema::arg_index")]
    pub index: u32,
    /// Compared value.
    #[serde(default, skip_serializing_if = "is_zero")]
    #[schemars(schema_with = "schema::arg_operand")]
    pub value: u64,
    /// Expected masked value for `SCMP_CMP_MASKED_EQ`.
    #[serde(default, skip_serializing_if = "is_zero")]
    #[schemars(schema_with = "schema::arg_operand")]
    pub value_two: u64,
    /// The comparison.
    #[schemars(schema_with = "schema::seccomp_operator")]
    pub op: Operator,
}

fn is_zero(v: &u64) -> bool {
    *v == 0
}

/// An architecture as a profile names it: libseccomp's `SCMP_ARCH_*`, or
/// `SCMP_ARCH_NATIVE` for the node's own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArchName {
    /// `SCMP_ARCH_NATIVE`.
    Native,
    /// A named architecture.
    Arch(Arch),
}

impl Serialize for ArchName {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            ArchName::Native => s.serialize_str(schema::NATIVE_ARCH),
            ArchName::Arch(a) => a.serialize(s),
        }
    }
}

impl<'de> Deserialize<'de> for ArchName {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let name = String::deserialize(d)?;
        if name == schema::NATIVE_ARCH {
            return Ok(ArchName::Native);
        }
        name.parse::<Arch>().map(ArchName::Arch).map_err(serde::de::Error::custom)
    }
}

impl From<SeccompProfileSpec> for model::SeccompSpec {
    fn from(spec: SeccompProfileSpec) -> Self {
        let mut out = model::SeccompSpec::new(spec.default_action);
        out.default_errno_ret = spec.default_errno_ret;
        for a in spec.architectures {
            match a {
                ArchName::Native => out.native_architecture = true,
                ArchName::Arch(a) => out.architectures.push(a),
            }
        }
        out.flags = spec.flags;
        out.listener_path = spec.listener_path;
        out.listener_metadata = spec.listener_metadata;
        out.syscalls = spec.syscalls.into_iter().map(Into::into).collect();
        out.base_profile_name = spec.base_profile_name;
        out.disabled = spec.state.is_disabled().then_some(true);
        out
    }
}

impl From<SeccompSyscall> for model::SyscallRule {
    fn from(rule: SeccompSyscall) -> Self {
        let mut out = model::SyscallRule::new(&[], rule.action);
        out.names = rule.names;
        out.errno_ret = rule.errno_ret;
        out.args = rule.args.into_iter().map(Into::into).collect();
        out
    }
}

impl From<SeccompArg> for model::ArgCondition {
    fn from(arg: SeccompArg) -> Self {
        model::ArgCondition { index: arg.index, value: arg.value, value_two: arg.value_two, op: arg.op }
    }
}

impl From<model::ArgCondition> for SeccompArg {
    fn from(arg: model::ArgCondition) -> Self {
        SeccompArg { index: arg.index, value: arg.value, value_two: arg.value_two, op: arg.op }
    }
}

/// A model profile as a custom resource spec. Symbolic errnos become
/// numbers and a rule's old single `name` joins `names`; Docker's
/// conditional parts (`archMap`, `includes`, `excludes`) are refused, since
/// dropping them would change what the profile allows.
impl TryFrom<model::SeccompSpec> for SeccompProfileSpec {
    type Error = ApiError;

    fn try_from(spec: model::SeccompSpec) -> Result<Self, ApiError> {
        let refuse = |field: String, reason| ApiError::NotExpressible { kind: "SeccompProfile", field, reason };
        if !spec.arch_map.is_empty() {
            return Err(refuse("archMap".into(), "resolve the profile for one architecture first"));
        }
        let default_errno_ret = spec.effective_default_errno();
        let mut syscalls = Vec::with_capacity(spec.syscalls.len());
        for (i, rule) in spec.syscalls.into_iter().enumerate() {
            if !rule.includes.is_empty() {
                return Err(refuse(format!("syscalls[{i}].includes"), "conditional rules need resolving first"));
            }
            if !rule.excludes.is_empty() {
                return Err(refuse(format!("syscalls[{i}].excludes"), "conditional rules need resolving first"));
            }
            syscalls.push(SeccompSyscall {
                names: rule.all_names().map(str::to_owned).collect(),
                action: rule.action,
                errno_ret: rule.effective_errno(),
                args: rule.args.into_iter().map(Into::into).collect(),
            });
        }
        Ok(SeccompProfileSpec {
            default_action: spec.default_action,
            default_errno_ret,
            architectures: spec
                .native_architecture
                .then_some(ArchName::Native)
                .into_iter()
                .chain(spec.architectures.into_iter().map(ArchName::Arch))
                .collect(),
            flags: spec.flags,
            listener_path: spec.listener_path,
            listener_metadata: spec.listener_metadata,
            syscalls,
            base_profile_name: spec.base_profile_name,
            state: SpecState::from_disabled(spec.disabled.unwrap_or(false)),
            allowed_namespaces: None,
        })
    }
}

impl From<SeccompProfile> for model::SeccompProfile {
    fn from(cr: SeccompProfile) -> Self {
        let name = cr.metadata.name.clone().unwrap_or_default();
        let mut out = model::SeccompProfile::new(&name, cr.spec.into());
        out.metadata.name = cr.metadata.name;
        out.metadata.namespace = cr.metadata.namespace;
        out.metadata.labels = cr.metadata.labels.unwrap_or_default().into_iter().collect::<BTreeMap<_, _>>();
        out.metadata.annotations = cr.metadata.annotations.unwrap_or_default().into_iter().collect();
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kube_core::CustomResourceExt;

    fn sample() -> SeccompProfileSpec {
        SeccompProfileSpec {
            default_action: ActionName::Errno,
            default_errno_ret: Some(38),
            architectures: vec![ArchName::Arch(Arch::X86_64), ArchName::Arch(Arch::Aarch64)],
            flags: vec![FilterFlag::Log],
            listener_path: None,
            listener_metadata: None,
            syscalls: vec![SeccompSyscall {
                names: vec!["personality".into()],
                action: ActionName::Allow,
                errno_ret: None,
                args: vec![SeccompArg { index: 0, value: 0xffff_ffff, value_two: 8, op: Operator::MaskedEqual }],
            }],
            base_profile_name: Some("runc-v1.2.0".into()),
            state: SpecState::Disabled,
            allowed_namespaces: None,
        }
    }

    #[test]
    fn spec_converts_to_the_model_and_back() {
        let spec = sample();
        let model: model::SeccompSpec = spec.clone().into();
        assert_eq!(model.default_errno_ret, Some(38));
        assert_eq!(model.disabled, Some(true));
        assert_eq!(model.syscalls[0].args[0].op, Operator::MaskedEqual);
        assert_eq!(SeccompProfileSpec::try_from(model).expect("expressible"), spec);
    }

    #[test]
    fn spo_yaml_deserialises_with_model_names() {
        let spec: SeccompProfileSpec = serde_json::from_value(serde_json::json!({
            "defaultAction": "SCMP_ACT_LOG",
            "architectures": ["SCMP_ARCH_X86_64"],
            "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1,
                          "args": [{"index": 1, "value": 3, "op": "SCMP_CMP_EQ"}]}],
        }))
        .expect("SPO-shaped spec");
        assert_eq!(spec.default_action, ActionName::Log);
        assert_eq!(spec.syscalls[0].args[0].value_two, 0);
        assert_eq!(spec.state, SpecState::Enabled);
        let bad = serde_json::from_value::<SeccompProfileSpec>(serde_json::json!({"defaultAction": "SCMP_ACT_NOPE"}));
        assert!(bad.is_err());
    }

    #[test]
    fn symbolic_errno_and_single_name_are_folded() {
        let mut rule = model::SyscallRule::new(&["open"], ActionName::Errno);
        rule.name = Some("openat".into());
        rule.errno = Some("EACCES".into());
        let mut spec = model::SeccompSpec::new(ActionName::Allow);
        spec.syscalls.push(rule);
        let cr = SeccompProfileSpec::try_from(spec).expect("expressible");
        assert_eq!(cr.syscalls[0].names, ["open", "openat"]);
        assert_eq!(cr.syscalls[0].errno_ret, Some(13));
    }

    #[test]
    fn docker_conditionals_are_refused_with_their_path() {
        let mut rule = model::SyscallRule::new(&["clone"], ActionName::Allow);
        rule.excludes.caps.push("CAP_SYS_ADMIN".into());
        let mut spec = model::SeccompSpec::new(ActionName::Errno);
        spec.syscalls.push(model::SyscallRule::new(&["read"], ActionName::Allow));
        spec.syscalls.push(rule);
        let err = SeccompProfileSpec::try_from(spec).expect_err("conditional rule");
        assert!(err.to_string().contains("syscalls[1].excludes"), "{err}");
    }

    #[test]
    fn custom_resource_converts_with_metadata() {
        let mut cr = SeccompProfile::new("web", sample());
        cr.metadata.namespace = Some("prod".into());
        cr.metadata.labels = Some([("app".to_owned(), "web".to_owned())].into());
        let model: model::SeccompProfile = cr.into();
        assert_eq!(model.metadata.name.as_deref(), Some("web"));
        assert_eq!(model.metadata.namespace.as_deref(), Some("prod"));
        assert_eq!(model.metadata.labels["app"], "web");
        assert_eq!(model.api_version, "security-profiles-operator.x-k8s.io/v1");
    }

    #[test]
    fn schema_enums_come_from_the_model_tables() {
        let crd = SeccompProfile::crd();
        let schema = serde_json::to_value(&crd.spec.versions[0].schema).expect("schema json");
        let spec = &schema["openAPIV3Schema"]["properties"]["spec"];
        let actions = spec["properties"]["defaultAction"]["enum"].as_array().expect("action enum");
        assert_eq!(actions.len(), ActionName::ALL.len());
        let arches = spec["properties"]["architectures"]["items"]["enum"].as_array().expect("arch enum");
        assert_eq!(arches.len(), Arch::ALL.len() + 1, "every architecture and SCMP_ARCH_NATIVE");
        assert_eq!(spec["required"], serde_json::json!(["defaultAction"]));
        let arg = &spec["properties"]["syscalls"]["items"]["properties"]["args"];
        assert_eq!(arg["maxItems"], 6);
        assert_eq!(arg["items"]["properties"]["value"]["format"], "int64");
    }
}
