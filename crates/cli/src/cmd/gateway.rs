//! `cang gateway`: the OSS REST front end as a process, talking to kms and meta over mTLS.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use cang_gateway::ConnectionLimits;
use cang_gateway::GatewayConfig;
use cang_gateway::KeyCacheLimits;
use cang_gateway::jobs::JobRunner;
use cang_kms_api::{KmsApi, KmsGrpcClient};
use cang_meta_api::{MetaApi, MetaGrpcClient};
use clap::{ArgAction, Args};

use super::service::{self, LogArgs, SupervisionArgs, TlsArgs};

/// Flags of `cang gateway`.
#[derive(Debug, Args)]
pub struct GatewayArgs {
    /// Address to serve the OSS API (HTTP) on.
    #[arg(long, env = "CANG_LISTEN", default_value = "127.0.0.1:9000")]
    pub listen: SocketAddr,
    /// The crypto service, `host:port` or `https://host:port`.
    #[arg(long, env = "CANG_KMS_ENDPOINT")]
    pub kms_endpoint: String,
    /// The metadata service, `host:port` or `https://host:port`.
    #[arg(long, env = "CANG_META_ENDPOINT")]
    pub meta_endpoint: String,
    /// Region id (used in KMS ARNs and signature V4 scopes).
    #[arg(long, env = "CANG_REGION", default_value = "cn-hangzhou")]
    pub region: String,
    /// Bucket location reported to clients (default: oss-<region>).
    #[arg(long, env = "CANG_LOCATION")]
    pub location: Option<String>,
    /// Host suffixes under which `<bucket>.<suffix>` addresses a bucket (comma-separated).
    #[arg(
        long = "base-domain",
        env = "CANG_BASE_DOMAINS",
        value_delimiter = ',',
        default_value = "localhost"
    )]
    pub base_domains: Vec<String>,
    /// Largest PutObject / UploadPart / AppendObject body, bytes.
    #[arg(long, env = "CANG_MAX_OBJECT_SIZE", default_value_t = 5 << 30)]
    pub max_object_size: u64,
    /// Plaintext segment size of new objects, bytes.
    #[arg(long, env = "CANG_SEGMENT_SIZE", default_value_t = 64 << 10,
          value_parser = clap::value_parser!(u32).range(4096..=(16 << 20)))]
    pub segment_size: u32,
    /// Reuse one data key per bucket for SSE-OSS (AES256/SM4) objects.
    #[arg(long, env = "CANG_BUCKET_KEYS_FOR_SSE_OSS", default_value_t = true, action = ArgAction::Set)]
    pub bucket_keys_for_sse_oss: bool,
    /// Reuse one data key per bucket for SSE-KMS objects (off: one GenerateDataKey per object).
    #[arg(long, env = "CANG_BUCKET_KEYS_FOR_KMS", default_value_t = false, action = ArgAction::Set)]
    pub bucket_keys_for_kms: bool,
    /// How long a resolved access key is trusted before it is looked up again, seconds.
    #[arg(long, env = "CANG_ACCESS_KEY_TTL_SECS", default_value_t = 30)]
    pub access_key_ttl_secs: u64,
    /// How long a data key stays cached, seconds: a bucket key serves new objects this long, and an unwrapped
    /// key serves reads this long. It bounds how late a disabled CMK stops buckets that use bucket keys.
    #[arg(long, env = "CANG_DATA_KEY_CACHE_SECS", default_value_t = 300)]
    pub data_key_cache_secs: u64,
    /// How long a request body may send nothing before the request fails with RequestTimeout, seconds.
    #[arg(long, env = "CANG_BODY_IDLE_TIMEOUT_SECS", default_value_t = 60,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub body_idle_timeout_secs: u64,
    /// Requests one caller (account root or RAM user; anonymous callers by address) may have in flight;
    /// more are answered 503 SlowDown.
    #[arg(long, env = "CANG_MAX_IN_FLIGHT_PER_CALLER", default_value_t = 256,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub max_in_flight_per_caller: u64,
    /// Client connections served at once; more are answered 503 SlowDown and closed.
    #[arg(long, env = "CANG_MAX_CONNECTIONS", default_value_t = 4096,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub max_connections: u64,
    /// Deadline of each call to the crypto service, seconds; past it the request fails with 503.
    #[arg(long, env = "CANG_KMS_DEADLINE_SECS", default_value_t = 10,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub kms_deadline_secs: u64,
    /// Deadline of each unary call to the metadata service and of the start of each read, seconds; past it
    /// the request fails with 503.
    #[arg(long, env = "CANG_META_DEADLINE_SECS", default_value_t = 30,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub meta_deadline_secs: u64,
    /// One structured access-log line per request (target `cang::access`): principal, operation, bucket,
    /// key, status, OSS error code, bytes, duration and trace id; never a secret or signature.
    #[arg(long, env = "CANG_ACCESS_LOG", default_value_t = true, action = ArgAction::Set)]
    pub access_log: bool,
    /// How long in-flight requests may run after shutdown begins, seconds.
    #[arg(long, env = "CANG_DRAIN_SECS", default_value_t = 20)]
    pub drain_secs: u64,
    /// Address serving Prometheus `/metrics`, `/healthz` and `/readyz` over plain HTTP (off when unset).
    #[arg(long, env = "CANG_METRICS_LISTEN")]
    pub metrics_listen: Option<SocketAddr>,
    /// Address serving key-maintenance jobs (gRPC over mutual TLS, the admin certificate only; off when
    /// unset): `cang admin jobs …` starts and watches rewrap and encrypt-existing runs here.
    #[arg(long, env = "CANG_JOBS_LISTEN")]
    pub jobs_listen: Option<SocketAddr>,
    /// Address serving the web console (plain HTTP, its own listener; off when unset).
    #[arg(long, env = "CANG_CONSOLE_LISTEN")]
    pub console_listen: Option<SocketAddr>,
    /// File holding the 32-byte key console sessions are sealed with (raw, or 64 hex digits); every gateway
    /// serving the console must share it. Without it, a random key: sessions end when this process does.
    #[arg(long, env = "CANG_CONSOLE_KEY_FILE")]
    pub console_key_file: Option<std::path::PathBuf>,
    /// The KMS OpenAPI the console's key picker and key pages call, `host:port` or `http://host:port`.
    #[arg(long, env = "CANG_CONSOLE_KMS_ENDPOINT")]
    pub console_kms_endpoint: Option<String>,
    /// Mark console cookies `Secure`: browsers reach the console over HTTPS (a TLS-terminating ingress).
    #[arg(long, env = "CANG_CONSOLE_SECURE_COOKIES", default_value_t = false, action = ArgAction::Set)]
    pub console_secure_cookies: bool,
    /// How long a console session may go unused, seconds.
    #[arg(long, env = "CANG_CONSOLE_IDLE_SECS", default_value_t = 1800,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub console_idle_secs: u64,
    #[command(flatten)]
    pub tls: TlsArgs,
    #[command(flatten)]
    pub logs: LogArgs,
    #[command(flatten)]
    pub supervision: SupervisionArgs,
}

