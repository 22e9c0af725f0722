//! `spo-operator`: the cluster-wide side of spo-rs. It runs the profile
//! controllers (status, finalizer, active workloads) and the admission
//! webhooks in one process, talking only to the API server.
//!
//! Several replicas may run: every one serves the webhooks, with the
//! certificate of the Secret they share; the one holding the leader Lease
//! runs the controllers, applies the webhook configurations and rotates
//! the certificate. A replica that loses the Lease exits (status 1) and
//! is restarted as a follower; at SIGTERM the leader gives the Lease up
//! at once, and a replica behind the Service keeps answering admission
//! for `--shutdown-delay` while the endpoints forget it.
//!
//! The kubeconfig comes from `KUBECONFIG` or, inside a pod, from the
//! service account. Logs go to stderr (`RUST_LOG` filters them, default
//! `info`).

use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use anyhow::Context as _;
use clap::Parser;
use spo_operator::controller::{self, ControllerOptions, Metrics};
use spo_operator::leader::{self, LeaderOptions, Leadership};
use spo_operator::webhook::rotation::Policy;
use spo_operator::webhook::secret::{self, SecretRef};
use spo_operator::webhook::CertSource;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tracing::{info, warn};
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;

/// The operator's command line.
#[derive(Debug, Parser)]
#[command(name = "spo-operator", version, about = "spo-rs operator: profile controllers and admission webhooks")]
struct Args {
    /// Address the HTTPS webhook server listens on.
    #[arg(long, default_value = "0.0.0.0:9443")]
    webhook_listen: SocketAddr,
    /// Base URL the API server calls the webhooks at (`URL/validate`,
    /// `URL/mutate-pods`); without it, the `spo-webhook` service in the
    /// operator's namespace.
    #[arg(long)]
    webhook_url: Option<String>,
    /// The operator's namespace (default: `SPO_NAMESPACE`, else
    /// `security-profiles-operator`).
    #[arg(long)]
    namespace: Option<String>,
    /// Address of a plain-HTTP server for `/metrics` and `/healthz`.
    #[arg(long)]
    metrics_listen: Option<SocketAddr>,
    /// Profile reconciles running at once, per kind.
    #[arg(long, default_value_t = 16)]
    concurrency: u16,
    /// The kubelet's root directory on the nodes, for a seccomp profile's
    /// `status.path` (`KUBELET_ROOT/seccomp/operator/NAME.json`).
    #[arg(long, default_value = "/var/lib/kubelet")]
    kubelet_root: String,
    /// The Secret in the operator's namespace holding the webhook's
    /// certificate (`tls.crt`, `tls.key`, `ca.crt`), shared by the
    /// replicas.
    #[arg(long, default_value = secret::DEFAULT_NAME)]
    webhook_cert_secret: String,
    /// The Secret is provided by someone else (cert-manager): read and
    /// followed, never written or rotated here.
    #[arg(long)]
    webhook_cert_provided: bool,
    /// Validity of the certificate (and CA) the operator issues.
    #[arg(long, default_value = "90days", value_parser = humantime::parse_duration)]
    webhook_cert_validity: Duration,
    /// Rotate the issued certificate when less than this is left.
    #[arg(long, default_value = "30days", value_parser = humantime::parse_duration)]
    webhook_cert_renew_before: Duration,
    /// Length of each of a rotation's two overlaps (old and new CA both
    /// trusted: before the new certificate is served, and after).
    #[arg(long, default_value = "1m", value_parser = humantime::parse_duration)]
    webhook_cert_rotation_overlap: Duration,
    /// This replica's name in the leader Lease (default: `POD_NAME`, else
    /// `HOSTNAME_PID`).
    #[arg(long)]
    leader_election_id: Option<String>,
    /// How long the Lease holds after its last renewal (whole seconds).
    #[arg(long, default_value = "15s", value_parser = humantime::parse_duration)]
    leader_election_lease_duration: Duration,
    /// How long before expiry the leader renews (whole seconds).
    #[arg(long, default_value = "5s", value_parser = humantime::parse_duration)]
    leader_election_renew_grace: Duration,
    /// After SIGTERM, how long the webhooks keep answering (behind the
    /// Service only: its endpoints take a moment to drop this replica).
    #[arg(long, default_value = "5s", value_parser = humantime::parse_duration)]
    shutdown_delay: Duration,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    // RUST_LOG, when set, decides; else the daemon configuration's
    // verbosity does (0: info, 1 and more: debug).
    let from_env = tracing_subscriber::EnvFilter::try_from_default_env().ok();
    let fixed = from_env.is_some();
    let (filter, level) =
        tracing_subscriber::reload::Layer::new(from_env.unwrap_or_else(|| tracing_subscriber::EnvFilter::new("info")));
    tracing_subscriber::registry()
        .with(filter)
        .with(tracing_subscriber::fmt::layer().with_writer(std::io::stderr))
        .init();
    let on_verbosity = (!fixed).then(|| {
        spo_operator::controller::daemon::VerbositySink(std::sync::Arc::new(move |v: i32| {
            let wanted = if v > 0 { "debug" } else { "info" };
            let _ = level.modify(|f| *f = tracing_subscriber::EnvFilter::new(wanted));
        }))
    });

