//! `cang kms`: the crypto service as a process, optionally with the Alibaba KMS OpenAPI
//! (`--openapi-listen`) and the gRPC API for applications (`--app-grpc-listen`), each on a listener of
//! its own and both off unless asked for. They share one edge: access-key lookups, nonces and clock.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use cang_kms::{Edge, KeyringConfig, KmsConfig, RootKey};
use cang_kms_openapi::{AppLimits, OpenApi, OpenApiConfig, ServerLimits};
use cang_meta_api::{MetaApi, MetaGrpcClient};
use clap::Args;

use super::service::{self, LogArgs, SupervisionArgs, TlsArgs};

/// Flags of `cang kms`.
#[derive(Debug, Args)]
pub struct KmsArgs {
    /// Directory holding keystore.redb.
    #[arg(long, env = "CANG_DATA_DIR")]
    pub data_dir: PathBuf,
    /// Root key file (32 raw bytes or 64 hex digits, mode 0600) sealing the keystore.
    #[arg(long, env = "CANG_ROOT_KEY_FILE")]
    pub root_key_file: PathBuf,
    /// Address to serve gRPC on.
    #[arg(long, env = "CANG_LISTEN", default_value = "127.0.0.1:9100")]
    pub listen: SocketAddr,
    /// Region used in key ARNs.
    #[arg(long, env = "CANG_REGION", default_value = "cn-hangzhou")]
    pub region: String,
    /// Rotation interval of the SSE-OSS service keys, days.
    #[arg(long, env = "CANG_SERVICE_KEY_ROTATION_DAYS", default_value_t = 30,
          value_parser = clap::value_parser!(u64).range(1..=3650))]
    pub service_key_rotation_days: u64,
    /// How long after a key version stops being primary it may be retired, seconds. Keep it above the
    /// gateways' --data-key-cache-secs: they may issue cached bucket keys of the old version that long.
    #[arg(long, env = "CANG_VERSION_RETIRE_GRACE_SECS", default_value_t = 600)]
    pub version_retire_grace_secs: u64,
    /// How often deletion windows and rotation schedules are checked, seconds.
    #[arg(long, env = "CANG_MAINTENANCE_INTERVAL_SECS", default_value_t = 60,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub maintenance_interval_secs: u64,
    /// Address serving Prometheus `/metrics` over plain HTTP (off when unset).
    #[arg(long, env = "CANG_METRICS_LISTEN")]
    pub metrics_listen: Option<SocketAddr>,
    /// Address serving the Alibaba KMS OpenAPI (2016-01-20) over plain HTTP; off when unset. Needs
    /// `--meta-endpoint`, where the callers' access keys are looked up.
    #[arg(long, env = "CANG_OPENAPI_LISTEN", requires = "meta_endpoint")]
    pub openapi_listen: Option<SocketAddr>,
    /// Address serving the gRPC API for applications (`cang.kms.app.v1.Kms`, access-key-signed calls)
    /// over TLS with this service's certificate; off when unset. Needs `--meta-endpoint`.
    #[arg(long, env = "CANG_APP_GRPC_LISTEN", requires = "meta_endpoint")]
    pub app_grpc_listen: Option<SocketAddr>,
    /// The metadata service (`host:port` or `https://host:port`), reached with this service's own
    /// certificate to authenticate OpenAPI callers.
    #[arg(long, env = "CANG_META_ENDPOINT")]
    pub meta_endpoint: Option<String>,
    /// Deadline of each call to the metadata service, seconds.
    #[arg(long, env = "CANG_META_DEADLINE_SECS", default_value_t = 10,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub meta_deadline_secs: u64,
    /// How far the signed time of an OpenAPI request may be from this clock, seconds.
    #[arg(long, env = "CANG_OPENAPI_MAX_CLOCK_SKEW_SECS", default_value_t = 900,
          value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub openapi_max_clock_skew_secs: u64,
    /// How long the OpenAPI and gRPC edges serve a resolved access key from memory, seconds (0: look it
    /// up on every request); a disabled key or a changed policy takes effect within it.
    #[arg(long, env = "CANG_OPENAPI_ACCESS_KEY_TTL_SECS", default_value_t = 30,
          value_parser = clap::value_parser!(u64).range(0..=3600))]
    pub openapi_access_key_ttl_secs: u64,
    #[command(flatten)]
    pub tls: TlsArgs,
    #[command(flatten)]
    pub logs: LogArgs,
    #[command(flatten)]
    pub supervision: SupervisionArgs,
}

