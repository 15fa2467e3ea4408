//! Known-answer tests for signature verification: the vectors of `docs/oss-api.md` §2.2.5, §2.3, §2.5 and
//! §2.6, and the failure codes of §2.1 and §2.2.6.

use std::collections::HashMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use http::{HeaderMap, Method};

use super::canonical::hmac_sha1;
use super::*;

/// 2024-01-02T03:04:05Z, the signing time of every py-v2 vector.
const T: u64 = 1_704_164_645;
const DATE: &str = "Tue, 02 Jan 2024 03:04:05 GMT";

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

struct Req {
    method: Method,
    path: String,
    query: String,
    headers: HeaderMap,
    bucket: Option<&'static str>,
    key: Option<&'static str>,
}

impl Req {
    fn new(method: Method, path: &str, query: &str, headers: HeaderMap) -> Self {
        Self {
            method,
            path: path.to_owned(),
            query: query.to_owned(),
            headers,
            bucket: Some("bkt"),
            key: None,
        }
    }

    fn key(mut self, key: &'static str) -> Self {
        self.key = Some(key);
        self
    }

    fn check_with(
        &self,
        store: &HashMap<String, Credential>,
        now: u64,
        config: &AuthConfig,
    ) -> Result<Authentication, AuthError> {
        let view = RequestView {
            method: &self.method,
            raw_path: &self.path,
            raw_query: &self.query,
            headers: &self.headers,
            bucket: self.bucket,
            key: self.key,
        };
        authenticate(&view, store, at(now), config)
    }

    fn check(&self, now: u64) -> Result<Authentication, AuthError> {
        self.check_with(&store(), now, &AuthConfig::default())
    }
}

fn signed(scheme: SignatureScheme) -> Result<Authentication, AuthError> {
    Ok(Authentication::Signed(AuthenticatedKey {
        access_key_id: "ak".into(),
        scheme,
        payload_sha256: None,
    }))
}

fn mismatch(result: Result<Authentication, AuthError>) -> Box<SignatureMismatch> {
    match result {
        Err(AuthError::SignatureDoesNotMatch(m)) => m,
        other => panic!("expected SignatureDoesNotMatch, got {other:?}"),
    }
}

fn v1_sign(secret: &str, string_to_sign: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(hmac_sha1(secret.as_bytes(), string_to_sign.as_bytes()))
}

fn v1_put_object(authorization: &str) -> Req {
    let h = headers(&[
        ("content-type", "text/plain"),
        ("date", DATE),
        ("x-oss-meta-Owner", "Alice"),
        ("x-oss-server-side-encryption", "KMS"),
        ("authorization", authorization),
    ]);
    Req::new(
        Method::PUT,
        "/bkt/dir/a%20b%2Bc.txt",
        "partNumber=1&uploadId=0004B9",
        h,
    )
    .key("dir/a b+c.txt")
}

#[test]
fn v1_header_vectors_verify() {
    assert_eq!(
        v1_put_object("OSS ak:0GMoAgkGjS4L+hk1uwZ6yFM/kf0=").check(T),
        signed(SignatureScheme::V1Header)
    );

    let h = headers(&[
        ("content-type", "application/xml"),
        ("content-md5", "abc=="),
        ("date", DATE),
        ("authorization", "OSS ak:eAFD6MpAe+f9TAqnzw+Z65q+iMc="),
    ]);
    assert_eq!(
        Req::new(Method::PUT, "/bkt/", "encryption", h).check(T),
        signed(SignatureScheme::V1Header)
    );
}

#[test]
fn v1_documentation_example_verifies() {
    let h = headers(&[
        ("content-md5", "ODBGOERFMDMzQTczRUY3NUE3NzA5QzdFNUYzMDQxNEM="),
        ("content-type", "text/html"),
        ("date", "Thu, 17 Nov 2005 18:49:58 GMT"),
        ("x-oss-magic", "abracadabra"),
        ("x-oss-meta-author", "foo@bar.com"),
        (
            "authorization",
            "OSS 44CF9590006BF252F707:26NBxoKdsyly4EDv6inkoDft/yA=",
        ),
    ]);
    let mut req = Req::new(Method::PUT, "/oss-example/nelson", "", h).key("nelson");
    req.bucket = Some("oss-example");
    let store = HashMap::from([(
        "44CF9590006BF252F707".to_owned(),
        Credential::new("OtxrzxIsfpFjA7SwPzILwy8Bw21TLhquhboDYROV"),
    )]);
    let result = req.check_with(&store, 1_132_253_398, &AuthConfig::default());
    assert!(matches!(result, Ok(Authentication::Signed(_))), "{result:?}");
}

