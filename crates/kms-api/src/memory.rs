//! [`MemoryKms`]: an in-memory [`KmsApi`] for callers' tests (feature `memory`). It follows the
//! keyring of `cang-kms` operation by operation (states, aliases, `alias/acs/oss`, rotation, BYOK,
//! service keys, real AEAD binding the encryption context) and refuses with the same [`KmsError`]
//! variants and messages; a conformance suite in `cang-kms` runs the same cases over both. On top it
//! counts calls, records the end user each was made for, injects failures and has a manual clock.
//!
//! It acts as the admin identity (every operation is allowed) and keeps no audit trail:
//! `list_audit_records` returns nothing and `verify_audit_log` finds an empty, intact log;
//! [`MemoryKms::call_log`] says what was asked and [`MemoryKms::job_records`] what `record_job` was given.

mod crypto;
mod import;
mod keys;

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Mutex, MutexGuard, PoisonError};

use async_trait::async_trait;

use self::keys::State;
use crate::{
    AccountId, Alias, AliasName, AuditAnchor, AuditRecord, AuditVerification, CreateKeyRequest, DataKey,
    Decrypted, EncryptionContext, EndUser, ImportParameters, JobAuditEvent, KeyId, KeyListEntry, KeyMetadata,
    KeyRef, KeyVersion, KmsApi, KmsError, Page, Paged, RotationPolicy, SecretBytes, ServiceKeySuite, Tag,
    WrappedDataKey, WrappedKey, current_end_user,
};

/// The [`KmsApi`] methods by name, as [`MemoryKms::calls`] and [`MemoryKms::fail_next_call_to`] take them.
pub const METHODS: &[&str] = &[
    "create_key",
    "describe_key",
    "list_keys",
    "enable_key",
    "disable_key",
    "schedule_key_deletion",
    "cancel_key_deletion",
    "create_alias",
    "update_alias",
    "delete_alias",
    "list_aliases",
    "list_aliases_by_key_id",
    "rotate_key",
    "update_rotation_policy",
    "list_key_versions",
    "generate_data_key",
    "generate_data_key_without_plaintext",
    "generate_service_data_key",
    "encrypt",
    "decrypt",
    "re_encrypt",
    "get_parameters_for_import",
    "import_key_material",
    "delete_key_material",
    "retire_key_version",
    "tag_resource",
    "untag_resource",
    "list_resource_tags",
    "list_audit_records",
    "verify_audit_log",
    "record_job",
    "snapshot",
];

/// One call made to a [`MemoryKms`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedCall {
    /// The [`KmsApi`] method (one of [`METHODS`]).
    pub method: &'static str,
    /// The end user of the enclosing [`crate::on_behalf_of`], as the gRPC client would send it.
    pub end_user: Option<EndUser>,
}

#[derive(Debug, Default)]
struct Knobs {
    log: Vec<RecordedCall>,
    /// Failures to inject, in order: for any method (`None`) or for one.
    failures: VecDeque<(Option<&'static str>, KmsError)>,
    unavailable: bool,
    /// Job records, in order.
    jobs: Vec<JobAuditEvent>,
}

/// An in-memory crypto service; see the [module documentation](self).
///
/// ```
/// # async fn demo() -> Result<(), cang_kms_api::KmsError> {
/// use cang_kms_api::memory::MemoryKms;
/// use cang_kms_api::{AccountId, AliasName, EncryptionContext, KeyRef, KmsApi, KmsError};
///
/// let kms = MemoryKms::new();
/// let account = AccountId::new("1234567890")?;
/// let key = KeyRef::Alias(AliasName::default_oss());
/// let ctx = EncryptionContext::from([("bucket", "b")]);
/// let dk = kms.generate_data_key(&account, &key, 0, &ctx).await?;
/// assert_eq!(kms.decrypt(&account, &dk.ciphertext_blob, &ctx).await?.plaintext, dk.plaintext);
/// kms.fail_next(KmsError::Unavailable);
/// assert_eq!(kms.decrypt(&account, &dk.ciphertext_blob, &ctx).await, Err(KmsError::Unavailable));
/// assert_eq!(kms.calls("decrypt"), 2);
/// # Ok(())
/// # }
/// ```
pub struct MemoryKms {
    state: Mutex<State>,
    knobs: Mutex<Knobs>,
}

impl std::fmt::Debug for MemoryKms {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryKms").finish_non_exhaustive()
    }
}

impl Default for MemoryKms {
    fn default() -> Self {
        Self::new()
    }
}

