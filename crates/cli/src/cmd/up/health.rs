//! Readiness probes `cang up` runs against its children: gRPC health over mTLS for kms and meta, and
//! any HTTP response from the gateway.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{Context, bail};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tonic::transport::ClientTlsConfig;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// Whether the gRPC service at `addr` reports SERVING for the whole server.
pub async fn grpc_serving(addr: SocketAddr, tls: &ClientTlsConfig) -> anyhow::Result<()> {
    let channel = cang_tls::endpoint(&addr.to_string(), tls.clone())?
        .timeout(PROBE_TIMEOUT)
        .connect()
        .await
        .context("connecting")?;
    let response = HealthClient::new(channel)
        .check(HealthCheckRequest {
            service: String::new(),
        })
        .await
        .context("health check")?;
    let status = response.into_inner().status;
    if status != ServingStatus::Serving as i32 {
        bail!("health status {status}");
    }
    Ok(())
}

/// Whether something at `addr` answers `GET /` with an HTTP response (any status: an anonymous
/// request to the gateway is refused, which still proves it serves).
pub async fn http_answers(addr: SocketAddr) -> anyhow::Result<()> {
    tokio::time::timeout(PROBE_TIMEOUT, async {
        let mut stream = TcpStream::connect(addr).await.context("connecting")?;
        stream
            .write_all(format!("GET / HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").as_bytes())
            .await
            .context("sending")?;
        let mut head = [0u8; 12];
        stream.read_exact(&mut head).await.context("reading")?;
        if !head.starts_with(b"HTTP/1.") {
            bail!("not an HTTP response");
        }
        Ok(())
    })
    .await
    .context("timed out")?
}
