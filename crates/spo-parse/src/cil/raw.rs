//! Rules for the CIL of a `RawSelinuxProfile`, which is placed inside the
//! profile's own block and must not reach outside it.
//!
//! SPO rejects a list of global statements and, in its latest version,
//! `blockinherit` of anything but the container templates (its own example
//! uses `(blockinherit container)`, so banning `blockinherit` outright, as
//! an older version did, breaks the documented use). spo-rs keeps that
//! rule and also rejects `in`, which would add rules to another block (a
//! template every container inherits), and `blockabstract`.

use super::syntax::Ast;
use crate::Diagnostic;

/// Statements a raw profile may not contain, at any depth.
pub const RESTRICTED: &[&str] = &[
    "block",
    "blockstart",
    "blockabstract",
    "booleanif",
    "category",
    "categoryorder",
    "class",
    "classmap",
    "classmapping",
    "classorder",
    "common",
    "context",
    "dominance",
    "filecon",
    "genfscon",
    "in",
    "level",
    "levelrange",
    "mls",
    "netifcon",
    "nodecon",
    "optional",
    "policycap",
    "portcon",
    "role",
    "roletype",
    "sensitivity",
    "sensitivityorder",
    "sid",
    "sidcontext",
    "sidorder",
    "tunable",
    "tunableif",
    "typepermissive",
    "user",
    "userrole",
    "handleunknown",
    "fsuse",
    "ibpkeycon",
    "ibendportcon",
    "selinuxuser",
    "selinuxuserdefault",
    "userlevel",
    "userrange",
];

/// Templates a raw profile may inherit.
pub const INHERITABLE: &[&str] = spo_model::selinux::SYSTEM_TEMPLATES;

/// Check the escape rules on the tree of a raw profile's policy.
pub fn check_raw(ast: &Ast<'_>) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let mut stack: Vec<_> = ast.roots().collect();
    while let Some(e) = stack.pop() {
        if !e.is_list() {
            continue;
        }
        if let Some(kw) = e.children().next().and_then(|h| h.atom()) {
            let head = e.children().next().map(|h| h.span()).unwrap_or(e.span());
            let lower = kw.to_ascii_lowercase();
            if RESTRICTED.contains(&lower.as_str()) {
                out.push(
                    Diagnostic::error(head, format!("`{kw}` is not allowed in a RawSelinuxProfile"))
                        .with_label("changes policy outside the profile's block")
                        .with_help("a raw profile may only add rules for its own `process`; ask a cluster admin to install global policy"),
                );
                continue;
            }
            if lower == "blockinherit" {
                let args: Vec<_> = e.children().skip(1).collect();
                match args.as_slice() {
                    [t] if t.symbol().is_some_and(|n| INHERITABLE.contains(&n)) => {}
                    [t] => out.push(
                        Diagnostic::error(
                            t.span(),
                            format!(
                                "a RawSelinuxProfile may only inherit the container templates, not {}",
                                t.atom().map_or("a list".into(), |n| format!("`{n}`"))
                            ),
                        )
                        .with_help(format!("inherit one of: {}", INHERITABLE.join(", "))),
                    ),
                    _ => {}
                }
                continue;
            }
        }
        stack.extend(e.children().filter(|c| c.is_list()));
    }
    out.sort_by_key(|d| d.span.start);
    out
}
