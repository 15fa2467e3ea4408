//! AWS Signature Version 4 as S3 checks it: the `Authorization: AWS4-HMAC-SHA256 …` header or the presigned
//! `X-Amz-*` query, the canonical request (path re-encoded per segment, sorted query, the signed headers, the
//! payload line), the date-scoped signing key, and the seed signature chunked payloads chain from.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hmac::{KeyInit, Mac};
use http::{HeaderMap, Method};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::SigError;

/// The algorithm of header and query signatures.
pub const ALGORITHM: &str = "AWS4-HMAC-SHA256";
/// The payload line of an unsigned body.
pub const UNSIGNED_PAYLOAD: &str = "UNSIGNED-PAYLOAD";
/// A chunked body whose every chunk is signed.
pub const STREAMING_PAYLOAD: &str = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD";
/// A chunked body whose chunks and trailer are signed.
pub const STREAMING_PAYLOAD_TRAILER: &str = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER";
/// A chunked body with an unsigned trailer (current AWS SDKs' default for checksums).
pub const STREAMING_UNSIGNED_TRAILER: &str = "STREAMING-UNSIGNED-PAYLOAD-TRAILER";
/// How far a signed time may be from the clock.
pub const MAX_SKEW: Duration = Duration::from_secs(15 * 60);
/// The longest validity of a presigned URL (seven days).
pub const MAX_EXPIRES: u64 = 604_800;

/// RFC 3986 unreserved characters stay; everything else is percent-encoded.
const STRICT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// What the body of a signed request is, as its payload line says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Payload {
    /// The hex SHA-256 of the whole body, to be checked as it streams.
    Sha256([u8; 32]),
    /// Not signed.
    Unsigned,
    /// `aws-chunked`, each chunk signed (and the trailer, with `trailer`).
    SignedChunks {
        /// Whether a signed trailer follows the last chunk.
        trailer: bool,
    },
    /// `aws-chunked` with an unsigned trailer.
    UnsignedChunks,
}

/// The request as a signature sees it.
#[derive(Debug, Clone, Copy)]
pub struct SignedRequest<'a> {
    /// Method.
    pub method: &'a Method,
    /// The path as received, percent-encoded.
    pub raw_path: &'a str,
    /// The query as received, without `?`.
    pub raw_query: &'a str,
    /// Every header.
    pub headers: &'a HeaderMap,
}

/// `<date>/<region>/<service>/aws4_request`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope {
    /// `yyyymmdd`.
    pub date: String,
    /// Region.
    pub region: String,
    /// Service (`s3`).
    pub service: String,
}

impl Scope {
    fn parse(text: &str) -> Result<Self, SigError> {
        let mut parts = text.split('/');
        let (Some(date), Some(region), Some(service), Some("aws4_request"), None) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return Err(SigError::Malformed(
                "the credential scope is not date/region/service/aws4_request",
            ));
        };
        if date.len() != 8 || !date.bytes().all(|b| b.is_ascii_digit()) || region.is_empty() {
            return Err(SigError::Malformed(
                "the credential scope's date or region is malformed",
            ));
        }
        Ok(Self {
            date: date.to_owned(),
            region: region.to_owned(),
            service: service.to_owned(),
        })
    }

    /// The scope line of a string to sign.
    pub fn line(&self) -> String {
        format!("{}/{}/{}/aws4_request", self.date, self.region, self.service)
    }
}

/// What a request claims: who signed it, when, over what, with which signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    /// The access key id.
    pub access_key_id: String,
    /// The credential scope.
    pub scope: Scope,
    /// `X-Amz-Date` / `x-amz-date`, `yyyymmddThhmmssZ`.
    pub amz_date: String,
    /// Lower-case names of the signed headers, in the order given.
    pub signed_headers: Vec<String>,
    /// The signature.
    pub signature: [u8; 32],
    /// The body's payload line.
    pub payload: Payload,
    /// Seconds a presigned URL is valid; `None` for the header form.
    pub expires: Option<u64>,
}

fn header<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

