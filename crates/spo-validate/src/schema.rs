//! The kinds that are configuration rather than profiles
//! (`ProfileBinding`, `ProfileRecording`, `SecurityProfileNodeStatus`,
//! `SecurityProfilesOperatorDaemon`), judged against the CRD schemas the
//! cluster enforces, with located errors, plus the rules of those CRDs and
//! of the operator that a schema cannot say.
//!
//! Why a schema walk and not typed readers: these kinds have no model of
//! their own beyond their CRD, and the API server applies exactly that
//! schema (strict field validation refuses unknown fields). Walking the
//! same `openAPIV3Schema` over the spanned tree gives the same verdict the
//! cluster would, each problem at its line and column, without a second
//! description of the fields that could drift from the first. The schemas
//! are the files of `deploy/crds/`, embedded (a snapshot test keeps them
//! equal to the `spo-api` types), so no Kubernetes crate is linked.
//!
//! What is checked: types, unknown fields (with a suggestion), required
//! fields, enums, patterns, lengths, bounds, item counts. CEL rules are
//! not evaluated; the ones users meet (the recording's kind and recorder,
//! the daemon configuration's name, label selector operators) are written
//! out below. One pass over the document: linear in its size, patterns
//! compiled once.

use std::collections::HashMap;
use std::sync::OnceLock;

use spo_parse::value::{parse_yaml, Kind, Node};
use spo_parse::{Diagnostic, Span};

/// The CRD files the cluster applies, embedded.
pub const CRD_FILES: &[(&str, &str)] = &[
    ("seccompprofile.yaml", include_str!("../../../deploy/crds/seccompprofile.yaml")),
    ("selinuxprofile.yaml", include_str!("../../../deploy/crds/selinuxprofile.yaml")),
    ("rawselinuxprofile.yaml", include_str!("../../../deploy/crds/rawselinuxprofile.yaml")),
    ("apparmorprofile.yaml", include_str!("../../../deploy/crds/apparmorprofile.yaml")),
    ("profilebinding.yaml", include_str!("../../../deploy/crds/profilebinding.yaml")),
    ("profilerecording.yaml", include_str!("../../../deploy/crds/profilerecording.yaml")),
    ("securityprofilenodestatus.yaml", include_str!("../../../deploy/crds/securityprofilenodestatus.yaml")),
    ("securityprofilesoperatordaemon.yaml", include_str!("../../../deploy/crds/securityprofilesoperatordaemon.yaml")),
];

/// The kinds judged here.
pub const SCHEMA_KINDS: &[&str] =
    &["ProfileBinding", "ProfileRecording", "SecurityProfileNodeStatus", "SecurityProfilesOperatorDaemon"];

/// The API group of every kind.
const GROUP: &str = "security-profiles-operator.x-k8s.io";

/// One CRD's served versions: version name to its root schema.
struct Crd {
    versions: Vec<(String, Node)>,
}

fn crds() -> &'static HashMap<String, Crd> {
    static CRDS: OnceLock<HashMap<String, Crd>> = OnceLock::new();
    CRDS.get_or_init(|| {
        let mut out = HashMap::new();
        for (_, text) in CRD_FILES {
            let (docs, _) = parse_yaml(text);
            let Some(doc) = docs.into_iter().next() else { continue };
            let kind = doc.get("spec").and_then(|s| s.get("names")).and_then(|n| n.get("kind")).and_then(Node::as_str);
            let Some(kind) = kind.map(str::to_owned) else { continue };
            let mut versions = Vec::new();
            if let Some(Kind::Array(vs)) = doc.get("spec").and_then(|s| s.get("versions")).map(|v| &v.kind) {
                for v in vs {
                    let name = v.get("name").and_then(Node::as_str).unwrap_or_default().to_owned();
                    if let Some(schema) = v.get("schema").and_then(|s| s.get("openAPIV3Schema")) {
                        versions.push((name, schema.clone()));
                    }
                }
            }
            out.insert(kind, Crd { versions });
        }
        out
    })
}

