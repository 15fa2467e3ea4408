//! A gateway without sockets, for sequencing tests: the real crypto service (a keystore in a temporary
//! directory) or the in-memory `MemoryKms`, and the real metadata store held in memory, each seen through
//! the certificate identity the gateway has in production, and requests handed to [`Gateway::respond`]
//! whole. A request is signed (V1) with the test account's root key unless it says otherwise.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::SystemTime;

use bytes::Bytes;
use cang_kms::{KeyringConfig, KmsService, SystemClock};
use cang_kms_api::{
    AccountId, CreateKeyRequest, KeyOrigin, KeyRef, KeySpec, KmsApi, KmsForCaller, RotationPolicy,
};
use cang_meta::MetaService;
use cang_meta_api::{MetaApi, MetaForCaller};
use cang_oss::auth::sign_v1_authorization;
use cang_tls::ServiceIdentity;
use http::{HeaderMap, HeaderValue, Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};

use crate::gateway::request_view;
use crate::state::{Gateway, GatewayConfig};

/// The account every harness provisions.
pub(crate) const ACCOUNT: &str = "1000000000000001";

/// What a request got back.
#[derive(Debug)]
pub(crate) struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Answer {
    /// A response header as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The OSS error code of an error response.
    pub fn code(&self) -> Option<String> {
        let text = std::str::from_utf8(&self.body).ok()?;
        let start = text.find("<Code>")? + "<Code>".len();
        let end = text[start..].find("</Code>")? + start;
        Some(text[start..end].to_owned())
    }
}

/// Who signs a request.
#[derive(Debug, Clone)]
pub(crate) enum Caller {
    /// The account's root access key.
    Root,
    /// No signature.
    Anonymous,
    /// A given key pair.
    Key(String, String),
}

/// One gateway over in-process services.
pub(crate) struct Harness {
    pub gateway: Arc<Gateway>,
    /// The crypto service as `cang admin` sees it.
    pub kms_admin: Arc<dyn KmsApi>,
    /// The metadata service as `cang admin` sees it.
    pub meta_admin: Arc<dyn MetaApi>,
    /// The crypto service as the gateway sees it.
    pub kms_gateway: Arc<dyn KmsApi>,
    /// The metadata service as the gateway sees it.
    pub meta_gateway: Arc<dyn MetaApi>,
    root: (String, String),
    _dir: tempfile::TempDir,
}

impl Harness {
    /// A gateway with `config` over the real keyring.
    pub async fn new(config: GatewayConfig) -> Self {
        let dir = tempfile::tempdir().expect("temporary directory");
        let root_key = dir.path().join("root.key");
        cang_kms::RootKey::generate(&root_key).expect("root key");
        let kms: Arc<KmsService> = cang_kms::open_service(
            &dir.path().join("kms"),
            &root_key,
            Arc::new(SystemClock),
            KeyringConfig::default(),
        )
        .expect("crypto service");
        let kms_admin: Arc<dyn KmsApi> = Arc::new(kms.for_caller(ServiceIdentity::Admin));
        let kms_gateway: Arc<dyn KmsApi> = Arc::new(kms.for_caller(ServiceIdentity::Gateway));
        Self::assemble(dir, config, kms_admin, kms_gateway).await
    }

    /// A gateway with `config` over a crypto service of the test's choosing (the in-memory double, to count
    /// calls or inject failures); the same service provisions the access keys.
    pub async fn over(kms: Arc<dyn KmsApi>, config: GatewayConfig) -> Self {
        let dir = tempfile::tempdir().expect("temporary directory");
        Self::assemble(dir, config, Arc::clone(&kms), kms).await
    }

    async fn assemble(
        dir: tempfile::TempDir,
        config: GatewayConfig,
        kms_admin: Arc<dyn KmsApi>,
        kms_gateway: Arc<dyn KmsApi>,
    ) -> Self {
        let store = cang_meta::Store::in_memory().expect("metadata store");
        let meta = MetaService::new(store);
        let meta_admin: Arc<dyn MetaApi> = Arc::new(meta.for_caller(ServiceIdentity::Admin));
        meta_admin.create_account(ACCOUNT, "test").await.expect("account");
        let creds =
            cang_access_keys::create_access_key(kms_admin.as_ref(), meta_admin.as_ref(), ACCOUNT, None)
                .await
                .expect("root access key");
        let meta_gateway: Arc<dyn MetaApi> = Arc::new(meta.for_caller(ServiceIdentity::Gateway));
        let gateway = Arc::new(Gateway::new(
            config,
            Arc::clone(&kms_gateway),
            Arc::clone(&meta_gateway),
        ));
        Self {
            gateway,
            kms_admin,
            meta_admin,
            kms_gateway,
            meta_gateway,
            root: (creds.access_key_id, creds.access_key_secret.to_string()),
            _dir: dir,
        }
    }

