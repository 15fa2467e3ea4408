//! Conversions between generated protobuf messages and domain types. Receiving is `TryFrom` and
//! validates (unknown enum values, missing messages); sending is `From`.

use cang_proto::cang::meta::v1 as pb;

use crate::{
    Acl, AppendObjectHeader, Bucket, BucketEncryptionRule, BucketStats, CiphertextRange, DataEncryption,
    ExpectedObject, Extent, MetaError, MultipartUpload, ObjectInfo, ObjectMeta, ObjectSse, ObjectType,
    PartInfo, Preconditions, PutObjectHeader, PutTrailer, SseAlgorithm, UploadPartHeader,
};

pub(crate) fn bad(what: &str) -> MetaError {
    MetaError::InvalidArgument(format!("invalid {what}"))
}

pub(crate) fn algorithm_to_pb(a: SseAlgorithm) -> i32 {
    let v = match a {
        SseAlgorithm::None => pb::SseAlgorithm::None,
        SseAlgorithm::Aes256 => pb::SseAlgorithm::Aes256,
        SseAlgorithm::Sm4 => pb::SseAlgorithm::Sm4,
        SseAlgorithm::Kms => pb::SseAlgorithm::Kms,
    };
    v.into()
}

pub(crate) fn algorithm_from_pb(v: i32) -> Result<SseAlgorithm, MetaError> {
    match pb::SseAlgorithm::try_from(v) {
        Ok(pb::SseAlgorithm::None) => Ok(SseAlgorithm::None),
        Ok(pb::SseAlgorithm::Aes256) => Ok(SseAlgorithm::Aes256),
        Ok(pb::SseAlgorithm::Sm4) => Ok(SseAlgorithm::Sm4),
        Ok(pb::SseAlgorithm::Kms) => Ok(SseAlgorithm::Kms),
        Ok(pb::SseAlgorithm::Unspecified) | Err(_) => Err(bad("encryption algorithm")),
    }
}

pub(crate) fn data_encryption_to_pb(d: Option<DataEncryption>) -> i32 {
    match d {
        None => pb::DataEncryption::Unspecified.into(),
        Some(DataEncryption::Sm4) => pb::DataEncryption::Sm4.into(),
    }
}

pub(crate) fn data_encryption_from_pb(v: i32) -> Result<Option<DataEncryption>, MetaError> {
    match pb::DataEncryption::try_from(v) {
        Ok(pb::DataEncryption::Unspecified) => Ok(None),
        Ok(pb::DataEncryption::Sm4) => Ok(Some(DataEncryption::Sm4)),
        Err(_) => Err(bad("data encryption")),
    }
}

pub(crate) fn acl_to_pb(a: Acl) -> i32 {
    let v = match a {
        Acl::Default => pb::Acl::Default,
        Acl::Private => pb::Acl::Private,
        Acl::PublicRead => pb::Acl::PublicRead,
        Acl::PublicReadWrite => pb::Acl::PublicReadWrite,
    };
    v.into()
}

pub(crate) fn acl_from_pb(v: i32) -> Result<Acl, MetaError> {
    match pb::Acl::try_from(v) {
        Ok(pb::Acl::Default) => Ok(Acl::Default),
        Ok(pb::Acl::Private) => Ok(Acl::Private),
        Ok(pb::Acl::PublicRead) => Ok(Acl::PublicRead),
        Ok(pb::Acl::PublicReadWrite) => Ok(Acl::PublicReadWrite),
        Err(_) => Err(bad("ACL")),
    }
}

impl From<BucketEncryptionRule> for pb::BucketEncryptionRule {
    fn from(r: BucketEncryptionRule) -> Self {
        Self {
            algorithm: algorithm_to_pb(r.algorithm),
            kms_key_id: r.kms_key_id,
            data_encryption: data_encryption_to_pb(r.data_encryption),
        }
    }
}

impl TryFrom<pb::BucketEncryptionRule> for BucketEncryptionRule {
    type Error = MetaError;
    fn try_from(r: pb::BucketEncryptionRule) -> Result<Self, MetaError> {
        Ok(Self {
            algorithm: algorithm_from_pb(r.algorithm)?,
            kms_key_id: r.kms_key_id,
            data_encryption: data_encryption_from_pb(r.data_encryption)?,
        })
    }
}

impl From<Bucket> for pb::Bucket {
    fn from(b: Bucket) -> Self {
        Self {
            name: b.name,
            owner: b.owner,
            location: b.location,
            acl: acl_to_pb(b.acl),
            encryption: b.encryption.map(Into::into),
            created_ms: b.created_ms,
        }
    }
}

