//! Keys, versions and aliases of [`super::MemoryKms`], under the same state rules as the keyring of
//! `cang-kms` (Alibaba KMS "Impact of CMK states on API call"), refusing with the same errors.

use std::collections::{BTreeMap, HashMap};
use std::ops::RangeInclusive;

use zeroize::Zeroizing;

use super::import::PendingToken;
use crate::{
    AccountId, Alias, AliasName, CreateKeyRequest, DEFAULT_OSS_ALIAS, KeyId, KeyListEntry, KeyMetadata,
    KeyOrigin, KeyRef, KeySpec, KeyState, KeyVersion, KmsError, Page, Paged, RotationPolicy,
};

/// Region named in ARNs (the keyring's default).
const REGION: &str = "cn-cang";
/// Accepted `PendingWindowInDays`, as in the keyring.
const DELETION_WINDOW_DAYS: RangeInclusive<u32> = 7..=366;
/// Rotation interval of the service keys (the keyring's default, 30 days).
pub(super) const SERVICE_KEY_ROTATION_SECONDS: u64 = 30 * 86_400;

/// One version of a key. Material is empty once an external key's material has been deleted.
#[derive(Clone)]
pub(super) struct Version {
    pub id: String,
    pub created: i64,
    pub material: Zeroizing<Vec<u8>>,
}

/// A CMK or a service key.
#[derive(Clone)]
pub(super) struct Key {
    pub id: String,
    pub account: String,
    pub description: String,
    pub spec: KeySpec,
    pub origin: KeyOrigin,
    /// The stored state; [`State::effective_state`] is what callers see.
    pub state: KeyState,
    pub created: i64,
    pub delete_date: Option<i64>,
    pub material_expire: Option<i64>,
    pub rotation: RotationPolicy,
    /// Oldest first; the newest version with material is primary.
    pub versions: Vec<Version>,
    /// Service keys belong to no account: never listed, never addressable, decryptable by all.
    pub service: bool,
    /// SHA-256 of imported material, kept after deletion so a re-import must match.
    pub material_digest: Option<[u8; 32]>,
    pub tags: std::collections::BTreeMap<String, String>,
}

impl Key {
    pub fn primary(&self) -> Option<&Version> {
        self.versions.iter().rev().find(|v| !v.material.is_empty())
    }

    fn last_rotation(&self) -> i64 {
        self.versions.last().map_or(self.created, |v| v.created)
    }

    fn rotation_due(&self) -> i64 {
        let interval = i64::try_from(self.rotation.interval_seconds).unwrap_or(i64::MAX);
        self.last_rotation().saturating_add(interval)
    }
}

/// Everything the double holds, with its clock (Unix seconds).
#[derive(Default)]
pub(super) struct State {
    pub now: i64,
    pub keys: HashMap<String, Key>,
    /// (account, alias) → key id, sorted as `ListAliases` returns them.
    pub aliases: BTreeMap<(String, String), String>,
    /// Outstanding import tokens by the SHA-256 of the token.
    pub tokens: HashMap<[u8; 32], PendingToken>,
}

pub(super) fn random_bytes(len: usize) -> Result<Zeroizing<Vec<u8>>, KmsError> {
    let mut out = Zeroizing::new(vec![0u8; len]);
    getrandom::fill(&mut out).map_err(|_| KmsError::Internal)?;
    Ok(out)
}

pub(super) fn new_version(spec: KeySpec, now: i64) -> Result<Version, KmsError> {
    Ok(Version {
        id: uuid::Uuid::new_v4().to_string(),
        created: now,
        material: random_bytes(spec.material_len())?,
    })
}

/// The rotation policy as the gRPC edge would accept it (0 = the default interval).
fn checked(policy: RotationPolicy) -> Result<RotationPolicy, KmsError> {
    RotationPolicy::new(policy.enabled, policy.interval_seconds)
}

/// The page as the gRPC edge would accept it (0 = the default; at most 100 a page).
fn checked_page(page: Page) -> Result<Page, KmsError> {
    Page::new(page.number, page.size)
}

