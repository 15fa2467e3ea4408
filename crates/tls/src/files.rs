//! PEM files (CA, certificate, private key) loaded into tonic's server and client TLS configurations.

use std::path::{Path, PathBuf};

use tonic::transport::{Certificate, ClientTlsConfig, Identity, ServerTlsConfig};

use crate::TlsError;

/// Paths of the PEM files one service (or the admin CLI) presents on internal hops.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// The CA that signs every internal certificate; peers must chain to it.
    pub ca: PathBuf,
    /// This party's certificate.
    pub cert: PathBuf,
    /// This party's private key (PKCS#8 PEM).
    pub key: PathBuf,
}

/// How long a peer may take over a TLS handshake before its connection is dropped.
pub const HANDSHAKE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

impl TlsFiles {
    /// The files `write_dev_pki` produces for `name` in `dir` (`ca.pem`, `<name>.pem`, `<name>-key.pem`).
    pub fn in_dir(dir: &Path, name: &str) -> Self {
        Self {
            ca: dir.join("ca.pem"),
            cert: dir.join(format!("{name}.pem")),
            key: dir.join(format!("{name}-key.pem")),
        }
    }

    /// Server side: present our certificate and require a client certificate signed by the CA. A peer
    /// gets [`HANDSHAKE_TIMEOUT`] to complete the handshake, so a silent connection cannot stay forever.
    pub fn server_config(&self) -> Result<ServerTlsConfig, TlsError> {
        let (ca, identity) = self.load()?;
        Ok(ServerTlsConfig::new()
            .identity(identity)
            .client_ca_root(ca)
            .client_auth_optional(false)
            .timeout(HANDSHAKE_TIMEOUT))
    }

    /// Server side for callers outside the instance (applications): present our certificate, ask for
    /// none; callers authenticate inside the protocol instead.
    pub fn public_server_config(&self) -> Result<ServerTlsConfig, TlsError> {
        let (_, identity) = self.load()?;
        Ok(ServerTlsConfig::new()
            .identity(identity)
            .timeout(HANDSHAKE_TIMEOUT))
    }

    /// Client side: trust only the CA and present our certificate.
    pub fn client_config(&self) -> Result<ClientTlsConfig, TlsError> {
        let (ca, identity) = self.load()?;
        Ok(ClientTlsConfig::new().ca_certificate(ca).identity(identity))
    }

    fn load(&self) -> Result<(Certificate, Identity), TlsError> {
        install_crypto_provider();
        let ca = read_pem(&self.ca, "CERTIFICATE")?;
        let cert = read_pem(&self.cert, "CERTIFICATE")?;
        let key = read_pem(&self.key, "PRIVATE KEY")?;
        Ok((Certificate::from_pem(ca), Identity::from_pem(cert, key)))
    }
}

/// Reads a PEM file and checks it holds at least one block of the expected kind, so a swapped
/// certificate/key path fails here with the path in the message rather than deep in the handshake.
fn read_pem(path: &Path, expected: &'static str) -> Result<Vec<u8>, TlsError> {
    let bytes = std::fs::read(path).map_err(|source| TlsError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let text = String::from_utf8_lossy(&bytes);
    let found = text.lines().any(|line| {
        line.starts_with("-----BEGIN ") && line.trim_end().ends_with(&format!("{expected}-----"))
    });
    if !found {
        return Err(TlsError::NotPem {
            path: path.to_path_buf(),
            expected,
        });
    }
    Ok(bytes)
}

/// Makes ring the process's rustls provider. Builds that also link aws-lc-rs (an HTTP client in the same
/// binary) leave rustls unable to choose one, and tonic's TLS setup then panics; naming one settles it.
/// Every TLS configuration this crate builds calls it first; installing twice is harmless.
pub fn install_crypto_provider() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // Err means another provider was installed first, which serves just as well.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}
