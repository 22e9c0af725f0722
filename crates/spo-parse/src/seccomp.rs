//! Seccomp profiles from text: SPO `SeccompProfile` resources (YAML or
//! JSON), OCI runtime-spec `linux.seccomp` objects (bare, or inside a whole
//! `config.json`), and Docker/Moby/containers-common JSON.
//!
//! Reading is in three steps, each reporting every problem it finds:
//! syntax (spanned tree), shape (field names and types, here), meaning
//! (`spo_model::seccomp::validate`, whose field-path problems are located
//! through the tree).
//!
//! A profile runc, crun and Moby load must load here: what they skip (a
//! syscall name no architecture knows, a rule with the default action, an
//! empty `name` beside `names`) is a warning, an error only in strict mode
//! ([`parse_file_with`]).

use spo_model::objname::check_object_name;
use spo_model::seccomp::{
    validate_with, ActionName, ArchMapEntry, ArgCondition, Conditions, FilterFlag, ObjectMeta, Operator,
    SeccompProfile, SeccompSpec, SyscallRule, Unread, ValidateOptions, API_GROUP,
};
use spo_model::{Arch, FieldPath};

use crate::document::{kind_of, parse_documents_with, DocKind};
use crate::value::lower::{problem_to_diagnostic, Lowerer};
use crate::value::{Kind, Member, Node};
use crate::{Diagnostic, Limit, Limits, ParseError};

const SPEC_FIELDS: &[&str] = &[
    "defaultAction",
    "defaultErrnoRet",
    "defaultErrno",
    "architectures",
    "archMap",
    "flags",
    "listenerPath",
    "listenerMetadata",
    "syscalls",
    "baseProfileName",
    "state",
    "disabled",
    // Cluster policy of the custom resource (which namespaces may use the
    // profile), read by the operator's admission webhook, not the filter.
    "allowedNamespaces",
];
const RULE_FIELDS: &[&str] =
    &["names", "name", "action", "errnoRet", "errno", "args", "comment", "includes", "excludes"];
const ARG_FIELDS: &[&str] = &["index", "value", "valueTwo", "op"];
const COND_FIELDS: &[&str] = &["caps", "arches", "minKernel"];
const ARCHMAP_FIELDS: &[&str] = &["architecture", "subArchitectures"];
const CR_FIELDS: &[&str] = &["apiVersion", "kind", "metadata", "spec", "status"];
/// API versions of the group accepted for `SeccompProfile` (SPO serves
/// `v1beta1`; spo-rs writes `v1`).
pub const API_VERSIONS: &[&str] = &["v1", "v1beta1", "v1alpha1"];

/// Which format a profile was written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// SPO `SeccompProfile` custom resource.
    Resource,
    /// OCI / Docker / containers-common JSON.
    Json,
    /// The `linux.seccomp` object of an OCI runtime `config.json`.
    OciConfig,
}

/// One seccomp profile read from a file.
#[derive(Debug, Clone)]
pub struct SeccompDocument {
    /// How it was written.
    pub format: Format,
    /// Metadata, for a custom resource.
    pub metadata: Option<ObjectMeta>,
    /// The profile.
    pub spec: SeccompSpec,
    /// The spanned tree it came from.
    pub root: Node,
    /// Path of the spec in `root`.
    pub base: FieldPath,
}

impl SeccompDocument {
    /// The profile as a custom resource named after its metadata, or
    /// `fallback_name`.
    pub fn to_resource(&self, fallback_name: &str) -> SeccompProfile {
        let mut p = SeccompProfile::new(fallback_name, self.spec.clone());
        if let Some(meta) = &self.metadata {
            p.metadata = meta.clone();
        }
        p
    }
}

/// Everything read from one file: the profiles that could be built and
/// every diagnostic, syntax, shape and meaning together.
#[derive(Debug, Clone, Default)]
pub struct SeccompFile {
    /// The valid-shaped profiles (they may still have semantic errors).
    pub documents: Vec<SeccompDocument>,
    /// All diagnostics, in input order.
    pub diagnostics: Vec<Diagnostic>,
}