fn regex(pattern: &str) -> Option<&'static regex::Regex> {
    static CACHE: OnceLock<std::sync::Mutex<HashMap<String, &'static regex::Regex>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    let mut map = cache.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some(r) = map.get(pattern) {
        return Some(r);
    }
    // A handful of patterns, compiled once each for the life of the
    // process: leaking them keeps the lookup free of lifetimes.
    let compiled: &'static regex::Regex = Box::leak(Box::new(regex::Regex::new(pattern).ok()?));
    map.insert(pattern.to_owned(), compiled);
    Some(compiled)
}

/// Every problem of one document of a [`SCHEMA_KINDS`] kind.
pub fn check(doc: &Node, kind: &str) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let Some(crd) = crds().get(kind) else {
        return out;
    };
    let api = doc.get("apiVersion");
    let version = api.and_then(Node::as_str).and_then(|a| a.strip_prefix(&format!("{GROUP}/")));
    let schema = match version {
        Some(v) => match crd.versions.iter().find(|(n, _)| n == v) {
            Some((_, s)) => s,
            None => {
                let served: Vec<&str> = crd.versions.iter().map(|(n, _)| n.as_str()).collect();
                let span = api.map_or(doc.span, |n| n.span);
                out.push(
                    Diagnostic::error(span, format!("{kind} is not served as version `{v}`"))
                        .with_help(format!("use {GROUP}/{}", served.join(" or "))),
                );
                return out;
            }
        },
        None => {
            let span = api.map_or(doc.span, |n| n.span);
            out.push(Diagnostic::error(span, format!("apiVersion must be {GROUP}/v1")));
            return out;
        }
    };
    walk(schema, doc, "", &mut out);
    rules(kind, doc, &mut out);
    out
}

fn props(schema: &Node) -> Option<&[spo_parse::value::Member]> {
    match &schema.get("properties")?.kind {
        Kind::Object(m) => Some(m),
        _ => None,
    }
}

fn num(n: &Node) -> Option<f64> {
    match &n.kind {
        Kind::Number(s) => s.parse().ok(),
        _ => None,
    }
}

fn strings(n: Option<&Node>) -> Vec<&str> {
    match n.map(|n| &n.kind) {
        Some(Kind::Array(items)) => items.iter().filter_map(Node::as_str).collect(),
        _ => Vec::new(),
    }
}