#[test]
fn v1_mismatch_reports_the_string_to_sign() {
    let m = mismatch(v1_put_object("OSS ak:1GMoAgkGjS4L+hk1uwZ6yFM/kf0=").check(T));
    assert_eq!(
        String::from_utf8(m.string_to_sign).unwrap(),
        "PUT\n\ntext/plain\nTue, 02 Jan 2024 03:04:05 GMT\nx-oss-meta-owner:Alice\n\
         x-oss-server-side-encryption:KMS\n/bkt/dir/a b+c.txt?partNumber=1&uploadId=0004B9"
    );
    assert_eq!(m.signature_provided, "1GMoAgkGjS4L+hk1uwZ6yFM/kf0=");
    assert_eq!(m.access_key_id, "ak");
}

#[test]
fn v1_header_failure_codes() {
    let good = "OSS ak:0GMoAgkGjS4L+hk1uwZ6yFM/kf0=";
    assert_eq!(
        v1_put_object("OSS other:0GMoAgkGjS4L+hk1uwZ6yFM/kf0=")
            .check(T)
            .unwrap_err()
            .code(),
        "InvalidAccessKeyId"
    );
    for malformed in ["OSS ak", "OSS :sig", "OSS ak:", "OSS", "Bearer x", ""] {
        let err = v1_put_object(malformed).check(T).unwrap_err();
        assert_eq!(
            (err.code(), err.http_status()),
            ("InvalidArgument", 400),
            "{malformed:?}"
        );
    }
    // Skew: exactly 15 minutes is tolerated, one second more is not.
    assert!(v1_put_object(good).check(T + 900).is_ok());
    assert!(v1_put_object(good).check(T - 900).is_ok());
    assert_eq!(
        v1_put_object(good).check(T + 901).unwrap_err().code(),
        "RequestTimeTooSkewed"
    );
    assert_eq!(
        v1_put_object(good).check(T - 901).unwrap_err().code(),
        "RequestTimeTooSkewed"
    );

    let mut no_date = v1_put_object(good);
    no_date.headers.remove("date");
    let err = no_date.check(T).unwrap_err();
    assert_eq!(
        (err.code(), err.message().as_str()),
        ("AccessDenied", "OSS authentication requires a valid Date.")
    );
}

#[test]
fn signature_in_header_and_url_is_rejected() {
    let mut req = v1_put_object("OSS ak:0GMoAgkGjS4L+hk1uwZ6yFM/kf0=");
    req.query = "partNumber=1&uploadId=0004B9&OSSAccessKeyId=ak&Expires=1&Signature=x".to_owned();
    let err = req.check(T).unwrap_err();
    assert_eq!((err.code(), err.http_status()), ("InvalidArgument", 400));
}

#[test]
fn no_signature_is_anonymous() {
    let req = Req::new(Method::GET, "/bkt/obj", "acl", headers(&[("date", DATE)])).key("obj");
    assert_eq!(req.check(T), Ok(Authentication::Anonymous));
}

#[test]
fn v1_presigned_vector_and_expiry() {
    let query = "OSSAccessKeyId=ak&Expires=1704165545&Signature=haEneRly%2FCAHZHCX2MLrycQN6gI%3D";
    let req = Req::new(Method::GET, "/bkt/obj", query, HeaderMap::new()).key("obj");
    assert_eq!(req.check(T), signed(SignatureScheme::V1Presigned));
    // Expiry is checked against `now`, not the skew window; the last valid second is Expires itself.
    assert!(req.check(1_704_165_545).is_ok());
    let err = req.check(1_704_165_546).unwrap_err();
    assert_eq!(
        (err.code(), err.message().as_str()),
        ("AccessDenied", "Request has expired.")
    );

    let m = mismatch(
        Req::new(Method::PUT, "/bkt/obj", query, HeaderMap::new())
            .key("obj")
            .check(T),
    );
    assert_eq!(m.string_to_sign, b"PUT\n\n\n1704165545\n/bkt/obj");
}

#[test]
fn v1_presigned_parameter_errors() {
    let cases = [
        (
            "OSSAccessKeyId=ak&Expires=1704165545",
            "Query-string authentication requires the Signature, Expires and OSSAccessKeyId parameters",
        ),
        (
            "Expires=1704165545&Signature=x",
            "Query-string authentication requires the Signature, Expires and OSSAccessKeyId parameters",
        ),
        (
            "OSSAccessKeyId=ak&Expires=soon&Signature=x",
            "Invalid date (should be seconds since epoch)",
        ),
        (
            "OSSAccessKeyId=ak&Expires=-5&Signature=x",
            "Invalid date (should be seconds since epoch)",
        ),
    ];
    for (query, message) in cases {
        let err = Req::new(Method::GET, "/bkt/obj", query, HeaderMap::new())
            .key("obj")
            .check(T)
            .unwrap_err();
        assert_eq!(
            (err.code(), err.message().as_str()),
            ("AccessDenied", message),
            "{query}"
        );
    }
}

