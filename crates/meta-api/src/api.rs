//! The metadata/blob service's traits, with domain types only: [`ObjectStore`] (buckets, objects,
//! uploads) and [`IdentityStore`] (accounts, users, keys, policies), together [`MetaApi`]. Implemented by the
//! store in `cang-meta`, by the gRPC client, and by mocks in callers' tests.

use async_trait::async_trait;
use bytes::Bytes;
use cang_tls::ServiceIdentity;
use futures::stream::BoxStream;

use crate::{
    AccessKey, AccessKeyStatus, Account, Acl, AppendObjectHeader, Bucket, BucketEncryptionRule, BucketStats,
    CiphertextRange, CompletedPart, CopyObjectRequest, InventoryEntry, InventoryQuery, ListBucketsPage,
    ListBucketsQuery, ListObjectsPage, ListObjectsQuery, ListPartsPage, ListUploadsPage, ListUploadsQuery,
    MetaError, MultipartUpload, NewAccessKey, NewBucket, ObjectInfo, ObjectMeta, PartInfo, Policy,
    Preconditions, PutObjectHeader, PutTrailer, RewrapObject, RewrapOutcome, UploadPartHeader, User,
};

/// One item of a streamed write: ciphertext, then exactly one trailer at the end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WriteItem {
    /// The next ciphertext bytes.
    Chunk(Bytes),
    /// What the writer computed over the plaintext; must be the last item.
    Trailer(PutTrailer),
}

/// The body of a streamed write. A body that ends without a trailer, or yields an error, commits
/// nothing.
pub type WriteBody = BoxStream<'static, Result<WriteItem, MetaError>>;

/// Ciphertext read from an object, in order.
pub type ByteStream = BoxStream<'static, Result<Bytes, MetaError>>;

/// One key's result in a multi-delete: whether it existed, or why it was refused.
pub type DeleteOutcome = (String, Result<bool, MetaError>);

/// A write body made of ready chunks and a trailer (tests, small objects).
pub fn write_body(chunks: Vec<Bytes>, trailer: PutTrailer) -> WriteBody {
    let items = chunks
        .into_iter()
        .map(WriteItem::Chunk)
        .chain(std::iter::once(WriteItem::Trailer(trailer)));
    Box::pin(futures::stream::iter(items.map(Ok)))
}

/// The metadata service bound to one caller at a time: the gRPC server asks it for the [`MetaApi`]
/// of each request's certificate identity, which refuses what that identity may not do
/// ([`MetaError::NotPermitted`]).
pub trait MetaForCaller: Send + Sync + 'static {
    /// The API as seen by one caller.
    type Api: MetaApi;
    /// Binds the service to `caller`.
    fn for_caller(&self, caller: ServiceIdentity) -> Self::Api;
}

/// The most stored bytes [`ObjectStore::get_small_object`] returns inline, whatever the caller asks.
pub const SMALL_OBJECT_MAX: u32 = 1 << 20;

/// What [`ObjectStore::lookup_object`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectLookup {
    /// The bucket.
    pub bucket: Bucket,
    /// The object, when the bucket holds one under the key.
    pub object: Option<ObjectInfo>,
    /// The asked window of the object's ciphertext (cut at its end), when it was at most the asked length.
    pub ciphertext: Option<Bytes>,
}

impl ObjectLookup {
    /// The stored bytes `window` (the whole object when `None`) asks for of an object `size` stored bytes
    /// long.
    pub fn window_of(window: Option<CiphertextRange>, size: u64) -> CiphertextRange {
        window.map_or(CiphertextRange { start: 0, end: size }, |w| CiphertextRange {
            start: w.start.min(size),
            end: w.end.min(size),
        })
    }
}

/// The whole metadata/blob service: its object store and its identity store. Every type implementing
/// both is a `MetaApi`; callers that need only one half take that trait.
pub trait MetaApi: ObjectStore + IdentityStore {}

impl<T: ObjectStore + IdentityStore + ?Sized> MetaApi for T {}

