//! V1, V4 and presigned signatures: finding and checking one never panics, whatever the Authorization header,
//! query parameters and dates say; and a request that verifies names the access key it was checked with.
#![no_main]

use std::collections::HashMap;
use std::time::{Duration, SystemTime};

use cang_fuzz::CapturedRequest;
use cang_oss::auth::{AuthConfig, Authentication, Credential, RequestView, authenticate};
use libfuzzer_sys::fuzz_target;

/// The key pair the SDK captures in `fuzz/seeds/` were signed with (`tests/sdk/test_signatures.py`).
const ACCESS_KEY_ID: &str = "LTAIcangSigTestKey";
const SECRET: &str = "cangSigTestSecret+/=";

fuzz_target!(|data: &[u8]| {
    let Some(request) = CapturedRequest::parse(data) else {
        return;
    };
    let router = cang_oss::Router::new(["sig.test", "localhost"]);
    let host = request.headers.get(http::header::HOST).and_then(|h| h.to_str().ok());
    // The gateway signs over the routed bucket and key; unroutable requests still reach the verifier here
    // with neither, so the verifier sees every shape.
    let route = router
        .route(&request.method, host, &request.raw_path, &request.raw_query, &request.headers)
        .ok();
    let view = RequestView {
        method: &request.method,
        raw_path: &request.raw_path,
        raw_query: &request.raw_query,
        headers: &request.headers,
        bucket: route.as_ref().and_then(|r| r.bucket()),
        key: route.as_ref().and_then(|r| r.key()),
    };
    let store = HashMap::from([(ACCESS_KEY_ID.to_owned(), Credential::new(SECRET))]);
    // Any clock a server could have (a later one than SystemTime holds is no clock at all).
    let now = SystemTime::UNIX_EPOCH + Duration::from_secs(request.now % (1 << 40));
    let config = AuthConfig::for_region("cn-hangzhou");
    if let Ok(Authentication::Signed(key)) = authenticate(&view, &store, now, &config) {
        assert_eq!(key.access_key_id, ACCESS_KEY_ID);
    }
});
