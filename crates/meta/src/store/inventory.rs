//! The key inventory: objects, bytes and unfinished uploads per (bucket, SSE algorithm, wrapping key
//! version), adjusted inside the transaction of every commit that adds, replaces, removes or re-wraps an
//! object or an upload, so it is never a scan and never stale. A row that drops to zero is removed.

use cang_meta_api::{
    InventoryEntry, InventoryQuery, MetaError, ObjectMeta, RewrapObject, RewrapOutcome, SseAlgorithm,
    WrappingKey, validate_bucket_name, validate_object_key,
};
use redb::{ReadableTable, ReadableTableMetadata, WriteTransaction};

use super::Store;
use super::object::{StoredObject, load_object};
use super::tables::{DbResult, INVENTORY, OBJECTS, UPLOADS, decode, encode};

/// Changes to one inventory row.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Delta {
    pub(crate) objects: i64,
    pub(crate) bytes: i64,
    pub(crate) uploads: i64,
}

impl Delta {
    /// One object of `size` bytes arriving (`sign` 1) or leaving (`sign` -1).
    pub(crate) fn object(sign: i64, size: u64) -> Self {
        Self {
            objects: sign,
            bytes: sign.saturating_mul(super::object::to_i64(size)),
            uploads: 0,
        }
    }

    /// One upload starting (`sign` 1) or ending (`sign` -1).
    pub(crate) fn upload(sign: i64) -> Self {
        Self {
            uploads: sign,
            ..Self::default()
        }
    }
}

fn algorithm_code(a: SseAlgorithm) -> u8 {
    match a {
        SseAlgorithm::None => 0,
        SseAlgorithm::Aes256 => 1,
        SseAlgorithm::Sm4 => 2,
        SseAlgorithm::Kms => 3,
    }
}

fn algorithm_of(code: u8) -> Result<SseAlgorithm, MetaError> {
    Ok(match code {
        0 => SseAlgorithm::None,
        1 => SseAlgorithm::Aes256,
        2 => SseAlgorithm::Sm4,
        3 => SseAlgorithm::Kms,
        _ => {
            return Err(MetaError::Internal(format!(
                "inventory row with algorithm {code}"
            )));
        }
    })
}

/// Applies `delta` to the row of objects (or uploads) carrying `meta` in `bucket`.
pub(crate) fn adjust(
    txn: &WriteTransaction,
    bucket: &str,
    meta: &ObjectMeta,
    delta: Delta,
) -> Result<(), MetaError> {
    let (algorithm, wrapping) = match &meta.sse {
        Some(sse) => (sse.algorithm, sse.wrapping.as_ref()),
        None => (SseAlgorithm::None, None),
    };
    let (key_id, version_id) = wrapping.map_or(("", ""), |w| (w.key_id.as_str(), w.version_id.as_str()));
    let row = (bucket, algorithm_code(algorithm), key_id, version_id);
    let mut table = txn.open_table(INVENTORY).db()?;
    let (o, b, u) = table.get(row).db()?.map_or((0, 0, 0), |g| g.value());
    let apply = |v: u64, d: i64| v.saturating_add_signed(d);
    let next = (
        apply(o, delta.objects),
        apply(b, delta.bytes),
        apply(u, delta.uploads),
    );
    if next == (0, 0, 0) {
        table.remove(row).db()?;
    } else {
        table.insert(row, next).db()?;
    }
    Ok(())
}

/// Builds the inventory from the objects and uploads, for a store written before it existed: run at open
/// when the inventory is empty but objects or uploads are not.
pub(crate) fn rebuild_if_missing(txn: &WriteTransaction) -> Result<u64, MetaError> {
    if !txn.open_table(INVENTORY).db()?.is_empty().db()? {
        return Ok(0);
    }
    let mut counted = 0u64;
    let objects: Vec<(String, StoredObject)> = {
        let table = txn.open_table(OBJECTS).db()?;
        let mut out = Vec::new();
        for entry in table.iter().db()? {
            let (k, v) = entry.db()?;
            out.push((k.value().0.to_owned(), decode(v.value())?));
        }
        out
    };
    for (bucket, object) in &objects {
        adjust(txn, bucket, &object.meta, Delta::object(1, object.size))?;
        counted += 1;
    }
    let uploads: Vec<cang_meta_api::MultipartUpload> = {
        let table = txn.open_table(UPLOADS).db()?;
        let mut out = Vec::new();
        for entry in table.iter().db()? {
            out.push(decode(entry.db()?.1.value())?);
        }
        out
    };
    for upload in &uploads {
        adjust(txn, &upload.bucket, &upload.meta, Delta::upload(1))?;
        counted += 1;
    }
    Ok(counted)
}

