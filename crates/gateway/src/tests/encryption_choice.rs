//! Effective encryption = the request's SSE headers, else the bucket default, else none; a copy never inherits
//! its source's encryption; changing the default leaves existing objects alone. Every row writes, reads back
//! byte-exact and checks what GetObject and HeadObject echo.

use cang_kms_api::KeySpec;
use http::{Method, StatusCode};

use crate::testing::{Answer, Harness};

const SSE: &str = "x-oss-server-side-encryption";
const KEY_ID: &str = "x-oss-server-side-encryption-key-id";

/// What an object's reads must echo.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Echo {
    None,
    Aes256,
    Sm4,
    /// KMS under the account's managed key (`alias/acs/oss`), whose id is echoed.
    KmsManaged,
    /// KMS under the row's customer key.
    KmsCmk,
}

fn check_echo(answer: &Answer, expected: Echo, cmk: &str, row: &str) {
    let sse = answer.header(SSE);
    let key_id = answer.header(KEY_ID);
    match expected {
        Echo::None => assert_eq!((sse, key_id), (None, None), "{row}"),
        Echo::Aes256 => assert_eq!((sse, key_id), (Some("AES256"), None), "{row}"),
        Echo::Sm4 => assert_eq!((sse, key_id), (Some("SM4"), None), "{row}"),
        Echo::KmsCmk => assert_eq!((sse, key_id), (Some("KMS"), Some(cmk)), "{row}"),
        Echo::KmsManaged => {
            assert_eq!(sse, Some("KMS"), "{row}");
            let id = key_id.unwrap_or_else(|| panic!("{row}: no key id echoed"));
            assert!(
                !id.is_empty() && id != cmk && !id.starts_with("alias/"),
                "{row}: key id {id}"
            );
        }
    }
}

/// Replaces `CMK` in a header value with the row's customer key id.
fn headers<'a>(row: &'a [(&'a str, &'a str)], cmk: &'a str) -> Vec<(&'a str, &'a str)> {
    row.iter()
        .map(|(name, value)| (*name, if *value == "CMK" { cmk } else { value }))
        .collect()
}

async fn put_and_read(h: &Harness, path: &str, put: &[(&str, &str)], expected: Echo, cmk: &str, row: &str) {
    let body = format!("object body of {row}").into_bytes();
    let put = h.root(Method::PUT, path, put, body.clone()).await;
    assert_eq!(put.status, StatusCode::OK, "{row}: PutObject {:?}", put.code());
    check_echo(&put, expected, cmk, &format!("{row} (PutObject)"));
    let get = h.root(Method::GET, path, &[], "").await;
    assert_eq!(get.status, StatusCode::OK, "{row}: GetObject {:?}", get.code());
    assert_eq!(get.body.as_ref(), body.as_slice(), "{row}: bytes");
    check_echo(&get, expected, cmk, &format!("{row} (GetObject)"));
    let head = h.root(Method::HEAD, path, &[], "").await;
    check_echo(&head, expected, cmk, &format!("{row} (HeadObject)"));
}

#[tokio::test]
async fn request_headers_win_over_the_bucket_default() {
    let h = Harness::start().await;
    let cmk = h.cmk(KeySpec::Aes256).await;
    type Headers = &'static [(&'static str, &'static str)];
    // (bucket default, PutObject headers, what reads echo)
    let table: [(Headers, Headers, Echo); 9] = [
        (&[], &[], Echo::None),
        (&[], &[(SSE, "AES256")], Echo::Aes256),
        (&[], &[(SSE, "SM4")], Echo::Sm4),
        (&[], &[(SSE, "KMS")], Echo::KmsManaged),
        (&[(SSE, "AES256")], &[], Echo::Aes256),
        (&[(SSE, "AES256")], &[(SSE, "KMS"), (KEY_ID, "CMK")], Echo::KmsCmk),
        (&[(SSE, "KMS"), (KEY_ID, "CMK")], &[], Echo::KmsCmk),
        (&[(SSE, "KMS"), (KEY_ID, "CMK")], &[(SSE, "SM4")], Echo::Sm4),
        (&[(SSE, "SM4")], &[], Echo::Sm4),
    ];
    for (i, (default, put, expected)) in table.into_iter().enumerate() {
        let row = format!("row {i}: default {default:?}, put {put:?}");
        let bucket = format!("choice-{i}");
        h.bucket(&bucket, &headers(default, &cmk)).await;
        put_and_read(
            &h,
            &format!("/{bucket}/object"),
            &headers(put, &cmk),
            expected,
            &cmk,
            &row,
        )
        .await;
    }
}

