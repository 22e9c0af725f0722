//! Watching the manifests directory.
//!
//! A 250 ms polling scan rather than inotify: it needs no extra crate and
//! no event queue that can overflow, it sees the symlink swaps with which
//! Kubernetes updates a mounted ConfigMap (`..data` is renamed, the files
//! themselves never change) and it works on every file system, network
//! ones included. A scan is one `readdir` and one `stat` per file, well
//! under a millisecond for a thousand manifests; only files whose size,
//! mtime, ctime or inode changed are read again.
//!
//! A file is read once it has been stable for one scan, or its mtime is
//! older than one scan interval: a half-written file (an editor writing in
//! place) is not reported as an error, and a burst of edits converges to
//! the last one.
//!
//! spod runs as root and publishes what it reads (status over HTTP and
//! into the cluster), so an entry is read only when it is a regular file
//! inside the manifests directory once its symlinks are resolved (the
//! `..data` links of a mounted ConfigMap stay inside; a link to
//! `/etc/shadow` does not), and no larger than [`Limits::file_size`]
//! (`spo_parse::files::read_text_within`). Any other entry is reported as
//! a problem of that file, with none of its content, and the versions in
//! force stay.

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use spo_model::objname::check_object_name;
use spo_parse::document::{kind_of, parse_documents_with, DocKind};
use spo_parse::files::{read_text_within, resolve_within};
use spo_parse::value::{Kind, Node};
use spo_parse::{Diagnostic, Limits, SourceMap};

use super::installer::ManifestDoc;
use crate::status::{Location, Mode, ProblemReport, ProfileKind};

/// The annotation that selects complain mode for any profile kind.
pub const MODE_ANNOTATION: &str = "spo-rs.io/mode";

/// What identifies a version of a file without reading it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Signature {
    len: u64,
    mtime_ns: i128,
    ctime_ns: i128,
    ino: u64,
}

#[derive(Debug)]
struct Tracked {
    /// Signature at the last scan.
    seen: Signature,
    /// Signature of the content last parsed.
    parsed: Option<Signature>,
}

/// The content of one manifest file, parsed.
#[derive(Debug, Clone)]
pub struct ParsedFile {
    /// The file.
    pub path: PathBuf,
    /// Its profile documents.
    pub docs: Vec<ManifestDoc>,
    /// Problems that belong to no profile (syntax, unknown kind, bad
    /// name), located.
    pub problems: Vec<ProblemReport>,
    /// Its text, for locating later diagnostics (shared with its
    /// documents' [`ManifestDoc::source`]).
    pub text: Arc<str>,
    /// The limits it was read within, so a reparse reads it alike.
    pub limits: Limits,
}

impl ParsedFile {
    /// Drop the documents' trees, keeping their spans and metadata: a
    /// thousand parsed profiles would otherwise stay in memory for good.
    /// [`ParsedFile::reparse`] brings them back when a document must be
    /// compiled again.
    pub fn strip(&mut self) {
        for d in &mut self.docs {
            d.node = Node { span: d.node.span, kind: Kind::Null };
        }
    }

    /// The documents with their trees, parsed again from the kept text.
    pub fn reparse(&self) -> Vec<ManifestDoc> {
        parse_file_limited(&self.path, self.text.clone(), &self.limits).docs
    }

    /// A file that was not read (outside the directory, not a regular
    /// file, too large): no documents, and why, with none of its content.
    pub fn refused(path: &Path, why: String, limits: &Limits) -> ParsedFile {
        ParsedFile {
            path: path.to_owned(),
            docs: Vec::new(),
            problems: vec![ProblemReport { location: None, message: why, help: None }],
            text: Arc::from(""),
            limits: *limits,
        }
    }
}

/// Changes found by one scan.
#[derive(Debug, Default)]
pub struct Changes {
    /// Files new or changed, parsed.
    pub changed: Vec<ParsedFile>,
    /// Files gone.
    pub removed: Vec<PathBuf>,
    /// Why the directory could not be read, when it could not.
    pub unreadable: Option<String>,
}

