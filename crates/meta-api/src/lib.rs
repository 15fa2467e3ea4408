//! The contract of Cang's metadata/blob service: the domain types shared by the store and its callers,
//! the typed [`MetaError`], and the input validation rules every entry point applies.

mod error;
mod identity;
mod names;
mod object;
mod types;

pub use error::MetaError;
pub use identity::{AccessKey, AccessKeyStatus, Account, NewAccessKey, Policy, SealedSecret, User};
pub use names::{
    MAX_KEYS_LIMIT, MAX_PART_NUMBER, MIN_PART_SIZE, validate_bucket_name, validate_max_keys,
    validate_object_key, validate_part_number,
};
pub use object::{
    AppendObjectHeader, CiphertextRange, CompletedPart, CopyObjectRequest, Extent, ListObjectsPage,
    ListObjectsQuery, ListPartsPage, ListUploadsPage, ListUploadsQuery, MultipartUpload, ObjectInfo,
    ObjectMeta, ObjectSse, ObjectType, PartInfo, Preconditions, PutObjectHeader, PutTrailer,
    UploadPartHeader,
};
pub use types::{
    Acl, Bucket, BucketEncryptionRule, BucketStats, DataEncryption, ListBucketsPage, ListBucketsQuery,
    NewBucket, SseAlgorithm,
};
