//! Multipart uploads: initiate, upload part (a re-upload replaces the part), list parts and uploads,
//! complete (the object becomes the ordered parts' blobs, nothing is copied) and abort.

use cang_meta_api::{
    CompletedPart, ListPartsPage, ListUploadsPage, ListUploadsQuery, MIN_PART_SIZE, MetaError,
    MultipartUpload, ObjectInfo, ObjectMeta, ObjectType, PartInfo, PutTrailer, UploadPartHeader,
    validate_bucket_name, validate_max_keys, validate_object_key, validate_part_number,
};
use md5::{Digest, Md5};
use redb::{ReadableTable, WriteTransaction};
use serde::{Deserialize, Serialize};

use super::blob::{self, StagedBlob, StoredExtent};
use super::bucket::{adjust_stats, require_bucket};
use super::inventory::{self, Delta};
use super::object::{StoredObject, load_object, replace_object};
use super::tables::{DbResult, PARTS, Record, UPLOADS, decode, encode, now_ms};
use super::{Store, crc64};

/// The stored form of a part.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct StoredPart {
    etag: String,
    crc64: Option<u64>,
    last_modified_ms: u64,
    extent: StoredExtent,
}

impl Record for StoredPart {}

impl StoredPart {
    fn info(&self, part_number: u32) -> PartInfo {
        PartInfo {
            part_number,
            etag: self.etag.clone(),
            size: self.extent.plaintext_len,
            ciphertext_size: self.extent.ciphertext_len,
            crc64: self.crc64,
            last_modified_ms: self.last_modified_ms,
            format: self.extent.format.clone(),
        }
    }
}

impl Store {
    /// InitiateMultipartUpload: records the metadata and encryption record the object will carry.
    pub fn initiate_upload(
        &self,
        bucket: &str,
        key: &str,
        meta: ObjectMeta,
    ) -> Result<MultipartUpload, MetaError> {
        validate_bucket_name(bucket)?;
        validate_object_key(key)?;
        let upload = MultipartUpload {
            bucket: bucket.to_owned(),
            key: key.to_owned(),
            upload_id: uuid::Uuid::new_v4().simple().to_string().to_uppercase(),
            initiated_ms: now_ms(),
            meta,
        };
        let record = encode(&upload)?;
        let u = upload.clone();
        self.writer().write(true, move |txn| {
            require_bucket(txn, &u.bucket)?;
            let mut uploads = txn.open_table(UPLOADS).db()?;
            uploads
                .insert(
                    (u.bucket.as_str(), u.key.as_str(), u.upload_id.as_str()),
                    record.as_slice(),
                )
                .db()?;
            drop(uploads);
            inventory::adjust(txn, &u.bucket, &u.meta, Delta::upload(1))?;
            adjust_stats(txn, &u.bucket, 0, 0, 1)
        })?;
        Ok(upload)
    }

    /// Commits a streamed UploadPart, replacing an earlier part with the same number.
    pub fn upload_part(
        &self,
        header: UploadPartHeader,
        blob: StagedBlob,
        trailer: PutTrailer,
    ) -> Result<PartInfo, MetaError> {
        validate_part_number(header.part_number)?;
        let mut blob = blob;
        let (id, len, inline, staging) = blob.commit_parts();
        let info = self.writer().write(true, move |txn| {
            staging.check()?;
            load_upload(txn, &header.bucket, &header.key, &header.upload_id)?;
            let part = StoredPart {
                etag: trailer.etag,
                crc64: trailer.crc64,
                last_modified_ms: now_ms(),
                extent: StoredExtent {
                    blob: id,
                    ciphertext_len: len,
                    plaintext_len: trailer.plaintext_len,
                    format: header.format,
                },
            };
            blob::commit_staged(txn, id, len, inline.as_deref())?;
            let mut parts = txn.open_table(PARTS).db()?;
            let old = parts
                .insert(
                    (header.upload_id.as_str(), header.part_number),
                    encode(&part)?.as_slice(),
                )
                .db()?
                .map(|g| decode::<StoredPart>(g.value()))
                .transpose()?;
            drop(parts);
            if let Some(old) = old {
                blob::release(txn, old.extent.blob)?;
            }
            Ok(part.info(header.part_number))
        })?;
        blob.consume();
        Ok(info)
    }

