//! Automatic rotation driven by the maintenance pass and an injected clock: CMKs with a rotation
//! policy and the SSE-OSS service keys (30 days by default). Rotation adds a primary version; every
//! older version keeps decrypting.

mod common;

use cang_kms::{KeyringConfig, ManualClock};
use cang_kms_api::{KeyOrigin, KeyRef, KmsApi, RotationPolicy, ServiceKeySuite};
use common::{DAY, T0, acct, admin, create, ctx, gateway, open, reopen};

#[tokio::test]
async fn cmk_rotates_when_its_interval_has_passed() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let clock = ManualClock::new(T0);
    let service = open(dir.path(), &clock, KeyringConfig::default())?;
    let kms = admin(&service);
    let interval = 7 * DAY;
    let policy = RotationPolicy::new(true, interval as u64)?;
    let meta = kms.create_key(create(KeyOrigin::AliyunKms, policy)).await?;
    let key = KeyRef::Id(meta.key_id.clone());
    let v1 = meta.primary_key_version.clone();
    assert_eq!(meta.next_rotation_date, Some(T0 + interval));
    let old = gateway(&service)
        .generate_data_key(&acct(), &key, 0, &ctx("o1"))
        .await?;
    assert_eq!(old.key_version_id, v1);

    // One second early: nothing happens.
    clock.advance(interval - 1);
    service.keyring().run_maintenance().await?;
    assert_eq!(kms.list_key_versions(&acct(), &key).await?.len(), 1);

    clock.advance(1);
    service.keyring().run_maintenance().await?;
    let versions = kms.list_key_versions(&acct(), &key).await?;
    assert_eq!(versions.len(), 2);
    let v2 = versions[1].key_version_id.clone();
    assert_ne!(v2, v1);
    let meta = kms.describe_key(&acct(), &key).await?;
    assert_eq!(meta.primary_key_version, v2);
    assert_eq!(meta.last_rotation_date, T0 + interval);
    assert_eq!(meta.next_rotation_date, Some(T0 + 2 * interval));

    // A second pass at the same instant does not rotate again.
    service.keyring().run_maintenance().await?;
    assert_eq!(kms.list_key_versions(&acct(), &key).await?.len(), 2);

    // The v1 blob still decrypts (under v1); new data keys use v2; ReEncrypt moves v1 blobs to v2.
    let gw = gateway(&service);
    let back = gw.decrypt(&acct(), &old.ciphertext_blob, &ctx("o1")).await?;
    assert_eq!(
        (back.key_version_id, back.plaintext),
        (v1.clone(), old.plaintext.clone())
    );
    let new = gw.generate_data_key(&acct(), &key, 0, &ctx("o2")).await?;
    assert_eq!(new.key_version_id, v2);
    let moved = gw
        .re_encrypt(&acct(), &old.ciphertext_blob, &ctx("o1"), None, &ctx("o1"))
        .await?;
    assert_eq!(moved.key_version_id, v2);

    // Versions and schedule survive a restart; the next rotation comes one interval after the last.
    drop((kms, gw));
    let service = reopen(dir.path(), &clock, service).await?;
    let kms = admin(&service);
    clock.advance(interval);
    service.keyring().run_maintenance().await?;
    let versions = kms.list_key_versions(&acct(), &key).await?;
    assert_eq!(versions.len(), 3);
    assert_eq!(
        kms.decrypt(&acct(), &old.ciphertext_blob, &ctx("o1"))
            .await?
            .key_version_id,
        v1
    );
    assert_eq!(
        kms.decrypt(&acct(), &new.ciphertext_blob, &ctx("o2"))
            .await?
            .key_version_id,
        v2
    );
    Ok(())
}

