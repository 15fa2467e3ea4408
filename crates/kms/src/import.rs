//! BYOK: `GetParametersForImport` (a fresh RSA-2048 key pair per call, RSAES-OAEP-SHA256, a 24-hour
//! token bound to one key), `ImportKeyMaterial` and `DeleteKeyMaterial`. Wrapping keys live only in
//! memory: a restart invalidates outstanding tokens, which callers simply request again.

use cang_kms_api::{AccountId, ImportParameters, KeyId, KeyMetadata, KeyOrigin, KeyRef, KeyState, KmsError};
use rsa::pkcs8::EncodePublicKey;
use rsa::{Oaep, PrivateKey as RsaPrivateKey};
use subtle::ConstantTimeEq;

use crate::keyring::Keyring;
use crate::record::VersionRecord;

const TOKEN_LIFETIME_SECONDS: i64 = 24 * 3600;

/// An issued import token: the wrapping key and the CMK it may import into.
pub(crate) struct PendingImportToken {
    key_id: String,
    private_key: RsaPrivateKey,
    expires: i64,
}

impl std::fmt::Debug for PendingImportToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PendingImportToken")
            .field("key_id", &self.key_id)
            .field("expires", &self.expires)
            .finish()
    }
}

fn external(rec: &crate::record::KeyRecord) -> Result<(), KmsError> {
    if rec.origin() == KeyOrigin::External {
        Ok(())
    } else {
        Err(KmsError::InvalidArgument(
            "the key's Origin is not EXTERNAL".into(),
        ))
    }
}

impl Keyring {
    pub(crate) async fn parameters_for_import(
        &self,
        account: &AccountId,
        key: &KeyRef,
    ) -> Result<ImportParameters, KmsError> {
        let rec = self.resolve(account, key)?;
        external(&rec)?;
        let private_key = tokio::task::spawn_blocking(|| RsaPrivateKey::new(&mut rand::rng(), 2048))
            .await
            .map_err(|_| KmsError::Internal)?
            .map_err(|_| KmsError::Internal)?;
        let public_key = private_key
            .to_public_key()
            .to_public_key_der()
            .map_err(|_| KmsError::Internal)?;
        let mut token = vec![0u8; 32];
        getrandom::fill(&mut token).map_err(|_| KmsError::Internal)?;
        let expires = self.clock.now() + TOKEN_LIFETIME_SECONDS;
        let now = self.clock.now();
        let mut imports = self
            .imports
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        imports.retain(|_, t| t.expires > now);
        imports.insert(
            token.clone(),
            PendingImportToken {
                key_id: rec.id.clone(),
                private_key,
                expires,
            },
        );
        Ok(ImportParameters {
            key_id: KeyId::new(rec.id)?,
            import_token: token.into(),
            public_key: public_key.as_bytes().to_vec().into(),
            token_expire_time: expires,
        })
    }

    pub(crate) async fn import_material(
        &self,
        account: &AccountId,
        key: &KeyRef,
        encrypted: &[u8],
        token: &[u8],
        expire_unix: Option<i64>,
    ) -> Result<KeyMetadata, KmsError> {
        let now = self.clock.now();
        if expire_unix.is_some_and(|t| t <= now) {
            return Err(KmsError::InvalidArgument(
                "KeyMaterialExpireUnix must be in the future".into(),
            ));
        }
        let rec = self.resolve(account, key)?;
        external(&rec)?;
        let material = {
            let imports = self
                .imports
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let pending = imports.get(token).ok_or(KmsError::InvalidImportToken)?;
            if pending.key_id != rec.id || pending.expires <= now {
                return Err(KmsError::InvalidImportToken);
            }
            zeroize::Zeroizing::new(
                pending
                    .private_key
                    .decrypt(Oaep::<sha2::Sha256>::new(), encrypted)
                    .map_err(|_| KmsError::InvalidCiphertext)?,
            )
        };
        if material.len() != rec.spec().material_len() {
            return Err(KmsError::InvalidArgument(format!(
                "key material must be {} bytes for {}",
                rec.spec().material_len(),
                rec.spec().as_str()
            )));
        }
        let updated = self
            .update_key(account, key, |_, rec| {
                if rec.state() == KeyState::PendingDeletion {
                    return Err(KmsError::StateModifiedFailed);
                }
                match rec.versions.first_mut() {
                    // Re-import must bring back the very same material.
                    Some(v) if !v.material.is_empty() => {
                        if !bool::from(v.material.ct_eq(&material)) {
                            return Err(KmsError::InvalidArgument(
                                "re-imported key material differs".into(),
                            ));
                        }
                    }
                    Some(v) => {
                        if let Some(digest) = rec.material_digest.as_ref() {
                            let new =
                                hex::encode(<sha2::Sha256 as sha2::Digest>::digest(material.as_slice()));
                            if &new != digest {
                                return Err(KmsError::InvalidArgument(
                                    "re-imported key material differs".into(),
                                ));
                            }
                        }
                        v.material = material.to_vec();
                    }
                    None => rec.versions.push(VersionRecord {
                        id: uuid::Uuid::new_v4().to_string(),
                        created: now,
                        material: material.to_vec(),
                    }),
                }
                rec.material_digest = Some(hex::encode(<sha2::Sha256 as sha2::Digest>::digest(
                    material.as_slice(),
                )));
                rec.material_expire = expire_unix;
                if rec.state() == KeyState::PendingImport {
                    rec.set_state(KeyState::Enabled);
                }
                Ok(())
            })
            .await?;
        self.imports
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(token);
        self.metadata(&updated)
    }

    pub(crate) async fn delete_material(
        &self,
        account: &AccountId,
        key: &KeyRef,
    ) -> Result<KeyMetadata, KmsError> {
        let rec = self
            .update_key(account, key, |_, rec| {
                external(rec)?;
                for v in &mut rec.versions {
                    zeroize::Zeroize::zeroize(&mut v.material);
                    v.material = Vec::new();
                }
                rec.material_expire = None;
                if rec.state() != KeyState::PendingDeletion {
                    rec.set_state(KeyState::PendingImport);
                }
                Ok(())
            })
            .await?;
        self.metadata(&rec)
    }
}
