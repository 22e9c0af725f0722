//! The Secret every replica serves the webhook's certificate from.
//!
//! Replicas behind one Service must present certificates the API server
//! trusts through one `caBundle`, so the certificate lives in the API
//! server, not in a process: a Secret (`spo-webhook-cert` in the
//! operator's namespace) with cert-manager's layout, `tls.crt`, `tls.key`
//! and `ca.crt` (the bundle published as `caBundle`).
//!
//! - **Issued by the operator** (the default): the first replica to start
//!   creates it (`deploy/` does not ship it: applying the manifests again
//!   would empty it), or fills it by an update guarded by the resource
//!   version when it exists without a certificate: of replicas starting
//!   together exactly one wins, the others read the winner's. The leader
//!   rotates it before it expires ([`super::rotation`]), using the extra
//!   keys `next.crt`/`next.key` and two annotations for the rotation's
//!   phase, so a new leader can take a rotation over half-way.
//! - **Provided** (`--webhook-cert-provided`, e.g. cert-manager's
//!   `Certificate` writing the same Secret): read and followed, never
//!   written; whoever provides it renews it.
//!
//! Every replica watches the Secret ([`follow`]) and serves a changed
//! certificate from the next TLS handshake, without a restart.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::jiff::Timestamp;
use k8s_openapi::ByteString;
use kube::api::{Api, ObjectMeta, PostParams};
use kube::runtime::watcher::{self, Event};
use kube::runtime::WatchStreamExt;
use tokio::sync::watch;

use super::tls::{self, Serving};
use crate::OperatorError;

/// The Secret's default name.
pub const DEFAULT_NAME: &str = "spo-webhook-cert";
/// The CA bundle the webhook configurations publish.
pub const CA: &str = "ca.crt";
/// The serving certificate chain.
pub const CERT: &str = "tls.crt";
/// Its key.
pub const KEY: &str = "tls.key";
/// The next serving certificate, during a rotation.
pub const NEXT_CERT: &str = "next.crt";
/// Its key.
pub const NEXT_KEY: &str = "next.key";
/// When the next certificate's CA joined the bundle (RFC 3339).
pub const STAGED_AT: &str = "spo.x-k8s.io/cert-staged-at";
/// When the next certificate became the served one (RFC 3339).
pub const PROMOTED_AT: &str = "spo.x-k8s.io/cert-promoted-at";

/// Where the Secret is and who writes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretRef {
    /// Its namespace (the operator's).
    pub namespace: String,
    /// Its name.
    pub name: String,
    /// Written by someone else (cert-manager): never written here.
    pub provided: bool,
}

impl SecretRef {
    fn whence(&self) -> String {
        format!("Secret {}/{}", self.namespace, self.name)
    }

    fn error(&self, reason: impl Into<String>) -> OperatorError {
        OperatorError::CertSecret { namespace: self.namespace.clone(), name: self.name.clone(), reason: reason.into() }
    }
}

/// What the Secret holds, checked.
#[derive(Debug, Clone)]
pub struct Stored {
    /// The version read (guards the next write).
    pub resource_version: Option<String>,
    /// What it holds.
    pub contents: Contents,
    /// The served pair (`contents`' `tls.crt` and `tls.key`), parsed.
    pub serving: Serving,
}

impl Stored {
    /// A certificate held in memory only (no Secret): tests and a single
    /// replica run as a library.
    pub fn ephemeral(issued: &tls::Issued) -> Result<Stored, OperatorError> {
        Ok(Stored {
            resource_version: None,
            contents: Contents::first(issued),
            serving: tls::serving(&issued.cert_pem, &issued.key_pem, "the issued certificate")?,
        })
    }
}

fn text(data: &BTreeMap<String, ByteString>, key: &str) -> Option<String> {
    data.get(key).map(|b| String::from_utf8_lossy(&b.0).into_owned()).filter(|s| !s.trim().is_empty())
}

