//! Conditional requests (§6.2): `If-Match`, `If-None-Match`, `If-Modified-Since`, `If-Unmodified-Since` and
//! their `x-oss-copy-source-if-*` twins, evaluated against an object's ETag and Last-Modified.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::HeaderMap;

use crate::checksum::etags_match;
use crate::date::parse_http_date;
use crate::error::OssError;

/// Which set of headers to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConditionTarget {
    /// `If-*` on GetObject / HeadObject.
    Object,
    /// `x-oss-copy-source-if-*` on CopyObject / UploadPartCopy.
    CopySource,
}

impl ConditionTarget {
    fn names(self) -> [&'static str; 4] {
        match self {
            Self::Object => [
                "if-match",
                "if-none-match",
                "if-modified-since",
                "if-unmodified-since",
            ],
            Self::CopySource => [
                "x-oss-copy-source-if-match",
                "x-oss-copy-source-if-none-match",
                "x-oss-copy-source-if-modified-since",
                "x-oss-copy-source-if-unmodified-since",
            ],
        }
    }
}

/// The preconditions of one request. Unparseable dates are ignored, as HTTP requires.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Conditions {
    /// `If-Match` ETags (`*` matches any).
    pub if_match: Option<Vec<String>>,
    /// `If-None-Match` ETags.
    pub if_none_match: Option<Vec<String>>,
    /// `If-Modified-Since`.
    pub if_modified_since: Option<SystemTime>,
    /// `If-Unmodified-Since`.
    pub if_unmodified_since: Option<SystemTime>,
}

fn etag_list(value: &str) -> Vec<String> {
    value
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

fn list_matches(list: &[String], etag: &str) -> bool {
    list.iter()
        .any(|candidate| candidate == "*" || etags_match(candidate, etag))
}

/// HTTP dates have whole seconds; compare Last-Modified at that precision.
fn whole_seconds(t: SystemTime) -> SystemTime {
    let secs = t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    UNIX_EPOCH + Duration::from_secs(secs)
}

impl Conditions {
    /// Reads the conditional headers of `target`.
    pub fn from_headers(headers: &HeaderMap, target: ConditionTarget) -> Self {
        let [m, nm, ms, us] = target.names();
        let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
        Self {
            if_match: text(m).map(etag_list),
            if_none_match: text(nm).map(etag_list),
            if_modified_since: text(ms).and_then(parse_http_date),
            if_unmodified_since: text(us).and_then(parse_http_date),
        }
    }

    /// Whether no condition is present.
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }

    /// Evaluates the conditions: `412 PreconditionFailed` when `If-Match` fails (or, without `If-Match`,
    /// `If-Unmodified-Since` does); `304` when `If-None-Match` matches (or, without `If-None-Match`, the
    /// object was not modified after `If-Modified-Since` — including a date in the future, as OSS does).
    pub fn evaluate(&self, etag: &str, last_modified: SystemTime) -> Result<(), OssError> {
        let last_modified = whole_seconds(last_modified);
        match &self.if_match {
            Some(list) if !list_matches(list, etag) => return Err(OssError::precondition_failed("If-Match")),
            Some(_) => {}
            None => {
                if self.if_unmodified_since.is_some_and(|t| last_modified > t) {
                    return Err(OssError::precondition_failed("If-Unmodified-Since"));
                }
            }
        }
        match &self.if_none_match {
            Some(list) if list_matches(list, etag) => Err(OssError::not_modified()),
            Some(_) => Ok(()),
            None if self.if_modified_since.is_some_and(|t| last_modified <= t) => {
                Err(OssError::not_modified())
            }
            None => Ok(()),
        }
    }
}

