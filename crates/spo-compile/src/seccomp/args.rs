//! Argument comparisons with libseccomp's semantics.
//!
//! `seccomp_data` holds each argument as a 64-bit word, and classic BPF
//! compares 32 bits at a time. On a 64-bit architecture a comparison
//! decides on the high word first and looks at the low word only when the
//! high words are equal (unsigned, as libseccomp compares); on a 32-bit
//! architecture only the low word exists. The high word sits at the lower
//! offset on big-endian architectures.
//!
//! A jump made while the accumulator holds an argument word goes past the
//! `ld` of that word at its target (`Emitter::past_load`), so consecutive
//! rules testing the same argument share its load; and a 64-bit ordered
//! comparison whose high word is zero needs no equality test after
//! `jgt #0` (the high word is zero when that fails).

use spo_model::seccomp::{ArgCmp, Operator};

use super::emit::{Emitter, Target};
use super::plan::Check;
use crate::bpf::{data, op, Insn};

/// Emit an argument check; returns its entry.
pub(crate) fn emit_check(e: &mut Emitter, check: &Check) -> Target {
    let mut next = Target::Ret(check.fallback);
    let rules = &check.rules;
    let mut end = rules.len();
    while end > 0 {
        // Consecutive rules that each test one argument for equality with
        // the same high word share the high-word test and the low-word load.
        let key = |i: usize| match rules[i].0.as_slice() {
            [c] if c.op == Operator::Equal => Some((c.index, (c.value >> 32) as u32)),
            _ => None,
        };
        let mut start = end - 1;
        if let Some(k) = key(start) {
            while start > 0 && key(start - 1) == Some(k) {
                start -= 1;
            }
        }
        if end - start > 1 {
            next = emit_eq_group(e, check, &rules[start..end], next);
        } else {
            let (conds, ret) = &rules[start];
            let mut pass = Target::Ret(*ret);
            for c in conds.iter().rev() {
                pass = emit_cmp(e, c, check, pass, next);
            }
            next = pass;
        }
        end = start;
    }
    next
}

/// Word offsets (low, high) of argument `index`.
fn offsets(index: u8, check: &Check) -> (u32, u32) {
    let base = data::ARGS + 8 * u32::from(index);
    if check.big_endian {
        (base + 4, base)
    } else {
        (base, base + 4)
    }
}

/// Rules `arg == v1`, `arg == v2`, ... (one argument, one high word), in
/// order.
fn emit_eq_group(e: &mut Emitter, check: &Check, group: &[(Vec<ArgCmp>, u32)], next: Target) -> Target {
    let c0 = group[0].0[0];
    let (lo_off, hi_off) = offsets(c0.index, check);
    let start = e.len();
    let mut lo = e.past_load(next, lo_off);
    for (i, (conds, ret)) in group.iter().enumerate().rev() {
        let before = e.len();
        lo = e.jump(op::JEQ_K, conds[0].value as u32, Target::Ret(*ret), lo);
        if i == 0 && e.len() != before {
            lo = Target::At(e.push(Insn::stmt(op::LD_ABS_W, lo_off)));
        }
    }
    if e.len() == start {
        // Nothing tested: `lo` must not skip a load that never ran.
        lo = next;
    }
    if check.bits == 64 {
        load_jump_shared(e, hi_off, op::JEQ_K, (c0.value >> 32) as u32, lo, next)
    } else {
        lo
    }
}

/// `ld [off]` and a conditional jump, whose targets skip their own load of
/// the same word.
fn load_jump_shared(e: &mut Emitter, off: u32, code: u16, k: u32, t: Target, f: Target) -> Target {
    let (t2, f2) = (e.past_load(t, off), e.past_load(f, off));
    if t2 == f2 {
        // Both branches do the same: keep the target that loads the word.
        return if t2 != t { t } else { f };
    }
    e.load_jump(off, None, code, k, t2, f2)
}

/// One comparison: on to `t` when it holds, to `f` when not.
fn emit_cmp(e: &mut Emitter, c: &ArgCmp, check: &Check, t: Target, f: Target) -> Target {
    let (lo_off, hi_off) = offsets(c.index, check);
    let (vlo, vhi) = (c.value as u32, (c.value >> 32) as u32);
    let wide = check.bits == 64;
    match c.op {
        Operator::Equal | Operator::NotEqual => {
            let (yes, no) = if c.op == Operator::Equal { (t, f) } else { (f, t) };
            let lo = load_jump_shared(e, lo_off, op::JEQ_K, vlo, yes, no);
            if wide {
                load_jump_shared(e, hi_off, op::JEQ_K, vhi, lo, no)
            } else {
                lo
            }
        }
        Operator::GreaterThan | Operator::GreaterOrEqual | Operator::LessThan | Operator::LessOrEqual => {
            // LT is "not GE", LE is "not GT".
            let (code, yes, no) = match c.op {
                Operator::GreaterThan => (op::JGT_K, t, f),
                Operator::GreaterOrEqual => (op::JGE_K, t, f),
                Operator::LessThan => (op::JGE_K, f, t),
                _ => (op::JGT_K, f, t),
            };
            let lo = match (code, vlo) {
                (op::JGE_K, 0) => yes,
                (op::JGT_K, u32::MAX) => no,
                _ => load_jump_shared(e, lo_off, code, vlo, yes, no),
            };
            if !wide {
                return lo;
            }
            // High word greater: decided; equal: the low word decides.
            // These jumps run with the high word loaded.
            let (hyes, hno, hlo) = (e.past_load(yes, hi_off), e.past_load(no, hi_off), e.past_load(lo, hi_off));
            let before_equal = e.len();
            let equal = if vhi == 0 {
                // When `jgt #0` fails the high word is zero: nothing to test.
                hlo
            } else {
                e.jump(op::JEQ_K, vhi, hlo, hno)
            };
            let before = e.len();
            let entry = if vhi == u32::MAX {
                // Nothing is above: only the equality test is needed.
                equal
            } else {
                e.jump(op::JGT_K, vhi, hyes, equal)
            };
            let emitted = if vhi == u32::MAX { e.len() != before_equal } else { e.len() != before };
            if !emitted {
                // No test, no load: the target that loads what it needs.
                return if entry == hyes {
                    yes
                } else if entry == hno {
                    no
                } else if entry == hlo {
                    lo
                } else {
                    entry
                };
            }
            Target::At(e.push(Insn::stmt(op::LD_ABS_W, hi_off)))
        }
        Operator::MaskedEqual => {
            let (mlo, mhi) = (c.value as u32, (c.value >> 32) as u32);
            let (dlo, dhi) = (c.value_two as u32, (c.value_two >> 32) as u32);
            let lo = masked(e, lo_off, mlo, dlo, t, f);
            if wide {
                masked(e, hi_off, mhi, dhi, lo, f)
            } else {
                lo
            }
        }
    }
}

/// `(word & mask) == (datum & mask)` for one 32-bit word.
fn masked(e: &mut Emitter, off: u32, mask: u32, datum: u32, t: Target, f: Target) -> Target {
    let datum = datum & mask;
    if mask == 0 {
        return t;
    }
    let and = (mask != u32::MAX).then_some(mask);
    e.load_jump(off, and, op::JEQ_K, datum, t, f)
}
