//! spo-rs installed in the test cluster the way users install it: the
//! images built by `scripts/build-image.sh` and imported into the node's
//! containerd, then `kubectl apply -k` of `deploy/`, so the operator
//! Deployment and the spod DaemonSet run as pods on the real node
//! ([`crate::node`]) with the manifests' own service accounts, probes,
//! mounts and security contexts. [`crate::spo::Stack`], which runs both as
//! host processes, stays the fast path for the other tests.
//!
//! What makes the in-cluster path work here as in a cluster: the API
//! server reaches the `spo-webhook` Service and pods reach the API server
//! through the `kubernetes` Service, both through kube-proxy's netfilter
//! rules (the node runs kube-proxy; see `node::start_proxy`).
//!
//! The one change to `deploy/` is an overlay (`DIR/install/`), the one
//! `docs/operator.md` gives for a kubelet whose root is not
//! `/var/lib/kubelet` ([`kubelet_root_patches`]); the harness also moves
//! spod's state directory under the cluster directory so that nothing of
//! a test cluster stays on the machine.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use k8s_openapi::api::apps::v1::{DaemonSet, Deployment};
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, DeleteParams, ListParams, LogParams, PostParams};

use crate::binaries::Binaries;
use crate::cluster::Cluster;
use crate::spo::{deploy_dir, SpoBinaries, NAMESPACE};
use crate::{node, process, E2eError};

/// How long the Deployment and the DaemonSet may take to be Ready.
pub const READY_TIMEOUT: Duration = Duration::from_secs(180);

/// The images `scripts/build-image.sh` builds, as `deploy/` names them.
pub const OPERATOR_IMAGE: &str = "localhost/spo-rs/operator:dev";
/// spod's image.
pub const SPOD_IMAGE: &str = "localhost/spo-rs/spod:dev";

/// The operator Deployment and the spod DaemonSet (`deploy/`).
pub const DEPLOYMENT: &str = "spo-operator";
/// See [`DEPLOYMENT`].
pub const DAEMONSET: &str = "spod";

/// The Lease the operator's controllers lead through
/// (`coordination.k8s.io`, `holderIdentity` = the leading pod's name).
pub const LEADER_LEASE: &str = "spo-operator-leader";

/// The log line with which an operator pod says its webhooks serve and
/// the API server calls them.
const OPERATOR_READY: &str = "webhook ready";

impl std::fmt::Debug for InCluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InCluster")
            .field("kubelet_root", &self.kubelet_root)
            .field("kubeconfig", &self.kubeconfig)
            .field("timings", &self.timings)
            .finish_non_exhaustive()
    }
}

/// How long each step took.
#[derive(Debug, Clone, Copy, Default)]
pub struct Timings {
    /// `scripts/build-image.sh`, import included.
    pub image: Duration,
    /// `kubectl apply -k`.
    pub apply: Duration,
    /// From the apply to every replica of the Deployment Ready.
    pub operator_ready: Duration,
    /// From the apply to every spod pod Ready.
    pub spod_ready: Duration,
    /// From the apply to an operator pod confirming the webhooks are called.
    pub webhook_ready: Duration,
}

/// spo-rs running as pods in a cluster.
pub struct InCluster {
    client: kube::Client,
    kubelet_root: PathBuf,
    kubectl: PathBuf,
    kubeconfig: PathBuf,
    /// How long the install took, step by step.
    pub timings: Timings,
}

