//! BYOK import tokens outlive a restart: they are sealed in the keystore with their wrapping key and
//! expiry, usable once, bound to one key, refused after 24 hours and never stored in the clear.

mod common;

use cang_kms::{KeyringConfig, ManualClock};
use cang_kms_api::{KeyOrigin, KeyRef, KeyState, KmsApi, KmsError, SecretBytes};
use common::{DAY, T0, acct, admin, create, ctx, gateway, no_rotation, open, reopen, wrap_material};

/// Rows of the keystore's import token table, read directly from the database file.
fn stored_tokens(dir: &std::path::Path) -> anyhow::Result<usize> {
    use redb::{ReadableDatabase, ReadableTableMetadata};
    const TOKENS: redb::TableDefinition<&str, &[u8]> = redb::TableDefinition::new("import_tokens");
    let db = redb::Database::open(dir.join("data/keystore.redb"))?;
    let txn = db.begin_read()?;
    Ok(usize::try_from(txn.open_table(TOKENS)?.len()?)?)
}

#[tokio::test]
async fn import_token_survives_a_restart() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let clock = ManualClock::new(T0);
    let service = open(dir.path(), &clock, KeyringConfig::default())?;
    let kms = admin(&service);
    let key = KeyRef::Id(
        kms.create_key(create(KeyOrigin::External, no_rotation()))
            .await?
            .key_id,
    );
    let params = kms.get_parameters_for_import(&acct(), &key).await?;
    assert_eq!(params.token_expire_time, T0 + DAY);
    drop(kms);

    let service = reopen(dir.path(), &clock, service).await?;
    let bytes = std::fs::read(dir.path().join("data/keystore.redb"))?;
    assert!(
        !bytes
            .windows(params.import_token.len())
            .any(|w| w == params.import_token.as_ref()),
        "the import token is stored in the clear"
    );
    let kms = admin(&service);
    clock.advance(DAY - 1);
    let material = [0x3Cu8; 32];
    let wrapped = wrap_material(&params.public_key, &material)?;
    let meta = kms
        .import_key_material(&acct(), &key, &wrapped, &params.import_token, None)
        .await?;
    assert_eq!(meta.state, KeyState::Enabled);
    let secret = SecretBytes::from(b"after restart".to_vec());
    let blob = gateway(&service)
        .encrypt(&acct(), &key, &secret, &ctx("i"))
        .await?
        .ciphertext_blob;
    assert_eq!(
        gateway(&service)
            .decrypt(&acct(), &blob, &ctx("i"))
            .await?
            .plaintext,
        secret
    );

    // A used token is gone, across a restart too.
    assert_eq!(
        kms.import_key_material(&acct(), &key, &wrapped, &params.import_token, None)
            .await
            .err(),
        Some(KmsError::InvalidImportToken)
    );
    drop(kms);
    let service = reopen(dir.path(), &clock, service).await?;
    assert_eq!(
        admin(&service)
            .import_key_material(&acct(), &key, &wrapped, &params.import_token, None)
            .await
            .err(),
        Some(KmsError::InvalidImportToken)
    );
    drop(service);
    Ok(())
}

#[tokio::test]
async fn persisted_tokens_expire_and_stay_bound_to_their_key() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let clock = ManualClock::new(T0);
    let service = open(dir.path(), &clock, KeyringConfig::default())?;
    let kms = admin(&service);
    let key = KeyRef::Id(
        kms.create_key(create(KeyOrigin::External, no_rotation()))
            .await?
            .key_id,
    );
    let other = KeyRef::Id(
        kms.create_key(create(KeyOrigin::External, no_rotation()))
            .await?
            .key_id,
    );
    let expiring = kms.get_parameters_for_import(&acct(), &key).await?;
    let for_other = kms.get_parameters_for_import(&acct(), &other).await?;
    drop(kms);

    let service = reopen(dir.path(), &clock, service).await?;
    let kms = admin(&service);
    let material = [0x77u8; 32];
    // Bound to `other`: refused for `key`, and the wrong wrapping key is no way around it.
    let wrapped = wrap_material(&for_other.public_key, &material)?;
    assert_eq!(
        kms.import_key_material(&acct(), &key, &wrapped, &for_other.import_token, None)
            .await
            .err(),
        Some(KmsError::InvalidImportToken)
    );
    // Material wrapped for another token's public key does not unwrap.
    assert_eq!(
        kms.import_key_material(
            &acct(),
            &other,
            &wrap_material(&expiring.public_key, &material)?,
            &for_other.import_token,
            None
        )
        .await
        .err(),
        Some(KmsError::InvalidCiphertext)
    );
    // 24 hours after issue the token is refused.
    clock.advance(DAY);
    let wrapped = wrap_material(&expiring.public_key, &material)?;
    assert_eq!(
        kms.import_key_material(&acct(), &key, &wrapped, &expiring.import_token, None)
            .await
            .err(),
        Some(KmsError::InvalidImportToken)
    );
    assert_eq!(
        kms.describe_key(&acct(), &key).await?.state,
        KeyState::PendingImport
    );

    // Issuing a token drops the expired ones from the keystore.
    let fresh = kms.get_parameters_for_import(&acct(), &key).await?;
    drop(kms);
    drop(service);
    let mut stored = None;
    for _ in 0..50 {
        match stored_tokens(dir.path()) {
            Ok(n) => {
                stored = Some(n);
                break;
            }
            Err(_) => tokio::time::sleep(std::time::Duration::from_millis(100)).await,
        }
    }
    assert_eq!(stored, Some(1), "only the fresh token is kept");

    let service = open(dir.path(), &clock, KeyringConfig::default())?;
    let wrapped = wrap_material(&fresh.public_key, &material)?;
    admin(&service)
        .import_key_material(&acct(), &key, &wrapped, &fresh.import_token, None)
        .await?;
    Ok(())
}
