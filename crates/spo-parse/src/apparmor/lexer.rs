//! Tokens of the profile language.
//!
//! The language is context sensitive in small ways (a `{` opens a block or
//! an alternation inside a path glob; a comma ends a rule or separates
//! alternatives inside braces; `#include` is a directive while any other
//! `#` starts a comment), so the parser asks for one token at a time and
//! the lexer decides from the characters around it. The pieces are `nom`
//! parsers over the remaining input.

use nom::branch::alt;
use nom::bytes::complete::{is_not, tag, take_till, take_while1};
use nom::character::complete::char;
use nom::combinator::{map, recognize};
use nom::sequence::{delimited, preceded, tuple};
use nom::IResult;

use crate::Span;

/// What a token is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tok {
    /// A bare word: keyword, name, path glob, number.
    Word,
    /// A `"quoted string"`.
    Quoted,
    /// `<path>` of an include.
    Angle,
    /// `,`
    Comma,
    /// `(`
    LParen,
    /// `)`
    RParen,
    /// `{` opening a block.
    Open,
    /// `}` closing a block.
    Close,
    /// `=`
    Eq,
    /// `+=`
    PlusEq,
    /// `->`
    Arrow,
    /// `<=`
    Le,
    /// The `#include` directive word.
    HashInclude,
    /// End of input.
    Eof,
}

/// A token: its kind, its span and its text (unquoted for `Quoted` and
/// `Angle`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    /// What it is.
    pub tok: Tok,
    /// Where.
    pub span: Span,
    /// Its text.
    pub text: String,
}

/// Skip whitespace and comments from `pos`; returns the new position and
/// whether a newline was crossed.
pub fn skip_trivia(src: &str, mut pos: usize) -> (usize, bool) {
    let bytes = src.as_bytes();
    let mut newline = false;
    while pos < bytes.len() {
        match bytes[pos] {
            b'\n' => {
                newline = true;
                pos += 1;
            }
            b' ' | b'\t' | b'\r' | 0x0b | 0x0c => pos += 1,
            b'#' if !is_hash_include(&src[pos..]) => {
                let r: IResult<&str, &str> = take_till(|c| c == '\n')(&src[pos..]);
                pos += r.map_or(src.len() - pos, |(_, c)| c.len());
            }
            _ => break,
        }
    }
    (pos, newline)
}

/// `#include` followed by a blank, `<` or `"`.
fn is_hash_include(s: &str) -> bool {
    s.strip_prefix("#include").is_some_and(|r| r.starts_with([' ', '\t', '<', '"']))
}

/// The token at `pos`, which must not be trivia.
pub fn token_at(src: &str, pos: usize) -> Token {
    let rest = &src[pos..];
    let mk = |tok, len: usize, text: &str| Token { tok, span: Span::new(pos, pos + len), text: text.to_owned() };
    if rest.is_empty() {
        return mk(Tok::Eof, 0, "");
    }
    if is_hash_include(rest) {
        return mk(Tok::HashInclude, 8, "#include");
    }
    let punct: IResult<&str, Tok> = alt((
        map(tag("->"), |_| Tok::Arrow),
        map(tag("<="), |_| Tok::Le),
        map(tag("+="), |_| Tok::PlusEq),
        map(char(','), |_| Tok::Comma),
        map(char('('), |_| Tok::LParen),
        map(char(')'), |_| Tok::RParen),
        map(char('='), |_| Tok::Eq),
        map(char('}'), |_| Tok::Close),
    ))(rest);
    if let Ok((after, tok)) = punct {
        let len = rest.len() - after.len();
        return mk(tok, len, &rest[..len]);
    }
    if rest.starts_with('{') && rest[1..].chars().next().is_none_or(|c| c.is_whitespace() || c == '}' || c == '#') {
        return mk(Tok::Open, 1, "{");
    }
    if let Ok((after, inner)) = quoted(rest) {
        return mk(Tok::Quoted, rest.len() - after.len(), &unescape(inner));
    }
    if rest.starts_with('"') {
        // An unterminated string runs to the end of its line.
        let len = rest.find('\n').unwrap_or(rest.len());
        return mk(Tok::Quoted, len, &rest[1..len]);
    }
    if let Ok((after, inner)) = angle(rest) {
        return mk(Tok::Angle, rest.len() - after.len(), inner);
    }
    let len = word_len(rest);
    mk(Tok::Word, len, &rest[..len])
}

fn quoted(s: &str) -> IResult<&str, &str> {
    delimited(
        char('"'),
        recognize(nom::multi::many0(alt((
            preceded(char('\\'), nom::character::complete::anychar).map(|_| ()),
            is_not("\\\"\n").map(|_| ()),
        )))),
        char('"'),
    )(s)
}

fn angle(s: &str) -> IResult<&str, &str> {
    delimited(char('<'), take_while1(|c: char| c != '>' && c != '\n' && c != '<'), char('>'))(s)
}

