//! Recording an AppArmor profile with BPF LSM programs: what a workload
//! opens, executes, which capabilities it uses and which sockets it
//! creates, as the LSM hooks AppArmor itself mediates see them (SPO
//! records AppArmor the same way).
//!
//! Four programs (`BPF_PROG_TYPE_LSM`, attached by the BTF id of
//! `bpf_lsm_HOOK` from the running kernel's BTF, [`super::super::btf`]),
//! filtered by the workload's cgroup like the syscall recorder, each add
//! one key to a hash map, so the kernel deduplicates and userspace reads
//! the distinct accesses once at the end:
//!
//! - `file_open(file)`: the path (`bpf_d_path` of `file->f_path`) and the
//!   open mode (`FMODE_READ`, `FMODE_WRITE`, `FMODE_EXEC`);
//! - `bprm_check_security(bprm)`: the executed file, `bpf_d_path` of
//!   `bprm->file` (the file itself, as AppArmor names it: `/proc/self/exe`
//!   or a relative name is resolved);
//! - `capable(cred, ns, cap, opts)`: the capability, unless the check is a
//!   `CAP_OPT_NOAUDIT` probe (the kernel asking whether a capability
//!   happens to be there, which AppArmor does not log either);
//! - `socket_create(family, type, protocol, kern)`: family and type of
//!   sockets the workload (not the kernel) creates.
//!
//! Every program returns 0: it observes and never denies. The result is
//! the abstract form of an `AppArmorProfile` ([`to_abstract`]).

use std::collections::BTreeSet;
use std::os::fd::{AsRawFd, OwnedFd};
use std::process::Command;

use spo_model::apparmor::{check_path, Abstract, Capability, Executable, Filesystem, Network, Protocols, CAPABILITIES};

use super::insn::*;
use super::{bpf, bpf_status, err, Asm, Attr, BPF_MAP_CREATE};
use crate::record::btf::Btf;
use crate::record::cgroup::{self, Cgroup};
use crate::NodeError;

const BPF_PROG_LOAD: libc::c_int = 5;
const BPF_MAP_GET_NEXT_KEY: libc::c_int = 4;
const BPF_RAW_TRACEPOINT_OPEN: libc::c_int = 17;
const BPF_MAP_TYPE_HASH: u32 = 1;
const BPF_PROG_TYPE_LSM: u32 = 29;
const BPF_LSM_MAC: u32 = 27;
const HELPER_MAP_UPDATE_ELEM: i32 = 2;
const HELPER_GET_CURRENT_CGROUP_ID: i32 = 80;
const HELPER_D_PATH: i32 = 147;

/// Distinct accesses the map holds at most.
const MAX_ENTRIES: u32 = 16384;
/// Bytes of a path kept (paths are cut there).
const PATH_MAX: i32 = 256;
/// The key: kind, two numbers, padding, the path.
const KEY_SIZE: usize = 16 + PATH_MAX as usize;
/// Where the key is on the stack.
const KEY: i16 = -(KEY_SIZE as i16);
/// Where the map value (always 1) is on the stack.
const VALUE: i16 = KEY - 8;

const KIND_FILE: u32 = 1;
const KIND_EXEC: u32 = 2;
const KIND_CAP: u32 = 3;
const KIND_SOCKET: u32 = 4;

const FMODE_READ: u32 = 0x1;
const FMODE_WRITE: u32 = 0x2;
const FMODE_EXEC: u32 = 0x20;
const CAP_OPT_NOAUDIT: i32 = 0x2;

/// One access, as the map key holds it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Access {
    /// A path opened, with the `FMODE_*` bits.
    File(String, u32),
    /// A program executed.
    Exec(String),
    /// A capability used (its number).
    Capability(u32),
    /// A socket created: family and type.
    Socket(u32, u32),
}

