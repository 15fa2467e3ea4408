//! The OSS REST gateway: turns signed OSS requests into calls on the crypto and metadata services,
//! encrypting object bodies on the way in and decrypting them on the way out.

pub mod authorize;
pub mod body;
pub mod download;
pub mod keys;
pub mod server;
pub mod upload;
