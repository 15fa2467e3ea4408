//! gRPC client adapter: implements [`ObjectStore`] over a tonic channel (the [`crate::IdentityStore`] half is
//! in `client_identity`). Server errors come back as the
//! same `MetaError` variant; transport failures are `Unavailable`.

use async_trait::async_trait;
use cang_proto::cang::meta::v1 as pb;
use cang_proto::cang::meta::v1::meta_client::MetaClient;
use cang_telemetry::GrpcClientLayer;
use cang_telemetry::propagation::GrpcClientService;
use futures::StreamExt;
use tonic::transport::{Channel, ClientTlsConfig};
use tower::Layer;

use crate::api::{ByteStream, DeleteOutcome, WriteBody, WriteItem};
use crate::convert::acl_to_pb;
use crate::outbound::{outbound, within_deadline_after_end, write_error};
use crate::{
    Acl, AppendObjectHeader, Bucket, BucketEncryptionRule, BucketStats, CiphertextRange, CompletedPart,
    CopyObjectRequest, InventoryEntry, InventoryQuery, ListBucketsPage, ListBucketsQuery, ListObjectsPage,
    ListObjectsQuery, ListPartsPage, ListUploadsPage, ListUploadsQuery, MetaError, MultipartUpload,
    NewBucket, ObjectInfo, ObjectMeta, ObjectStore, PartInfo, Preconditions, PutObjectHeader, RewrapObject,
    RewrapOutcome, UploadPartHeader,
};

/// Largest message either side accepts: a 1 MiB chunk plus headroom, or a big listing page.
pub const MAX_MESSAGE_SIZE: usize = 16 << 20;

/// The channel every call goes through: each call gets a client span whose context travels to the
/// server as `traceparent`.
type TracedChannel = GrpcClientService<Channel>;

/// A [`MetaApi`] speaking gRPC to `cang meta`.
#[derive(Debug, Clone)]
pub struct MetaGrpcClient {
    inner: MetaClient<TracedChannel>,
    deadline: std::time::Duration,
}

/// How long a unary call may take unless [`MetaGrpcClient::with_deadline`] says otherwise.
pub const DEFAULT_META_DEADLINE: std::time::Duration = std::time::Duration::from_secs(30);

impl MetaGrpcClient {
    /// Uses an existing channel.
    pub fn new(channel: Channel) -> Self {
        let inner = MetaClient::new(GrpcClientLayer.layer(channel))
            .max_decoding_message_size(MAX_MESSAGE_SIZE)
            .max_encoding_message_size(MAX_MESSAGE_SIZE);
        Self {
            inner,
            deadline: DEFAULT_META_DEADLINE,
        }
    }

    /// Every unary call, and the start of every streamed read, fails with `Unavailable` after `deadline`
    /// (sent as `grpc-timeout` on unary calls, so the server gives up too). Streamed writes are bounded by
    /// the gateway's own timeouts instead: their length is the client's.
    #[must_use]
    pub fn with_deadline(mut self, deadline: std::time::Duration) -> Self {
        self.deadline = deadline;
        self
    }

    pub(crate) fn unary<T>(&self, msg: T) -> tonic::Request<T> {
        let mut request = tonic::Request::new(msg);
        request.set_timeout(self.deadline);
        request
    }

    /// A client for `address` (`host:port`) over mTLS; connects on first use and reconnects as needed.
    pub fn connect_lazy(address: &str, tls: ClientTlsConfig) -> Result<Self, cang_tls::TlsError> {
        Ok(Self::new(cang_tls::endpoint(address, tls)?.connect_lazy()))
    }

    pub(crate) fn client(&self) -> MetaClient<TracedChannel> {
        self.inner.clone()
    }
}

fn put_item(item: WriteItem) -> pb::PutObjectMessage {
    use pb::put_object_message::Message;
    let message = match item {
        WriteItem::Chunk(b) => Message::Chunk(b),
        WriteItem::Trailer(t) => Message::Trailer(t.into()),
    };
    pb::PutObjectMessage {
        message: Some(message),
    }
}

