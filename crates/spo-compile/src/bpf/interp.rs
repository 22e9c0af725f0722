//! A classic-BPF interpreter over `struct seccomp_data`.
//!
//! [`check`] refuses what the kernel refuses when a seccomp filter is loaded
//! (`bpf_check_classic` plus `seccomp_check_filter`): only the instructions
//! seccomp allows, word loads from `seccomp_data` at aligned offsets inside
//! it, forward jumps that land inside the program, a final `ret`, no constant
//! division by zero, no shift by 32 or more, and no read of a scratch
//! memory cell that some path leaves unwritten. [`run`] then executes the
//! program and reports the return value, the number of instructions
//! executed (the measure of a filter's cost) and which words of
//! `seccomp_data` were read (so tests can prove that a verdict depends on
//! the architecture and syscall number only, which is what lets the kernel
//! cache it).
//!
//! `seccomp_data` is laid out in the byte order of the architecture named
//! by its `arch` field (`__AUDIT_ARCH_LE`, bit 30 of the token), as the
//! kernel of that architecture lays it out: a filter for a big-endian
//! architecture finds the high word of an argument at the lower offset.

use super::{data, op, Insn, BPF_MAXINSNS};
use crate::CompileError;

/// `__AUDIT_ARCH_LE`.
const AUDIT_ARCH_LE: u32 = 0x4000_0000;

/// Number of scratch memory cells (`BPF_MEMWORDS`).
const MEMWORDS: usize = 16;

/// The input of a seccomp filter.
#[derive(Clone, Copy, Debug, Default)]
pub struct SeccompData {
    /// Syscall number.
    pub nr: u32,
    /// `AUDIT_ARCH_*` token.
    pub arch: u32,
    /// Address of the syscall instruction.
    pub instruction_pointer: u64,
    /// The six arguments.
    pub args: [u64; 6],
}

impl SeccompData {
    /// The 64 bytes the filter reads, in the byte order of `arch`.
    pub fn to_bytes(&self) -> [u8; 64] {
        let le = self.arch & AUDIT_ARCH_LE != 0;
        let mut out = [0u8; 64];
        let w32 = |v: u32| if le { v.to_le_bytes() } else { v.to_be_bytes() };
        let w64 = |v: u64| if le { v.to_le_bytes() } else { v.to_be_bytes() };
        out[0..4].copy_from_slice(&w32(self.nr));
        out[4..8].copy_from_slice(&w32(self.arch));
        out[8..16].copy_from_slice(&w64(self.instruction_pointer));
        for (i, a) in self.args.iter().enumerate() {
            let at = 16 + 8 * i;
            out[at..at + 8].copy_from_slice(&w64(*a));
        }
        out
    }
}

/// The result of one run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Outcome {
    /// The filter's return value (`SECCOMP_RET_*` with data).
    pub ret: u32,
    /// Instructions executed, the final `ret` included.
    pub executed: usize,
    /// Bit `i` is set when the word at offset `4 * i` of `seccomp_data` was
    /// loaded (bit 0: `nr`, bit 1: `arch`, bits 2-3: instruction pointer,
    /// bits 4-15: arguments).
    pub loaded: u16,
}

impl Outcome {
    /// Mask of [`Outcome::loaded`] bits for `nr` and `arch`.
    pub const NR_AND_ARCH: u16 = 0b11;

    /// Whether the run read anything besides `nr` and `arch`.
    pub fn read_args_or_ip(&self) -> bool {
        self.loaded & !Self::NR_AND_ARCH != 0
    }
}

fn bad(index: usize, reason: impl Into<String>) -> CompileError {
    CompileError::BadProgram { index, reason: reason.into() }
}

/// Whether seccomp accepts this opcode at all.
fn allowed(code: u16) -> bool {
    use op::*;
    matches!(
        code,
        c if c == LD | W | ABS
            || c == LD | W | LEN
            || c == LDX | W | LEN
            || c == RET | K
            || c == RET | A
            || c == LD | IMM
            || c == LDX | IMM
            || c == MISC | TAX
            || c == MISC | TXA
            || c == LD | MEM
            || c == LDX | MEM
            || c == ST
            || c == STX
            || c == JMP | JA
            || c == ALU | NEG
    ) || {
        let (class, opn, src) = (code & 0x07, code & 0xf0, code & 0x08);
        let rest = code & !0xff;
        rest == 0
            && ((class == ALU && matches!(opn, ADD | SUB | MUL | DIV | AND | OR | XOR | LSH | RSH))
                || (class == JMP && matches!(opn, JEQ | JGE | JGT | JSET)))
            && (src == K || src == X)
    }
}

