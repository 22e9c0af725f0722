//! The eBPF recorder: a program on the `sys_enter` raw tracepoint counts
//! every call made by a task of the workload's cgroup in an array map
//! indexed by architecture and syscall number; the map is memory-mapped,
//! so reading the counts (for progress and at the end) costs no syscall.
//!
//! Why a raw tracepoint: it is the cheapest attachment for every syscall
//! (no perf buffer, no argument copying), it loads on this kernel where
//! fentry and kprobes do not, and `BPF_RAW_TRACEPOINT_OPEN` needs neither
//! tracefs nor debugfs mounted.
//!
//! Why a cgroup filter: the workload is moved into a cgroup of its own
//! before it execs, and every thread, fork and exec inherits it, so the
//! program needs no view of the process tree.
//!
//! Architecture of a call: on x86_64 a call through a 32-bit entry point
//! (`int $0x80`, `sysenter`, or a 32-bit `syscall`) runs with `TS_COMPAT`
//! set in the task's `thread_info.status`, which the program reads (the
//! kernel's own `in_ia32_syscall()` test); x32 calls carry bit
//! `0x40000000` in their number. `thread_info` is the first member of
//! `task_struct` (`CONFIG_THREAD_INFO_IN_TASK`) and `status` follows two
//! longs: offset 16, stable since Linux 5.x. On other architectures every
//! call is counted as native: their compat entry points are not detected.
//!
//! The program is built in Rust ([`insn`]) rather than compiled from C, so
//! there is no clang build step and nothing to turn off.
#![allow(unsafe_code)]

pub mod fentry;
pub(super) mod insn;
pub mod lsm;

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::process::{Child, Command, ExitStatus};
use std::ptr::NonNull;
use std::sync::OnceLock;

use spo_model::arch::X32_SYSCALL_BIT;
use spo_model::Arch;

use self::insn::*;
use super::cgroup::Cgroup;
use super::session::Running;
use super::set::SyscallSet;
use crate::NodeError;

const RECORDER: &str = "ebpf";

/// Slots per architecture in the map: syscall numbers at or above the
/// last slot (no architecture has that many) are counted in it.
pub(super) const SLOTS: u32 = 1024;
/// Architecture slots: native, i386 compat, x32.
pub(super) const ARCH_SLOTS: u32 = 3;
/// `TS_COMPAT` in `thread_info.status` on x86_64.
const TS_COMPAT: i32 = 0x0002;
/// Offset of `thread_info.status` in `task_struct` on x86_64.
const THREAD_INFO_STATUS: i32 = 16;

// bpf(2) commands, map and program types, helpers.
pub(super) const BPF_MAP_CREATE: libc::c_int = 0;
const BPF_PROG_LOAD: libc::c_int = 5;
const BPF_RAW_TRACEPOINT_OPEN: libc::c_int = 17;
pub(super) const BPF_MAP_TYPE_ARRAY: u32 = 2;
const BPF_F_MMAPABLE: u32 = 1 << 10;
const BPF_PROG_TYPE_RAW_TRACEPOINT: u32 = 17;
pub(super) const HELPER_MAP_LOOKUP_ELEM: i32 = 1;
const HELPER_GET_CURRENT_TASK: i32 = 35;
/// `bpf_get_current_cgroup_id`.
pub const HELPER_GET_CURRENT_CGROUP_ID: i32 = 80;
const HELPER_PROBE_READ_KERNEL: i32 = 113;

/// `union bpf_attr`, as bytes: every command's fields are at fixed offsets
/// and everything after them must be zero.
#[repr(C, align(8))]
pub(super) struct Attr(pub(super) [u8; 128]);

impl Attr {
    pub(super) fn new() -> Attr {
        Attr([0; 128])
    }
    pub(super) fn u32(&mut self, off: usize, v: u32) -> &mut Self {
        self.0[off..off + 4].copy_from_slice(&v.to_ne_bytes());
        self
    }
    pub(super) fn u64(&mut self, off: usize, v: u64) -> &mut Self {
        self.0[off..off + 8].copy_from_slice(&v.to_ne_bytes());
        self
    }
}

/// bpf(2) for a command that returns a status, not a descriptor.
pub(super) fn bpf_status(cmd: libc::c_int, attr: &mut Attr) -> io::Result<libc::c_long> {
    // SAFETY: `attr` is a live, zero-padded bpf_attr of the size passed;
    // every pointer stored in it points at memory that outlives the call.
    let rc = unsafe { libc::syscall(libc::SYS_bpf, cmd, attr.0.as_mut_ptr(), attr.0.len()) };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(rc)
}

