//! Cases on key states and versions: disabled keys, deletion and its window, rotation, re-encryption,
//! rotation policies and maintenance.

use cang_kms_api::{
    AliasName, KeyOrigin, KeyRef, KeySpec, KeyState, KmsError, Page, RotationPolicy, SecretBytes,
};

use super::{Subject, alias, new_key};
use crate::common::{DAY, T0, acct, create, ctx};

const YEAR: u64 = 365 * DAY as u64;

pub async fn disabled_key_refuses_use(s: &Subject) -> anyhow::Result<()> {
    let kms = s.kms();
    let key = new_key(kms, KeyOrigin::AliyunKms).await?;
    let enabled = new_key(kms, KeyOrigin::AliyunKms).await?;
    let dk = kms.generate_data_key(&acct(), &key, 0, &ctx("d")).await?;
    let other = kms.generate_data_key(&acct(), &enabled, 0, &ctx("d")).await?;
    assert_eq!(kms.disable_key(&acct(), &key).await?.state, KeyState::Disabled);
    assert_eq!(kms.describe_key(&acct(), &key).await?.state, KeyState::Disabled);

    let refused = Err(KmsError::KeyDisabled);
    assert_eq!(
        kms.generate_data_key(&acct(), &key, 0, &ctx("d")).await.map(drop),
        refused
    );
    assert_eq!(
        kms.generate_data_key_without_plaintext(&acct(), &key, 0, &ctx("d"))
            .await
            .map(drop),
        refused
    );
    let secret = SecretBytes::from(b"s".to_vec());
    assert_eq!(
        kms.encrypt(&acct(), &key, &secret, &ctx("d")).await.map(drop),
        refused
    );
    assert_eq!(
        kms.decrypt(&acct(), &dk.ciphertext_blob, &ctx("d"))
            .await
            .map(drop),
        refused
    );
    assert_eq!(
        kms.re_encrypt(&acct(), &dk.ciphertext_blob, &ctx("d"), None, &ctx("d"))
            .await
            .map(drop),
        refused
    );
    assert_eq!(
        kms.re_encrypt(&acct(), &other.ciphertext_blob, &ctx("d"), Some(&key), &ctx("d"))
            .await
            .map(drop),
        refused,
        "a disabled destination refuses too"
    );

    // Disabling twice is fine, and a disabled key may still be rotated.
    assert_eq!(kms.disable_key(&acct(), &key).await?.state, KeyState::Disabled);
    kms.rotate_key(&acct(), &key).await?;
    assert_eq!(kms.enable_key(&acct(), &key).await?.state, KeyState::Enabled);
    assert_eq!(
        kms.decrypt(&acct(), &dk.ciphertext_blob, &ctx("d"))
            .await?
            .plaintext,
        dk.plaintext
    );
    Ok(())
}

pub async fn pending_deletion_refuses_use_until_cancelled(s: &Subject) -> anyhow::Result<()> {
    let kms = s.kms();
    let key = new_key(kms, KeyOrigin::AliyunKms).await?;
    let dk = kms.generate_data_key(&acct(), &key, 0, &ctx("p")).await?;
    let window = Err(KmsError::InvalidArgument(
        "PendingWindowInDays must be 7-366".into(),
    ));
    for days in [0, 6, 367] {
        assert_eq!(
            kms.schedule_key_deletion(&acct(), &key, days).await.map(drop),
            window
        );
    }
    let scheduled = kms.schedule_key_deletion(&acct(), &key, 7).await?;
    assert_eq!(scheduled.state, KeyState::PendingDeletion);
    assert_eq!(scheduled.delete_date, Some(T0 + 7 * DAY));

    let pending = Err(KmsError::PendingDeletion);
    assert_eq!(
        kms.generate_data_key(&acct(), &key, 0, &ctx("p")).await.map(drop),
        pending
    );
    assert_eq!(
        kms.decrypt(&acct(), &dk.ciphertext_blob, &ctx("p"))
            .await
            .map(drop),
        pending
    );
    let secret = SecretBytes::from(b"s".to_vec());
    assert_eq!(
        kms.encrypt(&acct(), &key, &secret, &ctx("p")).await.map(drop),
        pending
    );

    let state = Err(KmsError::StateModifiedFailed);
    assert_eq!(
        kms.schedule_key_deletion(&acct(), &key, 30).await.map(drop),
        state
    );
    assert_eq!(kms.enable_key(&acct(), &key).await.map(drop), state);
    assert_eq!(kms.disable_key(&acct(), &key).await.map(drop), state);
    assert_eq!(kms.rotate_key(&acct(), &key).await.map(drop), state);
    assert_eq!(kms.create_alias(&acct(), &alias("p")?, &key).await, state);

    let cancelled = kms.cancel_key_deletion(&acct(), &key).await?;
    assert_eq!(
        (cancelled.state, cancelled.delete_date),
        (KeyState::Enabled, None)
    );
    assert_eq!(
        kms.decrypt(&acct(), &dk.ciphertext_blob, &ctx("p"))
            .await?
            .plaintext,
        dk.plaintext
    );
    assert_eq!(kms.cancel_key_deletion(&acct(), &key).await.map(drop), state);

    // A disabled key scheduled for deletion comes back enabled.
    kms.disable_key(&acct(), &key).await?;
    kms.schedule_key_deletion(&acct(), &key, 366).await?;
    assert_eq!(
        kms.cancel_key_deletion(&acct(), &key).await?.state,
        KeyState::Enabled
    );
    Ok(())
}

