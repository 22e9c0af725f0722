//! `AppArmorProfile` resources from YAML or JSON, every problem located in
//! the file: shape problems (unknown fields, wrong types) by the lowering
//! here, meaning problems (unsafe paths, unknown capabilities) by
//! `spo_model::apparmor::validate` through field paths, and problems of a
//! raw `spec.policy` by the profile-language validator, with their spans
//! moved from the policy string into the YAML text around it.

use std::path::Path;

use spo_model::apparmor::{
    validate as validate_model, Abstract, AppArmorProfile, AppArmorSpec, Capability, Executable, Filesystem, Mode,
    Network, ProfileHeader, Protocols, Ptrace,
};

use super::ast::{File, Item};
use super::resolve::{FileReport, Validator};
use crate::document::{kind_of, DocKind};
use crate::seccomp::lower_meta;
use crate::value::lower::{problem_to_diagnostic, Lowerer};
use crate::value::{Member, Node};
use crate::{Diagnostic, Span};

const CR_FIELDS: &[&str] = &["apiVersion", "kind", "metadata", "spec", "status"];
/// `allowedNamespaces` is cluster policy the operator's admission webhook
/// reads; it does not change the profile.
const SPEC_FIELDS: &[&str] = &["mode", "complainMode", "abstract", "policy", "disabled", "state", "allowedNamespaces"];
const ABSTRACT_FIELDS: &[&str] = &["executable", "filesystem", "network", "capability", "ptrace"];

/// An `AppArmorProfile` read from a file.
#[derive(Debug, Clone)]
pub struct ResourceDocument {
    /// The profile.
    pub profile: AppArmorProfile,
    /// The spanned tree it came from.
    pub root: Node,
}

/// Does `text` look like a resource (YAML/JSON with a `kind`) rather than
/// profile-language text?
pub fn looks_like_resource(text: &str) -> bool {
    text.lines()
        .map(str::trim)
        .any(|l| l.starts_with("kind:") || l.starts_with("\"kind\"") || l.starts_with("apiVersion:"))
}

/// Read and check every `AppArmorProfile` of a YAML/JSON file. A raw
/// `spec.policy` is validated with `validator` (its includes resolved over
/// the validator's directories). The first report is `path`'s.
pub fn validate_resource(
    path: &Path,
    text: &str,
    validator: &mut Validator,
) -> (Vec<ResourceDocument>, Vec<FileReport>) {
    let (docs, mut diags) = crate::document::parse_documents_with(text, &validator.limits());
    let mut out = Vec::new();
    let mut others: Vec<FileReport> = Vec::new();
    if docs.is_empty() && diags.iter().all(|d| !d.is_error()) {
        diags.push(
            Diagnostic::error(Span::point(0), "the file holds no document")
                .with_help("write an AppArmorProfile resource"),
        );
    }
    for doc in &docs {
        let (profile, mut d) = lower_document(doc);
        if let Some(p) = &profile {
            // Meaning problems too, even after shape problems (one pass,
            // every problem), except where a shape problem already points.
            let shape: Vec<Span> = d.iter().map(|x| x.span).collect();
            for pr in validate_model(p) {
                let diag = problem_to_diagnostic(doc, &pr);
                if !shape.iter().any(|s| s.start <= diag.span.start && diag.span.start < s.end.max(s.start + 1)) {
                    d.push(diag);
                }
            }
            if let (Some(policy), Some(node)) = (&p.spec.policy, doc.get("spec").and_then(|s| s.get("policy"))) {
                let mut reports = validator.validate(path, policy);
                if let (Some(first), Some(problem)) = (reports.first_mut(), policy_name_problem(p.name(), policy)) {
                    first.diagnostics.push(problem);
                }
                let map = OffsetMap::new(text, node, policy);
                for (i, r) in reports.into_iter().enumerate() {
                    if i == 0 {
                        d.extend(r.diagnostics.into_iter().map(|x| map.move_diagnostic(x)));
                    } else if !r.diagnostics.is_empty() {
                        others.push(r);
                    }
                }
            }
        }
        let ok = d.iter().all(|x| !x.is_error());
        diags.extend(d);
        if let (Some(profile), true) = (profile, ok) {
            out.push(ResourceDocument { profile, root: doc.clone() });
        }
    }
    crate::snap_to_text(text, &mut diags);
    diags.sort_by_key(|d| d.span.start);
    let mut reports = vec![FileReport { path: path.to_owned(), text: text.to_owned(), diagnostics: diags }];
    reports.extend(others);
    (out, reports)
}

