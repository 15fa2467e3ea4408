//! Access keys to principals: a request's access key id is looked up in the metadata service, its sealed
//! secret opened by the crypto service, and a RAM user's policies loaded — then cached briefly, so steady
//! traffic costs no round trip.
//!
//! How secrets are sealed is `cang-access-keys`'s contract.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use cang_kms_api::{AccountId, KmsApi, KmsError};
use cang_meta_api::{AccessKeyStatus, MetaApi, MetaError};
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
        let secret = cang_access_keys::open_secret(
            self.kms.as_ref(),
            &account,
            access_key_id,
            &key.sealed_secret,
        )
        .await
        .map_err(|e| match e {
            KmsError::Unavailable => OssError::service_unavailable(),
            // A secret that no longer opens is as good as no key; the detail stays in the log.
            other => {
                tracing::warn!(access_key_id, error = %other, "access key secret could not be unsealed");
                OssError::invalid_access_key_id(access_key_id)
            }
        })?;
        let secret =
            String::from_utf8(secret.to_vec()).map_err(|_| OssError::invalid_access_key_id(access_key_id))?;
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