    let namespace = args
        .namespace
        .clone()
        .or_else(|| std::env::var("SPO_NAMESPACE").ok().filter(|s| !s.is_empty()))
        .unwrap_or_else(|| "security-profiles-operator".to_owned());
    let election = LeaderOptions {
        duration: args.leader_election_lease_duration,
        renew_grace: args.leader_election_renew_grace,
        ..LeaderOptions::new(
            namespace.clone(),
            args.leader_election_id.clone().unwrap_or_else(leader::default_identity),
        )
    };
    election.check()?;
    let policy = Policy {
        validity: args.webhook_cert_validity,
        renew_before: args.webhook_cert_renew_before,
        overlap: args.webhook_cert_rotation_overlap,
    };
    policy.check()?;
    let config = kube::Config::infer().await.context("reading the kubeconfig")?;
    let client = kube::Client::try_from(config.clone()).context("connecting to the API server")?;
    let election_client = leader::client(&config, &election)?;
    info!(namespace, identity = %election.identity, "spo-operator starting");

    let metrics = Arc::new(Metrics::default());
    // The controllers write only once the API server calls the webhooks.
    let (webhook_ready, writes_after) = tokio::sync::watch::channel(false);
    let (leading, leader_rx) = tokio::sync::watch::channel(false);
    let latency = Arc::new(spo_operator::webhook::Latency::default());
    let webhook = webhook_adapter::run(
        client.clone(),
        webhook_adapter::Settings {
            listen: args.webhook_listen,
            url: args.webhook_url.clone(),
            namespace: namespace.clone(),
            latency: latency.clone(),
            ready: webhook_ready,
            leader: leader_rx,
            certs: CertSource::Secret {
                secret: SecretRef {
                    namespace: namespace.clone(),
                    name: args.webhook_cert_secret.clone(),
                    provided: args.webhook_cert_provided,
                },
                policy,
            },
        },
    );
    let held: Arc<OnceLock<Arc<Leadership>>> = Arc::default();
    let lead = {
        let (held, metrics) = (held.clone(), metrics.clone());
        let options = ControllerOptions {
            concurrency: args.concurrency,
            metrics: metrics.clone(),
            writes_after: Some(writes_after),
            kubelet_seccomp_dir: Some(format!("{}/seccomp", args.kubelet_root.trim_end_matches('/'))),
            namespace: Some(namespace.clone()),
            on_verbosity,
            instance: Some(election.identity.clone()),
        };
        async move {
            let leadership = Arc::new(leader::acquire(election_client, &election).await?);
            let _ = held.set(leadership.clone());
            metrics.leader.store(1, std::sync::atomic::Ordering::Relaxed);
            info!(identity = %leadership.identity(), "became the leader");
            leading.send_replace(true);
            tokio::select! {
                r = controller::run(client, options) => {
                    r.map_err(|e| anyhow::anyhow!(controller::chain(&e))).context("profile controllers stopped")
                }
                why = leadership.lost() => {
                    anyhow::bail!("lost the leader Lease: {why}; exiting, to be restarted as a follower")
                }
            }
        }
    };
    let metrics_server = async {
        match args.metrics_listen {
            Some(addr) => serve_metrics(addr, metrics.clone(), latency.clone()).await,
            None => std::future::pending().await,
        }
    };
    // Every branch but the signal is an error when it ends.
    tokio::select! {
        r = lead => r?,
        r = webhook => r.context("webhook server stopped")?,
        r = metrics_server => r.context("metrics server stopped")?,
        r = shutdown_signal() => r?,
    }
    // The controllers have stopped with their future: the Lease can go.
    info!("stopping");
    if let Some(leadership) = held.get() {
        leadership.release().await;
    }
    if args.webhook_url.is_none() && !args.shutdown_delay.is_zero() {
        info!(
            seconds = args.shutdown_delay.as_secs_f64(),
            "answering admission while the Service forgets this replica"
        );
        tokio::time::sleep(args.shutdown_delay).await;
    }
    Ok(())
}