/// Lower one document into a profile, reporting shape problems.
pub fn lower_document(doc: &Node) -> (Option<AppArmorProfile>, Vec<Diagnostic>) {
    let mut lw = Lowerer::new();
    let p = match kind_of(doc) {
        DocKind::Resource(k) if k == "AppArmorProfile" => lower_resource(&mut lw, doc),
        DocKind::Resource(k) => {
            let span = doc.get("kind").map_or(doc.span, |n| n.span);
            lw.error(span, format!("expected an AppArmorProfile, found kind `{k}`"), None);
            None
        }
        _ => {
            lw.error(
                Span::new(doc.span.start, doc.span.start + 1),
                "not an AppArmorProfile: the document has no `kind`",
                Some("write `apiVersion: security-profiles-operator.x-k8s.io/v1` and `kind: AppArmorProfile`".into()),
            );
            None
        }
    };
    (p, lw.diags)
}

fn field<'n>(members: &'n [Member], key: &str) -> Option<&'n Node> {
    members.iter().find(|m| m.key == key).map(|m| &m.value)
}

fn lower_resource(lw: &mut Lowerer, doc: &Node) -> Option<AppArmorProfile> {
    let members = lw.object(doc, "AppArmorProfile", CR_FIELDS)?;
    let api_version = field(members, "apiVersion").and_then(|n| lw.string(n, "apiVersion")).unwrap_or_default();
    if field(members, "apiVersion").is_none() {
        lw.missing(doc, "apiVersion", "AppArmorProfile", "`apiVersion: security-profiles-operator.x-k8s.io/v1`");
    }
    let kind = field(members, "kind").and_then(|n| lw.string(n, "kind")).unwrap_or_default();
    let metadata = field(members, "metadata").and_then(|m| lower_meta(lw, m)).unwrap_or_default();
    let spec = match field(members, "spec") {
        Some(s) => lower_spec(lw, s)?,
        None => {
            lw.missing(doc, "spec", "AppArmorProfile", "`spec: {abstract: {...}}`");
            return None;
        }
    };
    Some(AppArmorProfile { api_version, kind, metadata, spec })
}

fn lower_spec(lw: &mut Lowerer, node: &Node) -> Option<AppArmorSpec> {
    let members = lw.object(node, "spec", SPEC_FIELDS)?;
    let mut spec = AppArmorSpec::default();
    for m in members {
        let v = &m.value;
        match m.key.as_str() {
            "mode" => {
                spec.mode = match lw.string(v, "spec.mode").as_deref() {
                    Some("Enforce") => Some(Mode::Enforce),
                    Some("Complain") => Some(Mode::Complain),
                    Some(other) => {
                        let help = match spo_model::suggest::did_you_mean(other, ["Enforce", "Complain"]) {
                            Some(s) => format!("did you mean `{s}`?"),
                            None => "expected `Enforce` or `Complain`".into(),
                        };
                        lw.error(v.span, format!("unknown mode `{other}`"), Some(help));
                        None
                    }
                    None => None,
                }
            }
            "complainMode" => {
                spec.complain_mode = lw.boolean(v, "spec.complainMode");
                lw.diags.push(
                    Diagnostic::warning(v.span, "`spec.complainMode` is the spelling of SPO's older versions")
                        .with_help("SPO v1 writes `mode: Complain`; the cluster refuses `complainMode` in v1"),
                );
            }
            "disabled" => {
                spec.disabled = lw.boolean(v, "spec.disabled").unwrap_or(false);
                lw.diags.push(crate::value::lower::old_disabled(v));
            }
            "state" => {
                if let Some(s) = lw.string(v, "spec.state") {
                    match s.as_str() {
                        "Enabled" => {}
                        "Disabled" => spec.disabled = true,
                        _ => lw.error(
                            v.span,
                            format!("unknown state `{s}`"),
                            Some("expected `Enabled` or `Disabled`".into()),
                        ),
                    }
                }
            }
            "policy" => spec.policy = lw.string(v, "spec.policy"),
            "abstract" => spec.abstract_ = lower_abstract(lw, v),
            _ => {}
        }
    }
    Some(spec)
}

