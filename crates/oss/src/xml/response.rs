//! Response bodies of §4–§7, written with exactly the elements each SDK parser requires (§10): plain root
//! names, `.000Z` timestamps, quoted ETags, lower-case booleans and `encoding-type=url` encoding (§6.15).

use std::time::SystemTime;

use super::write::XmlWriter;
use crate::checksum::etag_unquoted;
use crate::date::xml_date;
use crate::headers::sse::SseRule;
use crate::model::{CannedAcl, DataRedundancyType, ObjectType, StorageClass};
use crate::percent::encode_strict;

/// Encodes a listing string when `encoding-type=url` was requested, else passes it through.
fn enc(url: bool, s: &str) -> String {
    if url { encode_strict(s) } else { s.to_owned() }
}

fn quoted(etag: &str) -> String {
    format!("\"{}\"", etag_unquoted(etag))
}

/// A bucket or object owner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owner {
    /// `<ID>`.
    pub id: String,
    /// `<DisplayName>`.
    pub display_name: String,
}

fn owner(w: &mut XmlWriter, o: &Owner) {
    w.open("Owner")
        .text("ID", &o.id)
        .text("DisplayName", &o.display_name)
        .close("Owner");
}

/// Where a bucket lives, as every bucket listing reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BucketSummary {
    /// Bucket name.
    pub name: String,
    /// Creation time.
    pub creation_date: SystemTime,
    /// `oss-cn-hangzhou`-style location.
    pub location: String,
    /// `cn-hangzhou`-style region.
    pub region: String,
    /// Public endpoint host.
    pub extranet_endpoint: String,
    /// Internal endpoint host.
    pub intranet_endpoint: String,
    /// Storage class.
    pub storage_class: StorageClass,
}

/// ListBuckets (§4.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListBucketsResult {
    /// Echoed prefix.
    pub prefix: Option<String>,
    /// Echoed marker.
    pub marker: Option<String>,
    /// Page size.
    pub max_keys: u32,
    /// More buckets follow.
    pub is_truncated: bool,
    /// Marker of the next page (required when truncated).
    pub next_marker: Option<String>,
    /// The account.
    pub owner: Owner,
    /// The buckets, in name order.
    pub buckets: Vec<BucketSummary>,
}

impl ListBucketsResult {
    /// The `<ListAllMyBucketsResult>` document.
    pub fn to_xml(&self) -> String {
        let mut w = XmlWriter::new();
        w.open("ListAllMyBucketsResult")
            .text("Prefix", self.prefix.as_deref().unwrap_or(""))
            .text("Marker", self.marker.as_deref().unwrap_or(""))
            .display("MaxKeys", self.max_keys)
            .boolean("IsTruncated", self.is_truncated)
            .text("NextMarker", self.next_marker.as_deref().unwrap_or(""));
        owner(&mut w, &self.owner);
        w.open("Buckets");
        for b in &self.buckets {
            w.open("Bucket")
                .text("CreationDate", &xml_date(b.creation_date))
                .text("ExtranetEndpoint", &b.extranet_endpoint)
                .text("IntranetEndpoint", &b.intranet_endpoint)
                .text("Location", &b.location)
                .text("Name", &b.name)
                .text("Region", &b.region)
                .text("StorageClass", b.storage_class.as_str())
                .close("Bucket");
        }
        w.close("Buckets").close("ListAllMyBucketsResult");
        w.finish()
    }
}

/// GetBucketInfo (§4.4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BucketInfo {
    /// Name, creation date, location and endpoints.
    pub summary: BucketSummary,
    /// Redundancy type.
    pub data_redundancy_type: DataRedundancyType,
    /// Owner.
    pub owner: Owner,
    /// Bucket ACL.
    pub acl: CannedAcl,
    /// Free-text comment (always emitted, possibly empty).
    pub comment: String,
    /// Default encryption; `None` renders `<SSEAlgorithm>None</SSEAlgorithm>`.
    pub encryption: Option<SseRule>,
}

