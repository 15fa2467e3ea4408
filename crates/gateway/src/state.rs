//! The gateway's shared state (settings, service clients, caches, the CPU pool) and what an operation
//! knows about its request once it is authorised.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use cang_kms_api::KmsApi;
use cang_meta_api::{Bucket, IdentityStore, MetaApi, ObjectInfo, ObjectStore};
use cang_oss::auth::AuthConfig;
use cang_oss::{Route, Router};
use cang_policy::ConditionContext;
use cang_telemetry::Metrics;

use crate::admission::InFlightLimit;
use crate::authorize::{Principal, PublicAccess};
use crate::keys::{DataKeys, KeyCacheLimits};
use crate::pipeline::pool::CpuPool;
use crate::principal::AccessKeys;

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
    /// The wall clock signatures, presigned expiries and the `Date` header are read from (the system's;
    /// tests jump it). Cache lifetimes run on the monotonic clock and ignore it.
    pub clock: WallClock,
}

/// A wall clock: the system's, or one a test moves.
#[derive(Clone)]
pub struct WallClock(Arc<dyn Fn() -> std::time::SystemTime + Send + Sync>);

impl WallClock {
    /// A clock reading `now`.
    pub fn from_fn(now: impl Fn() -> std::time::SystemTime + Send + Sync + 'static) -> Self {
        Self(Arc::new(now))
    }

    /// The time now.
    pub fn now(&self) -> std::time::SystemTime {
        (self.0)()
    }
}

impl Default for WallClock {
    fn default() -> Self {
        Self::from_fn(std::time::SystemTime::now)
    }
}

impl std::fmt::Debug for WallClock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WallClock")
    }
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
            clock: WallClock::default(),
        }
    }
}

/// The gateway's shared state.
pub struct Gateway {
    /// Settings.
    pub config: GatewayConfig,
    /// The crypto service.
    pub kms: Arc<dyn KmsApi>,
    /// The metadata service's object store (its identity half is reached only through `access_keys`).
    pub meta: Arc<dyn ObjectStore>,
    /// Data-key issuing and caching.
    pub keys: DataKeys,
    /// Access-key resolution.
    pub access_keys: AccessKeys,
    /// The metadata service's identity half, for one thing only: the console's signed-out sessions.
    pub sessions: Arc<dyn IdentityStore>,
    /// Request, byte, crypto-service and data-key cache metrics.
    pub metrics: Arc<Metrics>,
    /// The workers of the data path's bulk CPU work (digests, sealing, opening).
    pub(crate) cpu: CpuPool,
    /// Requests in flight per caller.
    pub(crate) in_flight: Arc<InFlightLimit>,
    pub(crate) router: Router,
    pub(crate) auth: AuthConfig,
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
    /// What is known of the object the operation addresses: a GetObject or HeadObject looks it up with its
    /// bucket, and authorisation looks at an object's ACL; the read starts from that lookup.
    pub object: KnownObject,
}

/// Stored bytes of an object that came with its record from one snapshot: `bytes` from stored offset `start`.
#[derive(Debug, Clone)]
pub(crate) struct StoredWindow {
    /// Offset of `bytes` in the object's stored bytes.
    pub start: u64,
    /// The stored bytes.
    pub bytes: bytes::Bytes,
}

/// What a request already looked up of the object it addresses.
#[derive(Debug, Clone, Default)]
pub enum KnownObject {
    /// Not looked up.
    #[default]
    Unknown,
    /// Looked up: there is no such object.
    Absent,
    /// Looked up: the object, and some of its stored bytes when they were small enough to come with its
    /// record (see `pipeline::read::INLINE_READ_MAX`): the whole object, or the window a range asked for.
    Found(Box<ObjectInfo>, Option<StoredWindow>),
}

impl KnownObject {
    /// The object's effective access: its own ACL unless `default`, else `bucket_access`. Only a looked-up
    /// object has its own.
    pub(crate) fn access(&self, bucket_access: PublicAccess) -> PublicAccess {
        match self {
            Self::Found(info, _) => PublicAccess::of_object(info.meta.acl, bucket_access),
            Self::Unknown | Self::Absent => bucket_access,
        }
    }
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
        let sessions: Arc<dyn IdentityStore> = meta.clone();
        let meta: Arc<dyn ObjectStore> = meta;
        let router = Router::new(config.base_domains.clone());
        let auth = AuthConfig::for_region(config.region.clone());
        let in_flight = InFlightLimit::new(config.max_in_flight_per_caller);
        Self {
            config,
            kms,
            meta,
            keys,
            access_keys,
            sessions,
            metrics,
            cpu: CpuPool::per_core(),
            in_flight,
            router,
            auth,
        }
    }
}