fn lower_abstract(lw: &mut Lowerer, node: &Node) -> Option<Abstract> {
    let members = lw.object(node, "spec.abstract", ABSTRACT_FIELDS)?;
    let mut a = Abstract::default();
    for m in members {
        let v = &m.value;
        match m.key.as_str() {
            "executable" => {
                let ms = lw.object(v, "executable", &["allowedExecutables", "allowedLibraries"])?;
                a.executable = Some(Executable {
                    allowed_executables: strings(lw, ms, "allowedExecutables"),
                    allowed_libraries: strings(lw, ms, "allowedLibraries"),
                });
            }
            "filesystem" => {
                let ms = lw.object(v, "filesystem", &["readOnlyPaths", "writeOnlyPaths", "readWritePaths"])?;
                a.filesystem = Some(Filesystem {
                    read_only_paths: strings(lw, ms, "readOnlyPaths"),
                    write_only_paths: strings(lw, ms, "writeOnlyPaths"),
                    read_write_paths: strings(lw, ms, "readWritePaths"),
                });
            }
            "network" => {
                let ms = lw.object(v, "network", &["allowRaw", "allowedProtocols"])?;
                let allow_raw = field(ms, "allowRaw").and_then(|n| lw.boolean(n, "allowRaw")).unwrap_or(false);
                let allowed_protocols = match field(ms, "allowedProtocols") {
                    Some(p) => {
                        let ps = lw.object(p, "allowedProtocols", &["allowTcp", "allowUdp"])?;
                        Some(Protocols {
                            allow_tcp: field(ps, "allowTcp").and_then(|n| lw.boolean(n, "allowTcp")).unwrap_or(false),
                            allow_udp: field(ps, "allowUdp").and_then(|n| lw.boolean(n, "allowUdp")).unwrap_or(false),
                        })
                    }
                    None => None,
                };
                a.network = Some(Network { allow_raw, allowed_protocols });
            }
            "capability" => {
                let ms = lw.object(v, "capability", &["allowedCapabilities"])?;
                a.capability = Some(Capability { allowed_capabilities: strings(lw, ms, "allowedCapabilities") });
            }
            "ptrace" => {
                let ms = lw.object(v, "ptrace", &["allowedAccess", "peer"])?;
                let peer = field(ms, "peer").and_then(|n| lw.string(n, "peer"));
                a.ptrace = Some(Ptrace { allowed_access: strings(lw, ms, "allowedAccess"), peer });
            }
            _ => {}
        }
    }
    Some(a)
}

fn strings(lw: &mut Lowerer, ms: &[Member], key: &str) -> Vec<String> {
    match field(ms, key) {
        Some(n) if matches!(n.kind, crate::value::Kind::Null) => Vec::new(),
        Some(n) => lw.strings(n, key),
        None => Vec::new(),
    }
}

/// The problem, if any, with the names of a raw `spec.policy`: it must
/// declare a top-level profile named like the object, `object`. Pods and
/// bindings reference an AppArmorProfile as `localhost/NAME` by its
/// object name, and the kernel knows the profile by the name in the text,
/// so the two must agree or a bound pod would ask for a profile that was
/// never loaded. Other top-level profiles (helpers a profile transitions
/// to) may sit beside it. The span is in `policy`. `None` also when the
/// object has no name yet (a file checked outside a cluster).
pub fn policy_name_problem(object: &str, policy: &str) -> Option<Diagnostic> {
    if object.is_empty() {
        return None;
    }
    let parsed = super::parse(policy);
    let names: Vec<&super::ast::Word> = parsed
        .file
        .items
        .iter()
        .filter_map(|i| match i {
            Item::Profile(p) => p.name.as_ref(),
            _ => None,
        })
        .collect();
    if names.iter().any(|w| w.text == object) {
        return None;
    }
    let help = format!(
        "pods reference this profile as `localhost/{object}`, its object name: name a top-level profile \
         `{object}` (`profile {object} flags=(...) {{`)"
    );
    Some(match names.first() {
        Some(w) => {
            let found: Vec<String> = names.iter().map(|w| format!("`{}`", w.text)).collect();
            let found = match found.len() {
                1 => format!("its top-level profile is {}", found[0]),
                _ => format!("its top-level profiles are {}", found.join(", ")),
            };
            Diagnostic::error(w.span, format!("spec.policy declares no profile named `{object}`; {found}"))
                .with_help(help)
        }
        // No profile at all, or one the parser could not read (already
        // reported): point at the start.
        None if parsed.diagnostics.iter().any(Diagnostic::is_error) => return None,
        None => Diagnostic::error(Span::point(0), format!("spec.policy declares no profile named `{object}`"))
            .with_help(help),
    })
}

