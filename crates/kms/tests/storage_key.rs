//! The instance storage key (`ServiceKeySuite::Storage`), over gRPC with mutual TLS: it seals objects
//! stored without SSE, is created on first use, is no CMK of any account, rotates on the service-key
//! schedule, and keeps its old versions for decryption.

mod common;

use cang_kms_api::{KeyRef, KmsApi, KmsError, Page, ServiceKeySuite};
use common::{DAY, acct, ctx, grpc};

#[tokio::test]
async fn gateway_gets_storage_data_keys_that_decrypt() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let kms = grpc::start(dir.path()).await?;
    let gateway = kms.client("gateway")?;

    let first = gateway
        .generate_service_data_key(ServiceKeySuite::Storage, &ctx("plain-object"))
        .await?;
    assert_eq!(first.plaintext.expose().len(), 32);
    let second = gateway
        .generate_service_data_key(ServiceKeySuite::Storage, &ctx("other"))
        .await?;
    assert_eq!(first.key_id, second.key_id, "one instance-wide key, created once");
    assert_eq!(first.key_version_id, second.key_version_id);
    assert_ne!(first.plaintext, second.plaintext, "a fresh data key per call");

    // A key of its own, not one of the SSE-OSS keys.
    let sse = gateway
        .generate_service_data_key(ServiceKeySuite::Aes256, &ctx("sse"))
        .await?;
    assert_ne!(sse.key_id, first.key_id);

    let back = gateway
        .decrypt(&acct(), &first.ciphertext_blob, &ctx("plain-object"))
        .await?;
    assert_eq!(back.plaintext, first.plaintext);
    assert_eq!(back.key_id, first.key_id);
    assert_eq!(
        gateway
            .decrypt(&acct(), &first.ciphertext_blob, &ctx("moved"))
            .await
            .err(),
        Some(KmsError::ContextMismatch)
    );

    // Not a CMK: never listed, not addressable by id.
    let admin = kms.client("admin")?;
    assert_eq!(admin.list_keys(&acct(), Page::new(1, 100)?).await?.total_count, 0);
    assert_eq!(
        admin
            .describe_key(&acct(), &KeyRef::Id(first.key_id.clone()))
            .await
            .err(),
        Some(KmsError::KeyNotFound)
    );
    // meta still gets nothing.
    assert_eq!(
        kms.client("meta")?
            .generate_service_data_key(ServiceKeySuite::Storage, &ctx("x"))
            .await
            .err(),
        Some(KmsError::AccessDenied)
    );
    Ok(())
}

#[tokio::test]
async fn storage_key_rotates_with_the_service_keys_and_keeps_old_versions() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let kms = grpc::start(dir.path()).await?;
    let gateway = kms.client("gateway")?;
    let old = gateway
        .generate_service_data_key(ServiceKeySuite::Storage, &ctx("o"))
        .await?;
    let old_sse = gateway
        .generate_service_data_key(ServiceKeySuite::Sm4, &ctx("o"))
        .await?;

    // Not due yet: nothing changes.
    kms.clock.advance(29 * DAY);
    kms.service.keyring().run_maintenance().await?;
    let same = gateway
        .generate_service_data_key(ServiceKeySuite::Storage, &ctx("o"))
        .await?;
    assert_eq!(same.key_version_id, old.key_version_id);

    // The default service-key schedule is 30 days, for the storage key as for SSE-OSS.
    kms.clock.advance(DAY);
    kms.service.keyring().run_maintenance().await?;
    let new = gateway
        .generate_service_data_key(ServiceKeySuite::Storage, &ctx("o"))
        .await?;
    let new_sse = gateway
        .generate_service_data_key(ServiceKeySuite::Sm4, &ctx("o"))
        .await?;
    assert_eq!(new.key_id, old.key_id);
    assert_ne!(new.key_version_id, old.key_version_id, "storage key rotated");
    assert_ne!(
        new_sse.key_version_id, old_sse.key_version_id,
        "SSE-OSS key rotated"
    );

    for dk in [&old, &new] {
        let back = gateway.decrypt(&acct(), &dk.ciphertext_blob, &ctx("o")).await?;
        assert_eq!(
            (back.key_version_id.as_str(), &back.plaintext),
            (dk.key_version_id.as_str(), &dk.plaintext)
        );
    }
    Ok(())
}

#[tokio::test]
async fn storage_key_survives_a_restart() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let clock = cang_kms::ManualClock::new(common::T0);
    let service = common::open(dir.path(), &clock, cang_kms::KeyringConfig::default())?;
    let dk = common::gateway(&service)
        .generate_service_data_key(ServiceKeySuite::Storage, &ctx("o"))
        .await?;
    let service = common::reopen(dir.path(), &clock, service).await?;
    let gateway = common::gateway(&service);
    let back = gateway.decrypt(&acct(), &dk.ciphertext_blob, &ctx("o")).await?;
    assert_eq!(back.plaintext, dk.plaintext);
    let again = gateway
        .generate_service_data_key(ServiceKeySuite::Storage, &ctx("o"))
        .await?;
    assert_eq!(
        (again.key_id, again.key_version_id),
        (dk.key_id, dk.key_version_id)
    );
    Ok(())
}
