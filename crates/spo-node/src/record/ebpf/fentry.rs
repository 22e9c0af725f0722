//! The syscall recorder on fentry, where the kernel has it, and the cost
//! of each attachment.
//!
//! x86_64 enters every syscall through `do_syscall_64`, which is `noinstr`
//! and cannot be traced. Kernels with the branch-history-injection
//! mitigation (Linux 6.9, and stable kernels it was backported to, such as
//! Debian's 6.1) dispatch through `x64_sys_call(regs, nr)`, a direct
//! switch instead of the syscall table: one traceable function every
//! native call passes, with the number as its second argument. The
//! recorder's fentry program sits there and counts into the same count
//! map the raw tracepoint program fills (native calls only: compat calls
//! take `ia32_sys_call`/`x32_sys_call`, not attached). The per-syscall
//! wrappers (`__x64_sys_NAME`) are no alternative: on those kernels they
//! are not in `available_filter_functions`, and programs attached to them
//! never run (measured in the VM tier: 331 attached, 0 calls counted).
//! [`Attached`] holds either attachment so the two can be measured
//! against each other in one run (`spo-vm-record --overhead`).

use std::os::fd::{AsRawFd, OwnedFd};

use spo_model::Arch;

use super::insn::*;
use super::{attach, bpf, emit_increment, err, load, program, Asm, Attr, CountMap, HELPER_GET_CURRENT_CGROUP_ID};
use crate::record::btf::Btf;
use crate::record::set::SyscallSet;
use crate::NodeError;

const BPF_PROG_LOAD: libc::c_int = 5;
const BPF_RAW_TRACEPOINT_OPEN: libc::c_int = 17;
const BPF_PROG_TYPE_TRACING: u32 = 26;
const BPF_TRACE_FENTRY: u32 = 24;

/// How the syscall counter is attached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attachment {
    /// One program on the `sys_enter` raw tracepoint.
    RawTracepoint,
    /// One fentry program on `x64_sys_call`.
    Fentry,
}

/// The function fentry attaches to.
pub const DISPATCH: &str = "x64_sys_call";

/// The fentry program on `x64_sys_call(regs, nr)`: count `nr` (the last
/// slot for numbers beyond it, as the raw tracepoint program does).
fn fentry_program(cgroup_id: u64, map_fd: i32) -> Vec<Insn> {
    let mut a = Asm::new();
    a.push(mov(6, 1)); // r6 = ctx: the arguments, one u64 each
    a.push(call(HELPER_GET_CURRENT_CGROUP_ID));
    a.push2(ld_imm64(1, 0, cgroup_id));
    a.jump(jne(0, 1, 0), "out");
    a.push(ldx(DW, 7, 6, 8)); // r7 = nr
    a.jump(jgt_imm(7, super::SLOTS as i32 - 1, 0), "overflow");
    a.jump(ja(0), "key");
    a.label("overflow");
    a.push(mov_imm(7, super::SLOTS as i32 - 1));
    a.label("key");
    a.push(stx(W, R10, -4, 7));
    emit_increment(&mut a, map_fd, -4, "out");
    a.label("out");
    a.push(mov_imm(0, 0));
    a.push(exit());
    a.finish()
}

fn load_fentry(prog: &[Insn], btf_id: u32) -> std::io::Result<OwnedFd> {
    let bytes = to_bytes(prog);
    let license = c"GPL";
    let mut a = Attr::new();
    a.u32(0, BPF_PROG_TYPE_TRACING)
        .u32(4, prog.len() as u32)
        .u64(8, bytes.as_ptr() as u64)
        .u64(16, license.as_ptr() as u64)
        .u32(68, BPF_TRACE_FENTRY)
        .u32(108, btf_id);
    a.0[48..58].copy_from_slice(b"spo_fentry");
    bpf(BPF_PROG_LOAD, &mut a)
}

fn attach_tracing(prog: &OwnedFd) -> std::io::Result<OwnedFd> {
    let mut a = Attr::new();
    a.u64(0, 0).u32(8, prog.as_raw_fd() as u32);
    bpf(BPF_RAW_TRACEPOINT_OPEN, &mut a)
}

/// A syscall counter attached for one cgroup; dropping it detaches.
#[derive(Debug)]
pub struct Attached {
    map: CountMap,
    // Links first: dropping them detaches before the programs go.
    links: Vec<OwnedFd>,
    progs: Vec<OwnedFd>,
    native: Arch,
}

impl Attached {
    /// Count the calls of cgroup `cgroup_id` through `how`.
    pub fn new(cgroup_id: u64, how: Attachment) -> Result<Attached, NodeError> {
        let native = Arch::native().unwrap_or(Arch::X86_64);
        let map = CountMap::create()?;
        let mut out = Attached { map, links: Vec::new(), progs: Vec::new(), native };
        match how {
            Attachment::RawTracepoint => {
                let prog = load(&program(cgroup_id, out.map.fd.as_raw_fd(), native == Arch::X86_64))?;
                out.links.push(attach(&prog)?);
                out.progs.push(prog);
            }
            Attachment::Fentry => {
                if native != Arch::X86_64 {
                    return Err(NodeError::Workload { what: "the fentry attachment is written for x86_64".into() });
                }
                let btf = Btf::vmlinux()?;
                let id = btf.func_id(DISPATCH).ok_or_else(|| NodeError::Workload {
                    what: format!("this kernel has no `{DISPATCH}` to attach fentry to (Linux 6.9 or a backport)"),
                })?;
                let prog = load_fentry(&fentry_program(cgroup_id, out.map.fd.as_raw_fd()), id)
                    .map_err(|e| err("load the fentry program", e))?;
                out.links.push(attach_tracing(&prog).map_err(|e| err(&format!("attach fentry to {DISPATCH}"), e))?);
                out.progs.push(prog);
            }
        }
        Ok(out)
    }

    /// How many programs are attached.
    pub fn programs(&self) -> usize {
        self.links.len()
    }

    /// The calls counted so far.
    pub fn calls(&self) -> SyscallSet {
        self.map.read(self.native).0
    }
}

impl Drop for Attached {
    fn drop(&mut self) {
        self.links.clear();
        self.progs.clear();
    }
}

/// Whether this kernel runs the fentry program (loads and attaches it).
pub fn fentry_available() -> bool {
    Attached::new(0, Attachment::Fentry).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fentry_program_is_well_formed() {
        let p = fentry_program(7, 3);
        assert_eq!(p.last().map(|i| i.code), Some(0x95));
        for (i, insn) in p.iter().enumerate() {
            if insn.code & 0x07 == 0x05 && insn.code != 0x85 && insn.code != 0x95 {
                let to = i as i64 + 1 + i64::from(insn.off);
                assert!((0..p.len() as i64).contains(&to), "jump at {i} to {to}");
            }
        }
    }
}
