//! Recording: run a workload, observe every syscall it and its descendants
//! make, and turn what was seen into a first seccomp profile.
//!
//! A developer rarely knows which syscalls their program makes; they do know
//! how to run it and exercise it. [`record`] runs it (optionally driving a
//! long-running server with a trigger command until the trigger exits) and
//! returns a [`SyscallSet`] per architecture, which
//! [`SyscallSet::to_spec`] turns into a profile that allows exactly that.
//!
//! Three recorders observe the same thing by different means, so a host
//! can use what it allows (see [`RecorderKind`]); the session logic
//! (`session`) is shared so they differ only in observation, and tests hold
//! them to the same result. The workload always runs in a cgroup of its own
//! ([`cgroup`]), which is how it is stopped, and how eBPF tells it apart.
//!
//! [`lsm`] records for AppArmor instead: BPF LSM programs on the hooks
//! AppArmor mediates (files, exec, capabilities, sockets), on kernels that
//! run them (the VM tier's; not this project's usual hosts).

pub mod base;
pub mod btf;
pub mod cgroup;
mod containers;
mod ebpf;
mod logs;
mod ptrace;
mod session;
mod set;

pub use containers::{cgroup_id, cgroup_tree_ids, container_cgroup, ContainerRecorder};
pub use ebpf::available as ebpf_available;
pub use ebpf::{fentry, lsm};
pub use logs::log_everything_program;
pub use session::{record, Plan, RecorderKind, Recording};
pub use set::{arch_of, SyscallSet, ALWAYS_ALLOWED};
