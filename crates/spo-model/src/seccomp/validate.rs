//! Semantic checks of a seccomp profile. Every problem is reported, each
//! with the field path it is about, so one run of `spoc validate` shows them
//! all.
//!
//! What runc and crun load without complaint is at most a warning here,
//! since a profile that works under the runtimes must load: a syscall name
//! no architecture knows (the runtimes skip it), a rule with the default
//! action (skipped too), and so a "contradiction" with such a rule. In
//! strict mode ([`ValidateOptions::strict`], what admission and the node
//! agent use) an unknown syscall name is an error: it is a typo the
//! runtime would silently drop. A rule with the default action stays a
//! warning even then: it changes nothing, and SPO's own examples have one.

use std::collections::{HashMap, HashSet};

use super::multiplex::reachable;
use super::{Action, ActionName, Operator, SeccompSpec, SyscallRule};
use crate::problem::{FieldPath, Problem};
use crate::suggest::did_you_mean;
use crate::syscalls;
use crate::Arch;

/// Largest errno the kernel passes through (`MAX_ERRNO`).
pub const MAX_ERRNO: u32 = 4095;
/// Syscalls every process needs to terminate: blocking them makes a
/// container hang on exit (Kubernetes issue 85191).
const EXIT_SYSCALLS: &[&str] = &["exit", "exit_group"];

/// Check a spec; `base` is the path of the spec in its document (`spec` for
/// a custom resource, the root for OCI/Docker JSON).
pub fn validate(spec: &SeccompSpec, base: &FieldPath) -> Vec<Problem> {
    validate_partial(spec, base, &Unread::default())
}

/// How strictly to judge a profile.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ValidateOptions {
    /// Unknown syscall names are errors instead of warnings (runc and crun
    /// skip them).
    pub strict: bool,
}

impl ValidateOptions {
    fn severity(&self) -> fn(FieldPath, String) -> Problem {
        if self.strict {
            |p, m| Problem::error(p, m)
        } else {
            |p, m| Problem::warning(p, m)
        }
    }
}

/// Which actions of a spec could not be read (a parser found an unknown
/// action name and put a placeholder there). Checks that depend on those
/// actions are skipped, so a typo in one field does not hide, or invent,
/// problems elsewhere.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Unread {
    /// The default action is a placeholder.
    pub default_action: bool,
    /// Indexes of rules whose action is a placeholder.
    pub rule_actions: Vec<usize>,
}

/// [`validate`] for a spec read with errors: every check that does not
/// depend on an unread action still runs.
pub fn validate_partial(spec: &SeccompSpec, base: &FieldPath, unread: &Unread) -> Vec<Problem> {
    validate_with(spec, base, unread, &ValidateOptions::default())
}

/// [`validate_partial`] with options.
pub fn validate_with(spec: &SeccompSpec, base: &FieldPath, unread: &Unread, opts: &ValidateOptions) -> Vec<Problem> {
    let mut out = Vec::new();
    if !unread.default_action {
        check_default(spec, base, &mut out);
    }
    check_arches(spec, base, &mut out);
    // A set, not the list: every rule asks, and a profile may have
    // thousands of unread rules.
    let unread_rules: HashSet<usize> = unread.rule_actions.iter().copied().collect();
    for (i, rule) in spec.syscalls.iter().enumerate() {
        let known = !unread_rules.contains(&i);
        check_rule(spec, rule, &base.key("syscalls").index(i), known, opts, &mut out);
    }
    check_contradictions(spec, base, &unread_rules, &mut out);
    if !unread.default_action {
        check_exit(spec, base, &unread_rules, &mut out);
    }
    out
}

fn check_default(spec: &SeccompSpec, base: &FieldPath, out: &mut Vec<Problem>) {
    if let Some(e) = spec.default_errno_ret {
        if !matches!(spec.default_action, ActionName::Errno | ActionName::Trace) {
            out.push(
                Problem::error(
                    base.key("defaultErrnoRet"),
                    format!("`defaultErrnoRet` has no effect with default action {}", spec.default_action),
                )
                .with_help("remove `defaultErrnoRet`, or set `defaultAction` to SCMP_ACT_ERRNO"),
            );
        } else if e > MAX_ERRNO {
            out.push(errno_range(base.key("defaultErrnoRet"), e));
        }
    }
    if spec.default_action == ActionName::Notify && spec.listener_path.is_none() {
        out.push(notify_without_listener(base.key("defaultAction")));
    }
    check_errno_name(spec.default_errno.as_deref(), spec.default_errno_ret, base.key("defaultErrno"), out);
}

