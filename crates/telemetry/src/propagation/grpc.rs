//! Tower layers for tonic: the client layer opens a client span and injects its context into
//! the outgoing metadata; the server layer extracts the caller's context and opens a server span
//! as its child. Both record `rpc.grpc.status_code` from headers or trailers.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use http::{HeaderMap, Request, Response};
use tower::{Layer, Service};
use tracing::field::Empty;
use tracing::{Instrument, Span};
use tracing_opentelemetry::OpenTelemetrySpanExt;

use super::body::TracedBody;
use super::{extract, inject};

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// Which end of the call a span describes; error classification differs between the two.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum GrpcSide {
    Client,
    Server,
}

/// Splits `/cang.kms.v1.Kms/GenerateDataKey` into service and method.
fn service_and_method(path: &str) -> (&str, &str) {
    path.trim_start_matches('/').split_once('/').unwrap_or((path, ""))
}

/// Records `grpc-status` from a header or trailer block, if present.
pub(crate) fn record_grpc_status_header(span: &Span, headers: &HeaderMap, side: GrpcSide) {
    let code = headers
        .get("grpc-status")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<i32>().ok());
    if let Some(code) = code {
        record_grpc_status(span, code, side);
    }
}

/// Sets `rpc.grpc.status_code` and, per the semantic conventions, the error status: every
/// non-OK code on a client; only server-fault codes on a server.
fn record_grpc_status(span: &Span, code: i32, side: GrpcSide) {
    span.record("rpc.grpc.status_code", code);
    let tonic_code = tonic::Code::from_i32(code);
    let is_error = match side {
        GrpcSide::Client => tonic_code != tonic::Code::Ok,
        GrpcSide::Server => matches!(
            tonic_code,
            tonic::Code::Unknown
                | tonic::Code::DeadlineExceeded
                | tonic::Code::Unimplemented
                | tonic::Code::Internal
                | tonic::Code::Unavailable
                | tonic::Code::DataLoss
        ),
    };
    if is_error {
        span.record("otel.status_code", "ERROR");
        span.record("error.type", tracing::field::debug(tonic_code));
    }
}

fn grpc_span<B>(req: &Request<B>, side: GrpcSide) -> Span {
    let (service, method) = service_and_method(req.uri().path());
    let name = format!("{service}/{method}");
    match side {
        GrpcSide::Client => tracing::info_span!(
            "grpc.client",
            otel.name = %name,
            otel.kind = "client",
            otel.status_code = Empty,
            rpc.system = "grpc",
            rpc.service = %service,
            rpc.method = %method,
            rpc.grpc.status_code = Empty,
            error.type = Empty,
        ),
        GrpcSide::Server => tracing::info_span!(
            "grpc.server",
            otel.name = %name,
            otel.kind = "server",
            otel.status_code = Empty,
            rpc.system = "grpc",
            rpc.service = %service,
            rpc.method = %method,
            rpc.grpc.status_code = Empty,
            error.type = Empty,
        ),
    }
}

/// Wraps the call future: records a status sent in the response headers (trailers-only
/// responses) and hands the span to the body so it stays open while the body streams.
fn traced_call<F, ResBody, E>(
    fut: F,
    span: Span,
    side: GrpcSide,
) -> BoxFuture<Result<Response<TracedBody<ResBody>>, E>>
where
    F: Future<Output = Result<Response<ResBody>, E>> + Send + 'static,
    ResBody: Send + 'static,
    E: 'static,
{
    Box::pin(async move {
        match fut.instrument(span.clone()).await {
            Ok(response) => {
                record_grpc_status_header(&span, response.headers(), side);
                Ok(response.map(|body| TracedBody::new(body, span, Some(side))))
            }
            Err(err) => {
                span.record("otel.status_code", "ERROR");
                span.record("error.type", "transport");
                Err(err)
            }
        }
    })
}

/// Tower layer for tonic servers: `Server::builder().layer(GrpcServerLayer)`.
#[derive(Debug, Clone, Copy, Default)]
pub struct GrpcServerLayer;

impl<S> Layer<S> for GrpcServerLayer {
    type Service = GrpcServerService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        GrpcServerService { inner }
    }
}

/// The service produced by [`GrpcServerLayer`].
#[derive(Debug, Clone)]
pub struct GrpcServerService<S> {
    inner: S,
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for GrpcServerService<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    S::Future: Send + 'static,
    S::Error: 'static,
    ResBody: Send + 'static,
{
    type Response = Response<TracedBody<ResBody>>;
    type Error = S::Error;
    type Future = BoxFuture<Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<ReqBody>) -> Self::Future {
        let span = grpc_span(&req, GrpcSide::Server);
        // Setting a parent only fails once the span has started, which it has not.
        let _ = span.set_parent(extract(req.headers()));
        let fut = span.in_scope(|| self.inner.call(req));
        traced_call(fut, span, GrpcSide::Server)
    }
}

/// Tower layer for tonic clients:
/// `KmsClient::new(ServiceBuilder::new().layer(GrpcClientLayer).service(channel))`.
#[derive(Debug, Clone, Copy, Default)]
pub struct GrpcClientLayer;

impl<S> Layer<S> for GrpcClientLayer {
    type Service = GrpcClientService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        GrpcClientService { inner }
    }
}

/// The service produced by [`GrpcClientLayer`].
#[derive(Debug, Clone)]
pub struct GrpcClientService<S> {
    inner: S,
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for GrpcClientService<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    S::Future: Send + 'static,
    S::Error: 'static,
    ResBody: Send + 'static,
{
    type Response = Response<TracedBody<ResBody>>;
    type Error = S::Error;
    type Future = BoxFuture<Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<ReqBody>) -> Self::Future {
        let span = grpc_span(&req, GrpcSide::Client);
        inject(&span.context(), req.headers_mut());
        let fut = span.in_scope(|| self.inner.call(req));
        traced_call(fut, span, GrpcSide::Client)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_grpc_paths() {
        assert_eq!(
            service_and_method("/cang.kms.v1.Kms/GenerateDataKey"),
            ("cang.kms.v1.Kms", "GenerateDataKey")
        );
        assert_eq!(
            service_and_method("/grpc.health.v1.Health/Check"),
            ("grpc.health.v1.Health", "Check")
        );
        assert_eq!(service_and_method("/odd"), ("/odd", ""));
    }
}
