//! Telemetry for the Cang services: structured logs carrying trace ids, OpenTelemetry traces
//! exported over OTLP/gRPC, W3C trace-context propagation for tonic and hyper, and a Prometheus
//! metrics registry with a `/metrics` handler.
//!
//! A service calls [`init`] once in `main`, wraps its tonic server and clients in
//! [`GrpcServerLayer`] / [`GrpcClientLayer`] (or its hyper handler in [`HttpServerLayer`]), and
//! records metrics through the typed handles of [`Metrics`] ([`GrpcMetricsLayer`] counts and
//! times every tonic call by method and gRPC code).
//!
//! ```no_run
//! use std::sync::Arc;
//! use std::time::Instant;
//!
//! use cang_telemetry::metrics::http::serve_metrics;
//! use cang_telemetry::{GrpcClientLayer, GrpcServerLayer, HttpServerLayer, Metrics};
//! use cang_telemetry::{OtlpConfig, ServiceIdentity, TelemetryConfig};
//! use tower::{Layer, ServiceBuilder};
//!
//! # async fn run(
//! #     kms_channel: tonic::transport::Channel,
//! #     http: tokio::net::TcpListener,
//! #     metrics_listener: tokio::net::TcpListener,
//! # ) -> anyhow::Result<()> {
//! // main: a typed config from flags and the standard OTEL_* variables; keep the guard.
//! let service = ServiceIdentity {
//!     name: "cang-gateway".into(),
//!     version: env!("CARGO_PKG_VERSION").into(),
//!     instance_id: "gateway-0".into(),
//! };
//! let mut config = TelemetryConfig::new(service);
//! config.otlp = OtlpConfig::from_env(|k| std::env::var(k).ok())?;
//! let _telemetry = cang_telemetry::init(&config)?;
//!
//! // tonic server: extracts `traceparent`, opens a server span per call.
//! let (_reporter, health) = tonic_health::server::health_reporter();
//! let _server = tonic::transport::Server::builder().layer(GrpcServerLayer).add_service(health);
//!
//! // tonic client: opens a client span per call and injects its context.
//! let traced = ServiceBuilder::new().layer(GrpcClientLayer).service(kms_channel);
//! let _kms = tonic_health::pb::health_client::HealthClient::new(traced);
//!
//! // Metrics: typed handles, and a `/metrics` listener of its own.
//! let metrics = Arc::new(Metrics::new());
//! tokio::spawn(serve_metrics(metrics_listener, Arc::clone(&metrics), std::future::pending()));
//!
//! // hyper gateway: an SDK request carrying `traceparent` joins the caller's trace.
//! let (stream, _) = http.accept().await?;
//! let handler = hyper::service::service_fn(move |_req: http::Request<hyper::body::Incoming>| {
//!     let metrics = Arc::clone(&metrics);
//!     async move {
//!         let started = Instant::now();
//!         tracing::Span::current().record("oss.operation", "GetObject");
//!         metrics.requests.observe("GetObject", 200u16, started.elapsed());
//!         Ok::<_, std::convert::Infallible>(http::Response::new(http_body_util::Full::new(
//!             bytes::Bytes::from_static(b"ok"),
//!         )))
//!     }
//! });
//! hyper::server::conn::http1::Builder::new()
//!     .serve_connection(hyper_util::rt::TokioIo::new(stream), HttpServerLayer.layer(handler))
//!     .await?;
//! # Ok(())
//! # }
//! ```

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
pub use metrics::{GrpcMetricsLayer, Metrics};
pub use propagation::{GrpcClientLayer, GrpcServerLayer, HttpServerLayer};
pub use redact::{REDACTED, Redacted};
