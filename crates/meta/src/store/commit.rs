//! The single writer thread: every mutation is a job queued here, and the thread runs all jobs that
//! are waiting in one redb write transaction (group commit), so concurrent small writes share one
//! durable commit instead of paying ~150 µs each.

use std::sync::mpsc::{Receiver, SyncSender, TryRecvError, sync_channel};

use std::sync::{Arc, OnceLock};
use std::time::Instant;

use cang_meta_api::MetaError;
use cang_telemetry::metrics::MetaStoreMetrics;
use redb::{Database, Durability, StorageError, WriteTransaction};

use super::slot::DbSlot;
use super::tables::DbResult;

/// Runs inside the shared transaction. Returns how it failed in storage, if it did (which aborts the whole
/// batch), and a completion that learns the commit's outcome.
///
/// A job that fails for a domain reason must fail before it writes anything: the transaction is shared.
type Job = Box<dyn FnOnce(&WriteTransaction) -> (StorageFailure, Completion) + Send>;

/// How a job failed in storage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum StorageFailure {
    /// It did not.
    None,
    /// The store refused (a corrupt record, a redb error): the batch is aborted.
    Store,
    /// The device failed (a full disk): the batch is aborted and the handle must be reopened.
    Device,
}

impl StorageFailure {
    fn of<T>(result: &Result<T, MetaError>) -> Self {
        match result {
            Err(e) if super::tables::is_device_failure(e) => Self::Device,
            Err(MetaError::Internal(_)) => Self::Store,
            _ => Self::None,
        }
    }
}
type Completion = Box<dyn FnOnce(Result<(), MetaError>) + Send>;

/// Jobs are never queued deeper than this; callers block beyond it.
const QUEUE_DEPTH: usize = 1024;
/// At most this many jobs share one transaction, so one batch never grows without bound.
const MAX_BATCH: usize = 256;

/// Where the writer reports commit latency, once the service has given it metrics.
pub(crate) type CommitMetrics = Arc<OnceLock<MetaStoreMetrics>>;

struct Queued {
    job: Job,
    durable: bool,
}

/// Handle to the writer thread. Dropping it lets queued jobs finish, then joins the thread, so the
/// database file is closed when the store is.
pub(crate) struct Writer {
    tx: Option<SyncSender<Queued>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for Writer {
    fn drop(&mut self) {
        drop(self.tx.take());
        if let Some(thread) = self.thread.take()
            && thread.join().is_err()
        {
            tracing::error!("the writer thread panicked");
        }
    }
}

impl std::fmt::Debug for Writer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Writer")
    }
}

impl Writer {
    /// Starts the writer thread over the database in `slot`. The thread ends when the last `Writer` is
    /// dropped.
    pub(crate) fn start(slot: Arc<DbSlot>, metrics: CommitMetrics) -> Result<Self, MetaError> {
        let (tx, rx) = sync_channel(QUEUE_DEPTH);
        let thread = std::thread::Builder::new()
            .name("cang-meta-writer".into())
            .spawn(move || run(&slot, &rx, &metrics))
            .map_err(|e| MetaError::Internal(format!("spawn writer thread: {e}")))?;
        Ok(Self {
            tx: Some(tx),
            thread: Some(thread),
        })
    }

    fn sender(&self) -> Result<&SyncSender<Queued>, MetaError> {
        self.tx
            .as_ref()
            .ok_or_else(|| MetaError::Unavailable("the store is shut down".into()))
    }

    /// Runs `f` in the next write transaction and returns its result once that transaction has
    /// committed (durably if `durable`). Blocks the calling thread.
    pub(crate) fn write<T, F>(&self, durable: bool, f: F) -> Result<T, MetaError>
    where
        T: Send + 'static,
        F: FnOnce(&WriteTransaction) -> Result<T, MetaError> + Send + 'static,
    {
        let (done_tx, done_rx) = sync_channel(1);
        let job: Job = Box::new(move |txn| {
            let result = f(txn);
            let storage_failure = StorageFailure::of(&result);
            let completion: Completion = Box::new(move |commit| {
                // The caller may have gone away; nothing to do then.
                let _ = done_tx.send(commit.and(result));
            });
            (storage_failure, completion)
        });
        self.sender()?
            .send(Queued { job, durable })
            .map_err(|_| MetaError::Unavailable("the store is shut down".into()))?;
        done_rx
            .recv()
            .map_err(|_| MetaError::Unavailable("the store is shut down".into()))?
    }

