//! From an access key id to who signed: the key's record in the metadata service, its secret opened by
//! the crypto service, and — for a RAM user — the user's policy documents, parsed. Every front end that
//! checks signatures (the OSS gateway, the KMS OpenAPI) resolves keys the same way.

use std::fmt;
use std::sync::Arc;

use cang_kms_api::{AccountId, KmsApi, KmsError};
use cang_meta_api::{AccessKeyStatus, IdentityStore, MetaError};
use zeroize::Zeroizing;

use crate::open_secret;

/// Who an access key acts for.
#[derive(Debug, Clone, PartialEq)]
pub enum KeyOwner {
    /// The account's root key: every permission on the account's own resources.
    AccountRoot,
    /// A RAM user of the account, allowed what its policies allow.
    RamUser {
        /// The user name.
        user: String,
        /// Its attached policies. A stored document that no longer parses stands here as a policy
        /// denying everything, so that a lost `Deny` can never widen what the user may do.
        policies: Arc<Vec<cang_policy::Policy>>,
    },
}

/// A resolved, active access key.
#[derive(Clone)]
pub struct ResolvedAccessKey {
    /// The access key id.
    pub access_key_id: String,
    /// The account the key belongs to.
    pub account: String,
    /// Root or RAM user.
    pub owner: KeyOwner,
    /// The secret signatures are checked with (zeroized on drop, never printed).
    pub secret: Zeroizing<String>,
}

impl fmt::Debug for ResolvedAccessKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResolvedAccessKey")
            .field("access_key_id", &self.access_key_id)
            .field("account", &self.account)
            .field("owner", &self.owner)
            .field("secret", &"[REDACTED]")
            .finish()
    }
}

/// Why an access key could not be resolved.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResolveError {
    /// No such key, or its sealed secret no longer opens (as good as no key).
    #[error("the access key does not exist")]
    NotFound,
    /// The key exists but is disabled.
    #[error("the access key is not enabled")]
    Inactive,
    /// A service needed to resolve it is unreachable; the request may be retried.
    #[error("a service needed to resolve the access key is unavailable")]
    Unavailable,
    /// Anything else; the detail is logged, not returned.
    #[error("the access key could not be resolved")]
    Internal,
}

fn meta_failure(e: MetaError) -> ResolveError {
    match e {
        MetaError::Unavailable(_) => ResolveError::Unavailable,
        other => {
            tracing::warn!(error = %other, "metadata lookup for an access key failed");
            ResolveError::Internal
        }
    }
}

/// Resolves `access_key_id` through the two services.
///
/// `kms` opens the sealed secret; it is called with the key's own account, so the calling identity
/// must be allowed key use (the gateway's, or the crypto service's own edge).
pub async fn resolve_access_key(
    kms: &dyn KmsApi,
    meta: &dyn IdentityStore,
    access_key_id: &str,
) -> Result<ResolvedAccessKey, ResolveError> {
    let key = match meta.get_access_key(access_key_id).await {
        Ok(key) => key,
        Err(MetaError::NoSuchAccessKey) => return Err(ResolveError::NotFound),
        Err(e) => return Err(meta_failure(e)),
    };
    if key.status != AccessKeyStatus::Active {
        return Err(ResolveError::Inactive);
    }
    let account = AccountId::new(key.account_id.clone()).map_err(|_| ResolveError::Internal)?;
    let secret = open_secret(kms, &account, access_key_id, &key.sealed_secret)
        .await
        .map_err(|e| match e {
            KmsError::Unavailable => ResolveError::Unavailable,
            other => {
                tracing::warn!(access_key_id, error = %other, "access key secret could not be unsealed");
                ResolveError::NotFound
            }
        })?;
    let secret = String::from_utf8(secret.to_vec()).map_err(|_| ResolveError::NotFound)?;
    let owner = match key.user {
        None => KeyOwner::AccountRoot,
        Some(user) => {
            let stored = meta
                .user_policies(&key.account_id, &user)
                .await
                .map_err(meta_failure)?;
            let mut policies = Vec::with_capacity(stored.len());
            for p in stored {
                match cang_policy::Policy::parse(&p.document) {
                    Ok(policy) => policies.push(policy),
                    Err(e) => {
                        tracing::warn!(policy = %p.name, error = %e, "stored policy does not parse; denying the user");
                        policies.push(deny_everything()?);
                    }
                }
            }
            KeyOwner::RamUser {
                user,
                policies: Arc::new(policies),
            }
        }
    };
    Ok(ResolvedAccessKey {
        access_key_id: access_key_id.to_owned(),
        account: key.account_id,
        owner,
        secret: Zeroizing::new(secret),
    })
}

/// The policy that stands in for an attached document that no longer parses.
pub fn deny_everything() -> Result<cang_policy::Policy, ResolveError> {
    const DENY: &str =
        r#"{"Version":"1","Statement":[{"Effect":"Deny","Action":["oss:*","kms:*"],"Resource":"*"}]}"#;
    cang_policy::Policy::parse(DENY).map_err(|_| ResolveError::Internal)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stand_in_policy_denies_kms_and_oss() -> Result<(), ResolveError> {
        let deny = deny_everything()?;
        let ctx = cang_policy::ConditionContext::new();
        for action in ["kms:Decrypt", "oss:GetObject"] {
            let req = cang_policy::Request::new(action, "acs:kms:r:1:key/k", &ctx);
            assert!(matches!(
                cang_policy::evaluate(std::slice::from_ref(&deny), &req),
                cang_policy::Decision::ExplicitDeny(_)
            ));
        }
        Ok(())
    }

    #[test]
    fn debug_hides_the_secret() {
        let key = ResolvedAccessKey {
            access_key_id: "LTAI1".into(),
            account: "1".into(),
            owner: KeyOwner::AccountRoot,
            secret: Zeroizing::new("hunter2".into()),
        };
        assert!(!format!("{key:?}").contains("hunter2"));
    }
}
