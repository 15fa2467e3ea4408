//! Blobs: ciphertext packed into [`CHUNK_SIZE`] redb values keyed by (blob id, chunk index).
//!
//! A blob is first *staged* (its chunks written, its id listed in `pending_blobs`) and then either
//! committed by the operation that references it, or discarded. Committed blobs are reference
//! counted, so copies share chunks and the last release frees them.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use cang_meta_api::MetaError;
use redb::{ReadOnlyTable, ReadableTable, Table, WriteTransaction};
use serde::{Deserialize, Serialize};

use super::Store;
use super::tables::{BLOBS, CHUNK_SIZE, CHUNKS, DbResult, PENDING_BLOBS, chunk_count};

/// Staged chunks are written in transactions of this many chunks (≈ 8 MiB).
const FLUSH_CHUNKS: usize = 8;

/// One extent of a stored object or part: a blob plus what the gateway needs to decrypt it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct StoredExtent {
    pub(crate) blob: u64,
    pub(crate) ciphertext_len: u64,
    pub(crate) plaintext_len: u64,
    pub(crate) format: Vec<u8>,
}

/// Streams ciphertext into a new blob. Dropping it unfinished reclaims what was written.
#[derive(Debug)]
pub struct StagedBlobWriter {
    /// The database generation it started in; a flush after a reopen is refused.
    generation: u64,
    store: Store,
    id: u64,
    buf: Vec<u8>,
    next_chunk: u32,
    len: u64,
    registered: bool,
    finished: bool,
}

/// A fully written blob that no object references yet. Dropping it unused reclaims it.
#[derive(Debug)]
pub struct StagedBlob {
    store: Store,
    id: u64,
    len: u64,
    /// The database generation its chunks were written in.
    generation: u64,
    /// The only chunk, when it was never written (see [`StagedBlobWriter::finish`]).
    inline: Option<Vec<u8>>,
    consumed: bool,
}

impl Store {
    /// Starts staging a new blob.
    pub fn stage_blob(&self) -> StagedBlobWriter {
        let id = self.inner.next_blob_id.fetch_add(1, Ordering::Relaxed);
        StagedBlobWriter {
            generation: self.inner.slot.generation(),
            store: self.clone(),
            id,
            buf: Vec::new(),
            next_chunk: 0,
            len: 0,
            registered: false,
            finished: false,
        }
    }

    /// Stages `data` as a blob in one call.
    pub fn stage_bytes(&self, data: &[u8]) -> Result<StagedBlob, MetaError> {
        let mut w = self.stage_blob();
        w.write(data)?;
        w.finish()
    }
}

impl StagedBlobWriter {
    /// Appends ciphertext; full chunks are written out in batches.
    pub fn write(&mut self, data: &[u8]) -> Result<(), MetaError> {
        self.buf.extend_from_slice(data);
        self.len += data.len() as u64;
        if self.buf.len() >= FLUSH_CHUNKS * CHUNK_SIZE {
            self.flush(false)
        } else {
            Ok(())
        }
    }

    /// Bytes written so far.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether nothing was written yet.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Whether [`finish`](Self::finish) completes without a store transaction: nothing was flushed
    /// yet and the data fits one chunk, which then travels inline with the commit.
    pub fn finishes_inline(&self) -> bool {
        !self.registered && self.buf.len() <= CHUNK_SIZE
    }

    /// Writes the final partial chunk and returns the staged blob. A blob of at most one chunk that
    /// was never flushed is kept in memory and written by the commit's own transaction, which saves
    /// a transaction per small object.
    pub fn finish(mut self) -> Result<StagedBlob, MetaError> {
        let inline = if self.finishes_inline() {
            Some(std::mem::take(&mut self.buf))
        } else {
            self.flush(true)?;
            None
        };
        self.finished = true;
        Ok(StagedBlob {
            store: self.store.clone(),
            id: self.id,
            len: self.len,
            generation: self.generation,
            inline,
            consumed: false,
        })
    }