    /// Queues `f` without waiting for it (used from `Drop` to reclaim abandoned blobs).
    pub(crate) fn write_detached<F>(&self, f: F)
    where
        F: FnOnce(&WriteTransaction) -> Result<(), MetaError> + Send + 'static,
    {
        let job: Job = Box::new(move |txn| {
            let result = f(txn);
            let storage_failure = match StorageFailure::of(&result) {
                StorageFailure::None if result.is_err() => StorageFailure::Store,
                other => other,
            };
            if let Err(e) = &result {
                tracing::warn!(error = %e, "background reclaim failed; it is retried at next open");
            }
            (storage_failure, Box::new(|_| {}))
        });
        // A full queue or a stopped writer only delays reclaiming to the next open.
        if let Ok(tx) = self.sender() {
            let _ = tx.try_send(Queued { job, durable: false });
        }
    }
}

fn run(slot: &DbSlot, rx: &Receiver<Queued>, metrics: &CommitMetrics) {
    while let Ok(first) = rx.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(q) => batch.push(q),
                Err(TryRecvError::Empty | TryRecvError::Disconnected) => break,
            }
        }
        let broken = match slot.get() {
            Ok(db) => run_batch(&db, batch, metrics),
            // Still closed after a failed reopen: this batch fails (every caller sees `Unavailable`).
            Err(_) => true,
        };
        if broken {
            // Every later write would be refused by this handle: open the file again (the handle above is
            // dropped by now, so only readers may still hold it).
            slot.reopen();
        }
    }
}

/// Whether redb refuses further writes on this handle after `e` (an I/O failure, e.g. a full disk).
fn handle_broken(e: &StorageError) -> bool {
    matches!(e, StorageError::Io(_) | StorageError::PreviousIo)
}

/// Runs one batch; whether the database handle is broken by a storage failure and must be reopened.
fn run_batch(db: &Database, batch: Vec<Queued>, metrics: &CommitMetrics) -> bool {
    let durable = batch.iter().any(|q| q.durable);
    let mut txn = match db.begin_write() {
        Ok(txn) => txn,
        Err(e) => {
            // Dropping the jobs drops their reply channels: every caller sees `Unavailable`.
            tracing::error!(error = %e, "could not begin a write transaction");
            drop(batch);
            return matches!(&e, redb::TransactionError::Storage(s) if handle_broken(s));
        }
    };
    if !durable {
        // Only staged blob chunks are written non-durably; losing them in a crash loses nothing
        // acknowledged, and the next durable commit persists them.
        if let Err(e) = txn.set_durability(Durability::None) {
            tracing::debug!(error = %e, "non-durable commit refused; committing durably");
        }
    }
    let mut completions = Vec::with_capacity(batch.len());
    let mut storage_failure = StorageFailure::None;
    for q in batch {
        let (failed, done) = (q.job)(&txn);
        storage_failure = storage_failure.max(failed);
        completions.push(done);
    }
    let mut broken = storage_failure == StorageFailure::Device;
    let outcome = if storage_failure == StorageFailure::Device {
        let _ = txn.abort();
        Err(MetaError::Unavailable(
            "a storage failure (a full disk?) aborted the transaction".into(),
        ))
    } else if storage_failure == StorageFailure::Store {
        let _ = txn.abort();
        Err(MetaError::Internal(
            "a storage failure aborted the transaction".into(),
        ))
    } else {
        let started = Instant::now();
        let committed = txn.commit();
        if let Some(metrics) = metrics.get() {
            metrics.commit_latency.observe(started.elapsed().as_secs_f64());
        }
        match committed {
            Err(redb::CommitError::Storage(e)) if handle_broken(&e) => {
                // A full disk or a failing device: the service is unavailable for writes until it is
                // fixed (and the handle reopened), not broken.
                tracing::error!(error = %e, "a commit failed in storage");
                broken = true;
                Err(MetaError::Unavailable(format!("storage: {e}")))
            }
            other => other.db(),
        }
    };
    for done in completions {
        done(outcome.clone());
    }
    broken
}
