//! The admission webhooks on a real API server, served in-process by
//! `spo_operator::webhook::run` on loopback, with the configurations it
//! applies itself:
//! - `kubectl apply` of an invalid SeccompProfile is refused and shows the
//!   located diagnostic (` --> seccompprofile/NS/NAME:LINE:COL`, the line,
//!   a caret, the did-you-mean);
//! - a pod in a namespace labelled `spo.x-k8s.io/enable-binding` gets its
//!   binding's profile (the pinned reference of an Installed profile);
//! - a pod in a namespace a profile's `spec.allowedNamespaces` leaves out
//!   is refused, directly or through a binding, and allowed ones pass; so
//!   is an ephemeral container added to a running pod.
//!
//! Needs the control plane binaries (see `docs/e2e.md`). Without them the
//! test says SKIPPED and passes; `SPO_E2E=1` builds them first.

use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{Pod, ServiceAccount};
use kube::api::{Api, Patch, PatchParams, PostParams};
use kube::Client;
use serde_json::{json, Value};
use spo_api::crds::{ProfileBinding, SeccompProfile, GROUP};
use spo_e2e::{manifests, Binaries, Cluster};
use spo_operator::webhook::{self, WebhookOptions};

const TYPO: &str = "\
apiVersion: security-profiles-operator.x-k8s.io/v1
kind: SeccompProfile
metadata:
  name: typo
spec:
  defaultAction: SCMP_ACT_ERRNO
  syscalls:
    - action: SCMP_ACT_ALLOW
      names: [exit, exit_group, read, mkdirr]
";

#[test]
fn admission_on_a_real_api_server() {
    let Some(bins) = Binaries::for_test("admission_on_a_real_api_server") else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let cluster = Cluster::up(dir.path(), &bins).unwrap_or_else(|e| panic!("cluster up: {e}"));
    // Several workers: the webhook answers the API server while the test
    // waits on it.
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    let kubectl = bins.has("kubectl").then(|| bins.path("kubectl"));
    rt.block_on(scenario(&cluster, kubectl));
    drop(rt);
    cluster.down().expect("cluster down");
}

async fn scenario(cluster: &Cluster, kubectl: Option<PathBuf>) {
    let client = cluster.client().await.expect("client");
    install_crds(&client).await;
    for (ns, labelled) in [("web", true), ("infra", false), ("other", false)] {
        namespace(&client, ns, labelled).await;
    }

    let port = free_port();
    let (tx, rx) = tokio::sync::oneshot::channel();
    let mut opts = WebhookOptions::new(SocketAddr::from((Ipv4Addr::LOCALHOST, port)), "security-profiles-operator");
    opts.url = Some(format!("https://127.0.0.1:{port}"));
    opts.ready = Some(tx);
    let started = Instant::now();
    let server = tokio::spawn(webhook::run(client.clone(), opts));
    match tokio::time::timeout(Duration::from_secs(60), rx).await {
        Ok(Ok(addr)) => eprintln!("webhook ready on {addr} in {:.2} s", started.elapsed().as_secs_f64()),
        _ => panic!("webhook not ready: {:?}", server.await),
    }

    invalid_profile_is_refused(&client, kubectl.as_deref(), cluster.kubeconfig()).await;
    bindings_and_namespace_policy(&client).await;
    server.abort();
}

async fn invalid_profile_is_refused(client: &Client, kubectl: Option<&Path>, kubeconfig: &Path) {
    let sps: Api<SeccompProfile> = Api::all(client.clone());
    let doc = &manifests::parse(TYPO).expect("yaml")[0];
    let err = sps
        .create(&PostParams::default(), &serde_json::from_value(doc.clone()).expect("profile"))
        .await
        .expect_err("an invalid profile is refused");
    let msg = err.to_string();
    assert!(msg.contains("unknown syscall `mkdirr`"), "{msg}");
    assert!(sps.get_opt("typo").await.expect("get").is_none(), "nothing invalid is stored");

    let Some(kubectl) = kubectl else {
        spo_test_support::skip("the kubectl part of invalid_profile_is_refused: kubectl is not built");
        return;
    };
    let file = kubeconfig.with_file_name("typo.yaml");
    std::fs::write(&file, TYPO).expect("write manifest");
    let (kubectl, kubeconfig) = (kubectl.to_owned(), kubeconfig.to_owned());
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new(kubectl).env("KUBECONFIG", kubeconfig).arg("apply").arg("-f").arg(file).output()
    })
    .await
    .expect("join")
    .expect("kubectl runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    eprintln!("kubectl apply of an invalid profile says:\n{stderr}");
    assert!(!out.status.success());
    assert!(stderr.contains("denied the request: seccompprofile/typo is invalid (1 error(s)"), "{stderr}");
    assert!(stderr.contains("error: unknown syscall `mkdirr`"), "{stderr}");
    // Line 14 of the object as stored (no namespace; the API server adds
    // `state: Enabled`).
    assert!(stderr.contains(" --> seccompprofile/typo:14:11"), "{stderr}");
    assert!(stderr.contains("^^^^^^"), "{stderr}");
    assert!(stderr.contains("help: did you mean `mkdir`?"), "{stderr}");
}

