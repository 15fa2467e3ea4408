//! The OpenAPI edge end to end in process: the real keyring (`cang-kms`) and metadata store (`cang-meta`,
//! seen through the `kms` identity's session, so meta's per-caller rule is exercised too), requests signed
//! both ways and handed to the edge. Envelope round trip, replay, skew, RAM refusal, another account's
//! key, and the audit naming the end user.

mod common;

use std::net::SocketAddr;
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use bytes::Bytes;
use cang_kms::KmsService;
use cang_kms_api::{AccountId, KmsApi, KmsForCaller};
use cang_kms_openapi::params::{Pairs, Params, percent_encode};
use cang_kms_openapi::{OpenApi, acs3, rpc};
use cang_meta::MetaService;
use cang_meta_api::{IdentityStore, MetaForCaller};
use cang_tls::ServiceIdentity;
use serde_json::Value;
use sha2::{Digest, Sha256};

const ACCOUNT: &str = "1000000000000001";
const OTHER: &str = "1000000000000002";

struct Fixture {
    _dir: tempfile::TempDir,
    kms: Arc<KmsService>,
    meta: MetaService,
    api: OpenApi<KmsService>,
}

#[derive(Clone)]
struct Creds {
    id: String,
    secret: String,
}

impl Fixture {
    fn new() -> anyhow::Result<Self> {
        Self::with(cang_kms_openapi::OpenApiConfig::default())
    }

    fn with(config: cang_kms_openapi::OpenApiConfig) -> anyhow::Result<Self> {
        let dir = tempfile::tempdir()?;
        let (kms, meta) = common::services(dir.path())?;
        let api = common::edge(&kms, &meta, config);
        Ok(Self {
            _dir: dir,
            kms,
            meta,
            api,
        })
    }

    async fn account(&self, id: &str) -> anyhow::Result<Creds> {
        let meta = self.meta.for_caller(ServiceIdentity::Admin);
        meta.create_account(id, "test").await?;
        self.key(id, None).await
    }

    async fn key(&self, account: &str, user: Option<&str>) -> anyhow::Result<Creds> {
        let kms = self.kms.for_caller(ServiceIdentity::Admin);
        let meta = self.meta.for_caller(ServiceIdentity::Admin);
        let key = cang_access_keys::create_access_key(&kms, &meta, account, user).await?;
        Ok(Creds {
            id: key.access_key_id.clone(),
            secret: key.access_key_secret.to_string(),
        })
    }

    async fn ram_user(&self, account: &str, name: &str, policy: &str) -> anyhow::Result<Creds> {
        let meta = self.meta.for_caller(ServiceIdentity::Admin);
        meta.create_user(account, name).await?;
        meta.put_policy(account, name, policy).await?;
        meta.attach_policy(account, name, name).await?;
        self.key(account, Some(name)).await
    }

