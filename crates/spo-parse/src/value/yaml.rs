//! YAML to the spanned tree, through yaml-rust2's event stream (whose
//! markers count characters; they are mapped back to byte offsets here).
//!
//! The events are pulled one at a time rather than pushed by
//! `Parser::load`, which recurses once per nesting level: a file of
//! 100,000 nested `- ` would exhaust the stack there. Here the open
//! collections are a `Vec`, nesting past [`Limits::depth`] is an error at
//! the place it is exceeded, and reading stops.
//!
//! Aliases (`*name`) copy what their anchor holds; the values they add are
//! counted against [`Limits::alias_values`], so a "billion laughs" file
//! (nine aliases of nine aliases of ...) is refused at the alias that
//! crosses the limit, after at most that many values were built.

use std::collections::HashMap;

use yaml_rust2::parser::{Event, Parser};
use yaml_rust2::scanner::{Marker, TScalarStyle};

use super::keys::KeyIndex;
use super::{Kind, Member, Node};
use crate::{Diagnostic, Limits, Span};

/// Parse every document of a YAML stream (`---`-separated) within the
/// default [`Limits`].
pub fn parse_yaml(text: &str) -> (Vec<Node>, Vec<Diagnostic>) {
    parse_yaml_with(text, &Limits::default())
}

/// Parse every document of a YAML stream (`---`-separated). Returns the
/// documents read before any syntax error or exceeded limit, and the
/// diagnostics.
pub fn parse_yaml_with(text: &str, limits: &Limits) -> (Vec<Node>, Vec<Diagnostic>) {
    let offsets = CharOffsets::new(text);
    let mut b = Builder {
        text,
        offsets: &offsets,
        limits,
        stack: Vec::new(),
        docs: Vec::new(),
        anchors: HashMap::new(),
        diags: Vec::new(),
        alias_values: 0,
        stopped: false,
    };
    let mut parser = Parser::new_from_str(text);
    while !b.stopped {
        match parser.next_token() {
            Ok((Event::StreamEnd, _)) => break,
            Ok((ev, mark)) => b.on_event(ev, mark),
            Err(e) => {
                let at = offsets.byte(e.marker().index());
                let msg = e.info().to_owned();
                b.diags.push(
                    Diagnostic::error(Span::new(at, next_char_end(text, at)), format!("YAML syntax error: {msg}"))
                        .with_help(yaml_help(&msg)),
                );
                break;
            }
        }
    }
    (b.docs, b.diags)
}

fn yaml_help(msg: &str) -> &'static str {
    if msg.contains("tab") {
        "YAML indentation uses spaces, not tabs"
    } else if msg.contains("mapping values are not allowed") {
        "a value containing `: ` needs quotes, or the line above is indented wrongly"
    } else if msg.contains("did not find expected") {
        "check the indentation and the brackets of the lines above"
    } else {
        "check the indentation and quoting near this place"
    }
}

fn next_char_end(text: &str, at: usize) -> usize {
    at + text.get(at..).and_then(|s| s.chars().next()).map_or(0, char::len_utf8)
}

/// Character index to byte offset.
struct CharOffsets {
    /// `None` when the text is ASCII and the two coincide.
    table: Option<Vec<usize>>,
    len: usize,
}

impl CharOffsets {
    fn new(text: &str) -> Self {
        let table = (!text.is_ascii()).then(|| text.char_indices().map(|(i, _)| i).collect());
        CharOffsets { table, len: text.len() }
    }

    fn byte(&self, idx: usize) -> usize {
        match &self.table {
            None => idx.min(self.len),
            Some(t) => t.get(idx).copied().unwrap_or(self.len),
        }
    }
}

enum Frame {
    Seq { start: usize, anchor: usize, items: Vec<Node> },
    Map { start: usize, anchor: usize, members: Vec<Member>, keys: KeyIndex, key: Option<(String, Span)> },
}

struct Builder<'a> {
    text: &'a str,
    offsets: &'a CharOffsets,
    limits: &'a Limits,
    stack: Vec<Frame>,
    docs: Vec<Node>,
    /// Anchored values of the current document, with how many values
    /// each holds.
    anchors: HashMap<usize, (Node, usize)>,
    diags: Vec<Diagnostic>,
    /// Values added by aliases so far.
    alias_values: usize,
    /// A limit was exceeded: nothing more is read.
    stopped: bool,
}

