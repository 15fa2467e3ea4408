//! The OSS REST gateway: turns signed OSS requests into calls on the crypto and metadata services,
//! encrypting object bodies on the way in and decrypting them on the way out.

pub mod authorize;
pub mod body;
pub mod download;
pub mod encryption;
pub mod errors;
mod gateway;
pub mod keys;
mod ops;
pub mod principal;
pub mod server;
pub mod upload;

pub use gateway::{Call, Gateway, GatewayConfig, render_error};

/// Serves the OSS API on `listener` until `shutdown` resolves, then drains in-flight requests.
pub async fn run(
    config: GatewayConfig,
    limits: server::ConnectionLimits,
    listener: tokio::net::TcpListener,
    kms: std::sync::Arc<dyn cang_kms_api::KmsApi>,
    meta: std::sync::Arc<dyn cang_meta_api::MetaApi>,
    shutdown: impl std::future::Future<Output = ()>,
) {
    let gateway = std::sync::Arc::new(Gateway::new(config, kms, meta));
    tracing::info!(addr = ?listener.local_addr().ok(), "cang gateway serving");
    server::serve(listener, gateway, limits, shutdown).await;
}