/// Runs the service until SIGINT/SIGTERM.
pub fn main(args: KmsArgs) -> anyhow::Result<()> {
    service::run_service(run(args))
}

async fn run(args: KmsArgs) -> anyhow::Result<()> {
    let _telemetry = service::init_telemetry("cang-kms", &args.logs)?;
    // Check the root key before binding anything, so a bad key file is the one error reported.
    RootKey::load(&args.root_key_file)?;
    let edges = openapi_edge(&args).await?;
    let config = KmsConfig {
        data_dir: args.data_dir,
        root_key_file: args.root_key_file,
        tls: args.tls.files("kms")?,
        keyring: KeyringConfig {
            region: args.region,
            service_key_rotation_seconds: args.service_key_rotation_days * 86_400,
            version_retire_grace_seconds: args.version_retire_grace_secs,
        },
        maintenance_interval: Duration::from_secs(args.maintenance_interval_secs),
        metrics_listen: args.metrics_listen,
    };
    let shutdown = service::shutdown_token(&args.supervision)?;
    let listener = service::bind(args.listen).await?;
    // `run` returns once the keystore is closed (its audit writer joined).
    cang_kms::run_with_edges(config, listener, edges, shutdown)
        .await
        .context("crypto service")?;
    tracing::info!("cang kms stopped");
    Ok(())
}

/// The application edges (OpenAPI and gRPC), bound now so that a taken port is reported before the
/// keystore opens.
async fn openapi_edge(args: &KmsArgs) -> anyhow::Result<Vec<Edge>> {
    let Some(meta_endpoint) = args.meta_endpoint.as_deref() else {
        return Ok(Vec::new());
    };
    if args.openapi_listen.is_none() && args.app_grpc_listen.is_none() {
        return Ok(Vec::new());
    }
    let openapi = match args.openapi_listen {
        Some(addr) => Some(service::bind(addr).await?),
        None => None,
    };
    let grpc = match args.app_grpc_listen {
        Some(addr) => Some((
            service::bind(addr).await?,
            args.tls.files("kms")?.public_server_config()?,
        )),
        None => None,
    };
    let tls = args.tls.files("kms")?.client_config()?;
    let meta: Arc<dyn MetaApi> = Arc::new(
        MetaGrpcClient::connect_lazy(meta_endpoint, tls)
            .context("--meta-endpoint")?
            .with_deadline(Duration::from_secs(args.meta_deadline_secs)),
    );
    let config = OpenApiConfig {
        region: args.region.clone(),
        max_clock_skew: Duration::from_secs(args.openapi_max_clock_skew_secs),
        access_key_ttl: Duration::from_secs(args.openapi_access_key_ttl_secs),
        ..OpenApiConfig::default()
    };
    if let Some(l) = &openapi {
        tracing::info!(addr = ?l.local_addr().ok(), "kms openapi listening");
    }
    if let Some((l, _)) = &grpc {
        tracing::info!(addr = ?l.local_addr().ok(), "kms application gRPC listening");
    }
    let edge: Edge = Box::new(move |service, stop| {
        let api = Arc::new(OpenApi::new(service, meta, cang_kms::ciphertext_key_id, config));
        Box::pin(async move {
            let http = async {
                if let Some(listener) = openapi {
                    cang_kms_openapi::serve(
                        Arc::clone(&api),
                        listener,
                        ServerLimits::default(),
                        stop.clone(),
                    )
                    .await;
                }
            };
            let app = async {
                if let Some((listener, tls)) = grpc {
                    let served = cang_kms_openapi::serve_app(
                        Arc::clone(&api),
                        tls,
                        listener,
                        AppLimits::default(),
                        stop.clone(),
                    )
                    .await;
                    if let Err(e) = served {
                        tracing::error!(error = %e, "kms application gRPC stopped");
                    }
                }
            };
            tokio::join!(http, app);
        })
    });
    Ok(vec![edge])
}

/// Creates a root key file (mode 0600, hex) at `path`; fails if one exists.
pub fn generate_root_key(path: &std::path::Path) -> anyhow::Result<()> {
    RootKey::generate(path).with_context(|| format!("generating root key {}", path.display()))
}
