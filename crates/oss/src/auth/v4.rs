//! Signature V4 (§2.5, §2.6): HMAC-SHA256 over a canonical request built from the logical bucket and key,
//! every query parameter, the default-signed and additional headers, with a date-scoped signing key.

use std::collections::BTreeSet;

use zeroize::Zeroizing;

use super::canonical::{
    QueryParam, header_first, header_joined, hmac_sha256, oss_header_names, query_value, rfc3986_encode,
    sha256_hex, signature_matches,
};
use super::clock::{check_skew, day_start, parse_http_date, parse_iso8601_basic, parse_scope_date};
use super::{AuthConfig, AuthError, RequestView, SignatureMismatch};

const ALGORITHM: &str = "OSS4-HMAC-SHA256";
const TERMINATOR: &str = "aliyun_v4_request";
/// The only signing product this server accepts in a V4 scope.
const PRODUCT: &str = "oss";
const UNSIGNED_PAYLOAD: &[u8] = b"UNSIGNED-PAYLOAD";
/// The longest validity any SDK lets a presigned URL have (seven days).
const MAX_PRESIGN_EXPIRES: i64 = 604_800;

/// What a V4 request claims, beyond the access key id and signature.
#[derive(Debug)]
pub(super) struct V4Claim {
    /// `yyyymmdd/region/product/aliyun_v4_request`, exactly as sent.
    scope: String,
    scope_date: String,
    region: String,
    product: String,
    /// The timestamp line of the string to sign, exactly as sent.
    timestamp: Vec<u8>,
    /// Lower-cased, sorted, de-duplicated names from AdditionalHeaders.
    additional_headers: Vec<String>,
    presigned: bool,
    /// The body digest the header form signs in `x-oss-content-sha256`; `None` for `UNSIGNED-PAYLOAD`
    /// (or no header) and for presigned URLs, whose payload line is always `UNSIGNED-PAYLOAD`.
    payload_sha256: Option<[u8; 32]>,
}

impl V4Claim {
    /// Parses the part of the Authorization header after `OSS4-HMAC-SHA256 ` and checks the request time.
    pub(super) fn from_header(
        fields: &str,
        request: &RequestView<'_>,
        now: i64,
        config: &AuthConfig,
    ) -> Result<(String, String, Self), AuthError> {
        let (mut credential, mut additional, mut signature) = (None, None, None);
        for field in fields.split(',').map(str::trim).filter(|f| !f.is_empty()) {
            let (name, value) = field
                .split_once('=')
                .ok_or_else(AuthError::malformed_authorization)?;
            let slot = match name.trim() {
                "Credential" => &mut credential,
                "AdditionalHeaders" => &mut additional,
                "Signature" => &mut signature,
                _ => return Err(AuthError::malformed_authorization()),
            };
            if slot.replace(value.trim()).is_some() {
                return Err(AuthError::malformed_authorization());
            }
        }
        let (Some(credential), Some(signature)) = (credential, signature.filter(|s| !s.is_empty())) else {
            return Err(AuthError::malformed_authorization());
        };
        let (access_key_id, scope) = parse_credential(credential)?;
        let additional_headers = parse_additional_headers(additional.unwrap_or_default())?;

        let headers = request.headers;
        let timestamp = header_first(headers, "x-oss-date")
            .or_else(|| header_first(headers, "date"))
            .ok_or_else(|| AuthError::access_denied("OSS authentication requires a valid Date."))?;
        let time = parse_iso8601_basic(timestamp)
            .or_else(|| parse_http_date(timestamp))
            .ok_or_else(|| AuthError::access_denied("OSS authentication requires a valid Date."))?;
        check_skew(time, timestamp, now, config.max_skew)?;
        let payload_sha256 = declared_payload_sha256(headers)?;

        let mut claim = Self::new(scope, timestamp.to_vec(), time, additional_headers, false, config)?;
        claim.payload_sha256 = payload_sha256;
        Ok((access_key_id, signature.to_owned(), claim))
    }

