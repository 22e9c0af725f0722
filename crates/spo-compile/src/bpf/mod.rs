//! Classic BPF as seccomp uses it: the instruction type, the kernel's
//! `struct sock_filter` byte layout, a disassembler, and an interpreter
//! ([`interp`]) that checks programs the way the kernel's seccomp loader does.
//!
//! The interpreter is the specification the compiler is tested against: every
//! claim about a compiled filter (its verdicts, how many instructions it
//! executes, which fields of `seccomp_data` it reads) is checked by running
//! it here.

mod disasm;
pub mod interp;

pub use disasm::disassemble;

use crate::CompileError;

/// `BPF_MAXINSNS`: the longest program the kernel accepts.
pub const BPF_MAXINSNS: usize = 4096;

/// One `struct sock_filter`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Insn {
    /// Opcode (class, size/operation, mode/source).
    pub code: u16,
    /// Forward jump offset when the condition holds.
    pub jt: u8,
    /// Forward jump offset when it does not.
    pub jf: u8,
    /// Constant operand.
    pub k: u32,
}

impl Insn {
    /// A non-jump instruction.
    pub const fn stmt(code: u16, k: u32) -> Insn {
        Insn { code, jt: 0, jf: 0, k }
    }

    /// A conditional jump.
    pub const fn jump(code: u16, k: u32, jt: u8, jf: u8) -> Insn {
        Insn { code, jt, jf, k }
    }
}

/// Opcode fields, named as in `linux/filter.h` and `linux/bpf_common.h`.
pub mod op {
    #![allow(missing_docs)]
    pub const LD: u16 = 0x00;
    pub const LDX: u16 = 0x01;
    pub const ST: u16 = 0x02;
    pub const STX: u16 = 0x03;
    pub const ALU: u16 = 0x04;
    pub const JMP: u16 = 0x05;
    pub const RET: u16 = 0x06;
    pub const MISC: u16 = 0x07;

    pub const W: u16 = 0x00;
    pub const H: u16 = 0x08;
    pub const B: u16 = 0x10;

    pub const IMM: u16 = 0x00;
    pub const ABS: u16 = 0x20;
    pub const IND: u16 = 0x40;
    pub const MEM: u16 = 0x60;
    pub const LEN: u16 = 0x80;
    pub const MSH: u16 = 0xa0;

    pub const ADD: u16 = 0x00;
    pub const SUB: u16 = 0x10;
    pub const MUL: u16 = 0x20;
    pub const DIV: u16 = 0x30;
    pub const OR: u16 = 0x40;
    pub const AND: u16 = 0x50;
    pub const LSH: u16 = 0x60;
    pub const RSH: u16 = 0x70;
    pub const NEG: u16 = 0x80;
    pub const MOD: u16 = 0x90;
    pub const XOR: u16 = 0xa0;

    pub const JA: u16 = 0x00;
    pub const JEQ: u16 = 0x10;
    pub const JGT: u16 = 0x20;
    pub const JGE: u16 = 0x30;
    pub const JSET: u16 = 0x40;

    pub const K: u16 = 0x00;
    pub const X: u16 = 0x08;
    pub const A: u16 = 0x10;

    pub const TAX: u16 = 0x00;
    pub const TXA: u16 = 0x80;

    /// `ld [k]`: load a 32-bit word of `seccomp_data`.
    pub const LD_ABS_W: u16 = LD | W | ABS;
    /// `ret #k`.
    pub const RET_K: u16 = RET | K;
    /// `ja +k`.
    pub const JMP_JA: u16 = JMP | JA;
    /// `jeq #k`.
    pub const JEQ_K: u16 = JMP | JEQ | K;
    /// `jgt #k`.
    pub const JGT_K: u16 = JMP | JGT | K;
    /// `jge #k`.
    pub const JGE_K: u16 = JMP | JGE | K;
    /// `and #k`.
    pub const AND_K: u16 = ALU | AND | K;
}

/// Offsets in `struct seccomp_data`.
pub mod data {
    /// `nr`: the syscall number.
    pub const NR: u32 = 0;
    /// `arch`: the `AUDIT_ARCH_*` token.
    pub const ARCH: u32 = 4;
    /// `instruction_pointer`, 64 bits.
    pub const IP: u32 = 8;
    /// `args[0]`, six 64-bit words follow.
    pub const ARGS: u32 = 16;
    /// `sizeof(struct seccomp_data)`.
    pub const SIZE: u32 = 64;
}

/// Size of one `struct sock_filter`.
const INSN_SIZE: usize = 8;

/// The program as `struct sock_filter[]` in native byte order, the bytes
/// `seccomp_export_bpf` writes and `seccomp(2)` reads.
pub fn to_bytes(prog: &[Insn]) -> Vec<u8> {
    let mut out = Vec::with_capacity(prog.len() * INSN_SIZE);
    for i in prog {
        out.extend_from_slice(&i.code.to_ne_bytes());
        out.push(i.jt);
        out.push(i.jf);
        out.extend_from_slice(&i.k.to_ne_bytes());
    }
    out
}

/// Read `struct sock_filter[]` in native byte order.
pub fn from_bytes(bytes: &[u8]) -> Result<Vec<Insn>, CompileError> {
    if !bytes.len().is_multiple_of(INSN_SIZE) {
        return Err(CompileError::BadBpfLength { len: bytes.len() });
    }
    Ok(bytes
        .chunks_exact(INSN_SIZE)
        .map(|c| Insn {
            code: u16::from_ne_bytes([c[0], c[1]]),
            jt: c[2],
            jf: c[3],
            k: u32::from_ne_bytes([c[4], c[5], c[6], c[7]]),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_round_trip_in_sock_filter_layout() {
        let prog = [Insn::stmt(op::LD_ABS_W, 4), Insn::jump(op::JEQ_K, 0xc000_003e, 1, 0), Insn::stmt(op::RET_K, 0)];
        let b = to_bytes(&prog);
        assert_eq!(b.len(), 24);
        assert_eq!(&b[8..10], &op::JEQ_K.to_ne_bytes());
        assert_eq!(b[10], 1);
        assert_eq!(&b[12..16], &0xc000_003eu32.to_ne_bytes());
        assert_eq!(from_bytes(&b).unwrap(), prog);
        assert!(matches!(from_bytes(&b[..7]), Err(CompileError::BadBpfLength { len: 7 })));
    }
}
