//! Diagnostics to text: rustc-style for people (file:line:col, the source
//! line, a caret under the culprit, help and notes) and one JSON object per
//! line for programs.

use std::path::Path;

use annotate_snippets::{Level, Renderer, Snippet};
use serde::Serialize;
use spo_parse::{Diagnostic, Severity, SourceMap, Span};

fn level(s: Severity) -> Level {
    match s {
        Severity::Error => Level::Error,
        Severity::Warning => Level::Warning,
        Severity::Note => Level::Note,
    }
}

/// Clamp a span to `text` and to character boundaries.
fn clamp(text: &str, span: Span) -> std::ops::Range<usize> {
    let mut start = span.start.min(text.len());
    while !text.is_char_boundary(start) {
        start -= 1;
    }
    let mut end = span.end.clamp(start, text.len());
    while !text.is_char_boundary(end) {
        end += 1;
    }
    start..end
}

/// Render diagnostics for `path` (whose content is `text`) rustc-style.
pub fn human(path: &Path, text: &str, diags: &[Diagnostic], color: bool) -> String {
    let origin = path.display().to_string();
    // Tabs would be widened on display but not under the caret; one space
    // per tab keeps byte offsets and columns unchanged.
    let display = text.replace('\t', " ");
    let text = display.as_str();
    let renderer = if color { Renderer::styled() } else { Renderer::plain() };
    let mut out = String::new();
    for d in diags {
        let main_label = d.label.as_deref().unwrap_or("");
        let mut snippet = Snippet::source(text)
            .line_start(1)
            .origin(&origin)
            .fold(true)
            // annotate-snippets 0.11 underlines warnings with `-`; the
            // culprit always gets a caret, whatever the severity.
            .annotation(Level::Error.span(clamp(text, d.span)).label(main_label));
        for l in &d.labels {
            snippet = snippet.annotation(Level::Info.span(clamp(text, l.span)).label(&l.message));
        }
        let mut msg = level(d.severity).title(&d.message).snippet(snippet);
        if let Some(h) = &d.help {
            msg = msg.footer(Level::Help.title(h));
        }
        for n in &d.notes {
            msg = msg.footer(Level::Note.title(n));
        }
        out.push_str(&renderer.render(msg).to_string());
        out.push_str("\n\n");
    }
    out
}

/// A diagnostic as a JSON object.
#[derive(Debug, Serialize)]
pub struct JsonDiagnostic<'a> {
    /// File name as given.
    pub file: String,
    /// 1-based line of the start.
    pub line: usize,
    /// 1-based column (characters) of the start.
    pub column: usize,
    /// 1-based line of the end.
    pub end_line: usize,
    /// 1-based column of the end.
    pub end_column: usize,
    /// `error`, `warning` or `note`.
    pub severity: Severity,
    /// What is wrong.
    pub message: &'a str,
    /// How to fix it.
    pub help: Option<&'a str>,
    /// Further notes.
    pub notes: &'a [String],
}

/// Render diagnostics as JSON lines.
pub fn json(path: &Path, text: &str, diags: &[Diagnostic]) -> String {
    let map = SourceMap::new(text);
    let mut out = String::new();
    for d in diags {
        let (line, column) = map.line_col(d.span.start);
        let (end_line, end_column) = map.line_col(d.span.end);
        let j = JsonDiagnostic {
            file: path.display().to_string(),
            line,
            column,
            end_line,
            end_column,
            severity: d.severity,
            message: &d.message,
            help: d.help.as_deref(),
            notes: &d.notes,
        };
        out.push_str(&serde_json::to_string(&j).unwrap_or_default());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_output_has_location_caret_and_help() {
        let text = "{\n  \"names\": [\"mkdirr\"]\n}\n";
        let d = Diagnostic::error(Span::new(14, 22), "unknown syscall `mkdirr`").with_help("did you mean `mkdir`?");
        let out = human(Path::new("p.json"), text, &[d], false);
        assert!(out.contains("error: unknown syscall `mkdirr`"), "{out}");
        assert!(out.contains("--> p.json:2:13"), "{out}");
        assert!(out.contains("^^^^^^^^"), "{out}");
        assert!(out.contains("help: did you mean `mkdir`?"), "{out}");
    }

    #[test]
    fn json_output_has_the_fields() {
        let text = "ab\ncd";
        let d = Diagnostic::warning(Span::new(3, 4), "w");
        let out = json(Path::new("f"), text, &[d]);
        let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
        assert_eq!(v["line"], 2);
        assert_eq!(v["column"], 1);
        assert_eq!(v["severity"], "warning");
        assert_eq!(v["file"], "f");
    }
}
