//! The keyring: key, version and alias state in memory (authoritative copy in the sealed keystore),
//! the Alibaba KMS state rules, and the lifecycle operations. Data-key operations are in `datakeys.rs`.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, RwLock};

use cang_kms_api::{
    AccountId, Alias, AliasName, CreateKeyRequest, KeyId, KeyListEntry, KeyMetadata, KeyOrigin, KeyRef,
    KeySpec, KeyState, KeyVersion, KmsError, Page, Paged, RotationPolicy,
};

use crate::clock::Clock;
use crate::record::{AliasRecord, KeyRecord, VersionRecord};
use crate::store::{Change, Keystore, StoreError};

/// Account owning the service keys (SSE-OSS and the instance storage key).
pub(crate) const SERVICE_ACCOUNT: &str = "acs";

/// Accepted `PendingWindowInDays` of `ScheduleKeyDeletion`, in days.
///
/// The sources disagree: `docs/oss-api.md` §9.3 (and §8.3) give 7–30, which is also the range of AWS
/// KMS, while Alibaba's current guide "Schedule a key deletion task"
/// (<https://www.alibabacloud.com/help/en/kms/key-management-service/support/schedule-a-key-deletion-task>,
/// quoted in `docs/sse-anchors.md` §1.8) gives 7–366 days. A mirror has to accept what the live
/// service accepts, and 7–366 contains 7–30, so tools written against either text keep working;
/// the 7-day minimum, the part that protects data, is the same in both.
pub(crate) const DELETION_WINDOW_DAYS: std::ops::RangeInclusive<u32> = 7..=366;

/// Tunables of the keyring.
#[derive(Debug, Clone)]
pub struct KeyringConfig {
    /// Region used in ARNs.
    pub region: String,
    /// Rotation interval of the service keys (SSE-OSS and the instance storage key), seconds (default
    /// 30 days).
    pub service_key_rotation_seconds: u64,
    /// How long after a version stops being primary it may be retired, seconds (default 600): gateways
    /// keep issuing cached bucket keys of the old version for their cache lifetime (300 s by default),
    /// so this must exceed the gateways' `--data-key-cache-secs`.
    pub version_retire_grace_seconds: u64,
}

impl Default for KeyringConfig {
    fn default() -> Self {
        Self {
            region: "cn-cang".to_owned(),
            service_key_rotation_seconds: 30 * 86_400,
            version_retire_grace_seconds: 600,
        }
    }
}

#[derive(Debug, Default)]
pub(crate) struct State {
    pub keys: HashMap<String, KeyRecord>,
    /// (account, alias) → key id.
    pub aliases: BTreeMap<(String, String), String>,
    /// Ids of keys whose record authenticated but does not decode: refused, never recreated.
    pub corrupt_keys: HashSet<String>,
    /// (account, alias) of alias records that authenticated but do not decode.
    pub corrupt_aliases: HashSet<(String, String)>,
}

/// Keys, versions and aliases with their rules.
#[derive(Debug)]
pub struct Keyring {
    pub(crate) store: Arc<Keystore>,
    pub(crate) state: RwLock<State>,
    /// Serialises mutations so each is read-modify-persist-publish without lost updates.
    pub(crate) write: tokio::sync::Mutex<()>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) config: KeyringConfig,
}

#[cfg(test)]
#[path = "corrupt_tests.rs"]
mod corrupt_tests;

pub(crate) fn internal(e: StoreError) -> KmsError {
    tracing::error!(error = %e, "keystore failure");
    KmsError::Internal
}

/// The error for a use of a key (or alias) whose stored record does not decode: an internal failure
/// to the caller, the identifier in the log (identifiers only, no record contents).
pub(crate) fn corrupt_record(kind: &'static str, id: &str) -> KmsError {
    tracing::error!(
        kind,
        id,
        "refused: the keystore record does not decode (corrupt keystore)"
    );
    KmsError::Internal
}

fn new_version(spec: KeySpec, now: i64) -> Result<VersionRecord, KmsError> {
    let mut material = vec![0u8; spec.material_len()];
    getrandom::fill(&mut material).map_err(|_| KmsError::Internal)?;
    Ok(VersionRecord {
        id: uuid::Uuid::new_v4().to_string(),
        created: now,
        material,
    })
}