fn time_annotation(secret: &Secret, key: &str) -> Option<Timestamp> {
    secret.metadata.annotations.as_ref()?.get(key)?.parse().ok()
}

/// Read the Secret: `Ok(None)` when it holds no certificate yet (the
/// Secret made empty by hand), an error naming the key when it holds a broken
/// one.
pub fn parse(secret: &Secret, at: &SecretRef) -> Result<Option<Stored>, OperatorError> {
    let empty = BTreeMap::new();
    let data = secret.data.as_ref().unwrap_or(&empty);
    let (cert_pem, key_pem) = match (text(data, CERT), text(data, KEY)) {
        (None, None) => return Ok(None),
        (Some(c), Some(k)) => (c, k),
        (Some(_), None) => return Err(at.error(format!("{CERT} is set but {KEY} is missing"))),
        (None, Some(_)) => return Err(at.error(format!("{KEY} is set but {CERT} is missing"))),
    };
    let ca_bundle = text(data, CA).ok_or_else(|| {
        at.error(format!(
            "no {CA}: the API server needs the CA to trust the webhook (with cert-manager, use an issuer \
             that writes {CA}: a CA or self-signed issuer)"
        ))
    })?;
    let whence = at.whence();
    tls::bundle(&ca_bundle, &format!("{whence} {CA}"))?;
    let serving = tls::serving(&cert_pem, &key_pem, &format!("{whence} {CERT}/{KEY}"))?;
    let next = match (text(data, NEXT_CERT), text(data, NEXT_KEY)) {
        (Some(c), Some(k)) => {
            tls::serving(&c, &k, &format!("{whence} {NEXT_CERT}/{NEXT_KEY}"))?;
            Some((c, k))
        }
        _ => None,
    };
    Ok(Some(Stored {
        resource_version: secret.metadata.resource_version.clone(),
        contents: Contents {
            ca_bundle,
            cert_pem,
            key_pem,
            next,
            staged_at: time_annotation(secret, STAGED_AT),
            promoted_at: time_annotation(secret, PROMOTED_AT),
        },
        serving,
    }))
}

/// What a write of ours puts in the Secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Contents {
    /// `ca.crt`.
    pub ca_bundle: String,
    /// `tls.crt`.
    pub cert_pem: String,
    /// `tls.key`.
    pub key_pem: String,
    /// `next.crt` and `next.key`.
    pub next: Option<(String, String)>,
    /// [`STAGED_AT`].
    pub staged_at: Option<Timestamp>,
    /// [`PROMOTED_AT`].
    pub promoted_at: Option<Timestamp>,
}

impl Contents {
    /// The first contents: one CA, its certificate, no rotation.
    pub fn first(issued: &tls::Issued) -> Contents {
        Contents {
            ca_bundle: issued.ca_pem.clone(),
            cert_pem: issued.cert_pem.clone(),
            key_pem: issued.key_pem.clone(),
            next: None,
            staged_at: None,
            promoted_at: None,
        }
    }

    /// The Secret holding these contents, named by `at`, guarded by
    /// `resource_version` (a create when `None`).
    pub fn to_secret(&self, at: &SecretRef, resource_version: Option<String>) -> Secret {
        let mut data = BTreeMap::new();
        let mut put = |k: &str, v: &str| {
            data.insert(k.to_owned(), ByteString(v.as_bytes().to_vec()));
        };
        put(CA, &self.ca_bundle);
        put(CERT, &self.cert_pem);
        put(KEY, &self.key_pem);
        if let Some((c, k)) = &self.next {
            put(NEXT_CERT, c);
            put(NEXT_KEY, k);
        }
        let mut annotations = BTreeMap::new();
        for (key, t) in [(STAGED_AT, self.staged_at), (PROMOTED_AT, self.promoted_at)] {
            if let Some(t) = t {
                annotations.insert(key.to_owned(), t.to_string());
            }
        }
        Secret {
            metadata: ObjectMeta {
                name: Some(at.name.clone()),
                namespace: Some(at.namespace.clone()),
                resource_version,
                labels: Some(
                    [
                        ("app.kubernetes.io/part-of".to_owned(), "spo-rs".to_owned()),
                        ("app.kubernetes.io/managed-by".to_owned(), "spo-operator".to_owned()),
                    ]
                    .into(),
                ),
                annotations: Some(annotations),
                ..ObjectMeta::default()
            },
            type_: Some("kubernetes.io/tls".to_owned()),
            data: Some(data),
            ..Secret::default()
        }
    }
}

