//! Data keys and what binds them: encryption contexts (with their canonical, injective serialization),
//! wrapped blobs, secret bytes (zeroizing, redacted `Debug`) and the results of `GenerateDataKey`,
//! `Encrypt`/`ReEncrypt` and `Decrypt`.

use std::collections::BTreeMap;
use std::fmt;

use bytes::Bytes;
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::error::invalid;
use crate::{KeyId, KmsError};

/// The `purpose` of the encryption context access key secrets are sealed under (with their
/// `access_key_id`); the crypto service opens such a ciphertext only for a caller acting for nobody.
pub const ACCESS_KEY_SECRET_PURPOSE: &str = "access-key-secret";

/// Encryption context: bound to a ciphertext as AAD; `Decrypt` must present the same one.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EncryptionContext(pub BTreeMap<String, String>);

impl EncryptionContext {
    /// Canonical serialization (sorted by key): for each pair `u32_be(len k) ‖ k ‖ u32_be(len v) ‖ v`.
    /// Length prefixes make it injective: no two different maps serialize alike.
    pub fn canonical_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for (k, v) in &self.0 {
            for part in [k, v] {
                // Entries longer than 4 GiB cannot arrive over gRPC (4 MiB message limit).
                out.extend_from_slice(&u32::try_from(part.len()).unwrap_or(u32::MAX).to_be_bytes());
                out.extend_from_slice(part.as_bytes());
            }
        }
        out
    }
    /// SHA-256 of the canonical serialization.
    pub fn digest(&self) -> [u8; 32] {
        Sha256::digest(self.canonical_bytes()).into()
    }
    /// Hex digest for audit records; empty for an empty context.
    pub fn digest_hex(&self) -> String {
        if self.0.is_empty() {
            String::new()
        } else {
            hex::encode(self.digest())
        }
    }
}

impl<const N: usize> From<[(&str, &str); N]> for EncryptionContext {
    fn from(pairs: [(&str, &str); N]) -> Self {
        Self(
            pairs
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect(),
        )
    }
}

/// A wrapped data key ("ciphertext blob"): opaque to callers, self-describing to the KMS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WrappedDataKey(pub Bytes);

/// Secret bytes (a data key or a small plaintext): zeroized on drop, never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretBytes(pub Zeroizing<Vec<u8>>);

impl SecretBytes {
    /// The bytes.
    pub fn expose(&self) -> &[u8] {
        &self.0
    }
}

impl From<Vec<u8>> for SecretBytes {
    fn from(v: Vec<u8>) -> Self {
        Self(Zeroizing::new(v))
    }
}

impl fmt::Debug for SecretBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[REDACTED {} bytes]", self.0.len())
    }
}

/// A data key from `GenerateDataKey`: plaintext for immediate use plus its wrapped form to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataKey {
    /// Key that wrapped it.
    pub key_id: KeyId,
    /// Version that wrapped it.
    pub key_version_id: String,
    /// The data key.
    pub plaintext: SecretBytes,
    /// The data key wrapped under `key_id`/`key_version_id`.
    pub ciphertext_blob: WrappedDataKey,
}

/// A ciphertext and the key version that produced it (`Encrypt`, `ReEncrypt`, no-plaintext data keys).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WrappedKey {
    /// Key that wrapped it.
    pub key_id: KeyId,
    /// Version that wrapped it.
    pub key_version_id: String,
    /// The ciphertext blob.
    pub ciphertext_blob: WrappedDataKey,
}

/// The result of `Decrypt`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decrypted {
    /// Key that had wrapped it.
    pub key_id: KeyId,
    /// Version that had wrapped it.
    pub key_version_id: String,
    /// The plaintext.
    pub plaintext: SecretBytes,
}

/// Number of bytes of a generated data key: 1–1024, default 32.
pub fn data_key_len(number_of_bytes: u32) -> Result<usize, KmsError> {
    match number_of_bytes {
        0 => Ok(32),
        1..=1024 => Ok(number_of_bytes as usize),
        _ => Err(invalid("NumberOfBytes must be 1-1024")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn context_serialization_is_injective_on_known_collisions() {
        let a = EncryptionContext::from([("ab", "c")]);
        let b = EncryptionContext::from([("a", "bc")]);
        assert_ne!(a.canonical_bytes(), b.canonical_bytes());
        assert_eq!(EncryptionContext::default().digest_hex(), "");
        assert_eq!(
            EncryptionContext::from([("k", "v")]).canonical_bytes(),
            b"\0\0\0\x01k\0\0\0\x01v".to_vec()
        );
    }

    #[test]
    fn secret_debug_is_redacted() {
        let s = SecretBytes::from(vec![0x41; 4]);
        assert_eq!(format!("{s:?}"), "[REDACTED 4 bytes]");
    }

    proptest! {
        #[test]
        fn distinct_contexts_serialize_distinctly(
            a in proptest::collection::btree_map(".{0,6}", ".{0,6}", 0..4),
            b in proptest::collection::btree_map(".{0,6}", ".{0,6}", 0..4),
        ) {
            let (ca, cb) = (EncryptionContext(a.clone()), EncryptionContext(b.clone()));
            prop_assert_eq!(a == b, ca.canonical_bytes() == cb.canonical_bytes());
        }
    }
}
