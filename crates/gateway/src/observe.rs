//! What the gateway reports about each request: the OSS operation, bucket and request id on the request's
//! span once it is routed; then the status, object size and SSE algorithm seen in the response, and the
//! request counters and latency histograms by operation and status; and one access-log line (target
//! `cang::access`): who did what to which object, the outcome, bytes, duration and trace id — never a
//! signature, secret or query string.

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
    request_id: String,
    bucket: Option<String>,
    key: Option<String>,
    principal: Option<String>,
    access_key_id: Option<String>,
    error_code: Option<&'static str>,
}

/// The access-log line of one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AccessRecord<'a> {
    pub(crate) request_id: &'a str,
    pub(crate) principal: &'a str,
    pub(crate) access_key_id: &'a str,
    pub(crate) operation: &'static str,
    pub(crate) bucket: &'a str,
    pub(crate) key: &'a str,
    pub(crate) status: u16,
    pub(crate) error_code: &'static str,
    pub(crate) bytes_in: u64,
    pub(crate) bytes_out: u64,
    pub(crate) duration_ms: u64,
}

impl Observed {
    /// Starts the clock and names the request id on the current span.
    pub(crate) fn start(request_id: &str) -> Self {
        attributes::set_attributes([KeyValue::new("oss.request_id", request_id.to_owned())]);
        Self {
            started: Instant::now(),
            operation: UNROUTED,
            request_id: request_id.to_owned(),
            bucket: None,
            key: None,
            principal: None,
            access_key_id: None,
            error_code: None,
        }
    }

    /// Records who the caller is, once the signature verified.
    pub(crate) fn authenticated(&mut self, principal: &crate::authorize::Principal) {
        use crate::authorize::Principal;
        self.principal = Some(principal.id());
        self.access_key_id = match principal {
            Principal::Anonymous => None,
            Principal::AccountRoot { access_key_id, .. } | Principal::RamUser { access_key_id, .. } => {
                Some(access_key_id.clone())
            }
        };
    }

    /// Records the OSS error code a failed request was answered with.
    pub(crate) fn failed(&mut self, code: cang_oss::ErrorCode) {
        self.error_code = Some(code.as_str());
    }

    /// Records the operation and bucket once the request is routed.
    pub(crate) fn routed(&mut self, route: &Route) {
        self.operation = route.endpoint.name();
        self.bucket = route.bucket().map(str::to_owned);
        self.key = route.key().map(str::to_owned);
        let span = Span::current();
        span.record(attributes::OSS_OPERATION, self.operation);
        if let Some(bucket) = route.bucket() {
            span.record(attributes::OSS_BUCKET, bucket);
        }
    }

    /// Records what the response says about the object, counts the request and, when `access_log` is on,
    /// writes its access-log line. `bytes_in` is the request's declared body length.
    pub(crate) fn finish(
        self,
        metrics: &Metrics,
        response: &Response<ResponseBody>,
        bytes_in: u64,
        access_log: bool,
    ) {
        if access_log {
            let record = self.record(response, bytes_in);
            tracing::info!(
                target: "cang::access",
                request_id = record.request_id,
                principal = record.principal,
                access_key_id = record.access_key_id,
                operation = record.operation,
                bucket = record.bucket,
                key = record.key,
                status = record.status,
                error_code = record.error_code,
                bytes_in = record.bytes_in,
                bytes_out = record.bytes_out,
                duration_ms = record.duration_ms,
                trace_id = attributes::current_trace_id().unwrap_or_default(),
                "access"
            );
        }
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

impl Observed {
    /// The access-log line of the finished request (empty strings for what it never reached).
    pub(crate) fn record(&self, response: &Response<ResponseBody>, bytes_in: u64) -> AccessRecord<'_> {
        use hyper::body::Body as _;
        AccessRecord {
            request_id: &self.request_id,
            principal: self.principal.as_deref().unwrap_or(""),
            access_key_id: self.access_key_id.as_deref().unwrap_or(""),
            operation: self.operation,
            bucket: self.bucket.as_deref().unwrap_or(""),
            key: self.key.as_deref().unwrap_or(""),
            status: response.status().as_u16(),
            error_code: self.error_code.unwrap_or(""),
            bytes_in,
            bytes_out: response.body().size_hint().exact().unwrap_or(0),
            duration_ms: u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX),
        }
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
    fn the_access_record_names_caller_object_outcome_and_bytes() {
        let mut observed = Observed::start("REQ1");
        observed.authenticated(&crate::authorize::Principal::AccountRoot {
            account: "1001".into(),
            access_key_id: "LTAIroot".into(),
        });
        observed.failed(cang_oss::ErrorCode::NoSuchKey);
        let mut response = Response::new(ResponseBody::full("<Error/>"));
        *response.status_mut() = http::StatusCode::NOT_FOUND;
        let record = observed.record(&response, 12);
        assert_eq!(record.request_id, "REQ1");
        assert_eq!(record.principal, "1001");
        assert_eq!(record.access_key_id, "LTAIroot");
        assert_eq!(record.operation, UNROUTED);
        assert_eq!((record.status, record.error_code), (404, "NoSuchKey"));
        assert_eq!((record.bytes_in, record.bytes_out), (12, 8));
        let anonymous = Observed::start("REQ2");
        let record = anonymous.record(&Response::new(ResponseBody::empty()), 0);
        assert_eq!((record.principal, record.access_key_id), ("", ""));
    }

    #[test]
    fn algorithm_is_the_echo_or_none_for_object_data() {
        let kms = headers(&[("x-oss-server-side-encryption", "KMS")]);
        assert_eq!(sse_algorithm("GetObject", &kms), Some("KMS"));
        assert_eq!(sse_algorithm("PutObject", &HeaderMap::new()), Some("none"));
        assert_eq!(sse_algorithm("GetBucketInfo", &HeaderMap::new()), None);
    }
}