impl State {
    /// The state a key is in now (expired or missing material reads as `PendingImport`).
    pub fn effective_state(&self, key: &Key) -> KeyState {
        match key.state {
            KeyState::Enabled
                if key.material_expire.is_some_and(|t| t <= self.now) || key.primary().is_none() =>
            {
                KeyState::PendingImport
            }
            s => s,
        }
    }

    /// Past its deletion window: gone for every caller, even before maintenance removes it.
    pub fn is_purged(&self, key: &Key) -> bool {
        key.state == KeyState::PendingDeletion && key.delete_date.is_some_and(|d| d <= self.now)
    }

    /// The id of the account's key that `key` names (`alias/acs/oss` is not created here).
    pub fn resolve(&self, account: &AccountId, key: &KeyRef) -> Result<String, KmsError> {
        let id = match key {
            KeyRef::Id(id) => id.as_str().to_owned(),
            KeyRef::Alias(alias) => self
                .aliases
                .get(&(account.as_str().to_owned(), alias.as_str().to_owned()))
                .cloned()
                .ok_or(KmsError::AliasNotFound)?,
        };
        match self.keys.get(&id) {
            Some(k) if k.account == account.as_str() && !k.service && !self.is_purged(k) => Ok(id),
            _ => Err(KmsError::KeyNotFound),
        }
    }

    /// [`Self::resolve`], creating the account's `alias/acs/oss` key on first use.
    pub fn resolve_or_default(&mut self, account: &AccountId, key: &KeyRef) -> Result<String, KmsError> {
        match (self.resolve(account, key), key) {
            (Err(KmsError::AliasNotFound), KeyRef::Alias(a)) if a.as_str() == DEFAULT_OSS_ALIAS => {
                let created = self.new_key(&CreateKeyRequest {
                    account: account.clone(),
                    description: "Default key for OSS server-side encryption".to_owned(),
                    spec: KeySpec::Aes256,
                    origin: KeyOrigin::AliyunKms,
                    rotation: RotationPolicy::new(true, 0)?,
                })?;
                let id = created.id.clone();
                self.keys.insert(id.clone(), created);
                self.aliases
                    .insert((account.as_str().to_owned(), a.as_str().to_owned()), id.clone());
                Ok(id)
            }
            (result, _) => result,
        }
    }

    pub fn key(&self, id: &str) -> Result<&Key, KmsError> {
        self.keys.get(id).ok_or(KmsError::KeyNotFound)
    }

    fn new_key(&self, req: &CreateKeyRequest) -> Result<Key, KmsError> {
        if req.description.chars().count() > 8192 {
            return Err(KmsError::InvalidArgument(
                "Description must be at most 8192 characters".into(),
            ));
        }
        let rotation = checked(req.rotation)?;
        let (state, versions) = match req.origin {
            KeyOrigin::AliyunKms => (KeyState::Enabled, vec![new_version(req.spec, self.now)?]),
            KeyOrigin::External => (KeyState::PendingImport, Vec::new()),
        };
        Ok(Key {
            id: uuid::Uuid::new_v4().to_string(),
            account: req.account.as_str().to_owned(),
            description: req.description.clone(),
            spec: req.spec,
            origin: req.origin,
            state,
            created: self.now,
            delete_date: None,
            material_expire: None,
            rotation: RotationPolicy {
                enabled: rotation.enabled && req.origin == KeyOrigin::AliyunKms,
                interval_seconds: rotation.interval_seconds,
            },
            versions,
            service: false,
            material_digest: None,
            tags: std::collections::BTreeMap::new(),
        })
    }

    pub fn create_key(&mut self, req: &CreateKeyRequest) -> Result<KeyMetadata, KmsError> {
        let key = self.new_key(req)?;
        let metadata = self.metadata(&key)?;
        self.keys.insert(key.id.clone(), key);
        Ok(metadata)
    }

