//! Checks of rule contents: file permission strings, the words of each
//! mediation class, and the checks that look at a whole profile
//! (conflicting exec modes, rules outside any profile).

use std::collections::HashMap;

use spo_model::suggest::did_you_mean;

use super::ast::*;
use super::lexer::{Tok, Token};
use super::names::*;
use crate::{Diagnostic, Span};

/// Check a file permission word; returns its exec mode (`ix`, `Px`, ...).
///
/// Exec qualifiers must be written together right before their `x`
/// (`rix`, not `rimx`); a bare `x` needs a qualified mode in the same word
/// unless the rule is a `deny` rule, which takes no qualifiers.
pub fn check_file_perms(perms: &Word, deny: bool, diags: &mut Vec<Diagnostic>) -> Option<String> {
    let text = perms.text.as_str();
    let mut exec: Option<String> = None;
    let mut bare_x = None;
    let mut qual = String::new();
    let mut qual_at = 0;
    let (mut has_w, mut has_a) = (None, None);
    let at = |i: usize, c: char| Span::new(perms.span.start + i, perms.span.start + i + c.len_utf8());
    for (i, c) in text.char_indices() {
        let is_qual = matches!(c, 'i' | 'p' | 'P' | 'c' | 'C' | 'u' | 'U');
        if !qual.is_empty() && !is_qual && c != 'x' {
            diags.push(
                Diagnostic::error(
                    Span::new(perms.span.start + qual_at, perms.span.start + i + c.len_utf8()),
                    format!("exec qualifier `{qual}` must be followed by `x`"),
                )
                .with_help(format!("write `{qual}x` together, for example `r{qual}x`")),
            );
            return None;
        }
        match c {
            'r' | 'k' | 'l' | 'm' => {}
            'w' => has_w = Some(at(i, c)),
            'a' => has_a = Some(at(i, c)),
            _ if is_qual => {
                if qual.is_empty() {
                    qual_at = i;
                }
                qual.push(c);
            }
            'x' if qual.is_empty() => bare_x = Some(at(i, c)),
            'x' => {
                let span = Span::new(perms.span.start + qual_at, perms.span.start + i + 1);
                if deny {
                    diags.push(
                        Diagnostic::error(span, format!("`deny` rules take a bare `x`, not `{qual}x`"))
                            .with_help("write `deny /path x,`"),
                    );
                    return None;
                }
                if !EXEC_QUALIFIERS.contains(&qual.as_str()) {
                    diags.push(
                        Diagnostic::error(span, format!("invalid exec mode `{qual}x`")).with_help(
                            "valid modes: ix, px, Px, cx, Cx, ux, Ux, pix, Pix, cix, Cix, pux, PUx, cux, CUx",
                        ),
                    );
                    return None;
                }
                let mode = format!("{qual}x");
                if let Some(prev) = &exec {
                    if *prev != mode {
                        diags.push(
                            Diagnostic::error(span, format!("conflicting exec modes `{prev}` and `{mode}` in one rule"))
                                .with_help("a rule has one exec mode: ix, px, Px, cx, Cx, ux, Ux, pix, Pix, cix, Cix, pux, PUx, cux or CUx"),
                        );
                        return None;
                    }
                }
                exec = Some(mode);
                qual.clear();
            }
            _ => {
                let mut d = Diagnostic::error(at(i, c), format!("invalid file permission `{c}` in `{text}`"));
                d = match did_you_mean(text, COMMON_FILE_PERMS.iter().copied()) {
                    Some(s) if s != text => d.with_help(format!("did you mean `{s}`?")),
                    _ => d.with_help("permissions are r, w, a, l, k, m and an exec mode such as ix, px, Px, cx, ux"),
                };
                diags.push(d);
                return None;
            }
        }
    }
    if !qual.is_empty() {
        let span = Span::new(perms.span.start + qual_at, perms.span.end);
        diags.push(
            Diagnostic::error(span, format!("exec qualifier `{qual}` must be followed by `x`"))
                .with_help(format!("write `{qual}x`")),
        );
        return None;
    }
    if let (Some(x), None, false) = (bare_x, &exec, deny) {
        diags.push(
            Diagnostic::error(x, "`x` needs an exec mode")
                .with_help("write `ix` (inherit), `px`/`Px` (own profile), `cx`/`Cx` (child profile) or `ux`/`Ux` (unconfined); only `deny` rules take a bare `x`"),
        );
        return None;
    }
    if let (Some(w), Some(a)) = (has_w, has_a) {
        diags.push(
            Diagnostic::error(a, "`a` (append) and `w` (write) cannot be combined")
                .with_secondary(w, "`w` already allows appending")
                .with_help("keep `w`, or only `a`"),
        );
    }
    exec
}