/// Buckets, objects and multipart uploads: what the gateway reads and writes on the data path.
#[async_trait]
pub trait ObjectStore: Send + Sync + 'static {
    /// PutBucket.
    async fn create_bucket(&self, new: NewBucket) -> Result<Bucket, MetaError>;
    /// GetBucketInfo.
    async fn get_bucket(&self, bucket: &str) -> Result<Bucket, MetaError>;
    /// ListBuckets of one owner.
    async fn list_buckets(&self, query: ListBucketsQuery) -> Result<ListBucketsPage, MetaError>;
    /// DeleteBucket (refused while objects or uploads remain).
    async fn delete_bucket(&self, bucket: &str) -> Result<(), MetaError>;
    /// PutBucketEncryption (`Some`) / DeleteBucketEncryption (`None`).
    async fn set_bucket_encryption(
        &self,
        bucket: &str,
        rule: Option<BucketEncryptionRule>,
    ) -> Result<Bucket, MetaError>;
    /// PutBucketAcl.
    async fn set_bucket_acl(&self, bucket: &str, acl: Acl) -> Result<(), MetaError>;
    /// Object count, bytes and unfinished uploads.
    async fn bucket_stats(&self, bucket: &str) -> Result<BucketStats, MetaError>;

    /// PutObject: commits atomically once the trailer arrives.
    async fn put_object(&self, header: PutObjectHeader, body: WriteBody) -> Result<ObjectInfo, MetaError>;
    /// PutObject of an object whose whole ciphertext is in memory: one message instead of a stream where the
    /// transport has one (gRPC); the same checks and commit as `put_object`.
    async fn put_small_object(
        &self,
        header: PutObjectHeader,
        ciphertext: Bytes,
        trailer: PutTrailer,
    ) -> Result<ObjectInfo, MetaError> {
        self.put_object(header, write_body(vec![ciphertext], trailer))
            .await
    }
    /// AppendObject.
    async fn append_object(
        &self,
        header: AppendObjectHeader,
        body: WriteBody,
    ) -> Result<ObjectInfo, MetaError>;
    /// HeadObject.
    async fn head_object(&self, bucket: &str, key: &str) -> Result<ObjectInfo, MetaError>;
    /// HeadObject plus the ciphertext `range` (the whole object when `None`) when it is at most `max_bytes`
    /// long (capped at [`SMALL_OBJECT_MAX`]), from one snapshot and under `conditions` as `read_object`: a
    /// small GetObject, or a small range of a large one, in one unary call.
    async fn get_small_object(
        &self,
        bucket: &str,
        key: &str,
        range: Option<CiphertextRange>,
        conditions: Preconditions,
        max_bytes: u32,
    ) -> Result<(ObjectInfo, Option<Bytes>), MetaError>;
    /// The bucket and, when it exists, its object `key` with the ciphertext `window` (cut at the object's
    /// end; the whole object when `None`) when that is at most `max_bytes` long (capped at
    /// [`SMALL_OBJECT_MAX`]) and, for a window, lies within the object's first extent, from one snapshot: what
    /// a GetObject or HeadObject must know before it is authorised, in one call. A missing bucket is
    /// [`MetaError::NoSuchBucket`]; a missing object is no error (authorisation decides first whether the
    /// caller may learn that).
    async fn lookup_object(
        &self,
        bucket: &str,
        key: &str,
        window: Option<CiphertextRange>,
        max_bytes: u32,
    ) -> Result<ObjectLookup, MetaError>;
    /// GetObject: the object's info and a stream of its ciphertext `range` (all when `None`), from
    /// one consistent snapshot.
    async fn read_object(
        &self,
        bucket: &str,
        key: &str,
        range: Option<CiphertextRange>,
        conditions: Preconditions,
    ) -> Result<(ObjectInfo, ByteStream), MetaError>;
    /// DeleteObject / DeleteMultipleObjects.
    async fn delete_objects(&self, bucket: &str, keys: Vec<String>) -> Result<Vec<DeleteOutcome>, MetaError>;
    /// CopyObject (shares ciphertext; no data copied).
    async fn copy_object(&self, request: CopyObjectRequest) -> Result<ObjectInfo, MetaError>;
    /// ListObjects / ListObjectsV2.
    async fn list_objects(&self, bucket: &str, query: ListObjectsQuery)
    -> Result<ListObjectsPage, MetaError>;

    /// InitiateMultipartUpload.
    async fn initiate_upload(
        &self,
        bucket: &str,
        key: &str,
        meta: ObjectMeta,
    ) -> Result<MultipartUpload, MetaError>;
    /// UploadPart (a re-upload replaces the part).
    async fn upload_part(&self, header: UploadPartHeader, body: WriteBody) -> Result<PartInfo, MetaError>;
    /// The upload's record (its metadata and encryption record).
    async fn get_upload(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
    ) -> Result<MultipartUpload, MetaError>;
    /// ListParts.
    async fn list_parts(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        part_number_marker: u32,
        max_parts: u32,
    ) -> Result<ListPartsPage, MetaError>;
    /// ListMultipartUploads.
    async fn list_uploads(&self, bucket: &str, query: ListUploadsQuery)
    -> Result<ListUploadsPage, MetaError>;
    /// CompleteMultipartUpload.
    async fn complete_upload(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        parts: Vec<CompletedPart>,
        forbid_overwrite: bool,
    ) -> Result<ObjectInfo, MetaError>;
    /// AbortMultipartUpload.
    async fn abort_upload(&self, bucket: &str, key: &str, upload_id: &str) -> Result<(), MetaError>;

    /// The key inventory: objects and bytes per (bucket, SSE algorithm, wrapping key version), as of the
    /// last commit. Maintenance (the admin's, and the gateway's jobs).
    async fn key_inventory(&self, query: InventoryQuery) -> Result<Vec<InventoryEntry>, MetaError>;
    /// Swaps one object's wrapped data key for a re-wrapped one, if the object still holds the one the
    /// caller re-wrapped. Maintenance (the admin's, and the gateway's jobs).
    async fn rewrap_object(&self, request: RewrapObject) -> Result<RewrapOutcome, MetaError>;
    /// A consistent copy of the whole store as of one commit, streamed as the bytes of a redb file that
    /// `cang meta` opens as its store. Backup (the admin's only).
    async fn snapshot(&self) -> Result<ByteStream, MetaError>;
}

