//! Objects: atomic put, head, ranged ciphertext reads, delete, multi-delete, copy and append.

use cang_meta_api::{
    AppendObjectHeader, Bucket, CiphertextRange, CopyObjectRequest, DeleteOutcome, Extent, MetaError,
    ObjectInfo, ObjectLookup, ObjectMeta, ObjectType, Preconditions, PutObjectHeader, PutTrailer,
    validate_bucket_name, validate_object_key,
};
use redb::{ReadableTable, WriteTransaction};
use serde::{Deserialize, Serialize};

use super::blob::{self, ObjectReader, StagedBlob, StoredExtent};
use super::bucket::{adjust_stats, require_bucket};
use super::inventory::{self, Delta};
use super::tables::{BUCKETS, CHUNKS, DbResult, OBJECTS, decode, encode, now_ms};
use super::{Store, crc64};

/// The stored form of an object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct StoredObject {
    pub(crate) size: u64,
    pub(crate) etag: String,
    pub(crate) crc64: Option<u64>,
    pub(crate) last_modified_ms: u64,
    pub(crate) object_type: ObjectType,
    pub(crate) meta: ObjectMeta,
    pub(crate) extents: Vec<StoredExtent>,
}

impl StoredObject {
    pub(crate) fn info(&self, bucket: &str, key: &str) -> ObjectInfo {
        let (mut c, mut p) = (0, 0);
        let extents = self
            .extents
            .iter()
            .map(|e| {
                let x = Extent {
                    ciphertext_offset: c,
                    ciphertext_len: e.ciphertext_len,
                    plaintext_offset: p,
                    plaintext_len: e.plaintext_len,
                    format: e.format.clone(),
                };
                c += e.ciphertext_len;
                p += e.plaintext_len;
                x
            })
            .collect();
        ObjectInfo {
            bucket: bucket.to_owned(),
            key: key.to_owned(),
            size: self.size,
            ciphertext_size: c,
            etag: self.etag.clone(),
            crc64: self.crc64,
            last_modified_ms: self.last_modified_ms,
            object_type: self.object_type,
            meta: self.meta.clone(),
            extents,
        }
    }
}

impl Store {
    /// Commits a streamed PutObject: the new object replaces any old one in one transaction.
    pub fn put_object(
        &self,
        header: PutObjectHeader,
        blob: StagedBlob,
        trailer: PutTrailer,
    ) -> Result<ObjectInfo, MetaError> {
        validate_bucket_name(&header.bucket)?;
        validate_object_key(&header.key)?;
        let mut blob = blob;
        let (id, len, inline, staging) = blob.commit_parts();
        let info = self.writer().write(true, move |txn| {
            staging.check()?;
            require_bucket(txn, &header.bucket)?;
            let old = load_object(txn, &header.bucket, &header.key)?;
            if header.forbid_overwrite && old.is_some() {
                return Err(MetaError::FileAlreadyExists);
            }
            if let Some(expected) = &header.replaces
                && !old
                    .as_ref()
                    .is_some_and(|o| expected.matches(&o.info(&header.bucket, &header.key)))
            {
                return Err(MetaError::PreconditionFailed);
            }
            let object = StoredObject {
                size: trailer.plaintext_len,
                etag: trailer.etag,
                crc64: trailer.crc64,
                last_modified_ms: now_ms(),
                object_type: ObjectType::Normal,
                meta: header.meta,
                extents: vec![StoredExtent {
                    blob: id,
                    ciphertext_len: len,
                    plaintext_len: trailer.plaintext_len,
                    format: header.format,
                }],
            };
            blob::commit_staged(txn, id, len, inline.as_deref())?;
            replace_object(txn, &header.bucket, &header.key, old.as_ref(), &object)?;
            Ok(object.info(&header.bucket, &header.key))
        })?;
        blob.consume();
        Ok(info)
    }

