//! The web console on its own listener. The console's pages and actions run in `cang-console`; what it
//! stands on is this gateway's own request pipeline — every console action is an OSS request signed with
//! the signed-in user's key and answered here exactly as from an SDK — and the access keys that pipeline
//! verifies signatures with.

use std::net::SocketAddr;
use std::sync::Arc;

use cang_console::{Backend, BoxError, Console, Unavailable};
use cang_oss::ErrorCode;
use cang_oss::auth::AccessKeySecret;
use futures::future::BoxFuture;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::{Request, Response};

use crate::body::{ResponseBody, StreamAborted};
use crate::server::Handler;
use crate::state::Gateway;

/// The gateway as the console's backend.
pub(crate) struct Pipeline(pub(crate) Arc<Gateway>);

impl Backend for Pipeline {
    fn oss(
        &self,
        request: Request<cang_console::Body>,
        peer: SocketAddr,
    ) -> BoxFuture<'static, Response<cang_console::Body>> {
        let gateway = Arc::clone(&self.0);
        Box::pin(async move {
            gateway
                .respond(request, peer)
                .await
                .map(|body| body.map_err(|e| Box::new(e) as BoxError).boxed())
        })
    }

    fn revoke_session(&self, id: [u8; 16], until: u64) -> BoxFuture<'static, Result<(), Unavailable>> {
        let gateway = Arc::clone(&self.0);
        Box::pin(async move {
            gateway
                .sessions
                .revoke_console_session(id, until.saturating_mul(1000))
                .await
                .map_err(|e| {
                    tracing::warn!(error = %e, "console sign-out not recorded");
                    Unavailable
                })
        })
    }

    fn session_revoked(&self, id: [u8; 16]) -> BoxFuture<'static, Result<bool, Unavailable>> {
        let gateway = Arc::clone(&self.0);
        Box::pin(async move {
            gateway.sessions.console_session_revoked(id).await.map_err(|e| {
                tracing::warn!(error = %e, "console session not checked");
                Unavailable
            })
        })
    }

    fn secret(
        &self,
        access_key_id: &str,
    ) -> BoxFuture<'static, Result<Option<AccessKeySecret>, Unavailable>> {
        let gateway = Arc::clone(&self.0);
        let access_key_id = access_key_id.to_owned();
        Box::pin(async move {
            match gateway.access_keys.resolve(&access_key_id).await {
                Ok(resolved) => Ok(Some(resolved.credential.secret.clone())),
                Err(e) if e.code() == ErrorCode::InvalidAccessKeyId => Ok(None),
                Err(_) => Err(Unavailable),
            }
        })
    }
}

/// The console listener's handler.
pub(crate) struct Site(pub(crate) Arc<Console<Pipeline>>);

impl Handler for Site {
    async fn handle(self: Arc<Self>, request: Request<Incoming>, peer: SocketAddr) -> Response<ResponseBody> {
        let request = request.map(|body| body.map_err(|e| Box::new(e) as BoxError).boxed());
        Arc::clone(&self.0)
            .handle(request, peer)
            .await
            .map(|body| ResponseBody::Console(body.map_err(|e| StreamAborted(e.to_string())).boxed()))
    }
}
