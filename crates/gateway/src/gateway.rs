//! The request pipeline: route → authenticate → load the bucket → authorise → the operation → render.
//! Every response carries `x-oss-request-id`, `Date` and `Server`; every error is rendered once, here.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use cang_kms_api::KmsApi;
use cang_meta_api::{Bucket, MetaApi, MetaError, ObjectInfo};
use cang_oss::auth::{AuthConfig, RequestView, read_signature};
use cang_oss::{Endpoint, OssError, Route, Router};
use cang_policy::ConditionContext;
use cang_telemetry::Metrics;
use http::{HeaderValue, Method, Request, Response, StatusCode};
use hyper::body::Incoming;

use crate::admission::InFlightLimit;
use crate::authorize::{
    AclNeed, AclScope, Permission, Principal, PublicAccess, Verdict, acl_need, authorize, decide, oss_arn,
    oss_permissions, policy_verdict,
};
use crate::body::{RequestBody, ResponseBody};
use crate::errors::meta_error_for;
use crate::keys::{DataKeys, KeyCacheLimits};
use crate::observe::Observed;
use crate::pool::CpuPool;
use crate::principal::AccessKeys;
use crate::server::Handler;

/// Gateway settings.
#[derive(Debug, Clone)]
pub struct GatewayConfig {
    /// Region id used in KMS ARNs (`cn-hangzhou`).
    pub region: String,
    /// Bucket location reported by GetBucketLocation/Info (`oss-cn-hangzhou`).
    pub location: String,
    /// Host suffixes under which `<bucket>.<suffix>` addresses a bucket.
    pub base_domains: Vec<String>,
    /// Largest PutObject / UploadPart / Append body.
    pub max_object_size: u64,
    /// Plaintext segment size of new objects.
    pub segment_size: u32,
    /// Reuse one data key per bucket for SSE-OSS objects.
    pub bucket_keys_for_sse_oss: bool,
    /// Reuse one data key per bucket for SSE-KMS objects (off: every object asks the KMS).
    pub bucket_keys_for_kms: bool,
    /// Data-key cache bounds.
    pub key_cache: KeyCacheLimits,
    /// How long a resolved access key is trusted before it is looked up again.
    pub access_key_ttl: Duration,
    /// Largest XML request body.
    pub max_xml_body: usize,
    /// How long a request body may send nothing before the request fails with `RequestTimeout`.
    pub body_idle_timeout: Duration,
    /// Requests one caller (principal; anonymous callers by address) may have in flight; more get `SlowDown`.
    pub max_in_flight_per_caller: usize,
    /// Write one access-log line per request (target `cang::access`).
    pub access_log: bool,
    /// Where `/metrics`, `/healthz` and `/readyz` are served (plain HTTP); none when `None`.
    pub metrics_listen: Option<SocketAddr>,
}

impl Default for GatewayConfig {
    fn default() -> Self {
        Self {
            region: "cn-hangzhou".to_owned(),
            location: "oss-cn-hangzhou".to_owned(),
            base_domains: vec!["localhost".to_owned()],
            max_object_size: 5 * 1024 * 1024 * 1024,
            segment_size: cang_sse::DEFAULT_SEGMENT_SIZE,
            bucket_keys_for_sse_oss: true,
            bucket_keys_for_kms: false,
            key_cache: KeyCacheLimits::default(),
            access_key_ttl: Duration::from_secs(30),
            max_xml_body: 4 * 1024 * 1024,
            body_idle_timeout: Duration::from_secs(60),
            max_in_flight_per_caller: 256,
            access_log: true,
            metrics_listen: None,
        }
    }
}

/// The gateway's shared state.
pub struct Gateway {
    /// Settings.
    pub config: GatewayConfig,
    /// The crypto service.
    pub kms: Arc<dyn KmsApi>,
    /// The metadata/blob service.
    pub meta: Arc<dyn MetaApi>,
    /// Data-key issuing and caching.
    pub keys: DataKeys,
    /// Access-key resolution.
    pub access_keys: AccessKeys,
    /// Request, byte, crypto-service and data-key cache metrics.
    pub metrics: Arc<Metrics>,
    /// The workers of the data path's bulk CPU work (digests, sealing, opening).
    pub(crate) cpu: CpuPool,
    /// Requests in flight per caller.
    in_flight: Arc<InFlightLimit>,
    router: Router,
    auth: AuthConfig,
}

impl std::fmt::Debug for Gateway {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gateway")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// Everything an operation needs to know about its request, after authentication and authorisation.
#[derive(Debug)]
pub struct Call {
    /// The routed request.
    pub route: Route,
    /// The caller.
    pub principal: Principal,
    /// Condition keys for policy evaluation.
    pub context: ConditionContext,
    /// The bucket the operation addresses, when it exists and was loaded.
    pub bucket: Option<Bucket>,
    /// The object the operation addresses, when authorisation had to look at its ACL (a read may start
    /// from it instead of looking it up again).
    pub object: Option<ObjectInfo>,
    /// The request id.
    pub request_id: String,
    /// When the request arrived.
    pub now: SystemTime,
}

impl Call {
    /// The bucket's owner account (the caller's own account when no bucket was loaded).
    pub fn owner(&self) -> &str {
        self.bucket
            .as_ref()
            .map(|b| b.owner.as_str())
            .or_else(|| self.principal.account())
            .unwrap_or("")
    }
}

impl Gateway {
    /// A gateway over the two services.
    pub fn new(config: GatewayConfig, kms: Arc<dyn KmsApi>, meta: Arc<dyn MetaApi>) -> Self {
        let metrics = Arc::new(Metrics::new());
        let keys = DataKeys::new(kms.clone(), config.key_cache.clone()).with_metrics(Arc::clone(&metrics));
        let access_keys = AccessKeys::new(meta.clone(), kms.clone(), config.access_key_ttl, 4096);
        let router = Router::new(config.base_domains.clone());
        let auth = AuthConfig::for_region(config.region.clone());
        let in_flight = InFlightLimit::new(config.max_in_flight_per_caller);
        Self {
            config,
            kms,
            meta,
            keys,
            access_keys,
            metrics,
            cpu: CpuPool::per_core(),
            in_flight,
            router,
            auth,
        }
    }

