//! Name resolution: every type, class, permission, macro and template a
//! statement names must be declared in the file or in the base it builds
//! on, and each miss is reported at the name, with a suggestion.
//!
//! As in secilc, a name that does not resolve inside an `optional` only
//! disables that optional: it is a warning here, not an error. Macro bodies
//! and abstract blocks are resolved where they are used, so their names are
//! not checked in place.

use std::borrow::Cow;

use spo_model::suggest::{did_you_mean, Lazy};

use super::names::{hash_name, NameMap, NameSet};

use super::schema::{Arg, Ns, Spec};
use super::shape::{is_operator, MAX_DEPTH};
use super::symbols::{resolve_in, Origin, Symbols};
use super::syntax::{Ast, Expr};
use crate::{Diagnostic, Severity, Span};

struct Ctx<'s> {
    file: &'s Symbols,
    base: &'s Symbols,
    path: Vec<String>,
    /// Name of the innermost enclosing optional.
    optional: Option<String>,
    /// Inside a macro body or an abstract block.
    silent: bool,
    out: Vec<Diagnostic>,
    /// Position in `perm_sets` of each class's permissions, gathered once
    /// per class.
    perm_index: NameMap<String, usize>,
    /// Every permission of a class (its own and its common's, from the file
    /// and the base) in one set: one lookup per permission of a rule.
    perm_sets: Vec<(String, NameSet<&'s str>)>,
    /// Position in `perm_sets` of a class named outside any block, by the
    /// name as written.
    top_class: NameMap<String, usize>,
    /// Reused buffer of permission spans.
    perm_buf: Vec<Span>,
    /// Class permission lists, as written outside blocks, whose class and
    /// permissions all resolved: a policy repeats a few hundred of them
    /// tens of thousands of times (`(dir (getattr open search))`).
    good_lists: NameSet<String>,
    /// Suggestions among the file's and the base's names, per table, made
    /// at the first miss in that table and indexed once misses are many:
    /// a file with many unknown names costs one index, not a scan of every
    /// name per miss.
    suggestions: Vec<(Ns, Lazy<'s>)>,
}

/// Check every name `ast` uses against its own declarations (`file`) and
/// the base.
pub fn resolve(ast: &Ast<'_>, file: &Symbols, base: &Symbols) -> Vec<Diagnostic> {
    let mut cx = Ctx {
        file,
        base,
        path: Vec::new(),
        optional: None,
        silent: false,
        out: Vec::new(),
        perm_index: NameMap::default(),
        perm_sets: Vec::new(),
        top_class: NameMap::default(),
        perm_buf: Vec::new(),
        good_lists: NameSet::default(),
        suggestions: Vec::new(),
    };
    for e in ast.roots() {
        cx.stmt(e, 0);
    }
    cx.out
}

impl<'s> Ctx<'s> {
    fn find<'n>(&self, ns: Ns, name: &'n str) -> Option<Cow<'n, str>> {
        resolve_in(self.file, Some(self.base), ns, name, &self.path)
    }

    fn report(&mut self, d: Diagnostic) {
        if self.silent {
            return;
        }
        match &self.optional {
            Some(o) => {
                let o = o.clone();
                let mut d = d;
                d.severity = Severity::Warning;
                d = d.with_note(format!(
                    "inside `(optional {o} ...)`: the whole optional block will be left out of the policy"
                ));
                self.out.push(d);
            }
            None => self.out.push(d),
        }
    }

    fn missing(&mut self, ns: Ns, name: &str, span: Span) {
        let mut d = Diagnostic::error(span, format!("{} `{name}` is not declared", ns.noun()))
            .with_label(format!("unknown {}", ns.noun()));
        if self.silent {
            return;
        }
        let last = name.rsplit('.').next().unwrap_or(name);
        // Inside optionals (warnings, often thousands in a real store)
        // suggestions are left out.
        let suggestion = if self.optional.is_some() {
            None
        } else {
            let at = match self.suggestions.iter().position(|(n, _)| *n == ns) {
                Some(at) => at,
                None => {
                    let (file, base) = (self.file, self.base);
                    self.suggestions.push((ns, Lazy::new(file.names(ns).chain(base.names(ns)))));
                    self.suggestions.len() - 1
                }
            };
            self.suggestions[at].1.suggest(last).map(str::to_owned)
        };
        if let Some(s) = suggestion {
            d = d.with_help(format!("did you mean `{s}`?"));
        } else {
            d = d.with_help(match ns {
                Ns::Block | Ns::Macro => format!("add the CIL file that declares this {} with `--cil-base`", ns.noun()),
                _ => format!(
                    "declare it with `({} {name})`, or add the policy that declares it with `--cil-base`",
                    decl_keyword(ns)
                ),
            });
        }
        self.report(d);
    }

    fn reference<'a>(&mut self, ns: Ns, e: Expr<'_, 'a>) -> Option<Cow<'a, str>> {
        let name = e.atom()?;
        match self.find(ns, name) {
            Some(q) => Some(q),
            None => {
                self.missing(ns, name, e.span());
                None
            }
        }
    }

    fn stmt(&mut self, e: Expr<'_, '_>, depth: usize) {
        if depth > MAX_DEPTH {
            return;
        }
        let Some((kw, sp)) = e.statement() else { return };
        if !matches!(
            kw,
            "block" | "macro" | "optional" | "in" | "typeattributeset" | "roleattributeset" | "typetransition"
        ) {
            // Most statements: walk the arguments in place, no copy.
            if e.children().take(sp.required + 1).count() <= sp.required {
                return;
            }
            self.arguments(kw, sp, e.children().skip(1), depth);
            return;
        }
        if matches!(kw, "block" | "optional") {
            // Containers of thousands of statements: walked in place.
            let mut body = e.children().skip(1);
            let Some(name) = body.next() else { return };
            if kw == "optional" {
                let prev = self.optional.replace(name.atom().unwrap_or("").to_owned());
                for a in body {
                    self.stmt(a, depth + 1);
                }
                self.optional = prev;
                return;
            }
            let Some(name) = name.atom() else { return };
            let abstract_ = body.clone().any(|a| a.keyword() == Some("blockabstract"));
            let was = self.silent;
            self.silent |= abstract_;
            self.path.push(name.to_owned());
            for a in body {
                self.stmt(a, depth + 1);
            }
            self.path.pop();
            self.silent = was;
            return;
        }
        let args = e.args();
        if args.len() < sp.required {
            return;
        }
        match kw {
            "macro" => {
                let was = self.silent;
                self.silent = true;
                for a in &args[2..] {
                    self.stmt(*a, depth + 1);
                }
                self.silent = was;
                return;
            }
            "in" => {
                let (target, body) = match args[0].symbol() {
                    Some("before" | "after") if args.len() > 1 => (args[1], &args[2..]),
                    _ => (args[0], &args[1..]),
                };
                let Some(q) = self.reference(Ns::Block, target) else {
                    return;
                };
                let saved = std::mem::replace(&mut self.path, q.split('.').map(str::to_owned).collect());
                for a in body {
                    self.stmt(*a, depth + 1);
                }
                self.path = saved;
                return;
            }
            "typeattributeset" | "roleattributeset" => {
                let ns = if kw == "typeattributeset" { Ns::Type } else { Ns::Role };
                if let Some(q) = self.reference(ns, args[0]) {
                    let is_attr =
                        self.file.attributes.contains(q.as_ref()) || self.base.attributes.contains(q.as_ref());
                    if !is_attr {
                        let what = if ns == Ns::Type { "type attribute" } else { "role attribute" };
                        self.report(Diagnostic::error(args[0].span(), format!("`{q}` is not a {what}")).with_help(
                            format!(
                                "`{kw}` adds members to an attribute declared with `({} NAME)`",
                                if ns == Ns::Type { "typeattribute" } else { "roleattribute" }
                            ),
                        ));
                    }
                }
                self.set(ns, args[1], 0);
                return;
            }
            "typetransition" if args.len() == 4 => {
                self.reference(Ns::Type, args[0]);
                self.target(args[1]);
                self.reference(Ns::Class, args[2]);
                self.reference(Ns::Type, args[3]);
                return;
            }
            _ => {}
        }
        self.arguments(kw, sp, args.iter().copied(), depth);
    }

    /// Resolve the names in the arguments of a statement, by their kinds.
    fn arguments<'t, 'a: 't>(&mut self, kw: &str, sp: Spec, args: impl Iterator<Item = Expr<'t, 'a>>, depth: usize) {
        let fixed = if sp.args.last() == Some(&Arg::Body) { sp.args.len() - 1 } else { sp.args.len() };
        for (i, a) in args.enumerate() {
            let kind = if i < fixed { sp.args[i] } else { Arg::Body };
            match kind {
                Arg::Ref(ns) if ns.resolved() => {
                    self.reference(ns, a);
                }
                Arg::Target => self.target(a),
                Arg::Set(ns) if ns.resolved() => self.set(ns, a, 0),
                Arg::Cond => {
                    let ns = if kw == "tunableif" { Ns::Tunable } else { Ns::Bool };
                    self.set(ns, a, 0);
                }
                Arg::ClassPerms => self.class_perms(a),
                Arg::Body => self.stmt(a, depth + 1),
                _ => {}
            }
        }
    }

    fn target(&mut self, e: Expr<'_, '_>) {
        if !matches!(e.atom(), Some("self" | "notself" | "other")) {
            self.reference(Ns::Type, e);
        }
    }

    fn set(&mut self, ns: Ns, e: Expr<'_, '_>, depth: usize) {
        if depth > MAX_DEPTH {
            return;
        }
        match e.atom() {
            Some(a) if is_operator(a) => {}
            Some(_) => {
                self.reference(ns, e);
            }
            None => {
                for c in e.children() {
                    self.set(ns, c, depth + 1);
                }
            }
        }
    }

    fn class_perms(&mut self, e: Expr<'_, '_>) {
        if !e.is_list() {
            self.reference(Ns::ClassPermission, e);
            return;
        }
        let Ok((class_name, perm_list)) = e.pair() else {
            return;
        };
        let kids = [class_name, perm_list];
        // Outside blocks a class name always resolves the same way: the
        // name as written leads straight to the class's permissions, and a
        // list seen before in full resolves as it did then.
        let top = self.path.is_empty();
        let text = e.source();
        let whole = text.as_bytes().get(e.span().range()).unwrap_or_default();
        if top && self.good_lists.get_hashed(hash_name(whole), whole).is_some() {
            return;
        }
        let cached = match kids[0].atom() {
            Some(w) if top => self.top_class.get(w).copied(),
            _ => None,
        };
        let at = match cached {
            Some(at) => at,
            None => {
                let Some(class) = self.reference(Ns::Class, kids[0]) else {
                    return;
                };
                let at = match self.perm_index.get(class.as_ref()) {
                    Some(&at) => at,
                    None => {
                        let mut set = NameSet::default();
                        for p in self.class_perm_sets(&class).into_iter().flat_map(|s| s.keys()) {
                            set.add(p);
                        }
                        self.perm_sets.push((class.to_string(), set));
                        self.perm_index.insert(class.to_string(), self.perm_sets.len() - 1);
                        self.perm_sets.len() - 1
                    }
                };
                if let (true, Some(w)) = (top, kids[0].atom()) {
                    self.top_class.insert(w.to_owned(), at);
                }
                at
            }
        };
        let mut perms = std::mem::take(&mut self.perm_buf);
        perms.clear();
        collect_perms(kids[1], &mut perms, 0);
        let known = &self.perm_sets[at].1;
        // Keep the unknown permissions only, then report them in order.
        perms.retain(|span| {
            let p = text.as_bytes().get(span.range()).unwrap_or_default();
            known.get_hashed(hash_name(p), p).is_none()
        });
        if perms.is_empty() {
            if let (true, Some(w)) = (top, text.get(e.span().range())) {
                self.good_lists.add(w.to_owned());
            }
        } else {
            let class = self.perm_sets[at].0.clone();
            for &span in &perms {
                let p = &text[span.range()];
                let cands = self.class_perm_names(&class);
                let mut d = Diagnostic::error(span, format!("class `{class}` has no permission `{p}`"))
                    .with_label("unknown permission");
                if let Some(s) = did_you_mean(p, cands.iter().map(String::as_str)) {
                    d = d.with_help(format!("did you mean `{s}`?"));
                } else {
                    let mut c = cands;
                    c.sort();
                    let shown: Vec<_> = c.iter().take(12).map(String::as_str).collect();
                    d = d.with_help(format!(
                        "`{class}` has: {}{}",
                        shown.join(" "),
                        if c.len() > 12 { " ..." } else { "" }
                    ));
                }
                self.report(d);
            }
        }
        self.perm_buf = perms;
    }

    /// The permission sets of `class`: its own and its common's, from the
    /// file and the base.
    fn class_perm_sets(&self, class: &str) -> Vec<&'s NameSet<String>> {
        let (file, base) = (self.file, self.base);
        let common = file.class_common.get(class).or_else(|| base.class_common.get(class));
        let mut v = Vec::new();
        for s in [file, base] {
            v.extend(s.perms.get(class));
            if let Some(k) = common {
                v.extend(s.perms.get(k));
            }
        }
        v
    }

    fn class_perm_names(&self, class: &str) -> Vec<String> {
        let mut v = Vec::new();
        let k = self.file.class_common.get(class).or_else(|| self.base.class_common.get(class)).cloned();
        for s in [self.file, self.base] {
            for key in std::iter::once(class).chain(k.as_deref()) {
                if let Some(ps) = s.perms.get(key) {
                    v.extend(ps.keys().map(str::to_owned));
                }
            }
        }
        v.sort();
        v.dedup();
        v
    }
}