impl BucketInfo {
    /// The `<BucketInfo>` document, SSE children directly under `ServerSideEncryptionRule`.
    pub fn to_xml(&self) -> String {
        let s = &self.summary;
        let mut w = XmlWriter::new();
        w.open("BucketInfo").open("Bucket");
        w.text("AccessMonitor", "Disabled")
            .text("CreationDate", &xml_date(s.creation_date))
            .text("ExtranetEndpoint", &s.extranet_endpoint)
            .text("IntranetEndpoint", &s.intranet_endpoint)
            .text("Location", &s.location)
            .text("StorageClass", s.storage_class.as_str())
            .text("TransferAcceleration", "Disabled")
            .text("CrossRegionReplication", "Disabled")
            .text("DataRedundancyType", self.data_redundancy_type.as_str())
            .text("Name", &s.name)
            .text("Region", &s.region);
        owner(&mut w, &self.owner);
        w.open("AccessControlList")
            .text("Grant", self.acl.as_str())
            .close("AccessControlList");
        w.text("Comment", &self.comment);
        w.open("ServerSideEncryptionRule");
        match &self.encryption {
            None => {
                w.text("SSEAlgorithm", "None");
            }
            Some(rule) => {
                w.text("SSEAlgorithm", rule.algorithm.as_str())
                    .text_opt("KMSMasterKeyID", rule.kms_key_id.as_deref())
                    .text_opt("KMSDataEncryption", rule.data_encryption.map(|d| d.as_str()));
            }
        }
        w.close("ServerSideEncryptionRule")
            .close("Bucket")
            .close("BucketInfo");
        w.finish()
    }
}

/// GetBucketLocation (§4.5).
pub fn location_constraint_xml(location: &str) -> String {
    let mut w = XmlWriter::new();
    w.text("LocationConstraint", location);
    w.finish()
}

/// GetBucketAcl / GetObjectAcl (§4.6, §6.16).
pub fn access_control_policy_xml(o: &Owner, acl: CannedAcl) -> String {
    let mut w = XmlWriter::new();
    w.open("AccessControlPolicy");
    owner(&mut w, o);
    w.open("AccessControlList")
        .text("Grant", acl.as_str())
        .close("AccessControlList");
    w.close("AccessControlPolicy");
    w.finish()
}

/// GetBucketStat (§4.8).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BucketStat {
    /// Stored bytes.
    pub storage: u64,
    /// Number of objects.
    pub object_count: u64,
    /// Number of unfinished multipart uploads.
    pub multipart_upload_count: u64,
}

impl BucketStat {
    /// The `<BucketStat>` document.
    pub fn to_xml(&self) -> String {
        let mut w = XmlWriter::new();
        w.open("BucketStat")
            .display("Storage", self.storage)
            .display("ObjectCount", self.object_count)
            .display("MultipartUploadCount", self.multipart_upload_count)
            .close("BucketStat");
        w.finish()
    }
}

/// One object in a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectSummary {
    /// Key.
    pub key: String,
    /// Last modification.
    pub last_modified: SystemTime,
    /// ETag (quoted or not; written quoted).
    pub etag: String,
    /// Object type.
    pub object_type: ObjectType,
    /// Size in bytes.
    pub size: u64,
    /// Storage class.
    pub storage_class: StorageClass,
    /// Owner (always in v1; v2 only with `fetch-owner=true`).
    pub owner: Option<Owner>,
}

fn contents(w: &mut XmlWriter, url: bool, objects: &[ObjectSummary], with_owner: bool) {
    for o in objects {
        w.open("Contents")
            .text("Key", &enc(url, &o.key))
            .text("LastModified", &xml_date(o.last_modified))
            .text("ETag", &quoted(&o.etag))
            .text("Type", o.object_type.as_str())
            .display("Size", o.size)
            .text("StorageClass", o.storage_class.as_str());
        if with_owner && let Some(o) = &o.owner {
            owner(w, o);
        }
        w.close("Contents");
    }
}

