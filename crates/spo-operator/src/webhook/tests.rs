//! Admission decisions end to end through [`Admission::review`], with
//! AdmissionReview fixtures from `tests/fixtures/admission/` and caches
//! filled by hand.

use k8s_openapi::api::core::v1::Namespace;
use kube::runtime::watcher::Event;
use serde_json::{json, Value};

use super::cache::{Caches, Writers};
use super::review::{Admission, Endpoint};
use spo_api::crds::{
    AppArmorProfile, AppArmorProfileSpec, ProfileBinding, ProfileBindingSpec, ProfileState, ProfileStatus,
    SeccompProfile, SelinuxProfile,
};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/admission");

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!("{FIXTURES}/{name}")).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn seccomp(name: &str, allowed: Option<&[&str]>, status: Option<ProfileStatus>) -> SeccompProfile {
    let mut p: SeccompProfile = serde_json::from_value(json!({
        "apiVersion": "security-profiles-operator.x-k8s.io/v1", "kind": "SeccompProfile",
        "metadata": {"name": name},
        "spec": {"defaultAction": "SCMP_ACT_LOG"},
    }))
    .expect("profile");
    p.spec.allowed_namespaces = allowed.map(|a| a.iter().map(|s| (*s).to_owned()).collect());
    p.status = status;
    p
}

fn binding(ns: &str, name: &str, spec: Value) -> ProfileBinding {
    let spec: ProfileBindingSpec = serde_json::from_value(spec).expect("binding spec");
    let mut b = ProfileBinding::new(name, spec);
    b.metadata.namespace = Some(ns.to_owned());
    b
}

fn namespace(name: &str, labelled: bool) -> Namespace {
    let mut n = Namespace::default();
    n.metadata.name = Some(name.to_owned());
    if labelled {
        n.metadata.labels = Some([(super::mutate::ENABLE_BINDING_LABEL.to_owned(), String::new())].into());
    }
    n
}

struct World {
    caches: Caches,
    w: Writers,
}

impl World {
    fn new() -> World {
        let (caches, mut w) = Caches::empty();
        w.namespaces.apply_watcher_event(&Event::Apply(namespace("web", true)));
        w.namespaces.apply_watcher_event(&Event::Apply(namespace("plain", false)));
        World { caches, w }
    }

    fn admission(&self) -> Admission {
        Admission::new(self.caches.clone())
    }

    /// Add binding `name` with `spec` in namespace `ns` to the caches.
    fn bind(&mut self, ns: &str, name: &str, spec: Value) {
        self.w.bindings.apply_watcher_event(&Event::Apply(binding(ns, name, spec)));
    }

    /// Add namespace `ns`, labelled for recording, and recording `name`
    /// with `spec` in it, to the caches.
    fn record(&mut self, ns: &str, name: &str, spec: Value) {
        use spo_api::crds::{ProfileRecording, ProfileRecordingSpec};
        let mut n = namespace(ns, false);
        n.metadata.labels = Some([(spo_api::recording::ENABLE_RECORDING_LABEL.to_owned(), String::new())].into());
        self.w.namespaces.apply_watcher_event(&Event::Apply(n));
        let spec: ProfileRecordingSpec = serde_json::from_value(spec).expect("recording spec");
        let mut r = ProfileRecording::new(name, spec);
        r.metadata.namespace = Some(ns.into());
        self.w.recordings.apply_watcher_event(&Event::Apply(r));
    }
}

fn response(out: &[u8]) -> Value {
    let v: Value = serde_json::from_slice(out).expect("AdmissionReview JSON");
    assert_eq!(v["kind"], "AdmissionReview");
    v["response"].clone()
}

fn patched(request: &[u8], resp: &Value) -> Value {
    let review: Value = serde_json::from_slice(request).expect("request");
    let mut pod = review["request"]["object"].clone();
    if !resp["patch"].is_null() {
        assert_eq!(resp["patchType"], "JSONPatch");
        // kube serialises the patch bytes as a JSON array of numbers, which
        // the API server decodes like base64 text.
        let bytes: Vec<u8> = serde_json::from_value(resp["patch"].clone()).expect("patch bytes");
        let patch: json_patch::Patch = serde_json::from_slice(&bytes).expect("patch");
        json_patch::patch(&mut pod, &patch).expect("patch applies");
    }
    pod
}

