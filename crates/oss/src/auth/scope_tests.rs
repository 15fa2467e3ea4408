//! Tests of what a signature binds the request to: the V1 date line whose skew is checked (no replay of an
//! old `x-oss-date` beside a fresh `Date`), the V4 scope's region and product, and the body digest a V4
//! signature declares in `x-oss-content-sha256`.

use std::collections::HashMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use http::{HeaderMap, Method};
use sha2::Digest as _;

use super::canonical::hmac_sha1;
use super::*;

/// 2024-01-02T03:04:05Z.
const T: u64 = 1_704_164_645;
const DATE: &str = "Tue, 02 Jan 2024 03:04:05 GMT";
const ISO: &str = "20240102T030405Z";
const OLD: &str = "Sat, 01 Jan 2000 00:00:00 GMT";

fn at(unix: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(unix)
}

fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in pairs {
        map.append(
            http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
            value.parse().unwrap(),
        );
    }
    map
}

fn store() -> HashMap<String, Credential> {
    HashMap::from([("ak".to_owned(), Credential::new("sk"))])
}

fn view<'a>(method: &'a Method, path: &'a str, query: &'a str, headers: &'a HeaderMap) -> RequestView<'a> {
    RequestView {
        method,
        raw_path: path,
        raw_query: query,
        headers,
        bucket: Some("bkt"),
        key: path.strip_prefix("/bkt/").filter(|k| !k.is_empty()),
    }
}

fn check(
    method: &Method,
    path: &str,
    query: &str,
    headers: &HeaderMap,
    config: &AuthConfig,
) -> Result<Authentication, AuthError> {
    authenticate(&view(method, path, query, headers), &store(), at(T), config)
}

fn v1_auth(string_to_sign: &str) -> String {
    let signature =
        base64::engine::general_purpose::STANDARD.encode(hmac_sha1(b"sk", string_to_sign.as_bytes()));
    format!("OSS ak:{signature}")
}

fn is_signed(result: &Result<Authentication, AuthError>) -> bool {
    matches!(result, Ok(Authentication::Signed(_)))
}

fn code_status(result: Result<Authentication, AuthError>) -> (&'static str, u16, String) {
    match result {
        Err(e) => (e.code(), e.http_status(), e.message()),
        Ok(other) => panic!("expected an error, got {other:?}"),
    }
}

#[test]
fn v1_signature_over_old_x_oss_date_is_not_replayable_with_a_fresh_date() {
    // The signature covers only x-oss-date (the date line oss2/py-v2 use); Date is unsigned and fresh.
    let auth = v1_auth(&format!("GET\n\n\n{OLD}\nx-oss-date:{OLD}\n/bkt/obj"));
    let h = headers(&[("date", DATE), ("x-oss-date", OLD), ("authorization", &auth)]);
    let (code, status, _) = code_status(check(&Method::GET, "/bkt/obj", "", &h, &AuthConfig::default()));
    assert_eq!((code, status), ("RequestTimeTooSkewed", 403));

    // The same signature with the Date header an attacker would add is no better: Date is not a date
    // line the signature covers, so nothing about it can make the old one fresh.
    let h = headers(&[("x-oss-date", OLD), ("authorization", &auth)]);
    let (code, status, _) = code_status(check(&Method::GET, "/bkt/obj", "", &h, &AuthConfig::default()));
    assert_eq!((code, status), ("RequestTimeTooSkewed", 403));
}

#[test]
fn v1_every_possible_date_line_must_be_fresh() {
    // A stale Date beside a fresh signed x-oss-date is refused as well: the server cannot know which one
    // the client signed before verifying, and refusing both is the safe reading.
    let fresh = "Tue, 02 Jan 2024 03:05:00 GMT";
    let auth = v1_auth(&format!("GET\n\n\n{fresh}\nx-oss-date:{fresh}\n/bkt/obj"));
    let h = headers(&[("date", OLD), ("x-oss-date", fresh), ("authorization", &auth)]);
    let (code, _, _) = code_status(check(&Method::GET, "/bkt/obj", "", &h, &AuthConfig::default()));
    assert_eq!(code, "RequestTimeTooSkewed");
}

