//! Request authentication: signature V1 and V4, in the Authorization header or in a presigned URL
//! (`docs/oss-api.md` §2).
//!
//! Two ways in: [`authenticate`] does everything with a synchronous [`CredentialStore`]; callers whose
//! key lookup is asynchronous use [`read_signature`] (syntax and time checks), look up
//! [`SignatureClaim::access_key_id`] themselves, then call [`SignatureClaim::verify`].

mod canonical;
mod clock;
mod credentials;
mod error;
mod v1;
mod v4;

use std::time::{Duration, SystemTime};

use http::{HeaderMap, Method};

pub use credentials::{AccessKeySecret, Credential, CredentialStore, SecurityToken};
pub use error::{AuthError, SignatureMismatch};

use canonical::{QueryParam, parse_query, query_value, trim_ows};

pub(crate) use canonical::is_sub_resource;

/// The parts of an HTTP request that authentication reads. Routing has already resolved the logical
/// bucket and decoded the object key, which both signature versions sign instead of the literal path.
#[derive(Debug, Clone, Copy)]
pub struct RequestView<'a> {
    /// The HTTP method.
    pub method: &'a Method,
    /// The request path exactly as received, still percent-encoded (`/bkt/a%20b`).
    pub raw_path: &'a str,
    /// The query string exactly as received, without the `?`; empty when there is none.
    pub raw_query: &'a str,
    /// All request headers.
    pub headers: &'a HeaderMap,
    /// The bucket the request addresses (from the host or the path), if any.
    pub bucket: Option<&'a str>,
    /// The decoded object key, if the request addresses an object.
    pub key: Option<&'a str>,
}

/// Server-side knobs of verification.
#[derive(Debug, Clone)]
pub struct AuthConfig {
    /// The region this server serves. When set, a V4 scope naming another region is rejected; when unset,
    /// any region is accepted (it is covered by the signature either way).
    pub region: Option<String>,
    /// The largest accepted difference between the request time and `now`.
    pub max_skew: Duration,
}

impl AuthConfig {
    /// The default skew window, refusing V4 scopes that name any region but `region`.
    pub fn for_region(region: impl Into<String>) -> Self {
        Self {
            region: Some(region.into()),
            ..Self::default()
        }
    }
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self {
            region: None,
            max_skew: Duration::from_secs(15 * 60),
        }
    }
}

/// How a request was signed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SignatureScheme {
    /// `Authorization: OSS ak:signature` (HMAC-SHA1).
    V1Header,
    /// `?OSSAccessKeyId=…&Expires=…&Signature=…`.
    V1Presigned,
    /// `Authorization: OSS4-HMAC-SHA256 Credential=…` (HMAC-SHA256).
    V4Header,
    /// `?x-oss-signature-version=OSS4-HMAC-SHA256&x-oss-credential=…`.
    V4Presigned,
}

/// A request whose signature verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthenticatedKey {
    /// The access key that signed the request.
    pub access_key_id: String,
    /// The scheme it used.
    pub scheme: SignatureScheme,
    /// The SHA-256 of the body that the signature covers (V4 header form with a hex
    /// `x-oss-content-sha256`); see [`SignatureClaim::payload_sha256`].
    pub payload_sha256: Option<[u8; 32]>,
}

/// The outcome of authentication. Anonymous requests are not an error here: whether a public-read ACL
/// admits them is the caller's decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Authentication {
    /// No signature of any kind.
    Anonymous,
    /// A verified signature.
    Signed(AuthenticatedKey),
}

/// Authenticates `request` at time `now`, looking the access key up in `store`.
pub fn authenticate(
    request: &RequestView<'_>,
    store: &(impl CredentialStore + ?Sized),
    now: SystemTime,
    config: &AuthConfig,
) -> Result<Authentication, AuthError> {
    let Some(claim) = read_signature(request, now, config)? else {
        return Ok(Authentication::Anonymous);
    };
    let credential =
        store
            .credential(claim.access_key_id())
            .ok_or_else(|| AuthError::InvalidAccessKeyId {
                access_key_id: claim.access_key_id().to_owned(),
            })?;
    claim.verify(&credential).map(Authentication::Signed)
}

