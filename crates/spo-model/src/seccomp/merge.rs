//! Combining and comparing seccomp profiles.
//!
//! Three operations share one notion of "union": [`merge`] joins profiles a
//! user recorded separately (several test runs, a runtime's base list and a
//! workload), [`resolve_base`] follows SPO's `baseProfileName` chain with the
//! same rules, and [`diff`] says per architecture what one profile permits
//! that the other does not. A union is only meaningful between profiles
//! that agree on what happens to everything they do not list, so profiles
//! with different default actions are refused rather than silently combined.

use std::collections::{BTreeMap, BTreeSet};

use super::{Action, ActionName, SeccompSpec, SyscallRule};
use crate::{Arch, ModelError};

/// How many `baseProfileName` links [`resolve_base`] follows before it gives
/// up: deep enough for any sane hierarchy, shallow enough to stop a
/// runaway chain of generated profiles.
pub const MAX_BASE_DEPTH: usize = 16;

/// The action of a spec's default, errno included.
fn default_of(spec: &SeccompSpec) -> Action {
    Action::from_name(spec.default_action, spec.effective_default_errno())
}

/// Whether a rule applies to its syscalls unconditionally.
fn is_plain(rule: &SyscallRule) -> bool {
    rule.args.is_empty() && rule.includes.is_empty() && rule.excludes.is_empty()
}

/// The union of `specs`: every architecture, flag and rule of any of them.
///
/// All specs must have the same default action (errno included), or the
/// result would mean something none of the inputs meant. Unconditional rules
/// are regrouped into one rule per action with sorted names; a syscall that
/// two profiles list unconditionally with different actions keeps the more
/// permissive one, since a union permits what either permitted. Conditional
/// rules are kept as written, duplicates dropped. The first spec provides the
/// scalar fields (listener, `disabled`); `baseProfileName` is kept only when
/// every spec names the same base.
pub fn merge(specs: &[SeccompSpec]) -> Result<SeccompSpec, ModelError> {
    let Some(first) = specs.first() else {
        return Err(ModelError::MergeNothing);
    };
    let want = default_of(first);
    for (index, s) in specs.iter().enumerate().skip(1) {
        let got = default_of(s);
        if got != want {
            return Err(ModelError::MergeDefaultAction { index, first: want.to_string(), other: got.to_string() });
        }
    }
    let mut out = first.clone();
    out.syscalls = Vec::new();
    out.architectures = Vec::new();
    out.flags = Vec::new();
    if specs.iter().any(|s| s.base_profile_name != first.base_profile_name) {
        out.base_profile_name = None;
    }
    let mut plain: BTreeMap<String, Action> = BTreeMap::new();
    let mut conditional: Vec<SyscallRule> = Vec::new();
    // Duplicates found through their (derived, field by field) Debug form:
    // a lookup per rule, where a scan of the rules kept cost n² for n.
    let mut seen: std::collections::HashSet<String> = std::collections::HashSet::new();
    for s in specs {
        out.native_architecture |= s.native_architecture;
        for a in &s.architectures {
            if !out.architectures.contains(a) {
                out.architectures.push(*a);
            }
        }
        for f in &s.flags {
            if !out.flags.contains(f) {
                out.flags.push(*f);
            }
        }
        for m in &s.arch_map {
            if !out.arch_map.contains(m) {
                out.arch_map.push(m.clone());
            }
        }
        for rule in &s.syscalls {
            if is_plain(rule) {
                let action = Action::from_name(rule.action, rule.effective_errno());
                for name in rule.all_names() {
                    let e = plain.entry(name.to_owned()).or_insert(action);
                    // `Action`'s order runs from most to least restrictive.
                    *e = (*e).max(action);
                }
            } else if seen.insert(format!("{rule:?}")) {
                conditional.push(rule.clone());
            }
        }
    }
    out.syscalls = group_rules(&plain, want);
    out.syscalls.extend(conditional);
    Ok(out)
}