    async fn send(&self, request: http::Request<Bytes>) -> (u16, Value) {
        let (parts, body) = request.into_parts();
        let peer: SocketAddr = ([127, 0, 0, 1], 40000).into();
        let response = self.api.handle(&parts, &body, peer).await;
        let status = response.status().as_u16();
        let bytes = http_body_util::BodyExt::collect(response.into_body())
            .await
            .map(|c| c.to_bytes())
            .unwrap_or_default();
        (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
    }
}

fn now_iso(offset_secs: i64) -> String {
    cang_kms_openapi::iso_time(time::OffsetDateTime::now_utc().unix_timestamp() + offset_secs)
}

fn query_string(pairs: &[(String, String)]) -> String {
    let parts: Vec<String> = pairs
        .iter()
        .map(|(k, v)| format!("{}={}", percent_encode(k), percent_encode(v)))
        .collect();
    parts.join("&")
}

fn owned(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// An ACS3-signed POST with the parameters in the query, signed as the Go SDK does (host, x-acs-*).
fn acs3_request(
    creds: &Creds,
    action: &str,
    params: &[(&str, &str)],
    nonce: &str,
    skew: i64,
) -> http::Request<Bytes> {
    let query = owned(params);
    let mut headers = http::HeaderMap::new();
    let mut set = |k: &'static str, v: String| {
        headers.insert(
            k,
            http::HeaderValue::from_str(&v).unwrap_or(http::HeaderValue::from_static("")),
        );
    };
    set("host", "127.0.0.1:1".into());
    set("x-acs-action", action.into());
    set("x-acs-version", "2016-01-20".into());
    set("x-acs-date", now_iso(skew));
    set("x-acs-signature-nonce", nonce.into());
    set("x-acs-content-sha256", hex::encode(Sha256::digest(b"")));
    let signed: Vec<String> = [
        "host",
        "x-acs-action",
        "x-acs-content-sha256",
        "x-acs-date",
        "x-acs-signature-nonce",
        "x-acs-version",
    ]
    .map(str::to_owned)
    .to_vec();
    let pairs = Pairs(query.clone());
    let req = acs3::SignedRequest {
        method: "POST",
        path: "/",
        query: &pairs,
        headers: &headers,
    };
    let canonical =
        acs3::canonical_request(&req, &signed, &hex::encode(Sha256::digest(b""))).unwrap_or_default();
    let signature =
        acs3::sign(creds.secret.as_bytes(), &acs3::string_to_sign(&canonical)).unwrap_or_default();
    let auth = format!(
        "ACS3-HMAC-SHA256 Credential={},SignedHeaders={},Signature={}",
        creds.id,
        signed.join(";"),
        hex::encode(signature)
    );
    let mut builder = http::Request::builder()
        .method("POST")
        .uri(format!("/?{}", query_string(&query)));
    for (k, v) in &headers {
        builder = builder.header(k, v);
    }
    builder
        .header("authorization", auth)
        .body(Bytes::new())
        .unwrap_or_default()
}

/// An RPC-signed POST with every parameter in a form body.
fn rpc_request(
    creds: &Creds,
    action: &str,
    params: &[(&str, &str)],
    nonce: &str,
    skew: i64,
) -> http::Request<Bytes> {
    let timestamp = now_iso(skew);
    let mut all = owned(params);
    all.extend(owned(&[
        ("Action", action),
        ("Version", "2016-01-20"),
        ("Format", "JSON"),
        ("AccessKeyId", &creds.id),
        ("SignatureMethod", "HMAC-SHA1"),
        ("SignatureVersion", "1.0"),
        ("SignatureNonce", nonce),
        ("Timestamp", &timestamp),
    ]));
    let unsigned = Params {
        query: Pairs::default(),
        form: Pairs(all.clone()),
    };
    let signature =
        rpc::sign(creds.secret.as_bytes(), &rpc::string_to_sign("POST", &unsigned)).unwrap_or_default();
    all.push(("Signature".into(), signature));
    http::Request::builder()
        .method("POST")
        .uri("/")
        .header("host", "127.0.0.1:1")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Bytes::from(query_string(&all)))
        .unwrap_or_default()
}

fn code(body: &Value) -> &str {
    body["Code"].as_str().unwrap_or("")
}

#[tokio::test]
async fn envelope_round_trip_in_both_signatures() -> anyhow::Result<()> {
    let f = Fixture::new()?;
    let root = f.account(ACCOUNT).await?;
    let (status, created) = f.send(acs3_request(&root, "CreateKey", &[], "n1", 0)).await;
    assert_eq!(status, 200, "{created}");
    let key_id = created["KeyMetadata"]["KeyId"].as_str().unwrap_or("").to_owned();
    assert!(created["RequestId"].is_string());

    let ctx = r#"{"app":"edge"}"#;
    let (status, dk) = f
        .send(rpc_request(
            &root,
            "GenerateDataKey",
            &[("KeyId", &key_id), ("EncryptionContext", ctx)],
            "n2",
            0,
        ))
        .await;
    assert_eq!(status, 200, "{dk}");
    let plaintext = dk["Plaintext"].as_str().unwrap_or("");
    assert_eq!(BASE64.decode(plaintext)?.len(), 32);
    let blob = dk["CiphertextBlob"].as_str().unwrap_or("");
    let (status, opened) = f
        .send(acs3_request(
            &root,
            "Decrypt",
            &[("CiphertextBlob", blob), ("EncryptionContext", ctx)],
            "n3",
            0,
        ))
        .await;
    assert_eq!(status, 200, "{opened}");
    assert_eq!(opened["Plaintext"], plaintext);
    assert_eq!(opened["KeyId"], key_id.as_str());
    Ok(())
}

