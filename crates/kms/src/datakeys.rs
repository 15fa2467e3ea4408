//! Data-key operations (GenerateDataKey, Encrypt, Decrypt, ReEncrypt), service keys (SSE-OSS and the
//! instance storage key) and alias management. Crypto on 32-byte keys takes microseconds, so it runs
//! inline on the caller's task.

use cang_kms_api::{
    AccountId, Alias, AliasName, DataKey, Decrypted, EncryptionContext, KeyId, KeyOrigin, KeyRef, KeySpec,
    KeyState, KmsError, Page, Paged, SecretBytes, ServiceKeySuite, WrappedDataKey, WrappedKey,
};
use zeroize::Zeroizing;

use crate::blob;
use crate::cipher;
use crate::keyring::{Keyring, SERVICE_ACCOUNT, corrupt_record};
use crate::record::{AliasRecord, KeyRecord, VersionRecord};
use crate::store::Change;

/// Maximum plaintext accepted by `Encrypt` (Alibaba: 6 KB).
const MAX_ENCRYPT_PLAINTEXT: usize = 6 * 1024;

fn state_error(state: KeyState) -> KmsError {
    match state {
        KeyState::Enabled => KmsError::Internal,
        KeyState::Disabled => KmsError::KeyDisabled,
        KeyState::PendingDeletion => KmsError::PendingDeletion,
        KeyState::PendingImport => KmsError::PendingImport,
    }
}

fn wrap(
    rec: &KeyRecord,
    version: &VersionRecord,
    plaintext: &[u8],
    ctx: &EncryptionContext,
) -> Result<WrappedKey, KmsError> {
    let header = blob::header(&rec.id, &version.id, ctx).map_err(|_| KmsError::Internal)?;
    let nonce = cipher::random_nonce().map_err(|_| KmsError::Internal)?;
    let ct = cipher::seal(
        rec.spec(),
        &version.material,
        &nonce,
        plaintext,
        &blob::aad(&header, ctx),
    )
    .map_err(|_| KmsError::Internal)?;
    Ok(WrappedKey {
        key_id: KeyId::new(rec.id.clone())?,
        key_version_id: version.id.clone(),
        ciphertext_blob: WrappedDataKey(blob::assemble(&header, &nonce, &ct).into()),
    })
}

impl Keyring {
    fn usable(&self, rec: &KeyRecord) -> Result<(), KmsError> {
        match self.effective_state(rec) {
            KeyState::Enabled => Ok(()),
            s => Err(state_error(s)),
        }
    }

    /// Wraps `plaintext` under the primary version of `key`.
    pub(crate) async fn encrypt_under(
        &self,
        account: &AccountId,
        key: &KeyRef,
        plaintext: &[u8],
        ctx: &EncryptionContext,
    ) -> Result<WrappedKey, KmsError> {
        let rec = self.resolve_or_default(account, key).await?;
        self.usable(&rec)?;
        let primary = rec.primary().ok_or(KmsError::PendingImport)?;
        wrap(&rec, primary, plaintext, ctx)
    }

    pub(crate) async fn generate(
        &self,
        account: &AccountId,
        key: &KeyRef,
        number_of_bytes: u32,
        ctx: &EncryptionContext,
    ) -> Result<DataKey, KmsError> {
        let len = cang_kms_api::data_key_len(number_of_bytes)?;
        let mut dek = Zeroizing::new(vec![0u8; len]);
        getrandom::fill(&mut dek).map_err(|_| KmsError::Internal)?;
        let w = self.encrypt_under(account, key, &dek, ctx).await?;
        Ok(DataKey {
            key_id: w.key_id,
            key_version_id: w.key_version_id,
            plaintext: SecretBytes(dek),
            ciphertext_blob: w.ciphertext_blob,
        })
    }

    pub(crate) async fn encrypt(
        &self,
        account: &AccountId,
        key: &KeyRef,
        plaintext: &SecretBytes,
        ctx: &EncryptionContext,
    ) -> Result<WrappedKey, KmsError> {
        if plaintext.expose().is_empty() || plaintext.expose().len() > MAX_ENCRYPT_PLAINTEXT {
            return Err(KmsError::InvalidArgument("Plaintext must be 1-6144 bytes".into()));
        }
        self.encrypt_under(account, key, plaintext.expose(), ctx).await
    }

    /// Whether `blob` names a service key (SSE-OSS or the instance storage key), whose data keys only
    /// the gateway and the admin may unwrap.
    pub(crate) fn names_service_key(&self, blob_bytes: &WrappedDataKey) -> bool {
        blob::parse(&blob_bytes.0)
            .ok()
            .and_then(|parsed| self.read().keys.get(parsed.key_id).map(|rec| rec.service))
            .unwrap_or(false)
    }

