//! Keystore records: what is persisted per key, version, alias, audit entry and outstanding import
//! token (serialized, then sealed). Enumerations are stored by their Alibaba names and decode from
//! exactly those names: an unknown state, spec or origin makes the whole record undecodable, and the
//! keyring refuses the key instead of guessing (an unknown state once read as `Enabled`).

use cang_kms_api::{KeyOrigin, KeySpec, KeyState};
use serde::{Deserialize, Serialize};
use zeroize::{Zeroize, ZeroizeOnDrop};

/// Why a keystore record that passed authentication cannot be used. It was written by someone holding
/// the root key (or by another version of this service), so it is treated as tampering: the record is
/// refused, and nothing of its contents goes into the message (serde's own messages can echo stored
/// values, so only the position is kept).
#[derive(Debug, thiserror::Error)]
pub(crate) enum RecordError {
    /// The JSON does not decode into the record type (unknown enumeration name, missing or
    /// mistyped field, syntax).
    #[error("record does not decode ({category:?} error at line {line}, column {column})")]
    Undecodable {
        category: serde_json::error::Category,
        line: usize,
        column: usize,
    },
    /// The record names another id than the one it is stored under.
    #[error("record names another id than the one it is stored under")]
    IdMismatch,
}

impl From<serde_json::Error> for RecordError {
    fn from(e: serde_json::Error) -> Self {
        Self::Undecodable {
            category: e.classify(),
            line: e.line(),
            column: e.column(),
        }
    }
}

/// Decodes the key record stored under `stored_id`.
pub(crate) fn decode_key(stored_id: &str, json: &[u8]) -> Result<KeyRecord, RecordError> {
    let rec: KeyRecord = serde_json::from_slice(json)?;
    if rec.id != stored_id {
        return Err(RecordError::IdMismatch);
    }
    Ok(rec)
}

/// Decodes the alias record stored under `storage_key` (see [`AliasRecord::storage_key`]).
pub(crate) fn decode_alias(storage_key: &str, json: &[u8]) -> Result<AliasRecord, RecordError> {
    let rec: AliasRecord = serde_json::from_slice(json)?;
    if AliasRecord::storage_key(&rec.account, &rec.name) != storage_key {
        return Err(RecordError::IdMismatch);
    }
    Ok(rec)
}

/// An enumeration stored by name: `from_name` accepts exactly the names `name` produces.
trait StoredName: Sized + Copy {
    /// What the field is, for the decode error.
    const WHAT: &'static str;
    fn name(self) -> &'static str;
    fn from_name(s: &str) -> Option<Self>;
}

impl StoredName for KeyState {
    const WHAT: &'static str = "unknown key state";
    fn name(self) -> &'static str {
        self.as_str()
    }
    fn from_name(s: &str) -> Option<Self> {
        Self::parse(s).ok()
    }
}

impl StoredName for KeySpec {
    const WHAT: &'static str = "unknown key spec";
    fn name(self) -> &'static str {
        self.as_str()
    }
    fn from_name(s: &str) -> Option<Self> {
        Self::parse(s).ok()
    }
}

impl StoredName for KeyOrigin {
    const WHAT: &'static str = "unknown key origin";
    fn name(self) -> &'static str {
        self.as_str()
    }
    fn from_name(s: &str) -> Option<Self> {
        Self::parse(s).ok()
    }
}

/// `#[serde(with)]` adapter for [`StoredName`] fields.
mod stored_name {
    use serde::de::Error as _;
    use serde::{Deserialize, Deserializer, Serializer};

    use super::StoredName;

    pub fn serialize<T: StoredName, S: Serializer>(v: &T, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(v.name())
    }

    pub fn deserialize<'de, T: StoredName, D: Deserializer<'de>>(d: D) -> Result<T, D::Error> {
        let s = String::deserialize(d)?;
        // The stored value is not echoed: the message names the field only.
        T::from_name(&s).ok_or_else(|| D::Error::custom(T::WHAT))
    }
}

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
    #[serde(with = "stored_name")]
    pub spec: KeySpec,
    #[serde(with = "stored_name")]
    pub origin: KeyOrigin,
    #[serde(with = "stored_name")]
    pub state: KeyState,
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
    /// `TagResource` tags, by tag key; absent in records written before tags were kept.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub tags: std::collections::BTreeMap<String, String>,
}

