//! Telemetry for the Cang services: structured logs carrying trace ids, OpenTelemetry traces
//! exported over OTLP/gRPC, W3C trace-context propagation for tonic and hyper, and a Prometheus
//! metrics registry with a `/metrics` handler.
//!
//! A service calls [`init`] once in `main`, wraps its tonic server and clients in
//! [`GrpcServerLayer`] / [`GrpcClientLayer`] (or its hyper handler in [`HttpServerLayer`]), and
//! records metrics through the typed handles of [`Metrics`].

pub mod attributes;
mod config;
mod error;
mod init;
mod json_log;
pub mod metrics;
pub mod propagation;
mod redact;
#[cfg(feature = "test-support")]
pub mod test_support;

pub use config::{
    ENV_OTLP_ENDPOINT, ENV_OTLP_PROTOCOL, ENV_OTLP_TRACES_ENDPOINT, ENV_OTLP_TRACES_PROTOCOL,
    ENV_SDK_DISABLED, ENV_TRACES_EXPORTER, LogFormat, OtlpConfig, OtlpProtocol, ServiceIdentity,
    TelemetryConfig,
};
pub use error::TelemetryError;
pub use init::{TelemetryGuard, build, init, init_with_writer, resource};
pub use metrics::Metrics;
pub use propagation::{GrpcClientLayer, GrpcServerLayer, HttpServerLayer};
pub use redact::{REDACTED, Redacted};
