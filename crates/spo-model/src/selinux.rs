//! SELinux profiles: `SelinuxProfile` (allow rules the operator turns into
//! CIL) and `RawSelinuxProfile` (CIL written by hand), with SPO's field
//! names so manifests move over unchanged.
//!
//! Everything a profile names ends up inside CIL text, so validation is
//! also the injection guard: names are checked against CIL's identifier
//! grammar (no parentheses, spaces or quotes can get through) and against
//! deny lists of types, classes and permissions that would hand a container
//! control of the node's policy.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::objname::check_object_name;
use crate::seccomp::{ObjectMeta, API_GROUP};
use crate::{FieldPath, Problem};

/// The allow-map key that stands for the profile's own process type.
pub const SELF_KEY: &str = "@self";

/// The container templates a profile may inherit as `kind: System`.
pub const SYSTEM_TEMPLATES: &[&str] = &[
    "container",
    "config_container",
    "home_container",
    "log_container",
    "net_container",
    "restricted_net_container",
    "tmp_container",
    "tty_container",
    "virt_container",
    "x_container",
];

/// `SelinuxProfile`, the custom resource.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SelinuxProfile {
    /// `security-profiles-operator.x-k8s.io/v1` (`v1alpha2` accepted).
    pub api_version: String,
    /// Always `SelinuxProfile`.
    pub kind: String,
    /// Name and namespace: together they name the CIL block.
    #[serde(default)]
    pub metadata: ObjectMeta,
    /// The profile.
    #[serde(default)]
    pub spec: SelinuxProfileSpec,
}

/// What a `SelinuxProfile` allows.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SelinuxProfileSpec {
    /// Templates and other profiles whose rules this one includes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub inherit: Vec<PolicyRef>,
    /// `Enforcing` (default) or `Permissive` (log denials only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<String>,
    /// SPO `v1alpha2`'s spelling of `mode: Permissive`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub permissive: Option<bool>,
    /// Target type (or `@self`) -> class -> permissions.
    #[serde(default)]
    pub allow: BTreeMap<String, BTreeMap<String, Vec<String>>>,
    /// Whether the profile is switched off.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disabled: Option<bool>,
}

/// One `spec.inherit` entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyRef {
    /// `System` (a container template; the default) or `SelinuxProfile`.
    #[serde(default = "default_ref_kind")]
    pub kind: String,
    /// Template or profile name.
    pub name: String,
}

fn default_ref_kind() -> String {
    "System".into()
}

/// `RawSelinuxProfile`, the custom resource.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RawSelinuxProfile {
    /// `security-profiles-operator.x-k8s.io/v1` (`v1alpha2` accepted).
    pub api_version: String,
    /// Always `RawSelinuxProfile`.
    pub kind: String,
    /// Name and namespace: together they name the CIL block.
    #[serde(default)]
    pub metadata: ObjectMeta,
    /// The profile.
    #[serde(default)]
    pub spec: RawSelinuxProfileSpec,
}

/// The CIL of a `RawSelinuxProfile`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RawSelinuxProfileSpec {
    /// CIL statements, placed inside the profile's block.
    #[serde(default)]
    pub policy: String,
    /// Whether the profile is switched off.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disabled: Option<bool>,
}

/// Types, classes and permissions no profile may be granted (SPO's
/// defaults; the cluster's daemon configuration relaxes or extends them
/// with [`DenyLists::adjusted`]), and which system templates a profile may
/// inherit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DenyLists {
    /// Target types.
    pub types: Vec<String>,
    /// Object classes.
    pub classes: Vec<String>,
    /// Permissions.
    pub permissions: Vec<String>,
    /// The system templates a profile may inherit; `None`: every template
    /// spo-rs ships (a laptop, a standalone node). A cluster's daemon
    /// configuration lists them (SPO's `allowedSystemProfiles`, default
    /// `container` alone).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed_system: Option<Vec<String>>,
}

/// What the cluster changes in [`DenyLists`]: SPO's
/// `spec.selinux.options` of the daemon configuration.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DenyListChanges<'a> {
    /// Removed from the denied types (`allowedTypes`).
    pub allowed_types: &'a [String],
    /// Removed from the denied classes (`allowedClasses`).
    pub allowed_classes: &'a [String],
    /// Removed from the denied permissions (`allowedPermissions`).
    pub allowed_permissions: &'a [String],
    /// Added to the denied types (`deniedTypes`).
    pub denied_types: &'a [String],
    /// Added to the denied classes (`deniedClasses`).
    pub denied_classes: &'a [String],
    /// Added to the denied permissions (`deniedPermissions`).
    pub denied_permissions: &'a [String],
    /// The system templates that may be inherited (`allowedSystemProfiles`).
    pub allowed_system: &'a [String],
}