pub async fn deletion_window_end_removes_the_key(s: &Subject) -> anyhow::Result<()> {
    let kms = s.kms();
    let key = new_key(kms, KeyOrigin::AliyunKms).await?;
    let name = alias("doomed")?;
    kms.create_alias(&acct(), &name, &key).await?;
    let dk = kms.generate_data_key(&acct(), &key, 0, &ctx("w")).await?;
    kms.schedule_key_deletion(&acct(), &key, 7).await?;
    s.advance(7 * DAY - 1);
    assert_eq!(
        kms.describe_key(&acct(), &key).await?.state,
        KeyState::PendingDeletion
    );
    s.advance(1);
    let gone = Err(KmsError::KeyNotFound);
    assert_eq!(kms.describe_key(&acct(), &key).await.map(drop), gone);
    assert_eq!(
        kms.describe_key(&acct(), &KeyRef::Alias(name.clone()))
            .await
            .map(drop),
        gone
    );
    assert_eq!(
        kms.decrypt(&acct(), &dk.ciphertext_blob, &ctx("w"))
            .await
            .map(drop),
        gone
    );
    assert_eq!(kms.cancel_key_deletion(&acct(), &key).await.map(drop), gone);
    assert_eq!(kms.list_keys(&acct(), Page::new(1, 10)?).await?.total_count, 0);
    s.maintain().await?;
    assert_eq!(
        kms.describe_key(&acct(), &KeyRef::Alias(name)).await.map(drop),
        Err(KmsError::AliasNotFound)
    );
    Ok(())
}

pub async fn rotation_and_re_encrypt(s: &Subject) -> anyhow::Result<()> {
    let kms = s.kms();
    let key = new_key(kms, KeyOrigin::AliyunKms).await?;
    let old = kms.generate_data_key(&acct(), &key, 0, &ctx("r")).await?;
    s.advance(10);
    let v2 = kms.rotate_key(&acct(), &key).await?;
    assert_ne!(v2.key_version_id, old.key_version_id);
    assert_eq!((&v2.key_id, v2.creation_date), (&old.key_id, T0 + 10));
    let versions = kms.list_key_versions(&acct(), &key).await?;
    let ids: Vec<_> = versions.iter().map(|v| v.key_version_id.as_str()).collect();
    assert_eq!(ids, vec![old.key_version_id.as_str(), v2.key_version_id.as_str()]);
    let meta = kms.describe_key(&acct(), &key).await?;
    assert_eq!(
        (meta.primary_key_version.as_str(), meta.last_rotation_date),
        (v2.key_version_id.as_str(), T0 + 10)
    );
    let new = kms.generate_data_key(&acct(), &key, 0, &ctx("r")).await?;
    assert_eq!(new.key_version_id, v2.key_version_id);

    // Old versions keep decrypting; re-encryption moves a blob to the primary version.
    let opened = kms.decrypt(&acct(), &old.ciphertext_blob, &ctx("r")).await?;
    assert_eq!(
        (opened.key_version_id, opened.plaintext),
        (old.key_version_id.clone(), old.plaintext.clone())
    );
    let moved = kms
        .re_encrypt(&acct(), &old.ciphertext_blob, &ctx("r"), None, &ctx("r2"))
        .await?;
    assert_eq!(
        (&moved.key_id, &moved.key_version_id),
        (&old.key_id, &v2.key_version_id)
    );
    let reopened = kms.decrypt(&acct(), &moved.ciphertext_blob, &ctx("r2")).await?;
    assert_eq!(
        (reopened.key_version_id, reopened.plaintext),
        (v2.key_version_id.clone(), old.plaintext.clone())
    );
    assert_eq!(
        kms.decrypt(&acct(), &moved.ciphertext_blob, &ctx("r"))
            .await
            .map(drop),
        Err(KmsError::ContextMismatch)
    );

    let other = new_key(kms, KeyOrigin::AliyunKms).await?;
    let elsewhere = kms
        .re_encrypt(&acct(), &old.ciphertext_blob, &ctx("r"), Some(&other), &ctx("r"))
        .await?;
    assert_eq!(KeyRef::Id(elsewhere.key_id.clone()), other);
    assert_eq!(
        kms.decrypt(&acct(), &elsewhere.ciphertext_blob, &ctx("r"))
            .await?
            .plaintext,
        old.plaintext
    );
    let default = KeyRef::Alias(AliasName::default_oss());
    let to_default = kms
        .re_encrypt(
            &acct(),
            &old.ciphertext_blob,
            &ctx("r"),
            Some(&default),
            &ctx("r"),
        )
        .await?;
    assert_eq!(
        to_default.key_id,
        kms.describe_key(&acct(), &default).await?.key_id
    );

    let external = new_key(kms, KeyOrigin::External).await?;
    assert_eq!(
        kms.rotate_key(&acct(), &external).await.map(drop),
        Err(KmsError::InvalidArgument(
            "keys with imported material cannot be rotated".into()
        ))
    );
    Ok(())
}

