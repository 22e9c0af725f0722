//! Declared names: what a CIL file (or a base policy) declares, per symbol
//! table, with block scoping and template inheritance expanded.
//!
//! CIL names live in blocks: `(block b (type t))` declares `b.t`, and
//! `(blockinherit b)` inside block `c` declares `c.t` as well. A name used in
//! block `x.y` is looked up as `x.y.NAME`, `x.NAME`, then `NAME`, as secilc
//! does; a leading `.` means the global one.

use std::borrow::Cow;
use std::collections::HashSet;

use super::fxhash::FxHashMap as HashMap;
use super::names::{hash_name, NameMap, NameSet};

use super::schema::{declaring, Arg, Ns};
use super::syntax::{Ast, Expr, NodeId};
use crate::Span;

const TABLES: usize = Ns::PolicyCap as usize + 1;

/// Where a name was declared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// In the file being checked, at this span.
    File(Span),
    /// In the base policy.
    Base,
}

/// The names a policy declares.
#[derive(Debug, Clone, Default)]
pub struct Symbols {
    tables: Vec<NameMap<String, Origin>>,
    /// Type and role attributes (subset of the type/role tables).
    pub(crate) attributes: NameSet<String>,
    /// Permissions of each class, class map and common.
    pub(crate) perms: NameMap<String, NameSet<String>>,
    /// Common of each class.
    pub(crate) class_common: NameMap<String, String>,
    /// Names declared directly in each block, relative to it.
    pub(crate) members: HashMap<String, Vec<(Ns, String)>>,
    /// `(blockinherit T)` statements: inheriting block, template as written,
    /// and the blocks the statement sits in (to resolve `T`).
    pub(crate) inherits: Vec<(String, String, Vec<String>)>,
    /// Duplicate declarations found while collecting: (table, name, second
    /// declaration, first declaration).
    pub(crate) duplicates: Vec<(Ns, String, Span, Origin)>,
}

impl Symbols {
    fn table(&self, ns: Ns) -> Option<&NameMap<String, Origin>> {
        self.tables.get(ns as usize)
    }

    /// Where `qualified` is declared in table `ns`, if it is.
    pub fn get(&self, ns: Ns, qualified: &str) -> Option<Origin> {
        self.table(ns).and_then(|t| t.get(qualified).copied())
    }

    /// Like [`Symbols::get`], for a name whose [`hash_name`] is known.
    #[inline]
    pub(crate) fn get_hashed(&self, ns: Ns, hash: u64, qualified: &[u8]) -> Option<Origin> {
        self.table(ns).and_then(|t| t.get_hashed(hash, qualified).copied())
    }

    /// Every name of table `ns`.
    pub fn names(&self, ns: Ns) -> impl Iterator<Item = &str> {
        self.table(ns).into_iter().flat_map(|t| t.keys())
    }

    /// Every name of table `ns` with its origin.
    pub fn entries(&self, ns: Ns) -> impl Iterator<Item = (&str, Origin)> {
        self.table(ns).into_iter().flat_map(|t| t.iter().map(|(k, v)| (k, *v)))
    }

    /// Number of declared names over all tables.
    pub fn len(&self) -> usize {
        self.tables.iter().map(NameMap::len).sum()
    }

    /// Whether nothing is declared.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub(crate) fn declare(&mut self, ns: Ns, qualified: String, origin: Origin) {
        if self.tables.is_empty() {
            self.tables = vec![NameMap::default(); TABLES];
        }
        let table = &mut self.tables[ns as usize];
        if let Some(first) = table.get(&qualified) {
            if let Origin::File(span) = origin {
                self.duplicates.push((ns, qualified, span, *first));
            }
            return;
        }
        table.insert(qualified, origin);
    }

    /// Add every name of `other` (marked as coming from the base).
    pub fn merge(&mut self, other: &Symbols) {
        for (i, t) in other.tables.iter().enumerate() {
            if self.tables.is_empty() {
                self.tables = vec![NameMap::default(); TABLES];
            }
            for k in t.keys() {
                if self.tables[i].get(k).is_none() {
                    self.tables[i].insert(k.to_owned(), Origin::Base);
                }
            }
        }
        for k in other.attributes.keys() {
            if !self.attributes.contains(k) {
                self.attributes.add(k.to_owned());
            }
        }
        for (k, v) in other.perms.iter() {
            let (set, _) = self.perms.get_or_insert_with(k.to_owned(), NameSet::default);
            for p in v.keys() {
                if !set.contains(p) {
                    set.add(p.to_owned());
                }
            }
        }
        for (k, v) in other.class_common.iter() {
            if !self.class_common.contains(k) {
                self.class_common.insert(k.to_owned(), v.clone());
            }
        }
        for (k, v) in &other.members {
            self.members.entry(k.clone()).or_default().extend(v.iter().cloned());
        }
    }
}

