//! The key inventory: which master-key versions the stored objects depend on, kept current by every
//! commit, and the compare-and-swap that moves one object's data key to another wrapping.

use serde::{Deserialize, Serialize};

use crate::SseAlgorithm;

/// The master key version that wrapped an object's data key, as the crypto service reported it when
/// the key was issued. `meta` records it beside the wrapped key and counts objects by it; it never
/// reads the wrapped key itself.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct WrappingKey {
    /// The wrapping key: a CMK id, or the crypto service's id of a service key.
    pub key_id: String,
    /// The version of that key.
    pub version_id: String,
}

/// One row of the inventory: the objects of one bucket whose data keys one key version wraps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InventoryEntry {
    /// Bucket name.
    pub bucket: String,
    /// The objects' server-side encryption (`None`: no SSE; still sealed at rest under the storage key).
    pub algorithm: SseAlgorithm,
    /// The wrapping key version; `None` for objects written before versions were recorded (a rewrap
    /// records theirs).
    pub wrapping: Option<WrappingKey>,
    /// Objects.
    pub objects: u64,
    /// Plaintext bytes of those objects.
    pub bytes: u64,
    /// Unfinished multipart uploads whose parts are sealed under this version.
    pub uploads: u64,
}

/// Which inventory rows to return.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct InventoryQuery {
    /// Only this bucket.
    pub bucket: Option<String>,
    /// Only rows whose wrapping key is this id.
    pub key_id: Option<String>,
}

impl InventoryQuery {
    /// Whether `entry` is selected.
    pub fn selects(&self, entry: &InventoryEntry) -> bool {
        self.bucket.as_ref().is_none_or(|b| *b == entry.bucket)
            && self
                .key_id
                .as_ref()
                .is_none_or(|k| entry.wrapping.as_ref().is_some_and(|w| w.key_id == *k))
    }
}

/// Replaces an object's wrapped data key, if the object still holds `expected_wrapped_key`: the data
/// key and the ciphertext stay the same, only its wrapping changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RewrapObject {
    /// Bucket name.
    pub bucket: String,
    /// Object key.
    pub key: String,
    /// The unfinished multipart upload of that key to swap the wrapped key of, instead of the object.
    pub upload_id: Option<String>,
    /// The wrapped key the caller re-wrapped; the swap happens only if the object still holds it.
    pub expected_wrapped_key: Vec<u8>,
    /// The new wrapped key.
    pub wrapped_key: Vec<u8>,
    /// The version that wrapped it.
    pub wrapping: WrappingKey,
}

/// What a rewrap did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RewrapOutcome {
    /// The object now holds the new wrapped key.
    Rewrapped,
    /// The object was overwritten or deleted since it was read: nothing changed.
    Changed,
}
