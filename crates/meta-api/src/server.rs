//! gRPC server adapter: decodes requests into domain types (validating), calls the [`MetaApi`] bound to
//! the caller's certificate identity ([`MetaForCaller`]), and encodes results; a `MetaError` becomes a
//! `Status` carrying its code. Only the gateway and admin certificates are admitted at all; what each
//! may do is the bound API's rule.

use std::pin::Pin;
use std::sync::Arc;

use cang_proto::cang::meta::v1 as pb;
use cang_proto::cang::meta::v1::meta_server::{Meta, MetaServer};
use cang_tls::{IdentityInterceptor, ServiceIdentity, identity_interceptor, peer_identity};
use futures::{Stream, StreamExt};
use tonic::service::interceptor::InterceptedService;
use tonic::{Request, Response, Status, Streaming};

use crate::api::{WriteBody, WriteItem};
use crate::client::MAX_MESSAGE_SIZE;
use crate::convert::{acl_from_pb, meta_from};
use crate::convert_identity::status_from_pb;
use crate::{
    CompletedPart, CopyObjectRequest, IdentityStore, ListBucketsQuery, ListObjectsQuery, ListUploadsQuery,
    MetaError, MetaForCaller, NewAccessKey, NewBucket, ObjectStore, RewrapOutcome, SealedSecret,
};

/// The identities allowed to call the metadata service at all; per-operation rules are the
/// [`MetaForCaller`]'s.
pub static META_CALLERS: &[ServiceIdentity] = &[
    ServiceIdentity::Gateway,
    ServiceIdentity::Admin,
    ServiceIdentity::Kms,
];

/// Serves any [`MetaForCaller`] over gRPC.
#[derive(Debug)]
pub struct MetaGrpcServer<F> {
    inner: Arc<F>,
}

impl<F: MetaForCaller> MetaGrpcServer<F> {
    /// Wraps the service.
    pub fn new(inner: Arc<F>) -> Self {
        Self { inner }
    }

    /// The tonic service, admitting only [`META_CALLERS`].
    pub fn into_service(self) -> InterceptedService<MetaServer<Self>, IdentityInterceptor> {
        let server = MetaServer::new(self)
            .max_decoding_message_size(MAX_MESSAGE_SIZE)
            .max_encoding_message_size(MAX_MESSAGE_SIZE);
        InterceptedService::new(server, identity_interceptor(META_CALLERS))
    }

    /// The API bound to the request's caller (named by the interceptor, or read from the connection
    /// when the service runs without it).
    fn api<T>(&self, request: &Request<T>) -> Result<F::Api, Status> {
        let caller = match request.extensions().get::<ServiceIdentity>() {
            Some(id) => *id,
            None => peer_identity(request).map_err(|e| Status::unauthenticated(e.to_string()))?,
        };
        Ok(self.inner.for_caller(caller))
    }
}

type Reply<T> = Result<Response<T>, Status>;

fn ok<T>(v: T) -> Reply<T> {
    Ok(Response::new(v))
}

/// A received write message: the header or a body item.
enum Inbound<H> {
    Header(H),
    Item(WriteItem),
}

/// Splits a client stream into its header and body, enforcing the order header → chunks → trailer.
async fn split_write<M, H>(
    mut stream: Streaming<M>,
    classify: fn(M) -> Result<Inbound<H>, MetaError>,
) -> Result<(H, WriteBody), Status>
where
    M: Send + 'static,
    H: Send + 'static,
{
    let first = stream
        .message()
        .await?
        .ok_or_else(|| MetaError::InvalidArgument("empty write stream".into()))?;
    let Inbound::Header(header) = classify(first)? else {
        return Err(MetaError::InvalidArgument("a write stream must start with its header".into()).into());
    };
    let body = stream.map(move |m| match classify(m?)? {
        Inbound::Header(_) => Err(MetaError::InvalidArgument("a write stream has one header".into())),
        Inbound::Item(item) => Ok(item),
    });
    Ok((header, body.boxed()))
}

fn missing(what: &str) -> MetaError {
    MetaError::InvalidArgument(format!("message without {what}"))
}

