//! `ProfileBinding` applied to pods: for a pod created in a namespace
//! labelled `spo.x-k8s.io/enable-binding`, every binding of that namespace
//! whose `podSelector` selects the pod sets its profile on the containers
//! whose image matches the binding's pattern, as a JSON patch.
//!
//! Rules, in the order they apply:
//! - A profile the user set explicitly is never overridden: a container
//!   that already has the field (seccomp profile, SELinux type, AppArmor
//!   profile or AppArmor annotation), or whose pod-level security context
//!   sets it for every container, is left alone.
//! - A binding whose image is `*` sets the pod-level field (one setting
//!   for every container, init containers included); any other pattern
//!   sets the matching containers' own field, which takes precedence over
//!   the pod level.
//! - When several bindings of one profile type match a container, the
//!   most specific pattern wins (an exact image, then the longest literal
//!   part), then the binding name.
//! - Seccomp: the pinned version `status.pinnedProfile` when the profile
//!   is Installed (a content-addressed file: later edits of the profile
//!   never change what a running pod has), else the current file
//!   `operator/NAME.json`. SELinux: `status.usage`, else `NAME.process`.
//!   AppArmor: the profile's name.
//! - A binding whose profile does not exist refuses the pod: running it
//!   without the profile its namespace requires would be silent failure.

use std::cmp::Reverse;
use std::sync::Arc;

use k8s_openapi::api::core::v1::Pod;
use serde_json::{json, Value};

use super::cache::{Caches, FoundProfile};
use super::glob::{image_matches, specificity};
use super::selector;
use crate::controller::references::{seccomp_current, selinux_type};
use spo_api::crds::{BoundKind, ProfileBinding, ProfileState};

pub use spo_api::names::ENABLE_BINDING_LABEL;

/// The profile a binding names, if it exists.
pub fn bound_profile(caches: &Caches, kind: BoundKind, name: &str) -> Option<FoundProfile> {
    use crate::controller::references::{RefKey, RefKind};
    let ref_kind = match kind {
        BoundKind::SeccompProfile => RefKind::Seccomp,
        BoundKind::SelinuxProfile => RefKind::Selinux,
        BoundKind::AppArmorProfile => RefKind::AppArmor,
    };
    let key = RefKey::for_profile(ref_kind, name);
    let want = match kind {
        BoundKind::SeccompProfile => "SeccompProfile",
        BoundKind::SelinuxProfile => "SelinuxProfile",
        BoundKind::AppArmorProfile => "AppArmorProfile",
    };
    caches.resolve(&key).into_iter().find(|f| f.kind == want)
}

/// What a binding writes into a security context, or `None` when its
/// profile does not exist.
fn reference(caches: &Caches, kind: BoundKind, name: &str) -> Option<Value> {
    use kube::runtime::reflector::ObjectRef;
    match kind {
        BoundKind::SeccompProfile => {
            let p = caches.seccomp.get(&ObjectRef::new(name))?;
            let pinned = p
                .status
                .as_ref()
                .filter(|s| s.status == Some(ProfileState::Installed))
                .and_then(|s| s.pinned_profile.clone());
            let reference = pinned.unwrap_or_else(|| seccomp_current(name));
            Some(json!({"type": "Localhost", "localhostProfile": reference}))
        }
        BoundKind::SelinuxProfile => {
            let p = caches.selinux.get(&ObjectRef::new(name))?;
            let usage = p.status.as_ref().and_then(|s| s.usage.clone());
            Some(Value::String(usage.unwrap_or_else(|| selinux_type(name))))
        }
        BoundKind::AppArmorProfile => {
            caches.apparmor.get(&ObjectRef::new(name))?;
            Some(json!({"type": "Localhost", "localhostProfile": name}))
        }
    }
}

/// The security-context field a kind of binding sets, as a path below
/// `securityContext`.
fn field(kind: BoundKind) -> &'static [&'static str] {
    match kind {
        BoundKind::SeccompProfile => &["seccompProfile"],
        BoundKind::SelinuxProfile => &["seLinuxOptions", "type"],
        BoundKind::AppArmorProfile => &["appArmorProfile"],
    }
}

fn lookup<'a>(v: &'a Value, path: &[&str]) -> Option<&'a Value> {
    path.iter().try_fold(v, |v, k| v.get(k)).filter(|v| !v.is_null())
}

/// `v[path]`, creating objects on the way.
fn entry<'a>(v: &'a mut Value, path: &[&str]) -> &'a mut Value {
    let Some((first, rest)) = path.split_first() else { return v };
    if !v.is_object() {
        *v = json!({});
    }
    match v {
        Value::Object(m) => entry(m.entry((*first).to_owned()).or_insert(Value::Null), rest),
        other => other,
    }
}

/// Why a pod is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// What the user sees.
    pub message: String,
    /// A binding names a profile the caches do not hold: it may be new and
    /// the caches a moment behind, so the server looks again before
    /// refusing (see `server.rs`).
    pub profile_missing: bool,
}

impl Refusal {
    fn other(message: String) -> Refusal {
        Refusal { message, profile_missing: false }
    }

    fn missing(message: String) -> Refusal {
        Refusal { message, profile_missing: true }
    }
}

/// The result of applying bindings to a pod.
#[derive(Debug, Default)]
pub struct Applied {
    /// The patch (empty when nothing applies).
    pub patch: json_patch::Patch,
    /// What was set, for logs and warnings (`container web: SeccompProfile prod/p`).
    pub changes: Vec<String>,
}

