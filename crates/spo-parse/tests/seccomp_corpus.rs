//! Every real-world seccomp profile we know of must load without error:
//! the fixtures in the repository, the profiles shipped by Debian packages
//! (`golang-github-docker-docker-dev`, `golang-github-containers-common`),
//! and, when present, the shared corpus beside the checkout.

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use std::path::{Path, PathBuf};

use spo_parse::seccomp::parse_file;

fn json_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else { return };
    for e in rd.flatten() {
        let p = e.path();
        if p.is_dir() {
            json_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "json" || x == "yaml") {
            out.push(p);
        }
    }
}

fn check_all(files: &[PathBuf]) -> usize {
    let mut failures = Vec::new();
    for f in files {
        let text = std::fs::read_to_string(f).unwrap();
        let parsed = parse_file(&text);
        if parsed.has_errors() || parsed.documents.is_empty() {
            failures.push(format!(
                "{}: {:?}",
                f.display(),
                parsed.diagnostics.iter().filter(|d| d.is_error()).map(|d| &d.message).collect::<Vec<_>>()
            ));
        }
    }
    assert!(failures.is_empty(), "profiles that failed to load:\n{}", failures.join("\n"));
    files.len()
}

#[test]
fn repository_fixtures_load() {
    let mut files = Vec::new();
    json_files(&Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/seccomp/valid"), &mut files);
    assert!(files.len() >= 5, "expected committed fixtures, found {}", files.len());
    check_all(&files);
}

#[test]
fn debian_shipped_profiles_load() {
    let candidates = [
        "/usr/share/gocode/src/github.com/docker/docker/profiles/seccomp/default.json",
        "/usr/share/gocode/src/github.com/docker/docker/profiles/seccomp/fixtures/example.json",
        "/usr/share/gocode/src/github.com/docker/docker/profiles/seccomp/fixtures/default-old-format.json",
        "/usr/share/gocode/src/github.com/docker/docker/profiles/seccomp/fixtures/conditional_include.json",
        "/usr/share/containers/seccomp.json",
    ];
    let files: Vec<PathBuf> = candidates.iter().map(PathBuf::from).filter(|p| p.exists()).collect();
    if files.is_empty() {
        spo_test_support::skip("no Debian-shipped seccomp profiles (install golang-github-docker-docker-dev golang-github-containers-common)");
        return;
    }
    check_all(&files);
}

#[test]
fn shared_corpus_loads() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus/seccomp");
    if !dir.exists() {
        spo_test_support::skip_optional(format!("shared corpus {} absent", dir.display()));
        return;
    }
    let mut files = Vec::new();
    json_files(&dir, &mut files);
    // Firecracker's own format is not a seccomp profile format we read.
    files.retain(|f| !f.to_string_lossy().contains("seccompiler-format"));
    assert!(check_all(&files) > 10);
}