#[tokio::test]
async fn replays_skew_and_bad_signatures_get_alibabas_codes() -> anyhow::Result<()> {
    let f = Fixture::new()?;
    let root = f.account(ACCOUNT).await?;
    assert_eq!(
        f.send(rpc_request(&root, "ListKeys", &[], "once", 0)).await.0,
        200
    );
    let (status, body) = f.send(rpc_request(&root, "ListKeys", &[], "once", 0)).await;
    assert_eq!((status, code(&body)), (400, "SignatureNonceUsed"));
    let (status, body) = f.send(acs3_request(&root, "ListKeys", &[], "once", 0)).await;
    assert_eq!(
        (status, code(&body)),
        (400, "SignatureNonceUsed"),
        "the nonce is spent whichever scheme"
    );

    for skew in [-16 * 60, 16 * 60] {
        let (status, body) = f
            .send(acs3_request(&root, "ListKeys", &[], &format!("s{skew}"), skew))
            .await;
        assert_eq!((status, code(&body)), (400, "InvalidTimeStamp.Expired"));
    }
    let wrong = Creds {
        secret: format!("{}x", root.secret),
        ..root.clone()
    };
    let (status, body) = f.send(rpc_request(&wrong, "ListKeys", &[], "w1", 0)).await;
    assert_eq!((status, code(&body)), (400, "SignatureDoesNotMatch"));
    let stranger = Creds {
        id: "LTAI00000000000000000000".into(),
        secret: "s".into(),
    };
    let (status, body) = f.send(acs3_request(&stranger, "ListKeys", &[], "x1", 0)).await;
    assert_eq!((status, code(&body)), (404, "InvalidAccessKeyId.NotFound"));
    let (status, body) = f.send(acs3_request(&root, "NoSuchAction", &[], "a1", 0)).await;
    assert_eq!((status, code(&body)), (404, "InvalidAction.NotFound"));
    let (status, body) = f.send(acs3_request(&root, "Decrypt", &[], "m1", 0)).await;
    assert_eq!((status, code(&body)), (400, "MissingParameter"));
    assert_eq!(
        body["Message"],
        "The parameter \"CiphertextBlob\" is needed but not provided."
    );
    for field in ["RequestId", "HostId", "Code", "Message", "Recommend"] {
        assert!(body[field].is_string(), "{field} in {body}");
    }
    Ok(())
}

