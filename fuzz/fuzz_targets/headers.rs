//! Range, conditional, SSE and user-metadata headers and the response overrides of the query: each reads to a
//! value or an OSS error. A resolved range lies inside the object; user metadata written back reads the same.
#![no_main]

use std::time::{Duration, SystemTime};

use cang_fuzz::CapturedRequest;
use cang_oss::headers::conditional::{ConditionTarget, Conditions, reject_on_write};
use cang_oss::headers::meta::{ResponseOverrides, UserMetadata};
use cang_oss::headers::range::{RangeBehavior, resolve_range};
use cang_oss::headers::sse::{SseHeaderPolicy, sse_from_headers};
use cang_oss::route::Query;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some(request) = CapturedRequest::parse(data) else {
        return;
    };
    let headers = &request.headers;
    // The first line stands for the object's size and age, the path for its ETag.
    let size = request.now;
    let range = headers.get(http::header::RANGE).and_then(|v| v.to_str().ok());
    if let Ok(Some(r)) = resolve_range(range, RangeBehavior::from_headers(headers), size) {
        assert!(r.start <= r.end && r.end < size && r.total == size, "{r:?} of {size}");
        assert_eq!(r.len(), r.end - r.start + 1);
    }
    let modified = SystemTime::UNIX_EPOCH + Duration::from_secs(size % (1 << 40));
    for target in [ConditionTarget::Object, ConditionTarget::CopySource] {
        let _ = Conditions::from_headers(headers, target).evaluate(&request.raw_path, modified);
    }
    let _ = reject_on_write(headers);
    for policy in [SseHeaderPolicy::Accept, SseHeaderPolicy::Reject] {
        let _ = sse_from_headers(headers, policy);
    }
    if let Ok(meta) = UserMetadata::from_headers(headers) {
        let mut written = http::HeaderMap::new();
        meta.write_headers(&mut written);
        assert_eq!(UserMetadata::from_headers(&written).ok(), Some(meta));
    }
    if let Ok(query) = Query::parse(&request.raw_query) {
        if let Ok(overrides) = ResponseOverrides::from_query(&query) {
            let mut out = http::HeaderMap::new();
            overrides.apply(&mut out);
        }
    }
});
