//! The node-wide recorder: one eBPF program counts the syscalls of every
//! cgroup on the node, so a container the agent did not start can be
//! recorded from its first call.
//!
//! Why count everything: the agent learns a container's ID (and so its
//! cgroup) only from the pod's status, after the container has started; a
//! program that filtered by cgroup id would have to be loaded before the id
//! exists, and would miss the container's start-up, which is where most of
//! its distinct syscalls are made. So the program counts per
//! (cgroup v2 id, architecture slot, syscall number) for every task in a
//! hash map, and [`ContainerRecorder::counts`] reads one cgroup's entries
//! once the id is known. [`ContainerRecorder::forget`] removes a cgroup's
//! entries when a recording ends.
//!
//! Noise: tasks in the root cgroup (id 1) are not counted. On a host with
//! cgroup v1 controllers and the v2 hierarchy mounted beside them (hybrid),
//! every task not placed in a v2 cgroup is in the v2 root, so this keeps
//! the host's own processes out of the map; on a unified host most
//! services live in `system.slice` and are counted, which costs a few
//! hundred entries. A full map is never silent: calls whose entry could
//! not be inserted are counted in [`ContainerRecorder::dropped`].
//!
//! Finding the cgroup: container runtimes name the container's v2 cgroup
//! after its ID, as `<id>` (cgroupfs driver) or `<prefix>-<id>.scope`
//! (systemd driver); [`container_cgroup`] looks for those names. runc and
//! crun also place containers in their own v2 cgroup on a hybrid host,
//! where the v1 controllers do the resource control, so the same lookup
//! works there. A runtime may run the container in a child of that cgroup
//! (crun's `container` sub-cgroup under systemd): [`cgroup_tree_ids`] gives
//! the ids of a cgroup and its descendants, for [`ContainerRecorder::counts_of`].
//!
//! Counting starts at a cgroup's first exec: a runtime's init joins the
//! container's cgroup before it execs the entrypoint (`runc init`, a Go
//! program, then mounts, pivots root, sets capabilities and the seccomp
//! filter; crun does the same in C), and those calls (`mount`,
//! `pivot_root`, `capset`, `seccomp`, the Go runtime's `epoll_*` and
//! `futex`, ...) are the runtime's, not the workload's: recorded, they would
//! make every profile allow them. So a second map, `started`, holds the
//! cgroups in which a task has called `execve` (the exec itself is
//! counted; the program sees the call, not its result, so a failed exec
//! starts the counting too), and calls of a cgroup not in it are not
//! counted. `execveat` does not start the counting: runc 1.1 re-execs
//! itself from a sealed memfd with `fexecve` (an `execveat` with an empty
//! path) at the start of `runc init`, which may run after the parent has
//! moved it into the cgroup (seen on Debian's runc 1.1.5, in a race), and
//! counting from there records all of runc init. Runtimes exec the
//! entrypoint with `execve` (runc's Go `unix.Exec`, crun's `execv`), so
//! a workload is still counted from its exec; an entrypoint exec'd with
//! `execveat` would be counted only from its next `execve`. On x86_64 the
//! i386 and x32 `execve` numbers start the counting too.
//!
//! The few calls runc makes between installing the filter and the exec
//! (`close`, `fcntl`, `execve`, ...) must still be allowed by the profile:
//! they are not recorded, but come from the shipped base list, which the
//! caller adds.
//!
//! Cost: while attached, every syscall on the node goes through the
//! tracepoint. On this kind of host (best of seven runs of two million
//! calls, on a busy machine) a `getppid` took 75 ns without the program,
//! 104 ns with it for a task it skips (root cgroup), 135 ns for a task of a
//! cgroup that has not exec'd yet and 147 ns for a task it counts (119 ns
//! before the start check, which costs one more hash lookup).

use std::collections::{BTreeSet, VecDeque};
use std::fs;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use spo_model::arch::X32_SYSCALL_BIT;
use spo_model::Arch;

use super::cgroup::cgroup2_root;
use super::ebpf::insn::*;
use super::ebpf::{
    attach, attribute, bpf, bpf_status, emit_increment, emit_index, err, load, Asm, Attr, BPF_MAP_CREATE,
    BPF_MAP_TYPE_ARRAY, HELPER_GET_CURRENT_CGROUP_ID, HELPER_MAP_LOOKUP_ELEM, SLOTS,
};
use super::set::SyscallSet;
use crate::NodeError;