impl Keyring {
    /// Builds the keyring from the keystore's records.
    ///
    /// Records that authenticate but do not decode do not stop the service: they are logged once here
    /// and their keys and aliases are refused (an internal error) on every use, never read with a
    /// default and never overwritten by a recreated key.
    pub(crate) fn new(
        store: Keystore,
        clock: Arc<dyn Clock>,
        config: KeyringConfig,
    ) -> Result<Self, StoreError> {
        Self::from_shared(Arc::new(store), clock, config)
    }

    /// [`Self::new`] over a keystore handle that others hold too (tests reload the keyring this way).
    pub(crate) fn from_shared(
        store: Arc<Keystore>,
        clock: Arc<dyn Clock>,
        config: KeyringConfig,
    ) -> Result<Self, StoreError> {
        let loaded = store.load_all()?;
        let mut corrupt_keys = HashSet::new();
        for (id, e) in loaded.corrupt_keys {
            tracing::error!(key_id = %id, error = %e, "keystore key record does not decode; the key is refused");
            corrupt_keys.insert(id);
        }
        let mut corrupt_aliases = HashSet::new();
        for (slot, e) in loaded.corrupt_aliases {
            let (account, name) = slot.split_once('\u{0}').unwrap_or(("", slot.as_str()));
            tracing::error!(account, alias = name, error = %e, "keystore alias record does not decode; the alias is refused");
            corrupt_aliases.insert((account.to_owned(), name.to_owned()));
        }
        let state = State {
            keys: loaded.keys.into_iter().map(|k| (k.id.clone(), k)).collect(),
            aliases: loaded
                .aliases
                .into_iter()
                .map(|a| ((a.account, a.name), a.key_id))
                .collect(),
            corrupt_keys,
            corrupt_aliases,
        };
        Ok(Self {
            store,
            state: RwLock::new(state),
            write: tokio::sync::Mutex::new(()),
            clock,
            config,
        })
    }

    pub(crate) fn read(&self) -> std::sync::RwLockReadGuard<'_, State> {
        // A panic while holding the lock cannot leave State half-updated: it is only replaced
        // wholesale after a successful commit, so a poisoned lock is still consistent.
        self.state
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn write_state(&self) -> std::sync::RwLockWriteGuard<'_, State> {
        self.state
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Persists `changes` (in `spawn_blocking`), then publishes them to the in-memory state.
    pub(crate) async fn commit(&self, changes: Vec<Change>) -> Result<(), KmsError> {
        let store = self.store.clone();
        let changes = tokio::task::spawn_blocking(move || store.apply(&changes).map(|()| changes))
            .await
            .map_err(|_| KmsError::Internal)?
            .map_err(internal)?;
        let mut state = self.write_state();
        for change in changes {
            match change {
                Change::PutKey(rec) => {
                    state.keys.insert(rec.id.clone(), rec);
                }
                Change::DeleteKey(id) => {
                    state.keys.remove(&id);
                }
                Change::PutAlias(a) => {
                    state.aliases.insert((a.account, a.name), a.key_id);
                }
                Change::DeleteAlias { account, name } => {
                    let slot = (account, name);
                    state.aliases.remove(&slot);
                    state.corrupt_aliases.remove(&slot);
                }
            }
        }
        Ok(())
    }

    /// The state a key is effectively in now (expired imported material reads as `PendingImport`).
    pub(crate) fn effective_state(&self, rec: &KeyRecord) -> KeyState {
        let now = self.clock.now();
        match rec.state() {
            KeyState::Enabled if rec.material_expire.is_some_and(|t| t <= now) || rec.primary().is_none() => {
                KeyState::PendingImport
            }
            s => s,
        }
    }

    fn is_purged(&self, rec: &KeyRecord) -> bool {
        rec.state() == KeyState::PendingDeletion && rec.delete_date.is_some_and(|d| d <= self.clock.now())
    }

    /// Resolves an id or alias of `account` to a key record (cloned). `alias/acs/oss` is not created here.
    /// A key or alias whose record does not decode is refused with an internal error.
    pub(crate) fn resolve(&self, account: &AccountId, key: &KeyRef) -> Result<KeyRecord, KmsError> {
        let state = self.read();
        let id = match key {
            KeyRef::Id(id) => id.as_str().to_owned(),
            KeyRef::Alias(alias) => {
                let slot = (account.as_str().to_owned(), alias.as_str().to_owned());
                match state.aliases.get(&slot) {
                    Some(id) => id.clone(),
                    None if state.corrupt_aliases.contains(&slot) => {
                        return Err(corrupt_record("alias", alias.as_str()));
                    }
                    None => return Err(KmsError::AliasNotFound),
                }
            }
        };
        match state.keys.get(&id) {
            Some(rec) if rec.account == account.as_str() && !rec.service && !self.is_purged(rec) => {
                Ok(rec.clone())
            }
            None if state.corrupt_keys.contains(&id) => Err(corrupt_record("key", &id)),
            _ => Err(KmsError::KeyNotFound),
        }
    }

