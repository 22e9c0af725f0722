//! What each syscall number does, before any instruction is chosen.
//!
//! A filter becomes one [`Section`] per audit architecture token. A section
//! covers the whole 32-bit syscall-number space as a sorted list of
//! [`Range`]s, each with one [`Leaf`]: either a return value decided by the
//! number alone, or an argument check. x86_64 and x32 share a token: numbers
//! from `0x4000_0000` up belong to x32, the rest and -1 to x86_64 (as
//! libseccomp splits them), and the half of an architecture that is not in the filter
//! gets the bad-architecture action.
//!
//! Rules combine as [`Filter::evaluate`] specifies: rules with the default
//! action are ignored, a rule on a multiplexed call applies to its
//! multiplexer too (`Filter::arch_rules`), an unconditional rule decides
//! alone, otherwise the most restrictive matching rule wins.

use spo_model::arch::X32_SYSCALL_BIT;
use spo_model::seccomp::{restrictiveness, shadows, ArchRule, ArgCmp, Filter, Operator};
use spo_model::Arch;

use crate::CompileError;

/// An argument check: the first rule whose conditions hold decides.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Check {
    /// Conditions (all must hold) and the return value, most restrictive
    /// first.
    pub rules: Vec<(Vec<ArgCmp>, u32)>,
    /// Return value when no rule holds.
    pub fallback: u32,
    /// Argument width of the architecture, 32 or 64.
    pub bits: u32,
    /// Whether the architecture is big-endian (high word first).
    pub big_endian: bool,
}

/// What a range of syscall numbers does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Leaf {
    /// Return this value.
    Ret(u32),
    /// Look at the arguments.
    Check(Check),
}

/// Consecutive syscall numbers with one leaf.
#[derive(Clone, Debug)]
pub(crate) struct Range {
    pub lo: u32,
    pub hi: u32,
    pub leaf: Leaf,
    /// How much the range matters when shaping the search tree.
    pub weight: u64,
    /// Whether it holds numbers of the native architecture, whose depth
    /// the tree bounds.
    pub native: bool,
}

/// Everything the filter does for one audit architecture token.
#[derive(Clone, Debug)]
pub(crate) struct Section {
    pub token: u32,
    pub ranges: Vec<Range>,
}

/// One architecture's share of a token's number space.
struct Part {
    lo: u32,
    hi: u32,
    arch: Arch,
    present: bool,
}

/// Weight of a number of the native architecture against one of another
/// architecture sharing its token (x32 beside x86_64).
const NATIVE_WEIGHT: u64 = 16;

/// How often a process calls a syscall, in percent of the table's
/// weight, for `Options::frequency`: the calls that dominate what servers
/// and runtimes spend in the kernel (reads and writes, futexes, event
/// loops, socket I/O, file opens and maps).
const FREQUENT: &[(&str, u64)] = &[
    ("read", 40),
    ("write", 30),
    ("futex", 30),
    ("epoll_wait", 15),
    ("epoll_pwait", 15),
    ("recvfrom", 12),
    ("sendto", 12),
    ("recvmsg", 8),
    ("sendmsg", 8),
    ("close", 10),
    ("openat", 8),
    ("newfstatat", 6),
    ("fstat", 6),
    ("mmap", 6),
    ("munmap", 4),
    ("lseek", 4),
    ("ioctl", 4),
    ("poll", 4),
    ("ppoll", 4),
    ("readv", 3),
    ("writev", 3),
    ("nanosleep", 3),
    ("clock_nanosleep", 3),
    ("rt_sigprocmask", 3),
    ("sched_yield", 3),
    ("getpid", 2),
    ("brk", 2),
];

/// `__AUDIT_ARCH_LE`.
const AUDIT_ARCH_LE: u32 = 0x4000_0000;

