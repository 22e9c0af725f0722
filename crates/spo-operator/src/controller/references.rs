//! How pods name profiles, both ways: the reference the operator publishes
//! for a profile, and the profiles a pod's security contexts point at.
//!
//! A profile in use must never be pulled from a node, so this module errs
//! towards finding a use: every container list (init and ephemeral too),
//! pod and container level, current and versioned seccomp files, both
//! SELinux kinds behind one type name, AppArmor fields and the older
//! AppArmor annotations. Only pods that have finished (Succeeded or
//! Failed) use nothing.

use k8s_openapi::api::core::v1::{Pod, SecurityContext};

/// The family of profiles a reference can name. SELinux types name a
/// `SelinuxProfile` or a `RawSelinuxProfile` alike.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RefKind {
    /// `seccompProfile.localhostProfile`.
    Seccomp,
    /// `seLinuxOptions.type`.
    Selinux,
    /// `appArmorProfile.localhostProfile` or the AppArmor annotation.
    AppArmor,
}

/// One profile a pod references. Profiles are cluster-wide (SPO v1), so
/// a kind and a name identify one.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RefKey {
    /// The family.
    pub kind: RefKind,
    /// The profile's name.
    pub name: String,
}

impl RefKey {
    /// The key a profile of `kind` named `name` is used under.
    pub fn for_profile(kind: RefKind, name: &str) -> RefKey {
        RefKey { kind, name: name.to_owned() }
    }
}

pub use spo_api::names::{seccomp_current, seccomp_version, selinux_type, SECCOMP_PREFIX};

/// The profile a seccomp `localhostProfile` names, current
/// (`operator/NAME.json`) or versioned (`operator/NAME/SHA256.json`).
pub fn parse_seccomp(reference: &str) -> Option<RefKey> {
    let rest = reference.strip_prefix(SECCOMP_PREFIX)?.strip_suffix(".json")?;
    let mut parts = rest.split('/');
    let name = parts.next()?;
    match parts.next() {
        None => {}
        Some(digest) if is_digest(digest) && parts.next().is_none() => {}
        Some(_) => return None,
    }
    is_object_name(name).then(|| RefKey::for_profile(RefKind::Seccomp, name))
}

/// The profile an SELinux type `NAME.process` names.
pub fn parse_selinux(type_: &str) -> Option<RefKey> {
    let name = type_.strip_suffix(".process")?;
    (is_object_name(name) && !name.contains('.')).then(|| RefKey::for_profile(RefKind::Selinux, name))
}

/// The profile an AppArmor localhost name names.
pub fn parse_apparmor(name: &str) -> Option<RefKey> {
    is_object_name(name).then(|| RefKey::for_profile(RefKind::AppArmor, name))
}

fn is_digest(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

fn is_object_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
}

/// Whether a pod has finished for good: its profiles are no longer in use.
pub fn is_terminal(pod: &Pod) -> bool {
    matches!(pod.status.as_ref().and_then(|s| s.phase.as_deref()), Some("Succeeded" | "Failed"))
}

