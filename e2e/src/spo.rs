//! spo-rs on the test cluster: `spo-operator` and one `spod` in Kubernetes
//! mode, started as local processes against a running [`Cluster`].
//!
//! They run with the credentials `deploy/` gives them, not the
//! administrator's: [`Stack::start`] applies `deploy/namespace.yaml`,
//! `deploy/rbac.yaml` and the CRDs, then asks the API server for a token of
//! each service account and writes one kubeconfig per component. A missing
//! permission in `deploy/rbac.yaml` therefore fails the tests exactly as it
//! would fail in a cluster. (`SPO_E2E_ADMIN=1` runs both with the
//! administrator's kubeconfig, to tell an RBAC problem from a code one.)
//!
//! spod's kubelet root is the kubelet's `--root-dir` when the cluster runs
//! a node ([`crate::node`]), so pods really run with the profiles spod
//! installed; without a node, `e2e-node` is a `Node` object the harness
//! creates and nothing runs the pods.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use k8s_openapi::api::authentication::v1::{TokenRequest, TokenRequestSpec};
use k8s_openapi::api::core::v1::{Node, ServiceAccount};
use kube::api::{Api, Patch, PatchParams};

use crate::cluster::{free_ports, wait_until, write_kubeconfig, Cluster, Credentials};
use crate::process::{self, Recorded};
use crate::{manifests, E2eError};

/// The namespace spo-rs runs in (`deploy/namespace.yaml`).
pub const NAMESPACE: &str = "security-profiles-operator";

/// The node name spod reports for.
pub use crate::node::NODE;

/// How long the operator and spod may take to report ready.
pub const READY_TIMEOUT: Duration = Duration::from_secs(90);

/// The log line with which the operator says its webhooks serve.
const OPERATOR_READY: &str = "webhook ready";
/// The log line with which spod says its watches are established.
const SPOD_READY: &str = "watching profiles";

/// The running operator and node agent.
#[derive(Debug)]
pub struct Stack {
    kubelet_root: PathBuf,
    webhook_url: String,
    spod_url: String,
    operator_metrics: String,
    operator: Recorded,
    spod: Recorded,
    stopped: bool,
}

/// Where the two binaries are.
#[derive(Debug, Clone)]
pub struct SpoBinaries {
    /// `spo-operator`.
    pub operator: PathBuf,
    /// `spod`.
    pub spod: PathBuf,
}

impl SpoBinaries {
    /// `SPO_OPERATOR_BIN` and `SPOD_BIN` when set, else the binaries in
    /// the target directory of the running executable (a test lives in
    /// `target/debug/deps/`, `spo-e2e` in `target/debug/`).
    pub fn find() -> Result<SpoBinaries, E2eError> {
        Ok(SpoBinaries { operator: find_bin("SPO_OPERATOR_BIN", "spo-operator")?, spod: find_bin("SPOD_BIN", "spod")? })
    }
}

fn find_bin(var: &str, name: &str) -> Result<PathBuf, E2eError> {
    if let Some(p) = std::env::var_os(var) {
        return Ok(PathBuf::from(p));
    }
    let exe = std::env::current_exe().map_err(E2eError::io("/proc/self/exe"))?;
    let candidates: Vec<PathBuf> = exe.ancestors().skip(1).take(2).map(|d| d.join(name)).collect();
    candidates.iter().find(|p| p.is_file()).cloned().ok_or_else(|| E2eError::SpoNotBuilt {
        binary: name.to_owned(),
        looked: candidates.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", "),
        var: var.to_owned(),
    })
}

/// The daemon configuration the stack starts with.
pub fn daemon_configuration() -> serde_json::Value {
    serde_json::json!({
        "apiVersion": format!("{}/v1", spo_api::crds::GROUP),
        "kind": "SecurityProfilesOperatorDaemon",
        "metadata": {"name": "spod", "namespace": NAMESPACE},
        "spec": {"enricher": {"enableBpfRecorder": true, "enableLogEnricher": true}},
    })
}

/// The repository's `deploy/` directory.
pub fn deploy_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy")
}