fn query_pairs(raw: &str) -> Vec<(String, String)> {
    raw.split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            let decode = |s: &str| {
                percent_decode_str(&s.replace('+', "%20"))
                    .decode_utf8_lossy()
                    .into_owned()
            };
            (decode(name), decode(value))
        })
        .collect()
}

fn hex32(text: &str) -> Option<[u8; 32]> {
    let mut out = [0u8; 32];
    (text.len() == 64 && hex::decode_to_slice(text, &mut out).is_ok()).then_some(out)
}

fn payload_of(line: &str) -> Result<Payload, SigError> {
    Ok(match line {
        UNSIGNED_PAYLOAD => Payload::Unsigned,
        STREAMING_PAYLOAD => Payload::SignedChunks { trailer: false },
        STREAMING_PAYLOAD_TRAILER => Payload::SignedChunks { trailer: true },
        STREAMING_UNSIGNED_TRAILER => Payload::UnsignedChunks,
        hex => Payload::Sha256(hex32(hex).ok_or(SigError::Malformed("x-amz-content-sha256 is not valid"))?),
    })
}

/// The SigV4 claim of a request: its `Authorization` header, or its presigned query; `None` when it carries
/// neither (an anonymous request). A request carrying both is refused.
pub fn read_claim(request: &SignedRequest<'_>) -> Result<Option<Claim>, SigError> {
    let query = query_pairs(request.raw_query);
    let in_query = |name: &str| query.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str());
    let header_auth = header(request.headers, "authorization");
    match (header_auth, in_query("X-Amz-Algorithm")) {
        (None, None) => Ok(None),
        (Some(_), Some(_)) => Err(SigError::Malformed(
            "a request is signed in its header or its query, not both",
        )),
        (Some(auth), None) => from_header(auth, request.headers).map(Some),
        (None, Some(algorithm)) => {
            if algorithm != ALGORITHM {
                return Err(SigError::Malformed("X-Amz-Algorithm must be AWS4-HMAC-SHA256"));
            }
            let need = |name: &'static str| in_query(name).ok_or(SigError::Missing(name));
            let (access_key_id, scope) = credential(need("X-Amz-Credential")?)?;
            let expires: u64 = need("X-Amz-Expires")?
                .parse()
                .map_err(|_| SigError::Malformed("X-Amz-Expires is not a number"))?;
            if expires == 0 || expires > MAX_EXPIRES {
                return Err(SigError::Malformed("X-Amz-Expires must be 1 to 604800 seconds"));
            }
            Ok(Some(Claim {
                access_key_id,
                scope,
                amz_date: need("X-Amz-Date")?.to_owned(),
                signed_headers: signed_headers(need("X-Amz-SignedHeaders")?)?,
                signature: hex32(need("X-Amz-Signature")?)
                    .ok_or(SigError::Malformed("X-Amz-Signature is not 64 hex digits"))?,
                payload: Payload::Unsigned,
                expires: Some(expires),
            }))
        }
    }
}

fn credential(text: &str) -> Result<(String, Scope), SigError> {
    let (id, scope) = text
        .split_once('/')
        .ok_or(SigError::Malformed("the credential is not key/scope"))?;
    if id.is_empty() {
        return Err(SigError::Malformed("the credential names no access key"));
    }
    Ok((id.to_owned(), Scope::parse(scope)?))
}

fn signed_headers(text: &str) -> Result<Vec<String>, SigError> {
    let names: Vec<String> = text.split(';').map(str::to_ascii_lowercase).collect();
    if names.iter().any(String::is_empty) || !names.iter().any(|n| n == "host") {
        return Err(SigError::Malformed("SignedHeaders must name host"));
    }
    Ok(names)
}

