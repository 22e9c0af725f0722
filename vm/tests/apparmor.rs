//! AppArmor enforced by a real kernel: spod loads `AppArmorProfile`s
//! (abstract and raw `policy`, enforce and complain), a process under each
//! is denied what its profile does not allow (a file, a socket, a
//! capability) or, in complain mode, allowed and logged; the status says
//! `Installed` because the kernel lists the profile; the enricher
//! attributes the kernel's AppArmor records; removing a manifest unloads
//! its profile.

mod common;

use spo_vm::{Lsm, Scenario};

const ABSTRACT: &str = r#"apiVersion: security-profiles-operator.x-k8s.io/v1
kind: AppArmorProfile
metadata:
  name: aa-abstract
spec:
  abstract:
    executable:
      allowedExecutables: [/usr/bin/busybox]
    filesystem:
      readOnlyPaths: [/root/allowed.txt]
      readWritePaths: [/root/owned]
"#;

const COMPLAIN: &str = r#"apiVersion: security-profiles-operator.x-k8s.io/v1
kind: AppArmorProfile
metadata:
  name: aa-complain
  annotations:
    spo-rs.io/mode: complain
spec:
  abstract:
    executable:
      allowedExecutables: [/usr/bin/busybox]
    filesystem:
      readOnlyPaths: [/root/allowed.txt]
"#;

const RAW: &str = r#"apiVersion: security-profiles-operator.x-k8s.io/v1
kind: AppArmorProfile
metadata:
  name: aa-raw
spec:
  policy: |
    abi <abi/3.0>,
    include <tunables/global>
    profile aa-raw flags=(attach_disconnected) {
      include <abstractions/base>
      /usr/bin/busybox rix,
      /root/allowed.txt r,
      /root/owned rw,
      capability chown,
      network inet stream,
    }
"#;