/// Move `diags` of the raw `spec.policy` of `doc` (spans in `policy`) into
/// `file`, the text `doc` was parsed from. A diagnostic the mapping cannot
/// place lands at the start of the policy.
pub fn locate_policy_diagnostics(file: &str, doc: &Node, policy: &str, diags: Vec<Diagnostic>) -> Vec<Diagnostic> {
    let Some(node) = doc.get("spec").and_then(|s| s.get("policy")) else {
        return diags;
    };
    let map = OffsetMap::new(file, node, policy);
    diags.into_iter().map(|d| map.move_diagnostic(d)).collect()
}

/// Maps byte offsets in a policy string to offsets in the YAML text that
/// holds it (a block scalar indents every line; a quoted one may not be
/// found line by line, and then maps to the scalar's start).
struct OffsetMap {
    /// (offset of a policy line, offset of the same line in the file).
    lines: Vec<(usize, usize)>,
    fallback: usize,
    /// The file's length: nothing maps past it (a policy's last line
    /// ends in a newline the file may lack; found by the fuzzer).
    file_len: usize,
}

impl OffsetMap {
    fn new(file: &str, node: &Node, policy: &str) -> Self {
        // The scalar's span may cover only its first line (block scalars),
        // so each line is looked for right after the previous one: only
        // blanks (indentation, line breaks) may lie between them.
        let mut lines = Vec::new();
        let mut cursor = node.span.start.min(file.len());
        let mut pos = 0;
        for line in policy.split_inclusive('\n') {
            let content = line.trim_end_matches(['\n', '\r']);
            if !content.is_empty() {
                if let Some(i) = file.get(cursor..).and_then(|s| s.find(content)) {
                    if file[cursor..cursor + i].chars().all(char::is_whitespace) {
                        lines.push((pos, cursor + i));
                        cursor += i + content.len();
                    }
                }
            }
            pos += line.len();
        }
        OffsetMap { lines, fallback: node.span.start.min(file.len()), file_len: file.len() }
    }

    fn offset(&self, at: usize) -> usize {
        let i = self.lines.partition_point(|(p, _)| *p <= at);
        match i.checked_sub(1).map(|i| self.lines[i]) {
            Some((p, f)) => (f + (at - p)).min(self.file_len),
            None => self.fallback,
        }
    }

    fn span(&self, s: Span) -> Span {
        let start = self.offset(s.start);
        let end = if self.lines.is_empty() { start } else { self.offset(s.end) };
        Span::new(start, end.max(start))
    }

    fn move_diagnostic(&self, mut d: Diagnostic) -> Diagnostic {
        d.span = self.span(d.span);
        for l in &mut d.labels {
            l.span = self.span(l.span);
        }
        d
    }
}

/// Where each profile header's flags are, for rewriting them.
pub fn profile_headers(file: &File) -> Vec<ProfileHeader> {
    let mut out = Vec::new();
    collect_headers(&file.items, &mut out);
    out.sort_by_key(|h| h.open);
    out
}

fn collect_headers(items: &[Item], out: &mut Vec<ProfileHeader>) {
    for item in items {
        match item {
            Item::Profile(p) => {
                out.push(ProfileHeader {
                    name: p.name.as_ref().map(|n| n.text.clone()).unwrap_or_default(),
                    flags_span: p.flags.as_ref().map(|f| (f.span.start, f.span.end)),
                    flags: p
                        .flags
                        .as_ref()
                        .map(|f| f.items.iter().map(|w| w.text.clone()).collect())
                        .unwrap_or_default(),
                    open: p.open.start,
                });
                collect_headers(&p.items, out);
            }
            Item::QualifiedBlock { items, .. } => collect_headers(items, out),
            Item::Conditional { then, otherwise, .. } => {
                collect_headers(then, out);
                collect_headers(otherwise, out);
            }
            _ => {}
        }
    }
}
