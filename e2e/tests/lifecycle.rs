//! A profile's life on a real API server: status aggregated from the
//! nodes, the `in-use` finalizer holding it while pods use it, and every
//! way the hold must end (SPO's users hit profiles stuck in Terminating
//! for years, so the release path is tested as hard as the hold).
//!
//! `status_and_release` runs `spo-operator` alone and **the test plays the
//! node agents**: it creates the `Node` objects and writes the
//! `SecurityProfileNodeStatus` objects a `spod` would, so every state a
//! node can report (Error, digests that disagree, a node that vanishes)
//! is reachable on demand. `versioned_rollout` runs the real pair
//! (`spo_e2e::spo::Stack`: operator and spod, with deploy/'s RBAC) under a
//! real Deployment whose ReplicaSets and pods kube-controller-manager
//! creates.
//!
//! Needs the control plane binaries (see `docs/e2e.md`) and the spo
//! binaries (`cargo build -p spo-operator --bin spo-operator -p spod
//! --bin spod`, or `SPO_OPERATOR_BIN` / `SPOD_BIN`); says SKIPPED
//! otherwise.

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::authentication::v1::{TokenRequest, TokenRequestSpec};
use k8s_openapi::api::core::v1::{Node, Pod, ServiceAccount};
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::ResourceExt;
use serde_json::json;
use spo_api::crds::{
    node_status_name, AppArmorProfile, ProfileBinding, ProfileRecording, ProfileState, SeccompProfile,
    SecurityProfileNodeStatus, SelinuxProfile,
};
use spo_e2e::spo::{SpoBinaries, Stack};
use spo_e2e::{manifests, Binaries, Cluster};

const NS: &str = "life";
const FINALIZER: &str = "security-profiles-operator.x-k8s.io/in-use";
const AGENT: &str = "e2e-node-agent";
const D1: &str = "1111111111111111111111111111111111111111111111111111111111111111";
const D2: &str = "2222222222222222222222222222222222222222222222222222222222222222";
const WAIT: Duration = Duration::from_secs(30);

