//! The contract of Cang's metadata/blob service: the [`ObjectStore`] and [`IdentityStore`] traits (together [`MetaApi`]; no tonic types), the domain
//! types shared by the store and its callers, the typed [`MetaError`], input validation rules, and the
//! gRPC client ([`MetaGrpcClient`]) and server ([`MetaGrpcServer`]) adapters. A `NoSuchBucket`
//! raised by the server is a `NoSuchBucket` in the client; an outage is `Unavailable`.

mod api;
mod client;
mod client_identity;
mod convert;
mod convert_identity;
mod convert_inventory;
mod error;
mod identity;
mod inventory;
mod names;
mod object;
mod outbound;
mod server;
mod status;
mod types;

pub use api::{
    ByteStream, DeleteOutcome, IdentityStore, MetaApi, MetaForCaller, ObjectLookup, ObjectStore,
    SMALL_OBJECT_MAX, WriteBody, WriteItem, write_body,
};
pub use client::{MAX_MESSAGE_SIZE, MetaGrpcClient};
pub use error::MetaError;
pub use identity::{AccessKey, AccessKeyStatus, Account, NewAccessKey, Policy, SealedSecret, User};
pub use inventory::{InventoryEntry, InventoryQuery, RewrapObject, RewrapOutcome, WrappingKey};
pub use names::{
    MAX_KEYS_LIMIT, MAX_PART_NUMBER, MIN_PART_SIZE, common_prefix, validate_bucket_name, validate_max_keys,
    validate_object_key, validate_part_number,
};
pub use object::{
    AppendObjectHeader, CiphertextRange, CompletedPart, CopyObjectRequest, ExpectedObject, Extent,
    ListObjectsPage, ListObjectsQuery, ListPartsPage, ListUploadsPage, ListUploadsQuery, MultipartUpload,
    ObjectInfo, ObjectMeta, ObjectSse, ObjectType, PartInfo, Preconditions, PutObjectHeader, PutTrailer,
    UploadPartHeader,
};
pub use server::{META_CALLERS, MetaGrpcServer};
pub use types::{
    Acl, Bucket, BucketEncryptionRule, BucketStats, DataEncryption, ListBucketsPage, ListBucketsQuery,
    NewBucket, SseAlgorithm,
};
