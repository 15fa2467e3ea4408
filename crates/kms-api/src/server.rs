//! gRPC server adapter: decodes requests into domain types (validating), calls the [`KmsApi`] bound to
//! the caller's certificate identity (and, for the gateway, the end user it names in metadata), and
//! encodes results; `KmsError` becomes a `Status` carrying its code.

use std::sync::Arc;

use cang_proto::cang::kms::v1 as pb;
use cang_proto::cang::kms::v1::kms_server::{Kms, KmsServer};
use cang_tls::{IdentityInterceptor, ServiceIdentity, identity_interceptor, peer_identity};
use tonic::service::interceptor::InterceptedService;
use tonic::{Request, Response, Status};

use crate::convert::{context_from_pb, origin_from_pb, spec_from_pb, suite_from_pb};
use crate::{
    AccountId, AliasName, AuditAnchor, CreateKeyRequest, EndUser, JobAuditEvent, JobKind, JobPhase, KeyRef,
    KmsApi, KmsError, KmsForCaller, Page, RotationPolicy, Tag, WrappedDataKey,
};

/// Identities allowed to call the crypto service at all; per-operation rules are the keyring's.
///
/// `meta` is deliberately absent: it holds the ciphertext and the wrapped data keys, so it must not
/// also hold the right to unwrap them (DESIGN §8a, least privilege between services).
pub static KMS_CALLERS: &[ServiceIdentity] = &[ServiceIdentity::Gateway, ServiceIdentity::Admin];

/// Serves any [`KmsForCaller`] over gRPC.
#[derive(Debug)]
pub struct KmsGrpcServer<F> {
    inner: Arc<F>,
}

impl<F: KmsForCaller> KmsGrpcServer<F> {
    /// Wraps the service.
    pub fn new(inner: Arc<F>) -> Self {
        Self { inner }
    }

    /// The tonic service, admitting only [`KMS_CALLERS`] (others fail with `Unauthenticated` or
    /// `PermissionDenied` before reaching any handler).
    pub fn into_service(self) -> InterceptedService<KmsServer<Self>, IdentityInterceptor> {
        InterceptedService::new(KmsServer::new(self), identity_interceptor(KMS_CALLERS))
    }

    /// The API bound to the caller's certificate identity and, for the gateway, to the end user named in
    /// the request metadata. Only the gateway acts for end users: the same entries from any other
    /// identity are ignored (an admin call is audited as the admin's own), while a malformed set from
    /// the gateway refuses the call, so that no key use goes unattributed.
    fn api<T>(&self, request: &Request<T>) -> Result<F::Api, Status> {
        let caller = match request.extensions().get::<ServiceIdentity>() {
            Some(id) => *id,
            None => peer_identity(request).map_err(|e| Status::unauthenticated(e.to_string()))?,
        };
        let end_user = match caller {
            ServiceIdentity::Gateway => EndUser::from_metadata(request.metadata())?,
            ServiceIdentity::Admin | ServiceIdentity::Kms | ServiceIdentity::Meta => None,
        };
        Ok(self.inner.for_request(caller, end_user, request.remote_addr()))
    }
}

fn account(s: String) -> Result<AccountId, KmsError> {
    AccountId::new(s)
}

fn key(s: &str) -> Result<KeyRef, KmsError> {
    KeyRef::parse(s)
}

fn ok<T>(v: T) -> Result<Response<T>, Status> {
    Ok(Response::new(v))
}

#[tonic::async_trait]
impl<F: KmsForCaller> Kms for KmsGrpcServer<F> {
    async fn create_key(
        &self,
        req: Request<pb::CreateKeyRequest>,
    ) -> Result<Response<pb::KeyMetadata>, Status> {
        let api = self.api(&req)?;
        let r = req.into_inner();
        let create = CreateKeyRequest {
            account: account(r.account)?,
            description: r.description,
            spec: spec_from_pb(r.key_spec)?,
            origin: origin_from_pb(r.origin)?,
            rotation: RotationPolicy::new(r.enable_automatic_rotation, r.rotation_interval_seconds)?,
        };
        ok(api.create_key(create).await?.into())
    }

    async fn describe_key(
        &self,
        req: Request<pb::DescribeKeyRequest>,
    ) -> Result<Response<pb::KeyMetadata>, Status> {
        let api = self.api(&req)?;
        let r = req.into_inner();
        ok(api
            .describe_key(&account(r.account)?, &key(&r.key_id)?)
            .await?
            .into())
    }