/// The outcome of one guarded write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Written {
    /// It is in.
    Yes,
    /// Someone wrote first: read again.
    Conflict,
}

/// Replace the Secret with `contents`, guarded by `resource_version`
/// (create it when `None`).
pub async fn write(
    api: &Api<Secret>,
    at: &SecretRef,
    contents: &Contents,
    resource_version: Option<String>,
) -> Result<Written, OperatorError> {
    let create = resource_version.is_none();
    let secret = contents.to_secret(at, resource_version);
    let result = if create {
        api.create(&PostParams::default(), &secret).await
    } else {
        api.replace(&at.name, &PostParams::default(), &secret).await
    };
    match result {
        Ok(_) => Ok(Written::Yes),
        Err(kube::Error::Api(s)) if s.code == 409 => Ok(Written::Conflict),
        Err(kube::Error::Api(s)) if s.code == 403 => Err(at.error(format!(
            "{} is forbidden ({}): apply deploy/webhook.yaml, whose Role lets the operator create and \
             update it",
            if create { "creating it" } else { "updating it" },
            s.message
        ))),
        Err(source) => Err(OperatorError::Kube { action: format!("writing {}", at.whence()), source }),
    }
}

/// The certificate to serve at start.
///
/// Issued by the operator: the Secret's when it holds a valid one; else
/// one issued here for `names`, valid for `validity`, and written (create
/// if absent, fill if empty, replace if unreadable) unless another replica
/// wrote first, whose certificate is then used. Provided: waits until the
/// Secret holds a valid certificate, saying once per reason why not.
pub async fn load(
    api: &Api<Secret>,
    at: &SecretRef,
    names: &[String],
    validity: Duration,
) -> Result<Stored, OperatorError> {
    let mut last_reason = String::new();
    loop {
        let current = api
            .get_opt(&at.name)
            .await
            .map_err(|source| OperatorError::Kube { action: format!("reading {}", at.whence()), source })?;
        let parsed = current.as_ref().map(|s| parse(s, at));
        let reason = match (&parsed, at.provided) {
            (Some(Ok(Some(stored))), _) => return Ok(stored.clone()),
            (None, true) => "it does not exist yet".to_owned(),
            (Some(Ok(None)), true) => "it holds no certificate yet".to_owned(),
            (Some(Err(e)), true) => e.to_string(),
            (None | Some(Ok(None)) | Some(Err(_)), false) => {
                if let Some(Err(e)) = &parsed {
                    tracing::warn!("{e}; issuing a new certificate in its place");
                }
                let issued = tls::issue(names, validity, Timestamp::now())?;
                let version = current.as_ref().and_then(|s| s.metadata.resource_version.clone());
                match write(api, at, &Contents::first(&issued), version).await? {
                    Written::Yes => tracing::info!("issued the webhook certificate into {}", at.whence()),
                    Written::Conflict => tracing::info!("another replica wrote {} first; using its", at.whence()),
                }
                continue;
            }
        };
        if reason != last_reason {
            tracing::warn!("waiting for the provided {}: {reason}", at.whence());
            last_reason = reason;
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
}

/// Follow the Secret: every valid new version is sent to `tx` (an
/// invalid one is logged and skipped: the previous keeps being served).
/// Runs until `tx` has no receiver left.
pub async fn follow(api: Api<Secret>, at: SecretRef, tx: watch::Sender<Arc<Stored>>) {
    let config = watcher::Config::default().fields(&format!("metadata.name={}", at.name));
    let mut events = watcher::watcher(api, config).default_backoff().boxed();
    while let Some(event) = events.next().await {
        let secret = match event {
            Ok(Event::Apply(s) | Event::InitApply(s)) => s,
            Ok(Event::Delete(_)) => {
                tracing::warn!("{} was deleted; serving the certificate already loaded", at.whence());
                continue;
            }
            Ok(Event::Init | Event::InitDone) => continue,
            Err(e) => {
                tracing::warn!("watching {}: {}", at.whence(), crate::controller::chain(&e));
                continue;
            }
        };
        if secret.metadata.resource_version == tx.borrow().resource_version {
            continue;
        }
        match parse(&secret, &at) {
            Ok(Some(stored)) => {
                let _ = tx.send(Arc::new(stored));
            }
            Ok(None) => tracing::warn!("{} lost its certificate; serving the one already loaded", at.whence()),
            Err(e) => tracing::warn!("{e}; serving the certificate already loaded"),
        }
        if tx.is_closed() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at() -> SecretRef {
        SecretRef { namespace: "spo".into(), name: DEFAULT_NAME.into(), provided: false }
    }

    #[test]
    fn written_contents_read_back() {
        let issued = tls::issue(&["spo-webhook.spo.svc".to_owned()], Duration::from_secs(3600), Timestamp::now())
            .expect("issue");
        let next = tls::issue(&["spo-webhook.spo.svc".to_owned()], Duration::from_secs(3600), Timestamp::now())
            .expect("issue");
        let staged = Timestamp::from_second(1_800_000_000).expect("time");
        let contents = Contents {
            next: Some((next.cert_pem.clone(), next.key_pem.clone())),
            staged_at: Some(staged),
            ..Contents::first(&issued)
        };
        let mut secret = contents.to_secret(&at(), Some("7".into()));
        assert_eq!(secret.type_.as_deref(), Some("kubernetes.io/tls"));
        let stored = parse(&secret, &at()).expect("valid").expect("not empty");
        assert_eq!(stored.contents.ca_bundle, issued.ca_pem);
        assert_eq!(stored.resource_version.as_deref(), Some("7"));
        assert_eq!(stored.contents.next, Some((next.cert_pem, next.key_pem)));
        assert_eq!(stored.contents.staged_at, Some(staged));
        assert_eq!(stored.contents.promoted_at, None);

        secret.data = None;
        assert!(parse(&secret, &at()).expect("empty is fine").is_none(), "a Secret without data");
    }

    #[test]
    fn a_broken_secret_names_the_key_and_the_fix() {
        let issued = tls::issue(&["x".to_owned()], Duration::from_secs(3600), Timestamp::now()).expect("issue");
        let mut secret = Contents::first(&issued).to_secret(&at(), None);
        let data = secret.data.as_mut().expect("data");
        data.remove(CA);
        let err = parse(&secret, &at()).expect_err("no CA").to_string();
        assert!(err.starts_with("Secret spo/spo-webhook-cert: no ca.crt"), "{err}");
        assert!(err.contains("cert-manager"), "{err}");
        let data = secret.data.as_mut().expect("data");
        data.insert(CA.into(), ByteString(issued.ca_pem.clone().into_bytes()));
        data.remove(KEY);
        let err = parse(&secret, &at()).expect_err("no key").to_string();
        assert!(err.contains("tls.crt is set but tls.key is missing"), "{err}");
        let data = secret.data.as_mut().expect("data");
        data.insert(KEY.into(), ByteString(b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n".to_vec()));
        let err = parse(&secret, &at()).expect_err("bad key").to_string();
        assert!(err.contains("Secret spo/spo-webhook-cert tls.crt/tls.key"), "{err}");
    }
}