#[test]
fn invalid_profile_is_refused_with_the_located_message() {
    let world = World::new();
    let out = world.admission().review(Endpoint::Validate, &fixture("seccomp-typo.json"));
    let r = response(&out);
    assert_eq!(r["uid"], "6e2f1c3a-0000-4000-8000-000000000003");
    assert_eq!(r["allowed"], false);
    let msg = r["status"]["message"].as_str().expect("message");
    assert!(msg.contains("error: unknown syscall `mkdirr`"), "{msg}");
    // The object rendered as YAML puts the name on line 13, column 11.
    assert!(msg.contains(" --> seccompprofile/web:13:11"), "{msg}");
    assert!(msg.contains("13 |         - mkdirr\n   |           ^^^^^^"), "{msg}");
    assert!(msg.contains("= help: did you mean `mkdir`?"), "{msg}");
    // Server-set metadata is not shown to the user.
    assert!(!msg.contains("managedFields") && !msg.contains("uid"), "{msg}");
}

#[test]
fn binding_sets_pinned_container_profiles_and_keeps_explicit_ones() {
    let mut world = World::new();
    let installed = ProfileStatus {
        status: Some(ProfileState::Installed),
        localhost_profile: Some("operator/nginx.json".into()),
        pinned_profile: Some(format!("operator/nginx/{}.json", "a".repeat(64))),
        ..ProfileStatus::default()
    };
    world.w.seccomp.apply_watcher_event(&Event::Apply(seccomp("nginx", None, Some(installed))));
    world.w.seccomp.apply_watcher_event(&Event::Apply(seccomp("fallback", None, None)));
    world.bind(
        "web",
        "nginx",
        json!({
        "profileRef": {"kind": "SeccompProfile", "name": "nginx"}, "image": "*/nginx:*",
        "podSelector": {"matchLabels": {"app": "front"}}}),
    );
    world.bind(
        "web",
        "everything",
        json!({
        "profileRef": {"kind": "SeccompProfile", "name": "fallback"}, "image": "*"}),
    );
    let request = fixture("pod-web.json");
    let r = response(&world.admission().review(Endpoint::MutatePods, &request));
    assert_eq!(r["allowed"], true, "{r}");
    let pod = patched(&request, &r);
    let containers = &pod["spec"]["containers"];
    // Pinned, content-addressed reference of an Installed profile.
    assert_eq!(
        containers[0]["securityContext"]["seccompProfile"],
        json!({"type": "Localhost", "localhostProfile": format!("operator/nginx/{}.json", "a".repeat(64))})
    );
    // The user's own choice stays.
    assert_eq!(containers[1]["securityContext"]["seccompProfile"], json!({"type": "RuntimeDefault"}));
    // Other fields of an existing security context stay.
    assert_eq!(containers[2]["securityContext"]["runAsUser"], 1000);
    assert!(containers[2]["securityContext"].get("seccompProfile").is_none());
    // `*` sets the pod level, with the current file of a profile not yet Installed.
    assert_eq!(
        pod["spec"]["securityContext"]["seccompProfile"],
        json!({"type": "Localhost", "localhostProfile": "operator/fallback.json"})
    );
    assert!(pod["spec"]["initContainers"][0].get("securityContext").is_none());
}

