//! Request bodies: `CreateBucketConfiguration`, `ServerSideEncryptionRule`, `Delete`,
//! `CompleteMultipartUpload` and `AccessControlPolicy`. Each has a parser (validating per §4–§7) and a
//! writer producing what the SDKs send, used by tests and by clients of this library.

use super::dom::parse_root;
use super::write::XmlWriter;
use crate::error::OssError;
use crate::headers::sse::SseRule;
use crate::model::{CannedAcl, DataRedundancyType, StorageClass};

/// Most keys one DeleteMultipleObjects request may name.
pub const MAX_DELETE_KEYS: usize = 1000;
/// Highest part number.
pub const MAX_PART_NUMBER: u32 = 10_000;

/// `<CreateBucketConfiguration>` (PutBucket body, optional).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CreateBucketConfiguration {
    /// `<StorageClass>`.
    pub storage_class: Option<StorageClass>,
    /// `<DataRedundancyType>`.
    pub data_redundancy_type: Option<DataRedundancyType>,
}

impl CreateBucketConfiguration {
    /// Parses the body; an empty body is the default configuration. An unknown storage class is
    /// `400 InvalidArgument` ("No such bucket storage class exists.").
    pub fn parse(body: &[u8]) -> Result<Self, OssError> {
        if body.iter().all(u8::is_ascii_whitespace) {
            return Ok(Self::default());
        }
        let root = parse_root(body, "CreateBucketConfiguration")?;
        Ok(Self {
            storage_class: root
                .trimmed_of("StorageClass")?
                .filter(|s| !s.is_empty())
                .map(StorageClass::parse)
                .transpose()?,
            data_redundancy_type: root
                .trimmed_of("DataRedundancyType")?
                .filter(|s| !s.is_empty())
                .map(DataRedundancyType::parse)
                .transpose()?,
        })
    }

    /// The body as SDKs send it.
    pub fn to_xml(&self) -> String {
        let mut w = XmlWriter::new();
        w.open("CreateBucketConfiguration")
            .text_opt("StorageClass", self.storage_class.map(StorageClass::as_str))
            .text_opt(
                "DataRedundancyType",
                self.data_redundancy_type.map(DataRedundancyType::as_str),
            )
            .close("CreateBucketConfiguration");
        w.finish()
    }
}

/// Parses a PutBucketEncryption body (§5.1) into a validated rule.
pub fn parse_bucket_encryption(body: &[u8]) -> Result<SseRule, OssError> {
    let root = parse_root(body, "ServerSideEncryptionRule")?;
    let rule = root.child("ApplyServerSideEncryptionByDefault")?.ok_or_else(|| {
        OssError::malformed_xml("<ServerSideEncryptionRule> is missing <ApplyServerSideEncryptionByDefault>")
    })?;
    SseRule::bucket_default(
        rule.required("SSEAlgorithm")?,
        rule.trimmed_of("KMSMasterKeyID")?,
        rule.trimmed_of("KMSDataEncryption")?,
    )
}

/// The `<ServerSideEncryptionRule>` document: the PutBucketEncryption body and the GetBucketEncryption
/// response (§5.1, §5.2), empty children omitted.
pub fn bucket_encryption_xml(rule: &SseRule) -> String {
    let mut w = XmlWriter::new();
    w.open("ServerSideEncryptionRule")
        .open("ApplyServerSideEncryptionByDefault");
    w.text("SSEAlgorithm", rule.algorithm.as_str())
        .text_opt("KMSMasterKeyID", rule.kms_key_id.as_deref())
        .text_opt("KMSDataEncryption", rule.data_encryption.map(|d| d.as_str()));
    w.close("ApplyServerSideEncryptionByDefault")
        .close("ServerSideEncryptionRule");
    w.finish()
}

/// One `<Object>` of a multi-delete.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeleteEntry {
    /// The key, exactly as sent (control characters included; `encoding-type=url` keys are decoded by the
    /// caller, since the request's query says which form they take).
    pub key: String,
    /// `<VersionId>`, if any.
    pub version_id: Option<String>,
}

/// The `<Delete>` body of DeleteMultipleObjects (§6.10).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeleteRequest {
    /// `<Quiet>true</Quiet>`: report failures only.
    pub quiet: bool,
    /// The objects, in request order (1..=1000).
    pub objects: Vec<DeleteEntry>,
}