    /// Commits a streamed AppendObject. Creates an Appendable object at position 0, else requires
    /// the position to equal the current size.
    pub fn append_object(
        &self,
        header: AppendObjectHeader,
        blob: StagedBlob,
        trailer: PutTrailer,
    ) -> Result<ObjectInfo, MetaError> {
        validate_bucket_name(&header.bucket)?;
        validate_object_key(&header.key)?;
        let mut blob = blob;
        let (id, len, inline, staging) = blob.commit_parts();
        let info = self.writer().write(true, move |txn| {
            staging.check()?;
            require_bucket(txn, &header.bucket)?;
            let old = load_object(txn, &header.bucket, &header.key)?;
            let extent = StoredExtent {
                blob: id,
                ciphertext_len: len,
                plaintext_len: trailer.plaintext_len,
                format: header.format,
            };
            let object = match &old {
                None if header.position != 0 => {
                    return Err(MetaError::PositionNotEqualToLength { next_position: 0 });
                }
                None => StoredObject {
                    size: trailer.plaintext_len,
                    etag: trailer.etag,
                    crc64: trailer.crc64,
                    last_modified_ms: now_ms(),
                    object_type: ObjectType::Appendable,
                    meta: header.meta,
                    extents: vec![extent],
                },
                Some(o) if o.object_type != ObjectType::Appendable => {
                    return Err(MetaError::ObjectNotAppendable);
                }
                Some(o) if o.size != header.position => {
                    return Err(MetaError::PositionNotEqualToLength {
                        next_position: o.size,
                    });
                }
                // The appended bytes were sealed under the key of the record the writer saw; if that is not
                // this object's record (a concurrent first append created it), they could never be read.
                // Refused like a lost position race: the writer looks again and appends under the real key.
                Some(o) if o.meta.sse != header.meta.sse => {
                    return Err(MetaError::PositionNotEqualToLength {
                        next_position: o.size,
                    });
                }
                Some(o) => {
                    let mut object = o.clone();
                    object.size += trailer.plaintext_len;
                    object.crc64 = match (o.crc64, trailer.crc64) {
                        (Some(a), Some(b)) => Some(crc64::combine(a, b, trailer.plaintext_len)),
                        _ => None,
                    };
                    object.etag = trailer.etag;
                    object.last_modified_ms = now_ms();
                    object.extents.push(extent);
                    object
                }
            };
            blob::commit_staged(txn, id, len, inline.as_deref())?;
            // The old record's extents live on in the new one: only the record is replaced.
            let mut objects = txn.open_table(OBJECTS).db()?;
            objects
                .insert(
                    (header.bucket.as_str(), header.key.as_str()),
                    encode(&object)?.as_slice(),
                )
                .db()?;
            drop(objects);
            let created = i64::from(old.is_none());
            let grown = Delta {
                objects: created,
                bytes: to_i64(trailer.plaintext_len),
                uploads: 0,
            };
            inventory::adjust(txn, &header.bucket, &object.meta, grown)?;
            adjust_stats(txn, &header.bucket, created, to_i64(trailer.plaintext_len), 0)?;
            Ok(object.info(&header.bucket, &header.key))
        })?;
        blob.consume();
        Ok(info)
    }

    /// HeadObject.
    pub fn head_object(&self, bucket: &str, key: &str) -> Result<ObjectInfo, MetaError> {
        let txn = self.read()?;
        let objects = txn.open_table(OBJECTS).db()?;
        match objects.get((bucket, key)).db()? {
            Some(g) => Ok(decode::<StoredObject>(g.value())?.info(bucket, key)),
            None => Err(missing(&txn.open_table(BUCKETS).db()?, bucket)?),
        }
    }

