//! Argument comparisons with libseccomp's semantics.
//!
//! `seccomp_data` holds each argument as a 64-bit word, and classic BPF
//! compares 32 bits at a time. On a 64-bit architecture a comparison
//! decides on the high word first and looks at the low word only when the
//! high words are equal (unsigned, as libseccomp compares); on a 32-bit
//! architecture only the low word exists. The high word sits at the lower
//! offset on big-endian architectures.

use spo_model::seccomp::{ArgCmp, Operator};

use super::emit::{Emitter, Target};
use super::plan::Check;
use crate::bpf::{data, op};

/// Emit an argument check; returns its entry.
pub(crate) fn emit_check(e: &mut Emitter, check: &Check) -> Target {
    let mut next = Target::Ret(check.fallback);
    for (conds, ret) in check.rules.iter().rev() {
        let mut pass = Target::Ret(*ret);
        for c in conds.iter().rev() {
            pass = emit_cmp(e, c, check, pass, next);
        }
        next = pass;
    }
    next
}

/// One comparison: on to `t` when it holds, to `f` when not.
fn emit_cmp(e: &mut Emitter, c: &ArgCmp, check: &Check, t: Target, f: Target) -> Target {
    let base = data::ARGS + 8 * u32::from(c.index);
    let (lo_off, hi_off) = if check.big_endian { (base + 4, base) } else { (base, base + 4) };
    let (vlo, vhi) = (c.value as u32, (c.value >> 32) as u32);
    let wide = check.bits == 64;
    match c.op {
        Operator::Equal | Operator::NotEqual => {
            let (yes, no) = if c.op == Operator::Equal { (t, f) } else { (f, t) };
            let lo = e.load_jump(lo_off, None, op::JEQ_K, vlo, yes, no);
            if wide {
                e.load_jump(hi_off, None, op::JEQ_K, vhi, lo, no)
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
            let lo = e.load_jump(lo_off, None, code, vlo, yes, no);
            if !wide {
                return lo;
            }
            // High word greater: decided; equal: the low word decides.
            let equal = e.jump(op::JEQ_K, vhi, lo, no);
            let before = e.len();
            let entry = e.jump(op::JGT_K, vhi, yes, equal);
            if e.len() == before {
                return entry;
            }
            Target::At(e.push(crate::bpf::Insn::stmt(op::LD_ABS_W, hi_off)))
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

/// `(word & mask) == datum` for one 32-bit word.
fn masked(e: &mut Emitter, off: u32, mask: u32, datum: u32, t: Target, f: Target) -> Target {
    if datum & !mask != 0 {
        return f;
    }
    if mask == 0 {
        return t;
    }
    let and = (mask != u32::MAX).then_some(mask);
    e.load_jump(off, and, op::JEQ_K, datum, t, f)
}
