//! From a profile as written to the flat rule list a compiler consumes.
//!
//! Docker-style `includes`/`excludes` and `archMap` are evaluated here, the
//! way Moby evaluates them: `arches` and `archMap` are matched against the
//! *native* architecture of the target, `caps` against its capability set,
//! `minKernel` against its kernel version.

use std::fmt;
use std::str::FromStr;

use super::{Action, ArgCondition, FilterFlag, Operator, SeccompSpec, SyscallRule};
use crate::{Arch, ModelError};

/// The capabilities Docker grants a container by default, used to evaluate
/// `includes.caps`/`excludes.caps` when the target names none.
pub const DOCKER_DEFAULT_CAPS: &[&str] = &[
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FSETID",
    "CAP_FOWNER",
    "CAP_MKNOD",
    "CAP_NET_RAW",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETFCAP",
    "CAP_SETPCAP",
    "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT",
    "CAP_KILL",
    "CAP_AUDIT_WRITE",
];

/// A kernel version, `MAJOR.MINOR[.PATCH]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct KernelVersion {
    /// Major.
    pub major: u32,
    /// Minor.
    pub minor: u32,
}

impl FromStr for KernelVersion {
    type Err = ModelError;
    fn from_str(s: &str) -> Result<Self, ModelError> {
        let bad = || ModelError::BadKernelVersion { text: s.to_owned() };
        let mut it = s.trim().split(['.', '-']);
        let major = it.next().and_then(|x| x.parse().ok()).ok_or_else(bad)?;
        let minor = it.next().and_then(|x| x.parse().ok()).ok_or_else(bad)?;
        Ok(KernelVersion { major, minor })
    }
}

impl fmt::Display for KernelVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

/// What a Docker-style profile is evaluated against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The native architecture (selects the `archMap` entry and
    /// `includes.arches`).
    pub native: Arch,
    /// The container's capabilities (`CAP_*`).
    pub caps: Vec<String>,
    /// The kernel version; `None` takes every `minKernel` as satisfied.
    pub kernel: Option<KernelVersion>,
}

impl Default for Target {
    fn default() -> Self {
        Target {
            native: Arch::native().unwrap_or(Arch::X86_64),
            caps: DOCKER_DEFAULT_CAPS.iter().map(|s| (*s).to_owned()).collect(),
            kernel: None,
        }
    }
}

/// One argument comparison of a resolved rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ArgCmp {
    /// Argument index, 0 to 5.
    pub index: u8,
    /// Operator.
    pub op: Operator,
    /// Value, or mask for `MaskedEqual`.
    pub value: u64,
    /// Expected masked value for `MaskedEqual`.
    pub value_two: u64,
}

impl ArgCmp {
    /// Whether `arg` satisfies this comparison, with libseccomp's 64-bit
    /// semantics. `bits` is the architecture's word size: on 32-bit
    /// architectures only the low halves are compared.
    pub fn matches(&self, arg: u64, bits: u32) -> bool {
        let (arg, value, two) = if bits == 32 {
            (arg & 0xffff_ffff, self.value & 0xffff_ffff, self.value_two & 0xffff_ffff)
        } else {
            (arg, self.value, self.value_two)
        };
        match self.op {
            Operator::NotEqual => arg != value,
            Operator::LessThan => arg < value,
            Operator::LessOrEqual => arg <= value,
            Operator::Equal => arg == value,
            Operator::GreaterOrEqual => arg >= value,
            Operator::GreaterThan => arg > value,
            Operator::MaskedEqual => arg & value == two,
        }
    }
}

impl From<&ArgCondition> for ArgCmp {
    fn from(a: &ArgCondition) -> Self {
        ArgCmp { index: a.index.min(255) as u8, op: a.op, value: a.value, value_two: a.value_two }
    }
}

/// One resolved rule: a single syscall, an action, and conditions that
/// must all hold.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FilterRule {
    /// Syscall name (resolved per architecture by the compiler).
    pub syscall: String,
    /// Action when the conditions hold.
    pub action: Action,
    /// Conditions (empty: always).
    pub args: Vec<ArgCmp>,
}

