//! One trace per request across the three real services: an SSE-KMS PUT and GET through the gateway, with
//! spans exported over OTLP/gRPC to an in-process receiver. Parent links must run gateway → kms and
//! gateway → meta, the OSS and key attributes must be there, and neither the data key nor the object's
//! contents may appear in any span.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, ensure};
use base64::Engine;
use cang_gateway::GatewayConfig;
use cang_kms_api::{AccountId, EncryptionContext, WrappedDataKey};
use cang_telemetry::test_support::{OtlpReceiver, ReceivedSpan};
use cang_tests::Cluster;
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use reqwest::StatusCode;

const BUCKET: &str = "traced";
const KEY: &str = "secret-notes.txt";
const MARKER: &str = "PLAINTEXT-MARKER-7f3a9c";
const PUT_TRACE: &str = "0af7651916cd43dd8448eb211c80319c";
const GET_TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const RANGE_TRACE: &str = "5c0a13d6e8f24b7a9d31c2e4f6a8b0c1";
const CALLER_SPAN: &str = "b7ad6b7169203331";

fn service(span: &ReceivedSpan) -> &str {
    span.resource.get("service.name").map_or("", String::as_str)
}

/// The spans of one trace, looked up by service, kind and name.
struct Trace<'a> {
    spans: Vec<&'a ReceivedSpan>,
}

impl<'a> Trace<'a> {
    fn of(spans: &'a [ReceivedSpan], trace_id: &str) -> Self {
        Self {
            spans: spans.iter().filter(|s| s.trace_id == trace_id).collect(),
        }
    }

    fn find(&self, service_name: &str, kind: SpanKind, name_ends: &str) -> Option<&'a ReceivedSpan> {
        self.spans
            .iter()
            .copied()
            .find(|s| service(s) == service_name && s.kind == kind && s.name.ends_with(name_ends))
    }

    fn get(&self, service_name: &str, kind: SpanKind, name_ends: &str) -> &'a ReceivedSpan {
        self.find(service_name, kind, name_ends).unwrap_or_else(|| {
            panic!(
                "no {kind:?} span *{name_ends} from {service_name} in {:#?}",
                self.spans
            )
        })
    }

    fn by_id(&self, id: &str) -> Option<&'a ReceivedSpan> {
        self.spans.iter().copied().find(|s| s.span_id == id)
    }

    /// Whether `ancestor` is reached from `span` through parent links.
    fn descends_from(&self, span: &ReceivedSpan, ancestor: &ReceivedSpan) -> bool {
        let mut current = span.parent_span_id.clone();
        while let Some(id) = current {
            if id == ancestor.span_id {
                return true;
            }
            current = self.by_id(&id).and_then(|s| s.parent_span_id.clone());
        }
        false
    }

    /// The gateway's client span for a call and the server span it caused, checked to be linked.
    fn hop(&self, to: &str, method: &str, root: &ReceivedSpan) -> (&'a ReceivedSpan, &'a ReceivedSpan) {
        let client = self.get("cang-gateway", SpanKind::Client, method);
        let server = self.get(to, SpanKind::Server, method);
        assert_eq!(
            server.parent_span_id.as_deref(),
            Some(client.span_id.as_str()),
            "{to} {method} is not the child of the gateway's call"
        );
        assert!(
            self.descends_from(client, root),
            "gateway call {method} is outside the request span"
        );
        // The gateway stops reading a streamed read once it has the bytes it needs, so the client side of
        // ReadObject may never see the trailers that carry the status; it must not be an error either way.
        assert!(!client.is_error && !server.is_error, "{client:#?}\n{server:#?}");
        if method != "/ReadObject" {
            assert_eq!(client.attribute("rpc.grpc.status_code"), Some("0"), "{client:#?}");
        }
        assert_eq!(server.attribute("rpc.grpc.status_code"), Some("0"), "{server:#?}");
        (client, server)
    }

    /// Whether every span this request needs has arrived.
    fn complete(&self, kms_method: &str, meta_method: &str) -> bool {
        self.find("cang-gateway", SpanKind::Server, "").is_some()
            && self.find("cang-kms", SpanKind::Server, kms_method).is_some()
            && self.find("cang-meta", SpanKind::Server, meta_method).is_some()
            && self.find("cang-gateway", SpanKind::Client, kms_method).is_some()
            && self.find("cang-gateway", SpanKind::Client, meta_method).is_some()
    }
}

fn traceparent(trace_id: &str) -> String {
    format!("00-{trace_id}-{CALLER_SPAN}-01")
}