fn classify_put(m: pb::PutObjectMessage) -> Result<Inbound<pb::PutObjectHeader>, MetaError> {
    use pb::put_object_message::Message;
    Ok(match m.message.ok_or_else(|| missing("content"))? {
        Message::Header(h) => Inbound::Header(h),
        Message::Chunk(b) => Inbound::Item(WriteItem::Chunk(b)),
        Message::Trailer(t) => Inbound::Item(WriteItem::Trailer(t.into())),
    })
}

fn classify_append(m: pb::AppendObjectMessage) -> Result<Inbound<pb::AppendObjectHeader>, MetaError> {
    use pb::append_object_message::Message;
    Ok(match m.message.ok_or_else(|| missing("content"))? {
        Message::Header(h) => Inbound::Header(h),
        Message::Chunk(b) => Inbound::Item(WriteItem::Chunk(b)),
        Message::Trailer(t) => Inbound::Item(WriteItem::Trailer(t.into())),
    })
}

fn classify_part(m: pb::UploadPartMessage) -> Result<Inbound<pb::UploadPartHeader>, MetaError> {
    use pb::upload_part_message::Message;
    Ok(match m.message.ok_or_else(|| missing("content"))? {
        Message::Header(h) => Inbound::Header(h),
        Message::Chunk(b) => Inbound::Item(WriteItem::Chunk(b)),
        Message::Trailer(t) => Inbound::Item(WriteItem::Trailer(t.into())),
    })
}

fn policies(list: Vec<crate::Policy>) -> pb::ListPoliciesResponse {
    pb::ListPoliciesResponse {
        policies: list.into_iter().map(Into::into).collect(),
    }
}

#[tonic::async_trait]
impl<F: MetaForCaller> Meta for MetaGrpcServer<F> {
    type ReadObjectStream = Pin<Box<dyn Stream<Item = Result<pb::ReadObjectMessage, Status>> + Send>>;

    async fn create_bucket(&self, req: Request<pb::CreateBucketRequest>) -> Reply<pb::Bucket> {
        let api = self.api(&req)?;
        let r = req.into_inner();
        let new = NewBucket {
            name: r.name,
            owner: r.owner,
            location: r.location,
            acl: acl_from_pb(r.acl)?,
            encryption: r.encryption.map(TryInto::try_into).transpose()?,
        };
        ok(api.create_bucket(new).await?.into())
    }

    async fn get_bucket(&self, req: Request<pb::BucketRef>) -> Reply<pb::Bucket> {
        let api = self.api(&req)?;
        ok(api.get_bucket(&req.into_inner().bucket).await?.into())
    }

    async fn list_buckets(&self, req: Request<pb::ListBucketsRequest>) -> Reply<pb::ListBucketsResponse> {
        let api = self.api(&req)?;
        let r = req.into_inner();
        let q = ListBucketsQuery {
            owner: r.owner,
            prefix: r.prefix,
            marker: r.marker,
            max_keys: r.max_keys,
        };
        let page = api.list_buckets(q).await?;
        ok(pb::ListBucketsResponse {
            buckets: page.buckets.into_iter().map(Into::into).collect(),
            is_truncated: page.is_truncated,
            next_marker: page.next_marker,
        })
    }

    async fn delete_bucket(&self, req: Request<pb::BucketRef>) -> Reply<pb::Empty> {
        let api = self.api(&req)?;
        api.delete_bucket(&req.into_inner().bucket).await?;
        ok(pb::Empty {})
    }

    async fn set_bucket_encryption(&self, req: Request<pb::SetBucketEncryptionRequest>) -> Reply<pb::Bucket> {
        let api = self.api(&req)?;
        let r = req.into_inner();
        let rule = r.rule.map(TryInto::try_into).transpose()?;
        ok(api.set_bucket_encryption(&r.bucket, rule).await?.into())
    }

    async fn set_bucket_acl(&self, req: Request<pb::SetBucketAclRequest>) -> Reply<pb::Empty> {
        let api = self.api(&req)?;
        let r = req.into_inner();
        api.set_bucket_acl(&r.bucket, acl_from_pb(r.acl)?).await?;
        ok(pb::Empty {})
    }