impl Changes {
    /// Whether nothing changed.
    pub fn is_empty(&self) -> bool {
        self.changed.is_empty() && self.removed.is_empty()
    }
}

/// Polls a directory of manifests.
#[derive(Debug)]
pub struct Scanner {
    dir: PathBuf,
    interval: Duration,
    files: BTreeMap<PathBuf, Tracked>,
    immediate: bool,
    limits: Limits,
}

impl Scanner {
    /// A scanner of `dir`, called every `interval`.
    pub fn new(dir: impl Into<PathBuf>, interval: Duration) -> Scanner {
        Scanner { dir: dir.into(), interval, files: BTreeMap::new(), immediate: false, limits: Limits::default() }
    }

    /// Read manifests within `limits`.
    pub fn limits(mut self, limits: Limits) -> Scanner {
        self.limits = limits;
        self
    }

    /// Read every changed file at once instead of waiting for it to settle:
    /// for a directory whose only writer replaces files atomically (the
    /// Kubernetes mirror), where no half-written file can be seen.
    pub fn immediate(mut self, on: bool) -> Scanner {
        self.immediate = on;
        self
    }

    /// Whether every file seen has been read at its current version (no
    /// file is waiting to settle).
    pub fn settled(&self) -> bool {
        self.files.values().all(|t| t.parsed == Some(t.seen))
    }

    /// Look for changes. When the directory itself cannot be read (not
    /// mounted yet, permissions), nothing is reported: an unreadable
    /// directory must not look like one whose manifests were all deleted.
    pub fn scan(&mut self) -> Changes {
        if let Err(e) = fs::read_dir(&self.dir) {
            return Changes { unreadable: Some(e.to_string()), ..Changes::default() };
        }
        let mut found = BTreeMap::new();
        collect(&self.dir, &self.dir, 0, &mut found);
        let mut changes = Changes::default();
        let gone: Vec<PathBuf> = self.files.keys().filter(|p| !found.contains_key(*p)).cloned().collect();
        for p in gone {
            if self.files.remove(&p).and_then(|t| t.parsed).is_some() {
                changes.removed.push(p);
            }
        }
        let now = SystemTime::now();
        for (path, sig) in found {
            let t = self.files.entry(path.clone()).or_insert(Tracked { seen: sig, parsed: None });
            let stable = t.seen == sig;
            t.seen = sig;
            if t.parsed == Some(sig) {
                continue;
            }
            let old = mtime(sig).is_some_and(|m| now.duration_since(m).unwrap_or_default() > self.interval);
            if !(stable || old || self.immediate) {
                continue;
            }
            let parsed = match read_text_within(&self.dir, &path, &self.limits) {
                Ok(text) => {
                    let mut parsed = parse_file_limited(&path, text, &self.limits);
                    parsed.strip();
                    parsed
                }
                // Gone between the scan and the read: the next scan says so.
                Err(spo_parse::ParseError::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
                    continue
                }
                Err(e) => ParsedFile::refused(&path, e.to_string(), &self.limits),
            };
            t.parsed = Some(sig);
            changes.changed.push(parsed);
        }
        changes
    }
}

fn mtime(sig: Signature) -> Option<SystemTime> {
    let ns = u64::try_from(sig.mtime_ns).ok()?;
    Some(SystemTime::UNIX_EPOCH + Duration::from_nanos(ns))
}

fn is_manifest(name: &str) -> bool {
    !name.starts_with('.') && [".yaml", ".yml", ".json"].iter().any(|e| name.ends_with(e))
}

