//! spod in Kubernetes mode against the real API server: profiles applied
//! with kubectl's verbs land on disk under the kubelet root with
//! namespaced paths, every profile gets a `SecurityProfileNodeStatus`
//! (Installed, Error with the field and message, Disabled, Terminating),
//! updates keep the old version file for pods pinned to it, and deletion
//! waits for active workloads, then removes files and node status.
//!
//! spod runs as a child process with the `spod` service account's token
//! and `deploy/rbac.yaml`, so a missing permission fails here as it would
//! in a cluster. No operator runs: the test plays its part (finalizer,
//! `status.activeWorkloads`).
//!
//! `spod_thousand_profiles` prints the scale figures (1,000 SeccompProfiles
//! created while spod runs, and a cold start with 1,000 in the cluster, to
//! all node statuses Installed; spod's CPU and RSS); it runs only with
//! `--ignored` (a benchmark, not run by default).
//!
//! Needs the control plane binaries (`SPO_E2E=1` builds them) and the
//! `spod` binary (`cargo build -p spod`, or `SPOD_BIN`);
//! without them the tests say SKIPPED.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use futures::{stream, StreamExt};
use k8s_openapi::api::core::v1::ServiceAccount;
use kube::api::{Api, DeleteParams, DynamicObject, ListParams, Patch, PatchParams, PostParams};
use kube::core::ApiResource;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use spo_api::crds::{node_status_name, SeccompProfile, SecurityProfileNodeStatus, GROUP};
use spo_e2e::{manifests, Binaries, Cluster};

const NS: &str = "node-e2e";
const NODE: &str = "e2e-node";
const HOLD: &str = "e2e.spo-rs.io/hold";
const TIMEOUT: Duration = Duration::from_secs(60);

/// The control plane and the spod binary, or why the test is skipped.
fn prerequisites(test: &str) -> Option<(Binaries, PathBuf)> {
    let bins = Binaries::for_test(test)?;
    let spod = match std::env::var_os("SPOD_BIN") {
        Some(p) => PathBuf::from(p),
        None => {
            let exe = std::env::current_exe().expect("test executable");
            match exe.ancestors().skip(1).take(2).map(|d| d.join("spod")).find(|p| p.is_file()) {
                Some(p) => p,
                None => {
                    spo_test_support::skip(format!("{test} needs spod: `cargo build -p spod` or set SPOD_BIN"));
                    return None;
                }
            }
        }
    };
    Some((bins, spod))
}

/// spod as a child process, killed when dropped.
struct Spod {
    child: Child,
    log: PathBuf,
    url: String,
    kubelet_root: PathBuf,
    state: PathBuf,
    bin: PathBuf,
    kubeconfig: PathBuf,
}

