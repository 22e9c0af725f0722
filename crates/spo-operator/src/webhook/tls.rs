//! Serving certificates: issued here (a CA and a serving certificate it
//! signs, both with a bounded validity) or read from PEM (the Secret the
//! replicas share, possibly written by cert-manager), and served through
//! a resolver whose certificate can be swapped while the server runs, so
//! a rotated certificate is served without a restart.
//!
//! Each rotation makes a new CA as well as a new serving certificate: no
//! CA key is ever stored, so the Secret holds nothing that could sign a
//! certificate for another name. The overlap that keeps the API server
//! trusting every replica during a rotation comes from the published
//! bundle (`ca.crt`, old and new CA), see [`super::rotation`].
//!
//! PEM is read by `rustls-pki-types` and certificates by `x509-parser`
//! (validity and names), both maintained crates.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use k8s_openapi::jiff::Timestamp;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose,
};
use tokio_rustls::rustls::crypto::CryptoProvider;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls::server::{ClientHello, ResolvesServerCert};
use tokio_rustls::rustls::sign::CertifiedKey;
use tokio_rustls::rustls::ServerConfig;

use crate::OperatorError;

/// How far before "now" an issued certificate starts being valid, for API
/// servers whose clock is behind ours.
const BACKDATE: Duration = Duration::from_secs(3600);

/// A CA and a serving certificate it signed, PEM.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issued {
    /// The CA certificate.
    pub ca_pem: String,
    /// The serving certificate.
    pub cert_pem: String,
    /// Its private key (PKCS#8).
    pub key_pem: String,
}

fn cert_error(what: &'static str) -> impl FnOnce(rcgen::Error) -> OperatorError {
    move |source| OperatorError::Certificate { what, source }
}

/// The DNS names a service is reached by from the API server.
pub fn service_names(service: &str, namespace: &str) -> Vec<String> {
    vec![
        service.to_owned(),
        format!("{service}.{namespace}"),
        format!("{service}.{namespace}.svc"),
        format!("{service}.{namespace}.svc.cluster.local"),
    ]
}

fn offset(t: Timestamp) -> time::OffsetDateTime {
    time::OffsetDateTime::from_unix_timestamp(t.as_second()).unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
}

/// Issue a new CA and a certificate for `names` (DNS names or IP
/// addresses), both valid from an hour before `now` until `now +
/// validity`.
pub fn issue(names: &[String], validity: Duration, now: Timestamp) -> Result<Issued, OperatorError> {
    let not_before = offset(now) - BACKDATE;
    let not_after = offset(now) + validity;
    let mut ca = CertificateParams::new(Vec::new()).map_err(cert_error("CA parameters"))?;
    ca.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    ca.distinguished_name.push(DnType::CommonName, format!("spo-rs webhook CA {}", now.as_second()));
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
    ca.not_before = not_before;
    ca.not_after = not_after;
    let ca_key = KeyPair::generate().map_err(cert_error("CA key"))?;
    let ca_cert = ca.self_signed(&ca_key).map_err(cert_error("CA certificate"))?;
    let issuer = Issuer::new(ca, ca_key);

    let mut leaf = CertificateParams::new(names.to_vec()).map_err(cert_error("serving certificate names"))?;
    leaf.distinguished_name.push(DnType::CommonName, names.first().cloned().unwrap_or_default());
    leaf.key_usages = vec![KeyUsagePurpose::DigitalSignature, KeyUsagePurpose::KeyEncipherment];
    leaf.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    leaf.not_before = not_before;
    leaf.not_after = not_after;
    let key = KeyPair::generate().map_err(cert_error("serving key"))?;
    let cert = leaf.signed_by(&key, &issuer).map_err(cert_error("serving certificate"))?;
    Ok(Issued { ca_pem: ca_cert.pem(), cert_pem: cert.pem(), key_pem: key.serialize_pem() })
}

/// A serving certificate chain and key read from PEM, checked: they
/// parse, the key belongs to the first certificate, and its validity and
/// names are known.
#[derive(Debug, Clone)]
pub struct Serving {
    /// What the TLS server presents.
    pub key: Arc<CertifiedKey>,
    /// End of the first certificate's validity.
    pub not_after: Timestamp,
    /// Its DNS and IP subject alternative names.
    pub names: Vec<String>,
}

/// Parse and check a chain and its key; `whence` names where they come
/// from in every error (`Secret ns/name`).
pub fn serving(cert_pem: &str, key_pem: &str, whence: &str) -> Result<Serving, OperatorError> {
    let bad = |reason: String| OperatorError::BadCertificate { whence: whence.to_owned(), reason };
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(cert_pem.as_bytes())
        .collect::<Result<_, _>>()
        .map_err(|e| bad(format!("the certificate is not PEM: {e}")))?;
    let first = chain.first().ok_or_else(|| bad("no certificate in the PEM".to_owned()))?;
    let key = PrivateKeyDer::from_pem_slice(key_pem.as_bytes()).map_err(|e| bad(format!("the key is not PEM: {e}")))?;
    let (not_after, names) = facts(first).map_err(bad)?;
    let certified = CertifiedKey::from_der(chain, key, &provider())
        .map_err(|e| bad(format!("the key does not fit the certificate: {e}")))?;
    Ok(Serving { key: Arc::new(certified), not_after, names })
}

