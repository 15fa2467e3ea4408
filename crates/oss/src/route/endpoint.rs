//! The typed operations of §4–§7: every request the router accepts becomes exactly one `Endpoint` variant
//! carrying the bucket, key and parameters the operation needs, already decoded and range-checked.

use crate::headers::meta::ResponseOverrides;
use crate::route::names::CopySource;

/// Query parameters of ListBuckets (§4.1).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListBucketsParams {
    /// Only buckets whose name starts with this.
    pub prefix: Option<String>,
    /// Buckets after this name.
    pub marker: Option<String>,
    /// 1..=1000; `None` means the default (100).
    pub max_keys: Option<u32>,
}

/// Query parameters of ListObjects v1 (§6.13).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListObjectsParams {
    /// Key prefix.
    pub prefix: Option<String>,
    /// Grouping delimiter.
    pub delimiter: Option<String>,
    /// Keys after this one.
    pub marker: Option<String>,
    /// 1..=1000; `None` means the default (100).
    pub max_keys: Option<u32>,
    /// `encoding-type=url` was requested.
    pub encoding_url: bool,
}

/// Query parameters of ListObjectsV2 (§6.14).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListObjectsV2Params {
    /// Key prefix.
    pub prefix: Option<String>,
    /// Grouping delimiter.
    pub delimiter: Option<String>,
    /// Opaque token from the previous page.
    pub continuation_token: Option<String>,
    /// Keys after this one (first page only).
    pub start_after: Option<String>,
    /// 1..=1000; `None` means the default (100).
    pub max_keys: Option<u32>,
    /// `fetch-owner=true`.
    pub fetch_owner: bool,
    /// `encoding-type=url` was requested.
    pub encoding_url: bool,
}

/// Query parameters of ListMultipartUploads (§7.6).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListUploadsParams {
    /// Key prefix.
    pub prefix: Option<String>,
    /// Grouping delimiter.
    pub delimiter: Option<String>,
    /// Uploads of keys after this one.
    pub key_marker: Option<String>,
    /// With `key_marker`: uploads of that key after this id.
    pub upload_id_marker: Option<String>,
    /// 1..=1000 (larger values are capped); `None` means 1000.
    pub max_uploads: Option<u32>,
    /// `encoding-type=url` was requested.
    pub encoding_url: bool,
}

/// Query parameters of ListParts (§7.7).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListPartsParams {
    /// 1..=1000 (larger values are capped); `None` means 1000.
    pub max_parts: Option<u32>,
    /// Parts after this number.
    pub part_number_marker: Option<u32>,
    /// `encoding-type=url` was requested.
    pub encoding_url: bool,
}