/// containers-common writes the errno twice, by number and by name: they
/// must agree, and the name must exist.
fn check_errno_name(name: Option<&str>, number: Option<u32>, path: FieldPath, out: &mut Vec<Problem>) {
    let Some(name) = name else { return };
    match crate::errno::errno_number(name) {
        None => {
            let mut p = Problem::error(path, format!("unknown errno `{name}`"));
            if let Some(s) = did_you_mean(name, crate::errno::errno_names()) {
                p = p.with_help(format!("did you mean `{s}`?"));
            }
            out.push(p);
        }
        Some(n) if number.is_some_and(|x| x != n) => out.push(
            Problem::warning(
                path,
                format!("`{name}` is {n}, but the numeric errno says {}; the number wins", number.unwrap_or(0)),
            )
            .with_help("make the two agree"),
        ),
        Some(_) => {}
    }
}

fn errno_range(path: FieldPath, e: u32) -> Problem {
    Problem::error(path, format!("errno {e} is out of range"))
        .with_help(format!("use a value from 1 to {MAX_ERRNO}, such as 1 (EPERM) or 38 (ENOSYS)"))
}

fn notify_without_listener(path: FieldPath) -> Problem {
    Problem::error(path, "SCMP_ACT_NOTIFY needs a listener, and `listenerPath` is not set")
        .with_help("set `listenerPath` to the notify agent's socket, or use another action")
}

fn check_arches(spec: &SeccompSpec, base: &FieldPath, out: &mut Vec<Problem>) {
    let mut seen: Vec<Arch> = Vec::new();
    for (i, a) in spec.architectures.iter().enumerate() {
        let path = base.key("architectures").index(i);
        if seen.contains(a) {
            out.push(Problem::warning(path.clone(), format!("{a} is listed twice")));
        } else {
            seen.push(*a);
        }
        if !a.is_supported() {
            out.push(
                Problem::warning(
                    path,
                    format!("spo-rs has no syscall table for {a}; filters cannot be compiled for it"),
                )
                .with_help("remove it, or compile for the other architectures with `--arch`"),
            );
        }
    }
}

