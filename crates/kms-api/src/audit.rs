//! Audit records as the crypto service reports them: who asked (the service identity and the end user
//! it acted for), what was done with which key version, and the result.

use crate::EndUser;

/// One audit record: a use or administration of a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRecord {
    /// Monotonic sequence number.
    pub sequence: u64,
    /// Unix milliseconds.
    pub time_unix_ms: i64,
    /// Caller identity (the service certificate that asked).
    pub principal: String,
    /// The end user the caller acted for, when the caller is the gateway and named one; `None` for
    /// administration and for records written before end users were recorded.
    pub end_user: Option<EndUser>,
    /// Account addressed.
    pub account: String,
    /// Operation name (`GenerateDataKey`, …).
    pub operation: String,
    /// Key id, if one was resolved.
    pub key_id: String,
    /// Key version, if one was used.
    pub key_version_id: String,
    /// Hex SHA-256 of the canonical encryption context, empty when none.
    pub context_digest: String,
    /// `ok` or the error code.
    pub result: String,
}
