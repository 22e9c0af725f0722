//! `spoc` verbs for SELinux: validate CIL files and SELinux manifests,
//! compile manifests to CIL, install into an offline policy store. Thin:
//! the work is in `spo_parse::cil`, `spo_compile::cil` and
//! `spo_node::selinux`.

use std::path::Path;

use anyhow::Context as _;
use spo_compile::cil::{selinux_profile_to_cil, wrap_raw};
use spo_model::selinux::DenyLists;
use spo_node::selinux::{semodule_errors, SelinuxInstaller, Semodule};
use spo_node::NodeError;
use spo_parse::cil::cr::{validate_manifests, Manifest, ScalarMap};
use spo_parse::cil::{self, Base};
use spo_parse::value::parse_yaml;
use spo_parse::{Diagnostic, SourceMap, Span};
use spo_validate::selinux::is_cil;

/// The modules a manifest or CIL file installs: (module name, CIL).
fn modules(path: &Path, text: &str, base: &Base) -> Result<Vec<(String, String, Origin)>, Vec<Diagnostic>> {
    if is_cil(path, text) {
        let diags = cil::validate(text, base);
        if diags.iter().any(Diagnostic::is_error) {
            return Err(diags);
        }
        let stem = path.file_stem().map(|s| s.to_string_lossy().replace(['.', ' '], "_")).unwrap_or_default();
        let name = if spo_model::selinux::is_cil_identifier(&stem) { stem } else { "module".into() };
        return Ok(vec![(name, text.to_owned(), Origin::Cil)]);
    }
    let (manifests, diags) = validate_manifests(text, base, &DenyLists::default());
    if diags.iter().any(Diagnostic::is_error) {
        return Err(diags);
    }
    let mut out = Vec::new();
    for (i, m) in manifests.into_iter().enumerate() {
        match m {
            Manifest::Profile(p) => match selinux_profile_to_cil(&p, &DenyLists::default()) {
                Ok(c) => out.push((p.block_name(), c, Origin::Profile(i))),
                Err(e) => return Err(vec![Diagnostic::error(Span::point(0), e.to_string())]),
            },
            Manifest::Raw(r) => {
                let w = wrap_raw(&r);
                out.push((
                    r.block_name(),
                    w.cil,
                    Origin::Raw { doc: i, line_offset: w.line_offset, column_offset: w.column_offset },
                ));
            }
        }
    }
    Ok(out)
}

#[derive(Debug, Clone, Copy)]
enum Origin {
    Cil,
    Profile(usize),
    Raw { doc: usize, line_offset: usize, column_offset: usize },
}

/// The CIL a manifest compiles to (all documents, concatenated), or the
/// diagnostics that prevent it.
pub fn compile_cil(path: &Path, text: &str) -> anyhow::Result<Result<String, Vec<Diagnostic>>> {
    let base = Base::default_container_base();
    Ok(modules(path, text, &base).map(|ms| ms.into_iter().map(|(_, c, _)| c).collect::<Vec<_>>().join("")))
}

/// Validate, compile and install into the policy store under `root` with
/// `semodule -p ROOT -n`. Returns the installed module names, or the
/// diagnostics (ours, or semodule's mapped back to the user's file).
pub fn install(path: &Path, text: &str, root: &Path) -> anyhow::Result<Result<Vec<String>, Vec<Diagnostic>>> {
    let base = Base::default_container_base();
    let mods = match modules(path, text, &base) {
        Ok(m) => m,
        Err(d) => return Ok(Err(d)),
    };
    let installer = Semodule::offline(root);
    let mut names = Vec::new();
    for (name, cil, origin) in mods {
        match installer.install(&name, &cil) {
            Ok(()) => names.push(name),
            Err(NodeError::ToolFailed { output, .. }) => {
                return Ok(Err(map_semodule(text, &name, &cil, origin, &output)))
            }
            Err(e) => return Err(e).with_context(|| format!("cannot install module {name}")),
        }
    }
    Ok(Ok(names))
}

fn map_semodule(text: &str, name: &str, cil: &str, origin: Origin, output: &str) -> Vec<Diagnostic> {
    let errors = semodule_errors(name, output);
    let context: Vec<String> = errors.iter().filter(|e| e.line.is_none()).map(|e| e.message.clone()).collect();
    let mut out = Vec::new();
    for e in errors.iter().filter(|e| e.line.is_some()) {
        let line = e.line.unwrap_or(1);
        let span = match origin {
            Origin::Cil => line_span(text, line, 0),
            Origin::Raw { doc, line_offset, column_offset } => {
                let (docs, _) = parse_yaml(text);
                let policy = docs.get(doc).and_then(|d| d.get("spec")).and_then(|s| s.get("policy"));
                match (policy, policy.and_then(|p| p.as_str())) {
                    (Some(node), Some(value)) => {
                        let pl = line.saturating_sub(line_offset).max(1);
                        let off = SourceMap::new(value).line_start(pl).unwrap_or(0);
                        let _ = column_offset;
                        let at = ScalarMap::new(text, node.span, value).map(value, off);
                        Span::new(at, at + value[off..].find('\n').unwrap_or(value.len() - off))
                    }
                    _ => Span::point(0),
                }
            }
            Origin::Profile(doc) => {
                let (docs, _) = parse_yaml(text);
                docs.get(doc)
                    .and_then(|d| d.get("spec"))
                    .and_then(|s| s.get("allow"))
                    .map_or(Span::point(0), |n| n.span)
            }
        };
        let stmt = SourceMap::new(cil).line_text(line).trim().to_owned();
        let mut d = Diagnostic::error(span, format!("semodule: {}", e.message))
            .with_note(format!("in the installed module: `{stmt}`"));
        for c in &context {
            d = d.with_note(c.clone());
        }
        out.push(d);
    }
    if out.is_empty() {
        let mut d = Diagnostic::error(Span::point(0), "semodule rejected the module");
        for c in &context {
            d = d.with_note(c.clone());
        }
        out.push(d);
    }
    out
}

fn line_span(text: &str, line: usize, col: usize) -> Span {
    let map = SourceMap::new(text);
    let start = map.line_start(line).unwrap_or(0) + col;
    Span::new(start, start + map.line_text(line).len().saturating_sub(col))
}
