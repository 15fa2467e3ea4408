//! `cang meta` as a network service: opens the store, serves the gRPC API and gRPC health over mutual
//! TLS (gateway and admin certificates only) on a given listener, and drains on shutdown.

use std::path::PathBuf;
use std::sync::Arc;

use cang_meta_api::{MetaError, MetaGrpcServer};
use cang_proto::cang::meta::v1::meta_server::MetaServer;
use cang_tls::TlsFiles;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::{MetaService, Store};

/// File name of the store inside the data directory.
pub const DB_FILE: &str = "meta.redb";

/// Configuration of `cang meta`.
#[derive(Debug, Clone)]
pub struct MetaConfig {
    /// Directory holding [`DB_FILE`].
    pub data_dir: PathBuf,
    /// This service's TLS files (CA, certificate, key).
    pub tls: TlsFiles,
}

/// Why `cang meta` could not start or keep serving.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    /// The data directory could not be created.
    #[error("data directory {path}: {source}")]
    DataDir {
        /// The directory.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The store could not be opened.
    #[error("store: {0}")]
    Store(#[from] MetaError),
    /// TLS material could not be loaded.
    #[error("TLS: {0}")]
    Tls(#[from] cang_tls::TlsError),
    /// The gRPC server failed.
    #[error("gRPC server: {0}")]
    Serve(String),
}

/// Opens (creating if needed) the store under `data_dir`.
pub fn open_store(data_dir: &std::path::Path) -> Result<Store, StartupError> {
    std::fs::create_dir_all(data_dir).map_err(|source| StartupError::DataDir {
        path: data_dir.to_path_buf(),
        source,
    })?;
    Ok(Store::open(&data_dir.join(DB_FILE))?)
}

/// Serves `service` on `listener` with mTLS until `shutdown` is cancelled, then drains in-flight calls.
pub async fn serve(
    service: Arc<MetaService>,
    tls: &TlsFiles,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> Result<(), StartupError> {
    let server_tls = tls.server_config()?;
    let (health_reporter, health) = tonic_health::server::health_reporter();
    health_reporter
        .set_serving::<MetaServer<MetaGrpcServer<MetaService>>>()
        .await;
    cang_tls::server_builder(server_tls)?
        .add_service(health)
        .add_service(MetaGrpcServer::new(service).into_service())
        .serve_with_incoming_shutdown(cang_tls::incoming(listener), shutdown.cancelled_owned())
        .await
        .map_err(|e| StartupError::Serve(e.to_string()))
}

/// Opens the store and serves until `shutdown`: the whole `cang meta` process. The store is closed
/// (its writer thread joined) before this returns.
pub async fn run(
    config: MetaConfig,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> Result<(), StartupError> {
    let data_dir = config.data_dir.clone();
    let store = tokio::task::spawn_blocking(move || open_store(&data_dir))
        .await
        .map_err(|e| StartupError::Serve(format!("opening the store: {e}")))??;
    let service = Arc::new(MetaService::new(store));
    tracing::info!(addr = ?listener.local_addr().ok(), data_dir = %config.data_dir.display(), "cang meta serving");
    let result = serve(Arc::clone(&service), &config.tls, listener, shutdown).await;
    // Closing joins the writer thread, which may wait for a commit: not on a runtime worker.
    let closed = tokio::task::spawn_blocking(move || drop(service)).await;
    if closed.is_err() {
        tracing::error!("closing the store failed");
    }
    result
}