/// Puts the request's new wrapped key into `meta` if it still holds the one the request re-wrapped; the
/// metadata as it was before, when it did.
fn swap_wrapped_key(meta: &mut ObjectMeta, request: &RewrapObject) -> Option<ObjectMeta> {
    let before = meta.clone();
    let sse = meta
        .sse
        .as_mut()
        .filter(|sse| sse.wrapped_key == request.expected_wrapped_key)?;
    sse.wrapped_key.clone_from(&request.wrapped_key);
    sse.wrapping = Some(request.wrapping.clone());
    Some(before)
}

impl Store {
    /// The inventory rows `query` selects, in (bucket, algorithm, key, version) order.
    pub fn key_inventory(&self, query: &InventoryQuery) -> Result<Vec<InventoryEntry>, MetaError> {
        let txn = self.read()?;
        let table = txn.open_table(INVENTORY).db()?;
        let start = query.bucket.as_deref().unwrap_or("");
        let mut out = Vec::new();
        for row in table.range((start, 0, "", "")..).db()? {
            let (k, v) = row.db()?;
            let (bucket, code, key_id, version_id) = k.value();
            if query.bucket.as_deref().is_some_and(|b| b != bucket) {
                break;
            }
            let (objects, bytes, uploads) = v.value();
            let entry = InventoryEntry {
                bucket: bucket.to_owned(),
                algorithm: algorithm_of(code)?,
                wrapping: (!key_id.is_empty()).then(|| WrappingKey {
                    key_id: key_id.to_owned(),
                    version_id: version_id.to_owned(),
                }),
                objects,
                bytes,
                uploads,
            };
            if query.selects(&entry) {
                out.push(entry);
            }
        }
        Ok(out)
    }

    /// Swaps an object's wrapped data key, if it still holds the expected one. Nothing else about the
    /// object changes: not its ciphertext, ETag, last-modified time or metadata.
    pub fn rewrap_object(&self, request: RewrapObject) -> Result<RewrapOutcome, MetaError> {
        validate_bucket_name(&request.bucket)?;
        validate_object_key(&request.key)?;
        if request.upload_id.is_some() {
            return self.rewrap_upload(request);
        }
        self.writer().write(true, move |txn| {
            let Some(mut object) = load_object(txn, &request.bucket, &request.key)? else {
                return Ok(RewrapOutcome::Changed);
            };
            let Some(before) = swap_wrapped_key(&mut object.meta, &request) else {
                return Ok(RewrapOutcome::Changed);
            };
            txn.open_table(OBJECTS)
                .db()?
                .insert(
                    (request.bucket.as_str(), request.key.as_str()),
                    encode(&object)?.as_slice(),
                )
                .db()?;
            adjust(txn, &request.bucket, &before, Delta::object(-1, object.size))?;
            adjust(txn, &request.bucket, &object.meta, Delta::object(1, object.size))?;
            Ok(RewrapOutcome::Rewrapped)
        })
    }

    /// [`Store::rewrap_object`] for an unfinished multipart upload: its parts keep their ciphertext, the upload
    /// record (and so the object it completes into) gets the new wrapped key.
    fn rewrap_upload(&self, request: RewrapObject) -> Result<RewrapOutcome, MetaError> {
        let upload_id = request.upload_id.clone().unwrap_or_default();
        self.writer().write(true, move |txn| {
            let row = (request.bucket.as_str(), request.key.as_str(), upload_id.as_str());
            let mut uploads = txn.open_table(UPLOADS).db()?;
            let Some(mut upload) = uploads
                .get(row)
                .db()?
                .map(|g| decode::<cang_meta_api::MultipartUpload>(g.value()))
                .transpose()?
            else {
                return Ok(RewrapOutcome::Changed);
            };
            let Some(before) = swap_wrapped_key(&mut upload.meta, &request) else {
                return Ok(RewrapOutcome::Changed);
            };
            uploads.insert(row, encode(&upload)?.as_slice()).db()?;
            drop(uploads);
            adjust(txn, &request.bucket, &before, Delta::upload(-1))?;
            adjust(txn, &request.bucket, &upload.meta, Delta::upload(1))?;
            Ok(RewrapOutcome::Rewrapped)
        })
    }
}

