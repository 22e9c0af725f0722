//! A real node for the test cluster: containerd (Debian's, CRI plugin on,
//! private socket and state) and the kubelet built with the control plane,
//! plus kube-scheduler, so pods are scheduled, run, and get the seccomp
//! profiles the kernel enforces. Without them pods are stored but never
//! run; tests that need running pods check [`Cluster::has_kubelet`].
//!
//! What the node needs and where it comes from:
//! - images: there is no registry. [`images`] builds two OCI images from
//!   Debian's static busybox (`localhost/spo-e2e/busybox:1` and the
//!   sandbox image `localhost/spo-e2e/pause:1`) and imports them with `ctr`;
//!   pods must use `imagePullPolicy: Never` or `IfNotPresent`.
//! - network: a CNI bridge (`spoe2e0`, 10.88.77.0/24, Debian's
//!   `containernetworking-plugins`), so the node is Ready and pods get an IP;
//!   kube-proxy (iptables mode, when built and `iptables` is installed), so
//!   Services reach their pods and pods reach the API server.
//! - cgroups: this machine has cgroup v1 (with the v2 hierarchy mounted
//!   beside it), so the kubelet runs with `failCgroupV1: false` and the
//!   `cgroupfs` driver.
//!
//! One kubelet per machine: its cgroups (`/kubepods`) and the CNI bridge
//! are machine-wide, so a node is started only when no other cluster's
//! node is running ([`OWNER`] records which one is). A second cluster
//! waits for it ([`OWNER_WAIT`]), then runs without a node.
//!
//! Stopping kills the pods' processes through their cgroups
//! before containerd goes, then its shims, then unmounts what containerd
//! and the kubelet mounted under the cluster directory.
//!
//! [`Cluster::has_kubelet`]: crate::Cluster::has_kubelet

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::binaries::Binaries;
use crate::certs::Pki;
use crate::cluster::{free_ports, wait_until, write_kubeconfig, Credentials};
use crate::process;
use crate::E2eError;

pub mod images;

/// The node name.
pub const NODE: &str = "e2e-node";

/// Which cluster directory owns this machine's node.
pub const OWNER: &str = "/run/spo-e2e-node.owner";

/// How long a cluster waits for another cluster's node to go.
pub const OWNER_WAIT: Duration = Duration::from_secs(300);

/// The pod network (the CNI bridge `spoe2e0`).
pub const POD_CIDR: &str = "10.88.77.0/24";

/// The bridge's own address: the pods' gateway, and the address the API
/// server publishes as the `kubernetes` Service's endpoint.
pub const BRIDGE_GATEWAY: &str = "10.88.77.1";

/// How long the node may take to become Ready.
pub const READY_TIMEOUT: Duration = Duration::from_secs(90);

/// Why this machine cannot run a node, if it cannot.
pub fn unavailable(bins: &Binaries) -> Option<String> {
    if !is_root() {
        return Some("a node needs root (cgroups, mounts, containers)".into());
    }
    if std::env::var_os("SPO_E2E_NO_NODE").is_some_and(|v| v == "1") {
        return Some("SPO_E2E_NO_NODE=1".into());
    }
    for b in ["kubelet", "kube-scheduler"] {
        if !bins.has(b) {
            return Some(format!("{b} is not built (run e2e/k8s/build.sh)"));
        }
    }
    for tool in ["containerd", "ctr", "busybox", "tar"] {
        if which(tool).is_none() {
            return Some(format!("`{tool}` is missing (apt-get install -y containerd busybox-static tar)"));
        }
    }
    for plugin in ["bridge", "host-local", "loopback"] {
        if !Path::new(CNI_BIN).join(plugin).is_file() {
            return Some(format!(
                "CNI plugin {CNI_BIN}/{plugin} is missing (apt-get install -y containernetworking-plugins)"
            ));
        }
    }
    None
}

const CNI_BIN: &str = "/usr/lib/cni";

use spo_test_support::is_root;
pub(crate) use spo_test_support::which;