/// One OSS operation, fully resolved. Each variant's fields are the request parts its name says (`bucket`,
/// `key`, `upload_id`, `part_number`, `params`, …), already decoded and range-checked.
#[allow(missing_docs)] // the fields are named after the OSS request parts they carry; see the variant docs
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    /// `GET /` without a bucket.
    ListBuckets(ListBucketsParams),
    /// `PUT /` on a bucket.
    PutBucket { bucket: String },
    /// `DELETE /` on a bucket.
    DeleteBucket { bucket: String },
    /// `HEAD /` on a bucket (not an SDK call; answered for existence checks, §4.7).
    HeadBucket { bucket: String },
    /// `GET /?bucketInfo`.
    GetBucketInfo { bucket: String },
    /// `GET /?location`.
    GetBucketLocation { bucket: String },
    /// `GET /?acl` on a bucket.
    GetBucketAcl { bucket: String },
    /// `PUT /?acl` on a bucket.
    PutBucketAcl { bucket: String },
    /// `GET /?stat`.
    GetBucketStat { bucket: String },
    /// `PUT /?encryption`.
    PutBucketEncryption { bucket: String },
    /// `GET /?encryption`.
    GetBucketEncryption { bucket: String },
    /// `DELETE /?encryption`.
    DeleteBucketEncryption { bucket: String },
    /// `GET /` on a bucket.
    ListObjects {
        bucket: String,
        params: ListObjectsParams,
    },
    /// `GET /?list-type=2`.
    ListObjectsV2 {
        bucket: String,
        params: ListObjectsV2Params,
    },
    /// `GET /?uploads`.
    ListMultipartUploads {
        bucket: String,
        params: ListUploadsParams,
    },
    /// `POST /?delete`.
    DeleteMultipleObjects { bucket: String, encoding_url: bool },
    /// `PUT /<key>`.
    PutObject { bucket: String, key: String },
    /// `PUT /<key>` with `x-oss-copy-source`.
    CopyObject {
        bucket: String,
        key: String,
        source: CopySource,
    },
    /// `GET /<key>`.
    GetObject {
        bucket: String,
        key: String,
        overrides: ResponseOverrides,
    },
    /// `HEAD /<key>`.
    HeadObject { bucket: String, key: String },
    /// `HEAD /<key>?objectMeta`.
    GetObjectMeta { bucket: String, key: String },
    /// `DELETE /<key>`.
    DeleteObject { bucket: String, key: String },
    /// `POST /<key>?append&position=<n>`.
    AppendObject {
        bucket: String,
        key: String,
        position: u64,
    },
    /// `GET /<key>?acl`.
    GetObjectAcl { bucket: String, key: String },
    /// `PUT /<key>?acl`.
    PutObjectAcl { bucket: String, key: String },
    /// `POST /<key>?uploads`.
    InitiateMultipartUpload {
        bucket: String,
        key: String,
        encoding_url: bool,
    },
    /// `PUT /<key>?partNumber=<n>&uploadId=<id>`.
    UploadPart {
        bucket: String,
        key: String,
        upload_id: String,
        part_number: u32,
    },
    /// `PUT /<key>?partNumber=<n>&uploadId=<id>` with `x-oss-copy-source`.
    UploadPartCopy {
        bucket: String,
        key: String,
        upload_id: String,
        part_number: u32,
        source: CopySource,
        /// The raw `x-oss-copy-source-range` value; parse with [`crate::headers::range::RangeSpec::parse`]
        /// (an invalid range means the whole source, §7.3).
        source_range: Option<String>,
    },
    /// `POST /<key>?uploadId=<id>`.
    CompleteMultipartUpload {
        bucket: String,
        key: String,
        upload_id: String,
        encoding_url: bool,
    },
    /// `DELETE /<key>?uploadId=<id>`.
    AbortMultipartUpload {
        bucket: String,
        key: String,
        upload_id: String,
    },
    /// `GET /<key>?uploadId=<id>`.
    ListParts {
        bucket: String,
        key: String,
        upload_id: String,
        params: ListPartsParams,
    },
}

