//! Namespace policy: a profile may name the namespaces allowed to use it
//! (`spec.allowedNamespaces`), and a pod in any other namespace that
//! references it — directly in a security context or an AppArmor
//! annotation, or through a binding — is refused. Profiles without the
//! field are usable everywhere, and a reference to a profile the caches
//! do not know is not judged here (there is no policy to enforce yet; the
//! kubelet will not start the container without the file anyway).
//!
//! A pod's security contexts and AppArmor annotations cannot change once it
//! exists, with one exception: ephemeral containers (`kubectl debug`) are
//! added through the `pods/ephemeralcontainers` subresource and carry their
//! own security context. Such an update is judged by the references it
//! adds only, so a pod admitted before a profile's restriction can still be
//! debugged with profiles it may use.

use k8s_openapi::api::core::v1::Pod;

use super::cache::{Caches, FoundProfile};
use super::validate::Verdict;
use crate::controller::references::pod_references;

/// The sentence that refuses `found` to a pod or binding in `namespace`.
pub fn refusal(found: &FoundProfile, namespace: &str) -> String {
    let allowed = found.allowed_namespaces.as_deref().unwrap_or_default();
    let list = if allowed.is_empty() { "none".to_owned() } else { allowed.join(", ") };
    format!(
        "{} {} may not be used in namespace {namespace}: its spec.allowedNamespaces allows only [{list}]",
        found.kind, found.name
    )
}

/// Every refusal for a pod in `namespace`: one line per profile it may
/// not use, among the references `before` (the pod before an update) did
/// not have.
pub fn refusals(caches: &Caches, pod: &Pod, before: Option<&Pod>, namespace: &str) -> Vec<String> {
    let old = before.map(pod_references).unwrap_or_default();
    let mut out = Vec::new();
    for r in pod_references(pod).into_iter().filter(|r| !old.contains(r)) {
        for found in caches.resolve(&r) {
            if !found.allows(namespace) {
                out.push(refusal(&found, namespace));
            }
        }
    }
    out
}

/// Admit or refuse a pod in `namespace` by the profiles it references
/// (on an update, by those it adds to `before`).
pub fn check_pod(caches: &Caches, pod: &Pod, before: Option<&Pod>, namespace: &str) -> Verdict {
    let lines = refusals(caches, pod, before, namespace);
    if lines.is_empty() {
        return Verdict::allow();
    }
    let name = match (&pod.metadata.name, &pod.metadata.generate_name) {
        (Some(n), _) => n.clone(),
        (None, Some(g)) => format!("{g}*"),
        (None, None) => String::new(),
    };
    let what = if before.is_some() { "the update of pod" } else { "pod" };
    Verdict::deny(format!("{what} {namespace}/{name} is refused by namespace policy:\n{}", lines.join("\n")))
}