impl KeyRecord {
    pub fn spec(&self) -> KeySpec {
        self.spec
    }
    pub fn origin(&self) -> KeyOrigin {
        self.origin
    }
    pub fn state(&self) -> KeyState {
        self.state
    }
    pub fn set_state(&mut self, s: KeyState) {
        self.state = s;
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

/// The end user an audited call was made for (see `cang_kms_api::EndUser`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct EndUserEntry {
    pub account: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    pub access_key_id: String,
}

impl From<cang_kms_api::EndUser> for EndUserEntry {
    fn from(u: cang_kms_api::EndUser) -> Self {
        Self {
            account: u.account,
            user: u.user,
            access_key_id: u.access_key_id,
        }
    }
}

impl From<EndUserEntry> for cang_kms_api::EndUser {
    /// The address is kept in the record's `source`, not here.
    fn from(u: EndUserEntry) -> Self {
        Self {
            account: u.account,
            user: u.user,
            access_key_id: u.access_key_id,
            source_ip: None,
        }
    }
}

/// A persisted audit record.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct AuditEntry {
    pub time_unix_ms: i64,
    /// The service identity that asked.
    pub principal: String,
    /// The end user it asked for; absent in records written before end users were recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_user: Option<EndUserEntry>,
    pub account: String,
    pub operation: String,
    pub key_id: String,
    pub key_version_id: String,
    pub context_digest: String,
    /// The encryption context itself; absent in records written before contexts were kept.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub context: std::collections::BTreeMap<String, String>,
    pub result: String,
    /// The request's address (the end user's, else the calling service's); absent in older records.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub source: String,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn audit_records_without_an_end_user_still_decode() -> Result<(), serde_json::Error> {
        let old = br#"{"time_unix_ms":1,"principal":"gateway","account":"1","operation":"Decrypt",
            "key_id":"k","key_version_id":"v","context_digest":"","result":"ok"}"#;
        let e: AuditEntry = serde_json::from_slice(old)?;
        assert_eq!((e.principal.as_str(), e.end_user), ("gateway", None));
        Ok(())
    }

    #[test]
    fn end_users_round_trip_and_are_omitted_when_absent() -> Result<(), serde_json::Error> {
        let mut e: AuditEntry = serde_json::from_slice(
            br#"{"time_unix_ms":1,"principal":"admin","account":"1","operation":"CreateKey",
            "key_id":"","key_version_id":"","context_digest":"","result":"ok"}"#,
        )?;
        assert!(!serde_json::to_string(&e)?.contains("end_user"));
        let root = EndUserEntry {
            account: "1".into(),
            user: None,
            access_key_id: "LTAI".into(),
        };
        e.end_user = Some(root.clone());
        let json = serde_json::to_string(&e)?;
        assert!(
            json.contains(r#""end_user":{"account":"1","access_key_id":"LTAI"}"#),
            "{json}"
        );
        let back: AuditEntry = serde_json::from_str(&json)?;
        assert_eq!(back.end_user, Some(root));
        Ok(())
    }

    #[test]
    fn stored_names_decode_exactly() {
        let rec = |state: &str| {
            format!(
                r#"{{"id":"k","account":"1","description":"","spec":"Aliyun_SM4","origin":"EXTERNAL",
                "state":"{state}","created":0,"delete_date":null,"material_expire":null,
                "rotation_enabled":false,"rotation_interval":0,"versions":[],"service":false}}"#
            )
        };
        for state in [
            KeyState::Enabled,
            KeyState::Disabled,
            KeyState::PendingDeletion,
            KeyState::PendingImport,
        ] {
            let decoded = decode_key("k", rec(state.as_str()).as_bytes());
            assert!(
                decoded
                    .as_ref()
                    .is_ok_and(|r| r.state == state && r.spec == KeySpec::Sm4),
                "{state:?}: {decoded:?}"
            );
        }
        for bogus in ["Bogus", "", "enabled", "Enabled "] {
            assert!(
                matches!(
                    decode_key("k", rec(bogus).as_bytes()),
                    Err(RecordError::Undecodable { .. })
                ),
                "{bogus:?}"
            );
        }
        assert!(matches!(
            decode_key("other", rec("Enabled").as_bytes()),
            Err(RecordError::IdMismatch)
        ));
    }

    #[test]
    fn key_tags_round_trip_and_older_records_have_none() -> Result<(), Box<dyn std::error::Error>> {
        let old = br#"{"id":"k","account":"1","description":"","spec":"Aliyun_AES_256","origin":"Aliyun_KMS",
            "state":"Enabled","created":0,"delete_date":null,"material_expire":null,
            "rotation_enabled":false,"rotation_interval":0,"versions":[],"service":false}"#;
        let mut rec = decode_key("k", old)?;
        assert!(rec.tags.is_empty());
        assert!(!serde_json::to_string(&rec)?.contains("tags"));
        rec.tags.insert("team".into(), "storage".into());
        let back = decode_key("k", serde_json::to_string(&rec)?.as_bytes())?;
        assert_eq!(back.tags.get("team").map(String::as_str), Some("storage"));
        Ok(())
    }
}
