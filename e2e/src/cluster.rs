//! Starting and stopping the control plane: etcd, kube-apiserver and
//! kube-controller-manager as processes on 127.0.0.1, each on a free port,
//! with everything (certificates, data, logs, kubeconfig, pid file) under
//! one directory.
//!
//! Without [`Options::node`] there is no kubelet: objects are stored,
//! validated, defaulted and controlled (namespaces, service accounts,
//! garbage collection), but no pod runs. That is what the operator's
//! API-level tests need.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::binaries::Binaries;
use crate::certs;
use crate::E2eError;
use crate::{node, process};

/// How long the API server may take to report ready. Generous: on two busy
/// cores its first start (it compiles its OpenAPI models) can take a while.
pub const READY_TIMEOUT: Duration = Duration::from_secs(120);

/// A running control plane.
#[derive(Debug)]
pub struct Cluster {
    dir: PathBuf,
    kubeconfig: PathBuf,
    server: String,
    controller_manager: bool,
    kubelet: bool,
    stopped: bool,
}

/// What to start besides etcd and the API server.
#[derive(Debug, Clone, Copy, Default)]
pub struct Options {
    /// Also run a real node (containerd, kubelet, scheduler; see
    /// [`crate::node`]) when this machine can. Off for tests that only
    /// need the API: there is one node per machine.
    pub node: bool,
}

impl Cluster {
    /// Start etcd, the API server and the controller manager with state in
    /// `dir`, and return once the API server's `/readyz` answers `ok`. On
    /// failure everything already started is stopped again.
    pub fn up(dir: &Path, bins: &Binaries) -> Result<Cluster, E2eError> {
        Cluster::up_with(dir, bins, Options::default())
    }

    /// [`Cluster::up`] with options.
    pub fn up_with(dir: &Path, bins: &Binaries, options: Options) -> Result<Cluster, E2eError> {
        std::fs::create_dir_all(dir).map_err(E2eError::io(dir))?;
        let dir = dir.canonicalize().map_err(E2eError::io(dir))?;
        if dir.to_str().is_none() {
            return Err(E2eError::Io {
                path: dir,
                source: std::io::Error::new(std::io::ErrorKind::InvalidInput, "path is not UTF-8"),
            });
        }
        if process::recorded(&dir)?.iter().any(process::alive) {
            return Err(E2eError::AlreadyRunning { dir });
        }
        match start(&dir, bins, options) {
            Ok(cluster) => Ok(cluster),
            Err(e) => {
                let _ = down(&dir);
                Err(e)
            }
        }
    }

    /// The administrator's kubeconfig (`DIR/kubeconfig`).
    pub fn kubeconfig(&self) -> &Path {
        &self.kubeconfig
    }

    /// The API server's URL.
    pub fn server(&self) -> &str {
        &self.server
    }

    /// Whether kube-controller-manager runs (it is skipped when its binary
    /// is not built).
    pub fn has_controller_manager(&self) -> bool {
        self.controller_manager
    }

    /// Whether a kubelet runs pods on node [`crate::node::NODE`].
    pub fn has_kubelet(&self) -> bool {
        self.kubelet
    }

    /// The cluster directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The processes `up` started, `(name, pid)`, in start order.
    pub fn processes(&self) -> Vec<(String, u32)> {
        process::recorded(&self.dir).unwrap_or_default().into_iter().map(|r| (r.name, r.pid)).collect()
    }

    /// A client with administrator rights.
    pub async fn client(&self) -> Result<kube::Client, E2eError> {
        client_for(&self.kubeconfig).await
    }

    /// Leave the cluster running when this value is dropped (the command
    /// line's `up`); `down` stops it later.
    pub fn detach(mut self) {
        self.stopped = true;
    }

    /// Stop every process of the cluster.
    pub fn down(mut self) -> Result<(), E2eError> {
        self.stopped = true;
        down(&self.dir).map(|_| ())
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if !self.stopped {
            let _ = down(&self.dir);
        }
    }
}

/// Stop what `up` started in `dir`, by recorded process id; returns the
/// names of the processes that were still running.
pub fn down(dir: &Path) -> Result<Vec<String>, E2eError> {
    node::stop(dir)?;
    let stopped = process::stop_all(dir, Duration::from_secs(10));
    node::after_stop(dir);
    stopped
}