impl SeccompFile {
    /// Whether any diagnostic is an error.
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }
}

/// Read and check every seccomp profile in `text` within the default
/// [`Limits`].
pub fn parse_file(text: &str) -> SeccompFile {
    parse_file_with(text, &ValidateOptions::default(), &Limits::default())
}

/// The bytes before the `{` of a JSON object that something put in front
/// of it (a byte-order mark, a stray character), when that is what the
/// text looks like: `Some((start, end))` of those bytes.
fn stray_prefix(text: &str) -> Option<(usize, usize)> {
    let start = text.len() - text.trim_start().len();
    let rest = &text[start..];
    let brace = rest.find('{')?;
    let prefix = &rest[..brace];
    let stray = brace > 0
        && brace <= 8
        && !prefix.contains(|c: char| c.is_whitespace() || matches!(c, '-' | '#' | ':' | '[' | '"' | '\''))
        && rest.trim_end().ends_with('}');
    stray.then_some((start, start + brace))
}

/// When `text` has stray bytes before its JSON object: the diagnostic
/// naming them, and the text with them blanked (same length, so every
/// other span stays where it is).
pub fn stray_bytes(text: &str) -> Option<(Diagnostic, String)> {
    let (start, end) = stray_prefix(text)?;
    let shown: String = text[start..end].escape_debug().collect();
    let d = Diagnostic::error(crate::Span::new(start, end), format!("stray bytes `{shown}` before the JSON object"))
        .with_help("delete them: the profile must start with `{`");
    Some((d, format!("{}{}", " ".repeat(end), &text[end..])))
}

/// [`parse_file`] with validation options (strict mode), within `limits`.
pub fn parse_file_with(text: &str, opts: &ValidateOptions, limits: &Limits) -> SeccompFile {
    // A stray byte before the JSON is reported as such, and the rest read
    // as if it were blank.
    let (stray, blanked) = stray_bytes(text).unzip();
    let text = blanked.as_deref().unwrap_or(text);
    let (docs, mut diagnostics) = parse_documents_with(text, limits);
    diagnostics.extend(stray);
    let mut documents = Vec::new();
    if docs.is_empty() && diagnostics.is_empty() {
        diagnostics.push(
            Diagnostic::error(crate::Span::point(0), "the file holds no profile")
                .with_help("write a SeccompProfile resource or an OCI seccomp JSON object"),
        );
    }
    for doc in docs {
        let (parsed, diags) = lower_document_with(&doc, opts, limits);
        diagnostics.extend(diags);
        documents.extend(parsed);
    }
    crate::snap_to_text(text, &mut diagnostics);
    diagnostics.sort_by_key(|d| (d.span.start, d.span.end));
    SeccompFile { documents, diagnostics }
}

/// Read exactly one valid profile from `text`, for callers that want a
/// `Result` (warnings are dropped).
pub fn parse_spec(text: &str) -> Result<SeccompDocument, ParseError> {
    let mut file = parse_file(text);
    if file.has_errors() {
        return Err(ParseError::Invalid { diagnostics: file.diagnostics });
    }
    match file.documents.len() {
        1 => Ok(file.documents.remove(0)),
        n => Err(ParseError::Invalid {
            diagnostics: vec![Diagnostic::error(
                crate::Span::point(0),
                format!("expected one seccomp profile, found {n}"),
            )],
        }),
    }
}

/// Lower one document, whatever its format, and validate it.
pub fn lower_document(doc: &Node) -> (Option<SeccompDocument>, Vec<Diagnostic>) {
    lower_document_with(doc, &ValidateOptions::default(), &Limits::default())
}

