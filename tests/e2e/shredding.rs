//! Crypto-shredding through the gateway: once a customer key's deletion window has passed, the key and every
//! object under it are unreadable for good, while objects under other keys are untouched.

use std::time::Duration;

use cang_kms_api::{AccountId, KeyRef, KmsError};
use reqwest::StatusCode;

use crate::http::{cluster_on_manual_clock, create_bucket, customer_key, op, raw};

const DAY: i64 = 24 * 3600;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn objects_under_a_deleted_key_are_gone_for_good() {
    let (cluster, clock) = cluster_on_manual_clock().await;
    let root = cluster.root.clone();
    let account = AccountId::new(cluster.account.clone()).expect("account");
    let key = customer_key(&cluster, "to be shredded").await;
    let key_id = key.key_id.as_str().to_owned();
    let sse = [
        ("x-oss-server-side-encryption", "KMS"),
        ("x-oss-server-side-encryption-key-id", key_id.as_str()),
    ];
    create_bucket(&cluster, &root, "doomed", &sse).await;
    create_bucket(
        &cluster,
        &root,
        "kept",
        &[("x-oss-server-side-encryption", "AES256")],
    )
    .await;
    op(&cluster, &root, "doomed")
        .write("ledger", b"under the customer key".to_vec())
        .await
        .expect("write");
    op(&cluster, &root, "kept")
        .write("ledger", b"under a service key".to_vec())
        .await
        .expect("write");

    let key_ref = KeyRef::parse(&key_id).expect("key ref");
    cluster
        .kms_admin
        .schedule_key_deletion(&account, &key_ref, 7)
        .await
        .expect("schedule");
    let get = raw(
        &cluster,
        &root,
        "GET",
        "/doomed/ledger",
        "",
        "/doomed/ledger",
        &[],
        Vec::new(),
    )
    .await;
    assert_eq!(
        get.status(),
        StatusCode::CONFLICT,
        "pending deletion refuses reads"
    );
    assert!(
        get.text()
            .await
            .unwrap_or_default()
            .contains("KeyPendingDeletion")
    );

    // The window passes; the service's maintenance deletes the key and its material.
    clock.advance(8 * DAY);
    let started = std::time::Instant::now();
    loop {
        match cluster.kms_admin.describe_key(&account, &key_ref).await {
            Err(KmsError::KeyNotFound) => break,
            other => {
                assert!(
                    started.elapsed() < Duration::from_secs(10),
                    "key not deleted: {other:?}"
                );
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
    let get = raw(
        &cluster,
        &root,
        "GET",
        "/doomed/ledger",
        "",
        "/doomed/ledger",
        &[],
        Vec::new(),
    )
    .await;
    assert_eq!(get.status(), StatusCode::NOT_FOUND);
    assert!(
        get.text()
            .await
            .unwrap_or_default()
            .contains("<Code>KeyNotFound</Code>")
    );
    assert!(
        cluster
            .kms_admin
            .cancel_key_deletion(&account, &key_ref)
            .await
            .is_err(),
        "a deleted key cannot be brought back"
    );
    // The metadata is still there; only the bytes are unrecoverable. Other keys are untouched.
    let head = raw(
        &cluster,
        &root,
        "HEAD",
        "/doomed/ledger",
        "",
        "/doomed/ledger",
        &[],
        Vec::new(),
    )
    .await;
    assert_eq!(head.status(), StatusCode::OK);
    let kept = op(&cluster, &root, "kept").read("ledger").await.expect("read");
    assert_eq!(kept.to_vec(), b"under a service key");
}
