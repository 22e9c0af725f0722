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

/// The lines a span is on, widened to cover `other` when the two are at
/// most [`NEAR`] lines apart.
#[derive(Debug, Clone, Copy)]
struct Window {
    first: usize,
    last: usize,
}

/// An annotation of a snippet: its level, where, its label.
type Annotation<'a> = (Level, Span, &'a str);

/// Labels this close to the culprit share its snippet; farther ones get
/// their own, so no snippet holds more than the lines it points at.
const NEAR: usize = 3;

impl Window {
    fn of(map: &SourceMap<'_>, text: &str, span: Span) -> Window {
        let r = clamp(text, span);
        let first = map.line_col(r.start).0;
        let last = map.line_col(r.end).0.max(first);
        Window { first, last }
    }

    fn near(self, other: Window) -> bool {
        other.first <= self.last + NEAR && self.first <= other.last + NEAR
    }

    fn join(self, other: Window) -> Window {
        Window { first: self.first.min(other.first), last: self.last.max(other.last) }
    }

    /// The byte range of the window's lines in `text`.
    fn bytes(self, map: &SourceMap<'_>, text: &str) -> std::ops::Range<usize> {
        let start = map.line_start(self.first).unwrap_or(text.len());
        let end = map.line_start(self.last + 1).map_or(text.len(), |e| e.saturating_sub(1)).max(start);
        start..end
    }
}

