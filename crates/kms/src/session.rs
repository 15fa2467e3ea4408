//! The keyring as seen by one caller: authorisation by certificate identity (administration is for the
//! admin identity only) and an audit record for every operation, then the keyring call.

use std::net::SocketAddr;
use std::sync::Arc;

use async_trait::async_trait;
use cang_kms_api::{
    ACCESS_KEY_SECRET_PURPOSE, AccountId, Alias, AliasName, AuditAnchor, AuditRecord, AuditVerification,
    CreateKeyRequest, DataKey, Decrypted, EncryptionContext, EndUser, ImportParameters, JobAuditEvent, KeyId,
    KeyListEntry, KeyMetadata, KeyRef, KeyVersion, KmsApi, KmsError, Page, Paged, RotationPolicy,
    SecretBytes, ServiceKeySuite, SnapshotStream, Tag, WrappedDataKey, WrappedKey, current_end_user,
};
use cang_tls::ServiceIdentity;

use crate::audit::AuditLog;
use crate::key_use::{KeyUse, Listed};
use crate::keyring::Keyring;
use crate::record::AuditEntry;

/// The operation classes of the authorisation table.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Class {
    /// Describe/list: gateway (RAM `kms:List*`, `kms:DescribeKey` checks), admin.
    Read,
    /// Data keys, encrypt/decrypt: gateway, admin.
    Use,
    /// Everything else: admin only.
    Admin,
}

/// A [`KmsApi`] acting for one caller.
///
/// The audit names the end user beside the caller when the caller is the gateway: the one the session
/// was bound to, else the one of the enclosing [`cang_kms_api::on_behalf_of`] (so an in-process
/// session behaves as a gRPC call does). The crypto service's own OpenAPI edge (identity `kms`, never
/// admitted over gRPC) names the end user its session was bound to. Other callers act for themselves;
/// an end user is ignored.
#[derive(Debug, Clone)]
pub struct KmsSession {
    pub(crate) keyring: Arc<Keyring>,
    pub(crate) audit: AuditLog,
    pub(crate) caller: ServiceIdentity,
    pub(crate) end_user: Option<EndUser>,
    /// The calling service's socket address (gRPC), recorded when the end user names none.
    pub(crate) peer: Option<SocketAddr>,
}

impl KmsSession {
    /// The end user this call acts for: the gateway's (bound, or the enclosing `on_behalf_of`), the
    /// edge's own (bound, never a task-local); nobody for the admin and meta.
    fn acting_for(&self) -> Option<EndUser> {
        match self.caller {
            ServiceIdentity::Gateway => self.end_user.clone().or_else(current_end_user),
            ServiceIdentity::Kms => self.end_user.clone(),
            ServiceIdentity::Admin | ServiceIdentity::Meta => None,
        }
    }

    /// What may not be opened, answered as if the blob named a foreign key:
    /// - through the crypto service's own edges, a blob under a service key: those data keys seal every
    ///   account's SSE-OSS objects (and those stored without SSE), and only the gateway, which authorises
    ///   each object read, and the admin unwrap them;
    /// - for an end user, an access key's sealed secret (its context's purpose is
    ///   [`ACCESS_KEY_SECRET_PURPOSE`]): secrets
    ///   open only while a request is being authenticated, on behalf of nobody yet.
    fn may_open(&self, blob: &WrappedDataKey, ctx: &EncryptionContext) -> Result<(), KmsError> {
        if self.caller == ServiceIdentity::Kms && self.keyring.names_service_key(blob) {
            return Err(KmsError::KeyNotFound);
        }
        // The context test first: it is free, and gateway reads pass here on every object.
        if ctx.0.get("purpose").map(String::as_str) == Some(ACCESS_KEY_SECRET_PURPOSE)
            && self.acting_for().is_some()
        {
            return Err(KmsError::KeyNotFound);
        }
        Ok(())
    }