    async fn get_bucket_stats(&self, req: Request<pb::BucketRef>) -> Reply<pb::BucketStats> {
        let api = self.api(&req)?;
        ok(api.bucket_stats(&req.into_inner().bucket).await?.into())
    }

    async fn put_object(&self, req: Request<Streaming<pb::PutObjectMessage>>) -> Reply<pb::ObjectInfo> {
        let api = self.api(&req)?;
        let (header, body) = split_write(req.into_inner(), classify_put).await?;
        ok(api.put_object(header.try_into()?, body).await?.into())
    }

    async fn put_small_object(&self, req: Request<pb::PutSmallObjectRequest>) -> Reply<pb::ObjectInfo> {
        let api = self.api(&req)?;
        let r = req.into_inner();
        let header = r.header.ok_or_else(|| missing("header"))?.try_into()?;
        let trailer = r.trailer.ok_or_else(|| missing("trailer"))?.into();
        ok(api.put_small_object(header, r.ciphertext, trailer).await?.into())
    }

    async fn append_object(&self, req: Request<Streaming<pb::AppendObjectMessage>>) -> Reply<pb::ObjectInfo> {
        let api = self.api(&req)?;
        let (header, body) = split_write(req.into_inner(), classify_append).await?;
        ok(api.append_object(header.try_into()?, body).await?.into())
    }

    async fn head_object(&self, req: Request<pb::ObjectRef>) -> Reply<pb::ObjectInfo> {
        let api = self.api(&req)?;
        let r = req.into_inner();
        ok(api.head_object(&r.bucket, &r.key).await?.into())
    }

    async fn get_small_object(&self, req: Request<pb::SmallObjectRequest>) -> Reply<pb::SmallObject> {
        let api = self.api(&req)?;
        let r = req.into_inner();
        let conditions = r.conditions.map(Into::into).unwrap_or_default();
        let (info, ciphertext) = api
            .get_small_object(
                &r.bucket,
                &r.key,
                r.range.map(Into::into),
                conditions,
                r.max_bytes,
            )
            .await?;
        ok(pb::SmallObject {
            info: Some(info.into()),
            ciphertext,
        })
    }

    async fn lookup_object(&self, req: Request<pb::LookupObjectRequest>) -> Reply<pb::ObjectLookup> {
        let api = self.api(&req)?;
        let r = req.into_inner();
        let found = api
            .lookup_object(&r.bucket, &r.key, r.window.map(Into::into), r.max_bytes)
            .await?;
        ok(pb::ObjectLookup {
            bucket: Some(found.bucket.into()),
            object: found.object.map(Into::into),
            ciphertext: found.ciphertext,
        })
    }

    async fn read_object(&self, req: Request<pb::ReadObjectRequest>) -> Reply<Self::ReadObjectStream> {
        let api = self.api(&req)?;
        use pb::read_object_message::Message;
        let r = req.into_inner();
        let conditions = r.conditions.map(Into::into).unwrap_or_default();
        let (info, chunks) = api
            .read_object(&r.bucket, &r.key, r.range.map(Into::into), conditions)
            .await?;
        let first = pb::ReadObjectMessage {
            message: Some(Message::Info(info.into())),
        };
        let rest = chunks.map(|c| match c {
            Ok(b) => Ok(pb::ReadObjectMessage {
                message: Some(Message::Chunk(b)),
            }),
            Err(e) => Err(Status::from(e)),
        });
        ok(Box::pin(
            futures::stream::once(futures::future::ready(Ok(first))).chain(rest),
        ))
    }

    async fn delete_objects(
        &self,
        req: Request<pb::DeleteObjectsRequest>,
    ) -> Reply<pb::DeleteObjectsResponse> {
        let api = self.api(&req)?;
        let r = req.into_inner();
        let results = api.delete_objects(&r.bucket, r.keys).await?;
        ok(pb::DeleteObjectsResponse {
            results: results
                .into_iter()
                .map(|(key, outcome)| match outcome {
                    Ok(existed) => pb::DeleteResult {
                        key,
                        existed,
                        error_code: None,
                        error_detail: String::new(),
                    },
                    Err(e) => pb::DeleteResult {
                        key,
                        existed: false,
                        error_code: Some(e.code().to_owned()),
                        error_detail: e.detail(),
                    },
                })
                .collect(),
        })
    }