    async fn list_keys(
        &self,
        req: Request<pb::ListKeysRequest>,
    ) -> Result<Response<pb::ListKeysResponse>, Status> {
        let api = self.api(&req)?;
        let r = req.into_inner();
        ok(api
            .list_keys(&account(r.account)?, Page::new(r.page_number, r.page_size)?)
            .await?
            .into())
    }

    async fn enable_key(&self, req: Request<pb::KeyRequest>) -> Result<Response<pb::KeyMetadata>, Status> {
        let api = self.api(&req)?;
        let r = req.into_inner();
        ok(api
            .enable_key(&account(r.account)?, &key(&r.key_id)?)
            .await?
            .into())
    }

    async fn disable_key(&self, req: Request<pb::KeyRequest>) -> Result<Response<pb::KeyMetadata>, Status> {
        let api = self.api(&req)?;
        let r = req.into_inner();
        ok(api
            .disable_key(&account(r.account)?, &key(&r.key_id)?)
            .await?
            .into())
    }

    async fn schedule_key_deletion(
        &self,
        req: Request<pb::ScheduleKeyDeletionRequest>,
    ) -> Result<Response<pb::KeyMetadata>, Status> {
        let api = self.api(&req)?;
        let r = req.into_inner();
        let (acc, k) = (account(r.account)?, key(&r.key_id)?);
        ok(api
            .schedule_key_deletion(&acc, &k, r.pending_window_in_days)
            .await?
            .into())
    }

    async fn cancel_key_deletion(
        &self,
        req: Request<pb::KeyRequest>,
    ) -> Result<Response<pb::KeyMetadata>, Status> {
        let api = self.api(&req)?;
        let r = req.into_inner();
        ok(api
            .cancel_key_deletion(&account(r.account)?, &key(&r.key_id)?)
            .await?
            .into())
    }

    async fn create_alias(&self, req: Request<pb::AliasRequest>) -> Result<Response<pb::Empty>, Status> {
        let api = self.api(&req)?;
        let r = req.into_inner();
        api.create_alias(
            &account(r.account)?,
            &AliasName::new(r.alias_name)?,
            &key(&r.key_id)?,
        )
        .await?;
        ok(pb::Empty {})
    }

    async fn update_alias(&self, req: Request<pb::AliasRequest>) -> Result<Response<pb::Empty>, Status> {
        let api = self.api(&req)?;
        let r = req.into_inner();
        api.update_alias(
            &account(r.account)?,
            &AliasName::new(r.alias_name)?,
            &key(&r.key_id)?,
        )
        .await?;
        ok(pb::Empty {})
    }

    async fn delete_alias(
        &self,
        req: Request<pb::DeleteAliasRequest>,
    ) -> Result<Response<pb::Empty>, Status> {
        let api = self.api(&req)?;
        let r = req.into_inner();
        api.delete_alias(&account(r.account)?, &AliasName::new(r.alias_name)?)
            .await?;
        ok(pb::Empty {})
    }

    async fn list_aliases(
        &self,
        req: Request<pb::ListAliasesRequest>,
    ) -> Result<Response<pb::ListAliasesResponse>, Status> {
        let api = self.api(&req)?;
        let r = req.into_inner();
        ok(api
            .list_aliases(&account(r.account)?, Page::new(r.page_number, r.page_size)?)
            .await?
            .into())
    }

    async fn list_aliases_by_key_id(
        &self,
        req: Request<pb::ListAliasesByKeyIdRequest>,
    ) -> Result<Response<pb::ListAliasesResponse>, Status> {
        let api = self.api(&req)?;
        let r = req.into_inner();
        let page = Page::new(r.page_number, r.page_size)?;
        ok(api
            .list_aliases_by_key_id(&account(r.account)?, &key(&r.key_id)?, page)
            .await?
            .into())
    }

    async fn rotate_key(&self, req: Request<pb::KeyRequest>) -> Result<Response<pb::KeyVersion>, Status> {
        let api = self.api(&req)?;
        let r = req.into_inner();
        ok(api
            .rotate_key(&account(r.account)?, &key(&r.key_id)?)
            .await?
            .into())
    }

    async fn update_rotation_policy(
        &self,
        req: Request<pb::UpdateRotationPolicyRequest>,
    ) -> Result<Response<pb::KeyMetadata>, Status> {
        let api = self.api(&req)?;
        let r = req.into_inner();
        let policy = RotationPolicy::new(r.enable_automatic_rotation, r.rotation_interval_seconds)?;
        ok(api
            .update_rotation_policy(&account(r.account)?, &key(&r.key_id)?, policy)
            .await?
            .into())
    }

