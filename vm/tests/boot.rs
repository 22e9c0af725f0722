//! The tier itself: the kernel boots with each LSM set, the guest's
//! userspace runs, results come back, and the machine powers off.

mod common;

use spo_vm::{Lsm, Scenario};

#[test]
fn boots_with_apparmor_and_the_bpf_lsm() {
    let Some(boot) = common::boot() else { return };
    let script = r#"
spo_check lsm cat /sys/kernel/security/lsm
spo_check apparmor-enabled cat /sys/module/apparmor/parameters/enabled
spo_check parser apparmor_parser --version
spo_check spod spod --version
spo_check spoc spoc --version
spo_check btf test -s /sys/kernel/btf/vmlinux
"#;
    let o = common::run(&boot, &Scenario::new(Lsm::AppArmor, script));
    assert_eq!(o.check("lsm").out.trim(), "lockdown,capability,landlock,yama,apparmor,bpf");
    assert_eq!(o.check("apparmor-enabled").out.trim(), "Y");
    for tool in ["parser", "spod", "spoc", "btf"] {
        assert_eq!(o.check(tool).rc, 0, "{tool}: {:?}", o.check(tool));
    }
    assert!(o.guest_uptime_at_init > 0.0);
    assert!(o.boot <= o.total);
}

#[test]
fn boots_with_selinux_and_debians_policy_enforcing() {
    let Some(boot) = common::boot() else { return };
    let script = r#"
spo_check lsm cat /sys/kernel/security/lsm
spo_check policyvers cat /sys/fs/selinux/policyvers
spo_check label /usr/bin/stat -c %C /usr/bin/busybox
"#;
    // coreutils' stat reads SELinux labels; busybox's cannot (and busybox's
    // sh prefers its own applets to programs on PATH: hence the full path).
    let o = common::run(&boot, &Scenario::new(Lsm::Selinux { enforcing: true }, script).program("/usr/bin/stat"));
    assert_eq!(o.check("lsm").out.trim(), "lockdown,capability,landlock,yama,selinux,bpf");
    assert_eq!(o.check("selinux-load").rc, 0, "{:?}", o.check("selinux-load"));
    assert_eq!(o.check("policyvers").out.trim(), "33");
    // Enforcing, and /init runs as the kernel's domain.
    assert_eq!(o.check("selinux-mode").out.trim(), "1 system_u:system_r:kernel_t:s0");
    assert!(o.check("label").out.contains(":bin_t:"), "{:?}", o.check("label"));
}
