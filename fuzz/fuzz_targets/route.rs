//! Request routing: any method, path, query and headers become one typed endpoint or an OSS error, never
//! a panic; an endpoint that names a bucket names a valid one.
#![no_main]

use cang_fuzz::CapturedRequest;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some(request) = CapturedRequest::parse(data) else {
        return;
    };
    let router = cang_oss::Router::new(["sig.test", "localhost"]);
    let host = request.headers.get(http::header::HOST).and_then(|h| h.to_str().ok());
    if let Ok(route) = router.route(
        &request.method,
        host,
        &request.raw_path,
        &request.raw_query,
        &request.headers,
    ) {
        if let Some(bucket) = route.bucket() {
            assert!(!bucket.is_empty(), "an endpoint names an empty bucket: {route:?}");
        }
        let _ = route.key();
    }
});
