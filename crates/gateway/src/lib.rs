//! The OSS REST gateway: turns signed OSS requests into calls on the crypto and metadata services,
//! encrypting object bodies on the way in and decrypting them on the way out.
//!
//! Where a change goes:
//!
//! | module | job |
//! |---|---|
//! | `server` | TCP accept, connection cap, HTTP/1.1 serving, drain |
//! | `gateway` | the request pipeline: route → bucket → signature → admission → authorise → dispatch → render |
//! | `state` | the gateway's shared state and the authorised call every operation receives |
//! | `access` | authorisation against stored state: object ACLs from meta, the per-key check of batches |
//! | `admission` | requests in flight per caller |
//! | `authorize` | who may do what: RAM actions per endpoint, identity verdict, effective ACLs, KMS permissions |
//! | `principal` | access keys to principals (with a short cache) |
//! | `ops/*` | one function per OSS operation, turning a call into a response |
//! | `pipeline/*` | below the operations: seal a request body into stored segments, open a read plan, the stored-record formats, the CPU pool |
//! | `encryption`, `keys` | which encryption an object gets; data keys issued, cached and unwrapped |
//! | `body` | request bodies (signed digest, idle timeout) and response bodies |
//! | `errors` | the one error edge: every crypto and metadata error becomes an OSS error there |
//!
//! Arrows run one way: `server` → `gateway` → `ops` → `pipeline` → the service clients. Operations return
//! `errors::Failure` and use `?`; the pipeline in `gateway` renders it once, naming the route's bucket and key.
//!
//! Errors are mapped in exactly four places in Cang: `cang-oss` renders `OssError` as OSS XML;
//! `cang-kms-api` and `cang-meta-api` carry `KmsError` and `MetaError` across gRPC (each variant survives the
//! hop); and this crate's `errors` turns those two into OSS errors. Nothing else maps an error.
//! | `rewrap`, `reseal`, `jobs`, `verify` | key maintenance over every stored object: re-wrapping data keys, re-encrypting objects, running both as audited jobs for the operator, checking that every object still opens |
//! | `console` | the web console's listener: `cang-console` over this pipeline and its access keys |
//! | `observe`, `probes` | span attributes, metrics, the access log; `/metrics`, `/healthz`, `/readyz` |

mod access;
mod admission;
mod authorize;
mod body;
mod console;
mod encryption;
mod errors;
mod gateway;
mod keys;
mod observe;
mod ops;
mod pipeline;
mod principal;
mod probes;
mod server;
mod state;
#[cfg(test)]
mod testing;
#[cfg(test)]
mod tests;

pub mod jobs;
pub mod reseal;
pub mod rewrap;
pub mod verify;

pub use cang_console::{ConsoleConfig, SessionKey, SessionLimits};
pub use keys::KeyCacheLimits;
pub use server::ConnectionLimits;
pub use state::{GatewayConfig, WallClock};

use state::Gateway;

use std::future::Future;
use std::sync::Arc;

use cang_kms_api::KmsApi;
use cang_meta_api::MetaApi;
use tokio::net::TcpListener;

/// Serves the OSS API on `listener` until `shutdown` resolves, then drains in-flight requests. With
/// `config.metrics_listen`, `/metrics`, `/healthz` and `/readyz` are served there too (a failure to bind it
/// is logged and the OSS API is served without it).
pub async fn run(
    config: GatewayConfig,
    limits: ConnectionLimits,
    listener: TcpListener,
    kms: Arc<dyn KmsApi>,
    meta: Arc<dyn MetaApi>,
    shutdown: impl Future<Output = ()>,
) {
    let probes = match config.metrics_listen {
        Some(addr) => match TcpListener::bind(addr).await {
            Ok(probes) => Some(probes),
            Err(err) => {
                tracing::error!(%addr, error = %err, "metrics listener not bound; serving without it");
                None
            }
        },
        None => None,
    };
    run_with_probes(config, limits, listener, probes, kms, meta, shutdown).await;
}

/// Like [`run`], with the operations listener (`/metrics`, `/healthz`, `/readyz`) already bound. Readiness
/// fails as soon as `shutdown` resolves, while in-flight requests drain.
pub async fn run_with_probes(
    config: GatewayConfig,
    limits: ConnectionLimits,
    listener: TcpListener,
    probes: Option<TcpListener>,
    kms: Arc<dyn KmsApi>,
    meta: Arc<dyn MetaApi>,
    shutdown: impl Future<Output = ()>,
) {
    let listeners = Listeners {
        api: listener,
        probes,
        console: None,
    };
    run_with_listeners(config, limits, listeners, kms, meta, shutdown).await;
}

/// The listeners a gateway serves.
#[derive(Debug)]
pub struct Listeners {
    /// The OSS API.
    pub api: TcpListener,
    /// `/metrics`, `/healthz`, `/readyz`.
    pub probes: Option<TcpListener>,
    /// The web console, with its settings.
    pub console: Option<(TcpListener, ConsoleConfig)>,
}

/// Like [`run`], with every listener already bound: the OSS API, and optionally the operations listener and
/// the web console (its own listener, so no bucket name can collide with a console path). Readiness fails
/// as soon as `shutdown` resolves, while in-flight requests drain on every listener.
pub async fn run_with_listeners(
    config: GatewayConfig,
    limits: ConnectionLimits,
    listeners: Listeners,
    kms: Arc<dyn KmsApi>,
    meta: Arc<dyn MetaApi>,
    shutdown: impl Future<Output = ()>,
) {
    let readiness = Arc::new(probes::Readiness::new(Arc::clone(&kms), Arc::clone(&meta)));
    let gateway = Arc::new(Gateway::new(config, kms, meta));
    let metrics = Arc::clone(&gateway.metrics);
    let stop_probes = Arc::new(tokio::sync::Notify::new());
    let probe_task = listeners.probes.map(|probes| {
        tracing::info!(addr = ?probes.local_addr().ok(), "cang gateway operations listener");
        let stopped = Arc::clone(&stop_probes);
        tokio::spawn(probes::serve_probes(
            probes,
            Arc::clone(&metrics),
            Arc::clone(&readiness),
            async move { stopped.notified().await },
        ))
    });
    let stop_console = Arc::new(tokio::sync::Notify::new());
    let console_task = listeners.console.map(|(console, settings)| {
        tracing::info!(addr = ?console.local_addr().ok(), "cang gateway console listener");
        let site = Arc::new(console::Site(cang_console::Console::new(
            settings,
            console::Pipeline(Arc::clone(&gateway)),
        )));
        let stopped = Arc::clone(&stop_console);
        tokio::spawn(server::serve(
            console,
            site,
            limits.clone(),
            Arc::clone(&metrics),
            async move { stopped.notified().await },
        ))
    });
    tracing::info!(addr = ?listeners.api.local_addr().ok(), "cang gateway serving");
    let draining = Arc::clone(&readiness);
    let console_stops = Arc::clone(&stop_console);
    let shutdown = async move {
        shutdown.await;
        draining.start_draining();
        // A stored permit: the console stops even if its task has not reached its wait yet.
        console_stops.notify_one();
    };
    server::serve(listeners.api, gateway, limits, metrics, shutdown).await;
    stop_probes.notify_one();
    for task in [console_task, probe_task].into_iter().flatten() {
        // Both tasks only end by being told to; a join error would mean one panicked.
        if task.await.is_err() {
            tracing::error!("a listener task failed");
        }
    }
}