impl TryFrom<pb::Bucket> for Bucket {
    type Error = MetaError;
    fn try_from(b: pb::Bucket) -> Result<Self, MetaError> {
        Ok(Self {
            name: b.name,
            owner: b.owner,
            location: b.location,
            acl: acl_from_pb(b.acl)?,
            encryption: b.encryption.map(TryInto::try_into).transpose()?,
            created_ms: b.created_ms,
        })
    }
}

impl From<BucketStats> for pb::BucketStats {
    fn from(s: BucketStats) -> Self {
        Self {
            object_count: s.object_count,
            storage_bytes: s.storage_bytes,
            multipart_upload_count: s.multipart_upload_count,
        }
    }
}

impl From<pb::BucketStats> for BucketStats {
    fn from(s: pb::BucketStats) -> Self {
        Self {
            object_count: s.object_count,
            storage_bytes: s.storage_bytes,
            multipart_upload_count: s.multipart_upload_count,
        }
    }
}

fn pairs_to_pb(pairs: Vec<(String, String)>) -> Vec<pb::KeyValue> {
    pairs
        .into_iter()
        .map(|(name, value)| pb::KeyValue { name, value })
        .collect()
}

fn pairs_from_pb(pairs: Vec<pb::KeyValue>) -> Vec<(String, String)> {
    pairs.into_iter().map(|kv| (kv.name, kv.value)).collect()
}

impl From<ObjectMeta> for pb::ObjectMeta {
    fn from(m: ObjectMeta) -> Self {
        Self {
            content_type: m.content_type,
            user_meta: pairs_to_pb(m.user_meta),
            headers: pairs_to_pb(m.headers),
            acl: acl_to_pb(m.acl),
            sse: m.sse.map(|s| pb::ObjectSse {
                algorithm: algorithm_to_pb(s.algorithm),
                key_id: s.key_id,
                data_encryption: data_encryption_to_pb(s.data_encryption),
                wrapped_key: s.wrapped_key.into(),
                wrapping: s.wrapping.map(Into::into),
            }),
        }
    }
}

impl TryFrom<pb::ObjectMeta> for ObjectMeta {
    type Error = MetaError;
    fn try_from(m: pb::ObjectMeta) -> Result<Self, MetaError> {
        Ok(Self {
            content_type: m.content_type,
            user_meta: pairs_from_pb(m.user_meta),
            headers: pairs_from_pb(m.headers),
            acl: acl_from_pb(m.acl)?,
            sse: m
                .sse
                .map(|s| {
                    Ok::<_, MetaError>(ObjectSse {
                        algorithm: algorithm_from_pb(s.algorithm)?,
                        key_id: s.key_id,
                        data_encryption: data_encryption_from_pb(s.data_encryption)?,
                        wrapped_key: s.wrapped_key.to_vec(),
                        wrapping: s.wrapping.map(TryInto::try_into).transpose()?,
                    })
                })
                .transpose()?,
        })
    }
}

/// A required message field.
pub(crate) fn meta_from(m: Option<pb::ObjectMeta>) -> Result<ObjectMeta, MetaError> {
    m.ok_or_else(|| bad("request: object metadata missing"))?
        .try_into()
}

pub(crate) fn object_type_to_pb(t: ObjectType) -> i32 {
    match t {
        ObjectType::Normal => pb::ObjectType::Normal.into(),
        ObjectType::Multipart => pb::ObjectType::Multipart.into(),
        ObjectType::Appendable => pb::ObjectType::Appendable.into(),
    }
}

fn object_type_from_pb(v: i32) -> Result<ObjectType, MetaError> {
    match pb::ObjectType::try_from(v) {
        Ok(pb::ObjectType::Normal) => Ok(ObjectType::Normal),
        Ok(pb::ObjectType::Multipart) => Ok(ObjectType::Multipart),
        Ok(pb::ObjectType::Appendable) => Ok(ObjectType::Appendable),
        Ok(pb::ObjectType::Unspecified) | Err(_) => Err(bad("object type")),
    }
}

