//! Recursive descent over the tokens of one file, with recovery: a bad
//! statement is reported and skipped up to its comma (or over its block),
//! so one pass reports every error of the file.

use spo_model::suggest::did_you_mean;

use super::ast::*;
use super::lexer::{line_words, skip_trivia, token_at, Tok, Token};
use super::names::*;
use super::rules;
use crate::{Diagnostic, Span};

/// The result of parsing one file, without looking at its includes.
#[derive(Debug, Clone, Default)]
pub struct Parsed {
    /// The tree (complete up to the errors).
    pub file: File,
    /// Every syntax and vocabulary error of the file.
    pub diagnostics: Vec<Diagnostic>,
    /// Every `@{VAR}` use, with its span.
    pub var_refs: Vec<(String, Span)>,
}

/// Parse one file of the profile language.
pub fn parse(src: &str) -> Parsed {
    parse_with(src, &crate::Limits::default())
}

/// [`parse`] with blocks nested deeper than [`Limits::depth`](crate::Limits::depth)
/// reported at the `{` past the limit (the parser recurses per block).
pub fn parse_with(src: &str, limits: &crate::Limits) -> Parsed {
    let mut p =
        Parser { src, pos: 0, peeked: None, diags: Vec::new(), refs: Vec::new(), depth: 0, max_depth: limits.depth };
    let items = p.items(false);
    let t = p.peek();
    if t.tok == Tok::Close {
        p.diags.push(
            Diagnostic::error(t.span, "unexpected `}`")
                .with_label("this closes no profile")
                .with_help("remove it, or check the braces above"),
        );
    }
    let file = File { items };
    rules::check_file(&file, &mut p.diags);
    Parsed { file, diagnostics: p.diags, var_refs: p.refs }
}

struct Parser<'a> {
    src: &'a str,
    pos: usize,
    /// The next token and whether a newline precedes it.
    peeked: Option<(Token, bool)>,
    diags: Vec<Diagnostic>,
    refs: Vec<(String, Span)>,
    depth: usize,
    max_depth: usize,
}

