//! Builds the process-wide subscriber: a `RUST_LOG`-style filter, JSON or pretty logs, and the
//! OpenTelemetry layer with an OTLP/gRPC batch exporter when configured.

use std::io::IsTerminal;

use opentelemetry::KeyValue;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::WithExportConfig;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing::Dispatch;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::{EnvFilter, Layer, Registry};

use crate::TelemetryError;
use crate::config::{LogFormat, OtlpConfig, OtlpProtocol, ServiceIdentity, TelemetryConfig};
use crate::json_log::JsonLogLayer;

/// Instrumentation scope name for spans created through `tracing`.
const TRACER_NAME: &str = "cang";

/// Keeps the tracer provider alive; dropping it flushes pending spans and shuts the exporter
/// down. Hold it in `main` until the runtime is about to stop.
#[derive(Debug)]
#[must_use = "dropping the guard shuts trace export down"]
pub struct TelemetryGuard {
    provider: Option<SdkTracerProvider>,
}

impl TelemetryGuard {
    /// Exports every finished span now. Blocks; on a multi-threaded Tokio runtime it moves
    /// off the worker first so the exporter's connection can make progress.
    pub fn force_flush(&self) -> Result<(), TelemetryError> {
        match &self.provider {
            Some(provider) => Ok(off_worker(|| provider.force_flush())?),
            None => Ok(()),
        }
    }

    /// Flushes and shuts the exporter down, reporting failure (dropping does the same silently).
    pub fn shutdown(mut self) -> Result<(), TelemetryError> {
        match self.provider.take() {
            Some(provider) => Ok(off_worker(|| provider.shutdown())?),
            None => Ok(()),
        }
    }
}

impl Drop for TelemetryGuard {
    fn drop(&mut self) {
        if let Some(provider) = self.provider.take() {
            // Drop cannot report; `shutdown` exists for callers who want the error.
            let _ = off_worker(|| provider.shutdown());
        }
    }
}

/// Runs a blocking flush without starving a multi-threaded runtime of the worker it sits on.
fn off_worker<T>(f: impl FnOnce() -> T) -> T {
    match tokio::runtime::Handle::try_current() {
        Ok(handle) if handle.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(f)
        }
        _ => f(),
    }
}

/// Installs the global subscriber, logging to stdout. With OTLP configured it must be called
/// inside a Tokio runtime (the exporter's gRPC channel lives on it), and a multi-threaded one
/// for the guard's final flush to complete.
pub fn init(config: &TelemetryConfig) -> Result<TelemetryGuard, TelemetryError> {
    let ansi = std::io::stdout().is_terminal();
    let (dispatch, guard) = build(config, std::io::stdout, ansi)?;
    tracing::dispatcher::set_global_default(dispatch).map_err(|_| TelemetryError::AlreadyInitialised)?;
    Ok(guard)
}

/// Like [`init`], but log lines go to `writer`.
pub fn init_with_writer<W>(config: &TelemetryConfig, writer: W) -> Result<TelemetryGuard, TelemetryError>
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let (dispatch, guard) = build(config, writer, false)?;
    tracing::dispatcher::set_global_default(dispatch).map_err(|_| TelemetryError::AlreadyInitialised)?;
    Ok(guard)
}

/// Builds the subscriber without installing it, for scoped use
/// (`tracing::dispatcher::set_default`) in tests or embedded services.
pub fn build<W>(
    config: &TelemetryConfig,
    writer: W,
    ansi: bool,
) -> Result<(Dispatch, TelemetryGuard), TelemetryError>
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let filter = EnvFilter::builder()
        .parse(&config.filter)
        .map_err(|e| TelemetryError::InvalidConfig {
            setting: "log filter",
            reason: e.to_string(),
        })?;
    let provider = tracer_provider(&config.service, config.otlp.as_ref())?;
    let otel = tracing_opentelemetry::layer().with_tracer(provider.tracer(TRACER_NAME));
    let logs: Box<dyn Layer<_> + Send + Sync> = match config.log_format {
        LogFormat::Json => Box::new(JsonLogLayer::new(writer)),
        LogFormat::Pretty => Box::new(
            tracing_subscriber::fmt::layer()
                .pretty()
                .with_ansi(ansi)
                .with_writer(writer),
        ),
    };
    let subscriber = Registry::default().with(filter).with(otel).with(logs);
    Ok((
        Dispatch::new(subscriber),
        TelemetryGuard {
            provider: Some(provider),
        },
    ))
}

/// The OpenTelemetry resource for `service`. `OTEL_RESOURCE_ATTRIBUTES` and the SDK's own
/// detectors apply first; the configured identity overrides them.
pub fn resource(service: &ServiceIdentity) -> Resource {
    Resource::builder()
        .with_service_name(service.name.clone())
        .with_attributes([
            KeyValue::new("service.version", service.version.clone()),
            KeyValue::new("service.instance.id", service.instance_id.clone()),
        ])
        .build()
}

/// A provider that always assigns trace and span ids (so propagation and log correlation work
/// without a collector) and exports in batches only when `otlp` is set.
fn tracer_provider(
    service: &ServiceIdentity,
    otlp: Option<&OtlpConfig>,
) -> Result<SdkTracerProvider, TelemetryError> {
    let builder = SdkTracerProvider::builder().with_resource(resource(service));
    let builder = match otlp {
        Some(OtlpConfig {
            endpoint,
            protocol: OtlpProtocol::Grpc,
        }) => {
            // The exporter's gRPC channel spawns its connection task on the current runtime;
            // without one, tonic would panic.
            if tokio::runtime::Handle::try_current().is_err() {
                return Err(TelemetryError::InvalidConfig {
                    setting: "OTLP export",
                    reason: "must be initialised inside a Tokio runtime".to_owned(),
                });
            }
            // `with_tonic()` is essential: the builder otherwise selects the HTTP transport.
            let exporter = opentelemetry_otlp::SpanExporter::builder()
                .with_tonic()
                .with_endpoint(endpoint.clone())
                .build()?;
            builder.with_batch_exporter(exporter)
        }
        None => builder,
    };
    Ok(builder.build())
}