impl From<ObjectInfo> for pb::ObjectInfo {
    fn from(o: ObjectInfo) -> Self {
        Self {
            bucket: o.bucket,
            key: o.key,
            size: o.size,
            ciphertext_size: o.ciphertext_size,
            etag: o.etag,
            crc64: o.crc64,
            last_modified_ms: o.last_modified_ms,
            object_type: object_type_to_pb(o.object_type),
            meta: Some(o.meta.into()),
            extents: o
                .extents
                .into_iter()
                .map(|e| pb::Extent {
                    ciphertext_offset: e.ciphertext_offset,
                    ciphertext_len: e.ciphertext_len,
                    plaintext_offset: e.plaintext_offset,
                    plaintext_len: e.plaintext_len,
                    format: e.format.into(),
                })
                .collect(),
        }
    }
}

impl TryFrom<pb::ObjectInfo> for ObjectInfo {
    type Error = MetaError;
    fn try_from(o: pb::ObjectInfo) -> Result<Self, MetaError> {
        Ok(Self {
            bucket: o.bucket,
            key: o.key,
            size: o.size,
            ciphertext_size: o.ciphertext_size,
            etag: o.etag,
            crc64: o.crc64,
            last_modified_ms: o.last_modified_ms,
            object_type: object_type_from_pb(o.object_type)?,
            meta: meta_from(o.meta)?,
            extents: o
                .extents
                .into_iter()
                .map(|e| Extent {
                    ciphertext_offset: e.ciphertext_offset,
                    ciphertext_len: e.ciphertext_len,
                    plaintext_offset: e.plaintext_offset,
                    plaintext_len: e.plaintext_len,
                    format: e.format.to_vec(),
                })
                .collect(),
        })
    }
}

impl From<PutTrailer> for pb::WriteTrailer {
    fn from(t: PutTrailer) -> Self {
        Self {
            plaintext_len: t.plaintext_len,
            etag: t.etag,
            crc64: t.crc64,
        }
    }
}

impl From<pb::WriteTrailer> for PutTrailer {
    fn from(t: pb::WriteTrailer) -> Self {
        Self {
            plaintext_len: t.plaintext_len,
            etag: t.etag,
            crc64: t.crc64,
        }
    }
}

impl From<PutObjectHeader> for pb::PutObjectHeader {
    fn from(h: PutObjectHeader) -> Self {
        Self {
            bucket: h.bucket,
            key: h.key,
            meta: Some(h.meta.into()),
            format: h.format.into(),
            forbid_overwrite: h.forbid_overwrite,
            replaces: h.replaces.map(|r| pb::ExpectedObject {
                etag: r.etag,
                last_modified_ms: r.last_modified_ms,
                wrapped_key: r.wrapped_key.into(),
            }),
        }
    }
}

impl TryFrom<pb::PutObjectHeader> for PutObjectHeader {
    type Error = MetaError;
    fn try_from(h: pb::PutObjectHeader) -> Result<Self, MetaError> {
        Ok(Self {
            bucket: h.bucket,
            key: h.key,
            meta: meta_from(h.meta)?,
            format: h.format.to_vec(),
            forbid_overwrite: h.forbid_overwrite,
            replaces: h.replaces.map(|r| ExpectedObject {
                etag: r.etag,
                last_modified_ms: r.last_modified_ms,
                wrapped_key: r.wrapped_key.to_vec(),
            }),
        })
    }
}

impl From<AppendObjectHeader> for pb::AppendObjectHeader {
    fn from(h: AppendObjectHeader) -> Self {
        Self {
            bucket: h.bucket,
            key: h.key,
            position: h.position,
            meta: Some(h.meta.into()),
            format: h.format.into(),
        }
    }
}

impl TryFrom<pb::AppendObjectHeader> for AppendObjectHeader {
    type Error = MetaError;
    fn try_from(h: pb::AppendObjectHeader) -> Result<Self, MetaError> {
        Ok(Self {
            bucket: h.bucket,
            key: h.key,
            position: h.position,
            meta: meta_from(h.meta)?,
            format: h.format.to_vec(),
        })
    }
}

impl From<UploadPartHeader> for pb::UploadPartHeader {
    fn from(h: UploadPartHeader) -> Self {
        Self {
            bucket: h.bucket,
            key: h.key,
            upload_id: h.upload_id,
            part_number: h.part_number,
            format: h.format.into(),
        }
    }
}

impl From<pb::UploadPartHeader> for UploadPartHeader {
    fn from(h: pb::UploadPartHeader) -> Self {
        Self {
            bucket: h.bucket,
            key: h.key,
            upload_id: h.upload_id,
            part_number: h.part_number,
            format: h.format.to_vec(),
        }
    }
}

