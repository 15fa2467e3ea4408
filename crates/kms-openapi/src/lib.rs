//! The Alibaba Cloud KMS OpenAPI (version 2016-01-20) over HTTP: the edge through which applications
//! and the vendor SDKs reach Cang's crypto service with the same access keys, RAM policies and audit as
//! OSS.
//!
//! - [`params`]: query string and form body, decoded and bounded.
//! - [`acs3`] and [`rpc`]: the two signatures (ACS3-HMAC-SHA256 and the RPC HMAC-SHA1), pure.
//! - [`replay`]: signed-time skew and single-use nonces.
//! - [`action`]: an action and its parameters parsed into one typed [`Operation`].
//! - `authorize` and `exec`: RAM decision on each key's ARN, then the [`cang_kms_api::KmsApi`] call
//!   on a session bound to the end user, and Alibaba's JSON.
//! - [`OpenApi`] ties them together per request; [`serve`] is the listener.
//! - [`ram`]: the RAM OpenAPI (version 2015-05-01) on the same edge: users, access keys, custom policies.
//! - [`app`]: the gRPC API for applications (`cang.kms.app.v1.Kms`) over the same edge: signed
//!   metadata instead of a signed HTTP request, the same RAM decisions, sessions and audit.

pub mod acs3;
pub mod action;
pub mod app;
mod authorize;
mod error;
mod exec;
mod handler;
pub mod params;
pub mod ram;
pub mod replay;
pub mod rpc;
mod server;

pub use action::{API_VERSION, Operation};
pub use app::{AppLimits, KmsApp, serve_app};
pub use error::OpenApiError;
pub use exec::{CiphertextKeyId, iso_time};
pub use handler::{Clock, OpenApi, OpenApiConfig};
pub use server::{ServerLimits, serve};