#[tokio::test]
async fn ram_policies_and_accounts_bound_every_key_use() -> anyhow::Result<()> {
    let f = Fixture::new()?;
    let root = f.account(ACCOUNT).await?;
    let other = f.account(OTHER).await?;
    let reader = f
        .ram_user(
            ACCOUNT,
            "reader",
            r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":["kms:List*","kms:DescribeKey"],"Resource":"*"}]}"#,
        )
        .await?;
    let (_, created) = f.send(acs3_request(&root, "CreateKey", &[], "c1", 0)).await;
    let key_id = created["KeyMetadata"]["KeyId"].as_str().unwrap_or("").to_owned();
    let (_, theirs) = f.send(acs3_request(&other, "CreateKey", &[], "c2", 0)).await;
    let their_key = theirs["KeyMetadata"]["KeyId"].as_str().unwrap_or("").to_owned();

    assert_eq!(
        f.send(acs3_request(
            &reader,
            "DescribeKey",
            &[("KeyId", &key_id)],
            "r1",
            0
        ))
        .await
        .0,
        200
    );
    let (status, body) = f
        .send(acs3_request(
            &reader,
            "GenerateDataKey",
            &[("KeyId", &key_id)],
            "r2",
            0,
        ))
        .await;
    assert_eq!((status, code(&body)), (403, "Forbidden.NoPermission"));

    let (status, body) = f
        .send(rpc_request(
            &root,
            "GenerateDataKey",
            &[("KeyId", &their_key)],
            "f1",
            0,
        ))
        .await;
    assert_eq!((status, code(&body)), (404, "Forbidden.KeyNotFound"));
    let (_, sealed) = f
        .send(acs3_request(
            &other,
            "Encrypt",
            &[("KeyId", &their_key), ("Plaintext", "theirs")],
            "f2",
            0,
        ))
        .await;
    let blob = sealed["CiphertextBlob"].as_str().unwrap_or("");
    let (status, body) = f
        .send(acs3_request(
            &root,
            "Decrypt",
            &[("CiphertextBlob", blob)],
            "f3",
            0,
        ))
        .await;
    assert_eq!((status, code(&body)), (404, "Forbidden.KeyNotFound"));

    // The audit names the end user of a key use through the edge.
    let (status, _) = f
        .send(acs3_request(
            &root,
            "GenerateDataKey",
            &[("KeyId", &key_id)],
            "g1",
            0,
        ))
        .await;
    assert_eq!(status, 200);
    let admin = f.kms.for_caller(ServiceIdentity::Admin);
    let mut found = None;
    for _ in 0..100 {
        let records = admin.list_audit_records(0, 1000).await?;
        found = records
            .into_iter()
            .find(|r| r.operation == "GenerateDataKey" && r.key_id == key_id && r.result == "ok");
        if found.is_some() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let record = found.ok_or_else(|| anyhow::anyhow!("no audit record"))?;
    assert_eq!(record.principal, "kms");
    let end_user = record.end_user.ok_or_else(|| anyhow::anyhow!("no end user"))?;
    assert_eq!((end_user.account.as_str(), end_user.user), (ACCOUNT, None));
    assert_eq!(end_user.access_key_id, root.id);
    assert_eq!(AccountId::new(ACCOUNT)?.as_str(), record.account);
    Ok(())
}

#[tokio::test]
async fn resolved_access_keys_are_served_from_memory_for_their_ttl() -> anyhow::Result<()> {
    use std::time::Duration;
    for (ttl, refused_at_once) in [(Duration::from_secs(600), false), (Duration::ZERO, true)] {
        let f = Fixture::with(cang_kms_openapi::OpenApiConfig {
            access_key_ttl: ttl,
            ..Default::default()
        })?;
        let root = f.account(ACCOUNT).await?;
        let (status, _) = f.send(acs3_request(&root, "ListKeys", &[], "n1", 0)).await;
        assert_eq!(status, 200);
        let openings = |f: &Fixture| {
            let admin = f.kms.for_caller(ServiceIdentity::Admin);
            async move {
                let records = admin.list_audit_records(0, 1000).await?;
                anyhow::Ok(
                    records
                        .iter()
                        .filter(|r| r.operation == "Decrypt" && r.principal == "kms" && r.end_user.is_none())
                        .count(),
                )
            }
        };
        f.meta
            .for_caller(ServiceIdentity::Admin)
            .set_access_key_status(&root.id, cang_meta_api::AccessKeyStatus::Inactive)
            .await?;
        let (status, body) = f.send(acs3_request(&root, "ListKeys", &[], "n2", 0)).await;
        if refused_at_once {
            assert_eq!((status, code(&body)), (403, "Forbidden.AccessKey"), "{body}");
        } else {
            // Served from memory: no second lookup, no second opening of the secret.
            assert_eq!(status, 200, "{body}");
            tokio::time::sleep(Duration::from_millis(200)).await;
            assert_eq!(openings(&f).await?, 1);
        }
    }
    Ok(())
}
