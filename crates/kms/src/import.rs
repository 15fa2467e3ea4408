//! BYOK: `GetParametersForImport` (a fresh RSA-2048 key pair per call, RSAES-OAEP-SHA256, a 24-hour
//! token bound to one key), `ImportKeyMaterial` and `DeleteKeyMaterial`. Outstanding tokens and their
//! wrapping keys are sealed in the keystore with their expiry, so an import survives a restart of the
//! service between the two calls; a token is forgotten once used or expired.

use cang_kms_api::{AccountId, ImportParameters, KeyId, KeyMetadata, KeyOrigin, KeyRef, KeyState, KmsError};
use rsa::pkcs8::{DecodePrivateKey, EncodePrivateKey, EncodePublicKey};
use rsa::{Oaep, PrivateKey as RsaPrivateKey};
use sha2::Digest;
use subtle::ConstantTimeEq;

use crate::keyring::{Keyring, internal};
use crate::record::{ImportTokenRecord, VersionRecord};

const TOKEN_LIFETIME_SECONDS: i64 = 24 * 3600;

/// The keystore's name for a token: its SHA-256, hex.
fn token_digest(token: &[u8]) -> String {
    hex::encode(sha2::Sha256::digest(token))
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
        let private_key_pkcs8 = private_key.to_pkcs8_der().map_err(|_| KmsError::Internal)?;
        let mut token = vec![0u8; 32];
        getrandom::fill(&mut token).map_err(|_| KmsError::Internal)?;
        let now = self.clock.now();
        let expires = now + TOKEN_LIFETIME_SECONDS;
        let record = ImportTokenRecord {
            key_id: rec.id.clone(),
            private_key_pkcs8: private_key_pkcs8.as_bytes().to_vec(),
            expires,
        };
        let digest = token_digest(&token);
        let store = self.store.clone();
        tokio::task::spawn_blocking(move || store.put_import_token(&digest, &record, now))
            .await
            .map_err(|_| KmsError::Internal)?
            .map_err(internal)?;
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
        let digest = token_digest(token);
        // Keystore read, key decoding and RSA decryption take milliseconds: off the async workers.
        let store = self.store.clone();
        let lookup = digest.clone();
        let key_id = rec.id.clone();
        let encrypted = encrypted.to_vec();
        let material = tokio::task::spawn_blocking(move || {
            let pending = store
                .get_import_token(&lookup)
                .map_err(internal)?
                .ok_or(KmsError::InvalidImportToken)?;
            if pending.key_id != key_id || pending.expires <= now {
                return Err(KmsError::InvalidImportToken);
            }
            let private_key =
                RsaPrivateKey::from_pkcs8_der(&pending.private_key_pkcs8).map_err(|_| KmsError::Internal)?;
            private_key
                .decrypt(Oaep::<sha2::Sha256>::new(), &encrypted)
                .map(zeroize::Zeroizing::new)
                .map_err(|_| KmsError::InvalidCiphertext)
        })
        .await
        .map_err(|_| KmsError::Internal)??;
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
        // A used token is forgotten; should that fail, it still expires with its 24 hours.
        let store = self.store.clone();
        match tokio::task::spawn_blocking(move || store.remove_import_token(&digest)).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::warn!(error = %e, "a used import token could not be removed"),
            Err(_) => tracing::warn!("a used import token could not be removed"),
        }
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