fn append_item(item: WriteItem) -> pb::AppendObjectMessage {
    use pb::append_object_message::Message;
    let message = match item {
        WriteItem::Chunk(b) => Message::Chunk(b),
        WriteItem::Trailer(t) => Message::Trailer(t.into()),
    };
    pb::AppendObjectMessage {
        message: Some(message),
    }
}

fn part_item(item: WriteItem) -> pb::UploadPartMessage {
    use pb::upload_part_message::Message;
    let message = match item {
        WriteItem::Chunk(b) => Message::Chunk(b),
        WriteItem::Trailer(t) => Message::Trailer(t.into()),
    };
    pb::UploadPartMessage {
        message: Some(message),
    }
}

fn object_ref(bucket: &str, key: &str) -> pb::ObjectRef {
    pb::ObjectRef {
        bucket: bucket.to_owned(),
        key: key.to_owned(),
    }
}

fn upload_ref(bucket: &str, key: &str, upload_id: &str) -> pb::UploadRef {
    pb::UploadRef {
        bucket: bucket.to_owned(),
        key: key.to_owned(),
        upload_id: upload_id.to_owned(),
    }
}

fn bucket_ref(bucket: &str) -> pb::BucketRef {
    pb::BucketRef {
        bucket: bucket.to_owned(),
    }
}

#[async_trait]
impl ObjectStore for MetaGrpcClient {
    async fn create_bucket(&self, new: NewBucket) -> Result<Bucket, MetaError> {
        let msg = pb::CreateBucketRequest {
            name: new.name,
            owner: new.owner,
            location: new.location,
            acl: acl_to_pb(new.acl),
            encryption: new.encryption.map(Into::into),
        };
        self.client()
            .create_bucket(self.unary(msg))
            .await?
            .into_inner()
            .try_into()
    }

    async fn get_bucket(&self, bucket: &str) -> Result<Bucket, MetaError> {
        self.client()
            .get_bucket(self.unary(bucket_ref(bucket)))
            .await?
            .into_inner()
            .try_into()
    }

    async fn list_buckets(&self, q: ListBucketsQuery) -> Result<ListBucketsPage, MetaError> {
        let msg = pb::ListBucketsRequest {
            owner: q.owner,
            prefix: q.prefix,
            marker: q.marker,
            max_keys: q.max_keys,
        };
        let r = self.client().list_buckets(self.unary(msg)).await?.into_inner();
        Ok(ListBucketsPage {
            buckets: r
                .buckets
                .into_iter()
                .map(TryInto::try_into)
                .collect::<Result<_, _>>()?,
            is_truncated: r.is_truncated,
            next_marker: r.next_marker,
        })
    }

    async fn delete_bucket(&self, bucket: &str) -> Result<(), MetaError> {
        self.client()
            .delete_bucket(self.unary(bucket_ref(bucket)))
            .await?;
        Ok(())
    }

    async fn set_bucket_encryption(
        &self,
        bucket: &str,
        rule: Option<BucketEncryptionRule>,
    ) -> Result<Bucket, MetaError> {
        let msg = pb::SetBucketEncryptionRequest {
            bucket: bucket.to_owned(),
            rule: rule.map(Into::into),
        };
        self.client()
            .set_bucket_encryption(self.unary(msg))
            .await?
            .into_inner()
            .try_into()
    }

    async fn set_bucket_acl(&self, bucket: &str, acl: Acl) -> Result<(), MetaError> {
        let msg = pb::SetBucketAclRequest {
            bucket: bucket.to_owned(),
            acl: acl_to_pb(acl),
        };
        self.client().set_bucket_acl(self.unary(msg)).await?;
        Ok(())
    }

    async fn bucket_stats(&self, bucket: &str) -> Result<BucketStats, MetaError> {
        Ok(self
            .client()
            .get_bucket_stats(bucket_ref(bucket))
            .await?
            .into_inner()
            .into())
    }

    async fn put_object(&self, header: PutObjectHeader, body: WriteBody) -> Result<ObjectInfo, MetaError> {
        let first = pb::PutObjectMessage {
            message: Some(pb::put_object_message::Message::Header(header.into())),
        };
        let (stream, failure, ended) = outbound(first, body, put_item);
        let mut client = self.client();
        let call = client.put_object(stream);
        match within_deadline_after_end(call, ended, self.deadline).await {
            Ok(r) => r.into_inner().try_into(),
            Err(status) => Err(write_error(status, &failure)),
        }
    }