#[test]
fn selector_and_namespace_label_gate_bindings() {
    let mut world = World::new();
    world.w.seccomp.apply_watcher_event(&Event::Apply(seccomp("nginx", None, None)));
    world.bind(
        "web",
        "b",
        json!({
        "profileRef": {"kind": "SeccompProfile", "name": "nginx"}, "image": "*",
        "podSelector": {"matchExpressions": [{"key": "app", "operator": "NotIn", "values": ["front"]}]}}),
    );
    let request = fixture("pod-web.json");
    let r = response(&world.admission().review(Endpoint::MutatePods, &request));
    assert_eq!(r["allowed"], true);
    assert!(r.get("patch").is_none_or(Value::is_null), "selector excludes the pod: {r}");

    // Same binding without a selector, but the namespace lost its label.
    world.bind(
        "web",
        "b",
        json!({
        "profileRef": {"kind": "SeccompProfile", "name": "nginx"}, "image": "*"}),
    );
    world.w.namespaces.apply_watcher_event(&Event::Apply(namespace("web", false)));
    let r = response(&world.admission().review(Endpoint::MutatePods, &request));
    assert!(r.get("patch").is_none_or(Value::is_null), "unlabelled namespace: {r}");
    world.w.namespaces.apply_watcher_event(&Event::Apply(namespace("web", true)));
    let r = response(&world.admission().review(Endpoint::MutatePods, &request));
    assert!(!r["patch"].is_null(), "labelled again: {r}");
}

#[test]
fn selinux_and_apparmor_bindings_set_their_fields() {
    let mut world = World::new();
    let mut se: SelinuxProfile = serde_json::from_value(json!({
        "apiVersion": "security-profiles-operator.x-k8s.io/v1", "kind": "SelinuxProfile",
        "metadata": {"name": "web-se"}, "spec": {}}))
    .expect("selinux");
    se.status = None;
    world.w.selinux.apply_watcher_event(&Event::Apply(se));
    let aa = AppArmorProfile::new("web-aa", AppArmorProfileSpec::default());
    world.w.apparmor.apply_watcher_event(&Event::Apply(aa));
    world.bind(
        "web",
        "se",
        json!({
        "profileRef": {"kind": "SelinuxProfile", "name": "web-se"}, "image": "registry.example/*"}),
    );
    world.bind(
        "web",
        "aa",
        json!({
        "profileRef": {"kind": "AppArmorProfile", "name": "web-aa"}, "image": "busybox:1.36"}),
    );
    let request = fixture("pod-web.json");
    let r = response(&world.admission().review(Endpoint::MutatePods, &request));
    let pod = patched(&request, &r);
    assert_eq!(pod["spec"]["containers"][2]["securityContext"]["seLinuxOptions"]["type"], "web-se.process");
    assert_eq!(pod["spec"]["containers"][2]["securityContext"]["runAsUser"], 1000);
    assert_eq!(
        pod["spec"]["initContainers"][0]["securityContext"]["appArmorProfile"],
        json!({"type": "Localhost", "localhostProfile": "web-aa"})
    );
    assert!(pod["spec"]["containers"][0].get("securityContext").is_none());
}

#[test]
fn binding_to_a_missing_or_forbidden_profile_refuses_the_pod() {
    let mut world = World::new();
    world.bind(
        "web",
        "ghost",
        json!({
        "profileRef": {"kind": "SeccompProfile", "name": "nope"}, "image": "*"}),
    );
    let request = fixture("pod-web.json");
    let r = response(&world.admission().review(Endpoint::MutatePods, &request));
    assert_eq!(r["allowed"], false);
    assert_eq!(r["status"]["message"], "ProfileBinding web/ghost binds SeccompProfile nope, which does not exist");
    // The caches may be behind on a new profile: the server asks again.
    assert!(world.admission().review_once(Endpoint::MutatePods, &request).1, "a missing profile may be new");

    world.w.seccomp.apply_watcher_event(&Event::Apply(seccomp("node-logs", Some(&["infra", "monitoring"]), None)));
    world.bind(
        "web",
        "ghost",
        json!({
        "profileRef": {"kind": "SeccompProfile", "name": "node-logs"}, "image": "*"}),
    );
    let r = response(&world.admission().review(Endpoint::MutatePods, &request));
    assert_eq!(r["allowed"], false);
    assert_eq!(
        r["status"]["message"],
        "ProfileBinding web/ghost: SeccompProfile node-logs may not be used in namespace web: \
         its spec.allowedNamespaces allows only [infra, monitoring]"
    );
    assert!(!world.admission().review_once(Endpoint::MutatePods, &request).1, "a policy refusal is final");
}

