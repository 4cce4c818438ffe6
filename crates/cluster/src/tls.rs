//! [`Tls`]: the job's mutual-TLS material (the job's CA, this process's certificate and
//! key), loaded and checked once, and turned into the rustls and tonic configurations
//! of the leader's listener, the workers' channels and the etcd connection.
//!
//! Every peer must present a certificate signed by the job's CA: the leader's listener
//! refuses any other at the TLS handshake (see [`crate::net`]), before it reads a byte
//! of gRPC; a worker refuses a leader whose certificate is not the CA's or does not
//! name the address the worker dialled. rustls with the ring provider throughout.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::client::danger::ServerCertVerifier as _;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use sha2::{Digest, Sha256};

use crate::error::ClusterError;

/// The three files of `--tls-ca`, `--tls-cert` and `--tls-key` (PEM).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsFiles {
    /// The job's CA certificate(s): peers must be signed by it.
    pub ca: PathBuf,
    /// This process's certificate (chain), signed by the CA.
    pub cert: PathBuf,
    /// This process's private key.
    pub key: PathBuf,
}

struct Inner {
    ca_pem: Vec<u8>,
    cert_pem: Vec<u8>,
    key_pem: Vec<u8>,
    roots: Arc<rustls::RootCertStore>,
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    fingerprint: String,
    source: String,
}

/// Loaded and checked TLS material. Cheap to clone.
///
/// # Examples
///
/// ```no_run
/// use snapstate_cluster::tls::{Tls, TlsFiles};
///
/// let tls = Tls::load(&TlsFiles {
///     ca: "ca.pem".into(),
///     cert: "worker.pem".into(),
///     key: "worker.key".into(),
/// })?;
/// println!("my certificate: sha256 {}", tls.fingerprint());
/// # Ok::<(), snapstate_cluster::ClusterError>(())
/// ```
#[derive(Clone)]
pub struct Tls(Arc<Inner>);

impl std::fmt::Debug for Tls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tls")
            .field("source", &self.0.source)
            .field("fingerprint", &self.0.fingerprint)
            .finish_non_exhaustive()
    }
}

