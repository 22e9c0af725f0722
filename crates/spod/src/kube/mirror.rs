//! Profile objects as manifests in a directory the agent scans.
//!
//! The agent already knows how to turn a directory of manifests into
//! profiles in force, with versions, in-use tracking and a status; the
//! Kubernetes side only has to keep that directory equal to the cluster.
//! Each watched object becomes `MIRROR/KIND.NAME.json` holding what
//! decides its effect (kind, name, the mode annotation and the spec), never its status, so status updates by the operator write
//! nothing. Files are replaced by rename and never fsynced: the mirror is
//! derived from the API server and rebuilt from it at every start.

use std::fs;
use std::path::{Path, PathBuf};

use serde_json::{json, Map, Value};

use crate::SpodError;
use spo_node::agent::manifests::MODE_ANNOTATION;
use spo_node::status::ProfileKind;

/// One profile object: its kind and name (profiles are cluster-wide).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ProfileKey {
    /// The kind.
    pub kind: ProfileKind,
    /// The name.
    pub name: String,
}

impl ProfileKey {
    /// A key.
    pub fn new(kind: ProfileKind, name: impl Into<String>) -> ProfileKey {
        ProfileKey { kind, name: name.into() }
    }

    /// The name the agent gives the profile: the object's.
    pub fn agent_name(&self) -> String {
        self.name.clone()
    }
}

fn kind_stem(kind: ProfileKind) -> String {
    kind.as_str().to_ascii_lowercase()
}

/// The manifest of a profile object: `apiVersion`, `kind`, the name and
/// mode annotation, and the spec.
pub fn manifest(key: &ProfileKey, object: &Value) -> Vec<u8> {
    let mut metadata = Map::new();
    metadata.insert("name".into(), json!(key.name));
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

/// The mirror directory: `MIRROR/KIND.NAME.json`, one file per object.
#[derive(Debug, Clone)]
pub struct Mirror {
    dir: PathBuf,
}

impl Mirror {
    /// The mirror in `dir`, created if needed. Anything but a manifest
    /// file there (the per-namespace directories of an older spod) is
    /// removed: the mirror is rebuilt from the API server at every start.
    pub fn open(dir: impl Into<PathBuf>) -> Result<Mirror, SpodError> {
        let dir = dir.into();
        spo_node::store::atomic::ensure_dir(&dir)?;
        if let Ok(entries) = fs::read_dir(&dir) {
            for e in entries.flatten() {
                if e.file_type().is_ok_and(|t| t.is_dir()) {
                    let path = e.path();
                    fs::remove_dir_all(&path).map_err(|source| SpodError::Io { op: "remove", path, source })?;
                }
            }
        }
        Ok(Mirror { dir })
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Where the manifest of `key` is.
    pub fn path(&self, key: &ProfileKey) -> PathBuf {
        self.dir.join(format!("{}.{}.json", kind_stem(key.kind), key.name))
    }

    /// The key a manifest path stands for.
    pub fn key_of(&self, path: &Path) -> Option<ProfileKey> {
        let rel = path.strip_prefix(&self.dir).ok()?;
        let mut parts = rel.iter();
        let file = parts.next()?.to_str()?;
        if parts.next().is_some() {
            return None;
        }
        let (stem, name) = file.strip_suffix(".json")?.split_once('.')?;
        let kind = ProfileKind::ALL.into_iter().find(|k| kind_stem(*k) == stem)?;
        Some(ProfileKey::new(kind, name))
    }

    /// Make the manifest of `key` hold `bytes`; returns whether it changed.
    pub fn write(&self, key: &ProfileKey, bytes: &[u8]) -> Result<bool, SpodError> {
        let path = self.path(key);
        if fs::read(&path).ok().as_deref() == Some(bytes) {
            return Ok(false);
        }
        // Hidden, so the scanner never reads it half-written.
        let tmp = self.dir.join(format!(".{}.{}.tmp", kind_stem(key.kind), key.name));
        fs::write(&tmp, bytes).map_err(|source| SpodError::Io { op: "write", path: tmp.clone(), source })?;
        fs::rename(&tmp, &path).map_err(|source| SpodError::Io {
            op: "rename into place",
            path: path.clone(),
            source,
        })?;
        Ok(true)
    }

    /// Remove the manifest of `key`.
    pub fn remove(&self, key: &ProfileKey) -> Result<(), SpodError> {
        let path = self.path(key);
        match fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(source) => Err(SpodError::Io { op: "remove", path, source }),
        }
    }

    /// Every profile with a manifest.
    pub fn keys(&self) -> Vec<ProfileKey> {
        let mut out: Vec<ProfileKey> =
            fs::read_dir(&self.dir).into_iter().flatten().flatten().filter_map(|f| self.key_of(&f.path())).collect();
        out.sort();
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use spo_node::agent::manifests::parse_file;
    use spo_node::status::Mode;

    fn object() -> Value {
        json!({
            "apiVersion": "security-profiles-operator.x-k8s.io/v1",
            "kind": "SeccompProfile",
            "metadata": {
                "name": "web", "uid": "u-1", "resourceVersion": "7",
                "annotations": {"spo-rs.io/mode": "complain", "kubectl.kubernetes.io/last-applied-configuration": "{}"},
            },
            "spec": {"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"action": "SCMP_ACT_ALLOW", "names": ["read"]}]},
            "status": {"status": "Installed", "activeWorkloads": ["team-a/pod"]},
        })
    }

    #[test]
    fn manifests_keep_what_decides_the_effect_and_nothing_else() {
        let key = ProfileKey::new(ProfileKind::SeccompProfile, "web");
        let text = String::from_utf8(manifest(&key, &object())).unwrap();
        let v: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["metadata"], json!({"name": "web", "annotations": {"spo-rs.io/mode": "complain"}}));
        assert!(v.get("status").is_none());
        // A status change writes the same bytes.
        let mut o = object();
        o["status"]["status"] = json!("Error");
        o["metadata"]["resourceVersion"] = json!("8");
        assert_eq!(manifest(&key, &o), text.as_bytes());
        // The agent reads it back under the object's name, in complain mode.
        let f = parse_file(Path::new("/m/seccompprofile.web.json"), text);
        assert!(f.problems.is_empty(), "{:?}", f.problems);
        assert_eq!(f.docs[0].name, "web");
        assert_eq!(f.docs[0].mode, Mode::Complain);
    }

    #[test]
    fn paths_and_keys_round_trip_and_writes_are_idempotent() {
        let d = tempfile::tempdir().unwrap();
        let m = Mirror::open(d.path().join("mirror")).unwrap();
        let keys = [
            ProfileKey::new(ProfileKind::SeccompProfile, "web.v2"),
            ProfileKey::new(ProfileKind::SelinuxProfile, "web-v2"),
            ProfileKey::new(ProfileKind::RawSelinuxProfile, "x"),
            ProfileKey::new(ProfileKind::AppArmorProfile, "y"),
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
        assert_eq!(fs::read_dir(m.dir()).unwrap().count(), 0);
    }

    #[test]
    fn an_older_per_namespace_mirror_is_cleared() {
        let d = tempfile::tempdir().unwrap();
        let old = d.path().join("mirror/team-a");
        fs::create_dir_all(&old).unwrap();
        fs::write(old.join("seccompprofile.web.json"), b"{}").unwrap();
        let m = Mirror::open(d.path().join("mirror")).unwrap();
        assert!(!old.exists());
        assert!(m.keys().is_empty());
    }
}
