//! The request pipeline: route → authenticate → load the bucket → authorise → the operation → render.
//! Every response carries `x-oss-request-id`, `Date` and `Server`; every error is rendered once, here.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::SystemTime;

use bytes::Bytes;
use cang_meta_api::{Bucket, CiphertextRange, ObjectLookup};
use cang_oss::auth::{RequestView, read_signature};
use cang_oss::{Endpoint, OssError, Route};
use cang_policy::ConditionContext;
use http::{HeaderValue, Method, Request, Response, StatusCode};
use hyper::body::{Body, Incoming};

use crate::admission::InFlightLimit;
use crate::authorize::{
    AclScope, Principal, PublicAccess, Verdict, acl_need, authorize, oss_permissions, policy_verdict,
};
use crate::body::{RequestBody, ResponseBody};
use crate::errors::{Failure, Names};
use crate::observe::Observed;
use crate::ops::Reply;
use crate::pipeline::read::{INLINE_READ_MAX, guess_window};
use crate::server::Handler;
use crate::state::{Call, Gateway, KnownObject, StoredWindow};

impl Gateway {
    async fn serve<B: IncomingBody>(
        self: &Arc<Self>,
        request: Request<B>,
        peer: SocketAddr,
        observed: &mut Observed,
    ) -> Result<Response<ResponseBody>, OssError> {
        let route = self.router.route_request(&request)?;
        observed.routed(&route);
        // Every failure past routing is rendered here, once, naming the route's bucket, key and upload.
        let names = Names::of(&route);
        self.serve_routed(request, route, peer, observed)
            .await
            .map_err(|failure| failure.render(&names))
    }

    async fn serve_routed<B: IncomingBody>(
        self: &Arc<Self>,
        request: Request<B>,
        route: Route,
        peer: SocketAddr,
        observed: &mut Observed,
    ) -> Reply {
        let now = self.config.clock.now();
        // OSS resolves the bucket before it looks at the signature: an unknown bucket is 404 NoSuchBucket
        // for everyone (the SDKs' existence checks rely on it).
        // A GetObject or HeadObject looks the object up in the same call; it is used only once the request is
        // authorised.
        let (bucket, object) = match (&route.endpoint, route.bucket()) {
            (Endpoint::PutBucket { .. }, _) | (_, None) => (None, KnownObject::Unknown),
            (Endpoint::GetObject { bucket, key, .. }, _) => {
                let window = guess_window(request.headers(), self.config.segment_size);
                self.look_up_with_bucket(bucket, key, true, window).await?
            }
            (Endpoint::HeadObject { bucket, key }, _) => {
                self.look_up_with_bucket(bucket, key, false, None).await?
            }
            (_, Some(name)) => (Some(self.meta.get_bucket(name).await?), KnownObject::Unknown),
        };
        let (principal, signed_sha256) = self.authenticate(&request, &route, now).await?;
        observed.authenticated(&principal);
        let _admitted = self
            .in_flight
            .admit(InFlightLimit::caller_key(&principal, peer.ip()))?;
        let context = condition_context(&request, &route, peer, now);
        let mut call = Call {
            route,
            principal,
            context,
            bucket,
            object,
        };
        self.authorize(&mut call).await?;
        let (parts, body) = request.into_parts();
        let body = RequestBody::new(body, signed_sha256).with_idle_timeout(self.config.body_idle_timeout);
        // Every key the operation uses is audited under the caller it acts for, and where they called from.
        match call.principal.end_user().map(|u| u.from_address(peer.ip())) {
            Some(user) => {
                cang_kms_api::on_behalf_of(user, crate::ops::dispatch(self, &call, parts, body)).await
            }
            None => crate::ops::dispatch(self, &call, parts, body).await,
        }
    }

