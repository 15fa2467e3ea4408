//! `cang kms`, the crypto service: a keystore sealed under a root key, CMKs with versions, aliases and
//! the Alibaba KMS state rules, data keys, BYOK import, SSE-OSS service keys and an audit trail, served
//! over gRPC with mutual TLS. Every call gets a server span (joining the caller's trace) and is
//! counted in the service's Prometheus metrics, served on a listener of their own. Other front ends
//! (the Alibaba KMS OpenAPI) run beside the gRPC API on the same open keystore as [`Edge`]s.

mod audit;
mod audit_chain;
mod blob;
mod cipher;
mod clock;
mod datakeys;
pub mod escrow;
mod import;
mod key_use;
mod keyring;
mod record;
mod rootkey;
mod service;
mod session;
mod snapshot;
mod store;
mod tags;

use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use cang_kms_api::KmsGrpcServer;
use cang_telemetry::metrics::http::serve_metrics;
use cang_telemetry::{GrpcMetricsLayer, GrpcServerLayer, Metrics};
use cang_tls::TlsFiles;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

pub use clock::{Clock, ManualClock, SystemClock};
pub use keyring::{Keyring, KeyringConfig};
pub use rootkey::RootKey;
pub use service::KmsService;
pub use session::KmsSession;

/// The key a ciphertext blob names, read from its unauthenticated header (so that a front end can
/// authorise a `Decrypt` on that key before asking for it); `None` when the bytes are no blob of this
/// service. Decrypting still authenticates everything.
pub fn ciphertext_key_id(blob: &[u8]) -> Option<cang_kms_api::KeyId> {
    let parsed = blob::parse(blob).ok()?;
    cang_kms_api::KeyId::new(parsed.key_id).ok()
}

/// A front end served beside the gRPC API from the same open keystore (the KMS OpenAPI): started once
/// the keystore is open with the service and a stop token, and awaited (see [`EDGE_STOP_DEADLINE`])
/// before the keystore closes. It must return soon after the token is cancelled.
pub type Edge =
    Box<dyn FnOnce(Arc<KmsService>, CancellationToken) -> Pin<Box<dyn Future<Output = ()> + Send>> + Send>;

/// How long stopping waits for each [`Edge`] to return.
pub const EDGE_STOP_DEADLINE: Duration = Duration::from_secs(10);