/// Take the machine's node for `dir`, waiting up to [`OWNER_WAIT`] for
/// another live cluster to release it. `false` when it stayed taken.
fn take_ownership(dir: &Path) -> Result<bool, E2eError> {
    let deadline = Instant::now() + OWNER_WAIT;
    let mut told = false;
    loop {
        match std::fs::OpenOptions::new().write(true).create_new(true).open(OWNER) {
            Ok(mut f) => {
                use std::io::Write;
                writeln!(f, "{}", dir.display()).map_err(E2eError::io(OWNER))?;
                return Ok(true);
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                let owner = std::fs::read_to_string(OWNER).unwrap_or_default();
                let owner = Path::new(owner.trim());
                let live = process::recorded(owner)
                    .map(|recs| recs.iter().any(|r| r.name == "kubelet" && process::alive(r)))
                    .unwrap_or(false);
                if !live {
                    // A stale claim: its cluster is gone.
                    let _ = std::fs::remove_file(OWNER);
                    continue;
                }
                if Instant::now() >= deadline {
                    return Ok(false);
                }
                if !told {
                    eprintln!("spo-e2e: waiting for the node of the cluster in {} to stop", owner.display());
                    told = true;
                }
                std::thread::sleep(Duration::from_millis(500));
            }
            Err(e) => return Err(E2eError::Io { path: OWNER.into(), source: e }),
        }
    }
}

/// Start containerd, import the images, start the kubelet and the
/// scheduler, and wait for the node to be Ready. `Ok(false)` when another
/// cluster kept the machine's node.
pub(crate) fn start(
    dir: &Path,
    bins: &Binaries,
    pki: &Pki,
    server: &str,
    ready: &mut dyn FnMut() -> bool,
) -> Result<bool, E2eError> {
    if !take_ownership(dir)? {
        eprintln!("spo-e2e: another cluster's node is still running; this cluster has none");
        return Ok(false);
    }
    let ctrd = dir.join("containerd");
    let sock = ctrd.join("containerd.sock");
    let cni = dir.join("cni");
    write(
        &ctrd.join("config.toml"),
        &format!(
            r#"version = 2
root = "{root}"
state = "{state}"
[grpc]
  address = "{sock}"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "{pause}"
  restrict_oom_score_adj = true
  # Pod network namespaces are mounted under the state directory, so
  # `down` unmounts them with everything else and their interfaces and
  # addresses go; left in /var/run/netns they would outlive the cluster
  # and answer for addresses the next cluster hands out again.
  netns_mounts_under_state_dir = true
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "{CNI_BIN}"
    conf_dir = "{conf}"
"#,
            root = ctrd.join("root").display(),
            state = ctrd.join("state").display(),
            sock = sock.display(),
            pause = images::PAUSE,
            conf = cni.join("net.d").display(),
        ),
    )?;
    write(
        &cni.join("net.d/10-spo-e2e.conflist"),
        &serde_json::json!({
            "cniVersion": "1.0.0",
            "name": "spo-e2e",
            "plugins": [
                {"type": "bridge", "bridge": "spoe2e0", "isGateway": true, "ipMasq": false,
                 "ipam": {"type": "host-local", "dataDir": cni.join("ipam"),
                          "ranges": [[{"subnet": POD_CIDR, "gateway": BRIDGE_GATEWAY}]], "routes": [{"dst": "0.0.0.0/0"}]}},
                {"type": "loopback"},
            ],
        })
        .to_string(),
    )?;
    let mut cmd = Command::new("containerd");
    cmd.arg("--config").arg(ctrd.join("config.toml"));
    let containerd = process::spawn(dir, "containerd", cmd)?;
    wait_until(&containerd, "containerd", Duration::from_secs(30), || {
        Command::new("ctr").arg("--address").arg(&sock).arg("version").output().is_ok_and(|o| o.status.success())
    })?;
    images::import(&dir.join("images"), &sock)?;

    let [kubelet_port, healthz_port, scheduler_port] = free_ports()?;
    let kubelet_kc = dir.join("kubelet.kubeconfig");
    write_kubeconfig(&kubelet_kc, server, &pki.ca_crt, Credentials::Cert(&pki.kubelet))?;
    let config = dir.join("kubelet.yaml");
    write(
        &config,
        &serde_json::json!({
            "apiVersion": "kubelet.config.k8s.io/v1beta1",
            "kind": "KubeletConfiguration",
            "authentication": {
                "anonymous": {"enabled": false},
                "webhook": {"enabled": false},
                "x509": {"clientCAFile": pki.ca_crt},
            },
            "authorization": {"mode": "AlwaysAllow"},
            "cgroupDriver": "cgroupfs",
            "failSwapOn": false,
            "failCgroupV1": false,
            "containerRuntimeEndpoint": format!("unix://{}", sock.display()),
            // The API server reaches the kubelet (logs, exec) on the
            // node's InternalIP, which cannot be loopback; every request
            // needs a client certificate from the cluster's CA.
            "address": "0.0.0.0",
            "port": kubelet_port,
            "readOnlyPort": 0,
            "healthzBindAddress": "127.0.0.1",
            "healthzPort": healthz_port,
            "resolvConf": "",
            "enforceNodeAllocatable": [],
            "evictionHard": {},
            "imageGCHighThresholdPercent": 100,
            "imageGCLowThresholdPercent": 99,
            "podLogsDir": dir.join("pod-logs"),
            "serializeImagePulls": false,
            "localStorageCapacityIsolation": false,
            "syncFrequency": "10s",
            "fileCheckFrequency": "5s",
        })
        .to_string(),
    )?;
    let mut cmd = Command::new(bins.path("kubelet"));
    cmd.args([
        format!("--config={}", config.display()),
        format!("--kubeconfig={}", kubelet_kc.display()),
        format!("--hostname-override={NODE}"),
        format!("--root-dir={}", dir.join("kubelet").display()),
        format!("--cert-dir={}", dir.join("kubelet-pki").display()),
        "--v=1".to_owned(),
    ]);
    let kubelet = process::spawn(dir, "kubelet", cmd)?;

    let sched_kc = dir.join("scheduler.kubeconfig");
    write_kubeconfig(&sched_kc, server, &pki.ca_crt, Credentials::Cert(&pki.scheduler))?;
    let k = sched_kc.display().to_string();
    let mut cmd = Command::new(bins.path("kube-scheduler"));
    cmd.args([
        format!("--kubeconfig={k}"),
        format!("--authentication-kubeconfig={k}"),
        format!("--authorization-kubeconfig={k}"),
        "--bind-address=127.0.0.1".to_owned(),
        format!("--secure-port={scheduler_port}"),
        "--leader-elect=false".to_owned(),
    ]);
    process::spawn(dir, "kube-scheduler", cmd)?;

    match proxy_unavailable(bins) {
        None => start_proxy(dir, bins, pki, server)?,
        Some(why) => eprintln!("spo-e2e: no kube-proxy (Services do not reach pods): {why}"),
    }

    wait_until(&kubelet, &format!("node {NODE} Ready"), READY_TIMEOUT, ready)?;
    Ok(true)
}

