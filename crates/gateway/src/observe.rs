//! What the gateway reports about each request: the OSS operation, bucket and request id on the request's
//! span once it is routed; then the status, object size and SSE algorithm seen in the response, and the
//! request counters and latency histograms by operation and status.

use std::time::Instant;

use cang_oss::Route;
use cang_telemetry::{Metrics, attributes};
use http::{HeaderMap, Response};
use opentelemetry::KeyValue;
use tracing::Span;

use crate::body::ResponseBody;

/// Operation label of a request that never got routed (bad host, malformed path).
const UNROUTED: &str = "Unrouted";

/// One request being observed.
#[derive(Debug)]
pub(crate) struct Observed {
    started: Instant,
    operation: &'static str,
}

impl Observed {
    /// Starts the clock and names the request id on the current span.
    pub(crate) fn start(request_id: &str) -> Self {
        attributes::set_attributes([KeyValue::new("oss.request_id", request_id.to_owned())]);
        Self {
            started: Instant::now(),
            operation: UNROUTED,
        }
    }

    /// Records the operation and bucket once the request is routed.
    pub(crate) fn routed(&mut self, route: &Route) {
        self.operation = route.endpoint.name();
        let span = Span::current();
        span.record(attributes::OSS_OPERATION, self.operation);
        if let Some(bucket) = route.bucket() {
            span.record(attributes::OSS_BUCKET, bucket);
        }
    }

    /// Records what the response says about the object and counts the request.
    pub(crate) fn finish(self, metrics: &Metrics, response: &Response<ResponseBody>) {
        let status = response.status();
        let span = Span::current();
        if status.is_success() {
            if let Some(size) = object_size(self.operation, response.headers()) {
                span.record(attributes::OSS_OBJECT_SIZE, size);
            }
            if let Some(algorithm) = sse_algorithm(self.operation, response.headers()) {
                span.record(attributes::CANG_SSE_ALGORITHM, algorithm);
            }
        }
        metrics
            .requests
            .observe(self.operation, status.as_u16(), self.started.elapsed());
    }
}

/// Operations whose response describes one object's data.
fn reads_object(operation: &str) -> bool {
    matches!(operation, "GetObject" | "HeadObject")
}

/// Operations that write one object's (or part's) data.
fn writes_object(operation: &str) -> bool {
    matches!(
        operation,
        "PutObject" | "AppendObject" | "CopyObject" | "UploadPart" | "UploadPartCopy"
    )
}

/// The whole object's plaintext size for a read: the total of `Content-Range` when ranged, else
/// `Content-Length`. Writes record their size while sealing.
fn object_size(operation: &str, headers: &HeaderMap) -> Option<u64> {
    if !reads_object(operation) {
        return None;
    }
    let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    match text("content-range") {
        Some(range) => range.rsplit_once('/').and_then(|(_, total)| total.parse().ok()),
        None => text("content-length").and_then(|v| v.parse().ok()),
    }
}

/// The SSE algorithm the response echoes, or `none` for an object operation without one.
fn sse_algorithm<'h>(operation: &str, headers: &'h HeaderMap) -> Option<&'h str> {
    match headers
        .get("x-oss-server-side-encryption")
        .and_then(|v| v.to_str().ok())
    {
        Some(algorithm) => Some(algorithm),
        None if reads_object(operation) || writes_object(operation) => Some("none"),
        None => None,
    }
}

#[cfg(test)]
mod tests {
    use http::HeaderValue;

    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn object_size_of_a_ranged_read_is_the_whole_object() {
        let ranged = headers(&[("content-range", "bytes 10-19/4096"), ("content-length", "10")]);
        assert_eq!(object_size("GetObject", &ranged), Some(4096));
        let whole = headers(&[("content-length", "77")]);
        assert_eq!(object_size("HeadObject", &whole), Some(77));
        assert_eq!(object_size("PutObject", &whole), None);
        assert_eq!(object_size("ListObjects", &whole), None);
        let unknown_total = headers(&[("content-range", "bytes 0-1/*")]);
        assert_eq!(object_size("GetObject", &unknown_total), None);
    }

    #[test]
    fn algorithm_is_the_echo_or_none_for_object_data() {
        let kms = headers(&[("x-oss-server-side-encryption", "KMS")]);
        assert_eq!(sse_algorithm("GetObject", &kms), Some("KMS"));
        assert_eq!(sse_algorithm("PutObject", &HeaderMap::new()), Some("none"));
        assert_eq!(sse_algorithm("GetBucketInfo", &HeaderMap::new()), None);
    }
}
