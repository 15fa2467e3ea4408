//! gRPC client adapter: implements [`KmsApi`] over a tonic channel. Server errors come back as the same
//! `KmsError` variant; transport failures are `Unavailable`. Every call carries the end user of the
//! enclosing [`crate::on_behalf_of`], if any, as metadata.

use async_trait::async_trait;
use cang_proto::cang::kms::v1 as pb;
use cang_proto::cang::kms::v1::kms_client::KmsClient;
use cang_telemetry::GrpcClientLayer;
use cang_telemetry::propagation::GrpcClientService;
use tonic::transport::{Channel, ClientTlsConfig};
use tower::Layer;

use crate::api::SnapshotStream;
use crate::convert::{context_to_pb, origin_to_pb, spec_to_pb, suite_to_pb};
use crate::end_user::current_end_user;
use crate::{
    AccountId, Alias, AliasName, AuditAnchor, AuditRecord, AuditVerification, CreateKeyRequest, DataKey,
    Decrypted, EncryptionContext, ImportParameters, JobAuditEvent, KeyId, KeyListEntry, KeyMetadata, KeyRef,
    KeyVersion, KmsApi, KmsError, Page, Paged, RotationPolicy, SecretBytes, ServiceKeySuite, Tag,
    WrappedDataKey, WrappedKey,
};

/// The channel every call goes through: each call gets a client span whose context travels to the
/// server as `traceparent`.
type TracedChannel = GrpcClientService<Channel>;

/// A [`KmsApi`] speaking gRPC to `cang kms`.
#[derive(Debug, Clone)]
pub struct KmsGrpcClient {
    inner: KmsClient<TracedChannel>,
    deadline: std::time::Duration,
}

/// How long a call may take unless [`KmsGrpcClient::with_deadline`] says otherwise.
pub const DEFAULT_KMS_DEADLINE: std::time::Duration = std::time::Duration::from_secs(10);

impl KmsGrpcClient {
    /// Uses an existing channel.
    pub fn new(channel: Channel) -> Self {
        Self {
            inner: KmsClient::new(GrpcClientLayer.layer(channel)),
            deadline: DEFAULT_KMS_DEADLINE,
        }
    }

    /// Every call fails with [`KmsError::Unavailable`] after `deadline` (sent as `grpc-timeout`, so the
    /// server gives up too): a hung crypto service never holds a request forever.
    #[must_use]
    pub fn with_deadline(mut self, deadline: std::time::Duration) -> Self {
        self.deadline = deadline;
        self
    }

    /// A request carrying `msg`, the call's deadline and, inside [`crate::on_behalf_of`], the end user it is
    /// made for.
    fn request<T>(&self, msg: T) -> Result<tonic::Request<T>, KmsError> {
        let mut req = tonic::Request::new(msg);
        req.set_timeout(self.deadline);
        if let Some(user) = current_end_user() {
            user.to_metadata(req.metadata_mut())?;
        }
        Ok(req)
    }

    /// A client for `address` (`host:port`) over mTLS; connects on first use and reconnects as needed.
    pub fn connect_lazy(address: &str, tls: ClientTlsConfig) -> Result<Self, cang_tls::TlsError> {
        Ok(Self::new(cang_tls::endpoint(address, tls)?.connect_lazy()))
    }

    fn client(&self) -> KmsClient<TracedChannel> {
        self.inner.clone()
    }
}

fn key_req(account: &AccountId, key: &KeyRef) -> pb::KeyRequest {
    pb::KeyRequest {
        account: account.as_str().to_owned(),
        key_id: key.to_string(),
    }
}

#[async_trait]
impl KmsApi for KmsGrpcClient {
    async fn create_key(&self, req: CreateKeyRequest) -> Result<KeyMetadata, KmsError> {
        let msg = pb::CreateKeyRequest {
            account: req.account.as_str().to_owned(),
            description: req.description,
            key_spec: spec_to_pb(req.spec).into(),
            origin: origin_to_pb(req.origin).into(),
            enable_automatic_rotation: req.rotation.enabled,
            rotation_interval_seconds: req.rotation.interval_seconds,
        };
        self.client()
            .create_key(self.request(msg)?)
            .await?
            .into_inner()
            .try_into()
    }

    async fn describe_key(&self, account: &AccountId, key: &KeyRef) -> Result<KeyMetadata, KmsError> {
        let msg = pb::DescribeKeyRequest {
            account: account.as_str().to_owned(),
            key_id: key.to_string(),
        };
        self.client()
            .describe_key(self.request(msg)?)
            .await?
            .into_inner()
            .try_into()
    }

