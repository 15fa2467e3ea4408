//! The synchronous redb store: opening, crash recovery, and the shared handles every operation
//! module (`bucket`, `object`, `multipart`, `identity`) builds on.

mod blob;
mod bucket;
mod commit;
mod crc64;
mod identity;
mod inventory;
mod legacy;
mod listing;
mod multipart;
mod object;
mod slot;
mod snapshot;
mod tables;

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use cang_meta_api::MetaError;
use cang_telemetry::metrics::MetaStoreMetrics;
use redb::{Database, ReadableDatabase, ReadableTable, ReadableTableMetadata};

pub use blob::{ObjectReader, StagedBlob, StagedBlobWriter};
pub use identity::validate_policy_document;
pub use snapshot::SnapshotRows;
pub use tables::CHUNK_SIZE;

use commit::{CommitMetrics, Writer};
use tables::{BLOBS, CHUNKS, DbResult, PENDING_BLOBS};

/// The metadata/blob store over one redb file. Cheap to clone; all clones share the database and
/// its single writer thread.
#[derive(Clone, Debug)]
pub struct Store {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    /// The open database and its file (none in memory): snapshots are written beside it.
    slot: Arc<slot::DbSlot>,
    writer: Writer,
    next_blob_id: AtomicU64,
    metrics: CommitMetrics,
}

impl Store {
    /// Opens (or creates) the store at `path`, reclaiming blobs whose writes never committed.
    pub fn open(path: &Path) -> Result<Self, MetaError> {
        if let Some(dir) = path.parent() {
            cang_tls::transient::sweep(dir, ".snapshot-", ".redb");
        }
        Self::start(Database::create(path).db()?, Some(path.to_path_buf()))
    }

    /// A store held in memory only, with the same tables, transactions and commit path as a file: the
    /// metadata service for tests that need no disk. Everything is gone when the last handle drops.
    pub fn in_memory() -> Result<Self, MetaError> {
        let db = Database::builder()
            .create_with_backend(redb::backends::InMemoryBackend::new())
            .db()?;
        Self::start(db, None)
    }

    fn start(db: Database, path: Option<std::path::PathBuf>) -> Result<Self, MetaError> {
        let next = recover(&db)?;
        let slot = slot::DbSlot::new(db, path);
        let metrics = CommitMetrics::default();
        let writer = Writer::start(Arc::clone(&slot), Arc::clone(&metrics))?;
        Ok(Self {
            inner: Arc::new(Inner {
                slot,
                writer,
                next_blob_id: AtomicU64::new(next),
                metrics,
            }),
        })
    }

    /// The open database (unavailable for the moment it is being reopened after a storage failure).
    fn db(&self) -> Result<Arc<Database>, MetaError> {
        self.inner.slot.get()
    }

    /// A read transaction: the store as of the last commit.
    fn read(&self) -> Result<redb::ReadTransaction, MetaError> {
        self.db()?.begin_read().db()
    }

    /// Where snapshots are written: beside the store's file (its volume has room for a copy), else the
    /// system's temporary directory.
    pub fn snapshot_dir(&self) -> std::path::PathBuf {
        self.inner
            .slot
            .path()
            .and_then(Path::parent)
            .map_or_else(std::env::temp_dir, Path::to_path_buf)
    }

    fn writer(&self) -> &Writer {
        &self.inner.writer
    }

    /// Reports write-transaction commit latency to `metrics` from now on. Only the first call
    /// takes effect: a store serves one service.
    pub fn observe_commits(&self, metrics: MetaStoreMetrics) {
        // A second registration is ignored on purpose; the first service owns the store.
        let _ = self.inner.metrics.set(metrics);
    }

    /// Ciphertext bytes held by committed blobs (a blob shared by copies counts once).
    pub fn stored_bytes(&self) -> Result<u64, MetaError> {
        let txn = self.read()?;
        let blobs = txn.open_table(BLOBS).db()?;
        let mut total = 0u64;
        for entry in blobs.iter().db()? {
            let (_, value) = entry.db()?;
            total = total.saturating_add(value.value().0);
        }
        Ok(total)
    }

    /// Counts of committed blobs, staged (uncommitted) blobs and stored chunks. Used by tests and
    /// operators to see that deleted data was reclaimed.
    pub fn blob_usage(&self) -> Result<BlobUsage, MetaError> {
        let txn = self.read()?;
        Ok(BlobUsage {
            blobs: txn.open_table(BLOBS).db()?.len().db()?,
            staged_blobs: txn.open_table(PENDING_BLOBS).db()?.len().db()?,
            chunks: txn.open_table(CHUNKS).db()?.len().db()?,
        })
    }
}