/// Render diagnostics for `path` (whose content is `text`) rustc-style.
///
/// Each snippet holds only the lines its annotations are on (and the few
/// between them), never the whole file: the cost is linear in the
/// diagnostics and the lines they show, so a file with 100,000 problems
/// renders in time proportional to its size, not to its size squared.
pub fn human(path: &Path, text: &str, diags: &[Diagnostic], color: bool) -> String {
    let origin = path.display().to_string();
    // Tabs would be widened on display but not under the caret; one space
    // per tab keeps byte offsets and columns unchanged.
    let display = text.replace('\t', " ");
    let text = display.as_str();
    let map = SourceMap::new(text);
    // The windows below are already cut to at most MAX_WINDOW bytes a
    // line, so the renderer's own trimming of long lines is never needed;
    // it is also where annotate-snippets 0.11 subtracts past zero (a panic
    // in debug builds) for a caret in the leading blanks of a long line.
    let renderer = if color { Renderer::styled() } else { Renderer::plain() }.term_width(RENDER_WIDTH);
    let mut out = String::new();
    for d in diags {
        let main_label = d.label.as_deref().unwrap_or("");
        // Group the culprit and its labels into windows of nearby lines;
        // the culprit's window comes first.
        let mut windows: Vec<(Window, Vec<Annotation<'_>>)> =
            vec![(Window::of(&map, text, d.span), vec![(Level::Error, d.span, main_label)])];
        for l in &d.labels {
            let w = Window::of(&map, text, l.span);
            match windows.iter_mut().find(|(have, _)| have.near(w)) {
                Some((have, anns)) => {
                    *have = have.join(w);
                    anns.push((Level::Info, l.span, &l.message));
                }
                None => windows.push((w, vec![(Level::Info, l.span, &l.message)])),
            }
        }
        let mut msg = level(d.severity).title(&d.message);
        // Windows too long to show whole (a minified file on one line, a
        // span over a whole document) are cut around their annotations;
        // the cut text is owned, and the location line is written here,
        // since the renderer would count columns from the cut.
        let mut cut_header = None;
        // (cut text, first byte shown, end, bytes of the cut mark before it)
        let mut owned: Vec<(String, usize, usize, usize)> = Vec::new();
        for (i, (w, anns)) in windows.iter().enumerate() {
            let bytes = w.bytes(&map, text);
            if bytes.len() <= MAX_WINDOW {
                owned.push((String::new(), bytes.start, bytes.end, 0));
                continue;
            }
            let first = clamp(text, anns[0].1).start;
            let mut start = first.saturating_sub(CONTEXT).max(bytes.start);
            while !text.is_char_boundary(start) {
                start -= 1;
            }
            if start < bytes.start + CUT.len() {
                start = bytes.start;
            }
            // The culprit (up to a line's worth of it) and a little after.
            let culprit_end = clamp(text, anns[0].1).end.min(first + MAX_WINDOW / 2);
            let mut end = (culprit_end + CONTEXT).min(bytes.end);
            while !text.is_char_boundary(end) {
                end += 1;
            }
            // Start at a line start, or mark the cut.
            let prefix = if start == map.line_start(map.line_col(start).0).unwrap_or(start) { "" } else { CUT };
            let suffix = if end == bytes.end { "" } else { CUT };
            if i == 0 {
                cut_header = Some(map.line_col(first));
            }
            owned.push((format!("{prefix}{}{suffix}", &text[start..end]), start, end, prefix.len()));
        }
        let mut max_line = 0;
        for ((w, anns), (cut, start, end, mark)) in windows.iter().zip(&owned) {
            let is_cut = !cut.is_empty();
            let (source, first_line) =
                if is_cut { (cut.as_str(), map.line_col(*start).0) } else { (&text[*start..*end], w.first) };
            max_line = max_line.max(first_line + source.matches('\n').count());
            let mut snippet = Snippet::source(source).line_start(first_line).fold(true);
            if cut_header.is_none() {
                snippet = snippet.origin(&origin);
            }
            for (lvl, span, label) in anns {
                let r = clamp(text, *span);
                let (a, b) = (r.start.clamp(*start, *end), r.end.clamp(*start, *end));
                // Offsets into the source shown, after the cut mark.
                let (a, b) = (a - start + mark, b - start + mark);
                // annotate-snippets 0.11 underlines warnings with `-`; the
                // culprit always gets a caret, whatever the severity.
                snippet = snippet.annotation(lvl.span(a..b).label(label));
            }
            msg = msg.snippet(snippet);
        }
        if let Some(h) = &d.help {
            msg = msg.footer(Level::Help.title(h));
        }
        for n in &d.notes {
            msg = msg.footer(Level::Note.title(n));
        }
        let rendered = renderer.render(msg).to_string();
        match cut_header {
            None => out.push_str(&rendered),
            Some((line, col)) => {
                // The location line the renderer writes when it has the
                // whole line: after the title, indented by the gutter.
                let (title, rest) = rendered.split_once('\n').unwrap_or((&rendered, ""));
                let gutter = " ".repeat(max_line.max(1).to_string().len());
                out.push_str(&format!("{title}\n{gutter}--> {origin}:{line}:{col}\n{rest}"));
            }
        }
        out.push_str("\n\n");
    }
    out
}

/// Longest window shown whole, in bytes.
const MAX_WINDOW: usize = 2048;
/// Wider than any line a window shows (a whole line of at most
/// [`MAX_WINDOW`] bytes, or a cut one with its context and marks).
const RENDER_WIDTH: usize = 4 * MAX_WINDOW;
/// Bytes shown before the culprit in a cut window.
const CONTEXT: usize = 60;
/// Marks where a cut window was cut.
const CUT: &str = "...";

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

    /// A minified file: every diagnostic is on its one line. Each shows a
    /// cut of it around the culprit, with the right column; before, each
    /// showed the whole line, so the output (and the time) grew with the
    /// square of the file.
    #[test]
    fn long_lines_are_cut_around_the_culprit() {
        let items: Vec<String> = (0..5_000).map(|i| format!("\"n{i}\"")).collect();
        let text = format!("{{\"names\": [{}]}}", items.join(","));
        let diags: Vec<Diagnostic> = (0..5_000)
            .map(|i| {
                let at = text.find(&format!("\"n{i}\"")).unwrap();
                Diagnostic::error(Span::new(at, at + format!("\"n{i}\"").len()), format!("bad n{i}"))
            })
            .collect();
        let out = human(Path::new("min.json"), &text, &diags, false);
        assert!(out.len() < 5_000 * 400, "{} bytes for 5000 diagnostics", out.len());
        let at = text.find("\"n4321\"").unwrap();
        let one = out.split("\n\n").find(|b| b.contains("error: bad n4321\n")).unwrap();
        assert!(one.contains(&format!(" --> min.json:1:{}\n", at + 1)), "{one}");
        // The caret is under the culprit in the cut line.
        let lines: Vec<&str> = one.lines().collect();
        let src = lines.iter().position(|l| l.starts_with("1 | ")).unwrap();
        let col = lines[src].find("\"n4321\"").unwrap();
        assert_eq!(lines[src + 1].find('^'), Some(col), "{one}");
        assert!(lines[src].contains("..."), "{one}");
    }

    /// A label far from the culprit gets a snippet of its own, not every
    /// line between the two.
    #[test]
    fn far_labels_get_their_own_snippet() {
        let text: String = (0..1000).map(|i| format!("k{i}: 1\n")).collect::<String>() + "k0: 2\n";
        let dup = text.rfind("k0").unwrap();
        let d = Diagnostic::error(Span::new(dup, dup + 2), "duplicate key `k0`")
            .with_secondary(Span::new(0, 2), "first defined here");
        let out = human(Path::new("d.yaml"), &text, &[d], false);
        assert!(out.lines().count() < 20, "{out}");
        assert!(out.contains("1001 | k0: 2") && out.contains("first defined here"), "{out}");
    }
}
