//! Audit records as the crypto service reports them: who asked (the service identity and the end user
//! it acted for), what was done with which key version, and the result.

use crate::{EncryptionContext, EndUser};

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
    /// Where the request came from: the end user's address when an edge named it, else the calling
    /// service's socket address; empty in records written before addresses were recorded.
    pub source: String,
    /// The encryption context bound by the operation (empty when none, and in records written before
    /// contexts were recorded, which kept only the digest). A job record ([`JobKind`]) holds the job's
    /// parameters and counts here instead.
    pub encryption_context: EncryptionContext,
}

/// A point of the audit log's MAC chain seen earlier: the sequence number and its MAC. Verifying
/// against it proves the log was neither rewritten nor rolled back past it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuditAnchor {
    /// Sequence number of the anchored record.
    pub sequence: u64,
    /// The chain MAC at that record.
    pub mac: [u8; 32],
}

impl std::fmt::Display for AuditAnchor {
    /// `SEQUENCE:HEX-MAC`, the form `cang admin kms audit verify --anchor` takes.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.sequence, hex::encode(self.mac))
    }
}

impl std::str::FromStr for AuditAnchor {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || format!("an anchor is SEQUENCE:MAC (64 hex digits), not {s:?}");
        let (seq, mac) = s.split_once(':').ok_or_else(bad)?;
        let sequence = seq.parse::<u64>().map_err(|_| bad())?;
        let bytes = hex::decode(mac).map_err(|_| bad())?;
        let mac = <[u8; 32]>::try_from(bytes.as_slice()).map_err(|_| bad())?;
        Ok(Self { sequence, mac })
    }
}

/// The jobs whose runs the audit log records: key maintenance acting on many objects at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobKind {
    /// Re-wrapping data keys under a key's primary version (`cang admin rewrap`).
    Rewrap,
    /// Copying objects in place under an encryption (`cang admin encrypt-existing`).
    EncryptExisting,
}

impl JobKind {
    /// The operation its records carry: `RewrapJob`, `EncryptExistingJob`.
    pub fn operation(self) -> &'static str {
        match self {
            Self::Rewrap => "RewrapJob",
            Self::EncryptExisting => "EncryptExistingJob",
        }
    }

    /// The kind named by an operation.
    pub fn from_operation(operation: &str) -> Option<Self> {
        [Self::Rewrap, Self::EncryptExisting]
            .into_iter()
            .find(|k| k.operation() == operation)
    }
}

/// Where a job's run is when it is recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobPhase {
    /// It started.
    Started,
    /// It finished, every object dealt with.
    Succeeded,
    /// An error stopped it.
    Failed,
    /// It was stopped on request or by a shutdown.
    Cancelled,
}

impl JobPhase {
    /// The record's result: `started`, `ok`, `failed`, `cancelled`.
    pub fn result(self) -> &'static str {
        match self {
            Self::Started => "started",
            Self::Succeeded => "ok",
            Self::Failed => "failed",
            Self::Cancelled => "cancelled",
        }
    }

    /// The phase named by a result.
    pub fn from_result(result: &str) -> Option<Self> {
        [Self::Started, Self::Succeeded, Self::Failed, Self::Cancelled]
            .into_iter()
            .find(|p| p.result() == result)
    }
}

/// The details a job record may hold: its id, parameters and counts. Nothing else is accepted, so a job record
/// cannot pass itself off as another kind of record.
pub const JOB_DETAIL_KEYS: &[&str] = &[
    "job_id",
    "rate",
    "bucket",
    "prefix",
    "from_version",
    "target",
    "processed",
    "processed_bytes",
    "current",
    "changed",
    "appendable",
    "uploads",
    "kms_calls",
    "brought_to",
    "error",
];

/// Entries a job record's details may hold (one of each of [`JOB_DETAIL_KEYS`]).
pub const JOB_DETAILS_MAX: usize = JOB_DETAIL_KEYS.len();
/// The longest detail value, and the longest key id a job record names, in bytes.
pub const JOB_DETAIL_MAX_LEN: usize = 1024;

/// One step of a job's run, as the audit log records it: operation [`JobKind::operation`], result
/// [`JobPhase::result`], the account and key the job concerns, and its parameters and counts as details (in
/// the record's context field: `job_id`, `bucket`, `processed`, `error`, …; see [`JOB_DETAIL_KEYS`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobAuditEvent {
    /// The job.
    pub kind: JobKind,
    /// Where its run is.
    pub phase: JobPhase,
    /// The account that owns the key or bucket the job concerns (empty for service keys, which serve every
    /// account).
    pub account: String,
    /// The key the job concerns (a CMK id, or a service key id), or empty.
    pub key_id: String,
    /// Parameters and counts, keyed by [`JOB_DETAIL_KEYS`]; `job_id` among them.
    pub details: std::collections::BTreeMap<String, String>,
}

impl JobAuditEvent {
    /// Checks what the audit log accepts: a valid account id (or none), known detail keys including
    /// `job_id`, and values of at most [`JOB_DETAIL_MAX_LEN`] bytes without control characters.
    pub fn validate(&self) -> Result<(), crate::KmsError> {
        let invalid = |m: &str| Err(crate::KmsError::InvalidArgument(format!("a job record {m}")));
        if !self.account.is_empty() {
            crate::AccountId::new(self.account.as_str())?;
        }
        let fits = |s: &str| s.len() <= JOB_DETAIL_MAX_LEN && !s.chars().any(char::is_control);
        if !fits(&self.key_id) {
            return invalid("names a key id of at most 1024 printable bytes");
        }
        if !self.details.contains_key("job_id") {
            return invalid("carries its job_id");
        }
        for (key, value) in &self.details {
            if !JOB_DETAIL_KEYS.contains(&key.as_str()) {
                return invalid(&format!("has no detail {key:?}"));
            }
            if !fits(value) {
                return invalid("holds details of at most 1024 printable bytes");
            }
        }
        Ok(())
    }
}

/// The outcome of walking the audit log's MAC chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditVerification {
    /// Records checked (all of them).
    pub records: u64,
    /// Records at the start of the log written before it was chained (sealed, but without a MAC).
    pub unchained: u64,
    /// The last record and its MAC (`None` for an empty log): the anchor to pin for next time.
    pub head: Option<AuditAnchor>,
    /// The first problem found and the sequence number it is at; `None` when the log is intact.
    pub failure: Option<(u64, String)>,
}

impl AuditVerification {
    /// Whether every record is present, unaltered and chained (after the unchained prefix).
    pub fn is_intact(&self) -> bool {
        self.failure.is_none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn anchors_print_and_parse_back() {
        let anchor = AuditAnchor {
            sequence: 18_342,
            mac: [0xab; 32],
        };
        let text = anchor.to_string();
        assert_eq!(text, format!("18342:{}", "ab".repeat(32)));
        assert_eq!(text.parse::<AuditAnchor>(), Ok(anchor));
        for bad in [
            "",
            "18342",
            ":ab",
            "x:ab",
            "1:abc",
            "1:ab",
            &format!("1:{}", "zz".repeat(32)),
        ] {
            assert!(bad.parse::<AuditAnchor>().is_err(), "{bad:?}");
        }
    }

    proptest! {
        #[test]
        fn anchor_parsing_never_panics(raw in ".{0,80}") {
            if let Ok(anchor) = raw.parse::<AuditAnchor>() {
                prop_assert_eq!(anchor.to_string().parse::<AuditAnchor>(), Ok(anchor));
            }
        }
    }
}
