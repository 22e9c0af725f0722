//! The admission side of the operator: one HTTPS server with two paths.
//!
//! - `/validate` checks every profile with the code behind
//!   `spoc validate` and refuses an invalid one with the same located
//!   message ([`validate`]), checks bindings, and enforces the namespace
//!   policy of `spec.allowedNamespaces` on pods in every namespace
//!   ([`policy`]).
//! - `/mutate-pods` applies `ProfileBinding`s to new pods in labelled
//!   namespaces ([`mutate`]).
//!
//! Requests are answered from in-memory caches kept by watches ([`cache`]),
//! never by calling the API server. At start, [`run`] fills the caches,
//! makes a CA and a serving certificate ([`tls`]), listens, and only then
//! applies the webhook configurations with that CA ([`config`]), so the
//! API server never calls a webhook that is not serving.

pub mod cache;
pub mod config;
pub mod convert;
pub mod glob;
pub mod latency;
pub mod mutate;
pub mod policy;
pub mod probe;
pub mod record;
pub mod review;
pub mod selector;
mod server;
pub mod tls;
pub mod validate;

#[cfg(test)]
mod tests;

use std::net::SocketAddr;
use std::sync::Arc;

use kube::Client;
use tokio::net::TcpListener;
use tokio::sync::oneshot;

pub use cache::Caches;
pub use config::{Target, BINDING_CONFIG, VALIDATION_CONFIG};
pub use latency::Latency;
pub use review::{Admission, Endpoint};

use crate::OperatorError;

/// How the webhook server is run.
#[derive(Debug)]
pub struct WebhookOptions {
    /// Address to listen on (`0.0.0.0:9443`; port 0 picks a free port,
    /// reported through `ready`).
    pub listen: SocketAddr,
    /// Base URL the API server calls (`https://127.0.0.1:9443`), for an
    /// operator running outside the cluster; its host joins the
    /// certificate's names. Without it, the configurations name the
    /// service.
    pub url: Option<String>,
    /// The operator's namespace: the service's, and the one the namespace
    /// policy leaves out (see [`config`]).
    pub namespace: String,
    /// The service in front of the server (`spo-webhook`).
    pub service_name: String,
    /// The service's port.
    pub service_port: i32,
    /// Told the bound address once the server is serving, the
    /// configurations are applied and the API server calls them.
    pub ready: Option<oneshot::Sender<SocketAddr>>,
    /// Where request durations are counted.
    pub latency: Arc<Latency>,
}

impl WebhookOptions {
    /// Options for the `spo-webhook` service on port 443 in `namespace`.
    pub fn new(listen: SocketAddr, namespace: impl Into<String>) -> WebhookOptions {
        WebhookOptions {
            listen,
            url: None,
            namespace: namespace.into(),
            service_name: "spo-webhook".to_owned(),
            service_port: 443,
            ready: None,
            latency: Arc::default(),
        }
    }
}

/// The host of a webhook URL, as a certificate name.
fn url_host(url: &str) -> Result<String, OperatorError> {
    let bad = |reason: &str| OperatorError::WebhookUrl { url: url.to_owned(), reason: reason.to_owned() };
    let uri: hyper::Uri = url.parse().map_err(|_| bad("not a URL"))?;
    if uri.scheme_str() != Some("https") {
        return Err(bad("the API server calls webhooks over https only"));
    }
    let host = uri.host().ok_or_else(|| bad("no host"))?;
    Ok(host.trim_start_matches('[').trim_end_matches(']').to_owned())
}

/// Run the webhook server until it fails: fill the caches, make the
/// certificates, serve, apply the configurations, wait until the API
/// server calls them ([`probe`]), then report readiness (a log line
/// containing `webhook ready`, and `opts.ready`).
pub async fn run(client: Client, opts: WebhookOptions) -> Result<(), OperatorError> {
    let mut names = tls::service_names(&opts.service_name, &opts.namespace);
    let target = match &opts.url {
        Some(url) => {
            names.push(url_host(url)?);
            Target::Url(url.clone())
        }
        None => Target::Service {
            namespace: opts.namespace.clone(),
            name: opts.service_name.clone(),
            port: opts.service_port,
        },
    };
    let mut caches = Caches::start(&client).await?;
    caches.shared_namespace = Some(opts.namespace.clone());
    let admission = Arc::new(Admission::new(caches));
    admission.warm_up();
    let cert = tls::generate(&names)?;
    let listener =
        TcpListener::bind(opts.listen).await.map_err(|source| OperatorError::Listen { addr: opts.listen, source })?;
    let addr = listener.local_addr().map_err(|source| OperatorError::Listen { addr: opts.listen, source })?;
    let mut server =
        tokio::spawn(server::serve(listener, cert.server_config()?, admission.clone(), opts.latency.clone()));
    let options = admission.caches().daemon().webhook.options;
    config::apply(&client, &target, &cert.ca_pem, &opts.namespace, &options).await?;
    convert::point_crds_here(&client, &target, &cert.ca_pem).await?;
    tokio::spawn(follow_daemon_options(
        client.clone(),
        admission.clone(),
        target.clone(),
        cert.ca_pem.clone(),
        opts.namespace.clone(),
        options,
    ));
    match probe::until_reached(&client, &opts.namespace).await {
        probe::Reached::Yes { tries } => tracing::info!(tries, "the API server calls the webhooks"),
        probe::Reached::Unknown { reason } => {
            tracing::warn!("cannot confirm that the API server calls the webhooks: {reason}")
        }
        probe::Reached::No { reason } => tracing::warn!(
            "the API server still fails to call the webhooks after {} s, going on: {reason}",
            probe::PROBE_DEADLINE.as_secs()
        ),
    }
    tracing::info!(%addr, "admission webhook ready");
    if let Some(tx) = opts.ready {
        let _ = tx.send(addr);
    }
    match (&mut server).await {
        Ok(()) => Err(OperatorError::WebhookStopped { reason: "the server loop ended".to_owned() }),
        Err(e) => Err(OperatorError::WebhookStopped { reason: e.to_string() }),
    }
}

/// Apply the webhook configurations again whenever the daemon
/// configuration's `webhook.options` change (SPO's `binding.spo.io` and
/// `recording.spo.io` failure policies and selectors), within a second.
async fn follow_daemon_options(
    client: Client,
    admission: Arc<Admission>,
    target: Target,
    ca_pem: String,
    namespace: String,
    mut applied: Vec<spo_api::crds::WebhookOption>,
) {
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(1));
    loop {
        tick.tick().await;
        let now = admission.caches().daemon().webhook.options;
        if now == applied {
            continue;
        }
        match config::apply(&client, &target, &ca_pem, &namespace, &now).await {
            Ok(()) => {
                tracing::info!(options = now.len(), "webhook options of the daemon configuration applied");
                applied = now;
            }
            Err(e) => {
                tracing::warn!("applying the daemon configuration's webhook options: {}", crate::controller::chain(&e))
            }
        }
    }
}

#[cfg(test)]
mod url_tests {
    use super::*;

    #[test]
    fn url_hosts_become_certificate_names() {
        assert_eq!(url_host("https://127.0.0.1:9443").unwrap(), "127.0.0.1");
        assert_eq!(url_host("https://[::1]:9443/x").unwrap(), "::1");
        assert_eq!(url_host("https://webhook.example").unwrap(), "webhook.example");
        assert!(url_host("http://127.0.0.1:9443").unwrap_err().to_string().contains("https only"));
    }
}
