//! The whole path with pods that really run: a real node (containerd,
//! kubelet, scheduler; `spo_e2e::node`), spo-operator and spod with
//! deploy/'s RBAC, and the kernel enforcing what they set up.
//!
//! - A SeccompProfile applied with the API becomes `Installed`; a
//!   ProfileBinding by image gives a pod that profile at admission; the pod
//!   runs and the kernel refuses the call the profile denies (the pod's own
//!   log says so), while its process carries a seccomp filter.
//! - The profile cannot be deleted while the pod runs (Terminating, with
//!   the pod in `status.activeWorkloads`), and goes, files and all, as soon
//!   as the pod is gone.
//! - The shipped cluster-wide web-server profile (`deploy/profiles/`)
//!   binds to an nginx image in any namespace that enables binding, and a
//!   web server runs and answers under it.
//!
//! - A ProfileRecording (eBPF) marks two replicas at admission; spod
//!   records their container until the pods go, the operator merges both
//!   into one SeccompProfile, and a pod run under that profile does what
//!   was recorded while a call the recording never saw is refused; a
//!   `logs` recording runs its pod under the log-everything profile and
//!   makes a profile from the audit events spod attributes to it.
//!
//! Needs root, the Kubernetes binaries including kubelet and kube-scheduler,
//! containerd, busybox-static and the CNI plugins (see `docs/e2e.md`); says
//! SKIPPED otherwise.

use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, DeleteParams, PostParams};
use serde_json::json;
use spo_api::crds::{ProfileState, SeccompProfile};
use spo_e2e::node::images::BUSYBOX;
use spo_e2e::spo::{SpoBinaries, Stack};
use spo_e2e::{manifests, wait_for, Binaries, Cluster, Options};

const WAIT: Duration = Duration::from_secs(60);

