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
//! loads the serving certificate (from the Secret the replicas share,
//! [`secret`], issuing it if it is empty; or made in memory, [`tls`]),
//! listens, and only then, on the leader, applies the webhook
//! configurations with the Secret's CA bundle ([`config`]), so the API
//! server never calls a webhook that is not serving. Every replica serves;
//! the leader alone writes the configurations and rotates the certificate
//! ([`rotation`]), and every replica serves a rotated certificate from
//! its next handshake.

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
pub mod rotation;
pub mod secret;
pub mod selector;
mod server;
pub mod tls;
pub mod validate;

#[cfg(test)]
mod tests;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::jiff::Timestamp;
use kube::api::Api;
use kube::Client;
use tokio::net::TcpListener;
use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;

pub use cache::Caches;
pub use config::{Target, BINDING_CONFIG, VALIDATION_CONFIG};
pub use latency::Latency;
pub use review::{Admission, Endpoint};

use crate::OperatorError;
use secret::{SecretRef, Stored};

/// Where the serving certificate comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CertSource {
    /// Issued in memory at start, for this process alone (a single
    /// replica run as a library, tests): nothing to share, valid a year.
    Ephemeral,
    /// The Secret the replicas share ([`secret`]), rotated by the leader
    /// with `policy` unless someone else provides it.
    Secret {
        /// The Secret.
        secret: SecretRef,
        /// Validity and rotation of what the operator issues.
        policy: rotation::Policy,
    },
}

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
    /// The serving certificate's source.
    pub certs: CertSource,
    /// Turns `true` when this replica leads: only then are the
    /// configurations applied and the certificate rotated. `None`: this
    /// process is the only one and leads from the start.
    pub leader: Option<watch::Receiver<bool>>,
    /// Told the bound address once the server is serving, the
    /// configurations are applied and the API server calls them (on the
    /// leader).
    pub ready: Option<oneshot::Sender<SocketAddr>>,
    /// Where request durations are counted.
    pub latency: Arc<Latency>,
}

impl WebhookOptions {
    /// Options for the `spo-webhook` service on port 443 in `namespace`,
    /// with an in-memory certificate, leading from the start.
    pub fn new(listen: SocketAddr, namespace: impl Into<String>) -> WebhookOptions {
        WebhookOptions {
            listen,
            url: None,
            namespace: namespace.into(),
            service_name: "spo-webhook".to_owned(),
            service_port: 443,
            certs: CertSource::Ephemeral,
            leader: None,
            ready: None,
            latency: Arc::default(),
        }
    }
}

/// Validity of an in-memory certificate.
const EPHEMERAL_VALIDITY: Duration = Duration::from_secs(365 * 86_400);

/// Tasks aborted when dropped: what only the leader runs stops with it.
struct Tasks(Vec<JoinHandle<()>>);

