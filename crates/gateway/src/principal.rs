//! Access keys to principals: a request's access key id is looked up in the metadata service, its sealed
//! secret opened by the crypto service, and a RAM user's policies loaded — then cached briefly, so steady
//! traffic costs no round trip.
//!
//! Secrets are sealed with the account's `alias/acs/oss` key under the context
//! `{purpose: access-key-secret, access_key_id}`; the metadata service never sees one in plaintext.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use cang_kms_api::{
    AccountId, AliasName, EncryptionContext, KeyRef, KmsApi, KmsError, SecretBytes, WrappedDataKey,
};
use cang_meta_api::{AccessKeyStatus, MetaApi, MetaError, SealedSecret};
use cang_oss::OssError;
use cang_oss::auth::Credential;
use lru::LruCache;

use crate::authorize::Principal;
use crate::errors::{kms_error, meta_error};

/// A resolved access key: who it is and the secret its signatures are checked with.
#[derive(Debug, Clone)]
pub struct ResolvedKey {
    /// The principal the key acts for.
    pub principal: Principal,
    /// The secret (zeroized on drop, redacted in `Debug`).
    pub credential: Credential,
}

/// The encryption context an access key's secret is sealed under.
pub fn secret_context(access_key_id: &str) -> EncryptionContext {
    EncryptionContext::from([("purpose", "access-key-secret"), ("access_key_id", access_key_id)])
}

/// Seals an access key secret for storage in the metadata service.
pub async fn seal_secret(
    kms: &dyn KmsApi,
    account: &str,
    access_key_id: &str,
    secret: &str,
) -> Result<SealedSecret, KmsError> {
    let account = AccountId::new(account)?;
    let plaintext = SecretBytes::from(secret.as_bytes().to_vec());
    let key = KeyRef::Alias(AliasName::default_oss());
    let wrapped = kms
        .encrypt(&account, &key, &plaintext, &secret_context(access_key_id))
        .await?;
    Ok(SealedSecret::new(wrapped.ciphertext_blob.0.to_vec()))
}

/// Resolves access keys, with a bounded, short-lived cache.
pub struct AccessKeys {
    meta: Arc<dyn MetaApi>,
    kms: Arc<dyn KmsApi>,
    ttl: Duration,
    cache: Mutex<LruCache<String, (Instant, Arc<ResolvedKey>)>>,
}

impl std::fmt::Debug for AccessKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccessKeys")
            .field("ttl", &self.ttl)
            .finish_non_exhaustive()
    }
}

impl AccessKeys {
    /// Resolution over the two services; entries live for `ttl`.
    pub fn new(meta: Arc<dyn MetaApi>, kms: Arc<dyn KmsApi>, ttl: Duration, capacity: usize) -> Self {
        let capacity = std::num::NonZeroUsize::new(capacity.max(1)).unwrap_or(std::num::NonZeroUsize::MIN);
        Self {
            meta,
            kms,
            ttl,
            cache: Mutex::new(LruCache::new(capacity)),
        }
    }

    /// The principal and secret behind `access_key_id`.
    pub async fn resolve(&self, access_key_id: &str) -> Result<Arc<ResolvedKey>, OssError> {
        {
            let mut cache = self.cache.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some((born, entry)) = cache.get(access_key_id) {
                if born.elapsed() < self.ttl {
                    return Ok(entry.clone());
                }
                cache.pop(access_key_id);
            }
        }
        let resolved = Arc::new(self.load(access_key_id).await?);
        let mut cache = self.cache.lock().unwrap_or_else(PoisonError::into_inner);
        cache.put(access_key_id.to_owned(), (Instant::now(), resolved.clone()));
        Ok(resolved)
    }

    /// Drops every cached key (after an administrator changed keys or policies).
    pub fn forget_all(&self) {
        self.cache.lock().unwrap_or_else(PoisonError::into_inner).clear();
    }

