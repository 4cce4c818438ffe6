//! [`Pki`]: a test certificate authority made with rcgen, and the certificates a test
//! hands to its processes: coordinators and etcd (server and client use), workers
//! (client use), and the bad ones intruders bring (expired, or from another CA).

use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};

use super::etcd::HarnessError;
use crate::tls::{Tls, TlsFiles};

/// What a certificate may be used for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// A coordinator or etcd: a server (to its names) and a client.
    Server,
    /// A worker or a command-line client: a client only.
    Client,
}

/// A CA whose files live in a directory of the test.
#[derive(Debug)]
pub struct Pki {
    dir: PathBuf,
    issuer: CertifiedIssuer<'static, KeyPair>,
}

fn rc(e: rcgen::Error) -> HarnessError {
    HarnessError::Io(std::io::Error::other(format!("rcgen: {e}")))
}

impl Pki {
    /// A new CA named `name`, its certificate written to `dir/<name>-ca.pem`.
    ///
    /// # Errors
    ///
    /// [`HarnessError::Io`] if a file cannot be written or rcgen fails.
    pub fn new(dir: &Path, name: &str) -> Result<Self, HarnessError> {
        std::fs::create_dir_all(dir)?;
        let mut params = CertificateParams::new(Vec::<String>::new()).map_err(rc)?;
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(DnType::CommonName, format!("{name} test CA"));
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let key = KeyPair::generate().map_err(rc)?;
        let issuer = CertifiedIssuer::self_signed(params, key).map_err(rc)?;
        let pki = Pki {
            dir: dir.join(name),
            issuer,
        };
        std::fs::create_dir_all(&pki.dir)?;
        std::fs::write(pki.ca(), pki.issuer.pem())?;
        Ok(pki)
    }

    /// The CA certificate's file.
    pub fn ca(&self) -> PathBuf {
        self.dir.join("ca.pem")
    }

    /// Issues a certificate for `name` with subject alternative names `sans` (host
    /// names or IP addresses); `expired` makes one whose validity ended in 2021.
    ///
    /// # Errors
    ///
    /// [`HarnessError::Io`] if a file cannot be written or rcgen fails.
    pub fn issue(
        &self,
        name: &str,
        role: Role,
        sans: &[&str],
        expired: bool,
    ) -> Result<TlsFiles, HarnessError> {
        let sans: Vec<String> = sans.iter().map(|s| (*s).to_owned()).collect();
        let mut params = CertificateParams::new(sans).map_err(rc)?;
        params.distinguished_name.push(DnType::CommonName, name);
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        params.extended_key_usages = match role {
            Role::Server => vec![
                ExtendedKeyUsagePurpose::ServerAuth,
                ExtendedKeyUsagePurpose::ClientAuth,
            ],
            Role::Client => vec![ExtendedKeyUsagePurpose::ClientAuth],
        };
        if expired {
            params.not_before = rcgen::date_time_ymd(2020, 1, 1);
            params.not_after = rcgen::date_time_ymd(2021, 1, 1);
        } else {
            params.not_before = rcgen::date_time_ymd(2024, 1, 1);
            params.not_after = rcgen::date_time_ymd(2099, 1, 1);
        }
        let key = KeyPair::generate().map_err(rc)?;
        let cert = params.signed_by(&key, &self.issuer).map_err(rc)?;
        let files = TlsFiles {
            ca: self.ca(),
            cert: self.dir.join(format!("{name}.pem")),
            key: self.dir.join(format!("{name}.key")),
        };
        std::fs::write(&files.cert, cert.pem())?;
        std::fs::write(&files.key, key.serialize_pem())?;
        Ok(files)
    }

    /// Loads `files` as [`Tls`] material, skipping the startup checks (so an expired
    /// or foreign certificate can be used by an intruder).
    ///
    /// # Errors
    ///
    /// [`HarnessError::Io`] if the files are unreadable.
    pub fn load(files: &TlsFiles) -> Result<Tls, HarnessError> {
        Tls::load(files).map_err(|e| HarnessError::Io(std::io::Error::other(e.to_string())))
    }
}
