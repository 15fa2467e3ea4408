//! Buckets: create, get, list by owner, delete when empty, default encryption rule, statistics.

use cang_meta_api::{
    Acl, Bucket, BucketEncryptionRule, BucketStats, ListBucketsPage, ListBucketsQuery, MetaError, NewBucket,
    validate_bucket_name, validate_max_keys,
};
use redb::{ReadableTable, WriteTransaction};

use super::Store;
use super::tables::{
    BUCKET_STATS, BUCKETS, BUCKETS_BY_OWNER, DbResult, OBJECTS, UPLOADS, decode, encode, now_ms,
};

impl Store {
    /// Creates a bucket. Names are global: an existing name is `BucketAlreadyExists` whoever owns it.
    pub fn create_bucket(&self, new: NewBucket) -> Result<Bucket, MetaError> {
        validate_bucket_name(&new.name)?;
        if new.owner.is_empty() {
            return Err(MetaError::InvalidArgument("bucket owner is empty".into()));
        }
        let bucket = Bucket {
            name: new.name,
            owner: new.owner,
            location: new.location,
            acl: if new.acl == Acl::Default {
                Acl::Private
            } else {
                new.acl
            },
            encryption: new.encryption,
            created_ms: now_ms(),
        };
        let record = encode(&bucket)?;
        let out = bucket.clone();
        self.writer().write(true, move |txn| {
            let mut buckets = txn.open_table(BUCKETS).db()?;
            if buckets.get(bucket.name.as_str()).db()?.is_some() {
                return Err(MetaError::BucketAlreadyExists);
            }
            buckets.insert(bucket.name.as_str(), record.as_slice()).db()?;
            txn.open_table(BUCKETS_BY_OWNER)
                .db()?
                .insert((bucket.owner.as_str(), bucket.name.as_str()), ())
                .db()?;
            txn.open_table(BUCKET_STATS)
                .db()?
                .insert(bucket.name.as_str(), (0, 0, 0))
                .db()?;
            Ok(())
        })?;
        Ok(out)
    }

    /// Reads a bucket.
    pub fn get_bucket(&self, name: &str) -> Result<Bucket, MetaError> {
        let txn = self.read()?;
        let buckets = txn.open_table(BUCKETS).db()?;
        let guard = buckets.get(name).db()?.ok_or(MetaError::NoSuchBucket)?;
        decode(guard.value())
    }

    /// Lists an owner's buckets in name order.
    pub fn list_buckets(&self, query: &ListBucketsQuery) -> Result<ListBucketsPage, MetaError> {
        validate_max_keys(query.max_keys)?;
        let txn = self.read()?;
        let index = txn.open_table(BUCKETS_BY_OWNER).db()?;
        let buckets = txn.open_table(BUCKETS).db()?;
        let start = query.marker.as_str().max(query.prefix.as_str());
        let mut page = ListBucketsPage::default();
        for entry in index.range((query.owner.as_str(), start)..).db()? {
            let (key, _) = entry.db()?;
            let (owner, name) = key.value();
            if owner != query.owner || !name.starts_with(query.prefix.as_str()) {
                break;
            }
            if name <= query.marker.as_str() {
                continue;
            }
            if page.buckets.len() == query.max_keys as usize {
                page.is_truncated = true;
                page.next_marker = page.buckets.last().map(|b| b.name.clone());
                break;
            }
            let guard = buckets.get(name).db()?.ok_or_else(|| dangling(name))?;
            page.buckets.push(decode(guard.value())?);
        }
        Ok(page)
    }

    /// Deletes a bucket that holds no objects and no unfinished multipart uploads.
    pub fn delete_bucket(&self, name: &str) -> Result<(), MetaError> {
        let name = name.to_owned();
        self.writer().write(true, move |txn| {
            let bucket = load_bucket(txn, &name)?;
            let objects = txn.open_table(OBJECTS).db()?;
            if objects
                .range((name.as_str(), "")..)
                .db()?
                .next()
                .transpose()
                .db()?
                .is_some_and(|(k, _)| k.value().0 == name)
            {
                return Err(MetaError::BucketNotEmpty);
            }
            let uploads = txn.open_table(UPLOADS).db()?;
            if uploads
                .range((name.as_str(), "", "")..)
                .db()?
                .next()
                .transpose()
                .db()?
                .is_some_and(|(k, _)| k.value().0 == name)
            {
                return Err(MetaError::BucketNotEmpty);
            }
            txn.open_table(BUCKETS).db()?.remove(name.as_str()).db()?;
            txn.open_table(BUCKETS_BY_OWNER)
                .db()?
                .remove((bucket.owner.as_str(), name.as_str()))
                .db()?;
            txn.open_table(BUCKET_STATS).db()?.remove(name.as_str()).db()?;
            Ok(())
        })
    }