/// Every profile the pod references, sorted and without duplicates; empty
/// for a pod that has finished.
pub fn pod_references(pod: &Pod) -> Vec<RefKey> {
    let mut out = Vec::new();
    if is_terminal(pod) {
        return out;
    }
    if let Some(spec) = &pod.spec {
        if let Some(sc) = &spec.security_context {
            if let Some(p) = &sc.seccomp_profile {
                seccomp_ref(&p.type_, p.localhost_profile.as_deref(), &mut out);
            }
            if let Some(t) = sc.se_linux_options.as_ref().and_then(|o| o.type_.as_deref()) {
                out.extend(parse_selinux(t));
            }
            if let Some(p) = &sc.app_armor_profile {
                apparmor_ref(&p.type_, p.localhost_profile.as_deref(), &mut out);
            }
        }
        let contexts = spec
            .containers
            .iter()
            .map(|c| &c.security_context)
            .chain(spec.init_containers.iter().flatten().map(|c| &c.security_context))
            .chain(spec.ephemeral_containers.iter().flatten().map(|c| &c.security_context));
        for sc in contexts.flatten() {
            container_refs(sc, &mut out);
        }
    }
    if let Some(annotations) = &pod.metadata.annotations {
        for (key, value) in annotations {
            if key.starts_with("container.apparmor.security.beta.kubernetes.io/") {
                if let Some(name) = value.strip_prefix("localhost/") {
                    out.extend(parse_apparmor(name));
                }
            }
            // The seccomp annotations Kubernetes had before the field (SPO
            // counts the pod-level one; the container ones name files the
            // same way, so they count too).
            if key == "seccomp.security.alpha.kubernetes.io/pod"
                || key.starts_with("container.seccomp.security.alpha.kubernetes.io/")
            {
                if let Some(file) = value.strip_prefix("localhost/") {
                    out.extend(parse_seccomp(file));
                }
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

fn container_refs(sc: &SecurityContext, out: &mut Vec<RefKey>) {
    if let Some(p) = &sc.seccomp_profile {
        seccomp_ref(&p.type_, p.localhost_profile.as_deref(), out);
    }
    if let Some(t) = sc.se_linux_options.as_ref().and_then(|o| o.type_.as_deref()) {
        out.extend(parse_selinux(t));
    }
    if let Some(p) = &sc.app_armor_profile {
        apparmor_ref(&p.type_, p.localhost_profile.as_deref(), out);
    }
}

fn seccomp_ref(type_: &str, localhost: Option<&str>, out: &mut Vec<RefKey>) {
    if type_ == "Localhost" {
        out.extend(localhost.and_then(parse_seccomp));
    }
}

fn apparmor_ref(type_: &str, localhost: Option<&str>, out: &mut Vec<RefKey>) {
    if type_ == "Localhost" {
        out.extend(localhost.and_then(parse_apparmor));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    fn key(kind: RefKind, name: &str) -> RefKey {
        RefKey::for_profile(kind, name)
    }

    #[test]
    fn seccomp_references_round_trip() {
        let web = key(RefKind::Seccomp, "web.v2");
        assert_eq!(seccomp_current("web.v2"), "operator/web.v2.json");
        assert_eq!(parse_seccomp(&seccomp_current("web.v2")), Some(web.clone()));
        assert_eq!(parse_seccomp(&seccomp_version("web.v2", D)), Some(web));
        for bad in [
            "operator/web",
            "profiles/web.json",
            "operator/web/notadigest.json",
            "operator/web/sub/x.json",
            &format!("operator/web/{D}/x.json"),
            "operator/Web.json",
            "operator/.json",
        ] {
            assert_eq!(parse_seccomp(bad), None, "{bad}");
        }
    }

    #[test]
    fn selinux_and_apparmor_references() {
        assert_eq!(selinux_type("logs-reader"), "logs-reader.process");
        assert_eq!(parse_selinux(&selinux_type("logs-reader")), Some(key(RefKind::Selinux, "logs-reader")));
        assert_eq!(parse_selinux("container_t"), None);
        assert_eq!(parse_selinux("a.b.process"), None);
        assert_eq!(parse_selinux("Web.process"), None);
        assert_eq!(parse_apparmor("web"), Some(key(RefKind::AppArmor, "web")));
        assert_eq!(parse_apparmor("runtime/default"), None);
    }

    fn pod(value: serde_json::Value) -> Pod {
        serde_json::from_value(value).expect("pod")
    }

    #[test]
    fn every_place_a_pod_can_reference_a_profile() {
        let p = pod(serde_json::json!({
            "metadata": {"name": "p", "namespace": "app", "annotations": {
                "container.apparmor.security.beta.kubernetes.io/old": "localhost/legacy-aa",
                "seccomp.security.alpha.kubernetes.io/pod": "localhost/operator/legacy-pod.json",
                "container.seccomp.security.alpha.kubernetes.io/c": "localhost/operator/legacy-container.json",
                "unrelated": "localhost/nothing",
            }},
            "spec": {
                "securityContext": {
                    "seccompProfile": {"type": "Localhost", "localhostProfile": "operator/pod-level.json"},
                    "seLinuxOptions": {"type": "sel.process"},
                },
                "containers": [
                    {"name": "a", "image": "x", "securityContext": {
                        "seccompProfile": {"type": "Localhost", "localhostProfile": format!("operator/versioned/{D}.json")},
                        "appArmorProfile": {"type": "Localhost", "localhostProfile": "aa-field"},
                    }},
                    {"name": "b", "image": "x", "securityContext": {
                        "seccompProfile": {"type": "RuntimeDefault"},
                    }},
                ],
                "initContainers": [{"name": "i", "image": "x", "securityContext": {
                    "seccompProfile": {"type": "Localhost", "localhostProfile": "operator/init.json"},
                }}],
                "ephemeralContainers": [{"name": "e", "image": "x", "securityContext": {
                    "seLinuxOptions": {"type": "debug.process"},
                }}],
            },
        }));
        let mut want = vec![
            key(RefKind::Seccomp, "pod-level"),
            key(RefKind::Seccomp, "versioned"),
            key(RefKind::Seccomp, "init"),
            key(RefKind::Seccomp, "legacy-pod"),
            key(RefKind::Seccomp, "legacy-container"),
            key(RefKind::Selinux, "debug"),
            key(RefKind::Selinux, "sel"),
            key(RefKind::AppArmor, "aa-field"),
            key(RefKind::AppArmor, "legacy-aa"),
        ];
        want.sort();
        assert_eq!(pod_references(&p), want);
    }

    #[test]
    fn finished_pods_reference_nothing() {
        let spec = serde_json::json!({"containers": [{"name": "a", "image": "x", "securityContext": {
            "seccompProfile": {"type": "Localhost", "localhostProfile": "operator/web.json"}}}]});
        for (phase, used) in
            [("Pending", true), ("Running", true), ("Unknown", true), ("Succeeded", false), ("Failed", false)]
        {
            let p = pod(serde_json::json!({"metadata": {"name": "p"}, "spec": spec, "status": {"phase": phase}}));
            assert_eq!(!pod_references(&p).is_empty(), used, "{phase}");
        }
    }

    #[test]
    fn duplicates_collapse() {
        let sc = serde_json::json!({"seccompProfile": {"type": "Localhost", "localhostProfile": "operator/web.json"}});
        let p = pod(serde_json::json!({"metadata": {"name": "p"}, "spec": {
            "securityContext": sc,
            "containers": [{"name": "a", "image": "x", "securityContext": sc}, {"name": "b", "image": "x", "securityContext": sc}],
        }}));
        assert_eq!(pod_references(&p), vec![key(RefKind::Seccomp, "web")]);
    }
}
