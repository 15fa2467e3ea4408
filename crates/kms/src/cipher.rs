//! Authenticated encryption of small secrets (data keys, key material, keystore records) with a
//! 96-bit random nonce: AES-256-GCM, or SM4-GCM for `Aliyun_SM4` keys.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, AesGcm, Nonce};
use cang_kms_api::KeySpec;

/// SM4 in GCM mode with a 96-bit nonce (constant-time on CPUs with AVX-512 and GFNI).
type Sm4Gcm = AesGcm<cang_sse::Sm4x, aes_gcm::aead::consts::U12>;

/// Nonce length in bytes.
pub(crate) const NONCE_LEN: usize = 12;

/// Authentication failed or the key had the wrong length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct OpenError;

/// A fresh random nonce.
pub(crate) fn random_nonce() -> Result<[u8; NONCE_LEN], getrandom::Error> {
    let mut n = [0u8; NONCE_LEN];
    getrandom::fill(&mut n)?;
    Ok(n)
}

/// Encrypts `plaintext` under `key` (32 bytes for AES, 16 for SM4) with `aad`.
pub(crate) fn seal(
    spec: KeySpec,
    key: &[u8],
    nonce: &[u8; NONCE_LEN],
    plaintext: &[u8],
    aad: &[u8],
) -> Result<Vec<u8>, OpenError> {
    let payload = Payload { msg: plaintext, aad };
    let nonce = Nonce::from(*nonce);
    match spec {
        KeySpec::Aes256 => Aes256Gcm::new_from_slice(key)
            .map_err(|_| OpenError)?
            .encrypt(&nonce, payload),
        KeySpec::Sm4 => Sm4Gcm::new_from_slice(key)
            .map_err(|_| OpenError)?
            .encrypt(&nonce, payload),
    }
    .map_err(|_| OpenError)
}

/// Decrypts and authenticates; the plaintext is returned in a zeroizing buffer.
pub(crate) fn open(
    spec: KeySpec,
    key: &[u8],
    nonce: &[u8; NONCE_LEN],
    ciphertext: &[u8],
    aad: &[u8],
) -> Result<zeroize::Zeroizing<Vec<u8>>, OpenError> {
    let payload = Payload { msg: ciphertext, aad };
    let nonce = Nonce::from(*nonce);
    match spec {
        KeySpec::Aes256 => Aes256Gcm::new_from_slice(key)
            .map_err(|_| OpenError)?
            .decrypt(&nonce, payload),
        KeySpec::Sm4 => Sm4Gcm::new_from_slice(key)
            .map_err(|_| OpenError)?
            .decrypt(&nonce, payload),
    }
    .map(zeroize::Zeroizing::new)
    .map_err(|_| OpenError)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aes_known_answer() {
        // NIST GCM test case 13 (AES-256, zero key, zero nonce, empty plaintext): tag only.
        let tag = seal(KeySpec::Aes256, &[0u8; 32], &[0u8; 12], b"", b"").unwrap_or_default();
        assert_eq!(hex::encode(tag), "530f8afbc74536b9a963b4f1c4cb738b");
    }

    #[test]
    fn wrong_aad_or_key_fails() {
        for (spec, len) in [(KeySpec::Aes256, 32), (KeySpec::Sm4, 16)] {
            let key = vec![7u8; len];
            let ct = seal(spec, &key, &[1; 12], b"data key", b"ctx").unwrap_or_default();
            assert_eq!(
                open(spec, &key, &[1; 12], &ct, b"ctx").map(|p| p.to_vec()),
                Ok(b"data key".to_vec())
            );
            assert_eq!(open(spec, &key, &[1; 12], &ct, b"other"), Err(OpenError));
            assert_eq!(open(spec, &vec![8u8; len], &[1; 12], &ct, b"ctx"), Err(OpenError));
        }
    }
}