/// Why the service refused to start. Nothing on disk has been modified when this is returned.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    /// The root key file could not be read.
    #[error("cannot read root key file {path}: {source}")]
    RootKeyRead {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The root key file is accessible to others, writable or executable by its group, or readable
    /// by its group while owned by this process's user (see `RootKey::load`).
    #[error(
        "root key file {path} has mode {mode:o}; it must give others no access and its group at most \
         read access, and group read is accepted only on a file owned by another user than this \
         process (a Kubernetes Secret volume under fsGroup, mode 0440); chmod 600 a file of your own"
    )]
    RootKeyPermissions {
        /// The file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// The root key file holds neither 32 raw bytes nor 64 hex digits.
    #[error("root key file {path} must hold 32 raw bytes or 64 hex digits")]
    RootKeyFormat {
        /// The file.
        path: PathBuf,
    },
    /// The keystore was sealed under a different root key.
    #[error("the root key does not open this keystore (wrong root key file?)")]
    WrongRootKey,
    /// The keystore could not be opened.
    #[error("keystore: {0}")]
    Keystore(String),
    /// A keystore record failed authentication.
    #[error("keystore is corrupt or tampered: {0}")]
    Tampered(String),
    /// TLS material could not be loaded.
    #[error("TLS: {0}")]
    Tls(#[from] cang_tls::TlsError),
    /// The operating system's random generator failed.
    #[error("random number generator failed")]
    Random,
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

/// Configuration of `cang kms`.
#[derive(Debug, Clone)]
pub struct KmsConfig {
    /// Directory holding `keystore.redb`.
    pub data_dir: PathBuf,
    /// The root key file.
    pub root_key_file: PathBuf,
    /// This service's TLS files.
    pub tls: TlsFiles,
    /// Keyring tunables.
    pub keyring: KeyringConfig,
    /// How often deletion windows and rotation schedules are checked.
    pub maintenance_interval: Duration,
    /// Where Prometheus scrapes `/metrics` (plain HTTP); no metrics listener when `None`.
    pub metrics_listen: Option<SocketAddr>,
}

/// Opens the keystore under `data_dir` and builds the service (no network).
pub fn open_service(
    data_dir: &Path,
    root_key_file: &Path,
    clock: Arc<dyn Clock>,
    config: KeyringConfig,
) -> Result<Arc<KmsService>, StartupError> {
    let root = RootKey::load(root_key_file)?;
    // Private on every start, whoever created it (a volume mount, an older start); the keystore file
    // itself is made private where it is opened.
    match cang_tls::ensure_private_dir(data_dir) {
        Ok(privacy) => store::report_privacy(data_dir, privacy),
        Err(e) => return Err(StartupError::Keystore(e.to_string())),
    }
    let store = store::Keystore::open(&data_dir.join("keystore.redb"), root)?;
    let keyring = Keyring::new(store, clock, config).map_err(|e| match e {
        store::StoreError::Tampered { .. } => StartupError::Tampered(e.to_string()),
        other => StartupError::Keystore(other.to_string()),
    })?;
    let keyring = Arc::new(keyring);
    let metrics = Arc::new(Metrics::new());
    let audit = audit::AuditLog::start(keyring.store.clone(), Arc::clone(&metrics));
    Ok(Arc::new(KmsService {
        keyring,
        audit,
        metrics,
    }))
}

/// Serves `service` on `listener` with mTLS until `shutdown` is cancelled, then drains in-flight calls.
pub async fn serve(
    service: Arc<KmsService>,
    tls: TlsFiles,
    listener: TcpListener,
    maintenance_interval: Duration,
    shutdown: CancellationToken,
) -> Result<(), StartupError> {
    let server_tls = tls.server_config()?;
    let (health_reporter, health) = tonic_health::server::health_reporter();
    health_reporter
        .set_serving::<cang_proto::cang::kms::v1::kms_server::KmsServer<KmsGrpcServer<KmsService>>>()
        .await;

    let keyring = service.keyring.clone();
    let maintenance_stop = shutdown.clone();
    let maintenance = tokio::spawn(async move {
        let mut tick = tokio::time::interval(maintenance_interval);
        loop {
            tokio::select! {
                _ = maintenance_stop.cancelled() => break,
                _ = tick.tick() => {
                    if let Err(e) = keyring.run_maintenance().await {
                        tracing::error!(error = %e, "key maintenance failed");
                    }
                }
            }
        }
    });

    let metrics = GrpcMetricsLayer::new(Arc::clone(&service.metrics));
    let result = cang_tls::server_builder(server_tls)?
        .layer(GrpcServerLayer)
        .layer(metrics)
        .add_service(health)
        .add_service(KmsGrpcServer::new(service).into_service())
        .serve_with_incoming_shutdown(cang_tls::incoming(listener), shutdown.cancelled_owned())
        .await
        .map_err(|e| StartupError::Serve(e.to_string()));
    maintenance.abort();
    // Aborting only asks; awaiting the task makes sure its hold on the keystore is gone.
    let _ = maintenance.await;
    result
}

/// Opens the keystore and serves until `shutdown`: the whole `cang kms` process.
pub async fn run(
    config: KmsConfig,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> Result<(), StartupError> {
    run_with_edges(config, listener, Vec::new(), shutdown).await
}

/// [`run`], with `edges` served beside the gRPC API until `shutdown` (or until the gRPC server fails).
pub async fn run_with_edges(
    config: KmsConfig,
    listener: TcpListener,
    edges: Vec<Edge>,
    shutdown: CancellationToken,
) -> Result<(), StartupError> {
    let service = open_service(
        &config.data_dir,
        &config.root_key_file,
        Arc::new(SystemClock),
        config.keyring,
    )?;
    if let Some(addr) = config.metrics_listen {
        let metrics_listener = TcpListener::bind(addr)
            .await
            .map_err(|source| StartupError::MetricsListen { addr, source })?;
        tracing::info!(addr = ?metrics_listener.local_addr().ok(), "cang kms metrics");
        let metrics = Arc::clone(&service.metrics);
        let stop = shutdown.clone();
        tokio::spawn(async move {
            if let Err(e) = serve_metrics(metrics_listener, metrics, stop.cancelled_owned()).await {
                tracing::warn!(error = %e, "metrics listener stopped");
            }
        });
    }
    tracing::info!(addr = ?listener.local_addr().ok(), "cang kms serving");
    let writer = service.audit.writer();
    // Edges stop with the process, and also when the gRPC server fails on its own.
    let edge_stop = shutdown.child_token();
    let edge_tasks: Vec<_> = edges
        .into_iter()
        .map(|edge| tokio::spawn(edge(Arc::clone(&service), edge_stop.clone())))
        .collect();
    let served = serve(
        service,
        config.tls,
        listener,
        config.maintenance_interval,
        shutdown,
    )
    .await;
    edge_stop.cancel();
    for task in edge_tasks {
        if tokio::time::timeout(EDGE_STOP_DEADLINE, task).await.is_err() {
            tracing::warn!("a front end did not stop in time");
        }
    }
    // The server and every session are gone: the audit writer persists what is queued and, with it, the
    // last hold on the keystore goes. Returning before that would leave the file open (and marked dirty).
    let closed = tokio::task::spawn_blocking(move || writer.join(KEYSTORE_CLOSE_DEADLINE))
        .await
        .unwrap_or(false);
    if !closed {
        tracing::warn!("the audit writer did not finish in time; the keystore may still be open");
    }
    served
}

/// How long stopping waits for the audit writer to drain.
const KEYSTORE_CLOSE_DEADLINE: Duration = Duration::from_secs(10);

/// Entry points for the fuzz targets (`fuzz/fuzz_targets/kms.rs`): the decoders of bytes the crypto service
/// reads back, which must refuse anything malformed without panicking. Not part of the API.
#[doc(hidden)]
pub mod fuzzing {
    /// Runs every stored-bytes decoder on `bytes`: the ciphertext blob, key and alias records (under the
    /// storage key `id`), and audit entries. Whether each accepted them.
    pub fn decode_stored(id: &str, bytes: &[u8]) -> [bool; 4] {
        [
            crate::blob::parse(bytes).is_ok(),
            crate::record::decode_key(id, bytes).is_ok(),
            crate::record::decode_alias(id, bytes).is_ok(),
            serde_json::from_slice::<crate::record::AuditEntry>(bytes).is_ok(),
        ]
    }
}