pub async fn rotation_policy_rules(s: &Subject) -> anyhow::Result<()> {
    let kms = s.kms();
    let mut req = create(KeyOrigin::AliyunKms, RotationPolicy::new(true, 0)?);
    let meta = kms.create_key(req.clone()).await?;
    assert_eq!(
        meta.rotation,
        RotationPolicy {
            enabled: true,
            interval_seconds: YEAR
        }
    );
    assert_eq!(meta.next_rotation_date, Some(T0 + YEAR as i64));
    let key = KeyRef::Id(meta.key_id);
    let month = RotationPolicy::new(true, 30 * DAY as u64)?;
    let updated = kms.update_rotation_policy(&acct(), &key, month).await?;
    assert_eq!(
        (updated.rotation, updated.next_rotation_date),
        (month, Some(T0 + 30 * DAY))
    );
    let off = kms
        .update_rotation_policy(&acct(), &key, RotationPolicy::new(false, 0)?)
        .await?;
    assert_eq!((off.rotation.enabled, off.next_rotation_date), (false, None));

    // Policies built without `RotationPolicy::new` are held to the same rules everywhere.
    let interval = Err(KmsError::InvalidArgument(
        "RotationInterval must be 7-730 days".into(),
    ));
    let daily = RotationPolicy {
        enabled: true,
        interval_seconds: DAY as u64,
    };
    assert_eq!(
        kms.update_rotation_policy(&acct(), &key, daily).await.map(drop),
        interval
    );
    req.rotation = daily;
    assert_eq!(kms.create_key(req.clone()).await.map(drop), interval);
    req.rotation = RotationPolicy {
        enabled: false,
        interval_seconds: 0,
    };
    assert_eq!(kms.create_key(req.clone()).await?.rotation.interval_seconds, YEAR);

    let mut external = create(KeyOrigin::External, RotationPolicy::new(true, 0)?);
    external.spec = KeySpec::Sm4;
    let ext = kms.create_key(external).await?;
    assert_eq!((ext.rotation.enabled, ext.spec), (false, KeySpec::Sm4));
    assert_eq!(
        kms.update_rotation_policy(&acct(), &KeyRef::Id(ext.key_id), RotationPolicy::new(true, 0)?)
            .await
            .map(drop),
        Err(KmsError::InvalidArgument(
            "keys with imported material cannot be rotated".into()
        ))
    );
    Ok(())
}

pub async fn maintenance_rotates_and_purges(s: &Subject) -> anyhow::Result<()> {
    let kms = s.kms();
    let weekly = RotationPolicy::new(true, 7 * DAY as u64)?;
    let rotating = KeyRef::Id(kms.create_key(create(KeyOrigin::AliyunKms, weekly)).await?.key_id);
    let disabled = KeyRef::Id(kms.create_key(create(KeyOrigin::AliyunKms, weekly)).await?.key_id);
    kms.disable_key(&acct(), &disabled).await?;
    let doomed = new_key(kms, KeyOrigin::AliyunKms).await?;
    kms.create_alias(&acct(), &alias("doomed")?, &doomed).await?;
    kms.schedule_key_deletion(&acct(), &doomed, 7).await?;

    s.advance(7 * DAY);
    s.maintain().await?;
    let versions = kms.list_key_versions(&acct(), &rotating).await?;
    assert_eq!(versions.len(), 2);
    let meta = kms.describe_key(&acct(), &rotating).await?;
    assert_eq!(meta.primary_key_version, versions[1].key_version_id);
    assert_eq!(
        (meta.last_rotation_date, meta.next_rotation_date),
        (T0 + 7 * DAY, Some(T0 + 14 * DAY))
    );
    assert_eq!(
        kms.list_key_versions(&acct(), &disabled).await?.len(),
        1,
        "disabled keys do not rotate"
    );
    assert_eq!(kms.list_aliases(&acct(), Page::new(1, 10)?).await?.total_count, 0);
    assert_eq!(kms.list_keys(&acct(), Page::new(1, 10)?).await?.total_count, 2);
    Ok(())
}
