//! The crate's one error type.

/// What can go wrong in spo-operator.
#[derive(Debug, thiserror::Error)]
pub enum OperatorError {
    /// A request to the API server failed.
    #[error("{action}")]
    Kube {
        /// What the operator was doing (`patching the status of SeccompProfile ns/name`).
        action: String,
        /// The client's error.
        #[source]
        source: kube::Error,
    },
    /// A watch the controllers need ended before its first full list.
    #[error("the {what} watch stopped before its first full list")]
    CacheNeverReady {
        /// Which watch.
        what: &'static str,
    },
    /// A certificate for the webhook server cannot be made.
    #[error("cannot make the webhook {what}")]
    Certificate {
        /// Which part.
        what: &'static str,
        /// The generator's error.
        #[source]
        source: rcgen::Error,
    },
    /// A certificate, key or CA bundle read from somewhere is unusable.
    #[error("{whence}: {reason}")]
    BadCertificate {
        /// Where it was read (`Secret security-profiles-operator/spo-webhook-cert`).
        whence: String,
        /// What is wrong, and what to do.
        reason: String,
    },
    /// The Secret that holds the webhook's certificate cannot be used.
    #[error("Secret {namespace}/{name}: {reason}")]
    CertSecret {
        /// Its namespace.
        namespace: String,
        /// Its name.
        name: String,
        /// Why, and the fix.
        reason: String,
    },
    /// Leader election cannot run with these settings, or failed.
    #[error("leader election: {reason}")]
    Leader {
        /// Why.
        reason: String,
    },
    /// The webhook's TLS configuration was refused.
    #[error("webhook TLS configuration: {reason}")]
    Tls {
        /// Why.
        reason: String,
    },
    /// The webhook server cannot listen.
    #[error("cannot listen on {addr}")]
    Listen {
        /// The address.
        addr: std::net::SocketAddr,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// `--webhook-url` is unusable.
    #[error("webhook URL {url}: {reason}")]
    WebhookUrl {
        /// The URL given.
        url: String,
        /// Why.
        reason: String,
    },
    /// The webhook server stopped.
    #[error("the webhook server stopped: {reason}")]
    WebhookStopped {
        /// Why.
        reason: String,
    },
}