impl DeleteRequest {
    /// Parses the body. No objects, more than 1000, an empty key or a `<Quiet>` that is not a boolean are
    /// `400 MalformedXML`. Keys are not trimmed: leading and trailing spaces belong to the key.
    pub fn parse(body: &[u8]) -> Result<Self, OssError> {
        let root = parse_root(body, "Delete")?;
        let quiet = match root.trimmed_of("Quiet")? {
            None | Some("") => false,
            Some(q) if q.eq_ignore_ascii_case("true") => true,
            Some(q) if q.eq_ignore_ascii_case("false") => false,
            Some(_) => return Err(OssError::malformed_xml("<Quiet> must be true or false")),
        };
        let objects = root
            .all("Object")
            .map(|o| {
                let key = o
                    .text_of("Key")?
                    .ok_or_else(|| OssError::malformed_xml("<Object> is missing <Key>"))?;
                if key.is_empty() {
                    return Err(OssError::malformed_xml("<Key> must not be empty"));
                }
                let version_id = o
                    .trimmed_of("VersionId")?
                    .filter(|v| !v.is_empty())
                    .map(str::to_owned);
                Ok(DeleteEntry {
                    key: key.to_owned(),
                    version_id,
                })
            })
            .collect::<Result<Vec<_>, OssError>>()?;
        if objects.is_empty() {
            return Err(OssError::malformed_xml("<Delete> names no <Object>"));
        }
        if objects.len() > MAX_DELETE_KEYS {
            return Err(OssError::malformed_xml(format!(
                "<Delete> names more than {MAX_DELETE_KEYS} objects"
            )));
        }
        Ok(Self { quiet, objects })
    }

    /// The body as SDKs send it.
    pub fn to_xml(&self) -> String {
        let mut w = XmlWriter::new();
        w.open("Delete").boolean("Quiet", self.quiet);
        for o in &self.objects {
            w.open("Object")
                .text("Key", &o.key)
                .text_opt("VersionId", o.version_id.as_deref())
                .close("Object");
        }
        w.close("Delete");
        w.finish()
    }
}

/// One `<Part>` of CompleteMultipartUpload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompletedPart {
    /// 1..=10000.
    pub part_number: u32,
    /// The part's ETag as sent (compare with [`crate::checksum::etags_match`]).
    pub etag: String,
}

/// Parses a `<CompleteMultipartUpload>` body (§7.4). No parts is `400 MalformedXML`; a part number outside
/// 1..=10000 or not strictly ascending is `400 InvalidPartOrder`.
pub fn parse_complete_multipart_upload(body: &[u8]) -> Result<Vec<CompletedPart>, OssError> {
    let root = parse_root(body, "CompleteMultipartUpload")?;
    let mut parts: Vec<CompletedPart> = Vec::new();
    for part in root.all("Part") {
        let number = part.required("PartNumber")?;
        let part_number: u32 = number
            .parse()
            .map_err(|_| OssError::malformed_xml("<PartNumber> must be an integer"))?;
        if !(1..=MAX_PART_NUMBER).contains(&part_number) {
            return Err(OssError::invalid_part_order());
        }
        if parts.last().is_some_and(|prev| prev.part_number >= part_number) {
            return Err(OssError::invalid_part_order());
        }
        parts.push(CompletedPart {
            part_number,
            etag: part.required("ETag")?.to_owned(),
        });
    }
    if parts.is_empty() {
        return Err(OssError::malformed_xml(
            "<CompleteMultipartUpload> names no <Part>",
        ));
    }
    Ok(parts)
}

/// The `<CompleteMultipartUpload>` body as SDKs send it.
pub fn complete_multipart_upload_xml(parts: &[CompletedPart]) -> String {
    let mut w = XmlWriter::new();
    w.open("CompleteMultipartUpload");
    for p in parts {
        w.open("Part")
            .display("PartNumber", p.part_number)
            .text("ETag", &p.etag)
            .close("Part");
    }
    w.close("CompleteMultipartUpload");
    w.finish()
}

/// Parses an `<AccessControlPolicy>` body: the canned ACL in `AccessControlList/Grant`.
pub fn parse_access_control_policy(body: &[u8]) -> Result<CannedAcl, OssError> {
    let root = parse_root(body, "AccessControlPolicy")?;
    let list = root
        .child("AccessControlList")?
        .ok_or_else(|| OssError::malformed_xml("<AccessControlPolicy> is missing <AccessControlList>"))?;
    CannedAcl::parse(list.required("Grant")?)
}