/// Both locks only guard plain data that every operation replaces whole, so a panic elsewhere while
/// holding one leaves nothing half-done: a poisoned lock is still consistent.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

fn known(method: &str) -> &'static str {
    // A misspelt method would count zero calls and let a test pass for the wrong reason.
    match METHODS.iter().find(|m| **m == method) {
        Some(m) => m,
        None => panic!("MemoryKms has no method {method:?}; see cang_kms_api::memory::METHODS"),
    }
}

impl MemoryKms {
    /// An empty service whose clock starts at the system time.
    pub fn new() -> Self {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
        Self::starting_at(now)
    }

    /// An empty service whose clock starts at `unix_seconds` and moves only with [`Self::advance`].
    pub fn starting_at(unix_seconds: i64) -> Self {
        Self {
            state: Mutex::new(State {
                now: unix_seconds,
                ..State::default()
            }),
            knobs: Mutex::new(Knobs::default()),
        }
    }

    /// The service's clock, Unix seconds.
    pub fn now(&self) -> i64 {
        lock(&self.state).now
    }

    /// Moves the clock forward (deletion windows, material expiry, import tokens, rotation).
    pub fn advance(&self, seconds: i64) {
        let mut state = lock(&self.state);
        state.now = state.now.saturating_add(seconds);
    }

    /// What the keyring's periodic maintenance does: removes keys past their deletion window with
    /// their aliases, and rotates keys (and service keys) whose automatic rotation is due.
    pub fn run_maintenance(&self) -> Result<(), KmsError> {
        lock(&self.state).maintain()
    }

    /// How many times `method` (one of [`METHODS`]) was called, failed calls included.
    ///
    /// # Panics
    /// If `method` is not one of [`METHODS`].
    pub fn calls(&self, method: &str) -> usize {
        let method = known(method);
        lock(&self.knobs)
            .log
            .iter()
            .filter(|c| c.method == method)
            .count()
    }

    /// Calls per method, for methods called at least once.
    pub fn call_counts(&self) -> BTreeMap<&'static str, usize> {
        let mut counts = BTreeMap::new();
        for call in &lock(&self.knobs).log {
            *counts.entry(call.method).or_insert(0) += 1;
        }
        counts
    }

    /// Every call so far, oldest first.
    pub fn call_log(&self) -> Vec<RecordedCall> {
        lock(&self.knobs).log.clone()
    }

    /// The job records appended so far (the audit trail's only entries here), oldest first.
    pub fn job_records(&self) -> Vec<JobAuditEvent> {
        lock(&self.knobs).jobs.clone()
    }

    /// Forgets the calls made so far (keys, aliases and injected failures stay).
    pub fn reset_calls(&self) {
        lock(&self.knobs).log.clear();
    }

    /// The next call, whatever the method, fails with `err` without touching any key. Queued failures
    /// are used in order.
    pub fn fail_next(&self, err: KmsError) {
        lock(&self.knobs).failures.push_back((None, err));
    }

    /// The next call to `method` (one of [`METHODS`]) fails with `err`; other methods are unaffected.
    ///
    /// # Panics
    /// If `method` is not one of [`METHODS`].
    pub fn fail_next_call_to(&self, method: &str, err: KmsError) {
        let method = known(method);
        lock(&self.knobs).failures.push_back((Some(method), err));
    }

    /// While set, every call fails with [`KmsError::Unavailable`], as an unreachable service does.
    pub fn set_unavailable(&self, unavailable: bool) {
        lock(&self.knobs).unavailable = unavailable;
    }

    /// Records the call and says whether it is to fail.
    fn enter(&self, method: &'static str) -> Result<(), KmsError> {
        let end_user = current_end_user();
        let mut knobs = lock(&self.knobs);
        knobs.log.push(RecordedCall {
            method,
            end_user: end_user.clone(),
        });
        // The gRPC client refuses to send an end user that is not well formed.
        if let Some(user) = &end_user {
            user.validate()?;
        }
        if knobs.unavailable {
            return Err(KmsError::Unavailable);
        }
        let due = knobs
            .failures
            .iter()
            .position(|(target, _)| target.is_none_or(|t| t == method));
        match due.and_then(|i| knobs.failures.remove(i)) {
            Some((_, err)) => Err(err),
            None => Ok(()),
        }
    }

    /// Runs one operation on the state, after [`Self::enter`].
    fn op<T>(
        &self,
        method: &'static str,
        f: impl FnOnce(&mut State) -> Result<T, KmsError>,
    ) -> Result<T, KmsError> {
        self.enter(method)?;
        f(&mut lock(&self.state))
    }
}

