//! [`MetaService`]: the store behind the async [`MetaApi`](cang_meta_api::MetaApi). Every store call runs in
//! `spawn_blocking` (redb is synchronous); streamed writes are staged in ~8 MiB batches as they
//! arrive, and reads stream from a blocking task through a small bounded channel. Commits name
//! their kind on the caller's span (`cang.meta.commit`).

use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use cang_meta_api::{
    AccessKey, AccessKeyStatus, Account, Acl, AppendObjectHeader, Bucket, BucketEncryptionRule, BucketStats,
    ByteStream, CiphertextRange, CompletedPart, CopyObjectRequest, DeleteOutcome, IdentityStore,
    InventoryEntry, InventoryQuery, ListBucketsPage, ListBucketsQuery, ListObjectsPage, ListObjectsQuery,
    ListPartsPage, ListUploadsPage, ListUploadsQuery, MetaError, MultipartUpload, NewAccessKey, NewBucket,
    ObjectInfo, ObjectLookup, ObjectMeta, ObjectStore, PartInfo, Policy, Preconditions, PutObjectHeader,
    PutTrailer, RewrapObject, RewrapOutcome, UploadPartHeader, User, WriteBody, WriteItem,
    validate_bucket_name, validate_object_key, validate_part_number,
};
use cang_telemetry::{Metrics, attributes};
use futures::StreamExt;

use tokio::task::JoinHandle;

use crate::{CHUNK_SIZE, StagedBlob, StagedBlobWriter, Store};

/// Incoming chunks are handed to the store in batches of about this many bytes.
const STAGE_BATCH: usize = 8 << 20;
/// A single write message may carry at most this much ciphertext.
pub const MAX_CHUNK: usize = 4 << 20;
/// Read chunks buffered ahead of a slow receiver.
const READ_AHEAD: usize = 4;

/// The metadata/blob service over a [`Store`].
#[derive(Debug, Clone)]
pub struct MetaService {
    store: Store,
    metrics: Arc<Metrics>,
}

impl MetaService {
    /// Serves `store`, reporting its commit latency to the service's metrics.
    pub fn new(store: Store) -> Self {
        let metrics = Arc::new(Metrics::new());
        store.observe_commits(metrics.meta.clone());
        Self { store, metrics }
    }

    /// The service's metrics (gRPC calls, commit latency, stored bytes).
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// The underlying store.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Runs `f` on the store in the blocking pool.
    async fn run<T, F>(&self, f: F) -> Result<T, MetaError>
    where
        T: Send + 'static,
        F: FnOnce(&Store) -> Result<T, MetaError> + Send + 'static,
    {
        let store = self.store.clone();
        tokio::task::spawn_blocking(move || f(&store))
            .await
            .map_err(|e| MetaError::Internal(format!("store task failed: {e}")))?
    }

    /// Receives a write body into a staged blob. Nothing is visible until the caller commits it;
    /// on any error the staged chunks are reclaimed. One batch is written while the next is received.
    async fn stage(&self, mut body: WriteBody) -> Result<(StagedBlob, PutTrailer), MetaError> {
        let mut idle = Some(self.store.stage_blob());
        let mut busy: Option<JoinHandle<Result<StagedBlobWriter, MetaError>>> = None;
        let mut batch: Vec<Bytes> = Vec::new();
        let mut batch_len = 0;
        let trailer = loop {
            match body.next().await {
                None => {
                    return Err(MetaError::InvalidArgument(
                        "the write stream ended without its trailer".into(),
                    ));
                }
                Some(Err(e)) => return Err(e),
                Some(Ok(WriteItem::Trailer(t))) => break t,
                Some(Ok(WriteItem::Chunk(chunk))) => {
                    if chunk.len() > MAX_CHUNK {
                        return Err(MetaError::InvalidArgument(format!(
                            "a write chunk of {} bytes exceeds {MAX_CHUNK}",
                            chunk.len()
                        )));
                    }
                    batch_len += chunk.len();
                    batch.push(chunk);
                    if batch_len >= STAGE_BATCH {
                        let writer = settle(&mut idle, &mut busy).await?;
                        let batch = std::mem::take(&mut batch);
                        busy = Some(tokio::task::spawn_blocking(move || write_all(writer, &batch)));
                        batch_len = 0;
                    }
                }
            }
        };
        if body.next().await.is_some() {
            return Err(MetaError::InvalidArgument(
                "data after the trailer of a write stream".into(),
            ));
        }
        let mut writer = settle(&mut idle, &mut busy).await?;
        let blob = if writer.finishes_inline() && writer.len() as usize + batch_len <= CHUNK_SIZE {
            // At most one chunk, never flushed: a memory copy, no store transaction.
            batch.iter().try_for_each(|c| writer.write(c))?;
            writer.finish()?
        } else {
            self.run(move |_| write_all(writer, &batch)?.finish()).await?
        };
        Ok((blob, trailer))
    }
}

