//! A minimal OSS client for the benchmark: path-style requests over HTTP/1.1 keep-alive, signed with
//! signature V1, bodies streamed from a [`Payload`]. Every download is drained and checked against the
//! CRC-64 the bench expects, so a fast wrong answer never counts as throughput.

use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use cang_oss::auth::{RequestView, sign_v1_authorization};
use cang_oss::checksum::Crc64;
use futures::StreamExt;
use http::{HeaderMap, HeaderName, HeaderValue, Method};
use zeroize::Zeroizing;

use crate::BenchError;
use crate::payload::Payload;

/// Endpoint and credentials of the instance under test.
#[derive(Clone)]
pub struct Credentials {
    /// `http://host:port`.
    pub endpoint: String,
    /// Access key id.
    pub access_key_id: String,
    /// Access key secret.
    pub secret: Zeroizing<String>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("endpoint", &self.endpoint)
            .field("access_key_id", &self.access_key_id)
            .field("secret", &"[REDACTED]")
            .finish()
    }
}

impl Credentials {
    /// Parses a `credentials.env` (`OSS_ENDPOINT=…`, `OSS_ACCESS_KEY_ID=…`, `OSS_ACCESS_KEY_SECRET=…`;
    /// `export ` prefixes and quotes allowed).
    pub fn parse_env(text: &str) -> Result<Self, BenchError> {
        let mut endpoint = None;
        let mut id = None;
        let mut secret = None;
        for line in text.lines() {
            let line = line.trim();
            let line = line.strip_prefix("export ").unwrap_or(line);
            let Some((name, value)) = line.split_once('=') else {
                continue;
            };
            let value = value.trim().trim_matches(|c| c == '"' || c == '\'').to_owned();
            match name.trim() {
                "OSS_ENDPOINT" => endpoint = Some(value),
                "OSS_ACCESS_KEY_ID" => id = Some(value),
                "OSS_ACCESS_KEY_SECRET" => secret = Some(Zeroizing::new(value)),
                _ => {}
            }
        }
        let missing = |name: &str| BenchError::Credentials(format!("{name} is missing"));
        let endpoint = endpoint.ok_or_else(|| missing("OSS_ENDPOINT"))?;
        let endpoint = if endpoint.contains("://") {
            endpoint
        } else {
            format!("http://{endpoint}")
        };
        Ok(Self {
            endpoint: endpoint.trim_end_matches('/').to_owned(),
            access_key_id: id.ok_or_else(|| missing("OSS_ACCESS_KEY_ID"))?,
            secret: secret.ok_or_else(|| missing("OSS_ACCESS_KEY_SECRET"))?,
        })
    }
}

/// A bucket's default encryption, as set at creation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BucketSse {
    /// No default encryption.
    None,
    /// SSE-OSS with AES-256.
    Aes256,
    /// SSE-OSS with SM4.
    Sm4,
    /// SSE-KMS under the account's default key.
    Kms,
}

impl BucketSse {
    fn headers(self) -> &'static [(&'static str, &'static str)] {
        match self {
            Self::None => &[],
            Self::Aes256 => &[("x-oss-server-side-encryption", "AES256")],
            Self::Sm4 => &[("x-oss-server-side-encryption", "SM4")],
            Self::Kms => &[("x-oss-server-side-encryption", "KMS")],
        }
    }
}

/// A signed-request client bound to one endpoint.
#[derive(Debug, Clone)]
pub struct OssClient {
    http: reqwest::Client,
    credentials: Credentials,
}

impl OssClient {
    /// A client with keep-alive connections and `TCP_NODELAY` (DESIGN §9: without it small requests wait
    /// for delayed ACKs).
    pub fn new(credentials: Credentials) -> Result<Self, BenchError> {
        let http = reqwest::Client::builder()
            .tcp_nodelay(true)
            .pool_max_idle_per_host(256)
            .timeout(Duration::from_secs(600))
            .build()
            .map_err(|e| BenchError::Http(e.to_string()))?;
        Ok(Self { http, credentials })
    }

    /// Same connection pool, different endpoint and credentials.
    pub fn with_endpoint(&self, endpoint: &str) -> Self {
        let mut credentials = self.credentials.clone();
        credentials.endpoint = endpoint.trim_end_matches('/').to_owned();
        Self {
            http: self.http.clone(),
            credentials,
        }
    }

    /// The endpoint.
    pub fn endpoint(&self) -> &str {
        &self.credentials.endpoint
    }

    /// A signed request builder; `extra` headers are signed too.
    fn request(
        &self,
        method: Method,
        bucket: &str,
        key: Option<&str>,
        extra: &[(&str, String)],
    ) -> Result<reqwest::RequestBuilder, BenchError> {
        let path = match key {
            Some(key) => format!("/{bucket}/{key}"),
            None => format!("/{bucket}/"),
        };
        let mut headers = HeaderMap::new();
        headers.insert(
            http::header::DATE,
            header_value(&cang_oss::date::http_date(SystemTime::now()))?,
        );
        for (name, value) in extra {
            let name =
                HeaderName::from_bytes(name.as_bytes()).map_err(|e| BenchError::Http(e.to_string()))?;
            headers.insert(name, header_value(value)?);
        }
        let view = RequestView {
            method: &method,
            raw_path: &path,
            raw_query: "",
            headers: &headers,
            bucket: Some(bucket),
            key,
        };
        let authorization = sign_v1_authorization(
            &view,
            &self.credentials.access_key_id,
            self.credentials.secret.as_bytes(),
        );
        headers.insert(http::header::AUTHORIZATION, header_value(&authorization)?);
        let url = format!("{}{path}", self.credentials.endpoint);
        Ok(self.http.request(method, url).headers(headers))
    }

