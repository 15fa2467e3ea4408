//! Prometheus metrics for the Cang services, as typed handles over a `prometheus-client`
//! registry, and the `/metrics` HTTP endpoint ([`http`]).
//!
//! `prometheus-client` is the Prometheus project's own Rust client: label sets are typed
//! structs, there is no global registry, and its OpenMetrics text encoder handles escaping and
//! histogram buckets correctly, which a hand-rolled encoder would have to re-prove.
//!
//! Label values come from fixed sets (`&'static str` operation names, status codes, error
//! codes) so that request data such as bucket or object names can never explode cardinality.

mod grpc;
pub mod http;

pub use grpc::{GrpcMetricsLayer, GrpcMetricsService, MeteredBody};

use std::borrow::Cow;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::{Family, MetricConstructor};
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::{Registry, Unit};

use crate::TelemetryError;

/// Latency buckets: 0.25 ms doubling to ~8 s, covering a cached GET up to a large PUT.
fn latency_buckets() -> impl Iterator<Item = f64> {
    exponential_buckets(0.000_25, 2.0, 16)
}

#[derive(Debug, Clone, Copy)]
struct LatencyHistogram;

impl MetricConstructor<Histogram> for LatencyHistogram {
    fn new_metric(&self) -> Histogram {
        Histogram::new(latency_buckets())
    }
}

fn latency_histogram() -> Histogram {
    Histogram::new(latency_buckets())
}

/// A status label: an HTTP status code (`"200"`) or a gRPC code name as tonic spells it
/// (`"Ok"`, `"NotFound"`, `"Unavailable"`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Status(Cow<'static, str>);

impl From<u16> for Status {
    fn from(code: u16) -> Self {
        Self(Cow::Owned(code.to_string()))
    }
}

impl From<::http::StatusCode> for Status {
    fn from(code: ::http::StatusCode) -> Self {
        code.as_u16().into()
    }
}

impl From<tonic::Code> for Status {
    fn from(code: tonic::Code) -> Self {
        Self(Cow::Owned(format!("{code:?}")))
    }
}

