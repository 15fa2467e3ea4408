//! Span attribute names: the OpenTelemetry semantic conventions Cang uses, and Cang's own
//! (`oss.*`, `cang.*`), plus helpers that attach them to the current `tracing` span.
//!
//! Values are metadata only. Key material and object contents never become attributes; wrap
//! anything secret in [`crate::Redacted`] if it must be named at all.

use opentelemetry::KeyValue;
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// `rpc.system` (always `grpc` here).
pub const RPC_SYSTEM: &str = "rpc.system";
/// `rpc.service`: the fully qualified gRPC service, `cang.kms.v1.Kms`.
pub const RPC_SERVICE: &str = "rpc.service";
/// `rpc.method`: the gRPC method, `GenerateDataKey`.
pub const RPC_METHOD: &str = "rpc.method";
/// `rpc.grpc.status_code`: the numeric gRPC status.
pub const RPC_GRPC_STATUS_CODE: &str = "rpc.grpc.status_code";
/// `http.request.method`.
pub const HTTP_REQUEST_METHOD: &str = "http.request.method";
/// `http.response.status_code`.
pub const HTTP_RESPONSE_STATUS_CODE: &str = "http.response.status_code";
/// `url.path` (never the query: presigned URLs carry signatures there).
pub const URL_PATH: &str = "url.path";
/// `error.type`: a low-cardinality error class (status code or error code).
pub const ERROR_TYPE: &str = "error.type";

/// `oss.operation`: the OSS API name, `PutObject`.
pub const OSS_OPERATION: &str = "oss.operation";
/// `oss.bucket`: the bucket name.
pub const OSS_BUCKET: &str = "oss.bucket";
/// `oss.object.size`: plaintext object size in bytes.
pub const OSS_OBJECT_SIZE: &str = "oss.object.size";
/// `cang.sse.algorithm`: `AES256`, `KMS`, `SM4` or `none`.
pub const CANG_SSE_ALGORITHM: &str = "cang.sse.algorithm";
/// `cang.sse.segments`: ciphertext segments encrypted or decrypted by this request.
pub const CANG_SSE_SEGMENTS: &str = "cang.sse.segments";
/// `cang.kms.key_id`: the CMK id (an identifier, not key material).
pub const CANG_KMS_KEY_ID: &str = "cang.kms.key_id";
/// `cang.kms.key_version`: the CMK version id.
pub const CANG_KMS_KEY_VERSION: &str = "cang.kms.key_version";
/// `cang.cache.hit`: whether a data key came from a cache.
pub const CANG_CACHE_HIT: &str = "cang.cache.hit";
/// `cang.meta.commit`: the kind of metadata commit (`put_object`, `complete_multipart`…).
pub const CANG_META_COMMIT: &str = "cang.meta.commit";

/// Attaches attributes to the current span's OpenTelemetry span. Unlike `Span::record`, the
/// field need not be declared when the span is created. Not written to log lines.
pub fn set_attributes(attributes: impl IntoIterator<Item = KeyValue>) {
    let span = tracing::Span::current();
    for kv in attributes {
        span.set_attribute(kv.key, kv.value);
    }
}

/// Records `oss.operation` and `oss.bucket` (if any) on the current span.
pub fn record_oss_request(operation: &'static str, bucket: Option<&str>) {
    let mut attrs = vec![KeyValue::new(OSS_OPERATION, operation)];
    if let Some(bucket) = bucket {
        attrs.push(KeyValue::new(OSS_BUCKET, bucket.to_owned()));
    }
    set_attributes(attrs);
}

/// Records `oss.object.size` on the current span.
pub fn record_object_size(bytes: u64) {
    set_attributes([KeyValue::new(OSS_OBJECT_SIZE, saturating_i64(bytes))]);
}

/// Records `cang.sse.algorithm` and `cang.sse.segments` on the current span.
pub fn record_sse(algorithm: &'static str, segments: u64) {
    set_attributes([
        KeyValue::new(CANG_SSE_ALGORITHM, algorithm),
        KeyValue::new(CANG_SSE_SEGMENTS, saturating_i64(segments)),
    ]);
}

/// Records `cang.kms.key_id` and `cang.kms.key_version` on the current span.
pub fn record_kms_key(key_id: &str, key_version: &str) {
    set_attributes([
        KeyValue::new(CANG_KMS_KEY_ID, key_id.to_owned()),
        KeyValue::new(CANG_KMS_KEY_VERSION, key_version.to_owned()),
    ]);
}

/// Records `cang.cache.hit` on the current span.
pub fn record_cache_hit(hit: bool) {
    set_attributes([KeyValue::new(CANG_CACHE_HIT, hit)]);
}

/// Records `cang.meta.commit` on the current span.
pub fn record_meta_commit(kind: &'static str) {
    set_attributes([KeyValue::new(CANG_META_COMMIT, kind)]);
}

/// OpenTelemetry integers are signed; sizes above `i64::MAX` do not occur but must not wrap.
fn saturating_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// The trace id of the current span (32 hex digits), when it belongs to a valid trace.
pub fn current_trace_id() -> Option<String> {
    use opentelemetry::trace::TraceContextExt as _;
    let context = tracing::Span::current().context();
    let span = context.span();
    let span_context = span.span_context();
    span_context
        .is_valid()
        .then(|| span_context.trace_id().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_saturate_instead_of_wrapping() {
        assert_eq!(saturating_i64(0), 0);
        assert_eq!(saturating_i64(1 << 40), 1 << 40);
        assert_eq!(saturating_i64(u64::MAX), i64::MAX);
    }
}
