//! The console's KMS and RAM client: key actions are calls to Cang's KMS OpenAPI, and user, access-key and
//! policy actions calls to the RAM OpenAPI on the same edge (RPC style, HMAC-SHA1 signature version 1.0),
//! signed with the signed-in user's access key, so the crypto service's RAM decisions and audit apply
//! exactly as to any application's SDK.

use std::time::Duration;

use base64::Engine as _;
use bytes::Bytes;
use cang_oss::auth::AccessKeySecret;
use cang_oss::percent::encode_strict;
use futures::StreamExt as _;
use hmac::{KeyInit, Mac};
use http::{Request, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::rt::TokioIo;
use serde_json::Value;
use zeroize::Zeroizing;

/// The KMS OpenAPI version.
const VERSION: &str = "2016-01-20";
/// The RAM OpenAPI version.
const RAM_VERSION: &str = "2015-05-01";
/// How long one call may take.
const DEADLINE: Duration = Duration::from_secs(15);
/// Largest answer read.
const MAX_ANSWER: usize = 4 << 20;

/// A refused or failed KMS call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KmsFailure {
    /// `kms` or `ram`.
    pub service: &'static str,
    /// The action that failed (`ListKeys`).
    pub action: String,
    /// HTTP status (502 when the service could not be reached).
    pub status: StatusCode,
    /// Alibaba's error code (`Forbidden.NoPermission`…).
    pub code: String,
    /// Its message.
    pub message: String,
}

impl KmsFailure {
    /// Whether the caller lacks the RAM permission for the action.
    pub fn is_denied(&self) -> bool {
        self.code == "Forbidden.NoPermission"
    }

    /// The RAM action the call needed (`kms:ListKeys`, `ram:CreateUser`).
    pub fn permission(&self) -> String {
        format!("{}:{}", self.service, self.action)
    }

    fn unreachable(service: &'static str, action: &str, message: &str) -> Self {
        Self {
            service,
            action: action.to_owned(),
            status: StatusCode::BAD_GATEWAY,
            code: "ServiceUnavailable".into(),
            message: message.into(),
        }
    }
}

/// Where the KMS OpenAPI is served, and as whom to call it.
#[derive(Debug)]
pub struct KmsCaller<'a> {
    /// `host:port`.
    pub authority: &'a str,
    /// The signed-in user's access key id.
    pub access_key_id: &'a str,
    /// Its secret.
    pub secret: &'a AccessKeySecret,
}

impl KmsCaller<'_> {
    /// Calls KMS `action` with `params`; the JSON answer.
    pub async fn call(&self, action: &str, params: &[(&str, &str)]) -> Result<Value, KmsFailure> {
        self.call_version(VERSION, action, params).await
    }

    /// Calls RAM `action` (version 2015-05-01, served on the same edge) with `params`.
    pub async fn ram(&self, action: &str, params: &[(&str, &str)]) -> Result<Value, KmsFailure> {
        self.call_version(RAM_VERSION, action, params).await
    }

    async fn call_version(
        &self,
        version: &str,
        action: &str,
        params: &[(&str, &str)],
    ) -> Result<Value, KmsFailure> {
        let nonce = uuid::Uuid::new_v4().to_string();
        let timestamp = time::OffsetDateTime::now_utc()
            .format(&time::macros::format_description!(
                "[year]-[month]-[day]T[hour]:[minute]:[second]Z"
            ))
            .unwrap_or_default();
        let mut pairs: Vec<(String, String)> = [
            ("Action", action),
            ("Format", "JSON"),
            ("Version", version),
            ("AccessKeyId", self.access_key_id),
            ("SignatureMethod", "HMAC-SHA1"),
            ("SignatureVersion", "1.0"),
            ("SignatureNonce", nonce.as_str()),
            ("Timestamp", timestamp.as_str()),
        ]
        .iter()
        .chain(params.iter())
        .map(|(k, v)| (encode_strict(k), encode_strict(v)))
        .collect();
        pairs.sort();
        let canonical = pairs
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("&");
        let signature = rpc_signature(self.secret, &format!("POST&%2F&{}", encode_strict(&canonical)));
        let body = format!("{canonical}&Signature={}", encode_strict(&signature));
        let service = if version == RAM_VERSION { "ram" } else { "kms" };
        let (status, bytes) = tokio::time::timeout(DEADLINE, self.post(body))
            .await
            .map_err(|_| KmsFailure::unreachable(service, action, "the key service did not answer in time"))?
            .map_err(|message| KmsFailure::unreachable(service, action, &message))?;
        let value: Value = serde_json::from_slice(&bytes)
            .map_err(|_| KmsFailure::unreachable(service, action, "the key service's answer is not JSON"))?;
        if status.is_success() {
            return Ok(value);
        }
        Err(KmsFailure {
            service,
            action: action.to_owned(),
            status,
            code: value["Code"].as_str().unwrap_or("Error").to_owned(),
            message: value["Message"].as_str().unwrap_or_default().to_owned(),
        })
    }

    async fn post(&self, body: String) -> Result<(StatusCode, Bytes), String> {
        let stream = tokio::net::TcpStream::connect(self.authority)
            .await
            .map_err(|e| format!("the key service is unreachable: {e}"))?;
        let _ = stream.set_nodelay(true);
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| e.to_string())?;
        let driver = tokio::spawn(connection);
        let request = Request::post("/")
            .header(http::header::HOST, self.authority)
            .header(http::header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| e.to_string())?;
        let answer = sender.send_request(request).await.map_err(|e| e.to_string())?;
        let status = answer.status();
        let bytes = Limited::new(answer.into_body(), MAX_ANSWER)
            .collect()
            .await
            .map_err(|e| e.to_string())?
            .to_bytes();
        driver.abort();
        Ok((status, bytes))
    }
}