#[test]
fn v1_bucket_path_without_trailing_slash_falls_back() {
    let signature = v1_sign("sk", &format!("GET\n\n\n{DATE}\n/bkt"));
    let auth = format!("OSS ak:{signature}");
    let h = headers(&[("date", DATE), ("authorization", &auth)]);
    let opendal = Req::new(Method::GET, "/bkt", "list-type=2&prefix=a", h.clone());
    assert_eq!(opendal.check(T), signed(SignatureScheme::V1Header));
    // The fallback only applies when the request path really lacks the slash.
    let m = mismatch(Req::new(Method::GET, "/bkt/", "list-type=2&prefix=a", h).check(T));
    assert_eq!(m.string_to_sign, format!("GET\n\n\n{DATE}\n/bkt/").into_bytes());
}

#[test]
fn v1_accepts_x_oss_date_and_java_empty_sub_resource_rendering() {
    let other = "Tue, 02 Jan 2024 03:05:00 GMT";
    let signature = v1_sign(
        "sk",
        &format!("GET\n\n\n{other}\nx-oss-date:{other}\n/bkt/?uploads"),
    );
    let auth = format!("OSS ak:{signature}");
    let h = headers(&[("date", DATE), ("x-oss-date", other), ("authorization", &auth)]);
    assert_eq!(
        Req::new(Method::GET, "/bkt/", "uploads=", h).check(T),
        signed(SignatureScheme::V1Header)
    );

    let signature = v1_sign(
        "sk",
        &format!("GET\n\n\n{DATE}\n/bkt/?continuation-token=&uploads="),
    );
    let auth = format!("OSS ak:{signature}");
    let h = headers(&[("date", DATE), ("authorization", &auth)]);
    let req = Req::new(Method::GET, "/bkt/", "uploads&continuation-token=&max-keys=5", h);
    assert_eq!(req.check(T), signed(SignatureScheme::V1Header));
}

#[test]
fn security_tokens_must_match_the_temporary_key() {
    let string_to_sign = format!("GET\n\n\n{DATE}\nx-oss-security-token:tok\n/bkt/obj");
    let auth = format!("OSS ak:{}", v1_sign("sk", &string_to_sign));
    let req = Req::new(
        Method::GET,
        "/bkt/obj",
        "",
        headers(&[
            ("date", DATE),
            ("x-oss-security-token", "tok"),
            ("authorization", &auth),
        ]),
    )
    .key("obj");
    let sts = HashMap::from([("ak".to_owned(), Credential::with_security_token("sk", "tok"))]);
    assert_eq!(
        req.check_with(&sts, T, &AuthConfig::default()),
        signed(SignatureScheme::V1Header)
    );
    let wrong = HashMap::from([("ak".to_owned(), Credential::with_security_token("sk", "other"))]);
    assert_eq!(
        req.check_with(&wrong, T, &AuthConfig::default())
            .unwrap_err()
            .code(),
        "AccessDenied"
    );
    // A long-term key presented with a token is refused as well.
    assert_eq!(req.check(T).unwrap_err().code(), "AccessDenied");
}

const V4_PUT_AUTH: &str = "OSS4-HMAC-SHA256 Credential=ak/20240102/cn-hangzhou/oss/aliyun_v4_request,AdditionalHeaders=host,Signature=1ad6d25cb81474ec11b32fbad311b01f8db1b7948f4af40d6daae686b5c5c7fe";

fn v4_put_object(authorization: &str) -> Req {
    let h = headers(&[
        ("content-md5", "eB5eJF1ptWaXm4bijSPyxw=="),
        ("content-type", "text/plain"),
        ("host", "127.0.0.1:9000"),
        ("x-oss-content-sha256", "UNSIGNED-PAYLOAD"),
        ("x-oss-date", "20240102T030405Z"),
        ("x-oss-meta-owner", "Alice"),
        ("x-oss-server-side-encryption", "KMS"),
        ("authorization", authorization),
    ]);
    Req::new(Method::PUT, "/bkt/dir/a%20b%2Bc.txt", "", h).key("dir/a b+c.txt")
}

