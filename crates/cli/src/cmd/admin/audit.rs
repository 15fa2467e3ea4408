//! `cang admin kms audit`: the crypto service's audit records, filtered by key, principal, operation, result
//! and time. The service hands records out in sequence order, a page at a time; the filter runs here, over
//! as many pages as it takes to find `limit` matches.

use anyhow::Context as _;
use cang_kms_api::{AuditRecord, AuditVerification, KmsApi};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// Records fetched per call to the service (its largest page).
const PAGE: u32 = 1000;

/// Which records to show. Every field left empty matches everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditFilter {
    /// The key id the record names.
    pub key: Option<String>,
    /// The calling service identity (`gateway`, `admin`, `kms`), the end user's account, `account/user`, or
    /// the access key id it signed with.
    pub principal: Option<String>,
    /// The operation, case-insensitively (`GenerateDataKey`, `Decrypt`…).
    pub operation: Option<String>,
    /// The result (`ok`, or the error it ended with), case-insensitively.
    pub result: Option<String>,
    /// The address the request came from, exactly as recorded (`127.0.0.1`, `2001:db8::1`).
    pub source: Option<String>,
    /// Records at or after this time (Unix milliseconds).
    pub since_ms: Option<i64>,
    /// Records before this time (Unix milliseconds).
    pub until_ms: Option<i64>,
}

impl AuditFilter {
    /// Whether `r` passes every condition.
    pub fn matches(&self, r: &AuditRecord) -> bool {
        let principal = |wanted: &str| {
            r.principal == wanted
                || r.end_user.as_ref().is_some_and(|u| {
                    u.access_key_id == wanted
                        || (u.user.is_none() && u.account == wanted)
                        || u.user
                            .as_ref()
                            .is_some_and(|user| format!("{}/{user}", u.account) == wanted)
                })
        };
        self.key.as_ref().is_none_or(|k| &r.key_id == k)
            && self.principal.as_deref().is_none_or(principal)
            && self
                .operation
                .as_ref()
                .is_none_or(|op| r.operation.eq_ignore_ascii_case(op))
            && self
                .result
                .as_ref()
                .is_none_or(|res| r.result.eq_ignore_ascii_case(res))
            && self.source.as_ref().is_none_or(|s| &r.source == s)
            && self.since_ms.is_none_or(|t| r.time_unix_ms >= t)
            && self.until_ms.is_none_or(|t| r.time_unix_ms < t)
    }
}

/// A time given on the command line: RFC 3339 (`2026-12-03T10:00:00Z`) or Unix seconds.
pub fn parse_time(s: &str) -> anyhow::Result<i64> {
    if let Ok(seconds) = s.parse::<i64>() {
        return seconds.checked_mul(1000).context("time out of range");
    }
    let t = OffsetDateTime::parse(s, &Rfc3339)
        .with_context(|| format!("{s:?} is neither RFC 3339 nor Unix seconds"))?;
    i64::try_from(t.unix_timestamp_nanos() / 1_000_000).context("time out of range")
}

/// Up to `limit` records after sequence `after` that pass `filter`, in sequence order.
pub async fn find(
    kms: &dyn KmsApi,
    filter: &AuditFilter,
    mut after: u64,
    limit: usize,
) -> anyhow::Result<Vec<AuditRecord>> {
    let mut found = Vec::new();
    while found.len() < limit {
        let page = kms.list_audit_records(after, PAGE).await.context("audit")?;
        let Some(last) = page.last() else { break };
        after = last.sequence;
        let full = page.len() == PAGE as usize;
        found.extend(page.into_iter().filter(|r| filter.matches(r)));
        if !full {
            break;
        }
    }
    found.truncate(limit);
    Ok(found)
}