#[cfg(test)]
mod tests {
    use cang_meta_api::{Acl, NewBucket, ObjectSse, PutObjectHeader, PutTrailer};

    use super::*;

    fn meta(version: &str) -> ObjectMeta {
        ObjectMeta {
            sse: Some(ObjectSse {
                algorithm: SseAlgorithm::Kms,
                key_id: Some("cmk".into()),
                data_encryption: None,
                wrapped_key: vec![1],
                wrapping: Some(WrappingKey {
                    key_id: "cmk".into(),
                    version_id: version.into(),
                }),
            }),
            ..ObjectMeta::default()
        }
    }

    /// The inventory recounted from the objects and uploads themselves.
    fn recount(s: &Store) -> Vec<InventoryEntry> {
        let txn = s.db().unwrap().begin_write().unwrap();
        let mut table = txn.open_table(INVENTORY).unwrap();
        while table.pop_first().unwrap().is_some() {}
        drop(table);
        rebuild_if_missing(&txn).unwrap();
        txn.commit().unwrap();
        s.key_inventory(&InventoryQuery::default()).unwrap()
    }

    #[derive(Debug, Clone)]
    enum Op {
        Put { key: u8, version: u8, len: u8 },
        Append { key: u8, version: u8, len: u8 },
        Delete { key: u8 },
        Initiate { key: u8, version: u8 },
        Finish { upload: u8, complete: bool },
        Rewrap { key: u8, version: u8 },
    }

    fn op() -> impl proptest::strategy::Strategy<Value = Op> {
        use proptest::prelude::*;
        prop_oneof![
            (0..6u8, 0..3u8, 0..50u8).prop_map(|(key, version, len)| Op::Put { key, version, len }),
            (0..6u8, 0..3u8, 0..50u8).prop_map(|(key, version, len)| Op::Append { key, version, len }),
            (0..6u8).prop_map(|key| Op::Delete { key }),
            (0..6u8, 0..3u8).prop_map(|(key, version)| Op::Initiate { key, version }),
            (0..4u8, any::<bool>()).prop_map(|(upload, complete)| Op::Finish { upload, complete }),
            (0..6u8, 0..3u8).prop_map(|(key, version)| Op::Rewrap { key, version }),
        ]
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]

