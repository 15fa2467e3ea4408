//! Key versions over time through the three real services and OpenDAL's OSS client: two rotations split the
//! objects across versions in the inventory, rewrap moves them all to the newest, the superseded versions
//! retire once their grace period has passed, and encrypt-existing brings plaintext objects under AES256 —
//! every object reading back byte-exact through OpenDAL after each step.

use std::collections::BTreeMap;
use std::sync::Arc;

use cang_gateway::reseal::{self, ResealJob, Target};
use cang_gateway::rewrap::{self, RewrapJob};
use cang_kms_api::{AccountId, KeyRef, KmsError};
use cang_meta_api::{InventoryQuery, SseAlgorithm};

use crate::http::{cluster_on_manual_clock, create_bucket, customer_key, op};

fn body(i: usize) -> Vec<u8> {
    (0..(100 + i * 37)).map(|j| (j * 7 + i) as u8).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotate_rewrap_retire_and_encrypt_existing_with_opendal() {
    let (cluster, clock) = cluster_on_manual_clock().await;
    let root = cluster.root.clone();
    let account = AccountId::new(cluster.account.clone()).expect("account");
    let key = customer_key(&cluster, "rotated").await;
    let key_ref = KeyRef::Id(key.key_id.clone());
    let v1 = key.primary_key_version.clone();
    let cmk = key.key_id.as_str().to_owned();
    let sse = [
        ("x-oss-server-side-encryption", "KMS"),
        ("x-oss-server-side-encryption-key-id", cmk.as_str()),
    ];
    create_bucket(&cluster, &root, "rotated", &sse).await;
    let bucket = op(&cluster, &root, "rotated");
    let write = |range: std::ops::Range<usize>| {
        let bucket = bucket.clone();
        async move {
            for i in range {
                bucket.write(&format!("k-{i:02}"), body(i)).await.expect("write");
            }
        }
    };
    write(0..12).await;
    let v2 = cluster
        .kms_admin
        .rotate_key(&account, &key_ref)
        .await
        .expect("rotate")
        .key_version_id;
    write(12..20).await;
    let v3 = cluster
        .kms_admin
        .rotate_key(&account, &key_ref)
        .await
        .expect("rotate")
        .key_version_id;
    write(20..23).await;

    let versions = || async {
        let rows = cluster
            .meta_admin
            .key_inventory(InventoryQuery {
                bucket: Some("rotated".into()),
                key_id: Some(cmk.clone()),
            })
            .await
            .expect("inventory");
        rows.into_iter()
            .map(|r| (r.wrapping.expect("recorded").version_id, r.objects))
            .collect::<BTreeMap<_, _>>()
    };
    assert_eq!(
        versions().await,
        BTreeMap::from([(v1.clone(), 12), (v2.clone(), 8), (v3.clone(), 3)])
    );

    // Retiring a version with dependents is the command's refusal; the crypto service itself refuses within the
    // grace period whatever depends on it.
    let early = cluster
        .kms_admin
        .retire_key_version(&account, &key_ref, &v1)
        .await;
    assert!(matches!(early, Err(KmsError::InvalidArgument(_))), "{early:?}");

    let job = RewrapJob {
        key_id: cmk.clone(),
        account: Some(account.clone()),
        bucket: None,
        from_version: None,
        rate: None,
    };
    let done = rewrap::run(
        cluster.meta_admin.as_ref(),
        cluster.kms_admin.as_ref(),
        &job,
        None,
        &mut |_| {},
    )
    .await
    .expect("rewrap");
    assert_eq!((done.rewrapped, done.current, done.reencrypt_calls), (20, 3, 20));
    assert_eq!(versions().await, BTreeMap::from([(v3.clone(), 23)]));
    for i in 0..23 {
        assert_eq!(
            bucket.read(&format!("k-{i:02}")).await.expect("read").to_vec(),
            body(i)
        );
    }

    clock.advance(601);
    for old in [&v1, &v2] {
        cluster
            .kms_admin
            .retire_key_version(&account, &key_ref, old)
            .await
            .expect("retire");
    }
    let left: Vec<String> = cluster
        .kms_admin
        .list_key_versions(&account, &key_ref)
        .await
        .expect("versions")
        .into_iter()
        .map(|v| v.key_version_id)
        .collect();
    assert_eq!(left, vec![v3]);
    for i in 0..23 {
        assert_eq!(
            bucket
                .read(&format!("k-{i:02}"))
                .await
                .expect("read after retiring")
                .to_vec(),
            body(i)
        );
    }

    // Encrypt existing plaintext objects in place.
    create_bucket(&cluster, &root, "plain", &[]).await;
    let plain = op(&cluster, &root, "plain");
    for i in 0..5 {
        plain.write(&format!("p-{i}"), body(i)).await.expect("write");
    }
    let to_aes = ResealJob {
        bucket: "plain".into(),
        prefix: String::new(),
        target: Target::Aes256,
        rate: None,
    };
    let sealed = reseal::run(
        Arc::clone(&cluster.kms_admin),
        Arc::clone(&cluster.meta_admin),
        &to_aes,
        None,
        &mut |_| {},
    )
    .await
    .expect("encrypt existing");
    assert_eq!(sealed.resealed, 5);
    for i in 0..5 {
        assert_eq!(
            plain.read(&format!("p-{i}")).await.expect("read").to_vec(),
            body(i)
        );
        let info = cluster
            .meta_admin
            .head_object("plain", &format!("p-{i}"))
            .await
            .expect("head");
        assert_eq!(info.meta.sse.expect("sse").algorithm, SseAlgorithm::Aes256);
    }
}