#[test]
fn direct_references_obey_allowed_namespaces() {
    let mut world = World::new();
    let request = fixture("pod-direct.json");
    // Unknown profiles: nothing to enforce.
    let r = response(&world.admission().review(Endpoint::Validate, &request));
    assert_eq!(r["allowed"], true, "{r}");

    world.w.seccomp.apply_watcher_event(&Event::Apply(seccomp("node-logs", Some(&["infra"]), None)));
    let mut se: SelinuxProfile = serde_json::from_value(json!({
        "apiVersion": "security-profiles-operator.x-k8s.io/v1", "kind": "SelinuxProfile",
        "metadata": {"name": "logs"}, "spec": {"allowedNamespaces": ["infra", "ops"]}}))
    .expect("selinux");
    se.status = None;
    world.w.selinux.apply_watcher_event(&Event::Apply(se));
    let aa = AppArmorProfile::new("log-reader", AppArmorProfileSpec::default());
    world.w.apparmor.apply_watcher_event(&Event::Apply(aa));
    let r = response(&world.admission().review(Endpoint::Validate, &request));
    assert_eq!(r["allowed"], false);
    let msg = r["status"]["message"].as_str().expect("message");
    assert_eq!(
        msg,
        "pod web/reader is refused by namespace policy:\n\
         SeccompProfile node-logs may not be used in namespace web: its spec.allowedNamespaces allows only [infra]\n\
         SelinuxProfile logs may not be used in namespace web: its spec.allowedNamespaces allows only [infra, ops]"
    );

    // Allowing the namespace lets the pod in; the AppArmor profile never restricted it.
    world.w.seccomp.apply_watcher_event(&Event::Apply(seccomp("node-logs", Some(&["infra", "web"]), None)));
    let mut se: SelinuxProfile = serde_json::from_value(json!({
        "apiVersion": "security-profiles-operator.x-k8s.io/v1", "kind": "SelinuxProfile",
        "metadata": {"name": "logs"}, "spec": {}}))
    .expect("selinux");
    se.status = None;
    world.w.selinux.apply_watcher_event(&Event::Apply(se));
    let r = response(&world.admission().review(Endpoint::Validate, &request));
    assert_eq!(r["allowed"], true, "{r}");

    // The AppArmor annotation is a use too.
    let mut aa = AppArmorProfile::new("log-reader", AppArmorProfileSpec::default());
    aa.spec.allowed_namespaces = Some(vec!["other".into()]);
    world.w.apparmor.apply_watcher_event(&Event::Apply(aa));
    let r = response(&world.admission().review(Endpoint::Validate, &request));
    assert_eq!(r["allowed"], false);
    assert!(r["status"]["message"].as_str().unwrap_or_default().contains("AppArmorProfile log-reader"), "{r}");
}

#[test]
fn ephemeral_containers_are_judged_by_the_references_they_add() {
    let mut world = World::new();
    // The pod was admitted before `node-logs` was restricted to `infra`.
    world.w.seccomp.apply_watcher_event(&Event::Apply(seccomp("node-logs", Some(&["infra"]), None)));
    world.w.seccomp.apply_watcher_event(&Event::Apply(seccomp("debug", Some(&["infra", "web"]), None)));
    let created: Value = serde_json::from_slice(&fixture("pod-direct.json")).expect("fixture");
    let debug_with = |profile: &str| {
        let mut review = created.clone();
        let request = &mut review["request"];
        request["operation"] = json!("UPDATE");
        request["subResource"] = json!("ephemeralcontainers");
        request["oldObject"] = request["object"].clone();
        request["object"]["spec"]["ephemeralContainers"] = json!([{
            "name": "debugger", "image": "busybox:1.36", "targetContainerName": "tail",
            "securityContext": {"seccompProfile": {"type": "Localhost", "localhostProfile": profile}}}]);
        serde_json::to_vec(&review).expect("json")
    };
    let a = world.admission();
    let r = response(&a.review(Endpoint::Validate, &debug_with("operator/debug.json")));
    assert_eq!(r["allowed"], true, "only the added reference is judged: {r}");
    let r = response(&a.review(Endpoint::Validate, &debug_with("operator/node-logs.json")));
    assert_eq!(r["allowed"], true, "a reference the pod had already is not judged again: {r}");
    world.w.seccomp.apply_watcher_event(&Event::Apply(seccomp("debug", Some(&["infra"]), None)));
    let r = response(&world.admission().review(Endpoint::Validate, &debug_with("operator/debug.json")));
    assert_eq!(r["allowed"], false, "{r}");
    assert_eq!(
        r["status"]["message"],
        "the update of pod web/reader is refused by namespace policy:\n\
         SeccompProfile debug may not be used in namespace web: its spec.allowedNamespaces allows only [infra]"
    );
}

