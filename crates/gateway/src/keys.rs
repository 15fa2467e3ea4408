//! Data keys on the data path: issuing a key per object (or per bucket, for bucket keys) through the crypto
//! service, and unwrapping stored keys through a bounded, zeroizing cache.
//!
//! Caching follows one rule: a cached key never outlives what the key's owner chose. SSE-OSS keys (service
//! keys, never disabled by a user) are cached by default; a KMS customer key is only cached when the bucket
//! opted into bucket keys, so disabling or deleting a CMK takes effect on the very next request otherwise.
//!
//! Every lookup says on the current span whether the cache answered (`cang.cache.hit`) and which key
//! version wrapped the key; crypto-service calls are timed and their failures counted by error code.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use cang_kms_api::{
    AccountId, EncryptionContext, KeyId, KeyRef, KmsApi, KmsError, ServiceKeySuite, WrappedDataKey,
};
use cang_telemetry::{Metrics, attributes};
use lru::LruCache;
use sha2::{Digest, Sha256};

/// The master key that wraps an object's data key.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum MasterKey {
    /// An SSE-OSS service key (`AES256` or `SM4`).
    Service(ServiceKeySuite),
    /// A KMS key of an account: a CMK id, or an alias such as `alias/acs/oss`.
    Kms {
        /// Account that owns the key (the bucket owner).
        account: AccountId,
        /// The key as the request or bucket rule named it.
        key: KeyRef,
    },
}

/// What a wrapped data key is bound to: the encryption context presented to the crypto service.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum KeyBinding {
    /// A key for one object: context `{bucket, object}`.
    Object {
        /// Bucket name.
        bucket: String,
        /// Object key.
        object: String,
    },
    /// A bucket key shared by many objects: context `{bucket}`.
    Bucket {
        /// Bucket name.
        bucket: String,
    },
}

impl KeyBinding {
    /// The encryption context the crypto service binds the wrapped key to.
    pub fn context(&self) -> EncryptionContext {
        match self {
            Self::Object { bucket, object } => {
                EncryptionContext::from([("bucket", bucket.as_str()), ("object", object.as_str())])
            }
            Self::Bucket { bucket } => EncryptionContext::from([("bucket", bucket.as_str())]),
        }
    }
}

/// A data key ready to encrypt an object, with what must be stored to decrypt it later.
#[derive(Debug, Clone)]
pub struct IssuedKey {
    /// The plaintext data key (zeroized when the last holder drops it).
    pub dek: Arc<cang_sse::DataKey>,
    /// The key that wrapped it (the real CMK id even when an alias was asked for).
    pub key_id: KeyId,
    /// The version that wrapped it.
    pub key_version: String,
    /// The wrapped data key to store with the object.
    pub wrapped: WrappedDataKey,
    /// What the wrapped key is bound to.
    pub binding: KeyBinding,
}

/// Bounds of the caches.
#[derive(Debug, Clone)]
pub struct KeyCacheLimits {
    /// How long one bucket key serves new objects.
    pub bucket_key_ttl: Duration,
    /// How many objects one bucket key may encrypt.
    pub bucket_key_max_uses: u64,
    /// Unwrapped keys kept for reads (0: none, every read asks the crypto service).
    pub unwrapped_capacity: usize,
    /// How long an unwrapped key stays cached.
    pub unwrapped_ttl: Duration,
}

impl Default for KeyCacheLimits {
    fn default() -> Self {
        Self {
            bucket_key_ttl: Duration::from_secs(300),
            bucket_key_max_uses: 100_000,
            unwrapped_capacity: 4096,
            unwrapped_ttl: Duration::from_secs(300),
        }
    }
}

struct BucketKey {
    issued: IssuedKey,
    born: Instant,
    uses: u64,
}

struct Unwrapped {
    dek: Arc<cang_sse::DataKey>,
    born: Instant,
}

/// Issues and unwraps data keys through the crypto service, with the bucket-key and unwrapped-key caches.
pub struct DataKeys {
    kms: Arc<dyn KmsApi>,
    limits: KeyCacheLimits,
    bucket_keys: Mutex<HashMap<(String, MasterKey), BucketKey>>,
    unwrapped: Mutex<LruCache<[u8; 32], Unwrapped>>,
    metrics: Arc<Metrics>,
}

impl std::fmt::Debug for DataKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DataKeys")
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

impl DataKeys {
    /// Key handling over `kms` with the given cache bounds.
    pub fn new(kms: Arc<dyn KmsApi>, limits: KeyCacheLimits) -> Self {
        let capacity = std::num::NonZeroUsize::new(limits.unwrapped_capacity.max(1))
            .unwrap_or(std::num::NonZeroUsize::MIN);
        Self {
            kms,
            limits,
            bucket_keys: Mutex::new(HashMap::new()),
            unwrapped: Mutex::new(LruCache::new(capacity)),
            metrics: Arc::new(Metrics::new()),
        }
    }

    /// Reports cache activity and crypto-service calls to `metrics` instead of a private registry.
    pub fn with_metrics(mut self, metrics: Arc<Metrics>) -> Self {
        self.metrics = metrics;
        self
    }

    /// Times one crypto-service call and counts its failure by error code.
    async fn kms_call<T>(
        &self,
        operation: &'static str,
        call: impl Future<Output = Result<T, KmsError>>,
    ) -> Result<T, KmsError> {
        let started = Instant::now();
        let result = call.await;
        self.metrics
            .kms
            .latency(operation)
            .observe(started.elapsed().as_secs_f64());
        if let Err(e) = &result {
            self.metrics.kms.errors(operation, e.code()).inc();
        }
        result
    }