/// One rule per action, least restrictive first, names sorted; entries whose
/// action is the default are dropped (they change nothing, and libseccomp
/// refuses them).
fn group_rules(plain: &BTreeMap<String, Action>, default: Action) -> Vec<SyscallRule> {
    let mut by_action: BTreeMap<Action, Vec<&str>> = BTreeMap::new();
    for (name, action) in plain {
        if *action != default {
            by_action.entry(*action).or_default().push(name);
        }
    }
    by_action
        .into_iter()
        .rev()
        .map(|(action, names)| {
            let (name, errno) = action.to_name();
            let mut r = SyscallRule::new(&names, name);
            if name == ActionName::Errno || name == ActionName::Trace {
                r.errno_ret = errno;
            }
            r
        })
        .collect()
}

/// Follow `spec`'s `baseProfileName` chain and merge every profile on it
/// into one spec with no base.
///
/// `name` is the starting profile's own name (for cycle detection and
/// messages); `lookup` returns the spec a base name refers to, or `None`
/// when there is no such profile. A chain longer than [`MAX_BASE_DEPTH`], a
/// cycle, a missing base or a base whose default action differs is an
/// error naming the chain.
pub fn resolve_base<F>(name: &str, spec: &SeccompSpec, mut lookup: F) -> Result<SeccompSpec, ModelError>
where
    F: FnMut(&str) -> Option<SeccompSpec>,
{
    let mut chain = vec![name.to_owned()];
    let mut specs = vec![spec.clone()];
    let mut next = spec.base_profile_name.clone();
    while let Some(base) = next {
        if chain.contains(&base) {
            chain.push(base);
            return Err(ModelError::BaseProfileCycle { chain: chain.join(" -> ") });
        }
        chain.push(base.clone());
        if chain.len() > MAX_BASE_DEPTH + 1 {
            return Err(ModelError::BaseProfileDepth { chain: chain.join(" -> "), limit: MAX_BASE_DEPTH });
        }
        let Some(found) = lookup(&base) else {
            return Err(ModelError::BaseProfileMissing { name: base, chain: chain.join(" -> ") });
        };
        next = found.base_profile_name.clone();
        specs.push(found);
    }
    let mut merged = merge(&specs).map_err(|e| match e {
        ModelError::MergeDefaultAction { index, first, other } => {
            ModelError::BaseProfileDefaultAction { base: chain[index].clone(), first, other }
        }
        other => other,
    })?;
    merged.base_profile_name = None;
    Ok(merged)
}

/// What changed on one architecture between two profiles.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArchDiff {
    /// The architecture.
    pub arch: Arch,
    /// Whether only the first profile lists this architecture (`Some(false)`),
    /// only the second (`Some(true)`), or both (`None`).
    pub arch_added: Option<bool>,
    /// Syscalls the second profile permits and the first does not.
    pub added: Vec<String>,
    /// Syscalls the first profile permits and the second does not.
    pub removed: Vec<String>,
    /// Syscalls whose treatment differs otherwise: name, before, after.
    pub changed: Vec<(String, String, String)>,
}

impl ArchDiff {
    /// Whether nothing changed on this architecture.
    pub fn is_empty(&self) -> bool {
        self.arch_added.is_none() && self.added.is_empty() && self.removed.is_empty() && self.changed.is_empty()
    }
}

/// How a profile treats one syscall on one architecture, as `diff` reports
/// it: an unconditional action, or "conditional" rules.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Treatment {
    Always(Action),
    Conditional,
}

impl Treatment {
    fn permits(&self) -> bool {
        matches!(self, Treatment::Always(a) if a.permits())
    }

    fn describe(&self) -> String {
        match self {
            Treatment::Always(a) => a.to_string(),
            Treatment::Conditional => "conditional".to_owned(),
        }
    }
}

/// Architectures a spec applies to: its list, or the native one when the
/// list is empty (the runtime's default).
fn arches_of(spec: &SeccompSpec) -> Vec<Arch> {
    if spec.architectures.is_empty() {
        Arch::native().into_iter().collect()
    } else {
        spec.architectures.clone()
    }
}

