//! A response body that keeps its request's span open until the body has been streamed, and
//! records the gRPC status carried in the trailers.

use std::pin::Pin;
use std::task::{Context, Poll};

use hyper::body::{Body, Frame, SizeHint};
use pin_project_lite::pin_project;
use tracing::Span;

use super::grpc::{GrpcSide, record_grpc_status_header};

pin_project! {
    /// Wraps a response body; the span closes (and its duration ends) when this is dropped.
    pub struct TracedBody<B> {
        #[pin]
        inner: B,
        span: Span,
        grpc: Option<GrpcSide>,
    }
}

impl<B> TracedBody<B> {
    pub(crate) fn new(inner: B, span: Span, grpc: Option<GrpcSide>) -> Self {
        Self { inner, span, grpc }
    }
}

impl<B: std::fmt::Debug> std::fmt::Debug for TracedBody<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TracedBody")
            .field("inner", &self.inner)
            .finish_non_exhaustive()
    }
}

impl<B: Body> Body for TracedBody<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let this = self.project();
        let polled = this.inner.poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let (Some(side), Some(trailers)) = (*this.grpc, frame.trailers_ref()) {
                    record_grpc_status_header(this.span, trailers, side);
                }
            }
            Poll::Ready(Some(Err(_))) => {
                this.span.record("otel.status_code", "ERROR");
            }
            _ => {}
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