/// A flat, compile-ready filter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filter {
    /// Action when no rule matches.
    pub default_action: Action,
    /// Action for a call from an architecture not in `arches`.
    pub bad_arch_action: Action,
    /// Accepted architectures, first is native.
    pub arches: Vec<Arch>,
    /// Rules in profile order.
    pub rules: Vec<FilterRule>,
    /// seccomp(2) flags.
    pub flags: Vec<FilterFlag>,
    /// Listener socket for `SCMP_ACT_NOTIFY`.
    pub listener_path: Option<String>,
}

impl Filter {
    /// A filter with no rules.
    pub fn new(default_action: Action, arches: Vec<Arch>) -> Self {
        Filter {
            default_action,
            bad_arch_action: Action::KillProcess,
            arches,
            rules: Vec::new(),
            flags: Vec::new(),
            listener_path: None,
        }
    }

    /// The same filter in complain mode: every action that would block or
    /// divert a call (everything but allow) becomes `Log`, so nothing is
    /// blocked and the kernel logs every would-be violation. The bad-arch
    /// action is kept: a foreign-architecture call is not a profile
    /// violation but an escape attempt.
    pub fn to_complain(&self) -> Filter {
        let log = |a: Action| if a == Action::Allow { a } else { Action::Log };
        let mut f = self.clone();
        f.default_action = log(f.default_action);
        for r in &mut f.rules {
            r.action = log(r.action);
        }
        f
    }

    /// The reference semantics every compiled program must agree with: the
    /// action for syscall `nr` of `arch` with arguments `args`.
    ///
    /// Rules for one syscall are considered together, as libseccomp 2.5
    /// (and so runc and crun) combine them:
    /// - a rule whose action is the default action is ignored (libseccomp
    ///   refuses it and the runtimes skip it);
    /// - an unconditional rule subsumes every conditional rule of the same
    ///   syscall, whatever their order; of several unconditional rules the
    ///   first one counts;
    /// - otherwise a rule whose conditions all hold applies, and when
    ///   several apply the most restrictive action wins (kill process, kill
    ///   thread, trap, errno, user notif, trace, log, allow).
    pub fn evaluate(&self, arch: Arch, nr: u32, args: &[u64; 6]) -> Action {
        if !self.arches.contains(&arch) {
            return self.bad_arch_action;
        }
        let mut verdict: Option<Action> = None;
        let rules = self
            .rules
            .iter()
            .filter(|r| r.action != self.default_action && arch.syscall_number(&r.syscall) == Some(nr));
        if let Some(r) = rules.clone().find(|r| r.args.is_empty()) {
            return r.action;
        }
        for rule in rules {
            // An argument index past 5 names no argument: the condition never holds.
            let holds = |c: &ArgCmp| args.get(usize::from(c.index)).is_some_and(|a| c.matches(*a, arch.bits()));
            if rule.args.iter().all(holds) {
                verdict = Some(match verdict {
                    Some(v) => most_restrictive(v, rule.action),
                    None => rule.action,
                });
            }
        }
        verdict.unwrap_or(self.default_action)
    }
}

/// Order of actions by how much they restrict, most restrictive first, as
/// libseccomp orders them when rules overlap.
pub fn restrictiveness(a: Action) -> u8 {
    match a {
        Action::KillProcess => 0,
        Action::KillThread => 1,
        Action::Trap => 2,
        Action::Errno(_) => 3,
        Action::Notify => 4,
        Action::Trace(_) => 5,
        Action::Log => 6,
        Action::Allow => 7,
    }
}

fn most_restrictive(a: Action, b: Action) -> Action {
    if restrictiveness(b) < restrictiveness(a) {
        b
    } else {
        a
    }
}

fn arch_matches(list: &[String], native: Arch) -> bool {
    list.iter().any(|a| a.parse::<Arch>().map(|x| x == native).unwrap_or(false))
}

fn kernel_at_least(min: &Option<String>, kernel: Option<KernelVersion>) -> Option<bool> {
    let min: KernelVersion = min.as_deref()?.parse().ok()?;
    Some(kernel.is_none_or(|k| k >= min))
}