fn key_of(bytes: &[u8]) -> Option<Access> {
    let word = |i: usize| u32::from_ne_bytes(bytes[i..i + 4].try_into().unwrap_or_default());
    let path = || {
        let p = &bytes[16..];
        String::from_utf8_lossy(&p[..p.iter().position(|&b| b == 0).unwrap_or(p.len())]).into_owned()
    };
    match word(0) {
        KIND_FILE => Some(Access::File(path(), word(4))),
        KIND_EXEC => Some(Access::Exec(path())),
        KIND_CAP => Some(Access::Capability(word(4))),
        KIND_SOCKET => Some(Access::Socket(word(4), word(8))),
        _ => None,
    }
}

/// What one hook's program does between the cgroup check and the map
/// update: fill the key on the stack (or jump to `out`).
type HookBody<'a> = dyn Fn(&mut Asm) + 'a;

/// The hooks, with the program for each.
fn programs(btf: &Btf, cgroup_id: u64, map_fd: i32) -> Result<Vec<(&'static str, Vec<Insn>)>, String> {
    let off = |s: &str, m: &str| {
        btf.member_offset(s, m).map(|o| o as i16).ok_or_else(|| format!("the kernel's BTF has no `struct {s}.{m}`"))
    };
    let (f_mode, f_path, bprm_file) = (off("file", "f_mode")?, off("file", "f_path")?, off("linux_binprm", "file")?);
    let hooks: [(&'static str, &HookBody<'_>); 4] = [
        ("file_open", &|a: &mut Asm| {
            a.push(ldx(DW, 7, 6, 0)); // r7 = file
            a.push(ldx(W, 2, 7, f_mode));
            a.push(and_imm(2, (FMODE_READ | FMODE_WRITE | FMODE_EXEC) as i32));
            a.push(stx(W, R10, KEY + 4, 2));
            a.push(st_imm(W, R10, KEY, KIND_FILE as i32));
            a.push(mov(1, 7));
            a.push(add_imm(1, i32::from(f_path)));
            a.push2(stack_ptr(2, i32::from(KEY) + 16));
            a.push(mov_imm(3, PATH_MAX));
            a.push(call(HELPER_D_PATH));
            a.jump(jgt_imm(0, PATH_MAX, 0), "out");
        }),
        ("bprm_check_security", &|a: &mut Asm| {
            a.push(ldx(DW, 7, 6, 0)); // r7 = bprm
            a.push(ldx(DW, 1, 7, bprm_file)); // r1 = bprm->file
            a.push(st_imm(W, R10, KEY, KIND_EXEC as i32));
            a.push(add_imm(1, i32::from(f_path)));
            a.push2(stack_ptr(2, i32::from(KEY) + 16));
            a.push(mov_imm(3, PATH_MAX));
            a.push(call(HELPER_D_PATH));
            a.jump(jgt_imm(0, PATH_MAX, 0), "out");
        }),
        ("capable", &|a: &mut Asm| {
            a.push(ldx(DW, 2, 6, 24)); // opts
            a.jump(jset_imm(2, CAP_OPT_NOAUDIT, 0), "out");
            a.push(ldx(DW, 2, 6, 16)); // cap
            a.push(stx(W, R10, KEY + 4, 2));
            a.push(st_imm(W, R10, KEY, KIND_CAP as i32));
        }),
        ("socket_create", &|a: &mut Asm| {
            a.push(ldx(DW, 2, 6, 24)); // kern
            a.jump(jne_imm(2, 0, 0), "out");
            a.push(ldx(DW, 2, 6, 0)); // family
            a.push(stx(W, R10, KEY + 4, 2));
            a.push(ldx(DW, 2, 6, 8)); // type, without SOCK_NONBLOCK and SOCK_CLOEXEC
            a.push(and_imm(2, 0xf));
            a.push(stx(W, R10, KEY + 8, 2));
            a.push(st_imm(W, R10, KEY, KIND_SOCKET as i32));
        }),
    ];
    Ok(hooks
        .iter()
        .map(|(hook, body)| {
            let mut a = Asm::new();
            a.push(mov(6, 1)); // r6 = ctx: the hook's arguments, one u64 each
            a.push(call(HELPER_GET_CURRENT_CGROUP_ID));
            a.push2(ld_imm64(1, 0, cgroup_id));
            a.jump(jne(0, 1, 0), "out");
            for i in 0..(KEY_SIZE as i16 / 8) {
                a.push(st_imm(DW, R10, KEY + 8 * i, 0));
            }
            body(&mut a);
            a.push(st_imm(DW, R10, VALUE, 1));
            a.push2(ld_imm64(1, PSEUDO_MAP_FD, map_fd as u32 as u64));
            a.push2(stack_ptr(2, i32::from(KEY)));
            a.push2(stack_ptr(3, i32::from(VALUE)));
            a.push(mov_imm(4, 0));
            a.push(call(HELPER_MAP_UPDATE_ELEM));
            a.label("out");
            a.push(mov_imm(0, 0));
            a.push(exit());
            (*hook, a.finish())
        })
        .collect())
}