fn write_all(mut writer: StagedBlobWriter, batch: &[Bytes]) -> Result<StagedBlobWriter, MetaError> {
    batch.iter().try_for_each(|c| writer.write(c))?;
    Ok(writer)
}

/// The writer once no batch is being written.
async fn settle(
    idle: &mut Option<StagedBlobWriter>,
    busy: &mut Option<JoinHandle<Result<StagedBlobWriter, MetaError>>>,
) -> Result<StagedBlobWriter, MetaError> {
    match (busy.take(), idle.take()) {
        (Some(handle), _) => handle
            .await
            .map_err(|e| MetaError::Internal(format!("staging task failed: {e}")))?,
        (None, Some(writer)) => Ok(writer),
        (None, None) => Err(MetaError::Internal("blob writer lost".into())),
    }
}

#[async_trait]
impl ObjectStore for MetaService {
    async fn create_bucket(&self, new: NewBucket) -> Result<Bucket, MetaError> {
        self.run(move |s| s.create_bucket(new)).await
    }

    async fn get_bucket(&self, bucket: &str) -> Result<Bucket, MetaError> {
        let bucket = bucket.to_owned();
        self.run(move |s| s.get_bucket(&bucket)).await
    }

    async fn list_buckets(&self, query: ListBucketsQuery) -> Result<ListBucketsPage, MetaError> {
        self.run(move |s| s.list_buckets(&query)).await
    }

    async fn delete_bucket(&self, bucket: &str) -> Result<(), MetaError> {
        let bucket = bucket.to_owned();
        self.run(move |s| s.delete_bucket(&bucket)).await
    }

    async fn set_bucket_encryption(
        &self,
        bucket: &str,
        rule: Option<BucketEncryptionRule>,
    ) -> Result<Bucket, MetaError> {
        let bucket = bucket.to_owned();
        self.run(move |s| s.set_bucket_encryption(&bucket, rule)).await
    }

    async fn set_bucket_acl(&self, bucket: &str, acl: Acl) -> Result<(), MetaError> {
        let bucket = bucket.to_owned();
        self.run(move |s| s.set_bucket_acl(&bucket, acl)).await
    }

    async fn bucket_stats(&self, bucket: &str) -> Result<BucketStats, MetaError> {
        let bucket = bucket.to_owned();
        self.run(move |s| s.bucket_stats(&bucket)).await
    }

    async fn put_object(&self, header: PutObjectHeader, body: WriteBody) -> Result<ObjectInfo, MetaError> {
        validate_bucket_name(&header.bucket)?;
        validate_object_key(&header.key)?;
        let (blob, trailer) = self.stage(body).await?;
        attributes::record_meta_commit("put_object");
        self.run(move |s| s.put_object(header, blob, trailer)).await
    }

    async fn append_object(
        &self,
        header: AppendObjectHeader,
        body: WriteBody,
    ) -> Result<ObjectInfo, MetaError> {
        validate_bucket_name(&header.bucket)?;
        validate_object_key(&header.key)?;
        let (blob, trailer) = self.stage(body).await?;
        attributes::record_meta_commit("append_object");
        self.run(move |s| s.append_object(header, blob, trailer)).await
    }

