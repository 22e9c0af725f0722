//! A strict JSON parser that records spans: RFC 8259 plus an error for
//! duplicate object keys. Syntax errors stop the parse (JSON has no
//! reliable resynchronisation point); duplicate keys are reported and
//! parsing goes on.
//!
//! The parser recurses once per nesting level, so nesting deeper than
//! [`Limits::depth`] is an error at the bracket that crosses it; duplicate
//! keys are found through an index ([`super::keys`]), linear in the keys.

use super::keys::KeyIndex;
use super::{Kind, Member, Node};
use crate::{Diagnostic, Limits, Span};

/// Parse `text` as one JSON document within the default [`Limits`].
pub fn parse_json(text: &str) -> (Option<Node>, Vec<Diagnostic>) {
    parse_json_with(text, &Limits::default())
}

/// Parse `text` as one JSON document. Returns the tree (if the syntax is
/// valid) and every diagnostic.
pub fn parse_json_with(text: &str, limits: &Limits) -> (Option<Node>, Vec<Diagnostic>) {
    let mut p = Parser { s: text.as_bytes(), text, pos: 0, diags: Vec::new(), max_depth: limits.depth };
    let result = p.document();
    match result {
        Ok(node) => (Some(node), p.diags),
        Err(d) => {
            p.diags.push(d);
            (None, p.diags)
        }
    }
}

struct Parser<'a> {
    s: &'a [u8],
    text: &'a str,
    pos: usize,
    diags: Vec<Diagnostic>,
    max_depth: usize,
}

type PResult<T> = Result<T, Diagnostic>;

