//! The `/metrics` endpoint: a handler any hyper service can route to, and a small standalone
//! HTTP/1 server for services (kms, meta) that have no HTTP listener of their own.

use std::future::Future;
use std::sync::Arc;

use bytes::Bytes;
use http::header::{ALLOW, CONTENT_TYPE};
use http::{HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::Full;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

use super::Metrics;

/// The exposition format produced by [`Metrics::encode`]; Prometheus scrapes it natively.
pub const OPENMETRICS_CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// The path served by [`metrics_response`].
pub const METRICS_PATH: &str = "/metrics";

fn plain(status: StatusCode, body: &'static str) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from_static(body.as_bytes())));
    *response.status_mut() = status;
    response
}

/// Answers a request for `/metrics`: `GET`/`HEAD` get the exposition, other methods 405, other
/// paths 404. Routing is the caller's; this only checks so that it is safe to mount anywhere.
pub fn metrics_response<B>(metrics: &Metrics, req: &Request<B>) -> Response<Full<Bytes>> {
    if req.uri().path() != METRICS_PATH {
        return plain(StatusCode::NOT_FOUND, "not found\n");
    }
    if req.method() != Method::GET && req.method() != Method::HEAD {
        let mut response = plain(StatusCode::METHOD_NOT_ALLOWED, "method not allowed\n");
        response
            .headers_mut()
            .insert(ALLOW, HeaderValue::from_static("GET, HEAD"));
        return response;
    }
    match metrics.encode() {
        Ok(text) => {
            let body = if req.method() == Method::HEAD {
                Bytes::new()
            } else {
                Bytes::from(text)
            };
            let mut response = Response::new(Full::new(body));
            response
                .headers_mut()
                .insert(CONTENT_TYPE, HeaderValue::from_static(OPENMETRICS_CONTENT_TYPE));
            response
        }
        Err(_) => plain(StatusCode::INTERNAL_SERVER_ERROR, "cannot encode metrics\n"),
    }
}

/// Serves `/metrics` on `listener` until `shutdown` completes. Connections already accepted
/// finish their current scrape on their own tasks.
pub async fn serve_metrics(
    listener: TcpListener,
    metrics: Arc<Metrics>,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    tokio::pin!(shutdown);
    loop {
        let (stream, _) = tokio::select! {
            () = &mut shutdown => return Ok(()),
            accepted = listener.accept() => accepted?,
        };
        // Nagle plus delayed ACK adds ~40 ms to small responses.
        stream.set_nodelay(true)?;
        let metrics = Arc::clone(&metrics);
        tokio::spawn(async move {
            let service = service_fn(move |req: Request<hyper::body::Incoming>| {
                let response = metrics_response(&metrics, &req);
                async move { Ok::<_, std::convert::Infallible>(response) }
            });
            // A scraper that hangs up mid-response is not worth reporting.
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

#[cfg(test)]
mod tests {
    use http_body_util::BodyExt;

    use super::*;

    fn request(method: Method, path: &str) -> Request<()> {
        Request::builder().method(method).uri(path).body(()).unwrap()
    }

    async fn body_text(response: Response<Full<Bytes>>) -> String {
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        String::from_utf8(bytes.to_vec()).unwrap()
    }

    #[tokio::test]
    async fn serves_exposition_with_content_type() {
        let metrics = Metrics::new();
        metrics.audit_records.inc();
        let response = metrics_response(&metrics, &request(Method::GET, "/metrics"));
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()[CONTENT_TYPE], OPENMETRICS_CONTENT_TYPE);
        assert!(body_text(response).await.contains("cang_audit_records_total 1"));
    }

    #[tokio::test]
    async fn standalone_server_answers_scrapes_and_stops() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};

        let metrics = Arc::new(Metrics::new());
        metrics.meta.stored_bytes.set(77);
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(serve_metrics(listener, Arc::clone(&metrics), async {
            let _ = stopped.await;
        }));
        let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        stream
            .write_all(b"GET /metrics HTTP/1.1\r\nHost: m\r\nConnection: close\r\n\r\n")
            .await
            .unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).await.unwrap();
        assert!(response.starts_with("HTTP/1.1 200 OK"), "{response}");
        assert!(response.contains("cang_stored_bytes 77"), "{response}");
        stop.send(()).unwrap();
        server.await.unwrap().unwrap();
        assert!(tokio::net::TcpStream::connect(addr).await.is_err());
    }

    #[tokio::test]
    async fn head_has_no_body_and_other_requests_are_refused() {
        let metrics = Metrics::new();
        let head = metrics_response(&metrics, &request(Method::HEAD, "/metrics"));
        assert_eq!(head.status(), StatusCode::OK);
        assert!(body_text(head).await.is_empty());
        let post = metrics_response(&metrics, &request(Method::POST, "/metrics"));
        assert_eq!(post.status(), StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(post.headers()[ALLOW], "GET, HEAD");
        let other = metrics_response(&metrics, &request(Method::GET, "/metrics/x"));
        assert_eq!(other.status(), StatusCode::NOT_FOUND);
    }
}