    fn flush(&mut self, last: bool) -> Result<(), MetaError> {
        let take = if last {
            self.buf.len()
        } else {
            self.buf.len() / CHUNK_SIZE * CHUNK_SIZE
        };
        if take == 0 {
            return Ok(());
        }
        let rest = self.buf.split_off(take);
        let data = std::mem::replace(&mut self.buf, rest);
        if self.store.inner.slot.generation() != self.generation {
            return Err(interrupted());
        }
        let (id, first, register) = (self.id, self.next_chunk, !self.registered);
        let count = u32::try_from(data.len().div_ceil(CHUNK_SIZE))
            .map_err(|_| MetaError::InvalidArgument("blob too large".into()))?;
        self.store.writer().write(false, move |txn| {
            if register {
                txn.open_table(PENDING_BLOBS).db()?.insert(id, ()).db()?;
            }
            let mut chunks = txn.open_table(CHUNKS).db()?;
            for (i, chunk) in data.chunks(CHUNK_SIZE).enumerate() {
                // `i` < `count`, which fits u32.
                chunks.insert((id, first + i as u32), chunk).db()?;
            }
            Ok(())
        })?;
        self.registered = true;
        self.next_chunk += count;
        Ok(())
    }
}

impl Drop for StagedBlobWriter {
    fn drop(&mut self) {
        if !self.finished && self.registered {
            let id = self.id;
            self.store.writer().write_detached(move |txn| discard(txn, id));
        }
    }
}

impl StagedBlob {
    /// Ciphertext bytes.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// What the committing transaction needs: id, length, the inline chunk if any, and the check that the
    /// chunks are still there.
    pub(crate) fn commit_parts(&mut self) -> (u64, u64, Option<Vec<u8>>, Staging) {
        let staging = Staging {
            slot: Arc::clone(&self.store.inner.slot),
            generation: self.generation,
        };
        (self.id, self.len, self.inline.take(), staging)
    }

    /// Whether the blob holds no bytes.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Marks the blob as owned by a committed record, so dropping it no longer reclaims it.
    pub(crate) fn consume(mut self) {
        self.consumed = true;
    }
}

impl Drop for StagedBlob {
    fn drop(&mut self) {
        if !self.consumed && self.inline.is_none() && self.len > 0 {
            let id = self.id;
            self.store.writer().write_detached(move |txn| discard(txn, id));
        }
    }
}

/// Whether a staged blob's chunks are still in the database: not if it was reopened after they were written
/// (reopening rolls back non-durable commits).
pub(crate) struct Staging {
    slot: Arc<super::slot::DbSlot>,
    generation: u64,
}

impl Staging {
    /// Call first in the committing job (which runs on the writer thread, so no reopen can come between
    /// this check and the commit). A domain error: the batch's other jobs go on.
    pub(crate) fn check(&self) -> Result<(), MetaError> {
        if self.slot.generation() == self.generation {
            Ok(())
        } else {
            Err(interrupted())
        }
    }
}

/// An upload whose staged chunks a reopen of the database may have rolled back.
fn interrupted() -> MetaError {
    MetaError::Unavailable("a storage failure interrupted this upload; send it again".into())
}

/// Removes a staged blob's chunks, if it is still staged (a committed blob is left alone).
fn discard(txn: &WriteTransaction, id: u64) -> Result<(), MetaError> {
    if txn.open_table(PENDING_BLOBS).db()?.remove(id).db()?.is_some() {
        remove_chunks(&mut txn.open_table(CHUNKS).db()?, id)?;
    }
    Ok(())
}

/// Turns a staged blob into a committed one with one reference, writing its inline chunk if it has one.
pub(crate) fn commit_staged(
    txn: &WriteTransaction,
    id: u64,
    len: u64,
    inline: Option<&[u8]>,
) -> Result<(), MetaError> {
    match inline {
        Some(chunk) if !chunk.is_empty() => {
            txn.open_table(CHUNKS).db()?.insert((id, 0), chunk).db()?;
        }
        _ => {
            txn.open_table(PENDING_BLOBS).db()?.remove(id).db()?;
        }
    }
    txn.open_table(BLOBS).db()?.insert(id, (len, 1)).db()?;
    Ok(())
}

