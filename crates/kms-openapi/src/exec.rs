//! Runs one authorised [`Operation`] on the crypto service and shapes the answer as Alibaba KMS does:
//! field names, `ISO 8601` UTC times, base64 blobs. Every operation is authorised on the ARN of the key
//! it touches (an alias is first resolved to its key) before the call that uses or changes it.
//!
//! Plaintexts are text, as in Alibaba KMS: `Encrypt` seals the UTF-8 bytes of `Plaintext` and
//! `Decrypt` returns them; a data key's ciphertext seals the base64 text of the key, so that `Decrypt`
//! of it returns the same base64 `Plaintext` that `GenerateDataKey` did.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use cang_kms_api::{
    Alias, CreateKeyRequest, KeyId, KeyMetadata, KeyRef, KeyVersion, KmsApi, KmsError, Page, Paged,
    SecretBytes, WrappedKey,
};
use serde_json::{Map, Value, json};
use time::OffsetDateTime;
use zeroize::Zeroizing;

use crate::OpenApiError;
use crate::action::Operation;
use crate::authorize::Caller;
use crate::error::invalid_named;

/// A JSON object answer (without `RequestId`, which the caller adds).
pub type Answer = Map<String, Value>;

/// Reads the key a ciphertext names from its header (supplied by the crypto service).
pub type CiphertextKeyId = fn(&[u8]) -> Option<KeyId>;