/// Whether a Docker-style rule applies to `target`.
pub fn rule_applies(rule: &SyscallRule, target: &Target) -> bool {
    let has = |c: &String| target.caps.iter().any(|t| t.eq_ignore_ascii_case(c));
    let ex = &rule.excludes;
    if !ex.arches.is_empty() && arch_matches(&ex.arches, target.native) {
        return false;
    }
    let inc = &rule.includes;
    if !inc.arches.is_empty() && !arch_matches(&inc.arches, target.native) {
        return false;
    }
    if ex.caps.iter().any(has) {
        return false;
    }
    if kernel_at_least(&ex.min_kernel, target.kernel) == Some(true) {
        return false;
    }
    if !inc.caps.iter().all(has) {
        return false;
    }
    if kernel_at_least(&inc.min_kernel, target.kernel) == Some(false) {
        return false;
    }
    true
}

/// The architectures a spec accepts on `target`.
pub fn arches_for(spec: &SeccompSpec, target: &Target) -> Vec<Arch> {
    let mut arches = Vec::new();
    if !spec.arch_map.is_empty() {
        for entry in spec.arch_map.iter().filter(|e| e.architecture == target.native) {
            arches.push(entry.architecture);
            arches.extend(entry.sub_architectures.iter().copied());
        }
    } else {
        if spec.native_architecture {
            arches.push(target.native);
        }
        arches.extend(spec.architectures.iter().copied());
    }
    if arches.is_empty() {
        arches.push(target.native);
    }
    let mut seen = Vec::new();
    arches.retain(|a| {
        let new = !seen.contains(a);
        seen.push(*a);
        new
    });
    arches
}

