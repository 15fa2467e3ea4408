//! Identity domain types: accounts, RAM users, access keys (with sealed secrets) and policies.

use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

/// An account: owns buckets and keys.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    /// Account id (digits in OSS, any 1–64 characters here).
    pub id: String,
    /// Display name.
    pub name: String,
    /// Creation time, ms since epoch.
    pub created_ms: u64,
}

/// A RAM user inside an account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    /// Owning account id.
    pub account_id: String,
    /// User name, unique within the account.
    pub name: String,
    /// Creation time, ms since epoch.
    pub created_ms: u64,
}

/// An access key secret sealed by the crypto service. `meta` stores the bytes and never sees the
/// plaintext; the bytes are still wiped on drop and never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct SealedSecret(Zeroizing<Vec<u8>>);

impl Serialize for SealedSecret {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_bytes(&self.0)
    }
}

impl<'de> Deserialize<'de> for SealedSecret {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Vec::<u8>::deserialize(deserializer).map(Self::new)
    }
}

impl SealedSecret {
    /// Wraps sealed bytes.
    pub fn new(bytes: Vec<u8>) -> Self {
        Self(Zeroizing::new(bytes))
    }

    /// The sealed bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl std::fmt::Debug for SealedSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SealedSecret([REDACTED])")
    }
}

/// Whether an access key may sign requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum AccessKeyStatus {
    /// Usable.
    Active,
    /// Refused by the gateway.
    Inactive,
}

/// What a caller supplies to register an access key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAccessKey {
    /// Access key id (what requests carry).
    pub id: String,
    /// Owning account id.
    pub account_id: String,
    /// RAM user, or `None` for the account's root key.
    pub user: Option<String>,
    /// The secret, sealed by the crypto service.
    pub sealed_secret: SealedSecret,
}

/// A stored access key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessKey {
    /// Access key id.
    pub id: String,
    /// Owning account id.
    pub account_id: String,
    /// RAM user, or `None` for the account's root key.
    pub user: Option<String>,
    /// The sealed secret.
    pub sealed_secret: SealedSecret,
    /// Status.
    pub status: AccessKeyStatus,
    /// Creation time, ms since epoch.
    pub created_ms: u64,
}

/// A named policy document of an account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Policy {
    /// Owning account id.
    pub account_id: String,
    /// Policy name, unique within the account.
    pub name: String,
    /// The JSON document, as submitted.
    pub document: String,
    /// Creation time, ms since epoch.
    pub created_ms: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_secret_is_redacted() {
        let s = SealedSecret::new(b"very-sealed".to_vec());
        assert_eq!(format!("{s:?}"), "SealedSecret([REDACTED])");
        assert!(
            !format!(
                "{:?}",
                AccessKey {
                    id: "AK".into(),
                    account_id: "1".into(),
                    user: None,
                    sealed_secret: s,
                    status: AccessKeyStatus::Active,
                    created_ms: 0
                }
            )
            .contains("very")
        );
    }
}
