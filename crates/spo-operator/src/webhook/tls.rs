//! Certificates without cert-manager: at every start the operator makes a
//! fresh CA and a serving certificate signed by it, serves with the
//! certificate and publishes the CA as the `caBundle` of its webhook
//! configurations. Nothing is stored: a restart makes new ones and
//! re-applies the configurations, so there is no expiry to watch and no
//! secret to protect beyond the process's memory.

use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose,
};
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio_rustls::rustls::ServerConfig;

use crate::OperatorError;

/// A serving certificate and the CA that signed it.
#[derive(Debug)]
pub struct ServingCert {
    /// The CA certificate, PEM (the webhook configurations' `caBundle`).
    pub ca_pem: String,
    /// The serving certificate, DER.
    pub cert_der: CertificateDer<'static>,
    /// Its private key, PKCS#8 DER.
    key_der: Vec<u8>,
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

/// Make a CA and a certificate for `names` (DNS names or IP addresses).
pub fn generate(names: &[String]) -> Result<ServingCert, OperatorError> {
    let mut ca = CertificateParams::new(Vec::new()).map_err(cert_error("CA parameters"))?;
    ca.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    ca.distinguished_name.push(DnType::CommonName, "spo-rs webhook CA");
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
    let ca_key = KeyPair::generate().map_err(cert_error("CA key"))?;
    let ca_cert = ca.self_signed(&ca_key).map_err(cert_error("CA certificate"))?;
    let issuer = Issuer::new(ca, ca_key);

    let mut leaf = CertificateParams::new(names.to_vec()).map_err(cert_error("serving certificate names"))?;
    leaf.distinguished_name.push(DnType::CommonName, names.first().cloned().unwrap_or_default());
    leaf.key_usages = vec![KeyUsagePurpose::DigitalSignature, KeyUsagePurpose::KeyEncipherment];
    leaf.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let key = KeyPair::generate().map_err(cert_error("serving key"))?;
    let cert = leaf.signed_by(&key, &issuer).map_err(cert_error("serving certificate"))?;
    Ok(ServingCert { ca_pem: ca_cert.pem(), cert_der: cert.der().clone(), key_der: key.serialize_der() })
}

impl ServingCert {
    /// A TLS server configuration serving this certificate (HTTP/1.1).
    pub fn server_config(&self) -> Result<Arc<ServerConfig>, OperatorError> {
        let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.key_der.clone()));
        let mut config = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .and_then(|b| b.with_no_client_auth().with_single_cert(vec![self.cert_der.clone()], key))
            .map_err(|e| OperatorError::Tls { reason: e.to_string() })?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Arc::new(config))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn certificate_names_the_service_and_the_url_host() {
        let mut names = service_names("spo-webhook", "spo");
        names.push("127.0.0.1".into());
        let cert = generate(&names).expect("certificate");
        assert!(cert.ca_pem.starts_with("-----BEGIN CERTIFICATE-----"));
        let der = cert.cert_der.as_ref();
        // DNS SANs are stored as IA5 strings, IP SANs as 4 raw bytes.
        let contains = |needle: &[u8]| der.windows(needle.len()).any(|w| w == needle);
        assert!(contains(b"spo-webhook.spo.svc.cluster.local"));
        assert!(contains(&[0x87, 4, 127, 0, 0, 1]), "IP SAN 127.0.0.1");
        cert.server_config().expect("rustls accepts the pair");
    }
}
