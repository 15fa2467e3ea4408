//! The gateway's operations listener: `/healthz` while the process is up, `/readyz` following the crypto
//! service's reachability, and `/metrics` counting requests, bytes and crypto-service calls.

use std::time::{Duration, Instant};

use anyhow::Result;
use cang_tests::Cluster;
use reqwest::StatusCode;

async fn get(cluster: &Cluster, path: &str) -> Result<(StatusCode, String)> {
    let resp = reqwest::get(format!("http://{}{path}", cluster.probes_addr)).await?;
    Ok((resp.status(), resp.text().await?))
}

/// Polls `/readyz` until it answers `status` (verdicts are cached for a second).
async fn wait_ready(cluster: &Cluster, status: StatusCode) -> Result<String> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (got, body) = get(cluster, "/readyz").await?;
        if got == status {
            return Ok(body);
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "/readyz stayed {got} ({body}), wanted {status}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_follows_the_crypto_service_and_health_does_not() -> Result<()> {
    let mut cluster = Cluster::start().await?;
    assert_eq!(
        get(&cluster, "/healthz").await?,
        (StatusCode::OK, "ok\n".to_owned())
    );
    assert_eq!(wait_ready(&cluster, StatusCode::OK).await?, "ready\n");

    cluster.stop_kms().await;
    assert_eq!(
        wait_ready(&cluster, StatusCode::SERVICE_UNAVAILABLE).await?,
        "kms unreachable\n"
    );
    assert_eq!(get(&cluster, "/healthz").await?.0, StatusCode::OK);

    cluster.start_kms().await?;
    assert_eq!(wait_ready(&cluster, StatusCode::OK).await?, "ready\n");

    cluster.stop_meta().await;
    assert_eq!(
        wait_ready(&cluster, StatusCode::SERVICE_UNAVAILABLE).await?,
        "meta unreachable\n"
    );
    cluster.start_meta().await?;
    wait_ready(&cluster, StatusCode::OK).await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_requests_bytes_and_key_cache_use() -> Result<()> {
    let cluster = Cluster::start().await?;
    let root = &cluster.root;
    let sse = [("x-oss-server-side-encryption", "AES256")];
    let resp = cluster
        .signed(root, "PUT", "/counted/", "/counted/", &sse)
        .send()
        .await?;
    assert_eq!(resp.status(), StatusCode::OK);
    let body = vec![7u8; 100_000];
    let resp = cluster
        .signed(root, "PUT", "/counted/a", "/counted/a", &[])
        .body(body.clone())
        .send()
        .await?;
    assert_eq!(resp.status(), StatusCode::OK);
    for _ in 0..2 {
        let resp = cluster
            .signed(root, "GET", "/counted/a", "/counted/a", &[])
            .send()
            .await?;
        assert_eq!(resp.bytes().await?.len(), body.len());
    }
    let resp = cluster
        .signed(root, "GET", "/counted/none", "/counted/none", &[])
        .send()
        .await?;
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);

    let (status, text) = get(&cluster, "/metrics").await?;
    assert_eq!(status, StatusCode::OK);
    for expected in [
        "cang_requests_total{operation=\"PutBucket\",status=\"200\"} 1",
        "cang_requests_total{operation=\"PutObject\",status=\"200\"} 1",
        "cang_requests_total{operation=\"GetObject\",status=\"200\"} 2",
        "cang_requests_total{operation=\"GetObject\",status=\"404\"} 1",
        "cang_request_duration_seconds_count{operation=\"GetObject\",status=\"200\"} 2",
        "cang_kms_call_duration_seconds_count{operation=\"GenerateServiceDataKey\"} 1",
    ] {
        assert!(text.contains(expected), "missing {expected} in\n{text}");
    }
    // SSE-OSS keys are cached when issued: both reads are cache hits, no Decrypt call.
    assert!(text.contains("cang_data_key_cache_hits_total 2"), "{text}");
    assert!(!text.contains("operation=\"Decrypt\""), "{text}");
    let counter = |name: &str| -> u64 {
        text.lines()
            .find_map(|l| l.strip_prefix(name).and_then(|v| v.trim().parse().ok()))
            .unwrap_or(0)
    };
    assert!(counter("cang_received_bytes_total") >= body.len() as u64);
    assert!(counter("cang_sent_bytes_total") >= 2 * body.len() as u64);
    Ok(())
}
