//! Which kind of document a file holds: JSON or YAML, one document or
//! several, and which profile kind each document is.

use crate::value::{parse_json_with, parse_yaml_with, Node};
use crate::{Diagnostic, Limits};

/// The surface syntax of a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Syntax {
    /// One JSON value.
    Json,
    /// A YAML stream of one or more documents.
    Yaml,
}

/// JSON when the first non-blank character opens an object or array,
/// YAML otherwise (YAML accepts JSON too, but the JSON reader reports
/// duplicate keys and syntax errors more precisely).
pub fn detect_syntax(text: &str) -> Syntax {
    match text.trim_start().chars().next() {
        Some('{' | '[') => Syntax::Json,
        _ => Syntax::Yaml,
    }
}

/// Parse every document in `text` within the default [`Limits`].
pub fn parse_documents(text: &str) -> (Vec<Node>, Vec<Diagnostic>) {
    parse_documents_with(text, &Limits::default())
}

/// Parse every document in `text` within `limits`.
pub fn parse_documents_with(text: &str, limits: &Limits) -> (Vec<Node>, Vec<Diagnostic>) {
    match detect_syntax(text) {
        Syntax::Json => {
            let (node, diags) = parse_json_with(text, limits);
            (node.into_iter().collect(), diags)
        }
        Syntax::Yaml => {
            let (docs, diags) = parse_yaml_with(text, limits);
            // An empty YAML document (a trailing `---`) carries nothing.
            (docs.into_iter().filter(|d| !matches!(d.kind, crate::value::Kind::Null)).collect(), diags)
        }
    }
}

/// The kind of one document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DocKind {
    /// An OCI/Docker/containers-common seccomp JSON profile (no `kind`).
    SeccompJson,
    /// A custom resource; the string is its `kind`.
    Resource(String),
    /// Neither: no `kind` and no `defaultAction`.
    Unknown,
}

/// Classify a parsed document.
pub fn kind_of(doc: &Node) -> DocKind {
    if let Some(kind) = doc.get("kind").and_then(Node::as_str) {
        return DocKind::Resource(kind.to_owned());
    }
    const SECCOMP_KEYS: &[&str] = &["defaultAction", "syscalls", "architectures", "archMap", "defaultErrnoRet"];
    if SECCOMP_KEYS.iter().any(|k| doc.get(k).is_some()) || doc.get("linux").and_then(|l| l.get("seccomp")).is_some() {
        return DocKind::SeccompJson;
    }
    DocKind::Unknown
}
