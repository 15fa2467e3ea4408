//! Encrypting existing objects in place through the real keyring and metadata store: every kind of object
//! ends under the requested encryption with its bytes, metadata, ACL and (for PutObject objects) ETag kept;
//! appendable objects are left alone; an object overwritten meanwhile keeps the writer's data; a resumed
//! job starts after its cursor.

use std::sync::Arc;

use cang_kms_api::KeySpec;
use cang_meta_api::{ObjectType, SseAlgorithm};
use http::{Method, StatusCode};

use crate::reseal::{self, ResealJob, ResealProgress, Target};
use crate::testing::{Answer, Harness};

const SSE: &str = "x-oss-server-side-encryption";
const KEY_ID: &str = "x-oss-server-side-encryption-key-id";

fn between<'a>(text: &'a str, open: &str, close: &str) -> &'a str {
    let start = text.find(open).expect("opening tag") + open.len();
    let end = text[start..].find(close).expect("closing tag") + start;
    &text[start..end]
}

async fn multipart(h: &Harness, path: &str, parts: &[Vec<u8>], headers: &[(&str, &str)]) {
    let init = h
        .root(Method::POST, &format!("{path}?uploads"), headers, "")
        .await;
    assert_eq!(init.status, StatusCode::OK, "{:?}", init.code());
    let text = String::from_utf8(init.body.to_vec()).expect("xml");
    let upload = between(&text, "<UploadId>", "</UploadId>").to_owned();
    let mut listed = String::new();
    for (i, part) in parts.iter().enumerate() {
        let n = i + 1;
        let put = h
            .root(
                Method::PUT,
                &format!("{path}?partNumber={n}&uploadId={upload}"),
                &[],
                part.clone(),
            )
            .await;
        assert_eq!(put.status, StatusCode::OK, "{:?}", put.code());
        let etag = put.header("etag").expect("part etag").to_owned();
        listed.push_str(&format!(
            "<Part><PartNumber>{n}</PartNumber><ETag>{etag}</ETag></Part>"
        ));
    }
    let body = format!("<CompleteMultipartUpload>{listed}</CompleteMultipartUpload>");
    let done = h
        .root(Method::POST, &format!("{path}?uploadId={upload}"), &[], body)
        .await;
    assert_eq!(done.status, StatusCode::OK, "{:?}", done.code());
}

async fn run(h: &Harness, job: &ResealJob, resume: Option<String>) -> ResealProgress {
    reseal::run(
        Arc::clone(&h.kms_admin),
        Arc::clone(&h.meta_admin),
        job,
        resume,
        &mut |_| {},
    )
    .await
    .expect("encrypt existing")
}

fn job(bucket: &str, target: Target) -> ResealJob {
    ResealJob {
        bucket: bucket.to_owned(),
        prefix: String::new(),
        target,
        rate: None,
    }
}

async fn get(h: &Harness, path: &str) -> Answer {
    let got = h.root(Method::GET, path, &[], "").await;
    assert_eq!(got.status, StatusCode::OK, "{path}: {:?}", got.code());
    got
}

#[tokio::test]
async fn every_kind_of_object_ends_under_the_target_with_what_it_had() {
    let h = Harness::start().await;
    let cmk = h.cmk(KeySpec::Aes256).await;
    let other = h.cmk(KeySpec::Aes256).await;
    h.bucket("mixed", &[]).await;
    let with_meta = [
        ("content-type", "text/csv"),
        ("x-oss-meta-colour", "blue"),
        ("cache-control", "no-cache"),
        ("x-oss-object-acl", "public-read"),
    ];
    let put = |path: &'static str, body: &'static str, headers: Vec<(&'static str, &'static str)>| {
        let h = &h;
        async move {
            let put = h.root(Method::PUT, path, &headers, body).await;
            assert_eq!(put.status, StatusCode::OK, "{path}: {:?}", put.code());
            put.header("etag").expect("etag").to_owned()
        }
    };
    let plain_etag = put("/mixed/plain", "plain bytes", with_meta.to_vec()).await;
    put("/mixed/aes", "aes bytes", vec![(SSE, "AES256")]).await;
    put("/mixed/sm4", "sm4 bytes", vec![(SSE, "SM4")]).await;
    let other_headers = vec![(SSE, "KMS"), (KEY_ID, other.as_str())];
    let other_put = h
        .root(Method::PUT, "/mixed/other-cmk", &other_headers, "other cmk bytes")
        .await;
    assert_eq!(other_put.status, StatusCode::OK);
    let already = vec![(SSE, "KMS"), (KEY_ID, cmk.as_str())];
    let already_put = h
        .root(Method::PUT, "/mixed/already", &already, "already bytes")
        .await;
    let already_modified = h
        .meta_admin
        .head_object("mixed", "already")
        .await
        .expect("head")
        .last_modified_ms;
    assert_eq!(already_put.status, StatusCode::OK);
    let parts = vec![vec![7u8; 100 * 1024], vec![8u8; 1000]];
    multipart(&h, "/mixed/multi", &parts, &[(SSE, "AES256")]).await;
    let append = h
        .root(Method::POST, "/mixed/log?append&position=0", &[], "appended")
        .await;
    assert_eq!(append.status, StatusCode::OK, "{:?}", append.code());

    let to_cmk = job(
        "mixed",
        Target::Kms {
            key: Some(cmk.clone()),
            sm4_data: false,
        },
    );
    let done = run(&h, &to_cmk, None).await;
    assert_eq!(
        (done.resealed, done.current, done.appendable, done.changed),
        (5, 1, 1, 0),
        "{done:?}"
    );
    // The inventory knew beforehand: everything but the one already under the CMK.
    assert_eq!(done.total_objects, Some(6));
    for (key, body) in [
        ("plain", b"plain bytes".to_vec()),
        ("aes", b"aes bytes".to_vec()),
        ("sm4", b"sm4 bytes".to_vec()),
        ("other-cmk", b"other cmk bytes".to_vec()),
        ("already", b"already bytes".to_vec()),
        ("multi", parts.concat()),
    ] {
        let got = get(&h, &format!("/mixed/{key}")).await;
        assert_eq!(got.body.as_ref(), body.as_slice(), "{key}");
        assert_eq!(
            (got.header(SSE), got.header(KEY_ID)),
            (Some("KMS"), Some(cmk.as_str())),
            "{key}"
        );
    }
    // Metadata, ACL and the ETag of a PutObject object are kept.
    let plain = get(&h, "/mixed/plain").await;
    assert_eq!(plain.header("etag"), Some(plain_etag.as_str()));
    assert_eq!(plain.header("content-type"), Some("text/csv"));
    assert_eq!(plain.header("x-oss-meta-colour"), Some("blue"));
    assert_eq!(plain.header("cache-control"), Some("no-cache"));
    let anonymous = h
        .send(
            &crate::testing::Caller::Anonymous,
            Method::GET,
            "/mixed/plain",
            &[],
            "",
        )
        .await;
    assert_eq!(
        anonymous.status,
        StatusCode::OK,
        "the public-read object ACL is kept"
    );
    // The object already under the CMK was not rewritten; a multipart object becomes a normal one.
    let info = h.meta_admin.head_object("mixed", "already").await.expect("head");
    assert_eq!(info.last_modified_ms, already_modified);
    let multi = h.meta_admin.head_object("mixed", "multi").await.expect("head");
    assert_eq!(multi.object_type, ObjectType::Normal);
    // The appendable object is as it was, and still appendable.
    let log = get(&h, "/mixed/log").await;
    assert_eq!((log.body.as_ref(), log.header(SSE)), (&b"appended"[..], None));
    let more = h
        .root(Method::POST, "/mixed/log?append&position=8", &[], "+")
        .await;
    assert_eq!(more.status, StatusCode::OK, "{:?}", more.code());
    // Nothing left to do.
    let again = run(&h, &to_cmk, None).await;
    // (The inventory does not tell appendable objects apart: the one left alone still counts.)
    assert_eq!(
        (
            again.resealed,
            again.current,
            again.appendable,
            again.total_objects
        ),
        (0, 6, 1, Some(1))
    );
}