impl GatewayArgs {
    fn config(&self) -> GatewayConfig {
        let defaults = GatewayConfig::default();
        GatewayConfig {
            region: self.region.clone(),
            location: self
                .location
                .clone()
                .unwrap_or_else(|| format!("oss-{}", self.region)),
            base_domains: self.base_domains.clone(),
            max_object_size: self.max_object_size,
            segment_size: self.segment_size,
            bucket_keys_for_sse_oss: self.bucket_keys_for_sse_oss,
            bucket_keys_for_kms: self.bucket_keys_for_kms,
            access_key_ttl: Duration::from_secs(self.access_key_ttl_secs),
            key_cache: KeyCacheLimits {
                bucket_key_ttl: Duration::from_secs(self.data_key_cache_secs),
                unwrapped_ttl: Duration::from_secs(self.data_key_cache_secs),
                ..defaults.key_cache.clone()
            },
            body_idle_timeout: Duration::from_secs(self.body_idle_timeout_secs),
            access_log: self.access_log,
            max_in_flight_per_caller: usize::try_from(self.max_in_flight_per_caller).unwrap_or(usize::MAX),
            metrics_listen: self.metrics_listen,
            ..defaults
        }
    }
}

/// Runs the gateway until SIGINT/SIGTERM, then drains.
pub fn main(args: GatewayArgs) -> anyhow::Result<()> {
    service::run_service(run(args))
}