    pub fn metadata(&self, key: &Key) -> Result<KeyMetadata, KmsError> {
        Ok(KeyMetadata {
            key_id: KeyId::new(key.id.clone())?,
            account: AccountId::new(key.account.clone())?,
            arn: format!("acs:kms:{REGION}:{}:key/{}", key.account, key.id),
            description: key.description.clone(),
            spec: key.spec,
            origin: key.origin,
            state: self.effective_state(key),
            creation_date: key.created,
            delete_date: key.delete_date,
            material_expire_time: key.material_expire,
            rotation: key.rotation,
            last_rotation_date: key.last_rotation(),
            next_rotation_date: key.rotation.enabled.then(|| key.rotation_due()),
            primary_key_version: key.primary().map(|v| v.id.clone()).unwrap_or_default(),
        })
    }

    pub fn describe(&mut self, account: &AccountId, key: &KeyRef) -> Result<KeyMetadata, KmsError> {
        let id = self.resolve_or_default(account, key)?;
        self.metadata(self.key(&id)?)
    }

    pub fn list_keys(&self, account: &AccountId, page: Page) -> Result<Paged<KeyListEntry>, KmsError> {
        let page = checked_page(page)?;
        let mut keys: Vec<&Key> = self
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
                    arn: format!("acs:kms:{REGION}:{}:key/{}", k.account, k.id),
                })
            })
            .collect::<Result<_, KmsError>>()?;
        Ok(Paged {
            items,
            total_count: keys.len() as u64,
            page,
        })
    }

    /// Edits a copy of the key with `f` (which validates first) and keeps it only on success.
    pub fn update(
        &mut self,
        account: &AccountId,
        key: &KeyRef,
        f: impl FnOnce(&Self, &mut Key) -> Result<(), KmsError>,
    ) -> Result<&Key, KmsError> {
        let id = self.resolve(account, key)?;
        let mut copy = self.key(&id)?.clone();
        f(self, &mut copy)?;
        self.keys.insert(id.clone(), copy);
        self.key(&id)
    }

    /// [`Self::update`], answering with the key's metadata.
    pub fn update_described(
        &mut self,
        account: &AccountId,
        key: &KeyRef,
        f: impl FnOnce(&Self, &mut Key) -> Result<(), KmsError>,
    ) -> Result<KeyMetadata, KmsError> {
        let id = self.update(account, key, f)?.id.clone();
        self.metadata(self.key(&id)?)
    }

    pub fn set_enabled(
        &mut self,
        account: &AccountId,
        key: &KeyRef,
        enable: bool,
    ) -> Result<KeyMetadata, KmsError> {
        self.update_described(account, key, |s, k| match s.effective_state(k) {
            KeyState::Enabled | KeyState::Disabled => {
                k.state = if enable {
                    KeyState::Enabled
                } else {
                    KeyState::Disabled
                };
                Ok(())
            }
            KeyState::PendingDeletion | KeyState::PendingImport => Err(KmsError::StateModifiedFailed),
        })
    }

    pub fn schedule_deletion(
        &mut self,
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
        self.update_described(account, key, |s, k| {
            if k.state == KeyState::PendingDeletion {
                return Err(KmsError::StateModifiedFailed);
            }
            k.state = KeyState::PendingDeletion;
            k.delete_date = Some(s.now + i64::from(days) * 86_400);
            Ok(())
        })
    }

    pub fn cancel_deletion(&mut self, account: &AccountId, key: &KeyRef) -> Result<KeyMetadata, KmsError> {
        self.update_described(account, key, |_, k| {
            if k.state != KeyState::PendingDeletion {
                return Err(KmsError::StateModifiedFailed);
            }
            k.delete_date = None;
            k.state = if k.primary().is_some() {
                KeyState::Enabled
            } else {
                KeyState::PendingImport
            };
            Ok(())
        })
    }

    pub fn rotate(&mut self, account: &AccountId, key: &KeyRef) -> Result<KeyVersion, KmsError> {
        let key = self.update(account, key, |s, k| {
            if k.origin == KeyOrigin::External {
                return Err(KmsError::InvalidArgument(
                    "keys with imported material cannot be rotated".into(),
                ));
            }
            match s.effective_state(k) {
                KeyState::Enabled | KeyState::Disabled => {}
                _ => return Err(KmsError::StateModifiedFailed),
            }
            k.versions.push(new_version(k.spec, s.now)?);
            Ok(())
        })?;
        let version = key.versions.last().ok_or(KmsError::Internal)?;
        Ok(KeyVersion {
            key_id: KeyId::new(key.id.clone())?,
            key_version_id: version.id.clone(),
            creation_date: version.created,
        })
    }

    pub fn set_rotation_policy(
        &mut self,
        account: &AccountId,
        key: &KeyRef,
        policy: RotationPolicy,
    ) -> Result<KeyMetadata, KmsError> {
        let policy = checked(policy)?;
        self.update_described(account, key, |_, k| {
            if k.origin == KeyOrigin::External && policy.enabled {
                return Err(KmsError::InvalidArgument(
                    "keys with imported material cannot be rotated".into(),
                ));
            }
            k.rotation = policy;
            Ok(())
        })
    }

    pub fn versions(&self, account: &AccountId, key: &KeyRef) -> Result<Vec<KeyVersion>, KmsError> {
        let key = self.key(&self.resolve(account, key)?)?;
        key.versions
            .iter()
            .map(|v| {
                Ok(KeyVersion {
                    key_id: KeyId::new(key.id.clone())?,
                    key_version_id: v.id.clone(),
                    creation_date: v.created,
                })
            })
            .collect()
    }

    /// `CreateAlias` (`update` false) or `UpdateAlias` (`update` true).
    pub fn put_alias(
        &mut self,
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
        let id = self.resolve(account, key)?;
        let slot = (account.as_str().to_owned(), alias.as_str().to_owned());
        match (update, self.aliases.contains_key(&slot)) {
            (false, true) => return Err(KmsError::AlreadyExists),
            (true, false) => return Err(KmsError::AliasNotFound),
            _ => {}
        }
        if self.key(&id)?.state == KeyState::PendingDeletion {
            return Err(KmsError::StateModifiedFailed);
        }
        self.aliases.insert(slot, id);
        Ok(())
    }

    pub fn delete_alias(&mut self, account: &AccountId, alias: &AliasName) -> Result<(), KmsError> {
        self.aliases
            .remove(&(account.as_str().to_owned(), alias.as_str().to_owned()))
            .map(drop)
            .ok_or(KmsError::AliasNotFound)
    }

    pub fn list_aliases(
        &self,
        account: &AccountId,
        key: Option<&KeyRef>,
        page: Page,
    ) -> Result<Paged<Alias>, KmsError> {
        let page = checked_page(page)?;
        let key_id = key.map(|k| self.resolve(account, k)).transpose()?;
        let all: Vec<(&String, &String)> = self
            .aliases
            .iter()
            .filter(|((acc, _), id)| acc == account.as_str() && key_id.as_ref().is_none_or(|k| k == *id))
            .map(|((_, name), id)| (name, id))
            .collect();
        let items = all[page.range(all.len())]
            .iter()
            .map(|(name, id)| {
                Ok(Alias {
                    name: AliasName::new(name.as_str())?,
                    arn: format!("acs:kms:{REGION}:{}:{name}", account.as_str()),
                    key_id: KeyId::new(id.as_str())?,
                })
            })
            .collect::<Result<_, KmsError>>()?;
        Ok(Paged {
            items,
            total_count: all.len() as u64,
            page,
        })
    }

    /// Removes keys past their deletion window (with their aliases) and rotates keys that are due.
    pub fn maintain(&mut self) -> Result<(), KmsError> {
        let purged: Vec<String> = self
            .keys
            .values()
            .filter(|k| self.is_purged(k))
            .map(|k| k.id.clone())
            .collect();
        for id in &purged {
            self.keys.remove(id);
        }
        self.aliases.retain(|_, id| !purged.contains(id));
        let now = self.now;
        for key in self.keys.values_mut() {
            if key.rotation.enabled && key.state == KeyState::Enabled && now >= key.rotation_due() {
                key.versions.push(new_version(key.spec, now)?);
            }
        }
        Ok(())
    }
}