    /// Decrypts a blob of `account` (or of a service key).
    pub(crate) fn decrypt(
        &self,
        account: &AccountId,
        blob_bytes: &WrappedDataKey,
        ctx: &EncryptionContext,
    ) -> Result<Decrypted, KmsError> {
        let parsed = blob::parse(&blob_bytes.0).map_err(|_| KmsError::InvalidCiphertext)?;
        let (spec, material) = {
            let state = self.read();
            let rec = match state.keys.get(parsed.key_id) {
                Some(rec) => rec,
                None if state.corrupt_keys.contains(parsed.key_id) => {
                    return Err(corrupt_record("key", parsed.key_id));
                }
                None => return Err(KmsError::KeyNotFound),
            };
            if !(rec.service || rec.account == account.as_str()) {
                return Err(KmsError::KeyNotFound);
            }
            if rec.state() == KeyState::PendingDeletion
                && rec.delete_date.is_some_and(|d| d <= self.clock.now())
            {
                return Err(KmsError::KeyNotFound);
            }
            self.usable(rec)?;
            let version = rec
                .versions
                .iter()
                .find(|v| v.id == parsed.version_id)
                .ok_or(KmsError::KeyVersionNotFound)?;
            if version.material.is_empty() {
                return Err(KmsError::PendingImport);
            }
            (rec.spec(), Zeroizing::new(version.material.clone()))
        };
        if parsed.context_check != blob::context_check(ctx) {
            return Err(KmsError::ContextMismatch);
        }
        let plaintext = cipher::open(
            spec,
            &material,
            &parsed.nonce,
            parsed.ciphertext,
            &blob::aad(parsed.header, ctx),
        )
        .map_err(|_| KmsError::InvalidCiphertext)?;
        Ok(Decrypted {
            key_id: KeyId::new(parsed.key_id)?,
            key_version_id: parsed.version_id.to_owned(),
            plaintext: SecretBytes(plaintext),
        })
    }

    pub(crate) async fn re_encrypt(
        &self,
        account: &AccountId,
        blob_bytes: &WrappedDataKey,
        src: &EncryptionContext,
        destination: Option<&KeyRef>,
        dst: &EncryptionContext,
    ) -> Result<WrappedKey, KmsError> {
        let plain = self.decrypt(account, blob_bytes, src)?;
        if destination.is_none() {
            // A service key belongs to no account: its data keys are re-wrapped under its own primary
            // version, which is how objects sealed under SSE-OSS or the storage key follow a rotation.
            let service = {
                let state = self.read();
                state
                    .keys
                    .get(plain.key_id.as_str())
                    .filter(|rec| rec.service)
                    .cloned()
            };
            if let Some(rec) = service {
                self.usable(&rec)?;
                let primary = rec.primary().ok_or(KmsError::Internal)?;
                return wrap(&rec, primary, plain.plaintext.expose(), dst);
            }
        }
        let dest = destination.cloned().unwrap_or(KeyRef::Id(plain.key_id.clone()));
        self.encrypt_under(account, &dest, plain.plaintext.expose(), dst)
            .await
    }

    /// A data key under the service key of `suite` (SSE-OSS or the instance storage key), created on
    /// first use. Service keys rotate with the other keys in `run_maintenance`, on the configured
    /// service-key schedule; old versions stay for decryption.
    pub(crate) async fn generate_service(
        &self,
        suite: ServiceKeySuite,
        ctx: &EncryptionContext,
    ) -> Result<DataKey, KmsError> {
        let rec = self.service_key(suite).await?;
        self.usable(&rec)?;
        let mut dek = Zeroizing::new(vec![0u8; 32]);
        getrandom::fill(&mut dek).map_err(|_| KmsError::Internal)?;
        let primary = rec.primary().ok_or(KmsError::Internal)?;
        let w = wrap(&rec, primary, &dek, ctx)?;
        Ok(DataKey {
            key_id: w.key_id,
            key_version_id: w.key_version_id,
            plaintext: SecretBytes(dek),
            ciphertext_blob: w.ciphertext_blob,
        })
    }

