//! Just enough of the eBPF instruction set to write the recorder's program
//! in Rust, with opcodes named as in `linux/bpf.h` and `linux/bpf_common.h`.
//!
//! The program is a few dozen instructions and takes run-time constants
//! (the cgroup id, the map's descriptor) as immediates, so building it here
//! costs less than a clang build step and keeps the crate free of a C
//! toolchain dependency.

/// One `struct bpf_insn`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Insn {
    /// Opcode.
    pub code: u8,
    /// Destination register (low nibble) and source register (high).
    pub regs: u8,
    /// Offset.
    pub off: i16,
    /// Immediate.
    pub imm: i32,
}

/// Registers: r0 return value, r1-r5 arguments, r6-r9 callee-saved, r10
/// the read-only frame pointer.
pub type Reg = u8;
/// Frame pointer.
pub const R10: Reg = 10;

// Classes.
const LD: u8 = 0x00;
const LDX: u8 = 0x01;
const ST: u8 = 0x02;
const STX: u8 = 0x03;
const JMP: u8 = 0x05;
const ALU64: u8 = 0x07;
// Sizes.
/// 32-bit access.
pub const W: u8 = 0x00;
/// 64-bit access.
pub const DW: u8 = 0x18;
// Modes.
const IMM: u8 = 0x00;
const MEM: u8 = 0x60;
const ATOMIC: u8 = 0xc0;
// Sources.
const K: u8 = 0x00;
const X: u8 = 0x08;
// ALU operations.
const ADD: u8 = 0x00;
const AND: u8 = 0x50;
const LSH: u8 = 0x60;
const MOV: u8 = 0xb0;
// Jumps.
const JA: u8 = 0x00;
const JEQ: u8 = 0x10;
const JGT: u8 = 0x20;
const JNE: u8 = 0x50;
const JSET: u8 = 0x40;
const CALL: u8 = 0x80;
const EXIT: u8 = 0x90;

/// `BPF_PSEUDO_MAP_FD`: the `ld_imm64` source register that marks the
/// immediate as a map descriptor for the loader to resolve.
pub const PSEUDO_MAP_FD: Reg = 1;

fn insn(code: u8, dst: Reg, src: Reg, off: i16, imm: i32) -> Insn {
    Insn { code, regs: (src << 4) | (dst & 0x0f), off, imm }
}

/// `dst = fp + off`: a pointer to the stack slot at `off`, as map helpers
/// take their keys and values.
pub fn stack_ptr(dst: Reg, off: i32) -> [Insn; 2] {
    [mov(dst, R10), add_imm(dst, off)]
}

/// Add one to the `u64` a map lookup returned in r0 (atomically: every
/// CPU runs the program).
pub fn increment_r0() -> [Insn; 2] {
    [mov_imm(1, 1), atomic_add64(0, 0, 1)]
}