/// Why the node runs no kube-proxy, if it does not.
pub fn proxy_unavailable(bins: &Binaries) -> Option<String> {
    if !bins.has("kube-proxy") {
        return Some("kube-proxy is not built (run e2e/k8s/build.sh)".into());
    }
    for tool in ["iptables", "iptables-save", "iptables-restore"] {
        if which(tool).is_none() {
            return Some(format!("`{tool}` is missing (apt-get install -y iptables)"));
        }
    }
    None
}

/// kube-proxy in iptables mode, as on any node: it programs the host's
/// netfilter so a Service's ClusterIP reaches its endpoints, from pods
/// (PREROUTING) and from host processes such as the API server calling a
/// webhook Service (OUTPUT). Its rules are machine-wide like the bridge;
/// [`after_stop`] removes them (`kube-proxy --cleanup`).
fn start_proxy(dir: &Path, bins: &Binaries, pki: &Pki, server: &str) -> Result<(), E2eError> {
    let [healthz, metrics] = free_ports()?;
    let kc = dir.join("kube-proxy.kubeconfig");
    write_kubeconfig(&kc, server, &pki.ca_crt, Credentials::Cert(&pki.kube_proxy))?;
    let config = dir.join(PROXY_CONFIG);
    write(
        &config,
        &serde_json::json!({
            "apiVersion": "kubeproxy.config.k8s.io/v1alpha1",
            "kind": "KubeProxyConfiguration",
            "clientConnection": {"kubeconfig": kc},
            "mode": "iptables",
            "clusterCIDR": POD_CIDR,
            "hostnameOverride": NODE,
            "healthzBindAddress": format!("127.0.0.1:{healthz}"),
            "metricsBindAddress": format!("127.0.0.1:{metrics}"),
            // Leave the machine's conntrack table size alone.
            "conntrack": {"maxPerCore": 0},
            // Services appear within a second of their endpoints.
            "iptables": {"minSyncPeriod": "0s", "syncPeriod": "30s"},
            // NodePorts only on the bridge's own address, not on this
            // machine's network interfaces (nothing here needs one).
            "nodePortAddresses": [format!("{BRIDGE_GATEWAY}/32")],
        })
        .to_string(),
    )?;
    let mut cmd = Command::new(bins.path("kube-proxy"));
    cmd.arg(format!("--config={}", config.display())).arg("--v=1");
    let proxy = process::spawn(dir, "kube-proxy", cmd)?;
    wait_until(&proxy, "kube-proxy /healthz", Duration::from_secs(30), || {
        std::net::TcpStream::connect(("127.0.0.1", healthz)).is_ok()
    })
}

