//! The knobs of [`MemoryKms`]: call counts, the call log with end users, injected failures, the
//! unavailable switch and the clock. Its agreement with the keyring is the conformance suite's job
//! (`crates/kms/tests/conformance.rs`).

use super::*;
use crate::{KeyOrigin, KeySpec, KeyState, on_behalf_of};

const T0: i64 = 1_800_000_000;

fn account() -> AccountId {
    AccountId::new("1234567890").unwrap()
}

fn default_key() -> KeyRef {
    KeyRef::Alias(AliasName::default_oss())
}

fn ctx() -> EncryptionContext {
    EncryptionContext::from([("bucket", "b")])
}

#[tokio::test]
async fn calls_are_counted_per_method_including_failures() {
    let kms = MemoryKms::starting_at(T0);
    let dk = kms
        .generate_data_key(&account(), &default_key(), 0, &ctx())
        .await
        .unwrap();
    kms.decrypt(&account(), &dk.ciphertext_blob, &ctx())
        .await
        .unwrap();
    let wrong = EncryptionContext::default();
    assert_eq!(
        kms.decrypt(&account(), &dk.ciphertext_blob, &wrong).await,
        Err(KmsError::ContextMismatch)
    );
    assert_eq!(kms.calls("generate_data_key"), 1);
    assert_eq!(kms.calls("decrypt"), 2);
    assert_eq!(kms.calls("describe_key"), 0);
    assert_eq!(
        kms.call_counts().into_iter().collect::<Vec<_>>(),
        vec![("decrypt", 2), ("generate_data_key", 1)]
    );
    kms.reset_calls();
    assert_eq!(kms.calls("decrypt"), 0);
    // The key survives a reset of the counters.
    kms.decrypt(&account(), &dk.ciphertext_blob, &ctx())
        .await
        .unwrap();
}

#[test]
#[should_panic(expected = "no method")]
fn a_misspelt_method_is_refused() {
    MemoryKms::new().calls("generate_dta_key");
}

#[tokio::test]
async fn injected_failures_are_used_once_in_order_and_change_nothing() {
    let kms = MemoryKms::starting_at(T0);
    kms.fail_next_call_to("generate_data_key", KmsError::KeyDisabled);
    kms.fail_next(KmsError::Internal);
    // The targeted failure waits for its method; the untargeted one takes the first call.
    assert_eq!(
        kms.describe_key(&account(), &default_key()).await,
        Err(KmsError::Internal)
    );
    assert_eq!(
        kms.list_keys(&account(), Page::new(1, 10).unwrap())
            .await
            .map(|p| p.total_count),
        Ok(0),
        "a failed describe must not have created alias/acs/oss"
    );
    assert_eq!(
        kms.generate_data_key(&account(), &default_key(), 0, &ctx()).await,
        Err(KmsError::KeyDisabled)
    );
    assert!(
        kms.generate_data_key(&account(), &default_key(), 0, &ctx())
            .await
            .is_ok()
    );
    assert_eq!(kms.calls("generate_data_key"), 2);
}

#[tokio::test]
async fn unavailable_refuses_every_call_until_cleared() {
    let kms = MemoryKms::starting_at(T0);
    kms.set_unavailable(true);
    assert_eq!(
        kms.generate_service_data_key(ServiceKeySuite::Aes256, &ctx())
            .await,
        Err(KmsError::Unavailable)
    );
    assert_eq!(
        kms.describe_key(&account(), &default_key()).await,
        Err(KmsError::Unavailable)
    );
    kms.set_unavailable(false);
    let dk = kms
        .generate_service_data_key(ServiceKeySuite::Aes256, &ctx())
        .await
        .unwrap();
    assert_eq!(dk.key_id.as_str(), "service-aes256");
    assert_eq!(kms.calls("generate_service_data_key"), 2);
}

#[tokio::test]
async fn the_call_log_names_the_end_user_and_a_malformed_one_is_refused() {
    let kms = MemoryKms::starting_at(T0);
    let user = EndUser::new("1234567890", Some("alice".into()), "LTAIexample").unwrap();
    on_behalf_of(user.clone(), kms.describe_key(&account(), &default_key()))
        .await
        .unwrap();
    kms.describe_key(&account(), &default_key()).await.unwrap();
    let log = kms.call_log();
    assert_eq!(log.len(), 2);
    assert_eq!(log[0].end_user.as_ref(), Some(&user));
    assert_eq!(log[1].end_user, None);

    let malformed = EndUser {
        account: "has space".into(),
        user: None,
        access_key_id: "LTAI".into(),
        source_ip: None,
    };
    let refused = on_behalf_of(malformed, kms.describe_key(&account(), &default_key())).await;
    assert!(
        matches!(refused, Err(KmsError::InvalidArgument(_))),
        "{refused:?}"
    );
}

#[tokio::test]
async fn the_clock_drives_deletion_and_maintenance_rotates_what_is_due() {
    let kms = MemoryKms::starting_at(T0);
    let key = kms
        .create_key(CreateKeyRequest {
            account: account(),
            description: String::new(),
            spec: KeySpec::Sm4,
            origin: KeyOrigin::AliyunKms,
            rotation: RotationPolicy::new(true, 7 * 86_400).unwrap(),
        })
        .await
        .unwrap();
    let id = KeyRef::Id(key.key_id.clone());
    assert_eq!(key.next_rotation_date, Some(T0 + 7 * 86_400));
    kms.advance(7 * 86_400);
    assert_eq!(kms.now(), T0 + 7 * 86_400);
    kms.run_maintenance().unwrap();
    let versions = kms.list_key_versions(&account(), &id).await.unwrap();
    assert_eq!(versions.len(), 2);
    assert_eq!(versions[1].creation_date, T0 + 7 * 86_400);

    let alias = AliasName::new("alias/doomed").unwrap();
    kms.create_alias(&account(), &alias, &id).await.unwrap();
    let scheduled = kms.schedule_key_deletion(&account(), &id, 7).await.unwrap();
    assert_eq!(scheduled.state, KeyState::PendingDeletion);
    kms.advance(7 * 86_400);
    // Past the window the key is gone at once; its alias goes with maintenance, as in the keyring.
    assert_eq!(
        kms.describe_key(&account(), &id).await,
        Err(KmsError::KeyNotFound)
    );
    let by_alias = KeyRef::Alias(alias);
    assert_eq!(
        kms.describe_key(&account(), &by_alias).await,
        Err(KmsError::KeyNotFound)
    );
    kms.run_maintenance().unwrap();
    assert_eq!(
        kms.describe_key(&account(), &by_alias).await,
        Err(KmsError::AliasNotFound)
    );
}
