//! `ScheduleKeyDeletion` windows: the accepted range (7–366 days, see `DELETION_WINDOW_DAYS` in
//! `src/keyring.rs` for the sources), the deletion date it sets, and deletion exactly when it is due.

mod common;

use cang_kms::{KeyringConfig, ManualClock};
use cang_kms_api::{KeyOrigin, KeyRef, KeyState, KmsApi, KmsError};
use common::{DAY, T0, acct, admin, create, ctx, no_rotation, open};

#[tokio::test]
async fn window_bounds_are_7_to_366_days() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let service = open(dir.path(), &ManualClock::new(T0), KeyringConfig::default())?;
    let kms = admin(&service);
    for (days, accepted) in [
        (0, false),
        (6, false),
        (7, true),
        (30, true),
        (31, true),
        (366, true),
        (367, false),
        (u32::MAX, false),
    ] {
        let key = KeyRef::Id(
            kms.create_key(create(KeyOrigin::AliyunKms, no_rotation()))
                .await?
                .key_id,
        );
        let result = kms.schedule_key_deletion(&acct(), &key, days).await;
        let meta = kms.describe_key(&acct(), &key).await?;
        if accepted {
            let scheduled = result?;
            assert_eq!(scheduled.state, KeyState::PendingDeletion, "{days}");
            assert_eq!(scheduled.delete_date, Some(T0 + i64::from(days) * DAY), "{days}");
            assert_eq!(meta.delete_date, scheduled.delete_date, "{days}");
        } else {
            match result {
                Err(KmsError::InvalidArgument(message)) => {
                    assert_eq!(message, "PendingWindowInDays must be 7-366")
                }
                other => panic!("{days} days: {other:?}"),
            }
            assert_eq!(
                (meta.state, meta.delete_date),
                (KeyState::Enabled, None),
                "{days}"
            );
        }
    }
    Ok(())
}

#[tokio::test]
async fn key_is_deleted_when_the_window_ends_not_before() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let clock = ManualClock::new(T0);
    let service = open(dir.path(), &clock, KeyringConfig::default())?;
    let kms = admin(&service);
    let key = KeyRef::Id(
        kms.create_key(create(KeyOrigin::AliyunKms, no_rotation()))
            .await?
            .key_id,
    );
    let dk = kms.generate_data_key(&acct(), &key, 0, &ctx("d")).await?;
    kms.schedule_key_deletion(&acct(), &key, 366).await?;

    clock.advance(366 * DAY - 1);
    service.keyring().run_maintenance().await?;
    assert_eq!(
        kms.describe_key(&acct(), &key).await?.state,
        KeyState::PendingDeletion
    );
    // Still recoverable on the last second of the window.
    kms.cancel_key_deletion(&acct(), &key).await?;
    kms.schedule_key_deletion(&acct(), &key, 7).await?;

    clock.advance(7 * DAY);
    // Due but not yet purged by the maintenance pass: already unusable and invisible.
    assert_eq!(
        kms.decrypt(&acct(), &dk.ciphertext_blob, &ctx("d")).await.err(),
        Some(KmsError::KeyNotFound)
    );
    service.keyring().run_maintenance().await?;
    assert_eq!(
        kms.describe_key(&acct(), &key).await.err(),
        Some(KmsError::KeyNotFound)
    );
    assert_eq!(
        kms.decrypt(&acct(), &dk.ciphertext_blob, &ctx("d")).await.err(),
        Some(KmsError::KeyNotFound)
    );
    Ok(())
}
