//! The gateway's calls to the crypto service, counted and failed on purpose with the in-memory double: how
//! many calls each write and read costs, and that a crypto-service outage at any step answers 503 with
//! nothing written and service resuming by itself.

use std::sync::Arc;

use cang_kms_api::KmsError;
use cang_kms_api::memory::MemoryKms;
use cang_oss::ErrorCode;
use http::{Method, StatusCode};

use crate::state::GatewayConfig;
use crate::testing::Harness;

const SSE: &str = "x-oss-server-side-encryption";

async fn harness(config: GatewayConfig) -> (Arc<MemoryKms>, Harness) {
    let kms = Arc::new(MemoryKms::new());
    let h = Harness::over(kms.clone(), config).await;
    h.bucket("calls", &[]).await;
    kms.reset_calls();
    (kms, h)
}

#[tokio::test]
async fn each_write_and_read_costs_the_calls_its_protection_needs() {
    // (KMS bucket keys, SSE header, objects written, keys issued, Decrypt calls for two reads of each)
    let table = [
        (false, "KMS", 3, 3, 6),
        (true, "KMS", 3, 1, 0),
        (false, "AES256", 3, 1, 0),
    ];
    for (kms_keys, sse, objects, generated, decrypted) in table {
        let config = GatewayConfig {
            bucket_keys_for_kms: kms_keys,
            ..GatewayConfig::default()
        };
        let (kms, h) = harness(config).await;
        for n in 0..objects {
            let put = h
                .root(Method::PUT, &format!("/calls/o{n}"), &[(SSE, sse)], "bytes")
                .await;
            assert_eq!(put.status, StatusCode::OK, "{sse}: {:?}", put.code());
        }
        // Service keys (SSE-OSS) are issued by a call of their own; both kinds count.
        let issued = kms.calls("generate_data_key") + kms.calls("generate_service_data_key");
        assert_eq!(
            issued, generated,
            "{sse}, KMS bucket keys {kms_keys}: keys issued"
        );
        let before = kms.calls("decrypt");
        for _ in 0..2 {
            for n in 0..objects {
                let get = h.root(Method::GET, &format!("/calls/o{n}"), &[], "").await;
                assert_eq!(get.body.as_ref(), b"bytes");
            }
        }
        let unwrapped = kms.calls("decrypt") - before;
        assert!(
            unwrapped <= decrypted,
            "{sse}, KMS bucket keys {kms_keys}: {unwrapped} unwraps"
        );
        if !kms_keys && sse == "KMS" {
            assert_eq!(
                unwrapped, decrypted,
                "a customer-key object is unwrapped on every read"
            );
        }
    }
}

#[tokio::test]
async fn a_crypto_service_outage_answers_503_and_leaves_nothing_behind() {
    let (kms, h) = harness(GatewayConfig::default()).await;
    let stored = h.root(Method::PUT, "/calls/kept", &[(SSE, "KMS")], "kept").await;
    assert_eq!(stored.status, StatusCode::OK);
    let unavailable = Some(ErrorCode::ServiceUnavailable.as_str().to_owned());

    kms.fail_next(KmsError::Unavailable);
    let put = h.root(Method::PUT, "/calls/new", &[(SSE, "KMS")], "new").await;
    assert_eq!(
        (put.status, put.code()),
        (StatusCode::SERVICE_UNAVAILABLE, unavailable.clone())
    );
    assert_eq!(
        h.root(Method::HEAD, "/calls/new", &[], "").await.status,
        StatusCode::NOT_FOUND
    );

    kms.fail_next(KmsError::Unavailable);
    let get = h.root(Method::GET, "/calls/kept", &[], "").await;
    assert_eq!(
        (get.status, get.code()),
        (StatusCode::SERVICE_UNAVAILABLE, unavailable.clone())
    );

    kms.set_unavailable(true);
    let put = h.root(Method::PUT, "/calls/during", &[(SSE, "KMS")], "x").await;
    assert_eq!(put.status, StatusCode::SERVICE_UNAVAILABLE);
    kms.set_unavailable(false);

    let put = h.root(Method::PUT, "/calls/new", &[(SSE, "KMS")], "new").await;
    assert_eq!(put.status, StatusCode::OK, "service resumes: {:?}", put.code());
    let get = h.root(Method::GET, "/calls/kept", &[], "").await;
    assert_eq!(
        get.body.as_ref(),
        b"kept",
        "the stored object survives the outage"
    );
    assert_eq!(
        h.root(Method::HEAD, "/calls/during", &[], "").await.status,
        StatusCode::NOT_FOUND
    );
}
