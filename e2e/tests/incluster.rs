//! spo-rs installed as users install it (`spo_e2e::incluster`): the images
//! built by `scripts/build-image.sh` and imported into the node's
//! containerd, `kubectl apply -k deploy/`, the operator Deployment and the
//! spod DaemonSet Ready as pods, the webhook reached through kube-proxy.
//! Then a SeccompProfile reaches `Installed` and an invalid one is refused
//! with its located message; a pod bound to a profile runs under it and
//! the kernel refuses what it refuses; and with the leading operator pod
//! killed, the other replica takes the Lease, admission keeps answering
//! (the longest gap between admitted pod creates is printed) and a
//! profile created afterwards still gets its status.
//!
//! About 100 s (images 6 s, operator and spod Ready 3 to 8 s after the
//! apply, two failovers of up to 35 s each); part of the test command. Alone:
//! `cargo test -p spo-e2e --test incluster` after
//! `cargo build -p spod -p spo-operator --bins`.

use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, PostParams};
use serde_json::json;
use spo_api::crds::{ProfileState, SeccompProfile};
use spo_e2e::cluster::Options;
use spo_e2e::node::images::BUSYBOX;
use spo_e2e::spo::NAMESPACE;
use spo_e2e::{incluster, manifests, wait_for, Binaries, Cluster};

/// How long a profile may take to reach a state, a pod to run.
const WAIT: Duration = Duration::from_secs(90);
/// The Lease's duration in `deploy/operator.yaml`.
const LEASE_DURATION: Duration = Duration::from_secs(15);

const BOUND: &str = r#"
apiVersion: security-profiles-operator.x-k8s.io/v1
kind: SeccompProfile
metadata: {name: incluster-no-mkdir}
spec:
  defaultAction: SCMP_ACT_ALLOW
  syscalls:
  - action: SCMP_ACT_ERRNO
    names: [mkdir, mkdirat]
---
apiVersion: security-profiles-operator.x-k8s.io/v1
kind: ProfileBinding
metadata: {name: busybox, namespace: incluster-apps}
spec:
  profileRef: {kind: SeccompProfile, name: incluster-no-mkdir}
  image: "IMAGE"
"#;

const GOOD: &str = "apiVersion: security-profiles-operator.x-k8s.io/v1beta1
kind: SeccompProfile
metadata:
  name: incluster-good
  namespace: NS
spec:
  defaultAction: SCMP_ACT_ERRNO
  syscalls:
    - action: SCMP_ACT_ALLOW
      names: [exit, exit_group, read, write]
";

const TYPO: &str = "apiVersion: security-profiles-operator.x-k8s.io/v1beta1
kind: SeccompProfile
metadata:
  name: incluster-typo
  namespace: NS
spec:
  defaultAction: SCMP_ACT_ERRNO
  syscalls:
    - action: SCMP_ACT_ALLOW
      names: [exit, exit_group, read, mkdirr]
";

#[test]
fn installed_from_the_kustomization_runs_as_pods() {
    let name = "installed_from_the_kustomization_runs_as_pods";
    let Some(bins) = Binaries::for_test(name) else {
        return;
    };
    if let Some(why) = spo_e2e::node::unavailable(&bins).or_else(|| spo_e2e::node::proxy_unavailable(&bins)) {
        spo_test_support::skip(format!("{name} needs a real node with kube-proxy: {why}"));
        return;
    }
    let started = Instant::now();
    let dir = tempfile::tempdir().expect("tempdir");
    let cluster =
        Cluster::up_with(dir.path(), &bins, Options { node: true }).unwrap_or_else(|e| panic!("cluster up: {e}"));
    if !cluster.has_kubelet() {
        spo_test_support::skip(format!("{name}: another cluster holds this machine's node"));
        return;
    }
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    rt.block_on(async {
        let spo = incluster::install(&cluster).await.unwrap_or_else(|e| panic!("install: {e}"));
        eprintln!("incluster: {:?}", spo.timings);
        let file = dir.path().join("good.yaml");
        std::fs::write(&file, GOOD.replace("NS", NAMESPACE)).expect("write");
        spo.kubectl(&["apply", "-f", &file.display().to_string()]).expect("a valid profile is admitted");
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if is_installed(&spo, "incluster-good").await {
                break;
            }
            assert!(Instant::now() < deadline, "incluster-good is not Installed:\n{}", spo.describe_pods().await);
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        let file = dir.path().join("typo.yaml");
        std::fs::write(&file, TYPO.replace("NS", NAMESPACE)).expect("write");
        let err = spo.kubectl(&["apply", "-f", &file.display().to_string()]).expect_err("the typo is refused");
        let err = err.to_string();
        assert!(err.contains("mkdirr") && err.contains("incluster-typo"), "not the located message: {err}");

        bound_pod_is_confined(&spo).await;
        failover(&spo, dir.path()).await;
    });
    cluster.down().expect("cluster down");
    eprintln!("incluster: test took {:?}", started.elapsed());
}

