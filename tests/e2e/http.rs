//! Helpers shared by the end-to-end tests: an OpenDAL operator, V1-signed raw
//! requests, bucket creation, customer keys, a cluster on a manual clock, deterministic bodies and a minimal
//! reader for the XML the gateway returns.

use cang_access_keys::NewCredentials;
use cang_tests::Cluster;
use cang_tests::sign::v1_headers;
use opendal::{Operator, services::Oss};
use reqwest::StatusCode;

/// An OpenDAL OSS operator on `bucket` with path-style addressing.
pub fn op(cluster: &Cluster, creds: &NewCredentials, bucket: &str) -> Operator {
    let builder = Oss::default()
        .bucket(bucket)
        .endpoint(&cluster.endpoint())
        .addressing_style("path")
        .access_key_id(&creds.access_key_id)
        .access_key_secret(&creds.access_key_secret);
    Operator::new(builder).expect("operator")
}

/// Every key of the operator's bucket, in order (a recursive OpenDAL listing).
pub async fn all_keys(op: &Operator) -> Vec<String> {
    use futures::TryStreamExt;
    let mut keys: Vec<String> = op
        .lister_with("")
        .recursive(true)
        .await
        .expect("lister")
        .map_ok(|e| e.path().to_owned())
        .try_collect()
        .await
        .expect("recursive list");
    keys.sort();
    keys
}

/// One raw request: `target` is the path and query as sent (`/bucket/key?uploads`), `resource` the
/// canonicalized resource that is signed.
pub struct Raw<'a> {
    /// HTTP method.
    pub method: &'a str,
    /// Path and query.
    pub target: &'a str,
    /// Canonicalized resource.
    pub resource: &'a str,
    /// `x-oss-*` and other headers to send; `x-oss-*` ones are signed.
    pub headers: &'a [(&'a str, &'a str)],
    /// Body.
    pub body: Vec<u8>,
}

impl<'a> Raw<'a> {
    /// A request without headers or body.
    pub fn new(method: &'a str, target: &'a str, resource: &'a str) -> Self {
        Self {
            method,
            target,
            resource,
            headers: &[],
            body: Vec::new(),
        }
    }

    /// With headers.
    pub fn headers(mut self, headers: &'a [(&'a str, &'a str)]) -> Self {
        self.headers = headers;
        self
    }

    /// With a body.
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }

    /// Sends it, signed by `creds`.
    pub async fn send(self, cluster: &Cluster, creds: &NewCredentials) -> reqwest::Response {
        let md5 = self
            .headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("content-md5"))
            .map_or("", |(_, v)| *v);
        let content_type = self
            .headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("content-type"))
            .map_or("", |(_, v)| *v);
        let oss: Vec<(&str, &str)> = self
            .headers
            .iter()
            .copied()
            .filter(|(k, _)| k.to_ascii_lowercase().starts_with("x-oss-"))
            .collect();
        let signed = v1_headers(
            &creds.access_key_id,
            &creds.access_key_secret,
            self.method,
            md5,
            content_type,
            &oss,
            self.resource,
        );
        let mut req = reqwest::Client::new()
            .request(
                self.method.parse().expect("method"),
                format!("{}{}", cluster.endpoint(), self.target),
            )
            .body(self.body);
        for (k, v) in signed {
            req = req.header(k, v);
        }
        for (k, v) in self.headers {
            req = req.header(*k, *v);
        }
        req.send().await.expect("request")
    }
}

/// A signed raw request in one call: `path` is `/bucket/key` (percent-encoded as sent), `query` the raw query
/// string (may be empty), `resource` the canonicalized resource.
#[allow(clippy::too_many_arguments)] // one argument per part of a signed request reads best at call sites
pub async fn raw(
    cluster: &Cluster,
    creds: &NewCredentials,
    method: &str,
    path: &str,
    query: &str,
    resource: &str,
    headers: &[(&str, &str)],
    body: Vec<u8>,
) -> reqwest::Response {
    let target = if query.is_empty() {
        path.to_owned()
    } else {
        format!("{path}?{query}")
    };
    Raw::new(method, &target, resource)
        .headers(headers)
        .body(body)
        .send(cluster, creds)
        .await
}

