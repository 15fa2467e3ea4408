//! Signature V1 (§2.2, §2.3): HMAC-SHA1 over VERB, Content-MD5, Content-Type, a date line, the `x-oss-*`
//! headers and the canonical resource, in the Authorization header or as a presigned URL.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use http::HeaderMap;

use super::canonical::{
    QueryParam, header_first, header_joined, hmac_sha1, is_sub_resource, oss_header_names, query_value,
    signature_matches,
};
use super::clock::{check_skew, parse_http_date};
use super::{AuthConfig, AuthError, RequestView, SignatureMismatch};

/// What a V1 request claims, beyond the access key id and signature.
#[derive(Debug)]
pub(super) struct V1Claim {
    /// Candidate third lines of the string to sign: `Date` first, then `x-oss-date` (oss2 and py-v2 prefer
    /// it when present, §2.2.1); for a presigned URL only the `Expires` value. Every header candidate has
    /// passed the skew check, so whichever one verifies is a date the signature covers and that is fresh.
    date_lines: Vec<Vec<u8>>,
}

impl V1Claim {
    /// Parses `ak:signature` (the part after `OSS `) and checks the request date.
    ///
    /// The date line may be `Date` or `x-oss-date` (§2.2.1), and only verification tells which one the
    /// client signed. So every value that may serve as the date line must parse and lie within the skew
    /// window: a signature over an old `x-oss-date` cannot be replayed beside a fresh, unsigned `Date`.
    /// A value that does not parse as an HTTP date never serves as the date line.
    pub(super) fn from_header(
        credentials: &str,
        headers: &HeaderMap,
        now: i64,
        config: &AuthConfig,
    ) -> Result<(String, String, Self), AuthError> {
        let (access_key_id, signature) = credentials
            .trim()
            .split_once(':')
            .filter(|(ak, sig)| !ak.is_empty() && !sig.is_empty())
            .ok_or_else(AuthError::malformed_authorization)?;

        let date = header_first(headers, "date");
        let oss_date = header_first(headers, "x-oss-date").filter(|d| Some(*d) != date);
        let mut date_lines = Vec::with_capacity(2);
        for raw in [date, oss_date].into_iter().flatten() {
            if let Some(time) = parse_http_date(raw) {
                check_skew(time, raw, now, config.max_skew)?;
                date_lines.push(raw.to_vec());
            }
        }
        if date_lines.is_empty() {
            return Err(AuthError::access_denied(
                "OSS authentication requires a valid Date.",
            ));
        }
        Ok((
            access_key_id.to_owned(),
            signature.to_owned(),
            Self { date_lines },
        ))
    }

    /// Reads `OSSAccessKeyId`, `Expires` and `Signature` from the query and checks expiry first.
    pub(super) fn from_query(params: &[QueryParam], now: i64) -> Result<(String, String, Self), AuthError> {
        let (Some(access_key_id), Some(expires), Some(signature)) = (
            query_value(params, "OSSAccessKeyId"),
            query_value(params, "Expires"),
            query_value(params, "Signature"),
        ) else {
            return Err(AuthError::access_denied(
                "Query-string authentication requires the Signature, Expires and OSSAccessKeyId parameters",
            ));
        };
        let expires_at = std::str::from_utf8(expires)
            .ok()
            .filter(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|s| s.parse::<i64>().ok())
            .ok_or_else(|| AuthError::access_denied("Invalid date (should be seconds since epoch)"))?;
        if now > expires_at {
            return Err(AuthError::access_denied("Request has expired."));
        }
        let text = |bytes: &[u8]| {
            String::from_utf8(bytes.to_vec())
                .map_err(|_| AuthError::invalid_argument("Signature parameters must be UTF-8."))
        };
        Ok((
            text(access_key_id)?,
            text(signature)?,
            Self {
                date_lines: vec![expires.to_vec()],
            },
        ))
    }