    async fn put_small_object(
        &self,
        header: PutObjectHeader,
        ciphertext: bytes::Bytes,
        trailer: crate::PutTrailer,
    ) -> Result<ObjectInfo, MetaError> {
        let msg = pb::PutSmallObjectRequest {
            header: Some(header.into()),
            ciphertext,
            trailer: Some(trailer.into()),
        };
        self.client()
            .put_small_object(self.unary(msg))
            .await?
            .into_inner()
            .try_into()
    }

    async fn append_object(
        &self,
        header: AppendObjectHeader,
        body: WriteBody,
    ) -> Result<ObjectInfo, MetaError> {
        let first = pb::AppendObjectMessage {
            message: Some(pb::append_object_message::Message::Header(header.into())),
        };
        let (stream, failure, ended) = outbound(first, body, append_item);
        let mut client = self.client();
        let call = client.append_object(stream);
        match within_deadline_after_end(call, ended, self.deadline).await {
            Ok(r) => r.into_inner().try_into(),
            Err(status) => Err(write_error(status, &failure)),
        }
    }

    async fn head_object(&self, bucket: &str, key: &str) -> Result<ObjectInfo, MetaError> {
        self.client()
            .head_object(self.unary(object_ref(bucket, key)))
            .await?
            .into_inner()
            .try_into()
    }

    async fn get_small_object(
        &self,
        bucket: &str,
        key: &str,
        range: Option<CiphertextRange>,
        conditions: Preconditions,
        max_bytes: u32,
    ) -> Result<(ObjectInfo, Option<bytes::Bytes>), MetaError> {
        let msg = pb::SmallObjectRequest {
            bucket: bucket.to_owned(),
            key: key.to_owned(),
            max_bytes,
            range: range.map(Into::into),
            conditions: Some(conditions.into()),
        };
        let reply = self
            .client()
            .get_small_object(self.unary(msg))
            .await?
            .into_inner();
        let info: ObjectInfo = reply
            .info
            .ok_or_else(|| MetaError::Internal("small-object reply without the object's info".into()))?
            .try_into()?;
        if reply.ciphertext.as_ref().is_some_and(|c| {
            c.len() as u64 != range.map_or(info.ciphertext_size, |r| r.end.saturating_sub(r.start))
        }) {
            return Err(MetaError::Internal(
                "small-object reply with a partial ciphertext".into(),
            ));
        }
        Ok((info, reply.ciphertext))
    }

    async fn lookup_object(
        &self,
        bucket: &str,
        key: &str,
        window: Option<CiphertextRange>,
        max_bytes: u32,
    ) -> Result<crate::ObjectLookup, MetaError> {
        let msg = pb::LookupObjectRequest {
            bucket: bucket.to_owned(),
            key: key.to_owned(),
            max_bytes,
            window: window.map(Into::into),
        };
        let reply = self.client().lookup_object(self.unary(msg)).await?.into_inner();
        let bucket = reply
            .bucket
            .ok_or_else(|| MetaError::Internal("object lookup without the bucket".into()))?
            .try_into()?;
        let object: Option<ObjectInfo> = reply.object.map(TryInto::try_into).transpose()?;
        let whole = match (&object, &reply.ciphertext) {
            (_, None) => true,
            (Some(info), Some(c)) => {
                let asked = crate::ObjectLookup::window_of(window, info.ciphertext_size);
                c.len() as u64 == asked.end.saturating_sub(asked.start)
            }
            (None, Some(_)) => false,
        };
        if !whole {
            return Err(MetaError::Internal(
                "object lookup with a partial or stray ciphertext".into(),
            ));
        }
        Ok(crate::ObjectLookup {
            bucket,
            object,
            ciphertext: reply.ciphertext,
        })
    }