fn common_prefixes(w: &mut XmlWriter, url: bool, prefixes: &[String]) {
    for p in prefixes {
        w.open("CommonPrefixes")
            .text("Prefix", &enc(url, p))
            .close("CommonPrefixes");
    }
}

/// ListObjects v1 (§6.13).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListObjectsResult {
    /// Bucket.
    pub name: String,
    /// Echoed prefix.
    pub prefix: Option<String>,
    /// Echoed marker.
    pub marker: Option<String>,
    /// Page size.
    pub max_keys: u32,
    /// Echoed delimiter.
    pub delimiter: Option<String>,
    /// `encoding-type=url` was requested.
    pub encoding_url: bool,
    /// More entries follow.
    pub is_truncated: bool,
    /// Marker of the next page (written when truncated).
    pub next_marker: Option<String>,
    /// Objects, in key order (each with its owner: Java's v1 parser requires it).
    pub contents: Vec<ObjectSummary>,
    /// Grouped prefixes.
    pub common_prefixes: Vec<String>,
}

impl ListObjectsResult {
    /// The `<ListBucketResult>` document.
    pub fn to_xml(&self) -> String {
        let url = self.encoding_url;
        let mut w = XmlWriter::new();
        w.open("ListBucketResult")
            .text("Name", &self.name)
            .text("Prefix", &enc(url, self.prefix.as_deref().unwrap_or("")))
            .text("Marker", &enc(url, self.marker.as_deref().unwrap_or("")))
            .display("MaxKeys", self.max_keys)
            .text("Delimiter", &enc(url, self.delimiter.as_deref().unwrap_or("")));
        if url {
            w.text("EncodingType", "url");
        }
        w.boolean("IsTruncated", self.is_truncated);
        if self.is_truncated {
            w.text("NextMarker", &enc(url, self.next_marker.as_deref().unwrap_or("")));
        }
        contents(&mut w, url, &self.contents, true);
        common_prefixes(&mut w, url, &self.common_prefixes);
        w.close("ListBucketResult");
        w.finish()
    }
}

/// ListObjectsV2 (§6.14).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListObjectsV2Result {
    /// Bucket.
    pub name: String,
    /// Echoed prefix.
    pub prefix: Option<String>,
    /// Echoed start-after.
    pub start_after: Option<String>,
    /// Echoed continuation token.
    pub continuation_token: Option<String>,
    /// Page size.
    pub max_keys: u32,
    /// Echoed delimiter.
    pub delimiter: Option<String>,
    /// `encoding-type=url` was requested.
    pub encoding_url: bool,
    /// `fetch-owner=true` was requested.
    pub fetch_owner: bool,
    /// More entries follow.
    pub is_truncated: bool,
    /// Token of the next page (written when truncated).
    pub next_continuation_token: Option<String>,
    /// Objects, in key order.
    pub contents: Vec<ObjectSummary>,
    /// Grouped prefixes.
    pub common_prefixes: Vec<String>,
}

impl ListObjectsV2Result {
    /// The `<ListBucketResult>` document with `KeyCount` (Contents + CommonPrefixes).
    pub fn to_xml(&self) -> String {
        let url = self.encoding_url;
        let mut w = XmlWriter::new();
        w.open("ListBucketResult")
            .text("Name", &self.name)
            .text("Prefix", &enc(url, self.prefix.as_deref().unwrap_or("")));
        if let Some(s) = &self.start_after {
            w.text("StartAfter", &enc(url, s));
        }
        if let Some(t) = &self.continuation_token {
            w.text("ContinuationToken", &enc(url, t));
        }
        w.display("MaxKeys", self.max_keys)
            .text("Delimiter", &enc(url, self.delimiter.as_deref().unwrap_or("")));
        if url {
            w.text("EncodingType", "url");
        }
        w.boolean("IsTruncated", self.is_truncated);
        if self.is_truncated {
            w.text(
                "NextContinuationToken",
                &enc(url, self.next_continuation_token.as_deref().unwrap_or("")),
            );
        }
        w.display("KeyCount", self.contents.len() + self.common_prefixes.len());
        contents(&mut w, url, &self.contents, self.fetch_owner);
        common_prefixes(&mut w, url, &self.common_prefixes);
        w.close("ListBucketResult");
        w.finish()
    }
}