    async fn head_object(&self, bucket: &str, key: &str) -> Result<ObjectInfo, MetaError> {
        let (bucket, key) = (bucket.to_owned(), key.to_owned());
        self.run(move |s| s.head_object(&bucket, &key)).await
    }

    async fn get_small_object(
        &self,
        bucket: &str,
        key: &str,
        range: Option<CiphertextRange>,
        conditions: Preconditions,
        max_bytes: u32,
    ) -> Result<(ObjectInfo, Option<Bytes>), MetaError> {
        let (bucket, key) = (bucket.to_owned(), key.to_owned());
        let max = u64::from(max_bytes.min(cang_meta_api::SMALL_OBJECT_MAX));
        self.run(move |s| {
            let (info, reader) = s.read_object(&bucket, &key, range, &conditions)?;
            let len = range.map_or(info.ciphertext_size, |r| r.end - r.start);
            if len > max {
                return Ok((info, None));
            }
            let mut ciphertext = Vec::with_capacity(len as usize);
            for chunk in reader {
                ciphertext.extend_from_slice(&chunk?);
            }
            Ok((info, Some(Bytes::from(ciphertext))))
        })
        .await
    }

    async fn lookup_object(
        &self,
        bucket: &str,
        key: &str,
        window: Option<CiphertextRange>,
        max_bytes: u32,
    ) -> Result<ObjectLookup, MetaError> {
        let (bucket, key) = (bucket.to_owned(), key.to_owned());
        let max = u64::from(max_bytes.min(cang_meta_api::SMALL_OBJECT_MAX));
        self.run(move |s| s.lookup_object(&bucket, &key, window, max))
            .await
    }

