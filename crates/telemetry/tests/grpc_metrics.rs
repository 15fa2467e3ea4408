//! `GrpcMetricsLayer` on a real tonic server: calls are counted by method and gRPC code when
//! their status arrives, and caller-chosen paths of unknown methods never become labels.

use std::sync::Arc;

use anyhow::Result;
use cang_telemetry::{GrpcMetricsLayer, GrpcServerLayer, Metrics};
use tokio::net::TcpListener;
use tonic::transport::{Channel, Server};
use tonic_health::ServingStatus;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;

#[tokio::test]
async fn counts_calls_by_method_and_code() -> Result<()> {
    let metrics = Arc::new(Metrics::new());
    let (reporter, service) = tonic_health::server::health_reporter();
    reporter
        .set_service_status("cang.meta.v1.Meta", ServingStatus::Serving)
        .await;
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let layer = GrpcMetricsLayer::new(Arc::clone(&metrics));
    tokio::spawn(async move {
        let _keep_reporter = reporter;
        Server::builder()
            .layer(layer)
            .layer(GrpcServerLayer)
            .add_service(service)
            .serve_with_incoming(tonic::transport::server::TcpIncoming::from(listener))
            .await
    });
    let channel = Channel::from_shared(format!("http://{addr}"))?.connect().await?;
    let mut client = HealthClient::new(channel.clone());

    for _ in 0..2 {
        client
            .check(HealthCheckRequest {
                service: "cang.meta.v1.Meta".into(),
            })
            .await?;
    }
    let missing = client
        .check(HealthCheckRequest {
            service: "nope".into(),
        })
        .await;
    assert_eq!(missing.map(|_| ()).unwrap_err().code(), tonic::Code::NotFound);

    // A method the server does not have, on a path the caller made up.
    let mut raw = tonic::client::Grpc::new(channel);
    raw.ready().await?;
    let unimplemented = raw
        .unary::<HealthCheckRequest, tonic_health::pb::HealthCheckResponse, _>(
            tonic::Request::new(HealthCheckRequest::default()),
            http::uri::PathAndQuery::from_static("/attacker.Chosen/Name"),
            tonic_prost::ProstCodec::default(),
        )
        .await;
    assert_eq!(
        unimplemented.map(|_| ()).unwrap_err().code(),
        tonic::Code::Unimplemented
    );

    let text = metrics.encode()?;
    for expected in [
        "cang_requests_total{operation=\"grpc.health.v1.Health/Check\",status=\"Ok\"} 2",
        "cang_requests_total{operation=\"grpc.health.v1.Health/Check\",status=\"NotFound\"} 1",
        "cang_requests_total{operation=\"unknown\",status=\"Unimplemented\"} 1",
        "cang_request_duration_seconds_count{operation=\"grpc.health.v1.Health/Check\",status=\"Ok\"} 2",
    ] {
        assert!(text.contains(expected), "missing {expected} in\n{text}");
    }
    assert!(!text.contains("attacker"), "{text}");
    assert!(!text.contains("Cancelled"), "{text}");
    Ok(())
}