#[test]
fn v4_header_vectors_verify() {
    assert_eq!(
        v4_put_object(V4_PUT_AUTH).check(T),
        signed(SignatureScheme::V4Header)
    );
    // oss2's layout: comma+space, AdditionalHeaders after Signature.
    let oss2_style = "OSS4-HMAC-SHA256 Credential=ak/20240102/cn-hangzhou/oss/aliyun_v4_request, Signature=1ad6d25cb81474ec11b32fbad311b01f8db1b7948f4af40d6daae686b5c5c7fe, AdditionalHeaders=host";
    assert_eq!(
        v4_put_object(oss2_style).check(T),
        signed(SignatureScheme::V4Header)
    );

    let h = headers(&[
        ("x-oss-content-sha256", "UNSIGNED-PAYLOAD"),
        ("x-oss-date", "20240102T030405Z"),
        (
            "authorization",
            "OSS4-HMAC-SHA256 Credential=ak/20240102/cn-hangzhou/oss/aliyun_v4_request,Signature=43f0d09400279f20356bf291329a27868b6250ecc5776d7a93f7f81cc2248ce2",
        ),
    ]);
    let req = Req::new(
        Method::GET,
        "/bkt/",
        "list-type=2&prefix=dir%2F&encoding-type=url&max-keys=100",
        h,
    );
    assert_eq!(req.check(T), signed(SignatureScheme::V4Header));
}

#[test]
fn v4_mismatch_reports_canonical_request_and_string_to_sign() {
    let m = mismatch(v4_put_object(&V4_PUT_AUTH.replace("Signature=1ad6", "Signature=0ad6")).check(T));
    let canonical = "PUT\n/bkt/dir/a%20b%2Bc.txt\n\ncontent-md5:eB5eJF1ptWaXm4bijSPyxw==\ncontent-type:text/plain\n\
                     host:127.0.0.1:9000\nx-oss-content-sha256:UNSIGNED-PAYLOAD\nx-oss-date:20240102T030405Z\n\
                     x-oss-meta-owner:Alice\nx-oss-server-side-encryption:KMS\n\nhost\nUNSIGNED-PAYLOAD";
    assert_eq!(
        String::from_utf8(m.canonical_request.unwrap()).unwrap(),
        canonical
    );
    assert_eq!(
        String::from_utf8(m.string_to_sign).unwrap(),
        "OSS4-HMAC-SHA256\n20240102T030405Z\n20240102/cn-hangzhou/oss/aliyun_v4_request\n\
         741fd6843e087efce099316e54501e8031af30e846cd824a6f47029fc41b074c"
    );
}

#[test]
fn v4_header_failure_codes() {
    assert_eq!(
        v4_put_object(V4_PUT_AUTH).check(T + 901).unwrap_err().code(),
        "RequestTimeTooSkewed"
    );
    assert_eq!(
        v4_put_object(&V4_PUT_AUTH.replace("=ak/", "=nobody/"))
            .check(T)
            .unwrap_err()
            .code(),
        "InvalidAccessKeyId"
    );

    let hangzhou = AuthConfig {
        region: Some("cn-hangzhou".into()),
        ..AuthConfig::default()
    };
    assert!(
        v4_put_object(V4_PUT_AUTH)
            .check_with(&store(), T, &hangzhou)
            .is_ok()
    );
    let beijing = AuthConfig {
        region: Some("cn-beijing".into()),
        ..AuthConfig::default()
    };
    let err = v4_put_object(V4_PUT_AUTH)
        .check_with(&store(), T, &beijing)
        .unwrap_err();
    assert_eq!((err.code(), err.ec()), ("InvalidArgument", Some("0002-00000226")));

    let malformed = [
        V4_PUT_AUTH.replace("AdditionalHeaders=host", "AdditionalHeaders=host;"),
        V4_PUT_AUTH.replace("/aliyun_v4_request", "/aws4_request"),
        V4_PUT_AUTH.replace("/20240102/", "/2024-01-02/"),
        V4_PUT_AUTH.replace("/20240102/", "/20240103/"),
        V4_PUT_AUTH.replace(",Signature=", ",Signature=,X="),
        V4_PUT_AUTH.replace(
            "Credential=",
            "Credential=ak/20240102/cn-hangzhou/oss/aliyun_v4_request,Credential=",
        ),
        "OSS4-HMAC-SHA256 Signature=abc".to_owned(),
    ];
    for auth in malformed {
        let err = v4_put_object(&auth).check(T).unwrap_err();
        assert_eq!(err.code(), "InvalidArgument", "{auth}");
    }
}