/// kube-proxy's configuration in the cluster directory; its presence
/// tells [`after_stop`] that rules are to be removed.
const PROXY_CONFIG: &str = "kube-proxy.yaml";

/// Give an imported image a second name (`ctr images tag`), e.g. to stand
/// for an image of a registry this machine cannot reach.
pub fn tag_image(dir: &Path, from: &str, to: &str) -> Result<(), E2eError> {
    let sock = dir.join("containerd/containerd.sock");
    let out = Command::new("ctr")
        .arg("--address")
        .arg(&sock)
        .args(["-n", "k8s.io", "images", "tag", "--force", from, to])
        .output()
        .map_err(|source| E2eError::Spawn { program: "ctr".into(), source })?;
    if out.status.success() {
        Ok(())
    } else {
        Err(E2eError::Command {
            program: "ctr images tag".into(),
            status: out.status,
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        })
    }
}

/// Stop the node of the cluster in `dir` (before the rest of the cluster
/// stops): the kubelet, then every pod process, so nothing is restarted or
/// left behind. Called by [`crate::cluster::down`]; a no-op without a node.
pub(crate) fn stop(dir: &Path) -> Result<(), E2eError> {
    let recs = process::recorded(dir)?;
    let Some(kubelet) = recs.iter().find(|r| r.name == "kubelet") else {
        return Ok(());
    };
    process::kill(kubelet, Duration::from_secs(5))?;
    kill_cgroup_tree(Path::new("/sys/fs/cgroup/pids/kubepods"));
    kill_cgroup_tree(Path::new("/sys/fs/cgroup/unified/kubepods"));
    Ok(())
}

/// After every recorded process is gone: the containerd shims of this
/// cluster, the mounts under its directory, and its claim on the node.
pub(crate) fn after_stop(dir: &Path) {
    let needle = dir.display().to_string();
    if let Ok(entries) = std::fs::read_dir("/proc") {
        for e in entries.flatten() {
            let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
                continue;
            };
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            let cmdline = String::from_utf8_lossy(&cmdline);
            if cmdline.starts_with("/usr/bin/containerd-shim") && cmdline.contains(&needle) {
                let _ = Command::new("kill").args(["-KILL", &pid.to_string()]).status();
            }
        }
    }
    unmount_under(dir);
    if dir.join(PROXY_CONFIG).is_file() {
        if let Ok(bins) = Binaries::cached() {
            let _ = Command::new(bins.path("kube-proxy")).arg("--cleanup").output();
        }
    }
    if std::fs::read_to_string(OWNER).is_ok_and(|o| Path::new(o.trim()) == dir) {
        let _ = std::fs::remove_file(OWNER);
    }
}

/// SIGKILL every process in a cgroup and its descendants (v1 or v2).
fn kill_cgroup_tree(root: &Path) {
    for _ in 0..20 {
        let mut pids = Vec::new();
        collect_procs(root, &mut pids);
        if pids.is_empty() {
            return;
        }
        for pid in pids {
            let _ = Command::new("kill").args(["-KILL", &pid.to_string()]).status();
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn collect_procs(dir: &Path, out: &mut Vec<u32>) {
    if let Ok(text) = std::fs::read_to_string(dir.join("cgroup.procs")) {
        out.extend(text.lines().filter_map(|l| l.trim().parse::<u32>().ok()));
    }
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                collect_procs(&e.path(), out);
            }
        }
    }
}

/// Lazily unmount every mount point under `dir`, deepest first.
fn unmount_under(dir: &Path) {
    let text = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let mut points: Vec<PathBuf> = text
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .map(|p| PathBuf::from(p.replace("\\040", " ")))
        .filter(|p| p.starts_with(dir))
        .collect();
    points.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
    points.dedup();
    for p in points {
        let _ = Command::new("umount").arg("-l").arg(&p).status();
    }
}

fn write(path: &Path, text: &str) -> Result<(), E2eError> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(E2eError::io(parent))?;
    }
    std::fs::write(path, text).map_err(E2eError::io(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cgroup_procs_are_collected_recursively() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(dir.path().join("a/b")).expect("dirs");
        std::fs::write(dir.path().join("cgroup.procs"), "1\n").expect("write");
        std::fs::write(dir.path().join("a/b/cgroup.procs"), "7\n8\n").expect("write");
        let mut pids = Vec::new();
        collect_procs(dir.path(), &mut pids);
        pids.sort();
        assert_eq!(pids, [1, 7, 8]);
    }
}