/// What a rule class accepts.
struct Class {
    perms: &'static [&'static str],
    conds: &'static [&'static str],
    /// Bare words allowed besides permissions (paths, names).
    bare: fn(&Token) -> bool,
    arrow: bool,
    /// Only the structure is checked (mount options, change_profile).
    free: bool,
}

fn no_bare(_: &Token) -> bool {
    false
}
fn path_bare(t: &Token) -> bool {
    t.tok == Tok::Quoted || super::parser::is_path_like(&t.text)
}
fn any_bare(_: &Token) -> bool {
    true
}
fn mqueue_bare(t: &Token) -> bool {
    path_bare(t) || t.text.chars().all(|c| c.is_ascii_digit())
}

/// Check the words of a keyword rule and build its tree node.
pub fn check_rule(keyword: &Word, words: &[Token], diags: &mut Vec<Diagnostic>) -> RuleKind {
    let as_words = || words.iter().map(|t| Word { text: t.text.clone(), span: t.span }).collect::<Vec<_>>();
    match keyword.text.as_str() {
        "capability" => {
            for t in words {
                if t.tok != Tok::Word || !is_capability(&t.text) {
                    let mut d = Diagnostic::error(t.span, format!("unknown capability `{}`", t.text));
                    d = match did_you_mean(
                        t.text.to_ascii_lowercase().trim_start_matches("cap_"),
                        CAPABILITIES.iter().copied(),
                    ) {
                        Some(s) => d.with_help(format!("did you mean `{s}`?")),
                        None => {
                            d.with_help("capability names are lowercase without `CAP_`, for example `net_bind_service`")
                        }
                    };
                    diags.push(d);
                }
            }
            RuleKind::Capability(as_words())
        }
        "network" => {
            check_network(words, diags);
            RuleKind::Network(as_words())
        }
        kw => {
            let class = match kw {
                "signal" => {
                    Class { perms: SIGNAL_PERMS, conds: &["set", "peer"], bare: no_bare, arrow: false, free: false }
                }
                "ptrace" => Class { perms: PTRACE_PERMS, conds: &["peer"], bare: no_bare, arrow: false, free: false },
                "dbus" => Class {
                    perms: DBUS_PERMS,
                    conds: &["bus", "path", "interface", "member", "name", "peer", "label"],
                    bare: no_bare,
                    arrow: false,
                    free: false,
                },
                "unix" => Class {
                    perms: UNIX_PERMS,
                    conds: &["type", "protocol", "addr", "label", "attr", "opt", "peer"],
                    bare: no_bare,
                    arrow: false,
                    free: false,
                },
                "userns" => Class { perms: USERNS_PERMS, conds: &[], bare: no_bare, arrow: false, free: false },
                "io_uring" => {
                    Class { perms: IO_URING_PERMS, conds: &["label"], bare: no_bare, arrow: false, free: false }
                }
                "mqueue" => Class {
                    perms: MQUEUE_PERMS,
                    conds: &["type", "label"],
                    bare: mqueue_bare,
                    arrow: false,
                    free: false,
                },
                "all" => Class { perms: &[], conds: &[], bare: no_bare, arrow: false, free: false },
                "pivot_root" => Class { perms: &[], conds: &["oldroot"], bare: path_bare, arrow: true, free: false },
                // mount options and change_profile exec modes are free-form
                // enough that only their structure is checked.
                _ => Class { perms: &[], conds: &[], bare: any_bare, arrow: true, free: true },
            };
            check_class(kw, &class, words, diags);
            RuleKind::Other { keyword: keyword.clone(), words: as_words() }
        }
    }
}