/// Manifest files under `dir` (one level of subdirectories, hidden entries
/// skipped, symlinks followed while they stay inside `root`). An entry
/// named like a manifest that is not a regular file inside `root` is
/// listed too (with its own signature), so reading it reports why it is
/// refused.
fn collect(root: &Path, dir: &Path, depth: usize, out: &mut BTreeMap<PathBuf, Signature>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name();
        let Some(name) = name.to_str() else { continue };
        let path = e.path();
        let Ok(link) = fs::symlink_metadata(&path) else {
            continue;
        };
        // Follow a symlink only to where it stays inside the directory.
        let md = if link.file_type().is_symlink() {
            match resolve_within(root, &path).and_then(|r| {
                fs::metadata(r)
                    .map_err(|_| spo_parse::ParseError::Outside { path: path.clone(), root: root.to_owned() })
            }) {
                Ok(md) => md,
                Err(_) => link,
            }
        } else {
            link
        };
        if md.is_dir() {
            if depth == 0 && !name.starts_with('.') {
                collect(root, &path, depth + 1, out);
            }
        } else if is_manifest(name) {
            let ns = |s: i64, n: i64| i128::from(s) * 1_000_000_000 + i128::from(n);
            out.insert(
                path,
                Signature {
                    len: md.len(),
                    mtime_ns: ns(md.mtime(), md.mtime_nsec()),
                    ctime_ns: ns(md.ctime(), md.ctime_nsec()),
                    ino: md.ino(),
                },
            );
        }
    }
}

/// A diagnostic of `text` in `file` as a report.
pub fn report(file: &Path, text: &str, d: &Diagnostic) -> ProblemReport {
    let (line, column) = SourceMap::new(text).line_col(d.span.start);
    ProblemReport {
        location: Some(Location { file: file.to_owned(), line, column }),
        message: d.message.clone(),
        help: d.help.clone(),
    }
}

/// Split a manifest file into profile documents, each named by its
/// `metadata.name` (profiles are cluster-wide, as in SPO v1; a
/// `metadata.namespace` changes nothing).
pub fn parse_file(path: &Path, text: impl Into<Arc<str>>) -> ParsedFile {
    parse_file_limited(path, text, &Limits::default())
}