    async fn list_keys(&self, account: &AccountId, page: Page) -> Result<Paged<KeyListEntry>, KmsError> {
        let msg = pb::ListKeysRequest {
            account: account.as_str().to_owned(),
            page_number: page.number,
            page_size: page.size,
        };
        self.client()
            .list_keys(self.request(msg)?)
            .await?
            .into_inner()
            .try_into()
    }

    async fn enable_key(&self, account: &AccountId, key: &KeyRef) -> Result<KeyMetadata, KmsError> {
        self.client()
            .enable_key(self.request(key_req(account, key))?)
            .await?
            .into_inner()
            .try_into()
    }

    async fn disable_key(&self, account: &AccountId, key: &KeyRef) -> Result<KeyMetadata, KmsError> {
        self.client()
            .disable_key(self.request(key_req(account, key))?)
            .await?
            .into_inner()
            .try_into()
    }

    async fn schedule_key_deletion(
        &self,
        account: &AccountId,
        key: &KeyRef,
        pending_window_in_days: u32,
    ) -> Result<KeyMetadata, KmsError> {
        let msg = pb::ScheduleKeyDeletionRequest {
            account: account.as_str().to_owned(),
            key_id: key.to_string(),
            pending_window_in_days,
        };
        self.client()
            .schedule_key_deletion(self.request(msg)?)
            .await?
            .into_inner()
            .try_into()
    }

    async fn cancel_key_deletion(&self, account: &AccountId, key: &KeyRef) -> Result<KeyMetadata, KmsError> {
        self.client()
            .cancel_key_deletion(self.request(key_req(account, key))?)
            .await?
            .into_inner()
            .try_into()
    }

    async fn create_alias(
        &self,
        account: &AccountId,
        alias: &AliasName,
        key: &KeyRef,
    ) -> Result<(), KmsError> {
        let msg = pb::AliasRequest {
            account: account.as_str().to_owned(),
            alias_name: alias.as_str().to_owned(),
            key_id: key.to_string(),
        };
        self.client().create_alias(self.request(msg)?).await?;
        Ok(())
    }

    async fn update_alias(
        &self,
        account: &AccountId,
        alias: &AliasName,
        key: &KeyRef,
    ) -> Result<(), KmsError> {
        let msg = pb::AliasRequest {
            account: account.as_str().to_owned(),
            alias_name: alias.as_str().to_owned(),
            key_id: key.to_string(),
        };
        self.client().update_alias(self.request(msg)?).await?;
        Ok(())
    }

    async fn delete_alias(&self, account: &AccountId, alias: &AliasName) -> Result<(), KmsError> {
        let msg = pb::DeleteAliasRequest {
            account: account.as_str().to_owned(),
            alias_name: alias.as_str().to_owned(),
        };
        self.client().delete_alias(self.request(msg)?).await?;
        Ok(())
    }

    async fn list_aliases(&self, account: &AccountId, page: Page) -> Result<Paged<Alias>, KmsError> {
        let msg = pb::ListAliasesRequest {
            account: account.as_str().to_owned(),
            page_number: page.number,
            page_size: page.size,
        };
        self.client()
            .list_aliases(self.request(msg)?)
            .await?
            .into_inner()
            .try_into()
    }

    async fn list_aliases_by_key_id(
        &self,
        account: &AccountId,
        key: &KeyRef,
        page: Page,
    ) -> Result<Paged<Alias>, KmsError> {
        let msg = pb::ListAliasesByKeyIdRequest {
            account: account.as_str().to_owned(),
            key_id: key.to_string(),
            page_number: page.number,
            page_size: page.size,
        };
        self.client()
            .list_aliases_by_key_id(self.request(msg)?)
            .await?
            .into_inner()
            .try_into()
    }

    async fn rotate_key(&self, account: &AccountId, key: &KeyRef) -> Result<KeyVersion, KmsError> {
        self.client()
            .rotate_key(self.request(key_req(account, key))?)
            .await?
            .into_inner()
            .try_into()
    }

    async fn update_rotation_policy(
        &self,
        account: &AccountId,
        key: &KeyRef,
        policy: RotationPolicy,
    ) -> Result<KeyMetadata, KmsError> {
        let msg = pb::UpdateRotationPolicyRequest {
            account: account.as_str().to_owned(),
            key_id: key.to_string(),
            enable_automatic_rotation: policy.enabled,
            rotation_interval_seconds: policy.interval_seconds,
        };
        self.client()
            .update_rotation_policy(self.request(msg)?)
            .await?
            .into_inner()
            .try_into()
    }