/// bpf(2) for a command that returns a new descriptor.
pub(super) fn bpf(cmd: libc::c_int, attr: &mut Attr) -> io::Result<OwnedFd> {
    let rc = bpf_status(cmd, attr)?;
    // SAFETY: these commands return a fresh descriptor nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(rc as i32) })
}

pub(super) fn err(op: &str, source: io::Error) -> NodeError {
    NodeError::Recorder { recorder: RECORDER, op: op.to_owned(), source }
}

/// The count map, memory-mapped.
#[derive(Debug)]
struct CountMap {
    fd: OwnedFd,
    mem: NonNull<u64>,
    len: usize,
}

// SAFETY: the mapping is only read, through volatile loads, and lives as
// long as the value; the kernel updates it atomically.
unsafe impl Send for CountMap {}

impl CountMap {
    fn create() -> Result<CountMap, NodeError> {
        let entries = SLOTS * ARCH_SLOTS;
        let mut a = Attr::new();
        a.u32(0, BPF_MAP_TYPE_ARRAY).u32(4, 4).u32(8, 8).u32(12, entries).u32(16, BPF_F_MMAPABLE);
        let fd = bpf(BPF_MAP_CREATE, &mut a).map_err(|e| err("create the count map", e))?;
        let len = entries as usize * 8;
        // SAFETY: maps `len` bytes of the array map read-only; the result is
        // checked before use and unmapped in Drop.
        let p = unsafe { libc::mmap(std::ptr::null_mut(), len, libc::PROT_READ, libc::MAP_SHARED, fd.as_raw_fd(), 0) };
        if p == libc::MAP_FAILED {
            return Err(err("map the count map", io::Error::last_os_error()));
        }
        let mem = NonNull::new(p.cast()).ok_or_else(|| err("map the count map", io::Error::other("null mapping")))?;
        Ok(CountMap { fd, mem, len })
    }

    fn get(&self, slot: usize) -> u64 {
        debug_assert!(slot * 8 < self.len);
        // SAFETY: `slot` is within the mapping (callers iterate over the
        // map's entries); volatile because the kernel writes concurrently.
        unsafe { self.mem.as_ptr().add(slot).read_volatile() }
    }

    /// Calls counted, per architecture.
    fn read(&self, native: Arch) -> (SyscallSet, u64) {
        let mut set = SyscallSet::new();
        let mut overflow = 0;
        for index in 0..SLOTS * ARCH_SLOTS {
            let n = self.get(index as usize);
            if n != 0 {
                overflow += attribute(&mut set, native, index, n);
            }
        }
        (set, overflow)
    }
}

/// Add `n` calls counted at slot `index` (see [`emit_index`]) to `set`;
/// returns `n` if the slot is the overflow one, whose calls cannot be
/// attributed, and 0 otherwise. Slots of an architecture `native` has not
/// (compat ones off x86_64) are never written and are ignored.
pub(super) fn attribute(set: &mut SyscallSet, native: Arch, index: u32, n: u64) -> u64 {
    let nr = index % SLOTS;
    let arch = match index / SLOTS {
        0 => native,
        1 if native == Arch::X86_64 => Arch::X86,
        2 if native == Arch::X86_64 => Arch::X32,
        _ => return 0,
    };
    if nr == SLOTS - 1 {
        return n;
    }
    set.add(arch, if arch == Arch::X32 { nr | X32_SYSCALL_BIT } else { nr }, n);
    0
}

impl Drop for CountMap {
    fn drop(&mut self) {
        // SAFETY: unmapping exactly the mapping made in `create`.
        unsafe { libc::munmap(self.mem.as_ptr().cast(), self.len) };
    }
}

