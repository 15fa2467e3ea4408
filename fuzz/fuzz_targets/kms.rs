//! The crypto service's decoders and its KMS OpenAPI edge: stored blobs and records, form and query
//! parameters, every action's parameters, and the RPC and ACS3 signature parsers and verifiers, on any
//! bytes: a value or an error, never a panic.
#![no_main]

use cang_kms_openapi::params::{Pairs, Params};
use cang_kms_openapi::{Operation, acs3, rpc};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    // Stored bytes under a storage key taken from the first line.
    let (id, _) = text.split_once('\n').unwrap_or(("key", ""));
    let _ = cang_kms::fuzzing::decode_stored(id, data);

    // The OpenAPI: a query, then (after a NUL) a form body, then an Authorization header value.
    let mut parts = text.splitn(3, '\0');
    let (Ok(query), Ok(form)) = (
        Pairs::parse(parts.next().unwrap_or_default()),
        Pairs::parse(parts.next().unwrap_or_default()),
    ) else {
        return;
    };
    let params = Params { query, form };
    if let Ok(Some(action)) = params.get("Action") {
        let _ = Operation::parse(action, &params);
    }
    if let Ok(credentials) = rpc::credentials(&params) {
        let _ = rpc::verify("POST", &params, &credentials, b"secret");
    }
    if let Ok(auth) = acs3::parse_authorization(parts.next().unwrap_or_default()) {
        let headers = http::HeaderMap::new();
        let request = acs3::SignedRequest {
            method: "POST",
            path: "/",
            query: &params.query,
            headers: &headers,
        };
        let _ = acs3::verify(&request, &auth, data, b"secret");
    }
});
