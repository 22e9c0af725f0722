//! From a container id to what the runtime was told: the OCI bundle.
//!
//! Every OCI runtime keeps the container's `config.json` in a state
//! directory while it runs. That file has the pod coordinates (the CRI
//! annotations containerd and CRI-O write), the seccomp filter the runtime
//! loaded (inline: the kubelet's `localhostProfile` file was read and
//! copied in), and the SELinux and AppArmor labels. Reading it needs no
//! CRI client and works for `ctr`, podman and Docker containers too.
//!
//! The inline seccomp section cannot name the profile it came from, so it
//! is *canonicalised* (lowered, resolved, written back with the same
//! writer the installer uses) and hashed: equal to an installed version's
//! hash exactly when it is that version.

use std::fs;
use std::path::{Path, PathBuf};

use serde_json::Value;
use spo_model::seccomp::{resolve, Target};
use spo_parse::value::parse_json;

use crate::agent::seccomp::to_oci_json;
use crate::status::PodRef;
use crate::store::sha256_hex;

/// Where runtimes keep running containers' bundles; `{id}` is replaced.
pub const DEFAULT_BUNDLE_PATTERNS: &[&str] = &[
    "/run/containerd/io.containerd.runtime.v2.task/*/{id}/config.json",
    "/run/containers/storage/overlay-containers/{id}/userdata/config.json",
    "/var/run/containers/storage/overlay-containers/{id}/userdata/config.json",
    "/run/docker/runtime-runc/moby/{id}/config.json",
];

/// What a container was supposed to get.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContainerInfo {
    /// The bundle's `config.json`.
    pub config: PathBuf,
    /// Pod coordinates from the CRI annotations.
    pub pod: Option<PodRef>,
    /// The hash of the canonical form of its seccomp filter, when it has one.
    pub seccomp_hash: Option<String>,
    /// Whether a seccomp section is present.
    pub has_seccomp: bool,
    /// `process.selinuxLabel`.
    pub selinux_label: Option<String>,
    /// `process.apparmorProfile`.
    pub apparmor_profile: Option<String>,
}

/// Find and read the bundle of container `id`.
pub fn find(patterns: &[String], id: &str) -> Option<ContainerInfo> {
    if id.is_empty() || id.contains('/') || id.contains("..") {
        return None;
    }
    for pat in patterns {
        let pat = pat.replace("{id}", id);
        for path in expand_star(&pat) {
            if let Ok(text) = fs::read_to_string(&path) {
                return Some(read(&path, &text));
            }
        }
    }
    None
}

/// Expand one `*` component.
fn expand_star(pat: &str) -> Vec<PathBuf> {
    let Some((head, tail)) = pat.split_once("/*/") else {
        return vec![PathBuf::from(pat)];
    };
    let Ok(entries) = fs::read_dir(head) else {
        return Vec::new();
    };
    entries.flatten().map(|e| e.path().join(tail)).collect()
}

/// Read a bundle's `config.json`.
pub fn read(path: &Path, text: &str) -> ContainerInfo {
    let v: Value = serde_json::from_str(text).unwrap_or(Value::Null);
    let ann = |k: &str| v.pointer("/annotations").and_then(|a| a.get(k)).and_then(Value::as_str).map(str::to_owned);
    let pod = match (
        ann("io.kubernetes.cri.sandbox-namespace").or_else(|| ann("io.kubernetes.pod.namespace")),
        ann("io.kubernetes.cri.sandbox-name").or_else(|| ann("io.kubernetes.pod.name")),
        ann("io.kubernetes.cri.container-name").or_else(|| ann("io.kubernetes.container.name")),
    ) {
        (Some(namespace), Some(pod), container) => {
            Some(PodRef { namespace, pod, container: container.unwrap_or_default() })
        }
        _ => None,
    };
    let seccomp = v.pointer("/linux/seccomp").filter(|s| !s.is_null());
    ContainerInfo {
        config: path.to_owned(),
        pod,
        has_seccomp: seccomp.is_some(),
        seccomp_hash: seccomp.and_then(canonical_hash),
        selinux_label: v.pointer("/process/selinuxLabel").and_then(Value::as_str).map(str::to_owned),
        apparmor_profile: v.pointer("/process/apparmorProfile").and_then(Value::as_str).map(str::to_owned),
    }
}

/// The hash of the canonical form of an OCI seccomp object, comparable
/// with the hashes of installed versions.
pub fn canonical_hash(seccomp: &Value) -> Option<String> {
    let text = serde_json::to_string(seccomp).ok()?;
    canonical_hash_of_text(&text)
}

/// [`canonical_hash`] of OCI seccomp JSON text.
pub fn canonical_hash_of_text(text: &str) -> Option<String> {
    let (node, _) = parse_json(text);
    let (doc, diags) = spo_parse::seccomp::lower_document(&node?);
    if diags.iter().any(|d| d.is_error()) {
        return None;
    }
    let target = Target::default();
    let filter = resolve(&doc?.spec, &target);
    Some(sha256_hex(&to_oci_json(&filter)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cri_annotations_and_labels_are_read() {
        let cfg = r#"{"process": {"selinuxLabel": "system_u:system_r:container_t:s0", "apparmorProfile": "cri-containerd.apparmor.d"},
            "annotations": {"io.kubernetes.cri.sandbox-namespace": "prod", "io.kubernetes.cri.sandbox-name": "web-0", "io.kubernetes.cri.container-name": "nginx"},
            "linux": {"seccomp": {"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_X86_64"], "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW"}]}}}"#;
        let i = read(Path::new("/x/config.json"), cfg);
        assert_eq!(i.pod, Some(PodRef { namespace: "prod".into(), pod: "web-0".into(), container: "nginx".into() }));
        assert!(i.has_seccomp);
        assert!(i.seccomp_hash.is_some());
        assert_eq!(i.apparmor_profile.as_deref(), Some("cri-containerd.apparmor.d"));
        let plain = read(
            Path::new("/x/config.json"),
            r#"{"annotations": {"io.kubernetes.pod.namespace": "a", "io.kubernetes.pod.name": "b"}}"#,
        );
        assert_eq!(plain.pod.unwrap().pod, "b");
        assert!(!plain.has_seccomp);
    }
}
