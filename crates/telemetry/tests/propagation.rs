//! Cross-process trace propagation over real loopback sockets: tonic client → tonic server,
//! HTTP `traceparent` → gateway span → gRPC call, exported over real OTLP/gRPC to the
//! in-process receiver; JSON logs carrying trace ids; redacted fields never leaking.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test and benchmark code states its expectations this way

mod support;

use std::convert::Infallible;
use std::time::Duration;

use anyhow::Result;
use bytes::Bytes;
use cang_telemetry::attributes;
use cang_telemetry::test_support::{OtlpReceiver, ReceivedSpan};
use cang_telemetry::{GrpcClientLayer, GrpcServerLayer, HttpServerLayer, Redacted, TelemetryGuard};
use http_body_util::Full;
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tonic::transport::{Channel, Server};
use tonic_health::ServingStatus;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;
use tower::{Layer, ServiceBuilder};
use tracing::Instrument;

use support::{LogCapture, config};

type TracedHealthClient = HealthClient<cang_telemetry::propagation::GrpcClientService<Channel>>;

/// Starts a tonic health server behind `GrpcServerLayer` on 127.0.0.1:0 and returns a client
/// behind `GrpcClientLayer`. `kms` reports SERVING.
async fn health_pair() -> Result<TracedHealthClient> {
    let (reporter, service) = tonic_health::server::health_reporter();
    reporter
        .set_service_status("cang.kms.v1.Kms", ServingStatus::Serving)
        .await;
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        let _keep_reporter = reporter;
        Server::builder()
            .layer(GrpcServerLayer)
            .add_service(service)
            .serve_with_incoming(tonic::transport::server::TcpIncoming::from(listener))
            .await
    });
    let channel = Channel::from_shared(format!("http://{addr}"))?.connect().await?;
    Ok(HealthClient::new(
        ServiceBuilder::new().layer(GrpcClientLayer).service(channel),
    ))
}

/// Flushes on the blocking pool so the current-thread runtime keeps driving the exporter.
async fn flush(guard: TelemetryGuard) -> Result<TelemetryGuard> {
    Ok(tokio::task::spawn_blocking(move || guard.force_flush().map(|()| guard)).await??)
}

fn find<'a>(spans: &'a [ReceivedSpan], name: &str) -> &'a ReceivedSpan {
    spans
        .iter()
        .find(|s| s.name == name)
        .unwrap_or_else(|| panic!("no span {name} in {spans:#?}"))
}

#[tokio::test]
async fn grpc_client_and_server_spans_share_one_trace() -> Result<()> {
    let receiver = OtlpReceiver::start().await?;
    let logs = LogCapture::default();
    let (dispatch, guard) =
        cang_telemetry::build(&config("cang-test", receiver.endpoint()), logs.clone(), false)?;
    let _default = tracing::dispatcher::set_default(&dispatch);

    let mut client = health_pair().await?;
    let root = tracing::info_span!("gateway.put_object");
    async {
        tracing::info!("calling kms");
        let reply = client
            .check(HealthCheckRequest {
                service: "cang.kms.v1.Kms".into(),
            })
            .await
            .expect("health check");
        assert_eq!(reply.into_inner().status, ServingStatus::Serving as i32);
    }
    .instrument(root)
    .await;

    let _guard = flush(guard).await?;
    let spans = receiver.wait_for(Duration::from_secs(10), |s| s.len() >= 3).await;
    let root = find(&spans, "gateway.put_object");
    let client = spans
        .iter()
        .find(|s| s.kind == SpanKind::Client)
        .expect("client span");
    let server = spans
        .iter()
        .find(|s| s.kind == SpanKind::Server)
        .expect("server span");

    assert_eq!(client.name, "grpc.health.v1.Health/Check");
    assert_eq!(server.name, "grpc.health.v1.Health/Check");
    assert_eq!(root.parent_span_id, None);
    assert_eq!(client.trace_id, root.trace_id);
    assert_eq!(server.trace_id, root.trace_id);
    assert_eq!(client.parent_span_id.as_deref(), Some(root.span_id.as_str()));
    assert_eq!(server.parent_span_id.as_deref(), Some(client.span_id.as_str()));
    for span in [client, server] {
        assert_eq!(span.attribute("rpc.system"), Some("grpc"));
        assert_eq!(span.attribute("rpc.service"), Some("grpc.health.v1.Health"));
        assert_eq!(span.attribute("rpc.method"), Some("Check"));
        assert_eq!(span.attribute("rpc.grpc.status_code"), Some("0"));
        assert!(!span.is_error);
        assert_eq!(
            span.resource.get("service.name").map(String::as_str),
            Some("cang-test")
        );
        assert_eq!(
            span.resource.get("service.version").map(String::as_str),
            Some("9.8.7")
        );
        assert_eq!(
            span.resource.get("service.instance.id").map(String::as_str),
            Some("cang-test-instance-1")
        );
    }

    // The log line emitted inside the root span carries its OpenTelemetry ids.
    let lines = logs.json_lines();
    let line = lines
        .iter()
        .find(|l| l["message"] == "calling kms")
        .expect("log line");
    assert_eq!(line["trace_id"], root.trace_id.as_str());
    assert_eq!(line["span_id"], root.span_id.as_str());
    assert_eq!(line["level"], "INFO");
    assert_eq!(line["span"]["name"], "gateway.put_object");
    Ok(())
}

