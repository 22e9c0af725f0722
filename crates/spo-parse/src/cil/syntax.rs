//! CIL text to a flat syntax tree.
//!
//! CIL is S-expressions: symbols, `"strings"`, `;` comments and parentheses.
//! The tree is stored in pre-order in one vector (each node knows where its
//! subtree ends), because the largest real policies have millions of tokens
//! and one allocation per list would dominate the parse time. Symbols are
//! scanned eight bytes at a time and comments skipped with `nom`; the
//! nesting is tracked with an explicit stack, so deep input cannot overflow
//! the call stack.
//!
//! Errors do not stop the parse: a stray `)` is reported and skipped, a bad
//! character is reported and skipped, and an unclosed `(` is reported at the
//! opener that most likely lacks its `)` (judged by indentation), not at the
//! end of the file.

use nom::bytes::complete::take_till;
use nom::IResult;

use super::schema::{has_body, keyword_index, spec_at, Spec, KEYWORDS};
use crate::{Diagnostic, Span};

/// Index of a node in an [`Ast`].
pub type NodeId = u32;

/// What a node is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind<'a> {
    /// A bare symbol: keyword, name, number, operator.
    Symbol(&'a str),
    /// A `"quoted string"`, without its quotes.
    Str(&'a str),
    /// A parenthesised list.
    List,
}

const SYMBOL: u8 = 0;
const STRING: u8 = 1;
const LIST: u8 = 2;
const NO_KEYWORD: u8 = u8::MAX;

/// 16 bytes per node: the text is not copied, only located.
#[derive(Debug, Clone, Copy)]
struct Node {
    tag: u8,
    /// For a list whose first element is a CIL keyword, its position in
    /// [`KEYWORDS`](super::schema::KEYWORDS), else [`NO_KEYWORD`]; found
    /// once while parsing, so checking never hashes a keyword again.
    kw: u8,
    start: u32,
    end: u32,
    /// Index one past the last node of this node's subtree.
    next: u32,
}

/// A parsed CIL file: every top-level expression, borrowing from the text.
#[derive(Debug, Clone)]
pub struct Ast<'a> {
    text: &'a str,
    nodes: Vec<Node>,
    /// The statements that declare names or hold statements that may, in
    /// file order, as the statement-shape pass found them: collecting names
    /// then visits these instead of every statement again. `None` until
    /// that pass ran to completion.
    declaring: Option<Vec<NodeId>>,
}

/// A node of an [`Ast`], with access to its children.
#[derive(Debug, Clone, Copy)]
pub struct Expr<'t, 'a> {
    ast: &'t Ast<'a>,
    id: NodeId,
}

impl<'a> Ast<'a> {
    /// The text this tree was parsed from.
    pub fn text(&self) -> &'a str {
        self.text
    }

    /// The top-level expressions.
    pub fn roots(&self) -> Children<'_, 'a> {
        Children { ast: self, at: 0, end: self.nodes.len() as u32 }
    }

    /// Number of nodes (symbols, strings and lists).
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Whether the file holds no expression.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// The node `id`.
    pub(crate) fn expr(&self, id: NodeId) -> Option<Expr<'_, 'a>> {
        ((id as usize) < self.nodes.len()).then_some(Expr { ast: self, id })
    }

    /// See the `declaring` field.
    pub(crate) fn declaring(&self) -> Option<&[NodeId]> {
        self.declaring.as_deref()
    }

    pub(crate) fn set_declaring(&mut self, ids: Option<Vec<NodeId>>) {
        self.declaring = ids;
    }
}