impl Builder<'_> {
    fn stop(&mut self, d: Diagnostic) {
        self.diags.push(d);
        self.stopped = true;
    }

    fn open(&mut self, frame: Frame, at: usize) {
        if self.stack.len() >= self.limits.depth {
            let limit = self.limits.depth;
            self.stop(
                Diagnostic::error(
                    Span::new(at, next_char_end(self.text, at)),
                    format!("nesting deeper than {limit} levels"),
                )
                .with_help(format!(
                    "no profile nests this deep; if yours must, raise the limit with --limit depth=N (at most {})",
                    crate::limits::DEPTH_CEILING
                )),
            );
            return;
        }
        self.stack.push(frame);
    }

    /// Where a scalar starting at `start` ends: estimated from its value,
    /// so kept inside the text and on a character boundary (the fuzzer
    /// found one ending inside a character).
    fn scalar_end(&self, start: usize, value: &str, style: TScalarStyle) -> usize {
        let mut end = self.scalar_end_estimate(start, value, style).min(self.text.len());
        while !self.text.is_char_boundary(end) {
            end += 1;
        }
        end
    }

    fn scalar_end_estimate(&self, start: usize, value: &str, style: TScalarStyle) -> usize {
        let line_end = self.text[start..].find('\n').map_or(self.text.len(), |n| start + n);
        match style {
            TScalarStyle::Plain => (start + value.len()).min(line_end),
            TScalarStyle::SingleQuoted | TScalarStyle::DoubleQuoted => (start + value.len() + 2).min(line_end),
            // A block scalar (`|`, `>`) is marked at its first content
            // line and runs over one line per line of its value.
            _ => {
                let lines = value.trim_end_matches('\n').matches('\n').count();
                let mut end = line_end;
                for _ in 0..lines {
                    match self.text[(end + 1).min(self.text.len())..].find('\n') {
                        Some(n) => end = end + 1 + n,
                        None => {
                            end = self.text.len();
                            break;
                        }
                    }
                }
                end.max(start)
            }
        }
    }

    fn push(&mut self, node: Node) {
        match self.stack.last_mut() {
            None => self.docs.push(node),
            Some(Frame::Seq { items, .. }) => items.push(node),
            Some(Frame::Map { members, keys, key, .. }) => match key.take() {
                None => {
                    let k = match &node.kind {
                        Kind::String(s) | Kind::Number(s) => s.clone(),
                        Kind::Bool(b) => b.to_string(),
                        Kind::Null => "null".into(),
                        _ => {
                            self.diags.push(
                                Diagnostic::error(node.span, "a mapping key must be a plain value")
                                    .with_help("use a string as the key"),
                            );
                            String::new()
                        }
                    };
                    *key = Some((k, node.span));
                }
                Some((k, key_span)) => {
                    if let Some(prev) = keys.insert(members, &k) {
                        self.diags.push(
                            Diagnostic::error(key_span, format!("duplicate key `{k}`"))
                                .with_secondary(members[prev].key_span, "first defined here")
                                .with_help("keep one of the two"),
                        );
                    }
                    members.push(Member { key: k, key_span, value: node });
                }
            },
        }
    }

    fn remember(&mut self, anchor: usize, node: &Node) {
        if anchor > 0 {
            self.anchors.insert(anchor, (node.clone(), count(&node.kind)));
        }
    }
}

fn plain_kind(v: &str) -> Kind {
    match v {
        "" | "~" | "null" | "Null" | "NULL" => Kind::Null,
        "true" | "True" | "TRUE" => Kind::Bool(true),
        "false" | "False" | "FALSE" => Kind::Bool(false),
        _ if looks_numeric(v) => Kind::Number(v.to_owned()),
        _ => Kind::String(v.to_owned()),
    }
}

fn looks_numeric(v: &str) -> bool {
    let body = v.strip_prefix(['-', '+']).unwrap_or(v);
    if let Some(hex) = body.strip_prefix("0x") {
        return !hex.is_empty() && hex.chars().all(|c| c.is_ascii_hexdigit());
    }
    if let Some(oct) = body.strip_prefix("0o") {
        return !oct.is_empty() && oct.chars().all(|c| c.is_digit(8));
    }
    !body.is_empty() && body.starts_with(|c: char| c.is_ascii_digit() || c == '.') && body.parse::<f64>().is_ok()
}