impl Drop for Tasks {
    fn drop(&mut self) {
        for t in &self.0 {
            t.abort();
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

/// Run the webhook server until it fails: fill the caches, load the
/// certificate, serve (logging `admission webhook serving`), and once
/// this replica leads apply the configurations, wait until the API
/// server calls them ([`probe`]), then report readiness (a log line
/// containing `webhook ready`, and `opts.ready`) and keep the
/// configurations and the certificate up to date.
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

    let certs = certificates(&client, &opts.certs, &names).await?;
    let resolver = tls::Resolver::new(certs.borrow().serving.key.clone());
    tokio::spawn(reload(certs.clone(), resolver.clone()));
    let listener =
        TcpListener::bind(opts.listen).await.map_err(|source| OperatorError::Listen { addr: opts.listen, source })?;
    let addr = listener.local_addr().map_err(|source| OperatorError::Listen { addr: opts.listen, source })?;
    let mut server =
        tokio::spawn(server::serve(listener, tls::server_config(resolver)?, admission.clone(), opts.latency.clone()));
    tracing::info!(%addr, not_after = %certs.borrow().serving.not_after, "admission webhook serving");

    if let Some(mut leader) = opts.leader.clone() {
        tokio::select! {
            r = leader.wait_for(|l| *l) => if r.is_err() {
                return Err(OperatorError::WebhookStopped { reason: "leader election ended".to_owned() });
            },
            r = &mut server => return Err(stopped(r)),
        }
    }

    let options = admission.caches().daemon().webhook.options;
    let ca = certs.borrow().contents.ca_bundle.clone();
    apply_all(&client, &target, &ca, &opts.namespace, &options).await?;
    let (published_tx, published) = watch::channel(ca.clone());
    let mut leading = vec![tokio::spawn(follow_configuration(
        client.clone(),
        admission.clone(),
        target.clone(),
        opts.namespace.clone(),
        certs.clone(),
        published_tx,
        (options, ca),
    ))];
    if let CertSource::Secret { secret, policy } = &opts.certs {
        if !secret.provided {
            let api: Api<Secret> = Api::namespaced(client.clone(), &secret.namespace);
            let rotate = rotation::run(api, secret.clone(), names.clone(), *policy, certs.clone(), published);
            leading.push(tokio::spawn(async move {
                if let Err(e) = rotate.await {
                    tracing::error!("webhook certificate rotation stopped: {}", crate::controller::chain(&e));
                }
            }));
        }
    }
    let _leading = Tasks(leading);

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
    Err(stopped((&mut server).await))
}

fn stopped(r: Result<(), tokio::task::JoinError>) -> OperatorError {
    match r {
        Ok(()) => OperatorError::WebhookStopped { reason: "the server loop ended".to_owned() },
        Err(e) => OperatorError::WebhookStopped { reason: e.to_string() },
    }
}

/// The certificate to serve, and its later versions.
async fn certificates(
    client: &Client,
    source: &CertSource,
    names: &[String],
) -> Result<watch::Receiver<Arc<Stored>>, OperatorError> {
    match source {
        CertSource::Ephemeral => {
            let issued = tls::issue(names, EPHEMERAL_VALIDITY, Timestamp::now())?;
            // No later versions: the sender goes at once.
            Ok(watch::channel(Arc::new(Stored::ephemeral(&issued)?)).1)
        }
        CertSource::Secret { secret, policy } => {
            policy.check()?;
            let api: Api<Secret> = Api::namespaced(client.clone(), &secret.namespace);
            let stored = secret::load(&api, secret, names, policy.validity).await?;
            tracing::info!(
                secret = %format!("{}/{}", secret.namespace, secret.name),
                provided = secret.provided,
                not_after = %stored.serving.not_after,
                "webhook certificate loaded"
            );
            let (tx, rx) = watch::channel(Arc::new(stored));
            tokio::spawn(secret::follow(api, secret.clone(), tx));
            Ok(rx)
        }
    }
}

/// Serve every new certificate from the next handshake on.
async fn reload(mut certs: watch::Receiver<Arc<Stored>>, resolver: Arc<tls::Resolver>) {
    while certs.changed().await.is_ok() {
        let stored = certs.borrow_and_update().clone();
        if stored.serving.key.cert != resolver.current().cert {
            resolver.set(stored.serving.key.clone());
            tracing::info!(not_after = %stored.serving.not_after, "serving the new webhook certificate");
        }
    }
}

/// Point both webhook configurations and the CRDs' conversion at this
/// server with `ca_pem`.
async fn apply_all(
    client: &Client,
    target: &Target,
    ca_pem: &str,
    namespace: &str,
    options: &[spo_api::crds::WebhookOption],
) -> Result<(), OperatorError> {
    config::apply(client, target, ca_pem, namespace, options).await?;
    convert::point_crds_here(client, target, ca_pem).await
}

/// Apply the webhook configurations again, within a second, whenever the
/// daemon configuration's `webhook.options` change (SPO's
/// `binding.spo.io` and `recording.spo.io` failure policies and
/// selectors) or the Secret's CA bundle does; `published` is told each
/// bundle once the API server has it.
async fn follow_configuration(
    client: Client,
    admission: Arc<Admission>,
    target: Target,
    namespace: String,
    certs: watch::Receiver<Arc<Stored>>,
    published: watch::Sender<String>,
    mut applied: (Vec<spo_api::crds::WebhookOption>, String),
) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        tick.tick().await;
        let now = (admission.caches().daemon().webhook.options, certs.borrow().contents.ca_bundle.clone());
        if now == applied {
            continue;
        }
        match apply_all(&client, &target, &now.1, &namespace, &now.0).await {
            Ok(()) => {
                if now.0 != applied.0 {
                    tracing::info!(options = now.0.len(), "webhook options of the daemon configuration applied");
                }
                if now.1 != applied.1 {
                    tracing::info!(
                        cas = now.1.matches("BEGIN CERTIFICATE").count(),
                        "webhook CA bundle applied to the configurations and CRDs"
                    );
                }
                published.send_replace(now.1.clone());
                applied = now;
            }
            Err(e) => tracing::warn!("applying the webhook configurations: {}", crate::controller::chain(&e)),
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