#[test]
fn status_and_release() {
    let Some(bins) = Binaries::for_test("status_and_release") else { return };
    let Some(operator_bin) = operator_binary() else {
        spo_test_support::skip(
            "status_and_release needs the spo-operator binary \
             (cargo build -p spo-operator --bin spo-operator, or SPO_OPERATOR_BIN)",
        );
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let cluster = Cluster::up(dir.path(), &bins).unwrap_or_else(|e| panic!("cluster up: {e}"));
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    rt.block_on(async {
        let client = cluster.client().await.expect("client");
        install_crds(&client).await;
        namespace(&client, NS, false).await;
        for node in ["node-a", "node-b"] {
            create_node(&client, node).await;
        }
        // The operator runs as its service account, with deploy/'s RBAC.
        let kubeconfig = operator_kubeconfig(&client, &cluster).await;
        let mut op = Operator::start(&operator_bin, &kubeconfig, dir.path());
        aggregation(&client, &bins, cluster.kubeconfig()).await;
        release_paths(&client, &mut op).await;
        other_kinds(&client).await;
        recorded_profiles(&client).await;
        drop(op);
    });
    cluster.down().expect("cluster down");
}

/// Node reports in, the profile's status out.
async fn aggregation(client: &kube::Client, bins: &Binaries, kubeconfig: &Path) {
    let sps: Api<SeccompProfile> = Api::all(client.clone());
    create_seccomp(client, "web").await;
    let sp = wait_for(&sps, "web", "finalizer and Pending", |p| {
        p.finalizers().iter().any(|f| f == FINALIZER) && state(p) == Some(ProfileState::Pending)
    })
    .await;
    let st = sp.status.expect("status");
    assert_eq!(st.localhost_profile.as_deref(), Some("operator/web.json"));
    let ready = st.conditions.iter().find(|c| c.type_ == "Ready").expect("Ready condition");
    assert_eq!((ready.status.as_str(), ready.message.as_str()), ("False", "waiting for 2 nodes"));

    report(client, "SeccompProfile", "web", "node-a", ProfileState::Installed, Some(D1), None).await;
    wait_for(&sps, "web", "Partial", |p| state(p) == Some(ProfileState::Partial)).await;

    report(client, "SeccompProfile", "web", "node-b", ProfileState::Installed, Some(D1), None).await;
    let pinned = format!("operator/web/{D1}.json");
    let sp = wait_for(&sps, "web", "Installed and pinned", |p| {
        state(p) == Some(ProfileState::Installed) && pinned_of(p).as_deref() == Some(pinned.as_str())
    })
    .await;
    let ready = sp.status.expect("status").conditions.into_iter().find(|c| c.type_ == "Ready").expect("Ready");
    assert_eq!((ready.status.as_str(), ready.reason.as_str()), ("True", "Installed"));
    assert_eq!(ready.observed_generation, sp.metadata.generation);

    // `kubectl get seccompprofiles` shows it.
    if bins.has("kubectl") {
        let out = Command::new(bins.path("kubectl"))
            .arg("--kubeconfig")
            .arg(kubeconfig)
            .args(["get", "seccompprofiles", "web", "-o", "wide"])
            .output()
            .expect("kubectl runs");
        let text = String::from_utf8_lossy(&out.stdout);
        let row: Vec<&str> = text.lines().nth(1).unwrap_or_default().split_whitespace().collect();
        assert!(
            row.len() >= 4 && row[..2] == ["web", "Installed"] && row[3] == "operator/web.json",
            "kubectl get: {text}"
        );
    } else {
        spo_test_support::skip("kubectl column check: kubectl is not built");
    }

    // One node fails: Error, with that node's message.
    report(client, "SeccompProfile", "web", "node-b", ProfileState::Error, None, Some("line 3: unknown syscall")).await;
    let sp = wait_for(&sps, "web", "Error", |p| state(p) == Some(ProfileState::Error)).await;
    let ready = sp.status.expect("status").conditions.into_iter().find(|c| c.type_ == "Ready").expect("Ready");
    assert_eq!((ready.status.as_str(), ready.message.as_str()), ("False", "node-b: line 3: unknown syscall"));

    // The nodes run different versions: no pinning.
    report(client, "SeccompProfile", "web", "node-b", ProfileState::Installed, Some(D2), None).await;
    wait_for(&sps, "web", "Installed, not pinned", |p| {
        state(p) == Some(ProfileState::Installed)
            && pinned_of(p).is_none()
            && reference(p).as_deref() == Some("operator/web.json")
    })
    .await;

    // node-b leaves the cluster: only node-a counts (pinned again), and
    // node-b's report, which nobody will ever delete, is cleaned up.
    Api::<Node>::all(client.clone()).delete("node-b", &DeleteParams::default()).await.expect("delete node");
    wait_for(&sps, "web", "pinned to node-a's digest", |p| pinned_of(p).as_deref() == Some(pinned.as_str())).await;
    let spns: Api<SecurityProfileNodeStatus> = Api::all(client.clone());
    wait_gone(&spns, &node_status_name("SeccompProfile", "web", "node-b")).await;
    assert!(spns.get_opt(&node_status_name("SeccompProfile", "web", "node-a")).await.expect("get").is_some());
}

/// Every way a hold must end, and the hold itself.
async fn release_paths(client: &kube::Client, op: &mut Operator) {
    let sps: Api<SeccompProfile> = Api::all(client.clone());
    let pods: Api<Pod> = Api::namespaced(client.clone(), NS);

    // Unused, on no node: gone at once.
    create_seccomp(client, "lonely").await;
    wait_for(&sps, "lonely", "finalizer", |p| p.finalizers().iter().any(|f| f == FINALIZER)).await;
    let t = Instant::now();
    sps.delete("lonely", &DeleteParams::default()).await.expect("delete");
    wait_gone(&sps, "lonely").await;
    eprintln!("unused profile deleted in {} ms", t.elapsed().as_millis());

    // Held by a pod, then by a node, then released.
    create_seccomp(client, "held").await;
    report(client, "SeccompProfile", "held", "node-a", ProfileState::Installed, Some(D1), None).await;
    create_pod(client, "user", json!({"containers": [container("c", Some(seccomp("operator/held.json")))]})).await;
    wait_for(&sps, "held", "the pod listed", |p| workloads(p) == ["life/user"]).await;
    sps.delete("held", &DeleteParams::default()).await.expect("delete");
    wait_for(&sps, "held", "Terminating", |p| state(p) == Some(ProfileState::Terminating)).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let sp = sps.get("held").await.expect("still there while the pod runs");
    assert_eq!(workloads(&sp), ["life/user"]);
    delete_pod(client, "user").await;
    // No pod uses it, but node-a still has it installed: held until the
    // node agent says it removed it (by deleting its report) ...
    let sp = wait_for(&sps, "held", "no workloads", |p| workloads(p).is_empty()).await;
    assert_eq!(state(&sp), Some(ProfileState::Terminating));
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(sps.get_opt("held").await.expect("get").is_some(), "released while a node still had it");
    // ... which an agent does once it sees Terminating with no workloads.
    let spns: Api<SecurityProfileNodeStatus> = Api::all(client.clone());
    let t = Instant::now();
    spns.delete(&node_status_name("SeccompProfile", "held", "node-a"), &DeleteParams::default()).await.expect("agent");
    wait_gone(&sps, "held").await;
    eprintln!("profile released {} ms after its last node report went", t.elapsed().as_millis());

    // A pod that finished uses nothing; a versioned reference counts.
    create_seccomp(client, "batch").await;
    create_pod(
        client,
        "job",
        json!({"containers": [container("c", Some(seccomp(&format!("operator/batch/{D1}.json"))))]}),
    )
    .await;
    wait_for(&sps, "batch", "the pod listed", |p| workloads(p) == ["life/job"]).await;
    pods.patch_status("job", &PatchParams::default(), &Patch::Merge(json!({"status": {"phase": "Succeeded"}})))
        .await
        .expect("pod status");
    wait_for(&sps, "batch", "the finished pod dropped", |p| workloads(p).is_empty()).await;
    sps.delete("batch", &DeleteParams::default()).await.expect("delete");
    wait_gone(&sps, "batch").await;

    // The report of a node that no longer exists never blocks.
    create_seccomp(client, "ghosted").await;
    wait_for(&sps, "ghosted", "finalizer", |p| p.finalizers().iter().any(|f| f == FINALIZER)).await;
    report(client, "SeccompProfile", "ghosted", "ghost", ProfileState::Installed, Some(D1), None).await;
    sps.delete("ghosted", &DeleteParams::default()).await.expect("delete");
    wait_gone(&sps, "ghosted").await;
    wait_gone(&spns, &node_status_name("SeccompProfile", "ghosted", "ghost")).await;

    // The operator dies mid-termination; the pod goes while it is down;
    // a fresh operator releases the profile.
    create_seccomp(client, "restart").await;
    create_pod(
        client,
        "r",
        json!({"securityContext": {"seccompProfile": {"type": "Localhost", "localhostProfile": "operator/restart.json"}},
               "containers": [container("c", None)]}),
    )
    .await;
    wait_for(&sps, "restart", "the pod listed", |p| workloads(p) == ["life/r"]).await;
    sps.delete("restart", &DeleteParams::default()).await.expect("delete");
    wait_for(&sps, "restart", "Terminating", |p| state(p) == Some(ProfileState::Terminating)).await;
    op.kill();
    delete_pod(client, "r").await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(sps.get_opt("restart").await.expect("get").is_some(), "nothing released it while the operator was down");
    op.restart();
    wait_gone(&sps, "restart").await;

    // The fresh operator counts what it did: the release above, and no
    // failed reconcile.
    let metrics = op.metrics();
    let counter = |name: &str| -> u64 {
        metrics
            .lines()
            .find_map(|l| l.strip_prefix(name).and_then(|v| v.trim().parse().ok()))
            .unwrap_or_else(|| panic!("{name} missing from /metrics:\n{metrics}"))
    };
    assert!(metrics.starts_with("HTTP/1.0 200 OK"), "{metrics}");
    assert!(counter("spo_operator_reconciles_total ") > 0, "{metrics}");
    assert_eq!(counter("spo_operator_finalizers_removed_total "), 1, "{metrics}");
    assert_eq!(
        counter("spo_operator_reconcile_errors_total "),
        0,
        "reconcile errors; the operator's log since its restart:\n{}",
        op.this_run_log()
    );
}

/// Profiles made from a recording, the test playing the node agent that
/// reports the recorded containers: a user's edit is kept until the
/// result changes, a deleted profile comes back while its recording
/// exists, and nothing comes back once the recording is gone.
async fn recorded_profiles(client: &kube::Client) {
    let recordings: Api<ProfileRecording> = Api::namespaced(client.clone(), NS);
    let sps: Api<SeccompProfile> = Api::all(client.clone());
    manifests::apply(
        client,
        &json!({"apiVersion": "security-profiles-operator.x-k8s.io/v1", "kind": "ProfileRecording",
                "metadata": {"name": "rec", "namespace": NS},
                "spec": {"kind": "SeccompProfile", "recorder": "Bpf", "mergeStrategy": "Containers",
                         "podSelector": {"matchLabels": {"app": "rec"}}}}),
    )
    .await
    .unwrap_or_else(|e| panic!("recording: {e}"));
    let report = |pods: &[(&str, &[&str])]| {
        let recorded: Vec<_> = pods
            .iter()
            .map(|(pod, names)| {
                json!({"pod": pod, "container": "c", "node": "node-a", "recorder": "bpf",
                "syscalls": [{"architecture": "SCMP_ARCH_X86_64", "names": names}]})
            })
            .collect();
        json!({"apiVersion": "security-profiles-operator.x-k8s.io/v1", "kind": "ProfileRecording",
               "metadata": {"name": "rec", "namespace": NS}, "status": {"recorded": recorded}})
    };
    let agent = PatchParams::apply("spod-node-a").force();
    recordings.patch_status("rec", &agent, &Patch::Apply(report(&[("p1", &["read", "write"])]))).await.expect("report");
    let names = |p: &SeccompProfile| -> Vec<String> { p.spec.syscalls.iter().flat_map(|s| s.names.clone()).collect() };
    let first = wait_for(&sps, "rec-c", "the recorded profile", |p| names(p) == ["read", "write"]).await;

    // The user loosens it; a later event of the recording keeps the edit.
    sps.patch("rec-c", &PatchParams::default(), &Patch::Merge(json!({"spec": {"defaultAction": "SCMP_ACT_LOG"}})))
        .await
        .expect("edit");
    recordings
        .patch("rec", &PatchParams::default(), &Patch::Merge(json!({"metadata": {"labels": {"touched": "yes"}}})))
        .await
        .expect("touch");
    tokio::time::sleep(Duration::from_secs(1)).await;
    let edited = sps.get("rec-c").await.expect("get");
    assert_eq!(serde_json::to_value(edited.spec.default_action).unwrap(), "SCMP_ACT_LOG", "the edit was undone");

    // Deleted while its recording exists: written again, as recorded.
    sps.delete("rec-c", &DeleteParams::default()).await.expect("delete");
    let again = wait_for(&sps, "rec-c", "the profile written again", |p| p.uid() != first.uid()).await;
    assert_eq!(names(&again), ["read", "write"]);
    assert_eq!(serde_json::to_value(again.spec.default_action).unwrap(), "SCMP_ACT_ERRNO");

    // A new result (another replica ended) is written.
    recordings
        .patch_status("rec", &agent, &Patch::Apply(report(&[("p1", &["read", "write"]), ("p2", &["getpid"])])))
        .await
        .expect("report");
    wait_for(&sps, "rec-c", "the new result", |p| names(p) == ["getpid", "read", "write"]).await;

    // Without its recording, a deleted profile stays deleted.
    recordings.delete("rec", &DeleteParams::default()).await.expect("delete recording");
    wait_gone(&recordings, "rec").await;
    sps.delete("rec-c", &DeleteParams::default()).await.expect("delete");
    wait_gone(&sps, "rec-c").await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(sps.get_opt("rec-c").await.expect("get").is_none(), "came back without its recording");
}

/// SELinux types and AppArmor names count as uses too.
async fn other_kinds(client: &kube::Client) {
    let sel: Api<SelinuxProfile> = Api::all(client.clone());
    let aa: Api<AppArmorProfile> = Api::all(client.clone());
    let post = |value: serde_json::Value| async move {
        manifests::apply(client, &value)
            .await
            .unwrap_or_else(|e| panic!("create: {e} ({:?})", std::error::Error::source(&e)));
    };
    post(json!({
        "apiVersion": "security-profiles-operator.x-k8s.io/v1", "kind": "SelinuxProfile",
        "metadata": {"name": "logs"},
        "spec": {"inherit": [{"kind": "System", "name": "container"}], "allow": {"var_log_t": {"file": ["read", "open"]}}},
    }))
    .await;
    post(json!({
        "apiVersion": "security-profiles-operator.x-k8s.io/v1", "kind": "AppArmorProfile",
        "metadata": {"name": "aa-web"},
        "spec": {"abstract": {"filesystem": {"readOnlyPaths": ["/etc/**"]}}},
    }))
    .await;
    create_pod(
        client,
        "sel-user",
        json!({"containers": [container("c", Some(json!({"seLinuxOptions": {"type": "logs.process"}})))]}),
    )
    .await;
    create_pod(
        client,
        "aa-user",
        json!({"containers": [container("c", Some(json!({"appArmorProfile": {"type": "Localhost", "localhostProfile": "aa-web"}})))]}),
    )
    .await;
    let p = wait_for(&sel, "logs", "the pod listed", |p| {
        p.status.as_ref().is_some_and(|s| s.active_workloads == ["life/sel-user"])
    })
    .await;
    assert_eq!(p.status.and_then(|s| s.usage).as_deref(), Some("logs.process"));
    let p = wait_for(&aa, "aa-web", "the pod listed", |p| {
        p.status.as_ref().is_some_and(|s| s.active_workloads == ["life/aa-user"])
    })
    .await;
    assert_eq!(p.status.and_then(|s| s.localhost_profile).as_deref(), Some("aa-web"));
    sel.delete("logs", &DeleteParams::default()).await.expect("delete");
    aa.delete("aa-web", &DeleteParams::default()).await.expect("delete");
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(sel.get_opt("logs").await.expect("get").is_some() && aa.get_opt("aa-web").await.expect("get").is_some());
    delete_pod(client, "sel-user").await;
    delete_pod(client, "aa-user").await;
    wait_gone(&sel, "logs").await;
    wait_gone(&aa, "aa-web").await;
}

/// Image v1 bound to profile v1, then image v2 bound to profile v2, rolled
/// out by a real Deployment: each ReplicaSet's pods carry their own
/// profile version, pinned; `rollout undo` brings v1 back; the node keeps
/// both versions' files while pods use them.
#[test]
fn versioned_rollout() {
    let Some(bins) = Binaries::for_test("versioned_rollout") else { return };
    let spo_bins = match SpoBinaries::find() {
        Ok(b) => b,
        Err(e) => {
            spo_test_support::skip(format!("versioned_rollout: {e}"));
            return;
        }
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let cluster = Cluster::up(dir.path(), &bins).unwrap_or_else(|e| panic!("cluster up: {e}"));
    if !cluster.has_controller_manager() {
        spo_test_support::skip("versioned_rollout needs kube-controller-manager");
        return;
    }
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    rt.block_on(async {
        let stack = Stack::start(&cluster, &spo_bins).await.unwrap_or_else(|e| panic!("spo up: {e}"));
        let client = cluster.client().await.expect("client");
        rollout(&client, &stack).await;
        stack.stop().expect("stop spo");
    });
    cluster.down().expect("cluster down");
}

async fn rollout(client: &kube::Client, stack: &Stack) {
    const RNS: &str = "rollout";
    namespace(client, RNS, true).await;
    let sps: Api<SeccompProfile> = Api::all(client.clone());
    let post = |value: serde_json::Value| async move {
        manifests::apply(client, &value)
            .await
            .unwrap_or_else(|e| panic!("apply: {e} ({:?})", std::error::Error::source(&e)));
    };
    // Two versions of the app's profile, different content.
    let mut pinned = Vec::new();
    for (name, extra) in [("app-v1", "getpid"), ("app-v2", "getppid")] {
        post(json!({
            "apiVersion": "security-profiles-operator.x-k8s.io/v1", "kind": "SeccompProfile",
            "metadata": {"name": name},
            "spec": {"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"action": "SCMP_ACT_ALLOW", "names": ["read", "write", "exit_group", extra]}]},
        }))
        .await;
        let sp = wait_for(&sps, name, "Installed and pinned", |p| {
            state(p) == Some(ProfileState::Installed)
                && pinned_of(p).is_some_and(|r| r.ends_with(".json") && r.matches('/').count() == 2)
        })
        .await;
        pinned.push(pinned_of(&sp).expect("pinned reference"));
    }
    let (v1_ref, v2_ref) = (pinned[0].clone(), pinned[1].clone());
    assert_ne!(v1_ref, v2_ref);
    for (name, image, profile) in
        [("bind-v1", "registry.example/app:v1", "app-v1"), ("bind-v2", "registry.example/app:v2", "app-v2")]
    {
        post(json!({
            "apiVersion": "security-profiles-operator.x-k8s.io/v1", "kind": "ProfileBinding",
            "metadata": {"name": name, "namespace": RNS},
            "spec": {"profileRef": {"kind": "SeccompProfile", "name": profile}, "image": image},
        }))
        .await;
    }
    let bindings: Api<ProfileBinding> = Api::namespaced(client.clone(), RNS);
    assert_eq!(bindings.list(&ListParams::default()).await.expect("bindings").items.len(), 2);
    let pods: Api<Pod> = Api::namespaced(client.clone(), RNS);
    for (image, reference) in [("registry.example/app:v1", &v1_ref), ("registry.example/app:v2", &v2_ref)] {
        let probe = manifests::script_pod(json!({"name": "probe"}), image, "true", None);
        spo_e2e::wait::binding_in_force(&pods, &probe, reference, WAIT).await;
    }

    let deployments: Api<Deployment> = Api::namespaced(client.clone(), RNS);
    let deployment = |image: &str| {
        json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "app", "namespace": RNS},
            "spec": {
                "replicas": 2,
                "selector": {"matchLabels": {"app": "app"}},
                "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 2, "maxUnavailable": 0}},
                "template": {"metadata": {"labels": {"app": "app"}}, "spec": {"containers": [{"name": "app", "image": image}]}},
            },
        })
    };
    deployments
        .patch("app", &PatchParams::apply(AGENT).force(), &Patch::Apply(deployment("registry.example/app:v1")))
        .await
        .expect("deployment v1");
    let v1_pods = wait_pods(client, RNS, "registry.example/app:v1", 2).await;
    for p in &v1_pods {
        assert_eq!(spo_e2e::wait::localhost_profile(p).as_deref(), Some(v1_ref.as_str()), "v1 pod {}", p.name_any());
    }

    // Roll out v2: the new ReplicaSet's pods get v2's pinned profile; no
    // kubelet ever makes them ready, so the old pods stay, with v1's.
    deployments
        .patch("app", &PatchParams::apply(AGENT).force(), &Patch::Apply(deployment("registry.example/app:v2")))
        .await
        .expect("deployment v2");
    let v2_pods = wait_pods(client, RNS, "registry.example/app:v2", 2).await;
    for p in &v2_pods {
        assert_eq!(spo_e2e::wait::localhost_profile(p).as_deref(), Some(v2_ref.as_str()), "v2 pod {}", p.name_any());
    }
    let still_v1 = wait_pods(client, RNS, "registry.example/app:v1", 2).await;
    for p in &still_v1 {
        assert_eq!(spo_e2e::wait::localhost_profile(p).as_deref(), Some(v1_ref.as_str()), "old pod {}", p.name_any());
    }
    let rss: Api<ReplicaSet> = Api::namespaced(client.clone(), RNS);
    assert_eq!(rss.list(&ListParams::default().labels("app=app")).await.expect("rs").items.len(), 2);

    // Both versions are on the node while used, and each profile lists its pods.
    for r in [&v1_ref, &v2_ref] {
        let file = stack.kubelet_root().join("seccomp").join(r);
        assert!(file.is_file(), "{} missing on the node", file.display());
    }
    wait_for(&sps, "app-v1", "v1 pods listed", |p| workloads(p).len() == 2).await;
    wait_for(&sps, "app-v2", "v2 pods listed", |p| workloads(p).len() == 2).await;

    // Undo (what `kubectl rollout undo` does: the previous template back,
    // so the v1 ReplicaSet is the Deployment's current one again). Its
    // pods are replaced (no kubelet ever retires them by itself), and
    // every new pod gets v1's profile again.
    deployments
        .patch("app", &PatchParams::apply(AGENT).force(), &Patch::Apply(deployment("registry.example/app:v1")))
        .await
        .expect("undo");
    let deadline = Instant::now() + WAIT;
    loop {
        let d = deployments.get("app").await.expect("deployment");
        let current = rss
            .list(&ListParams::default().labels("app=app"))
            .await
            .expect("rs")
            .items
            .into_iter()
            .max_by_key(revision)
            .expect("a ReplicaSet");
        if d.status.and_then(|s| s.observed_generation) == d.metadata.generation
            && serde_json::to_value(&current).expect("json").pointer("/spec/template/spec/containers/0/image")
                == Some(&json!("registry.example/app:v1"))
        {
            break;
        }
        assert!(Instant::now() < deadline, "the Deployment did not roll back to v1");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let old: Vec<String> = still_v1.iter().map(|p| p.name_any()).collect();
    let pods: Api<Pod> = Api::namespaced(client.clone(), RNS);
    for name in &old {
        pods.delete(name, &DeleteParams { grace_period_seconds: Some(0), ..DeleteParams::default() })
            .await
            .expect("delete pod");
    }
    let deadline = Instant::now() + WAIT;
    loop {
        let fresh: Vec<Pod> = list_pods(client, RNS)
            .await
            .into_iter()
            .filter(|p| !old.contains(&p.name_any()) && image(p).as_deref() == Some("registry.example/app:v1"))
            .collect();
        if fresh.len() >= 2 {
            for p in &fresh {
                assert_eq!(
                    spo_e2e::wait::localhost_profile(p).as_deref(),
                    Some(v1_ref.as_str()),
                    "pod {} after undo",
                    p.name_any()
                );
            }
            break;
        }
        assert!(Instant::now() < deadline, "no new v1 pods after the undo: {} of 2", fresh.len());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Both versions stay on the node: pods of each still use them.
    for r in [&v1_ref, &v2_ref] {
        assert!(stack.kubelet_root().join("seccomp").join(r).is_file(), "{r} removed while in use");
    }
    eprintln!("v1 pods pinned to {v1_ref}, v2 pods to {v2_ref}");

    // Pods bound through a binding hold their profile like any other: v2
    // is deleted while its pods exist and stays, Terminating, on the node.
    sps.delete("app-v2", &DeleteParams::default()).await.expect("delete v2");
    wait_for(&sps, "app-v2", "Terminating, held by its pods", |p| {
        state(p) == Some(ProfileState::Terminating) && workloads(p).len() == 2
    })
    .await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(sps.get_opt("app-v2").await.expect("get").is_some(), "released while bound pods use it");
    assert!(stack.kubelet_root().join("seccomp").join(&v2_ref).is_file(), "{v2_ref} removed while in use");
    // The Deployment goes; the garbage collector takes its ReplicaSets and
    // pods; spod removes v2 from the node; the operator releases it.
    let t = Instant::now();
    deployments.delete("app", &DeleteParams::background()).await.expect("delete deployment");
    wait_gone(&sps, "app-v2").await;
    eprintln!("v2 released {} ms after its Deployment was deleted", t.elapsed().as_millis());
    assert!(sps.get_opt("app-v1").await.expect("get").is_some(), "v1 was never deleted");
}

/// A ReplicaSet's Deployment revision.
fn revision(rs: &ReplicaSet) -> u64 {
    rs.annotations().get("deployment.kubernetes.io/revision").and_then(|r| r.parse().ok()).unwrap_or(0)
}

// ---- helpers -------------------------------------------------------------

/// `spo-operator` as a child process of the test.
struct Operator {
    bin: PathBuf,
    kubeconfig: PathBuf,
    log: PathBuf,
    child: Option<Child>,
    starts: usize,
    metrics_port: u16,
}

impl Operator {
    fn start(bin: &Path, kubeconfig: &Path, dir: &Path) -> Operator {
        let mut op = Operator {
            bin: bin.to_owned(),
            kubeconfig: kubeconfig.to_owned(),
            log: dir.join("spo-operator.log"),
            child: None,
            starts: 0,
            metrics_port: 0,
        };
        op.restart();
        op
    }

    /// Start (again), with a fresh webhook port, and wait until the
    /// controllers' caches are synced and the webhooks serve.
    fn restart(&mut self) {
        self.kill();
        let free = || std::net::TcpListener::bind("127.0.0.1:0").expect("port").local_addr().expect("addr").port();
        let (port, metrics_port) = (free(), free());
        self.metrics_port = metrics_port;
        let log = std::fs::OpenOptions::new().create(true).append(true).open(&self.log).expect("log");
        let child = Command::new(&self.bin)
            .env("KUBECONFIG", &self.kubeconfig)
            .env("RUST_LOG", "info")
            .args([
                format!("--webhook-listen=127.0.0.1:{port}"),
                format!("--webhook-url=https://127.0.0.1:{port}"),
                "--namespace=security-profiles-operator".to_owned(),
                format!("--metrics-listen=127.0.0.1:{metrics_port}"),
            ])
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("spawn spo-operator");
        self.child = Some(child);
        self.starts += 1;
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let text = std::fs::read_to_string(&self.log).unwrap_or_default();
            let this_run = text.split("spo-operator starting").nth(self.starts).unwrap_or_default();
            if this_run.contains("controller caches synced") && this_run.contains("webhook ready") {
                return;
            }
            if let Some(status) = self.child.as_mut().and_then(|c| c.try_wait().expect("wait")) {
                panic!("spo-operator exited ({status}):\n{text}");
            }
            assert!(Instant::now() < deadline, "spo-operator not ready after 60 s:\n{text}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The log of the running operator, from its latest start.
    fn this_run_log(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        text.split("spo-operator starting").nth(self.starts).unwrap_or_default().to_owned()
    }

    /// The operator's `/metrics` text.
    fn metrics(&self) -> String {
        use std::io::{Read, Write};
        let mut conn = std::net::TcpStream::connect(("127.0.0.1", self.metrics_port)).expect("metrics server");
        conn.write_all(b"GET /metrics HTTP/1.0\r\n\r\n").expect("request");
        let mut text = String::new();
        conn.read_to_string(&mut text).expect("response");
        text
    }

    /// SIGKILL, as a crash would.
    fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Operator {
    fn drop(&mut self) {
        self.kill();
    }
}

fn operator_binary() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("SPO_OPERATOR_BIN") {
        return Some(PathBuf::from(p));
    }
    let exe = std::env::current_exe().ok()?;
    exe.ancestors().skip(1).take(2).map(|d| d.join("spo-operator")).find(|p| p.is_file())
}

/// Apply deploy/'s namespace and RBAC, and write a kubeconfig holding a
/// token of the `spo-operator` service account.
async fn operator_kubeconfig(client: &kube::Client, cluster: &Cluster) -> PathBuf {
    for file in ["namespace.yaml", "rbac.yaml", "webhook.yaml"] {
        for doc in manifests::load(&spo_e2e::spo::deploy_dir().join(file)).expect("manifest") {
            manifests::apply(client, &doc).await.unwrap_or_else(|e| panic!("deploy/{file}: {e}"));
        }
    }
    let sas: Api<ServiceAccount> = Api::namespaced(client.clone(), "security-profiles-operator");
    let request = TokenRequest {
        spec: Some(TokenRequestSpec { expiration_seconds: Some(3600), ..TokenRequestSpec::default() }),
        ..TokenRequest::default()
    };
    let token = sas
        .create_token_request("spo-operator", &PostParams::default(), &request)
        .await
        .expect("token")
        .status
        .expect("token status")
        .token;
    let config = json!({
        "apiVersion": "v1", "kind": "Config",
        "clusters": [{"name": "e2e", "cluster": {"server": cluster.server(), "certificate-authority": cluster.dir().join("pki/ca.crt")}}],
        "users": [{"name": "spo-operator", "user": {"token": token}}],
        "contexts": [{"name": "e2e", "context": {"cluster": "e2e", "user": "spo-operator"}}],
        "current-context": "e2e",
    });
    let path = cluster.dir().join("lifecycle-operator.kubeconfig");
    std::fs::write(&path, serde_json::to_string_pretty(&config).expect("json")).expect("kubeconfig");
    path
}

async fn install_crds(client: &kube::Client) {
    let mut names = Vec::new();
    for crd in spo_api::all_crds() {
        manifests::apply(client, &serde_json::to_value(&crd).expect("crd json")).await.expect("CRD");
        names.push(crd.metadata.name.expect("name"));
    }
    manifests::wait_established(client, &names, WAIT).await.expect("established");
}

async fn namespace(client: &kube::Client, name: &str, binding: bool) {
    let labels: &[&str] = if binding { &["spo.x-k8s.io/enable-binding"] } else { &[] };
    manifests::create_namespace(client, name, labels).await.expect("namespace");
}

async fn create_node(client: &kube::Client, name: &str) {
    let node = json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": name}});
    Api::<Node>::all(client.clone())
        .patch(name, &PatchParams::apply(AGENT).force(), &Patch::Apply(node))
        .await
        .expect("node");
}

async fn create_seccomp(client: &kube::Client, name: &str) {
    let sp = json!({
        "apiVersion": "security-profiles-operator.x-k8s.io/v1", "kind": "SeccompProfile",
        "metadata": {"name": name},
        "spec": {"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"action": "SCMP_ACT_ALLOW", "names": ["read", "write", "exit_group"]}]},
    });
    manifests::apply(client, &sp)
        .await
        .unwrap_or_else(|e| panic!("create {name}: {e} ({:?})", std::error::Error::source(&e)));
}

/// Write what a node agent would: the node status of `profile` on `node`.
async fn report(
    client: &kube::Client,
    kind: &str,
    profile: &str,
    node: &str,
    state: ProfileState,
    digest: Option<&str>,
    message: Option<&str>,
) {
    let name = node_status_name(kind, profile, node);
    let api: Api<SecurityProfileNodeStatus> = Api::all(client.clone());
    let mut status = json!({"status": state.as_str()});
    if let Some(d) = digest {
        status["contentDigest"] = json!(d);
    }
    if let Some(m) = message {
        status["message"] = json!(m);
    }
    let obj = json!({
        "apiVersion": "security-profiles-operator.x-k8s.io/v1", "kind": "SecurityProfileNodeStatus",
        "metadata": {"name": name, "labels": {
            "spo.x-k8s.io/profile-kind": kind, "spo.x-k8s.io/profile-name": profile, "spo.x-k8s.io/node": node}},
        "spec": {"nodeName": node, "profileKind": kind, "profileName": profile},
        "status": status,
    });
    api.patch(&name, &PatchParams::apply(AGENT).force(), &Patch::Apply(obj)).await.expect("node status");
}

fn container(name: &str, security_context: Option<serde_json::Value>) -> serde_json::Value {
    let mut c = json!({"name": name, "image": "registry.example/tool:1"});
    if let Some(sc) = security_context {
        c["securityContext"] = sc;
    }
    c
}

fn seccomp(localhost: &str) -> serde_json::Value {
    json!({"seccompProfile": {"type": "Localhost", "localhostProfile": localhost}})
}

/// Create a pod, retrying while the namespace's default service account
/// does not exist yet (the controller manager makes it).
async fn create_pod(client: &kube::Client, name: &str, spec: serde_json::Value) {
    let pods: Api<Pod> = Api::namespaced(client.clone(), NS);
    let pod: Pod =
        serde_json::from_value(json!({"metadata": {"name": name, "namespace": NS}, "spec": spec})).expect("pod json");
    let deadline = Instant::now() + WAIT;
    loop {
        match pods.create(&PostParams::default(), &pod).await {
            Ok(_) => return,
            Err(kube::Error::Api(s)) if s.message.contains("serviceaccount") && Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(e) => panic!("create pod {name}: {e}"),
        }
    }
}

async fn delete_pod(client: &kube::Client, name: &str) {
    let pods: Api<Pod> = Api::namespaced(client.clone(), NS);
    pods.delete(name, &DeleteParams { grace_period_seconds: Some(0), ..DeleteParams::default() })
        .await
        .expect("delete pod");
    wait_gone(&pods, name).await;
}

fn state(p: &SeccompProfile) -> Option<ProfileState> {
    p.status.as_ref().and_then(|s| s.status)
}

fn reference(p: &SeccompProfile) -> Option<String> {
    p.status.as_ref().and_then(|s| s.localhost_profile.clone())
}

fn pinned_of(p: &SeccompProfile) -> Option<String> {
    p.status.as_ref().and_then(|s| s.pinned_profile.clone())
}

fn workloads(p: &SeccompProfile) -> Vec<String> {
    p.status.as_ref().map(|s| s.active_workloads.clone()).unwrap_or_default()
}

async fn wait_for<K>(api: &Api<K>, name: &str, what: &str, ok: impl Fn(&K) -> bool) -> K
where
    K: kube::Resource + Clone + std::fmt::Debug + serde::de::DeserializeOwned,
{
    let deadline = Instant::now() + WAIT;
    loop {
        // Absent counts as not yet: some objects are waited for to appear.
        let obj = api.get_opt(name).await.unwrap_or_else(|e| panic!("get {name} (waiting for {what}): {e}"));
        if let Some(obj) = obj.as_ref().filter(|o| ok(o)) {
            return obj.clone();
        }
        assert!(Instant::now() < deadline, "{name}: no {what} after {WAIT:?}: {obj:#?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn wait_gone<K>(api: &Api<K>, name: &str)
where
    K: kube::Resource + Clone + std::fmt::Debug + serde::de::DeserializeOwned,
{
    let deadline = Instant::now() + WAIT;
    loop {
        match api.get_opt(name).await.expect("get") {
            None => return,
            Some(obj) => assert!(Instant::now() < deadline, "{name} still there after {WAIT:?}: {obj:#?}"),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn list_pods(client: &kube::Client, ns: &str) -> Vec<Pod> {
    Api::<Pod>::namespaced(client.clone(), ns).list(&ListParams::default()).await.expect("pods").items
}

fn image(p: &Pod) -> Option<String> {
    p.spec.as_ref()?.containers.first()?.image.clone()
}

/// Wait until `n` pods run `image`; returns them.
async fn wait_pods(client: &kube::Client, ns: &str, img: &str, n: usize) -> Vec<Pod> {
    let deadline = Instant::now() + WAIT;
    loop {
        let pods: Vec<Pod> =
            list_pods(client, ns).await.into_iter().filter(|p| image(p).as_deref() == Some(img)).collect();
        if pods.len() >= n {
            return pods;
        }
        assert!(Instant::now() < deadline, "{} pods of {img} after {WAIT:?}, want {n}", pods.len());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