fn check_class(kw: &str, class: &Class, words: &[Token], diags: &mut Vec<Diagnostic>) {
    let mut i = 0;
    let free = class.free;
    while i < words.len() {
        let t = &words[i];
        match t.tok {
            Tok::LParen => {
                // A permission list.
                i += 1;
                while i < words.len() && words[i].tok != Tok::RParen {
                    let p = &words[i];
                    if !free && !class.perms.contains(&p.text.as_str()) {
                        diags.push(unknown_perm(kw, p, class.perms));
                    }
                    i += 1;
                }
                i += 1;
            }
            Tok::Word if words.get(i + 1).is_some_and(|n| n.tok == Tok::Eq) => {
                if !free && !class.conds.contains(&t.text.as_str()) {
                    let mut d = Diagnostic::error(t.span, format!("unknown `{kw}` condition `{}`", t.text));
                    d = match did_you_mean(&t.text, class.conds.iter().copied()) {
                        Some(s) => d.with_help(format!("did you mean `{s}`?")),
                        None if class.conds.is_empty() => d.with_help(format!("`{kw}` rules take no conditions")),
                        None => d.with_help(format!("`{kw}` conditions: {}", class.conds.join(", "))),
                    };
                    diags.push(d);
                }
                let key = t.text.clone();
                i += 2;
                match words.get(i) {
                    Some(v) if v.tok == Tok::LParen => {
                        i += 1;
                        while i < words.len() && words[i].tok != Tok::RParen {
                            if kw == "signal" && key == "set" {
                                check_signal(&words[i], diags);
                            }
                            i += 1;
                        }
                        i += 1;
                    }
                    Some(v) if matches!(v.tok, Tok::Word | Tok::Quoted) => {
                        if kw == "signal" && key == "set" {
                            check_signal(v, diags);
                        }
                        i += 1;
                    }
                    Some(v) => {
                        diags.push(Diagnostic::error(v.span, format!("expected a value for `{key}=`")));
                        i += 1;
                    }
                    None => {
                        diags.push(Diagnostic::error(t.span, format!("`{key}=` has no value")));
                    }
                }
            }
            Tok::Arrow if class.arrow => {
                i += 1;
                if i >= words.len() {
                    diags.push(Diagnostic::error(t.span, "expected a target after `->`"));
                }
                i += 1;
            }
            Tok::Word | Tok::Quoted => {
                if !class.perms.contains(&t.text.as_str()) && !(class.bare)(t) {
                    diags.push(unknown_perm(kw, t, class.perms));
                }
                i += 1;
            }
            _ => {
                diags.push(Diagnostic::error(t.span, format!("unexpected `{}` in `{kw}` rule", t.text)));
                i += 1;
            }
        }
    }
}

fn unknown_perm(kw: &str, t: &Token, perms: &[&str]) -> Diagnostic {
    let d = Diagnostic::error(t.span, format!("unknown `{kw}` permission `{}`", t.text));
    match did_you_mean(&t.text, perms.iter().copied()) {
        Some(s) => d.with_help(format!("did you mean `{s}`?")),
        None if perms.is_empty() => d.with_help(format!("`{kw}` takes no permissions")),
        None => d.with_help(format!("`{kw}` permissions: {}", perms.join(", "))),
    }
}

fn check_signal(t: &Token, diags: &mut Vec<Diagnostic>) {
    let s = t.text.as_str();
    let rt = s.strip_prefix("rtmin+").and_then(|n| n.parse::<u32>().ok()).is_some_and(|n| n <= 32);
    if !(SIGNALS.contains(&s) || rt) {
        let mut d = Diagnostic::error(t.span, format!("unknown signal `{s}`"));
        d = match did_you_mean(s, SIGNALS.iter().copied()) {
            Some(x) => d.with_help(format!("did you mean `{x}`?")),
            None => d.with_help("signal names are lowercase without `SIG`, for example `term`, or `rtmin+N`"),
        };
        diags.push(d);
    }
}