/// Check `value` against `schema`; `path` names it in messages.
fn walk(schema: &Node, value: &Node, path: &str, out: &mut Vec<Diagnostic>) {
    let at = |p: &str| if p.is_empty() { "the object".to_owned() } else { format!("`{p}`") };
    if matches!(value.kind, Kind::Null) {
        return;
    }
    if schema.get("x-kubernetes-preserve-unknown-fields").is_some_and(|n| n.kind == Kind::Bool(true)) {
        return;
    }
    let int_or_string = schema.get("x-kubernetes-int-or-string").is_some_and(|n| n.kind == Kind::Bool(true));
    let ty = schema.get("type").and_then(Node::as_str);
    let type_ok = match (ty, &value.kind) {
        _ if int_or_string => matches!(value.kind, Kind::Number(_) | Kind::String(_)),
        (None, _) => true,
        (Some("object"), Kind::Object(_)) | (Some("array"), Kind::Array(_)) | (Some("string"), Kind::String(_)) => true,
        (Some("boolean"), Kind::Bool(_)) => true,
        (Some("integer"), Kind::Number(s)) => s.parse::<i64>().is_ok(),
        (Some("number"), Kind::Number(_)) => true,
        _ => false,
    };
    if !type_ok {
        out.push(Diagnostic::error(
            value.span,
            format!("{} must be {}, found {}", at(path), ty.unwrap_or("int or string"), value.type_name()),
        ));
        return;
    }
    if let Some(e) = schema.get("enum") {
        let allowed = strings(Some(e));
        if let Some(s) = value.as_str() {
            if !allowed.is_empty() && !allowed.contains(&s) {
                let mut d =
                    Diagnostic::error(value.span, format!("{} is `{s}`, not one of {}", at(path), allowed.join(", ")));
                if let Some(same) = allowed.iter().find(|a| a.eq_ignore_ascii_case(s)) {
                    d = d.with_help(format!("write `{same}` (SPO v1's spelling)"));
                } else if let Some(sug) = spo_model::suggest::did_you_mean(s, allowed.iter().copied()) {
                    d = d.with_help(format!("did you mean `{sug}`?"));
                }
                out.push(d);
            }
        }
    }
    match &value.kind {
        Kind::String(s) => {
            let len = s.chars().count() as f64;
            if let Some(max) = schema.get("maxLength").and_then(num) {
                if len > max {
                    out.push(Diagnostic::error(value.span, format!("{} is longer than {max} characters", at(path))));
                }
            }
            if let Some(min) = schema.get("minLength").and_then(num) {
                if len < min {
                    out.push(Diagnostic::error(value.span, format!("{} is shorter than {min} characters", at(path))));
                }
            }
            if let Some(p) = schema.get("pattern").and_then(Node::as_str) {
                if regex(p).is_some_and(|r| !r.is_match(s)) {
                    out.push(Diagnostic::error(value.span, format!("{} `{s}` does not match `{p}`", at(path))));
                }
            }
        }
        Kind::Number(_) => {
            let v = num(value).unwrap_or_default();
            if let Some(max) = schema.get("maximum").and_then(num).filter(|m| v > *m) {
                out.push(Diagnostic::error(value.span, format!("{} is above its maximum {max}", at(path))));
            }
            if let Some(min) = schema.get("minimum").and_then(num).filter(|m| v < *m) {
                out.push(Diagnostic::error(value.span, format!("{} is below its minimum {min}", at(path))));
            }
        }
        Kind::Array(items) => {
            if let Some(max) = schema.get("maxItems").and_then(num).filter(|m| items.len() as f64 > *m) {
                out.push(Diagnostic::error(value.span, format!("{} has more than {max} items", at(path))));
            }
            if let Some(min) = schema.get("minItems").and_then(num).filter(|m| (items.len() as f64) < *m) {
                out.push(Diagnostic::error(value.span, format!("{} needs at least {min} items", at(path))));
            }
            if let Some(item) = schema.get("items") {
                for (i, v) in items.iter().enumerate() {
                    walk(item, v, &format!("{path}[{i}]"), out);
                }
            }
            if schema.get("x-kubernetes-list-type").and_then(Node::as_str) == Some("set") {
                let mut seen = std::collections::HashSet::new();
                for v in items {
                    if let Some(s) = v.as_str() {
                        if !seen.insert(s) {
                            out.push(Diagnostic::error(v.span, format!("`{s}` is listed twice in {}", at(path))));
                        }
                    }
                }
            }
        }
        Kind::Object(members) => {
            let known = props(schema);
            for r in strings(schema.get("required")) {
                if !members.iter().any(|m| m.key == r) {
                    let p = if path.is_empty() { r.to_owned() } else { format!("{path}.{r}") };
                    out.push(Diagnostic::error(value.span, format!("`{p}` is required")));
                }
            }
            let extra = schema.get("additionalProperties");
            for m in members {
                let p = if path.is_empty() { m.key.clone() } else { format!("{path}.{}", m.key) };
                if path.is_empty() && matches!(m.key.as_str(), "apiVersion" | "kind" | "metadata" | "status") {
                    continue;
                }
                match (known.and_then(|k| k.iter().find(|k| k.key == m.key)), extra) {
                    (Some(k), _) => walk(&k.value, &m.value, &p, out),
                    (None, Some(e)) if matches!(e.kind, Kind::Object(_)) => walk(e, &m.value, &p, out),
                    (None, _) if known.is_some() => {
                        let names = known.into_iter().flatten().map(|k| k.key.as_str());
                        let mut d = Diagnostic::error(m.key_span, format!("unknown field `{p}`"));
                        d = match spo_model::suggest::did_you_mean(&m.key, names) {
                            Some(s) => d.with_help(format!("did you mean `{s}`?")),
                            None => d.with_help("the API server refuses unknown fields (strict field validation)"),
                        };
                        out.push(d);
                    }
                    _ => {}
                }
            }
        }
        _ => {}
    }
}