#[async_trait]
impl KmsApi for MemoryKms {
    async fn create_key(&self, req: CreateKeyRequest) -> Result<KeyMetadata, KmsError> {
        self.op("create_key", |s| s.create_key(&req))
    }
    async fn describe_key(&self, account: &AccountId, key: &KeyRef) -> Result<KeyMetadata, KmsError> {
        self.op("describe_key", |s| s.describe(account, key))
    }
    async fn list_keys(&self, account: &AccountId, page: Page) -> Result<Paged<KeyListEntry>, KmsError> {
        self.op("list_keys", |s| s.list_keys(account, page))
    }
    async fn enable_key(&self, account: &AccountId, key: &KeyRef) -> Result<KeyMetadata, KmsError> {
        self.op("enable_key", |s| s.set_enabled(account, key, true))
    }
    async fn disable_key(&self, account: &AccountId, key: &KeyRef) -> Result<KeyMetadata, KmsError> {
        self.op("disable_key", |s| s.set_enabled(account, key, false))
    }
    async fn schedule_key_deletion(
        &self,
        account: &AccountId,
        key: &KeyRef,
        pending_window_in_days: u32,
    ) -> Result<KeyMetadata, KmsError> {
        self.op("schedule_key_deletion", |s| {
            s.schedule_deletion(account, key, pending_window_in_days)
        })
    }
    async fn cancel_key_deletion(&self, account: &AccountId, key: &KeyRef) -> Result<KeyMetadata, KmsError> {
        self.op("cancel_key_deletion", |s| s.cancel_deletion(account, key))
    }
    async fn create_alias(
        &self,
        account: &AccountId,
        alias: &AliasName,
        key: &KeyRef,
    ) -> Result<(), KmsError> {
        self.op("create_alias", |s| s.put_alias(account, alias, key, false))
    }
    async fn update_alias(
        &self,
        account: &AccountId,
        alias: &AliasName,
        key: &KeyRef,
    ) -> Result<(), KmsError> {
        self.op("update_alias", |s| s.put_alias(account, alias, key, true))
    }
    async fn delete_alias(&self, account: &AccountId, alias: &AliasName) -> Result<(), KmsError> {
        self.op("delete_alias", |s| s.delete_alias(account, alias))
    }
    async fn list_aliases(&self, account: &AccountId, page: Page) -> Result<Paged<Alias>, KmsError> {
        self.op("list_aliases", |s| s.list_aliases(account, None, page))
    }
    async fn list_aliases_by_key_id(
        &self,
        account: &AccountId,
        key: &KeyRef,
        page: Page,
    ) -> Result<Paged<Alias>, KmsError> {
        self.op("list_aliases_by_key_id", |s| {
            s.list_aliases(account, Some(key), page)
        })
    }
    async fn rotate_key(&self, account: &AccountId, key: &KeyRef) -> Result<KeyVersion, KmsError> {
        self.op("rotate_key", |s| s.rotate(account, key))
    }
    async fn update_rotation_policy(
        &self,
        account: &AccountId,
        key: &KeyRef,
        policy: RotationPolicy,
    ) -> Result<KeyMetadata, KmsError> {
        self.op("update_rotation_policy", |s| {
            s.set_rotation_policy(account, key, policy)
        })
    }
    async fn list_key_versions(
        &self,
        account: &AccountId,
        key: &KeyRef,
    ) -> Result<Vec<KeyVersion>, KmsError> {
        self.op("list_key_versions", |s| s.versions(account, key))
    }
    async fn generate_data_key(
        &self,
        account: &AccountId,
        key: &KeyRef,
        number_of_bytes: u32,
        context: &EncryptionContext,
    ) -> Result<DataKey, KmsError> {
        self.op("generate_data_key", |s| {
            s.generate(account, key, number_of_bytes, context)
        })
    }
    async fn generate_data_key_without_plaintext(
        &self,
        account: &AccountId,
        key: &KeyRef,
        number_of_bytes: u32,
        context: &EncryptionContext,
    ) -> Result<WrappedKey, KmsError> {
        self.op("generate_data_key_without_plaintext", |s| {
            let dk = s.generate(account, key, number_of_bytes, context)?;
            Ok(WrappedKey {
                key_id: dk.key_id,
                key_version_id: dk.key_version_id,
                ciphertext_blob: dk.ciphertext_blob,
            })
        })
    }
    async fn generate_service_data_key(
        &self,
        suite: ServiceKeySuite,
        context: &EncryptionContext,
    ) -> Result<DataKey, KmsError> {
        self.op("generate_service_data_key", |s| {
            s.generate_service(suite, context)
        })
    }
    async fn encrypt(
        &self,
        account: &AccountId,
        key: &KeyRef,
        plaintext: &SecretBytes,
        context: &EncryptionContext,
    ) -> Result<WrappedKey, KmsError> {
        self.op("encrypt", |s| s.encrypt(account, key, plaintext, context))
    }
    async fn decrypt(
        &self,
        account: &AccountId,
        blob: &WrappedDataKey,
        context: &EncryptionContext,
    ) -> Result<Decrypted, KmsError> {
        self.op("decrypt", |s| s.decrypt(account, blob, context))
    }
    async fn re_encrypt(
        &self,
        account: &AccountId,
        blob: &WrappedDataKey,
        source_context: &EncryptionContext,
        destination: Option<&KeyRef>,
        destination_context: &EncryptionContext,
    ) -> Result<WrappedKey, KmsError> {
        self.op("re_encrypt", |s| {
            s.re_encrypt(account, blob, source_context, destination, destination_context)
        })
    }
    async fn get_parameters_for_import(
        &self,
        account: &AccountId,
        key: &KeyRef,
    ) -> Result<ImportParameters, KmsError> {
        let key_id = self.op("get_parameters_for_import", |s| s.import_target(account, key))?;
        let private_key = import::new_wrapping_key().await?;
        lock(&self.state).issue_token(key_id, private_key)
    }
    async fn import_key_material(
        &self,
        account: &AccountId,
        key: &KeyRef,
        encrypted_key_material: &[u8],
        import_token: &[u8],
        expire_unix: Option<i64>,
    ) -> Result<KeyMetadata, KmsError> {
        self.op("import_key_material", |s| {
            s.import_material(account, key, encrypted_key_material, import_token, expire_unix)
        })
    }
    async fn retire_key_version(
        &self,
        account: &AccountId,
        key: &KeyRef,
        version_id: &str,
    ) -> Result<(), KmsError> {
        self.op("retire_key_version", |s| {
            s.retire_version(account, key, version_id)
        })
    }
    async fn delete_key_material(&self, account: &AccountId, key: &KeyRef) -> Result<KeyMetadata, KmsError> {
        self.op("delete_key_material", |s| s.delete_material(account, key))
    }
    async fn tag_resource(&self, account: &AccountId, key: &KeyRef, tags: &[Tag]) -> Result<(), KmsError> {
        self.op("tag_resource", |s| {
            s.update(account, key, |_, k| crate::apply_tags(&mut k.tags, tags))
                .map(|_| ())
        })
    }
    async fn untag_resource(
        &self,
        account: &AccountId,
        key: &KeyRef,
        tag_keys: &[String],
    ) -> Result<(), KmsError> {
        self.op("untag_resource", |s| {
            s.update(account, key, |_, k| {
                for tag_key in tag_keys {
                    crate::validate_tag_key(tag_key)?;
                    k.tags.remove(tag_key);
                }
                Ok(())
            })
            .map(|_| ())
        })
    }
    async fn list_resource_tags(
        &self,
        account: &AccountId,
        key: &KeyRef,
    ) -> Result<(KeyId, Vec<Tag>), KmsError> {
        self.op("list_resource_tags", |s| {
            let id = s.resolve(account, key)?;
            let k = s.key(&id)?;
            Ok((KeyId::new(id)?, crate::tags_of(&k.tags)))
        })
    }
    async fn list_audit_records(&self, _after: u64, _limit: u32) -> Result<Vec<AuditRecord>, KmsError> {
        self.op("list_audit_records", |_| Ok(Vec::new()))
    }
    async fn verify_audit_log(&self, _anchor: Option<AuditAnchor>) -> Result<AuditVerification, KmsError> {
        // No trail is kept, so there is nothing to have been tampered with.
        self.op("verify_audit_log", |_| {
            Ok(AuditVerification {
                records: 0,
                unchained: 0,
                head: None,
                failure: None,
            })
        })
    }
    async fn record_job(&self, event: JobAuditEvent) -> Result<(), KmsError> {
        self.enter("record_job")?;
        event.validate()?;
        lock(&self.knobs).jobs.push(event);
        Ok(())
    }
    async fn snapshot(&self) -> Result<crate::SnapshotStream, KmsError> {
        self.enter("snapshot")?;
        Err(KmsError::InvalidArgument(
            "the in-memory crypto service keeps no keystore to copy".into(),
        ))
    }
}

#[cfg(test)]
mod tests;