fn qualify(path: &[String], name: &str) -> String {
    if let Some(global) = name.strip_prefix('.') {
        return global.to_owned();
    }
    let mut q = String::with_capacity(name.len() + path.iter().map(|p| p.len() + 1).sum::<usize>());
    for p in path {
        q.push_str(p);
        q.push('.');
    }
    q.push_str(name);
    q
}

/// Collect the declarations of `ast`. `origin_base` marks them as base
/// declarations (no spans kept, no duplicates reported).
pub fn collect(ast: &Ast<'_>, origin_base: bool) -> Symbols {
    let mut s = Symbols { tables: vec![NameMap::default(); TABLES], ..Symbols::default() };
    let mut path = Vec::new();
    match ast.declaring() {
        Some(ids) => collect_listed(&mut s, ast, ids, &mut path, origin_base),
        None => {
            for e in ast.roots() {
                collect_stmt(&mut s, e, &mut path, origin_base, 0);
            }
        }
    }
    s
}

/// What a statement opens for the statements inside it.
enum Scope {
    /// Nothing inside declares (a rule), or it was not a statement.
    None,
    /// A body whose declarations go to the current block.
    Body,
    /// A block named so: inside, names are prefixed with it.
    Block(String),
    /// `in`: the body declares into this block path instead.
    In(Vec<String>),
    /// A macro: declarations in its body exist only at call sites.
    Macro,
}

/// Walk the statements the statement-shape pass listed as declaring (in
/// file order, each container before what it holds), keeping the block
/// path on a stack instead of walking every statement of the file again.
fn collect_listed(s: &mut Symbols, ast: &Ast<'_>, ids: &[NodeId], path: &mut Vec<String>, base: bool) {
    // Open containers: where each ends, and what to undo there.
    let mut open: Vec<(NodeId, Option<Vec<String>>, bool)> = Vec::new();
    let mut in_macro = 0usize;
    for &id in ids {
        while let Some((end, _, _)) = open.last() {
            if id < *end {
                break;
            }
            if let Some((_, undo, was_macro)) = open.pop() {
                match undo {
                    Some(saved) => *path = saved,
                    None if was_macro => in_macro -= 1,
                    None => {}
                }
            }
        }
        if in_macro > 0 || open.len() > super::shape::MAX_DEPTH {
            continue;
        }
        let Some(e) = ast.expr(id) else { continue };
        let end = e.subtree_end();
        match collect_one(s, e, path, base) {
            Scope::None => {}
            Scope::Body => open.push((end, None, false)),
            Scope::Block(name) => {
                let saved = path.clone();
                path.push(name);
                open.push((end, Some(saved), false));
            }
            Scope::In(inner) => open.push((end, Some(std::mem::replace(path, inner)), false)),
            Scope::Macro => {
                in_macro += 1;
                open.push((end, None, true));
            }
        }
    }
}

fn collect_stmt(s: &mut Symbols, e: Expr<'_, '_>, path: &mut Vec<String>, base: bool, depth: usize) {
    if depth > super::shape::MAX_DEPTH {
        return;
    }
    match collect_one(s, e, path, base) {
        Scope::None | Scope::Macro => {}
        Scope::Body => {
            let skip = e.statement().map_or(0, |(_, sp)| sp.args.len());
            for a in e.children().skip(skip) {
                collect_stmt(s, a, path, base, depth + 1);
            }
        }
        Scope::Block(name) => {
            path.push(name);
            for a in e.children().skip(2) {
                collect_stmt(s, a, path, base, depth + 1);
            }
            path.pop();
        }
        Scope::In(mut inner) => {
            let skip =
                if matches!(e.children().nth(1).and_then(|a| a.symbol()), Some("before" | "after")) { 3 } else { 2 };
            for a in e.children().skip(skip) {
                collect_stmt(s, a, &mut inner, base, depth + 1);
            }
        }
    }
}

