//! Following includes and checking variables across files.
//!
//! `<name>` is looked up in the include directories in order (as
//! `apparmor_parser -I`), `"name"` as a path (relative names against the
//! current directory, as `apparmor_parser` does); a directory includes its
//! files. Each file is parsed once per validation; a [`Validator`] also
//! keeps parsed files between validations, so checking many profiles that
//! share abstractions reads and parses each abstraction once.
//!
//! Variables are global: every top-level `@{VAR}=` of every file reached
//! defines it, in include order, and every use anywhere must name a
//! defined variable.
//!
//! Only files inside the search paths are read: the include directories,
//! and for quoted names also [`Options::local_dirs`]. A name that climbs
//! out (`<../../etc/shadow>`), an absolute name elsewhere, or a symlink
//! leading out is refused without reading it, so a profile (from the
//! cluster, in the webhook) cannot make a diagnostic quote another file.
//! Includes are bounded in number and depth ([`Limits::includes`],
//! [`Limits::include_depth`]); a file that includes itself, directly or
//! through others, is an error showing the chain.
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use spo_model::suggest::{did_you_mean, Index};

use super::ast::{Include, IncludeStyle, Item, Word};
use super::parser::{parse_with, Parsed};
use crate::files::{lexically_within, read_text_within, resolve_within};
use crate::{Diagnostic, Limits, SourceMap, Span};

/// Where includes are found.
#[derive(Debug, Clone)]
pub struct Options {
    /// Directories searched for `<...>` includes, in order (`-I`).
    pub include_dirs: Vec<PathBuf>,
    /// Directories a quoted include (`"name"`, relative names against the
    /// current directory) may also read from; none by default, so only the
    /// include directories are read.
    pub local_dirs: Vec<PathBuf>,
    /// What the files may cost.
    pub limits: Limits,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            include_dirs: vec![PathBuf::from("/etc/apparmor.d")],
            local_dirs: Vec::new(),
            limits: Limits::default(),
        }
    }
}

/// What an include names.
enum Found {
    /// Files: the name shown, the resolved path read, the search path it
    /// lies in.
    Files(Vec<(PathBuf, PathBuf, PathBuf)>),
    /// Nothing of that name.
    Missing,
    /// Something outside the search paths, not read.
    Outside,
}

/// The diagnostics of one file, with what is needed to render them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileReport {
    /// The file.
    pub path: PathBuf,
    /// Its text, which the spans index.
    pub text: String,
    /// Its problems.
    pub diagnostics: Vec<Diagnostic>,
}

/// Variables every profile may use without defining them.
const BUILTIN_VARIABLES: &[&str] = &["profile_name"];

/// Validate `text` (the content of `path`) with its includes. The first
/// report is always `path`'s; then one per other file with problems.
pub fn validate(path: &Path, text: &str, opts: &Options) -> Vec<FileReport> {
    Validator::new(opts.clone()).validate(path, text)
}

/// A validator that keeps parsed include files between validations.
#[derive(Debug, Default)]
pub struct Validator {
    opts: Options,
    cache: HashMap<PathBuf, Option<Arc<Loaded>>>,
}

#[derive(Debug)]
struct Loaded {
    text: String,
    parsed: Parsed,
}

struct FileState {
    path: PathBuf,
    loaded: Arc<Loaded>,
    diags: Vec<Diagnostic>,
    /// "included from ..." lines, innermost first.
    chain: Vec<String>,
    /// The file that included this one.
    parent: Option<usize>,
}

struct Def {
    file: usize,
    span: Span,
}

struct Walk<'v> {
    v: &'v mut Validator,
    files: Vec<FileState>,
    index: HashMap<PathBuf, usize>,
    defs: HashMap<String, Def>,
    /// Including the implicit context of a fragment: its files carry no
    /// include chain from the fragment.
    fragment_context: bool,
}

impl Validator {
    /// A validator searching `opts.include_dirs`.
    pub fn new(opts: Options) -> Self {
        Validator { opts, cache: HashMap::new() }
    }

    /// The limits files are read within.
    pub fn limits(&self) -> Limits {
        self.opts.limits
    }