#[tokio::test]
async fn the_bucket_default_is_the_target_and_a_resumed_job_starts_after_its_cursor() {
    let h = Harness::start().await;
    h.bucket("later", &[]).await;
    for i in 0..6 {
        let put = h
            .root(Method::PUT, &format!("/later/k-{i}"), &[], format!("body {i}"))
            .await;
        assert_eq!(put.status, StatusCode::OK);
    }
    assert!(matches!(
        reseal::run(
            Arc::clone(&h.kms_admin),
            Arc::clone(&h.meta_admin),
            &job("later", Target::BucketDefault),
            None,
            &mut |_| {}
        )
        .await,
        Err(reseal::ResealError::NoDefault(_))
    ));
    let rule = "<ServerSideEncryptionRule><ApplyServerSideEncryptionByDefault><SSEAlgorithm>SM4</SSEAlgorithm></ApplyServerSideEncryptionByDefault></ServerSideEncryptionRule>";
    let set = h.root(Method::PUT, "/later?encryption", &[], rule).await;
    assert_eq!(set.status, StatusCode::OK, "{:?}", set.code());
    let tail = run(&h, &job("later", Target::BucketDefault), Some("k-2".into())).await;
    assert_eq!((tail.resealed, tail.target), (3, Some((SseAlgorithm::Sm4, None))));
    assert_eq!(get(&h, "/later/k-1").await.header(SSE), None);
    let rest = run(&h, &job("later", Target::BucketDefault), None).await;
    assert_eq!((rest.resealed, rest.current), (3, 3));
    for i in 0..6 {
        let got = get(&h, &format!("/later/k-{i}")).await;
        assert_eq!(
            (got.body.as_ref(), got.header(SSE)),
            (format!("body {i}").as_bytes(), Some("SM4"))
        );
    }
}

#[tokio::test]
async fn an_object_overwritten_meanwhile_keeps_the_writers_data() {
    let h = Harness::start().await;
    h.bucket("raced", &[]).await;
    let put = h.root(Method::PUT, "/raced/k", &[], "old").await;
    assert_eq!(put.status, StatusCode::OK);
    let read = h.meta_admin.head_object("raced", "k").await.expect("head");
    // A client overwrites the object after the job read it.
    let put = h.root(Method::PUT, "/raced/k", &[], "new").await;
    assert_eq!(put.status, StatusCode::OK);
    let bucket = h.meta_admin.get_bucket("raced").await.expect("bucket");
    let gw = crate::state::Gateway::new(
        Default::default(),
        Arc::clone(&h.kms_admin),
        Arc::clone(&h.meta_admin),
    );
    let rule = cang_oss::headers::sse::SseRule {
        algorithm: cang_oss::headers::sse::SseAlgorithm::Aes256,
        kms_key_id: None,
        data_encryption: None,
    };
    let call = reseal::owner_call(&bucket);
    let committed = reseal::reseal(&gw, &call, &bucket.owner, &read, &rule)
        .await
        .expect("reseal");
    assert!(
        !committed,
        "the stale version is not re-encrypted over the new one"
    );
    let got = get(&h, "/raced/k").await;
    assert_eq!((got.body.as_ref(), got.header(SSE)), (&b"new"[..], None));
}