#[tokio::test]
async fn grpc_error_statuses_follow_the_conventions() -> Result<()> {
    let receiver = OtlpReceiver::start().await?;
    let (dispatch, guard) = cang_telemetry::build(
        &config("cang-test", receiver.endpoint()),
        LogCapture::default(),
        false,
    )?;
    let _default = tracing::dispatcher::set_default(&dispatch);

    let mut client = health_pair().await?;
    let status = client
        .check(HealthCheckRequest {
            service: "no.such.Service".into(),
        })
        .await
        .expect_err("unknown service");
    assert_eq!(status.code(), tonic::Code::NotFound);

    let _guard = flush(guard).await?;
    let spans = receiver.wait_for(Duration::from_secs(10), |s| s.len() >= 2).await;
    let client = spans.iter().find(|s| s.kind == SpanKind::Client).expect("client");
    let server = spans.iter().find(|s| s.kind == SpanKind::Server).expect("server");
    assert_eq!(client.attribute("rpc.grpc.status_code"), Some("5"));
    assert_eq!(server.attribute("rpc.grpc.status_code"), Some("5"));
    // NotFound is the caller's problem: an error for the client, not for the server.
    assert!(client.is_error);
    assert!(!server.is_error);
    assert_eq!(client.attribute("error.type"), Some("NotFound"));
    Ok(())
}

const CALLER_TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const CALLER_SPAN: &str = "00f067aa0ba902b7";
const DATA_KEY_MARKER: &str = "9f1c2e3d4b5a69788796a5b4c3d2e1f0";

/// A gateway-like handler: records OSS attributes, calls "kms" over traced gRPC, logs a redacted
/// data key, and fails with 503 on `/unavailable`.
async fn gateway_handler(
    client: TracedHealthClient,
    req: http::Request<hyper::body::Incoming>,
) -> Result<http::Response<Full<Bytes>>, Infallible> {
    let span = tracing::Span::current();
    span.record("oss.operation", "GetObject");
    span.record("oss.bucket", "photos");
    attributes::record_kms_key("key-123", "v2");
    attributes::record_sse("KMS", 3);
    attributes::record_cache_hit(false);
    let _ = client
        .clone()
        .check(HealthCheckRequest {
            service: "cang.kms.v1.Kms".into(),
        })
        .await;
    tracing::info!(data_key = %Redacted(DATA_KEY_MARKER), "data key unwrapped");
    let inner = tracing::info_span!("sse.decrypt", secret = ?Redacted(DATA_KEY_MARKER.as_bytes()));
    inner.in_scope(|| tracing::debug!("decrypting"));
    let status = if req.uri().path() == "/unavailable" {
        http::StatusCode::SERVICE_UNAVAILABLE
    } else {
        http::StatusCode::OK
    };
    Ok(http::Response::builder()
        .status(status)
        .body(Full::new(Bytes::from_static(b"ok")))
        .expect("static response"))
}

async fn raw_get(addr: std::net::SocketAddr, path: &str, traceparent: Option<&str>) -> Result<String> {
    let mut stream = TcpStream::connect(addr).await?;
    let mut request = format!("GET {path} HTTP/1.1\r\nHost: photos.oss.local\r\nConnection: close\r\n");
    if let Some(tp) = traceparent {
        request.push_str(&format!("traceparent: {tp}\r\n"));
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes()).await?;
    let mut response = String::new();
    stream.read_to_string(&mut response).await?;
    Ok(response)
}

