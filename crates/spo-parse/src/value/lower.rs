//! Typed reading of a spanned tree, collecting every problem.
//!
//! Lowering code asks for "a string here", "an object with these fields
//! there"; each mismatch becomes a located diagnostic (with a "did you
//! mean" for misspelt field names and enum values) and lowering goes on,
//! so one pass reports everything.

use std::str::FromStr;

use spo_model::suggest::did_you_mean;
use spo_model::{Problem, Severity};

use super::{Kind, Member, Node};
use crate::{Diagnostic, Limit, Limits, Span};

/// Collects diagnostics while reading a tree.
#[derive(Debug, Default)]
pub struct Lowerer {
    /// Everything found so far.
    pub diags: Vec<Diagnostic>,
    /// What the tree may hold.
    pub limits: Limits,
    /// Syscall names read so far, against [`Limits::names`].
    names: usize,
    /// Whether a list was cut short at a limit (what was read is then not
    /// the whole input, and must not be applied).
    pub truncated: bool,
}

impl Lowerer {
    /// A new, empty collector with the default [`Limits`].
    pub fn new() -> Self {
        Self::default()
    }

    /// A new, empty collector reading within `limits`.
    pub fn with_limits(limits: &Limits) -> Self {
        Lowerer { limits: *limits, ..Self::default() }
    }

    /// The first `max` of `items`, with an error at the first one past it.
    pub fn at_most<'n>(&mut self, items: &'n [Node], max: usize, limit: Limit, what: &str) -> &'n [Node] {
        if items.len() <= max {
            return items;
        }
        self.truncated = true;
        self.error(
            items[max].span,
            format!("more than {max} {what}; the rest is not read"),
            Some(format!("split the profile, or raise the limit with --limit {limit}=N")),
        );
        &items[..max]
    }

    /// A list of syscall names, counted against [`Limits::names`] over the
    /// whole profile.
    pub fn names(&mut self, node: &Node, what: &str) -> Vec<String> {
        let Some(items) = self.array(node, what) else { return Vec::new() };
        let left = self.limits.names.saturating_sub(self.names);
        let items = self.at_most(items, left, Limit::Names, "syscall names in the profile");
        self.names += items.len();
        items.iter().filter_map(|n| self.string(n, what)).collect()
    }

    /// Record an error at `span`.
    pub fn error(&mut self, span: Span, msg: impl Into<String>, help: Option<String>) {
        let mut d = Diagnostic::error(span, msg);
        d.help = help;
        self.diags.push(d);
    }

    fn type_error(&mut self, node: &Node, expected: &str, what: &str) {
        self.error(node.span, format!("`{what}` must be {expected}, found {}", node.type_name()), None);
    }

    /// The members of an object; unknown keys are reported (with a
    /// suggestion from `known`) unless `known` is empty.
    pub fn object<'n>(&mut self, node: &'n Node, what: &str, known: &[&str]) -> Option<&'n [Member]> {
        match &node.kind {
            Kind::Object(members) => {
                // Known field lists are short: a scan per member is linear
                // in the members.
                if !known.is_empty() {
                    for m in members {
                        if !known.contains(&m.key.as_str()) {
                            let help = match did_you_mean(&m.key, known.iter().copied()) {
                                Some(s) => format!("did you mean `{s}`?"),
                                None => format!("known fields: {}", known.join(", ")),
                            };
                            self.error(m.key_span, format!("unknown field `{}` in `{what}`", m.key), Some(help));
                        }
                    }
                }
                Some(members)
            }
            _ => {
                self.type_error(node, "an object", what);
                None
            }
        }
    }

    /// The items of an array.
    pub fn array<'n>(&mut self, node: &'n Node, what: &str) -> Option<&'n [Node]> {
        match &node.kind {
            Kind::Array(items) => Some(items),
            Kind::Null => Some(&[]),
            _ => {
                self.type_error(node, "an array", what);
                None
            }
        }
    }

    /// A string.
    pub fn string(&mut self, node: &Node, what: &str) -> Option<String> {
        match &node.kind {
            Kind::String(s) => Some(s.clone()),
            _ => {
                self.type_error(node, "a string", what);
                None
            }
        }
    }

    /// A list of strings.
    pub fn strings(&mut self, node: &Node, what: &str) -> Vec<String> {
        let Some(items) = self.array(node, what) else { return Vec::new() };
        items.iter().filter_map(|n| self.string(n, what)).collect()
    }

    /// A boolean.
    pub fn boolean(&mut self, node: &Node, what: &str) -> Option<bool> {
        match &node.kind {
            Kind::Bool(b) => Some(*b),
            _ => {
                self.type_error(node, "true or false", what);
                None
            }
        }
    }

    /// A non-negative integer that fits in 64 bits (decimal; YAML may also
    /// write `0x` hexadecimal and `0o` octal).
    pub fn u64(&mut self, node: &Node, what: &str) -> Option<u64> {
        let Kind::Number(text) = &node.kind else {
            self.type_error(node, "a non-negative integer", what);
            return None;
        };
        let parsed = if let Some(h) = text.strip_prefix("0x") {
            u64::from_str_radix(h, 16).ok()
        } else if let Some(o) = text.strip_prefix("0o") {
            u64::from_str_radix(o, 8).ok()
        } else {
            text.parse::<u64>().ok()
        };
        if parsed.is_none() {
            let help = if text.starts_with('-') {
                "negative values are not allowed here; write the two's complement value as an unsigned number"
            } else if text.contains(['.', 'e', 'E']) {
                "write a whole number"
            } else {
                "the value must fit in 64 bits (at most 18446744073709551615)"
            };
            self.error(
                node.span,
                format!("`{what}` must be a non-negative integer, found `{text}`"),
                Some(help.into()),
            );
        }
        parsed
    }

    /// A `u32`.
    pub fn u32(&mut self, node: &Node, what: &str) -> Option<u32> {
        let v = self.u64(node, what)?;
        match u32::try_from(v) {
            Ok(v) => Some(v),
            Err(_) => {
                self.error(node.span, format!("`{what}` is {v}, larger than 4294967295"), None);
                None
            }
        }
    }

    /// A string naming one of an enum's values; unknown names get a
    /// suggestion from `names`.
    pub fn enum_value<T: FromStr>(&mut self, node: &Node, what: &str, names: &[&str]) -> Option<T> {
        let s = self.string(node, what)?;
        match s.parse() {
            Ok(v) => Some(v),
            Err(_) => {
                let help = match did_you_mean(&s, names.iter().copied()) {
                    Some(x) => format!("did you mean `{x}`?"),
                    None => format!("expected one of: {}", names.join(", ")),
                };
                self.error(node.span, format!("unknown {what} `{s}`"), Some(help));
                None
            }
        }
    }

    /// Report a required member that is missing from `obj`, unless a
    /// misspelling of it is there (already reported as an unknown field
    /// with a suggestion: one mistake, one error).
    pub fn missing(&mut self, obj: &Node, field: &str, what: &str, example: &str) {
        if let Kind::Object(members) = &obj.kind {
            if members.iter().any(|m| did_you_mean(&m.key, [field]).is_some()) {
                return;
            }
        }
        self.error(
            Span::new(obj.span.start, obj.span.start + 1),
            format!("`{what}` is missing the required field `{field}`"),
            Some(format!("add `{field}`, for example {example}")),
        );
    }
}