/// Accounts, RAM users, access keys and policies: what authentication reads and `cang admin` writes.
#[async_trait]
pub trait IdentityStore: Send + Sync + 'static {
    /// Creates an account.
    async fn create_account(&self, account_id: &str, name: &str) -> Result<Account, MetaError>;
    /// Reads an account.
    async fn get_account(&self, account_id: &str) -> Result<Account, MetaError>;
    /// Lists accounts.
    async fn list_accounts(&self) -> Result<Vec<Account>, MetaError>;
    /// Creates a RAM user.
    async fn create_user(&self, account_id: &str, user: &str) -> Result<User, MetaError>;
    /// Lists an account's users.
    async fn list_users(&self, account_id: &str) -> Result<Vec<User>, MetaError>;
    /// Deletes a user, its access keys and attachments.
    async fn delete_user(&self, account_id: &str, user: &str) -> Result<(), MetaError>;
    /// Registers an access key (secret already sealed).
    async fn create_access_key(&self, new: NewAccessKey) -> Result<AccessKey, MetaError>;
    /// Looks up an access key by id.
    async fn get_access_key(&self, access_key_id: &str) -> Result<AccessKey, MetaError>;
    /// Lists access keys of an account, or of one of its users.
    async fn list_access_keys(
        &self,
        account_id: &str,
        user: Option<&str>,
    ) -> Result<Vec<AccessKey>, MetaError>;
    /// Activates or deactivates an access key.
    async fn set_access_key_status(
        &self,
        access_key_id: &str,
        status: AccessKeyStatus,
    ) -> Result<AccessKey, MetaError>;
    /// Deletes an access key.
    async fn delete_access_key(&self, access_key_id: &str) -> Result<(), MetaError>;
    /// Creates or replaces a policy (validated first).
    async fn put_policy(&self, account_id: &str, name: &str, document: &str) -> Result<Policy, MetaError>;
    /// Reads a policy.
    async fn get_policy(&self, account_id: &str, name: &str) -> Result<Policy, MetaError>;
    /// Lists an account's policies.
    async fn list_policies(&self, account_id: &str) -> Result<Vec<Policy>, MetaError>;
    /// Deletes a policy attached to nobody.
    async fn delete_policy(&self, account_id: &str, name: &str) -> Result<(), MetaError>;
    /// Attaches a policy to a user.
    async fn attach_policy(&self, account_id: &str, user: &str, policy: &str) -> Result<(), MetaError>;
    /// Detaches a policy from a user.
    async fn detach_policy(&self, account_id: &str, user: &str, policy: &str) -> Result<(), MetaError>;
    /// The policies attached to a user.
    async fn user_policies(&self, account_id: &str, user: &str) -> Result<Vec<Policy>, MetaError>;
    /// Records that web console session `id` was signed out; the record may be dropped after `until_ms`,
    /// when the session's cookie expires anyway.
    async fn revoke_console_session(&self, id: [u8; 16], until_ms: u64) -> Result<(), MetaError>;
    /// Whether web console session `id` was signed out.
    async fn console_session_revoked(&self, id: [u8; 16]) -> Result<bool, MetaError>;
}