    async fn list_key_versions(
        &self,
        account: &AccountId,
        key: &KeyRef,
    ) -> Result<Vec<KeyVersion>, KmsError> {
        let resp = self
            .client()
            .list_key_versions(self.request(key_req(account, key))?)
            .await?
            .into_inner();
        resp.versions.into_iter().map(TryInto::try_into).collect()
    }

    async fn generate_data_key(
        &self,
        account: &AccountId,
        key: &KeyRef,
        number_of_bytes: u32,
        context: &EncryptionContext,
    ) -> Result<DataKey, KmsError> {
        let msg = pb::GenerateDataKeyRequest {
            account: account.as_str().to_owned(),
            key_id: key.to_string(),
            number_of_bytes,
            encryption_context: context_to_pb(context),
        };
        self.client()
            .generate_data_key(self.request(msg)?)
            .await?
            .into_inner()
            .try_into()
    }

    async fn generate_data_key_without_plaintext(
        &self,
        account: &AccountId,
        key: &KeyRef,
        number_of_bytes: u32,
        context: &EncryptionContext,
    ) -> Result<WrappedKey, KmsError> {
        let msg = pb::GenerateDataKeyRequest {
            account: account.as_str().to_owned(),
            key_id: key.to_string(),
            number_of_bytes,
            encryption_context: context_to_pb(context),
        };
        self.client()
            .generate_data_key_without_plaintext(self.request(msg)?)
            .await?
            .into_inner()
            .try_into()
    }

    async fn generate_service_data_key(
        &self,
        suite: ServiceKeySuite,
        context: &EncryptionContext,
    ) -> Result<DataKey, KmsError> {
        let msg = pb::GenerateServiceDataKeyRequest {
            suite: suite_to_pb(suite).into(),
            encryption_context: context_to_pb(context),
        };
        self.client()
            .generate_service_data_key(self.request(msg)?)
            .await?
            .into_inner()
            .try_into()
    }

    async fn encrypt(
        &self,
        account: &AccountId,
        key: &KeyRef,
        plaintext: &SecretBytes,
        context: &EncryptionContext,
    ) -> Result<WrappedKey, KmsError> {
        let msg = pb::EncryptRequest {
            account: account.as_str().to_owned(),
            key_id: key.to_string(),
            plaintext: plaintext.expose().to_vec(),
            encryption_context: context_to_pb(context),
        };
        self.client()
            .encrypt(self.request(msg)?)
            .await?
            .into_inner()
            .try_into()
    }

    async fn decrypt(
        &self,
        account: &AccountId,
        blob: &WrappedDataKey,
        context: &EncryptionContext,
    ) -> Result<Decrypted, KmsError> {
        let msg = pb::DecryptRequest {
            account: account.as_str().to_owned(),
            ciphertext_blob: blob.0.clone(),
            encryption_context: context_to_pb(context),
        };
        self.client()
            .decrypt(self.request(msg)?)
            .await?
            .into_inner()
            .try_into()
    }

    async fn re_encrypt(
        &self,
        account: &AccountId,
        blob: &WrappedDataKey,
        source_context: &EncryptionContext,
        destination: Option<&KeyRef>,
        destination_context: &EncryptionContext,
    ) -> Result<WrappedKey, KmsError> {
        let msg = pb::ReEncryptRequest {
            account: account.as_str().to_owned(),
            ciphertext_blob: blob.0.clone(),
            source_encryption_context: context_to_pb(source_context),
            destination_key_id: destination.map(ToString::to_string).unwrap_or_default(),
            destination_encryption_context: context_to_pb(destination_context),
        };
        self.client()
            .re_encrypt(self.request(msg)?)
            .await?
            .into_inner()
            .try_into()
    }

    async fn get_parameters_for_import(
        &self,
        account: &AccountId,
        key: &KeyRef,
    ) -> Result<ImportParameters, KmsError> {
        let msg = pb::GetParametersForImportRequest {
            account: account.as_str().to_owned(),
            key_id: key.to_string(),
            wrapping_algorithm: pb::WrappingAlgorithm::RsaesOaepSha256.into(),
        };
        self.client()
            .get_parameters_for_import(self.request(msg)?)
            .await?
            .into_inner()
            .try_into()
    }

