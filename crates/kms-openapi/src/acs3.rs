//! The ACS3-HMAC-SHA256 signature (V3, the default of the current SDKs): the canonical request is
//! rebuilt from the headers the client lists in `SignedHeaders`, so clients that sign every header
//! (Python) and clients that sign only `host`, `content-type` and `x-acs-*` (Go) both verify. The
//! payload hash the client claims must be the hash of the body received.

use hmac::{KeyInit, Mac};
use http::HeaderMap;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::OpenApiError;
use crate::params::{Pairs, percent_encode};

/// The algorithm name that opens the `Authorization` header.
pub const ALGORITHM: &str = "ACS3-HMAC-SHA256";

/// Headers that must be signed whenever they are sent (beside every `x-acs-*` header), so that no
/// request can be replayed with another action, time, nonce or body.
const MUST_SIGN: [&str; 2] = ["host", "content-type"];

/// `x-acs-*` headers every ACS3 request must carry.
pub const REQUIRED_ACS_HEADERS: [&str; 5] = [
    "x-acs-action",
    "x-acs-version",
    "x-acs-date",
    "x-acs-signature-nonce",
    "x-acs-content-sha256",
];

/// The parts of an `Authorization: ACS3-HMAC-SHA256 …` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authorization {
    /// The access key id (`Credential=`).
    pub access_key_id: String,
    /// The lower-case header names the client signed, in its order (`SignedHeaders=`).
    pub signed_headers: Vec<String>,
    /// The signature (`Signature=`, hex).
    pub signature: Vec<u8>,
}