/// [`parse_file`] within `limits`.
pub fn parse_file_limited(path: &Path, text: impl Into<Arc<str>>, limits: &Limits) -> ParsedFile {
    let text: Arc<str> = text.into();
    let (nodes, diags) = parse_documents_with(&text, limits);
    let mut problems: Vec<ProblemReport> =
        diags.iter().filter(|d| d.is_error()).map(|d| report(path, &text, d)).collect();
    let mut docs = Vec::new();
    let map = SourceMap::new(&text);
    let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    // A syntax error may have cut a document short: nothing in the file is
    // trusted then, so the versions in force stay.
    if problems.is_empty() {
        for node in nodes {
            let (line, column) = map.line_col(node.span.start);
            let location = Location { file: path.to_owned(), line, column };
            let (kind, name_node) = match kind_of(&node) {
                DocKind::SeccompJson => (ProfileKind::SeccompProfile, None),
                DocKind::Resource(k) => match ProfileKind::from_kind(&k) {
                    Some(kind) => (kind, node.get("metadata").and_then(|m| m.get("name"))),
                    None => {
                        let span = node.get("kind").map_or(node.span, |n| n.span);
                        let d = Diagnostic::error(span, format!("`{k}` is not a profile kind this agent installs"))
                            .with_help("use SeccompProfile, SelinuxProfile, RawSelinuxProfile or AppArmorProfile");
                        problems.push(report(path, &text, &d));
                        continue;
                    }
                },
                DocKind::Unknown => {
                    let d = Diagnostic::error(node.span, "not a profile: no `kind` and no `defaultAction`");
                    problems.push(report(path, &text, &d));
                    continue;
                }
            };
            let name = match (&name_node, &kind) {
                (Some(n), _) => n.as_str().map(str::to_owned),
                (None, ProfileKind::SeccompProfile) if node.get("kind").is_none() => Some(stem.clone()),
                (None, _) => None,
            };
            let Some(name) = name else {
                let d = Diagnostic::error(node.span, "the profile has no `metadata.name`");
                problems.push(report(path, &text, &d));
                continue;
            };
            if let Err(msg) = check_object_name(&name) {
                let span = name_node.map_or(node.span, |n| n.span);
                let d = Diagnostic::error(span, format!("invalid profile name: {msg}")).with_help(
                    "profile names become file names, so they must be DNS-1123 subdomains such as `my-profile`",
                );
                problems.push(report(path, &text, &d));
                continue;
            }
            let spec = node.get("spec").unwrap_or(&node);
            let disabled = matches!(spec.get("disabled").map(|n| &n.kind), Some(Kind::Bool(true)))
                || spec.get("state").and_then(Node::as_str) == Some("Disabled");
            let annotated = node
                .get("metadata")
                .and_then(|m| m.get("annotations"))
                .and_then(|a| a.get(MODE_ANNOTATION))
                .and_then(Node::as_str)
                .map(str::to_ascii_lowercase);
            let permissive = matches!(spec.get("permissive").map(|n| &n.kind), Some(Kind::Bool(true)))
                || matches!(spec.get("complainMode").map(|n| &n.kind), Some(Kind::Bool(true)))
                || spec.get("mode").and_then(Node::as_str).is_some_and(|m| m.eq_ignore_ascii_case("complain"));
            let mode = match annotated.as_deref() {
                Some("complain") => Mode::Complain,
                Some("enforce") => Mode::Enforce,
                Some(other) => {
                    let d = Diagnostic::error(node.span, format!("annotation `{MODE_ANNOTATION}` is `{other}`"))
                        .with_help("use `enforce` or `complain`");
                    problems.push(report(path, &text, &d));
                    continue;
                }
                None if permissive && kind != ProfileKind::SeccompProfile => Mode::Complain,
                None => Mode::Enforce,
            };
            let base = spec.get("baseProfileName").and_then(Node::as_str).map(str::to_owned);
            docs.push(ManifestDoc {
                kind,
                name,
                location,
                node,
                disabled,
                mode,
                base,
                source: text.clone(),
                limits: *limits,
            });
        }
    }
    ParsedFile { path: path.to_owned(), docs, problems, text, limits: *limits }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TWO: &str = "apiVersion: security-profiles-operator.x-k8s.io/v1\nkind: SeccompProfile\nmetadata:\n  name: a\n  annotations:\n    spo-rs.io/mode: complain\nspec:\n  defaultAction: SCMP_ACT_ERRNO\n---\napiVersion: security-profiles-operator.x-k8s.io/v1\nkind: SeccompProfile\nmetadata:\n  name: b\nspec:\n  defaultAction: SCMP_ACT_LOG\n  disabled: true\n";

    #[test]
    fn documents_carry_name_location_mode_and_state() {
        let f = parse_file(Path::new("/m/x.yaml"), TWO);
        assert!(f.problems.is_empty(), "{:?}", f.problems);
        let d: Vec<_> = f.docs.iter().map(|d| (d.name.as_str(), d.location.line, d.mode, d.disabled)).collect();
        assert_eq!(d, [("a", 1, Mode::Complain, false), ("b", 10, Mode::Enforce, true)]);
        let bare = parse_file(Path::new("/m/plain.json"), "{\"defaultAction\": \"SCMP_ACT_ALLOW\"}");
        assert_eq!(bare.docs[0].name, "plain");
    }

    #[test]
    fn bad_names_and_syntax_are_located_problems() {
        let f = parse_file(Path::new("/m/x.yaml"), TWO.replace("name: b", "name: ../b"));
        assert_eq!(f.docs.len(), 1);
        let p = &f.problems[0];
        assert!(p.message.starts_with("invalid profile name"), "{p:?}");
        assert_eq!(p.location.as_ref().unwrap().line, 13);
        let f = parse_file(Path::new("/m/x.json"), "{\"defaultAction\": ");
        assert!(f.docs.is_empty());
        assert_eq!(f.problems.len(), 1);
    }

    #[test]
    fn scans_see_new_changed_and_removed_files() {
        let d = tempfile::tempdir().unwrap();
        let mut s = Scanner::new(d.path(), Duration::from_millis(0));
        fs::write(d.path().join("a.yaml"), TWO).unwrap();
        fs::write(d.path().join(".hidden.yaml"), TWO).unwrap();
        fs::write(d.path().join("notes.txt"), "x").unwrap();
        std::thread::sleep(Duration::from_millis(5));
        let c = s.scan();
        assert_eq!(c.changed.len(), 1);
        assert!(s.scan().is_empty());
        fs::write(d.path().join("a.yaml"), TWO.replace("name: b", "name: c")).unwrap();
        std::thread::sleep(Duration::from_millis(5));
        let c = s.scan();
        assert_eq!(c.changed[0].docs[1].name, "c");
        fs::remove_file(d.path().join("a.yaml")).unwrap();
        assert_eq!(s.scan().removed.len(), 1);
    }

    /// The manifests directory holds links: a ConfigMap's (inside, read),
    /// one to a secret file elsewhere, one to `/dev/zero`, a FIFO, and a
    /// file over the size limit. Only the first is read; each of the others
    /// is a problem of its file that quotes none of the secret, and no scan
    /// blocks or runs out of memory.
    #[test]
    fn only_regular_files_inside_the_directory_are_read() {
        use std::os::unix::fs::symlink;
        let d = tempfile::tempdir().unwrap();
        let (dir, outside) = (d.path().join("manifests"), d.path().join("etc"));
        fs::create_dir_all(dir.join("..2026_01_01/")).unwrap();
        fs::create_dir(&outside).unwrap();
        fs::write(dir.join("..2026_01_01/a.yaml"), TWO).unwrap();
        symlink("..2026_01_01", dir.join("..data")).unwrap();
        symlink("..data/a.yaml", dir.join("a.yaml")).unwrap();
        let secret = "kind: root:$y$j9T$TOP-SECRET:19000:0:99999:7:::\n";
        fs::write(outside.join("shadow"), secret).unwrap();
        symlink(outside.join("shadow"), dir.join("shadow.yaml")).unwrap();
        symlink("../etc/shadow", dir.join("relative.yaml")).unwrap();
        symlink("/dev/zero", dir.join("zero.json")).unwrap();
        assert!(std::process::Command::new("mkfifo").arg(dir.join("fifo.yaml")).status().unwrap().success());
        fs::write(dir.join("big.yaml"), format!("{TWO}# {}\n", "x".repeat(4096))).unwrap();
        let limits = Limits { file_size: 4096, ..Limits::default() };
        let mut s = Scanner::new(&dir, Duration::from_millis(0)).limits(limits).immediate(true);
        let c = s.scan();
        let by_name = |n: &str| c.changed.iter().find(|f| f.path.file_name().is_some_and(|x| x == n));
        let good = by_name("a.yaml").expect("the ConfigMap link is read");
        assert_eq!(good.docs.len(), 2, "{:?}", good.problems);
        for (name, why) in [
            ("shadow.yaml", "leads outside"),
            ("relative.yaml", "leads outside"),
            ("zero.json", "leads outside"),
            ("fifo.yaml", "is a FIFO, not a regular file"),
            ("big.yaml", "more than the limit of 4096"),
        ] {
            let f = by_name(name).unwrap_or_else(|| panic!("{name} is reported"));
            assert!(f.docs.is_empty(), "{name}");
            assert_eq!(f.problems.len(), 1, "{name}: {:?}", f.problems);
            assert!(f.problems[0].message.contains(why), "{name}: {}", f.problems[0].message);
            assert!(!format!("{f:?}").contains("TOP-SECRET"), "{name} leaked: {f:?}");
        }
        assert_eq!(c.changed.len(), 6);
        assert!(s.scan().is_empty(), "a refused file is reported once, not on every scan");
    }
}