fn collect_perms(e: Expr<'_, '_>, out: &mut Vec<Span>, depth: usize) {
    if depth > MAX_DEPTH {
        return;
    }
    match e.atom() {
        Some(a) if is_operator(a) => {}
        Some(_) => out.push(e.span()),
        None if depth < MAX_DEPTH => {
            // Flat permission lists are the rule: handle atoms here.
            for c in e.children() {
                match c.atom() {
                    Some(a) if is_operator(a) => {}
                    Some(_) => out.push(c.span()),
                    None => collect_perms(c, out, depth + 1),
                }
            }
        }
        None => {}
    }
}

fn decl_keyword(ns: Ns) -> &'static str {
    match ns {
        Ns::Type => "type",
        Ns::Bool => "boolean",
        other => other.noun(),
    }
}

/// Duplicate declarations as diagnostics.
pub fn duplicates(file: &Symbols) -> Vec<Diagnostic> {
    file.duplicates
        .iter()
        .map(|(ns, name, span, first)| {
            let d = Diagnostic::error(*span, format!("{} `{name}` is declared twice", ns.noun()))
                .with_label("declared again here");
            match first {
                Origin::File(f) => {
                    d.with_secondary(*f, "first declared here").with_help("remove one of the declarations")
                }
                Origin::Base => {
                    d.with_help("the base policy already declares it: rename yours or use the existing one")
                }
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use crate::cil::{check, parse, Base};

    fn messages(text: &str) -> Vec<String> {
        let base = Base::from_cil("(class file (read open))");
        let (ast, _) = parse(text);
        check(&ast, &base).into_iter().map(|d| d.message).collect()
    }

    #[test]
    fn resolves_a_statement_given_as_an_argument_too_many() {
        // A missing `)` makes the second rule an argument of the first: the
        // parser does not look its keyword up, the resolver still must.
        let m = messages("(type a)\n(allow a a (file (read))\n(allow zz a (file (read))))\n");
        assert_eq!(m, ["type `zz` is not declared"]);
    }

    #[test]
    fn permissions_resolve_through_the_class_cache_inside_and_outside_blocks() {
        let m = messages(
            "(type a)\n(allow a a (file (read)))\n(block b (allow a a (file (open wrte))))\n(allow a a (file (opn)))\n",
        );
        assert_eq!(m, ["class `file` has no permission `wrte`", "class `file` has no permission `opn`"]);
    }
}