/// Entries in the count map: one per (cgroup, architecture, syscall) seen.
/// A container makes a few hundred distinct calls at most, so this covers
/// about a thousand busy cgroups; the map is not preallocated, so only the
/// entries in use take memory.
pub const MAP_ENTRIES: u32 = 262_144;
/// The v2 root cgroup's id, whose tasks are not counted.
const ROOT_CGROUP_ID: u64 = 1;
/// How deep below the v2 root a container's cgroup is looked for.
const MAX_DEPTH: usize = 8;
/// Directory names of container cgroups: `(prefix, suffix)` around the ID.
const NAME_FORMS: [(&str, &str); 5] =
    [("", ""), ("cri-containerd-", ".scope"), ("crio-", ".scope"), ("docker-", ".scope"), ("libpod-", ".scope")];

const BPF_MAP_LOOKUP_ELEM: libc::c_int = 1;
const BPF_MAP_DELETE_ELEM: libc::c_int = 3;
const BPF_MAP_GET_NEXT_KEY: libc::c_int = 4;
const BPF_MAP_TYPE_HASH: u32 = 1;
const BPF_F_NO_PREALLOC: u32 = 1;
const BPF_ANY: i32 = 0;
const BPF_NOEXIST: i32 = 1;
const HELPER_MAP_UPDATE_ELEM: i32 = 2;

/// The count map's key: `{ u64 cgroup_id; u32 slot_index; u32 pad; }`,
/// the padding always zero (the hash compares all 16 bytes).
const KEY_SIZE: u32 = 16;

fn key_parts(k: &[u8; 16]) -> (u64, u32) {
    let id = u64::from_ne_bytes(k[..8].try_into().expect("8 bytes"));
    let index = u32::from_ne_bytes(k[8..12].try_into().expect("4 bytes"));
    (id, index)
}

/// The node-wide program, attached; detached when dropped.
#[derive(Debug)]
pub struct ContainerRecorder {
    // Dropped first: closing the link detaches the program.
    _link: OwnedFd,
    _prog: OwnedFd,
    counts: OwnedFd,
    started: OwnedFd,
    dropped: OwnedFd,
    native: Arch,
}

impl ContainerRecorder {
    /// Load and attach the program. Needs `CAP_BPF` and `CAP_PERFMON` (or
    /// root) and a mounted cgroup v2 hierarchy.
    pub fn start() -> Result<ContainerRecorder, NodeError> {
        Self::start_sized(MAP_ENTRIES)
    }

    fn start_sized(entries: u32) -> Result<ContainerRecorder, NodeError> {
        if cgroup2_root().is_none() {
            return Err(NodeError::Workload {
                what: "no cgroup v2 hierarchy is mounted; containers cannot be told apart without one".into(),
            });
        }
        let native = Arch::native().unwrap_or(Arch::X86_64);
        let mut a = Attr::new();
        a.u32(0, BPF_MAP_TYPE_HASH).u32(4, KEY_SIZE).u32(8, 8).u32(12, entries).u32(16, BPF_F_NO_PREALLOC);
        let counts = bpf(BPF_MAP_CREATE, &mut a).map_err(|e| err("create the node-wide count map", e))?;
        let mut a = Attr::new();
        a.u32(0, BPF_MAP_TYPE_HASH).u32(4, 8).u32(8, 8).u32(12, entries).u32(16, BPF_F_NO_PREALLOC);
        let started = bpf(BPF_MAP_CREATE, &mut a).map_err(|e| err("create the started-cgroups map", e))?;
        let mut a = Attr::new();
        a.u32(0, BPF_MAP_TYPE_ARRAY).u32(4, 4).u32(8, 8).u32(12, 1);
        let dropped = bpf(BPF_MAP_CREATE, &mut a).map_err(|e| err("create the dropped-calls map", e))?;
        let maps = Maps { counts: counts.as_raw_fd(), started: started.as_raw_fd(), dropped: dropped.as_raw_fd() };
        let prog = load(&program(maps, native))?;
        let link = attach(&prog)?;
        Ok(ContainerRecorder { _link: link, _prog: prog, counts, started, dropped, native })
    }

    /// Calls counted so far for the tasks of cgroup `cgroup_id`.
    pub fn counts(&self, cgroup_id: u64) -> Result<SyscallSet, NodeError> {
        self.counts_of(&[cgroup_id])
    }