fn rpc_signature(secret: &AccessKeySecret, string_to_sign: &str) -> String {
    let mut key = Zeroizing::new(secret.expose().as_bytes().to_vec());
    key.push(b'&');
    match <hmac::Hmac<sha1::Sha1> as KeyInit>::new_from_slice(&key) {
        Ok(mut mac) => {
            mac.update(string_to_sign.as_bytes());
            base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
        }
        Err(_) => String::new(),
    }
}

/// A key as the picker and the key page show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeySummary {
    /// Key id.
    pub id: String,
    /// Its aliases.
    pub aliases: Vec<String>,
    /// `Enabled`, `Disabled`, `PendingDeletion`, `PendingImport`.
    pub state: String,
    /// `Aliyun_AES_256`, `Aliyun_SM4`.
    pub spec: String,
    /// Description.
    pub description: String,
    /// When deletion is scheduled for (pending deletion only).
    pub deletion_date: String,
    /// The rotation interval, when automatic rotation is on.
    pub rotation_interval: String,
}

/// Most keys one listing gathers.
const MAX_KEYS: usize = 1000;
/// `DescribeKey` calls in flight for one listing.
const DESCRIBES_IN_FLIGHT: usize = 8;

impl KmsCaller<'_> {
    /// Every key of the account with its aliases and state (`ListKeys`, `DescribeKey`, `ListAliases`).
    pub async fn keys(&self) -> Result<Vec<KeySummary>, KmsFailure> {
        let mut ids = Vec::new();
        let mut page = 1u32;
        loop {
            let number = page.to_string();
            let answer = self
                .call("ListKeys", &[("PageNumber", &number), ("PageSize", "100")])
                .await?;
            let keys = answer["Keys"]["Key"].as_array().cloned().unwrap_or_default();
            for key in &keys {
                if let Some(id) = key["KeyId"].as_str() {
                    ids.push(id.to_owned());
                }
            }
            let total = answer["TotalCount"].as_u64().unwrap_or(0) as usize;
            if keys.is_empty() || ids.len() >= total || ids.len() >= MAX_KEYS {
                break;
            }
            page += 1;
        }
        let mut aliases: Vec<(String, String)> = Vec::new();
        let mut page = 1u32;
        loop {
            let number = page.to_string();
            let answer = self
                .call("ListAliases", &[("PageNumber", &number), ("PageSize", "100")])
                .await?;
            let found = answer["Aliases"]["Alias"].as_array().cloned().unwrap_or_default();
            for alias in &found {
                if let (Some(name), Some(key)) = (alias["AliasName"].as_str(), alias["KeyId"].as_str()) {
                    aliases.push((key.to_owned(), name.to_owned()));
                }
            }
            let total = answer["TotalCount"].as_u64().unwrap_or(0) as usize;
            if found.is_empty() || aliases.len() >= total || aliases.len() >= MAX_KEYS {
                break;
            }
            page += 1;
        }
        // Each call is a connection of its own: a few at a time, not one per key at once.
        let described: Vec<Result<Value, KmsFailure>> = futures::stream::iter(ids.clone())
            .map(|id| async move { self.describe(&id).await })
            .buffered(DESCRIBES_IN_FLIGHT)
            .collect()
            .await;
        let mut keys = Vec::with_capacity(ids.len());
        for (id, described) in ids.into_iter().zip(described) {
            let meta = described?;
            let meta = &meta["KeyMetadata"];
            let text = |name: &str| meta[name].as_str().unwrap_or_default().to_owned();
            keys.push(KeySummary {
                aliases: aliases
                    .iter()
                    .filter(|(key, _)| *key == id)
                    .map(|(_, alias)| alias.clone())
                    .collect(),
                state: text("KeyState"),
                spec: text("KeySpec"),
                description: text("Description"),
                deletion_date: text("DeleteDate"),
                rotation_interval: text("RotationInterval"),
                id,
            });
        }
        Ok(keys)
    }

    /// `DescribeKey` of one key.
    pub async fn describe(&self, key_id: &str) -> Result<Value, KmsFailure> {
        self.call("DescribeKey", &[("KeyId", key_id)]).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_matches_the_vendor_documentation_vector() {
        // KMS's "Signature" documentation page: secret `testsecret`, this string to sign.
        let secret = AccessKeySecret::new("testsecret");
        let to_sign = "GET&%2F&AccessKeyId%3Dtestid%26Action%3DCreateKey%26Format%3Djson%26SignatureMethod%3DHMAC-SHA1\
             %26SignatureVersion%3D1.0%26Timestamp%3D2016-03-28T03%253A13%253A08Z%26Version%3D2016-01-20";
        assert_eq!(rpc_signature(&secret, to_sign), "41wk2SSX1GJh7fwnc5eqOfiJPFg=");
    }
}