fn check_rule(
    spec: &SeccompSpec,
    rule: &SyscallRule,
    path: &FieldPath,
    action_known: bool,
    opts: &ValidateOptions,
    out: &mut Vec<Problem>,
) {
    if rule.all_names().next().is_none() {
        out.push(
            Problem::error(path.clone(), "rule names no syscall")
                .with_help("add the syscalls this rule is for under `names`"),
        );
    }
    let arches = if spec.arch_map.is_empty() { spec.architectures.clone() } else { Vec::new() };
    let names = rule.names.iter().enumerate().map(|(j, n)| (path.key("names").index(j), n));
    // An empty `name` beside `names` is ignored, as Moby does.
    let single = rule.name.iter().filter(|n| !n.is_empty()).map(|n| (path.key("name"), n));
    for (npath, name) in names.chain(single) {
        if !syscalls::is_known_anywhere(name) {
            let mut p = opts.severity()(npath, format!("unknown syscall `{name}`; runc and crun skip it"));
            if let Some(s) = crate::suggest::syscall(name) {
                p = p.with_help(format!("did you mean `{s}`?"));
            } else {
                p = p.with_help("syscall names are lowercase, as in `man 2 syscalls`");
            }
            out.push(p);
        } else if !arches.is_empty() && arches.iter().filter(|a| a.is_supported()).all(|a| !reachable(*a, name)) {
            let list: Vec<_> = arches.iter().map(|a| a.scmp_name()).collect();
            out.push(Problem::warning(
                npath,
                format!("`{name}` does not exist on {}; the rule never matches", list.join(", ")),
            ));
        }
    }
    if action_known {
        check_rule_action(spec, rule, path, out);
        if is_default(spec, rule) {
            out.push(
                Problem::warning(
                    path.key("action"),
                    format!("the rule has the default action {}; runc and crun skip it", spec.default_action),
                )
                .with_help("remove the rule, or give it another action"),
            );
        }
    }
    if rule.args.len() > 6 {
        out.push(
            Problem::error(
                path.key("args"),
                format!("{} argument conditions, but a syscall has at most 6 arguments", rule.args.len()),
            )
            .with_help("split the rule, or drop conditions"),
        );
    }
    for (j, arg) in rule.args.iter().enumerate() {
        let apath = path.key("args").index(j);
        if arg.index > 5 {
            out.push(
                Problem::error(apath.key("index"), format!("argument index {} is out of range", arg.index))
                    .with_help("syscall arguments are numbered 0 to 5"),
            );
        }
        if arg.op == Operator::MaskedEqual && arg.value_two & !arg.value != 0 {
            out.push(
                Problem::warning(
                    apath.key("valueTwo"),
                    format!(
                        "`valueTwo` {:#x} has bits outside the mask {:#x}; they are ignored (the masked argument is compared with `valueTwo & value`, {:#x})",
                        arg.value_two,
                        arg.value,
                        arg.value_two & arg.value
                    ),
                )
                .with_help("for SCMP_CMP_MASKED_EQ, `value` is the mask and `valueTwo` the expected masked value"),
            );
        }
        if let Some(k) = rule.args[..j].iter().position(|b| b.index == arg.index) {
            out.push(
                Problem::warning(
                    apath.key("index"),
                    format!(
                        "argument {} is compared twice in one rule; runc and crun then add each condition of the rule as a rule of its own, so any one holding is enough",
                        arg.index
                    ),
                )
                .with_related(path.key("args").index(k), "first comparison of it")
                .with_help("to require all of them, split the values over rules that each compare the argument once"),
            );
        }
    }
    for (which, cond) in [("includes", &rule.includes), ("excludes", &rule.excludes)] {
        let cpath = path.key(which);
        for (j, a) in cond.arches.iter().enumerate() {
            if a.parse::<Arch>().is_err() {
                let mut p = Problem::warning(
                    cpath.key("arches").index(j),
                    format!("unknown architecture `{a}`; this condition never matches it"),
                );
                if let Some(s) = did_you_mean(a, Arch::all_names()) {
                    p = p.with_help(format!("did you mean `{s}`?"));
                }
                out.push(p);
            }
        }
        if let Some(k) = &cond.min_kernel {
            if k.parse::<super::KernelVersion>().is_err() {
                out.push(
                    Problem::error(cpath.key("minKernel"), format!("invalid kernel version `{k}`"))
                        .with_help("write MAJOR.MINOR, such as \"5.8\""),
                );
            }
        }
        for (j, c) in cond.caps.iter().enumerate() {
            if !c.starts_with("CAP_") {
                out.push(
                    Problem::warning(cpath.key("caps").index(j), format!("capability `{c}` does not start with CAP_"))
                        .with_help(format!("did you mean `CAP_{}`?", c.to_ascii_uppercase())),
                );
            }
        }
    }
}

/// Whether the rule's action is the default action (errno included): the
/// runtimes skip such rules, as libseccomp refuses them.
fn is_default(spec: &SeccompSpec, rule: &SyscallRule) -> bool {
    Action::from_name(rule.action, rule.effective_errno())
        == Action::from_name(spec.default_action, spec.effective_default_errno())
}

fn check_rule_action(spec: &SeccompSpec, rule: &SyscallRule, path: &FieldPath, out: &mut Vec<Problem>) {
    if let Some(e) = rule.errno_ret {
        if !matches!(rule.action, ActionName::Errno | ActionName::Trace) {
            out.push(
                Problem::error(path.key("errnoRet"), format!("`errnoRet` has no effect with action {}", rule.action))
                    .with_help("remove `errnoRet`, or set `action` to SCMP_ACT_ERRNO"),
            );
        } else if e > MAX_ERRNO {
            out.push(errno_range(path.key("errnoRet"), e));
        }
    }
    if rule.action == ActionName::Notify && spec.listener_path.is_none() {
        out.push(notify_without_listener(path.key("action")));
    }
    check_errno_name(rule.errno.as_deref(), rule.errno_ret, path.key("errno"), out);
}