/// See [`Store::blob_usage`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlobUsage {
    /// Committed blobs.
    pub blobs: u64,
    /// Blobs being written or abandoned before commit.
    pub staged_blobs: u64,
    /// Stored chunk values.
    pub chunks: u64,
}

/// Creates every table, deletes the chunks of uncommitted blobs, and returns the next free blob id.
fn recover(db: &Database) -> Result<u64, MetaError> {
    let txn = db.begin_write().db()?;
    let mut reclaimed = 0usize;
    let next = {
        tables::create_all(&txn)?;
        let mut pending = txn.open_table(PENDING_BLOBS).db()?;
        let mut chunks = txn.open_table(CHUNKS).db()?;
        let blobs = txn.open_table(BLOBS).db()?;
        while let Some((id, ())) = pending.pop_first().db()?.map(|(k, v)| (k.value(), v.value())) {
            blob::remove_chunks(&mut chunks, id)?;
            reclaimed += 1;
        }
        let last_chunk = chunks.last().db()?.map_or(0, |(k, _)| k.value().0);
        let last_blob = blobs.last().db()?.map_or(0, |(k, _)| k.value());
        last_chunk.max(last_blob) + 1
    };
    let inventoried = inventory::rebuild_if_missing(&txn)?;
    txn.commit().db()?;
    if reclaimed > 0 {
        tracing::info!(reclaimed, "reclaimed uncommitted blobs");
    }
    if inventoried > 0 {
        tracing::info!(
            inventoried,
            "built the key inventory of a store written before it existed"
        );
    }
    Ok(next)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn staged_blobs_left_by_a_crash_are_reclaimed_on_open() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("meta.redb");
        {
            let store = Store::open(&path).unwrap();
            // What a process killed mid-stream leaves behind: a pending entry and its chunks.
            store
                .writer()
                .write(true, |txn| {
                    txn.open_table(PENDING_BLOBS).db()?.insert(77, ()).db()?;
                    let mut chunks = txn.open_table(CHUNKS).db()?;
                    for i in 0..3 {
                        chunks.insert((77, i), &[1u8; 10][..]).db()?;
                    }
                    Ok(())
                })
                .unwrap();
            assert_eq!(
                store.blob_usage().unwrap(),
                BlobUsage {
                    blobs: 0,
                    staged_blobs: 1,
                    chunks: 3
                }
            );
        }
        let store = Store::open(&path).unwrap();
        assert_eq!(
            store.blob_usage().unwrap(),
            BlobUsage {
                blobs: 0,
                staged_blobs: 0,
                chunks: 0
            }
        );
        // Ids are never reused below what the file has seen.
        assert!(
            store
                .inner
                .next_blob_id
                .load(std::sync::atomic::Ordering::Relaxed)
                >= 1
        );
    }

    #[test]
    fn uploads_staged_before_a_reopen_are_refused_and_the_store_goes_on() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("meta.redb");
        {
            let store = Store::open(&path).unwrap();
            let big = vec![5u8; CHUNK_SIZE * 2 + 10];
            // A blob whose chunks were flushed (non-durably) before the reopen, one still being written, and
            // a snapshot file some interrupted backup left.
            let mut staged = store.stage_bytes(&big).unwrap();
            let (_, _, _, before) = staged.commit_parts();
            let mut writing = store.stage_blob();
            writing.write(&big[..10]).unwrap();
            std::fs::write(dir.path().join(".snapshot-0123.redb"), b"left").unwrap();

            assert!(store.inner.slot.reopen(), "a file-backed store reopens");
            assert!(
                matches!(before.check(), Err(MetaError::Unavailable(_))),
                "chunks staged before the reopen may be rolled back: the commit is refused"
            );
            writing.write(&big).unwrap();
            assert!(
                matches!(writing.finish(), Err(MetaError::Unavailable(_))),
                "a flush after the reopen is refused"
            );
            // New uploads and reads go on.
            let mut fresh = store.stage_bytes(&big).unwrap();
            let (_, _, _, after) = fresh.commit_parts();
            assert!(after.check().is_ok());
            assert!(store.blob_usage().is_ok());
        }
        let _store = Store::open(&path).unwrap();
        assert!(!dir.path().join(".snapshot-0123.redb").exists(), "swept at open");
    }

    #[test]
    fn a_store_in_memory_cannot_be_reopened() {
        let store = Store::in_memory().unwrap();
        assert!(!store.inner.slot.reopen());
    }
}