fn from_header(auth: &str, headers: &HeaderMap) -> Result<Claim, SigError> {
    let fields = auth
        .strip_prefix(ALGORITHM)
        .and_then(|rest| rest.strip_prefix(' '))
        .ok_or(SigError::Malformed(
            "the Authorization header is not AWS4-HMAC-SHA256",
        ))?;
    let (mut cred, mut names, mut signature) = (None, None, None);
    for field in fields.split(',').map(str::trim).filter(|f| !f.is_empty()) {
        let (name, value) = field
            .split_once('=')
            .ok_or(SigError::Malformed("an Authorization field has no value"))?;
        let slot = match name {
            "Credential" => &mut cred,
            "SignedHeaders" => &mut names,
            "Signature" => &mut signature,
            _ => {
                return Err(SigError::Malformed(
                    "the Authorization header has an unknown field",
                ));
            }
        };
        if slot.replace(value).is_some() {
            return Err(SigError::Malformed("an Authorization field appears twice"));
        }
    }
    let (access_key_id, scope) = credential(cred.ok_or(SigError::Missing("Credential"))?)?;
    let amz_date = header(headers, "x-amz-date").ok_or(SigError::Missing("x-amz-date"))?;
    let payload = payload_of(
        header(headers, "x-amz-content-sha256").ok_or(SigError::Missing("x-amz-content-sha256"))?,
    )?;
    Ok(Claim {
        access_key_id,
        scope,
        amz_date: amz_date.to_owned(),
        signed_headers: signed_headers(names.ok_or(SigError::Missing("SignedHeaders"))?)?,
        signature: hex32(signature.ok_or(SigError::Missing("Signature"))?)
            .ok_or(SigError::Malformed("the signature is not 64 hex digits"))?,
        payload,
        expires: None,
    })
}

/// The path re-encoded segment by segment (RFC 3986, `/` kept), as S3 canonicalises it.
fn canonical_uri(raw_path: &str) -> String {
    let path = if raw_path.is_empty() { "/" } else { raw_path };
    path.split('/')
        .map(|segment| {
            let decoded = percent_decode_str(segment).collect::<Vec<u8>>();
            percent_encoding::percent_encode(&decoded, STRICT).to_string()
        })
        .collect::<Vec<_>>()
        .join("/")
}