#[test]
fn v1_honest_requests_with_and_without_x_oss_date_verify() {
    let config = AuthConfig::default();
    // go-v1/java/reqsign: Date only.
    let auth = v1_auth(&format!("GET\n\n\n{DATE}\n/bkt/obj"));
    let h = headers(&[("date", DATE), ("authorization", &auth)]);
    assert!(is_signed(&check(&Method::GET, "/bkt/obj", "", &h, &config)));

    // oss2/py-v2 with x-oss-date set: it is the date line, and also a signed header.
    let oss_date = "Tue, 02 Jan 2024 03:04:30 GMT";
    let auth = v1_auth(&format!("GET\n\n\n{oss_date}\nx-oss-date:{oss_date}\n/bkt/obj"));
    let h = headers(&[("date", DATE), ("x-oss-date", oss_date), ("authorization", &auth)]);
    assert!(is_signed(&check(&Method::GET, "/bkt/obj", "", &h, &config)));

    // x-oss-date alone (no Date header at all).
    let h = headers(&[("x-oss-date", oss_date), ("authorization", &auth)]);
    assert!(is_signed(&check(&Method::GET, "/bkt/obj", "", &h, &config)));

    // Signed with the Date line while also carrying an x-oss-date header.
    let auth = v1_auth(&format!("GET\n\n\n{DATE}\nx-oss-date:{oss_date}\n/bkt/obj"));
    let h = headers(&[("date", DATE), ("x-oss-date", oss_date), ("authorization", &auth)]);
    assert!(is_signed(&check(&Method::GET, "/bkt/obj", "", &h, &config)));
}

#[test]
fn v1_an_unparseable_x_oss_date_is_never_a_date_line() {
    let config = AuthConfig::default();
    // An ISO 8601 x-oss-date (a V4 habit) is just a signed header; Date is the date line.
    let auth = v1_auth(&format!("GET\n\n\n{DATE}\nx-oss-date:{ISO}\n/bkt/obj"));
    let h = headers(&[("date", DATE), ("x-oss-date", ISO), ("authorization", &auth)]);
    assert!(is_signed(&check(&Method::GET, "/bkt/obj", "", &h, &config)));

    // Signing it as the date line does not verify: its time was never checked.
    let auth = v1_auth(&format!("GET\n\n\n{ISO}\nx-oss-date:{ISO}\n/bkt/obj"));
    let h = headers(&[("date", DATE), ("x-oss-date", ISO), ("authorization", &auth)]);
    let (code, _, _) = code_status(check(&Method::GET, "/bkt/obj", "", &h, &config));
    assert_eq!(code, "SignatureDoesNotMatch");

    // Nor does an empty date line when Date is missing.
    let auth = v1_auth(&format!("GET\n\n\n\nx-oss-date:{DATE}\n/bkt/obj"));
    let h = headers(&[("x-oss-date", DATE), ("authorization", &auth)]);
    let (code, _, _) = code_status(check(&Method::GET, "/bkt/obj", "", &h, &config));
    assert_eq!(code, "SignatureDoesNotMatch");
}

#[test]
fn skew_errors_carry_the_documented_ec() {
    let auth = v1_auth(&format!("GET\n\n\n{OLD}\n/bkt/obj"));
    let h = headers(&[("date", OLD), ("authorization", &auth)]);
    match check(&Method::GET, "/bkt/obj", "", &h, &AuthConfig::default()) {
        Err(e) => assert_eq!(e.ec(), Some("0002-00000504")),
        other => panic!("{other:?}"),
    }
}

fn v4_headers(extra: &[(&str, &str)]) -> HeaderMap {
    let mut pairs = vec![("host", "127.0.0.1:9000"), ("x-oss-date", ISO)];
    pairs.extend_from_slice(extra);
    headers(&pairs)
}

/// `h` with a V4 Authorization header scoped to `region` and `product`.
fn v4_signed(mut h: HeaderMap, region: &str, product: &str) -> HeaderMap {
    let method = Method::PUT;
    let auth = sign_v4_authorization(
        &view(&method, "/bkt/obj", "", &h),
        "ak",
        b"sk",
        region,
        product,
        &["host"],
    )
    .unwrap();
    h.insert("authorization", auth.parse().unwrap());
    h
}

/// Signs `h` as a V4 header request and authenticates it.
fn v4_check(
    h: HeaderMap,
    region: &str,
    product: &str,
    config: &AuthConfig,
) -> Result<Authentication, AuthError> {
    check(
        &Method::PUT,
        "/bkt/obj",
        "",
        &v4_signed(h, region, product),
        config,
    )
}