    /// The bucket and, from the same snapshot, the object `key` in it. A GetObject (`reads`) also asks for
    /// stored bytes small enough to come with the record: those `window` names (a guess from its range
    /// header), else the whole object.
    async fn look_up_with_bucket(
        &self,
        bucket: &str,
        key: &str,
        reads: bool,
        window: Option<CiphertextRange>,
    ) -> Result<(Option<Bucket>, KnownObject), Failure> {
        let limit = if reads { INLINE_READ_MAX } else { 0 };
        let found = self.meta.lookup_object(bucket, key, window, limit).await?;
        let object = match found.object {
            Some(info) => {
                let start = ObjectLookup::window_of(window, info.ciphertext_size).start;
                let stored = found
                    .ciphertext
                    .filter(|_| reads)
                    .map(|bytes| StoredWindow { start, bytes });
                KnownObject::Found(Box::new(info), stored)
            }
            None => KnownObject::Absent,
        };
        Ok((Some(found.bucket), object))
    }

    async fn authenticate<B>(
        &self,
        request: &Request<B>,
        route: &Route,
        now: SystemTime,
    ) -> Result<(Principal, Option<[u8; 32]>), OssError> {
        let view = request_view(request, route);
        let Some(claim) = read_signature(&view, now, &self.auth)? else {
            return Ok((Principal::Anonymous, None));
        };
        let resolved = self.access_keys.resolve(claim.access_key_id()).await?;
        claim.verify(&resolved.credential)?;
        Ok((resolved.principal.clone(), claim.payload_sha256()))
    }

    async fn authorize(&self, call: &mut Call) -> Result<(), Failure> {
        let bucket_access = call
            .bucket
            .as_ref()
            .map_or(PublicAccess::Private, |b| PublicAccess::of_bucket(b.acl));
        let owner = call.owner().to_owned();
        let source_owner = match call.route.endpoint.copy_source() {
            Some(source) if Some(source.bucket.as_str()) != call.route.bucket() => Some(
                self.meta
                    .get_bucket(&source.bucket)
                    .await
                    .map_err(|e| Failure::meta_at(e, &source.bucket, &source.key))?
                    .owner,
            ),
            _ => None,
        };
        if let Some(source_owner) = &source_owner
            && Some(source_owner.as_str()) != call.principal.account()
        {
            return Err(OssError::access_denied("You have no right to access the copy source.").into());
        }
        // Every key of a multi-delete is authorised by the operation itself, once the body names them.
        if matches!(call.route.endpoint, Endpoint::DeleteMultipleObjects { .. }) {
            return Ok(());
        }
        let needed = oss_permissions(&call.route.endpoint, &owner, source_owner.as_deref());
        let endpoint = &call.route.endpoint;
        let verdict = policy_verdict(&call.principal, &needed, &owner, &call.context);
        let access = match (verdict, acl_need(endpoint), call.route.bucket(), call.route.key()) {
            // Only an undecided request on an object an ACL could open needs the object's own ACL.
            (Verdict::Implicit, Some((_, AclScope::Object)), Some(bucket), Some(key)) => {
                // A GetObject or HeadObject looked its object up with the bucket.
                if matches!(call.object, KnownObject::Unknown) {
                    call.object = self.look_up_object(bucket, key).await?;
                }
                call.object.access(bucket_access)
            }
            _ => bucket_access,
        };
        Ok(authorize(
            &call.principal,
            endpoint,
            &needed,
            &owner,
            access,
            &call.context,
        )?)
    }
}

impl Handler for Gateway {
    async fn handle(self: Arc<Self>, request: Request<Incoming>, peer: SocketAddr) -> Response<ResponseBody> {
        self.respond(request, peer).await
    }
}

/// A request body the gateway can serve: hyper's from a socket, or any other (tests hand it whole bodies).
pub(crate) trait IncomingBody: Body<Data = Bytes, Error: std::fmt::Display> + Send + 'static {}

impl<B: Body<Data = Bytes, Error: std::fmt::Display> + Send + 'static> IncomingBody for B {}