/// Prints what `audit verify` found; an error (non-zero exit) unless the log is intact.
pub fn report_verification(json: bool, v: &AuditVerification) -> anyhow::Result<()> {
    let head = v.head.map(|h| h.to_string());
    if json {
        let failure = v
            .failure
            .as_ref()
            .map(|(sequence, why)| serde_json::json!({ "sequence": sequence, "problem": why }));
        crate::cmd::output::json(&serde_json::json!({
            "intact": v.is_intact(),
            "records": v.records,
            "unchained": v.unchained,
            "head": head,
            "failure": failure,
        }))?;
    } else {
        let mut text = match &v.failure {
            None => format!("audit log intact: {} records", v.records),
            Some((sequence, why)) => format!("audit log NOT intact at record {sequence}: {why}"),
        };
        if v.failure.is_none() && v.unchained > 0 {
            text.push_str(&format!(
                "\n  the first {} were written before the log was chained: each opens under the root key, \
                 but their order and completeness rest on their sequence numbers alone",
                v.unchained
            ));
        }
        if let Some(head) = &head {
            text.push_str(&format!(
                "\n  head {head}\n  keep it, and pass it as --anchor next time: removal at the end or a rollback then shows"
            ));
        }
        crate::cmd::output::line(&text)?;
    }
    match &v.failure {
        None => Ok(()),
        Some((sequence, why)) => {
            anyhow::bail!("the audit log fails verification at record {sequence}: {why}")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cang_kms_api::EndUser;

    fn record(principal: &str, end_user: Option<EndUser>, operation: &str, key: &str, t: i64) -> AuditRecord {
        AuditRecord {
            sequence: 1,
            time_unix_ms: t,
            principal: principal.into(),
            end_user,
            account: "1001".into(),
            operation: operation.into(),
            key_id: key.into(),
            key_version_id: "v1".into(),
            context_digest: String::new(),
            result: "ok".into(),
            source: String::new(),
            encryption_context: cang_kms_api::EncryptionContext::default(),
        }
    }

    #[test]
    fn every_condition_must_hold() {
        let alice = EndUser {
            account: "1001".into(),
            user: Some("alice".into()),
            access_key_id: "LTAIALICE".into(),
            source_ip: None,
        };
        let root = EndUser {
            account: "1001".into(),
            user: None,
            access_key_id: "LTAIROOT".into(),
            source_ip: None,
        };
        let by_alice = record("gateway", Some(alice), "Decrypt", "k1", 5_000);
        let by_root = record("gateway", Some(root), "GenerateDataKey", "k2", 9_000);
        let mut by_admin = record("admin", None, "CreateKey", "k3", 1_000);
        by_admin.source = "192.0.2.9".into();
        let filter = |f: AuditFilter| {
            [&by_alice, &by_root, &by_admin]
                .iter()
                .filter(|r| f.matches(r))
                .map(|r| r.key_id.as_str())
                .collect::<Vec<_>>()
        };
        let table = [
            (AuditFilter::default(), vec!["k1", "k2", "k3"]),
            (
                AuditFilter {
                    key: Some("k2".into()),
                    ..Default::default()
                },
                vec!["k2"],
            ),
            (
                AuditFilter {
                    principal: Some("gateway".into()),
                    ..Default::default()
                },
                vec!["k1", "k2"],
            ),
            (
                AuditFilter {
                    principal: Some("1001/alice".into()),
                    ..Default::default()
                },
                vec!["k1"],
            ),
            (
                AuditFilter {
                    principal: Some("LTAIROOT".into()),
                    ..Default::default()
                },
                vec!["k2"],
            ),
            (
                AuditFilter {
                    principal: Some("1001".into()),
                    ..Default::default()
                },
                vec!["k2"],
            ),
            (
                AuditFilter {
                    operation: Some("decrypt".into()),
                    ..Default::default()
                },
                vec!["k1"],
            ),
            (
                AuditFilter {
                    source: Some("192.0.2.9".into()),
                    ..Default::default()
                },
                vec!["k3"],
            ),
            (
                AuditFilter {
                    since_ms: Some(5_000),
                    ..Default::default()
                },
                vec!["k1", "k2"],
            ),
            (
                AuditFilter {
                    until_ms: Some(5_000),
                    ..Default::default()
                },
                vec!["k3"],
            ),
            (
                AuditFilter {
                    principal: Some("gateway".into()),
                    until_ms: Some(6_000),
                    ..Default::default()
                },
                vec!["k1"],
            ),
            (
                AuditFilter {
                    result: Some("denied".into()),
                    ..Default::default()
                },
                vec![],
            ),
        ];
        for (f, expected) in table {
            assert_eq!(filter(f.clone()), expected, "{f:?}");
        }
    }

    #[test]
    fn times_are_rfc3339_or_unix_seconds() {
        assert_eq!(parse_time("1700000000").unwrap(), 1_700_000_000_000);
        assert_eq!(parse_time("2023-11-14T22:13:20Z").unwrap(), 1_700_000_000_000);
        assert_eq!(
            parse_time("2023-11-14T22:13:20.5+00:00").unwrap(),
            1_700_000_000_500
        );
        assert!(parse_time("yesterday").is_err());
    }
}
