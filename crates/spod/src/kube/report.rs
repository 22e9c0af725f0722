//! From the agent's view of a profile to its `SecurityProfileNodeStatus`.
//!
//! The agent locates problems by line and column of the mirrored manifest,
//! a file the user never sees; a node status points at the field instead
//! (`spec.syscalls[0].names[1]: unknown syscall ...`), the way the user
//! wrote the object.

use serde_json::{json, Value};
use spo_api::crds::{node_status_name, ProfileState, GROUP, VERSION};
use spo_parse::document::parse_documents;
use spo_parse::value::{Kind, Node};

use super::mirror::ProfileKey;
use spo_node::status::{Phase, ProblemReport, ProfileStatus};

/// Label: the profile's kind.
pub const LABEL_KIND: &str = "spo.x-k8s.io/profile-kind";
/// Label: the profile's name.
pub const LABEL_NAME: &str = "spo.x-k8s.io/profile-name";
/// Label: the node.
pub const LABEL_NODE: &str = "spo.x-k8s.io/node";

/// At most this many problems are listed in a message.
const MAX_PROBLEMS: usize = 20;

/// What one node status should say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Desired {
    /// The state.
    pub state: ProfileState,
    /// Why, when there is something to say.
    pub message: Option<String>,
    /// SHA-256 of the content in force on the node.
    pub digest: Option<String>,
}

/// The node status state of an agent phase.
pub fn state_of(phase: Phase) -> ProfileState {
    match phase {
        Phase::Pending => ProfileState::Pending,
        Phase::InProgress => ProfileState::InProgress,
        Phase::Installed => ProfileState::Installed,
        Phase::Error => ProfileState::Error,
        Phase::Terminating => ProfileState::Terminating,
        Phase::Disabled => ProfileState::Disabled,
        // SPO has no such state; the message says this node cannot
        // enforce the profile, which for the cluster is a failure here.
        Phase::Unsupported => ProfileState::Error,
    }
}

/// What the agent's status of a profile says, problems rendered against
/// `manifest` (the mirrored text) when given.
pub fn from_agent(p: &ProfileStatus, manifest: Option<&str>) -> Desired {
    let message = match (&p.message, p.errors.is_empty()) {
        (m, true) => m.clone(),
        (m, false) => {
            let problems = render_problems(&p.errors, manifest);
            Some(match m {
                Some(m) => format!("{m}:\n{problems}"),
                None => problems,
            })
        }
    };
    Desired { state: state_of(p.status), message, digest: p.version.clone() }
}

/// An object whose manifest the agent could not take at all (a bad mode
/// annotation, say): `Error` with the problems.
pub fn from_file_problems(problems: &[ProblemReport], manifest: Option<&str>) -> Desired {
    Desired {
        state: ProfileState::Error,
        message: Some(format!("invalid; not installed:\n{}", render_problems(problems, manifest))),
        digest: None,
    }
}

/// One line per problem: `FIELD: message (help: ...)`.
pub fn render_problems(problems: &[ProblemReport], manifest: Option<&str>) -> String {
    let root = manifest.and_then(|t| parse_documents(t).0.into_iter().next());
    let mut lines: Vec<String> = problems
        .iter()
        .take(MAX_PROBLEMS)
        .map(|p| {
            let field = match (&p.location, manifest, &root) {
                (Some(l), Some(text), Some(root)) => offset_of(text, l.line, l.column).map(|o| field_path_at(root, o)),
                _ => None,
            };
            let mut line = match field.filter(|f| !f.is_empty()) {
                Some(f) => format!("{f}: {}", p.message),
                None => p.message.clone(),
            };
            if let Some(h) = &p.help {
                line.push_str(&format!(" (help: {h})"));
            }
            line
        })
        .collect();
    if problems.len() > MAX_PROBLEMS {
        lines.push(format!("... and {} more", problems.len() - MAX_PROBLEMS));
    }
    lines.join("\n")
}

/// The byte offset of 1-based `line` and `column` (in characters).
fn offset_of(text: &str, line: usize, column: usize) -> Option<usize> {
    let start: usize = text.split_inclusive('\n').take(line.checked_sub(1)?).map(str::len).sum();
    let rest = text.get(start..)?;
    Some(start + rest.char_indices().nth(column.saturating_sub(1)).map_or(rest.len(), |(i, _)| i))
}