/// Whether the SeccompProfile `name` is `Installed` (on every node).
async fn is_installed(spo: &incluster::InCluster, name: &str) -> bool {
    let api: Api<SeccompProfile> = Api::all(spo.client().clone());
    api.get_opt(name).await.ok().flatten().and_then(|p| p.status).and_then(|s| s.status)
        == Some(ProfileState::Installed)
}

/// A ProfileBinding by image gives a pod the profile the in-cluster
/// operator installed through the in-cluster spod, and the kernel refuses
/// mkdir in it.
async fn bound_pod_is_confined(spo: &incluster::InCluster) {
    let client = spo.client();
    manifests::create_namespace(client, "incluster-apps", &["spo.x-k8s.io/enable-binding"]).await.expect("namespace");
    let sas: Api<k8s_openapi::api::core::v1::ServiceAccount> = Api::namespaced(client.clone(), "incluster-apps");
    wait_for(WAIT, "the default service account", || async { sas.get_opt("default").await.ok().flatten() }).await;
    for doc in manifests::parse(&BOUND.replace("IMAGE", &BUSYBOX.replace(":1", ":*"))).expect("manifests") {
        manifests::apply(client, &doc).await.unwrap_or_else(|e| panic!("apply: {e}"));
    }
    wait_for(WAIT, "incluster-no-mkdir Installed", || async {
        is_installed(spo, "incluster-no-mkdir").await.then_some(())
    })
    .await;
    let pods: Api<Pod> = Api::namespaced(client.clone(), "incluster-apps");
    let pod = manifests::script_pod(
        json!({"name": "maker"}),
        BUSYBOX,
        "mkdir /tmp/x && echo made || echo refused; exec sleep 3600",
        None,
    );
    spo_e2e::wait::binding_in_force(&pods, &pod, "operator/incluster-no-mkdir/", WAIT).await;
    let created = pods.create(&PostParams::default(), &pod).await.unwrap_or_else(|e| panic!("create pod: {e}"));
    let profile = spo_e2e::wait::localhost_profile(&created);
    assert!(
        profile.as_deref().is_some_and(|p| p.starts_with("operator/incluster-no-mkdir")),
        "the binding did not set the profile: {profile:?}"
    );
    let log = wait_for(WAIT, "the bound pod's log line", || async {
        let log = pods.logs("maker", &Default::default()).await.ok()?;
        (log.contains("made") || log.contains("refused")).then_some(log)
    })
    .await;
    assert!(log.contains("refused") && log.contains("Operation not permitted"), "mkdir was not refused: {log}");
}

/// How the leader goes.
#[derive(Debug, Clone, Copy)]
enum Kill {
    /// Its pod deleted (the kubelet stops it: SIGTERM, the Lease released).
    DeletePod,
    /// Its process killed with SIGKILL on the node, as a crash: the Lease
    /// is taken only once it expires.
    Crash,
}

/// The pid of the operator process running as pod `pod` (host PID view).
fn operator_pid(pod: &str) -> Option<u32> {
    let want = format!("POD_NAME={pod}");
    for e in std::fs::read_dir("/proc").ok()?.flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else { continue };
        let comm = std::fs::read_to_string(e.path().join("comm")).unwrap_or_default();
        if comm.trim() != "spo-operator" {
            continue;
        }
        let environ = std::fs::read(e.path().join("environ")).unwrap_or_default();
        if environ.split(|b| *b == 0).any(|v| v == want.as_bytes()) {
            return Some(pid);
        }
    }
    None
}