fn check_network(words: &[Token], diags: &mut Vec<Diagnostic>) {
    let mut domain: Option<&Token> = None;
    let mut kind: Option<&Token> = None;
    let mut i = 0;
    while i < words.len() {
        let t = &words[i];
        if t.tok == Tok::LParen {
            i += 1;
            while i < words.len() && words[i].tok != Tok::RParen {
                if !UNIX_PERMS.contains(&words[i].text.as_str()) {
                    diags.push(unknown_perm("network", &words[i], UNIX_PERMS));
                }
                i += 1;
            }
            i += 1;
            continue;
        }
        if t.tok == Tok::Word && words.get(i + 1).is_some_and(|n| n.tok == Tok::Eq) {
            if !["peer", "ip", "port"].contains(&t.text.as_str()) {
                diags.push(
                    Diagnostic::error(t.span, format!("unknown `network` condition `{}`", t.text))
                        .with_help("`network` conditions: ip, port, peer"),
                );
            }
            i += 2;
            if words.get(i).is_some_and(|v| v.tok == Tok::LParen) {
                while i < words.len() && words[i].tok != Tok::RParen {
                    i += 1;
                }
            }
            i += 1;
            continue;
        }
        let w = t.text.as_str();
        if NET_DOMAINS.contains(&w) && domain.is_none() && kind.is_none() {
            domain = Some(t);
        } else if (NET_TYPES.contains(&w) || NET_PROTOCOLS.contains(&w)) && kind.is_none() {
            kind = Some(t);
        } else if NET_DOMAINS.contains(&w) || NET_TYPES.contains(&w) || NET_PROTOCOLS.contains(&w) {
            diags.push(
                Diagnostic::error(t.span, format!("unexpected `{w}` in network rule"))
                    .with_help("a network rule names at most one family and then one socket type or protocol, such as `network inet stream,`"),
            );
        } else {
            let all = NET_DOMAINS.iter().chain(NET_TYPES).chain(NET_PROTOCOLS).copied();
            let mut d = Diagnostic::error(t.span, format!("unknown network family, type or protocol `{w}`"));
            d = match did_you_mean(w, all) {
                Some(s) => d.with_help(format!("did you mean `{s}`?")),
                None => d.with_help("for example `network inet stream,` or `network unix,`"),
            };
            diags.push(d);
        }
        i += 1;
    }
}

/// Checks over a whole file: conflicting exec modes for the same path
/// within one profile. (Rules at the top level are fine: abstractions are
/// fragments that mix rules and child profiles.)
pub fn check_file(file: &File, diags: &mut Vec<Diagnostic>) {
    check_exec_conflicts(&file.items, diags);
}

fn check_exec_conflicts(items: &[Item], diags: &mut Vec<Diagnostic>) {
    let mut seen: HashMap<(bool, &str), (&str, Span)> = HashMap::new();
    let mut walk: Vec<&Item> = items.iter().collect();
    while let Some(item) = walk.pop() {
        match item {
            Item::Profile(p) => check_exec_conflicts(&p.items, diags),
            Item::QualifiedBlock { items, .. } => walk.extend(items.iter()),
            Item::Conditional { then, otherwise, .. } => walk.extend(then.iter().chain(otherwise)),
            Item::Rule(Rule { qualifiers, kind: RuleKind::File(f), .. }) if !qualifiers.deny => {
                let Some(exec) = f.exec.as_deref() else { continue };
                let key = (qualifiers.owner, f.path.text.as_str());
                match seen.get(&key) {
                    Some((prev, span)) if !same_exec(prev, exec) => {
                        let (first, second, first_mode, second_mode) = if span.start < f.perms.span.start {
                            (*span, f.perms.span, *prev, exec)
                        } else {
                            (f.perms.span, *span, exec, *prev)
                        };
                        diags.push(
                            Diagnostic::error(
                                second,
                                format!(
                                    "conflicting exec modes for `{}`: `{second_mode}` here, `{first_mode}` before",
                                    f.path.text
                                ),
                            )
                            .with_label(format!("`{second_mode}`"))
                            .with_secondary(first, format!("`{first_mode}` given here"))
                            .with_help("give the path one exec mode"),
                        );
                    }
                    Some(_) => {}
                    None => {
                        seen.insert(key, (exec, f.perms.span));
                    }
                }
            }
            _ => {}
        }
    }
}

/// `ix` merged with `pix` and similar fallbacks are still conflicts for
/// the kernel; only identical modes agree.
fn same_exec(a: &str, b: &str) -> bool {
    a == b
}
