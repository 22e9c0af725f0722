//! A drop-in for SPO v1, on a real cluster with a real node: SPO's own
//! CRDs installed first and spo-rs's applied over them (the switch a user
//! makes), then every SPO example and every manifest of an SPO kind
//! embedded in SPO's e2e tests (`tests/fixtures/spo-v1/`, copied with
//! their provenance) applied unchanged with strict field validation, each
//! reaching the state SPO gives it:
//!
//! - seccomp profiles `Installed`, under `operator/NAME.json`, base
//!   profiles resolved; AppArmor and SELinux profiles `Disabled` while the
//!   daemon configuration switches them off (SPO's default), judged again
//!   when it switches SELinux on; SPO's older API versions converted;
//! - `security.allowedSyscalls` (SPO's `testCaseAllowedSyscalls*`):
//!   profiles beyond it refused at admission with the located reason, and
//!   one already installed taken off the node when the list narrows;
//! - a pod written for SPO (`localhostProfile: operator/NAME.json` in its
//!   pod-level security context) runs under the profile, and the kernel
//!   refuses what the profile denies.
//!
//! Needs what `tests/pods.rs` needs (root, the Kubernetes binaries with
//! kubelet, containerd, busybox-static, the CNI plugins); says SKIPPED
//! otherwise.

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, DynamicObject, Patch, PatchParams, PostParams};
use kube::core::{ApiResource, GroupVersionKind};
use serde_json::{json, Value};
use spo_api::crds::{node_status_name, SecurityProfileNodeStatus, GROUP};
use spo_e2e::node::images::BUSYBOX;
use spo_e2e::spo::{SpoBinaries, Stack, NAMESPACE, NODE};
use spo_e2e::{manifests, Binaries, Cluster, Options};

const WAIT: Duration = Duration::from_secs(90);

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/spo-v1")
}