    /// Calls counted so far for the tasks of any of `cgroup_ids` (a
    /// container's cgroup and its descendants, see [`cgroup_tree_ids`]).
    /// Calls with a syscall number beyond the table's slots are left out.
    pub fn counts_of(&self, cgroup_ids: &[u64]) -> Result<SyscallSet, NodeError> {
        let mut set = SyscallSet::new();
        for key in keys(&self.counts, |id| cgroup_ids.contains(&id))? {
            // An entry forgotten meanwhile is simply not counted.
            if let Some(n) = self.lookup(&key)? {
                attribute(&mut set, self.native, key_parts(&key).1, n);
            }
        }
        Ok(set)
    }

    /// Remove every entry of cgroup `cgroup_id` (at the end of its
    /// recording, or when it is gone), freeing room in the map.
    pub fn forget(&self, cgroup_id: u64) -> Result<(), NodeError> {
        for key in keys(&self.counts, |id| id == cgroup_id)? {
            map_delete(&self.counts, &key).map_err(|e| err("delete a count", e))?;
        }
        map_delete(&self.started, &cgroup_id.to_ne_bytes()).map_err(|e| err("delete a started cgroup", e))
    }

    /// Calls not counted because a map was full (the count map, or the
    /// started map at a cgroup's first exec), since the start.
    pub fn dropped(&self) -> Result<u64, NodeError> {
        // An array's one element always exists.
        let n = map_lookup(&self.dropped, &0u32.to_ne_bytes()).map_err(|e| err("read the dropped-calls count", e))?;
        Ok(n.unwrap_or(0))
    }

    fn lookup(&self, key: &[u8; 16]) -> Result<Option<u64>, NodeError> {
        map_lookup(&self.counts, key).map_err(|e| err("read a count", e))
    }
}