#[test]
fn raw_apparmor_policy_must_name_its_profile_like_the_object() {
    let world = World::new();
    let review = |profile_line: &str| {
        let policy = format!("{profile_line} {{\n  /etc/hosts r,\n}}\n");
        json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {
            "uid": "u", "kind": {"group": spo_api::crds::GROUP, "version": "v1", "kind": "AppArmorProfile"},
            "resource": {"group": spo_api::crds::GROUP, "version": "v1", "resource": "apparmorprofiles"},
            "name": "web", "namespace": "web", "operation": "CREATE", "userInfo": {},
            "object": {"apiVersion": format!("{}/v1", spo_api::crds::GROUP), "kind": "AppArmorProfile",
                       "metadata": {"name": "web"}, "spec": {"policy": policy}}}})
        .to_string()
    };
    let a = world.admission();
    let r = response(&a.review(Endpoint::Validate, review("profile web flags=(attach_disconnected)").as_bytes()));
    assert_eq!(r["allowed"], true, "{r}");
    let r = response(&a.review(Endpoint::Validate, review("profile nginx").as_bytes()));
    assert_eq!(r["allowed"], false, "{r}");
    let msg = r["status"]["message"].as_str().expect("message");
    assert!(
        msg.contains("error: spec.policy declares no profile named `web`; its top-level profile is `nginx`"),
        "{msg}"
    );
    assert!(msg.contains("`localhost/web`"), "{msg}");
}

#[test]
fn bindings_are_validated() {
    let mut world = World::new();
    world.w.seccomp.apply_watcher_event(&Event::Apply(seccomp("node-logs", Some(&["infra"]), None)));
    let review = |spec: Value| {
        json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {
            "uid": "u", "kind": {"group": spo_api::crds::GROUP, "version": "v1", "kind": "ProfileBinding"},
            "resource": {"group": spo_api::crds::GROUP, "version": "v1", "resource": "profilebindings"},
            "name": "b", "namespace": "web", "operation": "CREATE", "userInfo": {},
            "object": {"apiVersion": format!("{}/v1", spo_api::crds::GROUP), "kind": "ProfileBinding",
                       "metadata": {"name": "b", "namespace": "web"}, "spec": spec}}})
        .to_string()
    };
    let a = world.admission();
    let ok = review(json!({"profileRef": {"kind": "SeccompProfile", "name": "later"}, "image": "*"}));
    assert_eq!(response(&a.review(Endpoint::Validate, ok.as_bytes()))["allowed"], true);
    let bad = review(json!({"profileRef": {"kind": "SeccompProfile", "name": "node-logs"},
        "image": "*", "podSelector": {"matchExpressions": [{"key": "a", "operator": "Exist"}]}}));
    let r = response(&a.review(Endpoint::Validate, bad.as_bytes()));
    assert_eq!(r["allowed"], false);
    let msg = r["status"]["message"].as_str().expect("message");
    assert!(msg.starts_with("ProfileBinding web/b is invalid:\n"), "{msg}");
    assert!(msg.contains("unknown operator `Exist` (did you mean `Exists`?)"), "{msg}");
    assert!(msg.contains("SeccompProfile node-logs may not be used in namespace web"), "{msg}");
}