/// `aa-exec -p PROFILE -- busybox ARGS`: a process started under a profile.
const SCRIPT: &str = r#"
echo allowed > /root/allowed.txt
echo secret > /root/secret.txt
touch /root/owned
mkdir -p /root/manifests /var/lib/spod
cp /manifests/*.yaml /root/manifests/
spod --manifests /root/manifests --state /var/lib/spod --listen 127.0.0.1:9100 --node vm --audit-source netlink \
  > /tmp/spod.log 2>&1 &
n=0
until wget -q -O /tmp/status.json http://127.0.0.1:9100/status && [ "$(grep -o '"status": *"Installed"' /tmp/status.json | wc -l)" -ge 3 ]; do
  n=$((n + 1)); [ $n -gt 600 ] && break; sleep 0.1
done
spo_file status /tmp/status.json
spo_check kernel-profiles cat /sys/kernel/security/apparmor/profiles

run() { p=$1; shift; aa-exec -p "$p" -- /usr/bin/busybox "$@"; }
spo_check abstract-read-allowed run aa-abstract cat /root/allowed.txt
spo_check abstract-read-denied run aa-abstract cat /root/secret.txt
spo_check abstract-net-denied run aa-abstract wget -q -O /dev/null http://127.0.0.1:9100/healthz
spo_check abstract-cap-denied run aa-abstract chown 65534 /root/owned
spo_check raw-read-allowed run aa-raw cat /root/allowed.txt
spo_check raw-read-denied run aa-raw cat /root/secret.txt
spo_check raw-net-allowed run aa-raw wget -q -O - http://127.0.0.1:9100/healthz
spo_check raw-cap-allowed run aa-raw chown 65534 /root/owned
spo_check complain-read run aa-complain cat /root/secret.txt
spo_check complain-cap run aa-complain chown 0 /root/owned
# The label as another process sees it (the profile itself may not read /proc).
aa-exec -p aa-abstract -- /usr/bin/busybox sleep 5 &
sleep 1
spo_check attr cat /proc/$!/attr/current
sleep 2
spo_check kernel-log dmesg
wget -q -O /tmp/violations.json http://127.0.0.1:9100/violations
spo_file violations /tmp/violations.json
spo_file events /var/lib/spod/events.jsonl

rm /root/manifests/aa-raw.yaml
n=0
while grep -q '^aa-raw ' /sys/kernel/security/apparmor/profiles && [ $n -lt 300 ]; do n=$((n + 1)); sleep 0.1; done
spo_check profiles-after-removal cat /sys/kernel/security/apparmor/profiles
spo_file spod-log /tmp/spod.log
"#;

fn kernel_log_has(log: &str, needles: &[&str]) -> bool {
    log.lines().any(|l| needles.iter().all(|n| l.contains(n)))
}

#[test]
fn spod_loads_apparmor_profiles_that_the_kernel_enforces() {
    let Some(boot) = common::boot() else { return };
    let scenario = Scenario::new(Lsm::AppArmor, SCRIPT)
        .file("/manifests/aa-abstract.yaml", ABSTRACT, 0o644)
        .file("/manifests/aa-complain.yaml", COMPLAIN, 0o644)
        .file("/manifests/aa-raw.yaml", RAW, 0o644)
        .program("/usr/bin/aa-exec");
    let o = common::run(&boot, &scenario);
    let status: serde_json::Value = serde_json::from_str(&o.file("status")).expect("status JSON");
    let spod_log = o.files.get("spod-log").map(|l| String::from_utf8_lossy(l).into_owned()).unwrap_or_default();
    for name in ["aa-abstract", "aa-complain", "aa-raw"] {
        let p = status["profiles"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == name)
            .unwrap_or_else(|| panic!("{name} not in status {status:#}\nspod: {spod_log}"));
        assert_eq!(p["status"], "Installed", "{p:#}");
    }
    let profiles = &o.check("kernel-profiles").out;
    for line in ["aa-abstract (enforce)", "aa-complain (complain)", "aa-raw (enforce)"] {
        assert!(profiles.lines().any(|l| l == line), "kernel lacks `{line}`:\n{profiles}");
    }

    // Enforce mode: what the profile allows works, the rest is denied.
    let ok = |name: &str| {
        let c = o.check(name);
        assert_eq!(c.rc, 0, "{name} should succeed: {c:?}");
        c.out.clone()
    };
    let denied = |name: &str, msg: &str| {
        let c = o.check(name);
        assert_ne!(c.rc, 0, "{name} should be denied: {c:?}");
        assert!(c.out.contains(msg), "{name}: expected `{msg}` in {c:?}");
    };
    assert_eq!(ok("abstract-read-allowed").trim(), "allowed");
    denied("abstract-read-denied", "Permission denied");
    denied("abstract-net-denied", "Permission denied");
    denied("abstract-cap-denied", "Operation not permitted");
    assert_eq!(ok("raw-read-allowed").trim(), "allowed");
    denied("raw-read-denied", "Permission denied");
    assert!(ok("raw-net-allowed").contains("ok"), "{:?}", o.check("raw-net-allowed"));
    ok("raw-cap-allowed");
    assert_eq!(o.check("attr").out.trim(), "aa-abstract (enforce)");

    // Complain mode: allowed, and the kernel logs it.
    assert_eq!(ok("complain-read").trim(), "secret");
    ok("complain-cap");
    let log = &o.check("kernel-log").out;
    assert!(
        kernel_log_has(log, &["apparmor=\"ALLOWED\"", "profile=\"aa-complain\"", "name=\"/root/secret.txt\""]),
        "no ALLOWED record for aa-complain:\n{log}"
    );
    assert!(kernel_log_has(log, &["apparmor=\"DENIED\"", "profile=\"aa-abstract\"", "capname=\"chown\""]), "{log}");
    assert!(kernel_log_has(log, &["apparmor=\"DENIED\"", "profile=\"aa-abstract\"", "family=\"inet\""]), "{log}");

    // The enricher: one event per record, attributed to the profile.
    let events: Vec<serde_json::Value> =
        o.file("events").lines().map(|l| serde_json::from_str(l).expect("event JSON")).collect();
    let find = |profile: &str, verdict: &str, what: &str| {
        events.iter().find(|e| {
            e["profile"] == profile
                && e["action"] == verdict
                && e["lsm"]["module"] == "apparmor"
                && e["lsm"]["target"].as_str().is_some_and(|t| t.contains(what))
        })
    };
    let e = find("aa-abstract", "DENIED", "/root/secret.txt")
        .unwrap_or_else(|| panic!("no enriched denial of /root/secret.txt in {events:#?}\nspod: {spod_log}"));
    assert_eq!(e["comm"], "busybox", "{e:#}");
    assert!(e["pid"].as_u64().is_some_and(|p| p > 1), "{e:#}");
    assert!(find("aa-abstract", "DENIED", "chown").is_some(), "{events:#?}");
    assert!(find("aa-complain", "ALLOWED", "/root/secret.txt").is_some(), "{events:#?}");
    let violations: serde_json::Value = serde_json::from_str(&o.file("violations")).expect("violations JSON");
    assert!(violations.to_string().contains("aa-abstract"), "{violations:#}");

    // Removing the manifest unloads the profile.
    let after = &o.check("profiles-after-removal").out;
    assert!(!after.lines().any(|l| l.starts_with("aa-raw ")), "aa-raw still loaded:\n{after}");
    assert!(after.lines().any(|l| l == "aa-abstract (enforce)"), "{after}");
}