/// Record what statement `e` itself declares; what it opens for the
/// statements in its body is left to the caller.
fn collect_one(s: &mut Symbols, e: Expr<'_, '_>, path: &[String], base: bool) -> Scope {
    // Most statements (rules) declare nothing: skip them without looking
    // at their arguments.
    if !e.keyword_at().is_some_and(declaring) {
        return Scope::None;
    }
    let Some((kw, sp)) = e.statement() else { return Scope::None };
    if matches!(kw, "optional" | "booleanif" | "tunableif" | "true" | "false") {
        // Only their bodies declare.
        return Scope::Body;
    }
    let mut it = e.children().skip(1);
    let first = it.clone().next();
    let origin = |span| {
        if base {
            Origin::Base
        } else {
            Origin::File(span)
        }
    };
    match kw {
        "block" => {
            let Some((name, span)) = first.and_then(|a| a.atom().map(|n| (n, a.span()))) else {
                return Scope::None;
            };
            s.declare(Ns::Block, qualify(path, name), origin(span));
            s.members.entry(path.join(".")).or_default().push((Ns::Block, name.to_owned()));
            return Scope::Block(name.to_owned());
        }
        "macro" => {
            if let Some((name, span)) = first.and_then(|a| a.atom().map(|n| (n, a.span()))) {
                s.declare(Ns::Macro, qualify(path, name), origin(span));
                s.members.entry(path.join(".")).or_default().push((Ns::Macro, name.to_owned()));
            }
            return Scope::Macro;
        }
        "blockinherit" => {
            if let Some(t) = first.and_then(|a| a.atom()) {
                s.inherits.push((path.join("."), t.to_owned(), path.to_vec()));
            }
            return Scope::None;
        }
        "in" => {
            let target = match first.and_then(|a| a.symbol()) {
                Some("before" | "after") => it.nth(1).and_then(|a| a.atom()),
                _ => first.and_then(|a| a.atom()),
            };
            let Some(target) = target else { return Scope::None };
            return Scope::In(target.trim_start_matches('.').split('.').map(str::to_owned).collect());
        }
        _ => {}
    }
    let args = e.args();
    match kw {
        "class" | "classmap" | "common" => {
            if let (Some(name), Some(list)) = (args.first().and_then(|a| a.atom()), args.get(1)) {
                let (perms, _) = s.perms.get_or_insert_with(name.to_owned(), NameSet::default);
                for p in list.children().filter_map(|p| p.atom()) {
                    if !perms.contains(p) {
                        perms.add(p.to_owned());
                    }
                }
            }
        }
        "classcommon" => {
            if let (Some(c), Some(k)) = (args.first().and_then(|a| a.atom()), args.get(1).and_then(|a| a.atom())) {
                match s.class_common.get_mut(c) {
                    Some(v) => *v = k.to_owned(),
                    None => {
                        s.class_common.insert(c.to_owned(), k.to_owned());
                    }
                }
            }
        }
        "typeattribute" | "roleattribute" => {
            if let Some(name) = args.first().and_then(|a| a.atom()) {
                let q = qualify(path, name);
                if !s.attributes.contains(&q) {
                    s.attributes.add(q);
                }
            }
        }
        _ => {}
    }
    for (i, a) in args.iter().enumerate() {
        if let Some(Arg::Decl(ns)) = sp.args.get(i) {
            if let Some(name) = a.atom() {
                s.declare(*ns, qualify(path, name), origin(a.span()));
                s.members.entry(path.join(".")).or_default().push((*ns, name.to_owned()));
            }
        }
    }
    Scope::None
}

/// Copy the members of inherited templates into the inheriting blocks, so
/// that `c.process` exists after `(block c (blockinherit container))`.
/// `lookup` is consulted (besides `s` itself) for templates declared in the
/// base. Returns the `blockinherit` statements whose template is unknown.
pub fn expand_inherits(s: &mut Symbols, base: Option<&Symbols>) -> Vec<(String, String)> {
    let mut unknown = Vec::new();
    let inherits = std::mem::take(&mut s.inherits);
    let mut added: Vec<(Ns, String)> = Vec::new();
    for (into, template, scope) in &inherits {
        let Some(t) = resolve_in(s, base, Ns::Block, template, scope) else {
            unknown.push((into.clone(), template.clone()));
            continue;
        };
        let mut seen = HashSet::new();
        copy_members(s, base, &inherits, &t, into, &mut added, &mut seen);
    }
    for (ns, q) in added {
        if s.get(ns, &q).is_none() && base.and_then(|b| b.get(ns, &q)).is_none() {
            s.declare(ns, q, Origin::Base);
        }
    }
    s.inherits = inherits;
    unknown
}

