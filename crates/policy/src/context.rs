//! The request facts that `Condition` blocks test: condition key → values.

use std::collections::BTreeMap;
use std::net::IpAddr;

use time::OffsetDateTime;

/// Condition key names that Cang fills in for every request it authorises.
///
/// Key names are matched without regard to ASCII case (`acs:SourceIp` and `acs:sourceip` are the same
/// key); values keep their case.
pub mod keys {
    /// The time the request was received (RFC 3339 or epoch seconds; see `Date*` operators).
    pub const CURRENT_TIME: &str = "acs:CurrentTime";
    /// `true` when the request arrived over TLS.
    pub const SECURE_TRANSPORT: &str = "acs:SecureTransport";
    /// The client's IP address.
    pub const SOURCE_IP: &str = "acs:SourceIp";
    /// `true` when the caller authenticated with MFA.
    pub const MFA_PRESENT: &str = "acs:MFAPresent";
    /// The request's `User-Agent` header.
    pub const USER_AGENT: &str = "acs:UserAgent";
    /// The AccessKey ID that signed the request.
    pub const ACCESS_ID: &str = "acs:AccessId";
    /// The `prefix` parameter of a listing request.
    pub const OSS_PREFIX: &str = "oss:Prefix";
    /// The `delimiter` parameter of a listing request.
    pub const OSS_DELIMITER: &str = "oss:Delimiter";
    /// The request's `x-oss-server-side-encryption` header (`AES256`, `KMS` or `SM4`); absent when the
    /// request carries no such header, whatever the bucket default is. RAM documents no name for this
    /// key; Cang names it after the header, as S3 does (`s3:x-amz-server-side-encryption`).
    pub const OSS_SERVER_SIDE_ENCRYPTION: &str = "oss:x-oss-server-side-encryption";
    /// The request's `x-oss-server-side-encryption-key-id` header (the CMK id).
    pub const OSS_SERVER_SIDE_ENCRYPTION_KEY_ID: &str = "oss:x-oss-server-side-encryption-key-id";
}

/// The values of the condition keys for one request. A key may carry several values (e.g. several
/// request tags); a condition on it holds when any of them satisfies the operator.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConditionContext {
    values: BTreeMap<String, Vec<String>>,
}

impl ConditionContext {
    /// An empty context: every condition on a key is evaluated as for a missing key.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `value` to the values of `key`.
    pub fn insert(&mut self, key: &str, value: impl Into<String>) -> &mut Self {
        self.values
            .entry(normalize_key(key))
            .or_default()
            .push(value.into());
        self
    }

    /// Builder form of [`insert`](Self::insert).
    #[must_use]
    pub fn with(mut self, key: &str, value: impl Into<String>) -> Self {
        self.insert(key, value);
        self
    }

    /// Sets [`keys::SOURCE_IP`].
    #[must_use]
    pub fn with_source_ip(self, ip: IpAddr) -> Self {
        self.with(keys::SOURCE_IP, ip.to_string())
    }

    /// Sets [`keys::SECURE_TRANSPORT`].
    #[must_use]
    pub fn with_secure_transport(self, secure: bool) -> Self {
        self.with(keys::SECURE_TRANSPORT, if secure { "true" } else { "false" })
    }

    /// Sets [`keys::CURRENT_TIME`], as epoch seconds (formatting them cannot fail, unlike RFC 3339 for
    /// out-of-range years).
    #[must_use]
    pub fn with_current_time(self, now: OffsetDateTime) -> Self {
        self.with(keys::CURRENT_TIME, now.unix_timestamp().to_string())
    }

    /// The values of `key`, if the request has any.
    pub fn get(&self, key: &str) -> Option<&[String]> {
        self.values.get(&normalize_key(key)).map(Vec::as_slice)
    }

    /// [`get`](Self::get) for a key already passed through `normalize_key`, without allocating.
    pub(crate) fn get_normalized(&self, key: &str) -> Option<&[String]> {
        self.values.get(key).map(Vec::as_slice)
    }
}

/// Condition key names compare without regard to ASCII case.
pub(crate) fn normalize_key(key: &str) -> String {
    key.to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_case_insensitive_values_are_not() {
        let ctx = ConditionContext::new()
            .with("acs:SourceIp", "10.0.0.1")
            .with("ACS:SOURCEIP", "::1");
        assert_eq!(
            ctx.get("acs:sourceip"),
            Some(&["10.0.0.1".to_owned(), "::1".to_owned()][..])
        );
        let ctx = ConditionContext::new().with(keys::OSS_SERVER_SIDE_ENCRYPTION, "KMS");
        assert_eq!(
            ctx.get("oss:X-OSS-Server-Side-Encryption"),
            Some(&["KMS".to_owned()][..])
        );
        assert_eq!(ctx.get(keys::SOURCE_IP), None);
    }

    #[test]
    fn typed_helpers() {
        let t = OffsetDateTime::from_unix_timestamp(1_700_000_000).unwrap();
        let ctx = ConditionContext::new()
            .with_source_ip("192.0.2.7".parse().unwrap())
            .with_secure_transport(false)
            .with_current_time(t);
        assert_eq!(ctx.get(keys::SOURCE_IP).unwrap(), ["192.0.2.7"]);
        assert_eq!(ctx.get(keys::SECURE_TRANSPORT).unwrap(), ["false"]);
        assert_eq!(ctx.get(keys::CURRENT_TIME).unwrap(), ["1700000000"]);
    }
}
