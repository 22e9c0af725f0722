//! Admission latency of the operator's webhooks, in process (no TLS, no
//! API server): what one AdmissionReview costs the webhook itself, with
//! caches holding 1,000 seccomp profiles and 1,000 bindings over 100
//! namespaces.
//!
//! 1. `/mutate-pods`: 1,000 pod creations in labelled namespaces, each
//!    matched against its namespace's bindings (glob and selector),
//!    patched, and checked against the namespace policy.
//! 2. `/validate` for pods: 1,000 pods referencing profiles directly,
//!    half of them refused by `spec.allowedNamespaces`.
//! 3. `/validate` for profiles: 1,000 SeccompProfiles rendered as YAML and
//!    checked by `spo-validate` (the code of `spoc validate`).
//!
//! The floor, measured in the same run, is decoding the same
//! AdmissionReview and encoding an empty response with serde_json: what
//! any webhook written with these crates pays before it decides anything.
//! Goal: p99 under 10 ms per request (the API server adds its own round
//! trip; `e2e/tests/scale.rs` measures that end to end). Run with
//! `cargo bench -p spo-benches --bench admission`; `ADMISSION_BENCH_N`
//! changes the number of profiles and requests.

#![allow(missing_docs)] // criterion's macros generate undocumented public functions

use std::time::Instant;

use kube::runtime::watcher::Event;
use serde_json::{json, Value};
use spo_api::crds::{ProfileBinding, SeccompProfile};
use spo_operator::webhook::{Admission, Caches, Endpoint};

fn env_usize(k: &str, d: usize) -> usize {
    std::env::var(k).ok().and_then(|v| v.parse().ok()).unwrap_or(d)
}

fn review(kind: (&str, &str), ns: &str, object: Value) -> Vec<u8> {
    let (group, k) = kind;
    serde_json::to_vec(&json!({
        "apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
        "request": {
            "uid": "00000000-0000-4000-8000-000000000000",
            "kind": {"group": group, "version": "v1", "kind": k},
            "resource": {"group": group, "version": "v1", "resource": format!("{}s", k.to_lowercase())},
            "namespace": ns, "operation": "CREATE", "userInfo": {"username": "bench"},
            "object": object,
        }
    }))
    .expect("json")
}

fn pod(ns: &str, i: usize, image: &str, seccomp: Option<String>) -> Value {
    let mut p = json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": format!("pod-{i}"), "namespace": ns, "labels": {"app": format!("app-{}", i % 10)}},
        "spec": {"containers": [
            {"name": "main", "image": image},
            {"name": "sidecar", "image": "registry.example/proxy:v1", "securityContext": {"runAsUser": 1000}},
        ]},
    });
    if let Some(s) = seccomp {
        p["spec"]["securityContext"] = json!({"seccompProfile": {"type": "Localhost", "localhostProfile": s}});
    }
    p
}

fn quantiles(mut v: Vec<f64>) -> (f64, f64, f64) {
    v.sort_by(|a, b| a.total_cmp(b));
    let q = |p: f64| v[((v.len() - 1) as f64 * p).round() as usize];
    (q(0.5), q(0.99), q(1.0))
}

fn measure(admission: &Admission, endpoint: Endpoint, bodies: &[Vec<u8>]) -> (Vec<f64>, usize) {
    let mut times = Vec::with_capacity(bodies.len());
    let mut refused = 0;
    for body in bodies {
        let start = Instant::now();
        let out = admission.review(endpoint, body);
        times.push(start.elapsed().as_secs_f64() * 1e3);
        let v: Value = serde_json::from_slice(&out).expect("review");
        if v["response"]["allowed"] == false {
            refused += 1;
        }
    }
    (times, refused)
}

fn floor(bodies: &[Vec<u8>]) -> Vec<f64> {
    bodies
        .iter()
        .map(|body| {
            let start = Instant::now();
            let v: Value = serde_json::from_slice(body).expect("review");
            let out = serde_json::to_vec(&json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
                "response": {"uid": v["request"]["uid"], "allowed": true}}))
            .expect("json");
            std::hint::black_box(out);
            start.elapsed().as_secs_f64() * 1e3
        })
        .collect()
}

fn report(what: &str, times: Vec<f64>, floor_times: Vec<f64>) {
    let (p50, p99, max) = quantiles(times);
    let (f50, f99, _) = quantiles(floor_times);
    eprintln!(
        "FIGURE admission {what}: p50 {p50:.3} ms, p99 {p99:.3} ms, max {max:.3} ms \
         (floor p50 {f50:.3} ms, p99 {f99:.3} ms; p99 {:.1}x the floor; goal p99 < 10 ms: {})",
        p99 / f99.max(1e-9),
        if p99 < 10.0 { "met" } else { "MISSED" }
    );
}

