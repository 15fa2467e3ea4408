//! How data keys are issued and cached, read from the gateway's own counters: one bucket key serves many
//! SSE-OSS objects (and only as many as its limits allow), SSE-KMS asks the crypto service per object unless
//! bucket keys are on for it, unwrapped keys are cached for reads only where the protection allows, and a
//! disabled customer key refuses writes and reads at once, except through a bucket key still cached.

use std::time::Duration;

use cang_kms_api::KeySpec;
use cang_oss::ErrorCode;
use http::{Method, StatusCode};

use crate::keys::KeyCacheLimits;
use crate::state::GatewayConfig;
use crate::testing::Harness;

const SSE: &str = "x-oss-server-side-encryption";
const KEY_ID: &str = "x-oss-server-side-encryption-key-id";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Counts {
    reuses: u64,
    hits: u64,
    misses: u64,
}

fn counts(h: &Harness) -> Counts {
    let keys = &h.gateway.metrics.data_keys;
    Counts {
        reuses: keys.bucket_key_reuses.get(),
        hits: keys.hits.get(),
        misses: keys.misses.get(),
    }
}

async fn put(h: &Harness, path: &str, headers: &[(&str, &str)]) {
    let answer = h.root(Method::PUT, path, headers, "some bytes").await;
    assert_eq!(
        answer.status,
        StatusCode::OK,
        "PutObject {path}: {:?}",
        answer.code()
    );
}

async fn get(h: &Harness, path: &str) -> (StatusCode, Option<String>) {
    let answer = h.root(Method::GET, path, &[], "").await;
    if answer.status == StatusCode::OK {
        assert_eq!(answer.body.as_ref(), b"some bytes", "{path}");
    }
    (answer.status, answer.code())
}

#[tokio::test]
async fn bucket_keys_are_reused_within_their_limits() {
    // (SSE-OSS bucket keys, KMS bucket keys, most uses of one bucket key, headers, objects, reuses expected)
    type Row = (bool, bool, u64, &'static [(&'static str, &'static str)], u64, u64);
    let table: [Row; 6] = [
        (true, false, 100, &[(SSE, "AES256")], 4, 3),
        (true, false, 100, &[(SSE, "SM4")], 3, 2),
        (false, false, 100, &[(SSE, "AES256")], 3, 0),
        (true, false, 2, &[(SSE, "AES256")], 4, 2),
        (true, false, 100, &[(SSE, "KMS")], 3, 0),
        (true, true, 100, &[(SSE, "KMS")], 3, 2),
    ];
    for (i, (oss_keys, kms_keys, max_uses, headers, objects, reuses)) in table.into_iter().enumerate() {
        let config = GatewayConfig {
            bucket_keys_for_sse_oss: oss_keys,
            bucket_keys_for_kms: kms_keys,
            key_cache: KeyCacheLimits {
                bucket_key_max_uses: max_uses,
                ..KeyCacheLimits::default()
            },
            ..GatewayConfig::default()
        };
        let h = Harness::new(config).await;
        h.bucket("keys", &[]).await;
        for n in 0..objects {
            put(&h, &format!("/keys/o{n}"), headers).await;
        }
        assert_eq!(counts(&h).reuses, reuses, "row {i}");
        for n in 0..objects {
            assert_eq!(get(&h, &format!("/keys/o{n}")).await.0, StatusCode::OK, "row {i}");
        }
    }
}

#[tokio::test]
async fn unwrapped_keys_are_cached_for_reads_only_where_the_protection_allows() {
    // (bucket default, KMS bucket keys, cache capacity, whether a second read of the object is a cache hit).
    // A customer-key object without a bucket key is unwrapped by the crypto service on every read, so the
    // key's state is enforced each time.
    let table: [(&str, bool, usize, bool); 5] = [
        ("AES256", false, 1024, true),
        ("AES256", false, 0, false),
        ("SM4", false, 1024, true),
        ("KMS", false, 1024, false),
        ("KMS", true, 1024, true),
    ];
    for (sse, kms_keys, capacity, second_read_hits) in table {
        let config = GatewayConfig {
            bucket_keys_for_sse_oss: false,
            bucket_keys_for_kms: kms_keys,
            key_cache: KeyCacheLimits {
                unwrapped_capacity: capacity,
                ..KeyCacheLimits::default()
            },
            ..GatewayConfig::default()
        };
        let h = Harness::new(config).await;
        h.bucket("reads", &[(SSE, sse)]).await;
        put(&h, "/reads/o", &[]).await;
        assert_eq!(get(&h, "/reads/o").await.0, StatusCode::OK);
        let first = counts(&h);
        assert_eq!(get(&h, "/reads/o").await.0, StatusCode::OK);
        let second = counts(&h);
        let hit = second.hits > first.hits && second.misses == first.misses;
        let row = format!("{sse}, KMS bucket keys {kms_keys}, capacity {capacity}");
        assert_eq!(hit, second_read_hits, "{row}: {first:?} then {second:?}");
    }
}

#[tokio::test]
async fn a_disabled_key_refuses_writes_and_reads_unless_a_cached_bucket_key_still_serves() {
    let refused = (
        StatusCode::CONFLICT,
        Some(ErrorCode::KeyDisabled.as_str().to_owned()),
    );
    let served = (StatusCode::OK, None);
    // (KMS bucket keys, unwrapped-key lifetime, a new write after disabling, a read after disabling)
    let table = [
        (false, Duration::from_secs(300), refused.clone(), refused.clone()),
        (true, Duration::ZERO, served.clone(), refused.clone()),
        (true, Duration::from_secs(300), served.clone(), served.clone()),
    ];
    for (kms_keys, ttl, write, read) in table {
        let row = format!("KMS bucket keys {kms_keys}, unwrapped ttl {ttl:?}");
        let config = GatewayConfig {
            bucket_keys_for_kms: kms_keys,
            key_cache: KeyCacheLimits {
                unwrapped_ttl: ttl,
                ..KeyCacheLimits::default()
            },
            ..GatewayConfig::default()
        };
        let h = Harness::new(config).await;
        let cmk = h.cmk(KeySpec::Aes256).await;
        h.bucket("cmk", &[]).await;
        put(&h, "/cmk/o", &[(SSE, "KMS"), (KEY_ID, &cmk)]).await;
        assert_eq!(get(&h, "/cmk/o").await.0, StatusCode::OK, "{row}");
        h.disable(&cmk).await;
        let answer = h
            .root(
                Method::PUT,
                "/cmk/new",
                &[(SSE, "KMS"), (KEY_ID, &cmk)],
                "some bytes",
            )
            .await;
        assert_eq!((answer.status, answer.code()), write, "{row}: a new write");
        if write.0 != StatusCode::OK {
            let missing = h.root(Method::HEAD, "/cmk/new", &[], "").await;
            assert_eq!(
                missing.status,
                StatusCode::NOT_FOUND,
                "{row}: the refused write left nothing"
            );
        }
        assert_eq!(get(&h, "/cmk/o").await, read, "{row}: a read");
    }
}
