//! Object and multipart domain types: metadata records, extents of ciphertext, listing pages and
//! preconditions.

use serde::{Deserialize, Serialize};

use crate::{MetaError, SseAlgorithm};

/// How the object came to be; OSS reports it as `x-oss-object-type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ObjectType {
    /// PutObject or CopyObject.
    Normal,
    /// CompleteMultipartUpload.
    Multipart,
    /// AppendObject.
    Appendable,
}

/// The object-level encryption record. `meta` stores it verbatim and never interprets it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectSse {
    /// `x-oss-server-side-encryption`.
    pub algorithm: SseAlgorithm,
    /// `x-oss-server-side-encryption-key-id` (KMS only).
    pub key_id: Option<String>,
    /// `x-oss-server-side-data-encryption`.
    pub data_encryption: Option<crate::DataEncryption>,
    /// The data key wrapped by the crypto service (self-describing ciphertext blob).
    pub wrapped_key: Vec<u8>,
    /// The master key version that wrapped it; `None` in records written before versions were recorded.
    pub wrapping: Option<crate::WrappingKey>,
}

/// Metadata the gateway supplies with an object.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ObjectMeta {
    /// `Content-Type`.
    pub content_type: String,
    /// `x-oss-meta-*` pairs, names without the prefix.
    pub user_meta: Vec<(String, String)>,
    /// Other stored headers (`Cache-Control`, `Content-Disposition`, `Content-Encoding`, `Expires`).
    pub headers: Vec<(String, String)>,
    /// Object ACL.
    pub acl: crate::Acl,
    /// Encryption record; `None` for objects stored without encryption.
    pub sse: Option<ObjectSse>,
}

/// One contiguous run of ciphertext in an object: the whole of a simple object, one part of a
/// multipart object, one append of an appendable object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Extent {
    /// Offset of this extent in the object's concatenated ciphertext.
    pub ciphertext_offset: u64,
    /// Ciphertext bytes in this extent.
    pub ciphertext_len: u64,
    /// Offset of this extent's plaintext in the object.
    pub plaintext_offset: u64,
    /// Plaintext bytes this extent decrypts to.
    pub plaintext_len: u64,
    /// Opaque encryption-format parameters of this extent (salt, nonce prefix, segment size, ...).
    pub format: Vec<u8>,
}

/// A stored object as HeadObject sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectInfo {
    /// Bucket name.
    pub bucket: String,
    /// Object key.
    pub key: String,
    /// Plaintext size (`Content-Length`).
    pub size: u64,
    /// Total stored ciphertext bytes.
    pub ciphertext_size: u64,
    /// ETag as OSS prints it, without quotes.
    pub etag: String,
    /// CRC-64/XZ of the plaintext (`x-oss-hash-crc64ecma`), when known.
    pub crc64: Option<u64>,
    /// Last modification, milliseconds since the Unix epoch.
    pub last_modified_ms: u64,
    /// Object type.
    pub object_type: ObjectType,
    /// Gateway-supplied metadata.
    pub meta: ObjectMeta,
    /// The ciphertext extents, in order.
    pub extents: Vec<Extent>,
}

impl ObjectInfo {
    /// When the object was last modified (`Last-Modified`).
    pub fn last_modified(&self) -> std::time::SystemTime {
        std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_millis(self.last_modified_ms)
    }
}

/// The trailer that ends a streamed write: what the gateway computed over the plaintext.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PutTrailer {
    /// Plaintext bytes written.
    pub plaintext_len: u64,
    /// ETag (hex MD5 of the plaintext for a simple put or part).
    pub etag: String,
    /// CRC-64/XZ of the plaintext.
    pub crc64: Option<u64>,
}

/// Conditional request headers and the OSS write guards.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Preconditions {
    /// `If-Match`: the current ETag must equal this.
    pub if_match: Option<String>,
    /// `If-None-Match`: the current ETag must differ.
    pub if_none_match: Option<String>,
    /// `If-Modified-Since`, ms since epoch (compared at whole seconds).
    pub if_modified_since_ms: Option<u64>,
    /// `If-Unmodified-Since`, ms since epoch (compared at whole seconds).
    pub if_unmodified_since_ms: Option<u64>,
}

impl Preconditions {
    /// Whether no condition is set.
    pub fn is_empty(&self) -> bool {
        self == &Self::default()
    }