/// The 64-bit value of `key` in `map`; `None` when the key is absent.
fn map_lookup(map: &OwnedFd, key: &[u8]) -> io::Result<Option<u64>> {
    let mut value = [0u8; 8];
    let mut a = Attr::new();
    a.u32(0, map.as_raw_fd() as u32).u64(8, key.as_ptr() as u64).u64(16, value.as_mut_ptr() as u64);
    match bpf_status(BPF_MAP_LOOKUP_ELEM, &mut a) {
        Ok(_) => Ok(Some(u64::from_ne_bytes(value))),
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Delete `key` from `map`; a key already gone is no error.
fn map_delete(map: &OwnedFd, key: &[u8]) -> io::Result<()> {
    let mut a = Attr::new();
    a.u32(0, map.as_raw_fd() as u32).u64(8, key.as_ptr() as u64);
    match bpf_status(BPF_MAP_DELETE_ELEM, &mut a) {
        Ok(_) => Ok(()),
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => Ok(()),
        Err(e) => Err(e),
    }
}

/// The keys of the count map `map` whose cgroup id `want`s, each once
/// (iterating a hash map that changes meanwhile may visit a key twice).
fn keys(map: &OwnedFd, want: impl Fn(u64) -> bool) -> Result<BTreeSet<[u8; 16]>, NodeError> {
    let mut out = BTreeSet::new();
    let mut cur: Option<[u8; 16]> = None;
    loop {
        let mut next = [0u8; 16];
        let mut a = Attr::new();
        a.u32(0, map.as_raw_fd() as u32).u64(16, next.as_mut_ptr() as u64);
        if let Some(k) = &cur {
            a.u64(8, k.as_ptr() as u64);
        }
        match bpf_status(BPF_MAP_GET_NEXT_KEY, &mut a) {
            Ok(_) => {}
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => return Ok(out),
            Err(e) => return Err(err("iterate the node-wide count map", e)),
        }
        if want(key_parts(&next).0) {
            out.insert(next);
        }
        cur = Some(next);
    }
}

/// The slot indices (see [`emit_index`]) of `execve` on `native` and, on
/// x86_64, in the i386 and x32 slots. `execveat` is left out: see the
/// module documentation.
fn exec_indices(native: Arch) -> Vec<u32> {
    let mut arches = vec![(0, native)];
    if native == Arch::X86_64 {
        arches.extend([(1, Arch::X86), (2, Arch::X32)]);
    }
    let mut out = Vec::new();
    for (slot, arch) in arches {
        if let Some(nr) = arch.syscall_number("execve").map(|nr| nr & !X32_SYSCALL_BIT) {
            if nr < SLOTS - 1 {
                out.push(slot * SLOTS + nr);
            }
        }
    }
    out
}

/// The descriptors of the program's maps.
#[derive(Clone, Copy)]
struct Maps {
    counts: i32,
    started: i32,
    dropped: i32,
}

/// The program for a host whose native architecture is `native`: for
/// every call of a task outside the root cgroup, mark the cgroup started
/// if the call is an exec (see [`exec_indices`]); then, if the cgroup is
/// started, add one to the entry {cgroup id, slot index}, inserting it
/// first if missing. A failed insert into either map (it is full) adds one
/// to the dropped count.
///
/// Stack: key at fp-16 (id, also the started map's key) and fp-8 (index,
/// pad), the value to insert at fp-24, the dropped map's key at fp-28.
fn program(maps: Maps, native: Arch) -> Vec<Insn> {
    // The value at fp-24 stored under the key at fp-16 in `map`, with
    // `flags`; jumps to `ok` when stored, falls through when not.
    let update = |a: &mut Asm, map: i32, flags: i32, ok: &'static str| {
        a.push2(ld_imm64(1, PSEUDO_MAP_FD, map as u32 as u64));
        a.push2(stack_ptr(2, -16));
        a.push2(stack_ptr(3, -24));
        a.push(mov_imm(4, flags));
        a.push(call(HELPER_MAP_UPDATE_ELEM));
        a.jump(jeq_imm(0, 0, 0), ok);
    };
    let detect_compat = native == Arch::X86_64;
    let mut a = Asm::new();
    a.push(mov(6, 1)); // r6 = ctx
    a.push(call(HELPER_GET_CURRENT_CGROUP_ID));
    a.push(mov(9, 0)); // r9 = cgroup id
    a.jump(jeq_imm(9, ROOT_CGROUP_ID as i32, 0), "done");
    emit_index(&mut a, detect_compat); // r8 = slot index
    a.push(stx(DW, R10, -16, 9));
    a.push(stx(W, R10, -8, 8));
    a.push(st_imm(W, R10, -4, 0));
    a.push(st_imm(DW, R10, -24, 1));
    for index in exec_indices(native) {
        a.jump(jeq_imm(8, index as i32, 0), "exec");
    }
    a.jump(ja(0), "started?");
    a.label("exec");
    update(&mut a, maps.started, BPF_ANY, "count");
    a.jump(ja(0), "full");
    a.label("started?");
    a.push2(ld_imm64(1, PSEUDO_MAP_FD, maps.started as u32 as u64));
    a.push2(stack_ptr(2, -16));
    a.push(call(HELPER_MAP_LOOKUP_ELEM));
    a.jump(jeq_imm(0, 0, 0), "done");
    a.label("count");
    emit_increment(&mut a, maps.counts, -16, "insert");
    a.jump(ja(0), "done");
    a.label("insert");
    update(&mut a, maps.counts, BPF_NOEXIST, "done");
    // Another CPU inserted the same key first, or the map is full.
    emit_increment(&mut a, maps.counts, -16, "full");
    a.jump(ja(0), "done");
    a.label("full");
    a.push(st_imm(W, R10, -28, 0));
    emit_increment(&mut a, maps.dropped, -28, "done");
    a.label("done");
    a.push(mov_imm(0, 0));
    a.push(exit());
    a.finish()
}

/// The id of the cgroup at `path`, as `bpf_get_current_cgroup_id` reports
/// it: the inode number of its directory in the v2 hierarchy.
pub fn cgroup_id(path: &Path) -> io::Result<u64> {
    Ok(fs::metadata(path)?.ino())
}

/// The ids of the cgroup at `path` and of every cgroup below it (at most
/// `MAX_DEPTH` levels).
pub fn cgroup_tree_ids(path: &Path) -> io::Result<Vec<u64>> {
    let mut ids = vec![cgroup_id(path)?];
    walk(path, MAX_DEPTH, |dir, _| {
        if let Ok(id) = cgroup_id(dir) {
            ids.push(id);
        }
        false
    });
    Ok(ids)
}

/// The v2 cgroup directory of the container whose runtime ID is
/// `container_id` (64 hex digits, optionally as the pod status reports it,
/// `containerd://<id>`), or `None` if no such directory exists.
pub fn container_cgroup(container_id: &str) -> Option<PathBuf> {
    container_cgroup_in(&cgroup2_root()?, container_id)
}

/// [`container_cgroup`] below `root`: the usual parents (`kubepods*`,
/// `system.slice`, `machine.slice`) are searched first, then the rest.
fn container_cgroup_in(root: &Path, container_id: &str) -> Option<PathBuf> {
    let id = container_id.rsplit_once("://").map_or(container_id, |(_, id)| id);
    if id.len() != 64 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let names: Vec<String> = NAME_FORMS.iter().map(|(pre, post)| format!("{pre}{id}{post}")).collect();
    let preferred = |name: &str| name.starts_with("kubepods") || name == "system.slice" || name == "machine.slice";
    let mut found = None;
    let mut search = |top: &Path| {
        walk(top, MAX_DEPTH - 1, |dir, name| {
            if names.iter().any(|n| n == name) {
                found = Some(dir.to_path_buf());
                return true;
            }
            false
        })
    };
    let tops: Vec<(PathBuf, String)> = subdirs(root).collect();
    for (dir, name) in &tops {
        if names.contains(name) {
            return Some(dir.clone());
        }
    }
    for (dir, _) in tops.iter().filter(|(_, n)| preferred(n)) {
        if search(dir) {
            return found;
        }
    }
    for (dir, _) in tops.iter().filter(|(_, n)| !preferred(n)) {
        if search(dir) {
            return found;
        }
    }
    None
}

/// The subdirectories of `dir` with their names (unreadable ones skipped:
/// a cgroup may be removed while it is walked).
fn subdirs(dir: &Path) -> impl Iterator<Item = (PathBuf, String)> {
    fs::read_dir(dir).into_iter().flatten().flatten().filter_map(|e| {
        let is_dir = e.file_type().ok()?.is_dir();
        let name = e.file_name().into_string().ok()?;
        is_dir.then(|| (e.path(), name))
    })
}

/// Visit the directories below `top`, breadth first, at most `depth`
/// levels down, until `visit(dir, name)` returns true; whether it did.
fn walk(top: &Path, depth: usize, mut visit: impl FnMut(&Path, &str) -> bool) -> bool {
    let mut queue = VecDeque::from([(top.to_path_buf(), 0)]);
    while let Some((dir, level)) = queue.pop_front() {
        if level >= depth {
            continue;
        }
        for (sub, name) in subdirs(&dir) {
            if visit(&sub, &name) {
                return true;
            }
            queue.push_back((sub, level + 1));
        }
    }
    false
}

#[cfg(test)]
#[allow(unsafe_code)]
mod tests {
    use std::os::unix::process::CommandExt;
    use std::process::Command;
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;
    use crate::record::cgroup::{self, Cgroup};

    fn id64(c: char) -> String {
        std::iter::repeat_n(c, 64).collect()
    }

    /// A scratch directory, removed when dropped.
    struct TempDir(PathBuf);
    impl TempDir {
        fn new() -> TempDir {
            static SERIAL: AtomicU32 = AtomicU32::new(0);
            let p = std::env::temp_dir().join(format!(
                "spo-containers-{}-{}",
                std::process::id(),
                SERIAL.fetch_add(1, Ordering::Relaxed)
            ));
            fs::create_dir_all(&p).expect("create the scratch directory");
            TempDir(p)
        }
    }
    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    #[test]
    fn container_cgroups_are_found_in_every_runtime_naming() {
        let t = TempDir::new();
        let root = &t.0;
        let (a, b, c, d, e, f) = (id64('a'), id64('b'), id64('c'), id64('d'), id64('e'), id64('f'));
        let cases = [
            (format!("kubepods/besteffort/pod1/{a}"), a.clone()),
            (
                format!(
                    "kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod2.slice/cri-containerd-{b}.scope"
                ),
                b.clone(),
            ),
            (format!("kubepods.slice/kubepods-pod3.slice/crio-{c}.scope"), c.clone()),
            (format!("system.slice/docker-{d}.scope"), d.clone()),
            (format!("machine.slice/libpod-{e}.scope"), e.clone()),
            (format!("user.slice/user-0.slice/x/y/libpod-{f}.scope"), f.clone()),
        ];
        for (path, _) in &cases {
            fs::create_dir_all(root.join(path)).expect("create a fake cgroup");
        }
        // A conmon scope and a sibling whose name only contains the ID.
        fs::create_dir_all(root.join(format!("kubepods.slice/crio-conmon-{}.scope", id64('9')))).expect("mkdir");
        fs::create_dir_all(root.join(format!("kubepods/x-{}", id64('8')))).expect("mkdir");
        for (path, id) in &cases {
            assert_eq!(container_cgroup_in(root, id), Some(root.join(path)), "{path}");
        }
        assert_eq!(container_cgroup_in(root, &format!("containerd://{a}")), Some(root.join(&cases[0].0)));
        assert_eq!(container_cgroup_in(root, &id64('9')), None, "conmon is not the container");
        assert_eq!(container_cgroup_in(root, &id64('8')), None);
        assert_eq!(container_cgroup_in(root, &id64('7')), None);
        assert_eq!(container_cgroup_in(root, "../kubepods"), None);
        assert_eq!(container_cgroup_in(root, &a[..12]), None, "a short ID is not looked up");
        // Beyond the depth bound, nothing is found.
        let deep = format!("a/b/c/d/e/f/g/h/i/{}", id64('1'));
        fs::create_dir_all(root.join(&deep)).expect("mkdir");
        assert_eq!(container_cgroup_in(root, &id64('1')), None);
        // The tree below a container's cgroup.
        let top = root.join(&cases[4].0);
        fs::create_dir_all(top.join("container")).expect("mkdir");
        let ids = cgroup_tree_ids(&top).expect("ids");
        assert_eq!(ids, vec![cgroup_id(&top).expect("id"), cgroup_id(&top.join("container")).expect("id")]);
    }

    /// The recorder, or why this host cannot run the test.
    fn recorder() -> Option<ContainerRecorder> {
        recorder_sized(MAP_ENTRIES)
    }

    fn recorder_sized(entries: u32) -> Option<ContainerRecorder> {
        if !spo_test_support::is_root() {
            spo_test_support::skip("the node-wide recorder needs root");
            return None;
        }
        match ContainerRecorder::start_sized(entries) {
            Ok(r) => Some(r),
            Err(e) => {
                spo_test_support::skip(format!("the node-wide recorder does not load here: {e}"));
                None
            }
        }
    }

    /// Run /bin/true in `cg`. The child joins the cgroup, makes the calls
    /// `before` (raw syscall numbers without arguments), then an `execve`
    /// that fails (of the empty path) and the calls `after`, then execs
    /// /bin/true; or, if `exec` is false, exits after `before`, having
    /// never exec'd.
    fn run_in(cg: &Cgroup, before: &'static [libc::c_long], after: &'static [libc::c_long], exec: bool) {
        let procs = cg.procs_writer().expect("open cgroup.procs");
        let mut cmd = Command::new("/bin/true");
        // SAFETY: the hook only makes raw syscalls and one write(2); it
        // allocates nothing and takes no lock. Every pointer passed to
        // execve is to a live, NUL-terminated string or a NULL-terminated
        // array on this stack.
        unsafe {
            cmd.pre_exec(move || {
                cgroup::join(&procs)?;
                for nr in before {
                    libc::syscall(*nr, 0, 0, 0);
                }
                if !exec {
                    libc::_exit(0);
                }
                let empty: [*const libc::c_char; 1] = [std::ptr::null()];
                // Returns: ENOENT.
                libc::syscall(libc::SYS_execve, c"".as_ptr(), empty.as_ptr(), empty.as_ptr());
                for nr in after {
                    libc::syscall(*nr, 0, 0, 0);
                }
                Ok(())
            });
        }
        let status = cmd.status().expect("run /bin/true");
        assert!(status.success());
    }

    fn names(set: &SyscallSet) -> BTreeSet<&'static str> {
        let native = Arch::native().unwrap_or(Arch::X86_64);
        set.names(native).0
    }

    #[test]
    fn counts_calls_per_cgroup_from_a_start_after_loading() {
        let Some(rec) = recorder() else { return };
        let (Ok(a), Ok(b)) = (Cgroup::create(), Cgroup::create()) else {
            spo_test_support::skip("cannot create cgroups");
            return;
        };
        assert!(rec.counts(a.id()).expect("counts").is_empty(), "a new cgroup has no calls yet");
        // a's getcpu comes before its first exec, so it is not counted.
        run_in(&a, &[libc::SYS_getcpu], &[libc::SYS_getppid, libc::SYS_getppid], true);
        run_in(&b, &[], &[libc::SYS_getcpu], true);
        let got_a = rec.counts(a.id()).expect("counts of a");
        let got_b = rec.counts(b.id()).expect("counts of b");
        let (na, nb) = (names(&got_a), names(&got_b));
        for want in ["getppid", "execve", "exit_group"] {
            assert!(na.contains(want), "{want} missing from {na:?}");
        }
        assert!(!na.contains("getcpu"), "a getcpu made before the first exec (or b's) counted for a: {na:?}");
        assert!(nb.contains("getcpu") && nb.contains("execve"), "{nb:?}");
        assert!(!nb.contains("getppid"), "a's getppid counted for b: {nb:?}");
        let native = Arch::native().unwrap_or(Arch::X86_64);
        let count = |name| {
            let nr = native.syscall_number(name).expect("a native call");
            got_a.numbers(native).find(|(n, _)| *n == nr).map(|(_, n)| n)
        };
        assert_eq!(count("getppid"), Some(2), "getppid made twice");
        assert_eq!(count("execve"), Some(2), "the failed exec and /bin/true's");
        let both = rec.counts_of(&[a.id(), b.id()]).expect("counts of both");
        assert_eq!(both.total(), got_a.total() + got_b.total());
        assert_eq!(rec.dropped().expect("dropped"), 0);

        rec.forget(a.id()).expect("forget a");
        assert!(rec.counts(a.id()).expect("counts").is_empty(), "forgotten");
        assert_eq!(rec.counts(b.id()).expect("counts of b"), got_b, "b untouched");
        rec.forget(b.id()).expect("forget b");
        // Forgetting also forgets the start: a cgroup must exec again.
        run_in(&a, &[libc::SYS_getcpu], &[], false);
        assert!(rec.counts(a.id()).expect("counts").is_empty(), "counted after forget without an exec");
        assert_eq!(rec.dropped().expect("dropped"), 0);
    }

    #[test]
    fn a_cgroup_whose_tasks_never_exec_is_not_counted() {
        let Some(rec) = recorder() else { return };
        let Ok(a) = Cgroup::create() else {
            spo_test_support::skip("cannot create cgroups");
            return;
        };
        run_in(&a, &[libc::SYS_getppid, libc::SYS_getcpu], &[], false);
        let got = rec.counts(a.id()).expect("counts");
        assert!(got.is_empty(), "{:?}", names(&got));
        // Once a task execs, the same calls are counted.
        run_in(&a, &[], &[libc::SYS_getcpu], true);
        let got = names(&rec.counts(a.id()).expect("counts"));
        assert!(got.contains("getcpu") && got.contains("execve"), "{got:?}");
        rec.forget(a.id()).expect("forget a");
    }

    #[test]
    fn calls_that_find_the_map_full_are_counted_as_dropped() {
        let Some(rec) = recorder_sized(2) else { return };
        let Ok(a) = Cgroup::create() else {
            spo_test_support::skip("cannot create cgroups");
            return;
        };
        run_in(&a, &[], &[libc::SYS_getppid, libc::SYS_getcpu, libc::SYS_getppid], true);
        // /bin/true alone makes more than two distinct calls.
        assert!(rec.dropped().expect("dropped") > 0);
        assert!(rec.counts(a.id()).expect("counts").distinct() <= 2);
    }

    #[test]
    fn dropping_the_recorder_stops_counting() {
        let Some(rec) = recorder() else { return };
        let Ok(a) = Cgroup::create() else {
            spo_test_support::skip("cannot create cgroups");
            return;
        };
        let counts = rec.counts.try_clone().expect("dup the map");
        drop(rec);
        run_in(&a, &[], &[libc::SYS_getppid], true);
        let seen = keys(&counts, |id| id == a.id()).expect("keys");
        assert!(seen.is_empty(), "{} entries counted after the program was detached", seen.len());
    }

    /// A runc container started after the recorder: found by its ID, and
    /// its calls counted from the exec of its entrypoint, not before (runc
    /// init's). Needs `runc` and a static `/bin/busybox` (Debian `runc`,
    /// `busybox-static`).
    #[test]
    fn a_runc_container_is_found_and_recorded() {
        let busybox = Path::new("/bin/busybox");
        let has_runc = Command::new("runc").arg("--version").output().is_ok_and(|o| o.status.success());
        if !has_runc || !busybox.exists() {
            spo_test_support::skip("needs runc and a static /bin/busybox");
            return;
        }
        let Some(rec) = recorder() else { return };
        let t = TempDir::new();
        fs::create_dir_all(t.0.join("rootfs/bin")).expect("mkdir rootfs");
        fs::create_dir_all(t.0.join("rootfs/proc")).expect("mkdir rootfs");
        fs::copy(busybox, t.0.join("rootfs/bin/busybox")).expect("copy busybox");
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
        let id = format!("{:032x}{:032x}", u128::from(std::process::id()), nanos);
        let parent = format!("spo-test-{}", std::process::id());
        let config = serde_json::json!({
            "ociVersion": "1.0.2",
            "process": {
                "args": ["/bin/busybox", "sh", "-c", "/bin/busybox uname -a >/dev/null; exec /bin/busybox sleep 30"],
                "cwd": "/", "user": {"uid": 0, "gid": 0}, "env": ["PATH=/bin"],
            },
            "root": {"path": "rootfs", "readonly": true},
            "mounts": [{"destination": "/proc", "type": "proc", "source": "proc"}],
            "linux": {
                "namespaces": [{"type": "pid"}, {"type": "mount"}, {"type": "ipc"}, {"type": "uts"}],
                "cgroupsPath": format!("/{parent}/{id}"),
            },
        });
        fs::write(t.0.join("config.json"), config.to_string()).expect("write config.json");
        let name = format!("spo-test-{}", &id[..16]);
        // Not a pipe: the detached container would hold it open.
        let log = t.0.join("runc.log");
        let started = Command::new("runc")
            .args(["run", "-d", "--bundle"])
            .arg(&t.0)
            .arg(&name)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(fs::File::create(&log).expect("create runc.log"))
            .status()
            .expect("run runc");
        let cleanup = || {
            let _ = Command::new("runc").args(["delete", "-f", &name]).output();
            for hierarchy in subdirs(Path::new("/sys/fs/cgroup")) {
                let _ = fs::remove_dir(hierarchy.0.join(&parent));
            }
            if let Some(root) = cgroup2_root() {
                let _ = fs::remove_dir(root.join(&parent));
            }
        };
        if !started.success() {
            cleanup();
            spo_test_support::skip(format!(
                "runc cannot run a container here: {}",
                fs::read_to_string(&log).unwrap_or_default()
            ));
            return;
        }
        let found = container_cgroup(&format!("containerd://{id}"));
        let mut seen = BTreeSet::new();
        if let Some(dir) = &found {
            let ids = cgroup_tree_ids(dir).expect("cgroup ids");
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
            while !seen.contains("nanosleep")
                && !seen.contains("clock_nanosleep")
                && std::time::Instant::now() < deadline
            {
                std::thread::sleep(std::time::Duration::from_millis(20));
                seen = names(&rec.counts_of(&ids).expect("counts"));
            }
        }
        cleanup();
        let dir = found.expect("the container's v2 cgroup");
        assert!(dir.ends_with(format!("{parent}/{id}")), "{}", dir.display());
        for want in ["execve", "uname", "wait4"] {
            assert!(seen.contains(want), "{want} missing from {seen:?}");
        }
        // runc init's own calls, made in the cgroup before the exec.
        for runtime in ["pivot_root", "mount", "capset", "seccomp"] {
            assert!(!seen.contains(runtime), "runc init's {runtime} counted: {seen:?}");
        }
    }

    #[test]
    fn jumps_land_on_their_labels() {
        let maps = Maps { counts: 3, started: 4, dropped: 5 };
        let p = program(maps, Arch::X86_64);
        for (i, insn) in p.iter().enumerate() {
            if insn.code & 0x07 == 0x05 && insn.code != 0x85 && insn.code != 0x95 {
                let to = i as i64 + 1 + i64::from(insn.off);
                assert!((0..p.len() as i64).contains(&to), "jump at {i} to {to}");
            }
        }
        assert_eq!(p.last().map(|i| i.code), Some(0x95));
        assert!(program(maps, Arch::Aarch64).len() < p.len());
        assert_eq!(exec_indices(Arch::Aarch64), [221]);
        assert_eq!(exec_indices(Arch::X86_64), [59, SLOTS + 11, 2 * SLOTS + 520]);
    }
}
