//! What every service subcommand shares: TLS file flags, log flags and telemetry setup, binding the
//! listener, and turning SIGINT/SIGTERM (or the death of a supervising `cang up`) into a shutdown token.

use std::io::IsTerminal;
use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::{Context, bail};
use cang_telemetry::{LogFormat, OtlpConfig, TelemetryConfig, TelemetryGuard};
use cang_tls::TlsFiles;
use clap::Args;
use tokio::net::TcpListener;
use tokio::signal::unix::{SignalKind, signal};
use tokio_util::sync::CancellationToken;

/// Where this party's mTLS files are: a directory laid out by the dev PKI, or explicit paths.
#[derive(Debug, Clone, Args)]
pub struct TlsArgs {
    /// Directory holding ca.pem, <name>.pem and <name>-key.pem.
    #[arg(long, env = "CANG_TLS_DIR")]
    pub tls_dir: Option<PathBuf>,
    /// Identity whose certificate to present from --tls-dir (defaults to the subcommand's own).
    #[arg(long, env = "CANG_TLS_NAME")]
    pub tls_name: Option<String>,
    /// CA certificate (PEM) every peer must chain to; overrides --tls-dir.
    #[arg(long, env = "CANG_TLS_CA", requires_all = ["tls_cert", "tls_key"])]
    pub tls_ca: Option<PathBuf>,
    /// This party's certificate (PEM).
    #[arg(long, env = "CANG_TLS_CERT", requires_all = ["tls_ca", "tls_key"])]
    pub tls_cert: Option<PathBuf>,
    /// This party's private key (PKCS#8 PEM).
    #[arg(long, env = "CANG_TLS_KEY", requires_all = ["tls_ca", "tls_cert"])]
    pub tls_key: Option<PathBuf>,
}

impl TlsArgs {
    /// The files to load, with `default_name` as identity when none was given.
    pub fn files(&self, default_name: &str) -> anyhow::Result<TlsFiles> {
        if let (Some(ca), Some(cert), Some(key)) = (&self.tls_ca, &self.tls_cert, &self.tls_key) {
            return Ok(TlsFiles {
                ca: ca.clone(),
                cert: cert.clone(),
                key: key.clone(),
            });
        }
        match &self.tls_dir {
            Some(dir) => Ok(TlsFiles::in_dir(
                dir,
                self.tls_name.as_deref().unwrap_or(default_name),
            )),
            None => bail!("no TLS files: pass --tls-dir DIR, or --tls-ca, --tls-cert and --tls-key"),
        }
    }
}

/// Log output settings.
#[derive(Debug, Clone, Args)]
pub struct LogArgs {
    /// Log line format: json or pretty (default: pretty on a terminal, json otherwise).
    #[arg(long, env = "CANG_LOG_FORMAT")]
    pub log_format: Option<LogFormat>,
    /// Log filter, RUST_LOG syntax (e.g. `info,cang_kms=debug`).
    #[arg(long = "log", env = "CANG_LOG", default_value = "info")]
    pub log_filter: String,
}

/// Lifecycle flags set by a supervising `cang up`; not meant for operators.
#[derive(Debug, Clone, Args)]
pub struct SupervisionArgs {
    /// Exit when the process with this id stops being our parent.
    #[arg(long, hide = true)]
    pub parent_pid: Option<i32>,
}

/// Installs logging and tracing for `service` (e.g. `cang-kms`); OTLP export follows the `OTEL_*`
/// variables. Must run inside the Tokio runtime.
pub fn init_telemetry(service: &str, logs: &LogArgs) -> anyhow::Result<TelemetryGuard> {
    let otlp = OtlpConfig::from_env(|k| std::env::var(k).ok()).context("OpenTelemetry settings")?;
    let log_format = logs.log_format.unwrap_or(if std::io::stdout().is_terminal() {
        LogFormat::Pretty
    } else {
        LogFormat::Json
    });
    let config = TelemetryConfig {
        service: cang_telemetry::ServiceIdentity {
            name: service.to_owned(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
            instance_id: uuid::Uuid::new_v4().to_string(),
        },
        log_format,
        filter: logs.log_filter.clone(),
        otlp,
    };
    cang_telemetry::init(&config).context("logging")
}

/// Binds the service's TCP listener.
pub async fn bind(addr: SocketAddr) -> anyhow::Result<TcpListener> {
    TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr}"))
}

/// A token cancelled on SIGINT or SIGTERM, or when the supervising parent (if any) goes away.
pub fn shutdown_token(supervision: &SupervisionArgs) -> anyhow::Result<CancellationToken> {
    let token = CancellationToken::new();
    let mut term = signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;
    let mut int = signal(SignalKind::interrupt()).context("installing the SIGINT handler")?;
    let cancel = token.clone();
    tokio::spawn(async move {
        let name = tokio::select! {
            _ = term.recv() => "SIGTERM",
            _ = int.recv() => "SIGINT",
        };
        tracing::info!(signal = name, "shutting down");
        cancel.cancel();
    });
    if let Some(parent) = supervision.parent_pid {
        watch_parent(parent, token.clone())?;
    }
    Ok(token)
}

/// Asks the kernel for SIGTERM when our parent dies, then checks it has not died already (in which case
/// we were reparented before the request took effect).
fn watch_parent(parent: i32, token: CancellationToken) -> anyhow::Result<()> {
    rustix::process::set_parent_process_death_signal(Some(rustix::process::Signal::TERM))
        .context("requesting the parent-death signal")?;
    let current = rustix::process::getppid().map(rustix::process::Pid::as_raw_nonzero);
    if current.map(i32::from) != Some(parent) {
        tracing::warn!(parent, "supervising process is gone; shutting down");
        token.cancel();
    }
    Ok(())
}

/// A multi-threaded runtime for a service process.
/// Runs a service to completion on a fresh runtime, then leaves the runtime to process exit.
///
/// By the time `service` returns it has drained its requests, closed its store and flushed telemetry.
/// Tearing the runtime down would drop tasks still parked on worker threads (idle connections, their
/// spans) while those threads' thread-locals are being destroyed, which aborts the process inside the
/// tracing layer; the operating system reclaims everything just as well.
pub fn run_service<F: std::future::Future<Output = anyhow::Result<()>>>(service: F) -> anyhow::Result<()> {
    let runtime = runtime()?;
    let result = runtime.block_on(service);
    std::mem::forget(runtime);
    result
}

pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
}
