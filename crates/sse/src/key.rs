//! Data keys, per-object subkey derivation and the sealing of single segments.

use aes_gcm::aead::array::Array;
use aes_gcm::aead::consts::U12;
use aes_gcm::aead::inout::InOutBuf;
use aes_gcm::{AeadInOut, AesGcm, KeyInit};
use hkdf::Hkdf;
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::aes::AesKey;
use crate::params::{NONCE_PREFIX_LEN, SALT_LEN, TAG_LEN};
use crate::sm4x::Sm4x;
use crate::{SseError, Suite};

/// Length of a data key (DEK) in bytes, whatever the suite.
pub const DATA_KEY_LEN: usize = 32;
/// The HKDF `info` label that starts every derivation.
pub const KDF_LABEL: &[u8] = b"cang/sse/v1";

type Sm4Gcm = AesGcm<Sm4x, U12>;

/// A 32-byte data key, as returned by the crypto service's `GenerateDataKey`.
///
/// Zeroized on drop; `Debug` never prints the bytes.
#[derive(Clone)]
pub struct DataKey(Zeroizing<[u8; DATA_KEY_LEN]>);

impl DataKey {
    /// Wraps raw key bytes.
    pub fn from_bytes(bytes: [u8; DATA_KEY_LEN]) -> Self {
        Self(Zeroizing::new(bytes))
    }

    /// Copies a key from a slice that must be exactly 32 bytes long.
    pub fn from_slice(bytes: &[u8]) -> Result<Self, SseError> {
        let mut key = Zeroizing::new([0u8; DATA_KEY_LEN]);
        if bytes.len() != DATA_KEY_LEN {
            return Err(SseError::InvalidParams("data key must be 32 bytes"));
        }
        key.copy_from_slice(bytes);
        Ok(Self(key))
    }

    /// A fresh random key (for tests and for callers that manage keys themselves).
    pub fn generate() -> Result<Self, SseError> {
        let mut key = Zeroizing::new([0u8; DATA_KEY_LEN]);
        getrandom::fill(key.as_mut()).map_err(|_| SseError::Random)?;
        Ok(Self(key))
    }

    /// The key bytes. Handle with care: never log them.
    pub fn expose(&self) -> &[u8; DATA_KEY_LEN] {
        &self.0
    }
}

impl std::fmt::Debug for DataKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DataKey([REDACTED])")
    }
}

enum Cipher {
    Aes(AesKey),
    Sm4(Box<Sm4Gcm>),
}

/// The cipher for one object: the HKDF subkey of a data key, plus the object's nonce prefix.
///
/// Seals and opens individual segments; the streaming types build on it, and callers that parallelise
/// encryption can use it directly.
pub struct SegmentKey {
    cipher: Cipher,
    nonce_prefix: [u8; NONCE_PREFIX_LEN],
}

impl std::fmt::Debug for SegmentKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SegmentKey")
            .field("subkey", &"[REDACTED]")
            .finish_non_exhaustive()
    }
}

impl SegmentKey {
    /// Derives the subkey `HKDF-SHA256(ikm = dek, salt, info = label ‖ suite ‖ u32be(segment_size) ‖ context)`.
    pub fn derive(
        dek: &DataKey,
        suite: Suite,
        segment_size: u32,
        salt: &[u8; SALT_LEN],
        nonce_prefix: &[u8; NONCE_PREFIX_LEN],
        context: &[u8],
    ) -> Result<Self, SseError> {
        let hk = Hkdf::<Sha256>::new(Some(salt), dek.expose());
        let mut okm = Zeroizing::new([0u8; 32]);
        let okm = &mut okm[..suite.subkey_len()];
        let info: [&[u8]; 4] = [KDF_LABEL, &[suite.id()], &segment_size.to_be_bytes(), context];
        let bad_len = |_| SseError::InvalidParams("subkey length");
        hk.expand_multi_info(&info, okm)
            .map_err(|_| SseError::InvalidParams("subkey length"))?;
        let cipher = match suite {
            Suite::Aes256Gcm => {
                Cipher::Aes(AesKey::new(okm).map_err(|_| SseError::InvalidParams("subkey length"))?)
            }
            Suite::Sm4Gcm => Cipher::Sm4(Box::new(Sm4Gcm::new_from_slice(okm).map_err(bad_len)?)),
        };
        Ok(Self {
            cipher,
            nonce_prefix: *nonce_prefix,
        })
    }

    /// The 12-byte nonce of segment `index`: `nonce_prefix ‖ u32be(index) ‖ last`.
    pub fn nonce(&self, index: u64, last: bool) -> Result<[u8; 12], SseError> {
        let index = u32::try_from(index).map_err(|_| SseError::TooLarge)?;
        let mut nonce = [0u8; 12];
        nonce[..7].copy_from_slice(&self.nonce_prefix);
        nonce[7..11].copy_from_slice(&index.to_be_bytes());
        nonce[11] = u8::from(last);
        Ok(nonce)
    }