fn load_lsm(prog: &[Insn], btf_id: u32, hook: &str) -> Result<OwnedFd, NodeError> {
    let bytes = to_bytes(prog);
    let license = c"GPL";
    let attempt = |log: Option<&mut Vec<u8>>| {
        let mut a = Attr::new();
        a.u32(0, BPF_PROG_TYPE_LSM)
            .u32(4, prog.len() as u32)
            .u64(8, bytes.as_ptr() as u64)
            .u64(16, license.as_ptr() as u64)
            .u32(68, BPF_LSM_MAC)
            .u32(108, btf_id);
        if let Some(buf) = log {
            a.u32(24, 1).u32(28, buf.len() as u32).u64(32, buf.as_mut_ptr() as u64);
        }
        a.0[48..56].copy_from_slice(b"spo_lsm\0");
        bpf(BPF_PROG_LOAD, &mut a)
    };
    attempt(None).map_err(|source| {
        let mut buf = vec![0u8; 1 << 16];
        let _ = attempt(Some(&mut buf));
        let text = String::from_utf8_lossy(&buf);
        let tail: Vec<&str> = text.trim_end_matches('\0').lines().rev().take(4).collect();
        NodeError::BpfRefused {
            log: format!("{hook}: {}", tail.into_iter().rev().collect::<Vec<_>>().join(" / ")),
            source,
        }
    })
}

fn attach(prog: &OwnedFd, hook: &str) -> Result<OwnedFd, NodeError> {
    let mut a = Attr::new();
    a.u64(0, 0).u32(8, prog.as_raw_fd() as u32);
    bpf(BPF_RAW_TRACEPOINT_OPEN, &mut a).map_err(|e| err(&format!("attach to the `{hook}` LSM hook"), e))
}

/// The keys of hash map `map`.
fn keys(map: &OwnedFd) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut key: Option<Vec<u8>> = None;
    loop {
        let mut next = vec![0u8; KEY_SIZE];
        let mut a = Attr::new();
        a.u32(0, map.as_raw_fd() as u32)
            .u64(8, key.as_ref().map_or(0, |k| k.as_ptr() as u64))
            .u64(16, next.as_mut_ptr() as u64);
        if bpf_status(BPF_MAP_GET_NEXT_KEY, &mut a).is_err() {
            return out;
        }
        out.push(next.clone());
        key = Some(next);
    }
}

/// Whether this kernel runs BPF LSM programs: `bpf` in
/// `/sys/kernel/security/lsm` and the hooks in its BTF.
pub fn available() -> bool {
    let lsms = std::fs::read_to_string("/sys/kernel/security/lsm").unwrap_or_default();
    lsms.trim().split(',').any(|l| l == "bpf") && Btf::vmlinux().is_ok_and(|b| b.func_id("bpf_lsm_file_open").is_some())
}

/// What [`record`] saw.
#[derive(Debug, Clone, Default)]
pub struct LsmRecording {
    /// Every distinct access.
    pub accesses: BTreeSet<Access>,
    /// The workload's exit status.
    pub status: Option<std::process::ExitStatus>,
}