#[tokio::test]
async fn a_copy_takes_its_own_headers_or_the_target_default_never_the_source() {
    let h = Harness::start().await;
    let cmk = h.cmk(KeySpec::Aes256).await;
    h.bucket("copy-src", &[(SSE, "KMS"), (KEY_ID, &cmk)]).await;
    h.bucket("copy-plain", &[]).await;
    h.bucket("copy-sm4", &[(SSE, "SM4")]).await;
    let put = h.root(Method::PUT, "/copy-src/source", &[], "copied bytes").await;
    assert_eq!(put.status, StatusCode::OK);
    check_echo(&put, Echo::KmsCmk, &cmk, "source");
    type Headers = &'static [(&'static str, &'static str)];
    // (target, CopyObject headers besides the source, what reads of the copy echo)
    let table: [(&str, Headers, Echo); 4] = [
        ("/copy-plain/copy", &[], Echo::None),
        ("/copy-plain/copy-aes", &[(SSE, "AES256")], Echo::Aes256),
        ("/copy-sm4/copy", &[], Echo::Sm4),
        (
            "/copy-sm4/copy-kms",
            &[(SSE, "KMS"), (KEY_ID, "CMK")],
            Echo::KmsCmk,
        ),
    ];
    for (target, extra, expected) in table {
        let mut with_source = headers(extra, &cmk);
        with_source.push(("x-oss-copy-source", "/copy-src/source"));
        let copy = h.root(Method::PUT, target, &with_source, "").await;
        assert_eq!(
            copy.status,
            StatusCode::OK,
            "{target}: CopyObject {:?}",
            copy.code()
        );
        let get = h.root(Method::GET, target, &[], "").await;
        assert_eq!(get.body.as_ref(), b"copied bytes", "{target}");
        check_echo(&get, expected, &cmk, target);
    }
}

#[tokio::test]
async fn changing_the_default_leaves_existing_objects_alone() {
    let h = Harness::start().await;
    h.bucket("later", &[(SSE, "AES256")]).await;
    let put = h.root(Method::PUT, "/later/before", &[], "old").await;
    assert_eq!(put.status, StatusCode::OK);
    let rule = "<ServerSideEncryptionRule><ApplyServerSideEncryptionByDefault>\
                <SSEAlgorithm>SM4</SSEAlgorithm></ApplyServerSideEncryptionByDefault></ServerSideEncryptionRule>";
    let set = h.root(Method::PUT, "/later?encryption", &[], rule).await;
    assert_eq!(set.status, StatusCode::OK, "PutBucketEncryption {:?}", set.code());
    let before = h.root(Method::GET, "/later/before", &[], "").await;
    assert_eq!(before.body.as_ref(), b"old");
    check_echo(&before, Echo::Aes256, "", "object written before the change");
    put_and_read(
        &h,
        "/later/after",
        &[],
        Echo::Sm4,
        "",
        "object written after the change",
    )
    .await;
    let delete = h.root(Method::DELETE, "/later?encryption", &[], "").await;
    assert_eq!(delete.status, StatusCode::NO_CONTENT);
    put_and_read(
        &h,
        "/later/none",
        &[],
        Echo::None,
        "",
        "object written after DeleteBucketEncryption",
    )
    .await;
    let before = h.root(Method::HEAD, "/later/before", &[], "").await;
    check_echo(&before, Echo::Aes256, "", "the first object, after both changes");
}
