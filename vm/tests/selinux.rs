//! SELinux enforced by a real kernel with Debian's reference policy: spod
//! installs a `SelinuxProfile` and a `RawSelinuxProfile` into the live
//! policy (`semodule` on the system store, which reloads the kernel's
//! policy), a process in `NAME.process` (`runcon`) may do what its
//! profile allows and is denied the rest with an AVC in enforcing mode,
//! and only logged in permissive mode; the verifier reports the real type
//! of a container's process and flags an unconfined one; the enricher
//! attributes the AVC records.

mod common;

use std::time::Duration;

use spo_vm::{Lsm, Scenario};

const PROFILE: &str = r#"apiVersion: security-profiles-operator.x-k8s.io/v1
kind: SelinuxProfile
metadata:
  name: seweb
spec:
  inherit:
    - name: container
  allow:
    bin_t:
      file: [entrypoint, execute, execute_no_trans, read, open, getattr, map]
    root_t:
      dir: [search, getattr]
    var_t:
      dir: [search, getattr]
    var_log_t:
      dir: [search, getattr]
      file: [read, open, getattr]
    etc_t:
      dir: [search, getattr]
"#;

const RAW: &str = r#"apiVersion: security-profiles-operator.x-k8s.io/v1
kind: RawSelinuxProfile
metadata:
  name: seraw
spec:
  policy: |
    (blockinherit container)
    (allow process bin_t (file (entrypoint execute execute_no_trans read open getattr map)))
    (allow process root_t (dir (search getattr)))
    (allow process etc_t (dir (search getattr)))
    (allow process etc_t (file (read open getattr)))
"#;

/// A container as spod's verifier sees one: a cgroup named like the
/// container and its OCI bundle, whose `process.selinuxLabel` says what
/// the runtime was asked for. `good` runs in that type, `bad` unconfined.
const BUNDLE: &str = r#"{"ociVersion":"1.0.2","process":{"selinuxLabel":"system_u:system_r:seweb.process:s0"},
"annotations":{"io.kubernetes.cri.sandbox-namespace":"web","io.kubernetes.cri.sandbox-name":"NAME-pod","io.kubernetes.cri.container-name":"NAME"}}"#;

