//! The gateway's wall clock jumping while it serves (a test clock in `GatewayConfig`): signed requests
//! whose date is more than 15 minutes from the gateway's clock are refused with `RequestTimeTooSkewed`,
//! either way; a presigned URL stops working once the clock passes its expiry and works again if the clock
//! comes back; and when the clock is right again everything stored before the jumps reads back — data keys
//! cached on the monotonic clock are not thrown off by wall-clock jumps.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, SystemTime};

use cang_gateway::{GatewayConfig, WallClock};
use cang_tests::Cluster;
use reqwest::StatusCode;

use crate::http::{Raw, create_bucket, op, tag};

/// A clock `offset` seconds off the system's.
fn jumping_clock(offset: Arc<AtomicI64>) -> WallClock {
    WallClock::from_fn(move || {
        let seconds = offset.load(Ordering::SeqCst);
        let now = SystemTime::now();
        if seconds >= 0 {
            now + Duration::from_secs(seconds.unsigned_abs())
        } else {
            now - Duration::from_secs(seconds.unsigned_abs())
        }
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clock_jumps_on_the_gateway_refuse_skewed_signatures_and_expire_presigned_urls_and_nothing_else() {
    let offset = Arc::new(AtomicI64::new(0));
    let config = GatewayConfig {
        clock: jumping_clock(Arc::clone(&offset)),
        ..GatewayConfig::default()
    };
    let cluster = Cluster::start_with(config).await.expect("cluster");
    let root = cluster.root.clone();
    create_bucket(
        &cluster,
        &root,
        "clock",
        &[("x-oss-server-side-encryption", "AES256")],
    )
    .await;
    let bucket = op(&cluster, &root, "clock");
    bucket
        .write("before", b"stored before the jumps".to_vec())
        .await
        .expect("write");
    assert_eq!(
        bucket.read("before").await.expect("read").to_vec(),
        b"stored before the jumps"
    );
    let presigned = bucket
        .presign_read("before", Duration::from_secs(3600))
        .await
        .expect("presign");
    let url = presigned.uri().to_string();
    let fetch = || async { reqwest::get(url.as_str()).await.expect("presigned GET") };
    assert_eq!(fetch().await.status(), StatusCode::OK);

    for jump in [20 * 60, -20 * 60] {
        offset.store(jump, Ordering::SeqCst);
        let refused = Raw::new("GET", "/clock/before", "/clock/before")
            .send(&cluster, &root)
            .await;
        assert_eq!(refused.status(), StatusCode::FORBIDDEN, "{jump} s off");
        let body = refused.text().await.unwrap_or_default();
        assert_eq!(
            tag(&body, "Code").as_deref(),
            Some("RequestTimeTooSkewed"),
            "{jump} s off: {body}"
        );
        assert!(
            bucket.write("during", b"x".to_vec()).await.is_err(),
            "an SDK write {jump} s off is refused too"
        );
    }
    // Ten minutes off is within the skew window.
    offset.store(10 * 60, Ordering::SeqCst);
    assert_eq!(
        bucket.read("before").await.expect("10 min off reads").to_vec(),
        b"stored before the jumps"
    );

    // Two hours ahead: past the presigned URL's expiry; back: valid again (expiry is the URL's, not a state).
    offset.store(2 * 3600, Ordering::SeqCst);
    let expired = fetch().await;
    assert_eq!(expired.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        tag(&expired.text().await.unwrap_or_default(), "Code").as_deref(),
        Some("AccessDenied")
    );
    offset.store(0, Ordering::SeqCst);
    assert_eq!(fetch().await.status(), StatusCode::OK);

    // The clock is right again: everything works and nothing was lost.
    assert_eq!(
        bucket.read("before").await.expect("read").to_vec(),
        b"stored before the jumps"
    );
    bucket
        .write("after", b"written after".to_vec())
        .await
        .expect("write after");
    assert_eq!(
        bucket.read("after").await.expect("read").to_vec(),
        b"written after"
    );
    assert!(
        bucket.read("during").await.is_err(),
        "the refused write left nothing"
    );
}