/// Rules of the CRDs (CEL) and of the operator, for what users write.
fn rules(kind: &str, doc: &Node, out: &mut Vec<Diagnostic>) {
    let spec = doc.get("spec");
    let name = doc.get("metadata").and_then(|m| m.get("name"));
    if let Some(sel) = spec.and_then(|s| s.get("podSelector")) {
        selector(sel, out);
    }
    match kind {
        "ProfileRecording" => {
            let get = |k: &str| spec.and_then(|s| s.get(k));
            let recorder = get("recorder").and_then(Node::as_str);
            match (get("kind").and_then(Node::as_str), recorder) {
                (Some("SelinuxProfile"), Some(r)) if r != "Logs" => out.push(Diagnostic::error(
                    get("recorder").map_or(doc.span, |n| n.span),
                    "SelinuxProfile recordings only support the Logs recorder",
                )),
                (Some("AppArmorProfile"), Some(r)) if r != "Bpf" => out.push(Diagnostic::error(
                    get("recorder").map_or(doc.span, |n| n.span),
                    "AppArmorProfile recordings only support the Bpf recorder",
                )),
                _ => {}
            }
            if let Some(n) = name.and_then(|n| n.as_str().map(|s| (n, s))).filter(|(_, s)| s.len() > 63) {
                out.push(Diagnostic::error(n.0.span, "a ProfileRecording name must be no more than 63 characters"));
            }
        }
        "SecurityProfilesOperatorDaemon" => {
            if let Some(n) = name.filter(|n| n.as_str() != Some("spod")) {
                out.push(
                    Diagnostic::error(n.span, "the SecurityProfilesOperatorDaemon must be named spod")
                        .with_help("there is one, `spod`, in the operator's namespace"),
                );
            }
            let allowed = spec.and_then(|s| s.get("security")).and_then(|s| s.get("allowedSyscalls"));
            if let Some(Kind::Array(items)) = allowed.map(|n| &n.kind) {
                for item in items {
                    if let Some(s) = item.as_str().filter(|s| !spo_model::syscalls::is_known_anywhere(s)) {
                        let mut d =
                            Diagnostic::warning(item.span, format!("`{s}` is not a syscall on any architecture"));
                        let names = spo_model::syscalls::all_names().iter().copied();
                        if let Some(sug) = spo_model::suggest::did_you_mean(s, names) {
                            d = d.with_help(format!("did you mean `{sug}`?"));
                        }
                        out.push(d);
                    }
                }
            }
        }
        _ => {}
    }
}