impl<'t, 'a> Expr<'t, 'a> {
    fn node(&self) -> &'t Node {
        &self.ast.nodes[self.id as usize]
    }

    /// Its index in the tree.
    pub(crate) fn id(&self) -> NodeId {
        self.id
    }

    /// Index one past the last node of its subtree.
    pub(crate) fn subtree_end(&self) -> NodeId {
        self.node().next
    }

    /// What this node is.
    pub fn kind(&self) -> Kind<'a> {
        let n = self.node();
        let text = self.ast.text;
        match n.tag {
            SYMBOL => Kind::Symbol(text.get(n.start as usize..n.end as usize).unwrap_or("")),
            STRING => Kind::Str(text.get(n.start as usize + 1..(n.end as usize).saturating_sub(1)).unwrap_or("")),
            _ => Kind::List,
        }
    }

    /// Where it is in the text (for a list, from `(` to `)` inclusive).
    pub fn span(&self) -> Span {
        let n = self.node();
        Span::new(n.start as usize, n.end as usize)
    }

    /// The symbol, if this is one.
    pub fn symbol(&self) -> Option<&'a str> {
        match self.kind() {
            Kind::Symbol(s) => Some(s),
            _ => None,
        }
    }

    /// The symbol or string text, if this is an atom.
    pub fn atom(&self) -> Option<&'a str> {
        match self.kind() {
            Kind::Symbol(s) | Kind::Str(s) => Some(s),
            Kind::List => None,
        }
    }

    /// Whether this is a list.
    pub fn is_list(&self) -> bool {
        self.node().tag == LIST
    }

    /// The elements of a list (nothing for an atom).
    pub fn children(&self) -> Children<'t, 'a> {
        let n = self.node();
        let at = if n.tag == LIST { self.id + 1 } else { n.next };
        Children { ast: self.ast, at, end: n.next }
    }

    /// The first element of a list when it is a symbol: the keyword of a
    /// statement.
    pub fn keyword(&self) -> Option<&'a str> {
        self.children().next().and_then(|c| c.symbol())
    }

    /// The keyword of a statement and its shape, when the keyword is one
    /// CIL knows: [`spec`] of [`Expr::keyword`]. The parser found it for
    /// lists at the top and in bodies; elsewhere (a statement given as an
    /// argument too many) it is looked up now.
    pub(crate) fn statement(&self) -> Option<(&'static str, Spec)> {
        let at = self.keyword_at()?;
        // The keyword as written is the listed one: it was matched exactly.
        Some((KEYWORDS.get(usize::from(at))?, spec_at(at)?))
    }

    /// The position in [`KEYWORDS`] of this statement's keyword.
    pub(crate) fn keyword_at(&self) -> Option<u8> {
        match self.node().kw {
            NO_KEYWORD => keyword_index(self.keyword()?),
            at => Some(at),
        }
    }
}

/// Arguments kept on the stack: every statement without a body takes at
/// most five (`typetransition`).
const INLINE_ARGS: usize = 5;

/// The arguments of a statement (its elements after the keyword), kept on
/// the stack for the usual handful: checking visits every statement of
/// files with hundreds of thousands of them.
#[derive(Debug, Clone)]
pub(crate) enum ArgList<'t, 'a> {
    Inline([Expr<'t, 'a>; INLINE_ARGS], usize),
    Heap(Vec<Expr<'t, 'a>>),
}

impl<'t, 'a> std::ops::Deref for ArgList<'t, 'a> {
    type Target = [Expr<'t, 'a>];

    fn deref(&self) -> &Self::Target {
        match self {
            ArgList::Inline(a, n) => &a[..*n],
            ArgList::Heap(v) => v,
        }
    }
}

impl<'t, 'a> Expr<'t, 'a> {
    /// The elements after the first (the arguments of a statement).
    pub(crate) fn args(&self) -> ArgList<'t, 'a> {
        self.small(1)
    }

    /// The two elements of a list, or how many it has when not two.
    pub(crate) fn pair(&self) -> Result<(Expr<'t, 'a>, Expr<'t, 'a>), usize> {
        let mut it = self.children();
        match (it.next(), it.next(), it.next()) {
            (Some(a), Some(b), None) => Ok((a, b)),
            _ => Err(self.children().count()),
        }
    }

