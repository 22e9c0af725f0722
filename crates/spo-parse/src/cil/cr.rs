//! `SelinuxProfile` and `RawSelinuxProfile` manifests (YAML or JSON) to the
//! model, with every problem located in the manifest: type errors and
//! unknown fields while lowering, model validation through field paths, and
//! the CIL inside `spec.policy` at its real line and column in the YAML.

use std::collections::BTreeMap;

use spo_model::seccomp::ObjectMeta;
use spo_model::selinux::{
    DenyLists, PolicyRef, RawSelinuxProfile, RawSelinuxProfileSpec, SelinuxProfile, SelinuxProfileSpec, SELF_KEY,
};
use spo_model::{FieldPath, Problem};

use super::{raw, Base, Ns};
use crate::value::{Kind, Node};
use crate::{Diagnostic, Span};

/// A lowered SELinux manifest.
#[derive(Debug, Clone)]
pub enum Manifest {
    /// A `SelinuxProfile`.
    Profile(SelinuxProfile),
    /// A `RawSelinuxProfile`.
    Raw(RawSelinuxProfile),
}

/// Diagnostic for a model problem, located through `root`.
pub fn problem_to_diagnostic(root: &Node, p: &Problem) -> Diagnostic {
    let mut d = Diagnostic::error(root.span_of(&p.path), p.message.clone());
    d.severity = p.severity;
    if let Some(h) = &p.help {
        d = d.with_help(h.clone());
    }
    for (path, label) in &p.related {
        d = d.with_secondary(root.span_of(path), label.clone());
    }
    d
}

struct Lower<'a> {
    diags: &'a mut Vec<Diagnostic>,
}

impl Lower<'_> {
    fn string(&mut self, n: &Node, what: &str) -> Option<String> {
        match &n.kind {
            Kind::String(s) | Kind::Number(s) => Some(s.clone()),
            Kind::Bool(b) => Some(b.to_string()),
            _ => {
                self.diags.push(Diagnostic::error(n.span, format!("{what} must be a string, found {}", n.type_name())));
                None
            }
        }
    }

    fn object<'n>(&mut self, n: &'n Node, what: &str, known: &[&str]) -> &'n [crate::value::Member] {
        match &n.kind {
            Kind::Object(ms) => {
                if !known.is_empty() {
                    for m in ms {
                        if !known.contains(&m.key.as_str()) {
                            let mut d = Diagnostic::error(m.key_span, format!("unknown field `{}` in {what}", m.key));
                            if let Some(s) = spo_model::suggest::did_you_mean(&m.key, known.iter().copied()) {
                                d = d.with_help(format!("did you mean `{s}`?"));
                            }
                            self.diags.push(d);
                        }
                    }
                }
                ms
            }
            Kind::Null => &[],
            _ => {
                self.diags
                    .push(Diagnostic::error(n.span, format!("{what} must be a mapping, found {}", n.type_name())));
                &[]
            }
        }
    }

    fn meta(&mut self, n: Option<&Node>) -> ObjectMeta {
        let mut m = ObjectMeta::default();
        let Some(n) = n else { return m };
        for mem in self.object(n, "metadata", &[]) {
            match mem.key.as_str() {
                "name" => m.name = self.string(&mem.value, "metadata.name"),
                "namespace" => m.namespace = self.string(&mem.value, "metadata.namespace"),
                _ => {}
            }
        }
        m
    }
}

