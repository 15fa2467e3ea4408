//! What a client sees when a request is refused, through the whole pipeline: the exact OSS code and status,
//! a request id on every error, the names from the route, and nothing written by a refused write.

use cang_oss::ErrorCode;
use http::{Method, StatusCode};

use crate::testing::{Caller, Harness};

const SSE: &str = "x-oss-server-side-encryption";
const KEY_ID: &str = "x-oss-server-side-encryption-key-id";

#[tokio::test]
async fn each_refusal_has_its_oss_code_and_status() {
    let h = Harness::start().await;
    h.bucket("private", &[]).await;
    let stored = h.root(Method::PUT, "/private/kept", &[], "kept").await;
    assert_eq!(stored.status, StatusCode::OK);
    let wrong_secret = Caller::Key(h.root_key_id(), "not-the-secret".to_owned());
    let unknown_key = Caller::Key("LTAINOSUCHKEY0000000000".to_owned(), "whatever".to_owned());
    const MISSING_CMK: &str = "0b4f2d8e-1c3a-4e5f-9a6b-7c8d9e0f1a2b";
    type Headers = &'static [(&'static str, &'static str)];
    // (caller, method, path, headers, code, a key the refused write must not have created)
    type Row = (
        Caller,
        Method,
        &'static str,
        Headers,
        ErrorCode,
        Option<&'static str>,
    );
    let table: Vec<Row> = vec![
        (
            Caller::Anonymous,
            Method::GET,
            "/nowhere/k",
            &[],
            ErrorCode::NoSuchBucket,
            None,
        ),
        (
            Caller::Root,
            Method::GET,
            "/nowhere/k",
            &[],
            ErrorCode::NoSuchBucket,
            None,
        ),
        (
            Caller::Root,
            Method::GET,
            "/private/absent",
            &[],
            ErrorCode::NoSuchKey,
            None,
        ),
        (
            Caller::Anonymous,
            Method::GET,
            "/private/kept",
            &[],
            ErrorCode::AccessDenied,
            None,
        ),
        (
            Caller::Anonymous,
            Method::PUT,
            "/private/anon",
            &[],
            ErrorCode::AccessDenied,
            Some("/private/anon"),
        ),
        (
            wrong_secret.clone(),
            Method::GET,
            "/private/kept",
            &[],
            ErrorCode::SignatureDoesNotMatch,
            None,
        ),
        (
            wrong_secret,
            Method::PUT,
            "/private/forged",
            &[],
            ErrorCode::SignatureDoesNotMatch,
            Some("/private/forged"),
        ),
        (
            unknown_key,
            Method::GET,
            "/private/kept",
            &[],
            ErrorCode::InvalidAccessKeyId,
            None,
        ),
        (
            Caller::Root,
            Method::PUT,
            "/private/bad-sse",
            &[(SSE, "DES")],
            ErrorCode::InvalidEncryptionAlgorithmError,
            Some("/private/bad-sse"),
        ),
        (
            Caller::Root,
            Method::PUT,
            "/private/no-cmk",
            &[(SSE, "KMS"), (KEY_ID, MISSING_CMK)],
            ErrorCode::KeyNotFound,
            Some("/private/no-cmk"),
        ),
        (
            Caller::Root,
            Method::PUT,
            "/private/part?partNumber=1&uploadId=0123456789abcdef",
            &[],
            ErrorCode::NoSuchUpload,
            None,
        ),
        (
            Caller::Root,
            Method::DELETE,
            "/private",
            &[],
            ErrorCode::BucketNotEmpty,
            None,
        ),
    ];
    for (caller, method, path, headers, code, absent) in table {
        let row = format!("{caller:?} {method} {path}");
        let answer = h.send(&caller, method, path, headers, "body").await;
        assert_eq!(answer.code().as_deref(), Some(code.as_str()), "{row}");
        assert_eq!(answer.status, code.status(), "{row}");
        let request_id = answer.header("x-oss-request-id").unwrap_or_default().to_owned();
        assert_eq!(request_id.len(), 24, "{row}: request id header");
        let body = String::from_utf8_lossy(&answer.body).into_owned();
        assert!(
            body.contains(&format!("<RequestId>{request_id}</RequestId>")),
            "{row}: {body}"
        );
        if let Some(absent) = absent {
            let head = h.root(Method::HEAD, absent, &[], "").await;
            assert_eq!(
                head.status,
                StatusCode::NOT_FOUND,
                "{row}: the refused write left an object"
            );
        }
    }
    let kept = h.root(Method::GET, "/private/kept", &[], "").await;
    assert_eq!(
        kept.body.as_ref(),
        b"kept",
        "the bucket's object survives every refusal"
    );
}

