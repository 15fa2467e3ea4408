//! User metadata (`x-oss-meta-*`, §6.5) and the `response-*` query overrides of GetObject (§6.2).

use std::collections::BTreeMap;

use http::{HeaderMap, HeaderName, HeaderValue};

use crate::error::OssError;
use crate::route::Query;

/// Prefix of user metadata headers.
pub const META_PREFIX: &str = "x-oss-meta-";
/// Largest total size of user metadata (names without prefix plus values), in bytes.
pub const MAX_USER_METADATA_BYTES: usize = 8 * 1024;

/// User metadata: lower-cased names without the `x-oss-meta-` prefix, values as the raw header bytes
/// (UTF-8 values are returned byte-identical).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserMetadata {
    entries: BTreeMap<String, Vec<u8>>,
}

impl UserMetadata {
    /// Collects every `x-oss-meta-*` header. Names may use only `A-Z a-z 0-9 -`; repeated headers are
    /// joined with `,`; the total must stay within 8 KiB. Violations are `400 InvalidArgument`.
    pub fn from_headers(headers: &HeaderMap) -> Result<Self, OssError> {
        let mut entries: BTreeMap<String, Vec<u8>> = BTreeMap::new();
        for (name, value) in headers {
            // `HeaderName` is always lower case.
            let Some(suffix) = name.as_str().strip_prefix(META_PREFIX) else {
                continue;
            };
            if suffix.is_empty() || !suffix.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
                return Err(OssError::invalid_argument("The user metadata name is not valid.")
                    .extra("ArgumentName", name.as_str().to_owned()));
            }
            let entry = entries.entry(suffix.to_owned()).or_default();
            if !entry.is_empty() {
                entry.push(b',');
            }
            entry.extend_from_slice(trim(value.as_bytes()));
        }
        let total: usize = entries.iter().map(|(k, v)| k.len() + v.len()).sum();
        if total > MAX_USER_METADATA_BYTES {
            return Err(OssError::invalid_argument(
                "Your metadata headers exceed the maximum allowed metadata size.",
            ));
        }
        Ok(Self { entries })
    }

    /// Builds metadata from stored entries (names without prefix).
    pub fn from_entries(entries: impl IntoIterator<Item = (String, Vec<u8>)>) -> Self {
        Self {
            entries: entries
                .into_iter()
                .map(|(k, v)| (k.to_ascii_lowercase(), v))
                .collect(),
        }
    }

    /// Entries in name order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &[u8])> {
        self.entries.iter().map(|(k, v)| (k.as_str(), v.as_slice()))
    }

    /// Whether there is no metadata.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Writes the entries as `x-oss-meta-*` response headers. Stored values came from header values, so
    /// they are valid again; an entry that somehow is not is skipped rather than failing the response.
    pub fn write_headers(&self, headers: &mut HeaderMap) {
        for (name, value) in &self.entries {
            let name = HeaderName::from_bytes(format!("{META_PREFIX}{name}").as_bytes());
            if let (Ok(name), Ok(value)) = (name, HeaderValue::from_bytes(value)) {
                headers.insert(name, value);
            }
        }
    }
}

fn trim(bytes: &[u8]) -> &[u8] {
    let start = bytes
        .iter()
        .position(|b| !matches!(b, b' ' | b'\t'))
        .unwrap_or(bytes.len());
    let end = bytes
        .iter()
        .rposition(|b| !matches!(b, b' ' | b'\t'))
        .map_or(start, |i| i + 1);
    &bytes[start..end]
}

/// The `response-*` query parameters of GetObject: each replaces one response header on success.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResponseOverrides {
    /// `response-content-type` → `Content-Type`.
    pub content_type: Option<String>,
    /// `response-content-language` → `Content-Language`.
    pub content_language: Option<String>,
    /// `response-expires` → `Expires`.
    pub expires: Option<String>,
    /// `response-cache-control` → `Cache-Control`.
    pub cache_control: Option<String>,
    /// `response-content-disposition` → `Content-Disposition`.
    pub content_disposition: Option<String>,
    /// `response-content-encoding` → `Content-Encoding`.
    pub content_encoding: Option<String>,
}

impl ResponseOverrides {
    /// The override query parameters and the header each one replaces.
    pub const PARAMS: [(&'static str, &'static str); 6] = [
        ("response-content-type", "content-type"),
        ("response-content-language", "content-language"),
        ("response-expires", "expires"),
        ("response-cache-control", "cache-control"),
        ("response-content-disposition", "content-disposition"),
        ("response-content-encoding", "content-encoding"),
    ];

