//! One tenant cannot stall the others: hundreds of uploads whose bodies stop arriving hold no thread, so
//! everyone else's uploads and encrypted reads keep being served; a silent body ends with RequestTimeout.

use std::time::Duration;

use cang_gateway::GatewayConfig;
use cang_tests::Cluster;
use reqwest::StatusCode;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::http::{Raw, create_bucket, op};

/// Uploads left stalled at once: well past the runtime's 512 blocking threads' worth of two per upload.
const STALLED: usize = 300;

/// An anonymous PUT into a public-read-write bucket that promises `len` bytes, sends ten and goes silent.
async fn stalled_upload(addr: &str, key: &str, len: usize) -> TcpStream {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    let head = format!("PUT /open/{key} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: {len}\r\n\r\n0123456789");
    stream.write_all(head.as_bytes()).await.expect("head");
    stream
}

/// Creates the public-read-write bucket `open` that anonymous uploads go to.
async fn open_bucket(cluster: &Cluster) {
    create_bucket(cluster, &cluster.root, "open", &[]).await;
    let acl = Raw::new("PUT", "/open/?acl", "/open/?acl")
        .headers(&[("x-oss-acl", "public-read-write")])
        .send(cluster, &cluster.root)
        .await;
    assert_eq!(acl.status(), StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stalled_uploads_hold_no_thread_and_others_keep_being_served() {
    // The per-caller limit would refuse most of the stallers; lift it so they all reach the pipeline.
    let config = GatewayConfig {
        max_in_flight_per_caller: 10_000,
        ..GatewayConfig::default()
    };
    let cluster = Cluster::start_with(config).await.expect("cluster");
    open_bucket(&cluster).await;
    create_bucket(
        &cluster,
        &cluster.root,
        "work",
        &[("x-oss-server-side-encryption", "AES256")],
    )
    .await;
    let work = op(&cluster, &cluster.root, "work");
    work.write("before", vec![7u8; 300_000]).await.expect("seed");

    let addr = cluster.endpoint().trim_start_matches("http://").to_owned();
    let mut stalled = Vec::with_capacity(STALLED);
    for i in 0..STALLED {
        stalled.push(stalled_upload(&addr, &format!("stall-{i}"), 1_000_000).await);
    }
    // Every stalled upload has reached the pipeline before the others start.
    tokio::time::sleep(Duration::from_millis(500)).await;

    // A bound on the whole check, so a regression fails instead of hanging; not a latency assertion.
    let served = tokio::time::timeout(Duration::from_secs(60), async {
        for round in 0..5 {
            let key = format!("during-{round}");
            work.write(&key, vec![round as u8; 200_000])
                .await
                .expect("put while others stall");
            let back = work.read(&key).await.expect("sse read while others stall");
            assert_eq!(back.len(), 200_000);
            assert_eq!(
                work.read("before").await.expect("read").to_vec(),
                vec![7u8; 300_000]
            );
        }
    })
    .await;
    assert!(
        served.is_ok(),
        "requests of other tenants were stalled by {STALLED} silent uploads"
    );
    drop(stalled);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_body_ends_with_request_timeout_and_stores_nothing() {
    let config = GatewayConfig {
        body_idle_timeout: Duration::from_millis(300),
        ..GatewayConfig::default()
    };
    let cluster = Cluster::start_with(config).await.expect("cluster");
    open_bucket(&cluster).await;
    let addr = cluster.endpoint().trim_start_matches("http://").to_owned();
    let mut stream = stalled_upload(&addr, "silent", 1000).await;
    let mut answer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(30), stream.read_to_end(&mut answer)).await;
    assert!(read.is_ok(), "the server gave up on the silent body");
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    assert!(answer.contains("<Code>RequestTimeout</Code>"), "{answer}");
    let head = Raw::new("HEAD", "/open/silent", "/open/silent")
        .send(&cluster, &cluster.root)
        .await;
    assert_eq!(head.status(), StatusCode::NOT_FOUND, "nothing half-written");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_past_the_cap_are_refused_with_slow_down_and_the_cap_frees_up() {
    let limits = cang_gateway::ConnectionLimits {
        max_connections: 4,
        ..Default::default()
    };
    let cluster = Cluster::start_with_limits(GatewayConfig::default(), limits)
        .await
        .expect("cluster");
    let addr = cluster.endpoint().trim_start_matches("http://").to_owned();
    let mut idle = Vec::new();
    for _ in 0..4 {
        idle.push(TcpStream::connect(&addr).await.expect("connect"));
    }
    // Accepting is asynchronous: give the server a moment to take the four before the fifth arrives.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut fifth = TcpStream::connect(&addr).await.expect("connect");
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), fifth.read_to_end(&mut answer))
        .await
        .expect("refused at once")
        .expect("read");
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(answer.contains("<Code>SlowDown</Code>"), "{answer}");

    drop(idle);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let resp = Raw::new("GET", "/", "/").send(&cluster, &cluster.root).await;
    assert_eq!(
        resp.status(),
        StatusCode::OK,
        "closed connections free their places"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_caller_past_its_in_flight_limit_gets_slow_down_and_others_do_not() {
    let config = GatewayConfig {
        max_in_flight_per_caller: 3,
        ..GatewayConfig::default()
    };
    let cluster = Cluster::start_with(config).await.expect("cluster");
    open_bucket(&cluster).await;
    let addr = cluster.endpoint().trim_start_matches("http://").to_owned();
    let mut stalled = Vec::new();
    for i in 0..3 {
        stalled.push(stalled_upload(&addr, &format!("s{i}"), 1000).await);
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let fourth = reqwest::Client::new()
        .put(format!("{}/open/s3", cluster.endpoint()))
        .body("x")
        .send()
        .await
        .expect("put");
    assert_eq!(fourth.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(fourth.text().await.expect("body").contains("SlowDown"));
    let root = Raw::new("PUT", "/open/mine", "/open/mine")
        .body("y")
        .send(&cluster, &cluster.root)
        .await;
    assert_eq!(root.status(), StatusCode::OK, "another caller keeps its share");
    drop(stalled);
}