/// [`lower_document`] with validation options, within `limits`.
pub fn lower_document_with(
    doc: &Node,
    opts: &ValidateOptions,
    limits: &Limits,
) -> (Option<SeccompDocument>, Vec<Diagnostic>) {
    let mut lw = Lowerer::with_limits(limits);
    let read = match kind_of(doc) {
        DocKind::SeccompJson => match doc.get("linux").and_then(|l| l.get("seccomp")) {
            Some(seccomp) => lower_spec(&mut lw, seccomp, "linux.seccomp")
                .map(|r| (r, Format::OciConfig, None, FieldPath::root().key("linux").key("seccomp"))),
            None => lower_spec(&mut lw, doc, "profile").map(|r| (r, Format::Json, None, FieldPath::root())),
        },
        DocKind::Resource(kind) if kind == "SeccompProfile" => lower_resource(&mut lw, doc),
        DocKind::Resource(kind) => {
            let span = doc.get("kind").map_or(doc.span, |k| k.span);
            lw.error(span, format!("expected a SeccompProfile, found kind `{kind}`"), None);
            None
        }
        DocKind::Unknown => {
            lw.error(
                crate::Span::new(doc.span.start, doc.span.start + 1),
                "not a seccomp profile: no `kind` and no `defaultAction`",
                Some("write a SeccompProfile resource (apiVersion, kind, spec) or an OCI seccomp object with `defaultAction`".into()),
            );
            None
        }
    };
    let Some((spec_read, format, metadata, base)) = read else { return (None, lw.diags) };
    let shape_ok = lw.diags.iter().all(|d| !d.is_error()) && !lw.truncated;
    let mut diags = lw.diags;
    for p in validate_with(&spec_read.spec, &base, &spec_read.unread, opts) {
        diags.push(problem_to_diagnostic(doc, &p));
    }
    let doc = (shape_ok && spec_read.complete).then(|| SeccompDocument {
        format,
        metadata,
        spec: spec_read.spec,
        root: doc.clone(),
        base,
    });
    (doc, diags)
}

/// A spec as far as it could be read.
struct SpecRead {
    spec: SeccompSpec,
    /// Actions that were placeholders for unreadable values.
    unread: Unread,
    /// Whether every field was read.
    complete: bool,
}

type ResourceRead = (SpecRead, Format, Option<ObjectMeta>, FieldPath);

fn lower_resource(lw: &mut Lowerer, doc: &Node) -> Option<ResourceRead> {
    lw.object(doc, "SeccompProfile", CR_FIELDS)?;
    if let Some(av) = doc.get("apiVersion") {
        if let Some(s) = lw.string(av, "apiVersion") {
            let ok = s.split_once('/').is_some_and(|(g, v)| g == API_GROUP && API_VERSIONS.contains(&v));
            if !ok {
                lw.error(av.span, format!("unsupported apiVersion `{s}`"), Some(format!("use `{API_GROUP}/v1`")));
            }
        }
    } else {
        lw.missing(doc, "apiVersion", "SeccompProfile", &format!("`apiVersion: {API_GROUP}/v1`"));
    }
    let metadata = doc.get("metadata").and_then(|m| lower_meta(lw, m));
    let Some(spec_node) = doc.get("spec") else {
        lw.missing(doc, "spec", "SeccompProfile", "`spec: {defaultAction: SCMP_ACT_ERRNO}`");
        return None;
    };
    let read = lower_spec(lw, spec_node, "spec")?;
    Some((read, Format::Resource, metadata, FieldPath::root().key("spec")))
}

