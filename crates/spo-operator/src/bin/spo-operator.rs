//! `spo-operator`: the cluster-wide side of spo-rs. It runs the profile
//! controllers (status, finalizer, active workloads) and the admission
//! webhooks in one process, talking only to the API server.
//!
//! The kubeconfig comes from `KUBECONFIG` or, inside a pod, from the
//! service account. Logs go to stderr (`RUST_LOG` filters them, default
//! `info`).

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context as _;
use clap::Parser;
use spo_operator::controller::{self, ControllerOptions, Metrics};
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
    let client = kube::Client::try_default().await.context("connecting to the API server")?;
    info!(namespace, "spo-operator starting");

    let metrics = Arc::new(Metrics::default());
    // The controllers write only once the API server calls the webhooks.
    let (webhook_ready, writes_after) = tokio::sync::watch::channel(false);
    let controllers = controller::run(
        client.clone(),
        ControllerOptions {
            concurrency: args.concurrency,
            metrics: metrics.clone(),
            writes_after: Some(writes_after),
            kubelet_seccomp_dir: Some(format!("{}/seccomp", args.kubelet_root.trim_end_matches('/'))),
            namespace: Some(namespace.clone()),
            on_verbosity,
        },
    );
    let latency = Arc::new(spo_operator::webhook::Latency::default());
    let webhook = webhook_adapter::run(
        client.clone(),
        webhook_adapter::Settings {
            listen: args.webhook_listen,
            url: args.webhook_url.clone(),
            namespace,
            latency: latency.clone(),
            ready: webhook_ready,
        },
    );
    let metrics_server = async {
        match args.metrics_listen {
            Some(addr) => serve_metrics(addr, metrics.clone(), latency.clone()).await,
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        r = controllers => r.map_err(|e| anyhow::anyhow!(controller::chain(&e))).context("profile controllers stopped")?,
        r = webhook => r.context("webhook server stopped")?,
        r = metrics_server => r.context("metrics server stopped")?,
        r = shutdown_signal() => {
            r?;
            info!("stopping");
        }
    }
    Ok(())
}

/// The one place the binary meets the admission webhooks: the server,
/// its certificates and both webhook configurations are the `webhook`
/// module's; it logs `webhook ready` once it serves.
mod webhook_adapter {
    use std::net::SocketAddr;
    use std::sync::Arc;

    use spo_operator::webhook::{self, Latency, WebhookOptions};

    /// What the webhook server is given.
    #[derive(Debug, Clone)]
    pub struct Settings {
        pub listen: SocketAddr,
        pub url: Option<String>,
        pub namespace: String,
        pub latency: Arc<Latency>,
        /// Set to `true` once the API server calls the webhooks.
        pub ready: tokio::sync::watch::Sender<bool>,
    }

    pub async fn run(client: kube::Client, settings: Settings) -> anyhow::Result<()> {
        let mut opts = WebhookOptions::new(settings.listen, settings.namespace);
        opts.url = settings.url;
        opts.latency = settings.latency;
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