    async fn load(&self, access_key_id: &str) -> Result<ResolvedKey, OssError> {
        let key = match self.meta.get_access_key(access_key_id).await {
            Ok(key) => key,
            Err(MetaError::NoSuchAccessKey) => return Err(OssError::invalid_access_key_id(access_key_id)),
            Err(e) => return Err(meta_error(e)),
        };
        if key.status != AccessKeyStatus::Active {
            return Err(OssError::invalid_access_key_id(access_key_id));
        }
        let account = AccountId::new(key.account_id.clone()).map_err(kms_error)?;
        let blob = WrappedDataKey(bytes::Bytes::copy_from_slice(key.sealed_secret.as_bytes()));
        let secret = self
            .kms
            .decrypt(&account, &blob, &secret_context(access_key_id))
            .await
            .map_err(|e| match e {
                KmsError::Unavailable => OssError::service_unavailable(),
                // A secret that no longer opens is as good as no key; the detail stays in the log.
                other => {
                    tracing::warn!(access_key_id, error = %other, "access key secret could not be unsealed");
                    OssError::invalid_access_key_id(access_key_id)
                }
            })?;
        let secret = String::from_utf8(secret.plaintext.expose().to_vec())
            .map_err(|_| OssError::invalid_access_key_id(access_key_id))?;
        let credential = Credential::new(secret);
        let principal = match key.user {
            None => Principal::AccountRoot {
                account: key.account_id,
                access_key_id: access_key_id.to_owned(),
            },
            Some(user) => {
                let stored = self
                    .meta
                    .user_policies(&key.account_id, &user)
                    .await
                    .map_err(meta_error)?;
                let mut policies = Vec::with_capacity(stored.len());
                for p in stored {
                    match cang_policy::Policy::parse(&p.document) {
                        Ok(policy) => policies.push(policy),
                        // Stored documents were validated on the way in, so this is tampering or a newer
                        // grammar. Dropping the document could drop a Deny: refuse the user everything.
                        Err(e) => {
                            tracing::warn!(policy = %p.name, error = %e, "stored policy does not parse; denying the user");
                            policies.push(deny_everything()?);
                        }
                    }
                }
                Principal::RamUser {
                    account: key.account_id,
                    user,
                    access_key_id: access_key_id.to_owned(),
                    policies: Arc::new(policies),
                }
            }
        };
        Ok(ResolvedKey {
            principal,
            credential,
        })
    }
}

/// The policy that stands in for an attached document that no longer parses.
fn deny_everything() -> Result<cang_policy::Policy, OssError> {
    const DENY: &str =
        r#"{"Version":"1","Statement":[{"Effect":"Deny","Action":["oss:*","kms:*"],"Resource":"*"}]}"#;
    cang_policy::Policy::parse(DENY).map_err(|_| OssError::internal_error())
}

/// A freshly created access key: its id and secret (shown once, never stored in plaintext).
#[derive(Clone)]
pub struct NewCredentials {
    /// Access key id.
    pub access_key_id: String,
    /// Access key secret.
    pub access_key_secret: zeroize::Zeroizing<String>,
}

impl std::fmt::Debug for NewCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewCredentials")
            .field("access_key_id", &self.access_key_id)
            .field("access_key_secret", &"[REDACTED]")
            .finish()
    }
}

/// Why an access key could not be created.
#[derive(Debug, thiserror::Error)]
pub enum ProvisionError {
    /// The crypto service refused or failed.
    #[error("crypto service: {0}")]
    Kms(#[from] KmsError),
    /// The metadata service refused or failed.
    #[error("metadata service: {0}")]
    Meta(#[from] MetaError),
    /// No randomness.
    #[error("random number generator unavailable")]
    Random,
}

fn random_token(alphabet: &[u8], len: usize) -> Result<String, ProvisionError> {
    let mut bytes = vec![0u8; len];
    getrandom::fill(&mut bytes).map_err(|_| ProvisionError::Random)?;
    // 256 is a multiple of neither alphabet length; the bias of a 62/36-symbol modulo is irrelevant here
    // because the secret's 30 symbols carry > 170 bits either way.
    Ok(bytes
        .iter()
        .map(|b| alphabet[usize::from(*b) % alphabet.len()] as char)
        .collect())
}

/// Creates an access key for an account's root (`user = None`) or for one of its RAM users: generates the
/// id and secret, seals the secret through the crypto service and registers the key in the metadata service.
pub async fn create_access_key(
    kms: &dyn KmsApi,
    meta: &dyn MetaApi,
    account: &str,
    user: Option<&str>,
) -> Result<NewCredentials, ProvisionError> {
    const UPPER_DIGITS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let id = format!("LTAI{}", random_token(UPPER_DIGITS, 20)?);
    let secret = zeroize::Zeroizing::new(random_token(ALNUM, 30)?);
    let sealed = seal_secret(kms, account, &id, &secret).await?;
    meta.create_access_key(cang_meta_api::NewAccessKey {
        id: id.clone(),
        account_id: account.to_owned(),
        user: user.map(str::to_owned),
        sealed_secret: sealed,
    })
    .await?;
    Ok(NewCredentials {
        access_key_id: id,
        access_key_secret: secret,
    })
}