/// The path of the innermost value or key at `offset`
/// (`spec.syscalls[0].action`); empty at the root.
pub fn field_path_at(root: &Node, offset: usize) -> String {
    let mut path = String::new();
    let mut node = root;
    loop {
        match &node.kind {
            Kind::Object(members) => {
                let Some(m) = members.iter().find(|m| {
                    (m.key_span.start..m.key_span.end.max(m.key_span.start + 1)).contains(&offset)
                        || (m.value.span.start..m.value.span.end).contains(&offset)
                }) else {
                    return path;
                };
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(&m.key);
                node = &m.value;
            }
            Kind::Array(items) => {
                let Some((i, item)) =
                    items.iter().enumerate().find(|(_, n)| (n.span.start..n.span.end).contains(&offset))
                else {
                    return path;
                };
                path.push_str(&format!("[{i}]"));
                node = item;
            }
            _ => return path,
        }
    }
}

/// A label value for any name: names longer than the 63 characters a
/// label value may have keep 52 and end in `-` and 10 hexadecimal digits
/// of a hash of the whole (select by `spec` fields for exact matches).
pub fn label_value(s: &str) -> String {
    if s.len() <= 63 {
        return s.to_owned();
    }
    let hash = spo_node::store::sha256_hex(s.as_bytes());
    let prefix = s[..52].trim_end_matches(['-', '.', '_']);
    format!("{prefix}-{}", &hash[..10])
}

/// The longest `status.message` the schema takes.
pub const MAX_MESSAGE: usize = 4096;

/// `s` cut to at most `max` bytes at a character boundary, ending in `…`
/// when cut.
fn truncate(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_owned();
    }
    let mut cut = max - '…'.len_utf8();
    while !s.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}…", &s[..cut])
}

