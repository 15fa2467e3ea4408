//! One request, start to end: parameters → signature (ACS3 or RPC) → signed time and nonce → API
//! version and action → operation on a crypto-service session bound to the end user → JSON. Each
//! request is one log line (`cang::kms_openapi`): request id, access key, action, code, status, time —
//! never a parameter, plaintext or signature.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use cang_access_keys::{KeyCache, ResolveError, ResolvedAccessKey, resolve_access_key};
use cang_kms_api::KmsForCaller;
use cang_meta_api::IdentityStore;
use cang_tls::ServiceIdentity;
use http::request::Parts;
use http::{HeaderMap, Method, Response, StatusCode, header};
use http_body_util::Full;
use serde_json::Value;
use time::OffsetDateTime;

use crate::action::{API_VERSION, Operation};
use crate::authorize::Caller;
use crate::exec::{CiphertextKeyId, execute};
use crate::params::{Pairs, Params};
use crate::ram::{RAM_VERSION, RamOperation};
use crate::replay::{MAX_NONCE_LEN, NonceCache, NonceRefused, check_skew, parse_timestamp};
use crate::{OpenApiError, acs3, rpc};

/// Settings of the OpenAPI edge.
#[derive(Debug, Clone)]
pub struct OpenApiConfig {
    /// Region in ARNs (the crypto service's).
    pub region: String,
    /// How far a signed time may be from the server's clock (Alibaba: 15 minutes).
    pub max_clock_skew: Duration,
    /// How many nonces are remembered at most (a full memory of live nonces turns requests away).
    pub nonce_capacity: usize,
    /// How long a resolved access key is served from memory (zero: looked up on every request); a
    /// disabled or deleted key, or a changed policy, takes effect within it.
    pub access_key_ttl: Duration,
    /// How many resolved access keys are kept at most.
    pub access_key_capacity: usize,
}

impl Default for OpenApiConfig {
    fn default() -> Self {
        Self {
            region: "cn-hangzhou".into(),
            max_clock_skew: Duration::from_secs(15 * 60),
            nonce_capacity: 1 << 20,
            access_key_ttl: Duration::from_secs(30),
            access_key_capacity: 10_000,
        }
    }
}

/// The current time, Unix seconds (injectable for tests).
pub type Clock = Arc<dyn Fn() -> i64 + Send + Sync>;

/// The Alibaba KMS OpenAPI over a crypto service `F` and the metadata service holding access keys.
pub struct OpenApi<F> {
    kms: Arc<F>,
    meta: Arc<dyn IdentityStore>,
    ciphertext_key: CiphertextKeyId,
    config: OpenApiConfig,
    nonces: NonceCache,
    keys: KeyCache<ResolvedAccessKey>,
    clock: Clock,
}

impl<F> std::fmt::Debug for OpenApi<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenApi")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// What the signature check settled: who signed, and what they asked for.
struct Signed {
    key: ResolvedAccessKey,
    action: String,
    version: String,
}

fn system_clock() -> i64 {
    OffsetDateTime::now_utc().unix_timestamp()
}

impl<F: KmsForCaller> OpenApi<F> {
    /// The edge over `kms` (sessions bound to identity `kms` and the end user) and `meta`;
    /// `ciphertext_key` reads the key id a ciphertext names.
    pub fn new(
        kms: Arc<F>,
        meta: Arc<dyn IdentityStore>,
        ciphertext_key: CiphertextKeyId,
        config: OpenApiConfig,
    ) -> Self {
        Self {
            nonces: NonceCache::new(config.nonce_capacity),
            keys: KeyCache::new(config.access_key_ttl, config.access_key_capacity),
            kms,
            meta,
            ciphertext_key,
            config,
            clock: Arc::new(system_clock),
        }
    }

