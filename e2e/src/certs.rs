//! Throwaway certificates for a loopback cluster, made with the `openssl`
//! command: a CA, the API server's serving certificate, client
//! certificates for the administrator and the controller manager, and the
//! service-account signing key. ECDSA P-256 keeps generation instant.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::E2eError;

/// The files [`generate`] writes, all under one directory.
#[derive(Debug, Clone)]
pub struct Pki {
    /// CA certificate: clients trust it, the API server checks client
    /// certificates against it.
    pub ca_crt: PathBuf,
    /// CA key, for the controller manager's certificate signer.
    pub ca_key: PathBuf,
    /// API server serving certificate and key.
    pub apiserver: (PathBuf, PathBuf),
    /// `system:masters` client certificate and key.
    pub admin: (PathBuf, PathBuf),
    /// `system:kube-controller-manager` client certificate and key.
    pub controller_manager: (PathBuf, PathBuf),
    /// The kubelet's client certificate and key (`system:node:e2e-node`).
    pub kubelet: (PathBuf, PathBuf),
    /// `system:kube-scheduler` client certificate and key.
    pub scheduler: (PathBuf, PathBuf),
    /// `system:kube-proxy` client certificate and key (bound to the
    /// built-in `system:node-proxier` role).
    pub kube_proxy: (PathBuf, PathBuf),
    /// Service-account signing key (private) and its public half.
    pub service_account: (PathBuf, PathBuf),
}

const OPENSSL_CONFIG: &str = "[req]\ndistinguished_name = dn\nprompt = no\n[dn]\n";

/// Create every certificate and key in `dir`.
pub fn generate(dir: &Path) -> Result<Pki, E2eError> {
    std::fs::create_dir_all(dir).map_err(E2eError::io(dir))?;
    let config = dir.join("openssl.cnf");
    std::fs::write(&config, OPENSSL_CONFIG).map_err(E2eError::io(&config))?;
    let p = |name: &str| dir.join(name);

    let ca_crt = p("ca.crt");
    let ca_key = p("ca.key");
    openssl(&[
        "req",
        "-x509",
        "-config",
        s(&config),
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
        "-keyout",
        s(&ca_key),
        "-out",
        s(&ca_crt),
        "-days",
        "30",
        "-subj",
        "/CN=spo-e2e-ca",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign",
    ])?;

    let leaf = |name: &str, subject: &str, san: Option<&str>| -> Result<(PathBuf, PathBuf), E2eError> {
        let crt = p(&format!("{name}.crt"));
        let key = p(&format!("{name}.key"));
        let mut args = vec![
            "req",
            "-x509",
            "-config",
            s(&config),
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            s(&key),
            "-out",
            s(&crt),
            "-days",
            "30",
            "-subj",
            subject,
            "-CA",
            s(&ca_crt),
            "-CAkey",
            s(&ca_key),
            "-addext",
            "basicConstraints=critical,CA:FALSE",
            "-addext",
            "keyUsage=critical,digitalSignature",
        ];
        let san_ext;
        if let Some(san) = san {
            san_ext = format!("subjectAltName={san}");
            args.extend(["-addext", "extendedKeyUsage=serverAuth", "-addext", &san_ext]);
            openssl(&args)?;
        } else {
            args.extend(["-addext", "extendedKeyUsage=clientAuth"]);
            openssl(&args)?;
        }
        Ok((crt, key))
    };
    let apiserver = leaf(
        "apiserver",
        "/CN=kube-apiserver",
        Some("IP:127.0.0.1,IP:10.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc"),
    )?;
    let admin = leaf("admin", "/O=system:masters/CN=spo-e2e-admin", None)?;
    let controller_manager = leaf("controller-manager", "/CN=system:kube-controller-manager", None)?;
    let kubelet = leaf("kubelet", &format!("/O=system:nodes/CN=system:node:{}", crate::node::NODE), None)?;
    let scheduler = leaf("scheduler", "/CN=system:kube-scheduler", None)?;
    let kube_proxy = leaf("kube-proxy", "/CN=system:kube-proxy", None)?;

    let sa_key = p("sa.key");
    let sa_pub = p("sa.pub");
    openssl(&["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", s(&sa_key)])?;
    openssl(&["pkey", "-in", s(&sa_key), "-pubout", "-out", s(&sa_pub)])?;

    Ok(Pki {
        ca_crt,
        ca_key,
        apiserver,
        admin,
        controller_manager,
        kubelet,
        scheduler,
        kube_proxy,
        service_account: (sa_key, sa_pub),
    })
}

fn s(p: &Path) -> &str {
    // Every path here is built from the caller's directory and ASCII names;
    // a non-UTF-8 directory is refused by `Cluster::up` before this runs.
    p.to_str().unwrap_or_default()
}

fn openssl(args: &[&str]) -> Result<(), E2eError> {
    let out = Command::new("openssl")
        .args(args)
        .output()
        .map_err(|source| E2eError::Spawn { program: "openssl".into(), source })?;
    if out.status.success() {
        Ok(())
    } else {
        Err(E2eError::Command {
            program: format!("openssl {}", args.first().copied().unwrap_or_default()),
            status: out.status,
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(cert: &Path) -> String {
        let out =
            Command::new("openssl").args(["x509", "-noout", "-text", "-in"]).arg(cert).output().expect("openssl runs");
        assert!(out.status.success());
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    #[test]
    fn certificates_chain_to_the_ca_with_the_right_names() {
        if Command::new("openssl").arg("version").output().is_err() {
            spo_test_support::skip("certificates_chain_to_the_ca_with_the_right_names needs the openssl command");
            return;
        }
        let dir = tempfile::tempdir().expect("tempdir");
        let pki = generate(dir.path()).expect("pki");
        for cert in [&pki.apiserver.0, &pki.admin.0, &pki.controller_manager.0] {
            let out = Command::new("openssl")
                .args(["verify", "-CAfile"])
                .arg(&pki.ca_crt)
                .arg(cert)
                .output()
                .expect("openssl verify");
            assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        }
        let server = text(&pki.apiserver.0);
        assert!(server.contains("IP Address:127.0.0.1"), "{server}");
        assert!(server.contains("TLS Web Server Authentication"));
        let admin = text(&pki.admin.0);
        assert!(admin.contains("O = system:masters"), "{admin}");
        assert!(admin.contains("TLS Web Client Authentication"));
        assert!(std::fs::read_to_string(&pki.service_account.1).expect("sa.pub").contains("PUBLIC KEY"));
    }
}
