//! `cang admin kms …`: customer master keys, aliases, versions and rotation, BYOK import, and the audit
//! trail, over the crypto service's admin operations.

use std::path::PathBuf;

use anyhow::Context as _;
use cang_kms_api::{AliasName, CreateKeyRequest, KeyOrigin, KeyRef, KeySpec, KmsApi, Page, RotationPolicy};
use clap::{ArgAction, Subcommand};
use serde_json::json;

use super::Connection;
use super::byok;
use super::render::{alias_json, audit_json, key_metadata_json, key_metadata_text, show, version_json};
use crate::cmd::output::{self, Table};

/// `cang admin kms …`
#[derive(Debug, Subcommand)]
pub enum KmsCommand {
    /// Create a CMK.
    CreateKey {
        /// Free-text description.
        #[arg(long, default_value = "")]
        description: String,
        /// Aliyun_AES_256 or Aliyun_SM4.
        #[arg(long, default_value = "Aliyun_AES_256")]
        key_spec: String,
        /// Aliyun_KMS (generated here) or EXTERNAL (import your own material).
        #[arg(long, default_value = "Aliyun_KMS")]
        origin: String,
        /// Rotate automatically every N days (7-730).
        #[arg(long)]
        rotation_interval_days: Option<u64>,
    },
    /// Show a CMK (by id or alias).
    DescribeKey { key: String },
    /// List CMKs of the account.
    ListKeys {
        /// Page number (from 1).
        #[arg(long, default_value_t = 1)]
        page: u32,
        /// Keys per page (1-100).
        #[arg(long, default_value_t = 100)]
        page_size: u32,
    },
    /// Enable a CMK.
    EnableKey { key: String },
    /// Disable a CMK: it neither encrypts nor decrypts until enabled again.
    DisableKey { key: String },
    /// Schedule a CMK's deletion after a waiting period.
    ScheduleKeyDeletion {
        key: String,
        /// Waiting period in days (7-366).
        #[arg(long)]
        pending_window_in_days: u32,
    },
    /// Cancel a scheduled deletion (the key is enabled again).
    CancelKeyDeletion { key: String },
    /// Create an alias for a CMK.
    CreateAlias { alias: String, key: String },
    /// Point an alias at another CMK.
    UpdateAlias { alias: String, key: String },
    /// Delete an alias.
    DeleteAlias { alias: String },
    /// List aliases (of one CMK with --key).
    ListAliases {
        /// Only aliases of this key.
        #[arg(long)]
        key: Option<String>,
        /// Page number (from 1).
        #[arg(long, default_value_t = 1)]
        page: u32,
        /// Aliases per page (1-100).
        #[arg(long, default_value_t = 100)]
        page_size: u32,
    },
    /// Create a new primary version of a CMK.
    RotateKey { key: String },
    /// Delete the material of a superseded version of a CMK, once the key inventory shows that no object
    /// or unfinished upload depends on it (`cang admin rewrap` moves them off it first).
    RetireVersion {
        key: String,
        /// The version to retire.
        #[arg(value_name = "VERSION")]
        key_version: String,
    },
    /// List a CMK's versions, oldest first.
    ListKeyVersions { key: String },
    /// Set a CMK's automatic rotation.
    SetRotation {
        key: String,
        /// Whether automatic rotation is on.
        #[arg(long, action = ArgAction::Set)]
        enabled: bool,
        /// Interval in days (7-730; default 365).
        #[arg(long)]
        interval_days: Option<u64>,
    },
    /// Get the wrapping public key (PEM) and import token (base64) for an EXTERNAL CMK.
    GetParametersForImport {
        key: String,
        /// Where to write the RSA public key (PEM).
        #[arg(long)]
        public_key_out: PathBuf,
        /// Where to write the import token (base64).
        #[arg(long)]
        token_out: PathBuf,
    },
    /// Encrypt raw key material with the wrapping public key (RSAES-OAEP-SHA256), offline.
    WrapKeyMaterial {
        /// The public key from get-parameters-for-import (PEM or DER).
        #[arg(long)]
        public_key: PathBuf,
        /// Raw key material: 32 bytes (Aliyun_AES_256) or 16 bytes (Aliyun_SM4).
        #[arg(long)]
        material: PathBuf,
        /// Where to write the encrypted material (base64).
        #[arg(long)]
        out: PathBuf,
    },
    /// Import encrypted key material into an EXTERNAL CMK.
    ImportKeyMaterial {
        key: String,
        /// Encrypted material from wrap-key-material (base64).
        #[arg(long)]
        encrypted_material: PathBuf,
        /// Import token from get-parameters-for-import (base64).
        #[arg(long)]
        token: PathBuf,
        /// When the material expires (Unix seconds; default never).
        #[arg(long)]
        expire_unix: Option<i64>,
    },
    /// Delete imported key material (the key returns to PendingImport).
    DeleteKeyMaterial { key: String },
    /// Add tags to a key (`--tag team=storage`, repeatable); a tag key already there gets the new value.
    TagKey {
        key: String,
        /// `KEY=VALUE` (the value may be empty).
        #[arg(long = "tag", required = true, value_parser = parse_tag)]
        tags: Vec<cang_kms_api::Tag>,
    },
    /// Remove tags from a key by tag key (`--tag-key team`, repeatable); absent ones are ignored.
    UntagKey {
        key: String,
        #[arg(long = "tag-key", required = true)]
        tag_keys: Vec<String>,
    },
    /// List a key's tags, in tag-key order.
    ListKeyTags { key: String },
    /// Show audit records of key use and administration, oldest first; `audit verify` checks the
    /// log's MAC chain.
    #[command(args_conflicts_with_subcommands = true)]
    Audit {
        #[command(subcommand)]
        check: Option<AuditCheck>,
        /// Only records after this sequence number.
        #[arg(long, default_value_t = 0)]
        after: u64,
        /// At most this many matching records.
        #[arg(long, default_value_t = 100)]
        limit: usize,
        /// Only records naming this key id.
        #[arg(long)]
        key: Option<String>,
        /// Only records of this caller: a service identity (`gateway`, `admin`, `kms`), an end user's account
        /// (its root key), `account/user`, or an access key id.
        #[arg(long)]
        principal: Option<String>,
        /// Only this operation (`GenerateDataKey`, `Decrypt`, …; any case).
        #[arg(long)]
        operation: Option<String>,
        /// Only this result (`ok`, or an error code; any case).
        #[arg(long)]
        result: Option<String>,
        /// Only requests from this address (the end user's, else the calling service's).
        #[arg(long)]
        source: Option<String>,
        /// Only records at or after this time (RFC 3339 or Unix seconds).
        #[arg(long)]
        since: Option<String>,
        /// Only records before this time (RFC 3339 or Unix seconds).
        #[arg(long)]
        until: Option<String>,
    },
}

