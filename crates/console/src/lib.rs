//! The web console: the OSS console's two ways of turning on server-side encryption (in the Create Bucket
//! dialog, and later under Basic Settings), an object browser that shows how each object is encrypted, and
//! the account's KMS keys.
//!
//! The console holds no privilege of its own. A user signs in with an access key pair; the session is a
//! sealed cookie ([`session`]) naming only the key id. Every action is an OSS request signed with that
//! user's key and answered by the OSS API's own pipeline through [`Backend`] ([`client`]), or a KMS
//! OpenAPI call signed the same way ([`kms`]): the same signature checks, RAM policies, ACLs, KMS
//! permissions and audit as the user's SDK would meet.
//!
//! | module | job |
//! |---|---|
//! | `session` | sealed session cookies, CSRF tokens, idle expiry, sign-out |
//! | `client`, `xml` | OSS requests as the signed-in user, their XML answers |
//! | `kms` | KMS and RAM OpenAPI calls as the signed-in user |
//! | `lines` | the line of a policy document its refusal names |
//! | `routes` | which page or action a request is, the CSRF and `Origin` checks |
//! | `site` | what pages and actions share: the signed-in request, forms, cookies, answers |
//! | `actions` | each page and action: the OSS and KMS calls behind it |
//! | `ram` | the access-control pages: the RAM calls behind them |
//! | `pages`, `text` | server-rendered HTML in Chinese and English |

pub mod client;
pub mod kms;
pub mod lines;
pub mod pages;
pub mod session;
pub mod text;
pub mod xml;

mod actions;
mod ram;
mod routes;
mod site;
#[cfg(test)]
mod tests;

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use cang_oss::auth::AccessKeySecret;
use futures::future::BoxFuture;
use http::{Request, Response};
use http_body_util::{BodyExt, Empty, Full};

pub use session::{SessionKey, SessionLimits};

/// Errors a body may end with.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;
/// Request and response bodies, both ways.
pub type Body = http_body_util::combinators::BoxBody<Bytes, BoxError>;

/// An empty body.
pub fn empty_body() -> Body {
    Empty::new().map_err(|never| match never {}).boxed()
}

/// A body of `bytes`.
pub fn full_body(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into()).map_err(|never| match never {}).boxed()
}

/// The access key store could not be asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("access keys cannot be looked up now")]
pub struct Unavailable;

/// What the console stands on: the OSS API's pipeline and the access keys it verifies with.
pub trait Backend: Send + Sync + 'static {
    /// Answers one signed OSS request exactly as the OSS listener would answer it from `peer`.
    fn oss(&self, request: Request<Body>, peer: SocketAddr) -> BoxFuture<'static, Response<Body>>;

    /// The secret of an active access key; `None` when there is no such key or it is disabled.
    fn secret(&self, access_key_id: &str)
    -> BoxFuture<'static, Result<Option<AccessKeySecret>, Unavailable>>;

    /// Records, for every replica, that session `id` was signed out; the record may go at `until` (Unix
    /// seconds), when its cookie expires anyway.
    fn revoke_session(&self, id: [u8; 16], until: u64) -> BoxFuture<'static, Result<(), Unavailable>>;

    /// Whether session `id` was signed out, on any replica.
    fn session_revoked(&self, id: [u8; 16]) -> BoxFuture<'static, Result<bool, Unavailable>>;
}

/// Console settings.
#[derive(Debug, Clone)]
pub struct ConsoleConfig {
    /// The key sessions are sealed with (shared by every gateway serving the console).
    pub session_key: SessionKey,
    /// Idle and total lifetime of a session.
    pub session_limits: SessionLimits,
    /// `host:port` of the KMS OpenAPI, for the key picker and key pages; none disables them.
    pub kms_authority: Option<String>,
    /// Part size of browser uploads: larger files go through multipart upload in parts of this size.
    pub part_size: u64,
    /// Mark cookies `Secure`: the console is reached over HTTPS (a TLS-terminating ingress in front).
    pub secure_cookies: bool,
}

impl ConsoleConfig {
    /// Settings with `session_key` and the defaults.
    pub fn new(session_key: SessionKey) -> Self {
        Self {
            session_key,
            session_limits: SessionLimits::default(),
            kms_authority: None,
            part_size: 8 << 20,
            secure_cookies: false,
        }
    }
}

/// The console over a backend.
pub struct Console<B> {
    config: ConsoleConfig,
    sessions: session::Sessions,
    backend: B,
}

impl<B> std::fmt::Debug for Console<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Console")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl<B: Backend> Console<B> {
    /// A console with `config` over `backend`.
    pub fn new(config: ConsoleConfig, backend: B) -> Arc<Self> {
        let sessions = session::Sessions::new(&config.session_key, config.session_limits.clone());
        Arc::new(Self {
            config,
            sessions,
            backend,
        })
    }

    /// Answers one browser request from `peer`.
    pub async fn handle(self: Arc<Self>, request: Request<Body>, peer: SocketAddr) -> Response<Body> {
        routes::handle(&self, request, peer).await
    }
}

/// Why a body was not read whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ReadError {
    /// It ended with an error.
    Failed,
    /// It was longer than allowed.
    TooLong,
}

/// All of `body`, if it is at most `max` bytes.
pub(crate) async fn read_bounded(mut body: Body, max: usize) -> Result<Bytes, ReadError> {
    let mut out = bytes::BytesMut::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|_| ReadError::Failed)?;
        if let Ok(data) = frame.into_data() {
            if out.len() + data.len() > max {
                return Err(ReadError::TooLong);
            }
            out.extend_from_slice(&data);
        }
    }
    Ok(out.freeze())
}
