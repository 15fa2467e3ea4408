//! Rewrap through the real keyring and metadata store: objects written by the gateway under older versions
//! of a CMK move to its primary version with one `ReEncrypt` each (one per shared bucket key), read back
//! byte-exact, and a resumed or repeated job re-encrypts nothing it already moved.

use std::collections::{BTreeMap, BTreeSet};

use cang_kms_api::{AccountId, KeyId, KeyRef, KeySpec};
use cang_meta_api::{InventoryQuery, SseAlgorithm};
use http::{Method, StatusCode};

use crate::rewrap::{self, RewrapCursor, RewrapJob, RewrapProgress};
use crate::state::GatewayConfig;
use crate::testing::{ACCOUNT, Harness};

fn job(cmk: &str) -> RewrapJob {
    RewrapJob {
        key_id: cmk.to_owned(),
        account: Some(AccountId::new(ACCOUNT).expect("account")),
        bucket: None,
        from_version: None,
        rate: None,
    }
}

pub(super) async fn put_all(h: &Harness, bucket: &str, keys: std::ops::Range<u32>) {
    for i in keys {
        let put = h
            .root(
                Method::PUT,
                &format!("/{bucket}/k-{i:02}"),
                &[],
                format!("body {i}"),
            )
            .await;
        assert_eq!(put.status, StatusCode::OK, "{:?}", put.code());
    }
}

pub(super) async fn rotate(h: &Harness, cmk: &str) -> String {
    let account = AccountId::new(ACCOUNT).expect("account");
    let key = KeyRef::Id(KeyId::new(cmk).expect("key id"));
    h.kms_admin
        .rotate_key(&account, &key)
        .await
        .expect("rotate")
        .key_version_id
}

/// Objects per version of `cmk` in the inventory.
async fn by_version(h: &Harness, cmk: &str) -> BTreeMap<String, u64> {
    let rows = h
        .meta_admin
        .key_inventory(InventoryQuery {
            bucket: None,
            key_id: Some(cmk.to_owned()),
        })
        .await
        .expect("inventory");
    rows.into_iter()
        .map(|r| {
            assert_eq!(r.algorithm, SseAlgorithm::Kms);
            (r.wrapping.expect("recorded").version_id, r.objects)
        })
        .collect()
}

async fn run(h: &Harness, job: &RewrapJob, resume: Option<RewrapCursor>) -> RewrapProgress {
    rewrap::run(
        h.meta_admin.as_ref(),
        h.kms_admin.as_ref(),
        job,
        resume,
        &mut |_| {},
    )
    .await
    .expect("rewrap")
}

pub(super) async fn reads_back(h: &Harness, bucket: &str, keys: std::ops::Range<u32>) {
    for i in keys {
        let get = h.root(Method::GET, &format!("/{bucket}/k-{i:02}"), &[], "").await;
        assert_eq!(get.status, StatusCode::OK, "{:?}", get.code());
        assert_eq!(get.body.as_ref(), format!("body {i}").as_bytes());
    }
}

#[tokio::test]
async fn objects_under_older_versions_move_to_the_primary_and_still_read() {
    let h = Harness::start().await;
    let cmk = h.cmk(KeySpec::Aes256).await;
    h.bucket(
        "rewrapped",
        &[
            ("x-oss-server-side-encryption", "KMS"),
            ("x-oss-server-side-encryption-key-id", &cmk),
        ],
    )
    .await;
    put_all(&h, "rewrapped", 0..4).await;
    rotate(&h, &cmk).await;
    put_all(&h, "rewrapped", 4..10).await;
    let newest = rotate(&h, &cmk).await;
    put_all(&h, "rewrapped", 10..12).await;
    let before = by_version(&h, &cmk).await;
    assert_eq!(
        before.values().copied().collect::<Vec<_>>().iter().sum::<u64>(),
        12
    );
    assert_eq!(before.get(&newest), Some(&2), "{before:?}");
    assert_eq!(before.len(), 3, "{before:?}");

    let done = run(&h, &job(&cmk), None).await;
    assert_eq!(
        (done.total_objects, done.rewrapped, done.current, done.changed),
        (10, 10, 2, 0)
    );
    assert_eq!(done.reencrypt_calls, 10);
    assert_eq!(done.target_version.as_deref(), Some(newest.as_str()));
    assert_eq!(by_version(&h, &cmk).await, BTreeMap::from([(newest.clone(), 12)]));
    reads_back(&h, "rewrapped", 0..12).await;

    // Done again: nothing to move, nothing re-encrypted.
    let again = run(&h, &job(&cmk), None).await;
    assert_eq!(
        (again.total_objects, again.rewrapped, again.reencrypt_calls),
        (0, 0, 0)
    );
}

#[tokio::test]
async fn a_resumed_job_finishes_the_rest_and_redoes_nothing() {
    let h = Harness::start().await;
    let cmk = h.cmk(KeySpec::Aes256).await;
    h.bucket(
        "resumed",
        &[
            ("x-oss-server-side-encryption", "KMS"),
            ("x-oss-server-side-encryption-key-id", &cmk),
        ],
    )
    .await;
    put_all(&h, "resumed", 0..10).await;
    let newest = rotate(&h, &cmk).await;
    // A run that stopped after k-03 left this cursor; resuming moves k-04 onwards.
    let cursor = RewrapCursor {
        bucket: "resumed".into(),
        after: "k-03".into(),
    };
    let tail = run(&h, &job(&cmk), Some(cursor)).await;
    assert_eq!((tail.rewrapped, tail.reencrypt_calls), (6, 6));
    assert_eq!(by_version(&h, &cmk).await.get(&newest), Some(&6));
    // From the start: only the four before the cursor are re-encrypted.
    let rest = run(&h, &job(&cmk), None).await;
    assert_eq!((rest.rewrapped, rest.current, rest.reencrypt_calls), (4, 6, 4));
    assert_eq!(by_version(&h, &cmk).await, BTreeMap::from([(newest, 10)]));
    reads_back(&h, "resumed", 0..10).await;
}

