//! The VM test tier: spo-rs against a kernel that has AppArmor, SELinux
//! and the BPF LSM.
//!
//! A host kernel without these LSMs can only compile AppArmor and SELinux
//! profiles; this tier has them enforced. It boots Debian's
//! `linux-image-cloud-amd64` (fetched with `apt-get download`, unpacked
//! with `dpkg -x` into `~/.cache/spo-rs/vm/PACKAGE_VERSION`, never
//! installed as the host's kernel, see [`kernel`]) under Debian's
//! `qemu-system-x86_64` with software emulation, from an initramfs made of
//! host binaries and their shared libraries ([`initramfs`]): busybox, the
//! AppArmor and SELinux userspace, Debian's reference policy, and our
//! `spoc` and `spod`. The guest's `/init` ([`guest`]) mounts the kernel's
//! file systems, runs one scenario script and powers off; results come back
//! as `SPO-RESULT` lines on a second serial port, so kernel messages on the
//! console never interleave with them ([`qemu`]).
//!
//! Why a crate of its own rather than part of `e2e/`: `e2e/` drives a
//! Kubernetes control plane and the machine-wide test node, built from Go
//! modules in about an hour; this tier needs neither, only two Debian
//! packages, and boots in seconds. It is a workspace member outside
//! `default-members`: `cargo test --workspace` builds it, and its tests
//! say SKIPPED unless `SPO_VM=1` is set (the whole tier takes minutes under
//! emulation; `scripts/vm-test.sh` is the one entry, docs/vm.md says more).
//!
//! Emulation, not KVM: `-accel tcg -cpu max` gives every guest the same
//! CPU features (fentry needs none of the host's) and a trial with KVM on
//! this kind of machine hung. Timings measured in the guest are therefore
//! emulated timings, comparable only with each other in the same run.

pub mod error;
pub mod guest;
pub mod initramfs;
pub mod kernel;
pub mod qemu;
pub mod selinux;
pub mod tools;

pub use error::VmError;
pub use guest::{Lsm, Scenario};
pub use qemu::{Boot, Outcome};

/// The switch that runs the tier: `SPO_VM=1`.
pub fn enabled() -> bool {
    std::env::var_os("SPO_VM").is_some_and(|v| v == "1")
}

/// The per-user cache of this tier: `~/.cache/spo-rs/vm` (or
/// `$XDG_CACHE_HOME/spo-rs/vm`, or `$SPO_VM_CACHE`).
pub fn cache_dir() -> std::path::PathBuf {
    if let Some(d) = std::env::var_os("SPO_VM_CACHE") {
        return d.into();
    }
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(std::path::PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| std::path::PathBuf::from(h).join(".cache")))
        .unwrap_or_else(|| "/tmp".into());
    base.join("spo-rs/vm")
}
