//! What runs inside the VM: the guest's `/init`, the scenario it runs, and
//! the result protocol.
//!
//! `/init` (busybox `sh`) mounts `/proc`, `/sys`, `/dev`, securityfs,
//! selinuxfs, cgroup2 and bpffs, brings up loopback, announces
//! `SPO-BOOTED UPTIME` on the result port (`/dev/ttyS1`), sources
//! `/scenario.sh`, announces `SPO-DONE` and powers off (`poweroff -f`: a
//! clean ACPI power-off, so qemu exits by itself). The scenario reports
//! with three shell functions:
//!
//! - `spo_check NAME CMD...` runs CMD and sends `SPO-RESULT NAME RC B64`,
//!   its exit status and its output (stdout and stderr) in base64;
//! - `spo_file NAME PATH` sends `SPO-FILE NAME B64`, a file's content;
//! - `spo_note NAME TEXT` sends a short text as a result with status 0.
//!
//! Base64 keeps every result one line whatever it holds.

use std::path::PathBuf;
use std::time::Duration;

use crate::initramfs::Initramfs;

/// The LSM set a guest boots with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lsm {
    /// AppArmor (and the BPF LSM).
    AppArmor,
    /// SELinux with Debian's reference policy loaded by `/init`
    /// (enforcing or permissive), and the BPF LSM.
    Selinux {
        /// Enforcing (true) or permissive.
        enforcing: bool,
    },
}

impl Lsm {
    /// The kernel command line that selects it.
    pub fn cmdline(self) -> &'static str {
        match self {
            Lsm::AppArmor => "lsm=landlock,lockdown,yama,apparmor,bpf apparmor=1",
            Lsm::Selinux { .. } => "lsm=landlock,lockdown,yama,selinux,bpf selinux=1 security=selinux",
        }
    }
}

/// The `/init` of every guest.
pub const INIT: &str = r#"#!/bin/sh
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin
# busybox applets where no real program is (coreutils' stat reads labels).
for p in $(/usr/bin/busybox --list-full); do [ -e "/$p" ] || /usr/bin/busybox ln -s /usr/bin/busybox "/$p"; done
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t securityfs securityfs /sys/kernel/security
mount -t cgroup2 cgroup2 /sys/fs/cgroup
mount -t bpf bpf /sys/fs/bpf
mount -t tracefs tracefs /sys/kernel/tracing 2>/dev/null
[ -d /sys/fs/selinux ] && mount -t selinuxfs selinuxfs /sys/fs/selinux 2>/dev/null
mkdir -p /dev/pts /dev/shm && mount -t devpts devpts /dev/pts && mount -t tmpfs tmpfs /dev/shm
ip link set lo up
# Every audit record reaches the kernel log: no printk rate limit.
echo 0 > /proc/sys/kernel/printk_ratelimit
hostname spo-vm
exec 3>/dev/ttyS1
stty -F /dev/ttyS1 raw -echo 2>/dev/null
spo_b64() { base64 -w0; }
spo_check() {
  spo_name=$1; shift
  spo_out=$("$@" 2>&1 </dev/null); spo_rc=$?
  printf 'SPO-RESULT %s %s %s\n' "$spo_name" "$spo_rc" "$(printf '%s' "$spo_out" | spo_b64)" >&3
  return $spo_rc
}
spo_note() { printf 'SPO-RESULT %s 0 %s\n' "$1" "$(printf '%s' "$2" | spo_b64)" >&3; }
spo_file() {
  if [ -f "$2" ]; then printf 'SPO-FILE %s %s\n' "$1" "$(spo_b64 < "$2")" >&3; fi
}
# Wait up to $2 seconds (default 30) for file $1 to exist.
spo_wait_file() {
  n=0; while [ ! -e "$1" ] && [ $n -lt $((${2:-30} * 10)) ]; do sleep 0.1; n=$((n + 1)); done
  [ -e "$1" ]
}
echo "SPO-BOOTED $(cut -d' ' -f1 /proc/uptime)" >&3
cd /root
. /scenario.sh
echo "SPO-DONE $(cut -d' ' -f1 /proc/uptime)" >&3
sync
poweroff -f
"#;

/// Load the policy, label the files, set the mode; results
/// `selinux-load` and `selinux-mode`.
fn selinux_prelude(enforcing: bool) -> String {
    format!(
        r#"spo_check selinux-load load_policy
spo_check selinux-label setfiles -F /etc/selinux/default/contexts/files/file_contexts /usr /etc /root /var /tmp /run
chcon system_u:object_r:root_t:s0 /
echo {} > /sys/fs/selinux/enforce
spo_note selinux-mode "$(cat /sys/fs/selinux/enforce) $(cat /proc/self/attr/current)"
"#,
        u8::from(enforcing)
    )
}

/// What a scenario needs in its guest.
#[derive(Debug, Clone)]
pub struct Scenario {
    /// The LSMs to boot with.
    pub lsm: Lsm,
    /// The shell script `/init` sources.
    pub script: String,
    /// Extra files: guest path, content, mode.
    pub files: Vec<(String, Vec<u8>, u32)>,
    /// Whether to copy the SELinux userspace and policy.
    pub selinux: bool,
    /// Whether to copy the AppArmor userspace and `/etc/apparmor.d`.
    pub apparmor: bool,
    /// Host programs to copy, with their libraries.
    pub programs: Vec<PathBuf>,
    /// Guest memory.
    pub memory_mb: u32,
    /// How long the whole boot may take.
    pub timeout: Duration,
}

impl Scenario {
    /// A scenario under `lsm` running `script`. Under SELinux the script
    /// starts with the reference policy loaded, the guest's files labelled
    /// by its file contexts (`setfiles`) and the mode set.
    pub fn new(lsm: Lsm, script: impl Into<String>) -> Scenario {
        let script = match lsm {
            Lsm::AppArmor => script.into(),
            Lsm::Selinux { enforcing } => format!("{}{}", selinux_prelude(enforcing), script.into()),
        };
        Scenario {
            lsm,
            script,
            files: Vec::new(),
            selinux: matches!(lsm, Lsm::Selinux { .. }),
            apparmor: lsm == Lsm::AppArmor,
            programs: Vec::new(),
            memory_mb: 2048,
            timeout: Duration::from_secs(240),
        }
    }

    /// Add a file.
    pub fn file(mut self, path: &str, content: impl Into<Vec<u8>>, mode: u32) -> Scenario {
        self.files.push((path.to_owned(), content.into(), mode));
        self
    }

    /// Add a host program.
    pub fn program(mut self, path: impl Into<PathBuf>) -> Scenario {
        self.programs.push(path.into());
        self
    }

    /// Set the time bound.
    pub fn timeout(mut self, t: Duration) -> Scenario {
        self.timeout = t;
        self
    }

    /// The scenario's own files into `initramfs`.
    pub(crate) fn add_to(&self, initramfs: &mut Initramfs) {
        initramfs.text("/init", INIT, 0o755);
        initramfs.text("/scenario.sh", self.script.as_bytes(), 0o644);
        initramfs.text(
            "/etc/passwd",
            "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n",
            0o644,
        );
        initramfs.text("/etc/group", "root:x:0:\nnogroup:x:65534:\n", 0o644);
        initramfs.text("/etc/hosts", "127.0.0.1 localhost spo-vm\n", 0o644);
        for (path, content, mode) in &self.files {
            initramfs.text(path, content.clone(), *mode);
        }
    }
}
