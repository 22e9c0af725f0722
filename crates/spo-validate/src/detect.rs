//! What a file holds, judged from its name and first characters, so one
//! entry point can take any profile a user hands over.

use std::path::Path;

/// What a file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    /// JSON or YAML documents (seccomp JSON, custom resources).
    Documents,
    /// SELinux CIL.
    Cil,
    /// AppArmor profile language.
    AppArmor,
}

/// Decide how to read `path`.
pub fn detect(path: &Path, text: &str) -> FileKind {
    match path.extension().and_then(|e| e.to_str()) {
        Some("json" | "yaml" | "yml") => return FileKind::Documents,
        Some("cil") => return FileKind::Cil,
        Some("apparmor" | "profile") => return FileKind::AppArmor,
        _ => {}
    }
    let first = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with(';') && (!l.starts_with('#') || l.starts_with("#include")));
    match first {
        Some(l) if l.starts_with('(') => FileKind::Cil,
        Some(l)
            if l.starts_with('{')
                || l.starts_with('[')
                || l.starts_with("apiVersion")
                || l.starts_with("kind")
                || l == "---" =>
        {
            FileKind::Documents
        }
        Some(l)
            if l.starts_with("profile ")
                || l.starts_with("include")
                || l.starts_with("#include")
                || l.starts_with("abi ")
                || l.starts_with('@')
                || l.starts_with('/') =>
        {
            FileKind::AppArmor
        }
        _ => FileKind::Documents,
    }
}

/// Whether a JSON/YAML file holds a resource of `kind` (judged by the
/// parsed documents, as validation judges them, not by the text).
pub fn has_resource(text: &str, kind: &str) -> bool {
    use spo_parse::document::{kind_of, parse_documents, DocKind};
    parse_documents(text).0.iter().any(|d| matches!(kind_of(d), DocKind::Resource(k) if k == kind))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_by_extension_then_content() {
        assert_eq!(detect(Path::new("a.cil"), ""), FileKind::Cil);
        assert_eq!(detect(Path::new("a"), "; c\n(block x)"), FileKind::Cil);
        assert_eq!(detect(Path::new("a"), "#include <tunables/global>\nprofile x {}"), FileKind::AppArmor);
        assert_eq!(detect(Path::new("a"), "# comment\nprofile x {}"), FileKind::AppArmor);
        assert_eq!(detect(Path::new("a"), "apiVersion: v1\n"), FileKind::Documents);
        assert_eq!(detect(Path::new("a"), "{\"defaultAction\": 1}"), FileKind::Documents);
    }

    #[test]
    fn resource_kinds_come_from_the_documents() {
        assert!(has_resource("---\nkind: SeccompProfile\n---\nkind:   AppArmorProfile\n", "AppArmorProfile"));
        assert!(!has_resource("kind: SeccompProfile\n# kind: AppArmorProfile\n", "AppArmorProfile"));
    }
}