/// Parses the `Authorization` header value.
pub fn parse_authorization(value: &str) -> Result<Authorization, OpenApiError> {
    let rest = value
        .strip_prefix(ALGORITHM)
        .and_then(|r| r.strip_prefix(' '))
        .ok_or(OpenApiError::IncompleteSignature(
            "The Authorization header must start with ACS3-HMAC-SHA256.",
        ))?;
    let (mut credential, mut signed, mut signature) = (None, None, None);
    for part in rest.split(',') {
        let (name, v) = part
            .trim()
            .split_once('=')
            .ok_or(OpenApiError::IncompleteSignature(
                "The Authorization header is malformed.",
            ))?;
        let slot = match name {
            "Credential" => &mut credential,
            "SignedHeaders" => &mut signed,
            "Signature" => &mut signature,
            _ => {
                return Err(OpenApiError::IncompleteSignature(
                    "The Authorization header has an unknown field.",
                ));
            }
        };
        if slot.replace(v).is_some() {
            return Err(OpenApiError::IncompleteSignature(
                "The Authorization header repeats a field.",
            ));
        }
    }
    let missing = OpenApiError::IncompleteSignature(
        "The Authorization header needs Credential, SignedHeaders and Signature.",
    );
    let (Some(credential), Some(signed), Some(signature)) = (credential, signed, signature) else {
        return Err(missing);
    };
    if credential.is_empty() || signed.is_empty() {
        return Err(missing);
    }
    let signature =
        hex::decode(signature)
            .ok()
            .filter(|s| s.len() == 32)
            .ok_or(OpenApiError::IncompleteSignature(
                "The signature must be 64 hex digits.",
            ))?;
    let mut signed_headers = Vec::new();
    for name in signed.split(';') {
        if name.is_empty()
            || name
                .bytes()
                .any(|b| !(b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'))
        {
            return Err(OpenApiError::IncompleteSignature(
                "SignedHeaders must list lower-case header names.",
            ));
        }
        if signed_headers.iter().any(|n| n == name) {
            return Err(OpenApiError::IncompleteSignature(
                "SignedHeaders repeats a header.",
            ));
        }
        signed_headers.push(name.to_owned());
    }
    Ok(Authorization {
        access_key_id: credential.to_owned(),
        signed_headers,
        signature,
    })
}

/// What an ACS3 signature covers.
#[derive(Debug, Clone, Copy)]
pub struct SignedRequest<'a> {
    /// `GET` or `POST`.
    pub method: &'a str,
    /// The request path (always `/` for this API).
    pub path: &'a str,
    /// The decoded query string.
    pub query: &'a Pairs,
    /// Every header received.
    pub headers: &'a HeaderMap,
}

/// The value the canonical request uses for `name`: every value, trimmed, sorted, joined by `,`.
fn canonical_value(headers: &HeaderMap, name: &str) -> Result<Option<String>, OpenApiError> {
    let mut values = Vec::new();
    for v in headers.get_all(name) {
        let text = std::str::from_utf8(v.as_bytes())
            .map_err(|_| OpenApiError::IncompleteSignature("A signed header is not valid UTF-8."))?;
        values.push(text.trim().to_owned());
    }
    if values.is_empty() {
        return Ok(None);
    }
    values.sort();
    Ok(Some(values.join(",")))
}

/// Checks that the client signed what must be signed, before any signature is computed.
pub fn check_coverage(req: &SignedRequest<'_>, auth: &Authorization) -> Result<(), OpenApiError> {
    let signed = |name: &str| auth.signed_headers.iter().any(|n| n == name);
    for name in REQUIRED_ACS_HEADERS {
        if !req.headers.contains_key(name) {
            return Err(OpenApiError::IncompleteSignature(
                "An x-acs- header that ACS3 requires is missing.",
            ));
        }
    }
    let present = req.headers.keys().map(http::HeaderName::as_str);
    for name in present {
        let must = name.starts_with("x-acs-") || MUST_SIGN.contains(&name);
        if must && !signed(name) {
            return Err(OpenApiError::IncompleteSignature(
                "SignedHeaders must include host, content-type and every x-acs- header.",
            ));
        }
    }
    if !req.headers.contains_key(http::header::HOST) {
        return Err(OpenApiError::IncompleteSignature("The Host header is missing."));
    }
    Ok(())
}

/// The canonical request: method, path, canonical query, canonical headers, signed header list and
/// the payload hash, each on its own line.
pub fn canonical_request(
    req: &SignedRequest<'_>,
    signed_headers: &[String],
    hashed_payload: &str,
) -> Result<String, OpenApiError> {
    let mut query: Vec<(String, String)> = req
        .query
        .0
        .iter()
        .map(|(k, v)| (percent_encode(k), percent_encode(v)))
        .collect();
    query.sort();
    let query: Vec<String> = query.into_iter().map(|(k, v)| format!("{k}={v}")).collect();
    let mut headers = String::new();
    for name in signed_headers {
        let value = canonical_value(req.headers, name)?.ok_or(OpenApiError::IncompleteSignature(
            "SignedHeaders lists a header the request lacks.",
        ))?;
        headers.push_str(name);
        headers.push(':');
        headers.push_str(&value);
        headers.push('\n');
    }
    Ok(format!(
        "{}\n{}\n{}\n{}\n{}\n{}",
        req.method,
        req.path,
        query.join("&"),
        headers,
        signed_headers.join(";"),
        hashed_payload
    ))
}

/// `ACS3-HMAC-SHA256 \n hex(sha256(canonical request))`.
pub fn string_to_sign(canonical_request: &str) -> String {
    format!(
        "{ALGORITHM}\n{}",
        hex::encode(Sha256::digest(canonical_request.as_bytes()))
    )
}

/// HMAC-SHA256 of the string to sign under the secret.
pub fn sign(secret: &[u8], string_to_sign: &str) -> Result<[u8; 32], OpenApiError> {
    let mut mac =
        <hmac::Hmac<Sha256> as KeyInit>::new_from_slice(secret).map_err(|_| OpenApiError::Internal)?;
    mac.update(string_to_sign.as_bytes());
    Ok(mac.finalize().into_bytes().into())
}

/// Verifies an ACS3 request: coverage, payload hash against `body`, then the signature.
pub fn verify(
    req: &SignedRequest<'_>,
    auth: &Authorization,
    body: &[u8],
    secret: &[u8],
) -> Result<(), OpenApiError> {
    check_coverage(req, auth)?;
    let claimed = canonical_value(req.headers, "x-acs-content-sha256")?.unwrap_or_default();
    let actual = hex::encode(Sha256::digest(body));
    if !bool::from(claimed.to_ascii_lowercase().as_bytes().ct_eq(actual.as_bytes())) {
        return Err(OpenApiError::ContentSha256Mismatch);
    }
    let canonical = canonical_request(req, &auth.signed_headers, &claimed)?;
    let expected = sign(secret, &string_to_sign(&canonical))?;
    if bool::from(expected.as_slice().ct_eq(&auth.signature)) {
        Ok(())
    } else {
        Err(OpenApiError::SignatureDoesNotMatch)
    }
}

#[cfg(test)]
#[path = "acs3_tests.rs"]
mod tests;