    /// Validate `text`, the content of `path`.
    pub fn validate(&mut self, path: &Path, text: &str) -> Vec<FileReport> {
        let root = Arc::new(Loaded { text: text.to_owned(), parsed: parse_with(text, &self.opts.limits) });
        let mut w =
            Walk { v: self, files: Vec::new(), index: HashMap::new(), defs: HashMap::new(), fragment_context: false };
        w.files.push(FileState {
            path: path.to_owned(),
            loaded: root.clone(),
            diags: root.parsed.diagnostics.clone(),
            chain: Vec::new(),
            parent: None,
        });
        w.index.insert(path.canonicalize().unwrap_or_else(|_| path.to_owned()), 0);
        let items = &root.parsed.file.items;
        let has_preamble = items.iter().any(|i| matches!(i, Item::Include(_) | Item::Variable(_)));
        let has_rules = items.iter().any(|i| matches!(i, Item::Rule(_) | Item::QualifiedBlock { .. }));
        let has_profile = items.iter().any(|i| matches!(i, Item::Profile(_)));
        if has_rules || !has_preamble || !has_profile {
            // A fragment (abstraction, tunable, local include) uses the
            // variables of the profile that includes it; check it in the
            // context every Debian profile sets up.
            let tunables = Include {
                target: Word { text: "tunables/global".into(), span: Span::point(0) },
                style: IncludeStyle::Angle,
                if_exists: true,
                span: Span::point(0),
            };
            w.fragment_context = true;
            w.include(0, &tunables);
            w.fragment_context = false;
        }
        w.items(0, &root.parsed.file.items, false);
        w.check_refs();
        let mut out = Vec::new();
        for (i, f) in w.files.into_iter().enumerate() {
            if i == 0 || !f.diags.is_empty() {
                let mut diags = f.diags;
                for d in &mut diags {
                    d.notes.extend(f.chain.iter().cloned());
                }
                diags.sort_by_key(|d| d.span.start);
                out.push(FileReport { path: f.path, text: f.loaded.text.clone(), diagnostics: diags });
            }
        }
        out
    }

    /// `path` (resolved, inside `root`), read once per validator.
    fn load(&mut self, root: &Path, path: &Path) -> Result<Arc<Loaded>, String> {
        if let Some(l) = self.cache.get(path) {
            return l.clone().ok_or_else(|| "it could not be read before".to_owned());
        }
        let loaded = read_text_within(root, path, &self.opts.limits).map(|text| {
            let parsed = parse_with(&text, &self.opts.limits);
            Arc::new(Loaded { text, parsed })
        });
        self.cache.insert(path.to_owned(), loaded.as_ref().ok().cloned());
        loaded.map_err(|e| e.to_string())
    }
}

