//! The CRDs in `deploy/crds/` on a real API server: every one is accepted
//! and becomes Established, an object of every kind round-trips (profiles
//! and node statuses cluster-wide, as in SPO v1), the status subresource
//! works, and the schema rejects what it should. SPO's older versions,
//! which need the operator's conversion webhook, are tried in
//! `tests/spo_v1.rs`.
//!
//! Needs the control plane binaries (see `docs/e2e.md`). Without them the
//! test says SKIPPED and passes; `SPO_E2E=1` builds them first (slow the
//! first time).

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use std::path::Path;
use std::time::{Duration, Instant};

use k8s_openapi::api::apps::v1::ReplicaSet;
use k8s_openapi::api::authorization::v1::{ResourceAttributes, SubjectAccessReview, SubjectAccessReviewSpec};
use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use kube::api::{Api, DynamicObject, ListParams, Patch, PatchParams, PostParams};
use kube::core::{ApiResource, GroupVersionKind};
use spo_api::crds::{
    AppArmorMode, AppArmorProfile, AppArmorProfileSpec, ArchName, BoundKind, InheritKind, MergeStrategy, PolicyRef,
    ProfileBinding, ProfileBindingSpec, ProfileRecording, ProfileRecordingSpec, ProfileRef, ProfileState,
    ProfileStatus, RawSelinuxProfile, RawSelinuxProfileSpec, RecordedKind, Recorder, SeccompArg, SeccompProfile,
    SeccompProfileSpec, SeccompSyscall, SecurityProfileNodeStatus, SecurityProfileNodeStatusSpec, SelinuxMode,
    SelinuxProfile, SelinuxProfileSpec, SpecState,
};
use spo_e2e::{manifests, Binaries, Cluster};
use spo_model::seccomp::{ActionName, Operator};
use spo_model::Arch;

const NS: &str = "spo-e2e";

#[test]
fn crds_are_established_and_objects_round_trip() {
    let Some(bins) = Binaries::for_test("crds_are_established_and_objects_round_trip") else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let start = Instant::now();
    let cluster = Cluster::up(dir.path(), &bins).unwrap_or_else(|e| panic!("cluster up: {e}"));
    eprintln!("cluster ready in {:.1} s", start.elapsed().as_secs_f64());
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    rt.block_on(async {
        let client = cluster.client().await.expect("client");
        crds_and_objects(&client).await;
        if bins.has("kubectl") {
            printer_columns(&bins.path("kubectl"), cluster.kubeconfig());
        } else {
            spo_test_support::skip("printer column check: kubectl is not built");
        }
        deployment_and_rbac(&client, cluster.has_controller_manager()).await;
    });
    eprintln!("test body done at {:.1} s", start.elapsed().as_secs_f64());
    cluster.down().expect("cluster down");
}