#[tokio::test]
async fn http_traceparent_is_joined_and_secrets_stay_out() -> Result<()> {
    let receiver = OtlpReceiver::start().await?;
    let logs = LogCapture::default();
    let (dispatch, guard) =
        cang_telemetry::build(&config("cang-gateway", receiver.endpoint()), logs.clone(), false)?;
    let _default = tracing::dispatcher::set_default(&dispatch);

    let client = health_pair().await?;
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let client = client.clone();
            let service = HttpServerLayer.layer(hyper::service::service_fn(move |req| {
                gateway_handler(client.clone(), req)
            }));
            tokio::spawn(
                hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service),
            );
        }
    });

    let traceparent = format!("00-{CALLER_TRACE}-{CALLER_SPAN}-01");
    let ok = raw_get(
        addr,
        "/photos/cat.jpg?Signature=PRESIGNED_SECRET",
        Some(&traceparent),
    )
    .await?;
    assert!(ok.starts_with("HTTP/1.1 200"), "{ok}");
    let failed = raw_get(addr, "/unavailable", None).await?;
    assert!(failed.starts_with("HTTP/1.1 503"), "{failed}");

    let _guard = flush(guard).await?;
    let spans = receiver
        .wait_for(Duration::from_secs(10), |s| {
            s.iter().filter(|s| s.name == "GET").count() >= 2
                && s.iter().filter(|s| s.kind == SpanKind::Server).count() >= 4
        })
        .await;

    let joined = spans
        .iter()
        .find(|s| s.name == "GET" && s.trace_id == CALLER_TRACE)
        .unwrap_or_else(|| panic!("no HTTP span joined the caller's trace: {spans:#?}"));
    assert_eq!(joined.kind, SpanKind::Server);
    assert_eq!(joined.parent_span_id.as_deref(), Some(CALLER_SPAN));
    assert_eq!(joined.attribute("http.request.method"), Some("GET"));
    assert_eq!(joined.attribute("url.path"), Some("/photos/cat.jpg"));
    assert_eq!(joined.attribute("http.response.status_code"), Some("200"));
    assert_eq!(joined.attribute("oss.operation"), Some("GetObject"));
    assert_eq!(joined.attribute("oss.bucket"), Some("photos"));
    assert_eq!(joined.attribute("cang.kms.key_id"), Some("key-123"));
    assert_eq!(joined.attribute("cang.kms.key_version"), Some("v2"));
    assert_eq!(joined.attribute("cang.sse.algorithm"), Some("KMS"));
    assert_eq!(joined.attribute("cang.sse.segments"), Some("3"));
    assert_eq!(joined.attribute("cang.cache.hit"), Some("false"));
    assert!(!joined.is_error);

    // The gRPC call made while handling the request continues the caller's trace.
    let kms_client = spans
        .iter()
        .find(|s| s.kind == SpanKind::Client && s.trace_id == CALLER_TRACE)
        .expect("kms client span in the caller's trace");
    assert_eq!(
        kms_client.parent_span_id.as_deref(),
        Some(joined.span_id.as_str())
    );
    let kms_server = spans
        .iter()
        .find(|s| {
            s.name == "grpc.health.v1.Health/Check"
                && s.kind == SpanKind::Server
                && s.trace_id == CALLER_TRACE
        })
        .expect("kms server span in the caller's trace");
    assert_eq!(
        kms_server.parent_span_id.as_deref(),
        Some(kms_client.span_id.as_str())
    );

    // Without a traceparent the request starts its own trace; a 503 is a server error.
    let fresh = spans
        .iter()
        .find(|s| s.name == "GET" && s.attribute("url.path") == Some("/unavailable"))
        .expect("503 span");
    assert_ne!(fresh.trace_id, CALLER_TRACE);
    assert_eq!(fresh.parent_span_id, None);
    assert_eq!(fresh.attribute("http.response.status_code"), Some("503"));
    assert!(fresh.is_error);
    assert_eq!(fresh.attribute("error.type"), Some("503"));

    // Neither the query string nor any redacted value reaches spans or logs.
    let log_text = logs.text();
    for span in &spans {
        let text = span.all_text();
        assert!(!text.contains("PRESIGNED_SECRET"), "{text}");
        assert!(!text.contains(DATA_KEY_MARKER), "{text}");
    }
    assert!(!log_text.contains(DATA_KEY_MARKER), "{log_text}");
    let key_line = logs
        .json_lines()
        .into_iter()
        .find(|l| l["message"] == "data key unwrapped" && l["trace_id"] == CALLER_TRACE)
        .expect("log line in the caller's trace");
    assert_eq!(key_line["fields"]["data_key"], cang_telemetry::REDACTED);
    let decrypt = find(&spans, "sse.decrypt");
    assert_eq!(decrypt.attribute("secret"), Some(cang_telemetry::REDACTED));
    Ok(())
}
