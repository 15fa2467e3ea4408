//! `cang meta` as a network service: opens the store, serves the gRPC API and gRPC health over mutual
//! TLS (gateway and admin certificates only) on a given listener, and drains on shutdown. Every call
//! gets a server span (joining the caller's trace) and is counted in the service's Prometheus
//! metrics, served on a listener of their own.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use cang_meta_api::{MetaError, MetaGrpcServer};
use cang_proto::cang::meta::v1::meta_server::MetaServer;
use cang_telemetry::metrics::KeyVersionLabels;
use cang_telemetry::metrics::http::serve_metrics;
use cang_telemetry::{GrpcMetricsLayer, GrpcServerLayer};
use cang_tls::{Privacy, PrivatePathError, TlsFiles};
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
    /// Where Prometheus scrapes `/metrics` (plain HTTP); no metrics listener when `None`.
    pub metrics_listen: Option<SocketAddr>,
}

/// How often the stored-bytes gauge is recomputed (a scan of the blob table).
const STORED_BYTES_REFRESH: Duration = Duration::from_secs(15);

/// Why `cang meta` could not start or keep serving.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    /// The data directory or the store file could not be created or made private.
    #[error("data directory {path}: {source}")]
    DataDir {
        /// The directory or file.
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
    /// The metrics listener could not be bound.
    #[error("metrics listener {addr}: {source}")]
    MetricsListen {
        /// The address.
        addr: SocketAddr,
        /// The I/O error.
        source: std::io::Error,
    },
}

/// Opens (creating if needed) the store under `data_dir`. The directory is made private (0700) and the
/// store file private (0600) on every open, whoever created them: a volume mount or an older start may
/// have left them open to others.
pub fn open_store(data_dir: &std::path::Path) -> Result<Store, StartupError> {
    let private = |path: &std::path::Path, made: Result<Privacy, PrivatePathError>| match made {
        Ok(privacy) => {
            report_privacy(path, privacy);
            Ok(())
        }
        Err(e) => Err(StartupError::DataDir {
            path: e.path,
            source: e.source,
        }),
    };
    private(data_dir, cang_tls::ensure_private_dir(data_dir))?;
    let db = data_dir.join(DB_FILE);
    // Created empty and private before redb opens it, so the store is never briefly readable by others.
    private(&db, cang_tls::ensure_private_file(&db))?;
    Ok(Store::open(&db)?)
}

/// Logs what making `path` private changed, or why it could not.
fn report_privacy(path: &std::path::Path, privacy: Privacy) {
    match privacy {
        Privacy::Created | Privacy::AlreadyPrivate => {}
        Privacy::Tightened { was } => tracing::info!(
            path = %path.display(),
            was = format_args!("{was:o}"),
            "narrowed to owner-only access"
        ),
        Privacy::NotOwned { mode, owner } => tracing::warn!(
            path = %path.display(),
            mode = format_args!("{mode:o}"),
            owner,
            "owned by another user and open to others; left as it is"
        ),
    }
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
    let metrics = GrpcMetricsLayer::new(Arc::clone(service.metrics()));
    cang_tls::server_builder(server_tls)?
        .layer(GrpcServerLayer)
        .layer(metrics)
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
    let mut reporter = None;
    if let Some(addr) = config.metrics_listen {
        let metrics_listener = TcpListener::bind(addr)
            .await
            .map_err(|source| StartupError::MetricsListen { addr, source })?;
        tracing::info!(addr = ?metrics_listener.local_addr().ok(), "cang meta metrics");
        reporter = Some(tokio::spawn(report_metrics(
            Arc::clone(&service),
            metrics_listener,
            shutdown.clone(),
        )));
    }
    tracing::info!(addr = ?listener.local_addr().ok(), data_dir = %config.data_dir.display(), "cang meta serving");
    let result = serve(Arc::clone(&service), &config.tls, listener, shutdown).await;
    // The reporter holds the service; it must let go before the store can close.
    if let Some(reporter) = reporter {
        reporter.abort();
        let _ = reporter.await;
    }
    // Closing joins the writer thread, which may wait for a commit: not on a runtime worker.
    let closed = tokio::task::spawn_blocking(move || drop(service)).await;
    if closed.is_err() {
        tracing::error!("closing the store failed");
    }
    result
}

/// Serves `/metrics` and keeps the stored-bytes and key inventory gauges current until `shutdown`.
async fn report_metrics(service: Arc<MetaService>, listener: TcpListener, shutdown: CancellationToken) {
    let metrics = Arc::clone(service.metrics());
    let stop = shutdown.clone();
    let scrapes = tokio::spawn(async move {
        if let Err(e) = serve_metrics(listener, metrics, stop.cancelled_owned()).await {
            tracing::warn!(error = %e, "metrics listener stopped");
        }
    });
    let mut tick = tokio::time::interval(STORED_BYTES_REFRESH);
    loop {
        tokio::select! {
            () = shutdown.cancelled() => break,
            _ = tick.tick() => {
                let store = service.store().clone();
                let measured = tokio::task::spawn_blocking(move || {
                    Ok::<_, cang_meta_api::MetaError>((store.stored_bytes()?, store.key_inventory(&Default::default())?))
                });
                match measured.await {
                    Ok(Ok((bytes, inventory))) => {
                        let meta = &service.metrics().meta;
                        meta.stored_bytes.set(i64::try_from(bytes).unwrap_or(i64::MAX));
                        meta.set_inventory(inventory.into_iter().map(|row| {
                            let (key_id, key_version) =
                                row.wrapping.map(|w| (w.key_id, w.version_id)).unwrap_or_default();
                            (KeyVersionLabels { sse: row.algorithm.as_str(), key_id, key_version }, row.objects, row.bytes)
                        }));
                    }
                    Ok(Err(e)) => tracing::warn!(error = %e, "stored bytes and inventory not measured"),
                    Err(e) => tracing::warn!(error = %e, "stored bytes task failed"),
                }
            }
        }
    }
    // The listener ends on the same token; waiting keeps its task from outliving the service.
    let _ = scrapes.await;
}
