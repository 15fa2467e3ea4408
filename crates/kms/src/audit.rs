//! The audit trail: every use of a key, with the service identity that asked and the end user it asked
//! for, becomes a structured log line at once and a sealed record in
//! the append-only `audit` table, written by one thread in batches (one commit per batch, not per call).
//! The key id and version used also go on the caller's span; persisted records are counted in
//! `cang_audit_records_total`.

use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::mpsc;

use cang_kms_api::{AuditAnchor, AuditRecord, AuditVerification, EncryptionContext, KmsError};
use cang_telemetry::{Metrics, attributes};

use crate::keyring::{Keyring, internal};
use crate::record::AuditEntry;
use crate::store::Keystore;

/// Entries queued for the writer before a caller waits for room: at a batch of 4096 per commit, a full
/// queue means the disk cannot keep up, and waiting (back-pressure) beats dropping records. The wait is
/// asynchronous: the caller's task yields its worker thread until the writer has made room.
const QUEUE_DEPTH: usize = 65_536;

/// Entries persisted in one commit, at most.
const BATCH: usize = 4096;

/// Sends audit entries to the writer thread.
#[derive(Debug, Clone)]
pub(crate) struct AuditLog {
    tx: mpsc::Sender<AuditEntry>,
    writer: AuditWriter,
}

/// The writer thread, to be joined once every [`AuditLog`] is gone: it then persists what is queued and
/// releases the keystore.
#[derive(Debug, Clone)]
pub struct AuditWriter {
    handle: Arc<Mutex<Option<std::thread::JoinHandle<()>>>>,
    /// Receives (or sees closed) once the writer thread has returned.
    finished: Arc<Mutex<Option<std::sync::mpsc::Receiver<()>>>>,
}

impl AuditWriter {
    /// Waits up to `deadline` for the writer to finish; whether it did. Call it after the service and every
    /// session are dropped, or it waits the whole deadline. Blocks the calling thread: call it from a
    /// blocking context (the end of `run` hands it to `spawn_blocking`).
    pub fn join(&self, deadline: std::time::Duration) -> bool {
        let Some(handle) = self.handle.lock().unwrap_or_else(PoisonError::into_inner).take() else {
            return true;
        };
        let finished = self
            .finished
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(finished) = finished {
            match finished.recv_timeout(deadline) {
                Ok(()) | Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {}
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                    // Put it back, so a later join can still wait for it.
                    *self.handle.lock().unwrap_or_else(PoisonError::into_inner) = Some(handle);
                    *self.finished.lock().unwrap_or_else(PoisonError::into_inner) = Some(finished);
                    return false;
                }
            }
        }
        handle.join().is_ok()
    }
}

impl AuditLog {
    /// Starts the writer thread; it ends when every `AuditLog` clone is dropped.
    pub fn start(store: Arc<Keystore>, metrics: Arc<Metrics>) -> Self {
        let (tx, mut rx) = mpsc::channel::<AuditEntry>(QUEUE_DEPTH);
        let (done_tx, done_rx) = std::sync::mpsc::sync_channel::<()>(1);
        let handle = std::thread::spawn(move || {
            while let Some(first) = rx.blocking_recv() {
                let mut batch = vec![first];
                while batch.len() < BATCH {
                    match rx.try_recv() {
                        Ok(entry) => batch.push(entry),
                        Err(_) => break,
                    }
                }
                match store.append_audit(&batch) {
                    Ok(_) => {
                        metrics.audit_records.inc_by(batch.len() as u64);
                    }
                    Err(e) => {
                        tracing::error!(error = %e, lost = batch.len(), "audit records could not be persisted");
                    }
                }
            }
            // The receiver may be gone (nobody joins): nothing to tell then.
            let _ = done_tx.send(());
        });
        Self {
            tx,
            writer: AuditWriter {
                handle: Arc::new(Mutex::new(Some(handle))),
                finished: Arc::new(Mutex::new(Some(done_rx))),
            },
        }
    }

    /// The writer thread's handle.
    pub fn writer(&self) -> AuditWriter {
        self.writer.clone()
    }

    /// Logs and queues one entry, waiting (asynchronously) for room when the writer is behind.
    pub async fn record(&self, entry: AuditEntry) {
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
            source = %entry.source,
            result = %entry.result,
            "key use"
        );
        let entry = match self.tx.try_send(entry) {
            Ok(()) => return,
            Err(mpsc::error::TrySendError::Full(entry)) => {
                tracing::warn!("audit queue full; waiting for the writer");
                entry
            }
            Err(mpsc::error::TrySendError::Closed(_)) => {
                tracing::error!("audit writer has stopped");
                return;
            }
        };
        if self.tx.send(entry).await.is_err() {
            tracing::error!("audit writer has stopped");
        }
    }
}

/// Audit records with a sequence number above `after`, at most `limit` (clamped to 1–1000).
pub(crate) async fn list(keyring: &Keyring, after: u64, limit: u32) -> Result<Vec<AuditRecord>, KmsError> {
    let limit = limit.clamp(1, 1000) as usize;
    let store = keyring.store.clone();
    let rows = tokio::task::spawn_blocking(move || store.read_audit(after, limit))
        .await
        .map_err(|_| KmsError::Internal)?
        .map_err(internal)?;
    Ok(rows
        .into_iter()
        .map(|(sequence, e)| AuditRecord {
            sequence,
            time_unix_ms: e.time_unix_ms,
            principal: e.principal,
            end_user: e.end_user.map(Into::into),
            account: e.account,
            operation: e.operation,
            key_id: e.key_id,
            key_version_id: e.key_version_id,
            context_digest: e.context_digest,
            result: e.result,
            source: e.source,
            encryption_context: EncryptionContext(e.context),
        })
        .collect())
}

/// Walks the whole log's MAC chain (see `audit_chain`) on a blocking thread.
pub(crate) async fn verify(
    keyring: &Keyring,
    anchor: Option<AuditAnchor>,
) -> Result<AuditVerification, KmsError> {
    let store = keyring.store.clone();
    let verification = tokio::task::spawn_blocking(move || store.verify_audit(anchor))
        .await
        .map_err(|_| KmsError::Internal)?
        .map_err(internal)?;
    match &verification.failure {
        None => tracing::info!(records = verification.records, "audit log verified intact"),
        Some((sequence, why)) => tracing::warn!(sequence, why, "audit log verification failed"),
    }
    Ok(verification)
}
