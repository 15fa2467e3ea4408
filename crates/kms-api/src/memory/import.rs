//! BYOK in [`super::MemoryKms`], as in the keyring: a fresh RSA-2048 key per `GetParametersForImport`
//! (RSAES-OAEP-SHA256), a single-use token bound to one key for 24 hours, material checked for length
//! and, on re-import, for being the very same material.

use rsa::pkcs8::EncodePublicKey;
use rsa::{Oaep, PrivateKey as RsaPrivateKey};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use super::keys::{State, Version};
use crate::{AccountId, ImportParameters, KeyId, KeyMetadata, KeyOrigin, KeyRef, KeyState, KmsError};

const TOKEN_LIFETIME_SECONDS: i64 = 24 * 3600;

/// An outstanding import token: the key it is for, the key that unwraps the material, its expiry.
pub(super) struct PendingToken {
    key_id: String,
    private_key: RsaPrivateKey,
    expires: i64,
}

fn digest(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

fn external(origin: KeyOrigin) -> Result<(), KmsError> {
    match origin {
        KeyOrigin::External => Ok(()),
        KeyOrigin::AliyunKms => Err(KmsError::InvalidArgument(
            "the key's Origin is not EXTERNAL".into(),
        )),
    }
}

/// A fresh wrapping key; takes a while, so it runs off the async workers.
pub(super) async fn new_wrapping_key() -> Result<RsaPrivateKey, KmsError> {
    tokio::task::spawn_blocking(|| RsaPrivateKey::new(&mut rand::rng(), 2048))
        .await
        .map_err(|_| KmsError::Internal)?
        .map_err(|_| KmsError::Internal)
}

impl State {
    /// The key import parameters are asked for, checked before a wrapping key is made.
    pub fn import_target(&self, account: &AccountId, key: &KeyRef) -> Result<String, KmsError> {
        let id = self.resolve(account, key)?;
        external(self.key(&id)?.origin)?;
        Ok(id)
    }

    /// Records a token for `key_id` unwrapped by `private_key`.
    pub fn issue_token(
        &mut self,
        key_id: String,
        private_key: RsaPrivateKey,
    ) -> Result<ImportParameters, KmsError> {
        let public_key = private_key
            .to_public_key()
            .to_public_key_der()
            .map_err(|_| KmsError::Internal)?;
        let token = super::keys::random_bytes(32)?;
        let expires = self.now + TOKEN_LIFETIME_SECONDS;
        self.tokens.insert(
            digest(&token),
            PendingToken {
                key_id: key_id.clone(),
                private_key,
                expires,
            },
        );
        Ok(ImportParameters {
            key_id: KeyId::new(key_id)?,
            import_token: token.to_vec().into(),
            public_key: public_key.as_bytes().to_vec().into(),
            token_expire_time: expires,
        })
    }

    pub fn import_material(
        &mut self,
        account: &AccountId,
        key: &KeyRef,
        encrypted: &[u8],
        token: &[u8],
        expire_unix: Option<i64>,
    ) -> Result<KeyMetadata, KmsError> {
        if expire_unix.is_some_and(|t| t <= self.now) {
            return Err(KmsError::InvalidArgument(
                "KeyMaterialExpireUnix must be in the future".into(),
            ));
        }
        let id = self.import_target(account, key)?;
        let token_digest = digest(token);
        let pending = self
            .tokens
            .get(&token_digest)
            .ok_or(KmsError::InvalidImportToken)?;
        if pending.key_id != id || pending.expires <= self.now {
            return Err(KmsError::InvalidImportToken);
        }
        // One RSA decryption of 32 bytes (about a millisecond): a test double may take it inline.
        let material = pending
            .private_key
            .decrypt(Oaep::<Sha256>::new(), encrypted)
            .map(Zeroizing::new)
            .map_err(|_| KmsError::InvalidCiphertext)?;
        let spec = self.key(&id)?.spec;
        if material.len() != spec.material_len() {
            return Err(KmsError::InvalidArgument(format!(
                "key material must be {} bytes for {}",
                spec.material_len(),
                spec.as_str()
            )));
        }
        let new_digest = digest(&material);
        let metadata = self.update_described(account, key, |s, k| {
            if k.state == KeyState::PendingDeletion {
                return Err(KmsError::StateModifiedFailed);
            }
            let differs = Err(KmsError::InvalidArgument(
                "re-imported key material differs".into(),
            ));
            match k.versions.first_mut() {
                Some(v) if !v.material.is_empty() => {
                    if *v.material != *material {
                        return differs;
                    }
                }
                Some(v) => {
                    if k.material_digest.is_some_and(|d| d != new_digest) {
                        return differs;
                    }
                    v.material = material.clone();
                }
                None => k.versions.push(Version {
                    id: uuid::Uuid::new_v4().to_string(),
                    created: s.now,
                    material: material.clone(),
                }),
            }
            k.material_digest = Some(new_digest);
            k.material_expire = expire_unix;
            if k.state == KeyState::PendingImport {
                k.state = KeyState::Enabled;
            }
            Ok(())
        })?;
        self.tokens.remove(&token_digest);
        Ok(metadata)
    }

    /// Deletes a superseded version (no grace period: the double has no gateways caching keys).
    pub fn retire_version(
        &mut self,
        account: &AccountId,
        key: &KeyRef,
        version_id: &str,
    ) -> Result<(), KmsError> {
        self.update_described(account, key, |_, k| {
            if k.origin == KeyOrigin::External {
                return Err(KmsError::InvalidArgument(
                    "versions of keys with imported material cannot be retired".into(),
                ));
            }
            let at = k
                .versions
                .iter()
                .position(|v| v.id == version_id)
                .ok_or(KmsError::KeyVersionNotFound)?;
            if k.primary().is_some_and(|p| p.id == version_id) {
                return Err(KmsError::InvalidArgument(
                    "the primary version cannot be retired; rotate the key first".into(),
                ));
            }
            k.versions.remove(at);
            Ok(())
        })
        .map(|_| ())
    }

    pub fn delete_material(&mut self, account: &AccountId, key: &KeyRef) -> Result<KeyMetadata, KmsError> {
        self.update_described(account, key, |_, k| {
            external(k.origin)?;
            for v in &mut k.versions {
                v.material = Zeroizing::new(Vec::new());
            }
            k.material_expire = None;
            if k.state != KeyState::PendingDeletion {
                k.state = KeyState::PendingImport;
            }
            Ok(())
        })
    }
}
