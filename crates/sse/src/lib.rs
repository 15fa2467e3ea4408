//! Cang's object encryption format: chunked AEAD with a per-object HKDF subkey.
//!
//! An object's plaintext is cut into segments of `segment_size` bytes; each is sealed with AES-256-GCM or
//! SM4-GCM under a subkey derived from the object's data key and a fresh random salt, with a nonce that
//! numbers the segment and marks the last one. Reordering, truncating, extending or splicing segments all fail
//! authentication, and any plaintext byte range can be decrypted by reading only the segments that hold it.
//! The byte-exact specification is `docs/format.md`.
//!
//! ```
//! use cang_sse::{DataKey, Suite, encrypt_all, decrypt_range};
//!
//! let dek = DataKey::generate()?;
//! let body = b"hello, encrypted world";
//! let (params, ciphertext) = encrypt_all(&dek, Suite::Aes256Gcm, 16, b"bkt/key", body)?;
//! assert_eq!(params.segment_count(), 2);
//! assert_eq!(decrypt_range(&dek, &params, b"bkt/key", &ciphertext, 7, 16)?, b"encrypted");
//! assert!(decrypt_range(&dek, &params, b"other/key", &ciphertext, 7, 16).is_err());
//! # Ok::<(), cang_sse::SseError>(())
//! ```

#[allow(unsafe_code)] // the key wipe; see the module's documentation
mod aes;
mod error;
mod key;
mod params;
#[allow(unsafe_code)] // the vector path; see the module's documentation
mod sm4x;
mod stream;
mod suite;

pub use error::SseError;
pub use key::{DATA_KEY_LEN, DataKey, KDF_LABEL, SegmentKey};
pub use params::{
    DEFAULT_SEGMENT_SIZE, ENCODED_LEN, FORMAT_VERSION, HEADER_LEN, MAX_SEGMENT_SIZE, MAX_SEGMENTS,
    MIN_SEGMENT_SIZE, NONCE_PREFIX_LEN, ObjectCipherParams, SALT_LEN, SegmentRange, TAG_LEN, segment_count,
};
pub use sm4x::{Sm4x, vector_available as sm4_is_vectorised};
pub use stream::{RangeDecryptor, StreamEncryptor, decrypt_range, encrypt_all};
pub use suite::Suite;