/// Flushes the services' exporters until both requests' spans have arrived (server spans of streamed calls
/// end a moment after the client has its last byte).
async fn collect(cluster: &Cluster, receiver: &OtlpReceiver) -> Result<Vec<ReceivedSpan>> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        cluster.flush_telemetry()?;
        let spans = receiver.spans();
        let done = Trace::of(&spans, PUT_TRACE).complete("/GenerateDataKey", "/PutSmallObject")
            && Trace::of(&spans, GET_TRACE).complete("/Decrypt", "/LookupObject")
            && Trace::of(&spans, RANGE_TRACE).complete("/Decrypt", "/LookupObject");
        if done || Instant::now() > deadline {
            return Ok(spans);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The object's data key, recovered by an administrator from the stored record.
async fn data_key(cluster: &Cluster) -> Result<Vec<u8>> {
    let info = cluster.meta_admin.head_object(BUCKET, KEY).await?;
    let sse = info.meta.sse.context("object is not encrypted")?;
    let (_, blob) = sse.wrapped_key.split_first().context("empty wrapped key")?;
    let context = EncryptionContext::from([("bucket", BUCKET), ("object", KEY)]);
    let plain = cluster
        .kms_admin
        .decrypt(
            &AccountId::new(&cluster.account)?,
            &WrappedDataKey(bytes::Bytes::copy_from_slice(blob)),
            &context,
        )
        .await?;
    Ok(plain.plaintext.expose().to_vec())
}

async fn scrape(addr: std::net::SocketAddr) -> Result<String> {
    Ok(reqwest::get(format!("http://{addr}/metrics"))
        .await?
        .text()
        .await?)
}

fn assert_attrs(span: &ReceivedSpan, expected: &BTreeMap<&str, &str>) {
    for (k, v) in expected {
        assert_eq!(
            span.attribute(k),
            Some(*v),
            "{k} on {} ({})",
            span.name,
            service(span)
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn put_and_get_are_each_one_trace_across_gateway_kms_and_meta() -> Result<()> {
    let receiver = OtlpReceiver::start().await?;
    let cluster = Cluster::start_traced(GatewayConfig::default(), receiver.endpoint()).await?;
    let root = &cluster.root;
    let sse = [("x-oss-server-side-encryption", "KMS")];
    let resp = cluster
        .signed(root, "PUT", &format!("/{BUCKET}/"), &format!("/{BUCKET}/"), &sse)
        .send()
        .await?;
    ensure!(
        resp.status() == StatusCode::OK,
        "create bucket: {}",
        resp.text().await?
    );

    let body = format!("{MARKER} {}", "lorem ipsum ".repeat(2000));
    let path = format!("/{BUCKET}/{KEY}");
    let resp = cluster
        .signed(root, "PUT", &path, &path, &[])
        .header("traceparent", traceparent(PUT_TRACE))
        .body(body.clone())
        .send()
        .await?;
    ensure!(resp.status() == StatusCode::OK, "put: {}", resp.text().await?);
    let resp = cluster
        .signed(root, "GET", &path, &path, &[])
        .header("traceparent", traceparent(GET_TRACE))
        .send()
        .await?;
    ensure!(resp.status() == StatusCode::OK, "get: {}", resp.status());
    assert_eq!(resp.text().await?, body);
    // A small range of a large object: its segments come with the record, in the same one call.
    let large: Vec<u8> = (0..400_000u32).map(|i| (i % 251) as u8).collect();
    let large_path = format!("/{BUCKET}/large");
    let resp = cluster
        .signed(root, "PUT", &large_path, &large_path, &[])
        .body(large.clone())
        .send()
        .await?;
    ensure!(
        resp.status() == StatusCode::OK,
        "put large: {}",
        resp.text().await?
    );
    let resp = cluster
        .signed(root, "GET", &large_path, &large_path, &[])
        .header("range", "bytes=300000-300009")
        .header("traceparent", traceparent(RANGE_TRACE))
        .send()
        .await?;
    ensure!(
        resp.status() == StatusCode::PARTIAL_CONTENT,
        "range: {}",
        resp.status()
    );
    assert_eq!(resp.bytes().await?.as_ref(), &large[300_000..300_010]);

    let spans = collect(&cluster, &receiver).await?;
    let size = body.len().to_string();

    // PUT: gateway request span → (sse.protect →) GenerateDataKey on kms; → PutSmallObject on meta.
    let put = Trace::of(&spans, PUT_TRACE);
    let request = put.get("cang-gateway", SpanKind::Server, "");
    assert_eq!(request.parent_span_id.as_deref(), Some(CALLER_SPAN));
    assert_attrs(
        request,
        &BTreeMap::from([
            ("oss.operation", "PutObject"),
            ("oss.bucket", BUCKET),
            ("oss.object.size", size.as_str()),
            ("cang.sse.algorithm", "KMS"),
            ("http.response.status_code", "200"),
        ]),
    );
    assert!(
        request
            .attribute("cang.sse.segments")
            .is_some_and(|n| n.parse::<u64>().is_ok_and(|n| n >= 1))
    );
    let (_, generate) = put.hop("cang-kms", "/GenerateDataKey", request);
    let protect = put.get("cang-gateway", SpanKind::Internal, "sse.protect");
    assert!(put.descends_from(
        put.get("cang-gateway", SpanKind::Client, "/GenerateDataKey"),
        protect
    ));
    let key_id = protect
        .attribute("cang.kms.key_id")
        .context("key id on sse.protect")?;
    assert!(!key_id.is_empty());
    assert!(
        protect
            .attribute("cang.kms.key_version")
            .is_some_and(|v| !v.is_empty())
    );
    assert_attrs(
        protect,
        &BTreeMap::from([("cang.cache.hit", "false"), ("cang.sse.algorithm", "KMS")]),
    );
    assert_eq!(generate.attribute("cang.kms.key_id"), Some(key_id));
    assert_eq!(
        generate.attribute("cang.kms.key_version"),
        protect.attribute("cang.kms.key_version")
    );
    // A body of at most 32 KiB goes to meta in one message.
    let (_, stored) = put.hop("cang-meta", "/PutSmallObject", request);
    assert_eq!(stored.attribute("cang.meta.commit"), Some("put_object"));

    // GET: gateway request span → LookupObject on meta (the bucket, the record and a small object's bytes,
    // in one call); → (sse.recover_key →) Decrypt on kms.
    let get = Trace::of(&spans, GET_TRACE);
    let request = get.get("cang-gateway", SpanKind::Server, "");
    assert_eq!(request.parent_span_id.as_deref(), Some(CALLER_SPAN));
    assert_attrs(
        request,
        &BTreeMap::from([
            ("oss.operation", "GetObject"),
            ("oss.bucket", BUCKET),
            ("oss.object.size", size.as_str()),
            ("cang.sse.algorithm", "KMS"),
        ]),
    );
    assert!(request.attribute("cang.sse.segments").is_some());
    let (_, decrypt) = get.hop("cang-kms", "/Decrypt", request);
    let recover = get.get("cang-gateway", SpanKind::Internal, "sse.recover_key");
    assert_attrs(
        recover,
        &BTreeMap::from([
            ("cang.cache.hit", "false"),
            ("cang.sse.algorithm", "KMS"),
            ("cang.kms.key_id", key_id),
        ]),
    );
    assert_eq!(decrypt.attribute("cang.kms.key_id"), Some(key_id));
    let (_, lookup) = get.hop("cang-meta", "/LookupObject", request);
    let ranged = Trace::of(&spans, RANGE_TRACE);
    let range_request = ranged.get("cang-gateway", SpanKind::Server, "");
    ranged.hop("cang-meta", "/LookupObject", range_request);
    for (trace, what) in [(GET_TRACE, "a small GET"), (RANGE_TRACE, "a small range")] {
        for other in ["/GetBucket", "/GetSmallObject", "/ReadObject"] {
            assert!(
                !spans
                    .iter()
                    .any(|s| s.trace_id == trace && s.name.ends_with(other)),
                "{what} made another call to meta ({other}) beside {lookup:#?}"
            );
        }
    }

    // Every service names itself fully.
    for name in ["cang-gateway", "cang-kms", "cang-meta"] {
        let span = spans.iter().find(|s| service(s) == name).context(name)?;
        assert_eq!(
            span.resource.get("service.version").map(String::as_str),
            Some(env!("CARGO_PKG_VERSION"))
        );
        assert!(
            span.resource
                .get("service.instance.id")
                .is_some_and(|v| !v.is_empty())
        );
    }

    // Nothing secret in any span, attribute or event.
    let key = data_key(&cluster).await?;
    assert_eq!(key.len(), 32);
    let forbidden = [
        MARKER.to_owned(),
        hex::encode(&key),
        hex::encode_upper(&key),
        base64::engine::general_purpose::STANDARD.encode(&key),
        base64::engine::general_purpose::STANDARD_NO_PAD.encode(&key),
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&key),
    ];
    for span in &spans {
        let text = span.all_text();
        for secret in &forbidden {
            assert!(
                !text.contains(secret.as_str()),
                "secret material in span {} of {}",
                span.name,
                service(span)
            );
        }
    }

    // The same requests, counted.
    let gateway = scrape(cluster.probes_addr).await?;
    for expected in [
        "cang_requests_total{operation=\"PutObject\",status=\"200\"} 2",
        "cang_requests_total{operation=\"GetObject\",status=\"200\"} 1",
        "cang_requests_total{operation=\"GetObject\",status=\"206\"} 1",
        "cang_kms_call_duration_seconds_count{operation=\"GenerateDataKey\"} 2",
        "cang_kms_call_duration_seconds_count{operation=\"Decrypt\"} 2",
    ] {
        assert!(
            gateway.contains(expected),
            "gateway metrics lack {expected}:\n{gateway}"
        );
    }
    let kms = scrape(cluster.kms_metrics_addr.context("kms metrics")?).await?;
    assert!(
        kms.contains("cang_requests_total{operation=\"cang.kms.v1.Kms/GenerateDataKey\",status=\"Ok\"}"),
        "{kms}"
    );
    let meta = scrape(cluster.meta_metrics_addr.context("meta metrics")?).await?;
    assert!(
        meta.contains("cang_requests_total{operation=\"cang.meta.v1.Meta/PutSmallObject\",status=\"Ok\"} 1")
            && meta
                .contains("cang_requests_total{operation=\"cang.meta.v1.Meta/PutObject\",status=\"Ok\"} 1"),
        "{meta}"
    );
    assert!(
        !meta.contains("cang_meta_commit_duration_seconds_count 0"),
        "{meta}"
    );
    Ok(())
}
