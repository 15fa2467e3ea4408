//! Routing tables taken from the addressing examples of §1 and the operations of §4–§7.

use http::{HeaderMap, HeaderValue, Method};
use proptest::prelude::*;

use super::*;
use crate::error::ErrorCode;

fn router() -> Router<impl CnameResolver> {
    Router::new(["localhost", "oss-local.test"])
        .with_cname(|host: &str| (host == "files.example.com").then(|| "cnamebkt".to_owned()))
}

fn route(method: Method, host: &str, target: &str) -> Result<Route, OssError> {
    route_with(method, host, target, &HeaderMap::new())
}

fn route_with(method: Method, host: &str, target: &str, headers: &HeaderMap) -> Result<Route, OssError> {
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    router().route(&method, Some(host), path, query, headers)
}

fn ok(method: Method, host: &str, target: &str) -> Route {
    match route(method, host, target) {
        Ok(route) => route,
        Err(err) => panic!("{target} on {host}: {err}"),
    }
}

fn err_code(method: Method, host: &str, target: &str) -> Option<ErrorCode> {
    route(method, host, target).err().map(|e| e.code())
}

const IP: &str = "127.0.0.1:9000";

#[test]
fn oss2_percent_encoded_slash_stays_in_the_key() {
    let r = ok(Method::PUT, IP, "/bkt/dir%2Fa%20b%2Bc.txt");
    assert_eq!(
        r.endpoint,
        Endpoint::PutObject {
            bucket: "bkt".into(),
            key: "dir/a b+c.txt".into()
        }
    );
    assert_eq!(r.addressing, Addressing::PathStyle { trailing_slash: true });
}

#[test]
fn plus_in_the_path_is_a_literal_plus() {
    let r = ok(Method::GET, IP, "/bkt/a+b");
    assert_eq!(r.key(), Some("a+b"));
}