    /// The whole input text.
    pub(crate) fn source(&self) -> &'a str {
        self.ast.text
    }

    fn small(&self, skip: usize) -> ArgList<'t, 'a> {
        let mut buf = [*self; INLINE_ARGS];
        let mut n = 0;
        let mut it = self.children();
        for _ in 0..skip {
            if it.next().is_none() {
                return ArgList::Inline(buf, 0);
            }
        }
        while let Some(a) = it.next() {
            if n == INLINE_ARGS {
                // A body (blocks and optionals hold thousands of statements):
                // count first, so the vector is allocated once.
                let mut v = Vec::with_capacity(n + 1 + it.clone().count());
                v.extend_from_slice(&buf);
                v.push(a);
                v.extend(it);
                return ArgList::Heap(v);
            }
            buf[n] = a;
            n += 1;
        }
        ArgList::Inline(buf, n)
    }
}

/// Iterator over sibling nodes.
#[derive(Debug, Clone)]
pub struct Children<'t, 'a> {
    ast: &'t Ast<'a>,
    at: u32,
    end: u32,
}

impl<'t, 'a> Iterator for Children<'t, 'a> {
    type Item = Expr<'t, 'a>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.at >= self.end {
            return None;
        }
        let id = self.at;
        self.at = self.ast.nodes[id as usize].next;
        Some(Expr { ast: self.ast, id })
    }
}

/// Bytes the CIL lexer accepts in a symbol.
pub fn is_symbol_byte(c: u8) -> bool {
    SYMBOL_BYTES[c as usize]
}

const SYMBOL_BYTES: [bool; 256] = {
    let mut t = [false; 256];
    let mut c = 0;
    while c < 256 {
        let b = c as u8;
        t[c] = b.is_ascii_alphanumeric();
        c += 1;
    }
    let extra = b"[].@=/*-_$%+!|&^:~`#{}'<>?,";
    let mut i = 0;
    while i < extra.len() {
        t[extra[i] as usize] = true;
        i += 1;
    }
    t
};

/// Length of the run of symbol bytes that starts `b`. Symbol bytes are the
/// printable ASCII bytes but `"();\`, so eight bytes are tested at once
/// for a byte outside that set (the lexer spends most of its time here).
fn symbol_len(b: &[u8]) -> usize {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    // High bit of each byte that is zero; exact for the lowest such byte,
    // which is the only one used.
    let zero = |v: u64| v.wrapping_sub(LO) & !v & HI;
    let mut n = 0;
    while let Some((w, _)) = b.get(n..).and_then(|r| r.split_first_chunk::<8>()) {
        let x = u64::from_le_bytes(*w);
        let stop = (x.wrapping_sub(LO * 0x21) & !x & HI) // below `!`: space, controls
            | (x & HI) // not ASCII
            | zero(x ^ (LO * 0x7f))
            | zero(x ^ (LO * u64::from(b'"')))
            // `(` and `)` differ only in their lowest bit.
            | zero((x ^ (LO * u64::from(b'('))) & (LO * 0xfe))
            | zero(x ^ (LO * u64::from(b';')))
            | zero(x ^ (LO * u64::from(b'\\')));
        if stop != 0 {
            return n + (stop.trailing_zeros() / 8) as usize;
        }
        n += 8;
    }
    n + b.get(n..).unwrap_or_default().iter().take_while(|&&c| is_symbol_byte(c)).count()
}

fn comment(i: &[u8]) -> IResult<&[u8], &[u8]> {
    take_till(|c| c == b'\n')(i)
}

fn push(nodes: &mut Vec<Node>, tag: u8, start: usize, end: usize) {
    let idx = nodes.len() as u32;
    nodes.push(Node { tag, kw: NO_KEYWORD, start: start as u32, end: end as u32, next: idx + 1 });
}

struct Open {
    node: usize,
    start: usize,
    /// Column of the `(` when it was the first token on its line.
    line_col: Option<(usize, usize)>,
}