/// `cang admin kms audit verify`.
#[derive(Debug, Subcommand)]
pub enum AuditCheck {
    /// Check every record's seal and the MAC chain linking them; exits non-zero if anything was
    /// removed, inserted, reordered or changed. Prints the head (`SEQUENCE:MAC`) to keep as an anchor.
    Verify {
        /// A head printed by an earlier verify: also proves nothing up to it was removed from the end,
        /// rolled back or rewritten since.
        #[arg(long)]
        anchor: Option<cang_kms_api::AuditAnchor>,
    },
}

/// `KEY=VALUE`, checked as the service checks tags.
fn parse_tag(s: &str) -> Result<cang_kms_api::Tag, String> {
    let (key, value) = s
        .split_once('=')
        .ok_or_else(|| format!("a tag is KEY=VALUE, not {s:?}"))?;
    cang_kms_api::Tag::new(key, value).map_err(|e| e.to_string())
}

fn key_ref(s: &str) -> anyhow::Result<KeyRef> {
    KeyRef::parse(s).with_context(|| format!("invalid key id or alias {s:?}"))
}

fn alias_name(s: &str) -> anyhow::Result<AliasName> {
    AliasName::new(s).with_context(|| format!("invalid alias {s:?}"))
}

fn days(d: Option<u64>) -> u64 {
    d.map_or(0, |d| d.saturating_mul(86_400))
}

