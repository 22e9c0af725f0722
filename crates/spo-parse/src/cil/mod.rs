//! SELinux CIL: parser, statement checker and name resolution.
//!
//! secilc reports one error per run, often without the name that failed
//! (`Failed to resolve allow statement at foo.cil:4`). This module reports
//! every problem of a file in one pass, each at the exact token: unbalanced
//! parentheses (at the opener that lacks its `)`), unknown keywords with a
//! suggestion, wrong arity or argument kinds, bad names, and names that are
//! declared neither in the file nor in the [`Base`] it builds on.
//!
//! **API boundary:** [`parse`] never fails and never panics; [`check`] takes
//! its tree and a base. Both return plain [`Diagnostic`]s with byte spans.

pub mod base;
pub mod cr;
mod fxhash;
mod names;
mod raw;
mod resolve;
pub mod schema;
mod shape;
mod symbols;
mod syntax;

pub use base::Base;
pub use raw::{check_raw, INHERITABLE, RESTRICTED};
pub use schema::Ns;
pub use shape::valid_decl_name;
pub use symbols::Symbols;
pub use syntax::{is_symbol_byte, Ast, Children, Expr, Kind, NodeId};

use crate::{Diagnostic, Limits};

/// Parse CIL text: the tree, and every syntax and statement-shape error.
pub fn parse(text: &str) -> (Ast<'_>, Vec<Diagnostic>) {
    parse_with(text, &Limits::default())
}

/// [`parse`] within `limits` (nesting deeper than [`Limits::depth`] is an
/// error at the first `(` past it).
pub fn parse_with<'t>(text: &'t str, limits: &Limits) -> (Ast<'t>, Vec<Diagnostic>) {
    let (mut ast, mut diags) = syntax::parse_tree_with(text, limits);
    let (shapes, declaring) = shape::check_shapes(&ast);
    diags.extend(shapes);
    ast.set_declaring(declaring);
    (ast, diags)
}

/// Check the names `ast` declares and uses against itself and `base`:
/// duplicates, undeclared types, classes, permissions, macros, templates.
pub fn check(ast: &Ast<'_>, base: &Base) -> Vec<Diagnostic> {
    check_impl(ast, base, true)
}

/// Like [`check`], for a module whose own declarations are already part of
/// `base` (a module of a store checked against the whole store): names the
/// file declares are not reported as clashing with the base.
pub fn check_with_own_names(ast: &Ast<'_>, base: &Base) -> Vec<Diagnostic> {
    check_impl(ast, base, false)
}

fn check_impl(ast: &Ast<'_>, base: &Base, clashes: bool) -> Vec<Diagnostic> {
    let mut file = symbols::collect(ast, false);
    let unknown = symbols::expand_inherits(&mut file, Some(base.symbols()));
    let _ = unknown; // reported by `resolve` at the `blockinherit` itself
    let mut out = resolve::duplicates(&file);
    if clashes {
        out.extend(base_clashes(&file, base));
    }
    out.extend(resolve::resolve(ast, &file, base.symbols()));
    out.sort_by_key(|d| (d.span.start, d.span.end));
    out
}

/// Parse and check in one call: every diagnostic, sorted by position.
pub fn validate(text: &str, base: &Base) -> Vec<Diagnostic> {
    validate_with(text, base, &Limits::default())
}

/// [`validate`] within `limits`.
pub fn validate_with(text: &str, base: &Base, limits: &Limits) -> Vec<Diagnostic> {
    let (ast, mut diags) = parse_with(text, limits);
    // Name errors in a file whose brackets do not balance (or nest past
    // the limit) are mostly noise.
    if !diags.iter().any(|d| d.message.starts_with("unclosed") || d.message.starts_with("nesting deeper")) {
        diags.extend(check(&ast, base));
    }
    diags.sort_by_key(|d| (d.span.start, d.span.end));
    diags
}

fn base_clashes(file: &Symbols, base: &Base) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for ns in schema::ALL_NS {
        for (name, origin) in file.entries(*ns) {
            if let (symbols::Origin::File(span), Some(_)) = (origin, base.symbols().get(*ns, name)) {
                // Optionals share the block table; their names never clash.
                out.push(
                    Diagnostic::error(span, format!("{} `{name}` is already declared by the base policy", ns.noun()))
                        .with_label("declared again here")
                        .with_help("pick another name: installing this module would fail with a re-declaration"),
                );
            }
        }
    }
    out
}