    /// PutBucket with a default encryption rule; an existing bucket of ours is fine.
    pub async fn create_bucket(&self, bucket: &str, sse: BucketSse) -> Result<(), BenchError> {
        let extra: Vec<(&str, String)> = sse.headers().iter().map(|(n, v)| (*n, (*v).to_owned())).collect();
        let response = self
            .request(Method::PUT, bucket, None, &extra)?
            .header(http::header::CONTENT_LENGTH, 0)
            .send()
            .await
            .map_err(|e| BenchError::Http(e.to_string()))?;
        expect_success(response, "PutBucket").await.map(drop)
    }

    /// PutObject of the first `len` bytes of `payload`, streamed; checks the returned CRC-64.
    pub async fn put(&self, bucket: &str, key: &str, payload: &Payload, len: u64) -> Result<(), BenchError> {
        let body = reqwest::Body::wrap_stream(payload.stream(len));
        self.put_body(bucket, key, body, len, payload.crc64_of(len)).await
    }

    /// PutObject of a small in-memory body.
    pub async fn put_small(&self, bucket: &str, key: &str, body: Bytes, crc: u64) -> Result<(), BenchError> {
        let len = body.len() as u64;
        self.put_body(bucket, key, reqwest::Body::from(body), len, crc)
            .await
    }

    async fn put_body(
        &self,
        bucket: &str,
        key: &str,
        body: reqwest::Body,
        len: u64,
        crc: u64,
    ) -> Result<(), BenchError> {
        let response = self
            .request(Method::PUT, bucket, Some(key), &[])?
            .header(http::header::CONTENT_LENGTH, len)
            .body(body)
            .send()
            .await
            .map_err(|e| BenchError::Http(e.to_string()))?;
        let response = expect_success(response, "PutObject").await?;
        check_crc(response.headers(), crc, "PutObject")
    }

    /// GetObject, whole or `[start, end)`; drains the body and checks its length and CRC-64 against
    /// `expected_crc`. Returns the time to the first body byte.
    pub async fn get(
        &self,
        bucket: &str,
        key: &str,
        range: Option<(u64, u64)>,
        expected_len: u64,
        expected_crc: u64,
    ) -> Result<Duration, BenchError> {
        let started = Instant::now();
        let mut builder = self.request(Method::GET, bucket, Some(key), &[])?;
        if let Some((start, end)) = range {
            builder = builder.header(http::header::RANGE, format!("bytes={start}-{}", end - 1));
        }
        let response = builder
            .send()
            .await
            .map_err(|e| BenchError::Http(e.to_string()))?;
        let response = expect_success(response, "GetObject").await?;
        let mut first_byte = None;
        let mut crc = Crc64::default();
        let mut received = 0u64;
        let mut body = response.bytes_stream();
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(|e| BenchError::Http(e.to_string()))?;
            first_byte.get_or_insert_with(|| started.elapsed());
            received += chunk.len() as u64;
            crc.update(&chunk);
        }
        if received != expected_len || crc.value() != expected_crc {
            return Err(BenchError::Integrity(format!(
                "GET {bucket}/{key}: {received} bytes with CRC {}, expected {expected_len} bytes with CRC {expected_crc}",
                crc.value()
            )));
        }
        Ok(first_byte.unwrap_or_else(|| started.elapsed()))
    }

    /// DeleteObject (best effort is not enough: a failed delete would skew the disk measurement).
    pub async fn delete(&self, bucket: &str, key: &str) -> Result<(), BenchError> {
        let response = self
            .request(Method::DELETE, bucket, Some(key), &[])?
            .send()
            .await
            .map_err(|e| BenchError::Http(e.to_string()))?;
        expect_success(response, "DeleteObject").await.map(drop)
    }
}

fn header_value(value: &str) -> Result<HeaderValue, BenchError> {
    HeaderValue::from_str(value).map_err(|e| BenchError::Http(e.to_string()))
}

async fn expect_success(response: reqwest::Response, what: &str) -> Result<reqwest::Response, BenchError> {
    let status = response.status();
    if status.is_success() {
        return Ok(response);
    }
    let body = response.text().await.unwrap_or_default();
    let code = body
        .split_once("<Code>")
        .and_then(|(_, rest)| rest.split_once("</Code>"))
        .map_or("", |(code, _)| code);
    Err(BenchError::Status {
        what: what.to_owned(),
        status: status.as_u16(),
        code: code.to_owned(),
    })
}

fn check_crc(headers: &HeaderMap, expected: u64, what: &str) -> Result<(), BenchError> {
    let got = headers
        .get(cang_oss::checksum::CRC64_HEADER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    match got {
        Some(crc) if crc == expected => Ok(()),
        other => Err(BenchError::Integrity(format!(
            "{what}: server CRC-64 {other:?}, expected {expected}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_env_is_parsed_with_exports_and_quotes() -> Result<(), BenchError> {
        let c = Credentials::parse_env(
            "# comment\nexport OSS_ENDPOINT=\"127.0.0.1:9000\"\nOSS_ACCESS_KEY_ID=LTAIabc\nOSS_ACCESS_KEY_SECRET='s3cr=t'\nOSS_REGION=cn\n",
        )?;
        assert_eq!(c.endpoint, "http://127.0.0.1:9000");
        assert_eq!(c.access_key_id, "LTAIabc");
        assert_eq!(c.secret.as_str(), "s3cr=t");
        assert!(!format!("{c:?}").contains("s3cr"));
        assert!(Credentials::parse_env("OSS_ENDPOINT=http://x\n").is_err());
        Ok(())
    }
}
