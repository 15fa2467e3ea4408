//! Access keys: creating them, and the sealed-secret contract between the tools that create them (`cang
//! admin`, `cang up`) and the gateway that checks signatures with them.
//!
//! Secrets are sealed with the account's `alias/acs/oss` key under the context
//! `{purpose: access-key-secret, access_key_id}`; the metadata service never sees one in plaintext.
//! [`resolve_access_key`] turns a key id back into its account, owner (root or RAM user with its
//! parsed policies) and secret, for whoever checks signatures; [`KeyCache`] keeps what it resolved for a
//! short while.

mod cache;
mod resolve;

pub use cache::KeyCache;
pub use resolve::{KeyOwner, ResolveError, ResolvedAccessKey, deny_everything, resolve_access_key};

use cang_kms_api::{
    AccountId, AliasName, EncryptionContext, KeyRef, KmsApi, KmsError, SecretBytes, WrappedDataKey,
};
use cang_meta_api::{IdentityStore, MetaError, SealedSecret};

/// The encryption context an access key's secret is sealed under.
pub fn secret_context(access_key_id: &str) -> EncryptionContext {
    EncryptionContext::from([
        ("purpose", cang_kms_api::ACCESS_KEY_SECRET_PURPOSE),
        ("access_key_id", access_key_id),
    ])
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

/// Opens a sealed secret (the gateway, when it resolves an access key).
pub async fn open_secret(
    kms: &dyn KmsApi,
    account: &AccountId,
    access_key_id: &str,
    sealed: &SealedSecret,
) -> Result<zeroize::Zeroizing<Vec<u8>>, KmsError> {
    let blob = WrappedDataKey(bytes::Bytes::copy_from_slice(sealed.as_bytes()));
    let opened = kms
        .decrypt(account, &blob, &secret_context(access_key_id))
        .await?;
    Ok(zeroize::Zeroizing::new(opened.plaintext.expose().to_vec()))
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
    meta: &dyn IdentityStore,
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