/// Lower one manifest document. `None` when it is not a SELinux kind.
pub fn lower(doc: &Node, diags: &mut Vec<Diagnostic>) -> Option<Manifest> {
    let mut l = Lower { diags };
    let kind = doc.get("kind").and_then(Node::as_str)?.to_owned();
    let api_version = doc.get("apiVersion").and_then(Node::as_str).unwrap_or("").to_owned();
    l.object(doc, "the manifest", &["apiVersion", "kind", "metadata", "spec", "status"]);
    let metadata = l.meta(doc.get("metadata"));
    let spec = doc.get("spec");
    match kind.as_str() {
        "SelinuxProfile" => {
            let mut s = SelinuxProfileSpec::default();
            if let Some(spec) = spec {
                for m in l.object(
                    spec,
                    "spec",
                    &["inherit", "mode", "permissive", "allow", "disabled", "state", "allowedNamespaces"],
                ) {
                    match m.key.as_str() {
                        "inherit" => match &m.value.kind {
                            Kind::Array(items) => {
                                for it in items {
                                    let ms = l.object(it, "an inherit entry", &["kind", "name"]);
                                    let get = |k: &str| ms.iter().find(|m| m.key == k).map(|m| &m.value);
                                    let kind = get("kind")
                                        .and_then(|n| l.string(n, "inherit kind"))
                                        .unwrap_or_else(|| "System".into());
                                    let name = get("name").and_then(|n| l.string(n, "inherit name"));
                                    match name {
                                        Some(name) => s.inherit.push(PolicyRef { kind, name }),
                                        None => {
                                            l.diags.push(Diagnostic::error(it.span, "inherit entry without a name"))
                                        }
                                    }
                                }
                            }
                            _ => l.diags.push(Diagnostic::error(m.value.span, "spec.inherit must be a list")),
                        },
                        "mode" => s.mode = l.string(&m.value, "spec.mode"),
                        "permissive" => match m.value.kind {
                            Kind::Bool(b) => s.permissive = Some(b),
                            _ => l.diags.push(Diagnostic::error(m.value.span, "spec.permissive must be true or false")),
                        },
                        "disabled" => {
                            s.disabled = matches!(m.value.kind, Kind::Bool(true)).then_some(true);
                            l.diags.push(crate::value::lower::old_disabled(&m.value));
                        }
                        "state" => match crate::value::lower::spec_state(&m.value) {
                            Ok(d) => s.disabled = d.then_some(true),
                            Err(d) => l.diags.push(*d),
                        },
                        "allow" => {
                            for t in l.object(&m.value, "spec.allow", &[]) {
                                let mut classes = BTreeMap::new();
                                for c in l.object(&t.value, "an allow entry", &[]) {
                                    let perms = match &c.value.kind {
                                        Kind::Array(ps) => {
                                            ps.iter().filter_map(|p| l.string(p, "a permission")).collect()
                                        }
                                        _ => {
                                            l.diags.push(Diagnostic::error(
                                                c.value.span,
                                                format!("the permissions of `{}` must be a list", c.key),
                                            ));
                                            Vec::new()
                                        }
                                    };
                                    classes.insert(c.key.clone(), perms);
                                }
                                s.allow.insert(t.key.clone(), classes);
                            }
                        }
                        _ => {}
                    }
                }
            }
            Some(Manifest::Profile(SelinuxProfile { api_version, kind, metadata, spec: s }))
        }
        "RawSelinuxProfile" => {
            let mut s = RawSelinuxProfileSpec::default();
            if let Some(spec) = spec {
                for m in l.object(spec, "spec", &["policy", "disabled", "state", "allowedNamespaces"]) {
                    match m.key.as_str() {
                        "policy" => s.policy = l.string(&m.value, "spec.policy").unwrap_or_default(),
                        "disabled" => {
                            s.disabled = matches!(m.value.kind, Kind::Bool(true)).then_some(true);
                            l.diags.push(crate::value::lower::old_disabled(&m.value));
                        }
                        "state" => match crate::value::lower::spec_state(&m.value) {
                            Ok(d) => s.disabled = d.then_some(true),
                            Err(d) => l.diags.push(*d),
                        },
                        _ => {}
                    }
                }
            }
            Some(Manifest::Raw(RawSelinuxProfile { api_version, kind, metadata, spec: s }))
        }
        _ => None,
    }
}

/// Maps byte offsets in a YAML scalar's value back to the YAML text.
#[derive(Debug, Clone)]
pub struct ScalarMap {
    /// Source offset of the start of each value line.
    line_starts: Vec<usize>,
    /// Fallback when the value could not be matched line by line.
    fallback: usize,
    /// The text's length: no offset maps past it.
    text_len: usize,
}