/// Run `cmd` in a cgroup of its own with the LSM programs attached, until
/// it exits; its processes left behind are killed.
pub fn record(mut cmd: Command) -> Result<LsmRecording, NodeError> {
    use std::os::unix::process::CommandExt;
    if !available() {
        return Err(NodeError::Workload {
            what: "this kernel does not run BPF LSM programs (boot with `bpf` in lsm=, CONFIG_BPF_LSM, BTF)".into(),
        });
    }
    let btf = Btf::vmlinux()?;
    let cg = Cgroup::create()?;
    let mut a = Attr::new();
    a.u32(0, BPF_MAP_TYPE_HASH).u32(4, KEY_SIZE as u32).u32(8, 8).u32(12, MAX_ENTRIES);
    let map = bpf(BPF_MAP_CREATE, &mut a).map_err(|e| err("create the access map", e))?;
    let progs = programs(&btf, cg.id(), map.as_raw_fd()).map_err(|what| NodeError::Workload { what })?;
    let mut links = Vec::new();
    for (hook, prog) in &progs {
        let id = btf
            .func_id(&format!("bpf_lsm_{hook}"))
            .ok_or_else(|| NodeError::Workload { what: format!("the kernel's BTF has no `bpf_lsm_{hook}`") })?;
        let fd = load_lsm(prog, id, hook)?;
        links.push((attach(&fd, hook)?, fd));
    }
    let procs = cg.procs_writer()?;
    // SAFETY: the hook makes one write(2) (see `cgroup::join`).
    unsafe { cmd.pre_exec(move || cgroup::join(&procs)) };
    let mut child =
        cmd.spawn().map_err(|source| NodeError::Spawn { tool: format!("{:?}", cmd.get_program()), source })?;
    let status = child.wait().map_err(|e| err("wait for the workload", e))?;
    drop(links);
    cg.kill_all();
    let accesses = keys(&map).iter().filter_map(|k| key_of(k)).collect();
    Ok(LsmRecording { accesses, status: Some(status) })
}