impl Stack {
    /// Apply `deploy/` (namespace, RBAC, CRDs), create the node object,
    /// start the operator and spod, and return once both report ready.
    pub async fn start(cluster: &Cluster, bins: &SpoBinaries) -> Result<Stack, E2eError> {
        let dir = cluster.dir().to_owned();
        let client = cluster.client().await?;
        let deploy = deploy_dir();
        for file in ["namespace.yaml", "rbac.yaml", "webhook.yaml"] {
            for doc in manifests::load(&deploy.join(file))? {
                manifests::apply(&client, &doc).await?;
            }
        }
        let mut crd_names = Vec::new();
        for crd in spo_api::all_crds() {
            let value = serde_json::to_value(&crd)
                .map_err(|e| E2eError::Manifest { path: PathBuf::from("spo_api::all_crds"), reason: e.to_string() })?;
            manifests::apply(&client, &value).await?;
            crd_names.push(crd.metadata.name.unwrap_or_default());
        }
        manifests::wait_established(&client, &crd_names, Duration::from_secs(30)).await?;
        // The daemon configuration: SPO's defaults but with the recorders
        // and the log enricher on (as SPO's own e2e tests set them), so the
        // recording and complain-mode tests have them. The operator would
        // create it with every switch off.
        manifests::apply(&client, &daemon_configuration()).await?;
        if !cluster.has_kubelet() {
            create_node(&client, NODE).await?;
        }

        let admin = std::env::var_os("SPO_E2E_ADMIN").is_some_and(|v| v == "1");
        let (op_kc, spod_kc) = if admin {
            (cluster.kubeconfig().to_owned(), cluster.kubeconfig().to_owned())
        } else {
            (
                service_account_kubeconfig(cluster, &client, "spo-operator").await?,
                service_account_kubeconfig(cluster, &client, "spod").await?,
            )
        };

        let [webhook_port, spod_port, metrics_port] = free_ports()?;
        let webhook_url = format!("https://127.0.0.1:{webhook_port}");
        let mut op = Command::new(&bins.operator);
        op.env("KUBECONFIG", &op_kc).env("RUST_LOG", "info").args([
            format!("--webhook-listen=127.0.0.1:{webhook_port}"),
            format!("--webhook-url={webhook_url}"),
            format!("--metrics-listen=127.0.0.1:{metrics_port}"),
            format!("--namespace={NAMESPACE}"),
        ]);
        let operator = process::spawn(&dir, "spo-operator", op)?;

        let kubelet_root = dir.join("kubelet");
        std::fs::create_dir_all(&kubelet_root).map_err(E2eError::io(&kubelet_root))?;
        let mut spod = Command::new(&bins.spod);
        spod.env("KUBECONFIG", &spod_kc).env("RUST_LOG", "info").args([
            "--kubernetes".to_owned(),
            format!("--node-name={NODE}"),
            format!("--kubelet-root={}", kubelet_root.display()),
            format!("--state={}", dir.join("spod").display()),
            format!("--listen=127.0.0.1:{spod_port}"),
        ]);
        let spod = process::spawn(&dir, "spod", spod)?;

        let stack = Stack {
            kubelet_root,
            webhook_url,
            spod_url: format!("http://127.0.0.1:{spod_port}"),
            operator_metrics: format!("127.0.0.1:{metrics_port}"),
            operator,
            spod,
            stopped: false,
        };
        wait_for_line(&stack.operator, OPERATOR_READY)?;
        wait_for_line(&stack.spod, SPOD_READY)?;
        Ok(stack)
    }

    /// Where spod installs (its `--kubelet-root`).
    pub fn kubelet_root(&self) -> &Path {
        &self.kubelet_root
    }

    /// The operator's webhook server.
    pub fn webhook_url(&self) -> &str {
        &self.webhook_url
    }

    /// Address (`127.0.0.1:PORT`) of the operator's plain-HTTP `/metrics`.
    pub fn operator_metrics(&self) -> &str {
        &self.operator_metrics
    }

