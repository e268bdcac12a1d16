//! rustls client configuration shared by IMAP intake: the system's trust
//! store, plus an optional PEM file of extra CA certificates (a private CA,
//! or a self-signed server certificate).

use std::path::Path;
use std::sync::Arc;

use tokio_rustls::rustls::{self, pki_types::CertificateDer, RootCertStore};

/// Build a client config trusting the system roots and `ca_file`.
pub fn client_config(ca_file: Option<&Path>) -> anyhow::Result<Arc<rustls::ClientConfig>> {
    use anyhow::Context as _;
    let mut roots = RootCertStore::empty();
    // Missing or partly unreadable system roots are not fatal when a
    // ca_file is given; the handshake reports an untrusted peer clearly.
    let native = rustls_native_certs::load_native_certs();
    for cert in native.certs {
        let _ = roots.add(cert);
    }
    if let Some(path) = ca_file {
        let pem =
            std::fs::read(path).with_context(|| format!("reading ca_file {}", path.display()))?;
        let certs: Vec<CertificateDer<'static>> = rustls_pemfile::certs(&mut pem.as_slice())
            .collect::<Result<_, _>>()
            .with_context(|| format!("parsing ca_file {} (PEM expected)", path.display()))?;
        if certs.is_empty() {
            anyhow::bail!("ca_file {} holds no PEM certificate", path.display());
        }
        for c in certs {
            roots
                .add(c)
                .with_context(|| format!("adding a certificate of {}", path.display()))?;
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("TLS protocol versions")?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}