/// `/proc/1234/...` as `/proc/*/...`: a pid is not part of what a
/// workload needs.
fn general(path: &str) -> String {
    let mut parts: Vec<&str> = path.split('/').collect();
    if parts.get(1) == Some(&"proc")
        && parts.get(2).is_some_and(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
    {
        parts[2] = "*";
    }
    parts.join("/")
}

/// The abstract profile that allows `accesses`, and what it could not say.
pub fn to_abstract(accesses: &BTreeSet<Access>) -> (Abstract, Vec<String>) {
    let mut notes = Vec::new();
    let (mut exec, mut read, mut write, mut rw) = (BTreeSet::new(), BTreeSet::new(), BTreeSet::new(), BTreeSet::new());
    let mut caps = BTreeSet::new();
    let (mut tcp, mut udp, mut raw) = (false, false, false);
    let usable = |p: &str, notes: &mut Vec<String>| {
        let ok = p.starts_with('/') && check_path(p).is_ok();
        if !ok {
            notes.push(format!("`{}` is not a path a rule can name; left out", p.escape_debug()));
        }
        ok
    };
    for a in accesses {
        match a {
            Access::Exec(p) if usable(p, &mut notes) => {
                exec.insert(p.clone());
            }
            Access::File(p, mode) if mode & FMODE_EXEC == 0 && usable(p, &mut notes) => {
                let p = general(p);
                match (mode & FMODE_READ != 0, mode & FMODE_WRITE != 0) {
                    (true, true) => rw.insert(p),
                    (false, true) => write.insert(p),
                    _ => read.insert(p),
                };
            }
            Access::Capability(n) => match CAPABILITIES.get(*n as usize) {
                Some(c) => {
                    caps.insert((*c).to_owned());
                }
                None => notes.push(format!("capability number {n} has no name here; left out")),
            },
            Access::Socket(family, ty) => match (family, ty) {
                (2 | 10, 1) => tcp = true,
                (2 | 10, 2) => udp = true,
                (2 | 10 | 17, 3) | (17, 2) => raw = true,
                (1, _) | (16, _) => {} // unix and netlink: not in the abstract form's vocabulary
                _ => notes.push(format!("socket family {family} type {ty} is not expressed by the abstract form")),
            },
            _ => {}
        }
    }
    // A path opened for reading and, another time, for writing is
    // read-write; each path is in one list only.
    rw.extend(read.intersection(&write).cloned());
    read.retain(|p| !rw.contains(p));
    write.retain(|p| !rw.contains(p));
    let v = |s: BTreeSet<String>| s.into_iter().collect::<Vec<_>>();
    let a = Abstract {
        executable: (!exec.is_empty())
            .then(|| Executable { allowed_executables: v(exec), allowed_libraries: Vec::new() }),
        filesystem: (!(read.is_empty() && write.is_empty() && rw.is_empty())).then(|| Filesystem {
            read_only_paths: v(read),
            write_only_paths: v(write),
            read_write_paths: v(rw),
        }),
        network: (tcp || udp || raw).then(|| Network {
            allow_raw: raw,
            allowed_protocols: (tcp || udp).then_some(Protocols { allow_tcp: tcp, allow_udp: udp }),
        }),
        capability: (!caps.is_empty()).then(|| Capability { allowed_capabilities: v(caps) }),
        ptrace: None,
    };
    (a, notes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accesses_become_an_abstract_profile() {
        let s: BTreeSet<Access> = [
            Access::Exec("/usr/bin/busybox".into()),
            Access::File("/usr/bin/busybox".into(), FMODE_READ | FMODE_EXEC),
            Access::File("/etc/hosts".into(), FMODE_READ),
            Access::File("/tmp/out".into(), FMODE_WRITE),
            Access::File("/tmp/out".into(), FMODE_READ),
            Access::File("/proc/42/status".into(), FMODE_READ),
            Access::File("pipe:[123]".into(), FMODE_READ),
            Access::Capability(0),
            Access::Socket(2, 1),
            Access::Socket(1, 1),
        ]
        .into();
        let (a, notes) = to_abstract(&s);
        let fs = a.filesystem.unwrap();
        assert_eq!(fs.read_only_paths, ["/etc/hosts", "/proc/*/status"]);
        assert_eq!(fs.read_write_paths, ["/tmp/out"]);
        assert!(fs.write_only_paths.is_empty());
        assert_eq!(a.executable.unwrap().allowed_executables, ["/usr/bin/busybox"]);
        assert_eq!(a.capability.unwrap().allowed_capabilities, ["chown"]);
        assert_eq!(a.network.unwrap().allowed_protocols, Some(Protocols { allow_tcp: true, allow_udp: false }));
        assert_eq!(notes.len(), 1, "{notes:?}");
    }

    #[test]
    fn keys_read_back() {
        let mut k = vec![0u8; KEY_SIZE];
        k[0..4].copy_from_slice(&KIND_FILE.to_ne_bytes());
        k[4..8].copy_from_slice(&3u32.to_ne_bytes());
        k[16..21].copy_from_slice(b"/etc\0");
        assert_eq!(key_of(&k), Some(Access::File("/etc".into(), 3)));
    }

    /// The programs the verifier will see: jumps inside, exit last.
    #[test]
    fn programs_are_well_formed() {
        let Ok(btf) = Btf::vmlinux() else {
            return spo_test_support::skip("needs /sys/kernel/btf/vmlinux");
        };
        let Ok(progs) = programs(&btf, 7, 3) else {
            return spo_test_support::skip("this kernel's BTF lacks struct file or linux_binprm members");
        };
        for (hook, p) in progs {
            assert_eq!(p.last().map(|i| i.code), Some(0x95), "{hook}");
            for (i, insn) in p.iter().enumerate() {
                if insn.code & 0x07 == 0x05 && insn.code != 0x85 && insn.code != 0x95 {
                    let to = i as i64 + 1 + i64::from(insn.off);
                    assert!((0..p.len() as i64).contains(&to), "{hook}: jump at {i} to {to}");
                }
            }
        }
    }
}
