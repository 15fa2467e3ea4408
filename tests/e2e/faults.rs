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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kms_restart_leaves_every_object_readable_and_a_disabled_key_bites_after_the_cache_lifetime() {
    use cang_gateway::{GatewayConfig, KeyCacheLimits};
    use cang_kms_api::{AccountId, KeyRef};
    let cache = std::time::Duration::from_secs(2);
    let config = GatewayConfig {
        key_cache: KeyCacheLimits {
            unwrapped_ttl: cache,
            bucket_key_ttl: cache,
            ..KeyCacheLimits::default()
        },
        // Bucket keys: the gateway caches the data keys of a CMK's objects (per-object keys are unwrapped, and
        // audited, on every read).
        bucket_keys_for_kms: true,
        ..GatewayConfig::default()
    };
    let mut cluster = Cluster::start_with(config).await.expect("cluster");
    let root = cluster.root.clone();
    let key = crate::http::customer_key(&cluster, "cached").await;
    let cmk = key.key_id.as_str().to_owned();
    create_bucket(
        &cluster,
        &root,
        "cached",
        &[
            ("x-oss-server-side-encryption", "KMS"),
            ("x-oss-server-side-encryption-key-id", cmk.as_str()),
        ],
    )
    .await;
    let bucket = op(&cluster, &root, "cached");
    for i in 0..4 {
        bucket
            .write(&format!("k{i}"), vec![i; 5000])
            .await
            .expect("write");
        // Read once: its unwrapped data key is now cached.
        assert_eq!(
            bucket.read(&format!("k{i}")).await.expect("read").to_vec(),
            vec![i; 5000]
        );
    }

    // The crypto service restarts (its data keys cached in the gateway meanwhile): everything still reads,
    // from the cache while it is down, and through the restarted service after.
    cluster.stop_kms().await;
    assert_eq!(
        bucket.read("k0").await.expect("a cached key reads").to_vec(),
        vec![0; 5000]
    );
    cluster.start_kms().await.expect("restart kms");
    tokio::time::sleep(cache + std::time::Duration::from_millis(500)).await;
    for i in 0..4 {
        let mut attempts = 0;
        loop {
            match bucket.read(&format!("k{i}")).await {
                Ok(data) => {
                    assert_eq!(data.to_vec(), vec![i; 5000]);
                    break;
                }
                Err(e) => {
                    attempts += 1;
                    assert!(attempts < 100, "k{i} unreadable after the restart: {e}");
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                }
            }
        }
    }

    // Disabled: a read within the cache lifetime may still be served; past it, the key bites.
    let account = AccountId::new(cluster.account.clone()).expect("account");
    cluster
        .kms_admin
        .disable_key(&account, &KeyRef::Id(key.key_id.clone()))
        .await
        .expect("disable");
    tokio::time::sleep(cache + std::time::Duration::from_millis(500)).await;
    let get = raw(
        &cluster,
        &root,
        "GET",
        "/cached/k1",
        "",
        "/cached/k1",
        &[],
        Vec::new(),
    )
    .await;
    assert_eq!(
        get.status(),
        StatusCode::CONFLICT,
        "past the cache lifetime the disabled key refuses"
    );
    assert!(
        get.text()
            .await
            .unwrap_or_default()
            .contains("<Code>KeyDisabled</Code>")
    );
    let put = raw(
        &cluster,
        &root,
        "PUT",
        "/cached/new",
        "",
        "/cached/new",
        &[],
        b"x".to_vec(),
    )
    .await;
    assert_eq!(put.status(), StatusCode::CONFLICT);
}
