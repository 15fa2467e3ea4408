//! The audit trail: every use of a key, with the service identity that asked and the end user it asked
//! for, becomes a structured log line at once and a sealed record in
//! the append-only `audit` table, written by one thread in batches (one commit per batch, not per call).
//! The key id and version used also go on the caller's span; persisted records are counted in
//! `cang_audit_records_total`.

use std::sync::mpsc;
use std::sync::{Arc, Mutex, PoisonError};

use cang_telemetry::{Metrics, attributes};

use crate::record::AuditEntry;
use crate::store::Keystore;

/// Entries queued for the writer before a caller waits for room: at a batch of 4096 per commit, a full
/// queue means the disk cannot keep up, and waiting (back-pressure) beats dropping records.
const QUEUE_DEPTH: usize = 65_536;

/// Sends audit entries to the writer thread.
#[derive(Debug, Clone)]
pub(crate) struct AuditLog {
    tx: mpsc::SyncSender<AuditEntry>,
    writer: AuditWriter,
}

/// The writer thread, to be joined once every [`AuditLog`] is gone: it then persists what is queued and
/// releases the keystore.
#[derive(Debug, Clone)]
pub struct AuditWriter {
    handle: Arc<Mutex<Option<std::thread::JoinHandle<()>>>>,
}

impl AuditWriter {
    /// Waits up to `deadline` for the writer to finish; whether it did. Call it after the service and every
    /// session are dropped, or it waits the whole deadline.
    pub fn join(&self, deadline: std::time::Duration) -> bool {
        let Some(handle) = self.handle.lock().unwrap_or_else(PoisonError::into_inner).take() else {
            return true;
        };
        let started = std::time::Instant::now();
        while !handle.is_finished() {
            if started.elapsed() >= deadline {
                return false;
            }
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        handle.join().is_ok()
    }
}

impl AuditLog {
    /// Starts the writer thread; it ends when every `AuditLog` clone is dropped.
    pub fn start(store: Arc<Keystore>, metrics: Arc<Metrics>) -> Self {
        let (tx, rx) = mpsc::sync_channel::<AuditEntry>(QUEUE_DEPTH);
        let handle = std::thread::spawn(move || {
            while let Ok(first) = rx.recv() {
                let mut batch = vec![first];
                batch.extend(rx.try_iter().take(4095));
                match store.append_audit(&batch) {
                    Ok(_) => {
                        metrics.audit_records.inc_by(batch.len() as u64);
                    }
                    Err(e) => {
                        tracing::error!(error = %e, lost = batch.len(), "audit records could not be persisted");
                    }
                }
            }
        });
        Self {
            tx,
            writer: AuditWriter {
                handle: Arc::new(Mutex::new(Some(handle))),
            },
        }
    }

    /// The writer thread's handle.
    pub fn writer(&self) -> AuditWriter {
        self.writer.clone()
    }

    /// Logs and queues one entry.
    pub fn record(&self, entry: AuditEntry) {
        // Identifiers only: the span never sees key material.
        attributes::record_kms_key(&entry.key_id, &entry.key_version_id);
        let end_user = entry.end_user.as_ref();
        tracing::info!(
            target: "cang_kms::audit",
            principal = %entry.principal,
            end_user.account = end_user.map(|u| u.account.as_str()),
            end_user.user = end_user.and_then(|u| u.user.as_deref()),
            end_user.access_key_id = end_user.map(|u| u.access_key_id.as_str()),
            account = %entry.account,
            operation = %entry.operation,
            key_id = %entry.key_id,
            key_version_id = %entry.key_version_id,
            context_digest = %entry.context_digest,
            result = %entry.result,
            "key use"
        );
        let entry = match self.tx.try_send(entry) {
            Ok(()) => return,
            Err(mpsc::TrySendError::Full(entry)) => {
                tracing::warn!("audit queue full; waiting for the writer");
                entry
            }
            Err(mpsc::TrySendError::Disconnected(_)) => {
                tracing::error!("audit writer has stopped");
                return;
            }
        };
        if self.tx.send(entry).is_err() {
            tracing::error!("audit writer has stopped");
        }
    }
}