    /// The same edge with another clock.
    #[must_use]
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// Answers one request whose body has been read.
    pub async fn handle(&self, parts: &Parts, body: &Bytes, peer: SocketAddr) -> Response<Full<Bytes>> {
        let started = Instant::now();
        let request_id = uuid::Uuid::new_v4().to_string().to_uppercase();
        let host_id = host_id(&parts.headers);
        let mut access_key_id = String::new();
        let mut action = String::new();
        let result = self
            .process(parts, body, peer, &mut access_key_id, &mut action)
            .await;
        let (status, text, code) = match result {
            Ok(mut answer) => {
                answer.insert("RequestId".into(), Value::String(request_id.clone()));
                (200, Value::Object(answer).to_string(), "")
            }
            Err(e) => (e.status(), e.to_json(&request_id, &host_id), e.code()),
        };
        tracing::info!(
            target: "cang::kms_openapi",
            request_id,
            access_key_id,
            action,
            status,
            code,
            %peer,
            millis = started.elapsed().as_millis() as u64,
            "kms openapi request"
        );
        let mut response = Response::new(Full::new(Bytes::from(text)));
        *response.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            header::HeaderValue::from_static("application/json;charset=utf-8"),
        );
        if let Ok(v) = header::HeaderValue::from_str(&request_id) {
            headers.insert("x-acs-request-id", v);
        }
        response
    }

    async fn process(
        &self,
        parts: &Parts,
        body: &Bytes,
        peer: SocketAddr,
        access_key_id: &mut String,
        action: &mut String,
    ) -> Result<crate::exec::Answer, OpenApiError> {
        if !(parts.method == Method::GET || parts.method == Method::POST) || parts.uri.path() != "/" {
            return Err(OpenApiError::UnsupportedHttpMethod);
        }
        let params = read_params(parts, body)?;
        let signed = self
            .authenticate(parts, &params, body, peer, access_key_id)
            .await?;
        action.clone_from(&signed.action);
        if signed.version == RAM_VERSION {
            let op = RamOperation::parse(&signed.action, &params)?;
            let agent = parts
                .headers
                .get(header::USER_AGENT)
                .and_then(|v| v.to_str().ok());
            let (caller, api) = self.session(signed.key, peer, agent)?;
            return crate::ram::execute(self.meta.as_ref(), &api, &caller, op).await;
        }
        if signed.version != API_VERSION {
            return Err(OpenApiError::InvalidVersion);
        }
        let op = Operation::parse(&signed.action, &params)?;
        let agent = parts
            .headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok());
        let (caller, api) = self.session(signed.key, peer, agent)?;
        execute(&api, &caller, op, self.ciphertext_key).await
    }

    /// The authenticated caller behind `key`, and a crypto-service session bound to them as end user.
    pub(crate) fn session(
        &self,
        key: ResolvedAccessKey,
        peer: SocketAddr,
        agent: Option<&str>,
    ) -> Result<(Caller, F::Api), OpenApiError> {
        let now = OffsetDateTime::from_unix_timestamp((self.clock)()).map_err(|_| OpenApiError::Internal)?;
        let caller = Caller::new(key, &self.config.region, peer.ip(), now, agent)?;
        let api = self
            .kms
            .for_end_user(ServiceIdentity::Kms, Some(caller.end_user()?));
        Ok((caller, api))
    }

    /// Reads the key id a ciphertext names.
    pub(crate) fn ciphertext_key(&self) -> CiphertextKeyId {
        self.ciphertext_key
    }

    /// Checks a signed time against the clock, then spends the nonce for the access key.
    pub(crate) fn check_time_and_nonce(
        &self,
        access_key_id: &str,
        timestamp: &str,
        nonce: &str,
    ) -> Result<(), OpenApiError> {
        let skew = i64::try_from(self.config.max_clock_skew.as_secs()).unwrap_or(i64::MAX);
        let signed_at = parse_timestamp(timestamp)?;
        let now = (self.clock)();
        check_skew(signed_at, now, skew)?;
        if nonce.is_empty() || nonce.len() > MAX_NONCE_LEN || !nonce.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(OpenApiError::invalid("SignatureNonce"));
        }
        match self.nonces.accept(access_key_id, nonce, signed_at, now, skew) {
            Ok(()) => Ok(()),
            Err(NonceRefused::Used) => Err(OpenApiError::NonceUsed),
            Err(NonceRefused::Full) => {
                tracing::warn!("nonce memory is full of live nonces; turning requests away");
                Err(OpenApiError::Unavailable)
            }
        }
    }

    /// Verifies the signature, then the signed time, then spends the nonce.
    async fn authenticate(
        &self,
        parts: &Parts,
        params: &Params,
        body: &Bytes,
        peer: SocketAddr,
        access_key_id: &mut String,
    ) -> Result<Signed, OpenApiError> {
        let method = parts.method.as_str();
        let (signed, timestamp, nonce) = if let Some(authorization) = parts.headers.get(header::AUTHORIZATION)
        {
            let authorization = authorization
                .to_str()
                .map_err(|_| OpenApiError::IncompleteSignature("The Authorization header is malformed."))?;
            let auth = acs3::parse_authorization(authorization)?;
            let req = acs3::SignedRequest {
                method,
                path: parts.uri.path(),
                query: &params.query,
                headers: &parts.headers,
            };
            acs3::check_coverage(&req, &auth)?;
            access_key_id.clone_from(&auth.access_key_id);
            let key = self.resolve(&auth.access_key_id, peer).await?;
            acs3::verify(&req, &auth, body, key.secret.as_bytes())?;
            let header = |name: &str| -> Result<String, OpenApiError> {
                let v = parts.headers.get(name).and_then(|v| v.to_str().ok());
                v.map(str::to_owned).ok_or(OpenApiError::IncompleteSignature(
                    "An x-acs- header is not valid text.",
                ))
            };
            let signed = Signed {
                key,
                action: header("x-acs-action")?,
                version: header("x-acs-version")?,
            };
            (signed, header("x-acs-date")?, header("x-acs-signature-nonce")?)
        } else if params.get("Signature")?.is_some() {
            let creds = rpc::credentials(params)?;
            access_key_id.push_str(creds.access_key_id);
            let key = self.resolve(creds.access_key_id, peer).await?;
            rpc::verify(method, params, &creds, key.secret.as_bytes())?;
            let signed = Signed {
                key,
                action: params.required("Action")?.to_owned(),
                version: params.required("Version")?.to_owned(),
            };
            (signed, creds.timestamp.to_owned(), creds.nonce.to_owned())
        } else {
            return Err(OpenApiError::IncompleteSignature("The request is not signed."));
        };
        self.check_time_and_nonce(&signed.key.access_key_id, &timestamp, &nonce)?;
        Ok(signed)
    }

    /// The access key `access_key_id` names, from memory or resolved afresh, its secret then opened by
    /// the crypto service (audited as a `Decrypt` by `kms` for nobody, from `peer`).
    pub(crate) async fn resolve(
        &self,
        access_key_id: &str,
        peer: SocketAddr,
    ) -> Result<ResolvedAccessKey, OpenApiError> {
        if access_key_id.is_empty()
            || access_key_id.len() > 128
            || !access_key_id.bytes().all(|b| b.is_ascii_graphic())
        {
            return Err(OpenApiError::AccessKeyNotFound);
        }
        if let Some(key) = self.keys.get(access_key_id) {
            return Ok(key);
        }
        let opener = self.kms.for_request(ServiceIdentity::Kms, None, Some(peer));
        let key = resolve_access_key(&opener, self.meta.as_ref(), access_key_id)
            .await
            .map_err(|e| match e {
                ResolveError::NotFound => OpenApiError::AccessKeyNotFound,
                ResolveError::Inactive => OpenApiError::AccessKeyDisabled,
                ResolveError::Unavailable => OpenApiError::Unavailable,
                ResolveError::Internal => OpenApiError::Internal,
            })?;
        self.keys.put(access_key_id, key.clone());
        Ok(key)
    }
}

/// The query string and, for a form body, its parameters. Another non-empty body is refused.
fn read_params(parts: &Parts, body: &Bytes) -> Result<Params, OpenApiError> {
    let query = Pairs::parse(parts.uri.query().unwrap_or(""))?;
    let form = if body.is_empty() {
        Pairs::default()
    } else {
        let is_form = parts
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|t| {
                t.trim_start()
                    .to_ascii_lowercase()
                    .starts_with("application/x-www-form-urlencoded")
            });
        if !is_form {
            return Err(OpenApiError::InvalidParameter(
                "A request body must be application/x-www-form-urlencoded.".into(),
            ));
        }
        let text = std::str::from_utf8(body)
            .map_err(|_| OpenApiError::InvalidParameter("The request body is not valid UTF-8.".into()))?;
        Pairs::parse(text)?
    };
    Ok(Params { query, form })
}

/// The `HostId` of error bodies: the Host the client addressed, when it is plain text.
fn host_id(headers: &HeaderMap) -> String {
    headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .filter(|h| h.len() <= 255)
        .unwrap_or("kms")
        .to_owned()
}