    /// spod's HTTP endpoint (`/status`, `/metrics`, ...).
    pub fn spod_url(&self) -> &str {
        &self.spod_url
    }

    /// The operator's log so far.
    pub fn operator_log(&self) -> String {
        std::fs::read_to_string(&self.operator.log).unwrap_or_default()
    }

    /// spod's log so far.
    pub fn spod_log(&self) -> String {
        std::fs::read_to_string(&self.spod.log).unwrap_or_default()
    }

    /// Process ids of the operator and spod (for memory figures).
    pub fn pids(&self) -> (u32, u32) {
        (self.operator.pid, self.spod.pid)
    }

    /// Leave both running when this value is dropped (the command line's
    /// `up`; `down` stops them with the cluster).
    pub fn detach(mut self) {
        self.stopped = true;
    }

    /// Stop the operator and spod (the cluster keeps running).
    pub fn stop(mut self) -> Result<(), E2eError> {
        self.stopped = true;
        process::kill(&self.spod, Duration::from_secs(5))?;
        process::kill(&self.operator, Duration::from_secs(5))
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        if !self.stopped {
            let _ = process::kill(&self.spod, Duration::from_secs(5));
            let _ = process::kill(&self.operator, Duration::from_secs(5));
        }
    }
}

/// A `Node` object standing for this machine: there is no kubelet to
/// register one.
async fn create_node(client: &kube::Client, name: &str) -> Result<(), E2eError> {
    let nodes: Api<Node> = Api::all(client.clone());
    let node: Node = serde_json::from_value(serde_json::json!({
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name, "kubernetes.io/os": "linux"}},
    }))
    .map_err(|e| E2eError::Manifest { path: PathBuf::from("node"), reason: e.to_string() })?;
    nodes
        .patch(name, &PatchParams::apply(manifests::FIELD_MANAGER).force(), &Patch::Apply(&node))
        .await
        .map_err(|source| E2eError::Kube { context: format!("creating node {name}"), source })?;
    Ok(())
}

/// A kubeconfig holding a fresh token of service account `name` in
/// [`NAMESPACE`]; written beside the administrator's.
async fn service_account_kubeconfig(cluster: &Cluster, client: &kube::Client, name: &str) -> Result<PathBuf, E2eError> {
    let sas: Api<ServiceAccount> = Api::namespaced(client.clone(), NAMESPACE);
    let request = TokenRequest {
        spec: Some(TokenRequestSpec { expiration_seconds: Some(24 * 3600), ..TokenRequestSpec::default() }),
        ..TokenRequest::default()
    };
    let token = sas
        .create_token_request(name, &Default::default(), &request)
        .await
        .map_err(|source| E2eError::Kube { context: format!("token for service account {name}"), source })?
        .status
        .and_then(|s| s.token)
        .unwrap_or_default();
    let path = cluster.dir().join(format!("{name}.kubeconfig"));
    write_kubeconfig(&path, cluster.server(), &cluster.dir().join("pki/ca.crt"), Credentials::Token(&token))?;
    Ok(path)
}

/// Wait until the process's log has `line`, failing early when it exits.
fn wait_for_line(rec: &Recorded, line: &str) -> Result<(), E2eError> {
    wait_until(rec, &format!("{line:?} in {}", rec.log.display()), READY_TIMEOUT, || {
        std::fs::read_to_string(&rec.log).is_ok_and(|t| t.contains(line))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_explicit_binary_path_wins() {
        // The variable is read only by this test in this process.
        std::env::set_var("SPO_E2E_TEST_BIN", "/nonexistent/spo-operator");
        assert_eq!(find_bin("SPO_E2E_TEST_BIN", "spo-operator").expect("path"), Path::new("/nonexistent/spo-operator"));
    }

    #[test]
    fn a_missing_binary_names_where_it_looked() {
        let err = find_bin("SPO_E2E_UNSET_VAR", "no-such-spo-binary").expect_err("missing");
        let text = err.to_string();
        assert!(text.contains("no-such-spo-binary") && text.contains("SPO_E2E_UNSET_VAR"), "{text}");
    }
}
