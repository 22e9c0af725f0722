//! SelinuxProfile and RawSelinuxProfile to the CIL module installed on a
//! node.
//!
//! The output matches what SPO v1 generates: one block named after the
//! (cluster-wide) profile, `NAME`, that inherits the container templates
//! and holds one allow rule per target type and class, so existing pods
//! keep their `NAME.process` label. Unlike SPO, the output is sorted (SPO
//! iterates Go maps), the profile is validated before any text is produced,
//! and a raw profile's CIL is placed with a known line offset so errors from
//! `semodule` can be mapped back to the user's file.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use spo_model::selinux::{DenyLists, RawSelinuxProfile, SelinuxProfile, SELF_KEY};
use spo_model::Severity;

use crate::CompileError;

/// Indentation of statements inside the block.
pub const INDENT: &str = "    ";

/// Compile a `SelinuxProfile` to CIL. The profile is validated first
/// (against `deny`); any error makes this fail.
pub fn selinux_profile_to_cil(p: &SelinuxProfile, deny: &DenyLists) -> Result<String, CompileError> {
    let problems: Vec<_> = p.validate(deny).into_iter().filter(|p| p.severity == Severity::Error).collect();
    if let Some(first) = problems.first() {
        return Err(CompileError::InvalidProfile {
            count: problems.len(),
            first: format!("{}: {}", first.path, first.message),
        });
    }
    let block = p.block_name();
    let mut out = String::new();
    let _ = writeln!(out, "(block {block}");
    let mut seen = BTreeSet::new();
    for r in &p.spec.effective_inherit() {
        let target = r.name.clone();
        if seen.insert(target.clone()) {
            let _ = writeln!(out, "{INDENT}(blockinherit {target})");
        }
    }
    if p.is_permissive() {
        let _ = writeln!(out, "{INDENT}(typepermissive process)");
    }
    for (ty, classes) in &p.spec.allow {
        let target = if ty == SELF_KEY { format!("{block}.process") } else { ty.clone() };
        for (class, perms) in classes {
            let perms: BTreeSet<&str> = perms.iter().map(String::as_str).collect();
            let perms: Vec<&str> = perms.into_iter().collect();
            let _ = writeln!(out, "{INDENT}(allow process {target} ({class} ({})))", perms.join(" "));
        }
    }
    out.push_str(")\n");
    Ok(out)
}

/// A raw profile's CIL inside its block, and where the user's text landed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WrappedCil {
    /// The module text.
    pub cil: String,
    /// Line `n` (1-based) of the user's policy is line `n + line_offset`.
    pub line_offset: usize,
    /// Columns of the user's policy are shifted right by this much.
    pub column_offset: usize,
}

impl WrappedCil {
    /// Map a 1-based line of the module back to the user's policy.
    pub fn policy_line(&self, module_line: usize) -> Option<usize> {
        module_line.checked_sub(self.line_offset).filter(|l| *l >= 1)
    }
}

/// Place a raw profile's CIL in its block. The text must have been checked
/// (`spo_parse::cil::check_raw`) so that it cannot close the block early.
pub fn wrap_raw(p: &RawSelinuxProfile) -> WrappedCil {
    wrap_policy(&p.block_name(), &p.spec.policy)
}

/// Place CIL statements in `(block NAME ...)`, one indented line per line.
pub fn wrap_policy(block: &str, policy: &str) -> WrappedCil {
    let mut cil = String::with_capacity(policy.len() + policy.lines().count() * INDENT.len() + block.len() + 16);
    let _ = writeln!(cil, "(block {block}");
    for line in policy.trim_end().lines() {
        if line.trim().is_empty() {
            cil.push('\n');
        } else {
            let _ = writeln!(cil, "{INDENT}{line}");
        }
    }
    cil.push_str(")\n");
    WrappedCil { cil, line_offset: 1, column_offset: INDENT.len() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrapped_lines_map_back() {
        let w = wrap_policy("b_ns", "(type t)\n\n(allow t t (file (read)))\n");
        assert_eq!(w.cil, "(block b_ns\n    (type t)\n\n    (allow t t (file (read)))\n)\n");
        assert_eq!(w.policy_line(4), Some(3));
        assert_eq!(w.policy_line(1), None);
    }
}