/// Evaluate a profile against a target into a flat filter.
pub fn resolve(spec: &SeccompSpec, target: &Target) -> Filter {
    let mut filter =
        Filter::new(Action::from_name(spec.default_action, spec.effective_default_errno()), arches_for(spec, target));
    filter.flags = spec.flags.clone();
    filter.listener_path = spec.listener_path.clone();
    for rule in spec.syscalls.iter().filter(|r| rule_applies(r, target)) {
        let action = Action::from_name(rule.action, rule.effective_errno());
        let args: Vec<ArgCmp> = rule.args.iter().map(ArgCmp::from).collect();
        for name in rule.all_names() {
            filter.rules.push(FilterRule { syscall: name.to_owned(), action, args: args.clone() });
        }
    }
    filter
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::seccomp::{ActionName, ArchMapEntry, Conditions};

    fn docker_like() -> SeccompSpec {
        let mut spec = SeccompSpec::new(ActionName::Errno);
        spec.default_errno_ret = Some(38);
        spec.arch_map = vec![
            ArchMapEntry { architecture: Arch::X86_64, sub_architectures: vec![Arch::X86, Arch::X32] },
            ArchMapEntry { architecture: Arch::Aarch64, sub_architectures: vec![Arch::Arm] },
        ];
        spec.syscalls.push(SyscallRule::new(&["read"], ActionName::Allow));
        let mut admin = SyscallRule::new(&["mount"], ActionName::Allow);
        admin.includes = Conditions { caps: vec!["CAP_SYS_ADMIN".into()], ..Conditions::default() };
        spec.syscalls.push(admin);
        let mut arch = SyscallRule::new(&["arch_prctl"], ActionName::Allow);
        arch.includes = Conditions { arches: vec!["amd64".into()], ..Conditions::default() };
        spec.syscalls.push(arch);
        let mut new = SyscallRule::new(&["mseal"], ActionName::Allow);
        new.includes = Conditions { min_kernel: Some("6.10".into()), ..Conditions::default() };
        spec.syscalls.push(new);
        spec
    }

    #[test]
    fn docker_conditions_follow_the_target() {
        let spec = docker_like();
        let t = Target { native: Arch::X86_64, caps: vec![], kernel: Some("5.15".parse().unwrap()) };
        let f = resolve(&spec, &t);
        assert_eq!(f.arches, vec![Arch::X86_64, Arch::X86, Arch::X32]);
        let names: Vec<_> = f.rules.iter().map(|r| r.syscall.as_str()).collect();
        assert_eq!(names, ["read", "arch_prctl"]);
        assert_eq!(f.default_action, Action::Errno(38));

        let t = Target { native: Arch::Aarch64, caps: vec!["CAP_SYS_ADMIN".into()], kernel: None };
        let f = resolve(&spec, &t);
        assert_eq!(f.arches, vec![Arch::Aarch64, Arch::Arm]);
        let names: Vec<_> = f.rules.iter().map(|r| r.syscall.as_str()).collect();
        assert_eq!(names, ["read", "mount", "mseal"]);
    }

    #[test]
    fn evaluation_picks_the_most_restrictive_matching_rule() {
        let mut f = Filter::new(Action::Errno(1), vec![Arch::X86_64]);
        f.rules.push(FilterRule {
            syscall: "write".into(),
            action: Action::Allow,
            args: vec![ArgCmp { index: 0, op: Operator::LessOrEqual, value: 2, value_two: 0 }],
        });
        f.rules.push(FilterRule {
            syscall: "write".into(),
            action: Action::Errno(9),
            args: vec![ArgCmp { index: 0, op: Operator::Equal, value: 2, value_two: 0 }],
        });
        let nr = Arch::X86_64.syscall_number("write").unwrap();
        assert_eq!(f.evaluate(Arch::X86_64, nr, &[1, 0, 0, 0, 0, 0]), Action::Allow);
        assert_eq!(f.evaluate(Arch::X86_64, nr, &[2, 0, 0, 0, 0, 0]), Action::Errno(9));
        assert_eq!(f.evaluate(Arch::X86_64, 0, &[0; 6]), Action::Errno(1));
        assert_eq!(f.evaluate(Arch::Aarch64, nr, &[0; 6]), Action::KillProcess);
    }

    #[test]
    fn complain_mode_logs_instead_of_blocking() {
        let mut f = Filter::new(Action::Errno(1), vec![Arch::X86_64]);
        f.rules.push(FilterRule { syscall: "read".into(), action: Action::Allow, args: vec![] });
        f.rules.push(FilterRule { syscall: "ptrace".into(), action: Action::KillProcess, args: vec![] });
        let c = f.to_complain();
        assert_eq!(c.default_action, Action::Log);
        assert_eq!(c.rules[0].action, Action::Allow);
        assert_eq!(c.rules[1].action, Action::Log);
        assert_eq!(c.bad_arch_action, Action::KillProcess);
    }

    #[test]
    fn unconditional_rules_subsume_conditional_ones_as_in_libseccomp() {
        let eq2 = vec![ArgCmp { index: 0, op: Operator::Equal, value: 2, value_two: 0 }];
        let mut f = Filter::new(Action::Errno(1), vec![Arch::X86_64]);
        let rule =
            |name: &str, action, args: &Vec<ArgCmp>| FilterRule { syscall: name.into(), action, args: args.clone() };
        f.rules.push(rule("write", Action::Errno(9), &eq2));
        f.rules.push(rule("write", Action::Allow, &vec![]));
        f.rules.push(rule("write", Action::Trap, &vec![]));
        f.rules.push(rule("read", Action::Allow, &vec![]));
        f.rules.push(rule("read", Action::Errno(1), &eq2));
        let nr = |n| Arch::X86_64.syscall_number(n).unwrap();
        assert_eq!(f.evaluate(Arch::X86_64, nr("write"), &[2, 0, 0, 0, 0, 0]), Action::Allow);
        assert_eq!(f.evaluate(Arch::X86_64, nr("read"), &[2, 0, 0, 0, 0, 0]), Action::Allow);
    }

    #[test]
    fn masked_and_32_bit_comparisons() {
        let c = ArgCmp { index: 0, op: Operator::MaskedEqual, value: 0xff00, value_two: 0x1200 };
        assert!(c.matches(0x12ab, 64));
        assert!(!c.matches(0x13ab, 64));
        let c = ArgCmp { index: 0, op: Operator::Equal, value: 5, value_two: 0 };
        assert!(c.matches(0x1_0000_0005, 32));
        assert!(!c.matches(0x1_0000_0005, 64));
    }
}
