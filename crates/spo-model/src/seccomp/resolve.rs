//! From a profile as written to the flat rule list a compiler consumes.
//!
//! Docker-style `includes`/`excludes` and `archMap` are evaluated here, the
//! way Moby evaluates them: `arches` and `archMap` are matched against the
//! *native* architecture of the target, `caps` against its capability set,
//! `minKernel` against its kernel version. Rules are then flattened the way
//! runc hands them to libseccomp: one rule per syscall name, and a rule
//! that compares one argument twice becomes one rule per condition (runc's
//! `hasMultipleArgs` case: any of them holding applies).

use std::fmt;
use std::str::FromStr;

use super::multiplex::multiplexed;

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
    /// architectures only the low halves are compared. `MaskedEqual`
    /// compares `arg & value` with `value_two & value`: libseccomp masks
    /// the expected value too, so bits of it outside the mask are ignored.
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
            Operator::MaskedEqual => arg & value == two & value,
        }
    }

    /// The comparison as an architecture of `bits` makes it: values cut to
    /// the word size, the expected value of `MaskedEqual` masked, the
    /// unused second value zero.
    pub fn normalized(&self, bits: u32) -> ArgCmp {
        let max = if bits == 32 { u64::from(u32::MAX) } else { u64::MAX };
        let value = self.value & max;
        let value_two = if self.op == Operator::MaskedEqual { self.value_two & value } else { 0 };
        ArgCmp { value, value_two, ..*self }
    }

    /// Whether libseccomp drops this comparison as a no-op on an
    /// architecture of `bits`: a `MaskedEqual` whose mask is zero (on a
    /// 32-bit architecture, zero in its low word). A rule left with no
    /// comparison is unconditional there.
    pub fn vacuous(&self, bits: u32) -> bool {
        let mask = if bits == 32 { self.value & 0xffff_ffff } else { self.value };
        self.op == Operator::MaskedEqual && mask == 0
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

/// A rule as libseccomp adds it to one architecture: resolved to a
/// number, with the comparisons libseccomp drops as no-ops left out, and
/// a rule on a multiplexed call also given for the multiplexer
/// ([`super::multiplex`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArchRule {
    /// Syscall number on the architecture.
    pub nr: u32,
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
    /// Action for a call from an architecture not in `arches`:
    /// `KillThread` by default, libseccomp's default, which runc and crun
    /// keep.
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
            bad_arch_action: Action::KillThread,
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
    /// - on an architecture that multiplexes socket and IPC calls
    ///   ([`super::multiplex`]), a rule on such a call applies to the
    ///   multiplexer too, with argument 0 equal to the call's code instead
    ///   of the rule's own conditions on argument 0;
    /// - a `MaskedEqual` with a zero mask (on a 32-bit architecture: zero
    ///   low word) is no condition at all;
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
        let bits = arch.bits();
        // Each rule that applies to `nr`, with the code argument 0 must
        // equal when it applies through the multiplexer.
        let applying = self.rules.iter().filter(|r| r.action != self.default_action).flat_map(|r| {
            let direct = (arch.syscall_number(&r.syscall) == Some(nr)).then_some((r, None));
            let muxed = multiplexed(arch, &r.syscall).filter(|m| m.0 == nr).map(|m| (r, Some(m.1)));
            muxed.into_iter().chain(direct)
        });
        let conditions = |r, code| conditions(r, code, bits);
        if let Some((r, _)) = applying.clone().find(|(r, code)| conditions(r, *code).next().is_none()) {
            return r.action;
        }
        let applying: Vec<(&FilterRule, Vec<ArgCmp>)> =
            applying.map(|(r, code)| (r, conditions(r, code).collect())).collect();
        let mut verdict: Option<Action> = None;
        for (rule, conds) in &applying {
            // A rule whose conditions extend another's is never reached.
            if applying.iter().any(|(_, other)| shadows(other, conds, bits)) {
                continue;
            }
            // An argument index past 5 names no argument: the condition never holds.
            let holds = |c: &ArgCmp| args.get(usize::from(c.index)).is_some_and(|a| c.matches(*a, bits));
            if conds.iter().all(holds) {
                verdict = Some(match verdict {
                    Some(v) => most_restrictive(v, rule.action),
                    None => rule.action,
                });
            }
        }
        verdict.unwrap_or(self.default_action)
    }

    /// The rules as libseccomp adds them to `arch`, in order: rules with
    /// the default action left out, numbers resolved, multiplexed calls
    /// also given for their multiplexer, no-op comparisons dropped.
    /// Combining them as [`Filter::evaluate`] describes gives its verdict.
    pub fn arch_rules(&self, arch: Arch) -> Vec<ArchRule> {
        let bits = arch.bits();
        let mut out = Vec::with_capacity(self.rules.len());
        for r in self.rules.iter().filter(|r| r.action != self.default_action) {
            let args: Vec<ArgCmp> = r.args.iter().filter(|c| !c.vacuous(bits)).copied().collect();
            if let Some((mux, code)) = multiplexed(arch, &r.syscall) {
                let mut m = vec![ArgCmp { index: 0, op: Operator::Equal, value: u64::from(code), value_two: 0 }];
                m.extend(args.iter().filter(|c| c.index != 0));
                out.push(ArchRule { nr: mux, action: r.action, args: m });
            }
            if let Some(nr) = arch.syscall_number(&r.syscall) {
                out.push(ArchRule { nr, action: r.action, args });
            }
        }
        out
    }
}