async fn bindings_and_namespace_policy(client: &Client) {
    // A profile only `infra` may use, one everybody may use (Installed,
    // with a pinned reference), and a binding of the latter to nginx.
    create_cluster_wide(client, seccomp("node-logs", Some(&["infra"]))).await;
    create_cluster_wide(client, seccomp("nginx", None)).await;
    let pinned = format!("operator/nginx/{}.json", "0".repeat(64));
    let status =
        json!({"status": {"status": "Installed", "localhostProfile": "operator/nginx.json", "pinnedProfile": pinned}});
    Api::<SeccompProfile>::all(client.clone())
        .patch_status("nginx", &PatchParams::default(), &Patch::Merge(&status))
        .await
        .expect("status");
    create(
        client,
        "web",
        json!({"apiVersion": format!("{GROUP}/v1"), "kind": "ProfileBinding",
               "metadata": {"name": "nginx"},
               "spec": {"profileRef": {"kind": "SeccompProfile", "name": "nginx"}, "image": "*/nginx:*",
                        "podSelector": {"matchLabels": {"app": "front"}}}}),
    )
    .await;

    // The binding applies once the webhook's cache has it (milliseconds);
    // dry runs go through admission without storing anything.
    let front = pod("front", &[("app", "front")], "docker.io/library/nginx:1.27", None);
    let pods: Api<Pod> = Api::namespaced(client.clone(), "web");
    spo_e2e::wait::binding_in_force(
        &pods,
        &serde_json::from_value(front.clone()).expect("pod"),
        &pinned,
        Duration::from_secs(20),
    )
    .await;
    let stored = pods.create(&PostParams::default(), &serde_json::from_value(front).expect("pod")).await.expect("pod");
    assert_eq!(container_seccomp(&stored), Some(("Localhost".to_owned(), Some(pinned.clone()))));

    // Not selected (labels), not matched (image): untouched.
    let other = pod("back", &[("app", "back")], "docker.io/library/nginx:1.27", None);
    let p = pods.create(&PostParams::default(), &serde_json::from_value(other).expect("pod")).await.expect("pod");
    assert_eq!(container_seccomp(&p), None);
    let busy = pod("busy", &[("app", "front")], "busybox:1.36", None);
    let p = pods.create(&PostParams::default(), &serde_json::from_value(busy).expect("pod")).await.expect("pod");
    assert_eq!(container_seccomp(&p), None);
    // A namespace without the label gets no binding.
    let plain: Api<Pod> = Api::namespaced(client.clone(), "other");
    let p = plain
        .create(
            &PostParams::default(),
            &serde_json::from_value(pod("front", &[("app", "front")], "docker.io/library/nginx:1.27", None))
                .expect("pod"),
        )
        .await
        .expect("pod");
    assert_eq!(container_seccomp(&p), None);

    // Namespace policy on a direct reference, in a namespace without the
    // binding label: refused where not allowed, admitted where allowed.
    let logs = Some("operator/node-logs.json");
    let refused = plain
        .create(&PostParams::default(), &serde_json::from_value(pod("reader", &[], "busybox:1.36", logs)).expect("pod"))
        .await
        .expect_err("a pod outside allowedNamespaces is refused");
    let msg = refused.to_string();
    assert!(
        msg.contains(
            "SeccompProfile node-logs may not be used in namespace other: \
             its spec.allowedNamespaces allows only [infra]"
        ),
        "{msg}"
    );
    let infra: Api<Pod> = Api::namespaced(client.clone(), "infra");
    infra
        .create(&PostParams::default(), &serde_json::from_value(pod("reader", &[], "busybox:1.36", logs)).expect("pod"))
        .await
        .expect("the allowed namespace may use it");
    // A profile without the field is usable from anywhere.
    plain
        .create(
            &PostParams::default(),
            &serde_json::from_value(pod("web-user", &[], "busybox:1.36", Some("operator/nginx.json"))).expect("pod"),
        )
        .await
        .expect("unrestricted profiles are usable everywhere");

    // An ephemeral container (`kubectl debug`) added to that running pod is
    // judged by the profile it brings: the restricted one is refused.
    let debug_with = |profile: &'static str| {
        let patch = json!({"spec": {"ephemeralContainers": [{"name": "debugger", "image": "busybox:1.36",
            "securityContext": {"seccompProfile": {"type": "Localhost", "localhostProfile": profile}}}]}});
        let plain = plain.clone();
        async move { plain.patch_ephemeral_containers("web-user", &PatchParams::default(), &Patch::Strategic(patch)).await }
    };
    let err = debug_with("operator/node-logs.json")
        .await
        .expect_err("an ephemeral container outside allowedNamespaces is refused");
    assert!(
        err.to_string().contains(
            "the update of pod other/web-user is refused by namespace policy:\n\
             SeccompProfile node-logs may not be used in namespace other"
        ),
        "{err}"
    );
    let p = debug_with("operator/nginx.json").await.expect("an ephemeral container with a usable profile is added");
    assert_eq!(p.spec.and_then(|s| s.ephemeral_containers).map(|e| e.len()), Some(1));

    // Through a binding: binding the restricted profile from `web` is
    // refused at the binding already.
    let bind = json!({"apiVersion": format!("{GROUP}/v1"), "kind": "ProfileBinding",
        "metadata": {"name": "logs"},
        "spec": {"profileRef": {"kind": "SeccompProfile", "name": "node-logs"}, "image": "*"}});
    let err = Api::<ProfileBinding>::namespaced(client.clone(), "web")
        .create(&PostParams::default(), &serde_json::from_value(bind).expect("binding"))
        .await
        .expect_err("binding a profile the namespace may not use");
    assert!(err.to_string().contains("SeccompProfile node-logs may not be used in namespace web"), "{err}");

    // A binding made before the restriction refuses the pods it would bind.
    create_cluster_wide(client, seccomp("later", None)).await;
    create(
        client,
        "web",
        json!({"apiVersion": format!("{GROUP}/v1"), "kind": "ProfileBinding", "metadata": {"name": "later"},
               "spec": {"profileRef": {"kind": "SeccompProfile", "name": "later"},
                        "image": "*/redis:*"}}),
    )
    .await;
    let restrict = json!({"spec": {"allowedNamespaces": ["infra"]}});
    Api::<SeccompProfile>::all(client.clone())
        .patch("later", &PatchParams::default(), &Patch::Merge(&restrict))
        .await
        .expect("restrict later");
    let redis = pod("cache", &[], "docker.io/library/redis:7", None);
    let dry = PostParams { dry_run: true, ..PostParams::default() };
    let deadline = Instant::now() + Duration::from_secs(20);
    // While the restriction reaches the caches, the validating webhook may
    // be first to see it (the pod refused as stored, a moment after the
    // mutating webhook bound it); once it has, the binding itself is named.
    loop {
        let refused = match pods.create(&dry, &serde_json::from_value(redis.clone()).expect("pod")).await {
            Err(e) => e.to_string(),
            Ok(_) => String::new(),
        };
        if refused.contains("ProfileBinding web/later: SeccompProfile later may not be used in namespace web") {
            break;
        }
        assert!(
            refused.is_empty()
                || refused.contains("SeccompProfile later may not be used in namespace web: its spec.allowedNamespaces allows only [infra]"),
            "{refused}"
        );
        assert!(Instant::now() < deadline, "the restriction never reached the binding webhook: {refused}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn seccomp(name: &str, allowed: Option<&[&str]>) -> Value {
    let mut spec = json!({"defaultAction": "SCMP_ACT_LOG"});
    if let Some(a) = allowed {
        spec["allowedNamespaces"] = json!(a);
    }
    json!({"apiVersion": format!("{GROUP}/v1"), "kind": "SeccompProfile", "metadata": {"name": name}, "spec": spec})
}

fn pod(name: &str, labels: &[(&str, &str)], image: &str, seccomp: Option<&str>) -> Value {
    let labels: serde_json::Map<String, Value> = labels.iter().map(|(k, v)| ((*k).to_owned(), json!(v))).collect();
    let mut p = json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "labels": labels},
        "spec": {"automountServiceAccountToken": false, "containers": [{"name": "main", "image": image}]},
    });
    if let Some(s) = seccomp {
        p["spec"]["securityContext"] = json!({"seccompProfile": {"type": "Localhost", "localhostProfile": s}});
    }
    p
}