    /// Evaluates the conditions against an object, in the order HTTP specifies: If-Match,
    /// If-Unmodified-Since, If-None-Match, If-Modified-Since.
    pub fn check(&self, etag: &str, last_modified_ms: u64) -> Result<(), MetaError> {
        let modified_s = last_modified_ms / 1000;
        let same = |tag: &str| tag == "*" || tag.trim_matches('"') == etag;
        if let Some(tag) = &self.if_match {
            if !same(tag) {
                return Err(MetaError::PreconditionFailed);
            }
        } else if let Some(since) = self.if_unmodified_since_ms
            && modified_s > since / 1000
        {
            return Err(MetaError::PreconditionFailed);
        }
        if let Some(tag) = &self.if_none_match {
            if same(tag) {
                return Err(MetaError::NotModified);
            }
        } else if let Some(since) = self.if_modified_since_ms
            && modified_s <= since / 1000
        {
            return Err(MetaError::NotModified);
        }
        Ok(())
    }
}

/// ListObjects (v1 and v2) parameters after decoding.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ListObjectsQuery {
    /// Only keys starting with this.
    pub prefix: String,
    /// Roll keys up to common prefixes at the first delimiter after `prefix`; empty = none.
    pub delimiter: String,
    /// Entries (keys or common prefixes) strictly after this (v1 `marker`, v2 `start-after` or the
    /// decoded continuation token, whichever is greater).
    pub start_after: String,
    /// Page size, 0–1000; keys and common prefixes both count.
    pub max_keys: u32,
}

/// One page of ListObjects.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ListObjectsPage {
    /// Objects, in key (UTF-8 byte) order.
    pub objects: Vec<ObjectInfo>,
    /// Common prefixes, in order.
    pub common_prefixes: Vec<String>,
    /// Whether more entries follow.
    pub is_truncated: bool,
    /// The last entry returned (key or common prefix) when truncated: the next page's start.
    pub next_marker: Option<String>,
}

/// An unfinished multipart upload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MultipartUpload {
    /// Bucket name.
    pub bucket: String,
    /// Object key.
    pub key: String,
    /// Upload id.
    pub upload_id: String,
    /// Initiation time, ms since epoch.
    pub initiated_ms: u64,
    /// Metadata and encryption record the completed object will carry.
    pub meta: ObjectMeta,
}

/// An uploaded part.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartInfo {
    /// Part number, 1–10000.
    pub part_number: u32,
    /// The part's ETag.
    pub etag: String,
    /// Plaintext bytes.
    pub size: u64,
    /// Ciphertext bytes stored.
    pub ciphertext_size: u64,
    /// CRC-64/XZ of the part's plaintext.
    pub crc64: Option<u64>,
    /// Upload time, ms since epoch.
    pub last_modified_ms: u64,
    /// Opaque encryption-format parameters of the part.
    pub format: Vec<u8>,
}

/// One entry of CompleteMultipartUpload's part list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompletedPart {
    /// Part number.
    pub part_number: u32,
    /// ETag the client saw for it (quotes are ignored).
    pub etag: String,
}

/// ListMultipartUploads parameters.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ListUploadsQuery {
    /// Only keys starting with this.
    pub prefix: String,
    /// Uploads with keys after this, or with this key and an upload id after `upload_id_marker`.
    pub key_marker: String,
    /// See `key_marker`.
    pub upload_id_marker: String,
    /// Page size, 0–1000.
    pub max_uploads: u32,
}

/// One page of ListMultipartUploads.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ListUploadsPage {
    /// Uploads in (key, upload id) order.
    pub uploads: Vec<MultipartUpload>,
    /// Whether more follow.
    pub is_truncated: bool,
    /// Next key marker and upload id marker, when truncated.
    pub next_markers: Option<(String, String)>,
}

