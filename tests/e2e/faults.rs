//! Outages of the crypto or metadata service: 503 with nothing lost or half-written, and service resumes by
//! itself when they return.

use cang_tests::Cluster;
use reqwest::StatusCode;

use crate::http::{create_bucket, op, raw};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kms_outage_is_a_503_and_service_resumes() {
    let mut cluster = Cluster::start().await.expect("cluster");
    let root = cluster.root.clone();
    create_bucket(
        &cluster,
        &root,
        "kmsdown",
        &[("x-oss-server-side-encryption", "KMS")],
    )
    .await;
    op(&cluster, &root, "kmsdown")
        .write("before", b"written before the outage".to_vec())
        .await
        .expect("write");

    cluster.stop_kms().await;
    let put = raw(
        &cluster,
        &root,
        "PUT",
        "/kmsdown/during",
        "",
        "/kmsdown/during",
        &[],
        b"lost?".to_vec(),
    )
    .await;
    assert_eq!(put.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(
        put.text()
            .await
            .unwrap_or_default()
            .contains("<Code>ServiceUnavailable</Code>")
    );
    let get = raw(
        &cluster,
        &root,
        "GET",
        "/kmsdown/before",
        "",
        "/kmsdown/before",
        &[],
        Vec::new(),
    )
    .await;
    assert_eq!(
        get.status(),
        StatusCode::SERVICE_UNAVAILABLE,
        "a CMK-protected read needs the KMS"
    );
    // Metadata needs no key: HEAD still answers, and the failed PUT left nothing.
    let head = raw(
        &cluster,
        &root,
        "HEAD",
        "/kmsdown/before",
        "",
        "/kmsdown/before",
        &[],
        Vec::new(),
    )
    .await;
    assert_eq!(head.status(), StatusCode::OK);
    let head = raw(
        &cluster,
        &root,
        "HEAD",
        "/kmsdown/during",
        "",
        "/kmsdown/during",
        &[],
        Vec::new(),
    )
    .await;
    assert_eq!(head.status(), StatusCode::NOT_FOUND);

    cluster.start_kms().await.expect("restart kms");
    let op = op(&cluster, &root, "kmsdown");
    let mut attempts = 0;
    while op.write("after", b"written after".to_vec()).await.is_err() {
        attempts += 1;
        assert!(attempts < 100, "service did not resume");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(
        op.read("before").await.expect("read").to_vec(),
        b"written before the outage"
    );
    assert_eq!(op.read("after").await.expect("read").to_vec(), b"written after");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_meta_outage_is_a_503_and_nothing_is_half_written() {
    let mut cluster = Cluster::start().await.expect("cluster");
    let root = cluster.root.clone();
    create_bucket(
        &cluster,
        &root,
        "metadown",
        &[("x-oss-server-side-encryption", "AES256")],
    )
    .await;
    op(&cluster, &root, "metadown")
        .write("kept", vec![7u8; 200_000])
        .await
        .expect("write");

    cluster.stop_meta().await;
    let put = raw(
        &cluster,
        &root,
        "PUT",
        "/metadown/x",
        "",
        "/metadown/x",
        &[],
        vec![1u8; 100_000],
    )
    .await;
    assert_eq!(put.status(), StatusCode::SERVICE_UNAVAILABLE);

    cluster.start_meta().await.expect("restart meta");
    let op = op(&cluster, &root, "metadown");
    let mut attempts = 0;
    loop {
        match op.read("kept").await {
            Ok(data) => {
                assert_eq!(data.to_vec(), vec![7u8; 200_000]);
                break;
            }
            Err(_) if attempts < 100 => {
                attempts += 1;
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
            Err(e) => panic!("service did not resume: {e}"),
        }
    }
    let head = raw(
        &cluster,
        &root,
        "HEAD",
        "/metadown/x",
        "",
        "/metadown/x",
        &[],
        Vec::new(),
    )
    .await;
    assert_eq!(
        head.status(),
        StatusCode::NOT_FOUND,
        "the PUT during the outage left nothing"
    );
}