        /// Whatever sequence of commits ran (including refused ones), the counts kept commit by commit equal a
        /// recount from the objects and uploads.
        #[test]
        fn the_inventory_always_equals_a_recount(ops in proptest::collection::vec(op(), 1..40)) {
            let s = Store::in_memory().unwrap();
            s.create_bucket(NewBucket {
                name: "bk1".into(),
                owner: "1".into(),
                location: "r".into(),
                acl: Acl::Private,
                encryption: None,
            })
            .unwrap();
            let mut uploads: Vec<cang_meta_api::MultipartUpload> = Vec::new();
            for op in ops {
                // Refusals (a non-appendable target, a wrong position, a stale rewrap) are part of the test.
                match op {
                    Op::Put { key, version, len } => {
                        let header = PutObjectHeader {
                            bucket: "bk1".into(),
                            key: format!("k{key}"),
                            meta: meta(&format!("v{version}")),
                            format: vec![],
                            forbid_overwrite: false,
                            replaces: None,
                        };
                        let trailer = PutTrailer { plaintext_len: u64::from(len), etag: "E".into(), crc64: None };
                        s.put_object(header, s.stage_bytes(b"x").unwrap(), trailer).unwrap();
                    }
                    Op::Append { key, version, len } => {
                        let position = s.head_object("bk1", &format!("k{key}")).map_or(0, |i| i.size);
                        let header = cang_meta_api::AppendObjectHeader {
                            bucket: "bk1".into(),
                            key: format!("k{key}"),
                            position,
                            meta: meta(&format!("v{version}")),
                            format: vec![],
                        };
                        let trailer = PutTrailer { plaintext_len: u64::from(len), etag: "A".into(), crc64: None };
                        let _ = s.append_object(header, s.stage_bytes(b"y").unwrap(), trailer);
                    }
                    Op::Delete { key } => {
                        s.delete_objects("bk1", vec![format!("k{key}")]).unwrap();
                    }
                    Op::Initiate { key, version } => {
                        uploads.push(s.initiate_upload("bk1", &format!("u{key}"), meta(&format!("v{version}"))).unwrap());
                    }
                    Op::Finish { upload, complete } => {
                        if uploads.is_empty() {
                            continue;
                        }
                        let u = uploads.remove(usize::from(upload) % uploads.len());
                        if complete {
                            let header = cang_meta_api::UploadPartHeader {
                                bucket: u.bucket.clone(),
                                key: u.key.clone(),
                                upload_id: u.upload_id.clone(),
                                part_number: 1,
                                format: vec![],
                            };
                            let trailer = PutTrailer {
                                plaintext_len: 3,
                                etag: "0cc175b9c0f1b6a831c399e269772661".into(),
                                crc64: None,
                            };
                            let part = s.upload_part(header, s.stage_bytes(b"zzz").unwrap(), trailer).unwrap();
                            let listed = vec![cang_meta_api::CompletedPart { part_number: 1, etag: part.etag }];
                            s.complete_upload(&u.bucket, &u.key, &u.upload_id, listed, false).unwrap();
                        } else {
                            s.abort_upload(&u.bucket, &u.key, &u.upload_id).unwrap();
                        }
                    }
                    Op::Rewrap { key, version } => {
                        let Ok(info) = s.head_object("bk1", &format!("k{key}")) else { continue };
                        let expected = info.meta.sse.map(|x| x.wrapped_key).unwrap_or_default();
                        s.rewrap_object(RewrapObject {
                            bucket: "bk1".into(),
                            key: format!("k{key}"),
                            upload_id: None,
                            expected_wrapped_key: expected,
                            wrapped_key: vec![2],
                            wrapping: WrappingKey { key_id: "cmk".into(), version_id: format!("v{version}") },
                        })
                        .unwrap();
                    }
                }
            }
            let kept = s.key_inventory(&InventoryQuery::default()).unwrap();
            proptest::prop_assert_eq!(kept, recount(&s));
        }
    }

    #[test]
    fn a_store_without_an_inventory_gets_one_built_at_open() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("meta.redb");
        let before = {
            let s = Store::open(&path).unwrap();
            s.create_bucket(NewBucket {
                name: "bk1".into(),
                owner: "1".into(),
                location: "r".into(),
                acl: Acl::Private,
                encryption: None,
            })
            .unwrap();
            for (key, version, len) in [("a", "v1", 3u64), ("b", "v1", 4), ("c", "v2", 5)] {
                let header = PutObjectHeader {
                    bucket: "bk1".into(),
                    key: key.into(),
                    meta: meta(version),
                    format: vec![],
                    forbid_overwrite: false,
                    replaces: None,
                };
                let trailer = PutTrailer {
                    plaintext_len: len,
                    etag: "E".into(),
                    crc64: None,
                };
                s.put_object(header, s.stage_bytes(b"x").unwrap(), trailer)
                    .unwrap();
            }
            s.initiate_upload("bk1", "u", meta("v2")).unwrap();
            let before = s.key_inventory(&InventoryQuery::default()).unwrap();
            assert_eq!(before.len(), 2);
            // What a file written before the inventory existed looks like.
            s.writer()
                .write(true, |txn| {
                    let mut table = txn.open_table(INVENTORY).db()?;
                    while table.pop_first().db()?.is_some() {}
                    Ok(())
                })
                .unwrap();
            assert!(s.key_inventory(&InventoryQuery::default()).unwrap().is_empty());
            before
        };
        let s = Store::open(&path).unwrap();
        assert_eq!(s.key_inventory(&InventoryQuery::default()).unwrap(), before);
        assert_eq!((before[0].objects, before[0].bytes), (2, 7));
        assert_eq!((before[1].objects, before[1].bytes, before[1].uploads), (1, 5, 1));
    }
}