/// `dst = src`.
pub fn mov(dst: Reg, src: Reg) -> Insn {
    insn(ALU64 | MOV | X, dst, src, 0, 0)
}
/// `dst = imm`.
pub fn mov_imm(dst: Reg, imm: i32) -> Insn {
    insn(ALU64 | MOV | K, dst, 0, 0, imm)
}
/// `dst += imm`.
pub fn add_imm(dst: Reg, imm: i32) -> Insn {
    insn(ALU64 | ADD | K, dst, 0, 0, imm)
}
/// `dst += src`.
pub fn add(dst: Reg, src: Reg) -> Insn {
    insn(ALU64 | ADD | X, dst, src, 0, 0)
}
/// `dst &= imm`.
pub fn and_imm(dst: Reg, imm: i32) -> Insn {
    insn(ALU64 | AND | K, dst, 0, 0, imm)
}
/// `dst <<= imm`.
pub fn lsh_imm(dst: Reg, imm: i32) -> Insn {
    insn(ALU64 | LSH | K, dst, 0, 0, imm)
}
/// `dst = imm64` (two instruction slots); `src` is 0 or [`PSEUDO_MAP_FD`].
pub fn ld_imm64(dst: Reg, src: Reg, imm: u64) -> [Insn; 2] {
    [insn(LD | DW | IMM, dst, src, 0, imm as u32 as i32), insn(0, 0, 0, 0, (imm >> 32) as u32 as i32)]
}
/// `dst = *(size *)(src + off)`.
pub fn ldx(size: u8, dst: Reg, src: Reg, off: i16) -> Insn {
    insn(LDX | MEM | size, dst, src, off, 0)
}
/// `*(size *)(dst + off) = src`.
pub fn stx(size: u8, dst: Reg, off: i16, src: Reg) -> Insn {
    insn(STX | MEM | size, dst, src, off, 0)
}
/// `*(size *)(dst + off) = imm`.
pub fn st_imm(size: u8, dst: Reg, off: i16, imm: i32) -> Insn {
    insn(ST | MEM | size, dst, 0, off, imm)
}
/// `lock *(u64 *)(dst + off) += src`.
pub fn atomic_add64(dst: Reg, off: i16, src: Reg) -> Insn {
    insn(STX | ATOMIC | DW, dst, src, off, ADD as i32)
}
/// `if dst == imm goto +off`.
pub fn jeq_imm(dst: Reg, imm: i32, off: i16) -> Insn {
    insn(JMP | JEQ | K, dst, 0, off, imm)
}
/// `if dst != src goto +off`.
pub fn jne(dst: Reg, src: Reg, off: i16) -> Insn {
    insn(JMP | JNE | X, dst, src, off, 0)
}
/// `if dst != imm goto +off`.
pub fn jne_imm(dst: Reg, imm: i32, off: i16) -> Insn {
    insn(JMP | JNE | K, dst, 0, off, imm)
}
/// `if dst & imm goto +off`.
pub fn jset_imm(dst: Reg, imm: i32, off: i16) -> Insn {
    insn(JMP | JSET | K, dst, 0, off, imm)
}
/// `if dst > imm (unsigned) goto +off`.
pub fn jgt_imm(dst: Reg, imm: i32, off: i16) -> Insn {
    insn(JMP | JGT | K, dst, 0, off, imm)
}
/// `goto +off`.
pub fn ja(off: i16) -> Insn {
    insn(JMP | JA, 0, 0, off, 0)
}
/// Call helper `id`.
pub fn call(id: i32) -> Insn {
    insn(JMP | CALL, 0, 0, 0, id)
}
/// Return r0.
pub fn exit() -> Insn {
    insn(JMP | EXIT, 0, 0, 0, 0)
}

/// The instructions as the kernel reads them (little-endian bit fields on
/// every architecture spo-rs runs on, byte order native).
pub fn to_bytes(prog: &[Insn]) -> Vec<u8> {
    let mut out = Vec::with_capacity(prog.len() * 8);
    for i in prog {
        out.push(i.code);
        out.push(i.regs);
        out.extend_from_slice(&i.off.to_ne_bytes());
        out.extend_from_slice(&i.imm.to_ne_bytes());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodings_match_the_kernel_headers() {
        // Values as llvm-objdump shows them for the same instructions.
        assert_eq!(to_bytes(&[mov(6, 1)]), [0xbf, 0x16, 0, 0, 0, 0, 0, 0]);
        assert_eq!(to_bytes(&[mov_imm(0, 0)]), [0xb7, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(to_bytes(&[exit()]), [0x95, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(to_bytes(&[call(1)]), [0x85, 0, 0, 0, 1, 0, 0, 0]);
        assert_eq!(to_bytes(&[ldx(DW, 7, 6, 8)]), [0x79, 0x67, 8, 0, 0, 0, 0, 0]);
        assert_eq!(to_bytes(&[atomic_add64(0, 0, 1)]), [0xdb, 0x10, 0, 0, 0, 0, 0, 0]);
        assert_eq!(to_bytes(&[st_imm(W, R10, -4, 7)]), [0x62, 0x0a, 0xfc, 0xff, 7, 0, 0, 0]);
        assert_eq!(to_bytes(&[jne_imm(2, 0, 3)]), [0x55, 0x02, 3, 0, 0, 0, 0, 0]);
        assert_eq!(to_bytes(&[jset_imm(1, 2, 1)]), [0x45, 0x01, 1, 0, 2, 0, 0, 0]);
        let [a, b] = ld_imm64(1, PSEUDO_MAP_FD, 0x1_0000_0005);
        assert_eq!(to_bytes(&[a, b]), [0x18, 0x11, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0]);
    }
}