    async fn read_object(
        &self,
        bucket: &str,
        key: &str,
        range: Option<CiphertextRange>,
        conditions: Preconditions,
    ) -> Result<(ObjectInfo, ByteStream), MetaError> {
        use pb::read_object_message::Message;
        let msg = pb::ReadObjectRequest {
            bucket: bucket.to_owned(),
            key: key.to_owned(),
            range: range.map(Into::into),
            conditions: Some(conditions.into()),
        };
        // The info message must come within the deadline; the chunks after it flow at the reader's pace.
        let start = async {
            let mut stream = self.client().read_object(msg).await?.into_inner();
            let first = stream.message().await?;
            Ok::<_, MetaError>((stream, first))
        };
        let (stream, first) = tokio::time::timeout(self.deadline, start).await.map_err(|_| {
            MetaError::Unavailable("the metadata service did not start the read in time".into())
        })??;
        let info = match first {
            Some(pb::ReadObjectMessage {
                message: Some(Message::Info(info)),
            }) => info.try_into()?,
            _ => {
                return Err(MetaError::Internal(
                    "read stream did not start with the object's info".into(),
                ));
            }
        };
        let chunks = stream.map(|m| match m {
            Ok(pb::ReadObjectMessage {
                message: Some(Message::Chunk(b)),
            }) => Ok(b),
            Ok(_) => Err(MetaError::Internal("unexpected message in a read stream".into())),
            Err(status) => Err(status.into()),
        });
        Ok((info, chunks.boxed()))
    }

    async fn delete_objects(&self, bucket: &str, keys: Vec<String>) -> Result<Vec<DeleteOutcome>, MetaError> {
        let msg = pb::DeleteObjectsRequest {
            bucket: bucket.to_owned(),
            keys,
        };
        let r = self.client().delete_objects(self.unary(msg)).await?.into_inner();
        Ok(r.results
            .into_iter()
            .map(|d| {
                let outcome = match d.error_code {
                    None => Ok(d.existed),
                    Some(code) => Err(MetaError::from_code(&code, d.error_detail)
                        .unwrap_or_else(|| MetaError::Internal(format!("unknown error code {code}")))),
                };
                (d.key, outcome)
            })
            .collect())
    }

    async fn copy_object(&self, r: CopyObjectRequest) -> Result<ObjectInfo, MetaError> {
        let msg = pb::CopyObjectRequest {
            src_bucket: r.src_bucket,
            src_key: r.src_key,
            dst_bucket: r.dst_bucket,
            dst_key: r.dst_key,
            source_conditions: Some(r.source_conditions.into()),
            replace_meta: r.replace_meta.map(Into::into),
            forbid_overwrite: r.forbid_overwrite,
        };
        // A copy shares the source's ciphertext: metadata only, so it is bounded like any unary call.
        self.client()
            .copy_object(self.unary(msg))
            .await?
            .into_inner()
            .try_into()
    }

    async fn list_objects(&self, bucket: &str, q: ListObjectsQuery) -> Result<ListObjectsPage, MetaError> {
        let msg = pb::ListObjectsRequest {
            bucket: bucket.to_owned(),
            prefix: q.prefix,
            delimiter: q.delimiter,
            start_after: q.start_after,
            max_keys: q.max_keys,
        };
        let r = self.client().list_objects(self.unary(msg)).await?.into_inner();
        Ok(ListObjectsPage {
            objects: r
                .objects
                .into_iter()
                .map(TryInto::try_into)
                .collect::<Result<_, _>>()?,
            common_prefixes: r.common_prefixes,
            is_truncated: r.is_truncated,
            next_marker: r.next_marker,
        })
    }

    async fn initiate_upload(
        &self,
        bucket: &str,
        key: &str,
        meta: ObjectMeta,
    ) -> Result<MultipartUpload, MetaError> {
        let msg = pb::InitiateUploadRequest {
            bucket: bucket.to_owned(),
            key: key.to_owned(),
            meta: Some(meta.into()),
        };
        self.client()
            .initiate_upload(self.unary(msg))
            .await?
            .into_inner()
            .try_into()
    }