    async fn copy_object(&self, req: Request<pb::CopyObjectRequest>) -> Reply<pb::ObjectInfo> {
        let api = self.api(&req)?;
        let r = req.into_inner();
        let copy = CopyObjectRequest {
            src_bucket: r.src_bucket,
            src_key: r.src_key,
            dst_bucket: r.dst_bucket,
            dst_key: r.dst_key,
            source_conditions: r.source_conditions.map(Into::into).unwrap_or_default(),
            replace_meta: r.replace_meta.map(TryInto::try_into).transpose()?,
            forbid_overwrite: r.forbid_overwrite,
        };
        ok(api.copy_object(copy).await?.into())
    }

    async fn list_objects(&self, req: Request<pb::ListObjectsRequest>) -> Reply<pb::ListObjectsResponse> {
        let api = self.api(&req)?;
        let r = req.into_inner();
        let q = ListObjectsQuery {
            prefix: r.prefix,
            delimiter: r.delimiter,
            start_after: r.start_after,
            max_keys: r.max_keys,
        };
        let page = api.list_objects(&r.bucket, q).await?;
        ok(pb::ListObjectsResponse {
            objects: page.objects.into_iter().map(Into::into).collect(),
            common_prefixes: page.common_prefixes,
            is_truncated: page.is_truncated,
            next_marker: page.next_marker,
        })
    }

    async fn initiate_upload(&self, req: Request<pb::InitiateUploadRequest>) -> Reply<pb::MultipartUpload> {
        let api = self.api(&req)?;
        let r = req.into_inner();
        ok(api
            .initiate_upload(&r.bucket, &r.key, meta_from(r.meta)?)
            .await?
            .into())
    }

    async fn upload_part(&self, req: Request<Streaming<pb::UploadPartMessage>>) -> Reply<pb::PartInfo> {
        let api = self.api(&req)?;
        let (header, body) = split_write(req.into_inner(), classify_part).await?;
        ok(api.upload_part(header.into(), body).await?.into())
    }

    async fn get_upload(&self, req: Request<pb::UploadRef>) -> Reply<pb::MultipartUpload> {
        let api = self.api(&req)?;
        let r = req.into_inner();
        ok(api.get_upload(&r.bucket, &r.key, &r.upload_id).await?.into())
    }

    async fn list_parts(&self, req: Request<pb::ListPartsRequest>) -> Reply<pb::ListPartsResponse> {
        let api = self.api(&req)?;
        let r = req.into_inner();
        let page = api
            .list_parts(&r.bucket, &r.key, &r.upload_id, r.part_number_marker, r.max_parts)
            .await?;
        ok(pb::ListPartsResponse {
            parts: page.parts.into_iter().map(Into::into).collect(),
            is_truncated: page.is_truncated,
            next_part_number_marker: page.next_part_number_marker,
        })
    }

    async fn list_uploads(&self, req: Request<pb::ListUploadsRequest>) -> Reply<pb::ListUploadsResponse> {
        let api = self.api(&req)?;
        let r = req.into_inner();
        let q = ListUploadsQuery {
            prefix: r.prefix,
            key_marker: r.key_marker,
            upload_id_marker: r.upload_id_marker,
            max_uploads: r.max_uploads,
        };
        let page = api.list_uploads(&r.bucket, q).await?;
        let (next_key_marker, next_upload_id_marker) = page.next_markers.unzip();
        ok(pb::ListUploadsResponse {
            uploads: page.uploads.into_iter().map(Into::into).collect(),
            is_truncated: page.is_truncated,
            next_key_marker,
            next_upload_id_marker,
        })
    }

