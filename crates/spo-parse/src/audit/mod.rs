//! Audit records as text, in the three forms they reach a user: the raw
//! record the audit netlink socket delivers (`audit(T:N): k=v ...`), an
//! auditd log line (`type=AVC msg=audit(T:N): ...`), and the kernel log
//! (`audit: type=1400 audit(T:N): ...`, with or without a dmesg or syslog
//! prefix). [`lines`] normalises all three to a record type and a body of
//! `key=value` fields with byte spans; [`avc`] and [`apparmor`] read the
//! SELinux and AppArmor denials a profile can be generated from.
//!
//! Like every parser here it never stops at the first problem: lines that
//! are not audit records are skipped, and records of the right type that
//! cannot be read are reported as warnings with their span.

pub mod apparmor;
pub mod avc;

use crate::Span;

/// One audit record found in the input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line<'a> {
    /// The record type: a number (`1400`) or a name (`AVC`), when given.
    pub record_type: Option<&'a str>,
    /// The text after `audit(T:N): `.
    pub body: &'a str,
    /// Where `body` starts in the input.
    pub offset: usize,
}

/// Every audit record in `text`, one per line.
pub fn lines(text: &str) -> Vec<Line<'_>> {
    let mut out = Vec::new();
    let mut start = 0;
    for raw in text.split_inclusive('\n') {
        let line = raw.trim_end_matches(['\n', '\r']);
        if let Some(l) = one(line, start) {
            out.push(l);
        }
        start += raw.len();
    }
    out
}

fn one(line: &str, offset: usize) -> Option<Line<'_>> {
    let at = line.find("audit(")?;
    let close = line[at..].find("): ")? + at;
    let body_at = close + 3;
    let before = &line[..at];
    let record_type = before
        .rfind("type=")
        .map(|t| before[t + 5..].split_whitespace().next().unwrap_or(""))
        .filter(|t| !t.is_empty());
    Some(Line { record_type, body: &line[body_at..], offset: offset + body_at })
}

/// `key=value` fields of a body, values unquoted, each with the span of
/// its value. `{ ... }` groups (AVC permission lists) are returned as one
/// field named `{}`.
pub fn fields(body: &str, offset: usize) -> Vec<(&str, &str, Span)> {
    let mut out = Vec::new();
    let b = body.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b' ' {
            i += 1;
            continue;
        }
        if b[i] == b'{' {
            let end = body[i..].find('}').map_or(b.len(), |e| i + e);
            out.push(("{}", body[i + 1..end].trim(), Span::new(offset + i, offset + end)));
            i = end + 1;
            continue;
        }
        let word_end = body[i..].find(' ').map_or(b.len(), |e| i + e);
        let Some(eq) = body[i..word_end].find('=').map(|e| i + e) else {
            // A bare word such as `avc:` or `denied`.
            out.push((&body[i..word_end], "", Span::new(offset + i, offset + word_end)));
            i = word_end;
            continue;
        };
        let key = &body[i..eq];
        let v = eq + 1;
        let (value, end) = if b.get(v) == Some(&b'"') {
            let close = body[v + 1..].find('"').map_or(b.len(), |e| v + 1 + e);
            (&body[v + 1..close], (close + 1).min(b.len()))
        } else {
            let end = body[v..].find(' ').map_or(b.len(), |e| v + e);
            (&body[v..end], end)
        };
        out.push((key, value, Span::new(offset + v, offset + end)));
        i = end;
    }
    out
}

/// The value of `key` in `fields`.
pub fn get<'a>(fields: &[(&str, &'a str, Span)], key: &str) -> Option<&'a str> {
    fields.iter().find(|(k, _, _)| *k == key).map(|(_, v, _)| *v)
}

/// Decode a value the kernel hex-encodes when it holds special characters
/// (an even number of upper-case hex digits, not quoted in the record).
pub fn unhex(v: &str) -> String {
    let hex = !v.is_empty()
        && v.len().is_multiple_of(2)
        && v.bytes().all(|c| c.is_ascii_digit() || (b'A'..=b'F').contains(&c));
    if !hex {
        return v.to_owned();
    }
    let bytes: Vec<u8> = (0..v.len()).step_by(2).filter_map(|i| u8::from_str_radix(&v[i..i + 2], 16).ok()).collect();
    String::from_utf8_lossy(&bytes).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_three_forms_are_recognised() {
        let text = "type=AVC msg=audit(1.2:3): avc:  denied  { read } for pid=1\n\
                    not an audit line\n\
                    [   12.5] audit: type=1400 audit(1.2:4): apparmor=\"DENIED\" name=\"/x\"\n\
                    audit(1.2:5): pid=7 syscall=1\n";
        let l = lines(text);
        assert_eq!(l.len(), 3);
        assert_eq!(l[0].record_type, Some("AVC"));
        assert!(l[0].body.starts_with("avc:"));
        assert_eq!(&text[l[0].offset..l[0].offset + 4], "avc:");
        assert_eq!(l[1].record_type, Some("1400"));
        assert_eq!(l[2].record_type, None);
        assert_eq!(l[2].body, "pid=7 syscall=1");
    }

    #[test]
    fn fields_keep_quotes_groups_and_spans() {
        let body = "avc:  denied  { read write } for pid=1 comm=\"a b\" name=x";
        let f = fields(body, 10);
        assert_eq!(get(&f, "{}"), Some("read write"));
        assert_eq!(get(&f, "comm"), Some("a b"));
        assert_eq!(get(&f, "name"), Some("x"));
        let (_, _, span) = f.iter().find(|(k, _, _)| *k == "pid").unwrap();
        assert_eq!(&body[span.start - 10..span.end - 10], "1");
        assert_eq!(unhex("2F746D70"), "/tmp");
        assert_eq!(unhex("/tmp"), "/tmp");
    }
}