    /// Recomputes the signature for every accepted variant of the string to sign (§2.2.1 date source,
    /// §2.2.3 empty sub-resource rendering, §2.2.4 bucket path without trailing slash).
    pub(super) fn verify(
        &self,
        request: &RequestView<'_>,
        params: &[QueryParam],
        access_key_id: &str,
        signature: &str,
        secret: &[u8],
    ) -> Result<(), AuthError> {
        let resources = canonical_resources(request, params);
        let mut first_attempt = None;
        for date_line in &self.date_lines {
            for resource in &resources {
                let string_to_sign = string_to_sign(request, date_line, resource);
                let expected = BASE64.encode(hmac_sha1(secret, &string_to_sign));
                if signature_matches(expected.as_bytes(), signature.as_bytes()) {
                    return Ok(());
                }
                first_attempt.get_or_insert(string_to_sign);
            }
        }
        Err(AuthError::SignatureDoesNotMatch(Box::new(SignatureMismatch {
            access_key_id: access_key_id.to_owned(),
            signature_provided: signature.to_owned(),
            string_to_sign: first_attempt.unwrap_or_default(),
            canonical_request: None,
        })))
    }
}

fn string_to_sign(request: &RequestView<'_>, date_line: &[u8], resource: &[u8]) -> Vec<u8> {
    let headers = request.headers;
    let mut out = Vec::with_capacity(256);
    out.extend_from_slice(request.method.as_str().as_bytes());
    out.push(b'\n');
    out.extend_from_slice(header_first(headers, "content-md5").unwrap_or_default());
    out.push(b'\n');
    out.extend_from_slice(header_first(headers, "content-type").unwrap_or_default());
    out.push(b'\n');
    out.extend_from_slice(date_line);
    out.push(b'\n');
    for name in oss_header_names(headers) {
        out.extend_from_slice(name.as_bytes());
        out.push(b':');
        out.extend_from_slice(&header_joined(headers, name).unwrap_or_default());
        out.push(b'\n');
    }
    out.extend_from_slice(resource);
    out
}

/// The canonical resource, then the variants that some SDKs sign instead.
fn canonical_resources(request: &RequestView<'_>, params: &[QueryParam]) -> Vec<Vec<u8>> {
    let key = request.key.filter(|k| !k.is_empty());
    let mut paths = Vec::with_capacity(2);
    match (request.bucket, key) {
        (None, _) => paths.push("/".to_owned()),
        (Some(bucket), None) => {
            paths.push(format!("/{bucket}/"));
            if request.raw_path == format!("/{bucket}") {
                paths.push(format!("/{bucket}"));
            }
        }
        (Some(bucket), Some(key)) => paths.push(format!("/{bucket}/{key}")),
    }

    let mut sub_resources: Vec<&QueryParam> = params.iter().filter(|p| is_sub_resource(&p.name)).collect();
    sub_resources.sort_by(|a, b| (&a.name, &a.value).cmp(&(&b.name, &b.value)));
    let has_empty_value = sub_resources.iter().any(|p| p.value.is_empty());
    let mut renderings = vec![render_sub_resources(&sub_resources, false)];
    if has_empty_value {
        renderings.push(render_sub_resources(&sub_resources, true));
    }

    let mut out = Vec::with_capacity(paths.len() * renderings.len());
    for path in &paths {
        for rendering in &renderings {
            let mut resource = path.as_bytes().to_vec();
            resource.extend_from_slice(rendering);
            out.push(resource);
        }
    }
    out
}

/// `?acl&partNumber=1`; with `equals_for_empty` an empty value renders as `name=` (the Java SDK).
fn render_sub_resources(sub_resources: &[&QueryParam], equals_for_empty: bool) -> Vec<u8> {
    let mut out = Vec::new();
    for (i, param) in sub_resources.iter().enumerate() {
        out.push(if i == 0 { b'?' } else { b'&' });
        out.extend_from_slice(&param.name);
        if !param.value.is_empty() || equals_for_empty {
            out.push(b'=');
            out.extend_from_slice(&param.value);
        }
    }
    out
}

/// The V1 signature of a request whose headers already carry `Date`: the client side of [`V1Claim::verify`],
/// signing the primary canonical resource.
pub(super) fn sign(request: &RequestView<'_>, secret: &[u8]) -> String {
    let params = super::canonical::parse_query(request.raw_query);
    let resources = canonical_resources(request, &params);
    let resource = resources.first().map(Vec::as_slice).unwrap_or_default();
    let date = header_first(request.headers, "date").unwrap_or_default();
    BASE64.encode(hmac_sha1(secret, &string_to_sign(request, date, resource)))
}