/// A client for the cluster described by a kubeconfig file.
pub async fn client_for(kubeconfig: &Path) -> Result<kube::Client, E2eError> {
    let kc = kube::config::Kubeconfig::read_from(kubeconfig)
        .map_err(|e| E2eError::Manifest { path: kubeconfig.to_owned(), reason: e.to_string() })?;
    let config = kube::Config::from_custom_kubeconfig(kc, &kube::config::KubeConfigOptions::default())
        .await
        .map_err(|e| E2eError::Manifest { path: kubeconfig.to_owned(), reason: e.to_string() })?;
    kube::Client::try_from(config).map_err(|source| E2eError::Kube { context: "building the client".into(), source })
}

fn start(dir: &Path, bins: &Binaries, options: Options) -> Result<Cluster, E2eError> {
    let pki = certs::generate(&dir.join("pki"))?;
    let [etcd_client, etcd_peer, api, cm_port] = free_ports()?;
    let d = |p: &str| dir.join(p).display().to_string();
    let f = |p: &Path| p.display().to_string();

    let mut etcd = Command::new(bins.path("etcd"));
    etcd.args([
        "--name=spo-e2e".to_owned(),
        format!("--data-dir={}", d("etcd")),
        format!("--listen-client-urls=http://127.0.0.1:{etcd_client}"),
        format!("--advertise-client-urls=http://127.0.0.1:{etcd_client}"),
        format!("--listen-peer-urls=http://127.0.0.1:{etcd_peer}"),
        format!("--initial-advertise-peer-urls=http://127.0.0.1:{etcd_peer}"),
        format!("--initial-cluster=spo-e2e=http://127.0.0.1:{etcd_peer}"),
        // Test data: durability is not worth an fsync per write.
        "--unsafe-no-fsync".to_owned(),
        "--log-level=warn".to_owned(),
    ]);
    let etcd = process::spawn(dir, "etcd", etcd)?;
    wait_until(&etcd, "etcd /health", Duration::from_secs(30), || etcd_healthy(etcd_client))?;

    let (sa_key, sa_pub) = &pki.service_account;
    let mut apiserver = Command::new(bins.path("kube-apiserver"));
    // With a node, pods reach the API server as in any cluster: through
    // the `kubernetes` Service (10.0.0.1:443), whose endpoint is the pod
    // bridge's gateway, a host address (kube-proxy forwards the Service;
    // see `crate::incluster`). Hence every address is listened on. Without
    // a node nothing but this machine's processes calls it: loopback only,
    // and a loopback address cannot be a Service endpoint, so none is
    // published.
    let (bind, advertise, reconciler) =
        if options.node { ("0.0.0.0", node::BRIDGE_GATEWAY, "lease") } else { ("127.0.0.1", "127.0.0.1", "none") };
    apiserver.args([
        format!("--etcd-servers=http://127.0.0.1:{etcd_client}"),
        format!("--bind-address={bind}"),
        format!("--advertise-address={advertise}"),
        format!("--endpoint-reconciler-type={reconciler}"),
        format!("--secure-port={api}"),
        format!("--cert-dir={}", d("apiserver")),
        format!("--tls-cert-file={}", f(&pki.apiserver.0)),
        format!("--tls-private-key-file={}", f(&pki.apiserver.1)),
        format!("--client-ca-file={}", f(&pki.ca_crt)),
        "--service-account-issuer=https://kubernetes.default.svc".to_owned(),
        format!("--service-account-key-file={}", f(sa_pub)),
        format!("--service-account-signing-key-file={}", f(sa_key)),
        "--service-cluster-ip-range=10.0.0.0/24".to_owned(),
        "--authorization-mode=Node,RBAC".to_owned(),
        "--allow-privileged=true".to_owned(),
        "--profiling=false".to_owned(),
        // Logs and exec reach the kubelet on the node's InternalIP, as
        // the administrator.
        "--kubelet-preferred-address-types=InternalIP".to_owned(),
        format!("--kubelet-client-certificate={}", f(&pki.admin.0)),
        format!("--kubelet-client-key={}", f(&pki.admin.1)),
    ]);
    let apiserver = process::spawn(dir, "kube-apiserver", apiserver)?;

    let server = format!("https://127.0.0.1:{api}");
    let kubeconfig = dir.join("kubeconfig");
    write_kubeconfig(&kubeconfig, &server, &pki.ca_crt, Credentials::Cert(&pki.admin))?;
    let cm_kubeconfig = dir.join("controller-manager.kubeconfig");
    write_kubeconfig(&cm_kubeconfig, &server, &pki.ca_crt, Credentials::Cert(&pki.controller_manager))?;

    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(E2eError::io(dir))?;
    let client = rt.block_on(client_for(&kubeconfig))?;
    wait_until(&apiserver, "kube-apiserver /readyz", READY_TIMEOUT, || {
        rt.block_on(async {
            let req = http::Request::get("/readyz").body(Vec::new()).expect("static request");
            matches!(client.request_text(req).await, Ok(body) if body.trim() == "ok")
        })
    })?;

    if !bins.has("kube-controller-manager") {
        return Ok(Cluster {
            dir: dir.to_owned(),
            kubeconfig,
            server,
            controller_manager: false,
            kubelet: false,
            stopped: false,
        });
    }
    let mut cm = Command::new(bins.path("kube-controller-manager"));
    let cmk = f(&cm_kubeconfig);
    cm.args([
        format!("--kubeconfig={cmk}"),
        format!("--authentication-kubeconfig={cmk}"),
        format!("--authorization-kubeconfig={cmk}"),
        "--bind-address=127.0.0.1".to_owned(),
        format!("--secure-port={cm_port}"),
        format!("--cert-dir={}", d("controller-manager")),
        format!("--service-account-private-key-file={}", f(sa_key)),
        format!("--root-ca-file={}", f(&pki.ca_crt)),
        format!("--cluster-signing-cert-file={}", f(&pki.ca_crt)),
        format!("--cluster-signing-key-file={}", f(&pki.ca_key)),
        "--use-service-account-credentials=true".to_owned(),
        "--leader-elect=false".to_owned(),
    ]);
    let cm = process::spawn(dir, "kube-controller-manager", cm)?;
    // Pods cannot be created before the controller manager has made the
    // namespace's `default` service account: wait for it once here.
    let sas: kube::Api<k8s_openapi::api::core::v1::ServiceAccount> = kube::Api::namespaced(client.clone(), "default");
    wait_until(&cm, "the default service account", READY_TIMEOUT, || {
        rt.block_on(async { sas.get_opt("default").await.ok().flatten().is_some() })
    })?;

    let kubelet = if !options.node {
        false
    } else if let Some(why) = node::unavailable(bins) {
        eprintln!("spo-e2e: no node (pods will not run): {why}");
        false
    } else {
        let nodes: kube::Api<k8s_openapi::api::core::v1::Node> = kube::Api::all(client.clone());
        let mut ready =
            || rt.block_on(async { nodes.get_opt(node::NODE).await.ok().flatten().is_some_and(|n| node_ready(&n)) });
        node::start(dir, bins, &pki, &server, &mut ready)?
    };
    Ok(Cluster { dir: dir.to_owned(), kubeconfig, server, controller_manager: true, kubelet, stopped: false })
}