    /// Sets (`Some`) or removes (`None`) a bucket's default encryption rule. Existing objects are
    /// untouched: they keep their own encryption records.
    pub fn set_bucket_encryption(
        &self,
        name: &str,
        rule: Option<BucketEncryptionRule>,
    ) -> Result<Bucket, MetaError> {
        let name = name.to_owned();
        self.writer().write(true, move |txn| {
            let mut bucket = load_bucket(txn, &name)?;
            if rule.is_none() && bucket.encryption.is_none() {
                return Err(MetaError::NoSuchEncryptionRule);
            }
            bucket.encryption = rule;
            txn.open_table(BUCKETS)
                .db()?
                .insert(name.as_str(), encode(&bucket)?.as_slice())
                .db()?;
            Ok(bucket)
        })
    }

    /// Reads a bucket's default encryption rule.
    pub fn get_bucket_encryption(&self, name: &str) -> Result<BucketEncryptionRule, MetaError> {
        self.get_bucket(name)?
            .encryption
            .ok_or(MetaError::NoSuchEncryptionRule)
    }

    /// Sets a bucket's canned ACL.
    pub fn set_bucket_acl(&self, name: &str, acl: Acl) -> Result<(), MetaError> {
        let name = name.to_owned();
        self.writer().write(true, move |txn| {
            let mut bucket = load_bucket(txn, &name)?;
            bucket.acl = if acl == Acl::Default { Acl::Private } else { acl };
            txn.open_table(BUCKETS)
                .db()?
                .insert(name.as_str(), encode(&bucket)?.as_slice())
                .db()?;
            Ok(())
        })
    }

    /// Object count, bytes and unfinished uploads of a bucket.
    pub fn bucket_stats(&self, name: &str) -> Result<BucketStats, MetaError> {
        let txn = self.read()?;
        let stats = txn.open_table(BUCKET_STATS).db()?;
        let (object_count, storage_bytes, multipart_upload_count) = stats
            .get(name)
            .db()?
            .map(|g| g.value())
            .ok_or(MetaError::NoSuchBucket)?;
        Ok(BucketStats {
            object_count,
            storage_bytes,
            multipart_upload_count,
        })
    }
}

/// Loads a bucket inside a write transaction.
pub(crate) fn load_bucket(txn: &WriteTransaction, name: &str) -> Result<Bucket, MetaError> {
    let buckets = txn.open_table(BUCKETS).db()?;
    let guard = buckets.get(name).db()?.ok_or(MetaError::NoSuchBucket)?;
    decode(guard.value())
}

/// Fails with `NoSuchBucket` unless the bucket exists.
pub(crate) fn require_bucket(txn: &WriteTransaction, name: &str) -> Result<(), MetaError> {
    match txn.open_table(BUCKETS).db()?.get(name).db()? {
        Some(_) => Ok(()),
        None => Err(MetaError::NoSuchBucket),
    }
}

/// Adjusts a bucket's counters by the given deltas.
pub(crate) fn adjust_stats(
    txn: &WriteTransaction,
    bucket: &str,
    objects: i64,
    bytes: i64,
    uploads: i64,
) -> Result<(), MetaError> {
    let mut stats = txn.open_table(BUCKET_STATS).db()?;
    let (o, b, u) = stats.get(bucket).db()?.map_or((0, 0, 0), |g| g.value());
    let apply = |v: u64, d: i64| v.saturating_add_signed(d);
    stats
        .insert(bucket, (apply(o, objects), apply(b, bytes), apply(u, uploads)))
        .db()?;
    Ok(())
}

fn dangling(name: &str) -> MetaError {
    MetaError::Internal(format!("owner index names missing bucket {name}"))
}