impl DenyLists {
    /// These lists with `c` applied: what `c` allows leaves a list, what it
    /// denies joins it (a name both allowed and denied stays denied).
    pub fn adjusted(&self, c: &DenyListChanges<'_>) -> DenyLists {
        fn list(base: &[String], allowed: &[String], denied: &[String]) -> Vec<String> {
            let mut out: Vec<String> = base.iter().filter(|x| !allowed.contains(x)).cloned().collect();
            for d in denied {
                if !out.contains(d) {
                    out.push(d.clone());
                }
            }
            out
        }
        DenyLists {
            types: list(&self.types, c.allowed_types, c.denied_types),
            classes: list(&self.classes, c.allowed_classes, c.denied_classes),
            permissions: list(&self.permissions, c.allowed_permissions, c.denied_permissions),
            allowed_system: Some(c.allowed_system.to_vec()),
        }
    }
}

impl Default for DenyLists {
    fn default() -> Self {
        let v = |xs: &[&str]| xs.iter().map(|s| (*s).to_owned()).collect();
        DenyLists {
            types: v(&["kernel_t", "kmem_t", "security_t", "shadow_t"]),
            classes: v(&["capability", "capability2", "security", "system"]),
            permissions: v(&[
                "load_policy",
                "mac_admin",
                "mounton",
                "relabelto",
                "relabelfrom",
                "setbool",
                "setenforce",
                "setsecparam",
            ]),
            allowed_system: None,
        }
    }
}

/// Whether `s` is a CIL identifier: a letter, then letters, digits, `_`, `-`.
pub fn is_cil_identifier(s: &str) -> bool {
    let mut b = s.bytes();
    b.next().is_some_and(|c| c.is_ascii_alphabetic()) && b.all(|c| c.is_ascii_alphanumeric() || c == b'_' || c == b'-')
}

/// Whether `s` is a possibly block-qualified CIL name (`a.b.c`).
pub fn is_cil_name(s: &str) -> bool {
    !s.is_empty() && s.split('.').all(is_cil_identifier)
}

fn api_version_problems(api: &str, kind: &str, want_kind: &str, out: &mut Vec<Problem>) {
    let ok = [format!("{API_GROUP}/v1"), format!("{API_GROUP}/v1alpha2")];
    if !ok.iter().any(|v| v == api) {
        out.push(
            Problem::error(FieldPath::root().key("apiVersion"), format!("unsupported apiVersion `{api}`"))
                .with_help(format!("use `{API_GROUP}/v1`")),
        );
    }
    if kind != want_kind {
        out.push(Problem::error(FieldPath::root().key("kind"), format!("expected kind `{want_kind}`, found `{kind}`")));
    }
}

/// The CIL block name of a profile: its name. SELinux profiles are
/// cluster-wide (SPO v1), so pods use the type `NAME.process`.
pub fn block_name(meta: &ObjectMeta) -> String {
    meta.name.as_deref().unwrap_or("").to_owned()
}

fn metadata_problems(meta: &ObjectMeta, out: &mut Vec<Problem>) {
    let path = FieldPath::root().key("metadata");
    match meta.name.as_deref() {
        None => out.push(Problem::error(path.clone(), "metadata.name is missing")),
        Some(name) => {
            if let Err(e) = check_object_name(name) {
                out.push(Problem::error(path.key("name"), e));
            } else if !is_cil_identifier(name) {
                out.push(
                    Problem::error(path.key("name"), format!("name `{name}` cannot name a CIL block"))
                        .with_help("start the name with a letter and leave out `.`"),
                );
            }
        }
    }
    if let Some(ns) = meta.namespace.as_deref().filter(|ns| !ns.is_empty()) {
        out.push(
            Problem::warning(
                path.key("namespace"),
                format!("SELinux profiles are cluster-wide: namespace `{ns}` is ignored"),
            )
            .with_help("remove metadata.namespace; the policy is the type NAME.process in every namespace"),
        );
    }
}

impl SelinuxProfileSpec {
    /// What the profile inherits: `inherit`, or SPO's default, the system
    /// `container` template, when it lists nothing.
    pub fn effective_inherit(&self) -> Vec<PolicyRef> {
        if self.inherit.is_empty() {
            vec![PolicyRef { kind: "System".into(), name: "container".into() }]
        } else {
            self.inherit.clone()
        }
    }
}

impl SelinuxProfile {
    /// Whether denials are only logged.
    pub fn is_permissive(&self) -> bool {
        self.spec.mode.as_deref() == Some("Permissive") || self.spec.permissive == Some(true)
    }

