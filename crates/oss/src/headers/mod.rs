//! Request and response headers with protocol meaning: server-side encryption, ranges, conditionals,
//! user metadata and `response-*` overrides.

pub mod conditional;
pub mod meta;
pub mod range;
pub mod sse;

#[cfg(test)]
mod tests {
    use http::{HeaderMap, HeaderName, HeaderValue};
    use proptest::prelude::*;

    use super::conditional::{ConditionTarget, Conditions, reject_on_write};
    use super::meta::UserMetadata;
    use super::range::{RangeBehavior, resolve_range};
    use super::sse::{SseHeaderPolicy, sse_from_headers};

    const NAMES: &[&str] = &[
        "x-oss-server-side-encryption",
        "x-oss-server-side-encryption-key-id",
        "x-oss-server-side-data-encryption",
        "if-match",
        "if-none-match",
        "if-modified-since",
        "if-unmodified-since",
        "x-oss-copy-source-if-match",
        "x-oss-copy-source-if-modified-since",
        "x-oss-range-behavior",
        "x-oss-meta-a",
        "x-oss-meta-",
        "range",
    ];

    proptest! {
        #[test]
        fn arbitrary_header_bytes_never_panic(
            values in prop::collection::vec((0..NAMES.len(), prop::collection::vec(any::<u8>(), 0..64)), 0..12),
            size in any::<u64>(),
        ) {
            let mut headers = HeaderMap::new();
            for (i, bytes) in values {
                if let (Ok(name), Ok(value)) =
                    (HeaderName::from_bytes(NAMES[i].as_bytes()), HeaderValue::from_bytes(&bytes))
                {
                    headers.append(name, value);
                }
            }
            let _ = sse_from_headers(&headers, SseHeaderPolicy::Accept);
            let _ = sse_from_headers(&headers, SseHeaderPolicy::Reject);
            for target in [ConditionTarget::Object, ConditionTarget::CopySource] {
                let _ = Conditions::from_headers(&headers, target).evaluate("\"E\"", std::time::SystemTime::now());
            }
            let _ = reject_on_write(&headers);
            let _ = UserMetadata::from_headers(&headers);
            let range = headers.get("range").and_then(|v| v.to_str().ok());
            let _ = resolve_range(range, RangeBehavior::from_headers(&headers), size);
        }
    }
}
