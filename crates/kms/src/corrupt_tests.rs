//! Records that authenticate but do not decode (an unknown state, spec or origin, a mistyped field,
//! an alias naming another slot) are refused with an internal error on every use, never read with a
//! default, and never overwritten by a key created on first use.

use std::sync::Arc;

use cang_kms_api::{
    AccountId, AliasName, CreateKeyRequest, EncryptionContext, KeyOrigin, KeyRef, KeySpec, KmsError,
    RotationPolicy, ServiceKeySuite, WrappedDataKey,
};

use crate::clock::ManualClock;
use crate::keyring::{Keyring, KeyringConfig};
use crate::rootkey::RootKey;
use crate::store::Keystore;

const T0: i64 = 1_800_000_000;

fn acct() -> AccountId {
    AccountId::new("1234567890").unwrap_or_else(|_| unreachable!("a valid account id"))
}

fn ctx() -> EncryptionContext {
    EncryptionContext::from([("bucket", "b1"), ("object", "o")])
}

struct Fixture {
    _dir: tempfile::TempDir,
    store: Arc<Keystore>,
    keyring: Keyring,
}

impl Fixture {
    fn open() -> anyhow::Result<Self> {
        let dir = tempfile::tempdir()?;
        let root_file = dir.path().join("root.key");
        RootKey::generate(&root_file)?;
        let store = Arc::new(Keystore::open(
            &dir.path().join("keystore.redb"),
            RootKey::load(&root_file)?,
        )?);
        let keyring = Self::keyring(&store)?;
        Ok(Self {
            _dir: dir,
            store,
            keyring,
        })
    }

    fn keyring(store: &Arc<Keystore>) -> anyhow::Result<Keyring> {
        Ok(Keyring::from_shared(
            Arc::clone(store),
            Arc::new(ManualClock::new(T0)),
            KeyringConfig::default(),
        )?)
    }

    /// Loads the keyring again from the keystore, as a restart does.
    fn reload(&mut self) -> anyhow::Result<()> {
        self.keyring = Self::keyring(&self.store)?;
        Ok(())
    }

    /// Rewrites the stored record of key `id` with `edit` applied to its JSON form.
    fn edit_key(&self, id: &str, edit: impl FnOnce(&mut serde_json::Value)) -> anyhow::Result<()> {
        let rec = self
            .keyring
            .read()
            .keys
            .get(id)
            .cloned()
            .ok_or_else(|| anyhow::anyhow!("no key {id}"))?;
        let mut json = serde_json::to_value(&rec)?;
        edit(&mut json);
        self.store
            .put_sealed_for_test("keys", id, &serde_json::to_vec(&json)?)?;
        Ok(())
    }
}

fn create_request() -> CreateKeyRequest {
    CreateKeyRequest {
        account: acct(),
        description: "test".into(),
        spec: KeySpec::Aes256,
        origin: KeyOrigin::AliyunKms,
        rotation: RotationPolicy {
            enabled: false,
            interval_seconds: 365 * 86_400,
        },
    }
}

async fn key_with_blob(f: &Fixture) -> anyhow::Result<(KeyRef, WrappedDataKey)> {
    let id = f.keyring.create_key(create_request()).await?.key_id;
    let key = KeyRef::Id(id);
    let blob = f
        .keyring
        .generate(&acct(), &key, 0, &ctx())
        .await?
        .ciphertext_blob;
    Ok((key, blob))
}

#[tokio::test]
async fn a_bogus_state_is_refused_for_generate_and_decrypt() -> anyhow::Result<()> {
    let mut f = Fixture::open()?;
    let (key, blob) = key_with_blob(&f).await?;
    let (healthy, healthy_blob) = key_with_blob(&f).await?;
    f.edit_key(&key.to_string(), |j| j["state"] = "Bogus".into())?;
    f.reload()?;

    assert_eq!(
        f.keyring.generate(&acct(), &key, 0, &ctx()).await.err(),
        Some(KmsError::Internal)
    );
    assert_eq!(
        f.keyring.decrypt(&acct(), &blob, &ctx()).err(),
        Some(KmsError::Internal)
    );
    assert_eq!(f.keyring.resolve(&acct(), &key).err(), Some(KmsError::Internal));
    // The other keys of the keystore keep working.
    assert!(f.keyring.decrypt(&acct(), &healthy_blob, &ctx()).is_ok());
    assert!(f.keyring.generate(&acct(), &healthy, 0, &ctx()).await.is_ok());
    Ok(())
}