async fn crds_and_objects(client: &kube::Client) {
    let client = client.clone();

    // Every committed CRD applies and becomes Established.
    let crd_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/crds");
    let mut names = Vec::new();
    for file in manifests::yaml_files(&crd_dir).expect("deploy/crds") {
        for doc in manifests::load(&file).expect("CRD yaml") {
            let applied = manifests::apply(&client, &doc)
                .await
                .unwrap_or_else(|e| panic!("{} rejected: {e} ({:?})", file.display(), std::error::Error::source(&e)));
            names.push(applied.metadata.name.expect("CRD name"));
        }
    }
    assert_eq!(names.len(), spo_api::all_crds().len());
    manifests::wait_established(&client, &names, Duration::from_secs(30)).await.expect("CRDs established");

    let nss: Api<Namespace> = Api::all(client.clone());
    let mut ns = Namespace::default();
    ns.metadata.name = Some(NS.into());
    nss.create(&PostParams::default(), &ns).await.expect("namespace");

    // SeccompProfile: create, read back, then write status.
    let sp_spec = SeccompProfileSpec {
        default_action: ActionName::Errno,
        default_errno_ret: Some(38),
        architectures: vec![ArchName::Arch(Arch::X86_64), ArchName::Native],
        flags: vec![],
        listener_path: None,
        listener_metadata: None,
        syscalls: vec![SeccompSyscall {
            names: vec!["personality".into()],
            action: ActionName::Allow,
            errno_ret: None,
            args: vec![SeccompArg { index: 0, value: 0xffff_ffff, value_two: 8, op: Operator::MaskedEqual }],
        }],
        base_profile_name: None,
        state: SpecState::Enabled,
        allowed_namespaces: Some(vec![NS.into(), "kube-system".into()]),
    };
    let sps: Api<SeccompProfile> = Api::all(client.clone());
    let created =
        sps.create(&PostParams::default(), &SeccompProfile::new("web", sp_spec.clone())).await.expect("create sp");
    assert!(created.metadata.uid.is_some());
    let got = sps.get("web").await.expect("get sp");
    assert_eq!(got.spec, sp_spec);
    let status = serde_json::json!({"status": {"status": "Installed", "localhostProfile": "operator/web.json"}});
    sps.patch_status("web", &PatchParams::default(), &Patch::Merge(&status)).await.expect("status subresource");
    let got = sps.get("web").await.expect("get sp");
    assert_eq!(
        got.status,
        Some(ProfileStatus {
            status: Some(ProfileState::Installed),
            localhost_profile: Some("operator/web.json".into()),
            ..ProfileStatus::default()
        })
    );
    // The main resource ignores status, the status subresource ignores spec.
    assert_eq!(got.spec, sp_spec);

    // Conditions are a list map keyed by type: two writers applying their
    // own condition keep each other's.
    for (manager, kind) in [("writer-a", "Ready"), ("writer-b", "Synced")] {
        let patch = serde_json::json!({
            "apiVersion": format!("{}/v1", spo_api::crds::GROUP),
            "kind": "SeccompProfile",
            "status": {"conditions": [{
                "type": kind, "status": "True", "reason": "Test", "message": "",
                "lastTransitionTime": "2026-01-01T00:00:00Z",
            }]},
        });
        sps.patch_status("web", &PatchParams::apply(manager).force(), &Patch::Apply(&patch))
            .await
            .unwrap_or_else(|e| panic!("{manager} applies its condition: {e}"));
    }
    let got = sps.get("web").await.expect("get sp");
    let mut types: Vec<String> = got.status.expect("status").conditions.into_iter().map(|c| c.type_).collect();
    types.sort();
    assert_eq!(types, ["Ready", "Synced"]);

    // Every other kind round-trips.
    let selinux = SelinuxProfileSpec {
        inherit: vec![PolicyRef { kind: InheritKind::System, name: "container".into() }],
        allow: [("var_log_t".to_owned(), [("file".to_owned(), vec!["read".to_owned(), "open".to_owned()])].into())]
            .into(),
        mode: SelinuxMode::Permissive,
        state: SpecState::Disabled,
        allowed_namespaces: None,
    };
    cluster_round_trip(&client, SelinuxProfile::new("logs", selinux)).await;
    cluster_round_trip(
        &client,
        RawSelinuxProfile::new(
            "raw",
            RawSelinuxProfileSpec {
                policy: Some("(block raw (blockinherit container))".into()),
                state: SpecState::Enabled,
                allowed_namespaces: None,
            },
        ),
    )
    .await;
    cluster_round_trip(
        &client,
        AppArmorProfile::new("aa", AppArmorProfileSpec { mode: AppArmorMode::Complain, ..Default::default() }),
    )
    .await;
    // SPO's defaults are the server's: an SelinuxProfile without inherit
    // inherits the container template, modes default to enforcing.
    let bare = serde_json::json!({
        "apiVersion": format!("{}/v1", spo_api::crds::GROUP), "kind": "SelinuxProfile",
        "metadata": {"name": "bare"}, "spec": {"allow": {"var_log_t": {"file": ["read"]}}},
    });
    manifests::apply(&client, &bare).await.expect("bare SelinuxProfile");
    let got = Api::<SelinuxProfile>::all(client.clone()).get("bare").await.expect("bare read back");
    assert_eq!(got.spec.inherit, spo_api::crds::selinux_default_inherit());
    assert_eq!(got.spec.mode, SelinuxMode::Enforcing);
    round_trip(
        &client,
        ProfileBinding::new(
            "bind",
            ProfileBindingSpec {
                profile_ref: ProfileRef { kind: BoundKind::SeccompProfile, name: "web".into() },
                image: "*/nginx:*".into(),
                pod_selector: Some(LabelSelector {
                    match_labels: Some([("app".to_owned(), "web".to_owned())].into()),
                    ..LabelSelector::default()
                }),
            },
        ),
    )
    .await;
    round_trip(
        &client,
        ProfileRecording::new(
            "rec",
            ProfileRecordingSpec {
                kind: RecordedKind::SeccompProfile,
                recorder: Recorder::Bpf,
                pod_selector: serde_json::from_value(serde_json::json!({"matchLabels": {"app": "web"}})).unwrap(),
                containers: vec![],
                merge_strategy: MergeStrategy::Containers,
                disable_profile_after_recording: false,
            },
        ),
    )
    .await;
    cluster_round_trip(
        &client,
        SecurityProfileNodeStatus::new(
            "web-node1",
            SecurityProfileNodeStatusSpec {
                node_name: "node1".into(),
                profile_kind: "SeccompProfile".into(),
                profile_name: "web".into(),
            },
        ),
    )
    .await;
    // A node status always names the same profile on the same node (CEL).
    let spns: Api<SecurityProfileNodeStatus> = Api::all(client.clone());
    let moved = serde_json::json!({"spec": {"nodeName": "node2"}});
    match spns.patch("web-node1", &PatchParams::default(), &Patch::Merge(&moved)).await {
        Err(kube::Error::Api(s)) if s.code == 422 && s.message.contains("spec is immutable") => {}
        other => panic!("changing a node status's node: expected 422 Invalid, got {other:?}"),
    }
    // Its status is a plain field (no subresource), written with the
    // object: one request per change.
    let status = serde_json::json!({"status": {"status": "Error", "message": "semodule: exit 1"}});
    let back = spns
        .patch("web-node1", &PatchParams::default(), &Patch::Merge(&status))
        .await
        .expect("a node status's status is writable");
    assert_eq!(back.status.and_then(|s| s.message).as_deref(), Some("semodule: exit 1"));

    // A profile written for SPO v1 with its defaults left out reads back
    // with the schema's defaults filled in.
    let spo = serde_json::json!({
        "apiVersion": "security-profiles-operator.x-k8s.io/v1",
        "kind": "SeccompProfile",
        "metadata": {"name": "spo-shaped"},
        "spec": {"defaultAction": "SCMP_ACT_LOG", "syscalls": [{"action": "SCMP_ACT_ALLOW", "names": ["read"]}]},
    });
    manifests::apply(&client, &spo).await.expect("SPO-shaped SeccompProfile");
    let got = sps.get("spo-shaped").await.expect("read back");
    assert_eq!(got.spec.default_action, ActionName::Log);
    assert_eq!(got.spec.state, SpecState::Enabled);

    // The schema rejects what the types cannot hold.
    let gvk = GroupVersionKind::gvk(spo_api::crds::GROUP, "v1", "SeccompProfile");
    let raw: Api<DynamicObject> = Api::all_with(client.clone(), &ApiResource::from_gvk(&gvk));
    for (name, spec) in [
        ("bad-action", serde_json::json!({"defaultAction": "SCMP_ACT_NOPE"})),
        (
            "bad-index",
            serde_json::json!({"defaultAction": "SCMP_ACT_LOG",
            "syscalls": [{"action": "SCMP_ACT_ALLOW", "names": ["read"], "args": [{"index": 6, "op": "SCMP_CMP_EQ"}]}]}),
        ),
        ("bad-errno", serde_json::json!({"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 70000})),
        // SPO's CEL rules.
        ("notify-default", serde_json::json!({"defaultAction": "SCMP_ACT_NOTIFY"})),
        ("bad-base", serde_json::json!({"defaultAction": "SCMP_ACT_LOG", "baseProfileName": "Not_A_Name"})),
        ("bad-state", serde_json::json!({"defaultAction": "SCMP_ACT_LOG", "state": "Off"})),
        (
            "no-names",
            serde_json::json!({"defaultAction": "SCMP_ACT_LOG", "syscalls": [{"action": "SCMP_ACT_ALLOW", "names": []}]}),
        ),
        ("bad-arch", serde_json::json!({"defaultAction": "SCMP_ACT_LOG", "architectures": ["SCMP_ARCH_VAX"]})),
        // The API server holds integers as int64: an operand in the upper
        // half of u64 arrives as a float and is refused (docs/e2e.md).
        (
            "huge-operand",
            serde_json::json!({"defaultAction": "SCMP_ACT_LOG",
            "syscalls": [{"action": "SCMP_ACT_ALLOW", "names": ["ioctl"], "args": [{"index": 1, "value": u64::MAX, "op": "SCMP_CMP_EQ"}]}]}),
        ),
    ] {
        let obj: DynamicObject = serde_json::from_value(serde_json::json!({
            "apiVersion": format!("{}/v1", spo_api::crds::GROUP),
            "kind": "SeccompProfile",
            "metadata": {"name": name},
            "spec": spec,
        }))
        .unwrap();
        match raw.create(&PostParams::default(), &obj).await {
            Err(kube::Error::Api(s)) if s.code == 422 => {}
            other => panic!("{name}: expected 422 Invalid, got {other:?}"),
        }
    }
}

async fn cluster_round_trip<K>(client: &kube::Client, obj: K)
where
    K: kube::Resource<Scope = k8s_openapi::ClusterResourceScope>
        + Clone
        + std::fmt::Debug
        + serde::Serialize
        + serde::de::DeserializeOwned
        + HasSpec,
    K::DynamicType: Default,
{
    let api: Api<K> = Api::all(client.clone());
    let name = obj.meta().name.clone().expect("name");
    api.create(&PostParams::default(), &obj)
        .await
        .unwrap_or_else(|e| panic!("create {} {name}: {e}", K::kind(&Default::default())));
    let got = api.get(&name).await.expect("read back");
    assert_eq!(got.spec_json(), obj.spec_json(), "{} {name}", K::kind(&Default::default()));
}

async fn round_trip<K>(client: &kube::Client, obj: K)
where
    K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope>
        + Clone
        + std::fmt::Debug
        + serde::Serialize
        + serde::de::DeserializeOwned
        + HasSpec,
    K::DynamicType: Default,
{
    let api: Api<K> = Api::namespaced(client.clone(), NS);
    let name = obj.meta().name.clone().expect("name");
    api.create(&PostParams::default(), &obj)
        .await
        .unwrap_or_else(|e| panic!("create {} {name}: {e}", K::kind(&Default::default())));
    let got = api.get(&name).await.expect("read back");
    assert_eq!(got.spec_json(), obj.spec_json(), "{} {name}", K::kind(&Default::default()));
}

/// The spec of a custom resource, as JSON, to compare what was written with
/// what the server returns.
trait HasSpec {
    fn spec_json(&self) -> serde_json::Value;
}

macro_rules! has_spec {
    ($($t:ty),*) => {$(
        impl HasSpec for $t {
            fn spec_json(&self) -> serde_json::Value { serde_json::to_value(&self.spec).unwrap() }
        }
    )*};
}
has_spec!(
    SelinuxProfile,
    RawSelinuxProfile,
    AppArmorProfile,
    ProfileBinding,
    ProfileRecording,
    SecurityProfileNodeStatus
);

/// `kubectl get` shows the status columns the CRD declares.
fn printer_columns(kubectl: &Path, kubeconfig: &Path) {
    let out = std::process::Command::new(kubectl)
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .args(["get", "sp", "web", "-o", "wide"])
        .output()
        .expect("kubectl runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().expect("header").split_whitespace().collect();
    assert_eq!(header, ["NAME", "STATUS", "AGE", "LOCALHOSTPROFILE"]);
    let row: Vec<&str> = lines.next().expect("row").split_whitespace().collect();
    assert_eq!(row[..2], ["web", "Installed"]);
    assert_eq!(row[3], "operator/web.json");
}

/// The namespace, RBAC, operator Deployment and spod DaemonSet manifests
/// apply; the roles grant what each workload needs and nothing more; the
/// controller manager acts on the Deployment.
async fn deployment_and_rbac(client: &kube::Client, controller_manager: bool) {
    let deploy = Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy");
    for file in ["namespace.yaml", "rbac.yaml", "operator.yaml", "spod.yaml", "webhook.yaml"] {
        for doc in manifests::load(&deploy.join(file)).expect("manifest") {
            manifests::apply(client, &doc)
                .await
                .unwrap_or_else(|e| panic!("deploy/{file} rejected: {e} ({:?})", std::error::Error::source(&e)));
        }
    }

    let sar: Api<SubjectAccessReview> = Api::all(client.clone());
    let can = |sa: &'static str, verb: &'static str, group: &'static str, resource: &'static str| {
        let sar = sar.clone();
        async move {
            let (resource, subresource) = match resource.split_once('/') {
                Some((r, s)) => (r, Some(s.to_owned())),
                None => (resource, None),
            };
            let review = SubjectAccessReview {
                spec: SubjectAccessReviewSpec {
                    user: Some(format!("system:serviceaccount:security-profiles-operator:{sa}")),
                    groups: Some(vec!["system:serviceaccounts".into()]),
                    resource_attributes: Some(ResourceAttributes {
                        namespace: Some(NS.into()),
                        verb: Some(verb.into()),
                        group: Some(group.into()),
                        resource: Some(resource.into()),
                        subresource,
                        ..Default::default()
                    }),
                    ..Default::default()
                },
                ..Default::default()
            };
            let done = sar.create(&PostParams::default(), &review).await.expect("SubjectAccessReview");
            done.status.expect("review status").allowed
        }
    };
    let g = spo_api::crds::GROUP;
    let expectations = [
        ("spod", "create", g, "securityprofilenodestatuses", true),
        ("spod", "patch", g, "securityprofilenodestatuses", true),
        ("spod", "watch", g, "seccompprofiles", true),
        ("spod", "update", g, "seccompprofiles", false),
        ("spod", "patch", g, "seccompprofiles/status", false),
        ("spod", "get", "", "secrets", false),
        ("spo-operator", "patch", g, "seccompprofiles/status", true),
        // Finalizers are added and removed with guarded patches of the
        // object itself; the operator never sets owner references.
        ("spo-operator", "patch", g, "seccompprofiles", true),
        ("spo-operator", "update", g, "seccompprofiles/finalizers", false),
        ("spo-operator", "delete", g, "securityprofilenodestatuses", true),
        ("spo-operator", "create", g, "securityprofilenodestatuses", false),
        // Recordings' results become profiles; nothing else is created.
        ("spo-operator", "create", g, "seccompprofiles", true),
        ("spo-operator", "create", g, "selinuxprofiles", false),
        ("spod", "patch", g, "profilerecordings/status", true),
        ("spod", "patch", g, "profilerecordings", false),
        ("spo-operator", "list", "", "secrets", false),
        ("spo-operator", "delete", "", "pods", false),
        ("spo-operator", "create", g, "securityprofilesoperatordaemons", true),
        ("spo-operator", "patch", g, "securityprofilesoperatordaemons/status", true),
        ("spo-operator", "delete", g, "securityprofilesoperatordaemons", false),
        ("spod", "watch", g, "securityprofilesoperatordaemons", true),
        ("spod", "patch", g, "securityprofilesoperatordaemons", false),
    ];
    for (sa, verb, group, resource, expected) in expectations {
        assert_eq!(can(sa, verb, group, resource).await, expected, "{sa} {verb} {resource}");
    }

    // The controller manager is running: it turns the Deployment into a
    // ReplicaSet (its pods stay Pending: there is no node).
    if !controller_manager {
        spo_test_support::skip("Deployment-to-ReplicaSet check: kube-controller-manager is not built");
        return;
    }
    let rss: Api<ReplicaSet> = Api::namespaced(client.clone(), "security-profiles-operator");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let list = rss.list(&ListParams::default().labels("app.kubernetes.io/name=spo-operator")).await.expect("list");
        if !list.items.is_empty() {
            break;
        }
        assert!(Instant::now() < deadline, "no ReplicaSet for the spo-operator Deployment after 30 s");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