    async fn upload_part(&self, header: UploadPartHeader, body: WriteBody) -> Result<PartInfo, MetaError> {
        let first = pb::UploadPartMessage {
            message: Some(pb::upload_part_message::Message::Header(header.into())),
        };
        let (stream, failure, ended) = outbound(first, body, part_item);
        let mut client = self.client();
        let call = client.upload_part(stream);
        match within_deadline_after_end(call, ended, self.deadline).await {
            Ok(r) => Ok(r.into_inner().into()),
            Err(status) => Err(write_error(status, &failure)),
        }
    }

    async fn get_upload(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
    ) -> Result<MultipartUpload, MetaError> {
        self.client()
            .get_upload(self.unary(upload_ref(bucket, key, upload_id)))
            .await?
            .into_inner()
            .try_into()
    }

    async fn list_parts(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        part_number_marker: u32,
        max_parts: u32,
    ) -> Result<ListPartsPage, MetaError> {
        let msg = pb::ListPartsRequest {
            bucket: bucket.to_owned(),
            key: key.to_owned(),
            upload_id: upload_id.to_owned(),
            part_number_marker,
            max_parts,
        };
        let r = self.client().list_parts(self.unary(msg)).await?.into_inner();
        Ok(ListPartsPage {
            parts: r.parts.into_iter().map(Into::into).collect(),
            is_truncated: r.is_truncated,
            next_part_number_marker: r.next_part_number_marker,
        })
    }

    async fn list_uploads(&self, bucket: &str, q: ListUploadsQuery) -> Result<ListUploadsPage, MetaError> {
        let msg = pb::ListUploadsRequest {
            bucket: bucket.to_owned(),
            prefix: q.prefix,
            key_marker: q.key_marker,
            upload_id_marker: q.upload_id_marker,
            max_uploads: q.max_uploads,
        };
        let r = self.client().list_uploads(self.unary(msg)).await?.into_inner();
        Ok(ListUploadsPage {
            uploads: r
                .uploads
                .into_iter()
                .map(TryInto::try_into)
                .collect::<Result<_, _>>()?,
            is_truncated: r.is_truncated,
            next_markers: r.next_key_marker.zip(r.next_upload_id_marker),
        })
    }

    async fn complete_upload(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        parts: Vec<CompletedPart>,
        forbid_overwrite: bool,
    ) -> Result<ObjectInfo, MetaError> {
        let msg = pb::CompleteUploadRequest {
            bucket: bucket.to_owned(),
            key: key.to_owned(),
            upload_id: upload_id.to_owned(),
            parts: parts
                .into_iter()
                .map(|p| pb::CompletedPart {
                    part_number: p.part_number,
                    etag: p.etag,
                })
                .collect(),
            forbid_overwrite,
        };
        self.client()
            .complete_upload(self.unary(msg))
            .await?
            .into_inner()
            .try_into()
    }

    async fn abort_upload(&self, bucket: &str, key: &str, upload_id: &str) -> Result<(), MetaError> {
        self.client()
            .abort_upload(self.unary(upload_ref(bucket, key, upload_id)))
            .await?;
        Ok(())
    }

    async fn key_inventory(&self, query: InventoryQuery) -> Result<Vec<InventoryEntry>, MetaError> {
        self.client()
            .key_inventory(self.unary(pb::KeyInventoryRequest::from(query)))
            .await?
            .into_inner()
            .entries
            .into_iter()
            .map(TryInto::try_into)
            .collect()
    }

    async fn rewrap_object(&self, request: RewrapObject) -> Result<RewrapOutcome, MetaError> {
        let reply = self
            .client()
            .rewrap_object(self.unary(pb::RewrapObjectRequest::from(request)))
            .await?
            .into_inner();
        Ok(if reply.rewrapped {
            RewrapOutcome::Rewrapped
        } else {
            RewrapOutcome::Changed
        })
    }

    async fn snapshot(&self) -> Result<ByteStream, MetaError> {
        // No deadline: a snapshot streams as long as the store is big.
        let stream = self
            .client()
            .snapshot(tonic::Request::new(pb::SnapshotRequest {}))
            .await?
            .into_inner();
        Ok(stream.map(|m| m.map(|c| c.data).map_err(MetaError::from)).boxed())
    }
}