impl Parser<'_> {
    fn peek_nl(&mut self) -> (Token, bool) {
        if let Some(p) = &self.peeked {
            return p.clone();
        }
        let (at, nl) = skip_trivia(self.src, self.pos);
        let t = token_at(self.src, at);
        self.peeked = Some((t.clone(), nl));
        (t, nl)
    }

    fn peek(&mut self) -> Token {
        self.peek_nl().0
    }

    fn bump(&mut self) -> Token {
        let t = self.peek();
        self.peeked = None;
        self.pos = t.span.end;
        if matches!(t.tok, Tok::Word | Tok::Quoted) && t.text.contains("@{") {
            self.record_refs(&t);
        }
        t
    }

    fn record_refs(&mut self, t: &Token) {
        // Offsets are exact for bare words; for quoted strings, point at the
        // whole string.
        let raw = &self.src[t.span.range()];
        let exact = t.tok == Tok::Word;
        let mut from = 0;
        while let Some(i) = raw[from..].find("@{") {
            let start = from + i;
            match raw[start + 2..].find('}') {
                Some(len) => {
                    let name = &raw[start + 2..start + 2 + len];
                    let span =
                        if exact { Span::new(t.span.start + start, t.span.start + start + len + 3) } else { t.span };
                    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                        self.diags.push(
                            Diagnostic::error(span, format!("invalid variable name `{name}`"))
                                .with_help("variable names use letters, digits and `_`"),
                        );
                    } else {
                        self.refs.push((name.to_owned(), span));
                    }
                    from = start + len + 3;
                }
                None => {
                    let span = Span::new(t.span.start + start.min(raw.len()), t.span.end);
                    self.diags.push(
                        Diagnostic::error(span, "unterminated variable reference")
                            .with_help("close it with `}`: `@{NAME}`"),
                    );
                    break;
                }
            }
        }
    }

    fn error(&mut self, d: Diagnostic) {
        self.diags.push(d);
    }

    /// Skip the rest of a bad statement: up to and including its comma, over
    /// a block (whose content is still checked), or up to a `}`.
    fn recover(&mut self) {
        loop {
            let (t, nl) = self.peek_nl();
            match t.tok {
                Tok::Eof | Tok::Close => return,
                Tok::Comma => {
                    self.bump();
                    return;
                }
                Tok::Open => {
                    self.block(t.span);
                    return;
                }
                Tok::HashInclude if nl => return,
                _ => {
                    self.bump();
                }
            }
        }
    }

    /// A `{ ... }` body whose `{` is the next token. Returns the items and
    /// the span of the `}`.
    fn block(&mut self, open: Span) -> (Vec<Item>, Span) {
        self.block_in(open, true)
    }

    /// A block whose items are in profile context or not (a conditional at
    /// the top level holds preamble statements).
    fn block_in(&mut self, open: Span, in_profile: bool) -> (Vec<Item>, Span) {
        self.bump();
        if self.depth >= self.max_depth {
            self.error(Diagnostic::error(open, format!("nesting deeper than {} levels", self.max_depth)).with_help(
                format!(
                    "no profile nests this deep; if yours must, raise the limit with --limit depth=N (at most {})",
                    crate::limits::DEPTH_CEILING
                ),
            ));
            while !matches!(self.peek().tok, Tok::Eof) {
                self.bump();
            }
            return (Vec::new(), Span::point(self.src.len()));
        }
        self.depth += 1;
        let items = self.items(in_profile);
        self.depth -= 1;
        let t = self.peek();
        if t.tok == Tok::Close {
            self.bump();
            (items, t.span)
        } else {
            let end = Span::point(self.src.len());
            self.error(
                Diagnostic::error(end, "unclosed `{`: the file ends inside this block")
                    .with_secondary(open, "this `{` is never closed")
                    .with_help("add the missing `}`"),
            );
            (items, end)
        }
    }

    fn items(&mut self, in_profile: bool) -> Vec<Item> {
        let mut items = Vec::new();
        loop {
            let t = self.peek();
            match t.tok {
                Tok::Eof | Tok::Close => return items,
                _ => {
                    let before = self.pos;
                    if let Some(item) = self.item(in_profile) {
                        items.push(item);
                    }
                    if self.pos == before && self.peeked.as_ref().is_some_and(|(p, _)| p.span == t.span) {
                        // Guarantee progress.
                        self.bump();
                    }
                }
            }
        }
    }

    fn item(&mut self, in_profile: bool) -> Option<Item> {
        let t = self.peek();
        match t.tok {
            Tok::HashInclude => {
                self.bump();
                return self.include(t.span.start);
            }
            Tok::Open => {
                self.error(
                    Diagnostic::error(t.span, "unexpected `{`").with_help("a block needs a profile header before it"),
                );
                let (items, _) = self.block(t.span);
                return Some(Item::QualifiedBlock { qualifiers: Qualifiers::default(), items, span: t.span });
            }
            Tok::Word => {}
            Tok::Quoted => return self.path_statement(Qualifiers::default(), t.span.start, true),
            _ => {
                self.error(
                    Diagnostic::error(t.span, format!("unexpected `{}`", t.text))
                        .with_help("expected a rule, a profile or a preamble statement"),
                );
                self.bump();
                self.recover();
                return None;
            }
        }
        let w = t.text.as_str();
        match w {
            "include" => {
                self.bump();
                return self.include(t.span.start);
            }
            "abi" => {
                self.bump();
                let inc = self.include_target(t.span.start, false)?;
                self.expect_comma("abi statement");
                return Some(Item::Abi(inc));
            }
            "alias" => {
                self.bump();
                return self.alias(t.span.start);
            }
            "profile" => {
                self.bump();
                return self.profile(ProfileKind::Profile, t.span.start, None);
            }
            "hat" => {
                self.bump();
                return self.profile(ProfileKind::Hat, t.span.start, None);
            }
            "if" => {
                self.bump();
                return self.conditional(t.span.start, in_profile);
            }
            _ => {}
        }
        if w.starts_with('^') {
            let name = self.bump();
            let name = Word { text: name.text[1..].to_owned(), span: name.span };
            return self.profile(ProfileKind::Hat, t.span.start, Some(name));
        }
        if w.starts_with("@{") || w.starts_with("${") {
            // A variable assignment, or a path that starts with a variable.
            let after = skip_trivia(self.src, t.span.end).0;
            let next = token_at(self.src, after);
            if matches!(next.tok, Tok::Eq | Tok::PlusEq) {
                return self.variable(in_profile);
            }
        }
        self.rule_or_bare_profile()
    }

    /// `if [not] ${BOOL} | defined @{VAR} [and|or ...] { ... } [else ...]`.
    fn conditional(&mut self, start: usize, in_profile: bool) -> Option<Item> {
        let mut condition = Vec::new();
        let mut after_defined = false;
        loop {
            let t = self.peek();
            match t.tok {
                Tok::Open => break,
                Tok::Word | Tok::LParen | Tok::RParen => {
                    let refs_before = self.refs.len();
                    self.bump();
                    let w = t.text.as_str();
                    let is_var = (w.starts_with("${") || w.starts_with("@{")) && w.ends_with('}');
                    if after_defined {
                        // `defined @{V}` asks whether V exists: not a use.
                        self.refs.truncate(refs_before);
                    }
                    after_defined = w == "defined";
                    if !(is_var || matches!(w, "not" | "defined" | "and" | "or" | "(" | ")")) {
                        self.error(Diagnostic::error(t.span, format!("unexpected `{w}` in a condition")).with_help(
                            "a condition is made of `${BOOL}`, `defined @{VAR}`, `not`, `and`, `or` and parentheses",
                        ));
                    }
                    condition.push(Word { text: t.text, span: t.span });
                }
                _ => {
                    self.error(Diagnostic::error(
                        t.span,
                        format!("expected `{{` after the condition, found {}", describe(&t)),
                    ));
                    self.recover();
                    return None;
                }
            }
        }
        if condition.is_empty() {
            let t = self.peek();
            self.error(Diagnostic::error(t.span, "`if` needs a condition").with_help("for example `if ${ENABLED} {`"));
        }
        let open = self.peek().span;
        let (then, close) = self.block_in(open, in_profile);
        let mut otherwise = Vec::new();
        let mut end = close.end;
        let t = self.peek();
        if t.tok == Tok::Word && t.text == "else" {
            self.bump();
            let n = self.peek();
            if n.tok == Tok::Word && n.text == "if" {
                self.bump();
                if let Some(item) = self.conditional(n.span.start, in_profile) {
                    otherwise.push(item);
                }
                end = self.pos;
            } else if n.tok == Tok::Open {
                let (items, close) = self.block_in(n.span, in_profile);
                otherwise = items;
                end = close.end;
            } else {
                self.error(Diagnostic::error(
                    n.span,
                    format!("expected `{{` or `if` after `else`, found {}", describe(&n)),
                ));
                self.recover();
            }
        }
        Some(Item::Conditional { condition, then, otherwise, span: Span::new(start, end) })
    }

    fn include(&mut self, start: usize) -> Option<Item> {
        let mut if_exists = false;
        let t = self.peek();
        if t.tok == Tok::Word && t.text == "if" {
            self.bump();
            let e = self.peek();
            if e.tok == Tok::Word && e.text == "exists" {
                self.bump();
                if_exists = true;
            } else {
                self.error(Diagnostic::error(e.span, "expected `exists` after `include if`"));
            }
        }
        self.include_target(start, if_exists).map(Item::Include)
    }

    fn include_target(&mut self, start: usize, if_exists: bool) -> Option<Include> {
        let t = self.peek();
        let style = match t.tok {
            Tok::Angle => IncludeStyle::Angle,
            Tok::Quoted => IncludeStyle::Quoted,
            _ => {
                self.error(
                    Diagnostic::error(t.span, "expected a file name in `<...>` or `\"...\"`")
                        .with_help("for example `include <abstractions/base>`"),
                );
                self.recover();
                return None;
            }
        };
        self.bump();
        Some(Include {
            target: Word { text: t.text, span: t.span },
            style,
            if_exists,
            span: Span::new(start, t.span.end),
        })
    }

    fn alias(&mut self, start: usize) -> Option<Item> {
        let from = self.value_word("alias source path")?;
        if !self.eat(Tok::Arrow) {
            let t = self.peek();
            self.error(Diagnostic::error(t.span, "expected `->` in alias").with_help("write `alias /from/ -> /to/,`"));
            self.recover();
            return None;
        }
        let to = self.value_word("alias target path")?;
        let end = self.pos;
        self.expect_comma("alias");
        Some(Item::Alias { from, to, span: Span::new(start, end) })
    }

    fn variable(&mut self, in_profile: bool) -> Option<Item> {
        let name_tok = self.bump();
        if name_tok.text.starts_with('@') {
            // The definition is not a use.
            self.refs.retain(|(_, s)| s.start < name_tok.span.start || s.end > name_tok.span.end);
        }
        let op = self.bump();
        let (values, end) = line_words(self.src, self.pos);
        self.pos = end;
        self.peeked = None;
        for v in &values {
            if v.text.contains("@{") {
                self.record_refs(v);
            }
        }
        if in_profile {
            self.error(
                Diagnostic::error(name_tok.span, "variables cannot be defined inside a profile")
                    .with_help("move the assignment before the first profile"),
            );
        }
        if name_tok.text.starts_with("${") {
            return Some(Item::BoolVariable(Word { text: name_tok.text, span: name_tok.span }));
        }
        let name = name_tok.text.strip_prefix("@{").and_then(|s| s.strip_suffix('}'));
        let Some(name) = name.filter(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
        else {
            self.error(
                Diagnostic::error(name_tok.span, format!("invalid variable name `{}`", name_tok.text))
                    .with_help("write `@{NAME}=value`, with letters, digits and `_` in NAME"),
            );
            return None;
        };
        if values.is_empty() {
            self.error(
                Diagnostic::error(op.span, format!("variable `@{{{name}}}` is assigned no value"))
                    .with_help("put the values after `=` on the same line; use `\"\"` for an empty value"),
            );
        }
        Some(Item::Variable(VariableDef {
            name: name.to_owned(),
            name_span: name_tok.span,
            append: op.tok == Tok::PlusEq,
            values: values.into_iter().map(|t| Word { text: t.text, span: t.span }).collect(),
        }))
    }

    /// Whether the token after `t` is `=` (so `t` is a condition key).
    fn next_is_eq(&self, t: &Token) -> bool {
        token_at(self.src, skip_trivia(self.src, t.span.end).0).tok == Tok::Eq
    }

    fn eat(&mut self, tok: Tok) -> bool {
        if self.peek().tok == tok {
            self.bump();
            true
        } else {
            false
        }
    }

    /// A word or quoted string.
    fn value_word(&mut self, what: &str) -> Option<Word> {
        let t = self.peek();
        if matches!(t.tok, Tok::Word | Tok::Quoted) {
            self.bump();
            Some(Word { text: t.text, span: t.span })
        } else {
            self.error(Diagnostic::error(t.span, format!("expected {what}, found {}", describe(&t))));
            self.recover();
            None
        }
    }

    /// Expect the `,` that ends a rule; on anything else report it (at the
    /// token found, with the place the comma belongs in the help) and
    /// recover.
    fn expect_comma(&mut self, what: &str) -> bool {
        let (t, nl) = self.peek_nl();
        if t.tok == Tok::Comma {
            self.bump();
            return true;
        }
        let d = Diagnostic::error(Span::point(self.pos), format!("expected `,` after {what}, found {}", describe(&t)))
            .with_label("add `,` here")
            .with_secondary(t.span, "unexpected here")
            .with_help("every rule and `abi`/`alias` statement ends with `,`");
        self.error(d);
        // A rule that lost its comma at the end of a line is followed by the
        // next statement: parse that one normally.
        if !nl || matches!(t.tok, Tok::Eof) {
            self.recover();
        }
        false
    }

    fn profile(&mut self, kind: ProfileKind, start: usize, name: Option<Word>) -> Option<Item> {
        let mut name = name;
        let mut attachment = None;
        if name.is_none() {
            let t = self.peek();
            if matches!(t.tok, Tok::Word | Tok::Quoted) && !(t.tok == Tok::Word && t.text == "flags") {
                self.bump();
                name = Some(Word { text: t.text, span: t.span });
            } else {
                self.error(Diagnostic::error(t.span, format!("expected a profile name, found {}", describe(&t))));
                self.recover();
                return None;
            }
        }
        if kind == ProfileKind::Profile {
            let t = self.peek();
            if (t.tok == Tok::Quoted || (t.tok == Tok::Word && is_path_like(&t.text)))
                && t.text != "flags"
                && t.text != "xattrs"
            {
                let after = token_at(self.src, skip_trivia(self.src, t.span.end).0);
                if after.tok != Tok::Eq {
                    self.bump();
                    attachment = Some(Word { text: t.text, span: t.span });
                }
            }
        }
        self.profile_rest(kind, start, name, attachment)
    }

    fn profile_rest(
        &mut self,
        kind: ProfileKind,
        start: usize,
        name: Option<Word>,
        attachment: Option<Word>,
    ) -> Option<Item> {
        let mut flags = None;
        loop {
            let t = self.peek();
            match (t.tok, t.text.as_str()) {
                (Tok::Word, "flags") => {
                    self.bump();
                    flags = self.flags(t.span.start);
                }
                (Tok::Word, "xattrs") => {
                    self.bump();
                    self.eat(Tok::Eq);
                    self.skip_parens();
                }
                (Tok::Eq, _) => {
                    // `flags` written without a name: `=(complain)`.
                    self.bump();
                }
                (Tok::LParen, _) => {
                    flags = self.flag_list(t.span.start);
                }
                _ => break,
            }
        }
        let (t, nl) = self.peek_nl();
        if t.tok != Tok::Open {
            let what = match &name {
                Some(n) => format!("expected `{{` to open profile `{}`, found {}", n.text, describe(&t)),
                None => format!("expected `{{`, found {}", describe(&t)),
            };
            self.error(
                Diagnostic::error(Span::point(self.pos), what)
                    .with_label("add `{` here")
                    .with_secondary(t.span, "unexpected here")
                    .with_help("a profile header is `profile NAME [ATTACHMENT] [flags=(...)] {`"),
            );
            if !nl || self.depth >= self.max_depth {
                self.recover();
                return None;
            }
            // The body follows on the next line: read it as if the `{` were
            // there, so its own errors are found and its `}` is not
            // reported as unmatched.
            let open = Span::point(self.pos);
            self.depth += 1;
            let items = self.items(true);
            self.depth -= 1;
            let close = self.peek();
            let close = if close.tok == Tok::Close {
                self.bump();
                close.span
            } else {
                Span::point(self.src.len())
            };
            return Some(Item::Profile(Profile { kind, name, attachment, flags, start, open, close, items }));
        }
        let (items, close) = self.block(t.span);
        Some(Item::Profile(Profile { kind, name, attachment, flags, start, open: t.span, close, items }))
    }

    fn skip_parens(&mut self) {
        if self.peek().tok != Tok::LParen {
            return;
        }
        self.bump();
        loop {
            match self.peek().tok {
                Tok::RParen => {
                    self.bump();
                    return;
                }
                Tok::Eof | Tok::Open | Tok::Close => {
                    let t = self.peek();
                    self.error(Diagnostic::error(t.span, "expected `)`"));
                    return;
                }
                _ => {
                    self.bump();
                }
            }
        }
    }

    fn flags(&mut self, start: usize) -> Option<Flags> {
        if !self.eat(Tok::Eq) {
            let t = self.peek();
            self.error(Diagnostic::error(t.span, "expected `=` after `flags`").with_help("write `flags=(complain)`"));
        }
        let t = self.peek();
        if t.tok == Tok::Word {
            // `flags=complain`.
            self.bump();
            let w = Word { text: t.text, span: t.span };
            self.check_flag(&w);
            return Some(Flags { span: Span::new(start, t.span.end), items: vec![w] });
        }
        self.flag_list(start)
    }

    fn flag_list(&mut self, start: usize) -> Option<Flags> {
        let t = self.peek();
        if t.tok != Tok::LParen {
            self.error(
                Diagnostic::error(t.span, format!("expected `(` after `flags=`, found {}", describe(&t)))
                    .with_help("write `flags=(complain)`"),
            );
            return None;
        }
        self.bump();
        let mut items: Vec<Word> = Vec::new();
        loop {
            let t = self.peek();
            match t.tok {
                Tok::RParen => {
                    self.bump();
                    break;
                }
                Tok::Comma => {
                    self.bump();
                }
                Tok::Word => {
                    self.bump();
                    let mut w = Word { text: t.text, span: t.span };
                    if self.peek().tok == Tok::Eq {
                        self.bump();
                        let v = self.peek();
                        if matches!(v.tok, Tok::Word | Tok::Quoted) {
                            self.bump();
                            w = Word { text: format!("{}={}", w.text, v.text), span: w.span.join(v.span) };
                        }
                    }
                    items.push(w);
                }
                _ => {
                    self.error(
                        Diagnostic::error(t.span, format!("expected a flag or `)`, found {}", describe(&t)))
                            .with_help("write `flags=(complain)`"),
                    );
                    break;
                }
            }
        }
        for w in &items {
            self.check_flag(w);
        }
        let end = self.pos;
        let modes: Vec<&Word> = items.iter().filter(|w| MODE_FLAGS.contains(&w.text.as_str())).collect();
        if modes.len() > 1 && modes.iter().any(|m| m.text != modes[0].text) {
            self.error(
                Diagnostic::error(
                    modes[1].span,
                    format!("profile mode `{}` conflicts with `{}`", modes[1].text, modes[0].text),
                )
                .with_secondary(modes[0].span, "first mode here")
                .with_help("a profile has one mode: complain, enforce, kill or unconfined"),
            );
        }
        Some(Flags { span: Span::new(start, end), items })
    }

    fn check_flag(&mut self, w: &Word) {
        let text = w.text.as_str();
        let known = FLAGS.contains(&text)
            || ["prompt", "default_allow", "interruptible"].contains(&text)
            || ["attach_disconnected.path=", "attach_disconnected.ipc=", "error=", "kill.signal="]
                .iter()
                .any(|p| text.starts_with(p));
        if !known {
            let mut d = Diagnostic::error(w.span, format!("unknown profile flag `{text}`"));
            d = match did_you_mean(text, FLAGS.iter().copied()) {
                Some(s) => d.with_help(format!("did you mean `{s}`?")),
                None => d.with_help(format!("known flags: {}", FLAGS.join(", "))),
            };
            self.error(d);
        }
    }

    /// A rule (after optional qualifiers), a qualified block, or a profile
    /// introduced by its attachment path.
    fn rule_or_bare_profile(&mut self) -> Option<Item> {
        let start = self.peek().span.start;
        let mut q = Qualifiers::default();
        let mut any_qualifier = false;
        loop {
            let t = self.peek();
            if t.tok != Tok::Word {
                break;
            }
            match t.text.as_str() {
                "audit" => q.audit = true,
                "deny" => q.deny = true,
                "allow" => q.allow = true,
                "owner" => q.owner = true,
                "priority" => {
                    self.bump();
                    self.eat(Tok::Eq);
                    let v = self.peek();
                    match v.text.parse::<i64>() {
                        Ok(n) if v.tok == Tok::Word && (-1000..=1000).contains(&n) => {
                            self.bump();
                            q.priority = Some(n);
                        }
                        _ => {
                            self.error(
                                Diagnostic::error(v.span, "expected a priority between -1000 and 1000")
                                    .with_help("write `priority=10 /path r,`"),
                            );
                            self.recover();
                            return None;
                        }
                    }
                    self.error(newer_syntax(Span::new(t.span.start, self.pos), "rule priorities"));
                    any_qualifier = true;
                    continue;
                }
                _ => break,
            }
            self.bump();
            any_qualifier = true;
        }
        if q.deny && q.allow {
            self.error(Diagnostic::error(Span::new(start, self.pos), "a rule cannot be both `allow` and `deny`"));
        }
        let t = self.peek();
        if any_qualifier && t.tok == Tok::Open {
            let (items, close) = self.block(t.span);
            return Some(Item::QualifiedBlock { qualifiers: q, items, span: Span::new(start, close.end) });
        }
        match t.tok {
            Tok::Quoted => return self.path_statement(q, start, !any_qualifier),
            Tok::Word => {}
            _ => {
                self.error(Diagnostic::error(
                    t.span,
                    format!("expected a rule after the qualifiers, found {}", describe(&t)),
                ));
                self.recover();
                return None;
            }
        }
        let w = t.text.clone();
        if is_path_like(&w) {
            return self.path_statement(q, start, !any_qualifier);
        }
        if is_perm_word(&w) {
            let after = token_at(self.src, skip_trivia(self.src, t.span.end).0);
            if (after.tok == Tok::Word && is_path_like(&after.text)) || after.tok == Tok::Quoted {
                // `r /path,`: permissions first.
                self.bump();
                let perms = Word { text: t.text, span: t.span };
                let path = self.bump();
                let path = Word { text: path.text, span: path.span };
                return self.file_rule_tail(q, start, path, Some(perms));
            }
        }
        let kw = w.as_str();
        let kind = match kw {
            "file" => {
                self.bump();
                let n = self.peek();
                if n.tok == Tok::Comma {
                    self.bump();
                    return Some(Item::Rule(Rule {
                        qualifiers: q,
                        kind: RuleKind::FileAll,
                        span: Span::new(start, n.span.end),
                    }));
                }
                if n.tok == Tok::Word && is_perm_word(&n.text) && !is_path_like(&n.text) {
                    self.bump();
                    let perms = Word { text: n.text, span: n.span };
                    let path = self.value_word("a path after the permissions")?;
                    return self.file_rule_tail(q, start, path, Some(perms));
                }
                let path = self.value_word("a path or `,` after `file`")?;
                return self.file_rule_tail(q, start, path, None);
            }
            "link" => {
                self.bump();
                let mut subset = false;
                if self.peek().text == "subset" && self.peek().tok == Tok::Word {
                    self.bump();
                    subset = true;
                }
                let from = self.value_word("a link path")?;
                if !self.eat(Tok::Arrow) {
                    let t = self.peek();
                    self.error(
                        Diagnostic::error(t.span, format!("expected `->` in link rule, found {}", describe(&t)))
                            .with_help("write `link /new -> /target,`"),
                    );
                    self.recover();
                    return None;
                }
                let to = self.value_word("a link target")?;
                RuleKind::Link { subset, from, to }
            }
            "set" => {
                self.bump();
                let r = self.peek();
                if !(r.tok == Tok::Word && r.text == "rlimit") {
                    self.error(Diagnostic::error(
                        r.span,
                        format!("expected `rlimit` after `set`, found {}", describe(&r)),
                    ));
                    self.recover();
                    return None;
                }
                self.bump();
                self.rlimit()?
            }
            "rlimit" => {
                self.error(
                    Diagnostic::error(t.span, "rlimit rules start with `set`")
                        .with_help("write `set rlimit nofile <= 1024,`"),
                );
                self.bump();
                self.rlimit()?
            }
            "capability" | "network" | "signal" | "ptrace" | "unix" | "dbus" | "mount" | "remount" | "umount"
            | "pivot_root" | "change_profile" | "userns" | "io_uring" | "mqueue" | "all" => {
                let keyword = self.bump();
                if ["userns", "io_uring", "mqueue", "all"].contains(&kw) {
                    self.error(newer_syntax(keyword.span, &format!("`{kw}` rules")));
                }
                let words = self.rule_words()?;
                let keyword = Word { text: keyword.text, span: keyword.span };
                let kind = rules::check_rule(&keyword, &words, &mut self.diags);
                let end = self.pos;
                self.expect_comma(&format!("`{}` rule", keyword.text));
                return Some(Item::Rule(Rule { qualifiers: q, kind, span: Span::new(start, end) }));
            }
            _ => {
                let mut d = Diagnostic::error(t.span, format!("unknown keyword `{kw}`"));
                d = match did_you_mean(kw, KEYWORDS.iter().copied()) {
                    Some(s) => d.with_help(format!("did you mean `{s}`?")),
                    None if is_perm_like(kw) => d.with_help("a file rule is `PATH PERMISSIONS,`; paths start with `/` or `@{VAR}`"),
                    None => d.with_help("a rule starts with a path, a qualifier (audit, deny, owner) or a rule keyword such as capability or network"),
                };
                self.error(d);
                self.bump();
                self.recover();
                return None;
            }
        };
        let end = self.pos;
        self.expect_comma("rule");
        Some(Item::Rule(Rule { qualifiers: q, kind, span: Span::new(start, end) }))
    }

    fn rlimit(&mut self) -> Option<RuleKind> {
        let name = self.value_word("a resource name")?;
        if !RLIMITS.contains(&name.text.as_str()) {
            let mut d = Diagnostic::error(name.span, format!("unknown resource limit `{}`", name.text));
            if let Some(s) = did_you_mean(&name.text, RLIMITS.iter().copied()) {
                d = d.with_help(format!("did you mean `{s}`?"));
            }
            self.error(d);
        }
        if !self.eat(Tok::Le) {
            let t = self.peek();
            self.error(
                Diagnostic::error(t.span, format!("expected `<=`, found {}", describe(&t)))
                    .with_help("write `set rlimit nofile <= 1024,`"),
            );
            self.recover();
            return None;
        }
        let value = self.value_word("a limit value")?;
        Some(RuleKind::Rlimit { name, value })
    }

    /// The words of a rule up to its comma (parentheses and `=` kept as
    /// words so the class checks can read them).
    fn rule_words(&mut self) -> Option<Vec<Token>> {
        let mut out = Vec::new();
        loop {
            let (t, nl) = self.peek_nl();
            match t.tok {
                Tok::Comma | Tok::Eof | Tok::Close | Tok::Open => return Some(out),
                Tok::HashInclude if nl => return Some(out),
                // A rule keyword at the start of a line begins the next
                // rule: this one lost its comma. (Rules may continue over
                // lines, but continuation lines hold conditions and
                // permissions, not rule keywords.)
                Tok::Word if nl && STATEMENT_KEYWORDS.contains(&t.text.as_str()) && !self.next_is_eq(&t) => {
                    return Some(out)
                }
                Tok::LParen => {
                    // Commas inside parentheses separate list items.
                    out.push(self.bump());
                    loop {
                        let t = self.peek();
                        match t.tok {
                            Tok::RParen => {
                                out.push(self.bump());
                                break;
                            }
                            Tok::Eof | Tok::Open | Tok::Close => {
                                self.error(Diagnostic::error(t.span, format!("expected `)`, found {}", describe(&t))));
                                return Some(out);
                            }
                            Tok::Comma => {
                                self.bump();
                            }
                            _ => out.push(self.bump()),
                        }
                    }
                }
                _ => out.push(self.bump()),
            }
        }
    }

    /// A statement that starts with a path: a file rule, or (without
    /// qualifiers) a profile named by its attachment.
    fn path_statement(&mut self, q: Qualifiers, start: usize, may_be_profile: bool) -> Option<Item> {
        let t = self.bump();
        let path = Word { text: t.text, span: t.span };
        let n = self.peek();
        let header = match (n.tok, n.text.as_str()) {
            (Tok::Open, _) | (Tok::LParen, _) => true,
            (Tok::Word, "flags") | (Tok::Word, "xattrs") => {
                token_at(self.src, skip_trivia(self.src, n.span.end).0).tok == Tok::Eq
            }
            _ => false,
        };
        let (_, nl) = self.peek_nl();
        if may_be_profile && (header || (nl && self.depth == 0)) {
            return self.profile_rest(ProfileKind::Bare, start, Some(path), None);
        }
        self.file_rule_tail(q, start, path, None)
    }

    fn file_rule_tail(&mut self, q: Qualifiers, start: usize, path: Word, perms: Option<Word>) -> Option<Item> {
        let perms = match perms {
            Some(p) => p,
            None => {
                let t = self.peek();
                if t.tok != Tok::Word {
                    self.error(
                        Diagnostic::error(
                            t.span,
                            format!("expected permissions after `{}`, found {}", path.text, describe(&t)),
                        )
                        .with_help("a file rule is `PATH PERMISSIONS,`, for example `/etc/hosts r,`"),
                    );
                    self.recover();
                    return None;
                }
                self.bump();
                Word { text: t.text, span: t.span }
            }
        };
        let exec = rules::check_file_perms(&perms, q.deny, &mut self.diags);
        let mut target = None;
        if self.eat(Tok::Arrow) {
            target = Some(self.value_word("a target after `->`")?);
        }
        let end = self.pos;
        self.expect_comma("file rule");
        Some(Item::Rule(Rule {
            qualifiers: q,
            kind: RuleKind::File(FileRule { path, perms, exec, target }),
            span: Span::new(start, end),
        }))
    }
}