/// The CA certificates of a PEM bundle, checked to parse; `whence` as for
/// [`serving`].
pub fn bundle(ca_pem: &str, whence: &str) -> Result<Vec<CertificateDer<'static>>, OperatorError> {
    let bad = |reason: String| OperatorError::BadCertificate { whence: whence.to_owned(), reason };
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(ca_pem.as_bytes())
        .collect::<Result<_, _>>()
        .map_err(|e| bad(format!("the CA bundle is not PEM: {e}")))?;
    if certs.is_empty() {
        return Err(bad("the CA bundle holds no certificate".to_owned()));
    }
    for c in &certs {
        facts(c).map_err(bad)?;
    }
    Ok(certs)
}

/// Validity end and subject alternative names of one certificate.
fn facts(der: &CertificateDer<'_>) -> Result<(Timestamp, Vec<String>), String> {
    let (_, cert) =
        x509_parser::parse_x509_certificate(der.as_ref()).map_err(|e| format!("not an X.509 certificate: {e}"))?;
    let not_after = Timestamp::from_second(cert.validity().not_after.timestamp())
        .map_err(|e| format!("validity out of range: {e}"))?;
    let mut names = Vec::new();
    if let Ok(Some(san)) = cert.subject_alternative_name() {
        for n in &san.value.general_names {
            match n {
                x509_parser::extensions::GeneralName::DNSName(d) => names.push((*d).to_owned()),
                x509_parser::extensions::GeneralName::IPAddress(ip) => match ip.len() {
                    4 => names.push(std::net::Ipv4Addr::new(ip[0], ip[1], ip[2], ip[3]).to_string()),
                    16 => {
                        let mut b = [0u8; 16];
                        b.copy_from_slice(ip);
                        names.push(std::net::Ipv6Addr::from(b).to_string());
                    }
                    _ => {}
                },
                _ => {}
            }
        }
    }
    Ok((not_after, names))
}

fn provider() -> CryptoProvider {
    tokio_rustls::rustls::crypto::ring::default_provider()
}

/// The certificate the server presents, replaceable at any time: a new
/// one is used from the next handshake on, open connections keep theirs.
#[derive(Debug)]
pub struct Resolver {
    current: RwLock<Arc<CertifiedKey>>,
}

impl Resolver {
    /// Serve `key` until [`Resolver::set`] replaces it.
    pub fn new(key: Arc<CertifiedKey>) -> Arc<Resolver> {
        Arc::new(Resolver { current: RwLock::new(key) })
    }

    /// Serve `key` from now on.
    pub fn set(&self, key: Arc<CertifiedKey>) {
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = key;
    }

    /// What is served now.
    pub fn current(&self) -> Arc<CertifiedKey> {
        self.current.read().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

impl ResolvesServerCert for Resolver {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.current())
    }
}

/// A TLS server configuration (HTTP/1.1) serving whatever `resolver`
/// holds.
pub fn server_config(resolver: Arc<Resolver>) -> Result<Arc<ServerConfig>, OperatorError> {
    let mut config = ServerConfig::builder_with_provider(Arc::new(provider()))
        .with_safe_default_protocol_versions()
        .map_err(|e| OperatorError::Tls { reason: e.to_string() })?
        .with_no_client_auth()
        .with_cert_resolver(resolver);
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issued_certificates_name_the_service_and_expire_when_told() {
        let mut names = service_names("spo-webhook", "spo");
        names.push("127.0.0.1".into());
        let now = Timestamp::from_second(1_800_000_000).expect("time");
        let issued = issue(&names, Duration::from_secs(90 * 86_400), now).expect("issue");
        assert!(issued.ca_pem.starts_with("-----BEGIN CERTIFICATE-----"));
        let s = serving(&issued.cert_pem, &issued.key_pem, "test").expect("the pair is consistent");
        assert_eq!(s.not_after.as_second(), now.as_second() + 90 * 86_400);
        assert!(s.names.contains(&"spo-webhook.spo.svc.cluster.local".to_owned()), "{:?}", s.names);
        assert!(s.names.contains(&"127.0.0.1".to_owned()), "{:?}", s.names);
        assert_eq!(bundle(&issued.ca_pem, "test").expect("bundle").len(), 1);
        server_config(Resolver::new(s.key)).expect("rustls accepts it");
    }

    #[test]
    fn a_key_of_another_certificate_is_refused_with_the_place() {
        let now = Timestamp::now();
        let a = issue(&["a".to_owned()], Duration::from_secs(60), now).expect("a");
        let b = issue(&["b".to_owned()], Duration::from_secs(60), now).expect("b");
        let err = serving(&a.cert_pem, &b.key_pem, "Secret spo/cert").expect_err("mismatch").to_string();
        assert!(err.contains("Secret spo/cert") && err.contains("does not fit"), "{err}");
        let err = serving("garbage", &a.key_pem, "Secret spo/cert").expect_err("no PEM").to_string();
        assert!(err.contains("no certificate"), "{err}");
        let err = bundle("", "Secret spo/cert").expect_err("empty").to_string();
        assert!(err.contains("holds no certificate"), "{err}");
    }

    #[test]
    fn the_resolver_serves_the_latest_certificate() {
        let now = Timestamp::now();
        let a = issue(&["a".to_owned()], Duration::from_secs(60), now).expect("a");
        let b = issue(&["b".to_owned()], Duration::from_secs(60), now).expect("b");
        let (a, b) = (serving(&a.cert_pem, &a.key_pem, "a").unwrap(), serving(&b.cert_pem, &b.key_pem, "b").unwrap());
        let r = Resolver::new(a.key.clone());
        assert_eq!(r.current().cert, a.key.cert);
        r.set(b.key.clone());
        assert_eq!(r.current().cert, b.key.cert);
    }
}