    /// Reads the `x-oss-*` presign parameters (§2.6) and checks expiry.
    pub(super) fn from_query(
        params: &[QueryParam],
        now: i64,
        config: &AuthConfig,
    ) -> Result<(String, String, Self), AuthError> {
        let text = |name: &str| query_value(params, name).and_then(|v| std::str::from_utf8(v).ok());
        let (Some(ALGORITHM), Some(credential), Some(date), Some(expires), Some(signature)) = (
            text("x-oss-signature-version"),
            text("x-oss-credential"),
            text("x-oss-date"),
            text("x-oss-expires"),
            text("x-oss-signature").filter(|s| !s.is_empty()),
        ) else {
            return Err(AuthError::access_denied(
                "Query-string authentication requires the x-oss-signature-version, x-oss-credential, x-oss-date, x-oss-expires and x-oss-signature parameters",
            ));
        };
        let (access_key_id, scope) = parse_credential(credential)?;
        let additional_headers =
            parse_additional_headers(text("x-oss-additional-headers").unwrap_or_default())?;
        let signed_at = parse_iso8601_basic(date.as_bytes())
            .ok_or_else(|| AuthError::access_denied("Invalid x-oss-date (should be yyyymmddThhmmssZ)."))?;
        let expires = Some(expires)
            .filter(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|s| s.parse::<i64>().ok())
            .ok_or_else(|| {
                AuthError::access_denied("Invalid x-oss-expires (should be a number of seconds).")
            })?;
        if expires > MAX_PRESIGN_EXPIRES {
            return Err(AuthError::invalid_argument(
                "x-oss-expires must not be greater than 604800 (seven days).",
            ));
        }
        if now > signed_at.saturating_add(expires) {
            return Err(AuthError::access_denied("Request has expired."));
        }
        // Only a signing time in the future is suspicious; an old one is what expiry is for.
        if signed_at > now {
            check_skew(signed_at, date.as_bytes(), now, config.max_skew)?;
        }
        let claim = Self::new(
            scope,
            date.as_bytes().to_vec(),
            signed_at,
            additional_headers,
            true,
            config,
        )?;
        Ok((access_key_id, signature.to_owned(), claim))
    }

    fn new(
        scope: Scope<'_>,
        timestamp: Vec<u8>,
        signed_at: i64,
        additional_headers: Vec<String>,
        presigned: bool,
        config: &AuthConfig,
    ) -> Result<Self, AuthError> {
        // The signing key is bound to the scope date; it must be the day the request was signed on, or a
        // key derived for one day could sign requests on any other.
        if parse_scope_date(scope.date) != Some(day_start(signed_at)) {
            return Err(AuthError::invalid_argument(
                "Invalid signing date in the credential scope.",
            ));
        }
        // The product is part of the signing key, so another service's scope (`ecs`, `oss-cloudbox`) would
        // verify just as well; OSS refuses it (EC 0002-00000227, the Java SDK's ErrorTest).
        if scope.product != PRODUCT {
            return Err(AuthError::InvalidArgument {
                message: "Invalid signing product in Authorization header.",
                ec: Some("0002-00000227"),
            });
        }
        if config
            .region
            .as_deref()
            .is_some_and(|region| region != scope.region)
        {
            return Err(AuthError::InvalidArgument {
                message: "Invalid signing region in Authorization header.",
                ec: Some("0002-00000226"),
            });
        }
        Ok(Self {
            scope: scope.full.to_owned(),
            scope_date: scope.date.to_owned(),
            region: scope.region.to_owned(),
            product: scope.product.to_owned(),
            timestamp,
            additional_headers,
            presigned,
            payload_sha256: None,
        })
    }

    /// The SHA-256 of the body that the signature covers, when the client declared one.
    pub(super) fn payload_sha256(&self) -> Option<[u8; 32]> {
        self.payload_sha256
    }

    pub(super) fn verify(
        &self,
        request: &RequestView<'_>,
        params: &[QueryParam],
        access_key_id: &str,
        signature: &str,
        secret: &[u8],
    ) -> Result<(), AuthError> {
        let (expected, string_to_sign, canonical_request) = self.expected_signature(request, params, secret);
        if signature_matches(expected.as_bytes(), signature.as_bytes()) {
            return Ok(());
        }
        Err(AuthError::SignatureDoesNotMatch(Box::new(SignatureMismatch {
            access_key_id: access_key_id.to_owned(),
            signature_provided: signature.to_owned(),
            string_to_sign,
            canonical_request: Some(canonical_request),
        })))
    }