/// A signature found in a request, syntactically valid and within its time window, not yet checked
/// against a secret.
#[derive(Debug)]
pub struct SignatureClaim<'r> {
    request: &'r RequestView<'r>,
    params: Vec<QueryParam>,
    scheme: SignatureScheme,
    access_key_id: String,
    signature: String,
    kind: ClaimKind,
}

#[derive(Debug)]
enum ClaimKind {
    V1(v1::V1Claim),
    V4(v4::V4Claim),
}

impl SignatureClaim<'_> {
    /// The access key id the request names.
    pub fn access_key_id(&self) -> &str {
        &self.access_key_id
    }

    /// The scheme the request uses.
    pub fn scheme(&self) -> SignatureScheme {
        self.scheme
    }

    /// The SHA-256 digest of the request body that the signature covers, when there is one: only a V4
    /// Authorization-header request whose `x-oss-content-sha256` is 64 hex digits declares it
    /// (`UNSIGNED-PAYLOAD`, V1 and presigned URLs sign no body). A malformed value has already been refused
    /// by [`read_signature`]. The signature proves only that the client claimed this digest; the caller
    /// must hash the body as it streams and refuse a mismatch before committing anything
    /// ([`crate::OssError::content_sha256_mismatch`]).
    pub fn payload_sha256(&self) -> Option<[u8; 32]> {
        match &self.kind {
            ClaimKind::V4(claim) if self.scheme == SignatureScheme::V4Header => claim.payload_sha256(),
            ClaimKind::V4(_) | ClaimKind::V1(_) => None,
        }
    }

    /// Checks the signature with the key's credential (and its security token, for temporary keys).
    pub fn verify(&self, credential: &Credential) -> Result<AuthenticatedKey, AuthError> {
        let secret = credential.secret.expose().as_bytes();
        match &self.kind {
            ClaimKind::V1(claim) => {
                claim.verify(
                    self.request,
                    &self.params,
                    &self.access_key_id,
                    &self.signature,
                    secret,
                )?;
            }
            ClaimKind::V4(claim) => {
                claim.verify(
                    self.request,
                    &self.params,
                    &self.access_key_id,
                    &self.signature,
                    secret,
                )?;
            }
        }
        let presented = self.security_token();
        let token_ok = match (&credential.security_token, presented) {
            (None, None) => true,
            (Some(expected), Some(presented)) => expected.matches(presented),
            (None, Some(_)) | (Some(_), None) => false,
        };
        if !token_ok {
            return Err(AuthError::access_denied(
                "The security token you provided is invalid.",
            ));
        }
        Ok(AuthenticatedKey {
            access_key_id: self.access_key_id.clone(),
            scheme: self.scheme,
            payload_sha256: self.payload_sha256(),
        })
    }

    /// The STS token the request carries: a query parameter for presigned URLs, else `x-oss-security-token`
    /// (or `security-token`, which py-v2's V1 signer sends unsigned) as a header.
    fn security_token(&self) -> Option<&[u8]> {
        let from_query = || {
            query_value(&self.params, "x-oss-security-token")
                .or_else(|| query_value(&self.params, "security-token"))
        };
        let from_headers = || {
            let headers = self.request.headers;
            headers
                .get("x-oss-security-token")
                .or_else(|| headers.get("security-token"))
                .map(|v| trim_ows(v.as_bytes()))
        };
        match self.scheme {
            SignatureScheme::V1Presigned | SignatureScheme::V4Presigned => from_query().or_else(from_headers),
            SignatureScheme::V1Header | SignatureScheme::V4Header => from_headers(),
        }
        .filter(|token| !token.is_empty())
    }
}

/// Query parameters that carry a signature; any of them next to an Authorization header is an error.
const URL_SIGNATURE_PARAMS: &[&str] = &[
    "OSSAccessKeyId",
    "Signature",
    "x-oss-signature",
    "x-oss-credential",
    "x-oss-signature-version",
];

