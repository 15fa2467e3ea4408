//! The console's OSS client: every action of a page is an OSS request signed (signature V1) with the
//! signed-in user's own access key and answered by the OSS API's own pipeline, so the console can do
//! exactly what that user's SDK could, no more — the same signature check, policies, ACLs, KMS permissions
//! and audit. Responses are read back from OSS's XML.

use std::net::SocketAddr;
use std::time::SystemTime;

use bytes::Bytes;
use cang_oss::auth::{AccessKeySecret, RequestView, sign_v1_authorization};
use http::{HeaderMap, HeaderName, HeaderValue, Method, Request, Response, StatusCode};

use crate::xml::Element;
use crate::{Backend, Body, empty_body};

/// Largest XML answer read back (a 1000-entry listing is well under it).
const MAX_ANSWER: usize = 8 << 20;
/// The host the console's requests name: an address, so the path addresses the bucket.
const HOST: &str = "127.0.0.1";

/// One OSS request before signing.
#[derive(Debug)]
pub struct OssRequest {
    method: Method,
    bucket: Option<String>,
    key: Option<String>,
    query: String,
    headers: HeaderMap,
    body: Body,
}

impl OssRequest {
    /// A request of `method` on the service (no bucket).
    pub fn service(method: Method) -> Self {
        Self {
            method,
            bucket: None,
            key: None,
            query: String::new(),
            headers: HeaderMap::new(),
            body: empty_body(),
        }
    }

    /// A request on `bucket`.
    pub fn bucket(method: Method, bucket: &str) -> Self {
        Self {
            bucket: Some(bucket.to_owned()),
            ..Self::service(method)
        }
    }

    /// A request on object `key` of `bucket`.
    pub fn object(method: Method, bucket: &str, key: &str) -> Self {
        Self {
            key: Some(key.to_owned()),
            ..Self::bucket(method, bucket)
        }
    }

    /// Adds a query parameter (`value` `None`: a bare sub-resource such as `encryption`).
    pub fn query(mut self, name: &str, value: Option<&str>) -> Self {
        if !self.query.is_empty() {
            self.query.push('&');
        }
        self.query.push_str(&cang_oss::percent::encode_strict(name));
        if let Some(value) = value {
            self.query.push('=');
            self.query.push_str(&cang_oss::percent::encode_strict(value));
        }
        self
    }

    /// Adds a header; a value that is not a valid header value is left out (the request then fails the way
    /// the same request from an SDK would without it).
    pub fn header(mut self, name: HeaderName, value: &str) -> Self {
        if let Ok(value) = HeaderValue::from_str(value) {
            self.headers.insert(name, value);
        }
        self
    }

    /// The body.
    pub fn body(mut self, body: Body) -> Self {
        self.body = body;
        self
    }

    fn path(&self) -> String {
        let mut path = String::from("/");
        if let Some(bucket) = &self.bucket {
            path.push_str(bucket);
            path.push('/');
            if let Some(key) = &self.key {
                let segments: Vec<String> = key.split('/').map(cang_oss::percent::encode_strict).collect();
                path.push_str(&segments.join("/"));
            }
        }
        path
    }

    /// The request signed as `access_key_id` at `now`.
    fn signed(self, access_key_id: &str, secret: &AccessKeySecret, now: SystemTime) -> Option<Request<Body>> {
        let path = self.path();
        let uri = if self.query.is_empty() {
            path.clone()
        } else {
            format!("{path}?{}", self.query)
        };
        let mut headers = self.headers;
        headers.insert(http::header::HOST, HeaderValue::from_static(HOST));
        headers.insert(
            http::header::DATE,
            HeaderValue::from_str(&cang_oss::date::http_date(now)).ok()?,
        );
        let view = RequestView {
            method: &self.method,
            raw_path: &path,
            raw_query: &self.query,
            headers: &headers,
            bucket: self.bucket.as_deref(),
            key: self.key.as_deref(),
        };
        let authorization = sign_v1_authorization(&view, access_key_id, secret.expose().as_bytes());
        headers.insert(
            http::header::AUTHORIZATION,
            HeaderValue::from_str(&authorization).ok()?,
        );
        let mut request = Request::builder()
            .method(self.method)
            .uri(uri)
            .body(self.body)
            .ok()?;
        *request.headers_mut() = headers;
        Some(request)
    }
}

