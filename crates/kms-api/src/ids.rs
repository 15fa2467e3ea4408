//! Identifiers of the crypto service, validated on construction: accounts, key ids, alias names and
//! the key references requests carry (an id or an alias).

use std::fmt;

use crate::KmsError;
use crate::error::invalid;

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

#[cfg(test)]
mod tests {
    use super::*;

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
}