#[test]
fn unreadable_bodies_get_an_invalid_review() {
    let world = World::new();
    let r = response(&world.admission().review(Endpoint::Validate, b"{\"kind\":"));
    assert_eq!(r["allowed"], false);
    assert!(r["status"]["message"].as_str().unwrap_or_default().starts_with("not an AdmissionReview"), "{r}");
}

#[test]
fn metadata_only_updates_are_not_judged_again() {
    let world = World::new();
    let mut review: Value = serde_json::from_slice(&fixture("seccomp-typo.json")).expect("fixture");
    review["request"]["operation"] = json!("UPDATE");
    review["request"]["oldObject"] = review["request"]["object"].clone();
    review["request"]["object"]["metadata"]["finalizers"] = json!(["security-profiles-operator.x-k8s.io/in-use"]);
    let body = serde_json::to_vec(&review).expect("json");
    assert_eq!(response(&world.admission().review(Endpoint::Validate, &body))["allowed"], true);
    // A changed spec is judged.
    review["request"]["oldObject"]["spec"]["defaultAction"] = json!("SCMP_ACT_LOG");
    let body = serde_json::to_vec(&review).expect("json");
    assert_eq!(response(&world.admission().review(Endpoint::Validate, &body))["allowed"], false);
}

#[test]
fn shared_bindings_apply_everywhere_and_a_local_binding_wins() {
    let mut world = World::new();
    world.caches.shared_namespace = Some("security-profiles-operator".into());
    let shared = "security-profiles-operator";
    world.w.seccomp.apply_watcher_event(&Event::Apply(seccomp("web-server", None, None)));
    world.bind(
        shared,
        "nginx",
        json!({"profileRef": {"kind": "SeccompProfile", "name": "web-server"}, "image": "*/nginx:*"}),
    );
    world.bind(
        shared,
        "app",
        json!({"profileRef": {"kind": "SeccompProfile", "name": "web-server"}, "image": "registry.example/*"}),
    );
    // The namespace's own binding for the app image overrides the shared one.
    world.w.seccomp.apply_watcher_event(&Event::Apply(seccomp("own", None, None)));
    world.bind(
        "web",
        "own",
        json!({"profileRef": {"kind": "SeccompProfile", "name": "own"}, "image": "registry.example/web/app:*"}),
    );
    let request = fixture("pod-web.json");
    let r = response(&world.admission().review(Endpoint::MutatePods, &request));
    assert_eq!(r["allowed"], true, "{r}");
    let pod = patched(&request, &r);
    let containers = &pod["spec"]["containers"];
    assert_eq!(
        containers[0]["securityContext"]["seccompProfile"],
        json!({"type": "Localhost", "localhostProfile": "operator/web-server.json"})
    );
    assert_eq!(
        containers[2]["securityContext"]["seccompProfile"],
        json!({"type": "Localhost", "localhostProfile": "operator/own.json"})
    );

    // A shared profile restricted to other namespaces is refused here,
    // naming the shared binding.
    world.w.seccomp.apply_watcher_event(&Event::Apply(seccomp("web-server", Some(&["prod"]), None)));
    world.w.bindings.apply_watcher_event(&Event::Delete(binding(
        "web",
        "own",
        json!({
        "profileRef": {"kind": "SeccompProfile", "name": "own"}, "image": "x"}),
    )));
    let r = response(&world.admission().review(Endpoint::MutatePods, &request));
    assert_eq!(r["allowed"], false, "{r}");
    let msg = r["status"]["message"].as_str().unwrap_or_default();
    assert!(msg.contains("ProfileBinding security-profiles-operator/"), "{msg}");
}