fn main() {
    let n = env_usize("ADMISSION_BENCH_N", 1000);
    let namespaces = 100;
    let group = spo_api::crds::GROUP;
    let (caches, mut w) = Caches::empty();
    for i in 0..namespaces {
        let mut ns = k8s_openapi::api::core::v1::Namespace::default();
        ns.metadata.name = Some(format!("ns-{i}"));
        ns.metadata.labels = Some([("spo.x-k8s.io/enable-binding".to_owned(), "true".to_owned())].into());
        w.namespaces.apply_watcher_event(&Event::Apply(ns));
    }
    for i in 0..n {
        let ns = format!("ns-{}", i % namespaces);
        let mut spec = json!({"defaultAction": "SCMP_ACT_ERRNO",
            "syscalls": [{"action": "SCMP_ACT_ALLOW", "names": ["read", "write", "exit", "exit_group"]}]});
        if i % 2 == 1 {
            spec["allowedNamespaces"] = json!([ns.clone()]);
        }
        let p: SeccompProfile = serde_json::from_value(json!({
            "apiVersion": format!("{group}/v1"), "kind": "SeccompProfile",
            "metadata": {"name": format!("profile-{i}"), "namespace": ns}, "spec": spec,
            "status": {"status": "Installed", "localhostProfile": format!("operator/{ns}/profile-{i}/{}.json", "0".repeat(64))},
        }))
        .expect("profile");
        w.seccomp.apply_watcher_event(&Event::Apply(p));
        let b: ProfileBinding = serde_json::from_value(json!({
            "apiVersion": format!("{group}/v1"), "kind": "ProfileBinding",
            "metadata": {"name": format!("binding-{i}"), "namespace": ns},
            "spec": {"profileRef": {"kind": "SeccompProfile", "name": format!("profile-{i}")},
                     "image": format!("*/image-{i}:*"),
                     "podSelector": {"matchLabels": {"app": format!("app-{}", i % 10)}}},
        }))
        .expect("binding");
        w.bindings.apply_watcher_event(&Event::Apply(b));
    }
    let admission = Admission::new(caches);
    admission.warm_up();

    // 1. Bindings.
    let bodies: Vec<Vec<u8>> = (0..n)
        .map(|i| {
            let ns = format!("ns-{}", i % namespaces);
            review(("", "Pod"), &ns, pod(&ns, i, &format!("docker.io/library/image-{i}:1.0"), None))
        })
        .collect();
    let (times, refused) = measure(&admission, Endpoint::MutatePods, &bodies);
    assert_eq!(refused, 0, "every pod is admitted");
    let patched = admission.review(Endpoint::MutatePods, &bodies[0]);
    assert!(patched.windows(7).any(|w| w == b"\"patch\""), "the binding applies");
    report(&format!("/mutate-pods ({n} pods, {n} bindings in {namespaces} namespaces)"), times, floor(&bodies));

    // 2. Namespace policy on direct references: every other profile is
    // restricted to its own namespace, and every pod lives next door.
    let bodies: Vec<Vec<u8>> = (0..n)
        .map(|i| {
            let home = format!("ns-{}", i % namespaces);
            let ns = format!("ns-{}", (i + 1) % namespaces);
            let reference = format!("operator/{home}/profile-{i}.json");
            review(("", "Pod"), &ns, pod(&ns, i, "busybox:1.36", Some(reference)))
        })
        .collect();
    let (times, refused) = measure(&admission, Endpoint::Validate, &bodies);
    assert_eq!(refused, n / 2, "the restricted half is refused");
    report(&format!("/validate pods ({n} pods, {refused} refused)"), times, floor(&bodies));

    // 3. Profiles through spo-validate.
    let bodies: Vec<Vec<u8>> = (0..n)
        .map(|i| {
            let ns = format!("ns-{}", i % namespaces);
            let names =
                if i % 10 == 0 { json!(["read", "mkdirr"]) } else { json!(["read", "write", "exit", "exit_group"]) };
            review(
                (group, "SeccompProfile"),
                &ns,
                json!({"apiVersion": format!("{group}/v1"), "kind": "SeccompProfile",
                       "metadata": {"name": format!("new-{i}"), "namespace": ns},
                       "spec": {"defaultAction": "SCMP_ACT_ERRNO",
                                "syscalls": [{"action": "SCMP_ACT_ALLOW", "names": names}]}}),
            )
        })
        .collect();
    let (times, refused) = measure(&admission, Endpoint::Validate, &bodies);
    assert_eq!(refused, n.div_ceil(10), "the misspelt tenth is refused");
    report(&format!("/validate SeccompProfiles ({n} profiles, {refused} refused)"), times, floor(&bodies));
}