/// Check `prog` as the kernel does when it is loaded as a seccomp filter.
pub fn check(prog: &[Insn]) -> Result<(), CompileError> {
    if prog.is_empty() {
        return Err(bad(0, "the program is empty"));
    }
    if prog.len() > BPF_MAXINSNS {
        return Err(CompileError::TooLong { len: prog.len(), max: BPF_MAXINSNS });
    }
    let n = prog.len();
    for (pc, i) in prog.iter().enumerate() {
        if !allowed(i.code) {
            return Err(bad(pc, format!("opcode {:#06x} is not allowed in a seccomp filter", i.code)));
        }
        let class = i.code & 0x07;
        if i.code == op::LD | op::W | op::ABS && (i.k % 4 != 0 || i.k >= data::SIZE) {
            return Err(bad(pc, format!("load from offset {} is outside seccomp_data or unaligned", i.k)));
        }
        let mem_access = (class == op::LD || class == op::LDX) && i.code & 0xe0 == op::MEM;
        if (mem_access || i.code == op::ST || i.code == op::STX) && i.k as usize >= MEMWORDS {
            return Err(bad(pc, format!("scratch memory cell {} does not exist", i.k)));
        }
        if class == op::ALU && i.code & 0x08 == op::K {
            let opn = i.code & 0xf0;
            if opn == op::DIV && i.k == 0 {
                return Err(bad(pc, "division by constant zero"));
            }
            if (opn == op::LSH || opn == op::RSH) && i.k >= 32 {
                return Err(bad(pc, format!("shift by {} bits", i.k)));
            }
        }
        if class == op::JMP {
            if i.code & 0xf0 == op::JA {
                if u64::from(i.k) >= (n - pc - 1) as u64 {
                    return Err(bad(pc, format!("jump by {} leaves the program", i.k)));
                }
            } else if pc + 1 + usize::from(i.jt) >= n || pc + 1 + usize::from(i.jf) >= n {
                return Err(bad(pc, "conditional jump leaves the program"));
            }
        }
    }
    let last = prog[n - 1];
    if last.code & 0x07 != op::RET {
        return Err(bad(n - 1, "the program does not end in ret"));
    }
    check_memory(prog)
}

/// Every scratch-memory load must follow a store to the same cell on every
/// path (the kernel's `check_load_and_stores`).
fn check_memory(prog: &[Insn]) -> Result<(), CompileError> {
    if !prog.iter().any(|i| i.code & !0x07 == op::MEM) {
        return Ok(());
    }
    const UNREACHED: u16 = 0xffff;
    let mut stored = vec![UNREACHED; prog.len()];
    stored[0] = 0;
    for (pc, i) in prog.iter().enumerate() {
        let mut mem = stored[pc];
        let class = i.code & 0x07;
        if i.code == op::ST || i.code == op::STX {
            mem |= 1 << i.k;
        } else if i.code & !0x07 == op::MEM && (class == op::LD || class == op::LDX) && mem & (1 << i.k) == 0 {
            return Err(bad(pc, format!("scratch memory cell {} may be read before it is written", i.k)));
        }
        if class == op::RET {
            continue;
        }
        let mut flow = |to: usize| stored[to] &= mem;
        if class == op::JMP {
            if i.code & 0xf0 == op::JA {
                flow(pc + 1 + i.k as usize);
            } else {
                flow(pc + 1 + usize::from(i.jt));
                flow(pc + 1 + usize::from(i.jf));
            }
        } else {
            flow(pc + 1);
        }
    }
    Ok(())
}

/// Check `prog` and run it over `d`.
pub fn run(prog: &[Insn], d: &SeccompData) -> Result<Outcome, CompileError> {
    check(prog)?;
    Ok(run_checked(prog, d))
}

