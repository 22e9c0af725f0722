//! Problems found by semantic validation, located by field path.
//!
//! The model knows nothing about text, so a problem names the field it is
//! about (`spec.syscalls[3].names[1]`); `spo-parse` keeps a map from field
//! paths to byte spans and turns each problem into a located diagnostic.

use std::fmt;

/// How bad a problem is: errors make a profile invalid, warnings do not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// The profile must not be applied.
    Error,
    /// The profile works but probably not as intended.
    Warning,
    /// Extra information.
    Note,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Note => "note",
        })
    }
}

/// One step into a document: an object key or an array index.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PathSegment {
    /// An object member.
    Key(String),
    /// An array element.
    Index(usize),
}

/// Where in a document a problem is: the path from the root, and whether it
/// is about the member's key (an unknown field) rather than its value.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FieldPath {
    /// Segments from the document root.
    pub segments: Vec<PathSegment>,
    /// Point at the key of the last segment instead of its value.
    pub at_key: bool,
}

impl FieldPath {
    /// The document root.
    pub fn root() -> Self {
        Self::default()
    }

    /// This path extended by an object key.
    pub fn key(&self, key: &str) -> Self {
        let mut p = self.clone();
        p.segments.push(PathSegment::Key(key.to_owned()));
        p.at_key = false;
        p
    }

    /// This path extended by an array index.
    pub fn index(&self, i: usize) -> Self {
        let mut p = self.clone();
        p.segments.push(PathSegment::Index(i));
        p.at_key = false;
        p
    }

    /// The same path, pointing at the key of its last member.
    pub fn at_key(mut self) -> Self {
        self.at_key = true;
        self
    }

    /// Parse a dotted path such as `spec.syscalls[2].names[0]`.
    pub fn parse(s: &str) -> Self {
        let mut p = FieldPath::root();
        for part in s.split('.').filter(|x| !x.is_empty()) {
            let mut rest = part;
            if let Some(i) = rest.find('[') {
                if i > 0 {
                    p = p.key(&rest[..i]);
                }
                rest = &rest[i..];
                while let Some(stripped) = rest.strip_prefix('[') {
                    let end = stripped.find(']').unwrap_or(stripped.len());
                    if let Ok(n) = stripped[..end].parse() {
                        p = p.index(n);
                    }
                    rest = stripped.get(end + 1..).unwrap_or("");
                }
            } else {
                p = p.key(rest);
            }
        }
        p
    }
}

impl fmt::Display for FieldPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for seg in &self.segments {
            match seg {
                PathSegment::Key(k) => {
                    if !first {
                        f.write_str(".")?;
                    }
                    f.write_str(k)?;
                }
                PathSegment::Index(i) => write!(f, "[{i}]")?,
            }
            first = false;
        }
        if first {
            f.write_str("<root>")?;
        }
        Ok(())
    }
}

/// A located semantic problem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Error or warning.
    pub severity: Severity,
    /// Where it is.
    pub path: FieldPath,
    /// What is wrong, lowercase, no trailing period.
    pub message: String,
    /// How to fix it, when we know.
    pub help: Option<String>,
    /// Other places that explain the problem (for example the first of two
    /// contradictory rules).
    pub related: Vec<(FieldPath, String)>,
}

impl Problem {
    /// An error at `path`.
    pub fn error(path: FieldPath, message: impl Into<String>) -> Self {
        Self { severity: Severity::Error, path, message: message.into(), help: None, related: Vec::new() }
    }

    /// A warning at `path`.
    pub fn warning(path: FieldPath, message: impl Into<String>) -> Self {
        Self { severity: Severity::Warning, ..Self::error(path, message) }
    }

    /// Attach a help line.
    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// Attach a related location.
    pub fn with_related(mut self, path: FieldPath, label: impl Into<String>) -> Self {
        self.related.push((path, label.into()));
        self
    }
}

#[cfg(test)]
mod tests {
    use super::FieldPath;

    #[test]
    fn paths_round_trip_through_text() {
        let p = FieldPath::root().key("spec").key("syscalls").index(3).key("names").index(1);
        assert_eq!(p.to_string(), "spec.syscalls[3].names[1]");
        assert_eq!(FieldPath::parse("spec.syscalls[3].names[1]"), p);
    }
}
