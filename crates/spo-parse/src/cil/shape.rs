//! Statement shapes: keywords, arity and argument kinds.
//!
//! secilc stops at the first bad statement and says `Bad type declaration`;
//! here every statement is checked against [`super::schema`] and each
//! problem names the keyword, the argument and what was expected.

use spo_model::suggest::did_you_mean;

use super::schema::{declaring, Arg, Ns, Spec, KEYWORDS};
use super::syntax::{Ast, Children, Expr, Kind, NodeId};
use crate::{Diagnostic, Span};

/// Deepest nesting of statements the checker follows.
/// [`Limits::depth`](crate::Limits::depth) is checked when the tree is
/// read; this guard keeps the recursive passes within the stack whatever
/// the limit.
pub const MAX_DEPTH: usize = crate::limits::DEPTH_CEILING;

/// Check every statement of `ast`. Also returns the statements that
/// declare names or hold statements that may, in file order, for collecting
/// names without another walk; `None` when some statement was left
/// unvisited because of an error (names are then collected by a walk).
pub fn check_shapes(ast: &Ast<'_>) -> (Vec<Diagnostic>, Option<Vec<NodeId>>) {
    let mut out = Out { diags: Vec::new(), declaring: Vec::new(), complete: true };
    for e in ast.roots() {
        statement(e, Parent::Top, 0, &mut out);
    }
    (out.diags, out.complete.then_some(out.declaring))
}

/// What the walk produces.
struct Out {
    diags: Vec<Diagnostic>,
    declaring: Vec<NodeId>,
    /// Whether every statement in a body was visited.
    complete: bool,
}

impl Out {
    fn push(&mut self, d: Diagnostic) {
        self.diags.push(d);
    }
}

/// Where a statement sits, for the statements that are only valid in one
/// place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Parent {
    /// Top level, block, optional, in, macro, true/false branch.
    Top,
    /// Directly inside `booleanif`/`tunableif`.
    Conditional,
}

/// Whether `name` is a valid CIL declaration name: a letter, then letters,
/// digits, `_` or `-`.
pub fn valid_decl_name(name: &str) -> bool {
    let mut b = name.bytes();
    b.next().is_some_and(|c| c.is_ascii_alphabetic()) && b.all(|c| c.is_ascii_alphanumeric() || c == b'_' || c == b'-')
}

/// Names CIL reserves in the type table.
pub const RESERVED: &[&str] = &["self", "all", "notself", "other"];

fn describe(e: &Expr<'_, '_>) -> String {
    match e.kind() {
        Kind::Symbol(s) => format!("`{s}`"),
        Kind::Str(s) => format!("the string \"{s}\""),
        Kind::List => "a list".into(),
    }
}

fn statement(e: Expr<'_, '_>, parent: Parent, depth: usize, out: &mut Out) {
    if depth > MAX_DEPTH {
        out.complete = false;
        out.push(Diagnostic::error(e.span(), format!("statements are nested more than {MAX_DEPTH} deep")));
        return;
    }
    if !e.is_list() {
        out.push(
            Diagnostic::error(e.span(), format!("expected a statement in parentheses, found {}", describe(&e)))
                .with_help("every CIL statement is a list such as `(type my_t)`"),
        );
        return;
    }
    let mut items = e.children();
    let Some(head) = items.next() else {
        out.push(
            Diagnostic::error(e.span(), "empty statement `()`")
                .with_help("remove the parentheses or write a statement inside"),
        );
        return;
    };
    let Some(kw) = head.symbol() else {
        out.push(
            Diagnostic::error(head.span(), format!("expected a keyword after `(`, found {}", describe(&head)))
                .with_help("a statement starts with its keyword, as in `(allow ...)`"),
        );
        return;
    };
    if e.keyword_at().is_some_and(declaring) {
        out.declaring.push(e.id());
    }
    let Some((_, sp)) = e.statement() else {
        let mut d = Diagnostic::error(head.span(), format!("unknown keyword `{kw}`")).with_label("not a CIL statement");
        if let Some(s) = did_you_mean(kw, KEYWORDS.iter().copied()) {
            d = d.with_help(format!("did you mean `{s}`?"));
        }
        out.push(d);
        return;
    };
    match (kw, parent) {
        ("true" | "false", Parent::Top) => {
            out.complete = false;
            out.push(
                Diagnostic::error(head.span(), format!("`{kw}` branch outside `booleanif` or `tunableif`"))
                    .with_help("wrap it in `(booleanif CONDITION ...)`"),
            );
            return;
        }
        ("true" | "false", Parent::Conditional) => {}
        (_, Parent::Conditional) => {
            out.complete = false;
            out.push(
                Diagnostic::error(head.span(), format!("`{kw}` directly inside a conditional"))
                    .with_help("put rules in a `(true ...)` or `(false ...)` branch"),
            );
            return;
        }
        _ => {}
    }
    arguments(kw, sp, e, items, depth, out);
}