/// Build and import the images, apply `deploy/` (with the kubelet-root
/// overlay), and return once the Deployment and the DaemonSet are Ready
/// and an operator pod serves the webhooks. The cluster must run a node
/// with kube-proxy.
pub async fn install(cluster: &Cluster) -> Result<InCluster, E2eError> {
    let fail = |reason: String| E2eError::InCluster { reason };
    if !cluster.has_kubelet() {
        return Err(fail("the cluster has no node (start it with Options { node: true }, as root)".into()));
    }
    let bins = Binaries::cached()?;
    let proxy_runs = process::recorded(cluster.dir())?.iter().any(|r| r.name == "kube-proxy" && process::alive(r));
    if !proxy_runs {
        let why = node::proxy_unavailable(&bins).unwrap_or_else(|| "it is not running".into());
        return Err(fail(format!("Services need kube-proxy on the node: {why}")));
    }
    if !bins.has("kubectl") {
        return Err(fail("kubectl is not built (run e2e/k8s/build.sh)".into()));
    }
    let dir = cluster.dir();
    let client = cluster.client().await?;
    let mut timings = Timings::default();

    let started = Instant::now();
    let bin_dir = stage_binaries(dir, &SpoBinaries::find()?)?;
    let script = deploy_dir().join("../scripts/build-image.sh");
    let log = dir.join("logs/build-image.log");
    let out = std::fs::File::create(&log).map_err(E2eError::io(&log))?;
    let err = out.try_clone().map_err(E2eError::io(&log))?;
    let status = Command::new("bash")
        .arg(&script)
        .arg("--bin-dir")
        .arg(&bin_dir)
        .arg("--out")
        .arg(dir.join("images"))
        .arg("--containerd")
        .arg(dir.join("containerd/containerd.sock"))
        .stdout(out)
        .stderr(err)
        .status()
        .map_err(|source| E2eError::Spawn { program: script.display().to_string(), source })?;
    if !status.success() {
        return Err(E2eError::Command {
            program: script.display().to_string(),
            status,
            stderr: process::log_tail(&log, 20),
        });
    }
    timings.image = started.elapsed();

    let kubelet_root = dir.join("kubelet");
    let overlay = dir.join("install");
    std::fs::create_dir_all(&overlay).map_err(E2eError::io(&overlay))?;
    // Kustomize takes resources relative to the overlay only.
    let deploy = deploy_dir().canonicalize().map_err(E2eError::io(&deploy_dir()))?;
    let overlay_abs = overlay.canonicalize().map_err(E2eError::io(&overlay))?;
    let mut relative = PathBuf::new();
    for _ in overlay_abs.components().skip(1) {
        relative.push("..");
    }
    relative.push(deploy.strip_prefix("/").unwrap_or(&deploy));
    let kustomization = overlay_kustomization(&relative, &kubelet_root, &dir.join("spod-state"));
    let file = overlay.join("kustomization.yaml");
    std::fs::write(&file, kustomization).map_err(E2eError::io(&file))?;
    let installed = InCluster {
        client,
        kubelet_root,
        kubectl: bins.path("kubectl"),
        kubeconfig: cluster.kubeconfig().to_owned(),
        timings,
    };
    let applied = Instant::now();
    installed.kubectl(&["apply", "-k", &overlay.display().to_string()])?;
    let mut installed = installed;
    installed.timings.apply = applied.elapsed();

    let deployments: Api<Deployment> = Api::namespaced(installed.client.clone(), NAMESPACE);
    let daemonsets: Api<DaemonSet> = Api::namespaced(installed.client.clone(), NAMESPACE);
    let deadline = applied + READY_TIMEOUT;
    let (mut operator_ready, mut spod_ready, mut webhook_ready) = (None, None, None);
    while operator_ready.is_none() || spod_ready.is_none() || webhook_ready.is_none() {
        if operator_ready.is_none()
            && deployments.get_opt(DEPLOYMENT).await.ok().flatten().is_some_and(|d| deployment_ready(&d))
        {
            operator_ready = Some(applied.elapsed());
        }
        if spod_ready.is_none()
            && daemonsets.get_opt(DAEMONSET).await.ok().flatten().is_some_and(|d| daemonset_ready(&d))
        {
            spod_ready = Some(applied.elapsed());
        }
        if webhook_ready.is_none() {
            for pod in installed.operator_pods().await? {
                let name = pod.metadata.name.unwrap_or_default();
                if installed.logs(&name).await.contains(OPERATOR_READY) {
                    webhook_ready = Some(applied.elapsed());
                    break;
                }
            }
        }
        if Instant::now() >= deadline {
            return Err(E2eError::Timeout {
                what: format!(
                    "spo-rs in the cluster (operator Ready: {}, spod Ready: {}, webhook called: {}); pods:\n{}",
                    operator_ready.is_some(),
                    spod_ready.is_some(),
                    webhook_ready.is_some(),
                    installed.describe_pods().await
                ),
                seconds: READY_TIMEOUT.as_secs(),
            });
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    installed.timings.operator_ready = operator_ready.unwrap_or_default();
    installed.timings.spod_ready = spod_ready.unwrap_or_default();
    installed.timings.webhook_ready = webhook_ready.unwrap_or_default();
    Ok(installed)
}

/// The binaries the images are made of, in one directory (the build
/// script takes a directory), their debug information left out: the
/// tests' binaries are debug builds, several times the size otherwise.
fn stage_binaries(dir: &Path, bins: &SpoBinaries) -> Result<PathBuf, E2eError> {
    let out = dir.join("spo-bins");
    std::fs::create_dir_all(&out).map_err(E2eError::io(&out))?;
    for (name, from) in [("spo-operator", &bins.operator), ("spod", &bins.spod)] {
        let to = out.join(name);
        let stripped = node::which("objcopy").is_some()
            && Command::new("objcopy").arg("--strip-debug").arg(from).arg(&to).status().is_ok_and(|s| s.success());
        if !stripped {
            std::fs::copy(from, &to).map_err(E2eError::io(from))?;
        }
    }
    Ok(out)
}

/// The JSON patches that move the kubelet root from `/var/lib/kubelet` to
/// `root`: spod's seccomp volume (host path and mount path, kept equal so
/// the paths spod reports are the node's) and `--kubelet-root` of spod
/// and of the operator (a profile's `status.path`). `docs/operator.md`
/// gives the same overlay.
pub fn kubelet_root_patches(root: &Path) -> String {
    let root = root.display();
    format!(
        r#"  - target: {{kind: DaemonSet, name: spod}}
    patch: |-
      - op: test
        path: /spec/template/spec/volumes/0/name
        value: kubelet-seccomp
      - op: replace
        path: /spec/template/spec/volumes/0/hostPath/path
        value: {root}/seccomp
      - op: test
        path: /spec/template/spec/containers/0/volumeMounts/0/name
        value: kubelet-seccomp
      - op: replace
        path: /spec/template/spec/containers/0/volumeMounts/0/mountPath
        value: {root}/seccomp
      - op: test
        path: /spec/template/spec/containers/0/args/2
        value: --kubelet-root=/var/lib/kubelet
      - op: replace
        path: /spec/template/spec/containers/0/args/2
        value: --kubelet-root={root}
  - target: {{kind: Deployment, name: spo-operator}}
    patch: |-
      - op: test
        path: /spec/template/spec/containers/0/args/2
        value: --kubelet-root=/var/lib/kubelet
      - op: replace
        path: /spec/template/spec/containers/0/args/2
        value: --kubelet-root={root}
"#
    )
}

/// The harness's overlay of `deploy`: [`kubelet_root_patches`], and
/// spod's state directory (the `spod-state` host path) under the cluster
/// directory.
fn overlay_kustomization(deploy: &Path, kubelet_root: &Path, state: &Path) -> String {
    format!(
        r#"apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
  - {deploy}
patches:
{kubelet}  - target: {{kind: DaemonSet, name: spod}}
    patch: |-
      - op: test
        path: /spec/template/spec/volumes/8/name
        value: spod-state
      - op: replace
        path: /spec/template/spec/volumes/8/hostPath/path
        value: {state}
"#,
        deploy = deploy.display(),
        kubelet = kubelet_root_patches(kubelet_root),
        state = state.display(),
    )
}

fn deployment_ready(d: &Deployment) -> bool {
    let want = d.spec.replicas.unwrap_or(1);
    let s = d.status.clone().unwrap_or_default();
    let generation = d.metadata.generation.unwrap_or(0);
    s.observed_generation.unwrap_or(0) >= generation
        && s.ready_replicas.unwrap_or(0) == want
        && s.updated_replicas.unwrap_or(0) == want
        && s.replicas.unwrap_or(0) == want
}

fn daemonset_ready(d: &DaemonSet) -> bool {
    let s = d.status.clone().unwrap_or_default();
    let generation = d.metadata.generation.unwrap_or(0);
    s.observed_generation.unwrap_or(0) >= generation
        && s.desired_number_scheduled > 0
        && s.number_ready == s.desired_number_scheduled
        && s.updated_number_scheduled.unwrap_or(0) == s.desired_number_scheduled
}

impl InCluster {
    /// An administrator client.
    pub fn client(&self) -> &kube::Client {
        &self.client
    }

    /// The kubelet root spod installs into (the node's `--root-dir`).
    pub fn kubelet_root(&self) -> &Path {
        &self.kubelet_root
    }

    /// Run kubectl as the administrator; its stdout, or the error with
    /// its stderr.
    pub fn kubectl(&self, args: &[&str]) -> Result<String, E2eError> {
        let out = Command::new(&self.kubectl)
            .arg("--kubeconfig")
            .arg(&self.kubeconfig)
            .args(args)
            .output()
            .map_err(|source| E2eError::Spawn { program: "kubectl".into(), source })?;
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        } else {
            Err(E2eError::Command {
                program: format!("kubectl {}", args.join(" ")),
                status: out.status,
                stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            })
        }
    }

    /// The operator's pods, by the Deployment's selector.
    pub async fn operator_pods(&self) -> Result<Vec<Pod>, E2eError> {
        self.pods("app.kubernetes.io/name=spo-operator").await
    }

    /// spod's pods, one per node.
    pub async fn spod_pods(&self) -> Result<Vec<Pod>, E2eError> {
        self.pods("app.kubernetes.io/name=spod").await
    }

    async fn pods(&self, selector: &str) -> Result<Vec<Pod>, E2eError> {
        let api: Api<Pod> = Api::namespaced(self.client.clone(), NAMESPACE);
        api.list(&ListParams::default().labels(selector))
            .await
            .map(|l| l.items)
            .map_err(|source| E2eError::Kube { context: format!("listing pods {selector}"), source })
    }

    /// Scale the operator Deployment to `replicas` (the failover tests
    /// run two) and wait until they are all Ready.
    pub async fn scale_operator(&self, replicas: u32) -> Result<(), E2eError> {
        self.kubectl(&["-n", NAMESPACE, "scale", "deployment", DEPLOYMENT, &format!("--replicas={replicas}")])?;
        let api: Api<Deployment> = Api::namespaced(self.client.clone(), NAMESPACE);
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            if api.get_opt(DEPLOYMENT).await.ok().flatten().is_some_and(|d| deployment_ready(&d)) {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(E2eError::Timeout {
                    what: format!("{replicas} operator replicas Ready; pods:\n{}", self.describe_pods().await),
                    seconds: READY_TIMEOUT.as_secs(),
                });
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// The pod holding [`LEADER_LEASE`], if any holds it.
    pub async fn leader(&self) -> Result<Option<String>, E2eError> {
        let api: Api<Lease> = Api::namespaced(self.client.clone(), NAMESPACE);
        let lease = api
            .get_opt(LEADER_LEASE)
            .await
            .map_err(|source| E2eError::Kube { context: format!("reading Lease {LEADER_LEASE}"), source })?;
        Ok(lease.and_then(|l| l.spec).and_then(|s| s.holder_identity).filter(|h| !h.is_empty()))
    }

    /// Delete the pod holding [`LEADER_LEASE`] (no grace period, as a
    /// crash); its name.
    pub async fn delete_leader(&self) -> Result<String, E2eError> {
        let leader = self
            .leader()
            .await?
            .ok_or_else(|| E2eError::InCluster { reason: format!("no pod holds the Lease {LEADER_LEASE}") })?;
        let api: Api<Pod> = Api::namespaced(self.client.clone(), NAMESPACE);
        api.delete(&leader, &DeleteParams { grace_period_seconds: Some(0), ..DeleteParams::default() })
            .await
            .map_err(|source| E2eError::Kube { context: format!("deleting the leader {leader}"), source })?;
        Ok(leader)
    }

    /// The log of a pod of spo-rs's namespace (its one container), empty
    /// when it cannot be read yet.
    pub async fn logs(&self, pod: &str) -> String {
        let api: Api<Pod> = Api::namespaced(self.client.clone(), NAMESPACE);
        api.logs(pod, &LogParams::default()).await.unwrap_or_default()
    }

    /// Every pod of the namespace with its phase and container states,
    /// for messages.
    pub async fn describe_pods(&self) -> String {
        let api: Api<Pod> = Api::namespaced(self.client.clone(), NAMESPACE);
        let Ok(list) = api.list(&ListParams::default()).await else {
            return "(cannot list pods)".into();
        };
        let mut out = String::new();
        for p in list.items {
            let name = p.metadata.name.clone().unwrap_or_default();
            let status = p.status.clone().unwrap_or_default();
            out.push_str(&format!("{name}: {}\n", status.phase.unwrap_or_default()));
            for c in status.container_statuses.unwrap_or_default() {
                out.push_str(&format!("  {} ready={} {:?}\n", c.name, c.ready, c.state));
            }
            let log = self.logs(&name).await;
            let tail: Vec<&str> = log.lines().rev().take(5).collect();
            for l in tail.into_iter().rev() {
                out.push_str(&format!("  | {l}\n"));
            }
        }
        out
    }
}

/// What [`admission_loop`] saw.
#[derive(Debug, Clone, Default)]
pub struct AdmissionLoop {
    /// Pods created (admitted).
    pub admitted: usize,
    /// Creates that failed, with their errors.
    pub failures: Vec<String>,
    /// The longest time between two admitted creates (or from the start
    /// to the first): the admission outage, if any.
    pub longest_gap: Duration,
}

/// Create `pod` (server-side dry run: admission runs, nothing is stored)
/// in `namespace` again and again for `duration`, and measure the longest
/// gap between admitted creates. For a failover test: start it, delete
/// the leader, read the gap.
pub async fn admission_loop(client: kube::Client, namespace: &str, pod: Pod, duration: Duration) -> AdmissionLoop {
    let api: Api<Pod> = Api::namespaced(client, namespace);
    let params = PostParams { dry_run: true, ..PostParams::default() };
    let start = Instant::now();
    let mut last = start;
    let mut seen = AdmissionLoop::default();
    while start.elapsed() < duration {
        match api.create(&params, &pod).await {
            Ok(_) => {
                seen.admitted += 1;
                seen.longest_gap = seen.longest_gap.max(last.elapsed());
                last = Instant::now();
            }
            Err(e) => seen.failures.push(e.to_string()),
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    seen.longest_gap = seen.longest_gap.max(last.elapsed());
    seen
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_overlay_names_every_path_it_moves() {
        let text = overlay_kustomization(Path::new("/src/deploy"), Path::new("/c/kubelet"), Path::new("/c/state"));
        for want in
            ["  - /src/deploy\n", "value: /c/kubelet/seccomp", "value: --kubelet-root=/c/kubelet", "value: /c/state"]
        {
            assert!(text.contains(want), "{want:?} missing from\n{text}");
        }
        let docs = crate::manifests::parse(&text).expect("the overlay is YAML");
        assert_eq!(docs[0]["patches"].as_array().map(Vec::len), Some(3));
    }
}