fn docs(rel: &str) -> Vec<Value> {
    manifests::load(&fixtures().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

#[test]
fn spo_v1_manifests_apply_unchanged_and_reach_spo_states() {
    let test = "spo_v1_manifests_apply_unchanged_and_reach_spo_states";
    let Some(bins) = Binaries::for_test(test) else {
        return;
    };
    if let Some(why) = spo_e2e::node::unavailable(&bins) {
        spo_test_support::skip(format!("{test} needs a real node: {why}"));
        return;
    }
    let spo_bins = match SpoBinaries::find() {
        Ok(b) => b,
        Err(e) => {
            spo_test_support::skip(format!("{test}: {e}"));
            return;
        }
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let cluster =
        Cluster::up_with(dir.path(), &bins, Options { node: true }).unwrap_or_else(|e| panic!("cluster up: {e}"));
    if !cluster.has_kubelet() {
        spo_test_support::skip(format!("{test}: another cluster holds this machine's node"));
        cluster.down().expect("cluster down");
        return;
    }
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    rt.block_on(async {
        let client = cluster.client().await.expect("client");
        spo_installed_first(&client).await;
        let stack = Stack::start(&cluster, &spo_bins).await.unwrap_or_else(|e| panic!("spo-rs over SPO's CRDs: {e}"));
        let t = Instant::now();
        examples_and_e2e_manifests(&client, &stack).await;
        eprintln!("FIGURE spo-v1: every fixture in its state {:.1} s after the first apply", t.elapsed().as_secs_f64());
        older_versions(&client).await;
        selinux_switched_on(&client, &stack).await;
        a_pod_written_for_spo(&client, &cluster).await;
        allowed_syscalls(&client, &stack).await;
        daemon_configuration_example(&client).await;
        stack.stop().expect("stop spo");
    });
    cluster.down().expect("cluster down");
}

/// SPO's CRDs, as SPO installs them.
async fn spo_installed_first(client: &kube::Client) {
    let mut names = Vec::new();
    for file in manifests::yaml_files(&fixtures().join("crds")).expect("SPO CRDs") {
        for doc in manifests::load(&file).expect("yaml") {
            manifests::apply(client, &doc).await.unwrap_or_else(|e| panic!("SPO's {}: {e}", file.display()));
            names.push(doc["metadata"]["name"].as_str().unwrap().to_owned());
        }
    }
    assert_eq!(names.len(), 8);
    manifests::wait_established(client, &names, Duration::from_secs(30)).await.expect("SPO's CRDs established");
}

/// What `apply_strict` says for `doc`: `Ok` or the refusal's text.
async fn apply(client: &kube::Client, doc: &Value) -> Result<(), String> {
    manifests::apply_strict(client, doc).await.map(drop).map_err(|e| spo_operator::controller::chain(&e))
}

fn profile_api(client: &kube::Client, kind: &str) -> Api<DynamicObject> {
    let gvk = GroupVersionKind::gvk(GROUP, "v1", kind);
    Api::all_with(client.clone(), &ApiResource::from_gvk(&gvk))
}

/// The node status of `kind`/`name` on the node, once `pred` holds.
async fn node_state(
    client: &kube::Client,
    stack: &Stack,
    kind: &str,
    name: &str,
    what: &str,
    pred: impl Fn(&str, &str) -> bool,
) -> (String, String) {
    let api: Api<SecurityProfileNodeStatus> = Api::all(client.clone());
    let object = node_status_name(kind, name, NODE);
    let deadline = Instant::now() + WAIT;
    loop {
        let got = api.get_opt(&object).await.expect("get node status").and_then(|s| s.status);
        let state = got.as_ref().and_then(|s| s.status).map(|s| s.as_str().to_owned()).unwrap_or_default();
        let message = got.and_then(|s| s.message).unwrap_or_default();
        if pred(&state, &message) {
            return (state, message);
        }
        assert!(
            Instant::now() < deadline,
            "{kind} {name}: {what} not reached (now {state:?}: {message})\nspod log:\n{}",
            stack.spod_log()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn examples_and_e2e_manifests(client: &kube::Client, stack: &Stack) {
    // Every document of an SPO kind, unchanged. (The crun variant of
    // SPO's base-profile test shares its name with the runc one; SPO
    // applies one or the other, so does this test. The daemon
    // configuration example is applied last, since it switches the log
    // enricher off.)
    let files = [
        "examples/seccompprofile.yaml",
        "examples/baseprofile-runc.yaml",
        "examples/baseprofile-crun.yaml",
        "examples/profilebinding.yaml",
        "examples/apparmorprofile.yaml",
        "examples/apparmorprofile-sleep-complain-mode.yaml",
        "examples/apparmorprofile-sleep-crun.yaml",
        "examples/apparmorprofile-sleep-runc.yaml",
        "examples/selinuxprofile.yaml",
        "examples/rawselinuxprofile.yaml",
        "examples/profilerecording-apparmor-bpf.yaml",
        "examples/profilerecording-seccomp-bpf-specific-container.yaml",
        "examples/profilerecording-seccomp-bpf.yaml",
        "examples/profilerecording-seccomp-logs.yaml",
        "examples/profilerecording-seccomp-specific-container-logs.yaml",
        "examples/profilerecording-selinux-logs.yaml",
        "e2e/tc_allowed_syscalls_test.go-inuse-allowProfile.yaml",
        "e2e/tc_base_profiles_test.go-helloProfile-runc.yaml",
        "e2e/tc_seccomp_profilebindings_test.go-testBinding-image.yaml",
        "e2e/tc_seccomp_profilebindings_test.go-testBinding-star.yaml",
        "e2e/tc_selinux_base_usage_test.go-incomplete-disabled.yaml",
        "e2e/tc_selinux_base_usage_test.go-incomplete-enforcing.yaml",
        "e2e/tc_selinux_base_usage_test.go-incomplete-permissive.yaml",
        "e2e/tc_selinux_base_usage_test.go-netContainerPolicy.yaml",
    ];
    let mut applied = 0;
    for file in files {
        for doc in docs(file) {
            apply(client, &doc).await.unwrap_or_else(|e| panic!("{file} is refused: {e}"));
            applied += 1;
        }
    }
    eprintln!("{applied} SPO documents applied unchanged with strict field validation");

    // Seccomp: Installed on the node, where SPO writes them.
    for name in [
        "profile-block-all",
        "profile-complain-unsafe",
        "profile-allow-unsafe",
        "profile-complain-block-high-risk",
        "runc-v1.4.2",
        "crun-v1.26",
        "allow-me",
        "hello",
    ] {
        node_state(client, stack, "SeccompProfile", name, "Installed", |s, _| s == "Installed").await;
        let file = stack.kubelet_root().join(format!("seccomp/operator/{name}.json"));
        assert!(file.is_file(), "{} missing", file.display());
    }
    // `hello` is merged with its base (SPO's tc_base_profiles): the base's
    // calls are in the file the kubelet reads.
    let hello = std::fs::read_to_string(stack.kubelet_root().join("seccomp/operator/hello.json")).unwrap();
    assert!(hello.contains("\"set_tid_address\"") && hello.contains("\"capset\""), "{hello}");
    // The profile's own status, as SPO publishes it.
    let sp = profile_api(client, "SeccompProfile").get("profile-block-all").await.unwrap();
    let deadline = Instant::now() + WAIT;
    let mut sp = sp;
    while sp.data["status"]["status"] != "Installed" {
        assert!(Instant::now() < deadline, "profile-block-all status: {}", sp.data["status"]);
        tokio::time::sleep(Duration::from_millis(200)).await;
        sp = profile_api(client, "SeccompProfile").get("profile-block-all").await.unwrap();
    }
    assert_eq!(sp.data["status"]["localhostProfile"], "operator/profile-block-all.json");
    assert_eq!(
        sp.data["status"]["path"],
        json!("/var/lib/kubelet/seccomp/operator/profile-block-all.json"),
        "SPO's status.path"
    );

    // AppArmor and SELinux: off by default in the daemon configuration,
    // as in SPO; said so on the node.
    for (kind, name, setting) in [
        ("AppArmorProfile", "test-profile", "enableAppArmor"),
        ("AppArmorProfile", "test-recording-test-pod", "enableAppArmor"),
        ("SelinuxProfile", "errorlogger", "selinux.enable"),
        ("SelinuxProfile", "net-container-policy", "selinux.enable"),
        ("RawSelinuxProfile", "errorlogger", "selinux.enable"),
    ] {
        let (_, message) = node_state(client, stack, kind, name, "Disabled", |s, _| s == "Disabled").await;
        assert!(message.contains(setting), "{kind} {name}: {message}");
    }
}

/// SPO's older versions (v1.0 still served them): a v1beta1 profile and a
/// v1alpha1 recording with lowercase values, converted by the operator.
async fn older_versions(client: &kube::Client) {
    let profile = &docs("e2e/tc_api_v1_graduation_test.go-v1beta1Profile.yaml")[0];
    apply(client, profile).await.expect("a v1beta1 SeccompProfile applies");
    let got = profile_api(client, "SeccompProfile").get("test-v1beta1-conversion").await.unwrap();
    assert_eq!(got.data["spec"]["state"], "Enabled", "read as v1: {}", got.data["spec"]);
    let mut recording = docs("e2e/tc_api_v1_graduation_test.go-v1alpha1Recording.yaml")[0].clone();
    recording["metadata"]["namespace"] = json!("default");
    apply(client, &recording).await.expect("a v1alpha1 ProfileRecording applies");
    let v1 = GroupVersionKind::gvk(GROUP, "v1", "ProfileRecording");
    let got: DynamicObject = Api::namespaced_with(client.clone(), "default", &ApiResource::from_gvk(&v1))
        .get("test-v1alpha1-conversion")
        .await
        .unwrap();
    assert_eq!((&got.data["spec"]["recorder"], &got.data["spec"]["mergeStrategy"]), (&json!("Logs"), &json!("None")));
    let old = GroupVersionKind::gvk(GROUP, "v1alpha1", "ProfileRecording");
    let got: DynamicObject = Api::namespaced_with(client.clone(), "default", &ApiResource::from_gvk(&old))
        .get("test-v1alpha1-conversion")
        .await
        .unwrap();
    assert_eq!((&got.data["spec"]["recorder"], &got.data["spec"]["mergeStrategy"]), (&json!("logs"), &json!("none")));
}

/// The daemon configuration switches SELinux on: the SELinux profiles are
/// judged again (installed into the node's policy store, or refused by
/// semodule with its reason), a system template the configuration does not
/// allow is refused until it does; a profile disabled in its own spec
/// stays so.
async fn selinux_switched_on(client: &kube::Client, stack: &Stack) {
    let spod: Api<DynamicObject> = Api::namespaced_with(
        client.clone(),
        NAMESPACE,
        &ApiResource::from_gvk(&GroupVersionKind::gvk(GROUP, "v1", "SecurityProfilesOperatorDaemon")),
    );
    // SPO's default allows inheriting `container` alone.
    let on = json!({"spec": {"selinux": {"enable": true}}});
    spod.patch("spod", &PatchParams::default(), &Patch::Merge(&on)).await.expect("SELinux on");
    let (_, message) =
        node_state(client, stack, "SelinuxProfile", "net-container-policy", "Error", |s, _| s == "Error").await;
    assert!(message.contains("net_container") && message.contains("allowedSystemProfiles"), "{message}");
    // SPO's e2e setup allows `net_container` too.
    let on = json!({"spec": {"selinux": {"options": {"allowedSystemProfiles": ["container", "net_container"]}}}});
    spod.patch("spod", &PatchParams::default(), &Patch::Merge(&on)).await.expect("net_container allowed");
    let (state, message) =
        node_state(client, stack, "SelinuxProfile", "net-container-policy", "judged again", |s, m| {
            s == "Installed" || (s == "Error" && !m.contains("allowedSystemProfiles"))
        })
        .await;
    if state == "Error" {
        assert!(message.contains("semodule"), "net-container-policy: {message}");
    }
    for name in ["errorlogger", "errorlogger-incomplete-enforcing", "errorlogger-incomplete-permissive"] {
        let (state, message) =
            node_state(client, stack, "SelinuxProfile", name, "judged", |s, _| s == "Installed" || s == "Error").await;
        if state == "Error" {
            assert!(message.contains("semodule") || message.contains("template"), "{name}: {message}");
        }
    }
    let (_, message) =
        node_state(client, stack, "SelinuxProfile", "errorlogger-incomplete-disabled", "Disabled", |s, _| {
            s == "Disabled"
        })
        .await;
    assert!(message.contains("disabled in the manifest"), "{message}");
    // SPO's two `errorlogger` examples would make one module: the raw one is refused.
    let (_, message) =
        node_state(client, stack, "RawSelinuxProfile", "errorlogger", "Error", |s, _| s == "Error").await;
    assert!(message.contains("same SELinux module"), "{message}");
}

/// A pod as SPO users write it: the profile named in the pod-level
/// security context, by its SPO path.
async fn a_pod_written_for_spo(client: &kube::Client, cluster: &Cluster) {
    let profile = json!({
        "apiVersion": format!("{GROUP}/v1"), "kind": "SeccompProfile",
        "metadata": {"name": "spo-deny-mkdir"},
        "spec": {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"action": "SCMP_ACT_ERRNO", "names": ["mkdir", "mkdirat"]}]},
    });
    apply(client, &profile).await.expect("profile");
    let sps = profile_api(client, "SeccompProfile");
    let deadline = Instant::now() + WAIT;
    while sps.get("spo-deny-mkdir").await.unwrap().data["status"]["status"] != "Installed" {
        assert!(Instant::now() < deadline, "spo-deny-mkdir not Installed");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    spo_e2e::manifests::create_namespace(client, "spo-users", &[]).await.expect("namespace");
    let pods: Api<Pod> = Api::namespaced(client.clone(), "spo-users");
    let deadline = Instant::now() + WAIT;
    let pod: Pod = serde_json::from_value(json!({
        "metadata": {"name": "maker"},
        "spec": {
            "terminationGracePeriodSeconds": 1,
            "securityContext": {"seccompProfile": {"type": "Localhost", "localhostProfile": "operator/spo-deny-mkdir.json"}},
            "containers": [{"name": "c", "image": BUSYBOX, "imagePullPolicy": "Never",
                "command": ["/bin/sh", "-c", "mkdir /tmp/x && echo made || echo refused; exec sleep 3600"]}],
        },
    }))
    .unwrap();
    loop {
        match pods.create(&PostParams::default(), &pod).await {
            Ok(_) => break,
            // The namespace's default service account comes a moment later.
            Err(e) if Instant::now() < deadline && e.to_string().contains("serviceaccount") => {
                tokio::time::sleep(Duration::from_millis(200)).await
            }
            Err(e) => panic!("pod: {e}"),
        }
    }
    let deadline = Instant::now() + WAIT;
    let log = loop {
        let log = pods.logs("maker", &Default::default()).await.unwrap_or_default();
        if log.contains("made") || log.contains("refused") {
            break log;
        }
        assert!(
            Instant::now() < deadline,
            "the pod wrote nothing: {:?}",
            pods.get("maker").await.ok().and_then(|p| p.status)
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    assert!(log.contains("refused") && log.contains("Operation not permitted"), "{log}");
    let _ = cluster;
    pods.delete("maker", &Default::default()).await.expect("delete pod");
}

/// SPO's testCaseAllowedSyscalls*: the daemon configuration limits what a
/// profile may let through.
async fn allowed_syscalls(client: &kube::Client, stack: &Stack) {
    let spod: Api<DynamicObject> = Api::namespaced_with(
        client.clone(),
        NAMESPACE,
        &ApiResource::from_gvk(&GroupVersionKind::gvk(GROUP, "v1", "SecurityProfilesOperatorDaemon")),
    );
    let patch = |file: &str| -> Value {
        serde_json::from_str(&std::fs::read_to_string(fixtures().join(file)).unwrap()).unwrap()
    };
    spod.patch("spod", &PatchParams::default(), &Patch::Merge(patch("e2e/tc_allowed_syscalls_test.go-allowed.yaml")))
        .await
        .expect("allowedSyscalls set");

    // Installed profiles beyond the list leave the node (SPO deletes them;
    // spo-rs keeps the object and says why).
    let (_, message) = node_state(client, stack, "SeccompProfile", "allow-me", "Error", |s, _| s == "Error").await;
    assert!(message.contains("allowedSyscalls"), "{message}");
    assert!(!stack.kubelet_root().join("seccomp/operator/allow-me.json").exists(), "allow-me stays on the node");

    // The validation example: two admitted, two refused with the reason.
    let validation = docs("examples/seccompprofile-allowed-syscalls-validation.yaml");
    let deadline = Instant::now() + WAIT;
    for doc in &validation {
        let name = doc["metadata"]["name"].as_str().unwrap().to_owned();
        let refused = matches!(name.as_str(), "profile-denied-syscalls" | "profile-allow-all-syscalls");
        loop {
            let result = apply(client, doc).await;
            match (refused, &result) {
                (false, Ok(())) => break,
                (true, Err(e)) if e.contains("allowed syscalls") || e.contains("lets every syscall through") => {
                    eprintln!("{name} refused at admission:\n{e}");
                    assert!(e.contains(" --> seccompprofile/"), "located: {e}");
                    break;
                }
                // The webhook's cache of the configuration may be a moment behind.
                (true, Ok(())) if Instant::now() < deadline => {
                    profile_api(client, "SeccompProfile").delete(&name, &Default::default()).await.ok();
                    tokio::time::sleep(Duration::from_millis(300)).await;
                }
                _ => panic!("{name}: {result:?}"),
            }
        }
    }
    for name in ["profile-allowed-syscalls", "profile-block-all-syscalls"] {
        node_state(client, stack, "SeccompProfile", name, "Installed", |s, _| s == "Installed").await;
    }

    // The change example: nanosleep leaves the list, the profile leaves the node.
    apply(client, &docs("examples/seccompprofile-allowed-syscalls-change.yaml")[0]).await.expect("change example");
    node_state(client, stack, "SeccompProfile", "profile-allowed-syscalls", "Installed", |s, _| s == "Installed").await;
    spod.patch(
        "spod",
        &PatchParams::default(),
        &Patch::Merge(patch("e2e/tc_allowed_syscalls_test.go-change-remove-nanosleep.yaml")),
    )
    .await
    .expect("narrowed");
    let (_, message) =
        node_state(client, stack, "SeccompProfile", "profile-allowed-syscalls", "Error", |s, _| s == "Error").await;
    assert!(message.contains("nanosleep"), "{message}");
    assert!(!stack.kubelet_root().join("seccomp/operator/profile-allowed-syscalls.json").exists());

    // SPO's reset (a JSON patch): everything is back.
    let reset: json_patch::Patch =
        serde_json::from_value(patch("e2e/tc_allowed_syscalls_test.go-reset.json-patch.yaml")).unwrap();
    spod.patch("spod", &PatchParams::default(), &Patch::<Value>::Json(reset)).await.expect("reset");
    for name in ["allow-me", "profile-allowed-syscalls", "profile-allow-unsafe"] {
        node_state(client, stack, "SeccompProfile", name, "Installed again", |s, _| s == "Installed").await;
    }
}

/// SPO's daemon configuration example applies and is reported Running,
/// and the `spod` DaemonSet follows it (one that schedules nowhere: the
/// test's spod runs outside the cluster).
async fn daemon_configuration_example(client: &kube::Client) {
    let daemonsets: Api<k8s_openapi::api::apps::v1::DaemonSet> = Api::namespaced(client.clone(), NAMESPACE);
    let ds: k8s_openapi::api::apps::v1::DaemonSet = serde_json::from_value(json!({
        "metadata": {"name": "spod"},
        "spec": {
            "selector": {"matchLabels": {"app": "spod"}},
            "template": {
                "metadata": {"labels": {"app": "spod"}},
                "spec": {
                    "nodeSelector": {"spo-e2e/nowhere": "true"},
                    "containers": [{"name": "spod", "image": "localhost/spo-e2e/none:1"}],
                },
            },
        },
    }))
    .unwrap();
    daemonsets.create(&PostParams::default(), &ds).await.expect("a spod DaemonSet");
    apply(client, &docs("examples/config.yaml")[0]).await.expect("config.yaml");
    wait_running(client).await;
    let spod: Api<DynamicObject> = Api::namespaced_with(
        client.clone(),
        NAMESPACE,
        &ApiResource::from_gvk(&GroupVersionKind::gvk(GROUP, "v1", "SecurityProfilesOperatorDaemon")),
    );
    let change = json!({"spec": {
        "daemonResourceRequirements": {"requests": {"memory": "64Mi"}},
        "daemonUpdateStrategy": {"maxUnavailable": "25%"},
        "selinux": {"typeTag": "spo_daemon_t"},
    }});
    spod.patch("spod", &PatchParams::default(), &Patch::Merge(&change)).await.expect("resources");
    wait_running(client).await;
    let ds = serde_json::to_value(daemonsets.get("spod").await.unwrap()).unwrap();
    let pod = &ds["spec"]["template"]["spec"];
    assert_eq!(pod["priorityClassName"], "system-node-critical", "SPO's default scheduling: {pod}");
    assert_eq!(pod["containers"][0]["resources"]["requests"]["memory"], "64Mi", "{pod}");
    assert_eq!(pod["containers"][0]["securityContext"]["seLinuxOptions"]["type"], "spo_daemon_t", "{pod}");
    assert_eq!(ds["spec"]["updateStrategy"]["rollingUpdate"]["maxUnavailable"], "25%", "{}", ds["spec"]);
    assert_eq!(pod["containers"][0]["image"], "localhost/spo-e2e/none:1", "the rest is the DaemonSet's own");
}

/// Wait until the daemon configuration is Running at its generation.
async fn wait_running(client: &kube::Client) {
    let spod: Api<DynamicObject> = Api::namespaced_with(
        client.clone(),
        NAMESPACE,
        &ApiResource::from_gvk(&GroupVersionKind::gvk(GROUP, "v1", "SecurityProfilesOperatorDaemon")),
    );
    let deadline = Instant::now() + WAIT;
    loop {
        let d = spod.get("spod").await.unwrap();
        let status = &d.data["status"];
        if status["state"] == "Running" && status["observedGeneration"] == json!(d.metadata.generation) {
            break;
        }
        assert!(Instant::now() < deadline, "the daemon configuration is not Running: {status}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