/// Read Kubernetes object metadata (unknown members are kept out, not
/// reported: a resource fetched from a cluster carries many).
pub fn lower_meta(lw: &mut Lowerer, node: &Node) -> Option<ObjectMeta> {
    let members = lw.object(node, "metadata", &[])?;
    let mut meta = ObjectMeta::default();
    for m in members {
        match m.key.as_str() {
            "name" => {
                meta.name = lw.string(&m.value, "metadata.name");
                if let Some(name) = &meta.name {
                    if let Err(msg) = check_object_name(name) {
                        lw.error(m.value.span, format!("invalid profile name: {msg}"), Some("profile names become file names on nodes, so they must be DNS-1123 subdomains such as `my-profile`".into()));
                    }
                }
            }
            "namespace" => meta.namespace = lw.string(&m.value, "metadata.namespace"),
            "labels" | "annotations" => {
                let mut map = std::collections::BTreeMap::new();
                if let Some(ms) = lw.object(&m.value, &m.key, &[]) {
                    for kv in ms {
                        if let Some(v) = lw.string(&kv.value, &kv.key) {
                            map.insert(kv.key.clone(), v);
                        }
                    }
                }
                if m.key == "labels" {
                    meta.labels = map;
                } else {
                    meta.annotations = map;
                }
            }
            _ => {}
        }
    }
    Some(meta)
}

fn field<'n>(members: &'n [Member], key: &str) -> Option<&'n Node> {
    members.iter().find(|m| m.key == key).map(|m| &m.value)
}

fn is_null(n: &Node) -> bool {
    matches!(n.kind, Kind::Null)
}

fn action_names() -> Vec<&'static str> {
    ActionName::names().collect()
}

fn lower_spec(lw: &mut Lowerer, node: &Node, what: &str) -> Option<SpecRead> {
    let members = lw.object(node, what, SPEC_FIELDS)?;
    let actions = action_names();
    let default_action = match field(members, "defaultAction") {
        Some(n) => lw.enum_value::<ActionName>(n, "action", &actions),
        None => {
            lw.missing(node, "defaultAction", what, "`defaultAction: SCMP_ACT_ERRNO`");
            None
        }
    };
    let mut spec = SeccompSpec::new(default_action.unwrap_or(ActionName::Errno));
    let mut unread = Unread { default_action: default_action.is_none(), rule_actions: Vec::new() };
    let mut ok = default_action.is_some();
    if let Some(n) = field(members, "defaultErrnoRet").filter(|n| !is_null(n)) {
        spec.default_errno_ret = lw.u32(n, "defaultErrnoRet");
    }
    if let Some(n) = field(members, "defaultErrno").filter(|n| !is_null(n)) {
        spec.default_errno = lw.string(n, "defaultErrno");
    }
    let arch_names: Vec<&str> = Arch::all_names().collect();
    if let Some(n) = field(members, "architectures") {
        for item in lw.array(n, "architectures").unwrap_or(&[]) {
            if matches!(&item.kind, crate::value::Kind::String(s) if s == "SCMP_ARCH_NATIVE") {
                spec.native_architecture = true;
                continue;
            }
            match lw.enum_value::<Arch>(item, "architecture", &arch_names) {
                Some(a) => spec.architectures.push(a),
                None => ok = false,
            }
        }
    }
    if let Some(n) = field(members, "archMap") {
        for item in lw.array(n, "archMap").unwrap_or(&[]) {
            let Some(ms) = lw.object(item, "archMap entry", ARCHMAP_FIELDS) else {
                ok = false;
                continue;
            };
            let arch = field(ms, "architecture").and_then(|a| lw.enum_value::<Arch>(a, "architecture", &arch_names));
            let mut subs = Vec::new();
            if let Some(s) = field(ms, "subArchitectures") {
                for sub in lw.array(s, "subArchitectures").unwrap_or(&[]) {
                    subs.extend(lw.enum_value::<Arch>(sub, "architecture", &arch_names));
                }
            }
            match arch {
                Some(architecture) => spec.arch_map.push(ArchMapEntry { architecture, sub_architectures: subs }),
                None => {
                    if field(ms, "architecture").is_none() {
                        lw.missing(item, "architecture", "archMap entry", "`architecture: SCMP_ARCH_X86_64`");
                    }
                    ok = false;
                }
            }
        }
    }
    if let Some(n) = field(members, "flags") {
        let flags: Vec<&str> = FilterFlag::names().collect();
        for item in lw.array(n, "flags").unwrap_or(&[]) {
            match lw.enum_value::<FilterFlag>(item, "seccomp flag", &flags) {
                Some(f) => spec.flags.push(f),
                None => ok = false,
            }
        }
    }
    for (key, slot) in [("listenerPath", &mut spec.listener_path), ("listenerMetadata", &mut spec.listener_metadata)] {
        if let Some(n) = field(members, key).filter(|n| !is_null(n)) {
            *slot = lw.string(n, key);
        }
    }
    if let Some(n) = field(members, "baseProfileName").filter(|n| !is_null(n)) {
        spec.base_profile_name = lw.string(n, "baseProfileName");
    }
    if let Some(n) = field(members, "disabled").filter(|n| !is_null(n)) {
        spec.disabled = lw.boolean(n, "disabled");
        lw.diags.push(crate::value::lower::old_disabled(n));
    }
    if let Some(n) = field(members, "state").filter(|n| !is_null(n)) {
        match crate::value::lower::spec_state(n) {
            Ok(disabled) => spec.disabled = disabled.then_some(true),
            Err(d) => {
                lw.diags.push(*d);
                ok = false;
            }
        }
    }
    if let Some(n) = field(members, "syscalls") {
        let items = lw.array(n, "syscalls").unwrap_or(&[]);
        let max = lw.limits.rules;
        for item in lw.at_most(items, max, Limit::Rules, "entries in `syscalls`") {
            // Unreadable entries keep their place, so that field paths of
            // the entries after them stay right.
            let (rule, complete) =
                lower_rule(lw, item, &actions).unwrap_or_else(|| (SyscallRule::new(&[], ActionName::Allow), false));
            if !complete {
                unread.rule_actions.push(spec.syscalls.len());
                ok = false;
            }
            spec.syscalls.push(rule);
        }
    }
    Some(SpecRead { spec, unread, complete: ok })
}