/// One page of ListParts.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ListPartsPage {
    /// Parts in number order.
    pub parts: Vec<PartInfo>,
    /// Whether more follow.
    pub is_truncated: bool,
    /// The next part-number marker, when truncated.
    pub next_part_number_marker: Option<u32>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn preconditions_follow_http_order() {
        let p = |m: Option<&str>, nm: Option<&str>, ms: Option<u64>, us: Option<u64>| Preconditions {
            if_match: m.map(str::to_owned),
            if_none_match: nm.map(str::to_owned),
            if_modified_since_ms: ms,
            if_unmodified_since_ms: us,
        };
        let (etag, t) = ("abc", 10_500);
        assert_eq!(p(None, None, None, None).check(etag, t), Ok(()));
        assert_eq!(p(Some("\"abc\""), None, None, None).check(etag, t), Ok(()));
        assert_eq!(
            p(Some("abd"), None, None, None).check(etag, t),
            Err(MetaError::PreconditionFailed)
        );
        assert_eq!(
            p(None, Some("abc"), None, None).check(etag, t),
            Err(MetaError::NotModified)
        );
        assert_eq!(p(None, Some("x"), None, None).check(etag, t), Ok(()));
        // Second granularity: modified at 10.5 s is not after 10.0 s.
        assert_eq!(
            p(None, None, Some(10_000), None).check(etag, t),
            Err(MetaError::NotModified)
        );
        assert_eq!(p(None, None, Some(9_999), None).check(etag, t), Ok(()));
        assert_eq!(p(None, None, None, Some(10_000)).check(etag, t), Ok(()));
        assert_eq!(
            p(None, None, None, Some(9_000)).check(etag, t),
            Err(MetaError::PreconditionFailed)
        );
        // If-Match takes precedence over If-Unmodified-Since.
        assert_eq!(p(Some("abc"), None, None, Some(0)).check(etag, t), Ok(()));
    }
}

/// The header that opens a streamed PutObject.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PutObjectHeader {
    /// Bucket name.
    pub bucket: String,
    /// Object key.
    pub key: String,
    /// Metadata and encryption record.
    pub meta: ObjectMeta,
    /// Opaque encryption-format parameters of the ciphertext that follows.
    pub format: Vec<u8>,
    /// `x-oss-forbid-overwrite`: fail with `FileAlreadyExists` if the key exists at commit.
    pub forbid_overwrite: bool,
    /// Commit only if the key still holds exactly this version (else `PreconditionFailed`, nothing
    /// written): how an object is re-encrypted in place without clobbering a concurrent overwrite.
    pub replaces: Option<ExpectedObject>,
}

/// One version of an object, as a write that must replace exactly it names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpectedObject {
    /// Its ETag.
    pub etag: String,
    /// Its last modification, ms since the epoch.
    pub last_modified_ms: u64,
    /// Its stored wrapped data key (fresh for every write but one under a shared bucket key).
    pub wrapped_key: Vec<u8>,
}

impl ExpectedObject {
    /// The version `info` describes.
    pub fn of(info: &ObjectInfo) -> Self {
        Self {
            etag: info.etag.clone(),
            last_modified_ms: info.last_modified_ms,
            wrapped_key: info
                .meta
                .sse
                .as_ref()
                .map(|s| s.wrapped_key.clone())
                .unwrap_or_default(),
        }
    }

    /// Whether `info` is that version.
    pub fn matches(&self, info: &ObjectInfo) -> bool {
        *self == Self::of(info)
    }
}

/// The header that opens a streamed AppendObject.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppendObjectHeader {
    /// Bucket name.
    pub bucket: String,
    /// Object key.
    pub key: String,
    /// Plaintext position the append starts at (must equal the current size).
    pub position: u64,
    /// Metadata and encryption record, used when the append creates the object.
    pub meta: ObjectMeta,
    /// Opaque encryption-format parameters of the appended ciphertext.
    pub format: Vec<u8>,
}

/// The header that opens a streamed UploadPart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadPartHeader {
    /// Bucket name.
    pub bucket: String,
    /// Object key.
    pub key: String,
    /// Upload id.
    pub upload_id: String,
    /// Part number, 1–10000.
    pub part_number: u32,
    /// Opaque encryption-format parameters of the part.
    pub format: Vec<u8>,
}

/// CopyObject parameters. The copy shares the source's ciphertext and encryption record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopyObjectRequest {
    /// Source bucket.
    pub src_bucket: String,
    /// Source key.
    pub src_key: String,
    /// Destination bucket.
    pub dst_bucket: String,
    /// Destination key.
    pub dst_key: String,
    /// `x-oss-copy-source-if-*` conditions on the source.
    pub source_conditions: Preconditions,
    /// `x-oss-metadata-directive: REPLACE` metadata (the encryption record is kept from the source).
    pub replace_meta: Option<ObjectMeta>,
    /// `x-oss-forbid-overwrite`.
    pub forbid_overwrite: bool,
}

/// A ciphertext byte range `[start, end)` of an object's concatenated extents.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CiphertextRange {
    /// First byte.
    pub start: u64,
    /// One past the last byte.
    pub end: u64,
}
