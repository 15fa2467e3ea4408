//! Domain types of the crypto service, validated on construction: accounts, key ids and aliases, key
//! metadata, versions, data keys (plaintext in zeroizing buffers, redacted `Debug`) and contexts.

use std::collections::BTreeMap;
use std::fmt;

use bytes::Bytes;
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::KmsError;

fn invalid(msg: impl Into<String>) -> KmsError {
    KmsError::InvalidArgument(msg.into())
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '_')
}

/// The account that owns keys and aliases (1–64 of `[A-Za-z0-9_-]`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AccountId(String);

impl AccountId {
    /// Validates an account id.
    pub fn new(s: impl Into<String>) -> Result<Self, KmsError> {
        let s = s.into();
        if s.is_empty() || s.len() > 64 || !s.chars().all(is_name_char) {
            return Err(invalid("Account must be 1-64 characters of [A-Za-z0-9_-]"));
        }
        Ok(Self(s))
    }
    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for AccountId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A key id (CMK or service key): 1–128 of `[A-Za-z0-9_-]`. CMK ids are UUIDs.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyId(String);

impl KeyId {
    /// Validates a key id.
    pub fn new(s: impl Into<String>) -> Result<Self, KmsError> {
        let s = s.into();
        if s.is_empty() || s.len() > 128 || !s.chars().all(is_name_char) {
            return Err(invalid("KeyId is malformed"));
        }
        Ok(Self(s))
    }
    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An alias name: `alias/` followed by 1–255 of `[A-Za-z0-9:/_-]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AliasName(String);

/// The per-account default key OSS uses for SSE-KMS without a key id.
pub const DEFAULT_OSS_ALIAS: &str = "alias/acs/oss";

impl AliasName {
    /// Validates an alias name.
    pub fn new(s: impl Into<String>) -> Result<Self, KmsError> {
        let s = s.into();
        let rest = s
            .strip_prefix("alias/")
            .ok_or_else(|| invalid("AliasName must start with alias/"))?;
        if rest.is_empty()
            || rest.len() > 255
            || !rest.chars().all(|c| is_name_char(c) || matches!(c, ':' | '/'))
        {
            return Err(invalid(
                "AliasName must be alias/ followed by 1-255 of [A-Za-z0-9:/_-]",
            ));
        }
        Ok(Self(s))
    }
    /// `alias/acs/oss`.
    pub fn default_oss() -> Self {
        Self(DEFAULT_OSS_ALIAS.to_owned())
    }
    /// Aliases under `alias/acs/` belong to the service; accounts cannot create or move them.
    pub fn is_reserved(&self) -> bool {
        self.0.starts_with("alias/acs/")
    }
    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for AliasName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// How a request names a key: by id or by alias (accepted wherever a `KeyId` is).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum KeyRef {
    /// A key id.
    Id(KeyId),
    /// An alias of a key.
    Alias(AliasName),
}

impl KeyRef {
    /// Parses `alias/...` as an alias and anything else as a key id.
    pub fn parse(s: &str) -> Result<Self, KmsError> {
        if s.starts_with("alias/") {
            Ok(Self::Alias(AliasName::new(s)?))
        } else {
            Ok(Self::Id(KeyId::new(s)?))
        }
    }
}

impl fmt::Display for KeyRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Id(id) => id.fmt(f),
            Self::Alias(a) => a.fmt(f),
        }
    }
}

/// CMK key spec.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeySpec {
    /// `Aliyun_AES_256`: 256-bit key material, AES-256-GCM wrapping.
    Aes256,
    /// `Aliyun_SM4`: 128-bit key material, SM4-GCM wrapping.
    Sm4,
}

impl KeySpec {
    /// The Alibaba name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Aes256 => "Aliyun_AES_256",
            Self::Sm4 => "Aliyun_SM4",
        }
    }
    /// Length of the key material in bytes.
    pub fn material_len(self) -> usize {
        match self {
            Self::Aes256 => 32,
            Self::Sm4 => 16,
        }
    }
    /// Parses the Alibaba name.
    pub fn parse(s: &str) -> Result<Self, KmsError> {
        match s {
            "Aliyun_AES_256" => Ok(Self::Aes256),
            "Aliyun_SM4" => Ok(Self::Sm4),
            _ => Err(invalid("KeySpec must be Aliyun_AES_256 or Aliyun_SM4")),
        }
    }
}

/// Where a CMK's material comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyOrigin {
    /// `Aliyun_KMS`: generated by the service.
    AliyunKms,
    /// `EXTERNAL`: imported by the customer (BYOK).
    External,
}

impl KeyOrigin {
    /// The Alibaba name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AliyunKms => "Aliyun_KMS",
            Self::External => "EXTERNAL",
        }
    }
    /// Parses the Alibaba name.
    pub fn parse(s: &str) -> Result<Self, KmsError> {
        match s {
            "Aliyun_KMS" => Ok(Self::AliyunKms),
            "EXTERNAL" => Ok(Self::External),
            _ => Err(invalid("Origin must be Aliyun_KMS or EXTERNAL")),
        }
    }
}

/// CMK state (Alibaba KMS "Impact of CMK states on API call").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyState {
    /// Usable.
    Enabled,
    /// Disabled by `DisableKey`.
    Disabled,
    /// Scheduled for deletion.
    PendingDeletion,
    /// External key without (valid) material.
    PendingImport,
}

impl KeyState {
    /// The Alibaba name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Enabled => "Enabled",
            Self::Disabled => "Disabled",
            Self::PendingDeletion => "PendingDeletion",
            Self::PendingImport => "PendingImport",
        }
    }
    /// Parses exactly one of the four Alibaba names; anything else is refused, never read as a default.
    pub fn parse(s: &str) -> Result<Self, KmsError> {
        match s {
            "Enabled" => Ok(Self::Enabled),
            "Disabled" => Ok(Self::Disabled),
            "PendingDeletion" => Ok(Self::PendingDeletion),
            "PendingImport" => Ok(Self::PendingImport),
            _ => Err(invalid(
                "KeyState must be Enabled, Disabled, PendingDeletion or PendingImport",
            )),
        }
    }
}

/// Suite of a service key: the instance-wide keys that are not CMKs, belong to no account, are created
/// on first use and rotated automatically (old versions keep decrypting).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ServiceKeySuite {
    /// SSE-OSS, `x-oss-server-side-encryption: AES256`.
    Aes256,
    /// SSE-OSS, `x-oss-server-side-encryption: SM4`.
    Sm4,
    /// The instance storage key (AES-256): seals objects stored without any SSE, the way cloud disks
    /// are encrypted underneath. Not SSE, and never reported as such.
    Storage,
}

/// Automatic rotation settings of a CMK.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RotationPolicy {
    /// Whether new versions are created automatically.
    pub enabled: bool,
    /// Interval between automatic rotations, seconds (7–730 days when enabled).
    pub interval_seconds: u64,
}

/// Default automatic rotation interval of CMKs (365 days).
pub const DEFAULT_ROTATION_INTERVAL_SECONDS: u64 = 365 * 86_400;

impl RotationPolicy {
    /// Validates: when enabled, the interval is 7–730 days (0 means the 365-day default).
    pub fn new(enabled: bool, interval_seconds: u64) -> Result<Self, KmsError> {
        let interval_seconds = if interval_seconds == 0 {
            DEFAULT_ROTATION_INTERVAL_SECONDS
        } else {
            interval_seconds
        };
        if enabled && !(7 * 86_400..=730 * 86_400).contains(&interval_seconds) {
            return Err(invalid("RotationInterval must be 7-730 days"));
        }
        Ok(Self {
            enabled,
            interval_seconds,
        })
    }
}

/// Parameters of `CreateKey`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateKeyRequest {
    /// Owning account.
    pub account: AccountId,
    /// Free text, up to 8192 characters.
    pub description: String,
    /// Key spec.
    pub spec: KeySpec,
    /// Key origin.
    pub origin: KeyOrigin,
    /// Automatic rotation.
    pub rotation: RotationPolicy,
}

/// Everything `DescribeKey` reports about a CMK. Times are Unix seconds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyMetadata {
    /// Key id.
    pub key_id: KeyId,
    /// Owning account.
    pub account: AccountId,
    /// `acs:kms:<region>:<account>:key/<id>`.
    pub arn: String,
    /// Description.
    pub description: String,
    /// Spec.
    pub spec: KeySpec,
    /// Origin.
    pub origin: KeyOrigin,
    /// State.
    pub state: KeyState,
    /// Creation time.
    pub creation_date: i64,
    /// When the key will be deleted, if scheduled.
    pub delete_date: Option<i64>,
    /// When imported material expires, if ever.
    pub material_expire_time: Option<i64>,
    /// Rotation settings.
    pub rotation: RotationPolicy,
    /// Time of the newest version.
    pub last_rotation_date: i64,
    /// Time of the next automatic rotation, when enabled.
    pub next_rotation_date: Option<i64>,
    /// Version used for new encryptions (empty for an external key that never had material).
    pub primary_key_version: String,
}

/// One version of a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyVersion {
    /// Key id.
    pub key_id: KeyId,
    /// Version id (a UUID).
    pub key_version_id: String,
    /// Creation time.
    pub creation_date: i64,
}

/// An alias and the key it points to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alias {
    /// Alias name.
    pub name: AliasName,
    /// `acs:kms:<region>:<account>:alias/<name>`.
    pub arn: String,
    /// Target key.
    pub key_id: KeyId,
}

/// A key as `ListKeys` returns it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyListEntry {
    /// Key id.
    pub key_id: KeyId,
    /// Key ARN.
    pub arn: String,
}

/// A page request: number ≥ 1, size 1–100.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    /// 1-based page number.
    pub number: u32,
    /// Items per page.
    pub size: u32,
}

impl Page {
    /// Validates; 0 means the default (page 1, size 10).
    pub fn new(number: u32, size: u32) -> Result<Self, KmsError> {
        let number = if number == 0 { 1 } else { number };
        let size = if size == 0 { 10 } else { size };
        if size > 100 {
            return Err(invalid("PageSize must be 1-100"));
        }
        Ok(Self { number, size })
    }
    /// The slice of `total` items this page covers, as a range (empty past the end).
    pub fn range(&self, total: usize) -> std::ops::Range<usize> {
        let start = (self.number as usize - 1)
            .saturating_mul(self.size as usize)
            .min(total);
        let end = start.saturating_add(self.size as usize).min(total);
        start..end
    }
}

/// One page of a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Paged<T> {
    /// Items of this page.
    pub items: Vec<T>,
    /// Items over all pages.
    pub total_count: u64,
    /// The page returned.
    pub page: Page,
}

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

/// Output of `GetParametersForImport`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportParameters {
    /// The key the parameters are for.
    pub key_id: KeyId,
    /// Opaque token to pass back to `ImportKeyMaterial`.
    pub import_token: Bytes,
    /// DER SubjectPublicKeyInfo of a fresh RSA-2048 wrapping key (RSAES-OAEP-SHA256).
    pub public_key: Bytes,
    /// When the token and public key stop being accepted (Unix seconds).
    pub token_expire_time: i64,
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
    fn names_validate() {
        assert!(AliasName::new("alias/acs/oss").is_ok_and(|a| a.is_reserved()));
        assert!(AliasName::new("alias/").is_err());
        assert!(AliasName::new("foo").is_err());
        assert!(AliasName::new(format!("alias/{}", "a".repeat(256))).is_err());
        assert!(matches!(KeyRef::parse("alias/x"), Ok(KeyRef::Alias(_))));
        assert!(matches!(KeyRef::parse("0b4f-aa"), Ok(KeyRef::Id(_))));
        assert!(KeyRef::parse("bad id").is_err());
        assert!(AccountId::new("").is_err());
    }

    #[test]
    fn rotation_interval_bounds() {
        assert!(RotationPolicy::new(true, 6 * 86_400).is_err());
        assert!(RotationPolicy::new(true, 7 * 86_400).is_ok());
        assert!(RotationPolicy::new(true, 731 * 86_400).is_err());
        assert_eq!(
            RotationPolicy::new(false, 0).map(|p| p.interval_seconds),
            Ok(365 * 86_400)
        );
    }

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
        fn pages_partition_the_listing(total in 0usize..500, size in 1u32..=100) {
            let mut seen = 0;
            let mut number = 1;
            loop {
                let r = Page::new(number, size).map_err(|e| TestCaseError::fail(e.to_string()))?.range(total);
                if r.is_empty() { break; }
                prop_assert_eq!(r.start, seen);
                prop_assert!(r.len() <= size as usize);
                seen = r.end;
                number += 1;
            }
            prop_assert_eq!(seen, total);
        }

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