/// A rule as far as it could be read, and whether all of it could.
fn lower_rule(lw: &mut Lowerer, node: &Node, actions: &[&str]) -> Option<(SyscallRule, bool)> {
    let members = lw.object(node, "syscalls entry", RULE_FIELDS)?;
    let mut ok = true;
    let action = match field(members, "action") {
        Some(n) => lw.enum_value::<ActionName>(n, "action", actions),
        None => {
            lw.missing(node, "action", "syscalls entry", "`action: SCMP_ACT_ALLOW`");
            None
        }
    };
    let mut rule = SyscallRule::new(&[], action.unwrap_or(ActionName::Allow));
    ok &= action.is_some();
    if let Some(n) = field(members, "names") {
        rule.names = lw.names(n, "names");
    }
    if let Some(n) = field(members, "name").filter(|n| !is_null(n)) {
        // Moby and containers-common write `"name": ""` beside `names`.
        rule.name = lw.string(n, "name").filter(|s| !s.is_empty());
    }
    if let Some(n) = field(members, "errnoRet").filter(|n| !is_null(n)) {
        rule.errno_ret = lw.u32(n, "errnoRet");
    }
    if let Some(n) = field(members, "errno").filter(|n| !is_null(n)) {
        rule.errno = lw.string(n, "errno");
    }
    if let Some(n) = field(members, "comment").filter(|n| !is_null(n)) {
        rule.comment = lw.string(n, "comment");
    }
    if let Some(n) = field(members, "args") {
        let ops: Vec<&str> = Operator::names().collect();
        for item in lw.array(n, "args").unwrap_or(&[]) {
            let Some(ms) = lw.object(item, "args entry", ARG_FIELDS) else {
                ok = false;
                continue;
            };
            let index = field(ms, "index").and_then(|v| lw.u32(v, "index"));
            let value = field(ms, "value").map_or(Some(0), |v| lw.u64(v, "value"));
            let value_two = field(ms, "valueTwo").map_or(Some(0), |v| lw.u64(v, "valueTwo"));
            let op = field(ms, "op").and_then(|v| lw.enum_value::<Operator>(v, "operator", &ops));
            if field(ms, "index").is_none() {
                lw.missing(item, "index", "args entry", "`index: 0`");
            }
            if field(ms, "op").is_none() {
                lw.missing(item, "op", "args entry", "`op: SCMP_CMP_EQ`");
            }
            match (index, value, value_two, op) {
                (Some(index), Some(value), Some(value_two), Some(op)) => {
                    rule.args.push(ArgCondition { index, value, value_two, op })
                }
                _ => ok = false,
            }
        }
    }
    for key in ["includes", "excludes"] {
        if let Some(n) = field(members, key).filter(|n| !is_null(n)) {
            let Some(ms) = lw.object(n, key, COND_FIELDS) else {
                ok = false;
                continue;
            };
            let mut c = Conditions::default();
            if let Some(v) = field(ms, "caps") {
                c.caps = lw.strings(v, "caps");
            }
            if let Some(v) = field(ms, "arches") {
                c.arches = lw.strings(v, "arches");
            }
            if let Some(v) = field(ms, "minKernel").filter(|n| !is_null(n)) {
                c.min_kernel = lw.string(v, "minKernel");
            }
            if key == "includes" {
                rule.includes = c;
            } else {
                rule.excludes = c;
            }
        }
    }
    Some((rule, ok))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn messages(text: &str) -> Vec<(String, String)> {
        parse_file(text).diagnostics.iter().map(|d| (text[d.span.range()].to_owned(), d.message.clone())).collect()
    }

    #[test]
    fn reads_a_resource() {
        let text = "apiVersion: security-profiles-operator.x-k8s.io/v1beta1\nkind: SeccompProfile\nmetadata:\n  name: demo\nspec:\n  defaultAction: SCMP_ACT_ERRNO\n  architectures: [SCMP_ARCH_X86_64]\n  syscalls:\n  - action: SCMP_ACT_ALLOW\n    names: [exit, exit_group, read]\n  - action: SCMP_ACT_ERRNO\n    errnoRet: 38\n    names: [personality]\n    args:\n    - {index: 0, value: 0xffffffff, op: SCMP_CMP_NE}\n";
        let f = parse_file(text);
        assert!(f.diagnostics.is_empty(), "{:?}", f.diagnostics);
        let d = &f.documents[0];
        assert_eq!(d.format, Format::Resource);
        assert_eq!(d.metadata.as_ref().unwrap().name.as_deref(), Some("demo"));
        assert_eq!(d.spec.syscalls[1].args[0].value, 0xffff_ffff);
        assert_eq!(d.spec.syscalls[1].errno_ret, Some(38));
    }

    #[test]
    fn every_shape_problem_is_located() {
        let text = r#"{
  "defaultActon": "SCMP_ACT_ERRNO",
  "architectures": ["SCMP_ARCH_X86_65"],
  "syscalls": [
    {"names": ["mkdirr"], "action": "SCMP_ACT_ALLOWW"},
    {"names": ["read"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 9, "value": -1, "op": "SCMP_CMP_EQ"}]}
  ]
}"#;
        let m = messages(text);
        let expect = [
            ("\"defaultActon\"", "unknown field `defaultActon` in `profile`"),
            ("\"SCMP_ARCH_X86_65\"", "unknown architecture `SCMP_ARCH_X86_65`"),
            ("\"SCMP_ACT_ALLOWW\"", "unknown action `SCMP_ACT_ALLOWW`"),
            ("-1", "`value` must be a non-negative integer, found `-1`"),
        ];
        for (span, msg) in expect {
            assert!(m.iter().any(|(s, x)| s == span && x == msg), "missing {span} {msg}: {m:#?}");
        }
        // The misspelt key is the one mistake: no second error for the
        // "missing" field it was meant to be.
        assert!(!m.iter().any(|(_, x)| x.contains("missing the required field")), "{m:#?}");
    }

    #[test]
    fn semantic_problems_are_located_too() {
        let text = "{\"defaultAction\": \"SCMP_ACT_ERRNO\", \"syscalls\": [{\"names\": [\"exit\", \"exit_group\", \"mkdirr\"], \"action\": \"SCMP_ACT_ALLOW\"}]}";
        let f = parse_file(text);
        let d = f.diagnostics.iter().find(|d| d.message.contains("unknown syscall")).unwrap();
        assert_eq!(&text[d.span.range()], "\"mkdirr\"");
        assert_eq!(d.help.as_deref(), Some("did you mean `mkdir`?"));
    }

    #[test]
    fn loads_what_the_runtimes_load() {
        let text = r#"{"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"],
  "syscalls": [
    {"name": "", "names": ["exit", "exit_group", "read", "procexit", "send"], "action": "SCMP_ACT_ALLOW"},
    {"names": ["ptrace"], "action": "SCMP_ACT_ERRNO"},
    {"names": ["kcmp"], "action": "SCMP_ACT_ALLOW", "includes": {"arches": ["mips3l64n32"]}}
  ]}"#;
        let f = parse_file(text);
        assert!(!f.has_errors(), "{:#?}", f.diagnostics);
        assert_eq!(f.documents.len(), 1);
        let m = messages(text);
        assert!(
            m.iter().any(|(s, x)| s == "\"procexit\"" && x == "unknown syscall `procexit`; runc and crun skip it"),
            "{m:#?}"
        );
        assert!(m.iter().any(|(_, x)| x.contains("default action")), "{m:#?}");
        assert!(!m.iter().any(|(_, x)| x.contains("mips3l64n32") || x.contains("`send`")), "{m:#?}");
        // Strict mode: the unknown name is an error; the default-action rule
        // changes nothing and stays a warning (SPO's own examples have one).
        let strict = parse_file_with(text, &ValidateOptions { strict: true }, &Limits::default());
        let errors: Vec<_> = strict.diagnostics.iter().filter(|d| d.is_error()).collect();
        assert_eq!(errors.len(), 1, "{:#?}", strict.diagnostics);
        assert!(errors[0].message.contains("procexit"), "{errors:#?}");
    }

    #[test]
    fn a_stray_byte_before_the_json_is_named() {
        for text in ["x{\"defaultAction\": \"SCMP_ACT_ALLOW\"}", "\u{feff}{\"defaultAction\": \"SCMP_ACT_ALLOW\"}\n"] {
            let m = messages(text);
            assert_eq!(m.len(), 1, "{m:#?}");
            assert!(m[0].1.starts_with("stray bytes `") && m[0].1.ends_with("` before the JSON object"), "{m:#?}");
            assert_eq!(m[0].0, &text[..text.find('{').unwrap()]);
        }
        // A YAML document is not a stray byte.
        let yaml = "apiVersion: security-profiles-operator.x-k8s.io/v1\nkind: SeccompProfile\nmetadata: {name: a}\nspec: {defaultAction: SCMP_ACT_ALLOW}\n";
        assert!(parse_file(yaml).diagnostics.is_empty());
    }

    #[test]
    fn reads_an_oci_config() {
        let text = r#"{"ociVersion": "1.0.2", "linux": {"seccomp": {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["ptrace"], "action": "SCMP_ACT_ERRNO"}]}}}"#;
        let doc = parse_spec(text).unwrap();
        assert_eq!(doc.format, Format::OciConfig);
        assert_eq!(doc.spec.syscalls[0].names, ["ptrace"]);
    }

    #[test]
    fn rejects_names_that_escape_a_directory() {
        let text = "apiVersion: security-profiles-operator.x-k8s.io/v1\nkind: SeccompProfile\nmetadata:\n  name: ../../etc/passwd\nspec:\n  defaultAction: SCMP_ACT_ALLOW\n";
        let m = messages(text);
        assert!(m.iter().any(|(s, x)| s == "../../etc/passwd" && x.starts_with("invalid profile name")), "{m:#?}");
    }
}