#[tokio::test]
async fn known_state_names_still_load() -> anyhow::Result<()> {
    let mut f = Fixture::open()?;
    let (key, blob) = key_with_blob(&f).await?;
    // The stored form is the Alibaba name, as written by earlier versions.
    f.edit_key(&key.to_string(), |j| {
        assert_eq!(j["state"], "Enabled");
        assert_eq!(j["spec"], "Aliyun_AES_256");
        assert_eq!(j["origin"], "Aliyun_KMS");
        j["state"] = "Disabled".into();
    })?;
    f.reload()?;
    assert_eq!(
        f.keyring.decrypt(&acct(), &blob, &ctx()).err(),
        Some(KmsError::KeyDisabled)
    );
    Ok(())
}

/// A change to the JSON form of a key record.
type Edit = fn(&mut serde_json::Value);

#[tokio::test]
async fn any_undecodable_field_is_refused() -> anyhow::Result<()> {
    let edits: [(&str, Edit); 5] = [
        ("lower-case state", |j| j["state"] = "enabled".into()),
        ("unknown spec", |j| j["spec"] = "Aliyun_AES_512".into()),
        ("unknown origin", |j| j["origin"] = "Elsewhere".into()),
        ("mistyped field", |j| j["created"] = "yesterday".into()),
        ("other id", |j| j["id"] = "somebody-else".into()),
    ];
    for (what, edit) in edits {
        let mut f = Fixture::open()?;
        let (key, blob) = key_with_blob(&f).await?;
        f.edit_key(&key.to_string(), edit)?;
        f.reload()?;
        assert_eq!(
            f.keyring.decrypt(&acct(), &blob, &ctx()).err(),
            Some(KmsError::Internal),
            "{what}"
        );
        assert_eq!(
            f.keyring.generate(&acct(), &key, 0, &ctx()).await.err(),
            Some(KmsError::Internal),
            "{what}"
        );
    }
    Ok(())
}

#[tokio::test]
async fn an_undecodable_service_key_is_refused_not_recreated() -> anyhow::Result<()> {
    let mut f = Fixture::open()?;
    let dk = f
        .keyring
        .generate_service(ServiceKeySuite::Storage, &ctx())
        .await?;
    let id = dk.key_id.to_string();
    f.edit_key(&id, |j| j["state"] = "Bogus".into())?;
    f.reload()?;
    assert_eq!(
        f.keyring
            .generate_service(ServiceKeySuite::Storage, &ctx())
            .await
            .err(),
        Some(KmsError::Internal)
    );
    assert_eq!(
        f.keyring.decrypt(&acct(), &dk.ciphertext_blob, &ctx()).err(),
        Some(KmsError::Internal)
    );
    assert!(
        !f.keyring.read().keys.contains_key(&id),
        "no replacement key was created"
    );
    Ok(())
}

#[tokio::test]
async fn an_undecodable_alias_is_refused_until_deleted() -> anyhow::Result<()> {
    let mut f = Fixture::open()?;
    let (key, _) = key_with_blob(&f).await?;
    let alias = AliasName::new("alias/broken")?;
    f.keyring.create_alias(&acct(), &alias, &key, false).await?;
    let slot = crate::record::AliasRecord::storage_key(acct().as_str(), alias.as_str());
    f.store
        .put_sealed_for_test("aliases", &slot, br#"{"account":"1234567890","name":7}"#)?;
    f.reload()?;
    let by_alias = KeyRef::Alias(alias.clone());
    assert_eq!(
        f.keyring.resolve(&acct(), &by_alias).err(),
        Some(KmsError::Internal)
    );
    assert_eq!(
        f.keyring.create_alias(&acct(), &alias, &key, false).await.err(),
        Some(KmsError::Internal)
    );
    f.keyring.delete_alias(&acct(), &alias).await?;
    assert_eq!(
        f.keyring.resolve(&acct(), &by_alias).err(),
        Some(KmsError::AliasNotFound)
    );
    f.keyring.create_alias(&acct(), &alias, &key, false).await?;
    assert!(f.keyring.resolve(&acct(), &by_alias).is_ok());
    Ok(())
}