#[test]
fn v4_signer_reproduces_the_documented_vector() {
    let h = headers(&[
        ("content-md5", "eB5eJF1ptWaXm4bijSPyxw=="),
        ("content-type", "text/plain"),
        ("host", "127.0.0.1:9000"),
        ("x-oss-content-sha256", "UNSIGNED-PAYLOAD"),
        ("x-oss-date", ISO),
        ("x-oss-meta-owner", "Alice"),
        ("x-oss-server-side-encryption", "KMS"),
    ]);
    let request = RequestView {
        key: Some("dir/a b+c.txt"),
        ..view(&Method::PUT, "/bkt/dir/a%20b%2Bc.txt", "", &h)
    };
    assert_eq!(
        sign_v4_authorization(&request, "ak", b"sk", "cn-hangzhou", "oss", &["Host"]).as_deref(),
        Some(
            "OSS4-HMAC-SHA256 Credential=ak/20240102/cn-hangzhou/oss/aliyun_v4_request,AdditionalHeaders=host,Signature=1ad6d25cb81474ec11b32fbad311b01f8db1b7948f4af40d6daae686b5c5c7fe"
        )
    );
    let no_time = HeaderMap::new();
    assert_eq!(
        sign_v4_authorization(
            &view(&Method::GET, "/bkt/", "", &no_time),
            "ak",
            b"sk",
            "r",
            "oss",
            &[]
        ),
        None
    );
}

#[test]
fn v4_scope_must_name_this_region_and_the_oss_product() {
    let hangzhou = AuthConfig::for_region("cn-hangzhou");
    assert!(is_signed(&v4_check(
        v4_headers(&[]),
        "cn-hangzhou",
        "oss",
        &hangzhou
    )));

    let (code, status, message) = code_status(v4_check(v4_headers(&[]), "us-west-1", "oss", &hangzhou));
    assert_eq!(
        (code, status, message.as_str()),
        (
            "InvalidArgument",
            400,
            "Invalid signing region in Authorization header."
        )
    );
    // Without a configured region any correctly signed scope region is accepted (an emulator's choice).
    assert!(is_signed(&v4_check(
        v4_headers(&[]),
        "us-west-1",
        "oss",
        &AuthConfig::default()
    )));

    for config in [&hangzhou, &AuthConfig::default()] {
        for product in ["ecs", "oss-cloudbox", "OSS", "s3"] {
            let result = v4_check(v4_headers(&[]), "cn-hangzhou", product, config);
            let ec = result.as_ref().err().and_then(AuthError::ec);
            let (code, status, message) = code_status(result);
            assert_eq!(
                (code, status, message.as_str(), ec),
                (
                    "InvalidArgument",
                    400,
                    "Invalid signing product in Authorization header.",
                    Some("0002-00000227")
                ),
                "{product}"
            );
        }
    }
}

const PRESIGNED: &str = "x-oss-signature-version=OSS4-HMAC-SHA256&x-oss-date=20240102T030405Z&x-oss-expires=900&x-oss-credential=ak%2F20240102%2Fcn-hangzhou%2Foss%2Faliyun_v4_request&x-oss-signature=1d0c0cd1c7698a7092de3850c2589b52b4187d7e62d32245460ecc4798357dd1";

#[test]
fn presigned_v4_scope_must_name_this_region_and_the_oss_product() {
    let hangzhou = AuthConfig::for_region("cn-hangzhou");
    let h = HeaderMap::new();
    assert!(is_signed(&check(
        &Method::GET,
        "/bkt/obj",
        PRESIGNED,
        &h,
        &hangzhou
    )));

    let west = PRESIGNED.replace("%2Fcn-hangzhou%2F", "%2Fus-west-1%2F");
    let (code, status, message) = code_status(check(&Method::GET, "/bkt/obj", &west, &h, &hangzhou));
    assert_eq!(
        (code, status, message.as_str()),
        (
            "InvalidArgument",
            400,
            "Invalid signing region in Authorization header."
        )
    );

    let ecs = PRESIGNED.replace("%2Foss%2F", "%2Fecs%2F");
    let (code, status, message) = code_status(check(&Method::GET, "/bkt/obj", &ecs, &h, &hangzhou));
    assert_eq!(
        (code, status, message.as_str()),
        (
            "InvalidArgument",
            400,
            "Invalid signing product in Authorization header."
        )
    );
}