impl From<Preconditions> for pb::Preconditions {
    fn from(p: Preconditions) -> Self {
        Self {
            if_match: p.if_match,
            if_none_match: p.if_none_match,
            if_modified_since_ms: p.if_modified_since_ms,
            if_unmodified_since_ms: p.if_unmodified_since_ms,
        }
    }
}

impl From<pb::Preconditions> for Preconditions {
    fn from(p: pb::Preconditions) -> Self {
        Self {
            if_match: p.if_match,
            if_none_match: p.if_none_match,
            if_modified_since_ms: p.if_modified_since_ms,
            if_unmodified_since_ms: p.if_unmodified_since_ms,
        }
    }
}

impl From<CiphertextRange> for pb::CiphertextRange {
    fn from(r: CiphertextRange) -> Self {
        Self {
            start: r.start,
            end: r.end,
        }
    }
}

impl From<pb::CiphertextRange> for CiphertextRange {
    fn from(r: pb::CiphertextRange) -> Self {
        Self {
            start: r.start,
            end: r.end,
        }
    }
}

impl From<MultipartUpload> for pb::MultipartUpload {
    fn from(u: MultipartUpload) -> Self {
        Self {
            bucket: u.bucket,
            key: u.key,
            upload_id: u.upload_id,
            initiated_ms: u.initiated_ms,
            meta: Some(u.meta.into()),
        }
    }
}

impl TryFrom<pb::MultipartUpload> for MultipartUpload {
    type Error = MetaError;
    fn try_from(u: pb::MultipartUpload) -> Result<Self, MetaError> {
        Ok(Self {
            bucket: u.bucket,
            key: u.key,
            upload_id: u.upload_id,
            initiated_ms: u.initiated_ms,
            meta: meta_from(u.meta)?,
        })
    }
}

impl From<PartInfo> for pb::PartInfo {
    fn from(p: PartInfo) -> Self {
        Self {
            part_number: p.part_number,
            etag: p.etag,
            size: p.size,
            ciphertext_size: p.ciphertext_size,
            crc64: p.crc64,
            last_modified_ms: p.last_modified_ms,
            format: p.format.into(),
        }
    }
}

impl From<pb::PartInfo> for PartInfo {
    fn from(p: pb::PartInfo) -> Self {
        Self {
            part_number: p.part_number,
            etag: p.etag,
            size: p.size,
            ciphertext_size: p.ciphertext_size,
            crc64: p.crc64,
            last_modified_ms: p.last_modified_ms,
            format: p.format.to_vec(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info() -> ObjectInfo {
        ObjectInfo {
            bucket: "bkt".into(),
            key: "目录/对象".into(),
            size: 70_000,
            ciphertext_size: 70_032,
            etag: "ABC".into(),
            crc64: Some(u64::MAX),
            last_modified_ms: 1_700_000_000_123,
            object_type: ObjectType::Appendable,
            meta: ObjectMeta {
                content_type: "text/plain".into(),
                user_meta: vec![("a".into(), "b".into())],
                headers: vec![("Cache-Control".into(), "no-cache".into())],
                acl: Acl::PublicRead,
                sse: Some(ObjectSse {
                    algorithm: SseAlgorithm::Kms,
                    key_id: Some("key-1".into()),
                    data_encryption: Some(DataEncryption::Sm4),
                    wrapped_key: vec![1, 2, 3],
                    wrapping: Some(crate::WrappingKey {
                        key_id: "key-1".into(),
                        version_id: "v2".into(),
                    }),
                }),
            },
            extents: vec![Extent {
                ciphertext_offset: 0,
                ciphertext_len: 70_032,
                plaintext_offset: 0,
                plaintext_len: 70_000,
                format: vec![9; 40],
            }],
        }
    }

    #[test]
    fn object_info_round_trips() {
        let original = info();
        let back = ObjectInfo::try_from(pb::ObjectInfo::from(original.clone())).unwrap();
        assert_eq!(back, original);
    }

    #[test]
    fn unknown_enum_values_and_missing_messages_are_refused() {
        let mut msg = pb::ObjectInfo::from(info());
        msg.object_type = 99;
        assert!(matches!(
            ObjectInfo::try_from(msg),
            Err(MetaError::InvalidArgument(_))
        ));
        let mut msg = pb::ObjectInfo::from(info());
        msg.meta = None;
        assert!(matches!(
            ObjectInfo::try_from(msg),
            Err(MetaError::InvalidArgument(_))
        ));
        assert!(algorithm_from_pb(0).is_err());
        assert!(acl_from_pb(7).is_err());
    }
}
