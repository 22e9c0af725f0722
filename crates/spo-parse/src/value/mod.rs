//! A JSON/YAML value tree that remembers where every value and key came
//! from, so that problems found later (by field path) can be pointed at.
//!
//! serde_json and the YAML crates drop positions once a value is built;
//! `spoc validate` needs them for every field, so both formats are read into
//! this one tree: JSON by a small strict parser of our own (duplicate keys
//! are errors, as in Firecracker's seccompiler), YAML through yaml-rust2's
//! event stream, which carries positions.

mod json;
mod keys;
pub mod lower;
mod yaml;

use spo_model::{FieldPath, PathSegment};

pub use json::{parse_json, parse_json_with};
pub use yaml::{parse_yaml, parse_yaml_with};

use crate::Span;

/// A value with its span.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    /// Where the value is in the input.
    pub span: Span,
    /// The value.
    pub kind: Kind,
}

/// A JSON/YAML value.
#[derive(Debug, Clone, PartialEq)]
pub enum Kind {
    /// `null`, `~` or an empty YAML value.
    Null,
    /// `true`/`false`.
    Bool(bool),
    /// A number, kept as written so integers keep full 64-bit precision.
    Number(String),
    /// A string.
    String(String),
    /// An array.
    Array(Vec<Node>),
    /// An object, members in input order.
    Object(Vec<Member>),
}

/// An object member.
#[derive(Debug, Clone, PartialEq)]
pub struct Member {
    /// The key.
    pub key: String,
    /// Where the key is.
    pub key_span: Span,
    /// The value.
    pub value: Node,
}

impl Node {
    /// A short name of the value's type, for messages.
    pub fn type_name(&self) -> &'static str {
        match &self.kind {
            Kind::Null => "null",
            Kind::Bool(_) => "a boolean",
            Kind::Number(_) => "a number",
            Kind::String(_) => "a string",
            Kind::Array(_) => "an array",
            Kind::Object(_) => "an object",
        }
    }

    /// The member `key` of an object.
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.member(key).map(|m| &m.value)
    }

    /// The member `key` of an object, with its key.
    pub fn member(&self, key: &str) -> Option<&Member> {
        match &self.kind {
            Kind::Object(m) => m.iter().find(|m| m.key == key),
            _ => None,
        }
    }

    /// The string value, if this is a string.
    pub fn as_str(&self) -> Option<&str> {
        match &self.kind {
            Kind::String(s) => Some(s),
            _ => None,
        }
    }

    /// The span of the value (or key) at `path`; when the path leads
    /// nowhere, the span of the deepest value it reaches.
    pub fn span_of(&self, path: &FieldPath) -> Span {
        let mut node = self;
        let mut key_span = None;
        for seg in &path.segments {
            let next = match (seg, &node.kind) {
                (PathSegment::Key(k), Kind::Object(ms)) => ms.iter().find(|m| &m.key == k).map(|m| {
                    key_span = Some(m.key_span);
                    &m.value
                }),
                (PathSegment::Index(i), Kind::Array(items)) => {
                    key_span = None;
                    items.get(*i)
                }
                _ => None,
            };
            match next {
                Some(n) => node = n,
                None => return node.span,
            }
        }
        match (path.at_key, key_span) {
            (true, Some(k)) => k,
            _ => node.span,
        }
    }
}