impl ScalarMap {
    /// Build the map for `value`, the content of the scalar at `span` in
    /// `text`. Literal (`|`) and folded-free block scalars map exactly;
    /// other styles map every offset to the scalar itself.
    pub fn new(text: &str, span: Span, value: &str) -> Self {
        let fallback = span.start;
        let mut m = ScalarMap { line_starts: Vec::new(), fallback, text_len: text.len() };
        let start = span.start.min(text.len());
        let after = &text[start..];
        let mut pos = if after.starts_with(['|', '>']) {
            // The span starts at the indicator: content begins on the next line.
            let Some(nl) = after.find('\n') else { return m };
            start + nl + 1
        } else if value.contains('\n') {
            // The span starts at the content: take its whole line.
            text[..start].rfind('\n').map_or(0, |n| n + 1)
        } else {
            // Plain or quoted single-line scalar.
            let q = usize::from(after.starts_with('"') || after.starts_with('\''));
            if after.get(q..q + value.len()) == Some(value) {
                m.line_starts.push(start + q);
            }
            return m;
        };
        let mut indent = None;
        for vline in value.split('\n') {
            // Skip to the source line holding this value line.
            let src_line_end = text[pos..].find('\n').map_or(text.len(), |n| pos + n);
            let src_line = &text[pos..src_line_end];
            if vline.is_empty() {
                m.line_starts.push(pos.min(text.len()));
            } else {
                let ind = *indent.get_or_insert_with(|| src_line.len() - src_line.trim_start_matches(' ').len());
                if !src_line.get(ind..).is_some_and(|s| s == vline || s.trim_end() == vline.trim_end()) {
                    m.line_starts.clear();
                    return m;
                }
                m.line_starts.push(pos + ind);
            }
            pos = (src_line_end + 1).min(text.len());
        }
        m
    }

    /// The YAML offset of value offset `off` (in `value`).
    pub fn map(&self, value: &str, off: usize) -> usize {
        if self.line_starts.is_empty() {
            return self.fallback;
        }
        let before = &value[..off.min(value.len())];
        let line = before.bytes().filter(|&b| b == b'\n').count();
        let col = off - before.rfind('\n').map_or(0, |n| n + 1);
        self.line_starts.get(line).map_or(self.fallback, |s| s + col).min(self.text_len)
    }

    /// Move a diagnostic (spans in the value) into the YAML text.
    ///
    /// Both ends are mapped: a span over several lines of the value covers
    /// their indentation too in the text (adding its length to the start
    /// ran past the end of the file, found by the fuzzer).
    pub fn relocate(&self, value: &str, mut d: Diagnostic) -> Diagnostic {
        let span = |s: Span| {
            let start = self.map(value, s.start);
            let end = if self.line_starts.is_empty() { start } else { self.map(value, s.end) };
            Span::new(start, end.max(start))
        };
        d.span = span(d.span);
        for l in &mut d.labels {
            l.span = span(l.span);
        }
        d
    }
}

/// Check a `SelinuxProfile`'s names against a base: types, classes,
/// permissions and inherited templates must exist.
pub fn check_profile_names(root: &Node, p: &SelinuxProfile, base: &Base) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let spec = FieldPath::root().key("spec");
    for (i, r) in p.spec.inherit.iter().enumerate() {
        if r.kind == "System"
            && spo_model::selinux::SYSTEM_TEMPLATES.contains(&r.name.as_str())
            && !base.has(Ns::Block, &r.name)
        {
            out.push(
                Diagnostic::error(
                    root.span_of(&spec.key("inherit").index(i).key("name")),
                    format!("template `{}` is not declared in the base policy", r.name),
                )
                .with_help("add the CIL that declares it with `--cil-base`"),
            );
        }
    }
    // Indexed at the first miss: many unknown names cost one index each.
    let (mut types, mut class_names) = (None, None);
    for (ty, classes) in &p.spec.allow {
        let tp = spec.key("allow").key(ty);
        if ty != SELF_KEY && spo_model::selinux::is_cil_name(ty) && !base.has(Ns::Type, ty) {
            let mut d = Diagnostic::error(root.span_of(&tp.clone().at_key()), format!("type `{ty}` is not declared"));
            if let Some(s) = types.get_or_insert_with(|| base.suggestions(Ns::Type)).suggest(ty) {
                d = d.with_help(format!("did you mean `{s}`?"));
            }
            out.push(d);
        }
        for (class, perms) in classes {
            let cp = tp.key(class);
            if !base.has(Ns::Class, class) {
                let mut d =
                    Diagnostic::error(root.span_of(&cp.clone().at_key()), format!("class `{class}` is not declared"));
                if let Some(s) = class_names.get_or_insert_with(|| base.suggestions(Ns::Class)).suggest(class) {
                    d = d.with_help(format!("did you mean `{s}`?"));
                }
                out.push(d);
                continue;
            }
            for (k, perm) in perms.iter().enumerate() {
                if !base.class_has_perm(class, perm) {
                    let all = base.class_perms(class);
                    let mut d = Diagnostic::error(
                        root.span_of(&cp.index(k)),
                        format!("class `{class}` has no permission `{perm}`"),
                    );
                    if let Some(s) = spo_model::suggest::did_you_mean(perm, all.iter().copied()) {
                        d = d.with_help(format!("did you mean `{s}`?"));
                    }
                    out.push(d);
                }
            }
        }
    }
    out
}

