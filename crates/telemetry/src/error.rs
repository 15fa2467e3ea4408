//! Errors raised while configuring telemetry or serving metrics.

use thiserror::Error;

/// Why telemetry could not be configured, started or shut down.
#[derive(Debug, Error)]
pub enum TelemetryError {
    /// A configuration value (filter, format or an `OTEL_*` variable) is malformed or unsupported.
    #[error("invalid telemetry configuration for {setting}: {reason}")]
    InvalidConfig {
        /// The setting or environment variable at fault.
        setting: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// The OTLP span exporter could not be built (for example an unparsable endpoint URI).
    #[error("cannot build the OTLP span exporter: {0}")]
    Exporter(#[from] opentelemetry_otlp::ExporterBuildError),
    /// A global tracing subscriber was installed before `init` ran.
    #[error("a global tracing subscriber is already installed")]
    AlreadyInitialised,
    /// Flushing or shutting down the tracer provider failed.
    #[error("cannot flush or shut down the tracer provider: {0}")]
    Shutdown(#[from] opentelemetry_sdk::error::OTelSdkError),
    /// Encoding the metrics registry as text failed.
    #[error("cannot encode metrics")]
    MetricsEncoding,
}