/// SPO's rule on label selectors: In and NotIn take values, Exists and
/// DoesNotExist none.
fn selector(sel: &Node, out: &mut Vec<Diagnostic>) {
    let Some(Kind::Array(exprs)) = sel.get("matchExpressions").map(|n| &n.kind) else { return };
    for e in exprs {
        let op = e.get("operator").and_then(Node::as_str).unwrap_or_default();
        let has_values = matches!(e.get("values").map(|v| &v.kind), Some(Kind::Array(v)) if !v.is_empty());
        let span: Span = e.get("operator").map_or(e.span, |n| n.span);
        match (op, has_values) {
            ("In" | "NotIn", false) => out.push(Diagnostic::error(span, format!("operator {op} needs values"))),
            ("Exists" | "DoesNotExist", true) => {
                out.push(Diagnostic::error(span, format!("operator {op} takes no values")))
            }
            ("In" | "NotIn" | "Exists" | "DoesNotExist", _) => {}
            (other, _) => {
                let mut d = Diagnostic::error(span, format!("unknown selector operator `{other}`"));
                if let Some(s) = spo_model::suggest::did_you_mean(other, ["In", "NotIn", "Exists", "DoesNotExist"]) {
                    d = d.with_help(format!("did you mean `{s}`?"));
                }
                out.push(d);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(text: &str) -> Node {
        parse_yaml(text).0.into_iter().next().expect("a document")
    }

    #[test]
    fn every_crd_is_embedded_once() {
        assert_eq!(crds().len(), CRD_FILES.len());
        for k in SCHEMA_KINDS {
            assert!(crds().contains_key(*k), "{k}");
        }
    }

    #[test]
    fn a_valid_binding_passes_and_typos_are_located() {
        let ok = "apiVersion: security-profiles-operator.x-k8s.io/v1\nkind: ProfileBinding\nmetadata:\n  name: b\nspec:\n  profileRef:\n    kind: SeccompProfile\n    name: p\n  image: nginx:1.19.1\n";
        assert!(check(&doc(ok), "ProfileBinding").is_empty(), "{:?}", check(&doc(ok), "ProfileBinding"));
        let bad = ok.replace("  image:", "  imag:").replace("kind: SeccompProfile", "kind: SecompProfile");
        let d = check(&doc(&bad), "ProfileBinding");
        let msgs: Vec<&str> = d.iter().map(|d| d.message.as_str()).collect();
        assert!(msgs.iter().any(|m| m.contains("`spec.profileRef.kind` is `SecompProfile`")), "{msgs:?}");
        assert!(msgs.iter().any(|m| m.contains("unknown field `spec.imag`")), "{msgs:?}");
        assert!(msgs.iter().any(|m| m.contains("`spec.image` is required")), "{msgs:?}");
        let typo = d.iter().find(|d| d.message.contains("unknown field `spec.imag`")).expect("typo");
        assert_eq!(typo.help.as_deref(), Some("did you mean `image`?"));
        assert_eq!(&bad[typo.span.range()], "imag");
    }

    #[test]
    fn old_lowercase_recorders_need_the_old_version() {
        let v1 = "apiVersion: security-profiles-operator.x-k8s.io/v1\nkind: ProfileRecording\nmetadata:\n  name: r\nspec:\n  kind: SeccompProfile\n  recorder: bpf\n  podSelector: {}\n";
        let d = check(&doc(v1), "ProfileRecording");
        assert_eq!(d.len(), 1, "{d:?}");
        assert_eq!(d[0].help.as_deref(), Some("write `Bpf` (SPO v1's spelling)"));
        let old = v1.replace("/v1\n", "/v1alpha1\n");
        assert!(check(&doc(&old), "ProfileRecording").is_empty(), "the old version takes the old name");
        let selinux = v1.replace("SeccompProfile", "SelinuxProfile").replace("bpf", "Bpf");
        let d = check(&doc(&selinux), "ProfileRecording");
        assert!(d[0].message.contains("only support the Logs recorder"), "{d:?}");
    }

    #[test]
    fn the_daemon_configuration_is_named_spod_and_lists_real_syscalls() {
        let text = "apiVersion: security-profiles-operator.x-k8s.io/v1\nkind: SecurityProfilesOperatorDaemon\nmetadata:\n  name: config\nspec:\n  security:\n    allowedSyscalls: [exit, exti_group]\n  verbosity: 11\n";
        let d = check(&doc(text), "SecurityProfilesOperatorDaemon");
        let msgs: Vec<&str> = d.iter().map(|d| d.message.as_str()).collect();
        assert!(msgs.iter().any(|m| m.contains("must be named spod")), "{msgs:?}");
        assert!(msgs.iter().any(|m| m.contains("`exti_group` is not a syscall")), "{msgs:?}");
        assert!(msgs.iter().any(|m| m.contains("`spec.verbosity` is above its maximum 10")), "{msgs:?}");
    }
}