/// Two rules for the same syscall under the same conditions but with
/// different actions: which one wins is an accident of the compiler.
fn check_contradictions(spec: &SeccompSpec, base: &FieldPath, unread: &HashSet<usize>, out: &mut Vec<Problem>) {
    // (syscall, conditions) -> (rule index, name index, action, errno) of its first rule
    type Seen = (usize, usize, ActionName, Option<u32>);
    let mut first: HashMap<(String, String), Seen> = HashMap::new();
    for (i, rule) in spec.syscalls.iter().enumerate().filter(|(i, _)| !unread.contains(i)) {
        let mut args: Vec<_> = rule.args.iter().map(|a| (a.index, a.op, a.value, a.value_two)).collect();
        args.sort();
        let cond = format!("{args:?}{:?}{:?}", rule.includes, rule.excludes);
        for (j, name) in rule.all_names().enumerate() {
            let key = (name.to_owned(), cond.clone());
            let this = (i, j, rule.action, rule.errno_ret);
            match first.get(&key) {
                None => {
                    first.insert(key, this);
                }
                Some(&(fi, fj, faction, ferrno)) if faction != rule.action || ferrno != rule.errno_ret => {
                    let here = base.key("syscalls").index(i).key("names").index(j);
                    let there = base.key("syscalls").index(fi).key("names").index(fj);
                    // A rule with the default action is skipped by the
                    // runtimes, so the other one decides: not an error.
                    let skipped = is_default(spec, rule) || is_default(spec, &spec.syscalls[fi]);
                    let make = if skipped { |p, m| Problem::warning(p, m) } else { |p, m| Problem::error(p, m) };
                    out.push(
                        make(
                            here,
                            format!(
                                "`{name}` already has action {faction} under the same conditions; this rule says {}",
                                rule.action
                            ),
                        )
                        .with_related(there, "first rule for it here")
                        .with_help("keep one of the two rules"),
                    );
                }
                Some(_) => {}
            }
        }
    }
}