fn claim_digest(h: &HeaderMap) -> Result<Option<[u8; 32]>, AuthError> {
    let method = Method::PUT;
    let request = view(&method, "/bkt/obj", "", h);
    read_signature(&request, at(T), &AuthConfig::default()).map(|c| c.and_then(|c| c.payload_sha256()))
}

#[test]
fn v4_declared_payload_digest_is_exposed_for_the_streaming_check() {
    let digest: [u8; 32] = sha2::Sha256::digest(b"hello").into();
    let lower = hex::encode(digest);
    for value in [lower.clone(), lower.to_ascii_uppercase()] {
        let mut h = v4_headers(&[("x-oss-content-sha256", &value)]);
        let method = Method::PUT;
        let auth = sign_v4_authorization(
            &view(&method, "/bkt/obj", "", &h),
            "ak",
            b"sk",
            "cn-hangzhou",
            "oss",
            &[],
        )
        .unwrap();
        h.insert("authorization", auth.parse().unwrap());
        assert_eq!(claim_digest(&h).ok(), Some(Some(digest)));
        match check(&method, "/bkt/obj", "", &h, &AuthConfig::default()) {
            Ok(Authentication::Signed(key)) => assert_eq!(key.payload_sha256, Some(digest)),
            other => panic!("{other:?}"),
        }
    }

    // No digest declared: nothing to check.
    for extra in [&[("x-oss-content-sha256", "UNSIGNED-PAYLOAD")][..], &[]] {
        let mut h = v4_headers(extra);
        let auth = sign_v4_authorization(
            &view(&Method::PUT, "/bkt/obj", "", &h),
            "ak",
            b"sk",
            "cn-hangzhou",
            "oss",
            &[],
        )
        .unwrap();
        h.insert("authorization", auth.parse().unwrap());
        assert_eq!(claim_digest(&h).ok(), Some(None));
    }

    // V1 and presigned V4 sign no body, even when the header is present.
    let auth = v1_auth(&format!(
        "PUT\n\n\n{DATE}\nx-oss-content-sha256:{lower}\n/bkt/obj"
    ));
    let h = headers(&[
        ("date", DATE),
        ("x-oss-content-sha256", &lower),
        ("authorization", &auth),
    ]);
    assert_eq!(claim_digest(&h).ok(), Some(None));
    let h = headers(&[("x-oss-content-sha256", &lower)]);
    let method = Method::GET;
    let request = view(&method, "/bkt/obj", PRESIGNED, &h);
    let claim = read_signature(&request, at(T), &AuthConfig::default())
        .ok()
        .flatten();
    assert_eq!(claim.map(|c| c.payload_sha256()), Some(None));
}

#[test]
fn v4_malformed_payload_digest_is_refused_before_lookup() {
    let digest = hex::encode([7u8; 32]);
    let bad = [
        "",
        "abc",
        &digest[..63],
        &format!("{digest}0"),
        &"zz".repeat(32),
        "STREAMING-UNSIGNED-PAYLOAD-TRAILER",
        "unsigned-payload",
    ];
    for value in bad {
        let mut h = v4_headers(&[("x-oss-content-sha256", value)]);
        h.insert(
            "authorization",
            "OSS4-HMAC-SHA256 Credential=ak/20240102/cn-hangzhou/oss/aliyun_v4_request,Signature=00"
                .parse()
                .unwrap(),
        );
        let err = claim_digest(&h).err();
        assert_eq!(
            err.as_ref().map(|e| (e.code(), e.http_status(), e.ec())),
            Some(("InvalidArgument", 400, Some("0002-00000214"))),
            "{value:?}"
        );
    }
    let mut twice = v4_headers(&[
        ("x-oss-content-sha256", &digest),
        ("x-oss-content-sha256", &digest),
    ]);
    twice.insert(
        "authorization",
        "OSS4-HMAC-SHA256 Credential=ak/20240102/cn-hangzhou/oss/aliyun_v4_request,Signature=00"
            .parse()
            .unwrap(),
    );
    assert_eq!(
        claim_digest(&twice).err().map(|e| e.code()),
        Some("InvalidArgument")
    );
}