    async fn read_object(
        &self,
        bucket: &str,
        key: &str,
        range: Option<CiphertextRange>,
        conditions: Preconditions,
    ) -> Result<(ObjectInfo, ByteStream), MetaError> {
        let (bucket, key) = (bucket.to_owned(), key.to_owned());
        let (info, reader) = self
            .run(move |s| s.read_object(&bucket, &key, range, &conditions))
            .await?;
        let (tx, rx) = tokio::sync::mpsc::channel(READ_AHEAD);
        tokio::task::spawn_blocking(move || {
            for chunk in reader {
                // A closed channel means the caller stopped reading: release the snapshot.
                if tx.blocking_send(chunk.map(Bytes::from)).is_err() {
                    break;
                }
            }
        });
        let stream = futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|c| (c, rx)) });
        Ok((info, stream.boxed()))
    }

    async fn delete_objects(&self, bucket: &str, keys: Vec<String>) -> Result<Vec<DeleteOutcome>, MetaError> {
        let bucket = bucket.to_owned();
        self.run(move |s| s.delete_objects(&bucket, keys)).await
    }

    async fn copy_object(&self, request: CopyObjectRequest) -> Result<ObjectInfo, MetaError> {
        attributes::record_meta_commit("copy_object");
        self.run(move |s| s.copy_object(request)).await
    }

    async fn list_objects(
        &self,
        bucket: &str,
        query: ListObjectsQuery,
    ) -> Result<ListObjectsPage, MetaError> {
        let bucket = bucket.to_owned();
        self.run(move |s| s.list_objects(&bucket, &query)).await
    }

    async fn initiate_upload(
        &self,
        bucket: &str,
        key: &str,
        meta: ObjectMeta,
    ) -> Result<MultipartUpload, MetaError> {
        let (bucket, key) = (bucket.to_owned(), key.to_owned());
        self.run(move |s| s.initiate_upload(&bucket, &key, meta)).await
    }

    async fn upload_part(&self, header: UploadPartHeader, body: WriteBody) -> Result<PartInfo, MetaError> {
        validate_part_number(header.part_number)?;
        let (bucket, key, id) = (
            header.bucket.clone(),
            header.key.clone(),
            header.upload_id.clone(),
        );
        // Refuse before receiving data for an upload that does not exist.
        self.run(move |s| s.get_upload(&bucket, &key, &id)).await?;
        let (blob, trailer) = self.stage(body).await?;
        attributes::record_meta_commit("upload_part");
        self.run(move |s| s.upload_part(header, blob, trailer)).await
    }

    async fn get_upload(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
    ) -> Result<MultipartUpload, MetaError> {
        let (bucket, key, id) = (bucket.to_owned(), key.to_owned(), upload_id.to_owned());
        self.run(move |s| s.get_upload(&bucket, &key, &id)).await
    }

    async fn list_parts(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        part_number_marker: u32,
        max_parts: u32,
    ) -> Result<ListPartsPage, MetaError> {
        let (bucket, key, id) = (bucket.to_owned(), key.to_owned(), upload_id.to_owned());
        self.run(move |s| s.list_parts(&bucket, &key, &id, part_number_marker, max_parts))
            .await
    }

    async fn list_uploads(
        &self,
        bucket: &str,
        query: ListUploadsQuery,
    ) -> Result<ListUploadsPage, MetaError> {
        let bucket = bucket.to_owned();
        self.run(move |s| s.list_uploads(&bucket, &query)).await
    }

    async fn complete_upload(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        parts: Vec<CompletedPart>,
        forbid_overwrite: bool,
    ) -> Result<ObjectInfo, MetaError> {
        let (bucket, key, id) = (bucket.to_owned(), key.to_owned(), upload_id.to_owned());
        attributes::record_meta_commit("complete_multipart");
        self.run(move |s| s.complete_upload(&bucket, &key, &id, parts, forbid_overwrite))
            .await
    }

    async fn abort_upload(&self, bucket: &str, key: &str, upload_id: &str) -> Result<(), MetaError> {
        let (bucket, key, id) = (bucket.to_owned(), key.to_owned(), upload_id.to_owned());
        self.run(move |s| s.abort_upload(&bucket, &key, &id)).await
    }

    async fn key_inventory(&self, query: InventoryQuery) -> Result<Vec<InventoryEntry>, MetaError> {
        self.run(move |s| s.key_inventory(&query)).await
    }

    async fn rewrap_object(&self, request: RewrapObject) -> Result<RewrapOutcome, MetaError> {
        validate_bucket_name(&request.bucket)?;
        validate_object_key(&request.key)?;
        attributes::record_meta_commit("rewrap_object");
        self.run(move |s| s.rewrap_object(request)).await
    }

    async fn snapshot(&self) -> Result<ByteStream, MetaError> {
        let file = self
            .store
            .snapshot_dir()
            .join(format!(".snapshot-{}.redb", uuid::Uuid::new_v4().simple()));
        let target = file.clone();
        let rows = self.run(move |s| s.snapshot_to(&target)).await;
        let rows = match rows {
            Ok(rows) => rows,
            Err(e) => {
                let _ = std::fs::remove_file(&file);
                return Err(e);
            }
        };
        tracing::info!(
            objects = rows.objects,
            chunks = rows.chunks,
            rows = rows.total,
            "snapshot taken"
        );
        let io = |e: std::io::Error| MetaError::Internal(format!("reading the snapshot: {e}"));
        let stream = cang_tls::transient::stream_then_remove(file).await.map_err(io)?;
        Ok(stream.map(move |r| r.map_err(io)).boxed())
    }
}

#[async_trait]
impl IdentityStore for MetaService {
    async fn create_account(&self, account_id: &str, name: &str) -> Result<Account, MetaError> {
        let (id, name) = (account_id.to_owned(), name.to_owned());
        self.run(move |s| s.create_account(&id, &name)).await
    }

    async fn get_account(&self, account_id: &str) -> Result<Account, MetaError> {
        let id = account_id.to_owned();
        self.run(move |s| s.get_account(&id)).await
    }

    async fn list_accounts(&self) -> Result<Vec<Account>, MetaError> {
        self.run(Store::list_accounts).await
    }

