//! The HTTP/1.1 listener: bounded connections, a deadline on reading each request head and body, a
//! bounded body, `TCP_NODELAY`, and a graceful drain on shutdown.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use cang_kms_api::KmsForCaller;
use http::{Request, Response};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::{OpenApi, OpenApiError};

/// Limits of the listener.
#[derive(Debug, Clone)]
pub struct ServerLimits {
    /// Connections served at once; more are closed at once.
    pub max_connections: usize,
    /// Largest request body, bytes (`Encrypt` takes 6 KiB of plaintext; escaping can triple it).
    pub max_body_bytes: usize,
    /// How long a client may take to send a request head.
    pub header_read_timeout: Duration,
    /// How long a client may take to send a body.
    pub body_timeout: Duration,
    /// How long in-flight requests may finish after shutdown begins.
    pub drain_deadline: Duration,
}

impl Default for ServerLimits {
    fn default() -> Self {
        Self {
            max_connections: 1024,
            max_body_bytes: 128 << 10,
            header_read_timeout: Duration::from_secs(30),
            body_timeout: Duration::from_secs(30),
            drain_deadline: Duration::from_secs(5),
        }
    }
}

async fn answer<F: KmsForCaller>(
    api: &OpenApi<F>,
    limits: &ServerLimits,
    request: Request<Incoming>,
    peer: SocketAddr,
) -> Response<Full<Bytes>> {
    let (parts, body) = request.into_parts();
    let read = tokio::time::timeout(
        limits.body_timeout,
        Limited::new(body, limits.max_body_bytes).collect(),
    );
    let body = match read.await {
        Ok(Ok(collected)) => collected.to_bytes(),
        Ok(Err(_)) => {
            return plain_error(OpenApiError::InvalidParameter(format!(
                "The request body is unreadable or larger than {} bytes.",
                limits.max_body_bytes
            )));
        }
        Err(_) => {
            return plain_error(OpenApiError::InvalidParameter(
                "The request body was not received in time.".into(),
            ));
        }
    };
    api.handle(&parts, &body, peer).await
}

fn plain_error(e: OpenApiError) -> Response<Full<Bytes>> {
    let id = uuid::Uuid::new_v4().to_string().to_uppercase();
    let mut response = Response::new(Full::new(Bytes::from(e.to_json(&id, "kms"))));
    *response.status_mut() = http::StatusCode::from_u16(e.status()).unwrap_or(http::StatusCode::BAD_REQUEST);
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json;charset=utf-8"),
    );
    response
}

/// Serves `api` on `listener` until `shutdown` is cancelled, then drains for at most the deadline.
pub async fn serve<F: KmsForCaller>(
    api: Arc<OpenApi<F>>,
    listener: TcpListener,
    limits: ServerLimits,
    shutdown: CancellationToken,
) {
    let graceful = GracefulShutdown::new();
    let connections = Arc::new(tokio::sync::Semaphore::new(limits.max_connections.max(1)));
    let limits = Arc::new(limits);
    tracing::info!(addr = ?listener.local_addr().ok(), "kms openapi serving");
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(conn) => conn,
                Err(err) => {
                    tracing::warn!(error = %err, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = shutdown.cancelled() => break,
        };
        if let Err(err) = stream.set_nodelay(true) {
            tracing::debug!(error = %err, "TCP_NODELAY not set");
        }
        let Ok(permit) = Arc::clone(&connections).try_acquire_owned() else {
            tracing::warn!(%peer, "connection limit reached; closing");
            drop(stream);
            continue;
        };
        let api = Arc::clone(&api);
        let request_limits = Arc::clone(&limits);
        let service = service_fn(move |request| {
            let api = Arc::clone(&api);
            let limits = Arc::clone(&request_limits);
            async move { Ok::<_, Infallible>(answer(&api, &limits, request, peer).await) }
        });
        let mut builder = http1::Builder::new();
        builder
            .timer(TokioTimer::new())
            .header_read_timeout(limits.header_read_timeout)
            .max_buf_size(64 << 10)
            .keep_alive(true);
        let connection = graceful.watch(builder.serve_connection(TokioIo::new(stream), service));
        tokio::spawn(async move {
            if let Err(err) = connection.await {
                tracing::debug!(error = %err, %peer, "connection ended with an error");
            }
            drop(permit);
        });
    }
    drop(listener);
    if tokio::time::timeout(limits.drain_deadline, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("kms openapi drain deadline passed; closing remaining connections");
    }
}
