//! The audit trail: every use of a key, with the service identity that asked and the end user it asked
//! for, becomes a structured log line at once and a sealed record in
//! the append-only `audit` table, written by one thread in batches (one commit per batch, not per call).
//! The key id and version used also go on the caller's span; persisted records are counted in
//! `cang_audit_records_total`.

use std::sync::Arc;
use std::sync::mpsc;

use cang_telemetry::{Metrics, attributes};

use crate::record::AuditEntry;
use crate::store::Keystore;

/// Sends audit entries to the writer thread.
#[derive(Debug, Clone)]
pub(crate) struct AuditLog {
    tx: mpsc::Sender<AuditEntry>,
}

impl AuditLog {
    /// Starts the writer thread; it ends when every `AuditLog` clone is dropped.
    pub fn start(store: Arc<Keystore>, metrics: Arc<Metrics>) -> Self {
        let (tx, rx) = mpsc::channel::<AuditEntry>();
        std::thread::spawn(move || {
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
        Self { tx }
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
        if self.tx.send(entry).is_err() {
            tracing::error!("audit writer has stopped");
        }
    }
}
