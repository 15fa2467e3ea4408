//! The credential-lookup seam: the library asks a `CredentialStore` for an access key's secret and never
//! knows where secrets live. Secrets are zeroized on drop and never printed.

use std::collections::HashMap;
use std::fmt;

use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

/// An access key secret. `Debug` prints a placeholder; the bytes are wiped on drop.
#[derive(Clone)]
pub struct AccessKeySecret(Zeroizing<String>);

impl AccessKeySecret {
    /// Wraps a secret.
    pub fn new(secret: impl Into<String>) -> Self {
        Self(Zeroizing::new(secret.into()))
    }

    /// The secret itself, for whoever must sign or verify with it. Never log or render it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for AccessKeySecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AccessKeySecret([REDACTED])")
    }
}

/// An STS security token bound to a temporary access key. `Debug` prints a placeholder.
#[derive(Clone)]
pub struct SecurityToken(Zeroizing<String>);

impl SecurityToken {
    /// Wraps a token.
    pub fn new(token: impl Into<String>) -> Self {
        Self(Zeroizing::new(token.into()))
    }

    /// Constant-time comparison with the token a request presented.
    pub(crate) fn matches(&self, presented: &[u8]) -> bool {
        bool::from(self.0.as_bytes().ct_eq(presented))
    }
}

impl fmt::Debug for SecurityToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecurityToken([REDACTED])")
    }
}

/// What the store knows about one access key.
#[derive(Debug, Clone)]
pub struct Credential {
    /// The HMAC key material.
    pub secret: AccessKeySecret,
    /// For temporary (STS) keys: the token every request must carry. A request that presents a token for
    /// a key without one, or a different token, is denied.
    pub security_token: Option<SecurityToken>,
}

impl Credential {
    /// A long-term access key (no security token).
    pub fn new(secret: impl Into<String>) -> Self {
        Self {
            secret: AccessKeySecret::new(secret),
            security_token: None,
        }
    }

    /// A temporary access key that must be used together with `token`.
    pub fn with_security_token(secret: impl Into<String>, token: impl Into<String>) -> Self {
        Self {
            secret: AccessKeySecret::new(secret),
            security_token: Some(SecurityToken::new(token)),
        }
    }
}

/// Looks up access keys. Implemented by whatever holds the keys (the metadata service client, a cache,
/// a test map). `None` means unknown or disabled: both are reported as `InvalidAccessKeyId`.
pub trait CredentialStore {
    /// The credential for `access_key_id`, if it exists and is enabled.
    fn credential(&self, access_key_id: &str) -> Option<Credential>;
}

impl CredentialStore for HashMap<String, Credential> {
    fn credential(&self, access_key_id: &str) -> Option<Credential> {
        self.get(access_key_id).cloned()
    }
}

impl<S: CredentialStore + ?Sized> CredentialStore for &S {
    fn credential(&self, access_key_id: &str) -> Option<Credential> {
        (**self).credential(access_key_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_never_contains_the_secret_or_token() {
        let credential = Credential::with_security_token("very-secret-value", "token-value-123");
        let printed = format!("{credential:?}");
        assert!(!printed.contains("very-secret-value"), "{printed}");
        assert!(!printed.contains("token-value-123"), "{printed}");
        assert!(printed.contains("[REDACTED]"));
    }

    #[test]
    fn token_comparison_requires_exact_bytes() {
        let token = SecurityToken::new("abc");
        assert!(token.matches(b"abc"));
        assert!(!token.matches(b"abd"));
        assert!(!token.matches(b"ab"));
        assert!(!token.matches(b"abcd"));
    }

    #[test]
    fn map_store_returns_only_known_keys() {
        let mut store = HashMap::new();
        store.insert("ak".to_owned(), Credential::new("sk"));
        assert_eq!(
            store.credential("ak").map(|c| c.secret.expose().to_owned()),
            Some("sk".to_owned())
        );
        assert!(store.credential("other").is_none());
    }
}
