//! HTTPS served by hcal itself (`[serve.tls]`), for a deployment without a
//! reverse proxy: rustls with the certificate chain and key read from PEM
//! files, read again when either file changes (a renewal by certbot or an
//! ACME client needs no restart). A renewal that does not load (half
//! written, a key that does not match) keeps the certificate in use and
//! says why.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;

/// The certificate chain and private key files (PEM).
#[derive(Debug, Clone)]
pub struct TlsFiles {
    pub cert_file: PathBuf,
    pub key_file: PathBuf,
    /// How often the files are looked at for a change.
    pub reload_every: Duration,
}

/// Why a certificate or key could not be used.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("serve.tls.cert_file {path}: {message}")]
    Cert { path: String, message: String },
    #[error("serve.tls.key_file {path}: {message}")]
    Key { path: String, message: String },
    #[error("{0}")]
    Config(String),
}

/// The certificate in use, swapped when the files change.
#[derive(Debug)]
struct Current(RwLock<Arc<CertifiedKey>>);

impl ResolvesServerCert for Current {
    fn resolve(&self, _: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.0.read().unwrap_or_else(|p| p.into_inner()).clone())
    }
}

/// Read and check the pair: the chain, the key, and that they belong together.
fn load(files: &TlsFiles) -> Result<CertifiedKey, TlsError> {
    let cert = |message: String| TlsError::Cert {
        path: files.cert_file.display().to_string(),
        message,
    };
    let key = |message: String| TlsError::Key {
        path: files.key_file.display().to_string(),
        message,
    };
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&files.cert_file)
        .map_err(|e| cert(e.to_string()))?
        .collect::<Result<_, _>>()
        .map_err(|e| cert(e.to_string()))?;
    if chain.is_empty() {
        return Err(cert("holds no CERTIFICATE block".into()));
    }
    let der = PrivateKeyDer::from_pem_file(&files.key_file).map_err(|e| key(e.to_string()))?;
    let signing = rustls::crypto::ring::sign::any_supported_type(&der)
        .map_err(|e| key(format!("not a key rustls can sign with: {e}")))?;
    let certified = CertifiedKey::new(chain, signing);
    certified
        .keys_match()
        .map_err(|e| key(format!("does not belong to the certificate: {e}")))?;
    Ok(certified)
}

/// Whether `files` load as `hcal serve` would load them: the chain read,
/// the key read and matching it; how many certificates the chain holds.
pub fn check(files: &TlsFiles) -> Result<usize, TlsError> {
    load(files).map(|certified| certified.cert.len())
}

fn modified(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

/// A TLS acceptor for `files`, and the task that reloads them on change
/// (it ends when the acceptor is dropped).
pub fn acceptor(files: &TlsFiles) -> Result<tokio_rustls::TlsAcceptor, TlsError> {
    let current = Arc::new(Current(RwLock::new(Arc::new(load(files)?))));
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Config(e.to_string()))?
        .with_no_client_auth()
        .with_cert_resolver(current.clone());
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    let watched = Arc::downgrade(&current);
    let files = files.clone();
    tokio::spawn(async move {
        let stamp = |f: &TlsFiles| (modified(&f.cert_file), modified(&f.key_file));
        let mut seen = stamp(&files);
        loop {
            tokio::time::sleep(files.reload_every).await;
            let Some(current) = watched.upgrade() else {
                return;
            };
            let now = stamp(&files);
            if now == seen {
                continue;
            }
            match load(&files) {
                Ok(certified) => {
                    *current.0.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(certified);
                    seen = now;
                    tracing::info!(cert = %files.cert_file.display(), "TLS certificate reloaded");
                }
                // Perhaps half written: tried again on the next turn.
                Err(error) => {
                    tracing::warn!(%error, "TLS certificate changed but does not load; the previous one stays in use")
                }
            }
        }
    });
    Ok(tokio_rustls::TlsAcceptor::from(Arc::new(config)))
}