#[test]
fn new_profiles_get_the_in_use_finalizer_once() {
    let world = World::new();
    const F: &str = "security-profiles-operator.x-k8s.io/in-use";
    let mut review: Value = serde_json::from_slice(&fixture("seccomp-typo.json")).expect("fixture");
    for (before, after) in [
        (None, json!([F])),
        // Someone else's finalizer is kept; ours is appended.
        (Some(json!(["example.com/keep"])), json!(["example.com/keep", F])),
        // Already there: unchanged.
        (Some(json!([F])), json!([F])),
    ] {
        if let Some(b) = before {
            review["request"]["object"]["metadata"]["finalizers"] = b;
        }
        let body = serde_json::to_vec(&review).expect("json");
        let r = response(&world.admission().review(Endpoint::MutateProfiles, &body));
        assert_eq!(r["allowed"], true, "mutation never judges the spec: {r}");
        assert_eq!(patched(&body, &r)["metadata"]["finalizers"], after, "{r}");
    }
}

#[test]
fn recorded_pods_are_marked_with_the_recording_and_containers() {
    use spo_api::recording::{CONTAINERS_ANNOTATION, RECORDER_ANNOTATION, RECORDING_ANNOTATION};
    let mut world = World::new();
    for (name, containers) in [("b-second", json!([])), ("a-first", json!(["app"]))] {
        let spec = json!({"kind": "SeccompProfile", "recorder": "Bpf",
            "podSelector": {"matchLabels": {"app": "web"}}, "containers": containers});
        world.record("rec", name, spec);
    }
    let review = |labels: Value| {
        let mut review: Value = serde_json::from_slice(&fixture("pod-web.json")).expect("fixture");
        review["request"]["namespace"] = json!("rec");
        review["request"]["object"]["metadata"]["labels"] = labels;
        review["request"]["object"]["spec"]["containers"] =
            json!([{"name": "app", "image": "busybox"}, {"name": "side", "image": "busybox"}]);
        serde_json::to_vec(&review).expect("json")
    };
    let body = review(json!({"app": "web"}));
    let r = response(&world.admission().review(Endpoint::MarkRecording, &body));
    assert_eq!(r["allowed"], true);
    let pod = patched(&body, &r);
    let a = &pod["metadata"]["annotations"];
    assert_eq!((&a[RECORDING_ANNOTATION], &a[RECORDER_ANNOTATION]), (&json!("a-first"), &json!("bpf")));
    assert_eq!(a[CONTAINERS_ANNOTATION], "app", "only the recording's containers");
    assert!(r["warnings"][0].as_str().unwrap_or_default().contains("b-second"), "{r}");
    // Not selected: unchanged.
    let body = review(json!({"app": "db"}));
    let r = response(&world.admission().review(Endpoint::MarkRecording, &body));
    assert!(patched(&body, &r)["metadata"]["annotations"].get(RECORDING_ANNOTATION).is_none());
}

#[test]
fn logs_recordings_give_the_containers_the_log_everything_profile() {
    use spo_api::recording::LOG_PROFILE;
    let mut world = World::new();
    world.record(
        "rec",
        "logged",
        json!({"kind": "SeccompProfile", "recorder": "Logs", "podSelector": {}, "containers": ["app"]}),
    );
    let mut review: Value = serde_json::from_slice(&fixture("pod-web.json")).expect("fixture");
    review["request"]["namespace"] = json!("rec");
    review["request"]["object"]["spec"]["containers"] = json!([
        {"name": "app", "image": "busybox",
         "securityContext": {"seccompProfile": {"type": "Localhost", "localhostProfile": "operator/x.json"}}},
        {"name": "side", "image": "busybox"},
    ]);
    let body = serde_json::to_vec(&review).expect("json");
    let r = response(&world.admission().review(Endpoint::MarkRecording, &body));
    let pod = patched(&body, &r);
    assert_eq!(pod["spec"]["containers"][0]["securityContext"]["seccompProfile"]["localhostProfile"], LOG_PROFILE);
    assert!(pod["spec"]["containers"][1].get("securityContext").is_none(), "unrecorded container untouched");
    assert!(r["warnings"][0].as_str().unwrap_or_default().contains("replaced"), "{r}");
}