    /// The signature this claim's scope and the request produce under `secret`, with the string to sign
    /// and the canonical request it was computed over.
    fn expected_signature(
        &self,
        request: &RequestView<'_>,
        params: &[QueryParam],
        secret: &[u8],
    ) -> (String, Vec<u8>, Vec<u8>) {
        let canonical_request = self.canonical_request(request, params);
        let mut string_to_sign = format!("{ALGORITHM}\n").into_bytes();
        string_to_sign.extend_from_slice(&self.timestamp);
        string_to_sign.push(b'\n');
        string_to_sign.extend_from_slice(self.scope.as_bytes());
        string_to_sign.push(b'\n');
        string_to_sign.extend_from_slice(sha256_hex(&canonical_request).as_bytes());

        let root = Zeroizing::new([b"aliyun_v4".as_slice(), secret].concat());
        let mut key = Zeroizing::new(hmac_sha256(&root, self.scope_date.as_bytes()));
        *key = hmac_sha256(&*key, self.region.as_bytes());
        *key = hmac_sha256(&*key, self.product.as_bytes());
        *key = hmac_sha256(&*key, TERMINATOR.as_bytes());
        let expected = hex::encode(hmac_sha256(&*key, &string_to_sign));
        (expected, string_to_sign, canonical_request)
    }

    fn canonical_request(&self, request: &RequestView<'_>, params: &[QueryParam]) -> Vec<u8> {
        let mut out = Vec::with_capacity(512);
        out.extend_from_slice(request.method.as_str().as_bytes());
        out.push(b'\n');

        // The URI is the logical /bucket/key, whatever addressing style carried it.
        out.push(b'/');
        if let Some(bucket) = request.bucket {
            rfc3986_encode(bucket.as_bytes(), true, &mut out);
            out.push(b'/');
            rfc3986_encode(request.key.unwrap_or_default().as_bytes(), true, &mut out);
        }
        out.push(b'\n');

        let mut query: Vec<(Vec<u8>, Vec<u8>)> = params
            .iter()
            .filter(|p| !(self.presigned && p.name == b"x-oss-signature"))
            .map(|p| {
                let (mut name, mut value) = (Vec::new(), Vec::new());
                rfc3986_encode(&p.name, false, &mut name);
                rfc3986_encode(&p.value, false, &mut value);
                (name, value)
            })
            .collect();
        query.sort();
        for (i, (name, value)) in query.iter().enumerate() {
            if i > 0 {
                out.push(b'&');
            }
            out.extend_from_slice(name);
            if !value.is_empty() {
                out.push(b'=');
                out.extend_from_slice(value);
            }
        }
        out.push(b'\n');

        let headers = request.headers;
        let mut signed: BTreeSet<&str> = oss_header_names(headers).into_iter().collect();
        for name in ["content-type", "content-md5"]
            .into_iter()
            .chain(self.additional_headers.iter().map(String::as_str))
        {
            if headers.contains_key(name) {
                signed.insert(name);
            }
        }
        for name in signed {
            out.extend_from_slice(name.as_bytes());
            out.push(b':');
            out.extend_from_slice(&header_joined(headers, name).unwrap_or_default());
            out.push(b'\n');
        }
        out.push(b'\n');

        out.extend_from_slice(self.additional_headers.join(";").as_bytes());
        out.push(b'\n');
        let payload = if self.presigned {
            None
        } else {
            header_first(headers, "x-oss-content-sha256")
        };
        out.extend_from_slice(payload.unwrap_or(UNSIGNED_PAYLOAD));
        out
    }
}

