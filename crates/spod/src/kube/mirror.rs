//! Profile objects as manifests in a directory the agent scans.
//!
//! The agent already knows how to turn a directory of manifests into
//! profiles in force, with versions, in-use tracking and a status; the
//! Kubernetes side only has to keep that directory equal to the cluster.
//! Each watched object becomes `MIRROR/NAMESPACE/KIND.NAME.json` holding
//! what decides its effect (kind, name, namespace, the mode annotation and
//! the spec), never its status, so status updates by the operator write
//! nothing. Files are replaced by rename and never fsynced: the mirror is
//! derived from the API server and rebuilt from it at every start.

use std::fs;
use std::path::{Path, PathBuf};

use serde_json::{json, Map, Value};

use spo_node::agent::manifests::MODE_ANNOTATION;
use spo_node::status::ProfileKind;
use crate::SpodError;

/// One profile object: its kind, namespace and name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ProfileKey {
    /// The kind.
    pub kind: ProfileKind,
    /// The namespace.
    pub namespace: String,
    /// The name.
    pub name: String,
}

impl ProfileKey {
    /// A key.
    pub fn new(kind: ProfileKind, namespace: impl Into<String>, name: impl Into<String>) -> ProfileKey {
        ProfileKey { kind, namespace: namespace.into(), name: name.into() }
    }

    /// The name the agent gives the profile (`NAMESPACE/NAME`).
    pub fn agent_name(&self) -> String {
        format!("{}/{}", self.namespace, self.name)
    }
}

fn kind_stem(kind: ProfileKind) -> String {
    kind.as_str().to_ascii_lowercase()
}

/// The manifest of a profile object: `apiVersion`, `kind`, the name,
/// namespace and mode annotation, and the spec.
pub fn manifest(key: &ProfileKey, object: &Value) -> Vec<u8> {
    let mut metadata = Map::new();
    metadata.insert("name".into(), json!(key.name));
    metadata.insert("namespace".into(), json!(key.namespace));
    if let Some(mode) = object.pointer("/metadata/annotations").and_then(|a| a.get(MODE_ANNOTATION)) {
        metadata.insert("annotations".into(), json!({ MODE_ANNOTATION: mode }));
    }
    let doc = json!({
        "apiVersion": object.get("apiVersion").cloned().unwrap_or_else(|| json!(spo_api::crds::GROUP)),
        "kind": key.kind.as_str(),
        "metadata": metadata,
        "spec": object.get("spec").cloned().unwrap_or_else(|| json!({})),
    });
    let mut out = serde_json::to_vec_pretty(&doc).unwrap_or_default();
    out.push(b'\n');
    out
}

/// The mirror directory.
#[derive(Debug, Clone)]
pub struct Mirror {
    dir: PathBuf,
}

impl Mirror {
    /// The mirror in `dir`, created if needed.
    pub fn open(dir: impl Into<PathBuf>) -> Result<Mirror, SpodError> {
        let dir = dir.into();
        spo_node::store::atomic::ensure_dir(&dir)?;
        Ok(Mirror { dir })
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Where the manifest of `key` is.
    pub fn path(&self, key: &ProfileKey) -> PathBuf {
        self.dir.join(&key.namespace).join(format!("{}.{}.json", kind_stem(key.kind), key.name))
    }

    /// The key a manifest path stands for.
    pub fn key_of(&self, path: &Path) -> Option<ProfileKey> {
        let rel = path.strip_prefix(&self.dir).ok()?;
        let mut parts = rel.iter();
        let namespace = parts.next()?.to_str()?;
        let file = parts.next()?.to_str()?;
        if parts.next().is_some() {
            return None;
        }
        let (stem, name) = file.strip_suffix(".json")?.split_once('.')?;
        let kind = ProfileKind::ALL.into_iter().find(|k| kind_stem(*k) == stem)?;
        Some(ProfileKey::new(kind, namespace, name))
    }

    /// Make the manifest of `key` hold `bytes`; returns whether it changed.
    pub fn write(&self, key: &ProfileKey, bytes: &[u8]) -> Result<bool, SpodError> {
        let path = self.path(key);
        if fs::read(&path).ok().as_deref() == Some(bytes) {
            return Ok(false);
        }
        let dir = self.dir.join(&key.namespace);
        spo_node::store::atomic::ensure_dir(&dir)?;
        // Hidden, so the scanner never reads it half-written.
        let tmp = dir.join(format!(".{}.{}.tmp", kind_stem(key.kind), key.name));
        fs::write(&tmp, bytes).map_err(|source| SpodError::Io { op: "write", path: tmp.clone(), source })?;
        fs::rename(&tmp, &path).map_err(|source| SpodError::Io {
            op: "rename into place",
            path: path.clone(),
            source,
        })?;
        Ok(true)
    }

    /// Remove the manifest of `key` (and its namespace directory once
    /// empty).
    pub fn remove(&self, key: &ProfileKey) -> Result<(), SpodError> {
        let path = self.path(key);
        match fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(source) => return Err(SpodError::Io { op: "remove", path, source }),
        }
        let _ = fs::remove_dir(self.dir.join(&key.namespace));
        Ok(())
    }