/// Run a program that [`check`] accepted. On an unchecked program the
/// result is unspecified but the function does not panic.
pub fn run_checked(prog: &[Insn], d: &SeccompData) -> Outcome {
    let bytes = d.to_bytes();
    let le = d.arch & AUDIT_ARCH_LE != 0;
    let word = |k: u32| {
        let at = k as usize;
        let b = [bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]];
        if le {
            u32::from_le_bytes(b)
        } else {
            u32::from_be_bytes(b)
        }
    };
    let (mut a, mut x) = (0u32, 0u32);
    let mut mem = [0u32; MEMWORDS];
    let mut pc = 0usize;
    let mut executed = 0usize;
    let mut loaded = 0u16;
    while let Some(i) = prog.get(pc) {
        executed += 1;
        pc += 1;
        let src = if i.code & 0x08 == op::X { x } else { i.k };
        match i.code & 0x07 {
            op::LD | op::LDX => {
                let v = match i.code & 0xe0 {
                    op::ABS if i.k % 4 == 0 && i.k < data::SIZE => {
                        loaded |= 1 << (i.k / 4);
                        word(i.k)
                    }
                    op::LEN => data::SIZE,
                    op::IMM => i.k,
                    op::MEM => mem[i.k as usize % MEMWORDS],
                    _ => 0,
                };
                if i.code & 0x07 == op::LD {
                    a = v;
                } else {
                    x = v;
                }
            }
            op::ST => mem[i.k as usize % MEMWORDS] = a,
            op::STX => mem[i.k as usize % MEMWORDS] = x,
            op::ALU => {
                a = match i.code & 0xf0 {
                    op::ADD => a.wrapping_add(src),
                    op::SUB => a.wrapping_sub(src),
                    op::MUL => a.wrapping_mul(src),
                    op::DIV => match a.checked_div(src) {
                        Some(v) => v,
                        None => return Outcome { ret: 0, executed, loaded },
                    },
                    op::OR => a | src,
                    op::AND => a & src,
                    op::XOR => a ^ src,
                    op::LSH => a.checked_shl(src).unwrap_or(0),
                    op::RSH => a.checked_shr(src).unwrap_or(0),
                    op::NEG => a.wrapping_neg(),
                    _ => a,
                }
            }
            op::JMP => {
                let taken = match i.code & 0xf0 {
                    op::JA => {
                        pc = pc.saturating_add(i.k as usize);
                        continue;
                    }
                    op::JEQ => a == src,
                    op::JGT => a > src,
                    op::JGE => a >= src,
                    _ => a & src != 0,
                };
                pc += usize::from(if taken { i.jt } else { i.jf });
            }
            op::RET => {
                let ret = if i.code & 0x18 == op::A { a } else { i.k };
                return Outcome { ret, executed, loaded };
            }
            _ => {
                if i.code & 0xf8 == op::TXA {
                    a = x;
                } else {
                    x = a;
                }
            }
        }
    }
    Outcome { ret: 0, executed, loaded }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bpf::op::*;

    fn x86_64(nr: u32) -> SeccompData {
        SeccompData { nr, arch: 0xc000_003e, ..SeccompData::default() }
    }

    #[test]
    fn runs_a_small_filter_and_counts() {
        let prog = [
            Insn::stmt(LD_ABS_W, data::ARCH),
            Insn::jump(JEQ_K, 0xc000_003e, 1, 0),
            Insn::stmt(RET_K, 0),
            Insn::stmt(LD_ABS_W, data::NR),
            Insn::jump(JEQ_K, 1, 0, 1),
            Insn::stmt(RET_K, 0x7fff_0000),
            Insn::stmt(RET_K, 0x0005_0001),
        ];
        let o = run(&prog, &x86_64(1)).unwrap();
        assert_eq!((o.ret, o.executed, o.loaded), (0x7fff_0000, 5, 0b11));
        assert_eq!(run(&prog, &x86_64(2)).unwrap().ret, 0x0005_0001);
        let other = SeccompData { arch: 3, ..x86_64(1) };
        assert_eq!(run(&prog, &other).unwrap(), Outcome { ret: 0, executed: 3, loaded: 0b10 });
    }

    #[test]
    fn argument_words_follow_the_architecture_byte_order() {
        let prog = [Insn::stmt(LD_ABS_W, data::ARGS), Insn::stmt(RET | A, 0)];
        let mut d = x86_64(0);
        d.args[0] = 0x1111_2222_3333_4444;
        assert_eq!(run(&prog, &d).unwrap().ret, 0x3333_4444);
        d.arch = 0x8000_0016; // s390x, big-endian
        assert_eq!(run(&prog, &d).unwrap().ret, 0x1111_2222);
        assert_eq!(run(&prog, &d).unwrap().loaded, 1 << 4);
    }

    #[test]
    fn rejects_what_the_kernel_rejects() {
        let ret = Insn::stmt(RET_K, 0);
        let cases: Vec<(Vec<Insn>, usize)> = vec![
            (vec![], 0),
            (vec![Insn::stmt(LD_ABS_W, 2), ret], 0),
            (vec![Insn::stmt(LD_ABS_W, 64), ret], 0),
            (vec![Insn::stmt(LD | B | ABS, 0), ret], 0),
            (vec![Insn::stmt(ALU | MOD | K, 3), ret], 0),
            (vec![Insn::stmt(ALU | DIV | K, 0), ret], 0),
            (vec![Insn::jump(JEQ_K, 0, 1, 0), ret], 0),
            (vec![Insn::stmt(JMP_JA, 1), ret], 0),
            (vec![ret, Insn::stmt(LD_ABS_W, 0)], 1),
            (vec![Insn::stmt(LD | MEM, 3), ret], 0),
            (vec![Insn::jump(JEQ_K, 0, 0, 1), Insn::stmt(ST, 3), Insn::stmt(LD | MEM, 3), ret], 2),
        ];
        for (prog, index) in cases {
            match check(&prog) {
                Err(CompileError::BadProgram { index: i, .. }) => assert_eq!(i, index, "{prog:?}"),
                other => panic!("{prog:?} gave {other:?}"),
            }
        }
        let ok = [
            Insn::stmt(LD | IMM, 7),
            Insn::stmt(ST, 3),
            Insn::stmt(LDX | MEM, 3),
            Insn::stmt(MISC | TXA, 0),
            Insn::stmt(RET | A, 0),
        ];
        assert_eq!(run(&ok, &x86_64(0)).unwrap().ret, 7);
        let long = vec![ret; BPF_MAXINSNS + 1];
        assert!(matches!(check(&long), Err(CompileError::TooLong { .. })));
    }

    #[test]
    fn division_by_zero_register_returns_zero() {
        let prog = [Insn::stmt(LD | IMM, 7), Insn::stmt(ALU | DIV | X, 0), Insn::stmt(RET_K, 0x7fff_0000)];
        assert_eq!(run(&prog, &x86_64(0)).unwrap().ret, 0);
    }
}