    /// The CIL block name.
    pub fn block_name(&self) -> String {
        block_name(&self.metadata)
    }

    /// Every problem, each at its field.
    pub fn validate(&self, deny: &DenyLists) -> Vec<Problem> {
        let mut out = Vec::new();
        api_version_problems(&self.api_version, &self.kind, "SelinuxProfile", &mut out);
        metadata_problems(&self.metadata, &mut out);
        let spec = FieldPath::root().key("spec");
        if let Some(m) = self.spec.mode.as_deref() {
            if m != "Enforcing" && m != "Permissive" {
                out.push(
                    Problem::error(spec.key("mode"), format!("unknown mode `{m}`"))
                        .with_help("use `Enforcing` or `Permissive`"),
                );
            }
        }
        for (i, r) in self.spec.inherit.iter().enumerate() {
            let p = spec.key("inherit").index(i);
            match r.kind.as_str() {
                "System" => {
                    if !SYSTEM_TEMPLATES.contains(&r.name.as_str()) {
                        let mut pr = Problem::error(p.key("name"), format!("`{}` is not a container template", r.name));
                        pr = match crate::suggest::did_you_mean(&r.name, SYSTEM_TEMPLATES.iter().copied()) {
                            Some(s) => pr.with_help(format!("did you mean `{s}`?")),
                            None => pr.with_help(format!("system templates: {}", SYSTEM_TEMPLATES.join(", "))),
                        };
                        out.push(pr);
                    } else if let Some(allowed) = deny.allowed_system.as_ref().filter(|a| !a.contains(&r.name)) {
                        let listed = if allowed.is_empty() { "none".to_owned() } else { allowed.join(", ") };
                        out.push(
                            Problem::error(
                                p.key("name"),
                                format!(
                                    "the cluster does not allow inheriting the system profile `{}` \
                                     (SecurityProfilesOperatorDaemon spec.selinux.options.allowedSystemProfiles)",
                                    r.name
                                ),
                            )
                            .with_help(format!("allowed: {listed}; an administrator can add it to the list")),
                        );
                    }
                }
                "SelinuxProfile" => {
                    if let Err(e) = check_object_name(&r.name) {
                        out.push(Problem::error(p.key("name"), e));
                    } else if !is_cil_identifier(&r.name) {
                        out.push(Problem::error(p.key("name"), format!("`{}` cannot name a CIL block", r.name)));
                    }
                }
                other => out.push(
                    Problem::error(p.key("kind"), format!("unknown inherit kind `{other}`"))
                        .with_help("use `System` or `SelinuxProfile`"),
                ),
            }
        }
        let allow = spec.key("allow");
        for (ty, classes) in &self.spec.allow {
            let tp = allow.key(ty);
            if ty != SELF_KEY && !is_cil_name(ty) {
                out.push(
                    Problem::error(tp.clone().at_key(), format!("`{ty}` is not a valid SELinux type name"))
                        .with_help("use letters, digits, `_` and `-`, starting with a letter, or `@self`"),
                );
            } else if deny.types.iter().any(|d| d == ty) {
                out.push(Problem::error(tp.clone().at_key(), format!("access to type `{ty}` is denied by policy")));
            }
            if classes.is_empty() {
                out.push(Problem::warning(
                    tp.clone(),
                    format!("no classes listed for `{ty}`: the entry grants nothing"),
                ));
            }
            for (class, perms) in classes {
                let cp = tp.key(class);
                if !is_cil_identifier(class) {
                    out.push(Problem::error(cp.clone().at_key(), format!("`{class}` is not a valid class name")));
                } else if deny.classes.iter().any(|d| d == class) {
                    out.push(Problem::error(cp.clone().at_key(), format!("class `{class}` is denied by policy")));
                }
                if perms.is_empty() {
                    out.push(Problem::error(cp.clone(), format!("no permissions listed for class `{class}`")));
                }
                for (k, perm) in perms.iter().enumerate() {
                    let pp = cp.index(k);
                    if !is_cil_identifier(perm) {
                        out.push(Problem::error(pp, format!("`{perm}` is not a valid permission name")));
                    } else if deny.permissions.iter().any(|d| d == perm) {
                        out.push(Problem::error(pp, format!("permission `{perm}` is denied by policy")));
                    }
                }
            }
        }
        out
    }
}

impl RawSelinuxProfile {
    /// The CIL block name.
    pub fn block_name(&self) -> String {
        block_name(&self.metadata)
    }