    /// Encrypts `plaintext` as segment `index` into `out`, which must be `plaintext.len() + 16` bytes long
    /// (ciphertext followed by the tag).
    pub fn seal_into(
        &self,
        index: u64,
        last: bool,
        plaintext: &[u8],
        out: &mut [u8],
    ) -> Result<(), SseError> {
        if out.len() != plaintext.len() + TAG_LEN {
            return Err(SseError::InvalidParams("buffer length"));
        }
        let (body, tag_out) = out.split_at_mut(plaintext.len());
        let nonce = self.nonce(index, last)?;
        let tag = match &self.cipher {
            Cipher::Aes(c) => {
                body.copy_from_slice(plaintext);
                c.seal_in_place(nonce, body).map_err(|_| SseError::TooLarge)?
            }
            Cipher::Sm4(c) => {
                let buf =
                    InOutBuf::new(plaintext, body).map_err(|_| SseError::InvalidParams("buffer length"))?;
                c.encrypt_inout_detached(&Array::from(nonce), &[], buf)
                    .map_err(|_| SseError::TooLarge)?
                    .into()
            }
        };
        tag_out.copy_from_slice(&tag);
        Ok(())
    }

    /// Encrypts `buf` in place as segment `index` and returns its tag.
    pub fn seal_in_place(&self, index: u64, last: bool, buf: &mut [u8]) -> Result<[u8; TAG_LEN], SseError> {
        let nonce = self.nonce(index, last)?;
        match &self.cipher {
            Cipher::Aes(c) => c.seal_in_place(nonce, buf).map_err(|_| SseError::TooLarge),
            Cipher::Sm4(c) => c
                .encrypt_inout_detached(&Array::from(nonce), &[], buf.into())
                .map(Into::into)
                .map_err(|_| SseError::TooLarge),
        }
    }

    /// Verifies and decrypts segment `index` (`ciphertext ‖ tag`) into `out`, which must be 16 bytes shorter
    /// than the segment. On failure `out` is zeroed so no unauthenticated byte escapes.
    pub fn open_into(&self, index: u64, last: bool, segment: &[u8], out: &mut [u8]) -> Result<(), SseError> {
        let fail = SseError::SegmentAuthentication { segment: index };
        let body_len = segment.len().checked_sub(TAG_LEN).ok_or(fail.clone())?;
        let (body, tag) = segment.split_at(body_len);
        let nonce = self.nonce(index, last)?;
        let tag: [u8; TAG_LEN] = tag.try_into().map_err(|_| fail.clone())?;
        if out.len() != body.len() {
            return Err(SseError::InvalidParams("buffer length"));
        }
        let opened = match &self.cipher {
            Cipher::Aes(c) => {
                out.copy_from_slice(body);
                c.open_in_place(nonce, out, tag).is_ok()
            }
            Cipher::Sm4(c) => {
                let buf =
                    InOutBuf::new(body, &mut *out).map_err(|_| SseError::InvalidParams("buffer length"))?;
                c.decrypt_inout_detached(&Array::from(nonce), &[], buf, &Array::from(tag))
                    .is_ok()
            }
        };
        if !opened {
            out.fill(0);
            return Err(fail);
        }
        Ok(())
    }

    /// Verifies and decrypts `buf` in place as segment `index` given its detached tag. On failure `buf` holds
    /// no plaintext (zeroed under AES-256-GCM, still the ciphertext under SM4-GCM).
    pub fn open_in_place(
        &self,
        index: u64,
        last: bool,
        buf: &mut [u8],
        tag: &[u8; TAG_LEN],
    ) -> Result<(), SseError> {
        let nonce = self.nonce(index, last)?;
        let opened = match &self.cipher {
            Cipher::Aes(c) => c.open_in_place(nonce, buf, *tag).is_ok(),
            Cipher::Sm4(c) => c
                .decrypt_inout_detached(&Array::from(nonce), &[], buf.into(), &Array::from(*tag))
                .is_ok(),
        };
        opened
            .then_some(())
            .ok_or(SseError::SegmentAuthentication { segment: index })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_key_bytes() {
        let dek = DataKey::from_bytes([0xAB; 32]);
        let shown = format!("{dek:?}");
        assert!(
            !shown.contains("171") && !shown.to_lowercase().contains("ab"),
            "{shown}"
        );
        let key = SegmentKey::derive(&dek, Suite::Aes256Gcm, 64, &[0; 32], &[0; 7], b"").unwrap();
        assert!(format!("{key:?}").contains("REDACTED"));
    }

    #[test]
    fn nonce_layout() {
        let dek = DataKey::from_bytes([1; 32]);
        let key = SegmentKey::derive(&dek, Suite::Sm4Gcm, 64, &[0; 32], &[1, 2, 3, 4, 5, 6, 7], b"").unwrap();
        assert_eq!(
            key.nonce(0x0102_0304, true).unwrap(),
            [1, 2, 3, 4, 5, 6, 7, 1, 2, 3, 4, 1]
        );
        assert_eq!(key.nonce(5, false).unwrap(), [1, 2, 3, 4, 5, 6, 7, 0, 0, 0, 5, 0]);
        assert_eq!(key.nonce(1 << 32, false), Err(SseError::TooLarge));
    }

    #[test]
    fn short_key_slice_is_rejected() {
        assert!(DataKey::from_slice(&[0; 31]).is_err());
        assert!(DataKey::from_slice(&[0; 32]).is_ok());
    }
}