    /// The record of the service key of `suite`, created (and persisted) on first use. A record that
    /// exists but does not decode is refused, never replaced: replacing it would shred every object
    /// sealed under it.
    async fn service_key(&self, suite: ServiceKeySuite) -> Result<KeyRecord, KmsError> {
        let id = suite.key_id();
        let (spec, description) = match suite {
            ServiceKeySuite::Aes256 => (KeySpec::Aes256, "SSE-OSS service key (AES256)"),
            ServiceKeySuite::Sm4 => (KeySpec::Sm4, "SSE-OSS service key (SM4)"),
            ServiceKeySuite::Storage => (KeySpec::Aes256, "Instance storage key (objects without SSE)"),
        };
        let lookup = |kr: &Self| {
            let state = kr.read();
            match state.keys.get(id) {
                Some(rec) => Ok(Some(rec.clone())),
                None if state.corrupt_keys.contains(id) => Err(corrupt_record("key", id)),
                None => Ok(None),
            }
        };
        if let Some(rec) = lookup(self)? {
            return Ok(rec);
        }
        let _guard = self.write.lock().await;
        if let Some(rec) = lookup(self)? {
            return Ok(rec);
        }
        let now = self.clock.now();
        let mut material = vec![0u8; spec.material_len()];
        getrandom::fill(&mut material).map_err(|_| KmsError::Internal)?;
        let rec = KeyRecord {
            id: id.to_owned(),
            account: SERVICE_ACCOUNT.to_owned(),
            description: description.to_owned(),
            spec,
            origin: KeyOrigin::AliyunKms,
            state: KeyState::Enabled,
            created: now,
            delete_date: None,
            material_expire: None,
            rotation_enabled: true,
            rotation_interval: self.config.service_key_rotation_seconds,
            versions: vec![VersionRecord {
                id: uuid::Uuid::new_v4().to_string(),
                created: now,
                material,
            }],
            service: true,
            material_digest: None,
            tags: std::collections::BTreeMap::new(),
        };
        self.commit(vec![Change::PutKey(rec.clone())]).await?;
        Ok(rec)
    }

    pub(crate) async fn create_alias(
        &self,
        account: &AccountId,
        alias: &AliasName,
        key: &KeyRef,
        update: bool,
    ) -> Result<(), KmsError> {
        if alias.is_reserved() {
            return Err(KmsError::InvalidArgument(
                "aliases under alias/acs/ are reserved".into(),
            ));
        }
        let _guard = self.write.lock().await;
        let rec = self.resolve(account, key)?;
        let slot = (account.as_str().to_owned(), alias.as_str().to_owned());
        let (exists, corrupt) = {
            let state = self.read();
            (
                state.aliases.contains_key(&slot),
                state.corrupt_aliases.contains(&slot),
            )
        };
        if corrupt {
            // Overwriting would hide the damage; DeleteAlias removes the record first.
            return Err(corrupt_record("alias", alias.as_str()));
        }
        match (update, exists) {
            (false, true) => return Err(KmsError::AlreadyExists),
            (true, false) => return Err(KmsError::AliasNotFound),
            _ => {}
        }
        // CreateAlias is refused on a key pending deletion; UpdateAlias is governed by the state of
        // the key the alias is moved to, so the same rule applies to its target (oss-api.md §9.2).
        if rec.state() == KeyState::PendingDeletion {
            return Err(KmsError::StateModifiedFailed);
        }
        let record = AliasRecord {
            account: slot.0,
            name: slot.1,
            key_id: rec.id,
        };
        self.commit(vec![Change::PutAlias(record)]).await
    }

    pub(crate) async fn delete_alias(&self, account: &AccountId, alias: &AliasName) -> Result<(), KmsError> {
        let _guard = self.write.lock().await;
        let slot = (account.as_str().to_owned(), alias.as_str().to_owned());
        let known = {
            let state = self.read();
            // An alias record that does not decode may be deleted: that is how it is repaired.
            state.aliases.contains_key(&slot) || state.corrupt_aliases.contains(&slot)
        };
        if !known {
            return Err(KmsError::AliasNotFound);
        }
        self.commit(vec![Change::DeleteAlias {
            account: slot.0,
            name: slot.1,
        }])
        .await
    }

    pub(crate) fn list_aliases(
        &self,
        account: &AccountId,
        key: Option<&KeyRef>,
        page: Page,
    ) -> Result<Paged<Alias>, KmsError> {
        let page = Page::new(page.number, page.size)?;
        let key_id = key.map(|k| self.resolve(account, k)).transpose()?.map(|r| r.id);
        let state = self.read();
        let all: Vec<(&String, &String)> = state
            .aliases
            .iter()
            .filter(|((acc, _), id)| acc == account.as_str() && key_id.as_ref().is_none_or(|k| k == *id))
            .map(|((_, name), id)| (name, id))
            .collect();
        let items = all[page.range(all.len())]
            .iter()
            .map(|(name, id)| self.alias_view(account.as_str(), name, id))
            .collect::<Result<_, _>>()?;
        Ok(Paged {
            items,
            total_count: all.len() as u64,
            page,
        })
    }
}