/// Runs a `kms` command.
pub async fn run(ctx: &Connection, cmd: KmsCommand) -> anyhow::Result<()> {
    if let KmsCommand::WrapKeyMaterial {
        public_key,
        material,
        out,
    } = &cmd
    {
        let public =
            std::fs::read(public_key).with_context(|| format!("reading {}", public_key.display()))?;
        let material = byok::read_material(material)?;
        let wrapped = byok::wrap_material(&byok::public_key_der(&public)?, &material)?;
        byok::write_base64(out, &wrapped)?;
        return show(ctx, json!({ "encrypted_material": out }), || {
            format!("wrote encrypted key material to {}", out.display())
        });
    }
    let kms = ctx.kms()?;
    let account = ctx.kms_account()?;
    match cmd {
        KmsCommand::WrapKeyMaterial { .. } => Ok(()),
        KmsCommand::CreateKey {
            description,
            key_spec,
            origin,
            rotation_interval_days,
        } => {
            let request = CreateKeyRequest {
                account,
                description,
                spec: KeySpec::parse(&key_spec)?,
                origin: KeyOrigin::parse(&origin)?,
                rotation: RotationPolicy::new(
                    rotation_interval_days.is_some(),
                    days(rotation_interval_days),
                )?,
            };
            let key = kms.create_key(request).await.context("CreateKey")?;
            metadata(ctx, &key)
        }
        KmsCommand::DescribeKey { key } => {
            let key = kms
                .describe_key(&account, &key_ref(&key)?)
                .await
                .context("DescribeKey")?;
            metadata(ctx, &key)
        }
        KmsCommand::ListKeys { page, page_size } => {
            let listed = kms
                .list_keys(&account, Page::new(page, page_size)?)
                .await
                .context("ListKeys")?;
            if ctx.json {
                let keys: Vec<_> = listed
                    .items
                    .iter()
                    .map(|k| json!({ "KeyId": k.key_id.as_str(), "KeyArn": k.arn }))
                    .collect();
                return output::json(&json!({
                    "Keys": keys, "TotalCount": listed.total_count,
                    "PageNumber": listed.page.number, "PageSize": listed.page.size,
                }));
            }
            let mut table = Table::new(&["KEY ID", "ARN"]);
            for k in &listed.items {
                table.row(vec![k.key_id.to_string(), k.arn.clone()]);
            }
            table.print()
        }
        KmsCommand::EnableKey { key } => {
            let key = kms
                .enable_key(&account, &key_ref(&key)?)
                .await
                .context("EnableKey")?;
            metadata(ctx, &key)
        }
        KmsCommand::DisableKey { key } => {
            let key = kms
                .disable_key(&account, &key_ref(&key)?)
                .await
                .context("DisableKey")?;
            metadata(ctx, &key)
        }
        KmsCommand::ScheduleKeyDeletion {
            key,
            pending_window_in_days,
        } => {
            let key = kms
                .schedule_key_deletion(&account, &key_ref(&key)?, pending_window_in_days)
                .await
                .context("ScheduleKeyDeletion")?;
            metadata(ctx, &key)
        }
        KmsCommand::CancelKeyDeletion { key } => {
            let key = kms
                .cancel_key_deletion(&account, &key_ref(&key)?)
                .await
                .context("CancelKeyDeletion")?;
            metadata(ctx, &key)
        }
        KmsCommand::CreateAlias { alias, key } => {
            kms.create_alias(&account, &alias_name(&alias)?, &key_ref(&key)?)
                .await
                .context("CreateAlias")?;
            show(ctx, json!({ "AliasName": alias, "KeyId": key }), || {
                format!("{alias} -> {key}")
            })
        }
        KmsCommand::UpdateAlias { alias, key } => {
            kms.update_alias(&account, &alias_name(&alias)?, &key_ref(&key)?)
                .await
                .context("UpdateAlias")?;
            show(ctx, json!({ "AliasName": alias, "KeyId": key }), || {
                format!("{alias} -> {key}")
            })
        }
        KmsCommand::DeleteAlias { alias } => {
            kms.delete_alias(&account, &alias_name(&alias)?)
                .await
                .context("DeleteAlias")?;
            show(ctx, json!({ "deleted": alias }), || format!("deleted {alias}"))
        }
        KmsCommand::ListAliases { key, page, page_size } => {
            let page = Page::new(page, page_size)?;
            let listed = match key {
                Some(key) => kms
                    .list_aliases_by_key_id(&account, &key_ref(&key)?, page)
                    .await
                    .context("ListAliasesByKeyId")?,
                None => kms.list_aliases(&account, page).await.context("ListAliases")?,
            };
            if ctx.json {
                let aliases: Vec<_> = listed.items.iter().map(alias_json).collect();
                return output::json(&json!({ "Aliases": aliases, "TotalCount": listed.total_count }));
            }
            let mut table = Table::new(&["ALIAS", "KEY ID"]);
            for a in &listed.items {
                table.row(vec![a.name.to_string(), a.key_id.to_string()]);
            }
            table.print()
        }
        KmsCommand::RetireVersion { key, key_version } => {
            super::maintenance::retire_version(ctx, &kms, &account, &key, &key_version).await
        }
        KmsCommand::RotateKey { key } => {
            let version = kms
                .rotate_key(&account, &key_ref(&key)?)
                .await
                .context("RotateKey")?;
            show(ctx, version_json(&version), || {
                format!(
                    "{} now encrypts with version {}",
                    version.key_id, version.key_version_id
                )
            })
        }
        KmsCommand::ListKeyVersions { key } => {
            let versions = kms
                .list_key_versions(&account, &key_ref(&key)?)
                .await
                .context("ListKeyVersions")?;
            if ctx.json {
                return output::json(&json!({
                    "KeyVersions": versions.iter().map(version_json).collect::<Vec<_>>()
                }));
            }
            let mut table = Table::new(&["KEY VERSION ID", "CREATED"]);
            for v in &versions {
                table.row(vec![v.key_version_id.clone(), output::unix_time(v.creation_date)]);
            }
            table.print()
        }
        KmsCommand::SetRotation {
            key,
            enabled,
            interval_days,
        } => {
            let policy = RotationPolicy::new(enabled, days(interval_days))?;
            let key = kms
                .update_rotation_policy(&account, &key_ref(&key)?, policy)
                .await
                .context("UpdateRotationPolicy")?;
            metadata(ctx, &key)
        }
        KmsCommand::GetParametersForImport {
            key,
            public_key_out,
            token_out,
        } => {
            let params = kms
                .get_parameters_for_import(&account, &key_ref(&key)?)
                .await
                .context("GetParametersForImport")?;
            std::fs::write(
                &public_key_out,
                byok::pem_encode("PUBLIC KEY", &params.public_key),
            )
            .with_context(|| format!("writing {}", public_key_out.display()))?;
            byok::write_base64(&token_out, &params.import_token)?;
            show(
                ctx,
                json!({
                    "KeyId": params.key_id.as_str(),
                    "PublicKeyFile": public_key_out,
                    "ImportTokenFile": token_out,
                    "TokenExpireTime": params.token_expire_time,
                }),
                || {
                    output::fields(&[
                        ("KeyId", params.key_id.to_string()),
                        ("PublicKey", public_key_out.display().to_string()),
                        ("ImportToken", token_out.display().to_string()),
                        ("TokenExpireTime", output::unix_time(params.token_expire_time)),
                    ])
                },
            )
        }
        KmsCommand::ImportKeyMaterial {
            key,
            encrypted_material,
            token,
            expire_unix,
        } => {
            let material = byok::read_base64(&encrypted_material)?;
            let token = byok::read_base64(&token)?;
            let key = kms
                .import_key_material(&account, &key_ref(&key)?, &material, &token, expire_unix)
                .await
                .context("ImportKeyMaterial")?;
            metadata(ctx, &key)
        }
        KmsCommand::DeleteKeyMaterial { key } => {
            let key = kms
                .delete_key_material(&account, &key_ref(&key)?)
                .await
                .context("DeleteKeyMaterial")?;
            metadata(ctx, &key)
        }
        KmsCommand::TagKey { key, tags } => {
            let key = key_ref(&key)?;
            kms.tag_resource(&account, &key, &tags)
                .await
                .context("TagResource")?;
            key_tags(ctx, &kms, &account, &key).await
        }
        KmsCommand::UntagKey { key, tag_keys } => {
            let key = key_ref(&key)?;
            kms.untag_resource(&account, &key, &tag_keys)
                .await
                .context("UntagResource")?;
            key_tags(ctx, &kms, &account, &key).await
        }
        KmsCommand::ListKeyTags { key } => key_tags(ctx, &kms, &account, &key_ref(&key)?).await,
        KmsCommand::Audit {
            check: Some(AuditCheck::Verify { anchor }),
            ..
        } => {
            let v = kms.verify_audit_log(anchor).await.context("VerifyAuditLog")?;
            super::audit::report_verification(ctx.json, &v)
        }
        KmsCommand::Audit {
            check: None,
            after,
            limit,
            key,
            principal,
            operation,
            result,
            source,
            since,
            until,
        } => {
            let filter = super::audit::AuditFilter {
                key,
                principal,
                operation,
                result,
                source,
                since_ms: since.as_deref().map(super::audit::parse_time).transpose()?,
                until_ms: until.as_deref().map(super::audit::parse_time).transpose()?,
            };
            let records = super::audit::find(&kms, &filter, after, limit).await?;
            if ctx.json {
                return output::json(&serde_json::Value::Array(
                    records.iter().map(audit_with_end_user_json).collect(),
                ));
            }
            let mut table = Table::new(&[
                "SEQ",
                "TIME",
                "PRINCIPAL",
                "END USER",
                "ACCESS KEY",
                "ACCOUNT",
                "OPERATION",
                "KEY",
                "RESULT",
                "SOURCE",
            ]);
            for r in &records {
                let (end_user, access_key) = match &r.end_user {
                    Some(u) => (
                        match &u.user {
                            Some(user) => format!("{}/{user}", u.account),
                            None => format!("{} (root)", u.account),
                        },
                        u.access_key_id.clone(),
                    ),
                    None => ("-".to_owned(), "-".to_owned()),
                };
                table.row(vec![
                    r.sequence.to_string(),
                    super::render::ms_time(u64::try_from(r.time_unix_ms).unwrap_or(0)),
                    r.principal.clone(),
                    end_user,
                    access_key,
                    r.account.clone(),
                    r.operation.clone(),
                    r.key_id.clone(),
                    r.result.clone(),
                    if r.source.is_empty() {
                        "-".to_owned()
                    } else {
                        r.source.clone()
                    },
                ]);
            }
            table.print()
        }
    }
}