#[test]
fn bound_profiles_are_enforced_in_running_pods() {
    let Some(bins) = Binaries::for_test("bound_profiles_are_enforced_in_running_pods") else {
        return;
    };
    if let Some(why) = spo_e2e::node::unavailable(&bins) {
        spo_test_support::skip(format!("bound_profiles_are_enforced_in_running_pods needs a real node: {why}"));
        return;
    }
    let spo_bins = match SpoBinaries::find() {
        Ok(b) => b,
        Err(e) => {
            spo_test_support::skip(format!("bound_profiles_are_enforced_in_running_pods: {e}"));
            return;
        }
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let cluster =
        Cluster::up_with(dir.path(), &bins, Options { node: true }).unwrap_or_else(|e| panic!("cluster up: {e}"));
    if !cluster.has_kubelet() {
        spo_test_support::skip(
            "bound_profiles_are_enforced_in_running_pods: another cluster holds this machine's node",
        );
        return;
    }
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    rt.block_on(async {
        let stack = Stack::start(&cluster, &spo_bins).await.unwrap_or_else(|e| panic!("spo up: {e}"));
        let client = cluster.client().await.expect("client");
        enforced_and_held(&client, &stack).await;
        shared_web_server_profile(&client, &cluster).await;
        recorded_in_the_cluster(&client).await;
        stack.stop().expect("stop spo");
    });
    cluster.down().expect("cluster down");
}

async fn namespace(client: &kube::Client, name: &str, label: &str) {
    manifests::create_namespace(client, name, &[label]).await.expect("namespace");
    // Pods need the namespace's default service account.
    let sas: Api<k8s_openapi::api::core::v1::ServiceAccount> = Api::namespaced(client.clone(), name);
    wait_for(WAIT, "the default service account", || async { sas.get_opt("default").await.ok().flatten() }).await;
}

async fn enforced_and_held(client: &kube::Client, stack: &Stack) {
    namespace(client, "apps", "spo.x-k8s.io/enable-binding").await;
    for doc in manifests::parse(&format!(
        r#"
apiVersion: security-profiles-operator.x-k8s.io/v1
kind: SeccompProfile
metadata: {{name: no-mkdir}}
spec:
  defaultAction: SCMP_ACT_ALLOW
  syscalls:
  - action: SCMP_ACT_ERRNO
    names: [mkdir, mkdirat]
---
apiVersion: security-profiles-operator.x-k8s.io/v1
kind: ProfileBinding
metadata: {{name: busybox, namespace: apps}}
spec:
  profileRef: {{kind: SeccompProfile, name: no-mkdir}}
  image: "{image}"
"#,
        image = BUSYBOX.replace(":1", ":*")
    ))
    .expect("manifests")
    {
        manifests::apply(client, &doc).await.unwrap_or_else(|e| panic!("apply: {e}"));
    }
    let sps: Api<SeccompProfile> = Api::all(client.clone());
    let reference = wait_for(WAIT, "no-mkdir Installed", || async {
        let p = sps.get("no-mkdir").await.ok()?;
        let s = p.status?;
        (s.status == Some(ProfileState::Installed)).then_some(s.pinned_profile?)
    })
    .await;
    // Bindings pin pods to the version in force (spo-rs's pinnedProfile).
    assert!(reference.starts_with("operator/no-mkdir/"), "{reference}");
    assert!(stack.kubelet_root().join("seccomp").join(&reference).is_file(), "{reference} is not on the node");

    let pods: Api<Pod> = Api::namespaced(client.clone(), "apps");
    let probe = manifests::script_pod(json!({"name": "maker"}), BUSYBOX, "true", None);
    spo_e2e::wait::binding_in_force(&pods, &probe, &reference, WAIT).await;
    let created =
        create_pod(&pods, "maker", BUSYBOX, "mkdir /tmp/x && echo made || echo refused; exec sleep 3600").await;
    assert_eq!(first_container_seccomp(&created).as_deref(), Some(reference.as_str()), "the binding did not set it");

    wait_for(WAIT, "the pod Running", || async {
        let p = pods.get("maker").await.ok()?;
        (p.status?.phase.as_deref() == Some("Running")).then_some(())
    })
    .await;
    let log = wait_for(WAIT, "the pod's log line", || async {
        let log = pods.logs("maker", &Default::default()).await.ok()?;
        (log.contains("made") || log.contains("refused")).then_some(log)
    })
    .await;
    assert!(log.contains("refused") && log.contains("Operation not permitted"), "mkdir was not refused: {log}");
    let seccomp = container_seccomp("sleep 3600");
    assert_eq!(seccomp.as_deref(), Some("2"), "the container process has no seccomp filter");

    // Held while the pod runs.
    sps.delete("no-mkdir", &DeleteParams::default()).await.expect("delete profile");
    wait_for(WAIT, "no-mkdir Terminating with its workload", || async {
        let p = sps.get("no-mkdir").await.ok()?;
        let s = p.status?;
        (s.status == Some(ProfileState::Terminating) && s.active_workloads.contains(&"apps/maker".to_owned()))
            .then_some(())
    })
    .await;
    assert!(stack.kubelet_root().join("seccomp").join(&reference).is_file(), "the file went while in use");

    // Released as soon as the pod is gone.
    pods.delete("maker", &DeleteParams::default()).await.expect("delete pod");
    let start = Instant::now();
    wait_for(WAIT, "no-mkdir gone", || async { sps.get_opt("no-mkdir").await.ok()?.is_none().then_some(()) }).await;
    eprintln!("FIGURE profile released {:.1} s after its last pod was deleted", start.elapsed().as_secs_f64());
    wait_for(WAIT, "the node file removed", || async {
        (!stack.kubelet_root().join("seccomp").join(&reference).exists()).then_some(())
    })
    .await;
}

/// The shipped web-server profile and its cluster-wide nginx bindings: a
/// web server (busybox's httpd, in an image tagged as nginx) runs under it
/// and answers.
async fn shared_web_server_profile(client: &kube::Client, cluster: &Cluster) {
    let deploy = spo_e2e::spo::deploy_dir().join("profiles");
    for file in manifests::yaml_files(&deploy).expect("deploy/profiles") {
        for doc in manifests::load(&file).expect("yaml") {
            manifests::apply(client, &doc).await.unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        }
    }
    let image = "docker.io/library/nginx:1.27";
    spo_e2e::node::tag_image(cluster.dir(), BUSYBOX, image).expect("tag image");
    namespace(client, "web", "spo.x-k8s.io/enable-binding").await;
    let sps: Api<SeccompProfile> = Api::all(client.clone());
    wait_for(WAIT, "web-server Installed", || async {
        let p = sps.get("web-server").await.ok()?;
        (p.status?.status == Some(ProfileState::Installed)).then_some(())
    })
    .await;
    let pods: Api<Pod> = Api::namespaced(client.clone(), "web");
    let created = create_pod(
        &pods,
        "web",
        image,
        "mkdir -p /www && echo hello-web > /www/index.html && exec httpd -f -p 8080 -h /www",
    )
    .await;
    let given = first_container_seccomp(&created).unwrap_or_default();
    assert!(given.starts_with("operator/web-server"), "got {given:?}");
    let ip = wait_for(WAIT, "the web pod Running", || async {
        let s = pods.get("web").await.ok()?.status?;
        (s.phase.as_deref() == Some("Running")).then_some(s.pod_ip?)
    })
    .await;
    let body = wait_for(WAIT, "the web server's answer", || async {
        let out = tokio::process::Command::new("curl")
            .args(["-sf", "--max-time", "2", &format!("http://{ip}:8080/")])
            .output()
            .await
            .ok()?;
        out.status.success().then(|| String::from_utf8_lossy(&out.stdout).into_owned())
    })
    .await;
    assert_eq!(body.trim(), "hello-web");
    pods.delete("web", &DeleteParams::default()).await.expect("delete web pod");
}

/// What the recorded pods run: a directory made, `uname`, a child
/// process, then sleep. `renice` (setpriority) is never called.
const RECORDED: &str = "mkdir /tmp/r; uname -a >/dev/null; /bin/busybox true; echo ready";

async fn recorded_in_the_cluster(client: &kube::Client) {
    use spo_api::crds::ProfileRecording;
    namespace(client, "rec", "spo.x-k8s.io/enable-recording").await;
    // An SPO recording of a kind spo-rs does not record in the cluster is
    // admitted (the manifest applies unchanged) and marks no pod; its
    // refusal of what no recording can do (a malformed selector) stands.
    let selinux = manifests::parse(
        "apiVersion: security-profiles-operator.x-k8s.io/v1\nkind: ProfileRecording\n\
         metadata: {name: selinux, namespace: rec}\nspec: {kind: SelinuxProfile, recorder: Logs, podSelector: {matchLabels: {app: recorded}}}\n",
    )
    .expect("manifest");
    manifests::apply(client, &selinux[0]).await.expect("an SPO SELinux recording applies");
    let bad = manifests::parse(
        "apiVersion: security-profiles-operator.x-k8s.io/v1\nkind: ProfileRecording\n\
         metadata: {name: bad, namespace: rec}\nspec: {kind: SeccompProfile, recorder: Bpf, containers: [Bad_Name], podSelector: {}}\n",
    )
    .expect("manifest");
    let refused =
        manifests::apply(client, &bad[0]).await.expect_err("a recording of an impossible container is refused");
    let message = spo_operator::controller::chain(&refused);
    assert!(message.contains("spec.containers[0]"), "{message}");
    apply_yaml(
        client,
        r#"
apiVersion: security-profiles-operator.x-k8s.io/v1
kind: ProfileRecording
metadata: {name: rec, namespace: rec}
spec:
  kind: SeccompProfile
  recorder: Bpf
  mergeStrategy: Containers
  podSelector: {matchLabels: {app: recorded}}
"#,
    )
    .await;
    let pods: Api<Pod> = Api::namespaced(client.clone(), "rec");
    let script = format!("{RECORDED}; exec sleep 3600");
    for name in ["replica-1", "replica-2"] {
        let created = create_labelled_pod(&pods, name, json!({"app": "recorded"}), &script, None).await;
        let annotations = created.metadata.annotations.unwrap_or_default();
        assert_eq!(annotations.get("spo.x-k8s.io/recording").map(String::as_str), Some("rec"), "{name} not marked");
    }
    for name in ["replica-1", "replica-2"] {
        wait_for(WAIT, "a recorded replica's log", || async {
            pods.logs(name, &Default::default()).await.ok()?.contains("ready").then_some(())
        })
        .await;
    }
    // spod finds the containers' cgroups from the status it watches too.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let started = Instant::now();
    for name in ["replica-1", "replica-2"] {
        pods.delete(name, &DeleteParams::default()).await.expect("delete replica");
    }
    let recordings: Api<ProfileRecording> = Api::namespaced(client.clone(), "rec");
    let results = wait_for(WAIT, "both replicas recorded", || async {
        let r = recordings.get("rec").await.ok()?.status?.recorded;
        (r.len() == 2).then_some(r)
    })
    .await;
    for r in &results {
        assert_eq!(r.error, None, "{r:?}");
        assert_eq!((r.container.as_str(), r.recorder.as_str()), ("c", "bpf"));
    }
    let sps: Api<SeccompProfile> = Api::all(client.clone());
    let (profile, reference) = wait_for(WAIT, "the merged profile Installed", || async {
        let p = sps.get_opt("rec-c").await.ok()??;
        let s = p.status.clone()?;
        (s.status == Some(ProfileState::Installed)).then_some((p, s.localhost_profile?))
    })
    .await;
    // What SPO publishes and a pod written for SPO names: operator/NAME.json.
    assert_eq!(reference, "operator/rec-c.json");
    eprintln!(
        "FIGURE recording: merged profile of 2 replicas Installed {:.1} s after the pods were deleted",
        started.elapsed().as_secs_f64()
    );
    let names: Vec<String> = profile.spec.syscalls.iter().flat_map(|s| s.names.clone()).collect();
    for want in ["execve", "uname", "wait4", "exit_group"] {
        assert!(names.contains(&want.to_owned()), "{want} not recorded: {names:?}");
    }
    assert!(names.iter().any(|n| n == "mkdir" || n == "mkdirat"), "mkdir not recorded: {names:?}");
    assert!(!names.contains(&"setpriority".to_owned()), "setpriority was never called: {names:?}");
    // runc's set-up inside the container's cgroup, before the workload's
    // exec, is not the workload's.
    for runtime_only in ["pivot_root", "mount", "keyctl"] {
        assert!(!names.contains(&runtime_only.to_owned()), "{runtime_only} recorded: {names:?}");
    }
    assert_eq!(
        profile.metadata.labels.unwrap_or_default().get("spo.x-k8s.io/recording").map(String::as_str),
        Some("rec")
    );

    // The recorded profile runs what was recorded, and refuses the rest.
    let sc = json!({"seccompProfile": {"type": "Localhost", "localhostProfile": reference}});
    let script = format!("{RECORDED}; /bin/busybox renice -n 5 -p 1 && echo niced || echo refused; exec sleep 3600");
    create_labelled_pod(&pods, "confined", json!({"app": "confined"}), &script, Some(sc)).await;
    let log = wait_for(WAIT, "the confined pod's log", || async {
        let log = pods.logs("confined", &Default::default()).await.ok()?;
        (log.contains("niced") || log.contains("refused")).then_some(log)
    })
    .await;
    assert!(log.contains("ready") && log.contains("refused"), "{log}");
    assert!(log.contains("Operation not permitted"), "{log}");
    pods.delete("confined", &DeleteParams::default()).await.expect("delete confined pod");
    recorded_from_the_audit_log(client, &pods, &recordings, &sps).await;
}

/// `recorder: logs`: the container runs under the log-everything profile
/// and spod counts the audit events attributed to it; one profile per pod
/// (`mergeStrategy: none`).
async fn recorded_from_the_audit_log(
    client: &kube::Client,
    pods: &Api<Pod>,
    recordings: &Api<spo_api::crds::ProfileRecording>,
    sps: &Api<SeccompProfile>,
) {
    apply_yaml(
        client,
        r#"
apiVersion: security-profiles-operator.x-k8s.io/v1
kind: ProfileRecording
metadata: {name: logrec, namespace: rec}
spec:
  kind: SeccompProfile
  recorder: Logs
  podSelector: {matchLabels: {app: logged}}
"#,
    )
    .await;
    // The directory is made by a short-lived child, gone before its audit
    // record is read: spod attributes it through its parent (process events).
    let script = "(/bin/busybox mkdir /tmp/logged); echo ready; exec sleep 3600";
    let created = create_labelled_pod(pods, "logged", json!({"app": "logged"}), script, None).await;
    assert_eq!(
        first_container_seccomp(&created).as_deref(),
        Some(spo_api::recording::LOG_PROFILE),
        "the recorded container runs under the log-everything profile"
    );
    wait_for(WAIT, "the logged pod's log", || async {
        pods.logs("logged", &Default::default()).await.ok()?.contains("ready").then_some(())
    })
    .await;
    assert_eq!(container_seccomp("sleep 3600").as_deref(), Some("2"), "no filter on the logged container");
    tokio::time::sleep(Duration::from_secs(2)).await;
    pods.delete("logged", &DeleteParams::default()).await.expect("delete logged pod");
    let entry = wait_for(WAIT, "the logged pod recorded", || async {
        recordings.get("logrec").await.ok()?.status?.recorded.into_iter().find(|r| r.pod == "logged")
    })
    .await;
    assert_eq!((entry.error.as_deref(), entry.recorder.as_str()), (None, "logs"), "{entry:?}");
    let profile = wait_for(WAIT, "the per-pod profile", || async { sps.get_opt("logrec-c-logged").await.ok()? }).await;
    let names: Vec<String> = profile.spec.syscalls.iter().flat_map(|s| s.names.clone()).collect();
    assert!(names.iter().any(|n| n == "nanosleep" || n == "clock_nanosleep"), "sleep not recorded: {names:?}");
    assert!(names.contains(&"execve".to_owned()), "{names:?}");
    assert!(names.iter().any(|n| n == "mkdir" || n == "mkdirat"), "the exited child's mkdir not recorded: {names:?}");
}

async fn apply_yaml(client: &kube::Client, text: &str) {
    for doc in manifests::parse(text).expect("manifest") {
        manifests::apply(client, &doc).await.unwrap_or_else(|e| panic!("apply: {e}"));
    }
}

/// A one-container pod running `script` under `/bin/sh -c`, from a local
/// image, created as the API server admitted it.
async fn create_pod(pods: &Api<Pod>, name: &str, image: &str, script: &str) -> Pod {
    create_pod_with(pods, json!({"name": name}), image, script, None).await
}

/// [`create_pod`] with labels and a container security context, busybox.
async fn create_labelled_pod(
    pods: &Api<Pod>,
    name: &str,
    labels: serde_json::Value,
    script: &str,
    security_context: Option<serde_json::Value>,
) -> Pod {
    create_pod_with(pods, json!({"name": name, "labels": labels}), BUSYBOX, script, security_context).await
}

async fn create_pod_with(
    pods: &Api<Pod>,
    metadata: serde_json::Value,
    image: &str,
    script: &str,
    security_context: Option<serde_json::Value>,
) -> Pod {
    let name = metadata["name"].as_str().unwrap_or_default().to_owned();
    let pod = manifests::script_pod(metadata, image, script, security_context);
    pods.create(&PostParams::default(), &pod).await.unwrap_or_else(|e| panic!("create pod {name}: {e}"))
}

/// The localhost seccomp profile the first container was given.
fn first_container_seccomp(pod: &Pod) -> Option<String> {
    let c = &pod.spec.as_ref()?.containers[0];
    c.security_context.as_ref()?.seccomp_profile.as_ref()?.localhost_profile.clone()
}

/// `Seccomp:` of the first process whose command line contains `needle`.
fn container_seccomp(needle: &str) -> Option<String> {
    for e in std::fs::read_dir("/proc").ok()?.flatten() {
        let path = e.path();
        let cmdline = std::fs::read(path.join("cmdline")).unwrap_or_default();
        let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        if cmdline.trim() == needle {
            let status = std::fs::read_to_string(path.join("status")).ok()?;
            return status.lines().find_map(|l| l.strip_prefix("Seccomp:")).map(|v| v.trim().to_owned());
        }
    }
    None
}
