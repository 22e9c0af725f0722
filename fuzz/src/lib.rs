//! Checks the fuzz targets share.

use spo_parse::value::{Kind, Node};
use spo_parse::Diagnostic;

/// Every diagnostic's spans lie inside `text`, on character boundaries.
pub fn check_diagnostics(text: &str, diags: &[Diagnostic]) {
    for d in diags {
        for span in std::iter::once(d.span).chain(d.labels.iter().map(|l| l.span)) {
            assert!(span.start <= span.end && span.end <= text.len(), "{span:?} outside {} bytes: {d:?}", text.len());
            assert!(text.is_char_boundary(span.start) && text.is_char_boundary(span.end), "{span:?}: {d:?}");
        }
    }
}

/// Every span of the tree lies inside `text`; returns the tree's depth.
pub fn check_tree(text: &str, node: &Node) -> usize {
    assert!(node.span.start <= node.span.end && node.span.end <= text.len(), "{:?}", node.span);
    match &node.kind {
        Kind::Array(items) => 1 + items.iter().map(|n| check_tree(text, n)).max().unwrap_or(0),
        Kind::Object(ms) => {
            1 + ms
                .iter()
                .map(|m| {
                    assert!(m.key_span.end <= text.len());
                    check_tree(text, &m.value)
                })
                .max()
                .unwrap_or(0)
        }
        _ => 0,
    }
}

/// How many values the tree holds.
pub fn count(node: &Node) -> usize {
    1 + match &node.kind {
        Kind::Array(items) => items.iter().map(count).sum(),
        Kind::Object(ms) => ms.iter().map(|m| count(&m.value)).sum(),
        _ => 0,
    }
}
