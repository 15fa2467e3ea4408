//! `cang meta` over loopback mutual TLS, for the tests that go through the gRPC adapters.
#![allow(dead_code, reason = "each test file uses a different subset of these helpers")]

use cang_meta::{MetaConfig, StartupError};
use cang_meta_api::MetaGrpcClient;
use cang_tls::TlsFiles;
use tokio_util::sync::CancellationToken;

/// `cang meta` served on a loopback port with a throwaway PKI.
pub struct Server {
    _dir: tempfile::TempDir,
    pki: std::path::PathBuf,
    addr: String,
    shutdown: CancellationToken,
    task: tokio::task::JoinHandle<Result<(), StartupError>>,
}

impl Server {
    /// Starts a server on a fresh data directory.
    pub async fn start() -> anyhow::Result<Self> {
        let dir = tempfile::tempdir()?;
        let pki = dir.path().join("pki");
        cang_tls::write_dev_pki(&pki)?;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?.to_string();
        let config = MetaConfig {
            data_dir: dir.path().join("data"),
            tls: TlsFiles::in_dir(&pki, "meta"),
            metrics_listen: None,
        };
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(cang_meta::run(config, listener, shutdown.clone()));
        Ok(Self {
            _dir: dir,
            pki,
            addr,
            shutdown,
            task,
        })
    }

    /// A client presenting `identity`'s certificate.
    pub fn client(&self, identity: &str) -> anyhow::Result<MetaGrpcClient> {
        let tls = TlsFiles::in_dir(&self.pki, identity).client_config()?;
        Ok(MetaGrpcClient::connect_lazy(
            &format!("localhost:{}", self.addr.rsplit(':').next().unwrap_or("0")),
            tls,
        )?)
    }

    /// Stops the server and waits for it.
    pub async fn stop(self) -> anyhow::Result<()> {
        self.shutdown.cancel();
        self.task.await??;
        Ok(())
    }
}