const V4_PRESIGNED: &str = "x-oss-signature-version=OSS4-HMAC-SHA256&x-oss-date=20240102T030405Z&x-oss-expires=900&x-oss-credential=ak%2F20240102%2Fcn-hangzhou%2Foss%2Faliyun_v4_request&x-oss-signature=1d0c0cd1c7698a7092de3850c2589b52b4187d7e62d32245460ecc4798357dd1";

#[test]
fn v4_presigned_vector_and_expiry() {
    let req = Req::new(Method::GET, "/bkt/obj", V4_PRESIGNED, HeaderMap::new()).key("obj");
    assert_eq!(req.check(T), signed(SignatureScheme::V4Presigned));
    assert!(req.check(T + 900).is_ok());
    let err = req.check(T + 901).unwrap_err();
    assert_eq!(
        (err.code(), err.message().as_str()),
        ("AccessDenied", "Request has expired.")
    );
    assert_eq!(req.check(T - 901).unwrap_err().code(), "RequestTimeTooSkewed");

    let m = mismatch(
        Req::new(Method::HEAD, "/bkt/obj", V4_PRESIGNED, HeaderMap::new())
            .key("obj")
            .check(T),
    );
    let canonical = String::from_utf8(m.canonical_request.unwrap()).unwrap();
    assert_eq!(
        canonical.lines().nth(2),
        Some(
            "x-oss-credential=ak%2F20240102%2Fcn-hangzhou%2Foss%2Faliyun_v4_request&x-oss-date=20240102T030405Z&x-oss-expires=900&x-oss-signature-version=OSS4-HMAC-SHA256"
        )
    );
}

#[test]
fn v4_presigned_parameter_errors() {
    let too_long = V4_PRESIGNED.replace("x-oss-expires=900", "x-oss-expires=604801");
    let err = Req::new(Method::GET, "/bkt/obj", &too_long, HeaderMap::new())
        .key("obj")
        .check(T)
        .unwrap_err();
    assert_eq!(err.code(), "InvalidArgument");

    let missing = V4_PRESIGNED.replace("x-oss-date=20240102T030405Z&", "");
    let err = Req::new(Method::GET, "/bkt/obj", &missing, HeaderMap::new())
        .key("obj")
        .check(T)
        .unwrap_err();
    assert_eq!(err.code(), "AccessDenied");

    let oss2 =
        "x-oss-signature-version=OSS2&x-oss-access-key-id=ak&x-oss-expires=1704165545&x-oss-signature=x";
    assert_eq!(
        Req::new(Method::GET, "/bkt/obj", oss2, HeaderMap::new())
            .key("obj")
            .check(T)
            .unwrap_err()
            .code(),
        "InvalidArgument"
    );
}

#[test]
fn two_phase_api_exposes_the_key_before_lookup() {
    let req = v4_put_object(V4_PUT_AUTH);
    let view = RequestView {
        method: &req.method,
        raw_path: &req.path,
        raw_query: &req.query,
        headers: &req.headers,
        bucket: req.bucket,
        key: req.key,
    };
    let claim = read_signature(&view, at(T), &AuthConfig::default())
        .unwrap()
        .unwrap();
    assert_eq!(
        (claim.access_key_id(), claim.scheme()),
        ("ak", SignatureScheme::V4Header)
    );
    assert!(claim.verify(&Credential::new("sk")).is_ok());
    let err = claim.verify(&Credential::new("sk2")).unwrap_err();
    assert_eq!(err.code(), "SignatureDoesNotMatch");
    assert!(!format!("{err:?}{}", err.message()).contains("sk2"));
}

#[test]
fn client_signature_verifies() {
    use http::HeaderValue;
    let mut headers = HeaderMap::new();
    headers.insert("date", HeaderValue::from_static("Tue, 02 Jan 2024 03:04:05 GMT"));
    headers.insert("x-oss-meta-a", HeaderValue::from_static("1"));
    fn view(headers: &HeaderMap) -> RequestView<'_> {
        RequestView {
            method: &Method::PUT,
            raw_path: "/bkt/dir/a%20b",
            raw_query: "partNumber=1&uploadId=u1",
            headers,
            bucket: Some("bkt"),
            key: Some("dir/a b"),
        }
    }
    let auth = sign_v1_authorization(&view(&headers), "ak", b"sk");
    headers.insert("authorization", HeaderValue::from_str(&auth).unwrap());
    let view = view(&headers);
    let now = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_704_164_645);
    let claim = read_signature(&view, now, &AuthConfig::default())
        .unwrap()
        .unwrap();
    claim.verify(&Credential::new("sk")).unwrap();
    assert!(claim.verify(&Credential::new("other")).is_err());
}