#[tokio::test]
async fn error_messages_name_the_route() {
    let h = Harness::start().await;
    h.bucket("named", &[]).await;
    let answer = h.root(Method::GET, "/named/dir/missing.txt", &[], "").await;
    let body = String::from_utf8_lossy(&answer.body).into_owned();
    assert!(body.contains("<Key>dir/missing.txt</Key>"), "{body}");
    let answer = h.root(Method::GET, "/absent-bucket/k", &[], "").await;
    let body = String::from_utf8_lossy(&answer.body).into_owned();
    assert!(body.contains("<BucketName>absent-bucket</BucketName>"), "{body}");
}

/// The guide's permission notes: a RAM user needs `kms:GenerateDataKey` to upload and `kms:Decrypt` to
/// download under a customer key, on top of the OSS actions; SSE-OSS objects need neither.
#[tokio::test]
async fn a_ram_user_needs_the_kms_actions_for_customer_keys() {
    let h = Harness::start().await;
    let cmk = h.cmk(cang_kms_api::KeySpec::Aes256).await;
    h.bucket("ram", &[]).await;
    let oss_only = r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":["oss:PutObject","oss:GetObject"],"Resource":"*"}]}"#;
    let upload_only = r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":["oss:PutObject","oss:GetObject","kms:GenerateDataKey"],"Resource":"*"}]}"#;
    let both = r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":["oss:PutObject","oss:GetObject","kms:GenerateDataKey","kms:Decrypt"],"Resource":"*"}]}"#;
    let users = [
        ("oss-only", h.ram_user("oss-only", oss_only).await),
        ("upload-only", h.ram_user("upload-only", upload_only).await),
        ("both", h.ram_user("both", both).await),
    ];
    let cmk_headers = [(SSE, "KMS"), (KEY_ID, cmk.as_str())];
    let put = h
        .root(Method::PUT, "/ram/by-root", &cmk_headers, "secret bytes")
        .await;
    assert_eq!(put.status, StatusCode::OK);
    // (user, may upload under the CMK, may download the CMK object)
    let table = [
        ("oss-only", false, false),
        ("upload-only", true, false),
        ("both", true, true),
    ];
    for ((name, caller), (row, upload, download)) in users.iter().zip(table) {
        assert_eq!(*name, row);
        let path = format!("/ram/{name}");
        let answer = h.send(caller, Method::PUT, &path, &cmk_headers, "bytes").await;
        let expected = if upload {
            None
        } else {
            Some(ErrorCode::AccessDenied.as_str().to_owned())
        };
        assert_eq!(answer.code(), expected, "{name}: upload under the CMK");
        if !upload {
            assert_eq!(
                h.root(Method::HEAD, &path, &[], "").await.status,
                StatusCode::NOT_FOUND,
                "{name}"
            );
        }
        let answer = h.send(caller, Method::GET, "/ram/by-root", &[], "").await;
        let expected = if download {
            None
        } else {
            Some(ErrorCode::AccessDenied.as_str().to_owned())
        };
        assert_eq!(answer.code(), expected, "{name}: download of the CMK object");
        if download {
            assert_eq!(answer.body.as_ref(), b"secret bytes", "{name}");
        }
        // SSE-OSS needs no KMS permission at all.
        let plain = format!("/ram/{name}-aes");
        let answer = h
            .send(caller, Method::PUT, &plain, &[(SSE, "AES256")], "aes")
            .await;
        assert_eq!(answer.status, StatusCode::OK, "{name}: SSE-OSS upload");
        let answer = h.send(caller, Method::GET, &plain, &[], "").await;
        assert_eq!(answer.body.as_ref(), b"aes", "{name}: SSE-OSS download");
    }
}

/// The SDK suite's shape of the same rule: the CMK is the bucket's default and the policies name resources.
#[tokio::test]
async fn a_ram_user_without_generate_data_key_is_refused_by_kms_under_a_default_cmk() {
    let h = Harness::start().await;
    let cmk = h.cmk(cang_kms_api::KeySpec::Aes256).await;
    h.bucket("ramdef", &[(SSE, "KMS"), (KEY_ID, cmk.as_str())]).await;
    let account = crate::testing::ACCOUNT;
    let policy = format!(
        r#"{{"Version":"1","Statement":[
        {{"Effect":"Allow","Action":["oss:PutObject","oss:GetObject"],"Resource":["acs:oss:*:{account}:ramdef/*"]}},
        {{"Effect":"Allow","Action":["kms:List*","kms:DescribeKey"],"Resource":["acs:kms:*:{account}:*"]}}]}}"#
    );
    let user = h.ram_user("no-gdk", &policy).await;
    let answer = h
        .send(&user, Method::PUT, "/ramdef/secret", &[], "classified")
        .await;
    let body = String::from_utf8_lossy(&answer.body).into_owned();
    assert_eq!(answer.code().as_deref(), Some("AccessDenied"), "{body}");
    assert!(body.contains("forbidden by kms"), "{body}");
    assert_eq!(
        h.root(Method::HEAD, "/ramdef/secret", &[], "").await.status,
        StatusCode::NOT_FOUND
    );
}