/// The console's settings from the flags: its session key (from the shared file, else random), where the
/// KMS OpenAPI is, the idle limit.
fn console_config(args: &GatewayArgs) -> anyhow::Result<cang_gateway::ConsoleConfig> {
    let key = match &args.console_key_file {
        Some(path) => read_console_key(path)?,
        None => {
            tracing::warn!(
                "no --console-key-file: console sessions are sealed with a random key, end when this process \
                 does and are not shared with other gateways"
            );
            cang_gateway::SessionKey::random().context("generating a console session key")?
        }
    };
    let mut config = cang_gateway::ConsoleConfig::new(key);
    config.kms_authority = args
        .console_kms_endpoint
        .as_deref()
        .map(|e| e.trim_start_matches("http://").trim_end_matches('/').to_owned());
    config.session_limits.idle = Duration::from_secs(args.console_idle_secs);
    config.secure_cookies = args.console_secure_cookies;
    Ok(config)
}

/// A console session key file: 32 raw bytes, or 64 hex digits (surrounding whitespace ignored).
pub fn read_console_key(path: &std::path::Path) -> anyhow::Result<cang_gateway::SessionKey> {
    let raw =
        zeroize::Zeroizing::new(std::fs::read(path).with_context(|| format!("reading {}", path.display()))?);
    let mut key = [0u8; 32];
    let text = std::str::from_utf8(&raw).map(str::trim).unwrap_or_default();
    if raw.len() == 32 {
        key.copy_from_slice(&raw);
    } else if text.len() == 64 && hex::decode_to_slice(text, &mut key).is_ok() {
    } else {
        bail!("{} must hold 32 bytes or 64 hex digits", path.display());
    }
    let session_key = cang_gateway::SessionKey::from_bytes(key);
    zeroize::Zeroize::zeroize(&mut key);
    Ok(session_key)
}

async fn run(args: GatewayArgs) -> anyhow::Result<()> {
    let _telemetry = service::init_telemetry("cang-gateway", &args.logs)?;
    let tls = args.tls.files("gateway")?.client_config()?;
    let kms: Arc<dyn KmsApi> = Arc::new(
        KmsGrpcClient::connect_lazy(&args.kms_endpoint, tls.clone())
            .context("--kms-endpoint")?
            .with_deadline(Duration::from_secs(args.kms_deadline_secs)),
    );
    let meta: Arc<dyn MetaApi> = Arc::new(
        MetaGrpcClient::connect_lazy(&args.meta_endpoint, tls)
            .context("--meta-endpoint")?
            .with_deadline(Duration::from_secs(args.meta_deadline_secs)),
    );
    let limits = ConnectionLimits {
        drain_deadline: Duration::from_secs(args.drain_secs),
        max_connections: usize::try_from(args.max_connections).unwrap_or(usize::MAX),
        ..ConnectionLimits::default()
    };
    let shutdown = service::shutdown_token(&args.supervision)?;
    let listener = service::bind(args.listen).await?;
    let jobs = match args.jobs_listen {
        Some(addr) => {
            let listener = service::bind(addr).await?;
            let server_tls = args.tls.files("gateway")?.server_config()?;
            let runner = JobRunner::new(args.config(), Arc::clone(&kms), Arc::clone(&meta));
            tracing::info!(%addr, "cang gateway jobs listener");
            let serving = cang_jobs_api::serve(
                Arc::clone(&runner),
                server_tls,
                listener,
                shutdown.clone().cancelled_owned(),
            );
            let listening = tokio::spawn(async move {
                if let Err(e) = serving.await {
                    tracing::error!(error = %e, "jobs listener failed");
                }
            });
            // Running jobs stop as soon as shutdown begins (beside the drain), and record their end.
            let stopping = {
                let (runner, token) = (Arc::clone(&runner), shutdown.clone());
                tokio::spawn(async move {
                    token.cancelled().await;
                    runner.shutdown().await;
                })
            };
            Some((listening, stopping))
        }
        None => None,
    };
    let probes = match args.metrics_listen {
        Some(addr) => Some(service::bind(addr).await?),
        None => None,
    };
    let console = match args.console_listen {
        Some(addr) => Some((service::bind(addr).await?, console_config(&args)?)),
        None => None,
    };
    let listeners = cang_gateway::Listeners {
        api: listener,
        probes,
        console,
    };
    cang_gateway::run_with_listeners(
        args.config(),
        limits,
        listeners,
        kms,
        meta,
        shutdown.cancelled_owned(),
    )
    .await;
    if let Some((listening, stopping)) = jobs
        && (stopping.await.is_err() || listening.await.is_err())
    {
        tracing::error!("a jobs task failed");
    }
    tracing::info!("cang gateway stopped");
    Ok(())
}
