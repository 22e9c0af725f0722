//! Back-to-front emission with exact jump offsets.
//!
//! Classic BPF only jumps forward, so the program is written from its last
//! instruction to its first: when a jump is emitted, everything it can
//! reach is already placed and its distance is known. Positions are counted
//! from the end of the program, which never changes as instructions are
//! prepended. A conditional jump reaches at most 255 instructions ahead;
//! a target further away gets a `ja` trampoline right after the jump (32-bit
//! offset). A return is shared by every jump that can reach it, and
//! duplicated where none is in reach (one instruction, cheaper than a
//! trampoline and never executed more often).

use std::collections::HashMap;

use crate::bpf::{op, Insn};

/// Where a jump goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Target {
    /// A `ret` of this value, placed wherever convenient.
    Ret(u32),
    /// The instruction at this position, counted from the end.
    At(usize),
}

/// The program under construction, last instruction first.
#[derive(Debug, Default)]
pub(crate) struct Emitter {
    rev: Vec<Insn>,
    rets: HashMap<u32, usize>,
}

/// Longest conditional jump.
const MAX_JUMP: usize = 255;

impl Emitter {
    /// Position the next instruction will get.
    pub fn len(&self) -> usize {
        self.rev.len()
    }

    /// Prepend an instruction; returns its position.
    pub fn push(&mut self, insn: Insn) -> usize {
        self.rev.push(insn);
        self.rev.len() - 1
    }

    /// A `ret` of `v` placed so the next instruction can fall into it.
    fn new_ret(&mut self, v: u32) -> usize {
        let at = self.push(Insn::stmt(op::RET_K, v));
        self.rets.insert(v, at);
        at
    }

    /// Make `t` a concrete position an instruction at `here` can reach
    /// with a conditional jump, or `None` after prepending something (the
    /// caller starts over, as `here` moved).
    fn reach(&mut self, t: Target, here: usize) -> Result<usize, ()> {
        match t {
            Target::Ret(v) => match self.rets.get(&v) {
                Some(&at) if here - at - 1 <= MAX_JUMP => Ok(at),
                _ => {
                    self.new_ret(v);
                    Err(())
                }
            },
            Target::At(at) if here - at - 1 <= MAX_JUMP => Ok(at),
            Target::At(at) => {
                let off = (self.len() - at - 1) as u32;
                self.push(Insn::stmt(op::JMP_JA, off));
                Err(())
            }
        }
    }

    /// Prepend a conditional jump; returns where to enter it. When both
    /// branches go to the same place nothing is emitted.
    pub fn jump(&mut self, code: u16, k: u32, mut t: Target, mut f: Target) -> Target {
        if t == f {
            return t;
        }
        loop {
            let here = self.len();
            let tt = match self.reach(t, here) {
                Ok(at) => at,
                Err(()) => {
                    t = Target::At(self.len() - 1);
                    continue;
                }
            };
            let ff = match self.reach(f, here) {
                Ok(at) => at,
                Err(()) => {
                    f = Target::At(self.len() - 1);
                    continue;
                }
            };
            let jt = (here - tt - 1) as u8;
            let jf = (here - ff - 1) as u8;
            return Target::At(self.push(Insn::jump(code, k, jt, jf)));
        }
    }

    /// Prepend `ld [off]`, optionally `and #mask`, and a conditional jump
    /// on the result. When both branches go to the same place nothing is
    /// emitted.
    pub fn load_jump(&mut self, off: u32, mask: Option<u32>, code: u16, k: u32, t: Target, f: Target) -> Target {
        let before = self.len();
        let entry = self.jump(code, k, t, f);
        if self.len() == before {
            return entry;
        }
        if let Some(m) = mask {
            self.push(Insn::stmt(op::AND_K, m));
        }
        Target::At(self.push(Insn::stmt(op::LD_ABS_W, off)))
    }

    /// Prepend `ld [off]` in front of `next` when `next` needs the
    /// accumulator (it is an instruction, not a bare return).
    pub fn load_jump_entry(&mut self, off: u32, next: Target) -> Target {
        match next {
            Target::Ret(_) => next,
            Target::At(at) => {
                if at + 1 != self.len() {
                    let off = (self.len() - at - 1) as u32;
                    self.push(Insn::stmt(op::JMP_JA, off));
                }
                Target::At(self.push(Insn::stmt(op::LD_ABS_W, off)))
            }
        }
    }

    /// `t`, or the instruction after it when `t` is `ld [off]`: for a jump
    /// made while the accumulator already holds the word at `off` (the
    /// load would change nothing).
    pub fn past_load(&self, t: Target, off: u32) -> Target {
        match t {
            Target::At(at) if at > 0 && self.rev[at] == Insn::stmt(op::LD_ABS_W, off) => Target::At(at - 1),
            _ => t,
        }
    }

    /// Make `t` the first instruction of the program.
    pub fn finish(mut self, entry: Target) -> Vec<Insn> {
        match entry {
            Target::Ret(v) => {
                self.push(Insn::stmt(op::RET_K, v));
            }
            Target::At(at) => {
                if at + 1 != self.len() {
                    let off = (self.len() - at - 1) as u32;
                    self.push(Insn::stmt(op::JMP_JA, off));
                }
            }
        }
        self.rev.reverse();
        self.rev
    }
}