    /// Like [`Self::resolve`], creating the account's `alias/acs/oss` key on first use.
    pub(crate) async fn resolve_or_default(
        &self,
        account: &AccountId,
        key: &KeyRef,
    ) -> Result<KeyRecord, KmsError> {
        match (self.resolve(account, key), key) {
            (Err(KmsError::AliasNotFound), KeyRef::Alias(a))
                if a.as_str() == cang_kms_api::DEFAULT_OSS_ALIAS =>
            {
                let _guard = self.write.lock().await;
                if let Ok(rec) = self.resolve(account, key) {
                    return Ok(rec);
                }
                let rec = self.new_key_record(&CreateKeyRequest {
                    account: account.clone(),
                    description: "Default key for OSS server-side encryption".to_owned(),
                    spec: KeySpec::Aes256,
                    origin: KeyOrigin::AliyunKms,
                    rotation: RotationPolicy::new(true, 0)?,
                })?;
                let alias = AliasRecord {
                    account: account.as_str().to_owned(),
                    name: a.as_str().to_owned(),
                    key_id: rec.id.clone(),
                };
                self.commit(vec![Change::PutKey(rec.clone()), Change::PutAlias(alias)])
                    .await?;
                Ok(rec)
            }
            (result, _) => result,
        }
    }

    fn new_key_record(&self, req: &CreateKeyRequest) -> Result<KeyRecord, KmsError> {
        if req.description.chars().count() > 8192 {
            return Err(KmsError::InvalidArgument(
                "Description must be at most 8192 characters".into(),
            ));
        }
        // The same rules as a policy received over gRPC (the fields are public, so one built in
        // process may not have gone through `RotationPolicy::new`).
        let rotation = RotationPolicy::new(req.rotation.enabled, req.rotation.interval_seconds)?;
        let now = self.clock.now();
        let (state, versions) = match req.origin {
            KeyOrigin::AliyunKms => (KeyState::Enabled, vec![new_version(req.spec, now)?]),
            KeyOrigin::External => (KeyState::PendingImport, Vec::new()),
        };
        Ok(KeyRecord {
            id: uuid::Uuid::new_v4().to_string(),
            account: req.account.as_str().to_owned(),
            description: req.description.clone(),
            spec: req.spec,
            origin: req.origin,
            state,
            created: now,
            delete_date: None,
            material_expire: None,
            rotation_enabled: rotation.enabled && req.origin == KeyOrigin::AliyunKms,
            rotation_interval: rotation.interval_seconds,
            versions,
            service: false,
            material_digest: None,
            tags: std::collections::BTreeMap::new(),
        })
    }

    pub(crate) fn metadata(&self, rec: &KeyRecord) -> Result<KeyMetadata, KmsError> {
        let rotation = RotationPolicy {
            enabled: rec.rotation_enabled,
            interval_seconds: rec.rotation_interval,
        };
        let last = rec.last_rotation();
        Ok(KeyMetadata {
            key_id: KeyId::new(rec.id.clone())?,
            account: AccountId::new(rec.account.clone())?,
            arn: format!("acs:kms:{}:{}:key/{}", self.config.region, rec.account, rec.id),
            description: rec.description.clone(),
            spec: rec.spec(),
            origin: rec.origin(),
            state: self.effective_state(rec),
            creation_date: rec.created,
            delete_date: rec.delete_date,
            material_expire_time: rec.material_expire,
            rotation,
            last_rotation_date: last,
            next_rotation_date: rec
                .rotation_enabled
                .then(|| last.saturating_add(i64::try_from(rec.rotation_interval).unwrap_or(i64::MAX))),
            primary_key_version: rec.primary().map(|v| v.id.clone()).unwrap_or_default(),
        })
    }

    pub(crate) fn alias_view(&self, account: &str, name: &str, key_id: &str) -> Result<Alias, KmsError> {
        Ok(Alias {
            name: AliasName::new(name)?,
            arn: format!("acs:kms:{}:{}:{}", self.config.region, account, name),
            key_id: KeyId::new(key_id)?,
        })
    }

