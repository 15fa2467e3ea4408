//! The `KmsApi` trait: every crypto-service operation, with domain types only. Implemented by the
//! keyring in `cang-kms`, by the gRPC client, and by mocks in callers' tests.

use async_trait::async_trait;
use cang_tls::ServiceIdentity;

use crate::{
    AccountId, Alias, AliasName, AuditAnchor, AuditRecord, AuditVerification, CreateKeyRequest, DataKey,
    Decrypted, EncryptionContext, EndUser, ImportParameters, JobAuditEvent, KeyId, KeyListEntry, KeyMetadata,
    KeyRef, KeyVersion, KmsError, Page, Paged, RotationPolicy, SecretBytes, ServiceKeySuite, Tag,
    WrappedDataKey, WrappedKey,
};

/// The crypto service.
#[async_trait]
pub trait KmsApi: Send + Sync + 'static {
    /// `CreateKey`.
    async fn create_key(&self, req: CreateKeyRequest) -> Result<KeyMetadata, KmsError>;
    /// `DescribeKey` (id or alias; `alias/acs/oss` is created on first use).
    async fn describe_key(&self, account: &AccountId, key: &KeyRef) -> Result<KeyMetadata, KmsError>;
    /// `ListKeys`: CMKs of the account, by creation order.
    async fn list_keys(&self, account: &AccountId, page: Page) -> Result<Paged<KeyListEntry>, KmsError>;
    /// `EnableKey`.
    async fn enable_key(&self, account: &AccountId, key: &KeyRef) -> Result<KeyMetadata, KmsError>;
    /// `DisableKey`.
    async fn disable_key(&self, account: &AccountId, key: &KeyRef) -> Result<KeyMetadata, KmsError>;
    /// `ScheduleKeyDeletion` with a 7–366 day window.
    async fn schedule_key_deletion(
        &self,
        account: &AccountId,
        key: &KeyRef,
        pending_window_in_days: u32,
    ) -> Result<KeyMetadata, KmsError>;
    /// `CancelKeyDeletion`: back to `Enabled`.
    async fn cancel_key_deletion(&self, account: &AccountId, key: &KeyRef) -> Result<KeyMetadata, KmsError>;

    /// `CreateAlias`.
    async fn create_alias(
        &self,
        account: &AccountId,
        alias: &AliasName,
        key: &KeyRef,
    ) -> Result<(), KmsError>;
    /// `UpdateAlias`: point an existing alias at another key.
    async fn update_alias(
        &self,
        account: &AccountId,
        alias: &AliasName,
        key: &KeyRef,
    ) -> Result<(), KmsError>;
    /// `DeleteAlias`.
    async fn delete_alias(&self, account: &AccountId, alias: &AliasName) -> Result<(), KmsError>;
    /// `ListAliases`, sorted by name.
    async fn list_aliases(&self, account: &AccountId, page: Page) -> Result<Paged<Alias>, KmsError>;
    /// `ListAliasesByKeyId`, sorted by name.
    async fn list_aliases_by_key_id(
        &self,
        account: &AccountId,
        key: &KeyRef,
        page: Page,
    ) -> Result<Paged<Alias>, KmsError>;

    /// `RotateKey`: a new primary version; old versions keep decrypting.
    async fn rotate_key(&self, account: &AccountId, key: &KeyRef) -> Result<KeyVersion, KmsError>;
    /// Deletes the material of a version that is no longer primary (and has not been for the service's
    /// grace period). Data keys it wrapped can never be decrypted again: retire only what nothing uses.
    async fn retire_key_version(
        &self,
        account: &AccountId,
        key: &KeyRef,
        version_id: &str,
    ) -> Result<(), KmsError>;
    /// `UpdateRotationPolicy`.
    async fn update_rotation_policy(
        &self,
        account: &AccountId,
        key: &KeyRef,
        policy: RotationPolicy,
    ) -> Result<KeyMetadata, KmsError>;
    /// `ListKeyVersions`, oldest first.
    async fn list_key_versions(&self, account: &AccountId, key: &KeyRef)
    -> Result<Vec<KeyVersion>, KmsError>;

    /// `GenerateDataKey`: a fresh data key of `number_of_bytes` (0 = 32), wrapped under the primary version.
    async fn generate_data_key(
        &self,
        account: &AccountId,
        key: &KeyRef,
        number_of_bytes: u32,
        context: &EncryptionContext,
    ) -> Result<DataKey, KmsError>;
    /// `GenerateDataKeyWithoutPlaintext`.
    async fn generate_data_key_without_plaintext(
        &self,
        account: &AccountId,
        key: &KeyRef,
        number_of_bytes: u32,
        context: &EncryptionContext,
    ) -> Result<WrappedKey, KmsError>;
    /// A 32-byte data key under the SSE-OSS service key of `suite` (not a CMK; rotated automatically).
    async fn generate_service_data_key(
        &self,
        suite: ServiceKeySuite,
        context: &EncryptionContext,
    ) -> Result<DataKey, KmsError>;
    /// `Encrypt` up to 6 KiB of plaintext.
    async fn encrypt(
        &self,
        account: &AccountId,
        key: &KeyRef,
        plaintext: &SecretBytes,
        context: &EncryptionContext,
    ) -> Result<WrappedKey, KmsError>;
    /// `Decrypt`: the blob names its key; the context must equal the one used to encrypt.
    async fn decrypt(
        &self,
        account: &AccountId,
        blob: &WrappedDataKey,
        context: &EncryptionContext,
    ) -> Result<Decrypted, KmsError>;
    /// `ReEncrypt`: decrypt and wrap again under the primary version of `destination` (default: the
    /// blob's own key), optionally with a new context.
    async fn re_encrypt(
        &self,
        account: &AccountId,
        blob: &WrappedDataKey,
        source_context: &EncryptionContext,
        destination: Option<&KeyRef>,
        destination_context: &EncryptionContext,
    ) -> Result<WrappedKey, KmsError>;

    /// `GetParametersForImport` (RSA-2048, RSAES-OAEP-SHA256, token valid 24 h).
    async fn get_parameters_for_import(
        &self,
        account: &AccountId,
        key: &KeyRef,
    ) -> Result<ImportParameters, KmsError>;
    /// `ImportKeyMaterial`; `expire_unix` None = never.
    async fn import_key_material(
        &self,
        account: &AccountId,
        key: &KeyRef,
        encrypted_key_material: &[u8],
        import_token: &[u8],
        expire_unix: Option<i64>,
    ) -> Result<KeyMetadata, KmsError>;
    /// `DeleteKeyMaterial`: back to `PendingImport`.
    async fn delete_key_material(&self, account: &AccountId, key: &KeyRef) -> Result<KeyMetadata, KmsError>;

    /// `TagResource`: adds `tags` to the key, replacing the value of a key already tagged; refused
    /// (changing nothing) when the key would hold more than [`crate::MAX_TAGS_PER_KEY`].
    async fn tag_resource(&self, account: &AccountId, key: &KeyRef, tags: &[Tag]) -> Result<(), KmsError>;
    /// `UntagResource`: removes the tags with these keys (absent ones are ignored).
    async fn untag_resource(
        &self,
        account: &AccountId,
        key: &KeyRef,
        tag_keys: &[String],
    ) -> Result<(), KmsError>;
    /// `ListResourceTags`: the key's id and its tags, in tag-key order.
    async fn list_resource_tags(
        &self,
        account: &AccountId,
        key: &KeyRef,
    ) -> Result<(KeyId, Vec<Tag>), KmsError>;

    /// Audit records with a sequence number above `after`, at most `limit` (1–1000).
    async fn list_audit_records(&self, after: u64, limit: u32) -> Result<Vec<AuditRecord>, KmsError>;
    /// Walks the audit log's MAC chain from the first record, checking each record's seal and MAC and,
    /// when given, that the chain passes through `anchor` (administration).
    async fn verify_audit_log(&self, anchor: Option<AuditAnchor>) -> Result<AuditVerification, KmsError>;
    /// Appends a key-maintenance job's start or end to the audit log (the gateway that runs jobs, and the
    /// admin).
    async fn record_job(&self, event: JobAuditEvent) -> Result<(), KmsError>;
    /// A consistent copy of the keystore as of one commit (its records still sealed under the root key),
    /// streamed as the bytes of a redb file that `cang kms` opens as its keystore. Administration.
    async fn snapshot(&self) -> Result<SnapshotStream, KmsError>;
}