/// PutObject-style writes do not support `If-*` headers: `400 NotImplemented` (§6.5).
pub fn reject_on_write(headers: &HeaderMap) -> Result<(), OssError> {
    match ConditionTarget::Object
        .names()
        .into_iter()
        .find(|h| headers.contains_key(*h))
    {
        Some(header) => Err(OssError::not_implemented(
            "A header you provided implies functionality that is not implemented.",
        )
        .extra("Header", header.to_owned())),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use http::HeaderValue;

    use super::*;
    use crate::date::http_date;
    use crate::error::ErrorCode;

    const ETAG: &str = "\"5D41402ABC4B2A76B9719D911017C592\"";

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs)
    }

    fn eval(pairs: &[(&'static str, String)], target: ConditionTarget) -> Option<ErrorCode> {
        let mut headers = HeaderMap::new();
        for (name, value) in pairs {
            if let Ok(v) = HeaderValue::from_str(value) {
                headers.insert(*name, v);
            }
        }
        let modified = at(1_700_000_000) + Duration::from_millis(400);
        Conditions::from_headers(&headers, target)
            .evaluate(ETAG, modified)
            .err()
            .map(|e| e.code())
    }

    #[test]
    fn etag_conditions_accept_quoted_and_unquoted_values() {
        let o = ConditionTarget::Object;
        assert_eq!(eval(&[("if-match", ETAG.into())], o), None);
        assert_eq!(
            eval(&[("if-match", "5d41402abc4b2a76b9719d911017c592".into())], o),
            None
        );
        assert_eq!(
            eval(&[("if-match", "\"OTHER\"".into())], o),
            Some(ErrorCode::PreconditionFailed)
        );
        assert_eq!(eval(&[("if-match", "*".into())], o), None);
        assert_eq!(
            eval(&[("if-none-match", ETAG.into())], o),
            Some(ErrorCode::NotModified)
        );
        assert_eq!(eval(&[("if-none-match", "\"A\", \"B\"".into())], o), None);
    }

    #[test]
    fn date_conditions() {
        let o = ConditionTarget::Object;
        let before = http_date(at(1_699_999_999));
        let same = http_date(at(1_700_000_000));
        let future = http_date(at(1_800_000_000));
        assert_eq!(eval(&[("if-modified-since", before.clone())], o), None);
        assert_eq!(
            eval(&[("if-modified-since", same.clone())], o),
            Some(ErrorCode::NotModified)
        );
        assert_eq!(
            eval(&[("if-modified-since", future)], o),
            Some(ErrorCode::NotModified)
        );
        assert_eq!(
            eval(&[("if-unmodified-since", before.clone())], o),
            Some(ErrorCode::PreconditionFailed)
        );
        assert_eq!(eval(&[("if-unmodified-since", same)], o), None);
        assert_eq!(eval(&[("if-modified-since", "garbage".into())], o), None);
        // If-Match wins over If-Unmodified-Since; If-None-Match over If-Modified-Since.
        assert_eq!(
            eval(
                &[("if-match", ETAG.into()), ("if-unmodified-since", before.clone())],
                o
            ),
            None
        );
        assert_eq!(
            eval(
                &[
                    ("if-none-match", "\"X\"".into()),
                    ("if-modified-since", http_date(at(1_800_000_000)))
                ],
                o
            ),
            None
        );
    }

    #[test]
    fn copy_source_conditions_read_their_own_headers() {
        let c = ConditionTarget::CopySource;
        assert_eq!(eval(&[("if-match", "\"X\"".into())], c), None);
        assert_eq!(
            eval(&[("x-oss-copy-source-if-match", "\"X\"".into())], c),
            Some(ErrorCode::PreconditionFailed)
        );
        assert_eq!(
            eval(&[("x-oss-copy-source-if-none-match", ETAG.into())], c),
            Some(ErrorCode::NotModified)
        );
    }

    #[test]
    fn writes_reject_conditionals() {
        let mut h = HeaderMap::new();
        assert!(reject_on_write(&h).is_ok());
        h.insert(
            "if-modified-since",
            HeaderValue::from_static("Tue, 02 Jan 2024 03:04:05 GMT"),
        );
        assert_eq!(
            reject_on_write(&h).err().map(|e| e.code()),
            Some(ErrorCode::NotImplemented)
        );
    }
}
