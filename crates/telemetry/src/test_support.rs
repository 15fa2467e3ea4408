//! An in-process OTLP/gRPC trace receiver for tests: a tonic server implementing the
//! collector's `TraceService`, bound on `127.0.0.1:0`, that keeps every exported span so tests
//! can assert trace ids, parent links, attributes and resource attributes.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use opentelemetry_proto::tonic::trace::v1::status::StatusCode;
use tokio::net::TcpListener;
use tokio::sync::{Notify, oneshot};
use tonic::transport::server::TcpIncoming;

/// One span as received, with ids in lowercase hex and attribute values rendered as text.
#[derive(Debug, Clone, PartialEq)]
pub struct ReceivedSpan {
    /// 32 hex digits.
    pub trace_id: String,
    /// 16 hex digits.
    pub span_id: String,
    /// 16 hex digits, `None` for a root span.
    pub parent_span_id: Option<String>,
    /// Span name.
    pub name: String,
    /// Span kind.
    pub kind: SpanKind,
    /// Whether the span's status is `ERROR`.
    pub is_error: bool,
    /// Span attributes.
    pub attributes: BTreeMap<String, String>,
    /// Events: name and attributes.
    pub events: Vec<(String, BTreeMap<String, String>)>,
    /// Attributes of the resource that exported the span.
    pub resource: BTreeMap<String, String>,
}

impl ReceivedSpan {
    /// One attribute's value.
    pub fn attribute(&self, key: &str) -> Option<&str> {
        self.attributes.get(key).map(String::as_str)
    }

    /// Every string the span carries (name, attribute keys and values, events), for asserting
    /// that something secret is absent.
    pub fn all_text(&self) -> String {
        let mut text = self.name.clone();
        let events = self
            .events
            .iter()
            .flat_map(|(name, attrs)| std::iter::once((name, name)).chain(attrs.iter()));
        for (k, v) in self.attributes.iter().chain(events) {
            text.push('\n');
            text.push_str(k);
            text.push('=');
            text.push_str(v);
        }
        text
    }
}

fn render(value: Option<&AnyValue>) -> String {
    match value.and_then(|v| v.value.as_ref()) {
        Some(any_value::Value::StringValue(s)) => s.clone(),
        Some(any_value::Value::BoolValue(b)) => b.to_string(),
        Some(any_value::Value::IntValue(i)) => i.to_string(),
        Some(any_value::Value::DoubleValue(d)) => d.to_string(),
        Some(other) => format!("{other:?}"),
        None => String::new(),
    }
}

fn attribute_map(attributes: &[KeyValue]) -> BTreeMap<String, String> {
    attributes
        .iter()
        .map(|kv| (kv.key.clone(), render(kv.value.as_ref())))
        .collect()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[derive(Default)]
struct Collected {
    spans: Mutex<Vec<ReceivedSpan>>,
    arrived: Notify,
}

impl Collected {
    fn lock(&self) -> MutexGuard<'_, Vec<ReceivedSpan>> {
        // A panicking test thread must not hide the spans from the assertion that follows.
        self.spans.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

struct Receiver(Arc<Collected>);

#[tonic::async_trait]
impl TraceService for Receiver {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        let mut received = Vec::new();
        for resource_spans in request.into_inner().resource_spans {
            let resource = resource_spans
                .resource
                .as_ref()
                .map(|r| attribute_map(&r.attributes))
                .unwrap_or_default();
            for span in resource_spans.scope_spans.into_iter().flat_map(|s| s.spans) {
                received.push(ReceivedSpan {
                    trace_id: hex(&span.trace_id),
                    span_id: hex(&span.span_id),
                    parent_span_id: (!span.parent_span_id.is_empty()).then(|| hex(&span.parent_span_id)),
                    name: span.name.clone(),
                    kind: SpanKind::try_from(span.kind).unwrap_or(SpanKind::Unspecified),
                    is_error: span
                        .status
                        .as_ref()
                        .is_some_and(|s| s.code == StatusCode::Error as i32),
                    attributes: attribute_map(&span.attributes),
                    events: span
                        .events
                        .iter()
                        .map(|e| (e.name.clone(), attribute_map(&e.attributes)))
                        .collect(),
                    resource: resource.clone(),
                });
            }
        }
        self.0.lock().extend(received);
        self.0.arrived.notify_waiters();
        Ok(tonic::Response::new(ExportTraceServiceResponse {
            partial_success: None,
        }))
    }
}

/// A running receiver; stops when dropped.
#[derive(Debug)]
pub struct OtlpReceiver {
    endpoint: String,
    collected: Arc<Collected>,
    stop: Option<oneshot::Sender<()>>,
}

impl std::fmt::Debug for Collected {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Collected")
            .field("spans", &self.lock().len())
            .finish()
    }
}

impl OtlpReceiver {
    /// Binds `127.0.0.1:0` and serves the collector's trace service on the current runtime.
    pub async fn start() -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let endpoint = format!("http://{}", listener.local_addr()?);
        let collected = Arc::new(Collected::default());
        let (stop, stopped) = oneshot::channel::<()>();
        let service = TraceServiceServer::new(Receiver(Arc::clone(&collected)));
        tokio::spawn(async move {
            // Serving ends only on shutdown or a listener failure; either way the test sees
            // the spans collected so far.
            let _ = tonic::transport::Server::builder()
                .add_service(service)
                .serve_with_incoming_shutdown(TcpIncoming::from(listener), async {
                    let _ = stopped.await;
                })
                .await;
        });
        Ok(Self {
            endpoint,
            collected,
            stop: Some(stop),
        })
    }

    /// `http://127.0.0.1:<port>`, for `OtlpConfig::endpoint`.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Every span received so far.
    pub fn spans(&self) -> Vec<ReceivedSpan> {
        self.collected.lock().clone()
    }

    /// Waits until `done` holds for the received spans or `timeout` passes, then returns the
    /// spans either way (the caller's assertions report what is missing).
    pub async fn wait_for(
        &self,
        timeout: Duration,
        done: impl Fn(&[ReceivedSpan]) -> bool,
    ) -> Vec<ReceivedSpan> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let arrived = self.collected.arrived.notified();
            {
                let spans = self.collected.lock();
                if done(&spans) {
                    return spans.clone();
                }
            }
            if tokio::time::timeout_at(deadline, arrived).await.is_err() {
                return self.spans();
            }
        }
    }
}

impl Drop for OtlpReceiver {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            // The server task may already be gone; nothing to stop then.
            let _ = stop.send(());
        }
    }
}