/// An OSS error answer: its status, code and message, as an SDK would show them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OssFailure {
    /// HTTP status.
    pub status: StatusCode,
    /// OSS error code (`AccessDenied`, `NoSuchKey`…).
    pub code: String,
    /// OSS error message.
    pub message: String,
}

impl OssFailure {
    fn local(message: &str) -> Self {
        Self {
            status: StatusCode::BAD_GATEWAY,
            code: "InternalError".into(),
            message: message.into(),
        }
    }

    /// Whether the answer was a refusal of the caller's permissions.
    pub fn is_denied(&self) -> bool {
        self.status == StatusCode::FORBIDDEN && self.code == "AccessDenied"
    }
}

/// The signed-in user as an OSS client.
pub struct Caller<'a, B> {
    pub(crate) backend: &'a B,
    pub(crate) access_key_id: &'a str,
    pub(crate) secret: &'a AccessKeySecret,
    pub(crate) peer: SocketAddr,
}

impl<B> std::fmt::Debug for Caller<'_, B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Caller")
            .field("access_key_id", &self.access_key_id)
            .finish_non_exhaustive()
    }
}

impl<B: Backend> Caller<'_, B> {
    /// Sends `request`; the raw answer.
    pub async fn send(&self, request: OssRequest) -> Response<Body> {
        match request.signed(self.access_key_id, self.secret, SystemTime::now()) {
            Some(signed) => self.backend.oss(signed, self.peer).await,
            None => {
                let mut answer = Response::new(empty_body());
                *answer.status_mut() = StatusCode::BAD_REQUEST;
                answer
            }
        }
    }

    /// Sends `request` and reads a successful answer's headers and body.
    pub async fn call(&self, request: OssRequest) -> Result<(HeaderMap, Bytes), OssFailure> {
        let answer = self.send(request).await;
        let status = answer.status();
        let (parts, body) = answer.into_parts();
        let bytes = crate::read_bounded(body, MAX_ANSWER)
            .await
            .map_err(|_| OssFailure::local("the answer could not be read"))?;
        if status.is_success() {
            return Ok((parts.headers, bytes));
        }
        Err(failure_of(status, &parts.headers, &bytes))
    }

    /// Sends `request` and parses a successful answer's XML document.
    pub async fn xml(&self, request: OssRequest) -> Result<Element, OssFailure> {
        let (_, bytes) = self.call(request).await?;
        crate::xml::parse(&bytes).ok_or_else(|| OssFailure::local("the answer is not XML"))
    }
}

/// The error an answer carries: the XML body's code and message, else (HEAD) `x-oss-err` or the status.
pub fn failure_of(status: StatusCode, headers: &HeaderMap, body: &[u8]) -> OssFailure {
    let document = crate::xml::parse(body).or_else(|| {
        use base64::Engine as _;
        let err = headers.get("x-oss-err")?.to_str().ok()?;
        let xml = base64::engine::general_purpose::STANDARD.decode(err).ok()?;
        crate::xml::parse(&xml)
    });
    match document {
        Some(doc) if doc.name == "Error" => OssFailure {
            status,
            code: doc.text("Code").unwrap_or_default().to_owned(),
            message: doc.text("Message").unwrap_or_default().to_owned(),
        },
        _ => OssFailure {
            status,
            code: status.canonical_reason().unwrap_or("Error").to_owned(),
            message: String::new(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_encoded_per_segment_and_queries_strictly() {
        let request = OssRequest::object(Method::GET, "bkt", "a b/<c>?d")
            .query("prefix", Some("x/y z"))
            .query("encryption", None);
        assert_eq!(request.path(), "/bkt/a%20b/%3Cc%3E%3Fd");
        assert_eq!(request.query, "prefix=x%2Fy%20z&encryption");
    }

    #[test]
    fn an_error_document_names_its_code() {
        let body = b"<?xml version=\"1.0\"?><Error><Code>AccessDenied</Code><Message>no</Message></Error>";
        let failure = failure_of(StatusCode::FORBIDDEN, &HeaderMap::new(), body);
        assert!(failure.is_denied());
        assert_eq!(failure.message, "no");
        let bare = failure_of(StatusCode::NOT_FOUND, &HeaderMap::new(), b"");
        assert_eq!(bare.code, "Not Found");
    }
}
