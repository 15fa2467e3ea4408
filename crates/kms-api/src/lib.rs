//! The crypto service's API: the [`KmsApi`] trait (no tonic types), its domain types and the typed
//! [`KmsError`], plus the gRPC client ([`KmsGrpcClient`]) and server ([`KmsGrpcServer`]) adapters.
//! A `KeyDisabled` raised by the server is a `KeyDisabled` in the client; an outage is `Unavailable`.

mod api;
mod client;
mod convert;
mod error;
mod server;
mod types;

pub use api::{KmsApi, KmsForCaller};
pub use client::KmsGrpcClient;
pub use error::KmsError;
pub use server::{KMS_CALLERS, KmsGrpcServer};
pub use types::*;