/// Apply the bindings of `namespace` to `pod` (JSON as received). `Err`
/// refuses the pod.
pub fn apply_bindings(caches: &Caches, pod_json: &Value, namespace: &str) -> Result<Applied, Refusal> {
    if caches.namespace_labels(namespace).is_some_and(|l| !l.contains_key(ENABLE_BINDING_LABEL)) {
        // The configuration's namespace selector sends only labelled
        // namespaces; this guards against a hand-edited configuration.
        return Ok(Applied::default());
    }
    let pod: Pod =
        serde_json::from_value(pod_json.clone()).map_err(|e| Refusal::other(format!("cannot read the pod: {e}")))?;
    let labels = pod.metadata.labels.clone().unwrap_or_default();
    // The namespace's own bindings first, then the shared ones: the first
    // match wins, so a namespace can override a cluster-wide binding.
    let mut bindings = applicable(caches, namespace, &labels);
    if let Some(shared) = caches.shared_namespace.as_deref().filter(|s| *s != namespace) {
        bindings.extend(applicable(caches, shared, &labels));
    }
    let mut out = pod_json.clone();
    let mut applied = Applied::default();
    let annotations = pod.metadata.annotations.clone().unwrap_or_default();
    for list in ["containers", "initContainers"] {
        let count = pod_json.pointer(&format!("/spec/{list}")).and_then(Value::as_array).map_or(0, Vec::len);
        for i in 0..count {
            let container = &pod_json["spec"][list][i];
            let image = container.get("image").and_then(Value::as_str).unwrap_or_default();
            let cname = container.get("name").and_then(Value::as_str).unwrap_or_default();
            for kind in [BoundKind::SeccompProfile, BoundKind::SelinuxProfile, BoundKind::AppArmorProfile] {
                let path = field(kind);
                let explicit = lookup(container, &[&["securityContext"][..], path].concat()).is_some()
                    || lookup(pod_json, &[&["spec", "securityContext"][..], path].concat()).is_some()
                    || (kind == BoundKind::AppArmorProfile
                        && annotations
                            .contains_key(&format!("container.apparmor.security.beta.kubernetes.io/{cname}")));
                if explicit {
                    continue;
                }
                let Some(b) = bindings.iter().find(|b| {
                    b.spec.profile_ref.kind == kind && b.spec.image != "*" && image_matches(&b.spec.image, image)
                }) else {
                    continue;
                };
                let value = resolve(caches, b, namespace)?;
                *entry(&mut out["spec"][list][i], &[&["securityContext"][..], path].concat()) = value;
                applied.changes.push(format!("{list}[{cname}]: {}", describe(b, namespace)));
            }
        }
    }
    for kind in [BoundKind::SeccompProfile, BoundKind::SelinuxProfile, BoundKind::AppArmorProfile] {
        let path = [&["spec", "securityContext"][..], field(kind)].concat();
        if lookup(pod_json, &path).is_some() {
            continue;
        }
        if let Some(b) = bindings.iter().find(|b| b.spec.profile_ref.kind == kind && b.spec.image == "*") {
            let value = resolve(caches, b, namespace)?;
            *entry(&mut out, &path) = value;
            applied.changes.push(format!("pod: {}", describe(b, namespace)));
        }
    }
    applied.patch = json_patch::diff(pod_json, &out);
    Ok(applied)
}

/// The live bindings of `namespace` whose selector matches, most specific
/// image pattern first.
fn applicable(
    caches: &Caches,
    namespace: &str,
    labels: &std::collections::BTreeMap<String, String>,
) -> Vec<Arc<ProfileBinding>> {
    let mut bindings: Vec<Arc<ProfileBinding>> = caches
        .bindings_in(namespace)
        .into_iter()
        .filter(|b| b.metadata.deletion_timestamp.is_none())
        .filter(|b| b.spec.pod_selector.as_ref().is_none_or(|s| selector::matches(s, labels)))
        .collect();
    bindings.sort_by(|a, b| {
        (Reverse(specificity(&a.spec.image)), &a.metadata.name)
            .cmp(&(Reverse(specificity(&b.spec.image)), &b.metadata.name))
    });
    bindings
}

fn describe(b: &ProfileBinding, namespace: &str) -> String {
    let r = &b.spec.profile_ref;
    let home = b.metadata.namespace.as_deref().unwrap_or(namespace);
    format!("{:?} {} from ProfileBinding {home}/{}", r.kind, r.name, b.metadata.name.as_deref().unwrap_or_default())
}

/// The value a binding writes, after the bound profile's namespace policy.
fn resolve(caches: &Caches, b: &ProfileBinding, namespace: &str) -> Result<Value, Refusal> {
    let r = &b.spec.profile_ref;
    // Profiles are cluster-wide; the policy is checked for the pod's
    // namespace.
    let home = b.metadata.namespace.as_deref().unwrap_or(namespace);
    let binding = format!("ProfileBinding {home}/{}", b.metadata.name.as_deref().unwrap_or_default());
    let missing = || Refusal::missing(format!("{binding} binds {:?} {}, which does not exist", r.kind, r.name));
    let found = bound_profile(caches, r.kind, &r.name).ok_or_else(missing)?;
    if !found.allows(namespace) {
        return Err(Refusal::other(format!("{binding}: {}", super::policy::refusal(&found, namespace))));
    }
    reference(caches, r.kind, &r.name).ok_or_else(missing)
}