/// Parse CIL text into a tree. Never fails: returns the tree built so far
/// and every syntax error.
#[cfg(test)]
pub fn parse_tree(text: &str) -> (Ast<'_>, Vec<Diagnostic>) {
    parse_tree_with(text, &crate::Limits::default())
}

/// [`parse_tree`], with nesting deeper than [`Limits::depth`](crate::Limits::depth)
/// reported at the first `(` past it (the tree is flat, so reading it on
/// costs no stack; the checks that recurse stop at the limit).
pub fn parse_tree_with<'t>(text: &'t str, limits: &crate::Limits) -> (Ast<'t>, Vec<Diagnostic>) {
    let bytes = text.as_bytes();
    let mut too_deep = false;
    let mut nodes: Vec<Node> = Vec::with_capacity(text.len() / 4);
    let mut diags = Vec::new();
    let mut stack: Vec<Open> = Vec::new();
    // The first opener judged (by indentation) to lack its `)`.
    let mut suspect: Option<usize> = None;
    let mut line = 0usize;
    let mut line_start = 0usize;
    let mut first_on_line = true;
    let mut pos = 0usize;
    while pos < bytes.len() {
        let c = bytes[pos];
        match c {
            b' ' | b'\t' | b'\r' => {
                pos += 1;
                continue;
            }
            b'\n' => {
                pos += 1;
                line += 1;
                line_start = pos;
                first_on_line = true;
                continue;
            }
            b';' => {
                pos = match comment(&bytes[pos..]) {
                    Ok((r, _)) => bytes.len() - r.len(),
                    Err(_) => bytes.len(),
                };
                continue;
            }
            b'(' => {
                let line_col = first_on_line.then_some((line, pos - line_start));
                if let (Some((l, c)), None) = (line_col, suspect) {
                    // A statement starting at or left of an enclosing list
                    // that opened on an earlier line and is still open:
                    // that list probably lacks its `)`.
                    if let Some(o) = stack.iter().find(|o| o.line_col.is_some_and(|(ol, oc)| ol < l && oc >= c)) {
                        suspect = Some(o.start);
                    }
                }
                if stack.len() >= limits.depth && !too_deep {
                    too_deep = true;
                    diags.push(
                        Diagnostic::error(Span::new(pos, pos + 1), format!("nesting deeper than {} levels", limits.depth))
                            .with_help(format!(
                                "no policy nests this deep; if yours must, raise the limit with --limit depth=N (at most {})",
                                crate::limits::DEPTH_CEILING
                            )),
                    );
                }
                stack.push(Open { node: nodes.len(), start: pos, line_col });
                push(&mut nodes, LIST, pos, pos + 1);
                pos += 1;
            }
            b')' => {
                match stack.pop() {
                    Some(open) => {
                        let len = nodes.len() as u32;
                        let n = &mut nodes[open.node];
                        n.next = len;
                        n.end = (pos + 1) as u32;
                    }
                    None => diags.push(
                        Diagnostic::error(Span::new(pos, pos + 1), "unexpected `)`: no statement is open here")
                            .with_label("this parenthesis closes nothing")
                            .with_help("remove it, or add the missing `(` before it"),
                    ),
                }
                pos += 1;
            }
            b'"' => {
                let body = &bytes[pos + 1..];
                match body.iter().position(|&b| b == b'"' || b == b'\n') {
                    Some(n) if body[n] == b'"' => {
                        push(&mut nodes, STRING, pos, pos + n + 2);
                        pos += n + 2;
                    }
                    _ => {
                        let end = pos + 1 + body.iter().position(|&b| b == b'\n').unwrap_or(body.len());
                        diags.push(
                            Diagnostic::error(Span::new(pos, end), "unterminated string")
                                .with_help("close the string with `\"` on the same line"),
                        );
                        pos = end;
                    }
                }
            }
            _ => match symbol_len(&bytes[pos..]) {
                len @ 1.. => {
                    let sym = &bytes[pos..pos + len];
                    match stack.last() {
                        // The first element of a list at the top or in a
                        // body (not one of the many lists of names or
                        // permissions): its keyword. The cheap test first:
                        // most symbols are not the first of their list.
                        Some(o) if o.node + 1 == nodes.len() => {
                            let in_body = match stack.len().checked_sub(2).and_then(|i| stack.get(i)) {
                                Some(parent) => has_body(nodes[parent.node].kw),
                                None => true,
                            };
                            if in_body {
                                let kw = text.get(pos..pos + sym.len()).and_then(keyword_index);
                                nodes[o.node].kw = kw.unwrap_or(NO_KEYWORD);
                            }
                        }
                        _ => {}
                    }
                    push(&mut nodes, SYMBOL, pos, pos + sym.len());
                    pos += sym.len();
                }
                0 => {
                    let ch = text[pos..].chars().next().unwrap_or('?');
                    let len = ch.len_utf8();
                    let shown = if ch.is_control() { format!("{ch:?}") } else { format!("`{ch}`") };
                    diags.push(
                        Diagnostic::error(Span::new(pos, pos + len), format!("invalid character {shown}"))
                            .with_help("CIL symbols use letters, digits and `[].@=/*-_$%+!|&^:~`#{}'<>?,`; quote other text with `\"`"),
                    );
                    pos += len;
                }
            },
        }
        first_on_line = false;
    }
    if !stack.is_empty() {
        let innermost = stack.last().map_or(0, |o| o.start);
        let at = suspect.unwrap_or(innermost);
        let n = stack.len();
        let mut d = Diagnostic::error(Span::new(at, at + 1), "unclosed `(`: this statement has no matching `)`")
            .with_label("opened here")
            .with_help("add the missing `)` at the end of this statement");
        if n > 1 {
            d = d.with_note(format!("{n} parentheses are still open at the end of the file"));
        }
        diags.push(d);
        // Close what is open, so the tree stays well formed.
        let len = nodes.len() as u32;
        for o in stack.drain(..) {
            nodes[o.node].next = len;
            nodes[o.node].end = text.len() as u32;
        }
    }
    let _ = line;
    (Ast { text, nodes, declaring: None }, diags)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_nested_lists() {
        let (ast, d) = parse_tree("(allow a b (file (read write))) ; c\n(type \"x\")");
        assert!(d.is_empty(), "{d:?}");
        let roots: Vec<_> = ast.roots().collect();
        assert_eq!(roots.len(), 2);
        assert_eq!(roots[0].keyword(), Some("allow"));
        let kids: Vec<_> = roots[0].children().collect();
        assert_eq!(kids.len(), 4);
        assert_eq!(kids[3].children().count(), 2);
        assert_eq!(roots[1].children().nth(1).map(|e| e.kind()), Some(Kind::Str("x")));
        assert_eq!(&ast.text()[kids[3].span().range()], "(file (read write))");
    }

    #[test]
    fn points_at_the_opener_that_lacks_its_close() {
        let text = "(block b\n    (type t)\n    (allow t t (file (read))\n    (type u)\n)\n";
        let (_, d) = parse_tree(text);
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].span.start, text.find("(allow").unwrap());
    }

    #[test]
    fn word_scan_agrees_with_the_byte_table() {
        for c in 0..=255u8 {
            for at in 0..20 {
                let mut b = vec![b'a'; 20];
                b[at] = c;
                let want = if is_symbol_byte(c) { 20 } else { at };
                assert_eq!(symbol_len(&b), want, "byte {c:#x} at {at}");
                assert_eq!(symbol_len(&b[..at]), at);
            }
        }
    }

    #[test]
    fn reports_stray_close_and_bad_characters() {
        let (_, d) = parse_tree("(type a))\n(type \u{1}b)");
        assert_eq!(d.len(), 2);
        assert_eq!(d[0].span.start, 8);
        assert!(d[1].message.contains("invalid character"));
    }
}