/// Build the sections of `filter` for `arches` (the first is native).
pub(crate) fn sections(filter: &Filter, arches: &[Arch], frequency: bool) -> Result<Vec<Section>, CompileError> {
    if arches.is_empty() {
        return Err(CompileError::NoArch);
    }
    let mut tokens: Vec<u32> = Vec::new();
    for a in arches {
        if a.table().is_none() {
            return Err(CompileError::UnsupportedArch { arch: a.scmp_name().to_owned() });
        }
        if !tokens.contains(&a.audit_arch()) {
            tokens.push(a.audit_arch());
        }
    }
    let native = arches[0];
    let default = filter.default_action.to_ret();
    let bad_arch = filter.bad_arch_action.to_ret();
    let mut out = Vec::with_capacity(tokens.len());
    let mut cache: Vec<(Arch, Vec<(u32, Leaf)>)> = Vec::new();
    for token in tokens {
        let parts: Vec<Part> = if token == Arch::X86_64.audit_arch() {
            let (x86_64, x32) = (arches.contains(&Arch::X86_64), arches.contains(&Arch::X32));
            // -1, which a tracer sets to skip a call, is x86_64's when the
            // filter has it (libseccomp does the same).
            let minus_one = if x86_64 || !x32 { Arch::X86_64 } else { Arch::X32 };
            vec![
                Part { lo: 0, hi: X32_SYSCALL_BIT - 1, arch: Arch::X86_64, present: x86_64 },
                Part { lo: X32_SYSCALL_BIT, hi: u32::MAX - 1, arch: Arch::X32, present: x32 },
                Part { lo: u32::MAX, hi: u32::MAX, arch: minus_one, present: x86_64 || x32 },
            ]
        } else {
            let arch = *arches.iter().find(|a| a.audit_arch() == token).unwrap_or(&native);
            vec![Part { lo: 0, hi: u32::MAX, arch, present: true }]
        };
        let mut ranges: Vec<Range> = Vec::new();
        for part in parts {
            let native = part.arch == native;
            let scale = if native { NATIVE_WEIGHT } else { 1 };
            let domain_hi = part.arch.table().and_then(|t| t.entries().iter().map(|e| e.1).max()).unwrap_or(part.lo);
            // With `frequency`, the native numbers of frequent calls weigh
            // more: FREQUENT's share of the table's weight each.
            let table_len = part.arch.table().map_or(0, |t| t.len() as u64);
            let hot: Vec<(u32, u64)> = if frequency && native {
                FREQUENT
                    .iter()
                    .filter_map(|(n, f)| part.arch.syscall_number(n).map(|nr| (nr, f * table_len * scale / 100)))
                    .collect()
            } else {
                Vec::new()
            };
            let weight = |lo: u32, hi: u32| {
                let (l, h) = (lo.max(part.lo), hi.min(domain_hi));
                let bonus: u64 = hot.iter().filter(|(nr, _)| (lo..=hi).contains(nr)).map(|(_, b)| b).sum();
                if l > h {
                    bonus
                } else {
                    u64::from(h - l + 1) * scale + bonus
                }
            };
            if !part.present {
                push(&mut ranges, part.lo, part.hi, Leaf::Ret(bad_arch), weight(part.lo, part.hi), native);
                continue;
            }
            let leaves = match cache.iter().find(|(a, _)| *a == part.arch) {
                Some((_, l)) => l,
                None => {
                    cache.push((part.arch, leaves_for(filter, part.arch, default)));
                    &cache[cache.len() - 1].1
                }
            };
            let mut next = u64::from(part.lo);
            for (nr, leaf) in leaves.iter().filter(|&(nr, _)| (part.lo..=part.hi).contains(nr)).cloned() {
                if u64::from(nr) > next {
                    let lo = next as u32;
                    push(&mut ranges, lo, nr - 1, Leaf::Ret(default), weight(lo, nr - 1), native);
                }
                push(&mut ranges, nr, nr, leaf, weight(nr, nr), native);
                next = u64::from(nr) + 1;
            }
            if next <= u64::from(part.hi) {
                let lo = next as u32;
                push(&mut ranges, lo, part.hi, Leaf::Ret(default), weight(lo, part.hi), native);
            }
        }
        out.push(Section { token, ranges });
    }
    Ok(out)
}