/// Length of a bare word: up to a blank, or (outside glob braces) one of
/// `,()=` or the start of `->`/`+=`/`<=`. Braces nest; a `}` that closes
/// nothing ends the word. A word that starts with `/` is a path, and
/// paths may hold `=`, `+=`, `<=` and balanced parentheses, as
/// `apparmor_parser` reads them (`/a=b r,` is a rule on the path `/a=b`).
fn word_len(s: &str) -> usize {
    let b = s.as_bytes();
    let path = b.first() == Some(&b'/');
    let mut depth = 0usize;
    let mut parens = 0usize;
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        match c {
            b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c => break,
            b'{' => depth += 1,
            b'}' if depth == 0 => break,
            b'}' => depth -= 1,
            b'(' if path => parens += 1,
            b')' if path && parens > 0 => parens -= 1,
            b'=' | b'+' | b'<' if path => {}
            b',' | b'(' | b')' | b'=' | b'"' if depth == 0 => break,
            b'-' if depth == 0 && b.get(i + 1) == Some(&b'>') => break,
            b'+' if depth == 0 && b.get(i + 1) == Some(&b'=') => break,
            b'<' if depth == 0 && b.get(i + 1) == Some(&b'=') => break,
            _ => {}
        }
        i += 1;
    }
    if i == 0 {
        // Never return an empty token: take one character.
        s.chars().next().map_or(0, char::len_utf8)
    } else {
        // Stay on a character boundary.
        (i..=s.len()).find(|&j| s.is_char_boundary(j)).unwrap_or(s.len())
    }
}

/// Resolve `\"`, `\\`, `\n`, `\t` and octal escapes in a quoted string.
fn unescape(s: &str) -> String {
    if !s.contains('\\') {
        return s.to_owned();
    }
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some(o) => out.push(o),
            None => out.push('\\'),
        }
    }
    out
}

/// The words on the rest of the line from `pos` (for variable values, which
/// end at a newline rather than a comma). Returns the words and the end.
pub fn line_words(src: &str, mut pos: usize) -> (Vec<Token>, usize) {
    let mut out = Vec::new();
    loop {
        let r: IResult<&str, &str> = take_while1(|c: char| c == ' ' || c == '\t' || c == '\r')(&src[pos..]);
        if let Ok((_, ws)) = r {
            pos += ws.len();
        }
        let rest = &src[pos..];
        if rest.is_empty() || rest.starts_with('\n') || (rest.starts_with('#') && !is_hash_include(rest)) {
            return (out, pos);
        }
        let t: IResult<&str, &str> = alt((
            quoted.map(|_| ""),
            recognize(tuple((take_while1(|c: char| !c.is_whitespace() && c != '"' && c != '#'),))),
        ))(rest);
        let len = match t {
            Ok((after, _)) => rest.len() - after.len(),
            Err(_) => rest.chars().next().map_or(1, char::len_utf8),
        };
        let tok = if rest.starts_with('"') {
            token_at(src, pos)
        } else {
            Token { tok: Tok::Word, span: Span::new(pos, pos + len), text: rest[..len].to_owned() }
        };
        pos = tok.span.end.max(pos + 1).min(src.len());
        out.push(tok);
    }
}

use nom::Parser as _;

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(s: &str) -> Vec<(Tok, String)> {
        let mut pos = 0;
        let mut out = Vec::new();
        loop {
            pos = skip_trivia(s, pos).0;
            let t = token_at(s, pos);
            if t.tok == Tok::Eof {
                return out;
            }
            pos = t.span.end;
            out.push((t.tok, t.text));
        }
    }

    #[test]
    fn globs_keep_their_braces_and_commas() {
        let t = toks("/usr/{bin,sbin}/x{,.real} rw, # c\n}");
        assert_eq!(t[0], (Tok::Word, "/usr/{bin,sbin}/x{,.real}".into()));
        assert_eq!(t[1], (Tok::Word, "rw".into()));
        assert_eq!(t[2].0, Tok::Comma);
        assert_eq!(t[3].0, Tok::Close);
        assert_eq!(t.len(), 4);
    }

    #[test]
    fn punctuation_and_directives() {
        let t = toks("#include <abstractions/base>\nprofile x flags=(a,b) {\n /a Px -> \"b c\",");
        let kinds: Vec<Tok> = t.iter().map(|x| x.0).collect();
        assert_eq!(
            kinds,
            [
                Tok::HashInclude,
                Tok::Angle,
                Tok::Word,
                Tok::Word,
                Tok::Word,
                Tok::Eq,
                Tok::LParen,
                Tok::Word,
                Tok::Comma,
                Tok::Word,
                Tok::RParen,
                Tok::Open,
                Tok::Word,
                Tok::Word,
                Tok::Arrow,
                Tok::Quoted,
                Tok::Comma
            ]
        );
        assert_eq!(t[15].1, "b c");
    }

    #[test]
    fn paths_keep_equals_and_balanced_parentheses() {
        let t = toks("/a=b(c) r, peer=(label=/usr/bin/x)");
        assert_eq!(t[0], (Tok::Word, "/a=b(c)".into()));
        assert_eq!(t[3], (Tok::Word, "peer".into()));
        assert_eq!(t[6], (Tok::Word, "label".into()));
        assert_eq!(t[8], (Tok::Word, "/usr/bin/x".into()));
        assert_eq!(t[9].0, Tok::RParen);
    }

    #[test]
    fn variable_values_end_at_the_newline() {
        let src = "@{A}= /a \"b c\" # x\n/next";
        let (w, end) = line_words(src, 5);
        assert_eq!(w.iter().map(|t| t.text.as_str()).collect::<Vec<_>>(), ["/a", "b c"]);
        assert_eq!(&src[end..end + 1], "#");
    }
}
