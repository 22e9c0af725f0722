//! `spoc record --from-audit`: SELinux AVC denials and AppArmor records, in
//! auditd-log and kernel-log form, become a SelinuxProfile `allow` map and
//! an AppArmorProfile abstract that `spoc validate` accepts.

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use std::process::Command;

const SPOC: &str = env!("CARGO_BIN_EXE_spoc");

const AVC: &str = "\
type=AVC msg=audit(1700000000.1:10): avc:  denied  { read open } for  pid=42 comm=\"cat\" name=\"f\" scontext=system_u:system_r:container_t:s0:c1,c2 tcontext=system_u:object_r:var_log_t:s0 tclass=file permissive=0
[ 100.1] audit: type=1400 audit(1700000000.2:11): avc:  denied  { name_bind } for pid=42 src=80 scontext=system_u:system_r:container_t:s0 tcontext=system_u:object_r:http_port_t:s0 tclass=tcp_socket permissive=0
type=AVC msg=audit(1700000000.3:12): avc:  denied  { read } for pid=42 tclass=file
";

const APPARMOR: &str = r#"type=AVC msg=audit(1.1:1): apparmor="DENIED" operation="open" profile="web" name="/etc/web.conf" pid=1 comm="web" requested_mask="r" denied_mask="r" fsuid=0 ouid=0
audit(1.1:6): apparmor="DENIED" operation="capable" profile="web" pid=1 comm="web" capability=12 capname="net_admin"
audit(1.1:7): apparmor="DENIED" operation="create" profile="web" pid=1 comm="web" family="inet" sock_type="stream" protocol=6 requested_mask="create" denied_mask="create"
"#;

fn run(kind: &str, log: &str) -> (String, String) {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("audit.log"), log).unwrap();
    let out = Command::new(SPOC)
        .args(["record", "--from-audit", "audit.log", "--kind", kind, "-o", "p.yaml"])
        .current_dir(tmp.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{stderr}");
    let yaml = std::fs::read_to_string(tmp.path().join("p.yaml")).unwrap();
    let v = Command::new(SPOC).args(["validate", "p.yaml"]).current_dir(tmp.path()).output().unwrap();
    assert!(
        v.status.success(),
        "spoc validate refused\n{yaml}\n{}{}",
        String::from_utf8_lossy(&v.stdout),
        String::from_utf8_lossy(&v.stderr)
    );
    (yaml, stderr)
}

#[test]
fn avc_denials_become_a_selinux_profile() {
    let (yaml, stderr) = run("selinux", AVC);
    assert!(yaml.contains("kind: SelinuxProfile"), "{yaml}");
    assert!(yaml.contains("var_log_t:\n      file:\n      - open\n      - read\n"), "{yaml}");
    assert!(yaml.contains("http_port_t:\n      tcp_socket:\n      - name_bind\n"), "{yaml}");
    assert!(stderr.contains("AVC record without scontext, tcontext"), "{stderr}");
}

#[test]
fn apparmor_records_become_an_abstract_profile() {
    let (yaml, _) = run("apparmor", APPARMOR);
    assert!(yaml.contains("kind: AppArmorProfile"), "{yaml}");
    assert!(yaml.contains("readOnlyPaths:\n      - /etc/web.conf\n"), "{yaml}");
    assert!(yaml.contains("- net_admin"), "{yaml}");
    assert!(yaml.contains("allowTcp: true"), "{yaml}");
}