    async fn list_key_versions(
        &self,
        req: Request<pb::KeyRequest>,
    ) -> Result<Response<pb::ListKeyVersionsResponse>, Status> {
        let api = self.api(&req)?;
        let r = req.into_inner();
        let versions = api
            .list_key_versions(&account(r.account)?, &key(&r.key_id)?)
            .await?;
        ok(pb::ListKeyVersionsResponse {
            versions: versions.into_iter().map(Into::into).collect(),
        })
    }

    async fn generate_data_key(
        &self,
        req: Request<pb::GenerateDataKeyRequest>,
    ) -> Result<Response<pb::GenerateDataKeyResponse>, Status> {
        let api = self.api(&req)?;
        let r = req.into_inner();
        let ctx = context_from_pb(r.encryption_context);
        ok(api
            .generate_data_key(&account(r.account)?, &key(&r.key_id)?, r.number_of_bytes, &ctx)
            .await?
            .into())
    }

    async fn generate_data_key_without_plaintext(
        &self,
        req: Request<pb::GenerateDataKeyRequest>,
    ) -> Result<Response<pb::WrappedKeyResponse>, Status> {
        let api = self.api(&req)?;
        let r = req.into_inner();
        let ctx = context_from_pb(r.encryption_context);
        let (acc, k) = (account(r.account)?, key(&r.key_id)?);
        ok(api
            .generate_data_key_without_plaintext(&acc, &k, r.number_of_bytes, &ctx)
            .await?
            .into())
    }

    async fn generate_service_data_key(
        &self,
        req: Request<pb::GenerateServiceDataKeyRequest>,
    ) -> Result<Response<pb::GenerateDataKeyResponse>, Status> {
        let api = self.api(&req)?;
        let r = req.into_inner();
        let ctx = context_from_pb(r.encryption_context);
        ok(api
            .generate_service_data_key(suite_from_pb(r.suite)?, &ctx)
            .await?
            .into())
    }

    async fn encrypt(
        &self,
        req: Request<pb::EncryptRequest>,
    ) -> Result<Response<pb::WrappedKeyResponse>, Status> {
        let api = self.api(&req)?;
        let mut r = req.into_inner();
        let plaintext = std::mem::take(&mut r.plaintext).into();
        let ctx = context_from_pb(std::mem::take(&mut r.encryption_context));
        let (acc, k) = (account(std::mem::take(&mut r.account))?, key(&r.key_id)?);
        ok(api.encrypt(&acc, &k, &plaintext, &ctx).await?.into())
    }

    async fn decrypt(
        &self,
        req: Request<pb::DecryptRequest>,
    ) -> Result<Response<pb::DecryptResponse>, Status> {
        let api = self.api(&req)?;
        let r = req.into_inner();
        let ctx = context_from_pb(r.encryption_context);
        ok(api
            .decrypt(&account(r.account)?, &WrappedDataKey(r.ciphertext_blob), &ctx)
            .await?
            .into())
    }

    async fn re_encrypt(
        &self,
        req: Request<pb::ReEncryptRequest>,
    ) -> Result<Response<pb::WrappedKeyResponse>, Status> {
        let api = self.api(&req)?;
        let r = req.into_inner();
        let src = context_from_pb(r.source_encryption_context);
        let dst = context_from_pb(r.destination_encryption_context);
        let dest = if r.destination_key_id.is_empty() {
            None
        } else {
            Some(key(&r.destination_key_id)?)
        };
        let blob = WrappedDataKey(r.ciphertext_blob);
        ok(api
            .re_encrypt(&account(r.account)?, &blob, &src, dest.as_ref(), &dst)
            .await?
            .into())
    }

    async fn get_parameters_for_import(
        &self,
        req: Request<pb::GetParametersForImportRequest>,
    ) -> Result<Response<pb::ImportParameters>, Status> {
        let api = self.api(&req)?;
        let r = req.into_inner();
        match pb::WrappingAlgorithm::try_from(r.wrapping_algorithm) {
            Ok(pb::WrappingAlgorithm::Unspecified | pb::WrappingAlgorithm::RsaesOaepSha256) => {}
            Err(_) => {
                return Err(
                    KmsError::InvalidArgument("WrappingAlgorithm must be RSAES_OAEP_SHA_256".into()).into(),
                );
            }
        }
        ok(api
            .get_parameters_for_import(&account(r.account)?, &key(&r.key_id)?)
            .await?
            .into())
    }

    async fn import_key_material(
        &self,
        req: Request<pb::ImportKeyMaterialRequest>,
    ) -> Result<Response<pb::KeyMetadata>, Status> {
        let api = self.api(&req)?;
        let r = req.into_inner();
        let expire = (r.key_material_expire_unix != 0).then_some(r.key_material_expire_unix);
        let (acc, k) = (account(r.account)?, key(&r.key_id)?);
        ok(api
            .import_key_material(&acc, &k, &r.encrypted_key_material, &r.import_token, expire)
            .await?
            .into())
    }