    async fn complete_upload(&self, req: Request<pb::CompleteUploadRequest>) -> Reply<pb::ObjectInfo> {
        let api = self.api(&req)?;
        let r = req.into_inner();
        let parts = r
            .parts
            .into_iter()
            .map(|p| CompletedPart {
                part_number: p.part_number,
                etag: p.etag,
            })
            .collect();
        ok(api
            .complete_upload(&r.bucket, &r.key, &r.upload_id, parts, r.forbid_overwrite)
            .await?
            .into())
    }

    async fn abort_upload(&self, req: Request<pb::UploadRef>) -> Reply<pb::Empty> {
        let api = self.api(&req)?;
        let r = req.into_inner();
        api.abort_upload(&r.bucket, &r.key, &r.upload_id).await?;
        ok(pb::Empty {})
    }

    async fn key_inventory(&self, req: Request<pb::KeyInventoryRequest>) -> Reply<pb::KeyInventoryResponse> {
        let api = self.api(&req)?;
        let entries = api.key_inventory(req.into_inner().into()).await?;
        ok(pb::KeyInventoryResponse {
            entries: entries.into_iter().map(Into::into).collect(),
        })
    }

    async fn rewrap_object(&self, req: Request<pb::RewrapObjectRequest>) -> Reply<pb::RewrapObjectResponse> {
        let api = self.api(&req)?;
        let outcome = api.rewrap_object(req.into_inner().try_into()?).await?;
        ok(pb::RewrapObjectResponse {
            rewrapped: outcome == RewrapOutcome::Rewrapped,
        })
    }

    type SnapshotStream = Pin<Box<dyn Stream<Item = Result<pb::SnapshotChunk, Status>> + Send>>;

    async fn snapshot(&self, req: Request<pb::SnapshotRequest>) -> Reply<Self::SnapshotStream> {
        let api = self.api(&req)?;
        let stream = api.snapshot().await?;
        ok(Box::pin(stream.map(|r| {
            r.map(|data| pb::SnapshotChunk { data }).map_err(Status::from)
        })))
    }

    async fn create_account(&self, req: Request<pb::CreateAccountRequest>) -> Reply<pb::Account> {
        let api = self.api(&req)?;
        let r = req.into_inner();
        ok(api.create_account(&r.account_id, &r.name).await?.into())
    }

    async fn get_account(&self, req: Request<pb::AccountRef>) -> Reply<pb::Account> {
        let api = self.api(&req)?;
        ok(api.get_account(&req.into_inner().account_id).await?.into())
    }

    async fn list_accounts(&self, req: Request<pb::Empty>) -> Reply<pb::ListAccountsResponse> {
        let api = self.api(&req)?;
        let accounts = api.list_accounts().await?;
        ok(pb::ListAccountsResponse {
            accounts: accounts.into_iter().map(Into::into).collect(),
        })
    }

    async fn create_user(&self, req: Request<pb::UserRef>) -> Reply<pb::User> {
        let api = self.api(&req)?;
        let r = req.into_inner();
        ok(api.create_user(&r.account_id, &r.user).await?.into())
    }

    async fn list_users(&self, req: Request<pb::AccountRef>) -> Reply<pb::ListUsersResponse> {
        let api = self.api(&req)?;
        let users = api.list_users(&req.into_inner().account_id).await?;
        ok(pb::ListUsersResponse {
            users: users.into_iter().map(Into::into).collect(),
        })
    }

    async fn delete_user(&self, req: Request<pb::UserRef>) -> Reply<pb::Empty> {
        let api = self.api(&req)?;
        let r = req.into_inner();
        api.delete_user(&r.account_id, &r.user).await?;
        ok(pb::Empty {})
    }

    async fn create_access_key(&self, req: Request<pb::CreateAccessKeyRequest>) -> Reply<pb::AccessKey> {
        let api = self.api(&req)?;
        let r = req.into_inner();
        let new = NewAccessKey {
            id: r.access_key_id,
            account_id: r.account_id,
            user: r.user,
            sealed_secret: SealedSecret::new(r.sealed_secret),
        };
        ok(api.create_access_key(new).await?.into())
    }