    async fn create_user(&self, account_id: &str, user: &str) -> Result<User, MetaError> {
        let (a, u) = (account_id.to_owned(), user.to_owned());
        self.run(move |s| s.create_user(&a, &u)).await
    }

    async fn list_users(&self, account_id: &str) -> Result<Vec<User>, MetaError> {
        let a = account_id.to_owned();
        self.run(move |s| s.list_users(&a)).await
    }

    async fn delete_user(&self, account_id: &str, user: &str) -> Result<(), MetaError> {
        let (a, u) = (account_id.to_owned(), user.to_owned());
        self.run(move |s| s.delete_user(&a, &u)).await
    }

    async fn create_access_key(&self, new: NewAccessKey) -> Result<AccessKey, MetaError> {
        self.run(move |s| s.create_access_key(new)).await
    }

    async fn get_access_key(&self, access_key_id: &str) -> Result<AccessKey, MetaError> {
        let id = access_key_id.to_owned();
        self.run(move |s| s.get_access_key(&id)).await
    }

    async fn list_access_keys(
        &self,
        account_id: &str,
        user: Option<&str>,
    ) -> Result<Vec<AccessKey>, MetaError> {
        let (a, u) = (account_id.to_owned(), user.map(str::to_owned));
        self.run(move |s| s.list_access_keys(&a, u.as_deref())).await
    }

    async fn set_access_key_status(
        &self,
        access_key_id: &str,
        status: AccessKeyStatus,
    ) -> Result<AccessKey, MetaError> {
        let id = access_key_id.to_owned();
        self.run(move |s| s.set_access_key_status(&id, status)).await
    }

    async fn revoke_console_session(&self, id: [u8; 16], until_ms: u64) -> Result<(), MetaError> {
        self.run(move |s| s.revoke_console_session(id, until_ms)).await
    }

    async fn console_session_revoked(&self, id: [u8; 16]) -> Result<bool, MetaError> {
        self.run(move |s| s.console_session_revoked(id)).await
    }

    async fn delete_access_key(&self, access_key_id: &str) -> Result<(), MetaError> {
        let id = access_key_id.to_owned();
        self.run(move |s| s.delete_access_key(&id)).await
    }

    async fn put_policy(&self, account_id: &str, name: &str, document: &str) -> Result<Policy, MetaError> {
        let (a, n, d) = (account_id.to_owned(), name.to_owned(), document.to_owned());
        self.run(move |s| s.put_policy(&a, &n, &d)).await
    }

    async fn get_policy(&self, account_id: &str, name: &str) -> Result<Policy, MetaError> {
        let (a, n) = (account_id.to_owned(), name.to_owned());
        self.run(move |s| s.get_policy(&a, &n)).await
    }

    async fn list_policies(&self, account_id: &str) -> Result<Vec<Policy>, MetaError> {
        let a = account_id.to_owned();
        self.run(move |s| s.list_policies(&a)).await
    }

    async fn delete_policy(&self, account_id: &str, name: &str) -> Result<(), MetaError> {
        let (a, n) = (account_id.to_owned(), name.to_owned());
        self.run(move |s| s.delete_policy(&a, &n)).await
    }

    async fn attach_policy(&self, account_id: &str, user: &str, policy: &str) -> Result<(), MetaError> {
        let (a, u, p) = (account_id.to_owned(), user.to_owned(), policy.to_owned());
        self.run(move |s| s.attach_policy(&a, &u, &p)).await
    }

    async fn detach_policy(&self, account_id: &str, user: &str, policy: &str) -> Result<(), MetaError> {
        let (a, u, p) = (account_id.to_owned(), user.to_owned(), policy.to_owned());
        self.run(move |s| s.detach_policy(&a, &u, &p)).await
    }

    async fn user_policies(&self, account_id: &str, user: &str) -> Result<Vec<Policy>, MetaError> {
        let (a, u) = (account_id.to_owned(), user.to_owned());
        self.run(move |s| s.user_policies(&a, &u)).await
    }
}
