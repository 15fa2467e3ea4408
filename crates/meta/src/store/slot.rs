//! The open database, replaceable: after a storage failure (a full disk, an I/O error) redb refuses every
//! later write transaction until the database is closed and opened again. The writer then reopens the file
//! — so writes resume by themselves once the cause is gone, without a restart. Reads in flight on the old
//! handle end as unavailable; reopening rolls back the non-durable commits since the last durable one (only
//! staged blob chunks are written so), so uploads staged before it are refused at commit (`generation`).

use std::path::PathBuf;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use cang_meta_api::MetaError;
use redb::Database;

/// How long one reopen attempt waits for the old handle's readers.
const REOPEN_WAIT: Duration = Duration::from_secs(10);
const POLL: Duration = Duration::from_millis(20);

/// See the [module documentation](self).
#[derive(Debug)]
pub(crate) struct DbSlot {
    db: RwLock<Option<Arc<Database>>>,
    /// How many times the database was reopened: redb rolls back the non-durable commits since the last
    /// durable one when it opens a file again, so blob chunks staged before a reopen may be gone.
    generation: std::sync::atomic::AtomicU64,
    /// The file (none in memory, which cannot be reopened).
    path: Option<PathBuf>,
}

impl DbSlot {
    pub(crate) fn new(db: Database, path: Option<PathBuf>) -> Arc<Self> {
        Arc::new(Self {
            db: RwLock::new(Some(Arc::new(db))),
            generation: std::sync::atomic::AtomicU64::new(0),
            path,
        })
    }

    /// The open database.
    pub(crate) fn get(&self) -> Result<Arc<Database>, MetaError> {
        self.db
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
            .ok_or_else(|| MetaError::Unavailable("the store is reopening after a storage failure".into()))
    }

    /// How many times the database was reopened.
    pub(crate) fn generation(&self) -> u64 {
        self.generation.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// The file the store lives in.
    pub(crate) fn path(&self) -> Option<&std::path::Path> {
        self.path.as_deref()
    }

    /// Closes the database once nobody else holds it and opens the file again; whether it is open now. Call
    /// it holding no handle of your own.
    pub(crate) fn reopen(&self) -> bool {
        let Some(path) = &self.path else {
            return false;
        };
        let started = std::time::Instant::now();
        while started.elapsed() < REOPEN_WAIT {
            let mut slot = self.db.write().unwrap_or_else(PoisonError::into_inner);
            if slot.as_ref().is_some_and(|db| Arc::strong_count(db) > 1) {
                drop(slot);
                std::thread::sleep(POLL);
                continue;
            }
            drop(slot.take());
            // Read transactions of the old handle do not hold the `Arc` (only `begin_read` does): they end
            // with `DatabaseClosed`, which readers report as unavailable.
            match Database::create(path) {
                Ok(db) => {
                    self.generation.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    *slot = Some(Arc::new(db));
                    tracing::warn!(path = %path.display(), "store reopened after a storage failure");
                    return true;
                }
                Err(e) => {
                    drop(slot);
                    tracing::debug!(error = %e, "store not reopened yet");
                    std::thread::sleep(POLL);
                }
            }
        }
        tracing::error!(path = %path.display(), "store could not be reopened; retrying at the next write");
        false
    }
}
