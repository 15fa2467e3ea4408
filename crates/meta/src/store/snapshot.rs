//! A consistent copy of the whole store while it serves: one read transaction (a fixed point in the commit
//! order; writers go on) copied table by table into a new redb file, which `cang admin backup` streams away.
//! Only committed data is in it: what a crash at that instant would have kept.

use std::path::Path;

use cang_meta_api::MetaError;
use redb::{
    Database, Key, ReadTransaction, ReadableTable, TableDefinition, TableError, Value, WriteTransaction,
};

use super::Store;
use super::tables::{
    ACCESS_KEYS, ACCOUNTS, ATTACHMENTS, BLOBS, BUCKET_STATS, BUCKETS, BUCKETS_BY_OWNER, CHUNKS, DbResult,
    INVENTORY, OBJECTS, PARTS, PENDING_BLOBS, POLICIES, UPLOADS, USERS,
};

/// Copies every row of `table`; a table the source never created is skipped. The number of rows copied.
fn copy<K: Key + 'static, V: Value + 'static>(
    from: &ReadTransaction,
    to: &WriteTransaction,
    table: TableDefinition<K, V>,
) -> Result<u64, MetaError> {
    let source = match from.open_table(table) {
        Ok(t) => t,
        Err(TableError::TableDoesNotExist(_)) => return Ok(0),
        Err(e) => return Err(e).db(),
    };
    let mut target = to.open_table(table).db()?;
    let mut rows = 0;
    for entry in source.iter().db()? {
        let (k, v) = entry.db()?;
        target.insert(k.value(), v.value()).db()?;
        rows += 1;
    }
    Ok(rows)
}

/// What a snapshot holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SnapshotRows {
    /// Objects.
    pub objects: u64,
    /// Ciphertext chunks.
    pub chunks: u64,
    /// Rows of every table.
    pub total: u64,
}

impl Store {
    /// Writes a consistent copy of the store to the new file `to` (created 0600; it must not exist).
    pub fn snapshot_to(&self, to: &Path) -> Result<SnapshotRows, MetaError> {
        {
            // Created private before redb opens it.
            use std::os::unix::fs::OpenOptionsExt;
            std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(to)
                .map_err(|e| MetaError::Internal(format!("creating the snapshot {}: {e}", to.display())))?;
        }
        let from = self.read()?;
        let copy_db = Database::create(to).db()?;
        let txn = copy_db.begin_write().db()?;
        let mut rows = SnapshotRows::default();
        let mut add = |n: u64| rows.total += n;
        add(copy(&from, &txn, BUCKETS)?);
        add(copy(&from, &txn, BUCKETS_BY_OWNER)?);
        add(copy(&from, &txn, BUCKET_STATS)?);
        let objects = copy(&from, &txn, OBJECTS)?;
        add(objects);
        add(copy(&from, &txn, UPLOADS)?);
        add(copy(&from, &txn, PARTS)?);
        add(copy(&from, &txn, BLOBS)?);
        // Blobs still being written are reclaimed when the copy is opened, as after a crash.
        add(copy(&from, &txn, PENDING_BLOBS)?);
        let chunks = copy(&from, &txn, CHUNKS)?;
        add(chunks);
        add(copy(&from, &txn, INVENTORY)?);
        add(copy(&from, &txn, ACCOUNTS)?);
        add(copy(&from, &txn, USERS)?);
        add(copy(&from, &txn, ACCESS_KEYS)?);
        add(copy(&from, &txn, POLICIES)?);
        add(copy(&from, &txn, ATTACHMENTS)?);
        txn.commit().db()?;
        rows.objects = objects;
        rows.chunks = chunks;
        Ok(rows)
    }
}