/// Whether a rule with conditions `a` makes libseccomp drop a rule of the
/// same syscall with conditions `b`: `a`'s comparisons, sorted by argument
/// and reduced to the width of the architecture, are a strict prefix of
/// `b`'s. libseccomp keeps one decision tree per syscall with the
/// arguments in order, and a shorter chain that `b` would extend ends in
/// a verdict already ("the existing tree is shorter, drop the new one",
/// or the longer chain pruned when the shorter comes second).
pub fn shadows(a: &[ArgCmp], b: &[ArgCmp], bits: u32) -> bool {
    if a.len() >= b.len() {
        return false;
    }
    let norm = |v: &[ArgCmp]| {
        let mut v: Vec<ArgCmp> = v.iter().map(|c| c.normalized(bits)).collect();
        v.sort();
        v
    };
    let (a, b) = (norm(a), norm(b));
    b[..a.len()] == a[..] && b[a.len()..].iter().all(|c| a.iter().all(|x| x.index < c.index))
}

/// The conditions of `r` on an architecture of `bits`, applied directly
/// (`code` is `None`) or through the multiplexer with this code.
fn conditions(r: &FilterRule, code: Option<u32>, bits: u32) -> impl Iterator<Item = ArgCmp> + '_ {
    let own = r.args.iter().filter(move |c| !(c.vacuous(bits) || code.is_some() && c.index == 0)).copied();
    own.chain(code.map(|code| ArgCmp { index: 0, op: Operator::Equal, value: u64::from(code), value_two: 0 }))
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
    // The native architecture first, whatever order the profile lists:
    // the compiler checks the first one first and shapes its search tree
    // for it.
    if let Some(i) = arches.iter().position(|a| *a == target.native) {
        arches[..=i].rotate_right(1);
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
        // runc: when one argument is compared twice, every condition
        // becomes a rule of its own (libseccomp refuses two comparisons of
        // one argument in a rule).
        let repeated = args.iter().enumerate().any(|(i, a)| args[..i].iter().any(|b| b.index == a.index));
        let sets: Vec<Vec<ArgCmp>> = if repeated { args.iter().map(|a| vec![*a]).collect() } else { vec![args] };
        for name in rule.all_names() {
            for args in &sets {
                filter.rules.push(FilterRule { syscall: name.to_owned(), action, args: args.clone() });
            }
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
        // libseccomp's default bad-architecture action, which runc keeps.
        assert_eq!(f.evaluate(Arch::Aarch64, nr, &[0; 6]), Action::KillThread);
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
        assert_eq!(c.bad_arch_action, Action::KillThread);
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
    fn x86_socket_rules_also_apply_to_socketcall() {
        let mut f = Filter::new(Action::Allow, vec![Arch::X86_64, Arch::X86]);
        f.rules.push(FilterRule {
            syscall: "socket".into(),
            action: Action::Errno(1),
            args: vec![ArgCmp { index: 0, op: Operator::Equal, value: 2, value_two: 0 }],
        });
        f.rules.push(FilterRule { syscall: "send".into(), action: Action::Errno(2), args: vec![] });
        let socketcall = Arch::X86.syscall_number("socketcall").unwrap();
        // The multiplexer's argument 0 is the call; the rule's own
        // condition on argument 0 is replaced.
        assert_eq!(f.evaluate(Arch::X86, socketcall, &[1, 0, 0, 0, 0, 0]), Action::Errno(1));
        assert_eq!(f.evaluate(Arch::X86, socketcall, &[9, 0, 0, 0, 0, 0]), Action::Errno(2));
        assert_eq!(f.evaluate(Arch::X86, socketcall, &[3, 0, 0, 0, 0, 0]), Action::Allow);
        let socket = Arch::X86.syscall_number("socket").unwrap();
        assert_eq!(f.evaluate(Arch::X86, socket, &[2, 0, 0, 0, 0, 0]), Action::Errno(1));
        assert_eq!(f.evaluate(Arch::X86, socket, &[1, 0, 0, 0, 0, 0]), Action::Allow);
        // x86_64 has no multiplexer: nr 102 is getuid there.
        assert_eq!(f.evaluate(Arch::X86_64, 102, &[1, 0, 0, 0, 0, 0]), Action::Allow);
        let rules = f.arch_rules(Arch::X86);
        assert_eq!(rules.iter().filter(|r| r.nr == socketcall).count(), 2);
    }

    #[test]
    fn a_repeated_argument_becomes_one_rule_per_condition_as_in_runc() {
        let mut spec = SeccompSpec::new(ActionName::Errno);
        let mut r = SyscallRule::new(&["process_vm_readv"], ActionName::Allow);
        let eq = |index, value| ArgCondition { index, value, value_two: 0, op: Operator::Equal };
        r.args = vec![eq(0, 100), eq(0, 9001), eq(1, 5)];
        spec.syscalls.push(r);
        let mut once = SyscallRule::new(&["kcmp"], ActionName::Allow);
        once.args = vec![eq(0, 0), eq(1, 1337)];
        spec.syscalls.push(once);
        let f = resolve(&spec, &Target { native: Arch::X86_64, ..Target::default() });
        let nr = Arch::X86_64.syscall_number("process_vm_readv").unwrap();
        assert_eq!(f.rules.iter().filter(|r| r.syscall == "process_vm_readv").count(), 3);
        for args in [[100, 0, 0, 0, 0, 0], [9001, 0, 0, 0, 0, 0], [7, 5, 0, 0, 0, 0]] {
            assert_eq!(f.evaluate(Arch::X86_64, nr, &args), Action::Allow, "{args:?}");
        }
        assert_eq!(f.evaluate(Arch::X86_64, nr, &[7, 0, 0, 0, 0, 0]), Action::Errno(1));
        // Each argument once: one rule, a conjunction.
        let kcmp = Arch::X86_64.syscall_number("kcmp").unwrap();
        assert_eq!(f.rules.iter().filter(|r| r.syscall == "kcmp").count(), 1);
        assert_eq!(f.evaluate(Arch::X86_64, kcmp, &[0, 1, 0, 0, 0, 0]), Action::Errno(1));
        assert_eq!(f.evaluate(Arch::X86_64, kcmp, &[0, 1337, 0, 0, 0, 0]), Action::Allow);
    }

    #[test]
    fn the_native_architecture_comes_first() {
        let mut spec = SeccompSpec::new(ActionName::Errno);
        spec.architectures = vec![Arch::X86, Arch::X32, Arch::X86_64, Arch::Aarch64];
        let f = resolve(&spec, &Target { native: Arch::X86_64, ..Target::default() });
        assert_eq!(f.arches, vec![Arch::X86_64, Arch::X86, Arch::X32, Arch::Aarch64]);
    }

    #[test]
    fn masked_and_32_bit_comparisons() {
        let c = ArgCmp { index: 0, op: Operator::MaskedEqual, value: 0xff00, value_two: 0x1200 };
        assert!(c.matches(0x12ab, 64));
        assert!(!c.matches(0x13ab, 64));
        // The expected value is masked too (libseccomp), so bits outside
        // the mask do not make the condition impossible.
        let c = ArgCmp { index: 0, op: Operator::MaskedEqual, value: 0xff00, value_two: 0x1_12ff };
        assert!(c.matches(0x12ab, 64));
        assert!(!c.vacuous(64));
        // A zero mask is no condition; a zero low mask is none on 32 bits.
        let c = ArgCmp { index: 0, op: Operator::MaskedEqual, value: 0xffff_0000_0000, value_two: 7 };
        assert!(c.vacuous(32) && !c.vacuous(64));
        let c = ArgCmp { index: 0, op: Operator::Equal, value: 5, value_two: 0 };
        assert!(c.matches(0x1_0000_0005, 32));
        assert!(!c.matches(0x1_0000_0005, 64));
    }
}