    /// Reads the overrides from the decoded query. A value that cannot be a header value is
    /// `400 InvalidArgument`; an empty value is no override.
    pub fn from_query(query: &Query) -> Result<Self, OssError> {
        let get = |name: &str| -> Result<Option<String>, OssError> {
            match query.non_empty(name) {
                Some(v) if HeaderValue::from_str(v).is_err() => Err(OssError::invalid_argument(
                    "The response header override is not a valid header value.",
                )
                .extra("ArgumentName", name.to_owned())),
                v => Ok(v.map(str::to_owned)),
            }
        };
        Ok(Self {
            content_type: get("response-content-type")?,
            content_language: get("response-content-language")?,
            expires: get("response-expires")?,
            cache_control: get("response-cache-control")?,
            content_disposition: get("response-content-disposition")?,
            content_encoding: get("response-content-encoding")?,
        })
    }

    /// Whether no override is requested (an anonymous GET with any is `400 InvalidRequest`).
    pub fn is_empty(&self) -> bool {
        self.values().iter().all(|v| v.is_none())
    }

    fn values(&self) -> [&Option<String>; 6] {
        [
            &self.content_type,
            &self.content_language,
            &self.expires,
            &self.cache_control,
            &self.content_disposition,
            &self.content_encoding,
        ]
    }

    /// Replaces the overridden headers in a successful response.
    pub fn apply(&self, headers: &mut HeaderMap) {
        for ((_, header), value) in Self::PARAMS.iter().zip(self.values()) {
            if let Some(value) = value
                && let Ok(value) = HeaderValue::from_str(value)
            {
                headers.insert(*header, value);
            }
        }
    }

    /// The error for overrides on an anonymous request.
    pub fn anonymous_error() -> OssError {
        OssError::invalid_request(
            "Request specific response headers cannot be used for anonymous GET requests.",
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &[u8])]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            if let (Ok(n), Ok(v)) = (
                HeaderName::from_bytes(name.as_bytes()),
                HeaderValue::from_bytes(value),
            ) {
                map.append(n, v);
            }
        }
        map
    }

    #[test]
    fn metadata_names_are_lower_cased_and_values_byte_identical() {
        let h = headers(&[
            ("X-Oss-Meta-Key2", b"Value"),
            ("x-oss-meta-owner", "张三".as_bytes()),
            ("x-oss-meta-dup", b"a"),
            ("x-oss-meta-dup", b"b"),
            ("content-type", b"text/plain"),
        ]);
        let meta = UserMetadata::from_headers(&h).unwrap_or_default();
        let entries: Vec<_> = meta.iter().collect();
        assert_eq!(
            entries,
            vec![
                ("dup", &b"a,b"[..]),
                ("key2", &b"Value"[..]),
                ("owner", "张三".as_bytes())
            ]
        );
        let mut out = HeaderMap::new();
        meta.write_headers(&mut out);
        assert_eq!(out["x-oss-meta-owner"].as_bytes(), "张三".as_bytes());
        assert_eq!(out.len(), 3);
    }

    #[test]
    fn metadata_limits() {
        assert!(UserMetadata::from_headers(&headers(&[("x-oss-meta-a_b", b"v")])).is_err());
        let big = vec![b'v'; MAX_USER_METADATA_BYTES];
        assert!(UserMetadata::from_headers(&headers(&[("x-oss-meta-a", &big)])).is_err());
        let fits = vec![b'v'; MAX_USER_METADATA_BYTES - 1];
        assert!(UserMetadata::from_headers(&headers(&[("x-oss-meta-a", &fits)])).is_ok());
    }

    #[test]
    fn overrides_replace_headers() {
        let q = Query::parse(
            "response-content-type=text%2Fhtml&response-cache-control=no-cache&response-expires=",
        )
        .unwrap_or_default();
        let o = ResponseOverrides::from_query(&q).unwrap_or_default();
        assert!(!o.is_empty());
        assert_eq!(o.expires, None);
        let mut h = headers(&[("content-type", b"application/octet-stream")]);
        o.apply(&mut h);
        assert_eq!(h["content-type"], "text/html");
        assert_eq!(h["cache-control"], "no-cache");
        assert!(
            ResponseOverrides::from_query(&Query::default())
                .unwrap_or_default()
                .is_empty()
        );
        let bad = Query::parse("response-content-type=a%0Ab").unwrap_or_default();
        assert!(ResponseOverrides::from_query(&bad).is_err());
    }
}