impl Drop for Spod {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Spod {
    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn get(&self, path: &str) -> (u16, String) {
        let addr = self.url.trim_start_matches("http://");
        let mut s = TcpStream::connect(addr).expect("spod listens");
        write!(s, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").expect("request");
        let mut text = String::new();
        s.read_to_string(&mut text).expect("response");
        let code = text.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
        let body = text.split_once("\r\n\r\n").map(|(_, b)| b.to_owned()).unwrap_or_default();
        (code, body)
    }

    /// User plus system CPU seconds spod has used.
    fn cpu_seconds(&self) -> f64 {
        spo_e2e::usage(self.child.id()).0
    }

    fn rss_kib(&self) -> u64 {
        spo_e2e::usage(self.child.id()).1
    }
}

/// Apply namespace, RBAC and CRDs, and start spod with the `spod` service
/// account's token; returns once it logs that it watches.
async fn start_spod(cluster: &Cluster, client: &kube::Client, spod: &Path, dir: &Path) -> Spod {
    let deploy = Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy");
    for file in ["namespace.yaml", "rbac.yaml"] {
        for doc in manifests::load(&deploy.join(file)).expect("deploy manifest") {
            manifests::apply(client, &doc).await.unwrap_or_else(|e| panic!("deploy/{file}: {e}"));
        }
    }
    let mut names = Vec::new();
    for crd in spo_api::all_crds() {
        let v = serde_json::to_value(&crd).expect("crd json");
        manifests::apply(client, &v).await.expect("CRD applies");
        names.push(crd.metadata.name.unwrap_or_default());
    }
    manifests::wait_established(client, &names, Duration::from_secs(30)).await.expect("CRDs established");
    // No operator runs here: the daemon configuration is written by hand,
    // with SELinux on (SPO's default is off).
    let spod_config = json!({
        "apiVersion": format!("{GROUP}/v1"), "kind": "SecurityProfilesOperatorDaemon",
        "metadata": {"name": "spod", "namespace": "security-profiles-operator"},
        "spec": {"selinux": {"enable": true}},
    });
    manifests::apply(client, &spod_config).await.expect("the daemon configuration applies");

    let sas: Api<ServiceAccount> = Api::namespaced(client.clone(), "security-profiles-operator");
    let request = k8s_openapi::api::authentication::v1::TokenRequest {
        spec: Some(k8s_openapi::api::authentication::v1::TokenRequestSpec {
            expiration_seconds: Some(3600),
            ..Default::default()
        }),
        ..Default::default()
    };
    let token = sas
        .create_token_request("spod", &PostParams::default(), &request)
        .await
        .expect("token of the spod service account")
        .status
        .and_then(|s| s.token)
        .expect("token");
    let kubeconfig = dir.join("spod.kubeconfig");
    let config = json!({
        "apiVersion": "v1", "kind": "Config",
        "clusters": [{"name": "e2e", "cluster": {"server": cluster.server(), "certificate-authority": cluster.dir().join("pki/ca.crt")}}],
        "users": [{"name": "spod", "user": {"token": token}}],
        "contexts": [{"name": "e2e", "context": {"cluster": "e2e", "user": "spod"}}],
        "current-context": "e2e",
    });
    std::fs::write(&kubeconfig, config.to_string()).expect("kubeconfig");

    Spod::spawn(spod, kubeconfig, dir.join("kubelet"), dir.join("spod"), dir.join("spod.log")).await
}

impl Spod {
    /// Start spod and wait until it watches.
    async fn spawn(bin: &Path, kubeconfig: PathBuf, kubelet_root: PathBuf, state: PathBuf, log: PathBuf) -> Spod {
        let port = std::net::TcpListener::bind("127.0.0.1:0").expect("free port").local_addr().expect("addr").port();
        let out = std::fs::File::create(&log).expect("log file");
        let child = Command::new(bin)
            .env("KUBECONFIG", &kubeconfig)
            .args([
                "--kubernetes".to_owned(),
                format!("--node-name={NODE}"),
                format!("--kubelet-root={}", kubelet_root.display()),
                format!("--state={}", state.display()),
                format!("--listen=127.0.0.1:{port}"),
                "--audit-source=none".to_owned(),
            ])
            .stdin(Stdio::null())
            .stdout(out.try_clone().expect("log file"))
            .stderr(out)
            .spawn()
            .expect("spod starts");
        let mut spod = Spod {
            child,
            log,
            url: format!("http://127.0.0.1:{port}"),
            kubelet_root,
            state,
            bin: bin.to_owned(),
            kubeconfig,
        };
        let deadline = Instant::now() + TIMEOUT;
        while !spod.log().contains("watching profiles") {
            if let Ok(Some(status)) = spod.child.try_wait() {
                panic!("spod exited with {status}:\n{}", spod.log());
            }
            assert!(Instant::now() < deadline, "spod did not start watching:\n{}", spod.log());
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        spod
    }

    /// Kill spod (as a crash would) and start it again on the same state.
    async fn restart(self) -> Spod {
        let (bin, kubeconfig, kubelet_root, state) =
            (self.bin.clone(), self.kubeconfig.clone(), self.kubelet_root.clone(), self.state.clone());
        let log = self.log.with_extension("2.log");
        drop(self);
        Spod::spawn(&bin, kubeconfig, kubelet_root, state, log).await
    }
}

async fn namespace(client: &kube::Client, name: &str) {
    spo_e2e::manifests::create_namespace(client, name, &[]).await.expect("namespace");
}

fn profile(kind: &str, name: &str, metadata: Value, spec: Value) -> Value {
    let mut meta = json!({"name": name});
    if let (Some(m), Some(extra)) = (meta.as_object_mut(), metadata.as_object()) {
        m.extend(extra.clone());
    }
    json!({"apiVersion": format!("{GROUP}/v1"), "kind": kind, "metadata": meta, "spec": spec})
}

fn sha256_file(path: &Path) -> String {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    Sha256::digest(&bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// Poll the node status of `kind`/`name` until `pred` holds (or, with
/// `None`, until it is gone).
async fn wait_status(
    api: &Api<SecurityProfileNodeStatus>,
    spod: &Spod,
    kind: &str,
    name: &str,
    what: &str,
    pred: impl Fn(Option<&SecurityProfileNodeStatus>) -> bool,
) -> Option<SecurityProfileNodeStatus> {
    let object = node_status_name(kind, name, NODE);
    let deadline = Instant::now() + TIMEOUT;
    loop {
        let got = api.get_opt(&object).await.expect("get node status");
        if pred(got.as_ref()) {
            return got;
        }
        assert!(
            Instant::now() < deadline,
            "{kind} {name}: {what} not reached; last {got:#?}\nspod log:\n{}",
            spod.log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn wait_gone(path: &Path) {
    let deadline = Instant::now() + TIMEOUT;
    while path.exists() {
        assert!(Instant::now() < deadline, "{} stays", path.display());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn state_of(s: Option<&SecurityProfileNodeStatus>) -> Option<&'static str> {
    s.and_then(|s| s.status.as_ref()).and_then(|s| s.status).map(|s| s.as_str())
}

#[test]
fn spod_installs_reports_and_removes_profiles() {
    let Some((bins, spod_bin)) = prerequisites("spod_installs_reports_and_removes_profiles") else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let cluster = Cluster::up(dir.path(), &bins).unwrap_or_else(|e| panic!("cluster up: {e}"));
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    rt.block_on(async {
        let client = cluster.client().await.expect("client");
        let spod = start_spod(&cluster, &client, &spod_bin, dir.path()).await;
        namespace(&client, NS).await;
        scenario(&client, spod).await;
    });
    cluster.down().expect("cluster down");
}

async fn scenario(client: &kube::Client, running: Spod) {
    let spod = &running;
    let statuses: Api<SecurityProfileNodeStatus> = Api::all(client.clone());
    let seccomp_dir = spod.kubelet_root.join("seccomp/operator");
    let allow = |names: &[&str]| json!({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"action": "SCMP_ACT_ALLOW", "names": names}]});

    let web = manifests::apply(
        client,
        &profile("SeccompProfile", "web", json!({"finalizers": [HOLD]}), allow(&["read", "write"])),
    )
    .await
    .expect("web applies");
    manifests::apply(client, &profile("SeccompProfile", "bad", json!({}), allow(&["read", "opne"])))
        .await
        .expect("bad applies (no webhook runs here)");
    manifests::apply(
        client,
        &profile("SeccompProfile", "loud", json!({"annotations": {"spo-rs.io/mode": "complain"}}), allow(&["read"])),
    )
    .await
    .expect("loud applies");
    let mut off_spec = allow(&["read"]);
    off_spec["state"] = json!("Disabled");
    manifests::apply(client, &profile("SeccompProfile", "off", json!({}), off_spec)).await.expect("off applies");
    let selinux = Path::new("/var/lib/selinux/default/active").exists()
        && Command::new("semodule").arg("--help").output().is_ok();
    if selinux {
        manifests::apply(
            client,
            &profile(
                "SelinuxProfile",
                "sel",
                json!({}),
                json!({"inherit": [{"kind": "System", "name": "container"}], "allow": {"@self": {"tcp_socket": ["listen"]}}}),
            ),
        )
        .await
        .expect("sel applies");
        manifests::apply(
            client,
            &profile(
                "RawSelinuxProfile",
                "raw",
                json!({}),
                json!({"policy": "(type process)\n(allow process var_log_t (dir (open read getattr search)))\n"}),
            ),
        )
        .await
        .expect("raw applies");
    } else {
        spo_test_support::skip("the SelinuxProfile part needs semodule and selinux-policy-default");
    }

    // Installed, with the digest of the file the kubelet reads.
    let s = wait_status(&statuses, spod, "SeccompProfile", "web", "Installed", |s| state_of(s) == Some("Installed"))
        .await
        .expect("web status");
    let current = seccomp_dir.join("web.json");
    let first = sha256_file(&current);
    let st = s.status.as_ref().expect("status");
    assert_eq!(st.content_digest.as_deref(), Some(first.as_str()));
    assert!(seccomp_dir.join(format!("web/{first}.json")).is_file(), "version file");
    let labels = s.metadata.labels.clone().unwrap_or_default();
    assert_eq!(labels.get("spo.x-k8s.io/profile-kind").map(String::as_str), Some("SeccompProfile"));
    assert_eq!(labels.get("spo.x-k8s.io/profile-name").map(String::as_str), Some("web"));
    assert_eq!(labels.get("spo.x-k8s.io/node").map(String::as_str), Some(NODE));
    let owner = &s.metadata.owner_references.as_ref().expect("owner")[0];
    assert_eq!((owner.kind.as_str(), owner.name.as_str()), ("SeccompProfile", "web"));
    assert_eq!(Some(&owner.uid), web.metadata.uid.as_ref());
    assert_eq!((s.spec.node_name.as_str(), s.spec.profile_name.as_str()), (NODE, "web"));

    // Invalid: Error, with the field and the message, and nothing on disk.
    let s = wait_status(&statuses, spod, "SeccompProfile", "bad", "Error", |s| state_of(s) == Some("Error")).await;
    let message = s.and_then(|s| s.status).and_then(|s| s.message).unwrap_or_default();
    assert!(message.contains("spec.syscalls[0].names[1]") && message.contains("opne"), "{message}");
    assert!(!seccomp_dir.join("bad.json").exists());

    // Complain mode from the annotation; disabled profiles report Disabled.
    wait_status(&statuses, spod, "SeccompProfile", "loud", "Installed", |s| state_of(s) == Some("Installed")).await;
    let loud = std::fs::read_to_string(seccomp_dir.join("loud.json")).expect("loud.json");
    assert!(loud.contains("\"defaultAction\": \"SCMP_ACT_LOG\""), "{loud}");
    wait_status(&statuses, spod, "SeccompProfile", "off", "Disabled", |s| state_of(s) == Some("Disabled")).await;
    assert!(!seccomp_dir.join("off.json").exists());

    if selinux {
        // The block is NAME, as in SPO v1. Debian's policy has no `container`
        // template (container-selinux provides it), so semodule may refuse
        // it: then the node status says so, naming the module.
        let s = wait_status(&statuses, spod, "SelinuxProfile", "sel", "Installed or Error", |s| {
            matches!(state_of(s), Some("Installed" | "Error"))
        })
        .await;
        let block = "sel".to_owned();
        if state_of(s.as_ref()) == Some("Installed") {
            let cil = std::fs::read_to_string(spod.state.join("selinux/profiles").join("sel.cil")).expect("sel.cil");
            assert!(cil.starts_with(&format!("(block {block}")), "{cil}");
        } else {
            let message = s.and_then(|s| s.status).and_then(|s| s.message).unwrap_or_default();
            assert!(message.contains("semodule") && message.contains(&block), "{message}");
        }
        let s = wait_status(&statuses, spod, "RawSelinuxProfile", "raw", "Installed", |s| {
            matches!(state_of(s), Some("Installed" | "Error"))
        })
        .await;
        assert_eq!(state_of(s.as_ref()), Some("Installed"), "{s:#?}");
        let cil = std::fs::read_to_string(spod.state.join("selinux/profiles").join("raw.cil")).expect("raw.cil");
        assert!(cil.starts_with("(block raw\n"), "{cil}");
    }

    // A restarted spod (killed, as a crash would) finds its statuses,
    // leaves what is on disk alone and rewrites nothing.
    let before = sha256_file(&current);
    let running = running.restart().await;
    let spod = &running;
    let (code, _) = spod.get("/readyz");
    let deadline = Instant::now() + TIMEOUT;
    let mut code = code;
    while code != 200 {
        assert!(Instant::now() < deadline, "not ready after a restart:\n{}", spod.log());
        tokio::time::sleep(Duration::from_millis(100)).await;
        code = spod.get("/readyz").0;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(sha256_file(&current), before);
    let s =
        wait_status(&statuses, spod, "SeccompProfile", "web", "Installed", |s| state_of(s) == Some("Installed")).await;
    assert_eq!(s.and_then(|s| s.status).and_then(|s| s.content_digest).as_deref(), Some(first.as_str()));
    assert!(!spod.log().contains("cannot"), "{}", spod.log());

    // The agent's endpoints serve in Kubernetes mode too.
    let (code, body) = spod.get("/status");
    assert_eq!(code, 200);
    assert!(body.contains("\"web\""), "{body}");
    assert_eq!(spod.get("/healthz").0, 200);
    assert_eq!(spod.get("/readyz").0, 200);
    assert!(spod.get("/metrics").1.contains("seccomp"), "metrics");

    // Update: a new digest; the old version file stays for pinned pods.
    manifests::apply(
        client,
        &profile("SeccompProfile", "web", json!({"finalizers": [HOLD]}), allow(&["read", "write", "close"])),
    )
    .await
    .expect("web updates");
    let s = wait_status(&statuses, spod, "SeccompProfile", "web", "a new digest", |s| {
        s.and_then(|s| s.status.as_ref()).and_then(|s| s.content_digest.as_deref()).is_some_and(|d| d != first)
    })
    .await
    .expect("web status");
    let second = sha256_file(&current);
    assert_eq!(s.status.and_then(|s| s.content_digest).as_deref(), Some(second.as_str()));
    assert!(seccomp_dir.join(format!("web/{first}.json")).is_file(), "old version kept");
    assert!(seccomp_dir.join(format!("web/{second}.json")).is_file(), "new version");

    // Delete while a workload uses it: Terminating, files stay.
    let profiles: Api<DynamicObject> = Api::all_with(client.clone(), &ApiResource::erase::<SeccompProfile>(&()));
    profiles
        .patch_status(
            "web",
            &PatchParams::default(),
            &Patch::Merge(json!({"status": {"activeWorkloads": [format!("{NS}/pod-a")]}})),
        )
        .await
        .expect("active workloads");
    profiles.delete("web", &DeleteParams::default()).await.expect("delete web");
    wait_status(&statuses, spod, "SeccompProfile", "web", "Terminating", |s| state_of(s) == Some("Terminating")).await;
    assert!(current.is_file(), "in use: stays installed");
    // Released: files and node status go.
    profiles
        .patch_status("web", &PatchParams::default(), &Patch::Merge(json!({"status": {"activeWorkloads": null}})))
        .await
        .expect("no more workloads");
    wait_status(&statuses, spod, "SeccompProfile", "web", "deletion", |s| s.is_none()).await;
    assert!(!current.exists(), "current file removed");
    assert!(!seccomp_dir.join("web").exists(), "versions removed");
    profiles
        .patch("web", &PatchParams::default(), &Patch::Merge(json!({"metadata": {"finalizers": null}})))
        .await
        .expect("release the finalizer");

    // Deleted without a finalizer: gone from disk and from the statuses.
    profiles.delete("bad", &DeleteParams::default()).await.expect("delete bad");
    profiles.delete("loud", &DeleteParams::default()).await.expect("delete loud");
    wait_status(&statuses, spod, "SeccompProfile", "bad", "deletion", |s| s.is_none()).await;
    wait_status(&statuses, spod, "SeccompProfile", "loud", "deletion", |s| s.is_none()).await;
    wait_gone(&seccomp_dir.join("loud.json")).await;
    wait_gone(&seccomp_dir.join("loud")).await;
    if selinux {
        for (kind, name, ar) in [
            ("SelinuxProfile", "sel", ApiResource::erase::<spo_api::crds::SelinuxProfile>(&())),
            ("RawSelinuxProfile", "raw", ApiResource::erase::<spo_api::crds::RawSelinuxProfile>(&())),
        ] {
            let api: Api<DynamicObject> = Api::all_with(client.clone(), &ar);
            api.delete(name, &DeleteParams::default()).await.expect("delete");
            wait_status(&statuses, spod, kind, name, "deletion", |s| s.is_none()).await;
            // Without a finalizer the garbage collector may delete the node
            // status first; the module goes when semodule is done.
            wait_gone(&spod.state.join("selinux/profiles").join(format!("{name}.cil"))).await;
        }
    }
    let left = statuses.list(&ListParams::default()).await.expect("list").items;
    let names: Vec<_> = left.iter().filter_map(|s| s.metadata.name.clone()).collect();
    assert_eq!(names, [node_status_name("SeccompProfile", "off", NODE)], "only the disabled profile's status is left");
}

/// 1,000 SeccompProfiles: seconds from the first create until every node
/// status says Installed, and spod's RSS then. Figures, not verdicts; it
/// asserts only that all of them got there.
#[test]
#[ignore = "benchmark: cargo test -p spo-e2e --release --test node spod_thousand_profiles -- --ignored"]
fn spod_thousand_profiles() {
    let Some((bins, spod_bin)) = prerequisites("spod_thousand_profiles") else {
        return;
    };
    const N: usize = 1000;
    let dir = tempfile::tempdir().expect("tempdir");
    let cluster = Cluster::up(dir.path(), &bins).unwrap_or_else(|e| panic!("cluster up: {e}"));
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    rt.block_on(async {
        let client = cluster.client().await.expect("client");
        let spod = start_spod(&cluster, &client, &spod_bin, dir.path()).await;
        namespace(&client, NS).await;
        let rss_idle = spod.rss_kib();
        let cpu_idle = spod.cpu_seconds();
        let sps: Api<SeccompProfile> = Api::all(client.clone());
        let syscalls = ["read", "write", "openat", "close", "mmap", "brk", "futex", "getpid"];
        let start = Instant::now();
        stream::iter(0..N)
            .map(|i| {
                let sps = sps.clone();
                async move {
                    let p: SeccompProfile = serde_json::from_value(json!({
                        "apiVersion": format!("{GROUP}/v1"), "kind": "SeccompProfile",
                        "metadata": {"name": format!("p{i:04}")},
                        "spec": {"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [
                            {"action": "SCMP_ACT_ALLOW", "names": [syscalls[i % syscalls.len()]]},
                            {"action": "SCMP_ACT_ERRNO", "errnoRet": (i % 100) + 1, "names": ["mkdir"]},
                        ]},
                    }))
                    .expect("profile");
                    sps.create(&PostParams::default(), &p).await.expect("create");
                }
            })
            .buffer_unordered(16)
            .collect::<Vec<()>>()
            .await;
        let created = start.elapsed();
        let statuses: Api<SecurityProfileNodeStatus> = Api::all(client.clone());
        let deadline = Instant::now() + Duration::from_secs(120);
        let mut rss_peak = 0;
        loop {
            rss_peak = rss_peak.max(spod.rss_kib());
            let list = statuses.list(&ListParams::default()).await.expect("list");
            let installed = list.items.iter().filter(|s| state_of(Some(s)) == Some("Installed")).count();
            if installed == N {
                break;
            }
            assert!(Instant::now() < deadline, "{installed}/{N} Installed after 120 s:\n{}", spod.log());
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let all = start.elapsed();
        tokio::time::sleep(Duration::from_secs(2)).await;
        eprintln!("spod figures ({N} SeccompProfiles, one node):");
        eprintln!("  created by the client in      {:.2} s", created.as_secs_f64());
        eprintln!(
            "  all node statuses Installed   {:.2} s after the first create (goal < 10 s), {:.2} s after the last",
            all.as_secs_f64(),
            (all - created).as_secs_f64()
        );
        eprintln!("  spod CPU for all of it        {:.2} s", spod.cpu_seconds() - cpu_idle);
        eprintln!(
            "  spod RSS idle {:.1} MB, peak seen {:.1} MB, settled {:.1} MB (goal < 50 MB)",
            rss_idle as f64 / 1024.0,
            rss_peak as f64 / 1024.0,
            spod.rss_kib() as f64 / 1024.0
        );

        // Cold start: the profiles are in the cluster, nothing is on disk
        // and no node status exists (a new node joining).
        let (bin, kubeconfig, kubelet_root, state) =
            (spod.bin.clone(), spod.kubeconfig.clone(), spod.kubelet_root.clone(), spod.state.clone());
        let log = spod.log.with_extension("cold.log");
        drop(spod);
        std::fs::remove_dir_all(&state).expect("wipe state");
        std::fs::remove_dir_all(&kubelet_root).expect("wipe kubelet root");
        statuses.delete_collection(&DeleteParams::default(), &ListParams::default()).await.expect("delete statuses");
        while !statuses.list(&ListParams::default()).await.expect("list").items.is_empty() {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let start = Instant::now();
        let spod = Spod::spawn(&bin, kubeconfig, kubelet_root, state, log).await;
        let watching = start.elapsed();
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let list = statuses.list(&ListParams::default()).await.expect("list");
            let installed = list.items.iter().filter(|s| state_of(Some(s)) == Some("Installed")).count();
            if installed == N {
                break;
            }
            assert!(Instant::now() < deadline, "cold: {installed}/{N} Installed after 120 s:\n{}", spod.log());
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        eprintln!(
            "  cold start with {N} profiles: watching after {:.2} s, all node statuses Installed after {:.2} s, RSS {:.1} MB",
            watching.as_secs_f64(),
            start.elapsed().as_secs_f64(),
            spod.rss_kib() as f64 / 1024.0
        );
    });
    cluster.down().expect("cluster down");
}
