//! `cang meta`: the metadata/blob service as a process.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use cang_meta::MetaConfig;
use clap::Args;

use super::service::{self, LogArgs, SupervisionArgs, TlsArgs};

/// Flags of `cang meta`.
#[derive(Debug, Args)]
pub struct MetaArgs {
    /// Directory holding meta.redb.
    #[arg(long, env = "CANG_DATA_DIR")]
    pub data_dir: PathBuf,
    /// Address to serve gRPC on.
    #[arg(long, env = "CANG_LISTEN", default_value = "127.0.0.1:9200")]
    pub listen: SocketAddr,
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
pub fn main(args: MetaArgs) -> anyhow::Result<()> {
    service::run_service(run(args))
}

async fn run(args: MetaArgs) -> anyhow::Result<()> {
    let _telemetry = service::init_telemetry("cang-meta", &args.logs)?;
    let config = MetaConfig {
        data_dir: args.data_dir,
        tls: args.tls.files("meta")?,
        metrics_listen: args.metrics_listen,
    };
    // Load the TLS files now so a missing certificate is reported before the store is opened.
    config.tls.server_config()?;
    let shutdown = service::shutdown_token(&args.supervision)?;
    let listener = service::bind(args.listen).await?;
    cang_meta::run(config, listener, shutdown)
        .await
        .context("metadata service")?;
    tracing::info!("cang meta stopped");
    Ok(())
}