    /// Every profile with a manifest.
    pub fn keys(&self) -> Vec<ProfileKey> {
        let mut out = Vec::new();
        let Ok(namespaces) = fs::read_dir(&self.dir) else {
            return out;
        };
        for ns in namespaces.flatten() {
            let Ok(files) = fs::read_dir(ns.path()) else {
                continue;
            };
            out.extend(files.flatten().filter_map(|f| self.key_of(&f.path())));
        }
        out.sort();
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use spo_node::agent::manifests::parse_file_namespaced;
    use spo_node::status::Mode;

    fn object() -> Value {
        json!({
            "apiVersion": "security-profiles-operator.x-k8s.io/v1",
            "kind": "SeccompProfile",
            "metadata": {
                "name": "web", "namespace": "team-a", "uid": "u-1", "resourceVersion": "7",
                "annotations": {"spo-rs.io/mode": "complain", "kubectl.kubernetes.io/last-applied-configuration": "{}"},
            },
            "spec": {"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"action": "SCMP_ACT_ALLOW", "names": ["read"]}]},
            "status": {"status": "Installed", "activeWorkloads": ["team-a/pod"]},
        })
    }

    #[test]
    fn manifests_keep_what_decides_the_effect_and_nothing_else() {
        let key = ProfileKey::new(ProfileKind::SeccompProfile, "team-a", "web");
        let text = String::from_utf8(manifest(&key, &object())).unwrap();
        let v: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(
            v["metadata"],
            json!({"name": "web", "namespace": "team-a", "annotations": {"spo-rs.io/mode": "complain"}})
        );
        assert!(v.get("status").is_none());
        // A status change writes the same bytes.
        let mut o = object();
        o["status"]["status"] = json!("Error");
        o["metadata"]["resourceVersion"] = json!("8");
        assert_eq!(manifest(&key, &o), text.as_bytes());
        // The agent reads it back under the namespaced name, in complain mode.
        let f = parse_file_namespaced(Path::new("/m/team-a/seccompprofile.web.json"), text, true);
        assert!(f.problems.is_empty(), "{:?}", f.problems);
        assert_eq!(f.docs[0].name, "team-a/web");
        assert_eq!(f.docs[0].mode, Mode::Complain);
    }

    #[test]
    fn paths_and_keys_round_trip_and_writes_are_idempotent() {
        let d = tempfile::tempdir().unwrap();
        let m = Mirror::open(d.path().join("mirror")).unwrap();
        let keys = [
            ProfileKey::new(ProfileKind::SeccompProfile, "team-a", "web.v2"),
            ProfileKey::new(ProfileKind::SelinuxProfile, "team-a", "web.v2"),
            ProfileKey::new(ProfileKind::RawSelinuxProfile, "b", "x"),
            ProfileKey::new(ProfileKind::AppArmorProfile, "b", "y"),
        ];
        for k in &keys {
            assert_eq!(m.key_of(&m.path(k)).as_ref(), Some(k));
            assert!(m.write(k, b"{}").unwrap());
            assert!(!m.write(k, b"{}").unwrap());
        }
        let mut sorted = keys.to_vec();
        sorted.sort();
        assert_eq!(m.keys(), sorted);
        assert!(m.write(&keys[0], b"{\"a\":1}").unwrap());
        for k in &keys {
            m.remove(k).unwrap();
        }
        assert!(m.keys().is_empty());
        assert_eq!(fs::read_dir(m.dir()).unwrap().count(), 0, "namespace directories go with their last file");
    }
}
