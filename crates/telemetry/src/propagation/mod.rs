//! W3C trace-context (`traceparent`, `tracestate`) and baggage propagation over HTTP headers and
//! gRPC metadata, and the tower layers that open client and server spans around each call.
//!
//! No global propagator is involved: every function here uses [`propagator`] directly, so the
//! behaviour does not depend on process-wide state.

mod body;
mod grpc;
mod http_server;

use http::HeaderMap;
use http::header::{HeaderName, HeaderValue};
use opentelemetry::Context;
use opentelemetry::propagation::{Extractor, Injector, TextMapCompositePropagator, TextMapPropagator};
use opentelemetry_sdk::propagation::{BaggagePropagator, TraceContextPropagator};
use tracing_opentelemetry::OpenTelemetrySpanExt;

pub use body::TracedBody;
pub use grpc::{GrpcClientLayer, GrpcClientService, GrpcServerLayer, GrpcServerService};
pub use http_server::{HttpServerLayer, HttpServerService, http_server_span, record_http_response};

/// The W3C `traceparent` header.
pub const TRACEPARENT: &str = "traceparent";
/// The W3C `tracestate` header.
pub const TRACESTATE: &str = "tracestate";
/// The W3C `baggage` header.
pub const BAGGAGE: &str = "baggage";

/// W3C trace context followed by W3C baggage.
pub fn propagator() -> TextMapCompositePropagator {
    TextMapCompositePropagator::new(vec![
        Box::new(TraceContextPropagator::new()),
        Box::new(BaggagePropagator::new()),
    ])
}

/// The remote context carried by `headers` (an empty context when there is none or it is
/// malformed: a bad `traceparent` starts a new trace rather than failing the request).
pub fn extract(headers: &HeaderMap) -> Context {
    propagator().extract(&HeaderExtractor(headers))
}

/// Writes `cx` into `headers` as `traceparent`, `tracestate` and `baggage`.
pub fn inject(cx: &Context, headers: &mut HeaderMap) {
    propagator().inject_context(cx, &mut HeaderInjector(headers));
}

/// Writes the current `tracing` span's context into `headers`, for outgoing requests made
/// without [`GrpcClientLayer`].
pub fn inject_current(headers: &mut HeaderMap) {
    inject(&tracing::Span::current().context(), headers);
}

/// Reads propagation fields from an `http::HeaderMap` (which is also tonic's metadata).
struct HeaderExtractor<'a>(&'a HeaderMap);

impl Extractor for HeaderExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(HeaderName::as_str).collect()
    }
}

/// Writes propagation fields into an `http::HeaderMap`, replacing any earlier value.
struct HeaderInjector<'a>(&'a mut HeaderMap);

impl Injector for HeaderInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        // Propagators emit lowercase ASCII names and visible-ASCII values; anything else is
        // dropped rather than sent malformed.
        if let (Ok(name), Ok(value)) = (HeaderName::try_from(key), HeaderValue::try_from(value)) {
            self.0.insert(name, value);
        }
    }
}

#[cfg(test)]
mod tests {
    use opentelemetry::baggage::BaggageExt;
    use opentelemetry::trace::{SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState};

    use super::*;

    const PARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    #[test]
    fn extracts_a_w3c_traceparent() {
        let mut headers = HeaderMap::new();
        headers.insert(TRACEPARENT, HeaderValue::from_static(PARENT));
        headers.insert(TRACESTATE, HeaderValue::from_static("vendor=abc"));
        let cx = extract(&headers);
        let span = cx.span();
        let sc = span.span_context();
        assert!(sc.is_remote());
        assert_eq!(sc.trace_id().to_string(), "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(sc.span_id().to_string(), "00f067aa0ba902b7");
        assert!(sc.is_sampled());
        assert_eq!(sc.trace_state().get("vendor"), Some("abc"));
    }

    #[test]
    fn malformed_traceparent_yields_no_parent() {
        for bad in [
            "garbage",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        ] {
            let mut headers = HeaderMap::new();
            headers.insert(TRACEPARENT, HeaderValue::from_static(bad));
            assert!(!extract(&headers).span().span_context().is_valid(), "{bad}");
        }
    }

    #[test]
    fn inject_then_extract_round_trips_context_and_baggage() {
        let sc = SpanContext::new(
            TraceId::from_hex("0af7651916cd43dd8448eb211c80319c").unwrap(),
            SpanId::from_hex("b7ad6b7169203331").unwrap(),
            TraceFlags::SAMPLED,
            true,
            TraceState::default(),
        );
        let cx = Context::new()
            .with_remote_span_context(sc)
            .with_baggage(vec![opentelemetry::KeyValue::new("tenant", "acct-1")]);
        let mut headers = HeaderMap::new();
        inject(&cx, &mut headers);
        assert_eq!(
            headers[TRACEPARENT],
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
        );
        assert_eq!(headers[BAGGAGE], "tenant=acct-1");
        let back = extract(&headers);
        assert_eq!(back.span().span_context().span_id(), sc_span_id());
        assert_eq!(
            back.baggage().get("tenant").map(|v| v.as_str().to_owned()),
            Some("acct-1".into())
        );
    }

    fn sc_span_id() -> SpanId {
        SpanId::from_hex("b7ad6b7169203331").unwrap()
    }

    proptest::proptest! {
        #[test]
        fn any_valid_context_round_trips(
            trace in 1u128..,
            span in 1u64..,
            sampled: bool,
        ) {
            let flags = if sampled { TraceFlags::SAMPLED } else { TraceFlags::default() };
            let sc = SpanContext::new(
                TraceId::from_bytes(trace.to_be_bytes()),
                SpanId::from_bytes(span.to_be_bytes()),
                flags,
                true,
                TraceState::default(),
            );
            let mut headers = HeaderMap::new();
            inject(&Context::new().with_remote_span_context(sc.clone()), &mut headers);
            let expected = format!("00-{trace:032x}-{span:016x}-{:02x}", u8::from(sampled));
            proptest::prop_assert_eq!(headers[TRACEPARENT].to_str().unwrap(), expected.as_str());
            let back = extract(&headers);
            let back_span = back.span();
            proptest::prop_assert_eq!(back_span.span_context(), &sc);
        }

        #[test]
        fn arbitrary_header_values_never_panic(value in "[ -~]{0,80}") {
            let mut headers = HeaderMap::new();
            headers.insert(TRACEPARENT, HeaderValue::from_str(&value).unwrap());
            headers.insert(BAGGAGE, HeaderValue::from_str(&value).unwrap());
            let _ = extract(&headers);
        }
    }

    #[test]
    fn empty_context_injects_nothing() {
        let mut headers = HeaderMap::new();
        inject(&Context::new(), &mut headers);
        assert!(headers.get(TRACEPARENT).is_none());
    }
}