/// Append a range, merging it into the previous one when the leaf is the
/// same.
fn push(ranges: &mut Vec<Range>, lo: u32, hi: u32, leaf: Leaf, weight: u64, native: bool) {
    if let Some(last) = ranges.last_mut() {
        if last.leaf == leaf && last.hi.wrapping_add(1) == lo {
            last.hi = hi;
            last.weight += weight;
            last.native |= native;
            return;
        }
    }
    ranges.push(Range { lo, hi, leaf, weight, native });
}

/// The leaf of every syscall number some rule names on `arch`, by number.
fn leaves_for(filter: &Filter, arch: Arch, default: u32) -> Vec<(u32, Leaf)> {
    // The rules as libseccomp adds them to this architecture: multiplexed
    // calls also on their multiplexer, no-op comparisons dropped.
    let rules = filter.arch_rules(arch);
    let mut by_nr: Vec<(u32, usize)> = rules.iter().enumerate().map(|(i, r)| (r.nr, i)).collect();
    by_nr.sort_unstable();
    let bits = arch.bits();
    let big_endian = arch.audit_arch() & AUDIT_ARCH_LE == 0;
    by_nr
        .chunk_by(|a, b| a.0 == b.0)
        .map(|group| {
            let nr = group[0].0;
            let rules = group.iter().map(|&(_, i)| &rules[i]);
            if let Some(r) = rules.clone().find(|r| r.args.is_empty()) {
                return (nr, Leaf::Ret(r.action.to_ret()));
            }
            let all: Vec<&ArchRule> = rules.collect();
            let mut conditional: Vec<(Vec<ArgCmp>, u32, u8)> = Vec::new();
            for r in all.iter().filter(|r| !all.iter().any(|o| shadows(&o.args, &r.args, bits))) {
                if let Some(conds) = simplify(&r.args, bits) {
                    conditional.push((conds, r.action.to_ret(), restrictiveness(r.action)));
                }
            }
            conditional.sort_by_key(|c| c.2);
            let mut check = Check { rules: Vec::new(), fallback: default, bits, big_endian };
            for (conds, ret, _) in conditional {
                if conds.is_empty() {
                    // Always holds: later (less restrictive) rules never decide.
                    check.fallback = ret;
                    break;
                }
                if !check.rules.iter().any(|(c, r)| *c == conds && *r == ret) {
                    check.rules.push((conds, ret));
                }
            }
            // Trailing rules that return the fallback anyway change nothing.
            while check.rules.last().is_some_and(|(_, r)| *r == check.fallback) {
                check.rules.pop();
            }
            let leaf = if check.rules.is_empty() { Leaf::Ret(check.fallback) } else { Leaf::Check(check) };
            (nr, leaf)
        })
        .collect()
}

/// The conditions reduced to the architecture's width, without those that
/// always hold; `None` when one can never hold.
fn simplify(args: &[ArgCmp], bits: u32) -> Option<Vec<ArgCmp>> {
    let max: u64 = if bits == 32 { u64::from(u32::MAX) } else { u64::MAX };
    let mut out = Vec::with_capacity(args.len());
    for a in args {
        if a.index > 5 {
            return None;
        }
        let mut c = ArgCmp { value: a.value & max, value_two: a.value_two & max, ..*a };
        if c.op == Operator::MaskedEqual {
            // libseccomp compares with the expected value masked too.
            c.value_two &= c.value;
        } else {
            c.value_two = 0;
        }
        let constant = match c.op {
            Operator::GreaterOrEqual if c.value == 0 => Some(true),
            Operator::LessThan if c.value == 0 => Some(false),
            Operator::GreaterThan if c.value == max => Some(false),
            Operator::LessOrEqual if c.value == max => Some(true),
            Operator::MaskedEqual if c.value == 0 => Some(true),
            _ => None,
        };
        match constant {
            Some(true) => {}
            Some(false) => return None,
            None => {
                if !out.contains(&c) {
                    out.push(c);
                }
            }
        }
    }
    Some(out)
}
