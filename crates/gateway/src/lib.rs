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
