//! A `cang kms` served over loopback with mutual TLS, and clients holding the certificate of any
//! service identity (the development PKI issues one per identity).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use cang_kms::{KeyringConfig, KmsService, ManualClock};
use cang_kms_api::KmsGrpcClient;
use cang_tls::TlsFiles;
use tokio_util::sync::CancellationToken;

use super::T0;

/// A running server; stops when dropped.
pub struct GrpcKms {
    pub service: Arc<KmsService>,
    pub clock: ManualClock,
    addr: String,
    tls_dir: PathBuf,
    stop: CancellationToken,
}

impl GrpcKms {
    /// A client presenting the certificate of `identity` (`gateway`, `admin`, `meta`, `kms`).
    pub fn client(&self, identity: &str) -> anyhow::Result<KmsGrpcClient> {
        Ok(KmsGrpcClient::connect_lazy(
            &self.addr,
            TlsFiles::in_dir(&self.tls_dir, identity).client_config()?,
        )?)
    }

    /// A bare mTLS channel presenting the certificate of `identity`, for hand-made requests.
    pub fn channel(&self, identity: &str) -> anyhow::Result<tonic::transport::Channel> {
        let tls = TlsFiles::in_dir(&self.tls_dir, identity).client_config()?;
        Ok(cang_tls::endpoint(&self.addr, tls)?.connect_lazy())
    }
}

impl Drop for GrpcKms {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

/// Starts a server on a fresh keystore under `dir`.
pub async fn start(dir: &Path) -> anyhow::Result<GrpcKms> {
    let tls_dir = dir.join("tls");
    cang_tls::write_dev_pki(&tls_dir)?;
    let root = dir.join("root.key");
    cang_kms::RootKey::generate(&root)?;
    let clock = ManualClock::new(T0);
    let service = cang_kms::open_service(
        &dir.join("data"),
        &root,
        Arc::new(clock.clone()),
        KeyringConfig::default(),
    )?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?.to_string();
    let stop = CancellationToken::new();
    let server = cang_kms::serve(
        service.clone(),
        TlsFiles::in_dir(&tls_dir, "kms"),
        listener,
        Duration::from_secs(3600),
        stop.clone(),
    );
    tokio::spawn(async move {
        if let Err(e) = server.await {
            panic!("kms server failed: {e}");
        }
    });
    Ok(GrpcKms {
        service,
        clock,
        addr,
        tls_dir,
        stop,
    })
}