#[tokio::test]
async fn objects_sharing_a_bucket_key_are_re_encrypted_once() {
    let config = GatewayConfig {
        bucket_keys_for_kms: true,
        ..GatewayConfig::default()
    };
    let h = Harness::new(config).await;
    let cmk = h.cmk(KeySpec::Aes256).await;
    h.bucket(
        "shared",
        &[
            ("x-oss-server-side-encryption", "KMS"),
            ("x-oss-server-side-encryption-key-id", &cmk),
        ],
    )
    .await;
    put_all(&h, "shared", 0..6).await;
    let mut wrapped = BTreeSet::new();
    for i in 0..6 {
        let info = h
            .meta_admin
            .head_object("shared", &format!("k-{i:02}"))
            .await
            .expect("head");
        wrapped.insert(info.meta.sse.expect("sse").wrapped_key);
    }
    assert!(wrapped.len() < 6, "the objects share a bucket key");
    let newest = rotate(&h, &cmk).await;
    let done = run(&h, &job(&cmk), None).await;
    assert_eq!(done.rewrapped, 6);
    assert_eq!(done.reencrypt_calls, wrapped.len() as u64);
    assert_eq!(by_version(&h, &cmk).await, BTreeMap::from([(newest, 6)]));
    reads_back(&h, "shared", 0..6).await;
}

#[tokio::test]
async fn service_key_objects_already_current_cost_one_call() {
    let h = Harness::start().await;
    h.bucket("sse-oss", &[("x-oss-server-side-encryption", "AES256")])
        .await;
    put_all(&h, "sse-oss", 0..5).await;
    let job = RewrapJob {
        key_id: cang_kms_api::ServiceKeySuite::Aes256.key_id().to_owned(),
        account: None,
        ..job("unused")
    };
    let done = run(&h, &job, None).await;
    // The first object tells the primary version; every object is already under it.
    assert_eq!((done.rewrapped, done.current, done.reencrypt_calls), (0, 5, 1));
    reads_back(&h, "sse-oss", 0..5).await;
}

#[tokio::test]
async fn an_unfinished_upload_moves_too_and_completes_into_a_readable_object() {
    let h = Harness::start().await;
    let cmk = h.cmk(KeySpec::Aes256).await;
    h.bucket(
        "uploads",
        &[
            ("x-oss-server-side-encryption", "KMS"),
            ("x-oss-server-side-encryption-key-id", &cmk),
        ],
    )
    .await;
    let init = h.root(Method::POST, "/uploads/big?uploads", &[], "").await;
    assert_eq!(init.status, StatusCode::OK, "{:?}", init.code());
    let text = String::from_utf8(init.body.to_vec()).expect("xml");
    let start = text.find("<UploadId>").expect("upload id") + "<UploadId>".len();
    let upload = &text[start..start + text[start..].find('<').expect("end")];
    let part = h
        .root(
            Method::PUT,
            &format!("/uploads/big?partNumber=1&uploadId={upload}"),
            &[],
            vec![1u8; 100 * 1024],
        )
        .await;
    assert_eq!(part.status, StatusCode::OK, "{:?}", part.code());
    let etag = part.header("etag").expect("etag").to_owned();
    let newest = rotate(&h, &cmk).await;

    let done = run(&h, &job(&cmk), None).await;
    assert_eq!(
        (done.rewrapped, done.uploads_rewrapped, done.reencrypt_calls),
        (0, 1, 1)
    );
    let rows = h
        .meta_admin
        .key_inventory(InventoryQuery::default())
        .await
        .expect("inventory");
    let uploads: Vec<_> = rows
        .iter()
        .map(|r| {
            (
                r.wrapping.as_ref().map(|w| w.version_id.clone()),
                r.objects,
                r.uploads,
            )
        })
        .collect();
    assert_eq!(uploads, vec![(Some(newest.clone()), 0, 1)]);
    // A part uploaded after the rewrap and the one before open under the same data key.
    let more = h
        .root(
            Method::PUT,
            &format!("/uploads/big?partNumber=2&uploadId={upload}"),
            &[],
            "part two",
        )
        .await;
    assert_eq!(more.status, StatusCode::OK, "{:?}", more.code());
    let etag2 = more.header("etag").expect("etag").to_owned();
    let body = format!(
        "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>{etag}</ETag></Part>\
         <Part><PartNumber>2</PartNumber><ETag>{etag2}</ETag></Part></CompleteMultipartUpload>"
    );
    let complete = h
        .root(
            Method::POST,
            &format!("/uploads/big?uploadId={upload}"),
            &[],
            body,
        )
        .await;
    assert_eq!(complete.status, StatusCode::OK, "{:?}", complete.code());
    let got = h.root(Method::GET, "/uploads/big", &[], "").await;
    let mut expected = vec![1u8; 100 * 1024];
    expected.extend_from_slice(b"part two");
    assert_eq!(got.body.as_ref(), expected.as_slice());
    assert_eq!(by_version(&h, &cmk).await, BTreeMap::from([(newest, 1)]));
}