/// `YYYY-MM-DDThh:mm:ssZ`.
pub fn iso_time(unix: i64) -> String {
    let Ok(t) = OffsetDateTime::from_unix_timestamp(unix) else {
        return String::new();
    };
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

fn object(v: Value) -> Answer {
    match v {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

fn metadata(m: &KeyMetadata) -> Value {
    let mut out = json!({
        "KeyId": m.key_id.as_str(),
        "Arn": m.arn,
        "Description": m.description,
        "KeySpec": m.spec.as_str(),
        "KeyUsage": "ENCRYPT/DECRYPT",
        "Origin": m.origin.as_str(),
        "KeyState": m.state.as_str(),
        "Creator": m.account.as_str(),
        "CreationDate": iso_time(m.creation_date),
        "DeleteDate": m.delete_date.map(iso_time).unwrap_or_default(),
        "MaterialExpireTime": m.material_expire_time.map(iso_time).unwrap_or_default(),
        "ProtectionLevel": "SOFTWARE",
        "PrimaryKeyVersion": m.primary_key_version,
        "LastRotationDate": iso_time(m.last_rotation_date),
        "AutomaticRotation": if m.rotation.enabled { "Enabled" } else { "Disabled" },
        "DeletionProtection": "Disabled",
    });
    if m.rotation.enabled
        && let Value::Object(map) = &mut out
    {
        map.insert(
            "RotationInterval".into(),
            format!("{}s", m.rotation.interval_seconds).into(),
        );
        if let Some(next) = m.next_rotation_date {
            map.insert("NextRotationDate".into(), iso_time(next).into());
        }
    }
    out
}

fn version(v: &KeyVersion) -> Value {
    json!({
        "KeyId": v.key_id.as_str(),
        "KeyVersionId": v.key_version_id,
        "CreationDate": iso_time(v.creation_date),
    })
}

fn paged(page: Page, total: u64, list: &str, item: &str, items: Vec<Value>) -> Answer {
    object(json!({
        list: { item: items },
        "TotalCount": total,
        "PageNumber": page.number,
        "PageSize": page.size,
    }))
}

fn aliases(p: Paged<Alias>) -> Answer {
    let items = p
        .items
        .iter()
        .map(|a| json!({"AliasName": a.name.as_str(), "AliasArn": a.arn, "KeyId": a.key_id.as_str()}))
        .collect();
    paged(p.page, p.total_count, "Aliases", "Alias", items)
}

fn wrapped(w: &WrappedKey) -> Answer {
    object(json!({
        "KeyId": w.key_id.as_str(),
        "KeyVersionId": w.key_version_id,
        "CiphertextBlob": BASE64.encode(&w.ciphertext_blob.0),
    }))
}

/// Runs `op` for `caller` on `api`, a crypto-service session bound to the caller as end user.
pub async fn execute<A: KmsApi>(
    api: &A,
    caller: &Caller,
    op: Operation,
    ciphertext_key: CiphertextKeyId,
) -> Result<Answer, OpenApiError> {
    let account = caller.account();
    let run = Run { api, caller };
    Ok(match op {
        Operation::CreateKey {
            description,
            spec,
            origin,
            rotation,
        } => {
            caller.authorize("kms:CreateKey", &caller.key_container())?;
            let md = api
                .create_key(CreateKeyRequest {
                    account: account.clone(),
                    description,
                    spec,
                    origin,
                    rotation,
                })
                .await?;
            object(json!({ "KeyMetadata": metadata(&md) }))
        }
        Operation::DescribeKey(key) => {
            let id = run.authorized("kms:DescribeKey", &key).await?;
            let md = api.describe_key(account, &KeyRef::Id(id)).await?;
            object(json!({ "KeyMetadata": metadata(&md) }))
        }
        Operation::ListKeys(page) => {
            caller.authorize("kms:ListKeys", &caller.key_container())?;
            let p = api.list_keys(account, page).await?;
            let items = p
                .items
                .iter()
                .map(|k| json!({"KeyId": k.key_id.as_str(), "KeyArn": k.arn}))
                .collect();
            paged(p.page, p.total_count, "Keys", "Key", items)
        }
        Operation::ListAliases(page) => {
            caller.authorize("kms:ListAliases", &caller.alias_container())?;
            aliases(api.list_aliases(account, page).await?)
        }
        Operation::ListAliasesByKeyId(key, page) => {
            let id = run.authorized("kms:ListAliasesByKeyId", &key).await?;
            aliases(api.list_aliases_by_key_id(account, &KeyRef::Id(id), page).await?)
        }
        Operation::CreateAlias(alias, key) => {
            caller.authorize("kms:CreateAlias", &caller.alias_arn(&alias))?;
            let id = run.authorized("kms:CreateAlias", &key).await?;
            api.create_alias(account, &alias, &KeyRef::Id(id)).await?;
            Answer::new()
        }
        Operation::UpdateAlias(alias, key) => {
            caller.authorize("kms:UpdateAlias", &caller.alias_arn(&alias))?;
            let id = run.authorized("kms:UpdateAlias", &key).await?;
            api.update_alias(account, &alias, &KeyRef::Id(id)).await?;
            Answer::new()
        }
        Operation::DeleteAlias(alias) => {
            caller.authorize("kms:DeleteAlias", &caller.alias_arn(&alias))?;
            run.authorized("kms:DeleteAlias", &KeyRef::Alias(alias.clone()))
                .await?;
            api.delete_alias(account, &alias).await?;
            Answer::new()
        }
        Operation::EnableKey(key) => {
            let id = run.authorized("kms:EnableKey", &key).await?;
            api.enable_key(account, &KeyRef::Id(id)).await?;
            Answer::new()
        }
        Operation::DisableKey(key) => {
            let id = run.authorized("kms:DisableKey", &key).await?;
            api.disable_key(account, &KeyRef::Id(id)).await?;
            Answer::new()
        }
        Operation::ScheduleKeyDeletion(key, days) => {
            let id = run.authorized("kms:ScheduleKeyDeletion", &key).await?;
            api.schedule_key_deletion(account, &KeyRef::Id(id), days).await?;
            Answer::new()
        }
        Operation::CancelKeyDeletion(key) => {
            let id = run.authorized("kms:CancelKeyDeletion", &key).await?;
            api.cancel_key_deletion(account, &KeyRef::Id(id)).await?;
            Answer::new()
        }
        Operation::GenerateDataKey {
            key,
            bytes,
            context,
            with_plaintext,
        } => {
            let action = if with_plaintext {
                "kms:GenerateDataKey"
            } else {
                "kms:GenerateDataKeyWithoutPlaintext"
            };
            let key = KeyRef::Id(run.authorized(action, &key).await?);
            // The service draws the key; its ciphertext is made over the key's base64 text, which is
            // what Alibaba's `Decrypt` of a data key returns.
            let dk = api.generate_data_key(account, &key, bytes, &context).await?;
            let text = Zeroizing::new(BASE64.encode(dk.plaintext.expose()));
            let sealed = api
                .encrypt(
                    account,
                    &key,
                    &SecretBytes::from(text.as_bytes().to_vec()),
                    &context,
                )
                .await?;
            let mut out = wrapped(&sealed);
            if with_plaintext {
                out.insert("Plaintext".into(), Value::String(text.to_string()));
            }
            out
        }
        Operation::Encrypt(key, plaintext, context) => {
            let id = run.authorized("kms:Encrypt", &key).await?;
            wrapped(
                &api.encrypt(account, &KeyRef::Id(id), &plaintext, &context)
                    .await?,
            )
        }
        Operation::Decrypt(blob, context) => {
            let id = ciphertext_key(&blob.0).ok_or_else(|| OpenApiError::invalid("CiphertextBlob"))?;
            caller.authorize("kms:Decrypt", &caller.key_arn(&id))?;
            let opened = api.decrypt(account, &blob, &context).await?;
            let text = std::str::from_utf8(opened.plaintext.expose()).map_err(|_| {
                OpenApiError::InvalidParameter(format!(
                    "{} It holds binary data that was not encrypted through this API.",
                    invalid_named("CiphertextBlob")
                ))
            })?;
            object(json!({
                "KeyId": opened.key_id.as_str(),
                "KeyVersionId": opened.key_version_id,
                "Plaintext": text,
            }))
        }
        Operation::ReEncrypt {
            blob,
            source_context,
            destination,
            destination_context,
        } => {
            let source = ciphertext_key(&blob.0).ok_or_else(|| OpenApiError::invalid("CiphertextBlob"))?;
            caller.authorize("kms:ReEncryptFrom", &caller.key_arn(&source))?;
            let dest = run.authorized("kms:ReEncryptTo", &destination).await?;
            let w = api
                .re_encrypt(
                    account,
                    &blob,
                    &source_context,
                    Some(&KeyRef::Id(dest)),
                    &destination_context,
                )
                .await?;
            wrapped(&w)
        }
        Operation::GetParametersForImport(key) => {
            let id = run.authorized("kms:GetParametersForImport", &key).await?;
            let p = api.get_parameters_for_import(account, &KeyRef::Id(id)).await?;
            object(json!({
                "KeyId": p.key_id.as_str(),
                "ImportToken": BASE64.encode(&p.import_token),
                "PublicKey": BASE64.encode(&p.public_key),
                "TokenExpireTime": iso_time(p.token_expire_time),
            }))
        }
        Operation::ImportKeyMaterial {
            key,
            material,
            token,
            expire_unix,
        } => {
            let id = run.authorized("kms:ImportKeyMaterial", &key).await?;
            api.import_key_material(account, &KeyRef::Id(id), &material, &token, expire_unix)
                .await?;
            Answer::new()
        }
        Operation::DeleteKeyMaterial(key) => {
            let id = run.authorized("kms:DeleteKeyMaterial", &key).await?;
            api.delete_key_material(account, &KeyRef::Id(id)).await?;
            Answer::new()
        }
        Operation::CreateKeyVersion(key) => {
            let id = run.authorized("kms:CreateKeyVersion", &key).await?;
            let v = api.rotate_key(account, &KeyRef::Id(id)).await?;
            object(json!({ "KeyVersion": version(&v) }))
        }
        Operation::ListKeyVersions(key, page) => {
            let id = run.authorized("kms:ListKeyVersions", &key).await?;
            let all = api.list_key_versions(account, &KeyRef::Id(id)).await?;
            let items = all[page.range(all.len())].iter().map(version).collect();
            paged(page, all.len() as u64, "KeyVersions", "KeyVersion", items)
        }
        Operation::DescribeKeyVersion(key, version_id) => {
            let id = run.authorized("kms:DescribeKeyVersion", &key).await?;
            let all = api.list_key_versions(account, &KeyRef::Id(id)).await?;
            let v = all
                .iter()
                .find(|v| v.key_version_id == version_id)
                .ok_or(OpenApiError::Kms(KmsError::KeyVersionNotFound))?;
            object(json!({ "KeyVersion": version(v) }))
        }
        Operation::UpdateRotationPolicy(key, policy) => {
            let id = run.authorized("kms:UpdateRotationPolicy", &key).await?;
            api.update_rotation_policy(account, &KeyRef::Id(id), policy)
                .await?;
            Answer::new()
        }
        Operation::TagResource(key, tags) => {
            let id = run.authorized("kms:TagResource", &key).await?;
            api.tag_resource(account, &KeyRef::Id(id), &tags).await?;
            Answer::new()
        }
        Operation::UntagResource(key, tag_keys) => {
            let id = run.authorized("kms:UntagResource", &key).await?;
            api.untag_resource(account, &KeyRef::Id(id), &tag_keys).await?;
            Answer::new()
        }
        Operation::ListResourceTags(key) => {
            let id = run.authorized("kms:ListResourceTags", &key).await?;
            let (id, tags) = api.list_resource_tags(account, &KeyRef::Id(id)).await?;
            let items: Vec<Value> = tags
                .iter()
                .map(|t| json!({"KeyId": id.as_str(), "TagKey": t.key, "TagValue": t.value}))
                .collect();
            object(json!({ "Tags": { "Tag": items } }))
        }
    })
}

/// One request's view of the service, for authorising on keys named by id or alias.
pub(crate) struct Run<'a, A> {
    api: &'a A,
    caller: &'a Caller,
}

impl<'a, A: KmsApi> Run<'a, A> {
    pub(crate) fn new(api: &'a A, caller: &'a Caller) -> Self {
        Self { api, caller }
    }

    /// Authorises `action` on the key `key` names and returns its id. An alias is resolved first (a
    /// `DescribeKey` in the audit, made for the same end user), since RAM decides on the key's ARN.
    pub(crate) async fn authorized(&self, action: &str, key: &KeyRef) -> Result<KeyId, OpenApiError> {
        let id = match key {
            KeyRef::Id(id) => id.clone(),
            KeyRef::Alias(_) => self.api.describe_key(self.caller.account(), key).await?.key_id,
        };
        self.caller.authorize(action, &self.caller.key_arn(&id))?;
        Ok(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_iso_utc_seconds() {
        assert_eq!(iso_time(0), "1970-01-01T00:00:00Z");
        assert_eq!(iso_time(1_714_550_400), "2024-05-01T08:00:00Z");
        assert_eq!(iso_time(i64::MAX), "");
    }
}
