//! The gateway's operations listener, apart from the OSS port: `/metrics` for Prometheus, `/healthz` (the
//! process answers) and `/readyz` (the crypto and metadata services answer and the gateway is not draining)
//! for Kubernetes probes.

use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use cang_kms_api::{KmsApi, KmsError};
use cang_meta_api::{MetaApi, MetaError};
use cang_telemetry::Metrics;
use cang_telemetry::metrics::http::metrics_response;
use http::{Method, Request, Response, StatusCode};
use http_body_util::Full;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tracing::instrument::WithSubscriber;
use tracing::subscriber::NoSubscriber;

/// How long one readiness verdict is reused: probes from several kubelets and scrapers cost one round trip
/// to each service per period.
const VERDICT_TTL: Duration = Duration::from_secs(1);
/// How long a backing service may take to answer the readiness call.
const PROBE_TIMEOUT: Duration = Duration::from_millis(500);
/// The account the metadata probe asks for; any answer but "unavailable" proves the service is up.
const PROBE_ACCOUNT: &str = "cang-readiness-probe";

/// Why the gateway is or is not ready.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Both services answer.
    Ready,
    /// Shutdown has begun: new requests should go elsewhere.
    Draining,
    /// The crypto service did not answer in time.
    KmsUnreachable,
    /// The metadata service did not answer in time.
    MetaUnreachable,
}

impl Verdict {
    fn body(self) -> &'static str {
        match self {
            Self::Ready => "ready\n",
            Self::Draining => "draining\n",
            Self::KmsUnreachable => "kms unreachable\n",
            Self::MetaUnreachable => "meta unreachable\n",
        }
    }
}

/// Readiness of the gateway, with the last verdict cached for [`VERDICT_TTL`].
pub struct Readiness {
    kms: Arc<dyn KmsApi>,
    meta: Arc<dyn MetaApi>,
    draining: AtomicBool,
    last: tokio::sync::Mutex<Option<(Instant, Verdict)>>,
}

impl std::fmt::Debug for Readiness {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Readiness")
            .field("draining", &self.draining)
            .finish_non_exhaustive()
    }
}

impl Readiness {
    /// Readiness over the two backing services.
    pub fn new(kms: Arc<dyn KmsApi>, meta: Arc<dyn MetaApi>) -> Self {
        Self {
            kms,
            meta,
            draining: AtomicBool::new(false),
            last: tokio::sync::Mutex::new(None),
        }
    }

    /// From now on the gateway reports itself not ready.
    pub fn start_draining(&self) {
        self.draining.store(true, Ordering::Relaxed);
    }

    /// The current verdict: cached for a second; concurrent probes share one round trip.
    pub async fn check(&self) -> Verdict {
        if self.draining.load(Ordering::Relaxed) {
            return Verdict::Draining;
        }
        let mut last = self.last.lock().await;
        if let Some((at, verdict)) = *last
            && at.elapsed() < VERDICT_TTL
        {
            return verdict;
        }
        let verdict = self.probe().await;
        *last = Some((Instant::now(), verdict));
        verdict
    }

    /// One cheap call to each service. The crypto service refuses the gateway its audit trail without
    /// touching storage or writing an audit record; the metadata service looks up an account that does not
    /// exist. Any answer other than "unavailable" means the service is up. The calls are not traced:
    /// probes would otherwise start a trace every second.
    async fn probe(&self) -> Verdict {
        let kms = tokio::time::timeout(PROBE_TIMEOUT, self.kms.list_audit_records(0, 1));
        let meta = tokio::time::timeout(PROBE_TIMEOUT, self.meta.get_account(PROBE_ACCOUNT));
        let (kms, meta) = tokio::join!(
            kms.with_subscriber(NoSubscriber::default()),
            meta.with_subscriber(NoSubscriber::default())
        );
        if matches!(kms, Err(_) | Ok(Err(KmsError::Unavailable | KmsError::Internal))) {
            return Verdict::KmsUnreachable;
        }
        if matches!(
            meta,
            Err(_) | Ok(Err(MetaError::Unavailable(_) | MetaError::Internal(_)))
        ) {
            return Verdict::MetaUnreachable;
        }
        Verdict::Ready
    }
}

fn text(status: StatusCode, body: &'static str) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from_static(body.as_bytes())));
    *response.status_mut() = status;
    response
}

/// Answers one request on the operations listener.
async fn answer<B>(metrics: &Metrics, readiness: &Readiness, req: Request<B>) -> Response<Full<Bytes>> {
    let path = req.uri().path();
    if path != "/healthz" && path != "/readyz" {
        return metrics_response(metrics, &req);
    }
    if req.method() != Method::GET && req.method() != Method::HEAD {
        return text(StatusCode::METHOD_NOT_ALLOWED, "method not allowed\n");
    }
    if path == "/healthz" {
        return text(StatusCode::OK, "ok\n");
    }
    match readiness.check().await {
        Verdict::Ready => text(StatusCode::OK, Verdict::Ready.body()),
        other => text(StatusCode::SERVICE_UNAVAILABLE, other.body()),
    }
}

/// Serves `/metrics`, `/healthz` and `/readyz` on `listener` until `shutdown` resolves.
pub async fn serve_probes(
    listener: TcpListener,
    metrics: Arc<Metrics>,
    readiness: Arc<Readiness>,
    shutdown: impl Future<Output = ()>,
) {
    tokio::pin!(shutdown);
    loop {
        let stream = tokio::select! {
            () = &mut shutdown => return,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(err) => {
                    tracing::warn!(error = %err, "operations listener accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        if let Err(err) = stream.set_nodelay(true) {
            tracing::debug!(error = %err, "TCP_NODELAY not set");
        }
        let (metrics, readiness) = (Arc::clone(&metrics), Arc::clone(&readiness));
        tokio::spawn(async move {
            let service = service_fn(move |req: Request<hyper::body::Incoming>| {
                let (metrics, readiness) = (Arc::clone(&metrics), Arc::clone(&readiness));
                async move { Ok::<_, Infallible>(answer(&metrics, &readiness, req).await) }
            });
            // A probe that hangs up early is not worth reporting.
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}