fn node_ready(n: &k8s_openapi::api::core::v1::Node) -> bool {
    n.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

/// Poll `ready` every 200 ms until it holds, failing early with the log
/// tail if the process exits, and with it too on timeout.
pub(crate) fn wait_until(
    rec: &process::Recorded,
    what: &str,
    timeout: Duration,
    mut ready: impl FnMut() -> bool,
) -> Result<(), E2eError> {
    let deadline = Instant::now() + timeout;
    loop {
        if ready() {
            return Ok(());
        }
        if !process::alive(rec) {
            return Err(E2eError::Exited { component: rec.name.clone(), log_tail: process::log_tail(&rec.log, 20) });
        }
        if Instant::now() >= deadline {
            return Err(E2eError::Timeout {
                what: format!("{what} (last {} log lines:\n{})", rec.name, process::log_tail(&rec.log, 20)),
                seconds: timeout.as_secs(),
            });
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// etcd's `/health` over plain HTTP on loopback.
fn etcd_healthy(port: u16) -> bool {
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    if s.write_all(b"GET /health HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").is_err() {
        return false;
    }
    let mut body = String::new();
    let _ = s.read_to_string(&mut body);
    body.contains("\"health\":\"true\"")
}

/// `N` distinct free loopback ports. They are released before the
/// components bind them, a window in which another program could take one;
/// the component then fails to start and `up` reports it.
pub(crate) fn free_ports<const N: usize>() -> Result<[u16; N], E2eError> {
    // All listeners stay open until every port is read, so none repeats.
    let mut listeners = Vec::with_capacity(N);
    let mut ports = [0u16; N];
    for port in &mut ports {
        let l = TcpListener::bind(("127.0.0.1", 0)).map_err(E2eError::io("127.0.0.1:0"))?;
        *port = l.local_addr().map_err(E2eError::io("127.0.0.1:0"))?.port();
        listeners.push(l);
    }
    Ok(ports)
}

/// How a kubeconfig's user proves who it is.
pub(crate) enum Credentials<'a> {
    /// A client certificate and its key, signed by the cluster's CA.
    Cert(&'a (PathBuf, PathBuf)),
    /// A bearer token (a service account's).
    Token(&'a str),
}

/// A kubeconfig for the API server at `server`, trusting the cluster's CA.
pub(crate) fn write_kubeconfig(path: &Path, server: &str, ca: &Path, user: Credentials<'_>) -> Result<(), E2eError> {
    let user = match user {
        Credentials::Cert((crt, key)) => serde_json::json!({"client-certificate": crt, "client-key": key}),
        Credentials::Token(token) => serde_json::json!({"token": token}),
    };
    let config = serde_json::json!({
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "spo-e2e", "cluster": {"server": server, "certificate-authority": ca}}],
        "users": [{"name": "spo-e2e", "user": user}],
        "contexts": [{"name": "spo-e2e", "context": {"cluster": "spo-e2e", "user": "spo-e2e"}}],
        "current-context": "spo-e2e",
    });
    // JSON is YAML: kubectl and kube-rs read it as a kubeconfig.
    let text = serde_json::to_string_pretty(&config).expect("JSON value serialises");
    std::fs::write(path, text + "\n").map_err(E2eError::io(path))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::certs::Pki;

    #[test]
    fn free_ports_are_distinct() {
        let ports: [u16; 4] = free_ports().expect("ports");
        for (i, a) in ports.iter().enumerate() {
            assert!(*a > 0);
            assert!(!ports[i + 1..].contains(a));
        }
    }

    #[test]
    fn kubeconfig_parses_with_kube() {
        let dir = tempfile::tempdir().expect("tempdir");
        let pki = Pki {
            ca_crt: "/x/ca.crt".into(),
            ca_key: "/x/ca.key".into(),
            apiserver: ("/x/a.crt".into(), "/x/a.key".into()),
            admin: ("/x/admin.crt".into(), "/x/admin.key".into()),
            controller_manager: ("/x/c.crt".into(), "/x/c.key".into()),
            kubelet: ("/x/k.crt".into(), "/x/k.key".into()),
            scheduler: ("/x/s.crt".into(), "/x/s.key".into()),
            kube_proxy: ("/x/p.crt".into(), "/x/p.key".into()),
            service_account: ("/x/sa.key".into(), "/x/sa.pub".into()),
        };
        let path = dir.path().join("kubeconfig");
        write_kubeconfig(&path, "https://127.0.0.1:6443", &pki.ca_crt, Credentials::Cert(&pki.admin)).expect("write");
        let kc = kube::config::Kubeconfig::read_from(&path).expect("kubeconfig parses");
        assert_eq!(kc.current_context.as_deref(), Some("spo-e2e"));
        let cluster = kc.clusters[0].cluster.as_ref().expect("cluster");
        assert_eq!(cluster.server.as_deref(), Some("https://127.0.0.1:6443"));
        let user = kc.auth_infos[0].auth_info.as_ref().expect("user");
        assert_eq!(user.client_certificate.as_deref(), Some("/x/admin.crt"));
    }
}