/// DeleteMultipleObjects (§6.10): every deleted key (including keys that did not exist). In quiet mode
/// pass no keys; the body is then an empty `<DeleteResult/>`-equivalent.
pub fn delete_result_xml(deleted: &[String], encoding_url: bool) -> String {
    let mut w = XmlWriter::new();
    w.open("DeleteResult");
    if encoding_url {
        w.text("EncodingType", "url");
    }
    for key in deleted {
        w.open("Deleted")
            .text("Key", &enc(encoding_url, key))
            .close("Deleted");
    }
    w.close("DeleteResult");
    w.finish()
}

/// CopyObject (§6.11).
pub fn copy_object_result_xml(etag: &str, last_modified: SystemTime) -> String {
    let mut w = XmlWriter::new();
    w.open("CopyObjectResult")
        .text("ETag", &quoted(etag))
        .text("LastModified", &xml_date(last_modified))
        .close("CopyObjectResult");
    w.finish()
}

/// UploadPartCopy (§7.3).
pub fn copy_part_result_xml(etag: &str, last_modified: SystemTime) -> String {
    let mut w = XmlWriter::new();
    w.open("CopyPartResult")
        .text("LastModified", &xml_date(last_modified))
        .text("ETag", &quoted(etag))
        .close("CopyPartResult");
    w.finish()
}

/// InitiateMultipartUpload (§7.1).
pub fn initiate_multipart_upload_xml(bucket: &str, key: &str, upload_id: &str, encoding_url: bool) -> String {
    let mut w = XmlWriter::new();
    w.open("InitiateMultipartUploadResult");
    if encoding_url {
        w.text("EncodingType", "url");
    }
    w.text("Bucket", bucket)
        .text("Key", &enc(encoding_url, key))
        .text("UploadId", upload_id)
        .close("InitiateMultipartUploadResult");
    w.finish()
}

/// CompleteMultipartUpload (§7.4).
pub fn complete_multipart_upload_result_xml(
    location: &str,
    bucket: &str,
    key: &str,
    etag: &str,
    encoding_url: bool,
) -> String {
    let mut w = XmlWriter::new();
    w.open("CompleteMultipartUploadResult");
    if encoding_url {
        w.text("EncodingType", "url");
    }
    w.text("Location", location)
        .text("Bucket", bucket)
        .text("Key", &enc(encoding_url, key))
        .text("ETag", &quoted(etag))
        .close("CompleteMultipartUploadResult");
    w.finish()
}

/// One unfinished upload in ListMultipartUploads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadSummary {
    /// Key.
    pub key: String,
    /// Upload id.
    pub upload_id: String,
    /// When Initiate was called.
    pub initiated: SystemTime,
    /// Storage class the object will have (real OSS writes it in every `<Upload>`).
    pub storage_class: StorageClass,
}

/// ListMultipartUploads (§7.6).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListUploadsResult {
    /// Bucket.
    pub bucket: String,
    /// Echoed key marker.
    pub key_marker: Option<String>,
    /// Echoed upload id marker.
    pub upload_id_marker: Option<String>,
    /// Next key marker (always written; empty when not truncated).
    pub next_key_marker: Option<String>,
    /// Next upload id marker (always written).
    pub next_upload_id_marker: Option<String>,
    /// Echoed delimiter.
    pub delimiter: Option<String>,
    /// Echoed prefix.
    pub prefix: Option<String>,
    /// Page size.
    pub max_uploads: u32,
    /// More entries follow.
    pub is_truncated: bool,
    /// `encoding-type=url` was requested.
    pub encoding_url: bool,
    /// Uploads, by key then initiation time.
    pub uploads: Vec<UploadSummary>,
    /// Grouped prefixes.
    pub common_prefixes: Vec<String>,
}