fn container_seccomp(p: &Pod) -> Option<(String, Option<String>)> {
    let sc = p.spec.as_ref()?.containers.first()?.security_context.as_ref()?.seccomp_profile.as_ref()?;
    Some((sc.type_.clone(), sc.localhost_profile.clone()))
}

async fn create_cluster_wide(client: &Client, object: Value) {
    manifests::apply(client, &object).await.unwrap_or_else(|e| panic!("{object}: {e}"));
}

async fn create(client: &Client, ns: &str, mut object: Value) {
    object["metadata"]["namespace"] = json!(ns);
    manifests::apply(client, &object).await.unwrap_or_else(|e| panic!("{object}: {e}"));
}

async fn install_crds(client: &Client) {
    let mut names = Vec::new();
    for crd in spo_api::all_crds() {
        manifests::apply(client, &serde_json::to_value(&crd).expect("crd json")).await.expect("CRD");
        names.push(crd.metadata.name.unwrap_or_default());
    }
    manifests::wait_established(client, &names, Duration::from_secs(30)).await.expect("established");
}

async fn namespace(client: &Client, name: &str, labelled: bool) {
    let labels: &[&str] = if labelled { &["spo.x-k8s.io/enable-binding"] } else { &[] };
    manifests::create_namespace(client, name, labels).await.expect("namespace");
    // Pods need the namespace's default service account; without a
    // controller manager nobody else makes it.
    let mut sa = ServiceAccount::default();
    sa.metadata.name = Some("default".to_owned());
    let _ = Api::<ServiceAccount>::namespaced(client.clone(), name).create(&PostParams::default(), &sa).await;
}

fn free_port() -> u16 {
    let l = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind");
    l.local_addr().expect("addr").port()
}