fn copy_members(
    s: &Symbols,
    base: Option<&Symbols>,
    inherits: &[(String, String, Vec<String>)],
    template: &str,
    into: &str,
    added: &mut Vec<(Ns, String)>,
    seen: &mut HashSet<String>,
) {
    if !seen.insert(template.to_owned()) || seen.len() > 64 {
        return;
    }
    let prefix = |rel: &str| {
        if into.is_empty() {
            rel.to_owned()
        } else {
            format!("{into}.{rel}")
        }
    };
    let lists = [s.members.get(template), base.and_then(|b| b.members.get(template))];
    for (ns, rel) in lists.into_iter().flatten().flatten() {
        added.push((*ns, prefix(rel)));
        if *ns == Ns::Block {
            copy_members(s, base, inherits, &format!("{template}.{rel}"), &prefix(rel), added, seen);
        }
    }
    let base_inh = base.map(|b| b.inherits.as_slice()).unwrap_or(&[]);
    for (blk, t, scope) in inherits.iter().chain(base_inh) {
        if blk == template {
            if let Some(t) = resolve_in(s, base, Ns::Block, t, scope) {
                copy_members(s, base, inherits, &t, into, added, seen);
            }
        }
    }
}

/// Resolve `name` used inside blocks `scope` in table `ns`: the qualified
/// name found, searching from the innermost block outwards.
pub fn resolve_in<'n>(
    s: &Symbols,
    base: Option<&Symbols>,
    ns: Ns,
    name: &'n str,
    scope: &[String],
) -> Option<Cow<'n, str>> {
    // One hash for both tables.
    let has = |q: &str| {
        let h = hash_name(q.as_bytes());
        s.get_hashed(ns, h, q.as_bytes()).is_some() || base.is_some_and(|b| b.get_hashed(ns, h, q.as_bytes()).is_some())
    };
    if let Some(g) = name.strip_prefix('.') {
        return has(g).then_some(Cow::Borrowed(g));
    }
    if scope.is_empty() {
        return has(name).then_some(Cow::Borrowed(name));
    }
    for k in (0..=scope.len()).rev() {
        let q = qualify(&scope[..k], name);
        if has(&q) {
            return Some(Cow::Owned(q));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sorted(s: &Symbols) -> Vec<String> {
        let mut v: Vec<String> = super::super::schema::ALL_NS
            .iter()
            .flat_map(|ns| s.entries(*ns).map(move |(k, o)| format!("{ns:?} {k} {o:?}")))
            .collect();
        v.extend(s.attributes.keys().map(|a| format!("attribute {a}")));
        v.extend(s.perms.iter().flat_map(|(c, ps)| ps.keys().map(move |p| format!("perm {c} {p}"))));
        v.extend(s.class_common.iter().map(|(c, k)| format!("common {c} {k}")));
        v.extend(s.inherits.iter().map(|(b, t, sc)| format!("inherit {b} {t} {sc:?}")));
        v.extend(s.duplicates.iter().map(|d| format!("dup {d:?}")));
        v.sort();
        v
    }

    #[test]
    fn listed_statements_collect_what_a_full_walk_collects() {
        let text = "(type a)\n(block b (type t) (block c (typeattribute at) (blockinherit tpl)) (macro m ((type x)) (type hidden)))\n\
                    (in b (type u) (in b.c (type v)))\n(in after b (type w))\n(optional o (type p) (booleanif x (true (type q)) (false (type r))))\n\
                    (class file (read))\n(common fc (ioctl))\n(classcommon file fc)\n(type a)\n(block tpl (blockabstract tpl) (type inh))\n";
        let (ast, d) = crate::cil::parse(text);
        assert!(d.is_empty(), "{d:?}");
        assert!(ast.declaring().is_some_and(|ids| ids.len() > 10));
        let listed = collect(&ast, false);
        let mut walked_ast = ast.clone();
        walked_ast.set_declaring(None);
        let walked = collect(&walked_ast, false);
        assert_eq!(sorted(&listed), sorted(&walked));
        assert!(listed.get(Ns::Type, "b.c.v").is_some(), "{:?}", sorted(&listed));
        assert!(listed.get(Ns::Type, "b.w").is_some());
        assert!(listed.get(Ns::Type, "b.hidden").is_none() && listed.get(Ns::Type, "q").is_some());
        assert_eq!(listed.duplicates.len(), 1);
    }
}