    async fn retire_key_version(
        &self,
        req: Request<pb::RetireKeyVersionRequest>,
    ) -> Result<Response<pb::Empty>, Status> {
        let api = self.api(&req)?;
        let r = req.into_inner();
        api.retire_key_version(&account(r.account)?, &key(&r.key_id)?, &r.key_version_id)
            .await?;
        ok(pb::Empty {})
    }

    async fn delete_key_material(
        &self,
        req: Request<pb::KeyRequest>,
    ) -> Result<Response<pb::KeyMetadata>, Status> {
        let api = self.api(&req)?;
        let r = req.into_inner();
        ok(api
            .delete_key_material(&account(r.account)?, &key(&r.key_id)?)
            .await?
            .into())
    }

    async fn list_audit_records(
        &self,
        req: Request<pb::ListAuditRecordsRequest>,
    ) -> Result<Response<pb::ListAuditRecordsResponse>, Status> {
        let api = self.api(&req)?;
        let r = req.into_inner();
        let records = api.list_audit_records(r.after_sequence, r.limit).await?;
        ok(pb::ListAuditRecordsResponse {
            records: records.into_iter().map(Into::into).collect(),
        })
    }

    async fn tag_resource(
        &self,
        req: Request<pb::TagResourceRequest>,
    ) -> Result<Response<pb::Empty>, Status> {
        let api = self.api(&req)?;
        let r = req.into_inner();
        let tags = r
            .tags
            .into_iter()
            .map(|t| Tag::new(t.key, t.value))
            .collect::<Result<Vec<_>, _>>()?;
        api.tag_resource(&account(r.account)?, &key(&r.key_id)?, &tags)
            .await?;
        ok(pb::Empty {})
    }

    async fn untag_resource(
        &self,
        req: Request<pb::UntagResourceRequest>,
    ) -> Result<Response<pb::Empty>, Status> {
        let api = self.api(&req)?;
        let r = req.into_inner();
        api.untag_resource(&account(r.account)?, &key(&r.key_id)?, &r.tag_keys)
            .await?;
        ok(pb::Empty {})
    }

    async fn list_resource_tags(
        &self,
        req: Request<pb::KeyRequest>,
    ) -> Result<Response<pb::ListResourceTagsResponse>, Status> {
        let api = self.api(&req)?;
        let r = req.into_inner();
        let (key_id, tags) = api
            .list_resource_tags(&account(r.account)?, &key(&r.key_id)?)
            .await?;
        ok(pb::ListResourceTagsResponse {
            key_id: key_id.to_string(),
            tags: tags.into_iter().map(Into::into).collect(),
        })
    }

    async fn verify_audit_log(
        &self,
        req: Request<pb::VerifyAuditLogRequest>,
    ) -> Result<Response<pb::VerifyAuditLogResponse>, Status> {
        let api = self.api(&req)?;
        let anchor = match req.into_inner().anchor {
            Some(a) => Some(AuditAnchor {
                sequence: a.sequence,
                mac: <[u8; 32]>::try_from(a.mac.as_ref())
                    .map_err(|_| Status::invalid_argument("an anchor's MAC is 32 bytes"))?,
            }),
            None => None,
        };
        ok(api.verify_audit_log(anchor).await?.into())
    }

    async fn record_job(&self, req: Request<pb::RecordJobRequest>) -> Result<Response<pb::Empty>, Status> {
        let api = self.api(&req)?;
        let r = req.into_inner();
        let event = JobAuditEvent {
            kind: JobKind::from_operation(&r.operation)
                .ok_or_else(|| Status::invalid_argument("unknown job operation"))?,
            phase: JobPhase::from_result(&r.phase)
                .ok_or_else(|| Status::invalid_argument("unknown job phase"))?,
            account: r.account,
            key_id: r.key_id,
            details: r.details.into_iter().collect(),
        };
        event.validate()?;
        api.record_job(event).await?;
        ok(pb::Empty {})
    }

    type SnapshotStream =
        std::pin::Pin<Box<dyn futures::Stream<Item = Result<pb::SnapshotChunk, Status>> + Send>>;

    async fn snapshot(&self, req: Request<pb::Empty>) -> Result<Response<Self::SnapshotStream>, Status> {
        use futures::StreamExt;
        let api = self.api(&req)?;
        let stream = api.snapshot().await?;
        ok(Box::pin(stream.map(|r| {
            r.map(|data| pb::SnapshotChunk { data }).map_err(Status::from)
        })))
    }
}
