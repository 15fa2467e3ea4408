//! How admin results are shown: JSON objects for scripts (`--json`), text for people; and the JSON and
//! text shapes of the crypto service's records.

use cang_kms_api::{Alias, AuditRecord, KeyMetadata, KeyVersion};
use serde_json::{Value, json};

use super::Connection;
use crate::cmd::output;

/// Prints `value` with `--json`, else the text `text` builds.
pub fn show(ctx: &Connection, value: Value, text: impl FnOnce() -> String) -> anyhow::Result<()> {
    if ctx.json {
        output::json(&value)
    } else {
        output::line(&text())
    }
}

/// Milliseconds since the epoch, as RFC 3339.
pub fn ms_time(ms: u64) -> String {
    output::unix_time(i64::try_from(ms / 1000).unwrap_or(i64::MAX))
}

/// `DescribeKey` fields, named as Alibaba KMS names them.
pub fn key_metadata_json(k: &KeyMetadata) -> Value {
    json!({
        "KeyId": k.key_id.as_str(),
        "Arn": k.arn,
        "Description": k.description,
        "KeySpec": k.spec.as_str(),
        "Origin": k.origin.as_str(),
        "KeyState": k.state.as_str(),
        "CreationDate": k.creation_date,
        "DeleteDate": k.delete_date,
        "MaterialExpireTime": k.material_expire_time,
        "AutomaticRotation": if k.rotation.enabled { "Enabled" } else { "Disabled" },
        "RotationIntervalSeconds": k.rotation.interval_seconds,
        "LastRotationDate": k.last_rotation_date,
        "NextRotationDate": k.next_rotation_date,
        "PrimaryKeyVersion": k.primary_key_version,
    })
}

/// `DescribeKey` as aligned text.
pub fn key_metadata_text(k: &KeyMetadata) -> String {
    let optional = |t: Option<i64>| t.map(output::unix_time).unwrap_or_default();
    output::fields(&[
        ("KeyId", k.key_id.to_string()),
        ("Arn", k.arn.clone()),
        ("Description", k.description.clone()),
        ("KeySpec", k.spec.as_str().to_owned()),
        ("Origin", k.origin.as_str().to_owned()),
        ("KeyState", k.state.as_str().to_owned()),
        ("CreationDate", output::unix_time(k.creation_date)),
        ("DeleteDate", optional(k.delete_date)),
        ("MaterialExpireTime", optional(k.material_expire_time)),
        (
            "AutomaticRotation",
            if k.rotation.enabled {
                format!("Enabled, every {} days", k.rotation.interval_seconds / 86_400)
            } else {
                "Disabled".to_owned()
            },
        ),
        ("LastRotationDate", output::unix_time(k.last_rotation_date)),
        ("NextRotationDate", optional(k.next_rotation_date)),
        ("PrimaryKeyVersion", k.primary_key_version.clone()),
    ])
}

/// A key version.
pub fn version_json(v: &KeyVersion) -> Value {
    json!({ "KeyId": v.key_id.as_str(), "KeyVersionId": v.key_version_id, "CreationDate": v.creation_date })
}

/// An alias.
pub fn alias_json(a: &Alias) -> Value {
    json!({ "AliasName": a.name.as_str(), "AliasArn": a.arn, "KeyId": a.key_id.as_str() })
}

/// An audit record.
pub fn audit_json(r: &AuditRecord) -> Value {
    json!({
        "sequence": r.sequence,
        "time_unix_ms": r.time_unix_ms,
        "principal": r.principal,
        "account": r.account,
        "operation": r.operation,
        "key_id": r.key_id,
        "key_version_id": r.key_version_id,
        "context_digest": r.context_digest,
        "encryption_context": r.encryption_context.0,
        "source": r.source,
        "result": r.result,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use cang_kms_api::{AccountId, KeyId, KeyOrigin, KeySpec, KeyState, RotationPolicy};

    #[test]
    fn key_metadata_uses_alibaba_field_names_and_values() -> anyhow::Result<()> {
        let k = KeyMetadata {
            key_id: KeyId::new("k-1")?,
            account: AccountId::new("1")?,
            arn: "acs:kms:cn-hangzhou:1:key/k-1".into(),
            description: "d".into(),
            spec: KeySpec::Sm4,
            origin: KeyOrigin::External,
            state: KeyState::PendingImport,
            creation_date: 0,
            delete_date: None,
            material_expire_time: Some(86_400),
            rotation: RotationPolicy::new(false, 0)?,
            last_rotation_date: 0,
            next_rotation_date: None,
            primary_key_version: String::new(),
        };
        let v = key_metadata_json(&k);
        assert_eq!(v["KeyId"], "k-1");
        assert_eq!(v["KeySpec"], "Aliyun_SM4");
        assert_eq!(v["Origin"], "EXTERNAL");
        assert_eq!(v["KeyState"], "PendingImport");
        assert_eq!(v["AutomaticRotation"], "Disabled");
        assert_eq!(v["DeleteDate"], Value::Null);
        let text = key_metadata_text(&k);
        assert!(
            text.contains("MaterialExpireTime  1970-01-02T00:00:00Z"),
            "{text}"
        );
        Ok(())
    }
}