    async fn serve(
        self: &Arc<Self>,
        request: Request<Incoming>,
        peer: SocketAddr,
        call_id: &str,
        observed: &mut Observed,
    ) -> Result<Response<ResponseBody>, OssError> {
        let now = SystemTime::now();
        let route = self.router.route_request(&request)?;
        observed.routed(&route);
        // OSS resolves the bucket before it looks at the signature: an unknown bucket is 404 NoSuchBucket
        // for everyone (the SDKs' existence checks rely on it).
        let bucket = match (&route.endpoint, route.bucket()) {
            (Endpoint::PutBucket { .. }, _) | (_, None) => None,
            (_, Some(name)) => Some(
                self.meta
                    .get_bucket(name)
                    .await
                    .map_err(|e| meta_error_for(e, name, ""))?,
            ),
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
            object: None,
            request_id: call_id.to_owned(),
            now,
        };
        self.authorize(&mut call).await?;
        let (parts, body) = request.into_parts();
        let body = RequestBody::new(body, signed_sha256).with_idle_timeout(self.config.body_idle_timeout);
        // Every key the operation uses is audited under the caller it acts for.
        match call.principal.end_user() {
            Some(user) => {
                cang_kms_api::on_behalf_of(user, crate::ops::dispatch(self, call, parts, body)).await
            }
            None => crate::ops::dispatch(self, call, parts, body).await,
        }
    }

    async fn authenticate(
        &self,
        request: &Request<Incoming>,
        route: &Route,
        now: SystemTime,
    ) -> Result<(Principal, Option<[u8; 32]>), OssError> {
        let view = RequestView {
            method: request.method(),
            raw_path: request.uri().path(),
            raw_query: request.uri().query().unwrap_or(""),
            headers: request.headers(),
            bucket: route.bucket(),
            key: route.key(),
        };
        let Some(claim) = read_signature(&view, now, &self.auth)? else {
            return Ok((Principal::Anonymous, None));
        };
        let resolved = self.access_keys.resolve(claim.access_key_id()).await?;
        claim.verify(&resolved.credential)?;
        Ok((resolved.principal.clone(), claim.payload_sha256()))
    }

    async fn authorize(&self, call: &mut Call) -> Result<(), OssError> {
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
                    .map_err(|e| meta_error_for(e, &source.bucket, &source.key))?
                    .owner,
            ),
            _ => None,
        };
        if let Some(source_owner) = &source_owner
            && Some(source_owner.as_str()) != call.principal.account()
        {
            return Err(OssError::access_denied(
                "You have no right to access the copy source.",
            ));
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
                match self.meta.head_object(bucket, key).await {
                    Ok(info) => {
                        let access = PublicAccess::of_object(info.meta.acl, bucket_access);
                        call.object = Some(info);
                        access
                    }
                    Err(MetaError::NoSuchKey) => bucket_access,
                    Err(e) => return Err(meta_error_for(e, bucket, key)),
                }
            }
            _ => bucket_access,
        };
        authorize(&call.principal, endpoint, &needed, &owner, access, &call.context)
    }

    /// Authorises `action` on each of `keys` of the call's bucket (DeleteMultipleObjects): every key is
    /// decided as its single-object operation would be, object ACLs included, before anything changes.
    pub(crate) async fn authorize_keys(
        &self,
        call: &Call,
        action: &'static str,
        need: AclNeed,
        keys: &[String],
    ) -> Result<(), OssError> {
        let Some(bucket) = call.bucket.as_ref() else {
            return Err(OssError::internal_error());
        };
        let bucket_access = PublicAccess::of_bucket(bucket.acl);
        for key in keys {
            let needed = [Permission {
                action,
                resource: oss_arn(&bucket.owner, &bucket.name, Some(key)),
            }];
            let access = match policy_verdict(&call.principal, &needed, &bucket.owner, &call.context) {
                Verdict::Implicit => match self.meta.head_object(&bucket.name, key).await {
                    Ok(info) => PublicAccess::of_object(info.meta.acl, bucket_access),
                    Err(MetaError::NoSuchKey) => bucket_access,
                    Err(e) => return Err(meta_error_for(e, &bucket.name, key)),
                },
                Verdict::Allow | Verdict::ExplicitDeny => bucket_access,
            };
            decide(
                &call.principal,
                &needed,
                Some(need),
                &bucket.owner,
                access,
                &call.context,
            )?;
        }
        Ok(())
    }
}

impl Handler for Gateway {
    async fn handle(self: Arc<Self>, request: Request<Incoming>, peer: SocketAddr) -> Response<ResponseBody> {
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
        let mut response = match self.serve(request, peer, &request_id, &mut observed).await {
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
        if let Ok(v) = HeaderValue::from_str(&cang_oss::date::http_date(SystemTime::now())) {
            headers.insert(http::header::DATE, v);
        }
        headers.insert(http::header::SERVER, HeaderValue::from_static("Cang"));
        observed.finish(&self.metrics, &response, bytes_in, self.config.access_log);
        response
    }
}

/// The condition keys a policy may test: the global `acs:` keys, the request's SSE headers (so a bucket can
/// refuse unencrypted uploads) and the listing prefix and delimiter.
fn condition_context(
    request: &Request<Incoming>,
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
