//! Scale figures of the operator and spod on the real API server: 1,000
//! SeccompProfiles and 1,000 ProfileBindings, then 1,000 pods admitted
//! through the binding and namespace-policy webhooks.
//!
//! Prints (it does not assert on time: speed goals are figures, not test
//! verdicts):
//! - time from the first profile create to every profile's aggregated
//!   `status.status` being `Installed` (goal: under 10 s);
//! - pod create latency seen by the client, p50/p99, in a namespace with
//!   bindings (both webhooks run) and in one without (only the namespace
//!   policy runs), and the webhook's share as the API server measures it
//!   (`apiserver_admission_webhook_admission_duration_seconds`; goal: p99
//!   under 10 ms);
//! - RSS of spo-operator and spod after all of it (goal: under 50 MB each).
//!
//! It does assert what must hold at any speed: every profile Installed,
//! every pod mutated with its own profile.
//!
//! A benchmark, run only with `--ignored` (it takes a minute or two); needs the
//! Kubernetes binaries; otherwise it says SKIPPED.

use std::time::{Duration, Instant};

use futures::{stream, StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::{Namespace, Pod};
use kube::api::{Api, ListParams, PostParams};
use spo_api::crds::{ProfileBinding, ProfileBindingSpec, ProfileState, SeccompProfile, SeccompProfileSpec};
use spo_e2e::spo::{SpoBinaries, Stack};
use spo_e2e::{Binaries, Cluster};

const N: usize = 1000;
const CONCURRENCY: usize = 16;

#[test]
#[ignore = "benchmark: cargo test -p spo-e2e --release --test scale -- --ignored"]
fn thousand_profiles_and_pods() {
    let Some(bins) = Binaries::for_test("thousand_profiles_and_pods") else {
        return;
    };
    let spo_bins = SpoBinaries::find().unwrap_or_else(|e| panic!("{e}"));
    let dir = tempfile::tempdir().expect("tempdir");
    let cluster = Cluster::up(dir.path(), &bins).unwrap_or_else(|e| panic!("cluster up: {e}"));
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    rt.block_on(async {
        let stack = Stack::start(&cluster, &spo_bins).await.unwrap_or_else(|e| panic!("spo up: {e}"));
        let client = cluster.client().await.expect("client");
        run(&client, &stack, &cluster).await;
        stack.stop().expect("stop spo");
    });
    cluster.down().expect("cluster down");
}

async fn run(client: &kube::Client, stack: &Stack, cluster: &Cluster) {
    for (name, binding) in [("bench", true), ("bench-plain", false)] {
        let mut ns = Namespace::default();
        ns.metadata.name = Some(name.into());
        if binding {
            ns.metadata.labels = Some([("spo.x-k8s.io/enable-binding".to_owned(), "true".to_owned())].into());
        }
        Api::<Namespace>::all(client.clone()).create(&PostParams::default(), &ns).await.expect("namespace");
    }
    let sps: Api<SeccompProfile> = Api::all(client.clone());
    let at_start = webhook_histogram(client).await;
    let bindings: Api<ProfileBinding> = Api::namespaced(client.clone(), "bench");

    // Profiles: each allows a different syscall so every one compiles to
    // its own content.
    let cpu_before = cpu_seconds(cluster);
    let served_at_start = operator_histogram(stack);
    let requests_before = write_requests(client).await;
    let start = Instant::now();
    let names = ["read", "write", "openat", "close", "mmap", "brk", "futex", "getpid"];
    stream::iter(0..N)
        .map(|i| {
            let sps = sps.clone();
            async move {
                let spec: SeccompProfileSpec = serde_json::from_value(serde_json::json!({
                    "defaultAction": "SCMP_ACT_ERRNO",
                    "syscalls": [{"names": [names[i % names.len()], "exit_group"], "action": "SCMP_ACT_ALLOW"}],
                }))
                .expect("profile spec");
                let mut sp = SeccompProfile::new(&format!("p{i}"), spec);
                sp.metadata.annotations = Some([("bench/index".to_owned(), i.to_string())].into());
                sps.create(&PostParams::default(), &sp).await
            }
        })
        .buffer_unordered(CONCURRENCY)
        .try_collect::<Vec<_>>()
        .await
        .expect("create profiles");
    let created = start.elapsed();
    let installed = wait_all_installed(&sps, Duration::from_secs(120)).await;
    eprintln!(
        "FIGURE profiles: {N} created in {:.2} s; all Installed {:.2} s after the first create (goal < 10 s)",
        created.as_secs_f64(),
        installed.map_or(f64::NAN, |_| start.elapsed().as_secs_f64())
    );
    assert!(installed.is_some(), "not every profile reached Installed in 120 s");
    report_cpu(&cpu_before, &cpu_seconds(cluster));
    report_writes(&requests_before, &write_requests(client).await);
    report_served("the profile phase", &served_at_start, &operator_histogram(stack));

    stream::iter(0..N)
        .map(|i| {
            let bindings = bindings.clone();
            async move {
                let spec: ProfileBindingSpec = serde_json::from_value(serde_json::json!({
                    "profileRef": {"kind": "SeccompProfile", "name": format!("p{i}")},
                    "image": format!("example.com/app-{i}:*"),
                }))
                .expect("binding spec");
                bindings.create(&PostParams::default(), &ProfileBinding::new(&format!("b{i}"), spec)).await
            }
        })
        .buffer_unordered(CONCURRENCY)
        .try_collect::<Vec<_>>()
        .await
        .expect("create bindings");
    // Give the webhook's caches a moment to see the last bindings.
    tokio::time::sleep(Duration::from_secs(2)).await;

    let served_before = operator_histogram(stack);
    let bound = create_pods(client, "bench").await;
    let plain = create_pods(client, "bench-plain").await;
    let after = webhook_histogram(client).await;
    report("pods with bindings (mutating + validating webhooks)", &bound);
    report("pods without bindings (validating webhook only)", &plain);
    report_webhooks(&at_start, &after);
    report_served("the pod phase", &served_before, &operator_histogram(stack));

    // Every bound pod carries its own profile.
    let pods: Api<Pod> = Api::namespaced(client.clone(), "bench");
    let list = pods.list(&ListParams::default()).await.expect("pods");
    let mut mutated = 0;
    for pod in &list.items {
        let i: usize = pod.metadata.name.as_deref().and_then(|n| n.strip_prefix("pod-")?.parse().ok()).expect("index");
        let spec = pod.spec.as_ref().expect("spec");
        let c = &spec.containers[0];
        let profile = c
            .security_context
            .as_ref()
            .and_then(|s| s.seccomp_profile.as_ref())
            .or_else(|| spec.security_context.as_ref().and_then(|s| s.seccomp_profile.as_ref()))
            .and_then(|p| p.localhost_profile.clone())
            .unwrap_or_default();
        assert!(profile.starts_with(&format!("operator/p{i}/")), "pod-{i} got {profile:?}");
        mutated += 1;
    }
    assert_eq!(mutated, N);

    let (op, spod) = stack.pids();
    eprintln!("FIGURE RSS: spo-operator {:.1} MiB, spod {:.1} MiB (goal < 50 MB each)", rss_mib(op), rss_mib(spod));
}

async fn wait_all_installed(sps: &Api<SeccompProfile>, timeout: Duration) -> Option<Duration> {
    let start = Instant::now();
    loop {
        let list = sps.list(&ListParams::default()).await.expect("list profiles");
        let done = list
            .items
            .iter()
            .filter(|p| p.status.as_ref().and_then(|s| s.status) == Some(ProfileState::Installed))
            .count();
        if done == N {
            return Some(start.elapsed());
        }
        if start.elapsed() > timeout {
            eprintln!("only {done} of {N} Installed");
            return None;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Create `N` pods one after another (latency, not throughput, is
/// measured), returning each create's duration.
async fn create_pods(client: &kube::Client, ns: &str) -> Vec<Duration> {
    let pods: Api<Pod> = Api::namespaced(client.clone(), ns);
    let mut times = Vec::with_capacity(N);
    for i in 0..N {
        let pod: Pod = serde_json::from_value(serde_json::json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": format!("pod-{i}")},
            "spec": {"containers": [{"name": "app", "image": format!("example.com/app-{i}:1")}]},
        }))
        .expect("pod");
        let t = Instant::now();
        pods.create(&PostParams::default(), &pod).await.unwrap_or_else(|e| panic!("pod-{i} in {ns}: {e}"));
        times.push(t.elapsed());
    }
    times
}

fn report(what: &str, times: &[Duration]) {
    let mut ms: Vec<f64> = times.iter().map(|d| d.as_secs_f64() * 1000.0).collect();
    ms.sort_by(f64::total_cmp);
    let q = |p: f64| ms[((ms.len() as f64 * p).ceil() as usize).clamp(1, ms.len()) - 1];
    eprintln!("FIGURE create latency, {what}: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms", q(0.5), q(0.99), q(1.0));
}

/// Per webhook, as the API server timed the calls (request to response,
/// TLS included): the calls, and the bucket bounds under which half and
/// 99% of them fell.
fn report_webhooks(before: &[(String, String, f64)], after: &[(String, String, f64)]) {
    let mut names: Vec<&String> = after.iter().map(|(n, _, _)| n).collect();
    names.dedup();
    for name in names {
        let Some(d) = Delta::between(before, after, name) else { continue };
        let (total, bound) = (d.total, |q| d.bound(q));
        let under5 = d.buckets.iter().find(|b| b.0 == 0.005).map_or(0.0, |b| b.1);
        eprintln!(
            "FIGURE apiserver-timed webhook {name}: {total:.0} calls, {:.1}% within 5 ms, p50 <= {} ms, p99 <= {} ms (goal p99 < 10 ms)",
            100.0 * under5 / total,
            bound(0.5),
            bound(0.99)
        );
    }
}

/// `(webhook, le, cumulative count)` of the API server's admission
/// webhook duration histogram.
async fn webhook_histogram(client: &kube::Client) -> Vec<(String, String, f64)> {
    let req = http::Request::get("/metrics").body(Vec::new()).expect("request");
    let text = client.request_text(req).await.expect("apiserver /metrics");
    text.lines()
        .filter(|l| l.starts_with("apiserver_admission_webhook_admission_duration_seconds_bucket{"))
        .filter_map(|l| {
            let name = l.split("name=\"").nth(1)?.split('"').next()?.to_owned();
            let le = l.split("le=\"").nth(1)?.split('"').next()?.to_owned();
            let count = l.rsplit(' ').next()?.parse().ok()?;
            Some((name, le, count))
        })
        .collect()
}

/// What a cumulative histogram (`(series, le, count)` rows) counted for
/// one series between two scrapes.
struct Delta {
    /// `(upper bound in seconds, cumulative count)`, in bucket order.
    buckets: Vec<(f64, f64)>,
    total: f64,
}

impl Delta {
    fn between(before: &[(String, String, f64)], after: &[(String, String, f64)], series: &str) -> Option<Delta> {
        let buckets: Vec<(f64, f64)> = after
            .iter()
            .filter(|(s, _, _)| s == series)
            .map(|(s, le, n)| {
                let old = before.iter().find(|(bs, bl, _)| bs == s && bl == le).map_or(0.0, |b| b.2);
                (le.parse::<f64>().unwrap_or(f64::INFINITY), n - old)
            })
            .collect();
        let total = buckets.iter().map(|b| b.1).fold(0.0, f64::max);
        (total > 0.0).then_some(Delta { buckets, total })
    }

    /// The bound, in ms, of the first bucket holding a share `q` of the
    /// calls.
    fn bound(&self, q: f64) -> f64 {
        self.buckets.iter().find(|b| b.1 >= q * self.total).map_or(f64::INFINITY, |b| b.0 * 1000.0)
    }
}

/// `(path, le, cumulative count)` of the operator's own webhook histogram
/// (`spo_operator_webhook_duration_seconds`), whose buckets resolve 10 ms.
fn operator_histogram(stack: &Stack) -> Vec<(String, String, f64)> {
    use std::io::{Read, Write};
    let mut conn = std::net::TcpStream::connect(stack.operator_metrics()).expect("operator metrics");
    conn.write_all(b"GET /metrics HTTP/1.0\r\n\r\n").expect("request");
    let mut text = String::new();
    conn.read_to_string(&mut text).expect("response");
    text.lines()
        .filter(|l| l.starts_with("spo_operator_webhook_duration_seconds_bucket{"))
        .filter_map(|l| {
            let path = l.split("path=\"").nth(1)?.split('"').next()?.to_owned();
            let le = l.split("le=\"").nth(1)?.split('"').next()?.to_owned();
            Some((path, le, l.rsplit(' ').next()?.parse().ok()?))
        })
        .collect()
}

/// A phase's requests per webhook path as the operator timed them: the
/// bucket bounds under which half and 99% fell.
fn report_served(phase: &str, before: &[(String, String, f64)], after: &[(String, String, f64)]) {
    for path in ["/mutate-pods", "/mutate-profiles", "/validate"] {
        let Some(d) = Delta::between(before, after, path) else { continue };
        let (total, bound) = (d.total, |q| d.bound(q));
        eprintln!(
            "FIGURE operator-timed webhook {path} during {phase}: {total:.0} requests, p50 <= {} ms, p99 <= {} ms (goal p99 < 10 ms)",
            bound(0.5),
            bound(0.99)
        );
    }
}

fn rss_mib(pid: u32) -> f64 {
    spo_e2e::usage(pid).1 as f64 / 1024.0
}

/// CPU seconds (user + system) used so far by each process of the cluster
/// and of spo-rs, and by this test, by name.
fn cpu_seconds(cluster: &Cluster) -> Vec<(String, f64)> {
    let mut procs = cluster.processes();
    procs.push(("this test".into(), std::process::id()));
    procs.into_iter().map(|(name, pid)| (name, spo_e2e::usage(pid).0)).collect()
}

fn report_cpu(before: &[(String, f64)], after: &[(String, f64)]) {
    let used: Vec<String> = after
        .iter()
        .map(|(name, t)| {
            let t0 = before.iter().find(|(n, _)| n == name).map_or(0.0, |b| b.1);
            format!("{name} {:.2}", t - t0)
        })
        .collect();
    eprintln!("FIGURE CPU seconds while the profiles were created and installed: {}", used.join(", "));
}

/// The API server's count of write requests so far, by verb, resource and
/// subresource.
async fn write_requests(client: &kube::Client) -> Vec<(String, f64)> {
    let req = http::Request::get("/metrics").body(Vec::new()).expect("request");
    let text = client.request_text(req).await.expect("apiserver /metrics");
    let label = |l: &str, k: &str| {
        l.split(&format!("{k}=\"")).nth(1).and_then(|v| v.split('"').next()).unwrap_or("").to_owned()
    };
    let mut out: Vec<(String, f64)> = Vec::new();
    for l in text.lines().filter(|l| l.starts_with("apiserver_request_total{")) {
        let verb = label(l, "verb");
        if !["POST", "PATCH", "PUT", "DELETE", "APPLY", "CREATE", "UPDATE"].contains(&verb.as_str()) {
            continue;
        }
        let key = format!("{verb} {}/{}", label(l, "resource"), label(l, "subresource"));
        let count: f64 = l.rsplit(' ').next().and_then(|c| c.parse().ok()).unwrap_or(0.0);
        match out.iter_mut().find(|(k, _)| *k == key) {
            Some(e) => e.1 += count,
            None => out.push((key, count)),
        }
    }
    out
}

fn report_writes(before: &[(String, f64)], after: &[(String, f64)]) {
    let mut lines: Vec<String> = after
        .iter()
        .filter_map(|(k, n)| {
            let d = n - before.iter().find(|(bk, _)| bk == k).map_or(0.0, |b| b.1);
            (d > 0.0).then(|| format!("{k} {d:.0}"))
        })
        .collect();
    lines.sort();
    eprintln!("FIGURE API writes while the profiles were created and installed: {}", lines.join(", "));
}