impl Gateway {
    /// Answers one request from `peer`: every response, error or not, carries the request id, `Date` and
    /// `Server`, and is counted and logged.
    pub(crate) async fn respond<B: IncomingBody>(
        self: Arc<Self>,
        request: Request<B>,
        peer: SocketAddr,
    ) -> Response<ResponseBody> {
        let request_id = new_request_id();
        let is_head = request.method() == Method::HEAD;
        let bytes_in = request
            .headers()
            .get(http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        // Error bodies name the host the client addressed (`<HostId>`), as OSS's do.
        let host = request
            .headers()
            .get(http::header::HOST)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        // The request's span is the HTTP server span around this call.
        let mut observed = Observed::start(&request_id);
        let mut response = match self.serve(request, peer, &mut observed).await {
            Ok(response) => response,
            Err(err) => {
                observed.failed(err.code());
                let err = err.request_id(request_id.clone());
                let err = match host {
                    Some(host) => err.host_id(host),
                    None => err,
                };
                render_error(err, is_head)
            }
        };
        let headers = response.headers_mut();
        if let Ok(v) = HeaderValue::from_str(&request_id) {
            headers.insert("x-oss-request-id", v);
        }
        if let Ok(v) = HeaderValue::from_str(&cang_oss::date::http_date(self.config.clock.now())) {
            headers.insert(http::header::DATE, v);
        }
        headers.insert(http::header::SERVER, HeaderValue::from_static("Cang"));
        observed.finish(&self.metrics, &response, bytes_in, self.config.access_log);
        response
    }
}

/// What a signature covers of `request`, addressed as `route`.
pub(crate) fn request_view<'a, B>(request: &'a Request<B>, route: &'a Route) -> RequestView<'a> {
    RequestView {
        method: request.method(),
        raw_path: request.uri().path(),
        raw_query: request.uri().query().unwrap_or(""),
        headers: request.headers(),
        bucket: route.bucket(),
        key: route.key(),
    }
}

/// The condition keys a policy may test: the global `acs:` keys, the request's SSE headers (so a bucket can
/// refuse unencrypted uploads) and the listing prefix and delimiter.
fn condition_context<B>(
    request: &Request<B>,
    route: &Route,
    peer: SocketAddr,
    now: SystemTime,
) -> ConditionContext {
    use cang_policy::keys;
    let mut context = ConditionContext::new()
        .with_source_ip(peer.ip())
        .with_secure_transport(false)
        .with_current_time(time::OffsetDateTime::from(now));
    let headers = request.headers();
    let text = |name| headers.get(name).and_then(|v: &HeaderValue| v.to_str().ok());
    for (header, key) in [
        ("x-oss-server-side-encryption", keys::OSS_SERVER_SIDE_ENCRYPTION),
        (
            "x-oss-server-side-encryption-key-id",
            keys::OSS_SERVER_SIDE_ENCRYPTION_KEY_ID,
        ),
        ("user-agent", keys::USER_AGENT),
    ] {
        if let Some(value) = text(header) {
            context.insert(key, value);
        }
    }
    for (param, key) in [("prefix", keys::OSS_PREFIX), ("delimiter", keys::OSS_DELIMITER)] {
        if let Some(value) = route.query.get(param) {
            context.insert(key, value);
        }
    }
    context
}

/// Renders an OSS error as a response.
pub fn render_error(err: OssError, is_head: bool) -> Response<ResponseBody> {
    let rendered = err.render(is_head);
    let mut response = Response::new(ResponseBody::full(rendered.body));
    *response.status_mut() = rendered.status;
    *response.headers_mut() = rendered.headers;
    if rendered.status == StatusCode::NOT_MODIFIED {
        *response.body_mut() = ResponseBody::empty();
    }
    response
}

/// A fresh 24-hex-character request id.
fn new_request_id() -> String {
    let mut bytes = [0u8; 12];
    if getrandom::fill(&mut bytes).is_err() {
        let nanos = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        bytes.copy_from_slice(&nanos.to_be_bytes()[4..]);
    }
    hex::encode_upper(bytes)
}
