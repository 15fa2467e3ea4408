//! HTTP server spans for the hyper gateway: the caller's `traceparent` becomes the parent, and
//! the span carries `http.request.method`, `url.path` and `http.response.status_code`.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use http::{Request, Response, StatusCode};
use tower::{Layer, Service};
use tracing::field::Empty;
use tracing::{Instrument, Span};
use tracing_opentelemetry::OpenTelemetrySpanExt;

use super::body::TracedBody;
use super::extract;

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// Opens a server span for `req`, child of the context in its `traceparent` (a new trace when
/// absent). The OSS fields are declared empty for the handler to fill with `Span::record` once
/// the request is routed; the query string is never recorded (presigned URLs sign there).
pub fn http_server_span<B>(req: &Request<B>) -> Span {
    let method = req.method().as_str();
    let span = tracing::info_span!(
        "http.server",
        otel.name = %method,
        otel.kind = "server",
        otel.status_code = Empty,
        http.request.method = %method,
        url.path = %req.uri().path(),
        http.response.status_code = Empty,
        error.type = Empty,
        oss.operation = Empty,
        oss.bucket = Empty,
        oss.object.size = Empty,
        cang.sse.algorithm = Empty,
    );
    // Setting a parent only fails once the span has started, which it has not.
    let _ = span.set_parent(extract(req.headers()));
    span
}

/// Records the response status; 5xx marks the span as an error (4xx is the client's fault and,
/// per the conventions, not a server span error).
pub fn record_http_response(span: &Span, status: StatusCode) {
    span.record("http.response.status_code", status.as_u16());
    if status.is_server_error() {
        span.record("otel.status_code", "ERROR");
        span.record("error.type", status.as_str());
    }
}

/// Layer for the gateway's HTTP service. The wrapped service works both as a tower service and
/// as a hyper service: `http1::Builder::new().serve_connection(io, HttpServerLayer.layer(service_fn(handle)))`.
#[derive(Debug, Clone, Copy, Default)]
pub struct HttpServerLayer;

impl<S> Layer<S> for HttpServerLayer {
    type Service = HttpServerService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        HttpServerService { inner }
    }
}

/// The service produced by [`HttpServerLayer`].
#[derive(Debug, Clone)]
pub struct HttpServerService<S> {
    inner: S,
}

fn traced<F, ResBody, E>(fut: F, span: Span) -> BoxFuture<Result<Response<TracedBody<ResBody>>, E>>
where
    F: Future<Output = Result<Response<ResBody>, E>> + Send + 'static,
    ResBody: Send + 'static,
    E: 'static,
{
    Box::pin(async move {
        match fut.instrument(span.clone()).await {
            Ok(response) => {
                record_http_response(&span, response.status());
                Ok(response.map(|body| TracedBody::new(body, span, None)))
            }
            Err(err) => {
                span.record("otel.status_code", "ERROR");
                Err(err)
            }
        }
    })
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for HttpServerService<S>
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
        let span = http_server_span(&req);
        let fut = span.in_scope(|| self.inner.call(req));
        traced(fut, span)
    }
}

impl<S, ReqBody, ResBody> hyper::service::Service<Request<ReqBody>> for HttpServerService<S>
where
    S: hyper::service::Service<Request<ReqBody>, Response = Response<ResBody>>,
    S::Future: Send + 'static,
    S::Error: 'static,
    ResBody: Send + 'static,
{
    type Response = Response<TracedBody<ResBody>>;
    type Error = S::Error;
    type Future = BoxFuture<Result<Self::Response, Self::Error>>;

    fn call(&self, req: Request<ReqBody>) -> Self::Future {
        let span = http_server_span(&req);
        let fut = span.in_scope(|| self.inner.call(req));
        traced(fut, span)
    }
}
