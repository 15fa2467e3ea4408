//! Keystore records: what is persisted per key, version, alias, audit entry and outstanding import
//! token (serialized, then sealed).

use cang_kms_api::{KeyOrigin, KeySpec, KeyState};
use serde::{Deserialize, Serialize};
use zeroize::{Zeroize, ZeroizeOnDrop};

/// One key version; its material is wiped from memory on drop.
#[derive(Clone, Serialize, Deserialize, Zeroize, ZeroizeOnDrop)]
pub(crate) struct VersionRecord {
    #[zeroize(skip)]
    pub id: String,
    #[zeroize(skip)]
    pub created: i64,
    /// Empty once the material of an external key has been deleted.
    pub material: Vec<u8>,
}

impl std::fmt::Debug for VersionRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VersionRecord")
            .field("id", &self.id)
            .field("created", &self.created)
            .finish()
    }
}

/// A CMK or service key.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct KeyRecord {
    pub id: String,
    pub account: String,
    pub description: String,
    pub spec: String,
    pub origin: String,
    pub state: String,
    pub created: i64,
    pub delete_date: Option<i64>,
    pub material_expire: Option<i64>,
    pub rotation_enabled: bool,
    pub rotation_interval: u64,
    /// Oldest first; the last version with material is primary.
    pub versions: Vec<VersionRecord>,
    /// SSE-OSS service key: never listed, not addressable by accounts.
    pub service: bool,
    /// Hex SHA-256 of imported material, kept after `DeleteKeyMaterial` so a re-import must match.
    #[serde(default)]
    pub material_digest: Option<String>,
}

impl KeyRecord {
    pub fn spec(&self) -> KeySpec {
        KeySpec::parse(&self.spec).unwrap_or(KeySpec::Aes256)
    }
    pub fn origin(&self) -> KeyOrigin {
        KeyOrigin::parse(&self.origin).unwrap_or(KeyOrigin::AliyunKms)
    }
    pub fn state(&self) -> KeyState {
        match self.state.as_str() {
            "Disabled" => KeyState::Disabled,
            "PendingDeletion" => KeyState::PendingDeletion,
            "PendingImport" => KeyState::PendingImport,
            _ => KeyState::Enabled,
        }
    }
    pub fn set_state(&mut self, s: KeyState) {
        self.state = s.as_str().to_owned();
    }
    /// The version used for new encryptions.
    pub fn primary(&self) -> Option<&VersionRecord> {
        self.versions.iter().rev().find(|v| !v.material.is_empty())
    }
    pub fn last_rotation(&self) -> i64 {
        self.versions.last().map_or(self.created, |v| v.created)
    }
}

/// An alias: account-scoped name → key id.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct AliasRecord {
    pub account: String,
    pub name: String,
    pub key_id: String,
}

impl AliasRecord {
    pub fn storage_key(account: &str, name: &str) -> String {
        format!("{account}\u{0}{name}")
    }
}

/// A persisted audit record.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct AuditEntry {
    pub time_unix_ms: i64,
    pub principal: String,
    pub account: String,
    pub operation: String,
    pub key_id: String,
    pub key_version_id: String,
    pub context_digest: String,
    pub result: String,
}

/// An outstanding BYOK import token: the CMK it is for, the RSA wrapping key that unwraps the
/// material (PKCS#8 DER, wiped from memory on drop) and its expiry.
#[derive(Serialize, Deserialize, Zeroize, ZeroizeOnDrop)]
pub(crate) struct ImportTokenRecord {
    #[zeroize(skip)]
    pub key_id: String,
    pub private_key_pkcs8: Vec<u8>,
    /// Unix seconds after which the token is refused.
    #[zeroize(skip)]
    pub expires: i64,
}

impl std::fmt::Debug for ImportTokenRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ImportTokenRecord")
            .field("key_id", &self.key_id)
            .field("expires", &self.expires)
            .finish_non_exhaustive()
    }
}