    /// The root access key's id.
    pub fn root_key_id(&self) -> String {
        self.root.0.clone()
    }

    /// A gateway with the default configuration.
    pub async fn start() -> Self {
        Self::new(GatewayConfig::default()).await
    }

    /// Sends `method path_and_query` with `headers` and `body` as `caller`.
    pub async fn send(
        &self,
        caller: &Caller,
        method: Method,
        path_and_query: &str,
        headers: &[(&str, &str)],
        body: impl Into<Bytes>,
    ) -> Answer {
        let mut request = Request::builder()
            .method(method)
            .uri(path_and_query)
            .body(Full::new(body.into()))
            .expect("request");
        let h = request.headers_mut();
        h.insert(http::header::HOST, HeaderValue::from_static("127.0.0.1:9000"));
        h.insert(
            http::header::DATE,
            HeaderValue::from_str(&cang_oss::date::http_date(SystemTime::now())).expect("date"),
        );
        for (name, value) in headers {
            h.insert(
                http::header::HeaderName::from_bytes(name.as_bytes()).expect("header name"),
                HeaderValue::from_str(value).expect("header value"),
            );
        }
        let key = match caller {
            Caller::Root => Some(self.root.clone()),
            Caller::Key(id, secret) => Some((id.clone(), secret.clone())),
            Caller::Anonymous => None,
        };
        if let Some((id, secret)) = key {
            let route = self
                .gateway
                .router
                .route_request(&request)
                .expect("routable request");
            let authorization =
                sign_v1_authorization(&request_view(&request, &route), &id, secret.as_bytes());
            request.headers_mut().insert(
                http::header::AUTHORIZATION,
                HeaderValue::from_str(&authorization).expect("authorization"),
            );
        }
        let peer: SocketAddr = "127.0.0.1:40000".parse().expect("peer");
        let response = Arc::clone(&self.gateway).respond(request, peer).await;
        let (parts, body) = response.into_parts();
        let body = body.collect().await.expect("response body").to_bytes();
        Answer {
            status: parts.status,
            headers: parts.headers,
            body,
        }
    }

    /// Sends as the account's root.
    pub async fn root(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: impl Into<Bytes>,
    ) -> Answer {
        self.send(&Caller::Root, method, path, headers, body).await
    }

    /// Creates a bucket with `headers` (SSE defaults, ACL), asserting success.
    pub async fn bucket(&self, name: &str, headers: &[(&str, &str)]) {
        let answer = self.root(Method::PUT, &format!("/{name}"), headers, "").await;
        assert_eq!(
            answer.status,
            StatusCode::OK,
            "PutBucket {name}: {:?}",
            answer.code()
        );
    }

    /// A RAM user of the test account with one policy attached, and its access key.
    pub async fn ram_user(&self, name: &str, policy: &str) -> Caller {
        self.meta_admin
            .create_user(ACCOUNT, name)
            .await
            .expect("create user");
        let policy_name = format!("{name}-policy");
        self.meta_admin
            .put_policy(ACCOUNT, &policy_name, policy)
            .await
            .expect("put policy");
        self.meta_admin
            .attach_policy(ACCOUNT, name, &policy_name)
            .await
            .expect("attach policy");
        let creds = cang_access_keys::create_access_key(
            self.kms_admin.as_ref(),
            self.meta_admin.as_ref(),
            ACCOUNT,
            Some(name),
        )
        .await
        .expect("user access key");
        Caller::Key(creds.access_key_id, creds.access_key_secret.to_string())
    }

    /// Creates a customer master key of the test account and returns its id.
    pub async fn cmk(&self, spec: KeySpec) -> String {
        let request = CreateKeyRequest {
            account: account(),
            description: "test".to_owned(),
            spec,
            origin: KeyOrigin::AliyunKms,
            rotation: RotationPolicy::new(false, 0).expect("rotation policy"),
        };
        let key = self.kms_admin.create_key(request).await.expect("create key");
        key.key_id.to_string()
    }

    /// Disables a customer master key.
    pub async fn disable(&self, key_id: &str) {
        let key = KeyRef::parse(key_id).expect("key id");
        self.kms_admin
            .disable_key(&account(), &key)
            .await
            .expect("disable key");
    }
}

/// The test account's id.
pub(crate) fn account() -> AccountId {
    AccountId::new(ACCOUNT.to_owned()).expect("account id")
}