/// Finds the request's signature following the dispatch order of §2.1 and checks its syntax and time.
/// `Ok(None)` is an anonymous request.
pub fn read_signature<'r>(
    request: &'r RequestView<'r>,
    now: SystemTime,
    config: &AuthConfig,
) -> Result<Option<SignatureClaim<'r>>, AuthError> {
    let params = parse_query(request.raw_query);
    let now = clock::unix_seconds(now);
    let has_param = |name: &str| query_value(&params, name).is_some();

    let mut authorization = request.headers.get_all(http::header::AUTHORIZATION).iter();
    let (scheme, access_key_id, signature, kind) = if let Some(value) = authorization.next() {
        if authorization.next().is_some() {
            return Err(AuthError::malformed_authorization());
        }
        if URL_SIGNATURE_PARAMS.iter().any(|name| has_param(name)) {
            return Err(AuthError::invalid_argument(
                "Only one authentication mechanism is allowed: sign the request in the Authorization header or in the URL, not both.",
            ));
        }
        let value = std::str::from_utf8(trim_ows(value.as_bytes()))
            .map_err(|_| AuthError::malformed_authorization())?;
        if let Some(rest) = value.strip_prefix("OSS4-HMAC-SHA256 ") {
            let (ak, sig, claim) = v4::V4Claim::from_header(rest, request, now, config)?;
            (SignatureScheme::V4Header, ak, sig, ClaimKind::V4(claim))
        } else if value.starts_with("OSS2 ") {
            return Err(AuthError::invalid_argument(
                "Signature version OSS2 is not supported; use V1 or V4.",
            ));
        } else if let Some(rest) = value.strip_prefix("OSS ") {
            let (ak, sig, claim) = v1::V1Claim::from_header(rest, request.headers, now, config)?;
            (SignatureScheme::V1Header, ak, sig, ClaimKind::V1(claim))
        } else {
            return Err(AuthError::malformed_authorization());
        }
    } else if ["OSSAccessKeyId", "Expires", "Signature"]
        .iter()
        .any(|name| has_param(name))
    {
        let (ak, sig, claim) = v1::V1Claim::from_query(&params, now)?;
        (SignatureScheme::V1Presigned, ak, sig, ClaimKind::V1(claim))
    } else if query_value(&params, "x-oss-signature-version") == Some(b"OSS2") {
        return Err(AuthError::invalid_argument(
            "Signature version OSS2 is not supported; use V1 or V4.",
        ));
    } else if ["x-oss-signature-version", "x-oss-credential", "x-oss-signature"]
        .iter()
        .any(|name| has_param(name))
    {
        let (ak, sig, claim) = v4::V4Claim::from_query(&params, now, config)?;
        (SignatureScheme::V4Presigned, ak, sig, ClaimKind::V4(claim))
    } else {
        return Ok(None);
    };
    Ok(Some(SignatureClaim {
        request,
        params,
        scheme,
        access_key_id,
        signature,
        kind,
    }))
}

#[cfg(test)]
mod scope_tests;
#[cfg(test)]
mod tests;

/// The `Authorization` header value (`OSS <id>:<signature>`) of a signature V1 request whose headers already
/// carry `Date`. For Cang's own clients (the benchmark, tests); conformance with the SDKs' signers is proven
/// against the SDKs themselves.
pub fn sign_v1_authorization(request: &RequestView<'_>, access_key_id: &str, secret: &[u8]) -> String {
    format!("OSS {access_key_id}:{}", v1::sign(request, secret))
}

/// The `Authorization` header value (`OSS4-HMAC-SHA256 Credential=…`) of a signature V4 request whose
/// headers already carry `x-oss-date` (or `Date`) and, for a signed body, `x-oss-content-sha256`. The scope
/// is `<date>/<region>/<product>/aliyun_v4_request`; `product` is `oss` for requests this server accepts,
/// and anything else only to test that it refuses them. `additional_headers` are signed beside the default
/// ones. `None` when the request carries no parseable time. For Cang's own clients and tests, like
/// [`sign_v1_authorization`].
pub fn sign_v4_authorization(
    request: &RequestView<'_>,
    access_key_id: &str,
    secret: &[u8],
    region: &str,
    product: &str,
    additional_headers: &[&str],
) -> Option<String> {
    v4::sign(
        request,
        access_key_id,
        secret,
        region,
        product,
        additional_headers,
    )
}