/// An audit record as JSON: the common fields plus `end_user` (`{account, user, access_key_id}`, `user`
/// null for a root access key), null when the principal acted for itself.
fn audit_with_end_user_json(r: &cang_kms_api::AuditRecord) -> serde_json::Value {
    let mut value = audit_json(r);
    if let Some(fields) = value.as_object_mut() {
        let end_user = r.end_user.as_ref().map_or(serde_json::Value::Null, |u| {
            json!({
                "account": u.account,
                "user": u.user,
                "access_key_id": u.access_key_id,
            })
        });
        fields.insert("end_user".to_owned(), end_user);
    }
    value
}

/// Prints a key's tags: `{"KeyId", "Tags": [{"TagKey", "TagValue"}]}` as JSON, `key=value` lines as text.
async fn key_tags(
    ctx: &Connection,
    kms: &dyn KmsApi,
    account: &cang_kms_api::AccountId,
    key: &KeyRef,
) -> anyhow::Result<()> {
    let (id, tags) = kms
        .list_resource_tags(account, key)
        .await
        .context("ListResourceTags")?;
    let json = json!({
        "KeyId": id.as_str(),
        "Tags": tags.iter().map(|t| json!({"TagKey": t.key, "TagValue": t.value})).collect::<Vec<_>>(),
    });
    show(ctx, json, || {
        tags.iter()
            .map(|t| format!("{}={}", t.key, t.value))
            .collect::<Vec<_>>()
            .join("\n")
    })
}

fn metadata(ctx: &Connection, key: &cang_kms_api::KeyMetadata) -> anyhow::Result<()> {
    show(ctx, key_metadata_json(key), || key_metadata_text(key))
}
