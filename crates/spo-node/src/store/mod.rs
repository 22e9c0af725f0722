//! The content-addressed profile store.
//!
//! Every installed profile has one *current* file, the path consumers are
//! told about (`DIR/NAME.EXT`, e.g. the kubelet's
//! `seccomp/operator/NAME.json`), and one immutable copy per version
//! (`DIR/NAME/SHA256.EXT`). A new version is written in full, under its
//! hash, before the current file is switched to it, so the previous version
//! stays in force until the new one is complete, and a process started from
//! an old version can still be matched to its exact text while it runs.
//! All writes go through [`atomic`].

pub mod atomic;

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::NodeError;

/// The SHA-256 of `bytes`, in lowercase hexadecimal.
pub fn sha256_hex(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    let mut s = String::with_capacity(64);
    for b in digest {
        s.push(char::from_digit(u32::from(b >> 4), 16).unwrap_or('0'));
        s.push(char::from_digit(u32::from(b & 15), 16).unwrap_or('0'));
    }
    s
}

/// Where one version of a profile landed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    /// SHA-256 of the content.
    pub hash: String,
    /// The current file (what consumers reference).
    pub path: PathBuf,
    /// The immutable per-version copy.
    pub version_path: PathBuf,
    /// Whether anything had to be written (false when the current file
    /// already held exactly this content).
    pub written: bool,
}

/// A directory of current files plus per-version copies.
#[derive(Debug, Clone)]
pub struct VersionedStore {
    dir: PathBuf,
    ext: &'static str,
}

impl VersionedStore {
    /// A store in `dir` for files ending in `.ext`; creates the directory
    /// and removes temporary files left by a crash.
    pub fn open(dir: impl Into<PathBuf>, ext: &'static str) -> Result<VersionedStore, NodeError> {
        let dir = dir.into();
        atomic::ensure_dir(&dir)?;
        atomic::clean_debris(&dir);
        Ok(VersionedStore { dir, ext })
    }

    /// The store's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Path of the current file of `name`.
    pub fn current_path(&self, name: &str) -> PathBuf {
        self.dir.join(format!("{name}.{}", self.ext))
    }

    /// Path of version `hash` of `name`.
    pub fn version_path(&self, name: &str, hash: &str) -> PathBuf {
        self.dir.join(name).join(format!("{hash}.{}", self.ext))
    }

    /// The hash of the current file of `name`, if there is one.
    pub fn current_hash(&self, name: &str) -> Option<String> {
        fs::read(self.current_path(name)).ok().map(|b| sha256_hex(&b))
    }

    /// Install `bytes` as the current version of `name`: first the version
    /// copy, then the current file, each atomically. Content already in
    /// place is not rewritten. `name` must already be checked
    /// ([`spo_model::objname::check_object_name`]).
    pub fn install(&self, name: &str, bytes: &[u8]) -> Result<Stored, NodeError> {
        let hash = sha256_hex(bytes);
        let path = self.current_path(name);
        let version_path = self.version_path(name, &hash);
        let mut written = false;
        if fs::read(&version_path).ok().as_deref() != Some(bytes) {
            atomic::ensure_dir(&self.dir.join(name))?;
            atomic::write_atomic(&version_path, bytes)?;
            written = true;
        }
        if fs::read(&path).ok().as_deref() != Some(bytes) {
            atomic::write_atomic(&path, bytes)?;
            written = true;
        }
        Ok(Stored { hash, path, version_path, written })
    }

    /// Install several profiles at once with the guarantee of
    /// [`VersionedStore::install`] for each, at the cost of two file-system
    /// syncs in all: every version copy lands before any current file
    /// moves. Returns one result per item, in order.
    pub fn install_many(&self, items: &[(&str, &[u8])]) -> Vec<Result<Stored, NodeError>> {
        let mut out: Vec<Result<Stored, NodeError>> = Vec::with_capacity(items.len());
        let mut versions = Vec::new();
        let mut currents = Vec::new();
        for (name, bytes) in items {
            let hash = sha256_hex(bytes);
            let path = self.current_path(name);
            let version_path = self.version_path(name, &hash);
            let mut written = false;
            let r = (|| {
                if fs::read(&version_path).ok().as_deref() != Some(*bytes) {
                    atomic::ensure_dir(&self.dir.join(name))?;
                    versions.push(atomic::stage(&version_path, bytes)?);
                    written = true;
                }
                if fs::read(&path).ok().as_deref() != Some(*bytes) {
                    currents.push(atomic::stage(&path, bytes)?);
                    written = true;
                }
                Ok(())
            })();
            out.push(r.map(|()| Stored { hash, path, version_path, written }));
        }
        versions.extend(currents);
        if let Err(e) = atomic::commit_staged(&self.dir, versions) {
            let msg = e.to_string();
            return out
                .into_iter()
                .map(|r| {
                    r.and_then(|s| {
                        if s.written {
                            Err(NodeError::Io {
                                op: "commit the batch containing",
                                path: s.path,
                                source: std::io::Error::other(msg.clone()),
                            })
                        } else {
                            Ok(s)
                        }
                    })
                })
                .collect();
        }
        out
    }

    /// Remove the current file of `name` (its versions stay until
    /// [`VersionedStore::prune`] drops them).
    pub fn remove_current(&self, name: &str) -> Result<(), NodeError> {
        atomic::remove_durable(&self.current_path(name))
    }