/// Check the arguments `args` of statement `stmt`. They are walked as an
/// iterator: bodies hold thousands of statements, not worth copying.
fn arguments(kw: &str, sp: Spec, stmt: Expr<'_, '_>, args: Children<'_, '_>, depth: usize, out: &mut Out) {
    let body = sp.args.last() == Some(&Arg::Body);
    let fixed = if body { sp.args.len() - 1 } else { sp.args.len() };
    // Counted up to what the checks need: a body is not walked twice.
    let limit = if body { sp.required } else { fixed + 1 };
    let count = args.clone().take(limit).count();
    if count < sp.required {
        let end = stmt.span().end;
        // The `)`, or the last character of an unclosed statement (which
        // may take several bytes).
        let text = stmt.source();
        let last = text.get(..end).and_then(|t| t.chars().next_back()).map_or(1, char::len_utf8);
        let at = Span::new(end.saturating_sub(last), end);
        out.push(
            Diagnostic::error(
                at,
                format!("`{kw}` needs {} argument{}, found {count}", sp.required, plural(sp.required)),
            )
            .with_label("missing arguments before this `)`")
            .with_help(format!("write `({kw} {})`", sp.usage)),
        );
        return;
    }
    if !body && count > fixed {
        let args: Vec<_> = args.collect();
        let count = args.len();
        let extra = args[fixed].span().join(args[count - 1].span());
        out.push(
            Diagnostic::error(
                extra,
                format!(
                    "`{kw}` takes {}{} argument{}, found {}",
                    if sp.required < fixed { "at most " } else { "" },
                    fixed,
                    plural(fixed),
                    count
                ),
            )
            .with_label("unexpected")
            .with_help(format!("write `({kw} {})`", sp.usage)),
        );
        return;
    }
    // `(typetransition S T C NEW)` has no name argument.
    const TYPETRANSITION4: &[Arg] = &[Arg::Ref(Ns::Type), Arg::Target, Arg::Ref(Ns::Class), Arg::Ref(Ns::Type)];
    let kinds: &[Arg] = if kw == "typetransition" && count == 4 { TYPETRANSITION4 } else { sp.args };
    let mut first = None;
    for (i, a) in args.enumerate() {
        if i == 0 {
            first = a.symbol();
        }
        let kind = if i < fixed { kinds[i] } else { Arg::Body };
        if kind == Arg::Body {
            let parent = if matches!(kw, "booleanif" | "tunableif") { Parent::Conditional } else { Parent::Top };
            if kw == "in" && i == 1 && matches!(first, Some("before" | "after")) {
                // `(in after BLOCK ...)`: the block name is not a statement.
                if !a.is_list() {
                    continue;
                }
            }
            statement(a, parent, depth + 1, out);
        } else {
            argument(kw, kind, a, &mut out.diags);
        }
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

fn argument(kw: &str, kind: Arg, a: Expr<'_, '_>, out: &mut Vec<Diagnostic>) {
    match kind {
        Arg::Decl(ns) => match a.atom() {
            Some(name) => check_decl_name(kw, ns, name, a.span(), out),
            None => out.push(
                Diagnostic::error(a.span(), format!("`{kw}` expects a name to declare, found a list"))
                    .with_help(format!("write `({kw} NAME ...)`")),
            ),
        },
        Arg::Ref(ns) => {
            if a.is_list() {
                out.push(Diagnostic::error(
                    a.span(),
                    format!("`{kw}` expects a {} name here, found a list", ns.noun()),
                ));
            }
        }
        Arg::Target => {
            if a.is_list() {
                out.push(Diagnostic::error(a.span(), format!("`{kw}` expects a target type or `self`, found a list")));
            }
        }
        Arg::Set(_) | Arg::Cond => set_expr(kw, a, 0, out),
        Arg::ClassPerms => class_perms(kw, a, out),
        Arg::PermX => {
            if a.is_list() && a.children().count() != 3 {
                out.push(
                    Diagnostic::error(a.span(), format!("`{kw}` expects `(ioctl CLASS (VALUE ...))`"))
                        .with_help("an extended permission has a kind, a class and a list of values"),
                );
            }
        }
        Arg::PermDecls => {
            if !a.is_list() {
                out.push(
                    Diagnostic::error(
                        a.span(),
                        format!("`{kw}` expects a list of permissions, found {}", describe(&a)),
                    )
                    .with_help("write the permissions in parentheses, as in `(read write)`"),
                );
                return;
            }
            for p in a.children() {
                match p.atom() {
                    Some(name) if valid_decl_name(name) => {}
                    Some(name) => out.push(Diagnostic::error(p.span(), format!("invalid permission name `{name}`"))),
                    None => out.push(Diagnostic::error(p.span(), "expected a permission name, found a list")),
                }
            }
        }
        Arg::Order(_) => {
            if a.is_list() && a.children().any(|c| c.is_list()) {
                out.push(Diagnostic::error(a.span(), format!("`{kw}` expects a flat list of names")));
            } else if !a.is_list() && !kw.starts_with("default") {
                out.push(Diagnostic::error(a.span(), format!("`{kw}` expects a list of names in parentheses")));
            }
        }
        Arg::BoolValue => {
            if !matches!(a.symbol(), Some("true" | "false")) {
                out.push(
                    Diagnostic::error(a.span(), format!("expected `true` or `false`, found {}", describe(&a)))
                        .with_help("the value is lowercase `true` or `false`"),
                );
            }
        }
        Arg::Params => {
            if !a.is_list() {
                out.push(Diagnostic::error(
                    a.span(),
                    "expected the macro parameters in parentheses, as in `((type t))`",
                ));
                return;
            }
            for p in a.children() {
                let kids: Vec<_> = p.children().collect();
                let ok = kids.len() == 2 && kids[0].symbol().is_some_and(is_param_kind) && kids[1].atom().is_some();
                if !ok {
                    out.push(
                        Diagnostic::error(p.span(), "a macro parameter is `(KIND NAME)`")
                            .with_help("KIND is one of type, role, user, class, classmap, classpermission, bool, string, name, level, levelrange, sensitivity, category, categoryset, ipaddr"),
                    );
                }
            }
        }
        Arg::Atom => {
            if a.is_list() {
                out.push(Diagnostic::error(a.span(), format!("`{kw}` expects a single value here, found a list")));
            }
        }
        Arg::List => {
            if !a.is_list() {
                out.push(Diagnostic::error(a.span(), format!("`{kw}` expects a list here, found {}", describe(&a))));
            }
        }
        Arg::Any | Arg::Body => {}
    }
}

fn is_param_kind(s: &str) -> bool {
    matches!(
        s,
        "type"
            | "role"
            | "user"
            | "class"
            | "classmap"
            | "classpermission"
            | "bool"
            | "boolean"
            | "string"
            | "name"
            | "level"
            | "levelrange"
            | "sensitivity"
            | "category"
            | "categoryset"
            | "ipaddr"
            | "typeattribute"
            | "roleattribute"
            | "userattribute"
    )
}

fn check_decl_name(kw: &str, ns: Ns, name: &str, span: Span, out: &mut Vec<Diagnostic>) {
    if !valid_decl_name(name) {
        let why = match name.bytes().next() {
            None => "a name cannot be empty".to_string(),
            Some(c) if !c.is_ascii_alphabetic() => format!("`{name}` does not start with a letter"),
            _ => {
                let bad = name.chars().find(|c| !(c.is_ascii_alphanumeric() || *c == '_' || *c == '-')).unwrap_or('?');
                format!("`{name}` contains `{bad}`")
            }
        };
        out.push(
            Diagnostic::error(span, format!("invalid {} name in `{kw}`: {why}", ns.noun()))
                .with_help("declared names start with a letter and use only letters, digits, `_` and `-`"),
        );
    } else if ns == Ns::Type && RESERVED.contains(&name) {
        out.push(Diagnostic::error(span, format!("`{name}` is a reserved word and cannot be declared")));
    }
}

/// Set and condition expressions: atoms, lists of atoms, and operator lists.
fn set_expr(kw: &str, a: Expr<'_, '_>, depth: usize, out: &mut Vec<Diagnostic>) {
    if depth > MAX_DEPTH {
        out.push(Diagnostic::error(a.span(), "expression nested too deep"));
        return;
    }
    if a.is_list() {
        if a.children().next().is_none() && kw != "typeattributeset" && kw != "roleattributeset" {
            out.push(Diagnostic::error(a.span(), format!("empty expression in `{kw}`")));
        }
        for c in a.children() {
            // Atoms need no check (short of the depth limit): most
            // expressions are flat lists of names.
            if c.is_list() || depth + 1 > MAX_DEPTH {
                set_expr(kw, c, depth + 1, out);
            }
        }
    }
}

pub(crate) fn is_operator(s: &str) -> bool {
    matches!(s, "and" | "or" | "not" | "xor" | "all" | "eq" | "neq" | "range")
}

fn class_perms(kw: &str, a: Expr<'_, '_>, out: &mut Vec<Diagnostic>) {
    if !a.is_list() {
        // A named classpermission.
        return;
    }
    let help = "write `(CLASS (PERMISSION ...))`, as in `(file (read open))`";
    let kids = match a.pair() {
        Ok((class, perms)) => [class, perms],
        Err(n) => {
            out.push(
                Diagnostic::error(
                    a.span(),
                    format!("`{kw}` expects a class and a list of permissions, found {n} item{}", plural(n)),
                )
                .with_help(help),
            );
            return;
        }
    };
    if kids[0].is_list() {
        out.push(Diagnostic::error(kids[0].span(), "expected a class name, found a list").with_help(help));
    }
    if !kids[1].is_list() {
        out.push(
            Diagnostic::error(
                kids[1].span(),
                format!("the permissions must be in parentheses, found {}", describe(&kids[1])),
            )
            .with_help(format!(
                "write `({} ({}))`",
                kids[0].atom().unwrap_or("CLASS"),
                kids[1].atom().unwrap_or("PERMISSION")
            )),
        );
    } else {
        set_expr(kw, kids[1], 0, out);
    }
}