    async fn get_access_key(&self, req: Request<pb::AccessKeyRef>) -> Reply<pb::AccessKey> {
        let api = self.api(&req)?;
        ok(api.get_access_key(&req.into_inner().access_key_id).await?.into())
    }

    async fn list_access_keys(
        &self,
        req: Request<pb::ListAccessKeysRequest>,
    ) -> Reply<pb::ListAccessKeysResponse> {
        let api = self.api(&req)?;
        let r = req.into_inner();
        let keys = api.list_access_keys(&r.account_id, r.user.as_deref()).await?;
        ok(pb::ListAccessKeysResponse {
            access_keys: keys.into_iter().map(Into::into).collect(),
        })
    }

    async fn set_access_key_status(
        &self,
        req: Request<pb::SetAccessKeyStatusRequest>,
    ) -> Reply<pb::AccessKey> {
        let api = self.api(&req)?;
        let r = req.into_inner();
        ok(api
            .set_access_key_status(&r.access_key_id, status_from_pb(r.status)?)
            .await?
            .into())
    }

    async fn revoke_console_session(&self, req: Request<pb::ConsoleSession>) -> Reply<pb::Empty> {
        let api = self.api(&req)?;
        let r = req.into_inner();
        api.revoke_console_session(session_id(&r.id)?, r.until_ms).await?;
        ok(pb::Empty {})
    }

    async fn console_session_revoked(
        &self,
        req: Request<pb::ConsoleSessionRef>,
    ) -> Reply<pb::ConsoleSessionState> {
        let api = self.api(&req)?;
        let revoked = api
            .console_session_revoked(session_id(&req.into_inner().id)?)
            .await?;
        ok(pb::ConsoleSessionState { revoked })
    }

    async fn delete_access_key(&self, req: Request<pb::AccessKeyRef>) -> Reply<pb::Empty> {
        let api = self.api(&req)?;
        api.delete_access_key(&req.into_inner().access_key_id).await?;
        ok(pb::Empty {})
    }

    async fn put_policy(&self, req: Request<pb::PutPolicyRequest>) -> Reply<pb::Policy> {
        let api = self.api(&req)?;
        let r = req.into_inner();
        ok(api.put_policy(&r.account_id, &r.name, &r.document).await?.into())
    }

    async fn get_policy(&self, req: Request<pb::PolicyRef>) -> Reply<pb::Policy> {
        let api = self.api(&req)?;
        let r = req.into_inner();
        ok(api.get_policy(&r.account_id, &r.name).await?.into())
    }

    async fn list_policies(&self, req: Request<pb::AccountRef>) -> Reply<pb::ListPoliciesResponse> {
        let api = self.api(&req)?;
        ok(policies(api.list_policies(&req.into_inner().account_id).await?))
    }

    async fn delete_policy(&self, req: Request<pb::PolicyRef>) -> Reply<pb::Empty> {
        let api = self.api(&req)?;
        let r = req.into_inner();
        api.delete_policy(&r.account_id, &r.name).await?;
        ok(pb::Empty {})
    }

    async fn attach_policy(&self, req: Request<pb::AttachmentRef>) -> Reply<pb::Empty> {
        let api = self.api(&req)?;
        let r = req.into_inner();
        api.attach_policy(&r.account_id, &r.user, &r.policy).await?;
        ok(pb::Empty {})
    }

    async fn detach_policy(&self, req: Request<pb::AttachmentRef>) -> Reply<pb::Empty> {
        let api = self.api(&req)?;
        let r = req.into_inner();
        api.detach_policy(&r.account_id, &r.user, &r.policy).await?;
        ok(pb::Empty {})
    }

    async fn list_user_policies(&self, req: Request<pb::UserRef>) -> Reply<pb::ListPoliciesResponse> {
        let api = self.api(&req)?;
        let r = req.into_inner();
        ok(policies(api.user_policies(&r.account_id, &r.user).await?))
    }
}

/// A console session id: exactly 16 bytes.
fn session_id(bytes: &[u8]) -> Result<[u8; 16], Status> {
    bytes
        .try_into()
        .map_err(|_| Status::invalid_argument("a console session id is 16 bytes"))
}