impl ListUploadsResult {
    /// The `<ListMultipartUploadsResult>` document.
    pub fn to_xml(&self) -> String {
        let url = self.encoding_url;
        let o = |s: &Option<String>| enc(url, s.as_deref().unwrap_or(""));
        let mut w = XmlWriter::new();
        w.open("ListMultipartUploadsResult")
            .text("Bucket", &self.bucket)
            .text("KeyMarker", &o(&self.key_marker))
            .text("UploadIdMarker", self.upload_id_marker.as_deref().unwrap_or(""))
            .text("NextKeyMarker", &o(&self.next_key_marker))
            .text(
                "NextUploadIdMarker",
                self.next_upload_id_marker.as_deref().unwrap_or(""),
            )
            .text("Delimiter", &o(&self.delimiter))
            .text("Prefix", &o(&self.prefix))
            .display("MaxUploads", self.max_uploads)
            .boolean("IsTruncated", self.is_truncated);
        if url {
            w.text("EncodingType", "url");
        }
        for u in &self.uploads {
            w.open("Upload")
                .text("Key", &enc(url, &u.key))
                .text("UploadId", &u.upload_id)
                .text("Initiated", &xml_date(u.initiated))
                .text("StorageClass", u.storage_class.as_str())
                .close("Upload");
        }
        common_prefixes(&mut w, url, &self.common_prefixes);
        w.close("ListMultipartUploadsResult");
        w.finish()
    }
}

/// One uploaded part in ListParts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartSummary {
    /// Part number.
    pub part_number: u32,
    /// Upload time.
    pub last_modified: SystemTime,
    /// Part ETag.
    pub etag: String,
    /// Part CRC-64/XZ, if known.
    pub crc64: Option<u64>,
    /// Part size.
    pub size: u64,
}

/// ListParts (§7.7).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListPartsResult {
    /// Bucket.
    pub bucket: String,
    /// Key.
    pub key: String,
    /// Upload id.
    pub upload_id: String,
    /// Echoed marker (0 when absent).
    pub part_number_marker: u32,
    /// Marker of the next page (always written).
    pub next_part_number_marker: u32,
    /// Page size.
    pub max_parts: u32,
    /// More parts follow.
    pub is_truncated: bool,
    /// `encoding-type=url` was requested (only `Key` is encoded, as py-v2's decoder expects).
    pub encoding_url: bool,
    /// Storage class of the upload. Real OSS writes it once under the root, not per part (captured
    /// responses; py-v2's `ListPartsResult.storage_class`).
    pub storage_class: StorageClass,
    /// Parts in number order.
    pub parts: Vec<PartSummary>,
}

impl ListPartsResult {
    /// The `<ListPartsResult>` document.
    pub fn to_xml(&self) -> String {
        let mut w = XmlWriter::new();
        w.open("ListPartsResult");
        if self.encoding_url {
            w.text("EncodingType", "url");
        }
        w.text("Bucket", &self.bucket)
            .text("Key", &enc(self.encoding_url, &self.key))
            .text("UploadId", &self.upload_id)
            .display("PartNumberMarker", self.part_number_marker)
            .display("NextPartNumberMarker", self.next_part_number_marker)
            .display("MaxParts", self.max_parts)
            .boolean("IsTruncated", self.is_truncated)
            .text("StorageClass", self.storage_class.as_str());
        for p in &self.parts {
            w.open("Part")
                .display("PartNumber", p.part_number)
                .text("LastModified", &xml_date(p.last_modified))
                .text("ETag", &quoted(&p.etag));
            if let Some(crc) = p.crc64 {
                w.display("HashCrc64ecma", crc);
            }
            w.display("Size", p.size).close("Part");
        }
        w.close("ListPartsResult");
        w.finish()
    }
}