    pub(crate) async fn create_key(&self, req: CreateKeyRequest) -> Result<KeyMetadata, KmsError> {
        let rec = self.new_key_record(&req)?;
        let _guard = self.write.lock().await;
        self.commit(vec![Change::PutKey(rec.clone())]).await?;
        self.metadata(&rec)
    }

    pub(crate) fn list_keys(&self, account: &AccountId, page: Page) -> Result<Paged<KeyListEntry>, KmsError> {
        // Paged as over gRPC: 0 means the default, a page size over 100 is refused.
        let page = Page::new(page.number, page.size)?;
        let state = self.read();
        let mut keys: Vec<&KeyRecord> = state
            .keys
            .values()
            .filter(|k| k.account == account.as_str() && !k.service && !self.is_purged(k))
            .collect();
        keys.sort_by(|a, b| (a.created, &a.id).cmp(&(b.created, &b.id)));
        let items = keys[page.range(keys.len())]
            .iter()
            .map(|k| {
                Ok(KeyListEntry {
                    key_id: KeyId::new(k.id.clone())?,
                    arn: format!("acs:kms:{}:{}:key/{}", self.config.region, k.account, k.id),
                })
            })
            .collect::<Result<_, KmsError>>()?;
        Ok(Paged {
            items,
            total_count: keys.len() as u64,
            page,
        })
    }

    /// Applies a state transition under the write lock: `f` validates and edits the record.
    pub(crate) async fn update_key(
        &self,
        account: &AccountId,
        key: &KeyRef,
        f: impl FnOnce(&Self, &mut KeyRecord) -> Result<(), KmsError>,
    ) -> Result<KeyRecord, KmsError> {
        let _guard = self.write.lock().await;
        let mut rec = self.resolve(account, key)?;
        f(self, &mut rec)?;
        self.commit(vec![Change::PutKey(rec.clone())]).await?;
        Ok(rec)
    }

    pub(crate) async fn set_enabled(
        &self,
        account: &AccountId,
        key: &KeyRef,
        enable: bool,
    ) -> Result<KeyMetadata, KmsError> {
        let rec = self
            .update_key(account, key, |kr, rec| match kr.effective_state(rec) {
                KeyState::Enabled | KeyState::Disabled => {
                    rec.set_state(if enable {
                        KeyState::Enabled
                    } else {
                        KeyState::Disabled
                    });
                    Ok(())
                }
                KeyState::PendingDeletion | KeyState::PendingImport => Err(KmsError::StateModifiedFailed),
            })
            .await?;
        self.metadata(&rec)
    }

    pub(crate) async fn schedule_deletion(
        &self,
        account: &AccountId,
        key: &KeyRef,
        days: u32,
    ) -> Result<KeyMetadata, KmsError> {
        if !DELETION_WINDOW_DAYS.contains(&days) {
            return Err(KmsError::InvalidArgument(format!(
                "PendingWindowInDays must be {}-{}",
                DELETION_WINDOW_DAYS.start(),
                DELETION_WINDOW_DAYS.end()
            )));
        }
        let rec = self
            .update_key(account, key, |kr, rec| {
                if rec.state() == KeyState::PendingDeletion {
                    return Err(KmsError::StateModifiedFailed);
                }
                rec.set_state(KeyState::PendingDeletion);
                rec.delete_date = Some(kr.clock.now() + i64::from(days) * 86_400);
                Ok(())
            })
            .await?;
        self.metadata(&rec)
    }

    pub(crate) async fn cancel_deletion(
        &self,
        account: &AccountId,
        key: &KeyRef,
    ) -> Result<KeyMetadata, KmsError> {
        let rec = self
            .update_key(account, key, |_, rec| {
                if rec.state() != KeyState::PendingDeletion {
                    return Err(KmsError::StateModifiedFailed);
                }
                rec.delete_date = None;
                let back = if rec.primary().is_some() {
                    KeyState::Enabled
                } else {
                    KeyState::PendingImport
                };
                rec.set_state(back);
                Ok(())
            })
            .await?;
        self.metadata(&rec)
    }

