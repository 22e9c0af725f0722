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

use super::schema::{Arg, Ns};
use super::syntax::{Ast, Expr};
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
    for e in ast.roots() {
        collect_stmt(&mut s, e, &mut path, origin_base, 0);
    }
    s
}

fn collect_stmt(s: &mut Symbols, e: Expr<'_, '_>, path: &mut Vec<String>, base: bool, depth: usize) {
    if depth > super::shape::MAX_DEPTH {
        return;
    }
    let Some((kw, sp)) = e.statement() else { return };
    // Most statements (rules) declare nothing: skip them without looking
    // at their arguments.
    let declares = sp.args.iter().any(|a| matches!(a, Arg::Decl(_) | Arg::Body))
        || matches!(kw, "blockinherit" | "classcommon" | "in");
    if !declares {
        return;
    }
    if matches!(kw, "optional" | "booleanif" | "tunableif" | "true" | "false") {
        // Only their bodies declare: walk them in place.
        for a in e.children().skip(sp.args.len()) {
            collect_stmt(s, a, path, base, depth + 1);
        }
        return;
    }
    let args = e.args();
    let origin = |span| {
        if base {
            Origin::Base
        } else {
            Origin::File(span)
        }
    };
    match kw {
        "block" => {
            let Some(name) = args.first().and_then(|a| a.atom()) else {
                return;
            };
            let q = qualify(path, name);
            s.declare(Ns::Block, q.clone(), origin(args[0].span()));
            s.members.entry(path.join(".")).or_default().push((Ns::Block, name.to_owned()));
            path.push(name.to_owned());
            for a in &args[1..] {
                collect_stmt(s, *a, path, base, depth + 1);
            }
            path.pop();
            return;
        }
        "macro" => {
            if let Some(name) = args.first().and_then(|a| a.atom()) {
                s.declare(Ns::Macro, qualify(path, name), origin(args[0].span()));
                s.members.entry(path.join(".")).or_default().push((Ns::Macro, name.to_owned()));
            }
            // Declarations in a macro body exist only at its call sites.
            return;
        }
        "blockinherit" => {
            if let Some(t) = args.first().and_then(|a| a.atom()) {
                s.inherits.push((path.join("."), t.to_owned(), path.clone()));
            }
            return;
        }
        "in" => {
            let (target, body) = match args.first().and_then(|a| a.symbol()) {
                Some("before" | "after") => (args.get(1).and_then(|a| a.atom()), args.get(2..).unwrap_or(&[])),
                _ => (args.first().and_then(|a| a.atom()), args.get(1..).unwrap_or(&[])),
            };
            let Some(target) = target else { return };
            let mut inner: Vec<String> = target.trim_start_matches('.').split('.').map(str::to_owned).collect();
            for a in body {
                collect_stmt(s, *a, &mut inner, base, depth + 1);
            }
            return;
        }
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
    let body = sp.args.last() == Some(&Arg::Body);
    for (i, a) in args.iter().enumerate() {
        match sp.args.get(i) {
            Some(Arg::Decl(ns)) if kw != "optional" => {
                if let Some(name) = a.atom() {
                    s.declare(*ns, qualify(path, name), origin(a.span()));
                    s.members.entry(path.join(".")).or_default().push((*ns, name.to_owned()));
                }
            }
            _ if body && i + 1 >= sp.args.len() => collect_stmt(s, *a, path, base, depth + 1),
            _ => {}
        }
    }
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
