//! `cang kms`: the crypto service as a process.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use cang_kms::{KeyringConfig, KmsConfig, RootKey};
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
    /// How often deletion windows and rotation schedules are checked, seconds.
    #[arg(long, env = "CANG_MAINTENANCE_INTERVAL_SECS", default_value_t = 60,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub maintenance_interval_secs: u64,
    /// Address serving Prometheus `/metrics` over plain HTTP (off when unset).
    #[arg(long, env = "CANG_METRICS_LISTEN")]
    pub metrics_listen: Option<SocketAddr>,
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
    let config = KmsConfig {
        data_dir: args.data_dir,
        root_key_file: args.root_key_file,
        tls: args.tls.files("kms")?,
        keyring: KeyringConfig {
            region: args.region,
            service_key_rotation_seconds: args.service_key_rotation_days * 86_400,
        },
        maintenance_interval: Duration::from_secs(args.maintenance_interval_secs),
        metrics_listen: args.metrics_listen,
    };
    let shutdown = service::shutdown_token(&args.supervision)?;
    let listener = service::bind(args.listen).await?;
    // `run` returns once the keystore is closed (its audit writer joined).
    cang_kms::run(config, listener, shutdown)
        .await
        .context("crypto service")?;
    tracing::info!("cang kms stopped");
    Ok(())
}

/// Creates a root key file (mode 0600, hex) at `path`; fails if one exists.
pub fn generate_root_key(path: &std::path::Path) -> anyhow::Result<()> {
    RootKey::generate(path).with_context(|| format!("generating root key {}", path.display()))
}
