//! A tower layer for tonic servers that counts every call in `cang_requests_total` and
//! observes `cang_request_duration_seconds`, labelled by `service/method` and gRPC code name.
//! The call ends when its status is known: in the response headers (trailers-only responses)
//! or in the trailers after the last message, so streaming calls are timed end to end.

use std::borrow::Cow;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use http::{HeaderMap, Request, Response};
use hyper::body::{Body, Frame, SizeHint};
use pin_project_lite::pin_project;
use tower::{Layer, Service};

use super::{Metrics, Status};

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// Operation label for calls answered `Unimplemented`: their paths come from the caller and
/// must not become label values.
const UNKNOWN_OPERATION: &str = "unknown";

fn grpc_code(headers: &HeaderMap) -> Option<tonic::Code> {
    headers
        .get("grpc-status")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<i32>().ok())
        .map(tonic::Code::from_i32)
}

/// One call whose outcome is not yet known. Dropped unfinished (the client went away or the
/// body failed), it counts as `Cancelled`.
struct PendingCall {
    metrics: Arc<Metrics>,
    operation: String,
    started: Instant,
    finished: bool,
}

impl PendingCall {
    fn finish(&mut self, code: tonic::Code) {
        if self.finished {
            return;
        }
        self.finished = true;
        let operation = if code == tonic::Code::Unimplemented {
            Cow::Borrowed(UNKNOWN_OPERATION)
        } else {
            Cow::Owned(std::mem::take(&mut self.operation))
        };
        self.metrics
            .requests
            .observe_labels(operation, Status::from(code), self.started.elapsed());
    }
}

impl Drop for PendingCall {
    fn drop(&mut self) {
        self.finish(tonic::Code::Cancelled);
    }
}

pin_project! {
    /// Response body that completes the call's measurement when its trailers arrive.
    pub struct MeteredBody<B> {
        #[pin]
        inner: B,
        pending: Option<PendingCall>,
    }
}

impl<B: std::fmt::Debug> std::fmt::Debug for MeteredBody<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MeteredBody")
            .field("inner", &self.inner)
            .finish_non_exhaustive()
    }
}

impl<B: Body> Body for MeteredBody<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let this = self.project();
        let polled = this.inner.poll_frame(cx);
        let code = match &polled {
            Poll::Ready(Some(Ok(frame))) => frame.trailers_ref().and_then(grpc_code),
            _ => None,
        };
        if let (Some(code), Some(pending)) = (code, this.pending.as_mut()) {
            pending.finish(code);
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// `Server::builder().layer(GrpcMetricsLayer::new(metrics))`.
#[derive(Debug, Clone)]
pub struct GrpcMetricsLayer {
    metrics: Arc<Metrics>,
}

impl GrpcMetricsLayer {
    /// Records into `metrics.requests`.
    pub fn new(metrics: Arc<Metrics>) -> Self {
        Self { metrics }
    }
}

impl<S> Layer<S> for GrpcMetricsLayer {
    type Service = GrpcMetricsService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        GrpcMetricsService {
            inner,
            metrics: Arc::clone(&self.metrics),
        }
    }
}

/// The service produced by [`GrpcMetricsLayer`].
#[derive(Debug, Clone)]
pub struct GrpcMetricsService<S> {
    inner: S,
    metrics: Arc<Metrics>,
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for GrpcMetricsService<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    S::Future: Send + 'static,
    S::Error: 'static,
    ResBody: Send + 'static,
{
    type Response = Response<MeteredBody<ResBody>>;
    type Error = S::Error;
    type Future = BoxFuture<Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<ReqBody>) -> Self::Future {
        let mut pending = PendingCall {
            metrics: Arc::clone(&self.metrics),
            operation: req.uri().path().trim_start_matches('/').to_owned(),
            started: Instant::now(),
            finished: false,
        };
        let fut = self.inner.call(req);
        Box::pin(async move {
            let response = fut.await?;
            // A trailers-only response carries its status in the headers.
            if let Some(code) = grpc_code(response.headers()) {
                pending.finish(code);
            }
            Ok(response.map(|inner| MeteredBody {
                inner,
                pending: Some(pending),
            }))
        })
    }
}
