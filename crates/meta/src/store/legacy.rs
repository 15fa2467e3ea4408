//! The record layouts of older record versions, and which layout each stored record type has had.
//!
//! Version 1 records carry no wrapping key version in their encryption record; they decode with
//! `wrapping: None`, which the inventory reports as an unknown version until a rewrap records it.

use cang_meta_api::{
    AccessKey, Account, Acl, Bucket, DataEncryption, MultipartUpload, ObjectMeta, ObjectSse, ObjectType,
    Policy, SseAlgorithm, User,
};
use serde::Deserialize;

use super::blob::StoredExtent;
use super::object::StoredObject;
use super::tables::Record;

impl Record for Bucket {}
impl Record for Account {}
impl Record for User {}
impl Record for AccessKey {}
impl Record for Policy {}

impl Record for StoredObject {
    fn decode_v1(body: &[u8]) -> postcard::Result<Self> {
        postcard::from_bytes::<StoredObjectV1>(body).map(Into::into)
    }
}

impl Record for MultipartUpload {
    fn decode_v1(body: &[u8]) -> postcard::Result<Self> {
        postcard::from_bytes::<MultipartUploadV1>(body).map(Into::into)
    }
}

#[derive(Deserialize)]
struct ObjectSseV1 {
    algorithm: SseAlgorithm,
    key_id: Option<String>,
    data_encryption: Option<DataEncryption>,
    wrapped_key: Vec<u8>,
}

#[derive(Deserialize)]
struct ObjectMetaV1 {
    content_type: String,
    user_meta: Vec<(String, String)>,
    headers: Vec<(String, String)>,
    acl: Acl,
    sse: Option<ObjectSseV1>,
}

impl From<ObjectMetaV1> for ObjectMeta {
    fn from(m: ObjectMetaV1) -> Self {
        Self {
            content_type: m.content_type,
            user_meta: m.user_meta,
            headers: m.headers,
            acl: m.acl,
            sse: m.sse.map(|s| ObjectSse {
                algorithm: s.algorithm,
                key_id: s.key_id,
                data_encryption: s.data_encryption,
                wrapped_key: s.wrapped_key,
                wrapping: None,
            }),
        }
    }
}

#[derive(Deserialize)]
struct StoredObjectV1 {
    size: u64,
    etag: String,
    crc64: Option<u64>,
    last_modified_ms: u64,
    object_type: ObjectType,
    meta: ObjectMetaV1,
    extents: Vec<StoredExtent>,
}

impl From<StoredObjectV1> for StoredObject {
    fn from(o: StoredObjectV1) -> Self {
        Self {
            size: o.size,
            etag: o.etag,
            crc64: o.crc64,
            last_modified_ms: o.last_modified_ms,
            object_type: o.object_type,
            meta: o.meta.into(),
            extents: o.extents,
        }
    }
}

#[derive(Deserialize)]
struct MultipartUploadV1 {
    bucket: String,
    key: String,
    upload_id: String,
    initiated_ms: u64,
    meta: ObjectMetaV1,
}

impl From<MultipartUploadV1> for MultipartUpload {
    fn from(u: MultipartUploadV1) -> Self {
        Self {
            bucket: u.bucket,
            key: u.key,
            upload_id: u.upload_id,
            initiated_ms: u.initiated_ms,
            meta: u.meta.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde::Serialize;

    use super::*;
    use crate::store::tables::decode;

    /// The version-1 layouts as they were written, to produce genuine old bytes.
    #[derive(Serialize)]
    struct OldSse<'a> {
        algorithm: SseAlgorithm,
        key_id: Option<&'a str>,
        data_encryption: Option<DataEncryption>,
        wrapped_key: &'a [u8],
    }

    #[derive(Serialize)]
    struct OldMeta<'a> {
        content_type: &'a str,
        user_meta: Vec<(&'a str, &'a str)>,
        headers: Vec<(&'a str, &'a str)>,
        acl: Acl,
        sse: Option<OldSse<'a>>,
    }

    fn v1<T: Serialize>(record: &T) -> Vec<u8> {
        let mut out = vec![1u8];
        out.extend(postcard::to_allocvec(record).unwrap());
        out
    }

    fn old_meta() -> OldMeta<'static> {
        OldMeta {
            content_type: "text/plain",
            user_meta: vec![("colour", "blue")],
            headers: vec![],
            acl: Acl::Private,
            sse: Some(OldSse {
                algorithm: SseAlgorithm::Kms,
                key_id: Some("key-1"),
                data_encryption: None,
                wrapped_key: &[0, 9, 9],
            }),
        }
    }

    #[test]
    fn a_version_1_upload_decodes_with_an_unknown_wrapping() {
        #[derive(Serialize)]
        struct OldUpload<'a> {
            bucket: &'a str,
            key: &'a str,
            upload_id: &'a str,
            initiated_ms: u64,
            meta: OldMeta<'a>,
        }
        let bytes = v1(&OldUpload {
            bucket: "b",
            key: "k",
            upload_id: "U",
            initiated_ms: 7,
            meta: old_meta(),
        });
        let upload: MultipartUpload = decode(&bytes).unwrap();
        assert_eq!(upload.upload_id, "U");
        assert_eq!(upload.meta.user_meta, vec![("colour".into(), "blue".into())]);
        let sse = upload.meta.sse.unwrap();
        assert_eq!(sse.key_id.as_deref(), Some("key-1"));
        assert_eq!(sse.wrapped_key, vec![0, 9, 9]);
        assert_eq!(sse.wrapping, None);
    }

    #[test]
    fn a_version_1_object_decodes_and_re_encodes_as_version_2() {
        #[derive(Serialize)]
        struct OldObject<'a> {
            size: u64,
            etag: &'a str,
            crc64: Option<u64>,
            last_modified_ms: u64,
            object_type: ObjectType,
            meta: OldMeta<'a>,
            extents: Vec<StoredExtent>,
        }
        let bytes = v1(&OldObject {
            size: 3,
            etag: "E",
            crc64: Some(5),
            last_modified_ms: 9,
            object_type: ObjectType::Normal,
            meta: old_meta(),
            extents: vec![],
        });
        let object: StoredObject = decode(&bytes).unwrap();
        assert_eq!((object.size, object.etag.as_str()), (3, "E"));
        assert_eq!(object.meta.sse.as_ref().unwrap().wrapping, None);
        let again = crate::store::tables::encode(&object).unwrap();
        assert_eq!(again[0], 2);
        assert_eq!(decode::<StoredObject>(&again).unwrap(), object);
    }

    proptest::proptest! {
        /// Whatever bytes a record holds (a torn page, a foreign file), decoding answers an error or a record,
        /// never a panic, under every record version.
        #[test]
        fn arbitrary_record_bytes_never_panic(version in 0u8..4, body in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300)) {
            let mut bytes = vec![version];
            bytes.extend(body);
            let _ = decode::<StoredObject>(&bytes);
            let _ = decode::<MultipartUpload>(&bytes);
            let _ = decode::<Bucket>(&bytes);
        }
    }

    #[test]
    fn an_unknown_record_version_is_refused() {
        let err = decode::<Bucket>(&[9, 0, 0]).unwrap_err();
        assert!(err.to_string().contains("unknown record version 9"), "{err}");
    }
}