    /// Reads an upload's record.
    pub fn get_upload(&self, bucket: &str, key: &str, upload_id: &str) -> Result<MultipartUpload, MetaError> {
        let txn = self.read()?;
        let uploads = txn.open_table(UPLOADS).db()?;
        let guard = uploads
            .get((bucket, key, upload_id))
            .db()?
            .ok_or(MetaError::NoSuchUpload)?;
        decode(guard.value())
    }

    /// ListParts: parts numbered above `part_number_marker`, in order.
    pub fn list_parts(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        part_number_marker: u32,
        max_parts: u32,
    ) -> Result<ListPartsPage, MetaError> {
        validate_max_keys(max_parts)?;
        let txn = self.read()?;
        if txn
            .open_table(UPLOADS)
            .db()?
            .get((bucket, key, upload_id))
            .db()?
            .is_none()
        {
            return Err(MetaError::NoSuchUpload);
        }
        let parts = txn.open_table(PARTS).db()?;
        let mut page = ListPartsPage::default();
        for entry in parts
            .range((upload_id, part_number_marker.saturating_add(1))..=(upload_id, u32::MAX))
            .db()?
        {
            let (k, v) = entry.db()?;
            if page.parts.len() == max_parts as usize {
                page.is_truncated = true;
                page.next_part_number_marker = page.parts.last().map(|p| p.part_number);
                break;
            }
            page.parts
                .push(decode::<StoredPart>(v.value())?.info(k.value().1));
        }
        Ok(page)
    }

    /// ListMultipartUploads in (key, upload id) order.
    pub fn list_uploads(&self, bucket: &str, query: &ListUploadsQuery) -> Result<ListUploadsPage, MetaError> {
        validate_max_keys(query.max_uploads)?;
        let txn = self.read()?;
        if txn
            .open_table(super::tables::BUCKETS)
            .db()?
            .get(bucket)
            .db()?
            .is_none()
        {
            return Err(MetaError::NoSuchBucket);
        }
        let uploads = txn.open_table(UPLOADS).db()?;
        let start = query.prefix.as_str().max(query.key_marker.as_str());
        let mut page = ListUploadsPage::default();
        for entry in uploads.range((bucket, start, "")..).db()? {
            let (k, v) = entry.db()?;
            let (b, key, id) = k.value();
            if b != bucket || !key.starts_with(query.prefix.as_str()) {
                break;
            }
            let after_marker = key > query.key_marker.as_str()
                || (key == query.key_marker
                    && !query.upload_id_marker.is_empty()
                    && id > query.upload_id_marker.as_str());
            if !after_marker {
                continue;
            }
            if page.uploads.len() == query.max_uploads as usize {
                page.is_truncated = true;
                page.next_markers = page.uploads.last().map(|u| (u.key.clone(), u.upload_id.clone()));
                break;
            }
            page.uploads.push(decode(v.value())?);
        }
        Ok(page)
    }

    /// CompleteMultipartUpload. The object's extents are the listed parts' blobs, in order; parts
    /// not listed are freed. Replaces any existing object atomically.
    pub fn complete_upload(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        parts: Vec<CompletedPart>,
        forbid_overwrite: bool,
    ) -> Result<ObjectInfo, MetaError> {
        if parts.is_empty() {
            return Err(MetaError::InvalidArgument("the part list is empty".into()));
        }
        if parts.windows(2).any(|w| w[0].part_number >= w[1].part_number) {
            return Err(MetaError::InvalidPartOrder);
        }
        let (bucket, key, upload_id) = (bucket.to_owned(), key.to_owned(), upload_id.to_owned());
        self.writer().write(true, move |txn| {
            let upload = load_upload(txn, &bucket, &key, &upload_id)?;
            let stored = load_parts(txn, &upload_id)?;
            let mut chosen = Vec::with_capacity(parts.len());
            for want in &parts {
                let part = stored
                    .iter()
                    .find(|(n, _)| *n == want.part_number)
                    .map(|(_, p)| p)
                    .filter(|p| p.etag.eq_ignore_ascii_case(want.etag.trim_matches('"')))
                    .ok_or(MetaError::InvalidPart)?;
                chosen.push(part);
            }
            if chosen
                .iter()
                .rev()
                .skip(1)
                .any(|p| p.extent.plaintext_len < MIN_PART_SIZE)
            {
                return Err(MetaError::EntityTooSmall);
            }
            if forbid_overwrite && load_object(txn, &bucket, &key)?.is_some() {
                return Err(MetaError::FileAlreadyExists);
            }
            let object = StoredObject {
                size: chosen.iter().map(|p| p.extent.plaintext_len).sum(),
                etag: multipart_etag(chosen.iter().map(|p| p.etag.as_str())),
                crc64: chosen
                    .iter()
                    .try_fold(None::<u64>, |acc, p| {
                        let c = p.crc64?;
                        Some(Some(
                            acc.map_or(c, |a| crc64::combine(a, c, p.extent.plaintext_len)),
                        ))
                    })
                    .flatten(),
                last_modified_ms: now_ms(),
                object_type: ObjectType::Multipart,
                meta: upload.meta.clone(),
                extents: chosen.iter().map(|p| p.extent.clone()).collect(),
            };
            // Writes start here: every check above has passed.
            let listed: Vec<u32> = parts.iter().map(|p| p.part_number).collect();
            for (n, p) in &stored {
                if !listed.contains(n) {
                    blob::release(txn, p.extent.blob)?;
                }
            }
            remove_upload(txn, &upload, &stored)?;
            let old = load_object(txn, &bucket, &key)?;
            replace_object(txn, &bucket, &key, old.as_ref(), &object)?;
            Ok(object.info(&bucket, &key))
        })
    }

