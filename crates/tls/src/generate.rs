//! A throwaway certificate authority and leaf certificates for each identity, written as PEM files with
//! private keys readable by the owner only. Used by `cang up` and by tests; production mounts real ones.

use std::fs::OpenOptions;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, SanType,
};

use crate::{ServiceIdentity, TlsError};

/// A CA able to issue leaf certificates for internal hops.
pub struct CertificateAuthority {
    issuer: Issuer<'static, KeyPair>,
    cert_pem: String,
}

impl std::fmt::Debug for CertificateAuthority {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CertificateAuthority").finish_non_exhaustive()
    }
}

/// A leaf certificate and its private key.
pub struct IssuedCertificate {
    /// The certificate, PEM.
    pub cert_pem: String,
    /// The certificate, DER.
    pub der: Vec<u8>,
    /// The private key, PKCS#8 PEM.
    pub key_pem: zeroize::Zeroizing<String>,
}

impl std::fmt::Debug for IssuedCertificate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuedCertificate")
            .field("key_pem", &"[REDACTED]")
            .finish_non_exhaustive()
    }
}

impl CertificateAuthority {
    /// Generates a fresh self-signed CA named `common_name`.
    pub fn generate(common_name: &str) -> Result<Self, TlsError> {
        let key = KeyPair::generate()?;
        let mut params = CertificateParams::new(Vec::<String>::new())?;
        params.distinguished_name.push(DnType::CommonName, common_name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let cert = params.self_signed(&key)?;
        Ok(Self {
            issuer: Issuer::new(params, key),
            cert_pem: cert.pem(),
        })
    }

    /// The CA certificate, PEM.
    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    /// Issues a leaf with CN `name`, valid as both TLS server and client, for the host names `name` and
    /// `localhost` and the address 127.0.0.1.
    pub fn issue(&self, name: &str) -> Result<IssuedCertificate, TlsError> {
        let key = KeyPair::generate()?;
        let mut params = CertificateParams::new(vec![name.to_owned(), "localhost".to_owned()])?;
        params
            .subject_alt_names
            .push(SanType::IpAddress(std::net::Ipv4Addr::LOCALHOST.into()));
        params.distinguished_name.push(DnType::CommonName, name);
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        params.extended_key_usages = vec![
            ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsagePurpose::ClientAuth,
        ];
        let cert = params.signed_by(&key, &self.issuer)?;
        Ok(IssuedCertificate {
            cert_pem: cert.pem(),
            der: cert.der().to_vec(),
            key_pem: zeroize::Zeroizing::new(key.serialize_pem()),
        })
    }
}

/// Writes `ca.pem` and, for every [`ServiceIdentity`], `<name>.pem` and `<name>-key.pem` (mode 0600)
/// into `dir`, creating it if needed. The CA's own key is not kept: nothing more can be issued later.
pub fn write_dev_pki(dir: &Path) -> Result<(), TlsError> {
    std::fs::create_dir_all(dir).map_err(|source| TlsError::Write {
        path: dir.to_path_buf(),
        source,
    })?;
    let ca = CertificateAuthority::generate("cang internal ca")?;
    write_file(&dir.join("ca.pem"), ca.cert_pem().as_bytes(), 0o644)?;
    for id in ServiceIdentity::ALL {
        let leaf = ca.issue(id.as_str())?;
        write_file(&dir.join(format!("{id}.pem")), leaf.cert_pem.as_bytes(), 0o644)?;
        write_file(&dir.join(format!("{id}-key.pem")), leaf.key_pem.as_bytes(), 0o600)?;
    }
    Ok(())
}

/// Writes `contents` to `path` with exactly `mode`, also when the file already existed with another one.
pub(crate) fn write_file(path: &Path, contents: &[u8], mode: u32) -> Result<(), TlsError> {
    let err = |source| TlsError::Write {
        path: path.to_path_buf(),
        source,
    };
    let mut file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(mode)
        .open(path)
        .map_err(err)?;
    file.set_permissions(std::fs::Permissions::from_mode(mode))
        .map_err(err)?;
    file.write_all(contents).map_err(err)?;
    file.sync_all().map_err(err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dev_pki_keys_are_private() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        write_dev_pki(dir.path())?;
        for id in ServiceIdentity::ALL {
            let key_mode = std::fs::metadata(dir.path().join(format!("{id}-key.pem")))?
                .permissions()
                .mode();
            assert_eq!(key_mode & 0o777, 0o600, "{id} key");
            let cert = std::fs::read_to_string(dir.path().join(format!("{id}.pem")))?;
            assert!(cert.starts_with("-----BEGIN CERTIFICATE-----"));
        }
        assert!(dir.path().join("ca.pem").exists());
        Ok(())
    }
}