/// Every syscall name a spec mentions that exists on `arch`, with how it is
/// treated; unlisted syscalls get the default action.
fn treatments(spec: &SeccompSpec, arch: Arch) -> BTreeMap<String, Treatment> {
    let default = default_of(spec);
    let mut out: BTreeMap<String, Treatment> = BTreeMap::new();
    for rule in &spec.syscalls {
        let action = Action::from_name(rule.action, rule.effective_errno());
        for name in rule.all_names() {
            if arch.is_supported() && arch.syscall_number(name).is_none() {
                continue;
            }
            let t = if is_plain(rule) { Treatment::Always(action) } else { Treatment::Conditional };
            match out.get(name) {
                // The first unconditional rule wins, as in evaluation.
                Some(Treatment::Always(_)) => {}
                _ if t == Treatment::Conditional && out.contains_key(name) => {}
                _ => {
                    out.insert(name.to_owned(), t);
                }
            }
        }
    }
    out.retain(|_, t| *t != Treatment::Always(default));
    out
}

/// Per architecture, what `b` permits that `a` does not (added), what `a`
/// permits that `b` does not (removed), and other changes of treatment.
/// Architectures with no change are left out.
pub fn diff(a: &SeccompSpec, b: &SeccompSpec) -> Vec<ArchDiff> {
    let (arches_a, arches_b) = (arches_of(a), arches_of(b));
    let all: BTreeSet<Arch> = arches_a.iter().chain(&arches_b).copied().collect();
    let mut out = Vec::new();
    for arch in all {
        let (in_a, in_b) = (arches_a.contains(&arch), arches_b.contains(&arch));
        let ta = if in_a { treatments(a, arch) } else { BTreeMap::new() };
        let tb = if in_b { treatments(b, arch) } else { BTreeMap::new() };
        let da = Treatment::Always(default_of(a));
        let db = Treatment::Always(default_of(b));
        let names: BTreeSet<&String> = ta.keys().chain(tb.keys()).collect();
        let mut d = ArchDiff {
            arch,
            arch_added: if in_a == in_b { None } else { Some(in_b) },
            added: Vec::new(),
            removed: Vec::new(),
            changed: Vec::new(),
        };
        for name in names {
            let x = if in_a { ta.get(name).unwrap_or(&da) } else { &Treatment::Always(Action::KillProcess) };
            let y = if in_b { tb.get(name).unwrap_or(&db) } else { &Treatment::Always(Action::KillProcess) };
            match (x.permits(), y.permits()) {
                (false, true) => d.added.push(name.clone()),
                (true, false) => d.removed.push(name.clone()),
                _ if x != y => d.changed.push((name.clone(), x.describe(), y.describe())),
                _ => {}
            }
        }
        if !d.is_empty() {
            out.push(d);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(default: ActionName, arches: &[Arch], rules: Vec<SyscallRule>) -> SeccompSpec {
        let mut s = SeccompSpec::new(default);
        s.architectures = arches.to_vec();
        s.syscalls = rules;
        s
    }

    fn allow(names: &[&str]) -> SyscallRule {
        SyscallRule::new(names, ActionName::Allow)
    }

    #[test]
    fn merge_unions_names_and_architectures() {
        let a = spec(ActionName::Errno, &[Arch::X86_64], vec![allow(&["read", "write"])]);
        let b = spec(ActionName::Errno, &[Arch::X86_64, Arch::X86], vec![allow(&["close", "read"])]);
        let m = merge(&[a, b]).unwrap();
        assert_eq!(m.architectures, vec![Arch::X86_64, Arch::X86]);
        assert_eq!(m.syscalls.len(), 1);
        assert_eq!(m.syscalls[0].names, vec!["close", "read", "write"]);
        assert_eq!(m.syscalls[0].action, ActionName::Allow);
    }

    #[test]
    fn merge_keeps_the_more_permissive_action_and_conditional_rules() {
        let mut cond = SyscallRule::new(&["socket"], ActionName::Allow);
        cond.args.push(super::super::ArgCondition {
            index: 0,
            value: 1,
            value_two: 0,
            op: super::super::Operator::Equal,
        });
        let mut deny = SyscallRule::new(&["ptrace", "mount"], ActionName::Errno);
        deny.errno_ret = Some(38);
        let a = spec(ActionName::KillProcess, &[], vec![deny, cond.clone()]);
        let b = spec(ActionName::KillProcess, &[], vec![allow(&["mount"]), cond.clone()]);
        let m = merge(&[a, b]).unwrap();
        assert_eq!(m.syscalls.len(), 3, "{:?}", m.syscalls);
        assert_eq!(m.syscalls[0].names, vec!["mount"]);
        assert_eq!(m.syscalls[0].action, ActionName::Allow);
        assert_eq!(m.syscalls[1].names, vec!["ptrace"]);
        assert_eq!(m.syscalls[1].errno_ret, Some(38));
        assert_eq!(m.syscalls[2], cond);
    }

    #[test]
    fn merge_refuses_different_default_actions() {
        let a = spec(ActionName::Errno, &[], vec![]);
        let mut b = spec(ActionName::Errno, &[], vec![]);
        b.default_errno_ret = Some(38);
        let e = merge(&[a.clone(), b]).unwrap_err();
        assert!(matches!(e, ModelError::MergeDefaultAction { index: 1, .. }), "{e}");
        assert!(e.to_string().contains("SCMP_ACT_ERRNO(38)"), "{e}");
        assert!(merge(&[]).is_err());
        assert_eq!(merge(std::slice::from_ref(&a)).unwrap(), a);
    }

    #[test]
    fn base_chains_resolve_and_cycles_are_refused() {
        let mut app = spec(ActionName::Errno, &[Arch::X86_64], vec![allow(&["read"])]);
        app.base_profile_name = Some("mid".into());
        let mut mid = spec(ActionName::Errno, &[Arch::X86_64], vec![allow(&["write"])]);
        mid.base_profile_name = Some("runc".into());
        let runc = spec(ActionName::Errno, &[Arch::X86_64], vec![allow(&["exit_group"])]);
        let lookup = |n: &str| match n {
            "mid" => Some(mid.clone()),
            "runc" => Some(runc.clone()),
            _ => None,
        };
        let r = resolve_base("app", &app, lookup).unwrap();
        assert_eq!(r.base_profile_name, None);
        assert_eq!(r.syscalls[0].names, vec!["exit_group", "read", "write"]);

        let mut looped = runc.clone();
        looped.base_profile_name = Some("app".into());
        let e = resolve_base("app", &app, |n| match n {
            "mid" => Some(mid.clone()),
            "runc" => Some(looped.clone()),
            "app" => Some(app.clone()),
            _ => None,
        })
        .unwrap_err();
        assert_eq!(e.to_string(), "baseProfileName cycle: app -> mid -> runc -> app");

        let e = resolve_base("app", &app, |_| None).unwrap_err();
        assert!(matches!(&e, ModelError::BaseProfileMissing { name, .. } if name == "mid"), "{e}");
    }

    #[test]
    fn base_chains_have_a_depth_limit() {
        let link = |i: usize| {
            let mut s = spec(ActionName::Errno, &[], vec![allow(&["read"])]);
            s.base_profile_name = Some(format!("p{}", i + 1));
            s
        };
        let e = resolve_base("p0", &link(0), |n| Some(link(n[1..].parse().unwrap()))).unwrap_err();
        assert!(matches!(e, ModelError::BaseProfileDepth { limit: MAX_BASE_DEPTH, .. }), "{e}");
        let mut other = spec(ActionName::Allow, &[], vec![]);
        other.base_profile_name = None;
        let e = resolve_base("p0", &link(0), |_| Some(other.clone())).unwrap_err();
        assert!(matches!(&e, ModelError::BaseProfileDefaultAction { base, .. } if base == "p1"), "{e}");
    }

    #[test]
    fn diff_reports_per_architecture() {
        let a = spec(ActionName::Errno, &[Arch::X86_64], vec![allow(&["read", "open", "write"])]);
        let b = spec(ActionName::Errno, &[Arch::X86_64, Arch::Aarch64], vec![allow(&["read", "open", "close"])]);
        let d = diff(&a, &b);
        assert_eq!(d.len(), 2, "{d:?}");
        assert_eq!(d[0].arch, Arch::X86_64);
        assert_eq!(d[0].added, vec!["close"]);
        assert_eq!(d[0].removed, vec!["write"]);
        assert_eq!(d[0].arch_added, None);
        assert_eq!(d[1].arch, Arch::Aarch64);
        assert_eq!(d[1].arch_added, Some(true));
        // `open` does not exist on aarch64.
        assert_eq!(d[1].added, vec!["close", "read"]);
        assert!(diff(&a, &a).is_empty());
    }
}