    /// AbortMultipartUpload: frees every part.
    pub fn abort_upload(&self, bucket: &str, key: &str, upload_id: &str) -> Result<(), MetaError> {
        let (bucket, key, upload_id) = (bucket.to_owned(), key.to_owned(), upload_id.to_owned());
        self.writer().write(true, move |txn| {
            let upload = load_upload(txn, &bucket, &key, &upload_id)?;
            let stored = load_parts(txn, &upload_id)?;
            for (_, p) in &stored {
                blob::release(txn, p.extent.blob)?;
            }
            remove_upload(txn, &upload, &stored)
        })
    }
}

fn load_upload(
    txn: &WriteTransaction,
    bucket: &str,
    key: &str,
    upload_id: &str,
) -> Result<MultipartUpload, MetaError> {
    let uploads = txn.open_table(UPLOADS).db()?;
    let guard = uploads
        .get((bucket, key, upload_id))
        .db()?
        .ok_or(MetaError::NoSuchUpload)?;
    decode(guard.value())
}

fn load_parts(txn: &WriteTransaction, upload_id: &str) -> Result<Vec<(u32, StoredPart)>, MetaError> {
    let parts = txn.open_table(PARTS).db()?;
    let mut out = Vec::new();
    for entry in parts.range((upload_id, 0)..=(upload_id, u32::MAX)).db()? {
        let (k, v) = entry.db()?;
        out.push((k.value().1, decode(v.value())?));
    }
    Ok(out)
}

/// Deletes the upload record and its part records (not their blobs).
fn remove_upload(
    txn: &WriteTransaction,
    upload: &MultipartUpload,
    stored: &[(u32, StoredPart)],
) -> Result<(), MetaError> {
    let (bucket, id) = (upload.bucket.as_str(), upload.upload_id.as_str());
    let mut parts = txn.open_table(PARTS).db()?;
    for (n, _) in stored {
        parts.remove((id, *n)).db()?;
    }
    drop(parts);
    txn.open_table(UPLOADS)
        .db()?
        .remove((bucket, upload.key.as_str(), id))
        .db()?;
    inventory::adjust(txn, bucket, &upload.meta, Delta::upload(-1))?;
    adjust_stats(txn, bucket, 0, 0, -1)
}

/// OSS multipart ETag: MD5 over the parts' binary MD5s, upper-case hex, then `-<part count>`.
fn multipart_etag<'a>(etags: impl Iterator<Item = &'a str>) -> String {
    let mut md5 = Md5::new();
    let mut count = 0;
    for etag in etags {
        match hex::decode(etag) {
            Ok(bytes) => md5.update(&bytes),
            // Not a hex MD5 (never produced by the gateway): hash the text so the result stays stable.
            Err(_) => md5.update(etag.as_bytes()),
        }
        count += 1;
    }
    format!("{}-{count}", hex::encode_upper(md5.finalize()))
}

#[cfg(test)]
mod tests {
    use super::multipart_etag;

    #[test]
    fn multipart_etag_known_answer() {
        // MD5(md5("a") ‖ md5("b")) computed independently.
        let a = "0cc175b9c0f1b6a831c399e269772661";
        let b = "92eb5ffee6ae2fec3ad71c777531578f";
        assert_eq!(
            multipart_etag([a, b].into_iter()),
            "96E024BA2074FE77E8E965BA43A704BE-2"
        );
    }
}