/// The bytes of a keystore snapshot, in order.
pub type SnapshotStream = futures::stream::BoxStream<'static, Result<bytes::Bytes, KmsError>>;

/// Gives the gRPC server a [`KmsApi`] acting for the identity of each caller (for authorisation and
/// audit), e.g. a keyring session that refuses admin operations to the gateway.
pub trait KmsForCaller: Send + Sync + 'static {
    /// The API as seen by `caller`.
    type Api: KmsApi;
    /// Binds the service to one caller.
    fn for_caller(&self, caller: ServiceIdentity) -> Self::Api;
    /// Binds the service to one caller acting for `end_user`, the user the audit names beside the
    /// caller. The gRPC server passes `Some` only for the gateway identity (see [`crate::KmsGrpcServer`]).
    fn for_end_user(&self, caller: ServiceIdentity, end_user: Option<EndUser>) -> Self::Api;
    /// Binds the service to one request: [`KmsForCaller::for_end_user`], with the socket address the
    /// request came from, which the audit records when the end user names no address of their own.
    fn for_request(
        &self,
        caller: ServiceIdentity,
        end_user: Option<EndUser>,
        peer: Option<std::net::SocketAddr>,
    ) -> Self::Api {
        let _ = peer;
        self.for_end_user(caller, end_user)
    }
}
