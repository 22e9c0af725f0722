//! The one diagnostic type every parser and validator in spo-rs produces.

use std::ops::Range;

pub use spo_model::Severity;

/// A byte range into the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Span {
    /// First byte.
    pub start: usize,
    /// One past the last byte.
    pub end: usize,
}

impl Span {
    /// A span from `start` to `end`.
    pub fn new(start: usize, end: usize) -> Self {
        Span { start, end: end.max(start) }
    }

    /// An empty span at `at`.
    pub fn point(at: usize) -> Self {
        Span { start: at, end: at }
    }

    /// As a range.
    pub fn range(self) -> Range<usize> {
        self.start..self.end
    }

    /// The smallest span covering both.
    pub fn join(self, other: Span) -> Span {
        Span::new(self.start.min(other.start), self.end.max(other.end))
    }
}

impl From<Range<usize>> for Span {
    fn from(r: Range<usize>) -> Self {
        Span::new(r.start, r.end)
    }
}

/// Keep every span of `diags` inside `text` and on character boundaries
/// (start moved back, end forward). Readers point at "the first character"
/// of a value as one byte, which may sit inside a longer character (found
/// by the fuzzer); every entry point that holds the text calls this before
/// returning.
pub fn snap_to_text(text: &str, diags: &mut [Diagnostic]) {
    let snap = |s: Span| {
        let mut a = s.start.min(text.len());
        while !text.is_char_boundary(a) {
            a -= 1;
        }
        let mut b = s.end.clamp(a, text.len());
        while !text.is_char_boundary(b) {
            b += 1;
        }
        Span::new(a, b)
    };
    for d in diags {
        d.span = snap(d.span);
        for l in &mut d.labels {
            l.span = snap(l.span);
        }
    }
}

/// A secondary location with a short label ("first defined here").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Label {
    /// Where.
    pub span: Span,
    /// What it shows.
    pub message: String,
}

/// A located problem in some input text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// Error, warning or note.
    pub severity: Severity,
    /// The culprit.
    pub span: Span,
    /// What is wrong: lowercase, no trailing period.
    pub message: String,
    /// Label under the caret, if any.
    pub label: Option<String>,
    /// How to fix it.
    pub help: Option<String>,
    /// Other relevant places.
    pub labels: Vec<Label>,
    /// Free-standing notes (for example an include chain).
    pub notes: Vec<String>,
}

impl Diagnostic {
    /// An error at `span`.
    pub fn error(span: Span, message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Error,
            span,
            message: message.into(),
            label: None,
            help: None,
            labels: Vec::new(),
            notes: Vec::new(),
        }
    }

    /// A warning at `span`.
    pub fn warning(span: Span, message: impl Into<String>) -> Self {
        Diagnostic { severity: Severity::Warning, ..Diagnostic::error(span, message) }
    }

    /// Attach a help line.
    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// Attach a label under the main caret.
    pub fn with_label(mut self, label: impl Into<String>) -> Self {
        self.label = Some(label.into());
        self
    }

    /// Attach a secondary location.
    pub fn with_secondary(mut self, span: Span, message: impl Into<String>) -> Self {
        self.labels.push(Label { span, message: message.into() });
        self
    }

    /// Attach a note.
    pub fn with_note(mut self, note: impl Into<String>) -> Self {
        self.notes.push(note.into());
        self
    }

    /// Whether this is an error.
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}