/// Reads `x-oss-content-sha256` for the header form: absent or `UNSIGNED-PAYLOAD` → `None`; 64 hex digits →
/// the digest, which the caller must compare with the body it receives. Anything else (another keyword,
/// a truncated digest, the header twice) is refused before the key is looked up: verification would sign
/// the raw value, so accepting it would let a client claim a hash that nobody checks. OSS documents this
/// refusal as EC 0002-00000214 ("The value of the x-oss-content-sha256 header is invalid").
fn declared_payload_sha256(headers: &http::HeaderMap) -> Result<Option<[u8; 32]>, AuthError> {
    let invalid = || AuthError::InvalidArgument {
        message: "The value of the x-oss-content-sha256 header is invalid.",
        ec: Some("0002-00000214"),
    };
    let mut values = headers.get_all("x-oss-content-sha256").iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(invalid());
    }
    let value = super::canonical::trim_ows(value.as_bytes());
    if value == UNSIGNED_PAYLOAD {
        return Ok(None);
    }
    let mut digest = [0u8; 32];
    if value.len() != 64 || hex::decode_to_slice(value, &mut digest).is_err() {
        return Err(invalid());
    }
    Ok(Some(digest))
}

struct Scope<'a> {
    full: &'a str,
    date: &'a str,
    region: &'a str,
    product: &'a str,
}

/// `ak/yyyymmdd/region/product/aliyun_v4_request` → access key id and scope.
fn parse_credential(credential: &str) -> Result<(String, Scope<'_>), AuthError> {
    let invalid = || AuthError::invalid_argument("Invalid credential in Authorization header.");
    let (access_key_id, full) = credential.split_once('/').ok_or_else(invalid)?;
    let parts: Vec<&str> = full.split('/').collect();
    let [date, region, product, TERMINATOR] = parts[..] else {
        return Err(invalid());
    };
    if access_key_id.is_empty() || region.is_empty() || product.is_empty() || parse_scope_date(date).is_none()
    {
        return Err(invalid());
    }
    Ok((
        access_key_id.to_owned(),
        Scope {
            full,
            date,
            region,
            product,
        },
    ))
}

/// `host;Range` → `["host", "range"]`; an empty element (`host;`) is an error, an empty list is not.
fn parse_additional_headers(list: &str) -> Result<Vec<String>, AuthError> {
    if list.trim().is_empty() {
        return Ok(Vec::new());
    }
    let names = list
        .split(';')
        .map(|name| {
            let name = name.trim().to_ascii_lowercase();
            if name.is_empty() {
                Err(AuthError::invalid_argument(
                    "AdditionalHeaders contains an empty header name.",
                ))
            } else {
                Ok(name)
            }
        })
        .collect::<Result<BTreeSet<String>, AuthError>>()?;
    Ok(names.into_iter().collect())
}

/// The V4 `Authorization` header value of a request whose headers already carry `x-oss-date` (or `Date`),
/// scoped to `region` and `product`: the client side of [`V4Claim::verify`]. `None` when the request
/// carries no usable time.
pub(super) fn sign(
    request: &RequestView<'_>,
    access_key_id: &str,
    secret: &[u8],
    region: &str,
    product: &str,
    additional_headers: &[&str],
) -> Option<String> {
    let headers = request.headers;
    let timestamp = header_first(headers, "x-oss-date").or_else(|| header_first(headers, "date"))?;
    let time = parse_iso8601_basic(timestamp).or_else(|| parse_http_date(timestamp))?;
    let date = time::OffsetDateTime::from_unix_timestamp(time).ok()?.date();
    let scope_date = format!("{:04}{:02}{:02}", date.year(), u8::from(date.month()), date.day());
    let mut names: Vec<String> = additional_headers
        .iter()
        .map(|h| h.to_ascii_lowercase())
        .collect();
    names.sort();
    names.dedup();
    let claim = V4Claim {
        scope: format!("{scope_date}/{region}/{product}/{TERMINATOR}"),
        scope_date,
        region: region.to_owned(),
        product: product.to_owned(),
        timestamp: timestamp.to_vec(),
        additional_headers: names,
        presigned: false,
        payload_sha256: None,
    };
    let params = super::canonical::parse_query(request.raw_query);
    let (signature, _, _) = claim.expected_signature(request, &params, secret);
    let mut out = format!("{ALGORITHM} Credential={access_key_id}/{}", claim.scope);
    if !claim.additional_headers.is_empty() {
        out.push_str(",AdditionalHeaders=");
        out.push_str(&claim.additional_headers.join(";"));
    }
    out.push_str(",Signature=");
    out.push_str(&signature);
    Some(out)
}