    /// A data key for a new object. With `bucket_key`, one key per (bucket, master key) serves many objects
    /// for a bounded time and count; the object format's per-object salt keeps every subkey distinct.
    pub async fn issue(
        &self,
        master: &MasterKey,
        bucket: &str,
        object: &str,
        bucket_key: bool,
    ) -> Result<IssuedKey, KmsError> {
        if !bucket_key {
            let binding = KeyBinding::Object {
                bucket: bucket.to_owned(),
                object: object.to_owned(),
            };
            return self.generate(master, binding).await;
        }
        let slot = (bucket.to_owned(), master.clone());
        if let Some(issued) = self.reuse_bucket_key(&slot) {
            attributes::record_cache_hit(true);
            attributes::record_kms_key(issued.key_id.as_str(), &issued.key_version);
            return Ok(issued);
        }
        let issued = self
            .generate(
                master,
                KeyBinding::Bucket {
                    bucket: bucket.to_owned(),
                },
            )
            .await?;
        let mut keys = self.bucket_keys.lock().unwrap_or_else(PoisonError::into_inner);
        keys.insert(
            slot,
            BucketKey {
                issued: issued.clone(),
                born: Instant::now(),
                uses: 1,
            },
        );
        Ok(issued)
    }

    fn reuse_bucket_key(&self, slot: &(String, MasterKey)) -> Option<IssuedKey> {
        let mut keys = self.bucket_keys.lock().unwrap_or_else(PoisonError::into_inner);
        let entry = keys.get_mut(slot)?;
        if entry.born.elapsed() >= self.limits.bucket_key_ttl || entry.uses >= self.limits.bucket_key_max_uses
        {
            keys.remove(slot);
            return None;
        }
        entry.uses += 1;
        self.metrics.data_keys.bucket_key_reuses.inc();
        Some(IssuedKey {
            ..entry.issued.clone()
        })
    }

    async fn generate(&self, master: &MasterKey, binding: KeyBinding) -> Result<IssuedKey, KmsError> {
        let context = binding.context();
        let key = match master {
            MasterKey::Service(suite) => {
                self.kms_call(
                    "GenerateServiceDataKey",
                    self.kms.generate_service_data_key(*suite, &context),
                )
                .await?
            }
            MasterKey::Kms { account, key } => {
                self.kms_call(
                    "GenerateDataKey",
                    self.kms.generate_data_key(account, key, 32, &context),
                )
                .await?
            }
        };
        attributes::record_cache_hit(false);
        attributes::record_kms_key(key.key_id.as_str(), &key.key_version_id);
        let dek = cang_sse::DataKey::from_slice(key.plaintext.expose()).map_err(|_| KmsError::Internal)?;
        let dek = Arc::new(dek);
        // Wrapping fresh keys never needs a decrypt; remember the unwrapped form for the reads that follow.
        if matches!(master, MasterKey::Service(_)) || matches!(binding, KeyBinding::Bucket { .. }) {
            self.remember(&key.ciphertext_blob, &binding, dek.clone());
        }
        Ok(IssuedKey {
            dek,
            key_id: key.key_id,
            key_version: key.key_version_id,
            wrapped: key.ciphertext_blob,
            binding,
        })
    }

    /// The plaintext of a stored data key. `cacheable` says whether the object's protection allows caching
    /// (SSE-OSS, or a bucket key); a customer key without bucket keys is asked every time, so its state
    /// (disabled, pending deletion, deleted) is enforced on every read.
    pub async fn unwrap(
        &self,
        account: &AccountId,
        wrapped: &WrappedDataKey,
        binding: &KeyBinding,
        cacheable: bool,
    ) -> Result<Arc<cang_sse::DataKey>, KmsError> {
        let slot = cache_slot(wrapped, binding);
        // A capacity of 0 turns the cache off.
        let cacheable = cacheable && self.limits.unwrapped_capacity > 0;
        if cacheable {
            let mut cache = self.unwrapped.lock().unwrap_or_else(PoisonError::into_inner);
            match cache.get(&slot) {
                Some(entry) if entry.born.elapsed() < self.limits.unwrapped_ttl => {
                    self.metrics.data_keys.hits.inc();
                    attributes::record_cache_hit(true);
                    return Ok(entry.dek.clone());
                }
                Some(_) => {
                    cache.pop(&slot);
                    self.metrics.data_keys.evictions.inc();
                }
                None => {}
            }
        }
        self.metrics.data_keys.misses.inc();
        attributes::record_cache_hit(false);
        let context = binding.context();
        let plain = self
            .kms_call("Decrypt", self.kms.decrypt(account, wrapped, &context))
            .await?;
        attributes::record_kms_key(plain.key_id.as_str(), &plain.key_version_id);
        let dek = Arc::new(
            cang_sse::DataKey::from_slice(plain.plaintext.expose())
                .map_err(|_| KmsError::InvalidCiphertext)?,
        );
        if cacheable {
            self.remember(wrapped, binding, dek.clone());
        }
        Ok(dek)
    }

    fn remember(&self, wrapped: &WrappedDataKey, binding: &KeyBinding, dek: Arc<cang_sse::DataKey>) {
        if self.limits.unwrapped_capacity == 0 {
            return;
        }
        let mut cache = self.unwrapped.lock().unwrap_or_else(PoisonError::into_inner);
        if cache
            .push(
                cache_slot(wrapped, binding),
                Unwrapped {
                    dek,
                    born: Instant::now(),
                },
            )
            .is_some()
        {
            self.metrics.data_keys.evictions.inc();
        }
    }
}

/// Cache slot of a wrapped key under a binding: a digest, so the cache holds no ciphertext of its own.
fn cache_slot(wrapped: &WrappedDataKey, binding: &KeyBinding) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update((wrapped.0.len() as u64).to_be_bytes());
    h.update(&wrapped.0);
    h.update(binding.context().canonical_bytes());
    h.finalize().into()
}