impl Endpoint {
    /// The operation name as OSS documents it (`GetObject`, `PutBucketEncryption`, …), for logs, metrics
    /// and RAM actions.
    pub fn name(&self) -> &'static str {
        match self {
            Self::ListBuckets(_) => "ListBuckets",
            Self::PutBucket { .. } => "PutBucket",
            Self::DeleteBucket { .. } => "DeleteBucket",
            Self::HeadBucket { .. } => "HeadBucket",
            Self::GetBucketInfo { .. } => "GetBucketInfo",
            Self::GetBucketLocation { .. } => "GetBucketLocation",
            Self::GetBucketAcl { .. } => "GetBucketAcl",
            Self::PutBucketAcl { .. } => "PutBucketAcl",
            Self::GetBucketStat { .. } => "GetBucketStat",
            Self::PutBucketEncryption { .. } => "PutBucketEncryption",
            Self::GetBucketEncryption { .. } => "GetBucketEncryption",
            Self::DeleteBucketEncryption { .. } => "DeleteBucketEncryption",
            Self::ListObjects { .. } => "ListObjects",
            Self::ListObjectsV2 { .. } => "ListObjectsV2",
            Self::ListMultipartUploads { .. } => "ListMultipartUploads",
            Self::DeleteMultipleObjects { .. } => "DeleteMultipleObjects",
            Self::PutObject { .. } => "PutObject",
            Self::CopyObject { .. } => "CopyObject",
            Self::GetObject { .. } => "GetObject",
            Self::HeadObject { .. } => "HeadObject",
            Self::GetObjectMeta { .. } => "GetObjectMeta",
            Self::DeleteObject { .. } => "DeleteObject",
            Self::AppendObject { .. } => "AppendObject",
            Self::GetObjectAcl { .. } => "GetObjectAcl",
            Self::PutObjectAcl { .. } => "PutObjectAcl",
            Self::InitiateMultipartUpload { .. } => "InitiateMultipartUpload",
            Self::UploadPart { .. } => "UploadPart",
            Self::UploadPartCopy { .. } => "UploadPartCopy",
            Self::CompleteMultipartUpload { .. } => "CompleteMultipartUpload",
            Self::AbortMultipartUpload { .. } => "AbortMultipartUpload",
            Self::ListParts { .. } => "ListParts",
        }
    }

    /// The bucket the operation addresses (`None` only for ListBuckets).
    pub fn bucket(&self) -> Option<&str> {
        match self {
            Self::ListBuckets(_) => None,
            Self::PutBucket { bucket }
            | Self::DeleteBucket { bucket }
            | Self::HeadBucket { bucket }
            | Self::GetBucketInfo { bucket }
            | Self::GetBucketLocation { bucket }
            | Self::GetBucketAcl { bucket }
            | Self::PutBucketAcl { bucket }
            | Self::GetBucketStat { bucket }
            | Self::PutBucketEncryption { bucket }
            | Self::GetBucketEncryption { bucket }
            | Self::DeleteBucketEncryption { bucket }
            | Self::ListObjects { bucket, .. }
            | Self::ListObjectsV2 { bucket, .. }
            | Self::ListMultipartUploads { bucket, .. }
            | Self::DeleteMultipleObjects { bucket, .. }
            | Self::PutObject { bucket, .. }
            | Self::CopyObject { bucket, .. }
            | Self::GetObject { bucket, .. }
            | Self::HeadObject { bucket, .. }
            | Self::GetObjectMeta { bucket, .. }
            | Self::DeleteObject { bucket, .. }
            | Self::AppendObject { bucket, .. }
            | Self::GetObjectAcl { bucket, .. }
            | Self::PutObjectAcl { bucket, .. }
            | Self::InitiateMultipartUpload { bucket, .. }
            | Self::UploadPart { bucket, .. }
            | Self::UploadPartCopy { bucket, .. }
            | Self::CompleteMultipartUpload { bucket, .. }
            | Self::AbortMultipartUpload { bucket, .. }
            | Self::ListParts { bucket, .. } => Some(bucket),
        }
    }

    /// The decoded object key, for object and multipart operations.
    pub fn key(&self) -> Option<&str> {
        match self {
            Self::PutObject { key, .. }
            | Self::CopyObject { key, .. }
            | Self::GetObject { key, .. }
            | Self::HeadObject { key, .. }
            | Self::GetObjectMeta { key, .. }
            | Self::DeleteObject { key, .. }
            | Self::AppendObject { key, .. }
            | Self::GetObjectAcl { key, .. }
            | Self::PutObjectAcl { key, .. }
            | Self::InitiateMultipartUpload { key, .. }
            | Self::UploadPart { key, .. }
            | Self::UploadPartCopy { key, .. }
            | Self::CompleteMultipartUpload { key, .. }
            | Self::AbortMultipartUpload { key, .. }
            | Self::ListParts { key, .. } => Some(key),
            _ => None,
        }
    }

    /// The source object of CopyObject and UploadPartCopy.
    pub fn copy_source(&self) -> Option<&CopySource> {
        match self {
            Self::CopyObject { source, .. } | Self::UploadPartCopy { source, .. } => Some(source),
            _ => None,
        }
    }
}