    async fn run<T: KeyUse>(
        &self,
        op: &str,
        class: Class,
        account: &str,
        key_hint: &str,
        ctx: Option<&EncryptionContext>,
        fut: impl Future<Output = Result<T, KmsError>>,
    ) -> Result<T, KmsError> {
        // `meta` gets nothing, even if a server were built without the identity interceptor. `kms` is
        // this service's own OpenAPI edge (never admitted over gRPC): it has authenticated an end user
        // and checked their RAM policies, so it may do anything for them; without an end user it may
        // only use keys (opening the sealed secret of the access key it is authenticating).
        let allowed = match (self.caller, class) {
            (ServiceIdentity::Admin, _) => true,
            (ServiceIdentity::Gateway, Class::Read | Class::Use) => true,
            (ServiceIdentity::Kms, Class::Use) => true,
            (ServiceIdentity::Kms, Class::Read | Class::Admin) => self.end_user.is_some(),
            (ServiceIdentity::Gateway, Class::Admin) | (ServiceIdentity::Meta, _) => false,
        };
        let result = if allowed {
            fut.await
        } else {
            Err(KmsError::AccessDenied)
        };
        let (key_id, key_version_id) = match &result {
            Ok(v) => v.key_use(),
            Err(_) => (key_hint.to_owned(), String::new()),
        };
        let end_user = self.acting_for();
        let source = end_user
            .as_ref()
            .and_then(|u| u.source_ip)
            .or(self.peer.map(|p| p.ip()))
            .map(|ip| ip.to_string())
            .unwrap_or_default();
        self.audit
            .record(AuditEntry {
                time_unix_ms: self.keyring.clock.now_ms(),
                principal: self.caller.to_string(),
                end_user: end_user.map(Into::into),
                account: account.to_owned(),
                operation: op.to_owned(),
                key_id: if key_id.is_empty() {
                    key_hint.to_owned()
                } else {
                    key_id
                },
                key_version_id,
                context_digest: ctx.map(EncryptionContext::digest_hex).unwrap_or_default(),
                context: ctx.map(|c| c.0.clone()).unwrap_or_default(),
                result: match &result {
                    Ok(_) => "ok".to_owned(),
                    Err(e) => e.code().to_owned(),
                },
                source,
            })
            .await;
        result
    }
}