/// Kill the leading operator pod while pods are created in a namespace
/// whose admission needs the webhook (failurePolicy: Fail), both ways.
async fn failover(spo: &incluster::InCluster, dir: &std::path::Path) {
    for (round, kill) in [Kill::DeletePod, Kill::Crash].into_iter().enumerate() {
        one_failover(spo, kill).await;
        // The new leader's controllers: no profile is left without status.
        let name = format!("incluster-after-{round}");
        let file = dir.join(format!("{name}.yaml"));
        std::fs::write(&file, GOOD.replace("incluster-good", &name).replace("NS", NAMESPACE)).expect("write");
        spo.kubectl(&["apply", "-f", &file.display().to_string()]).expect("a profile is admitted after the failover");
        for name in ["incluster-good", "incluster-no-mkdir", name.as_str()] {
            wait_for(WAIT, &format!("{name} Installed after the {kill:?} failover"), || async {
                is_installed(spo, name).await.then_some(())
            })
            .await;
        }
    }
}

async fn one_failover(spo: &incluster::InCluster, kill: Kill) {
    // Both replicas Ready again (after the first round, the Deployment's
    // replacement pod).
    spo.scale_operator(2).await.expect("two replicas Ready");
    let pods = spo.operator_pods().await.expect("operator pods");
    let old = wait_for(WAIT, "a leader", || async { spo.leader().await.ok().flatten() }).await;
    assert!(
        pods.iter().any(|p| p.metadata.name.as_deref() == Some(old.as_str())),
        "the Lease holder {old} is not an operator pod"
    );
    let creates = tokio::spawn(incluster::admission_loop(
        spo.client().clone(),
        "incluster-apps",
        manifests::script_pod(json!({"name": "probe"}), BUSYBOX, "true", None),
        LEASE_DURATION * 2 + Duration::from_secs(5),
    ));
    tokio::time::sleep(Duration::from_secs(3)).await;
    let leases: Api<k8s_openapi::api::coordination::v1::Lease> = Api::namespaced(spo.client().clone(), NAMESPACE);
    let killed_at = Instant::now();
    let killed_wall = k8s_openapi::jiff::Timestamp::now();
    match kill {
        Kill::DeletePod => {
            let killed = spo.delete_leader().await.expect("delete the leader");
            assert_eq!(killed, old);
        }
        Kill::Crash => {
            let pid = operator_pid(&old).unwrap_or_else(|| panic!("no spo-operator process runs as pod {old}"));
            let status = std::process::Command::new("kill").args(["-KILL", &pid.to_string()]).status().expect("kill");
            assert!(status.success(), "kill -KILL {pid} failed");
        }
    }
    // Deleted, the pod is gone and the other replica leads; crashed, the
    // kubelet restarts the container in the same pod, so either replica may
    // lead next: wait for a holder renewing the Lease after the kill.
    let new = wait_for(LEASE_DURATION * 3, "a live replica holding the Lease", || async {
        let lease = leases.get_opt(incluster::LEADER_LEASE).await.ok().flatten()?.spec?;
        let holder = lease.holder_identity.filter(|h| !h.is_empty())?;
        let renewed = lease.renew_time?.0;
        match kill {
            Kill::DeletePod => (holder != old).then_some(holder),
            Kill::Crash => (renewed > killed_wall).then_some(holder),
        }
    })
    .await;
    let takeover = killed_at.elapsed();
    let seen = creates.await.expect("admission loop");
    eprintln!(
        "incluster failover ({kill:?}): {old} gone, {new} leads after {takeover:?} (lease {LEASE_DURATION:?}); \
         {} pod creates admitted, {} refused, longest admission gap {:?}",
        seen.admitted,
        seen.failures.len(),
        seen.longest_gap
    );
    for f in seen.failures.iter().take(5) {
        eprintln!("incluster failover ({kill:?}): refused: {f}");
    }
    assert!(
        takeover < LEASE_DURATION + Duration::from_secs(5),
        "the Lease changed hands after {takeover:?}, more than its duration {LEASE_DURATION:?} and the renew slack"
    );
    assert!(seen.admitted > 10, "admission answered only {} times", seen.admitted);
    assert!(
        seen.longest_gap < LEASE_DURATION,
        "admission stopped answering for {:?} during the failover",
        seen.longest_gap
    );
}