/// Creates `bucket` with the given SSE headers as its default.
pub async fn create_bucket(cluster: &Cluster, creds: &NewCredentials, bucket: &str, sse: &[(&str, &str)]) {
    let target = format!("/{bucket}/");
    let resp = Raw::new("PUT", &target, &target)
        .headers(sse)
        .send(cluster, creds)
        .await;
    assert_eq!(resp.status(), StatusCode::OK, "create {bucket}");
}

/// Deterministic bytes that differ with `seed`.
pub fn body(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed) ^ (i >> 8) as u8)
        .collect()
}

/// A response header as text.
pub fn header(resp: &reqwest::Response, name: &str) -> Option<String> {
    resp.headers()
        .get(name)
        .map(|v| v.to_str().expect("ASCII header").to_owned())
}

/// The texts of every `<name>` element, in document order (the gateway's XML has no attributes or CDATA).
pub fn tags(xml: &str, name: &str) -> Vec<String> {
    let (open, close) = (format!("<{name}>"), format!("</{name}>"));
    let mut out = Vec::new();
    let mut rest = xml;
    while let Some(start) = rest.find(&open) {
        let after = &rest[start + open.len()..];
        let Some(end) = after.find(&close) else { break };
        out.push(
            after[..end]
                .replace("&quot;", "\"")
                .replace("&lt;", "<")
                .replace("&gt;", ">")
                .replace("&amp;", "&"),
        );
        rest = &after[end + close.len()..];
    }
    out
}

/// The text of the first `<name>` element.
pub fn tag(xml: &str, name: &str) -> Option<String> {
    tags(xml, name).into_iter().next()
}

/// Uppercase hex MD5, the form of a part's ETag.
pub fn md5_hex(data: &[u8]) -> String {
    use md5::{Digest, Md5};
    hex::encode_upper(Md5::digest(data))
}

/// Uppercase hex MD5 as binary.
pub fn md5_bytes(data: &[u8]) -> [u8; 16] {
    use md5::{Digest, Md5};
    Md5::digest(data).into()
}

/// A cluster whose crypto service reads a manual clock set to now, and that clock.
pub async fn cluster_on_manual_clock() -> (Cluster, std::sync::Arc<cang_kms::ManualClock>) {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    let clock = std::sync::Arc::new(cang_kms::ManualClock::new(i64::try_from(now).expect("seconds")));
    let cluster = Cluster::start_with_kms_clock(clock.clone())
        .await
        .expect("cluster");
    (cluster, clock)
}

/// A new AES-256 customer master key of the cluster's account, without automatic rotation.
pub async fn customer_key(cluster: &Cluster, description: &str) -> cang_kms_api::KeyMetadata {
    use cang_kms_api::{AccountId, CreateKeyRequest, KeyOrigin, KeySpec, RotationPolicy};
    cluster
        .kms_admin
        .create_key(CreateKeyRequest {
            account: AccountId::new(cluster.account.clone()).expect("account"),
            description: description.into(),
            spec: KeySpec::Aes256,
            origin: KeyOrigin::AliyunKms,
            rotation: RotationPolicy::new(false, 0).expect("policy"),
        })
        .await
        .expect("create key")
}

/// The crypto service's audit records (the first 1000) once `landed` holds for them: the audit writer
/// persists in batches on its own thread, so records appear shortly after the calls. Gives up (returning
/// what it saw) after five seconds.
pub async fn audit_once(
    cluster: &Cluster,
    landed: impl Fn(&[cang_kms_api::AuditRecord]) -> bool,
) -> Vec<cang_kms_api::AuditRecord> {
    let mut records = Vec::new();
    for _ in 0..100 {
        records = cluster
            .kms_admin
            .list_audit_records(0, 1000)
            .await
            .expect("audit");
        if landed(&records) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    records
}