/// The node status object spod applies, whole (metadata, spec and
/// status: every apply states all of spod's fields): named by
/// [`node_status_name`], labelled, owned by the profile so it goes with it.
pub fn node_status_object(
    key: &ProfileKey,
    node: &str,
    owner_api_version: &str,
    owner_uid: &str,
    d: &Desired,
) -> Value {
    let mut status = serde_json::Map::new();
    status.insert("status".into(), json!(d.state.as_str()));
    // SPO's schema: a message is 1 to 4096 characters.
    if let Some(m) = d.message.as_deref().filter(|m| !m.is_empty()) {
        status.insert("message".into(), json!(truncate(m, MAX_MESSAGE)));
    }
    if let Some(h) = &d.digest {
        status.insert("contentDigest".into(), json!(h));
    }
    json!({
        "apiVersion": format!("{GROUP}/{VERSION}"),
        "kind": "SecurityProfileNodeStatus",
        "metadata": {
            "name": node_status_name(key.kind.as_str(), &key.name, node),
            "labels": {
                LABEL_KIND: key.kind.as_str(),
                LABEL_NAME: label_value(&key.name),
                LABEL_NODE: label_value(node),
            },
            "ownerReferences": [{
                "apiVersion": owner_api_version,
                "kind": key.kind.as_str(),
                "name": key.name,
                "uid": owner_uid,
            }],
        },
        "spec": {"nodeName": node, "profileKind": key.kind.as_str(), "profileName": key.name},
        "status": status,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use spo_node::agent::manifests::parse_file;
    use spo_node::status::{Location, Mode, ProfileKind};
    use std::path::{Path, PathBuf};

    const MANIFEST: &str = r#"{
  "apiVersion": "security-profiles-operator.x-k8s.io/v1",
  "kind": "SeccompProfile",
  "metadata": {"name": "web"},
  "spec": {
    "defaultAction": "SCMP_ACT_ERRNO",
    "syscalls": [{"action": "SCMP_ACT_ALLOW", "names": ["read", "opne"]}]
  }
}
"#;

    fn at(needle: &str) -> Location {
        let offset = MANIFEST.find(needle).unwrap();
        let line = MANIFEST[..offset].matches('\n').count() + 1;
        let column = offset - MANIFEST[..offset].rfind('\n').map_or(0, |i| i + 1) + 1;
        Location { file: PathBuf::from("/m/x.json"), line, column }
    }

    #[test]
    fn problems_point_at_fields_not_at_mirror_lines() {
        let problems = [
            ProblemReport {
                location: Some(at("\"opne\"")),
                message: "unknown syscall `opne`".into(),
                help: Some("did you mean `open`?".into()),
            },
            ProblemReport { location: Some(at("\"defaultAction\"")), message: "bad".into(), help: None },
            ProblemReport { location: None, message: "no location".into(), help: None },
        ];
        let text = render_problems(&problems, Some(MANIFEST));
        assert_eq!(
            text,
            "spec.syscalls[0].names[1]: unknown syscall `opne` (help: did you mean `open`?)\n\
             spec.defaultAction: bad\nno location"
        );
        assert_eq!(render_problems(&problems[1..2], None), "bad");
    }

    #[test]
    fn the_agents_real_diagnostics_render_with_their_field() {
        // The agent's own parse and compile, not hand-made reports.
        let f = parse_file(Path::new("/m/seccompprofile.web.json"), MANIFEST);
        let doc = &f.docs[0];
        let catalog = [((doc.kind, doc.name.clone()), doc)].into_iter().collect();
        let Err(spo_node::agent::installer::Rejected::Invalid(diags)) =
            spo_node::agent::seccomp::spec_of(doc, &catalog).map(drop)
        else {
            panic!("`opne` is not a syscall");
        };
        let problems: Vec<ProblemReport> =
            diags.iter().map(|d| spo_node::agent::manifests::report(&f.path, MANIFEST, d)).collect();
        let status = ProfileStatus {
            kind: ProfileKind::SeccompProfile,
            name: "web".into(),
            status: Phase::Error,
            mode: Mode::Enforce,
            source: None,
            version: None,
            path: None,
            localhost_profile: None,
            errors: problems,
            message: Some("invalid; not installed".into()),
            in_use_by: 0,
            updated: 0,
        };
        let d = from_agent(&status, Some(MANIFEST));
        assert_eq!(d.state, ProfileState::Error);
        let m = d.message.unwrap();
        assert!(m.starts_with("invalid; not installed:\nspec.syscalls[0].names[1]: "), "{m}");
        assert!(m.contains("opne"), "{m}");
    }

    #[test]
    fn labels_fit_and_objects_name_the_profile_and_owner() {
        assert_eq!(label_value("web"), "web");
        let long = "a".repeat(100);
        let v = label_value(&long);
        assert_eq!(v.len(), 63);
        assert_ne!(v, label_value(&"a".repeat(101)));
        let key = ProfileKey::new(ProfileKind::SelinuxProfile, "web");
        let d = Desired { state: ProfileState::Installed, message: None, digest: Some("ab".into()) };
        let o = node_status_object(&key, "node-1", "security-profiles-operator.x-k8s.io/v1", "uid-1", &d);
        assert_eq!(o["metadata"]["name"], "selinuxprofile-web-node-1");
        assert!(o["metadata"].get("namespace").is_none(), "node statuses are cluster-wide");
        assert_eq!(o["metadata"]["labels"][LABEL_NODE], "node-1");
        assert_eq!(o["metadata"]["ownerReferences"][0]["uid"], "uid-1");
        assert_eq!(o["spec"]["profileKind"], "SelinuxProfile");
        assert_eq!(o["status"], json!({"status": "Installed", "contentDigest": "ab"}));
        let long = Desired { state: ProfileState::Error, message: Some("é".repeat(3000)), digest: None };
        let o = node_status_object(&key, "node-1", "v1", "uid-1", &long);
        let m = o["status"]["message"].as_str().unwrap();
        assert!(m.len() <= MAX_MESSAGE && m.ends_with('…'), "{}", m.len());
        let empty = Desired { state: ProfileState::Installed, message: Some(String::new()), digest: None };
        assert!(node_status_object(&key, "n", "v1", "u", &empty)["status"].get("message").is_none());
    }
}