#[tokio::test]
async fn only_enabled_keys_with_a_policy_rotate() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let clock = ManualClock::new(T0);
    let service = open(dir.path(), &clock, KeyringConfig::default())?;
    let kms = admin(&service);
    let policy = RotationPolicy::new(true, 30 * DAY as u64)?;
    let without = KeyRef::Id(
        kms.create_key(create(KeyOrigin::AliyunKms, common::no_rotation()))
            .await?
            .key_id,
    );
    let disabled = KeyRef::Id(kms.create_key(create(KeyOrigin::AliyunKms, policy)).await?.key_id);
    kms.disable_key(&acct(), &disabled).await?;
    let switched_off = KeyRef::Id(kms.create_key(create(KeyOrigin::AliyunKms, policy)).await?.key_id);
    kms.update_rotation_policy(&acct(), &switched_off, RotationPolicy::new(false, 0)?)
        .await?;

    clock.advance(400 * DAY);
    service.keyring().run_maintenance().await?;
    for key in [&without, &disabled, &switched_off] {
        assert_eq!(kms.list_key_versions(&acct(), key).await?.len(), 1, "{key}");
    }
    // Re-enabled, the overdue key rotates at the next pass.
    kms.enable_key(&acct(), &disabled).await?;
    service.keyring().run_maintenance().await?;
    assert_eq!(kms.list_key_versions(&acct(), &disabled).await?.len(), 2);
    Ok(())
}

#[tokio::test]
async fn service_keys_rotate_every_30_days_by_default() -> anyhow::Result<()> {
    assert_eq!(
        KeyringConfig::default().service_key_rotation_seconds,
        30 * DAY as u64
    );
    let dir = tempfile::tempdir()?;
    let clock = ManualClock::new(T0);
    let service = open(dir.path(), &clock, KeyringConfig::default())?;
    let gw = gateway(&service);
    for suite in [ServiceKeySuite::Aes256, ServiceKeySuite::Sm4] {
        let first = gw.generate_service_data_key(suite, &ctx("s1")).await?;
        let again = gw.generate_service_data_key(suite, &ctx("s1")).await?;
        assert_eq!(again.key_version_id, first.key_version_id, "{suite:?}");
    }
    let aes1 = gw
        .generate_service_data_key(ServiceKeySuite::Aes256, &ctx("a"))
        .await?;
    let sm1 = gw
        .generate_service_data_key(ServiceKeySuite::Sm4, &ctx("b"))
        .await?;

    clock.advance(30 * DAY - 1);
    service.keyring().run_maintenance().await?;
    let aes = gw
        .generate_service_data_key(ServiceKeySuite::Aes256, &ctx("a"))
        .await?;
    assert_eq!(aes.key_version_id, aes1.key_version_id, "not yet due");

    clock.advance(1);
    service.keyring().run_maintenance().await?;
    let aes2 = gw
        .generate_service_data_key(ServiceKeySuite::Aes256, &ctx("a2"))
        .await?;
    let sm2 = gw
        .generate_service_data_key(ServiceKeySuite::Sm4, &ctx("b2"))
        .await?;
    assert_ne!(aes2.key_version_id, aes1.key_version_id);
    assert_ne!(sm2.key_version_id, sm1.key_version_id);
    assert_eq!(aes2.key_id, aes1.key_id, "same service key, new version");

    // Blobs of the old versions still decrypt; the new ones decrypt under the new versions.
    for (dk, context) in [(&aes1, "a"), (&sm1, "b"), (&aes2, "a2"), (&sm2, "b2")] {
        let back = gw.decrypt(&acct(), &dk.ciphertext_blob, &ctx(context)).await?;
        assert_eq!(back.key_version_id, dk.key_version_id);
        assert_eq!(back.plaintext, dk.plaintext);
    }
    // Service keys stay out of the account's listing, rotated or not.
    let listed = gw.list_keys(&acct(), cang_kms_api::Page::new(1, 100)?).await?;
    assert_eq!(listed.total_count, 0);
    Ok(())
}