    /// Opens a read of the object's ciphertext bytes `range` (all of it when `None`), after checking
    /// `conditions`. The reader sees one snapshot even if the object is overwritten meanwhile.
    pub fn read_object(
        &self,
        bucket: &str,
        key: &str,
        range: Option<CiphertextRange>,
        conditions: &Preconditions,
    ) -> Result<(ObjectInfo, ObjectReader), MetaError> {
        let txn = self.read()?;
        let objects = txn.open_table(OBJECTS).db()?;
        let object: StoredObject = match objects.get((bucket, key)).db()? {
            Some(g) => decode(g.value())?,
            None => return Err(missing(&txn.open_table(BUCKETS).db()?, bucket)?),
        };
        conditions.check(&object.etag, object.last_modified_ms)?;
        let info = object.info(bucket, key);
        let range = range.unwrap_or(CiphertextRange {
            start: 0,
            end: info.ciphertext_size,
        });
        if range.start > range.end || range.end > info.ciphertext_size {
            return Err(MetaError::InvalidArgument(format!(
                "ciphertext range {}..{} is outside 0..{}",
                range.start, range.end, info.ciphertext_size
            )));
        }
        let chunks = txn.open_table(CHUNKS).db()?;
        Ok((
            info,
            ObjectReader::new(chunks, &object.extents, range.start, range.end),
        ))
    }

    /// The bucket and, when it exists, the object `key` with its ciphertext `window` (cut at the object's end;
    /// the whole object when `None`) when that is at most `max` bytes long and lies within the object's first
    /// extent, all from one snapshot.
    pub fn lookup_object(
        &self,
        bucket: &str,
        key: &str,
        window: Option<CiphertextRange>,
        max: u64,
    ) -> Result<ObjectLookup, MetaError> {
        let txn = self.read()?;
        let buckets = txn.open_table(BUCKETS).db()?;
        let found: Bucket = decode(buckets.get(bucket).db()?.ok_or(MetaError::NoSuchBucket)?.value())?;
        let objects = txn.open_table(OBJECTS).db()?;
        let Some(guard) = objects.get((bucket, key)).db()? else {
            return Ok(ObjectLookup {
                bucket: found,
                object: None,
                ciphertext: None,
            });
        };
        let object: StoredObject = decode(guard.value())?;
        let info = object.info(bucket, key);
        let size = info.ciphertext_size;
        let CiphertextRange { start, end } = ObjectLookup::window_of(window, size);
        // A window is a guess from a one-extent layout, right only inside the first extent: past it, reading
        // the bytes would be wasted.
        let first_extent_end = info
            .extents
            .first()
            .map_or(size, |e| e.ciphertext_offset + e.ciphertext_len);
        if start > end || end - start > max || (window.is_some() && end > first_extent_end) {
            return Ok(ObjectLookup {
                bucket: found,
                object: Some(info),
                ciphertext: None,
            });
        }
        let chunks = txn.open_table(CHUNKS).db()?;
        let mut ciphertext = Vec::with_capacity((end - start) as usize);
        for chunk in ObjectReader::new(chunks, &object.extents, start, end) {
            ciphertext.extend_from_slice(&chunk?);
        }
        Ok(ObjectLookup {
            bucket: found,
            object: Some(info),
            ciphertext: Some(ciphertext.into()),
        })
    }

    /// DeleteObject. Deleting a missing key succeeds (OSS semantics); returns whether it existed.
    pub fn delete_object(&self, bucket: &str, key: &str) -> Result<bool, MetaError> {
        let mut results = self.delete_objects(bucket, vec![key.to_owned()])?;
        results.pop().map_or(Ok(false), |(_, r)| r)
    }

    /// DeleteMultipleObjects: one transaction, one result per key.
    pub fn delete_objects(&self, bucket: &str, keys: Vec<String>) -> Result<Vec<DeleteOutcome>, MetaError> {
        validate_bucket_name(bucket)?;
        let bucket = bucket.to_owned();
        self.writer().write(true, move |txn| {
            require_bucket(txn, &bucket)?;
            let mut results = Vec::with_capacity(keys.len());
            for key in keys {
                if let Err(e) = validate_object_key(&key) {
                    results.push((key, Err(e)));
                    continue;
                }
                let removed = txn
                    .open_table(OBJECTS)
                    .db()?
                    .remove((bucket.as_str(), key.as_str()))
                    .db()?
                    .map(|g| g.value().to_vec());
                let existed = match removed {
                    Some(bytes) => {
                        let old: StoredObject = decode(&bytes)?;
                        blob::release_all(txn, &old.extents)?;
                        inventory::adjust(txn, &bucket, &old.meta, Delta::object(-1, old.size))?;
                        adjust_stats(txn, &bucket, -1, -to_i64(old.size), 0)?;
                        true
                    }
                    None => false,
                };
                results.push((key, Ok(existed)));
            }
            Ok(results)
        })
    }