/// A program with forward jumps to named labels, resolved at the end.
pub(super) struct Asm {
    prog: Vec<Insn>,
    fixups: Vec<(usize, &'static str)>,
    labels: Vec<(&'static str, usize)>,
}

impl Asm {
    pub(super) fn new() -> Asm {
        Asm { prog: Vec::new(), fixups: Vec::new(), labels: Vec::new() }
    }
    pub(super) fn push(&mut self, i: Insn) {
        self.prog.push(i);
    }
    pub(super) fn push2(&mut self, i: [Insn; 2]) {
        self.prog.extend(i);
    }
    pub(super) fn jump(&mut self, i: Insn, to: &'static str) {
        self.fixups.push((self.prog.len(), to));
        self.prog.push(i);
    }
    pub(super) fn label(&mut self, name: &'static str) {
        self.labels.push((name, self.prog.len()));
    }
    pub(super) fn finish(mut self) -> Vec<Insn> {
        for (at, to) in &self.fixups {
            let target = self.labels.iter().find(|(n, _)| n == to).map(|(_, p)| *p).expect("label defined");
            self.prog[*at].off = (target - at - 1) as i16;
        }
        self.prog
    }
}

/// The recorder program for cgroup `cgroup_id` and map descriptor `map_fd`.
fn program(cgroup_id: u64, map_fd: i32, detect_compat: bool) -> Vec<Insn> {
    let mut a = Asm::new();
    // r6 = ctx: u64 args[2] = { struct pt_regs *regs, long id }
    a.push(mov(6, 1));
    a.push(call(HELPER_GET_CURRENT_CGROUP_ID));
    a.push2(ld_imm64(1, 0, cgroup_id));
    a.jump(jne(0, 1, 0), "out");
    emit_index(&mut a, detect_compat);
    a.push(stx(W, R10, -4, 8));
    emit_increment(&mut a, map_fd, -4, "out");
    a.label("out");
    a.push(mov_imm(0, 0));
    a.push(exit());
    a.finish()
}

/// Emit: add one to the 64-bit value of map `map_fd` whose key is on the
/// stack at `fp+key`, or jump to `missing` when the map has no such key.
/// Clobbers r0 to r5.
pub(super) fn emit_increment(a: &mut Asm, map_fd: i32, key: i32, missing: &'static str) {
    a.push2(ld_imm64(1, PSEUDO_MAP_FD, map_fd as u32 as u64));
    a.push2(stack_ptr(2, key));
    a.push(call(HELPER_MAP_LOOKUP_ELEM));
    a.jump(jeq_imm(0, 0, 0), missing);
    a.push2(increment_r0());
}

/// Emit the computation of a call's slot index (architecture slot times
/// [`SLOTS`] plus the number, clamped to the last slot) into r8, with the
/// raw tracepoint's context in r6. Uses r7 and the stack at `fp-16..-12`
/// as scratch; keeps r9.
pub(super) fn emit_index(a: &mut Asm, detect_compat: bool) {
    a.push(ldx(DW, 7, 6, 8)); // r7 = id
    a.push(mov_imm(8, 0)); // r8 = architecture slot
    if detect_compat {
        a.push(st_imm(DW, R10, -16, 0));
        a.push(call(HELPER_GET_CURRENT_TASK));
        a.push(mov(3, 0));
        a.push(add_imm(3, THREAD_INFO_STATUS));
        a.push2(stack_ptr(1, -16));
        a.push(mov_imm(2, 4));
        a.push(call(HELPER_PROBE_READ_KERNEL));
        a.push(ldx(W, 1, R10, -16));
        a.push(and_imm(1, TS_COMPAT));
        a.jump(jeq_imm(1, 0, 0), "native");
        a.push(mov_imm(8, 1));
        a.jump(ja(0), "key");
        a.label("native");
        a.push(mov(1, 7));
        a.push(and_imm(1, X32_SYSCALL_BIT as i32));
        a.jump(jeq_imm(1, 0, 0), "key");
        a.push(mov_imm(8, 2));
    }
    a.label("key");
    a.push(and_imm(7, !(X32_SYSCALL_BIT as i32) & 0x7fff_ffff));
    a.jump(jgt_imm(7, SLOTS as i32 - 1, 0), "overflow");
    a.jump(ja(0), "index");
    a.label("overflow");
    a.push(mov_imm(7, SLOTS as i32 - 1));
    a.label("index");
    a.push(lsh_imm(8, 10));
    a.push(add(8, 7));
}

/// Load the program; on refusal, load it again with the verifier's log to
/// say why.
pub(super) fn load(prog: &[Insn]) -> Result<OwnedFd, NodeError> {
    let bytes = to_bytes(prog);
    let license = c"Dual BSD/GPL";
    let attempt = |log: Option<&mut Vec<u8>>| {
        let mut a = Attr::new();
        a.u32(0, BPF_PROG_TYPE_RAW_TRACEPOINT)
            .u32(4, prog.len() as u32)
            .u64(8, bytes.as_ptr() as u64)
            .u64(16, license.as_ptr() as u64);
        if let Some(buf) = log {
            a.u32(24, 1).u32(28, buf.len() as u32).u64(32, buf.as_mut_ptr() as u64);
        }
        a.0[48..60].copy_from_slice(b"spo_record\0\0");
        bpf(BPF_PROG_LOAD, &mut a)
    };
    match attempt(None) {
        Ok(fd) => Ok(fd),
        Err(source) => {
            let mut buf = vec![0u8; 1 << 16];
            let _ = attempt(Some(&mut buf));
            let text = String::from_utf8_lossy(&buf);
            let text = text.trim_end_matches('\0');
            let tail: Vec<&str> = text.lines().rev().take(4).collect();
            let log = if tail.is_empty() {
                "no verifier log (missing CAP_BPF or CAP_PERFMON?)".to_owned()
            } else {
                tail.into_iter().rev().collect::<Vec<_>>().join(" / ")
            };
            Err(NodeError::BpfRefused { log, source })
        }
    }
}

pub(super) fn attach(prog: &OwnedFd) -> Result<OwnedFd, NodeError> {
    let name = c"sys_enter";
    let mut a = Attr::new();
    a.u64(0, name.as_ptr() as u64).u32(8, prog.as_raw_fd() as u32);
    bpf(BPF_RAW_TRACEPOINT_OPEN, &mut a).map_err(|e| err("attach to the sys_enter raw tracepoint", e))
}

/// Whether this host loads and attaches the recorder (checked once).
pub fn available() -> bool {
    static OK: OnceLock<bool> = OnceLock::new();
    *OK.get_or_init(|| {
        let Ok(map) = CountMap::create() else {
            return false;
        };
        let Ok(prog) = load(&program(0, map.fd.as_raw_fd(), cfg!(target_arch = "x86_64"))) else {
            return false;
        };
        attach(&prog).is_ok()
    })
}

/// A workload counted by the attached program.
#[derive(Debug)]
struct Counted {
    child: Child,
    status: Option<ExitStatus>,
    map: CountMap,
    // Dropping the link detaches the program; the program goes with it.
    link: Option<OwnedFd>,
    _prog: OwnedFd,
    native: Arch,
}

/// Load and attach the program for `cg`, then spawn `cmd` (whose
/// `pre_exec` hook moves it into `cg`).
pub(super) fn start(mut cmd: Command, cg: &Cgroup) -> Result<Box<dyn Running>, NodeError> {
    let native = Arch::native().unwrap_or(Arch::X86_64);
    let map = CountMap::create()?;
    let prog = load(&program(cg.id(), map.fd.as_raw_fd(), native == Arch::X86_64))?;
    let link = attach(&prog)?;
    let child = cmd.spawn().map_err(|source| NodeError::Spawn { tool: format!("{:?}", cmd.get_program()), source })?;
    Ok(Box::new(Counted { child, status: None, map, link: Some(link), _prog: prog, native }))
}

impl Running for Counted {
    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn try_wait(&mut self) -> Result<Option<ExitStatus>, NodeError> {
        if self.status.is_none() {
            self.status = self.child.try_wait().map_err(|e| err("wait for the workload", e))?;
        }
        Ok(self.status)
    }

    fn seen(&mut self) -> usize {
        self.map.read(self.native).0.distinct()
    }

    fn finish(mut self: Box<Self>) -> Result<(SyscallSet, Vec<String>), NodeError> {
        self.link.take();
        let (set, overflow) = self.map.read(self.native);
        let mut notes = Vec::new();
        if overflow > 0 {
            notes.push(format!("{overflow} call(s) had a syscall number beyond {} and were not attributed", SLOTS - 1));
        }
        Ok((set, notes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jumps_land_on_their_labels() {
        let p = program(7, 3, true);
        // Every jump stays inside the program and the last is exit.
        for (i, insn) in p.iter().enumerate() {
            if insn.code & 0x07 == 0x05 && insn.code != 0x85 && insn.code != 0x95 {
                let to = i as i64 + 1 + i64::from(insn.off);
                assert!((0..p.len() as i64).contains(&to), "jump at {i} to {to}");
            }
        }
        assert_eq!(p.last().map(|i| i.code), Some(0x95));
        assert!(program(7, 3, false).len() < p.len());
    }
}