    /// Problems with the resource itself; the CIL in `spec.policy` is
    /// checked by the CIL parser.
    pub fn validate(&self) -> Vec<Problem> {
        let mut out = Vec::new();
        api_version_problems(&self.api_version, &self.kind, "RawSelinuxProfile", &mut out);
        metadata_problems(&self.metadata, &mut out);
        let policy = FieldPath::root().key("spec").key("policy");
        if self.spec.policy.trim().is_empty() {
            out.push(Problem::error(policy, "spec.policy is empty"));
        } else if self.spec.policy.contains('\0') {
            out.push(Problem::error(policy, "spec.policy contains a NUL byte"));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile(name: &str) -> SelinuxProfile {
        SelinuxProfile {
            api_version: format!("{API_GROUP}/v1"),
            kind: "SelinuxProfile".into(),
            metadata: ObjectMeta { name: Some(name.into()), ..ObjectMeta::default() },
            spec: SelinuxProfileSpec::default(),
        }
    }

    #[test]
    fn rejects_injection_and_denied_names_with_paths() {
        let mut p = profile("web");
        p.spec.allow.insert("var_log_t) (allow".into(), BTreeMap::new());
        p.spec.allow.insert("shadow_t".into(), BTreeMap::from([("file".into(), vec!["read".into()])]));
        p.spec
            .allow
            .insert("@self".into(), BTreeMap::from([("tcp_socket".into(), vec!["listen".into(), "mac_admin".into()])]));
        let problems = p.validate(&DenyLists::default());
        let paths: Vec<String> =
            problems.iter().filter(|p| p.severity == crate::Severity::Error).map(|p| p.path.to_string()).collect();
        assert!(paths.contains(&"spec.allow.var_log_t) (allow".to_string()), "{paths:?}");
        assert!(paths.contains(&"spec.allow.shadow_t".to_string()), "{paths:?}");
        assert!(paths.contains(&"spec.allow.@self.tcp_socket[1]".to_string()), "{paths:?}");
        assert_eq!(p.block_name(), "web");
    }

    #[test]
    fn the_cluster_decides_what_may_be_inherited_and_granted() {
        let mut p = profile("web");
        p.spec.inherit = vec![
            PolicyRef { kind: "System".into(), name: "container".into() },
            PolicyRef { kind: "System".into(), name: "net_container".into() },
        ];
        p.spec.allow.insert("shadow_t".into(), BTreeMap::from([("file".into(), vec!["read".into()])]));
        p.spec.allow.insert("var_log_t".into(), BTreeMap::from([("file".into(), vec!["ioctl".into()])]));
        let errors = |d: &DenyLists| -> Vec<String> {
            p.validate(d).iter().filter(|p| p.severity == crate::Severity::Error).map(|p| p.path.to_string()).collect()
        };
        // Standalone: every shipped template, SPO's deny lists.
        assert_eq!(errors(&DenyLists::default()), ["spec.allow.shadow_t"]);
        // SPO's cluster default: `container` alone.
        let strings = |xs: &[&str]| xs.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        let container = strings(&["container"]);
        let cluster =
            DenyLists::default().adjusted(&DenyListChanges { allowed_system: &container, ..Default::default() });
        assert_eq!(errors(&cluster), ["spec.inherit[1].name", "spec.allow.shadow_t"]);
        let msg = p.validate(&cluster).into_iter().find(|p| p.path.to_string() == "spec.inherit[1].name").unwrap();
        assert!(msg.help.as_deref().unwrap().contains("allowed: container"), "{msg:?}");
        // Relaxed and extended.
        let (both, shadow, ioctl) =
            (strings(&["container", "net_container"]), strings(&["shadow_t"]), strings(&["ioctl"]));
        let changed = DenyLists::default().adjusted(&DenyListChanges {
            allowed_system: &both,
            allowed_types: &shadow,
            denied_permissions: &ioctl,
            ..Default::default()
        });
        assert_eq!(errors(&changed), ["spec.allow.var_log_t.file[0]"]);
    }

    #[test]
    fn names_with_dots_cannot_name_blocks() {
        let p = profile("web.v2");
        assert!(p.validate(&DenyLists::default()).iter().any(|p| p.path.to_string() == "metadata.name"));
        assert!(profile("web").validate(&DenyLists::default()).is_empty());
    }

    #[test]
    fn a_namespace_is_ignored_with_a_warning() {
        let mut p = profile("web");
        p.metadata.namespace = Some("apps".into());
        let problems = p.validate(&DenyLists::default());
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert_eq!(problems[0].severity, crate::Severity::Warning);
        assert_eq!(p.block_name(), "web", "cluster-wide: the namespace is not part of the block");
    }

    #[test]
    fn no_inherit_means_the_container_template() {
        let p = profile("web");
        assert_eq!(p.spec.effective_inherit(), vec![PolicyRef { kind: "System".into(), name: "container".into() }]);
    }
}