impl From<&'static str> for Status {
    fn from(code: &'static str) -> Self {
        Self(Cow::Borrowed(code))
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct OperationStatus {
    operation: Cow<'static, str>,
    status: Cow<'static, str>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct OperationLabel {
    operation: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct OperationCode {
    operation: &'static str,
    code: Cow<'static, str>,
}

/// Requests served, by operation (`PutObject`, `GenerateDataKey`…) and status.
#[derive(Debug, Clone)]
pub struct RequestMetrics {
    count: Family<OperationStatus, Counter>,
    latency: Family<OperationStatus, Histogram, LatencyHistogram>,
    /// Request body bytes received.
    pub bytes_in: Counter,
    /// Response body bytes sent.
    pub bytes_out: Counter,
}

impl RequestMetrics {
    /// The request counter for one operation and status.
    pub fn count(&self, operation: &'static str, status: impl Into<Status>) -> Counter {
        self.count.get_or_create_owned(&OperationStatus {
            operation: Cow::Borrowed(operation),
            status: status.into().0,
        })
    }

    /// The latency histogram (seconds) for one operation and status.
    pub fn latency(&self, operation: &'static str, status: impl Into<Status>) -> Histogram {
        self.latency.get_or_create_owned(&OperationStatus {
            operation: Cow::Borrowed(operation),
            status: status.into().0,
        })
    }

    /// Counts one finished request and observes its latency.
    pub fn observe(&self, operation: &'static str, status: impl Into<Status>, elapsed: Duration) {
        self.observe_labels(Cow::Borrowed(operation), status.into(), elapsed);
    }

    /// Like [`RequestMetrics::observe`] for an operation name known only at run time; callers
    /// must bound the set of names (see [`GrpcMetricsLayer`]).
    pub(crate) fn observe_labels(&self, operation: Cow<'static, str>, status: Status, elapsed: Duration) {
        let labels = OperationStatus {
            operation,
            status: status.0,
        };
        self.count.get_or_create(&labels).inc();
        self.latency.get_or_create(&labels).observe(elapsed.as_secs_f64());
    }
}

/// Calls from the gateway to the crypto service.
#[derive(Debug, Clone)]
pub struct KmsCallMetrics {
    latency: Family<OperationLabel, Histogram, LatencyHistogram>,
    errors: Family<OperationCode, Counter>,
}

impl KmsCallMetrics {
    /// Latency histogram (seconds) of one KMS operation.
    pub fn latency(&self, operation: &'static str) -> Histogram {
        self.latency.get_or_create_owned(&OperationLabel { operation })
    }

    /// Error counter of one KMS operation and error code (`NotFound`, `Unavailable`…).
    pub fn errors(&self, operation: &'static str, code: impl Into<Status>) -> Counter {
        self.errors.get_or_create_owned(&OperationCode {
            operation,
            code: code.into().0,
        })
    }
}

/// The gateway's caches of data keys.
#[derive(Debug, Clone, Default)]
pub struct DataKeyCacheMetrics {
    /// Unwrapped data keys found in the cache.
    pub hits: Counter,
    /// Lookups that needed a KMS call.
    pub misses: Counter,
    /// Keys dropped for capacity or age.
    pub evictions: Counter,
    /// Objects encrypted with an already issued bucket key instead of a fresh data key.
    pub bucket_key_reuses: Counter,
}

/// The metadata store.
#[derive(Debug, Clone)]
pub struct MetaStoreMetrics {
    /// redb write-transaction commit latency (seconds).
    pub commit_latency: Histogram,
    /// Ciphertext bytes currently stored.
    pub stored_bytes: Gauge,
    /// Objects per SSE mode and wrapping key version (all buckets together).
    pub inventory_objects: Family<KeyVersionLabels, Gauge>,
    /// Plaintext bytes per SSE mode and wrapping key version.
    pub inventory_bytes: Family<KeyVersionLabels, Gauge>,
}

/// Labels of the key inventory gauges. Their values are key ids and versions (a handful per key), never
/// bucket or object names.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub struct KeyVersionLabels {
    /// `none`, `AES256`, `SM4` or `KMS`.
    pub sse: &'static str,
    /// The wrapping key id; empty for records older than the inventory.
    pub key_id: String,
    /// The key version id; empty for records older than the inventory.
    pub key_version: String,
}

impl MetaStoreMetrics {
    /// Replaces the inventory gauges with `rows` (summed by label set): versions no object depends on
    /// any more disappear.
    pub fn set_inventory(&self, rows: impl IntoIterator<Item = (KeyVersionLabels, u64, u64)>) {
        let mut sums: std::collections::HashMap<KeyVersionLabels, (u64, u64)> =
            std::collections::HashMap::new();
        for (labels, objects, bytes) in rows {
            let entry = sums.entry(labels).or_default();
            entry.0 = entry.0.saturating_add(objects);
            entry.1 = entry.1.saturating_add(bytes);
        }
        self.inventory_objects.clear();
        self.inventory_bytes.clear();
        let gauge = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
        for (labels, (objects, bytes)) in sums {
            self.inventory_objects.get_or_create(&labels).set(gauge(objects));
            self.inventory_bytes.get_or_create(&labels).set(gauge(bytes));
        }
    }
}

/// The full set of Cang metric families, registered under the `cang_` prefix. Each service
/// updates the families that concern it; the others stay at zero.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    /// Requests, latency and bytes, by operation and status.
    pub requests: RequestMetrics,
    /// KMS call latency and errors.
    pub kms: KmsCallMetrics,
    /// Data-key cache and bucket-key reuse.
    pub data_keys: DataKeyCacheMetrics,
    /// redb commits and stored bytes.
    pub meta: MetaStoreMetrics,
    /// Audit records appended by the crypto service.
    pub audit_records: Counter,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// A fresh registry with every family registered.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("cang");
        let requests = RequestMetrics {
            count: Family::default(),
            latency: Family::new_with_constructor(LatencyHistogram),
            bytes_in: Counter::default(),
            bytes_out: Counter::default(),
        };
        let kms = KmsCallMetrics {
            latency: Family::new_with_constructor(LatencyHistogram),
            errors: Family::default(),
        };
        let data_keys = DataKeyCacheMetrics::default();
        let meta = MetaStoreMetrics {
            commit_latency: latency_histogram(),
            stored_bytes: Gauge::default(),
            inventory_objects: Family::default(),
            inventory_bytes: Family::default(),
        };
        let audit_records = Counter::default();

        registry.register(
            "requests",
            "Requests served, by operation and status",
            requests.count.clone(),
        );
        registry.register_with_unit(
            "request_duration",
            "Request latency, by operation and status",
            Unit::Seconds,
            requests.latency.clone(),
        );
        registry.register_with_unit(
            "received",
            "Request body bytes received",
            Unit::Bytes,
            requests.bytes_in.clone(),
        );
        registry.register_with_unit(
            "sent",
            "Response body bytes sent",
            Unit::Bytes,
            requests.bytes_out.clone(),
        );
        registry.register_with_unit(
            "kms_call_duration",
            "Latency of calls to the crypto service, by operation",
            Unit::Seconds,
            kms.latency.clone(),
        );
        registry.register(
            "kms_call_errors",
            "Failed calls to the crypto service, by operation and error code",
            kms.errors.clone(),
        );
        registry.register(
            "data_key_cache_hits",
            "Data keys served from the cache",
            data_keys.hits.clone(),
        );
        registry.register(
            "data_key_cache_misses",
            "Data-key lookups that needed the crypto service",
            data_keys.misses.clone(),
        );
        registry.register(
            "data_key_cache_evictions",
            "Data keys evicted from the cache",
            data_keys.evictions.clone(),
        );
        registry.register(
            "bucket_key_reuses",
            "Objects encrypted with a reused bucket key",
            data_keys.bucket_key_reuses.clone(),
        );
        registry.register_with_unit(
            "meta_commit_duration",
            "redb write-transaction commit latency",
            Unit::Seconds,
            meta.commit_latency.clone(),
        );
        registry.register_with_unit(
            "stored",
            "Ciphertext bytes stored",
            Unit::Bytes,
            meta.stored_bytes.clone(),
        );
        registry.register(
            "inventory_objects",
            "Stored objects per SSE mode and wrapping key version",
            meta.inventory_objects.clone(),
        );
        registry.register_with_unit(
            "inventory",
            "Plaintext bytes of stored objects per SSE mode and wrapping key version",
            Unit::Bytes,
            meta.inventory_bytes.clone(),
        );
        registry.register("audit_records", "Audit records appended", audit_records.clone());
        Self {
            registry,
            requests,
            kms,
            data_keys,
            meta,
            audit_records,
        }
    }

    /// The registry, for a service that wants to register families of its own.
    pub fn registry_mut(&mut self) -> &mut Registry {
        &mut self.registry
    }

    /// The OpenMetrics text exposition of every family, ending in `# EOF`.
    pub fn encode(&self) -> Result<String, TelemetryError> {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry)
            .map_err(|_| TelemetryError::MetricsEncoding)?;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
        text.lines().find(|l| l.starts_with(prefix))
    }

    #[test]
    fn inventory_gauges_sum_rows_and_forget_emptied_versions() {
        let m = Metrics::new();
        let labels = |v: &str| KeyVersionLabels {
            sse: "KMS",
            key_id: "cmk".into(),
            key_version: v.into(),
        };
        m.meta
            .set_inventory([(labels("v1"), 2, 10), (labels("v1"), 1, 5), (labels("v2"), 4, 40)]);
        let text = m.encode().unwrap();
        assert_eq!(
            line(
                &text,
                r#"cang_inventory_bytes{sse="KMS",key_id="cmk",key_version="v1"}"#
            ),
            Some(r#"cang_inventory_bytes{sse="KMS",key_id="cmk",key_version="v1"} 15"#)
        );
        assert!(
            text.contains(r#"cang_inventory_objects{sse="KMS",key_id="cmk",key_version="v2"} 4"#),
            "{text}"
        );
        m.meta.set_inventory([(labels("v2"), 7, 70)]);
        let text = m.encode().unwrap();
        assert!(!text.contains(r#"key_version="v1""#), "{text}");
    }

    #[test]
    fn request_counters_and_histograms_by_label() {
        let m = Metrics::new();
        m.requests.observe("PutObject", 200u16, Duration::from_millis(3));
        m.requests.observe("PutObject", 200u16, Duration::from_millis(5));
        m.requests.count("GetObject", ::http::StatusCode::NOT_FOUND).inc();
        m.requests.bytes_in.inc_by(1024);
        let text = m.encode().unwrap();
        assert_eq!(
            line(
                &text,
                "cang_requests_total{operation=\"PutObject\",status=\"200\"}"
            ),
            Some("cang_requests_total{operation=\"PutObject\",status=\"200\"} 2")
        );
        assert!(text.contains("cang_requests_total{operation=\"GetObject\",status=\"404\"} 1"));
        assert!(
            text.contains("cang_request_duration_seconds_count{operation=\"PutObject\",status=\"200\"} 2")
        );
        // 3 ms and 5 ms both fall at or below the 8 ms bucket, neither at or below 2 ms.
        assert!(
            text.contains(
                "cang_request_duration_seconds_bucket{le=\"0.008\",operation=\"PutObject\",status=\"200\"} 2"
            ),
            "{text}"
        );
        assert!(text.contains(
            "cang_request_duration_seconds_bucket{le=\"0.002\",operation=\"PutObject\",status=\"200\"} 0"
        ));
        assert!(text.contains("cang_received_bytes_total 1024"));
        assert!(text.ends_with("# EOF\n"));
    }

    #[test]
    fn grpc_codes_and_service_families() {
        let m = Metrics::new();
        m.kms.errors("GenerateDataKey", tonic::Code::Unavailable).inc();
        m.kms.latency("Decrypt").observe(0.001);
        m.data_keys.hits.inc();
        m.data_keys.misses.inc_by(2);
        m.data_keys.evictions.inc();
        m.data_keys.bucket_key_reuses.inc_by(7);
        m.meta.commit_latency.observe(0.004);
        m.meta.stored_bytes.set(4096);
        m.audit_records.inc_by(3);
        let text = m.encode().unwrap();
        for expected in [
            "cang_kms_call_errors_total{operation=\"GenerateDataKey\",code=\"Unavailable\"} 1",
            "cang_kms_call_duration_seconds_count{operation=\"Decrypt\"} 1",
            "cang_data_key_cache_hits_total 1",
            "cang_data_key_cache_misses_total 2",
            "cang_data_key_cache_evictions_total 1",
            "cang_bucket_key_reuses_total 7",
            "cang_meta_commit_duration_seconds_count 1",
            "cang_stored_bytes 4096",
            "cang_audit_records_total 3",
        ] {
            assert!(text.contains(expected), "missing {expected} in\n{text}");
        }
    }

    #[test]
    fn handles_share_state_with_the_registry() {
        let m = Metrics::new();
        let counter = m.requests.count("HeadObject", 200u16);
        counter.inc();
        m.requests.count("HeadObject", 200u16).inc();
        assert_eq!(counter.get(), 2);
    }
}