#[async_trait]
impl KmsApi for KmsSession {
    async fn create_key(&self, req: CreateKeyRequest) -> Result<KeyMetadata, KmsError> {
        let account = req.account.to_string();
        self.run(
            "CreateKey",
            Class::Admin,
            &account,
            "",
            None,
            self.keyring.create_key(req),
        )
        .await
    }
    async fn describe_key(&self, account: &AccountId, key: &KeyRef) -> Result<KeyMetadata, KmsError> {
        let fut = async {
            let rec = self.keyring.resolve_or_default(account, key).await?;
            self.keyring.metadata(&rec)
        };
        self.run(
            "DescribeKey",
            Class::Read,
            account.as_str(),
            &key.to_string(),
            None,
            fut,
        )
        .await
    }
    async fn list_keys(&self, account: &AccountId, page: Page) -> Result<Paged<KeyListEntry>, KmsError> {
        let fut = async { self.keyring.list_keys(account, page) };
        let r = self
            .run("ListKeys", Class::Read, account.as_str(), "", None, async {
                fut.await.map(Listed)
            })
            .await?;
        Ok(r.0)
    }
    async fn enable_key(&self, account: &AccountId, key: &KeyRef) -> Result<KeyMetadata, KmsError> {
        let fut = self.keyring.set_enabled(account, key, true);
        self.run(
            "EnableKey",
            Class::Admin,
            account.as_str(),
            &key.to_string(),
            None,
            fut,
        )
        .await
    }
    async fn disable_key(&self, account: &AccountId, key: &KeyRef) -> Result<KeyMetadata, KmsError> {
        let fut = self.keyring.set_enabled(account, key, false);
        self.run(
            "DisableKey",
            Class::Admin,
            account.as_str(),
            &key.to_string(),
            None,
            fut,
        )
        .await
    }
    async fn schedule_key_deletion(
        &self,
        account: &AccountId,
        key: &KeyRef,
        days: u32,
    ) -> Result<KeyMetadata, KmsError> {
        let fut = self.keyring.schedule_deletion(account, key, days);
        self.run(
            "ScheduleKeyDeletion",
            Class::Admin,
            account.as_str(),
            &key.to_string(),
            None,
            fut,
        )
        .await
    }
    async fn cancel_key_deletion(&self, account: &AccountId, key: &KeyRef) -> Result<KeyMetadata, KmsError> {
        let fut = self.keyring.cancel_deletion(account, key);
        self.run(
            "CancelKeyDeletion",
            Class::Admin,
            account.as_str(),
            &key.to_string(),
            None,
            fut,
        )
        .await
    }
    async fn create_alias(
        &self,
        account: &AccountId,
        alias: &AliasName,
        key: &KeyRef,
    ) -> Result<(), KmsError> {
        let fut = self.keyring.create_alias(account, alias, key, false);
        self.run(
            "CreateAlias",
            Class::Admin,
            account.as_str(),
            &key.to_string(),
            None,
            fut,
        )
        .await
    }
    async fn update_alias(
        &self,
        account: &AccountId,
        alias: &AliasName,
        key: &KeyRef,
    ) -> Result<(), KmsError> {
        let fut = self.keyring.create_alias(account, alias, key, true);
        self.run(
            "UpdateAlias",
            Class::Admin,
            account.as_str(),
            &key.to_string(),
            None,
            fut,
        )
        .await
    }
    async fn delete_alias(&self, account: &AccountId, alias: &AliasName) -> Result<(), KmsError> {
        let fut = self.keyring.delete_alias(account, alias);
        self.run(
            "DeleteAlias",
            Class::Admin,
            account.as_str(),
            alias.as_str(),
            None,
            fut,
        )
        .await
    }
    async fn list_aliases(&self, account: &AccountId, page: Page) -> Result<Paged<Alias>, KmsError> {
        let fut = async { self.keyring.list_aliases(account, None, page).map(Listed) };
        Ok(self
            .run("ListAliases", Class::Read, account.as_str(), "", None, fut)
            .await?
            .0)
    }
    async fn list_aliases_by_key_id(
        &self,
        account: &AccountId,
        key: &KeyRef,
        page: Page,
    ) -> Result<Paged<Alias>, KmsError> {
        let fut = async { self.keyring.list_aliases(account, Some(key), page).map(Listed) };
        Ok(self
            .run(
                "ListAliasesByKeyId",
                Class::Read,
                account.as_str(),
                &key.to_string(),
                None,
                fut,
            )
            .await?
            .0)
    }
    async fn rotate_key(&self, account: &AccountId, key: &KeyRef) -> Result<KeyVersion, KmsError> {
        let fut = self.keyring.rotate(account, key);
        self.run(
            "RotateKey",
            Class::Admin,
            account.as_str(),
            &key.to_string(),
            None,
            fut,
        )
        .await
    }
    async fn update_rotation_policy(
        &self,
        account: &AccountId,
        key: &KeyRef,
        policy: RotationPolicy,
    ) -> Result<KeyMetadata, KmsError> {
        let fut = self.keyring.set_rotation_policy(account, key, policy);
        self.run(
            "UpdateRotationPolicy",
            Class::Admin,
            account.as_str(),
            &key.to_string(),
            None,
            fut,
        )
        .await
    }
    async fn list_key_versions(
        &self,
        account: &AccountId,
        key: &KeyRef,
    ) -> Result<Vec<KeyVersion>, KmsError> {
        let fut = async {
            let rec = self.keyring.resolve(account, key)?;
            let versions = rec
                .versions
                .iter()
                .map(|v| {
                    Ok(KeyVersion {
                        key_id: cang_kms_api::KeyId::new(rec.id.clone())?,
                        key_version_id: v.id.clone(),
                        creation_date: v.created,
                    })
                })
                .collect::<Result<Vec<_>, KmsError>>()?;
            Ok(Listed(versions))
        };
        Ok(self
            .run(
                "ListKeyVersions",
                Class::Read,
                account.as_str(),
                &key.to_string(),
                None,
                fut,
            )
            .await?
            .0)
    }
    async fn generate_data_key(
        &self,
        account: &AccountId,
        key: &KeyRef,
        n: u32,
        ctx: &EncryptionContext,
    ) -> Result<DataKey, KmsError> {
        let fut = self.keyring.generate(account, key, n, ctx);
        self.run(
            "GenerateDataKey",
            Class::Use,
            account.as_str(),
            &key.to_string(),
            Some(ctx),
            fut,
        )
        .await
    }
    async fn generate_data_key_without_plaintext(
        &self,
        account: &AccountId,
        key: &KeyRef,
        n: u32,
        ctx: &EncryptionContext,
    ) -> Result<WrappedKey, KmsError> {
        let fut = async {
            let dk = self.keyring.generate(account, key, n, ctx).await?;
            Ok(WrappedKey {
                key_id: dk.key_id,
                key_version_id: dk.key_version_id,
                ciphertext_blob: dk.ciphertext_blob,
            })
        };
        self.run(
            "GenerateDataKeyWithoutPlaintext",
            Class::Use,
            account.as_str(),
            &key.to_string(),
            Some(ctx),
            fut,
        )
        .await
    }
    async fn generate_service_data_key(
        &self,
        suite: ServiceKeySuite,
        ctx: &EncryptionContext,
    ) -> Result<DataKey, KmsError> {
        let fut = self.keyring.generate_service(suite, ctx);
        self.run(
            "GenerateServiceDataKey",
            Class::Use,
            crate::keyring::SERVICE_ACCOUNT,
            "",
            Some(ctx),
            fut,
        )
        .await
    }
    async fn encrypt(
        &self,
        account: &AccountId,
        key: &KeyRef,
        plaintext: &SecretBytes,
        ctx: &EncryptionContext,
    ) -> Result<WrappedKey, KmsError> {
        let fut = self.keyring.encrypt(account, key, plaintext, ctx);
        self.run(
            "Encrypt",
            Class::Use,
            account.as_str(),
            &key.to_string(),
            Some(ctx),
            fut,
        )
        .await
    }
    async fn decrypt(
        &self,
        account: &AccountId,
        blob: &WrappedDataKey,
        ctx: &EncryptionContext,
    ) -> Result<Decrypted, KmsError> {
        let fut = async {
            self.may_open(blob, ctx)?;
            self.keyring.decrypt(account, blob, ctx)
        };
        self.run("Decrypt", Class::Use, account.as_str(), "", Some(ctx), fut)
            .await
    }
    async fn re_encrypt(
        &self,
        account: &AccountId,
        blob: &WrappedDataKey,
        src: &EncryptionContext,
        dest: Option<&KeyRef>,
        dst: &EncryptionContext,
    ) -> Result<WrappedKey, KmsError> {
        let fut = async {
            self.may_open(blob, src)?;
            self.keyring.re_encrypt(account, blob, src, dest, dst).await
        };
        self.run("ReEncrypt", Class::Use, account.as_str(), "", Some(dst), fut)
            .await
    }
    async fn get_parameters_for_import(
        &self,
        account: &AccountId,
        key: &KeyRef,
    ) -> Result<ImportParameters, KmsError> {
        let fut = self.keyring.parameters_for_import(account, key);
        self.run(
            "GetParametersForImport",
            Class::Admin,
            account.as_str(),
            &key.to_string(),
            None,
            fut,
        )
        .await
    }
    async fn import_key_material(
        &self,
        account: &AccountId,
        key: &KeyRef,
        material: &[u8],
        token: &[u8],
        expire: Option<i64>,
    ) -> Result<KeyMetadata, KmsError> {
        let fut = self
            .keyring
            .import_material(account, key, material, token, expire);
        self.run(
            "ImportKeyMaterial",
            Class::Admin,
            account.as_str(),
            &key.to_string(),
            None,
            fut,
        )
        .await
    }
    async fn retire_key_version(
        &self,
        account: &AccountId,
        key: &KeyRef,
        version_id: &str,
    ) -> Result<(), KmsError> {
        let fut = self.keyring.retire_version(account, key, version_id);
        self.run(
            "RetireKeyVersion",
            Class::Admin,
            account.as_str(),
            &key.to_string(),
            None,
            fut,
        )
        .await
    }
    async fn delete_key_material(&self, account: &AccountId, key: &KeyRef) -> Result<KeyMetadata, KmsError> {
        let fut = self.keyring.delete_material(account, key);
        self.run(
            "DeleteKeyMaterial",
            Class::Admin,
            account.as_str(),
            &key.to_string(),
            None,
            fut,
        )
        .await
    }
    async fn tag_resource(&self, account: &AccountId, key: &KeyRef, tags: &[Tag]) -> Result<(), KmsError> {
        let fut = self.keyring.tag(account, key, tags);
        self.run(
            "TagResource",
            Class::Admin,
            account.as_str(),
            &key.to_string(),
            None,
            fut,
        )
        .await
        .map(drop)
    }
    async fn untag_resource(
        &self,
        account: &AccountId,
        key: &KeyRef,
        tag_keys: &[String],
    ) -> Result<(), KmsError> {
        let fut = self.keyring.untag(account, key, tag_keys);
        self.run(
            "UntagResource",
            Class::Admin,
            account.as_str(),
            &key.to_string(),
            None,
            fut,
        )
        .await
        .map(drop)
    }
    async fn list_resource_tags(
        &self,
        account: &AccountId,
        key: &KeyRef,
    ) -> Result<(KeyId, Vec<Tag>), KmsError> {
        let fut = async { self.keyring.tags(account, key) };
        self.run(
            "ListResourceTags",
            Class::Read,
            account.as_str(),
            &key.to_string(),
            None,
            fut,
        )
        .await
    }
    async fn list_audit_records(&self, after: u64, limit: u32) -> Result<Vec<AuditRecord>, KmsError> {
        if self.caller != ServiceIdentity::Admin {
            return Err(KmsError::AccessDenied);
        }
        crate::audit::list(&self.keyring, after, limit).await
    }
    async fn verify_audit_log(&self, anchor: Option<AuditAnchor>) -> Result<AuditVerification, KmsError> {
        if self.caller != ServiceIdentity::Admin {
            return Err(KmsError::AccessDenied);
        }
        crate::audit::verify(&self.keyring, anchor).await
    }
    async fn snapshot(&self) -> Result<SnapshotStream, KmsError> {
        let store = Arc::clone(&self.keyring.store);
        // The whole keystore goes to the operator's certificate only, whatever end user an edge names.
        let admin = self.caller == ServiceIdentity::Admin;
        let fut = async move {
            if !admin {
                return Err(KmsError::AccessDenied);
            }
            let path = tokio::task::spawn_blocking(move || store.snapshot())
                .await
                .map_err(|e| {
                    tracing::error!(error = %e, "snapshot task failed");
                    KmsError::Internal
                })?
                .map_err(|e| {
                    tracing::error!(error = %e, "keystore snapshot failed");
                    KmsError::Internal
                })?;
            crate::snapshot::stream_file(path)
                .await
                .map(crate::snapshot::Snapshot)
        };
        let snapshot = self.run("Snapshot", Class::Admin, "", "", None, fut).await?;
        Ok(snapshot.0)
    }
    async fn record_job(&self, event: JobAuditEvent) -> Result<(), KmsError> {
        // Only the gateway that runs jobs and the admin write job records; the crypto service's own edge
        // and meta never do.
        if !matches!(self.caller, ServiceIdentity::Gateway | ServiceIdentity::Admin) {
            return Err(KmsError::AccessDenied);
        }
        event.validate()?;
        let context = EncryptionContext(event.details);
        self.audit
            .record(AuditEntry {
                time_unix_ms: self.keyring.clock.now_ms(),
                principal: self.caller.to_string(),
                end_user: None,
                account: event.account,
                operation: event.kind.operation().to_owned(),
                key_id: event.key_id,
                key_version_id: String::new(),
                context_digest: context.digest_hex(),
                context: context.0,
                result: event.phase.result().to_owned(),
                source: self.peer.map(|p| p.ip().to_string()).unwrap_or_default(),
            })
            .await;
        Ok(())
    }
}