/// The SHA-256 of a certificate's DER bytes, in lowercase hex: how claims in etcd name
/// the certificate of the worker that made them.
pub fn fingerprint(der: &[u8]) -> String {
    Sha256::digest(der)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn bad(what: impl std::fmt::Display) -> ClusterError {
    ClusterError::Config(format!(
        "{what}; see docs/distributed.md, section Security, for how to make the job's certificates"
    ))
}

fn read(path: &Path, flag: &str) -> Result<Vec<u8>, ClusterError> {
    std::fs::read(path).map_err(|e| bad(format!("cannot read {flag} {}: {e}", path.display())))
}

impl Tls {
    /// Reads and checks the three files.
    ///
    /// # Errors
    ///
    /// [`ClusterError::Config`] if a file cannot be read or parsed, or the key does not
    /// match the certificate.
    pub fn load(files: &TlsFiles) -> Result<Self, ClusterError> {
        let source = format!(
            "--tls-ca {} --tls-cert {} --tls-key {}",
            files.ca.display(),
            files.cert.display(),
            files.key.display()
        );
        Self::from_pem(
            &read(&files.ca, "--tls-ca")?,
            &read(&files.cert, "--tls-cert")?,
            &read(&files.key, "--tls-key")?,
            &source,
        )
    }

    /// Material from PEM bytes; `source` names where it came from, for messages.
    ///
    /// # Errors
    ///
    /// As for [`load`](Self::load).
    pub fn from_pem(
        ca_pem: &[u8],
        cert_pem: &[u8],
        key_pem: &[u8],
        source: &str,
    ) -> Result<Self, ClusterError> {
        let certs =
            |pem: &[u8], what: &str| -> Result<Vec<CertificateDer<'static>>, ClusterError> {
                let list = CertificateDer::pem_slice_iter(pem)
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|e| bad(format!("{what} is not a PEM certificate: {e}")))?;
                if list.is_empty() {
                    return Err(bad(format!("{what} holds no certificate")));
                }
                Ok(list)
            };
        let ca = certs(ca_pem, "the CA file (--tls-ca)")?;
        let chain = certs(cert_pem, "the certificate file (--tls-cert)")?;
        let key = PrivateKeyDer::from_pem_slice(key_pem).map_err(|e| {
            bad(format!(
                "the key file (--tls-key) is not a PEM private key: {e}"
            ))
        })?;
        let mut roots = rustls::RootCertStore::empty();
        for c in ca {
            roots.add(c).map_err(|e| {
                bad(format!(
                    "the CA file (--tls-ca) is not a CA certificate: {e}"
                ))
            })?;
        }
        let fingerprint = fingerprint(chain[0].as_ref());
        let tls = Tls(Arc::new(Inner {
            ca_pem: ca_pem.to_vec(),
            cert_pem: cert_pem.to_vec(),
            key_pem: key_pem.to_vec(),
            roots: Arc::new(roots),
            chain,
            key,
            fingerprint,
            source: source.to_owned(),
        }));
        // Builds a server config once: rustls checks that the key matches the certificate.
        tls.server_config()?;
        Ok(tls)
    }

    /// The SHA-256 of this process's certificate ([`fingerprint`]).
    pub fn fingerprint(&self) -> &str {
        &self.0.fingerprint
    }

    fn provider() -> Arc<rustls::crypto::CryptoProvider> {
        Arc::new(rustls::crypto::ring::default_provider())
    }

    /// Checks that this process's certificate is signed by the CA, valid now, and fit
    /// to act as a client (a worker, or a coordinator towards etcd).
    ///
    /// # Errors
    ///
    /// [`ClusterError::Config`] saying what is wrong with it.
    pub fn check_client_certificate(&self) -> Result<(), ClusterError> {
        let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
            Arc::clone(&self.0.roots),
            Self::provider(),
        )
        .build()
        .map_err(|e| bad(format!("the CA file (--tls-ca) is unusable: {e}")))?;
        verifier
            .verify_client_cert(&self.0.chain[0], &self.0.chain[1..], UnixTime::now())
            .map(|_| ())
            .map_err(|e| {
                bad(format!(
                    "the certificate --tls-cert is not a valid client certificate of the job's \
                     CA --tls-ca ({e})"
                ))
            })
    }

    /// Checks that this process's certificate is signed by the CA, valid now, and names
    /// `host` (the host part of the address workers are told to dial).
    ///
    /// # Errors
    ///
    /// [`ClusterError::Config`] saying what is wrong with it.
    pub fn check_server_certificate(&self, host: &str) -> Result<(), ClusterError> {
        let name = ServerName::try_from(host.to_owned())
            .map_err(|e| bad(format!("{host:?} is not a host name or address: {e}")))?;
        let verifier = rustls::client::WebPkiServerVerifier::builder_with_provider(
            Arc::clone(&self.0.roots),
            Self::provider(),
        )
        .build()
        .map_err(|e| bad(format!("the CA file (--tls-ca) is unusable: {e}")))?;
        verifier
            .verify_server_cert(
                &self.0.chain[0],
                &self.0.chain[1..],
                &name,
                &[],
                UnixTime::now(),
            )
            .map(|_| ())
            .map_err(|e| {
                bad(format!(
                    "the certificate --tls-cert is not a valid server certificate for {host:?} \
                     of the job's CA --tls-ca ({e}); workers dial the coordinator by that \
                     name, so it must be among the certificate's subject alternative names"
                ))
            })
    }

    /// The rustls configuration of a listener that requires a client certificate
    /// signed by the CA, and speaks HTTP/2 (ALPN `h2`).
    ///
    /// # Errors
    ///
    /// [`ClusterError::Config`] if the CA, certificate or key are unusable.
    pub fn server_config(&self) -> Result<Arc<rustls::ServerConfig>, ClusterError> {
        let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
            Arc::clone(&self.0.roots),
            Self::provider(),
        )
        .build()
        .map_err(|e| bad(format!("the CA file (--tls-ca) is unusable: {e}")))?;
        let mut config = rustls::ServerConfig::builder_with_provider(Self::provider())
            .with_safe_default_protocol_versions()
            .map_err(|e| bad(format!("TLS setup failed: {e}")))?
            .with_client_cert_verifier(verifier)
            .with_single_cert(self.0.chain.clone(), self.0.key.clone_key())
            .map_err(|e| {
                bad(format!(
                    "the key --tls-key does not fit the certificate --tls-cert: {e}"
                ))
            })?;
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(Arc::new(config))
    }

    /// tonic's client configuration: trust only the CA, present this certificate,
    /// verify the server as `host`.
    pub fn client_config(&self, host: &str) -> tonic::transport::ClientTlsConfig {
        tonic::transport::ClientTlsConfig::new()
            .ca_certificate(tonic::transport::Certificate::from_pem(&self.0.ca_pem))
            .identity(tonic::transport::Identity::from_pem(
                &self.0.cert_pem,
                &self.0.key_pem,
            ))
            .domain_name(host)
    }

    /// etcd-client's TLS options (tonic's client configuration, host from each URL).
    pub fn etcd_options(&self) -> etcd_client::TlsOptions {
        etcd_client::TlsOptions::new()
            .ca_certificate(etcd_client::Certificate::from_pem(&self.0.ca_pem))
            .identity(etcd_client::Identity::from_pem(
                &self.0.cert_pem,
                &self.0.key_pem,
            ))
    }
}