    /// The versions of `name` on disk.
    pub fn versions(&self, name: &str) -> BTreeSet<String> {
        let suffix = format!(".{}", self.ext);
        let Ok(entries) = fs::read_dir(self.dir.join(name)) else {
            return BTreeSet::new();
        };
        entries
            .flatten()
            .filter_map(|e| e.file_name().to_str()?.strip_suffix(&suffix).map(str::to_owned))
            .filter(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()))
            .collect()
    }

    /// Remove every version of `name` not in `keep`, and the version
    /// directory once empty. Returns the versions removed.
    pub fn prune(&self, name: &str, keep: &BTreeSet<String>) -> Result<Vec<String>, NodeError> {
        let mut removed = Vec::new();
        for h in self.versions(name) {
            if !keep.contains(&h) {
                atomic::remove_durable(&self.version_path(name, &h))?;
                removed.push(h);
            }
        }
        let vdir = self.dir.join(name);
        atomic::clean_debris(&vdir);
        if keep.is_empty() && fs::remove_dir(&vdir).is_ok() {
            atomic::sync_dir(&self.dir)?;
            // The namespace directory goes with its last profile.
            if let Some((ns, _)) = name.split_once('/') {
                if !self.current_path(name).exists() {
                    let _ = fs::remove_dir(self.dir.join(ns));
                }
            }
        }
        Ok(removed)
    }

    /// Names with a current file or a version directory in the store. A
    /// directory holding profiles rather than versions is a namespace of
    /// spo-rs's earlier namespaced layout: its profiles are named
    /// `NAMESPACE/NAME`, so the agent finds them unknown and removes them.
    pub fn names(&self) -> BTreeSet<String> {
        let mut out = BTreeSet::new();
        self.collect_names(&self.dir, "", &mut out);
        out
    }

    fn collect_names(&self, dir: &Path, prefix: &str, out: &mut BTreeSet<String>) {
        let suffix = format!(".{}", self.ext);
        let Ok(entries) = fs::read_dir(dir) else {
            return;
        };
        for e in entries.flatten() {
            let Some(n) = e.file_name().to_str().map(str::to_owned) else {
                continue;
            };
            if n.starts_with(atomic::TMP_PREFIX) {
                continue;
            }
            let is_dir = e.file_type().is_ok_and(|t| t.is_dir());
            if is_dir && prefix.is_empty() && self.is_namespace_dir(&e.path()) {
                self.collect_names(&e.path(), &format!("{n}/"), out);
                continue;
            }
            let name = if is_dir { Some(n.as_str()) } else { n.strip_suffix(&suffix) };
            if let Some(name) = name.filter(|n| spo_model::objname::check_object_name(n).is_ok()) {
                out.insert(format!("{prefix}{name}"));
            }
        }
    }

    /// Whether `dir` holds anything but version files.
    fn is_namespace_dir(&self, dir: &Path) -> bool {
        let suffix = format!(".{}", self.ext);
        let Ok(entries) = fs::read_dir(dir) else {
            return false;
        };
        entries.flatten().any(|e| {
            let n = e.file_name();
            let n = n.to_str().unwrap_or_default();
            let version =
                n.strip_suffix(&suffix).is_some_and(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()));
            !version && !n.starts_with(atomic::TMP_PREFIX)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_kept_beside_the_current_file_until_pruned() {
        let d = tempfile::tempdir().unwrap();
        let s = VersionedStore::open(d.path().join("operator"), "json").unwrap();
        let a = s.install("p", b"{\"a\":1}").unwrap();
        assert!(a.written);
        assert_eq!(a.hash, sha256_hex(b"{\"a\":1}"));
        assert!(!s.install("p", b"{\"a\":1}").unwrap().written);
        let b = s.install("p", b"{\"b\":2}").unwrap();
        assert_eq!(fs::read(&b.path).unwrap(), b"{\"b\":2}");
        assert_eq!(fs::read(&a.version_path).unwrap(), b"{\"a\":1}");
        assert_eq!(s.versions("p").len(), 2);
        assert_eq!(s.current_hash("p").as_deref(), Some(b.hash.as_str()));
        let removed = s.prune("p", &[b.hash.clone()].into()).unwrap();
        assert_eq!(removed, [a.hash]);
        assert_eq!(s.names(), ["p".to_owned()].into());
        s.remove_current("p").unwrap();
        s.prune("p", &BTreeSet::new()).unwrap();
        assert!(s.names().is_empty());
    }

    #[test]
    fn namespaced_names_live_in_namespace_directories() {
        let d = tempfile::tempdir().unwrap();
        let s = VersionedStore::open(d.path().join("operator"), "json").unwrap();
        let a = s.install("team-a/web", b"{}").unwrap();
        assert_eq!(a.path, d.path().join("operator/team-a/web.json"));
        assert!(a.version_path.starts_with(d.path().join("operator/team-a/web")));
        s.install("plain", b"{}").unwrap();
        s.install("team-b/web", b"{\"x\":1}").unwrap();
        let names: Vec<String> = s.names().into_iter().collect();
        assert_eq!(names, ["plain", "team-a/web", "team-b/web"]);
        s.remove_current("team-a/web").unwrap();
        s.prune("team-a/web", &BTreeSet::new()).unwrap();
        let names: Vec<String> = s.names().into_iter().collect();
        assert_eq!(names, ["plain", "team-b/web"]);
    }

    #[test]
    fn hashes_are_hex_sha256() {
        assert_eq!(sha256_hex(b"abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }
}