impl Walk<'_> {
    fn items(&mut self, file: usize, items: &[Item], in_profile: bool) {
        for item in items {
            match item {
                Item::Include(inc) => self.include(file, inc),
                Item::Abi(inc) if !matches!(self.find(inc), Found::Files(_)) => self.missing(file, inc, "abi"),
                Item::Variable(def) if !in_profile => {
                    let exists = self.defs.get(&def.name).map(|d| (d.file, d.span));
                    match (def.append, exists) {
                        (false, Some((f, span))) => {
                            let mut d = Diagnostic::error(
                                def.name_span,
                                format!("variable `@{{{}}}` is already defined", def.name),
                            )
                            .with_help(format!("use `@{{{}}}+=` to add values", def.name));
                            if f == file {
                                d = d.with_secondary(span, "first defined here");
                            } else {
                                d = d.with_note(format!("first defined at {}", self.location(f, span)));
                            }
                            self.files[file].diags.push(d);
                        }
                        (false, None) => {
                            self.defs.insert(def.name.clone(), Def { file, span: def.name_span });
                        }
                        (true, None) => {
                            self.files[file].diags.push(
                                Diagnostic::error(
                                    def.name_span,
                                    format!("`@{{{}}}+=` adds to a variable that is not defined", def.name),
                                )
                                .with_help(format!(
                                    "define it first with `@{{{}}}=`, or include the tunables file that does",
                                    def.name
                                )),
                            );
                        }
                        (true, Some(_)) => {}
                    }
                }
                Item::Profile(p) => self.items(file, &p.items, true),
                Item::QualifiedBlock { items, .. } => self.items(file, items, in_profile),
                Item::Conditional { then, otherwise, .. } => {
                    self.items(file, then, in_profile);
                    self.items(file, otherwise, in_profile);
                }
                _ => {}
            }
        }
    }

    fn location(&self, file: usize, span: Span) -> String {
        let f = &self.files[file];
        let (line, col) = SourceMap::new(&f.loaded.text).line_col(span.start);
        format!("{}:{line}:{col}", f.path.display())
    }

    /// The directories `inc` may read from.
    fn roots(&self, inc: &Include) -> Vec<PathBuf> {
        let cwd = std::env::current_dir().unwrap_or_default();
        let mut roots: Vec<PathBuf> = self.v.opts.include_dirs.iter().map(|d| cwd.join(d)).collect();
        if inc.style == IncludeStyle::Quoted {
            roots.extend(self.v.opts.local_dirs.iter().map(|d| cwd.join(d)));
        }
        roots
    }

    /// What an include names, each file with the search path it is in.
    fn find(&self, inc: &Include) -> Found {
        let name = inc.target.text.as_str();
        let cwd = std::env::current_dir().unwrap_or_default();
        let roots = self.roots(inc);
        let dirs = &self.v.opts.include_dirs;
        let candidates: Vec<(PathBuf, Vec<PathBuf>)> = match inc.style {
            IncludeStyle::Angle if !name.starts_with('/') => {
                dirs.iter().zip(&roots).map(|(d, r)| (d.join(name), vec![r.clone()])).collect()
            }
            _ => vec![(PathBuf::from(name), roots.clone())],
        };
        let mut outside = false;
        for (shown, allowed) in candidates {
            let c = cwd.join(&shown);
            // Refused by its name alone, before the file system is asked.
            let Some(root) = allowed.iter().find(|r| lexically_within(r, &c)) else {
                outside = true;
                continue;
            };
            if !c.exists() {
                continue;
            }
            let resolved = match resolve_within(root, &c) {
                Ok(r) => r,
                Err(_) => {
                    outside = true;
                    continue;
                }
            };
            if resolved.is_dir() {
                let mut files: Vec<(PathBuf, PathBuf, PathBuf)> = std::fs::read_dir(&resolved)
                    .map(|rd| {
                        rd.filter_map(Result::ok)
                            .map(|e| shown.join(e.file_name()))
                            .filter(|p| !skipped_name(p))
                            .filter_map(|p| resolve_within(root, &cwd.join(&p)).ok().map(|r| (p, r)))
                            .filter(|(_, r)| r.is_file())
                            .map(|(p, r)| (p, r, root.clone()))
                            .collect()
                    })
                    .unwrap_or_default();
                files.sort();
                return Found::Files(files);
            }
            return Found::Files(vec![(shown, resolved, root.clone())]);
        }
        if outside {
            Found::Outside
        } else {
            Found::Missing
        }
    }

    /// The chain of files from the root to `file`, outermost first.
    fn ancestry(&self, file: usize) -> Vec<usize> {
        let mut chain = vec![file];
        while let Some(p) = self.files[*chain.last().unwrap_or(&0)].parent {
            chain.push(p);
        }
        chain.reverse();
        chain
    }

    fn include(&mut self, file: usize, inc: &Include) {
        let paths = match self.find(inc) {
            Found::Files(paths) => paths,
            Found::Missing => {
                if !inc.if_exists {
                    self.missing(file, inc, "include");
                }
                return;
            }
            Found::Outside => {
                let dirs: Vec<String> = self.roots(inc).iter().map(|d| d.display().to_string()).collect();
                self.files[file].diags.push(
                    Diagnostic::error(
                        inc.target.span,
                        format!("`{}` leads outside the include directories; not read", inc.target.text),
                    )
                    .with_help(format!(
                        "includes are read only from {}; add a directory with `-I DIR`",
                        dirs.join(", ")
                    )),
                );
                return;
            }
        };
        let limits = self.v.opts.limits;
        // The context of a fragment is not included by the fragment: it
        // starts its own chain.
        let context = self.fragment_context && file == 0;
        for (shown, p, root) in paths {
            let ancestry = if context { Vec::new() } else { self.ancestry(file) };
            if let Some(at) = ancestry.iter().position(|&a| self.index.get(&p) == Some(&a)) {
                let mut names: Vec<String> =
                    ancestry[at..].iter().map(|&a| self.files[a].path.display().to_string()).collect();
                names.push(shown.display().to_string());
                self.files[file].diags.push(
                    Diagnostic::error(inc.target.span, format!("include cycle: {}", names.join(" -> ")))
                        .with_help("remove the include that leads back to a file including it"),
                );
                continue;
            }
            if self.index.contains_key(&p) {
                continue;
            }
            if ancestry.len() > limits.include_depth {
                self.files[file].diags.push(
                    Diagnostic::error(
                        inc.target.span,
                        format!(
                            "includes nested more than {} deep; `{}` is not read",
                            limits.include_depth,
                            shown.display()
                        ),
                    )
                    .with_help("raise the limit with --limit include-depth=N"),
                );
                return;
            }
            if self.files.len() > limits.includes {
                self.files[file].diags.push(
                    Diagnostic::error(
                        inc.target.span,
                        format!(
                            "more than {} included files; `{}` and the rest are not read",
                            limits.includes,
                            shown.display()
                        ),
                    )
                    .with_help("raise the limit with --limit includes=N"),
                );
                return;
            }
            let loaded = match self.v.load(&root, &p) {
                Ok(l) => l,
                Err(why) => {
                    self.files[file]
                        .diags
                        .push(Diagnostic::error(inc.target.span, format!("cannot read `{}`: {why}", shown.display())));
                    continue;
                }
            };
            let mut chain = if self.fragment_context {
                vec!["included as the context of a fragment".to_owned()]
            } else {
                vec![format!("included from {}", self.location(file, inc.span))]
            };
            chain.extend(self.files[file].chain.iter().cloned());
            let idx = self.files.len();
            self.files.push(FileState {
                path: shown,
                loaded: loaded.clone(),
                diags: loaded.parsed.diagnostics.clone(),
                chain,
                parent: (!context).then_some(file),
            });
            self.index.insert(p, idx);
            self.items(idx, &loaded.parsed.file.items, false);
        }
    }

    fn missing(&mut self, file: usize, inc: &Include, what: &str) {
        let name = inc.target.text.as_str();
        let mut d = match inc.style {
            IncludeStyle::Angle => {
                let dirs: Vec<String> = self.v.opts.include_dirs.iter().map(|d| d.display().to_string()).collect();
                Diagnostic::error(inc.target.span, format!("cannot find {what} file `<{name}>` in {}", dirs.join(", ")))
            }
            IncludeStyle::Quoted => Diagnostic::error(inc.target.span, format!("cannot find {what} file `\"{name}\"`")),
        };
        d = match self.near_miss(inc) {
            Some(s) => d.with_help(format!("did you mean `{s}`?")),
            None if inc.style == IncludeStyle::Quoted && !name.starts_with('/') => {
                d.with_help("a relative name in quotes is resolved against the current directory; use `<...>` to search the include directories")
            }
            None if what == "include" => d.with_help("add a search directory with `-I DIR`, or write `include if exists <...>` for an optional file"),
            None => d.with_help("add a search directory with `-I DIR`"),
        };
        self.files[file].diags.push(d);
    }

    /// A file next to where the include was looked for with a close name.
    fn near_miss(&self, inc: &Include) -> Option<String> {
        let name = Path::new(&inc.target.text);
        let base = name.file_name()?.to_str()?;
        let parent = name.parent().unwrap_or(Path::new(""));
        let cwd = std::env::current_dir().unwrap_or_default();
        let roots = self.roots(inc);
        let dirs: Vec<PathBuf> = match inc.style {
            IncludeStyle::Angle => roots.iter().map(|d| d.join(parent)).collect(),
            IncludeStyle::Quoted => vec![cwd.join(parent)],
        };
        let mut names = Vec::new();
        // Only directories inside the search paths are listed: a name
        // suggested from elsewhere would tell what is there.
        for d in dirs.into_iter().filter(|d| roots.iter().any(|r| lexically_within(r, d))) {
            if let Ok(rd) = std::fs::read_dir(d) {
                names.extend(rd.filter_map(Result::ok).filter_map(|e| e.file_name().into_string().ok()));
            }
        }
        let best = did_you_mean(base, names.iter().map(String::as_str))?;
        Some(parent.join(best).display().to_string())
    }

    fn check_refs(&mut self) {
        let defined: HashSet<&str> =
            self.defs.keys().map(String::as_str).chain(BUILTIN_VARIABLES.iter().copied()).collect();
        let mut new = Vec::new();
        // Built at the first undefined variable: a file may define and
        // misuse thousands.
        let mut index: Option<Index> = None;
        for (i, f) in self.files.iter().enumerate() {
            for (name, span) in &f.loaded.parsed.var_refs {
                if defined.contains(name.as_str()) {
                    continue;
                }
                let mut d = Diagnostic::error(*span, format!("variable `@{{{name}}}` is used but never defined"));
                let index = index.get_or_insert_with(|| Index::new(defined.iter().copied()));
                d = match index.suggest(name) {
                    Some(s) => d.with_help(format!("did you mean `@{{{s}}}`?")),
                    None => d.with_help(format!("define it before the first profile with `@{{{name}}}=VALUE`, or include the tunables file that does (often `include <tunables/global>`)")),
                };
                new.push((i, d));
            }
        }
        for (i, d) in new {
            self.files[i].diags.push(d);
        }
    }
}

/// Files a directory include skips (backups and package-manager leftovers).
fn skipped_name(p: &Path) -> bool {
    let Some(n) = p.file_name().and_then(|n| n.to_str()) else { return true };
    n.starts_with('.')
        || n.ends_with('~')
        || [
            ".dpkg-new",
            ".dpkg-old",
            ".dpkg-dist",
            ".dpkg-bak",
            ".dpkg-remove",
            ".rpmnew",
            ".rpmsave",
            ".orig",
            ".rej",
            ".pacsave",
            ".pacnew",
        ]
        .iter()
        .any(|s| n.ends_with(s))
        || n == "README"
}