fn check_exit(spec: &SeccompSpec, base: &FieldPath, unread: &HashSet<usize>, out: &mut Vec<Problem>) {
    let permits = |a: ActionName| matches!(a, ActionName::Allow | ActionName::Log);
    for (i, rule) in spec.syscalls.iter().enumerate().filter(|(i, _)| !unread.contains(i)) {
        for (j, name) in rule.all_names().enumerate() {
            if EXIT_SYSCALLS.contains(&name) && !permits(rule.action) && rule.args.is_empty() {
                out.push(
                    Problem::error(
                        base.key("syscalls").index(i).key("names").index(j),
                        format!("the profile blocks `{name}`, so processes cannot exit"),
                    )
                    .with_help("a blocked exit leaves the container spinning (Kubernetes issue 85191); allow it"),
                );
            }
        }
    }
    if permits(spec.default_action) {
        return;
    }
    for name in EXIT_SYSCALLS {
        if !unread.is_empty() {
            // An unread rule may be the one allowing it.
            break;
        }
        let allowed = spec.syscalls.iter().any(|r| {
            permits(r.action) && r.args.is_empty() && r.includes.is_empty() && r.all_names().any(|n| n == *name)
        });
        if !allowed {
            out.push(
                Problem::warning(
                    base.key("defaultAction"),
                    format!("`{name}` is not allowed, and the default action {} blocks it", spec.default_action),
                )
                .with_help(format!(
                    "add `{name}` to an SCMP_ACT_ALLOW rule so processes can exit (Kubernetes issue 85191)"
                )),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::seccomp::{ArgCondition, SyscallRule};

    fn messages(spec: &SeccompSpec) -> Vec<String> {
        validate(spec, &FieldPath::root().key("spec"))
            .into_iter()
            .map(|p| format!("{} {}: {} / {}", p.severity, p.path, p.message, p.help.unwrap_or_default()))
            .collect()
    }

    #[test]
    fn reports_every_problem_with_its_path() {
        let mut spec = SeccompSpec::new(ActionName::Errno);
        spec.syscalls.push(SyscallRule::new(&["exit", "exit_group", "mkdirr"], ActionName::Allow));
        let mut r = SyscallRule::new(&["read"], ActionName::Allow);
        r.errno_ret = Some(1);
        r.args = (0..7).map(|i| ArgCondition { index: i, value: 0, value_two: 0, op: Operator::Equal }).collect();
        spec.syscalls.push(r);
        spec.syscalls.push(SyscallRule::new(&["read"], ActionName::KillProcess));
        let m = messages(&spec);
        // runc and crun skip an unknown name: a warning, an error in strict mode.
        let unknown =
            "spec.syscalls[0].names[2]: unknown syscall `mkdirr`; runc and crun skip it / did you mean `mkdir`?";
        assert!(m.iter().any(|x| *x == format!("warning {unknown}")), "{m:#?}");
        assert!(m.iter().any(|x| x.starts_with("error spec.syscalls[1].errnoRet")), "{m:#?}");
        assert!(m.iter().any(|x| x.starts_with("error spec.syscalls[1].args: 7 argument")), "{m:#?}");
        assert!(m.iter().any(|x| x.starts_with("error spec.syscalls[1].args[6].index")), "{m:#?}");
        assert_eq!(m.iter().filter(|x| x.starts_with("error")).count(), 3, "{m:#?}");
        let strict =
            validate_with(&spec, &FieldPath::root().key("spec"), &Unread::default(), &ValidateOptions { strict: true });
        assert!(strict
            .iter()
            .any(|p| p.severity == crate::Severity::Error && p.message.starts_with("unknown syscall `mkdirr`")));
    }

    #[test]
    fn what_the_runtimes_load_is_at_most_a_warning() {
        let mut spec = SeccompSpec::new(ActionName::Errno);
        spec.syscalls.push(SyscallRule::new(&["exit", "exit_group", "ptrace", "send"], ActionName::Allow));
        // The default action: runc skips the rule, so no contradiction.
        spec.syscalls.push(SyscallRule::new(&["ptrace"], ActionName::Errno));
        let mut empty_name = SyscallRule::new(&["read"], ActionName::Allow);
        empty_name.name = Some(String::new());
        spec.syscalls.push(empty_name);
        let mut twice = SyscallRule::new(&["kcmp"], ActionName::Allow);
        let eq = |value| ArgCondition { index: 0, value, value_two: 0, op: Operator::Equal };
        twice.args = vec![eq(1), eq(2)];
        spec.syscalls.push(twice);
        let mut masked = SyscallRule::new(&["clone"], ActionName::Allow);
        masked.args = vec![ArgCondition { index: 0, value: 0xff, value_two: 0x1ff, op: Operator::MaskedEqual }];
        spec.syscalls.push(masked);
        spec.architectures = vec![Arch::X86];
        let p = validate(&spec, &FieldPath::root());
        assert!(p.iter().all(|p| p.severity != crate::Severity::Error), "{p:#?}");
        let has = |path: &str, text: &str| p.iter().any(|p| p.path.to_string() == path && p.message.contains(text));
        assert!(has("syscalls[1].action", "default action SCMP_ACT_ERRNO; runc and crun skip it"), "{p:#?}");
        assert!(has("syscalls[1].names[0]", "already has action"), "{p:#?}");
        assert!(has("syscalls[3].args[1].index", "argument 0 is compared twice"), "{p:#?}");
        assert!(has("syscalls[4].args[0].valueTwo", "they are ignored"), "{p:#?}");
        // `send` exists on x86 through socketcall; an empty `name` is no name.
        assert!(
            !p.iter().any(|p| p.message.contains("does not exist") || p.path.to_string().starts_with("syscalls[2]")),
            "{p:#?}"
        );
    }

    #[test]
    fn flags_contradictions_and_blocked_exit() {
        let mut spec = SeccompSpec::new(ActionName::Allow);
        spec.syscalls.push(SyscallRule::new(&["ptrace"], ActionName::Errno));
        spec.syscalls.push(SyscallRule::new(&["ptrace", "exit_group"], ActionName::KillProcess));
        let p = validate(&spec, &FieldPath::root());
        let contra = p.iter().find(|p| p.message.contains("already has action")).expect("contradiction");
        assert_eq!(contra.path.to_string(), "syscalls[1].names[0]");
        assert_eq!(contra.related[0].0.to_string(), "syscalls[0].names[0]");
        assert!(p.iter().any(|p| p.message.contains("blocks `exit_group`")));
    }

    #[test]
    fn a_clean_profile_has_no_problems() {
        let mut spec = SeccompSpec::new(ActionName::Errno);
        spec.architectures = vec![Arch::X86_64];
        spec.syscalls.push(SyscallRule::new(&["exit", "exit_group", "read", "write"], ActionName::Allow));
        assert_eq!(validate(&spec, &FieldPath::root()), vec![]);
    }
}
