//! Recording an AppArmor profile with the BPF LSM: on a kernel that runs
//! BPF LSM programs, a workload's file, network, capability and exec use
//! is recorded into an `AppArmorProfile`; spod loads it; the same workload
//! runs under it, and an access it never made is denied.

mod common;

use spo_vm::{Lsm, Scenario};

/// Reads, writes, changes an owner (CAP_CHOWN), opens a TCP connection,
/// executes a program.
const WORKLOAD: &str = r#"cat /root/allowed.txt
echo out > /root/out.txt
chown 65534 /root/out.txt
wget -q -O - http://127.0.0.1:9100/healthz
/usr/bin/busybox true
"#;

const SCRIPT: &str = r#"
echo allowed > /root/allowed.txt
echo secret > /root/secret.txt
mkdir -p /root/manifests /var/lib/spod
spod --manifests /root/manifests --state /var/lib/spod --listen 127.0.0.1:9100 --node vm --audit-source none \
  > /tmp/spod.log 2>&1 &
n=0; until wget -q -O /dev/null http://127.0.0.1:9100/healthz || [ $n -gt 300 ]; do n=$((n + 1)); sleep 0.1; done
spo_check lsm cat /sys/kernel/security/lsm
spo-vm-record aa-rec /tmp/aa-rec.json /usr/bin/busybox sh /root/workload.sh > /tmp/record.out 2> /tmp/record.err
spo_note record-rc "$?"
spo_file recorded /tmp/aa-rec.json
spo_file record-err /tmp/record.err
spo_file record-out /tmp/record.out
cp /tmp/aa-rec.json /root/manifests/aa-rec.json
n=0
until wget -q -O /tmp/status.json http://127.0.0.1:9100/status && grep -q '"status": *"\(Installed\|Error\)"' /tmp/status.json; do
  n=$((n + 1)); [ $n -gt 600 ] && break; sleep 0.1
done
spo_file status /tmp/status.json
rm -f /root/out.txt
spo_check replay aa-exec -p aa-rec -- /usr/bin/busybox sh /root/workload.sh
spo_check new-access aa-exec -p aa-rec -- /usr/bin/busybox cat /root/secret.txt
spo_file spod-log /tmp/spod.log
"#;

#[test]
fn a_recorded_apparmor_profile_runs_its_workload_and_denies_the_rest() {
    let Some(boot) = common::boot() else { return };
    let scenario =
        Scenario::new(Lsm::AppArmor, SCRIPT).file("/root/workload.sh", WORKLOAD, 0o755).program("/usr/bin/aa-exec");
    let o = common::run(&boot, &scenario);
    assert!(o.check("lsm").out.contains("bpf"), "{:?}", o.check("lsm"));
    let err = o.files.get("record-err").map(|e| String::from_utf8_lossy(e).into_owned()).unwrap_or_default();
    assert_eq!(o.check("record-rc").out, "0", "the recorder failed: {err}\n{}", o.tail());
    let recorded: serde_json::Value =
        serde_json::from_str(&o.file("recorded")).unwrap_or_else(|e| panic!("recorded profile: {e}: {err}"));
    eprintln!("vm: recorded {recorded:#}\n{err}");
    let a = &recorded["spec"]["abstract"];
    let list = |v: &serde_json::Value| v.as_array().cloned().unwrap_or_default();
    assert!(list(&a["executable"]["allowedExecutables"]).iter().any(|p| p == "/usr/bin/busybox"), "{a:#}");
    let read = list(&a["filesystem"]["readOnlyPaths"]);
    assert!(read.iter().any(|p| p == "/root/allowed.txt") && read.iter().any(|p| p == "/root/workload.sh"), "{a:#}");
    let written: Vec<serde_json::Value> =
        list(&a["filesystem"]["writeOnlyPaths"]).into_iter().chain(list(&a["filesystem"]["readWritePaths"])).collect();
    assert!(written.iter().any(|p| p == "/root/out.txt"), "{a:#}");
    assert!(!read.iter().chain(&written).any(|p| p == "/root/secret.txt"), "{a:#}");
    assert!(list(&a["capability"]["allowedCapabilities"]).iter().any(|c| c == "chown"), "{a:#}");
    assert_eq!(a["network"]["allowedProtocols"]["allowTcp"], true, "{a:#}");

    let status: serde_json::Value = serde_json::from_str(&o.file("status")).expect("status JSON");
    let spod_log = o.files.get("spod-log").map(|l| String::from_utf8_lossy(l).into_owned()).unwrap_or_default();
    let p = status["profiles"].as_array().and_then(|ps| ps.iter().find(|p| p["name"] == "aa-rec").cloned());
    assert_eq!(p.as_ref().map(|p| p["status"].clone()), Some("Installed".into()), "{status:#}\n{spod_log}");

    let replay = o.check("replay");
    assert_eq!(replay.rc, 0, "the workload under its recorded profile: {replay:?}");
    assert!(replay.out.contains("allowed") && replay.out.contains("ok"), "{replay:?}");
    let new = o.check("new-access");
    assert_ne!(new.rc, 0, "{new:?}");
    assert!(new.out.contains("Permission denied"), "{new:?}");
}

/// The syscall recorder on fentry (`x64_sys_call`) against
/// the raw tracepoint, in one run: both count every call of the cgroup,
/// and the overhead ratio is reported (emulated timings, so not asserted).
#[test]
fn the_syscall_recorder_on_fentry_counts_like_the_raw_tracepoint() {
    let Some(boot) = common::boot() else { return };
    let script = r#"
spo_check overhead spo-vm-record --overhead 50000 5
"#;
    let scenario = Scenario::new(Lsm::AppArmor, script).timeout(std::time::Duration::from_secs(900));
    let o = common::run(&boot, &scenario);
    let c = o.check("overhead");
    assert_eq!(c.rc, 0, "{c:?}");
    let v: serde_json::Value = serde_json::from_str(c.out.trim()).unwrap_or_else(|e| panic!("{e}: {c:?}"));
    eprintln!("vm: syscall recorder overhead (emulated timings): {v}");
    // Every call of every round counted, by each attachment.
    assert!(v["counted_raw_tracepoint"].as_u64() >= Some(5 * 50000), "{v}");
    assert!(v["counted_fentry"].as_u64() >= Some(5 * 50000), "{v}");
    // ... and only those: nothing else in the cgroup calls getppid.
    assert!(v["counted_fentry"].as_u64() < Some(5 * 50000 + 100), "{v}");
    assert!(v["overhead_ratio_fentry_to_raw_tracepoint"].as_f64().is_some_and(f64::is_finite), "{v}");
}
