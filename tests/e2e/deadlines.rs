//! Slow and hung peers: with latency injected between the gateway and kms or meta, requests slow down but
//! succeed; with a peer that holds every byte, requests fail with 503 at their deadline instead of hanging,
//! nothing half-written appears, and service resumes by itself when the peer recovers.

use std::time::Duration;

use cang_gateway::GatewayConfig;
use cang_tests::Cluster;
use reqwest::StatusCode;

use crate::http::{Raw, create_bucket, op};

const KMS_DEADLINE: Duration = Duration::from_secs(2);
const META_DEADLINE: Duration = Duration::from_secs(2);
/// A bound on each request so that a regression fails instead of hanging (not a latency assertion).
const HANG_GUARD: Duration = Duration::from_secs(60);

async fn cluster() -> Cluster {
    // Access keys are looked up on every request, so a hung peer is met by each of them.
    let config = GatewayConfig {
        access_key_ttl: Duration::ZERO,
        ..GatewayConfig::default()
    };
    Cluster::start_behind_proxies(config, KMS_DEADLINE, META_DEADLINE)
        .await
        .expect("cluster")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_peers_slow_requests_down_without_failing_them() {
    let cluster = cluster().await;
    create_bucket(
        &cluster,
        &cluster.root,
        "slow",
        &[("x-oss-server-side-encryption", "KMS")],
    )
    .await;
    let jitter = Duration::from_millis(30);
    cluster
        .kms_proxy
        .as_ref()
        .expect("proxy")
        .set_delay(Duration::from_millis(40), jitter);
    cluster
        .meta_proxy
        .as_ref()
        .expect("proxy")
        .set_delay(Duration::from_millis(20), jitter);
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let op = op(&cluster, &cluster.root, "slow");
            tokio::spawn(async move {
                for round in 0..3 {
                    let key = format!("k{i}-{round}");
                    let body = vec![i as u8; 150_000 + round];
                    op.write(&key, body.clone()).await.expect("put under latency");
                    assert_eq!(op.read(&key).await.expect("get under latency").to_vec(), body);
                }
            })
        })
        .collect();
    let all = tokio::time::timeout(HANG_GUARD, futures::future::join_all(tasks)).await;
    for task in all.expect("the load finished") {
        task.expect("client task");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hung_kms_fails_requests_at_the_deadline_and_service_resumes() {
    let cluster = cluster().await;
    create_bucket(
        &cluster,
        &cluster.root,
        "hung",
        &[("x-oss-server-side-encryption", "KMS")],
    )
    .await;
    let proxy = cluster.kms_proxy.clone().expect("proxy");
    proxy.set_hung(true);
    let put = tokio::time::timeout(
        HANG_GUARD,
        Raw::new("PUT", "/hung/k", "/hung/k")
            .body("data")
            .send(&cluster, &cluster.root),
    )
    .await
    .expect("the request ended");
    assert_eq!(put.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(put.text().await.expect("body").contains("ServiceUnavailable"));
    proxy.set_hung(false);
    // Recovery is the client's retry away.
    let mut status = StatusCode::SERVICE_UNAVAILABLE;
    for _ in 0..20 {
        let head = Raw::new("HEAD", "/hung/k", "/hung/k")
            .send(&cluster, &cluster.root)
            .await;
        status = head.status();
        if status != StatusCode::SERVICE_UNAVAILABLE {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(status, StatusCode::NOT_FOUND, "nothing half-written");
    let put = Raw::new("PUT", "/hung/k", "/hung/k")
        .body("data")
        .send(&cluster, &cluster.root)
        .await;
    assert_eq!(put.status(), StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hung_meta_fails_reads_and_writes_at_the_deadline_and_service_resumes() {
    // Access keys stay cached here, so the hang is met by the operations themselves.
    let cluster = Cluster::start_behind_proxies(GatewayConfig::default(), KMS_DEADLINE, META_DEADLINE)
        .await
        .expect("cluster");
    create_bucket(&cluster, &cluster.root, "hung", &[]).await;
    let put = Raw::new("PUT", "/hung/kept", "/hung/kept")
        .body("kept")
        .send(&cluster, &cluster.root)
        .await;
    assert_eq!(put.status(), StatusCode::OK);
    let proxy = cluster.meta_proxy.clone().expect("proxy");
    proxy.set_hung(true);
    for (method, target) in [
        ("GET", "/hung/kept"),
        ("PUT", "/hung/new"),
        ("GET", "/hung/"),
        ("HEAD", "/hung/kept"),
    ] {
        let resp = tokio::time::timeout(
            HANG_GUARD,
            Raw::new(method, target, target)
                .body("new")
                .send(&cluster, &cluster.root),
        )
        .await
        .expect("the request ended");
        assert_eq!(
            resp.status(),
            StatusCode::SERVICE_UNAVAILABLE,
            "{method} {target}"
        );
    }
    proxy.set_hung(false);
    let mut body = None;
    for _ in 0..20 {
        let get = Raw::new("GET", "/hung/kept", "/hung/kept")
            .send(&cluster, &cluster.root)
            .await;
        if get.status() == StatusCode::OK {
            body = Some(get.bytes().await.expect("body"));
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(
        body.as_deref(),
        Some(&b"kept"[..]),
        "acknowledged data reads back after recovery"
    );
    let head = Raw::new("HEAD", "/hung/new", "/hung/new")
        .send(&cluster, &cluster.root)
        .await;
    assert_eq!(
        head.status(),
        StatusCode::NOT_FOUND,
        "the write that met the hang left nothing"
    );
}

/// A writer that PUTs `count` objects of `size` bytes in a loop; each acknowledged (200) body, and each body
/// whose PUT failed (which may have landed whole, or not at all). Every failure must be a 503.
async fn write_through_cuts(
    cluster: &Cluster,
    bucket: &str,
    count: usize,
    size: usize,
) -> (Vec<(String, Vec<u8>)>, Vec<(String, Vec<u8>)>) {
    let (mut acknowledged, mut failed) = (Vec::new(), Vec::new());
    for i in 0..count {
        let key = format!("k{i:03}");
        let body = crate::http::body(size, i as u8);
        let target = format!("/{bucket}/{key}");
        let put = tokio::time::timeout(
            HANG_GUARD,
            Raw::new("PUT", &target, &target)
                .body(body.clone())
                .send(cluster, &cluster.root),
        )
        .await
        .expect("the request ended");
        match put.status() {
            StatusCode::OK => acknowledged.push((key, body)),
            StatusCode::SERVICE_UNAVAILABLE => failed.push((key, body)),
            other => panic!("{key}: {other} during a network cut (only 200 or 503 may be answered)"),
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    (acknowledged, failed)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn network_cuts_to_meta_and_kms_fail_requests_cleanly_and_heal_with_nothing_lost() {
    let cluster = Cluster::start_behind_proxies(GatewayConfig::default(), KMS_DEADLINE, META_DEADLINE)
        .await
        .expect("cluster");
    create_bucket(
        &cluster,
        &cluster.root,
        "cut",
        &[("x-oss-server-side-encryption", "KMS")],
    )
    .await;
    let (meta, kms) = (
        cluster.meta_proxy.clone().expect("meta proxy"),
        cluster.kms_proxy.clone().expect("kms proxy"),
    );
    // Cut each link twice, briefly, while a client writes 256 KiB objects through the gateway.
    let cutter = tokio::spawn(async move {
        for proxy in [&meta, &kms, &meta, &kms] {
            tokio::time::sleep(Duration::from_millis(300)).await;
            proxy.set_cut(true);
            tokio::time::sleep(Duration::from_millis(400)).await;
            proxy.set_cut(false);
        }
    });
    let (acknowledged, failed) = write_through_cuts(&cluster, "cut", 60, 256 << 10).await;
    cutter.await.expect("cutter");
    assert!(!acknowledged.is_empty(), "writes went through between the cuts");
    assert!(!failed.is_empty(), "the cuts met writes in flight");

    // Healed: every acknowledged object reads back exactly; a failed write left its object whole or absent.
    let bucket = op(&cluster, &cluster.root, "cut");
    for (key, body) in &acknowledged {
        let mut attempts = 0;
        let read = loop {
            match bucket.read(key).await {
                Ok(data) => break data.to_vec(),
                Err(e) => {
                    attempts += 1;
                    assert!(attempts < 50, "{key} unreadable after the cuts healed: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        };
        assert_eq!(&read, body, "{key}");
    }
    for (key, body) in &failed {
        match bucket.read(key).await {
            Ok(data) => assert_eq!(&data.to_vec(), body, "{key} landed, and whole"),
            Err(e) => assert_eq!(e.kind(), opendal::ErrorKind::NotFound, "{key}: {e}"),
        }
    }
    let put = Raw::new("PUT", "/cut/after", "/cut/after")
        .body("healed")
        .send(&cluster, &cluster.root)
        .await;
    assert_eq!(put.status(), StatusCode::OK, "service resumed");
}