#[tokio::test]
async fn service_key_interval_is_configurable() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let clock = ManualClock::new(T0);
    let config = KeyringConfig {
        service_key_rotation_seconds: 7 * DAY as u64,
        ..KeyringConfig::default()
    };
    let service = open(dir.path(), &clock, config)?;
    let gw = gateway(&service);
    let first = gw
        .generate_service_data_key(ServiceKeySuite::Aes256, &ctx("c"))
        .await?;
    clock.advance(7 * DAY);
    service.keyring().run_maintenance().await?;
    let next = gw
        .generate_service_data_key(ServiceKeySuite::Aes256, &ctx("c"))
        .await?;
    assert_ne!(next.key_version_id, first.key_version_id);
    // ReEncrypt without a destination moves a blob of the old version to the new one, as rewrap does for
    // SSE-OSS objects; the data key is the same.
    let moved = gw
        .re_encrypt(&acct(), &first.ciphertext_blob, &ctx("c"), None, &ctx("c"))
        .await?;
    assert_eq!(
        (moved.key_id.as_str(), moved.key_version_id.as_str()),
        ("service-aes256", next.key_version_id.as_str())
    );
    let opened = gw.decrypt(&acct(), &moved.ciphertext_blob, &ctx("c")).await?;
    assert_eq!(opened.plaintext, first.plaintext);
    Ok(())
}

#[tokio::test]
async fn a_superseded_version_is_retired_after_the_grace_period_and_its_blobs_die() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let clock = ManualClock::new(T0);
    let config = KeyringConfig {
        version_retire_grace_seconds: 600,
        ..KeyringConfig::default()
    };
    let service = open(dir.path(), &clock, config)?;
    let kms = admin(&service);
    let meta = kms
        .create_key(create(KeyOrigin::AliyunKms, RotationPolicy::new(false, 0)?))
        .await?;
    let key = KeyRef::Id(meta.key_id.clone());
    let v1 = meta.primary_key_version.clone();
    let gw = gateway(&service);
    let old = gw.generate_data_key(&acct(), &key, 0, &ctx("o1")).await?;

    // The primary version is never retired; an unknown one is not found.
    let refused = kms.retire_key_version(&acct(), &key, &v1).await;
    assert!(
        matches!(&refused, Err(cang_kms_api::KmsError::InvalidArgument(m)) if m.contains("primary")),
        "{refused:?}"
    );
    assert_eq!(
        kms.retire_key_version(&acct(), &key, "no-such-version").await,
        Err(cang_kms_api::KmsError::KeyVersionNotFound)
    );
    let v2 = kms.rotate_key(&acct(), &key).await?.key_version_id;
    // Within the grace period gateways may still hold bucket keys of v1.
    clock.advance(599);
    let early = kms.retire_key_version(&acct(), &key, &v1).await;
    assert!(
        matches!(&early, Err(cang_kms_api::KmsError::InvalidArgument(m)) if m.contains("superseded 599s ago")),
        "{early:?}"
    );
    // Only the admin retires.
    assert_eq!(
        gw.retire_key_version(&acct(), &key, &v1).await,
        Err(cang_kms_api::KmsError::AccessDenied)
    );
    clock.advance(1);
    kms.retire_key_version(&acct(), &key, &v1).await?;
    let versions: Vec<String> = kms
        .list_key_versions(&acct(), &key)
        .await?
        .into_iter()
        .map(|v| v.key_version_id)
        .collect();
    assert_eq!(versions, vec![v2.clone()]);
    assert_eq!(
        gw.decrypt(&acct(), &old.ciphertext_blob, &ctx("o1")).await.err(),
        Some(cang_kms_api::KmsError::KeyVersionNotFound)
    );
    // Still gone after a restart, and v2 still works.
    drop((kms, gw));
    let service = reopen(dir.path(), &clock, service).await?;
    let gw = gateway(&service);
    assert_eq!(
        gw.decrypt(&acct(), &old.ciphertext_blob, &ctx("o1")).await.err(),
        Some(cang_kms_api::KmsError::KeyVersionNotFound)
    );
    let fresh = gw.generate_data_key(&acct(), &key, 0, &ctx("o2")).await?;
    assert_eq!(fresh.key_version_id, v2);
    Ok(())
}