// A syntax error ends the parse, so the large error type is built once per
// file at most; boxing it would cost an allocation for nothing.
#[allow(clippy::result_large_err)]
impl Parser<'_> {
    fn document(&mut self) -> PResult<Node> {
        self.ws();
        if self.pos >= self.s.len() {
            return Err(Diagnostic::error(Span::point(self.pos), "the file is empty")
                .with_help("a seccomp profile is a JSON object such as {\"defaultAction\": \"SCMP_ACT_ERRNO\"}"));
        }
        let v = self.value(0)?;
        self.ws();
        if self.pos < self.s.len() {
            return Err(Diagnostic::error(self.char_span(), "unexpected text after the end of the JSON value")
                .with_help("a file holds one JSON value; remove what follows it or wrap both in an array"));
        }
        Ok(v)
    }

    fn char_span(&self) -> Span {
        let len = self.text[self.pos..].chars().next().map_or(0, char::len_utf8);
        Span::new(self.pos, self.pos + len)
    }

    fn ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.s.get(self.pos) {
            self.pos += 1;
        }
    }

    fn unexpected(&self, expected: &str) -> Diagnostic {
        match self.s.get(self.pos) {
            None => Diagnostic::error(Span::point(self.pos), format!("unexpected end of file, expected {expected}")),
            Some(_) => {
                let c = self.text[self.pos..].chars().next().unwrap_or('?');
                Diagnostic::error(self.char_span(), format!("unexpected `{c}`, expected {expected}"))
            }
        }
    }

    fn value(&mut self, depth: usize) -> PResult<Node> {
        if depth >= self.max_depth && matches!(self.s.get(self.pos), Some(b'{' | b'[')) {
            let limit = self.max_depth;
            return Err(Diagnostic::error(self.char_span(), format!("nesting deeper than {limit} levels")).with_help(
                format!(
                    "no profile nests this deep; if yours must, raise the limit with --limit depth=N (at most {})",
                    crate::limits::DEPTH_CEILING
                ),
            ));
        }
        let start = self.pos;
        match self.s.get(self.pos) {
            Some(b'{') => self.object(depth),
            Some(b'[') => self.array(depth),
            Some(b'"') => {
                let s = self.string()?;
                Ok(Node { span: Span::new(start, self.pos), kind: Kind::String(s) })
            }
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(b't') => self.literal("true", Kind::Bool(true)),
            Some(b'f') => self.literal("false", Kind::Bool(false)),
            Some(b'n') => self.literal("null", Kind::Null),
            Some(b'\'') => Err(self.unexpected("a value").with_help("JSON strings use double quotes")),
            _ => Err(self.unexpected("a value")),
        }
    }

    fn literal(&mut self, word: &str, kind: Kind) -> PResult<Node> {
        let start = self.pos;
        if self.s[self.pos..].starts_with(word.as_bytes()) {
            self.pos += word.len();
            Ok(Node { span: Span::new(start, self.pos), kind })
        } else {
            let end =
                self.s[start..].iter().position(|b| !b.is_ascii_alphanumeric()).map_or(self.s.len(), |n| start + n);
            Err(Diagnostic::error(Span::new(start, end), format!("unknown literal `{}`", &self.text[start..end]))
                .with_help(format!("did you mean `{word}`? strings need double quotes")))
        }
    }

    fn number(&mut self) -> PResult<Node> {
        let start = self.pos;
        if self.s.get(self.pos) == Some(&b'-') {
            self.pos += 1;
        }
        let digits = |p: &mut Self| {
            let from = p.pos;
            while p.s.get(p.pos).is_some_and(u8::is_ascii_digit) {
                p.pos += 1;
            }
            p.pos - from
        };
        if digits(self) == 0 {
            return Err(self.unexpected("a digit"));
        }
        if self.s[start..].starts_with(b"0") && self.pos - start > 1
            || self.s[start..].starts_with(b"-0") && self.pos - start > 2
        {
            return Err(Diagnostic::error(Span::new(start, self.pos), "numbers must not have leading zeros")
                .with_help("write hexadecimal or octal values as decimal; JSON has only decimal numbers"));
        }
        if self.s.get(self.pos) == Some(&b'.') {
            self.pos += 1;
            if digits(self) == 0 {
                return Err(self.unexpected("a digit after `.`"));
            }
        }
        if let Some(b'e' | b'E') = self.s.get(self.pos) {
            self.pos += 1;
            if let Some(b'+' | b'-') = self.s.get(self.pos) {
                self.pos += 1;
            }
            if digits(self) == 0 {
                return Err(self.unexpected("an exponent"));
            }
        }
        if self.s.get(self.pos).is_some_and(|b| b.is_ascii_alphabetic()) {
            return Err(self
                .unexpected("`,` or the end of the value")
                .with_help("JSON has only decimal numbers; write 0x10 as 16"));
        }
        Ok(Node { span: Span::new(start, self.pos), kind: Kind::Number(self.text[start..self.pos].to_owned()) })
    }

    fn string(&mut self) -> PResult<String> {
        let start = self.pos;
        self.pos += 1;
        let mut out = String::new();
        loop {
            let Some(&b) = self.s.get(self.pos) else {
                return Err(Diagnostic::error(Span::new(start, self.pos), "unterminated string")
                    .with_help("close the string with `\"`"));
            };
            match b {
                b'"' => {
                    self.pos += 1;
                    return Ok(out);
                }
                b'\\' => {
                    self.pos += 1;
                    let esc = self.s.get(self.pos).copied();
                    self.pos += 1;
                    match esc {
                        Some(b'"') => out.push('"'),
                        Some(b'\\') => out.push('\\'),
                        Some(b'/') => out.push('/'),
                        Some(b'b') => out.push('\u{8}'),
                        Some(b'f') => out.push('\u{c}'),
                        Some(b'n') => out.push('\n'),
                        Some(b'r') => out.push('\r'),
                        Some(b't') => out.push('\t'),
                        Some(b'u') => out.push(self.unicode_escape()?),
                        _ => {
                            // The escaped character may be several bytes.
                            let mut end = self.pos.min(self.s.len());
                            while !self.text.is_char_boundary(end) {
                                end += 1;
                            }
                            return Err(Diagnostic::error(Span::new(self.pos - 2, end), "invalid escape in string")
                                .with_help("valid escapes are \\\" \\\\ \\/ \\b \\f \\n \\r \\t \\uXXXX"));
                        }
                    }
                }
                0..=0x1f => {
                    return Err(Diagnostic::error(Span::new(self.pos, self.pos + 1), "control character in string")
                        .with_help(
                            "a string cannot span lines; escape a newline as \\n or close the string with `\"`",
                        ))
                }
                _ => {
                    let c = self.text[self.pos..].chars().next().unwrap_or('\u{fffd}');
                    out.push(c);
                    self.pos += c.len_utf8();
                }
            }
        }
    }

    fn hex4(&mut self) -> PResult<u32> {
        // Four hexadecimal digits exactly (`from_str_radix` alone would take
        // a sign: `\u+066` was accepted, found by the fuzzer).
        let h = self
            .text
            .get(self.pos..self.pos + 4)
            .filter(|h| h.bytes().all(|b| b.is_ascii_hexdigit()))
            .and_then(|h| u32::from_str_radix(h, 16).ok());
        match h {
            Some(v) => {
                self.pos += 4;
                Ok(v)
            }
            None => {
                // Up to four bytes, ending on a character boundary.
                let mut end = (self.pos + 4).min(self.s.len());
                while !self.text.is_char_boundary(end) {
                    end += 1;
                }
                Err(Diagnostic::error(Span::new(self.pos - 2, end), "invalid \\u escape")
                    .with_help("write four hexadecimal digits, such as \\u00e9"))
            }
        }
    }

    /// A `\uXXXX` escape, `\u` already read. A character beyond U+FFFF is
    /// a surrogate pair; half a pair is an error, as in serde_json (Go's
    /// reader would put U+FFFD in its place, a silent change of the name).
    fn unicode_escape(&mut self) -> PResult<char> {
        let esc = self.pos - 2;
        let hi = self.hex4()?;
        let lone = |what: &str| {
            Diagnostic::error(Span::new(esc, esc + 6), format!("{what} in a \\u escape")).with_help(
                "a character beyond U+FFFF is a pair of escapes, high then low, such as \\uD83D\\uDE00; \
                 or write the character itself",
            )
        };
        let code = match hi {
            0xDC00..=0xDFFF => return Err(lone("lone low surrogate")),
            0xD800..=0xDBFF => {
                if !self.s[self.pos..].starts_with(b"\\u") {
                    return Err(lone("high surrogate without its low half"));
                }
                self.pos += 2;
                let lo = self.hex4()?;
                if !(0xDC00..=0xDFFF).contains(&lo) {
                    return Err(lone("high surrogate without its low half"));
                }
                0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00)
            }
            _ => hi,
        };
        // Every code left is a character: the surrogates were refused.
        Ok(char::from_u32(code).unwrap_or('\u{fffd}'))
    }

    fn array(&mut self, depth: usize) -> PResult<Node> {
        let start = self.pos;
        self.pos += 1;
        let mut items = Vec::new();
        self.ws();
        if self.s.get(self.pos) == Some(&b']') {
            self.pos += 1;
            return Ok(Node { span: Span::new(start, self.pos), kind: Kind::Array(items) });
        }
        loop {
            self.ws();
            if self.s.get(self.pos) == Some(&b']') && !items.is_empty() {
                return Err(Diagnostic::error(Span::new(self.pos, self.pos + 1), "trailing comma before `]`")
                    .with_help("remove the last `,`"));
            }
            items.push(self.value(depth + 1)?);
            self.ws();
            match self.s.get(self.pos) {
                Some(b',') => self.pos += 1,
                Some(b']') => {
                    self.pos += 1;
                    return Ok(Node { span: Span::new(start, self.pos), kind: Kind::Array(items) });
                }
                None => {
                    return Err(
                        Diagnostic::error(Span::new(start, start + 1), "unclosed `[`").with_help("add the missing `]`")
                    )
                }
                _ => return Err(self.unexpected("`,` or `]`")),
            }
        }
    }

    fn object(&mut self, depth: usize) -> PResult<Node> {
        let start = self.pos;
        self.pos += 1;
        let mut members: Vec<Member> = Vec::new();
        let mut keys = KeyIndex::default();
        self.ws();
        if self.s.get(self.pos) == Some(&b'}') {
            self.pos += 1;
            return Ok(Node { span: Span::new(start, self.pos), kind: Kind::Object(members) });
        }
        loop {
            self.ws();
            match self.s.get(self.pos) {
                Some(b'"') => {}
                Some(b'}') if !members.is_empty() => {
                    return Err(Diagnostic::error(Span::new(self.pos, self.pos + 1), "trailing comma before `}`")
                        .with_help("remove the last `,`"))
                }
                None => {
                    return Err(
                        Diagnostic::error(Span::new(start, start + 1), "unclosed `{`").with_help("add the missing `}`")
                    )
                }
                _ => return Err(self.unexpected("a key in double quotes")),
            }
            let kstart = self.pos;
            let key = self.string()?;
            let key_span = Span::new(kstart, self.pos);
            self.ws();
            if self.s.get(self.pos) != Some(&b':') {
                return Err(self.unexpected("`:` after the key"));
            }
            self.pos += 1;
            self.ws();
            let value = self.value(depth + 1)?;
            if let Some(prev) = keys.insert(&members, &key) {
                self.diags.push(
                    Diagnostic::error(key_span, format!("duplicate key `{key}`"))
                        .with_secondary(members[prev].key_span, "first defined here")
                        .with_help("JSON readers disagree on which value wins; keep one"),
                );
            }
            members.push(Member { key, key_span, value });
            self.ws();
            match self.s.get(self.pos) {
                Some(b',') => self.pos += 1,
                Some(b'}') => {
                    self.pos += 1;
                    return Ok(Node { span: Span::new(start, self.pos), kind: Kind::Object(members) });
                }
                None => {
                    return Err(
                        Diagnostic::error(Span::new(start, start + 1), "unclosed `{`").with_help("add the missing `}`")
                    )
                }
                Some(b'"') => return Err(self.unexpected("`,` or `}`").with_help("add a `,` between members")),
                _ => return Err(self.unexpected("`,` or `}`")),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_locates() {
        let text = r#"{"a": [1, -2.5e3, "x\u00e9"], "b": null}"#;
        let (n, d) = parse_json(text);
        assert!(d.is_empty());
        let n = n.unwrap();
        let a = n.get("a").unwrap();
        assert_eq!(&text[a.span.range()], r#"[1, -2.5e3, "x\u00e9"]"#);
        let Kind::Array(items) = &a.kind else { panic!() };
        assert_eq!(items[2].kind, Kind::String("xé".into()));
    }

    #[test]
    fn reports_syntax_errors_at_the_culprit() {
        for (text, msg, at) in [
            ("{\"a\": 1,}", "trailing comma", 8),
            ("{\"a\" 1}", "expected `:`", 5),
            ("[1, 2", "unclosed `[`", 0),
            ("{\"a\": tru}", "unknown literal", 6),
            ("", "empty", 0),
            ("{\"a\": 1} x", "unexpected text", 9),
        ] {
            let (n, d) = parse_json(text);
            assert!(n.is_none(), "{text}");
            assert!(d[0].message.contains(msg), "{text}: {:?}", d[0]);
            assert_eq!(d[0].span.start, at, "{text}");
        }
    }

    #[test]
    fn surrogates_come_in_pairs() {
        let (n, d) = parse_json(r#""\ud83d\ude00""#);
        assert!(d.is_empty(), "{d:?}");
        assert_eq!(n.unwrap().kind, Kind::String("\u{1f600}".into()));
        // Half a pair was read as U+FFFD, and a high half followed by
        // another escape swallowed it into a wrong character: `\ud800\u0041`
        // became U+10041 instead of an error.
        for (text, msg) in [
            (r#"["\ud800"]"#, "high surrogate without its low half"),
            (r#"["\ud800x"]"#, "high surrogate without its low half"),
            (r#"["\ud800\u0041"]"#, "high surrogate without its low half"),
            (r#"["\ud800\ud800"]"#, "high surrogate without its low half"),
            (r#"["\ud800\n"]"#, "high surrogate without its low half"),
            (r#"["\udc00"]"#, "lone low surrogate"),
        ] {
            let (n, d) = parse_json(text);
            assert!(n.is_none(), "{text}");
            assert!(d[0].message.contains(msg), "{text}: {:?}", d[0]);
            assert_eq!(d[0].span, Span::new(2, 8), "{text}");
        }
    }

    #[test]
    fn duplicate_keys_are_errors_but_parsing_continues() {
        let (n, d) = parse_json(r#"{"a": 1, "a": 2}"#);
        assert!(n.is_some());
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].span, Span::new(9, 12));
        assert_eq!(d[0].labels[0].span, Span::new(1, 4));
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        let text = "[".repeat(100_000);
        let (n, d) = parse_json(&text);
        assert!(n.is_none());
        assert!(d[0].message.contains("nesting"));
    }
}