/// Keywords that only start statements (never a rule's argument).
const STATEMENT_KEYWORDS: &[&str] = &[
    "abi",
    "alias",
    "allow",
    "audit",
    "capability",
    "change_profile",
    "dbus",
    "deny",
    "include",
    "io_uring",
    "link",
    "mount",
    "mqueue",
    "network",
    "owner",
    "pivot_root",
    "profile",
    "ptrace",
    "remount",
    "set",
    "signal",
    "umount",
    "userns",
];

/// Paths start with `/`, a variable, a glob alternation, `**` or `~`.
pub fn is_path_like(w: &str) -> bool {
    w.starts_with('/') || w.starts_with("@{") || w.starts_with('{') || w.starts_with('*') || w.starts_with('~')
}

/// Made only of file permission letters.
fn is_perm_word(w: &str) -> bool {
    !w.is_empty() && w.chars().all(|c| "rwaklmixpPcCuUD".contains(c))
}

/// Short words that look like a permission set (for a better help line).
fn is_perm_like(w: &str) -> bool {
    w.len() <= 4 && w.chars().all(|c| c.is_ascii_alphabetic())
}

/// A warning for syntax that AppArmor 3 (`apparmor_parser` 3.x, as in
/// Debian 12) rejects: it is valid for AppArmor 4 kernels and tools.
fn newer_syntax(span: Span, what: &str) -> Diagnostic {
    Diagnostic::warning(span, format!("{what} need AppArmor 4.0 or later"))
        .with_help("apparmor_parser 3.x rejects this profile; load it only where AppArmor 4 is installed")
}

/// A token for a message.
pub fn describe(t: &Token) -> String {
    match t.tok {
        Tok::Eof => "the end of the file".into(),
        Tok::Quoted => format!("\"{}\"", t.text),
        Tok::Angle => format!("<{}>", t.text),
        _ => format!("`{}`", t.text),
    }
}