const SCRIPT: &str = r#"
echo allowed > /var/log/app.log
echo secret > /etc/secret
setfiles -F /etc/selinux/default/contexts/files/file_contexts /var/log/app.log /etc/secret
mkdir -p /root/manifests /var/lib/spod
cp /manifests/*.yaml /root/manifests/
spod --manifests /root/manifests --state /var/lib/spod --listen 127.0.0.1:9100 --node vm --audit-source netlink \
  --selinux-store system --bundle-pattern '/run/bundles/{id}/config.json' > /tmp/spod.log 2>&1 &
n=0
until wget -q -O /tmp/status.json http://127.0.0.1:9100/status && [ "$(grep -o '"status": *"\(Installed\|Error\)"' /tmp/status.json | wc -l)" -ge 2 ]; do
  n=$((n + 1)); [ $n -gt 3000 ] && break; sleep 0.2
done
spo_note installed-at "$(cut -d' ' -f1 /proc/uptime)"
spo_file status /tmp/status.json
spo_check modules semodule -l

echo 1 > /sys/fs/selinux/enforce
as() { t=$1; shift; runcon "system_u:system_r:$t:s0" /usr/bin/busybox "$@"; }
# The label as another process sees it (the profile may not read /proc).
runcon system_u:system_r:seweb.process:s0 /usr/bin/busybox sleep 5 &
sleep 1
spo_check web-type cat /proc/$!/attr/current
spo_check web-allowed as seweb.process cat /var/log/app.log
spo_check web-denied as seweb.process cat /etc/secret
spo_check raw-allowed as seraw.process cat /etc/secret
spo_check raw-denied as seraw.process cat /var/log/app.log


echo 0 > /sys/fs/selinux/enforce
spo_check web-permissive as seweb.process cat /etc/secret
# Permissive, so that starting an unconfined process needs no role rules.
for c in good bad; do
  mkdir -p /sys/fs/cgroup/vm-$c /run/bundles/vm-$c
  sed "s/NAME/$c/g" /bundle.json > /run/bundles/vm-$c/config.json
done
sh -c 'echo $$ > /sys/fs/cgroup/vm-good/cgroup.procs; exec runcon system_u:system_r:seweb.process:s0 /usr/bin/busybox sleep 600' &
sh -c 'echo $$ > /sys/fs/cgroup/vm-bad/cgroup.procs; exec runcon unconfined_u:unconfined_r:unconfined_t:s0 /usr/bin/busybox sleep 600' &
sleep 4
wget -q -O /tmp/status2.json http://127.0.0.1:9100/status
spo_file verified /tmp/status2.json
sleep 2
spo_check kernel-log dmesg
spo_file events /var/lib/spod/events.jsonl
spo_file spod-log /tmp/spod.log
"#;

#[test]
fn spod_installs_selinux_profiles_into_the_live_policy() {
    let Some(boot) = common::boot() else { return };
    let scenario = Scenario::new(Lsm::Selinux { enforcing: false }, SCRIPT)
        .file("/manifests/seweb.yaml", PROFILE, 0o644)
        .file("/manifests/seraw.yaml", RAW, 0o644)
        .file("/bundle.json", BUNDLE, 0o644)
        .timeout(Duration::from_secs(900));
    let o = common::run(&boot, &scenario);
    eprintln!(
        "vm: spod's two SELinux profiles in force (one semodule transaction) at guest uptime {} s",
        o.check("installed-at").out
    );
    let spod_log = o.files.get("spod-log").map(|l| String::from_utf8_lossy(l).into_owned()).unwrap_or_default();
    let status: serde_json::Value = serde_json::from_str(&o.file("status")).expect("status JSON");
    for (name, reference) in [("seweb", "seweb.process"), ("seraw", "seraw.process")] {
        let p = status["profiles"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == name)
            .unwrap_or_else(|| panic!("{name} not in status {status:#}\nspod: {spod_log}"));
        assert_eq!(p["status"], "Installed", "{p:#}\nspod: {spod_log}");
        assert_eq!(p["localhostProfile"], reference, "{p:#}");
    }
    let modules = &o.check("modules").out;
    assert!(modules.lines().any(|l| l.trim() == "seweb") && modules.lines().any(|l| l.trim() == "seraw"), "{modules}");

    // Enforcing: the profile's type, its allowed access, an AVC denial.
    assert_eq!(o.check("web-type").out.trim_end_matches(['\0', '\n']), "system_u:system_r:seweb.process:s0");
    let ok = |name: &str| {
        let c = o.check(name);
        assert_eq!(c.rc, 0, "{name} should succeed: {c:?}\n{}", o.tail());
        c.out.trim().to_owned()
    };
    let denied = |name: &str| {
        let c = o.check(name);
        assert_ne!(c.rc, 0, "{name} should be denied: {c:?}");
        assert!(c.out.contains("Permission denied"), "{name}: {c:?}");
    };
    assert_eq!(ok("web-allowed"), "allowed");
    denied("web-denied");
    assert_eq!(ok("raw-allowed"), "secret");
    denied("raw-denied");
    let log = &o.check("kernel-log").out;
    let avc = |perm_class: (&str, &str), permissive: &str| {
        log.lines().any(|l| {
            l.contains("avc:  denied")
                && l.contains(perm_class.0)
                && l.contains("scontext=system_u:system_r:seweb.process:s0")
                && l.contains("tcontext=system_u:object_r:etc_t:s0")
                && l.contains(&format!("tclass={}", perm_class.1))
                && l.contains(&format!("permissive={permissive}"))
        })
    };
    assert!(avc(("{ read }", "file"), "0"), "no enforcing AVC for /etc/secret:\n{log}");
    // Permissive: allowed, and logged.
    assert_eq!(ok("web-permissive"), "secret");
    assert!(avc(("{ read }", "file"), "1"), "no permissive AVC for /etc/secret:\n{log}");

    // The verifier: the real type, and the unconfined process flagged.
    let verified: serde_json::Value = serde_json::from_str(&o.file("verified")).expect("status JSON");
    let procs = verified["processes"].as_array().cloned().unwrap_or_default();
    let by = |c: &str| {
        procs.iter().find(|p| p["containerId"] == c).cloned().unwrap_or_else(|| panic!("no {c} in {procs:#?}"))
    };
    let good = by("vm-good");
    assert_eq!(good["selinuxType"], "seweb.process", "{good:#}");
    assert_eq!(good["ok"], true, "{good:#}");
    let bad = by("vm-bad");
    assert_eq!(bad["selinuxType"], "unconfined_t", "{bad:#}");
    assert_eq!(bad["ok"], false, "{bad:#}");
    let problems = bad["problems"].to_string();
    assert!(problems.contains("unconfined_t") && problems.contains("seweb.process"), "{bad:#}");

    // The enricher: AVC records attributed to the profile.
    let events: Vec<serde_json::Value> =
        o.file("events").lines().map(|l| serde_json::from_str(l).expect("event JSON")).collect();
    let e = events
        .iter()
        .find(|e| e["lsm"]["module"] == "selinux" && e["profile"] == "seweb" && e["lsm"]["target"] == "etc_t")
        .unwrap_or_else(|| panic!("no enriched AVC for seweb in {events:#?}\nspod: {spod_log}"));
    assert_eq!(e["comm"], "busybox", "{e:#}");
    assert_eq!(e["lsm"]["class"], "file", "{e:#}");
    assert!(e["lsm"]["permissions"].to_string().contains("read"), "{e:#}");
    assert!(
        events.iter().any(|e| e["profile"] == "seweb" && e["lsm"]["permissive"] == true),
        "no permissive event: {events:#?}"
    );
}