/// Turn a model problem into a diagnostic located in `root`.
pub fn problem_to_diagnostic(root: &Node, p: &Problem) -> Diagnostic {
    let mut d = match p.severity {
        Severity::Error => Diagnostic::error(root.span_of(&p.path), p.message.clone()),
        _ => Diagnostic::warning(root.span_of(&p.path), p.message.clone()),
    };
    d.severity = p.severity;
    d.help = p.help.clone();
    for (path, label) in &p.related {
        d = d.with_secondary(root.span_of(path), label.clone());
    }
    d
}

/// SPO v1's `spec.state`: whether it says `Disabled` (`Enabled` is the
/// default), or the located error for any other value.
pub fn spec_state(node: &Node) -> Result<bool, Box<Diagnostic>> {
    match node.as_str() {
        Some("Enabled") => Ok(false),
        Some("Disabled") => Ok(true),
        Some(other) => {
            let mut d = Diagnostic::error(node.span, format!("spec.state is `{other}`, not `Enabled` or `Disabled`"));
            if let Some(s) = spo_model::suggest::did_you_mean(other, ["Enabled", "Disabled"]) {
                d = d.with_help(format!("did you mean `{s}`?"));
            }
            Err(Box::new(d))
        }
        None => Err(Box::new(Diagnostic::error(
            node.span,
            format!("spec.state must be a string, found {}", node.type_name()),
        ))),
    }
}

/// The warning for the pre-v1 `spec.disabled: true|false`: SPO v1 (and the
/// cluster's schema) has `spec.state` instead.
pub fn old_disabled(node: &Node) -> Diagnostic {
    Diagnostic::warning(node.span, "`spec.disabled` is the spelling of SPO's older versions")
        .with_help("SPO v1 writes `state: Disabled` (or `state: Enabled`); the cluster refuses `disabled` in v1")
}