    async fn import_key_material(
        &self,
        account: &AccountId,
        key: &KeyRef,
        encrypted_key_material: &[u8],
        import_token: &[u8],
        expire_unix: Option<i64>,
    ) -> Result<KeyMetadata, KmsError> {
        let msg = pb::ImportKeyMaterialRequest {
            account: account.as_str().to_owned(),
            key_id: key.to_string(),
            encrypted_key_material: bytes::Bytes::copy_from_slice(encrypted_key_material),
            import_token: bytes::Bytes::copy_from_slice(import_token),
            key_material_expire_unix: expire_unix.unwrap_or(0),
        };
        self.client()
            .import_key_material(self.request(msg)?)
            .await?
            .into_inner()
            .try_into()
    }

    async fn retire_key_version(
        &self,
        account: &AccountId,
        key: &KeyRef,
        version_id: &str,
    ) -> Result<(), KmsError> {
        let r = key_req(account, key);
        let msg = pb::RetireKeyVersionRequest {
            account: r.account,
            key_id: r.key_id,
            key_version_id: version_id.to_owned(),
        };
        self.client().retire_key_version(self.request(msg)?).await?;
        Ok(())
    }

    async fn delete_key_material(&self, account: &AccountId, key: &KeyRef) -> Result<KeyMetadata, KmsError> {
        self.client()
            .delete_key_material(self.request(key_req(account, key))?)
            .await?
            .into_inner()
            .try_into()
    }

    async fn list_audit_records(&self, after: u64, limit: u32) -> Result<Vec<AuditRecord>, KmsError> {
        let msg = pb::ListAuditRecordsRequest {
            after_sequence: after,
            limit,
        };
        let resp = self
            .client()
            .list_audit_records(self.request(msg)?)
            .await?
            .into_inner();
        Ok(resp.records.into_iter().map(Into::into).collect())
    }

    async fn tag_resource(&self, account: &AccountId, key: &KeyRef, tags: &[Tag]) -> Result<(), KmsError> {
        let msg = pb::TagResourceRequest {
            account: account.to_string(),
            key_id: key.to_string(),
            tags: tags.iter().cloned().map(Into::into).collect(),
        };
        self.client().tag_resource(self.request(msg)?).await?;
        Ok(())
    }

    async fn untag_resource(
        &self,
        account: &AccountId,
        key: &KeyRef,
        tag_keys: &[String],
    ) -> Result<(), KmsError> {
        let msg = pb::UntagResourceRequest {
            account: account.to_string(),
            key_id: key.to_string(),
            tag_keys: tag_keys.to_vec(),
        };
        self.client().untag_resource(self.request(msg)?).await?;
        Ok(())
    }

    async fn list_resource_tags(
        &self,
        account: &AccountId,
        key: &KeyRef,
    ) -> Result<(KeyId, Vec<Tag>), KmsError> {
        let resp = self
            .client()
            .list_resource_tags(self.request(key_req(account, key))?)
            .await?
            .into_inner();
        let tags = resp
            .tags
            .into_iter()
            .map(|t| Tag::new(t.key, t.value))
            .collect::<Result<_, _>>()?;
        Ok((KeyId::new(resp.key_id)?, tags))
    }

    async fn verify_audit_log(&self, anchor: Option<AuditAnchor>) -> Result<AuditVerification, KmsError> {
        let msg = pb::VerifyAuditLogRequest {
            anchor: anchor.map(|a| pb::AuditAnchor {
                sequence: a.sequence,
                mac: bytes::Bytes::copy_from_slice(&a.mac),
            }),
        };
        self.client()
            .verify_audit_log(self.request(msg)?)
            .await?
            .into_inner()
            .try_into()
    }

    async fn record_job(&self, event: JobAuditEvent) -> Result<(), KmsError> {
        let msg = pb::RecordJobRequest {
            operation: event.kind.operation().to_owned(),
            phase: event.phase.result().to_owned(),
            account: event.account,
            key_id: event.key_id,
            details: event.details.into_iter().collect(),
        };
        self.client().record_job(self.request(msg)?).await?;
        Ok(())
    }

    async fn snapshot(&self) -> Result<SnapshotStream, KmsError> {
        use futures::StreamExt;
        // No deadline: a snapshot streams as long as the keystore is big.
        let stream = self
            .client()
            .snapshot(tonic::Request::new(pb::Empty {}))
            .await?
            .into_inner();
        Ok(stream.map(|m| m.map(|c| c.data).map_err(KmsError::from)).boxed())
    }
}