fn canonical_query(raw_query: &str, presigned: bool) -> String {
    let mut pairs: Vec<(String, String)> = query_pairs(raw_query)
        .into_iter()
        .filter(|(name, _)| !(presigned && name == "X-Amz-Signature"))
        .map(|(n, v)| {
            (
                utf8_percent_encode(&n, STRICT).to_string(),
                utf8_percent_encode(&v, STRICT).to_string(),
            )
        })
        .collect();
    pairs.sort();
    pairs
        .iter()
        .map(|(n, v)| format!("{n}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

fn header_value(headers: &HeaderMap, name: &str) -> Option<String> {
    let values: Vec<String> = headers
        .get_all(name)
        .iter()
        .map(|v| {
            String::from_utf8_lossy(v.as_bytes())
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect();
    (!values.is_empty()).then(|| values.join(","))
}

/// The canonical request of `request` under `claim`.
pub fn canonical_request(request: &SignedRequest<'_>, claim: &Claim) -> Result<String, SigError> {
    let mut headers = String::new();
    for name in &claim.signed_headers {
        let value = header_value(request.headers, name).ok_or(SigError::Missing("a signed header"))?;
        headers.push_str(name);
        headers.push(':');
        headers.push_str(&value);
        headers.push('\n');
    }
    let payload_line = match (&claim.expires, header(request.headers, "x-amz-content-sha256")) {
        (Some(_), _) => UNSIGNED_PAYLOAD.to_owned(),
        (None, Some(line)) => line.to_owned(),
        (None, None) => return Err(SigError::Missing("x-amz-content-sha256")),
    };
    Ok(format!(
        "{}\n{}\n{}\n{}\n{}\n{}",
        request.method.as_str(),
        canonical_uri(request.raw_path),
        canonical_query(request.raw_query, claim.expires.is_some()),
        headers,
        claim.signed_headers.join(";"),
        payload_line,
    ))
}

/// `AWS4-HMAC-SHA256 \n date \n scope \n hex(SHA-256(canonical request))`.
pub fn string_to_sign(amz_date: &str, scope: &Scope, canonical_request: &str) -> String {
    format!(
        "{ALGORITHM}\n{amz_date}\n{}\n{}",
        scope.line(),
        hex::encode(Sha256::digest(canonical_request.as_bytes()))
    )
}

#[allow(clippy::expect_used)]
pub(crate) fn hmac(key: &[u8], data: &[u8]) -> [u8; 32] {
    let mut mac = <hmac::Hmac<Sha256> as KeyInit>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(data);
    mac.finalize().into_bytes().into()
}

/// The signing key of `secret` for `scope`.
pub fn signing_key(secret: &[u8], scope: &Scope) -> Zeroizing<[u8; 32]> {
    let mut first = Zeroizing::new(b"AWS4".to_vec());
    first.extend_from_slice(secret);
    let date = Zeroizing::new(hmac(&first, scope.date.as_bytes()));
    let region = Zeroizing::new(hmac(date.as_ref(), scope.region.as_bytes()));
    let service = Zeroizing::new(hmac(region.as_ref(), scope.service.as_bytes()));
    Zeroizing::new(hmac(service.as_ref(), b"aws4_request"))
}

/// `yyyymmddThhmmssZ` as Unix seconds.
fn parse_amz_date(text: &str) -> Option<u64> {
    let format = time::macros::format_description!("[year][month][day]T[hour][minute][second]Z");
    let t = time::PrimitiveDateTime::parse(text, &format).ok()?.assume_utc();
    u64::try_from(t.unix_timestamp()).ok()
}

/// What a verified signature hands on: the signing key and seed signature chunked bodies chain from.
#[derive(Debug)]
pub struct Verified {
    /// The signing key.
    pub key: Zeroizing<[u8; 32]>,
    /// The request's own signature (the seed of a chunk chain).
    pub seed: [u8; 32],
}

impl Claim {
    /// Checks the signature with `secret`, the signed time against `now` (skew, or a presigned URL's
    /// expiry) and the scope's service and date; `region`, when given, must be the scope's.
    pub fn verify(
        &self,
        request: &SignedRequest<'_>,
        secret: &[u8],
        now: SystemTime,
        region: Option<&str>,
    ) -> Result<Verified, SigError> {
        if self.scope.service != "s3" {
            return Err(SigError::Malformed("the credential scope's service must be s3"));
        }
        if region.is_some_and(|r| r != self.scope.region) {
            return Err(SigError::WrongRegion(self.scope.region.clone()));
        }
        if !self.amz_date.starts_with(&self.scope.date) {
            return Err(SigError::Malformed(
                "the credential scope's date is not the request's",
            ));
        }
        let signed_at =
            parse_amz_date(&self.amz_date).ok_or(SigError::Malformed("X-Amz-Date is malformed"))?;
        let now = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        match self.expires {
            Some(expires) => {
                if now > signed_at.saturating_add(expires) {
                    return Err(SigError::Expired);
                }
                if signed_at > now + MAX_SKEW.as_secs() {
                    return Err(SigError::Skewed);
                }
            }
            None => {
                if signed_at.abs_diff(now) > MAX_SKEW.as_secs() {
                    return Err(SigError::Skewed);
                }
            }
        }
        let canonical = canonical_request(request, self)?;
        let key = signing_key(secret, &self.scope);
        let expected = hmac(
            key.as_ref(),
            string_to_sign(&self.amz_date, &self.scope, &canonical).as_bytes(),
        );
        if !bool::from(expected.ct_eq(&self.signature)) {
            return Err(SigError::Mismatch);
        }
        Ok(Verified { key, seed: expected })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn the_canonical_path_keeps_unreserved_bytes_and_slashes(
            segments in proptest::collection::vec("[A-Za-z0-9._~-]{0,12}", 1..5),
        ) {
            let path = format!("/{}", segments.join("/"));
            prop_assert_eq!(canonical_uri(&path), path);
        }

        #[test]
        fn the_canonical_path_encodes_everything_else_once(segment in ".{0,20}") {
            let encoded = percent_encoding::utf8_percent_encode(&segment, STRICT).to_string();
            let path = format!("/{encoded}");
            prop_assert_eq!(canonical_uri(&path), path);
        }
    }
}