/// Adds a reference to a committed blob.
pub(crate) fn add_ref(txn: &WriteTransaction, id: u64) -> Result<(), MetaError> {
    let mut blobs = txn.open_table(BLOBS).db()?;
    let (len, refs) = blobs
        .get(id)
        .db()?
        .map(|g| g.value())
        .ok_or_else(|| missing_blob(id))?;
    blobs.insert(id, (len, refs + 1)).db()?;
    Ok(())
}

/// Drops a reference to a committed blob, freeing its chunks with the last one.
pub(crate) fn release(txn: &WriteTransaction, id: u64) -> Result<(), MetaError> {
    let mut blobs = txn.open_table(BLOBS).db()?;
    let (len, refs) = blobs
        .get(id)
        .db()?
        .map(|g| g.value())
        .ok_or_else(|| missing_blob(id))?;
    if refs > 1 {
        blobs.insert(id, (len, refs - 1)).db()?;
        return Ok(());
    }
    blobs.remove(id).db()?;
    let mut chunks = txn.open_table(CHUNKS).db()?;
    for index in 0..chunk_count(len) {
        chunks.remove((id, index)).db()?;
    }
    Ok(())
}

/// Releases every extent's blob.
pub(crate) fn release_all(txn: &WriteTransaction, extents: &[StoredExtent]) -> Result<(), MetaError> {
    extents.iter().try_for_each(|e| release(txn, e.blob))
}

/// Removes a blob's chunks from index 0 up to the first missing one.
pub(crate) fn remove_chunks(chunks: &mut Table<'_, (u64, u32), &[u8]>, id: u64) -> Result<(), MetaError> {
    let mut index = 0;
    while chunks.remove((id, index)).db()?.is_some() {
        index += 1;
    }
    Ok(())
}

fn missing_blob(id: u64) -> MetaError {
    MetaError::Internal(format!("blob {id} is referenced but not stored"))
}

/// Streams a byte range of an object's concatenated ciphertext from one read snapshot, so a
/// concurrent overwrite never mixes versions. Yields slices of at most one chunk.
pub struct ObjectReader {
    chunks: ReadOnlyTable<(u64, u32), &'static [u8]>,
    extents: Vec<(u64, u64)>,
    pos: u64,
    end: u64,
}

impl std::fmt::Debug for ObjectReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ObjectReader")
            .field("pos", &self.pos)
            .field("end", &self.end)
            .finish()
    }
}

impl ObjectReader {
    pub(crate) fn new(
        chunks: ReadOnlyTable<(u64, u32), &'static [u8]>,
        extents: &[StoredExtent],
        start: u64,
        end: u64,
    ) -> Self {
        let extents = extents.iter().map(|e| (e.blob, e.ciphertext_len)).collect();
        Self {
            chunks,
            extents,
            pos: start,
            end,
        }
    }

    /// Bytes left to read.
    pub fn remaining(&self) -> u64 {
        self.end - self.pos
    }

    fn read_next(&mut self) -> Result<Vec<u8>, MetaError> {
        let mut extent_start = 0;
        for &(blob, len) in &self.extents {
            if self.pos < extent_start + len {
                let offset = self.pos - extent_start;
                let index = u32::try_from(offset / CHUNK_SIZE as u64).map_err(|_| missing_blob(blob))?;
                // Remainder of a division by CHUNK_SIZE, which fits usize.
                let within = (offset % CHUNK_SIZE as u64) as usize;
                let guard = self
                    .chunks
                    .get((blob, index))
                    .db()?
                    .ok_or_else(|| missing_blob(blob))?;
                let value = guard.value();
                let want = (self.end.min(extent_start + len) - self.pos) as usize;
                let available = value
                    .len()
                    .checked_sub(within)
                    .ok_or_else(|| missing_blob(blob))?;
                let n = want.min(available);
                if n == 0 {
                    return Err(missing_blob(blob));
                }
                self.pos += n as u64;
                return Ok(value[within..within + n].to_vec());
            }
            extent_start += len;
        }
        Err(MetaError::Internal("read past the end of the object".into()))
    }
}

impl Iterator for ObjectReader {
    type Item = Result<Vec<u8>, MetaError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.pos >= self.end {
            return None;
        }
        let item = self.read_next();
        if item.is_err() {
            // Stop after an error instead of repeating it.
            self.pos = self.end;
        }
        Some(item)
    }
}