    pub(crate) async fn rotate(&self, account: &AccountId, key: &KeyRef) -> Result<KeyVersion, KmsError> {
        let rec = self
            .update_key(account, key, |kr, rec| {
                if rec.origin() == KeyOrigin::External {
                    return Err(KmsError::InvalidArgument(
                        "keys with imported material cannot be rotated".into(),
                    ));
                }
                match kr.effective_state(rec) {
                    KeyState::Enabled | KeyState::Disabled => {}
                    _ => return Err(KmsError::StateModifiedFailed),
                }
                rec.versions.push(new_version(rec.spec(), kr.clock.now())?);
                Ok(())
            })
            .await?;
        let v = rec.versions.last().ok_or(KmsError::Internal)?;
        Ok(KeyVersion {
            key_id: KeyId::new(rec.id.clone())?,
            key_version_id: v.id.clone(),
            creation_date: v.created,
        })
    }

    /// Deletes the material of a version no longer primary, once it has been superseded for the retire
    /// grace period. What depends on it can no longer be decrypted: the caller checks first that nothing
    /// does (`cang admin kms retire-version` asks the metadata service's inventory).
    pub(crate) async fn retire_version(
        &self,
        account: &AccountId,
        key: &KeyRef,
        version_id: &str,
    ) -> Result<(), KmsError> {
        let grace = i64::try_from(self.config.version_retire_grace_seconds).unwrap_or(i64::MAX);
        self.update_key(account, key, |kr, rec| {
            if rec.origin() == KeyOrigin::External {
                return Err(KmsError::InvalidArgument(
                    "versions of keys with imported material cannot be retired".into(),
                ));
            }
            let at = rec
                .versions
                .iter()
                .position(|v| v.id == version_id)
                .ok_or(KmsError::KeyVersionNotFound)?;
            if rec.primary().is_some_and(|p| p.id == version_id) {
                return Err(KmsError::InvalidArgument(
                    "the primary version cannot be retired; rotate the key first".into(),
                ));
            }
            let superseded = rec.versions.get(at + 1).map_or(i64::MAX, |next| next.created);
            let now = kr.clock.now();
            if now.saturating_sub(superseded) < grace {
                return Err(KmsError::InvalidArgument(format!(
                    "version {version_id} was superseded {}s ago; it may be retired {grace}s after (gateways may \
                     still hold data keys of it)",
                    now.saturating_sub(superseded).max(0)
                )));
            }
            let mut retired = rec.versions.remove(at);
            zeroize::Zeroize::zeroize(&mut retired.material);
            Ok(())
        })
        .await?;
        Ok(())
    }

    pub(crate) async fn set_rotation_policy(
        &self,
        account: &AccountId,
        key: &KeyRef,
        policy: RotationPolicy,
    ) -> Result<KeyMetadata, KmsError> {
        let policy = RotationPolicy::new(policy.enabled, policy.interval_seconds)?;
        let rec = self
            .update_key(account, key, |_, rec| {
                if rec.origin() == KeyOrigin::External && policy.enabled {
                    return Err(KmsError::InvalidArgument(
                        "keys with imported material cannot be rotated".into(),
                    ));
                }
                rec.rotation_enabled = policy.enabled;
                rec.rotation_interval = policy.interval_seconds;
                Ok(())
            })
            .await?;
        self.metadata(&rec)
    }

    /// Deletes keys whose deletion window has passed (with their aliases), rotates keys whose automatic
    /// rotation is due. Run periodically and on start.
    pub async fn run_maintenance(&self) -> Result<(), KmsError> {
        let _guard = self.write.lock().await;
        let now = self.clock.now();
        let mut changes = Vec::new();
        {
            let state = self.read();
            for rec in state.keys.values() {
                if self.is_purged(rec) {
                    changes.push(Change::DeleteKey(rec.id.clone()));
                    for ((account, name), id) in &state.aliases {
                        if id == &rec.id {
                            changes.push(Change::DeleteAlias {
                                account: account.clone(),
                                name: name.clone(),
                            });
                        }
                    }
                    tracing::info!(key_id = %rec.id, "key deleted at the end of its deletion window");
                } else if rec.rotation_enabled
                    && rec.state() == KeyState::Enabled
                    && now
                        >= rec
                            .last_rotation()
                            .saturating_add(i64::try_from(rec.rotation_interval).unwrap_or(i64::MAX))
                {
                    let mut rotated = rec.clone();
                    rotated.versions.push(new_version(rec.spec(), now)?);
                    tracing::info!(key_id = %rec.id, "automatic rotation");
                    changes.push(Change::PutKey(rotated));
                }
            }
        }
        if changes.is_empty() {
            Ok(())
        } else {
            self.commit(changes).await
        }
    }
}