    /// CopyObject: the destination shares the source's ciphertext blobs (no data is copied).
    pub fn copy_object(&self, request: CopyObjectRequest) -> Result<ObjectInfo, MetaError> {
        validate_bucket_name(&request.src_bucket)?;
        validate_bucket_name(&request.dst_bucket)?;
        validate_object_key(&request.src_key)?;
        validate_object_key(&request.dst_key)?;
        self.writer().write(true, move |txn| {
            require_bucket(txn, &request.src_bucket)?;
            let source =
                load_object(txn, &request.src_bucket, &request.src_key)?.ok_or(MetaError::NoSuchKey)?;
            request
                .source_conditions
                .check(&source.etag, source.last_modified_ms)?;
            require_bucket(txn, &request.dst_bucket)?;
            let old = load_object(txn, &request.dst_bucket, &request.dst_key)?;
            if request.forbid_overwrite && old.is_some() {
                return Err(MetaError::FileAlreadyExists);
            }
            let mut object = source.clone();
            if let Some(mut meta) = request.replace_meta {
                meta.sse = source.meta.sse.clone();
                object.meta = meta;
            }
            if object.object_type == ObjectType::Appendable {
                object.object_type = ObjectType::Normal;
            }
            object.last_modified_ms = now_ms();
            for e in &object.extents {
                blob::add_ref(txn, e.blob)?;
            }
            replace_object(txn, &request.dst_bucket, &request.dst_key, old.as_ref(), &object)?;
            Ok(object.info(&request.dst_bucket, &request.dst_key))
        })
    }
}

/// Loads an object inside a write transaction.
pub(crate) fn load_object(
    txn: &WriteTransaction,
    bucket: &str,
    key: &str,
) -> Result<Option<StoredObject>, MetaError> {
    let objects = txn.open_table(OBJECTS).db()?;
    let guard = objects.get((bucket, key)).db()?;
    guard.map(|g| decode(g.value())).transpose()
}

/// Writes `new` over `old` (if any), releasing the old extents and adjusting the bucket counters.
pub(crate) fn replace_object(
    txn: &WriteTransaction,
    bucket: &str,
    key: &str,
    old: Option<&StoredObject>,
    new: &StoredObject,
) -> Result<(), MetaError> {
    txn.open_table(OBJECTS)
        .db()?
        .insert((bucket, key), encode(new)?.as_slice())
        .db()?;
    let (objects, old_size) = match old {
        Some(o) => {
            blob::release_all(txn, &o.extents)?;
            (0, o.size)
        }
        None => (1, 0),
    };
    if let Some(o) = old {
        inventory::adjust(txn, bucket, &o.meta, Delta::object(-1, o.size))?;
    }
    inventory::adjust(txn, bucket, &new.meta, Delta::object(1, new.size))?;
    adjust_stats(txn, bucket, objects, to_i64(new.size) - to_i64(old_size), 0)
}

/// `NoSuchKey` if the bucket exists, else `NoSuchBucket`.
fn missing(buckets: &redb::ReadOnlyTable<&str, &[u8]>, bucket: &str) -> Result<MetaError, MetaError> {
    Ok(if buckets.get(bucket).db()?.is_some() {
        MetaError::NoSuchKey
    } else {
        MetaError::NoSuchBucket
    })
}

/// Sizes are far below `i64::MAX`; saturate rather than wrap if one ever is not.
pub(crate) fn to_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}