/// Validate every SELinux manifest of a YAML/JSON text: lowering, model
/// validation, names against `base`, and for raw profiles the CIL itself
/// (wrapped in its block, as it will be installed) with spans in `text`.
pub fn validate_manifests(text: &str, base: &Base, deny: &DenyLists) -> (Vec<Manifest>, Vec<Diagnostic>) {
    validate_manifests_with(text, base, deny, &crate::Limits::default())
}

/// [`validate_manifests`] within `limits`.
pub fn validate_manifests_with(
    text: &str,
    base: &Base,
    deny: &DenyLists,
    limits: &crate::Limits,
) -> (Vec<Manifest>, Vec<Diagnostic>) {
    let (docs, mut diags) = crate::value::parse_yaml_with(text, limits);
    let mut manifests = Vec::new();
    for doc in &docs {
        let Some(m) = lower(doc, &mut diags) else {
            let kind = doc.get("kind").and_then(Node::as_str).unwrap_or("");
            diags.push(Diagnostic::error(
                doc.get("kind").map_or(doc.span, |k| k.span),
                format!("expected a SelinuxProfile or RawSelinuxProfile, found kind `{kind}`"),
            ));
            continue;
        };
        match &m {
            Manifest::Profile(p) => {
                diags.extend(p.validate(deny).iter().map(|pr| problem_to_diagnostic(doc, pr)));
                diags.extend(check_profile_names(doc, p, base));
            }
            Manifest::Raw(r) => {
                diags.extend(r.validate().iter().map(|pr| problem_to_diagnostic(doc, pr)));
                if let Some(node) = doc.get("spec").and_then(|s| s.get("policy")) {
                    let policy = &r.spec.policy;
                    let map = ScalarMap::new(text, node.span, policy);
                    for d in raw_policy_problems(&r.block_name(), policy, base, limits) {
                        diags.push(map.relocate(policy, d));
                    }
                }
            }
        }
        manifests.push(m);
    }
    crate::snap_to_text(text, &mut diags);
    diags.sort_by_key(|d| (d.span.start, d.span.end));
    (manifests, diags)
}

/// Every problem of a raw profile's CIL, with spans in `policy`: syntax,
/// escape rules, and names checked as if placed in block `block` on `base`.
pub fn check_raw_policy(block: &str, policy: &str, base: &Base) -> Vec<Diagnostic> {
    raw_policy_problems(block, policy, base, &crate::Limits::default())
}

fn raw_policy_problems(block: &str, policy: &str, base: &Base, limits: &crate::Limits) -> Vec<Diagnostic> {
    let (ast, mut diags) = super::parse_with(policy, limits);
    if diags.iter().any(Diagnostic::is_error) {
        return diags;
    }
    diags.extend(raw::check_raw(&ast));
    // Check names in place: the same text inside `(block NAME ...)`, whose
    // spans are shifted back into the policy.
    let prefix = format!("(block {block}\n");
    let wrapped = format!("{prefix}{policy}\n)");
    let (wast, _) = super::parse_with(&wrapped, limits);
    // Shifted back into the policy, and kept inside it: a statement left
    // open runs into the wrapper's closing `)` (found by the fuzzer).
    let back = |s: Span| {
        let (a, b) = (s.start.saturating_sub(prefix.len()), s.end.saturating_sub(prefix.len()));
        Span::new(a.min(policy.len()), b.min(policy.len()))
    };
    for mut d in super::check(&wast, base) {
        d.span = back(d.span);
        for l in &mut d.labels {
            l.span = back(l.span);
        }
        diags.push(d);
    }
    diags
}
