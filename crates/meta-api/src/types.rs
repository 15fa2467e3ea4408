//! Bucket domain types: the bucket record, its ACL and its default encryption rule.

use serde::{Deserialize, Serialize};

/// Server-side encryption algorithm, as named by `x-oss-server-side-encryption`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum SseAlgorithm {
    /// No encryption requested (the object is still stored as written by the gateway).
    None,
    /// SSE-OSS with AES-256 (`AES256`).
    Aes256,
    /// SSE-OSS with SM4 (`SM4`).
    Sm4,
    /// SSE-KMS with a customer master key (`KMS`).
    Kms,
}

impl SseAlgorithm {
    /// The header value (`none` when there is none).
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Aes256 => "AES256",
            Self::Sm4 => "SM4",
            Self::Kms => "KMS",
        }
    }
}

/// `x-oss-server-side-data-encryption`: the data cipher used under SSE-KMS.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum DataEncryption {
    /// SM4-GCM data encryption.
    Sm4,
}

/// A bucket's default encryption rule. `meta` stores it; the gateway interprets it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BucketEncryptionRule {
    /// The default algorithm.
    pub algorithm: SseAlgorithm,
    /// The CMK for `Kms` (`None` = the account's `alias/acs/oss`).
    pub kms_key_id: Option<String>,
    /// The data cipher for `Kms`.
    pub data_encryption: Option<DataEncryption>,
}

/// Canned ACLs of buckets and objects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum Acl {
    /// Objects only: inherit the bucket's ACL.
    #[default]
    Default,
    /// Owner only.
    Private,
    /// Anonymous read.
    PublicRead,
    /// Anonymous read and write.
    PublicReadWrite,
}

/// What a caller supplies to create a bucket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewBucket {
    /// Bucket name (checked with [`validate_bucket_name`](crate::validate_bucket_name)).
    pub name: String,
    /// Owning account id.
    pub owner: String,
    /// Region/location label, e.g. `oss-cn-hangzhou`.
    pub location: String,
    /// Canned ACL (`Default` is stored as `Private`).
    pub acl: Acl,
    /// Default encryption rule, if set at creation.
    pub encryption: Option<BucketEncryptionRule>,
}

/// A stored bucket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bucket {
    /// Bucket name.
    pub name: String,
    /// Owning account id.
    pub owner: String,
    /// Region/location label.
    pub location: String,
    /// Canned ACL.
    pub acl: Acl,
    /// Default encryption rule.
    pub encryption: Option<BucketEncryptionRule>,
    /// Creation time, milliseconds since the Unix epoch.
    pub created_ms: u64,
}

/// Object count and stored bytes of a bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct BucketStats {
    /// Number of objects.
    pub object_count: u64,
    /// Sum of the objects' plaintext sizes.
    pub storage_bytes: u64,
    /// Number of unfinished multipart uploads.
    pub multipart_upload_count: u64,
}

/// ListBuckets parameters: buckets of one owner, in name order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ListBucketsQuery {
    /// Owning account id.
    pub owner: String,
    /// Only names starting with this.
    pub prefix: String,
    /// Only names after this one.
    pub marker: String,
    /// Page size, 0–1000.
    pub max_keys: u32,
}

/// One page of ListBuckets.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ListBucketsPage {
    /// The buckets, in name order.
    pub buckets: Vec<Bucket>,
    /// Whether more buckets follow.
    pub is_truncated: bool,
    /// The marker for the next page, when truncated.
    pub next_marker: Option<String>,
}