/// The one place the binary meets the admission webhooks: the server,
/// its certificates and both webhook configurations are the `webhook`
/// module's; it logs `webhook ready` once it serves.
mod webhook_adapter {
    use std::net::SocketAddr;
    use std::sync::Arc;

    use spo_operator::webhook::{self, CertSource, Latency, WebhookOptions};

    /// What the webhook server is given.
    #[derive(Debug)]
    pub struct Settings {
        pub listen: SocketAddr,
        pub url: Option<String>,
        pub namespace: String,
        pub latency: Arc<Latency>,
        /// Set to `true` once the API server calls the webhooks.
        pub ready: tokio::sync::watch::Sender<bool>,
        /// `true` once this replica leads.
        pub leader: tokio::sync::watch::Receiver<bool>,
        pub certs: CertSource,
    }

    pub async fn run(client: kube::Client, settings: Settings) -> anyhow::Result<()> {
        let mut opts = WebhookOptions::new(settings.listen, settings.namespace);
        opts.url = settings.url;
        opts.latency = settings.latency;
        opts.certs = settings.certs;
        opts.leader = Some(settings.leader);
        let (tx, rx) = tokio::sync::oneshot::channel();
        opts.ready = Some(tx);
        let ready = settings.ready;
        tokio::spawn(async move {
            if rx.await.is_ok() {
                ready.send_replace(true);
            }
        });
        webhook::run(client, opts).await.map_err(|e| anyhow::anyhow!(spo_operator::controller::chain(&e)))
    }
}

/// `/metrics` and `/healthz` over plain HTTP/1.0: enough for a scraper
/// and a probe, without an HTTP framework.
async fn serve_metrics(
    addr: SocketAddr,
    metrics: Arc<Metrics>,
    latency: Arc<spo_operator::webhook::Latency>,
) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(addr).await.with_context(|| format!("listening on {addr}"))?;
    info!(%addr, "metrics server listening");
    loop {
        let (mut conn, _) = listener.accept().await.context("accepting a metrics connection")?;
        let metrics = metrics.clone();
        let latency = latency.clone();
        tokio::spawn(async move {
            let mut buf = [0u8; 1024];
            let n = match conn.read(&mut buf).await {
                Ok(n) => n,
                Err(_) => return,
            };
            let request = String::from_utf8_lossy(&buf[..n]);
            let path = request.split_whitespace().nth(1).unwrap_or("/");
            let (status, body) = match path {
                "/metrics" => ("200 OK", metrics.render() + &latency.render()),
                "/healthz" => ("200 OK", "ok\n".to_owned()),
                _ => ("404 Not Found", "not found\n".to_owned()),
            };
            let response = format!(
                "HTTP/1.0 {status}\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            );
            if let Err(e) = conn.write_all(response.as_bytes()).await {
                warn!("metrics response: {e}");
            }
        });
    }
}

/// SIGTERM (what the kubelet sends) or Ctrl-C.
async fn shutdown_signal() -> anyhow::Result<()> {
    let mut term =
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).context("SIGTERM handler")?;
    tokio::select! {
        _ = term.recv() => {}
        r = tokio::signal::ctrl_c() => r.context("Ctrl-C handler")?,
    }
    Ok(())
}