#[test]
fn opendal_path_style_without_trailing_slash() {
    let r = ok(
        Method::GET,
        IP,
        "/bkt?list-type=2&prefix=dir%2F&delimiter=%2F&max-keys=1000",
    );
    assert_eq!(
        r.addressing,
        Addressing::PathStyle {
            trailing_slash: false
        }
    );
    match r.endpoint {
        Endpoint::ListObjectsV2 { bucket, params } => {
            assert_eq!(bucket, "bkt");
            assert_eq!(params.prefix.as_deref(), Some("dir/"));
            assert_eq!(params.delimiter.as_deref(), Some("/"));
            assert_eq!(params.max_keys, Some(1000));
            assert!(!params.encoding_url);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn virtual_host_and_cname() {
    let r = ok(Method::GET, "bkt.localhost:9000", "/dir/a.txt");
    assert_eq!(r.addressing, Addressing::VirtualHosted);
    assert_eq!((r.bucket(), r.key()), (Some("bkt"), Some("dir/a.txt")));
    let r = ok(Method::GET, "BKT.OSS-LOCAL.TEST", "/");
    assert!(matches!(r.endpoint, Endpoint::ListObjects { ref bucket, .. } if bucket == "bkt"));
    let r = ok(Method::GET, "files.example.com", "/a/b");
    assert_eq!(r.addressing, Addressing::Cname);
    assert_eq!((r.bucket(), r.key()), (Some("cnamebkt"), Some("a/b")));
    // The base domain itself and unmapped hosts are path style.
    let r = ok(Method::GET, "localhost:9000", "/bkt/k");
    assert_eq!((r.bucket(), r.key()), (Some("bkt"), Some("k")));
    let r = ok(Method::GET, "other.example.com", "/bkt/k");
    assert_eq!(r.bucket(), Some("bkt"));
    let r = ok(Method::GET, "[::1]:9000", "/bkt/k");
    assert_eq!(r.bucket(), Some("bkt"));
}

#[test]
fn service_endpoint_with_oss2_empty_parameters() {
    let r = ok(Method::GET, IP, "/?prefix=&marker=&max-keys=100");
    assert_eq!(r.addressing, Addressing::Service);
    assert_eq!(
        r.endpoint,
        Endpoint::ListBuckets(ListBucketsParams {
            prefix: None,
            marker: None,
            max_keys: Some(100)
        })
    );
    assert_eq!(err_code(Method::PUT, IP, "/"), Some(ErrorCode::MethodNotAllowed));
}

#[test]
fn valueless_and_empty_sub_resources_select_the_same_operation() {
    for target in ["/bkt/?uploads", "/bkt/?uploads=", "/bkt?uploads"] {
        assert!(
            matches!(
                ok(Method::GET, IP, target).endpoint,
                Endpoint::ListMultipartUploads { .. }
            ),
            "{target}"
        );
    }
    for target in ["/bkt/?encryption", "/bkt/?encryption="] {
        assert!(matches!(
            ok(Method::PUT, IP, target).endpoint,
            Endpoint::PutBucketEncryption { .. }
        ));
    }
    let r = ok(
        Method::GET,
        IP,
        "/bkt/?list-type=2&continuation-token=&start-after=&encoding-type=url&fetch-owner=true",
    );
    match r.endpoint {
        Endpoint::ListObjectsV2 { params, .. } => {
            assert_eq!(params.continuation_token, None);
            assert_eq!(params.start_after, None);
            assert!(params.encoding_url && params.fetch_owner);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn bucket_operation_table() {
    let cases: &[(Method, &str, &str)] = &[
        (Method::PUT, "/bkt/", "PutBucket"),
        (Method::DELETE, "/bkt/", "DeleteBucket"),
        (Method::HEAD, "/bkt/", "HeadBucket"),
        (Method::GET, "/bkt/?bucketInfo", "GetBucketInfo"),
        (Method::GET, "/bkt/?location", "GetBucketLocation"),
        (Method::GET, "/bkt/?acl", "GetBucketAcl"),
        (Method::PUT, "/bkt/?acl", "PutBucketAcl"),
        (Method::GET, "/bkt/?stat", "GetBucketStat"),
        (Method::GET, "/bkt/?encryption", "GetBucketEncryption"),
        (Method::DELETE, "/bkt/?encryption", "DeleteBucketEncryption"),
        (
            Method::GET,
            "/bkt/?prefix=fun%2F&delimiter=%2F&marker=&max-keys=100&encoding-type=url",
            "ListObjects",
        ),
        (
            Method::POST,
            "/bkt/?delete&encoding-type=url",
            "DeleteMultipleObjects",
        ),
    ];
    for (method, target, name) in cases {
        assert_eq!(
            ok(method.clone(), IP, target).endpoint.name(),
            *name,
            "{method} {target}"
        );
    }
}

#[test]
fn object_operation_table() {
    let cases: &[(Method, &str, &str)] = &[
        (Method::GET, "/bkt/k", "GetObject"),
        (Method::HEAD, "/bkt/k", "HeadObject"),
        (Method::HEAD, "/bkt/k?objectMeta", "GetObjectMeta"),
        (Method::DELETE, "/bkt/k", "DeleteObject"),
        (Method::POST, "/bkt/k?append&position=0", "AppendObject"),
        (Method::GET, "/bkt/k?acl", "GetObjectAcl"),
        (Method::PUT, "/bkt/k?acl", "PutObjectAcl"),
        (
            Method::POST,
            "/bkt/k?uploads=&encoding-type=url",
            "InitiateMultipartUpload",
        ),
        (Method::PUT, "/bkt/k?partNumber=1&uploadId=0004B9", "UploadPart"),
        (Method::POST, "/bkt/k?uploadId=0004B9", "CompleteMultipartUpload"),
        (Method::DELETE, "/bkt/k?uploadId=0004B9", "AbortMultipartUpload"),
        (
            Method::GET,
            "/bkt/k?uploadId=0004B9&max-parts=5000&part-number-marker=3",
            "ListParts",
        ),
    ];
    for (method, target, name) in cases {
        assert_eq!(
            ok(method.clone(), IP, target).endpoint.name(),
            *name,
            "{method} {target}"
        );
    }
    let r = ok(
        Method::GET,
        IP,
        "/bkt/k?uploadId=0004B9&max-parts=5000&part-number-marker=3",
    );
    assert!(matches!(
        r.endpoint,
        Endpoint::ListParts {
            params: ListPartsParams {
                max_parts: Some(1000),
                part_number_marker: Some(3),
                ..
            },
            ..
        }
    ));
    let r = ok(Method::POST, IP, "/bkt/k?append&position=1234");
    assert!(matches!(
        r.endpoint,
        Endpoint::AppendObject { position: 1234, .. }
    ));
}

#[test]
fn copy_source_turns_put_into_copy() {
    let mut headers = HeaderMap::new();
    headers.insert("x-oss-copy-source", HeaderValue::from_static("/src/dir%2Fa.txt"));
    let r = route_with(Method::PUT, IP, "/bkt/dst", &headers).ok();
    let source = CopySource {
        bucket: "src".into(),
        key: "dir/a.txt".into(),
        version_id: None,
    };
    assert_eq!(
        r.map(|r| r.endpoint),
        Some(Endpoint::CopyObject {
            bucket: "bkt".into(),
            key: "dst".into(),
            source: source.clone()
        })
    );
    headers.insert("x-oss-copy-source-range", HeaderValue::from_static("bytes=0-99"));
    let r = route_with(Method::PUT, IP, "/bkt/dst?partNumber=2&uploadId=u1", &headers).ok();
    assert_eq!(
        r.map(|r| r.endpoint),
        Some(Endpoint::UploadPartCopy {
            bucket: "bkt".into(),
            key: "dst".into(),
            upload_id: "u1".into(),
            part_number: 2,
            source,
            source_range: Some("bytes=0-99".into()),
        })
    );
    headers.insert("x-oss-copy-source", HeaderValue::from_static("nokey"));
    let err = route_with(Method::PUT, IP, "/bkt/dst", &headers)
        .err()
        .map(|e| e.code());
    assert_eq!(err, Some(ErrorCode::InvalidArgument));
}

#[test]
fn get_object_carries_response_overrides() {
    let r = ok(
        Method::GET,
        IP,
        "/bkt/k?response-content-type=text%2Fplain&response-content-disposition=attachment%3B+filename%3Da.txt",
    );
    match r.endpoint {
        Endpoint::GetObject { overrides, .. } => {
            assert_eq!(overrides.content_type.as_deref(), Some("text/plain"));
            assert_eq!(
                overrides.content_disposition.as_deref(),
                Some("attachment; filename=a.txt")
            );
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn naming_rules() {
    assert_eq!(
        err_code(Method::GET, IP, "/Bad_Bucket/k"),
        Some(ErrorCode::InvalidBucketName)
    );
    assert_eq!(
        err_code(Method::GET, "bad_b.localhost", "/k"),
        Some(ErrorCode::InvalidBucketName)
    );
    assert_eq!(
        err_code(Method::GET, "a.b.localhost", "/k"),
        Some(ErrorCode::InvalidBucketName)
    );
    assert_eq!(
        err_code(Method::PUT, IP, "/bkt/%5Cinvalid-object-name"),
        Some(ErrorCode::InvalidObjectName)
    );
    assert_eq!(
        err_code(Method::PUT, IP, "/bkt//k"),
        Some(ErrorCode::InvalidObjectName)
    );
    let long = format!("/bkt/{}", "k".repeat(1024));
    assert_eq!(
        err_code(Method::PUT, IP, &long),
        Some(ErrorCode::InvalidObjectName)
    );
    assert_eq!(
        err_code(Method::PUT, IP, "/bkt/%FF"),
        Some(ErrorCode::InvalidObjectName)
    );
}

#[test]
fn unknown_sub_resources_are_not_implemented() {
    for (method, target) in [
        (Method::GET, "/bkt/?cors"),
        (Method::PUT, "/bkt/?lifecycle"),
        (Method::GET, "/bkt/?versions"),
        (Method::GET, "/bkt/k?tagging"),
        (Method::PUT, "/bkt/k?symlink"),
        (Method::POST, "/bkt/k?restore"),
        (Method::GET, "/bkt/k?x-oss-process=image%2Fresize"),
        (Method::GET, "/bkt/k?versionId=abc"),
    ] {
        assert_eq!(
            err_code(method.clone(), IP, target),
            Some(ErrorCode::NotImplemented),
            "{method} {target}"
        );
    }
}

#[test]
fn wrong_methods_and_bad_parameters() {
    assert_eq!(
        err_code(Method::POST, IP, "/bkt/?acl"),
        Some(ErrorCode::MethodNotAllowed)
    );
    assert_eq!(
        err_code(Method::GET, IP, "/bkt/?delete"),
        Some(ErrorCode::MethodNotAllowed)
    );
    assert_eq!(
        err_code(Method::PUT, IP, "/bkt/k?uploads"),
        Some(ErrorCode::MethodNotAllowed)
    );
    assert_eq!(
        err_code(Method::PUT, IP, "/bkt/k?partNumber=0&uploadId=u"),
        Some(ErrorCode::InvalidArgument)
    );
    assert_eq!(
        err_code(Method::PUT, IP, "/bkt/k?partNumber=10001&uploadId=u"),
        Some(ErrorCode::InvalidArgument)
    );
    assert_eq!(
        err_code(Method::PUT, IP, "/bkt/k?partNumber=1&uploadId="),
        Some(ErrorCode::InvalidArgument)
    );
    assert_eq!(
        err_code(Method::GET, IP, "/bkt/?max-keys=1001"),
        Some(ErrorCode::InvalidArgument)
    );
    assert_eq!(
        err_code(Method::GET, IP, "/bkt/?max-keys=0"),
        Some(ErrorCode::InvalidArgument)
    );
    assert_eq!(
        err_code(Method::GET, IP, "/bkt/?list-type=3"),
        Some(ErrorCode::InvalidArgument)
    );
    assert_eq!(
        err_code(Method::GET, IP, "/bkt/?encoding-type=base64"),
        Some(ErrorCode::InvalidArgument)
    );
    assert_eq!(
        err_code(Method::POST, IP, "/bkt/k?append&position=-1"),
        Some(ErrorCode::InvalidArgument)
    );
    assert_eq!(
        err_code(Method::POST, IP, "/bkt/k?append"),
        Some(ErrorCode::InvalidArgument)
    );
    assert_eq!(
        err_code(Method::GET, IP, "/bkt/?acl&encryption"),
        Some(ErrorCode::InvalidRequest)
    );
}

#[test]
fn signature_parameters_do_not_change_the_operation() {
    let r = ok(
        Method::GET,
        IP,
        "/bkt/k?OSSAccessKeyId=ak&Expires=1700000000&Signature=abc%3D&security-token=t",
    );
    assert_eq!(r.endpoint.name(), "GetObject");
    let r = ok(
        Method::GET,
        IP,
        "/bkt/k?x-oss-signature-version=OSS4-HMAC-SHA256&x-oss-credential=a%2Fb&x-oss-date=20240102T030405Z&x-oss-expires=60&x-oss-signature=ff",
    );
    assert_eq!(r.endpoint.name(), "GetObject");
}

proptest! {
    #[test]
    fn arbitrary_requests_never_panic(
        method in prop::sample::select(vec![Method::GET, Method::PUT, Method::POST, Method::DELETE, Method::HEAD, Method::OPTIONS]),
        host in ".{0,40}",
        path in "/.{0,80}",
        query in ".{0,80}",
        copy in prop::option::of(".{0,40}"),
    ) {
        let mut headers = HeaderMap::new();
        if let Some(copy) = copy.and_then(|c| HeaderValue::from_str(&c).ok()) {
            headers.insert("x-oss-copy-source", copy);
        }
        let _ = router().route(&method, Some(&host), &path, &query, &headers);
    }

    #[test]
    fn any_valid_key_survives_oss2_encoding(key in "[^/\\\\][^\\x00]{0,60}") {
        let encoded = crate::percent::encode_strict(&key);
        let r = router().route(&Method::GET, Some(IP), &format!("/bkt/{encoded}"), "", &HeaderMap::new());
        // Keys with characters XML 1.0 cannot carry are refused; every other one arrives intact.
        if key.chars().all(crate::route::names::is_xml_char) {
            prop_assert_eq!(r.ok().and_then(|r| r.key().map(str::to_owned)), Some(key));
        } else {
            prop_assert_eq!(r.err().map(|e| e.code()), Some(crate::ErrorCode::InvalidObjectName));
        }
    }
}
