//! Access keys to principals, resolved by `cang-access-keys` (the key's record, its sealed secret opened,
//! a RAM user's policies parsed) and cached briefly, so steady traffic costs no round trip.

use std::sync::Arc;
use std::time::Duration;

use cang_access_keys::{KeyCache, KeyOwner, ResolveError, resolve_access_key};
use cang_kms_api::KmsApi;
use cang_meta_api::IdentityStore;
use cang_oss::OssError;
use cang_oss::auth::Credential;

use crate::authorize::Principal;

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
    meta: Arc<dyn IdentityStore>,
    kms: Arc<dyn KmsApi>,
    ttl: Duration,
    cache: KeyCache<Arc<ResolvedKey>>,
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
    pub fn new(meta: Arc<dyn IdentityStore>, kms: Arc<dyn KmsApi>, ttl: Duration, capacity: usize) -> Self {
        Self {
            meta,
            kms,
            ttl,
            cache: KeyCache::new(ttl, capacity),
        }
    }

    /// The principal and secret behind `access_key_id`.
    pub async fn resolve(&self, access_key_id: &str) -> Result<Arc<ResolvedKey>, OssError> {
        if let Some(entry) = self.cache.get(access_key_id) {
            return Ok(entry);
        }
        let resolved = Arc::new(self.load(access_key_id).await?);
        self.cache.put(access_key_id, resolved.clone());
        Ok(resolved)
    }

    async fn load(&self, access_key_id: &str) -> Result<ResolvedKey, OssError> {
        let mut resolved = resolve_access_key(self.kms.as_ref(), self.meta.as_ref(), access_key_id)
            .await
            .map_err(|e| match e {
                ResolveError::NotFound | ResolveError::Inactive => {
                    OssError::invalid_access_key_id(access_key_id)
                }
                ResolveError::Unavailable => OssError::service_unavailable(),
                ResolveError::Internal => OssError::internal_error(),
            })?;
        // The secret moves out of its zeroizing box into the credential, which zeroizes it in turn.
        let credential = Credential::new(std::mem::take(&mut *resolved.secret));
        let principal = match resolved.owner {
            KeyOwner::AccountRoot => Principal::AccountRoot {
                account: resolved.account,
                access_key_id: resolved.access_key_id,
            },
            KeyOwner::RamUser { user, policies } => Principal::RamUser {
                account: resolved.account,
                user,
                access_key_id: resolved.access_key_id,
                policies,
            },
        };
        Ok(ResolvedKey {
            principal,
            credential,
        })
    }
}