impl Builder<'_> {
    fn on_event(&mut self, ev: Event, mark: Marker) {
        let at = self.offsets.byte(mark.index());
        match ev {
            Event::Scalar(value, style, anchor, _tag) => {
                let kind = if style == TScalarStyle::Plain { plain_kind(&value) } else { Kind::String(value.clone()) };
                let end = self.scalar_end(at, &value, style);
                let node = Node { span: Span::new(at, end), kind };
                self.remember(anchor, &node);
                self.push(node);
            }
            Event::SequenceStart(anchor, _) => self.open(Frame::Seq { start: at, anchor, items: Vec::new() }, at),
            Event::MappingStart(anchor, _) => self
                .open(Frame::Map { start: at, anchor, members: Vec::new(), keys: KeyIndex::default(), key: None }, at),
            Event::SequenceEnd | Event::MappingEnd => {
                let Some(frame) = self.stack.pop() else { return };
                let (start, anchor, kind) = match frame {
                    Frame::Seq { start, anchor, items } => (start, anchor, Kind::Array(items)),
                    Frame::Map { start, anchor, members, .. } => (start, anchor, Kind::Object(members)),
                };
                // A block mapping's start event comes only once its first
                // `:` is seen; its first key is where it really starts.
                let start = first_start(&kind).map_or(start, |f| f.min(start));
                let end = last_end(&kind).unwrap_or(at).max(start);
                let node = Node { span: Span::new(start, end), kind };
                self.remember(anchor, &node);
                self.push(node);
            }
            Event::Alias(id) => {
                let span = Span::new(at, next_char_end(self.text, at));
                let size = self.anchors.get(&id).map_or(0, |(_, n)| n + 1);
                self.alias_values = self.alias_values.saturating_add(size);
                if self.alias_values > self.limits.alias_values {
                    let limit = self.limits.alias_values;
                    self.stop(
                        Diagnostic::error(span, format!("aliases expand this file by more than {limit} values"))
                            .with_help("each `*alias` copies what its anchor holds, and aliases of aliases multiply; write the values out, or raise the limit with --limit alias-values=N"),
                    );
                    return;
                }
                let node = match self.anchors.get(&id) {
                    Some((n, _)) => Node { span, kind: n.kind.clone() },
                    None => {
                        self.diags.push(Diagnostic::error(Span::point(at), "alias to an unknown anchor"));
                        Node { span: Span::point(at), kind: Kind::Null }
                    }
                };
                self.push(node);
            }
            // Anchors belong to their document.
            Event::DocumentStart => self.anchors.clear(),
            Event::DocumentEnd | Event::StreamStart | Event::StreamEnd | Event::Nothing => {}
        }
    }
}

fn first_start(kind: &Kind) -> Option<usize> {
    match kind {
        Kind::Array(items) => items.first().map(|n| n.span.start),
        Kind::Object(ms) => ms.first().map(|m| m.key_span.start.min(m.value.span.start)),
        _ => None,
    }
}

fn last_end(kind: &Kind) -> Option<usize> {
    match kind {
        Kind::Array(items) => items.last().map(|n| n.span.end),
        Kind::Object(ms) => ms.last().map(|m| m.value.span.end.max(m.key_span.end)),
        _ => None,
    }
}

fn count(kind: &Kind) -> usize {
    match kind {
        Kind::Array(items) => items.iter().map(|n| 1 + count(&n.kind)).sum(),
        Kind::Object(ms) => ms.iter().map(|m| 1 + count(&m.value.kind)).sum(),
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use spo_model::FieldPath;

    #[test]
    fn spans_point_at_values_and_keys() {
        let text = "kind: SeccompProfile\nspec:\n  defaultAction: SCMP_ACT_ERRNO\n  syscalls:\n  - names: [read, \"wrïte\"]\n    action: SCMP_ACT_ALLOW\n";
        let (docs, d) = parse_yaml(text);
        assert!(d.is_empty(), "{d:?}");
        let doc = &docs[0];
        let sp = doc.span_of(&FieldPath::parse("spec.syscalls[0].names[1]"));
        assert_eq!(&text[sp.range()], "\"wrïte\"");
        let sp = doc.span_of(&FieldPath::parse("spec.defaultAction").at_key());
        assert_eq!(&text[sp.range()], "defaultAction");
    }

    #[test]
    fn several_documents_and_scalar_types() {
        let (docs, d) = parse_yaml("a: 1\n---\nb: [true, ~, 0x10, '5']\n");
        assert!(d.is_empty());
        assert_eq!(docs.len(), 2);
        let Kind::Array(items) = &docs[1].get("b").unwrap().kind else { panic!() };
        assert_eq!(items[0].kind, Kind::Bool(true));
        assert_eq!(items[1].kind, Kind::Null);
        assert_eq!(items[2].kind, Kind::Number("0x10".into()));
        assert_eq!(items[3].kind, Kind::String("5".into()));
    }

    #[test]
    fn syntax_errors_are_located() {
        let (_, d) = parse_yaml("a:\n  b: 1\n c: 2\n");
        assert_eq!(d.len(), 1);
        assert!(d[0].message.starts_with("YAML syntax error"));
        assert!(d[0].span.start > 3);
    }

    #[test]
    fn block_scalars_span_all_their_lines() {
        let text = "a: 1\npolicy: |\n  line one\n  line two\n";
        let (docs, d) = parse_yaml(text);
        assert!(d.is_empty());
        let p = docs[0].get("policy").unwrap();
        assert_eq!(&text[p.span.range()], "line one\n  line two");
        assert_eq!(docs[0].span.end, p.span.end);
    }

    #[test]
    fn duplicate_keys_are_errors() {
        let (_, d) = parse_yaml("a: 1\na: 2\n");
        assert_eq!(d.len(), 1);
        assert!(d[0].message.contains("duplicate key `a`"));
    }
}
