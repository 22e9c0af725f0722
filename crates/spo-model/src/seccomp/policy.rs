//! The cluster's limit on what a seccomp profile may let through: SPO's
//! `security.allowedSyscalls` and `security.allowedSeccompActions` of the
//! daemon configuration.
//!
//! A profile is outside the limit when a call could run without being in
//! the list: a rule whose action lets calls through (one of the checked
//! actions, by default `SCMP_ACT_ALLOW`, `SCMP_ACT_LOG`, `SCMP_ACT_TRACE`
//! and `SCMP_ACT_NOTIFY`, as SPO checks them) names a syscall that is not
//! listed, or the default action is such an action (every unlisted call
//! would pass). Each problem has the field path of what crosses the limit,
//! so the admission webhook and the node agent can both locate it.
//!
//! Checked in one pass over the rules with a set of the allowed names:
//! linear in the size of the profile.

use std::collections::HashSet;

use super::{ActionName, SeccompSpec};
use crate::problem::{FieldPath, Problem};

/// The actions SPO checks when `allowedSeccompActions` is empty.
pub const CHECKED_BY_DEFAULT: &[ActionName] =
    &[ActionName::Allow, ActionName::Log, ActionName::Trace, ActionName::Notify];

/// A limit on profiles.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SyscallLimit {
    /// The syscalls a profile may let through; no limit when empty.
    pub allowed_syscalls: Vec<String>,
    /// The actions whose syscalls are checked; [`CHECKED_BY_DEFAULT`] when
    /// empty.
    pub checked_actions: Vec<ActionName>,
}

impl SyscallLimit {
    /// Whether there is a limit at all.
    pub fn is_unlimited(&self) -> bool {
        self.allowed_syscalls.is_empty()
    }

    fn checked(&self, a: ActionName) -> bool {
        if self.checked_actions.is_empty() {
            CHECKED_BY_DEFAULT.contains(&a)
        } else {
            self.checked_actions.contains(&a)
        }
    }

    /// Every way `spec` goes beyond the limit, each with its field path
    /// below `spec`.
    pub fn problems(&self, spec: &SeccompSpec) -> Vec<Problem> {
        let mut out = Vec::new();
        if self.is_unlimited() {
            return out;
        }
        let allowed: HashSet<&str> = self.allowed_syscalls.iter().map(String::as_str).collect();
        let base = FieldPath::root().key("spec");
        if self.checked(spec.default_action) {
            out.push(
                Problem::error(
                    base.key("defaultAction"),
                    format!(
                        "default action {} lets every syscall through, but the cluster allows only {} syscalls \
                         (SecurityProfilesOperatorDaemon spec.security.allowedSyscalls)",
                        spec.default_action,
                        allowed.len()
                    ),
                )
                .with_help("use SCMP_ACT_ERRNO as the default action and allow the syscalls by name"),
            );
        }
        for (i, rule) in spec.syscalls.iter().enumerate() {
            if !self.checked(rule.action) {
                continue;
            }
            let rule_path = base.key("syscalls").index(i);
            for (j, name) in rule.names.iter().enumerate() {
                if !allowed.contains(name.as_str()) {
                    out.push(
                        Problem::error(
                            rule_path.key("names").index(j),
                            format!(
                                "`{name}` is not in the cluster's allowed syscalls \
                                 (SecurityProfilesOperatorDaemon spec.security.allowedSyscalls)"
                            ),
                        )
                        .with_help("remove it, or ask the cluster administrator to allow it"),
                    );
                }
            }
            if let Some(name) = rule.name.as_deref().filter(|n| !n.is_empty() && !allowed.contains(n)) {
                out.push(Problem::error(
                    rule_path.key("name"),
                    format!("`{name}` is not in the cluster's allowed syscalls"),
                ));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::seccomp::SyscallRule;

    fn limit(names: &[&str]) -> SyscallLimit {
        SyscallLimit { allowed_syscalls: names.iter().map(|s| (*s).to_owned()).collect(), checked_actions: vec![] }
    }

    #[test]
    fn spo_allowed_syscalls_examples() {
        let l = limit(&["exit", "exit_group", "futex", "nanosleep"]);
        // profile-allowed-syscalls: inside.
        let mut ok = SeccompSpec::new(ActionName::Errno);
        ok.syscalls.push(SyscallRule::new(&["exit", "exit_group", "futex", "nanosleep"], ActionName::Allow));
        assert!(l.problems(&ok).is_empty());
        // profile-block-all-syscalls: nothing let through, inside.
        assert!(l.problems(&SeccompSpec::new(ActionName::Errno)).is_empty());
        // profile-denied-syscalls: `bpf` crosses the limit, located.
        let mut bad = ok.clone();
        bad.syscalls[0].names.push("bpf".into());
        let p = l.problems(&bad);
        assert_eq!(p.len(), 1, "{p:?}");
        assert_eq!(p[0].path.to_string(), "spec.syscalls[0].names[4]");
        // profile-allow-all-syscalls: the default action lets all through.
        let p = l.problems(&SeccompSpec::new(ActionName::Allow));
        assert_eq!(p[0].path.to_string(), "spec.defaultAction");
        // Denying rules name anything.
        let mut deny = SeccompSpec::new(ActionName::Errno);
        deny.syscalls.push(SyscallRule::new(&["mkdir"], ActionName::Errno));
        assert!(l.problems(&deny).is_empty());
    }

    #[test]
    fn checked_actions_narrow_the_check_and_no_list_is_no_limit() {
        let mut l = limit(&["read"]);
        l.checked_actions = vec![ActionName::Allow];
        let mut spec = SeccompSpec::new(ActionName::Log);
        spec.syscalls.push(SyscallRule::new(&["write"], ActionName::Log));
        assert!(l.problems(&spec).is_empty(), "LOG is not checked here");
        spec.syscalls.push(SyscallRule::new(&["write"], ActionName::Allow));
        assert_eq!(l.problems(&spec).len(), 1);
        assert!(SyscallLimit::default().problems(&SeccompSpec::new(ActionName::Allow)).is_empty());
    }
}
