//! The audit log on a real keystore file, edited as someone with write access to the file (but not
//! the root key) could: each edit is found by `verify_audit`, at the record where it is.

use redb::{ReadableDatabase, ReadableTable, TableDefinition};

use super::{AUDIT, AUDIT_CHAIN, Keystore};
use crate::record::AuditEntry;
use crate::rootkey::RootKey;

fn entry(i: u64) -> AuditEntry {
    AuditEntry {
        time_unix_ms: 1_800_000_000_000 + i as i64,
        principal: "gateway".into(),
        end_user: None,
        account: "1234567890".into(),
        operation: "Decrypt".into(),
        key_id: "k".into(),
        key_version_id: "v".into(),
        context_digest: String::new(),
        context: [("bucket".to_owned(), "b".to_owned())].into(),
        result: "ok".into(),
        source: "192.0.2.7".into(),
    }
}

struct Log {
    _dir: tempfile::TempDir,
    store: Keystore,
}

impl Log {
    fn with(records: u64) -> anyhow::Result<Self> {
        let dir = tempfile::tempdir()?;
        let root = dir.path().join("root.key");
        RootKey::generate(&root)?;
        let store = Keystore::open(&dir.path().join("keystore.redb"), RootKey::load(&root)?)?;
        // Two batches, so the chain also runs across commits.
        let entries: Vec<_> = (1..=records).map(entry).collect();
        let (a, b) = entries.split_at(entries.len() / 2);
        store.append_audit(a)?;
        store.append_audit(b)?;
        Ok(Self { _dir: dir, store })
    }

    fn failure_at(&self, anchor: Option<cang_kms_api::AuditAnchor>) -> anyhow::Result<Option<u64>> {
        Ok(self.store.verify_audit(anchor)?.failure.map(|(seq, _)| seq))
    }

    fn edit(
        &self,
        table: TableDefinition<u64, &[u8]>,
        f: impl FnOnce(&mut redb::Table<u64, &[u8]>),
    ) -> anyhow::Result<()> {
        let txn = self.store.db.begin_write()?;
        {
            let mut t = txn.open_table(table)?;
            f(&mut t);
        }
        txn.commit()?;
        Ok(())
    }

    fn value(&self, table: TableDefinition<u64, &[u8]>, seq: u64) -> anyhow::Result<Vec<u8>> {
        let txn = self.store.db.begin_read()?;
        let t = txn.open_table(table)?;
        Ok(t.get(seq)?.map(|v| v.value().to_vec()).unwrap_or_default())
    }
}

#[test]
fn an_untouched_log_verifies_with_and_without_its_anchor() -> anyhow::Result<()> {
    let log = Log::with(10)?;
    let v = log.store.verify_audit(None)?;
    assert!(v.is_intact(), "{v:?}");
    assert_eq!((v.records, v.unchained), (10, 0));
    let head = v.head.ok_or_else(|| anyhow::anyhow!("no head"))?;
    assert_eq!(head.sequence, 10);
    assert_eq!(log.failure_at(Some(head))?, None);
    // Later records extend the chain; the old anchor still holds.
    log.store.append_audit(&[entry(11)])?;
    assert_eq!(log.failure_at(Some(head))?, None);
    Ok(())
}

#[test]
fn removed_reordered_replaced_or_truncated_records_are_found() -> anyhow::Result<()> {
    // A record removed from the middle (with its MAC).
    let log = Log::with(10)?;
    log.edit(AUDIT, |t| drop(t.remove(4)))?;
    log.edit(AUDIT_CHAIN, |t| drop(t.remove(4)))?;
    assert_eq!(log.failure_at(None)?, Some(4));

    // Two records swapped (sealed values and MACs).
    let log = Log::with(10)?;
    let (r3, r4) = (log.value(AUDIT, 3)?, log.value(AUDIT, 4)?);
    log.edit(AUDIT, |t| {
        let _ = t.insert(3, r4.as_slice());
        let _ = t.insert(4, r3.as_slice());
    })?;
    assert_eq!(
        log.failure_at(None)?,
        Some(3),
        "a moved record does not open at its new place"
    );

    // One record replaced by another's sealed bytes and MAC: it does not open (its sequence is sealed in).
    let log = Log::with(10)?;
    let (r2, m2) = (log.value(AUDIT, 2)?, log.value(AUDIT_CHAIN, 2)?);
    log.edit(AUDIT, |t| drop(t.insert(6, r2.as_slice())))?;
    log.edit(AUDIT_CHAIN, |t| drop(t.insert(6, m2.as_slice())))?;
    assert_eq!(log.failure_at(None)?, Some(6));

    // A MAC removed.
    let log = Log::with(10)?;
    log.edit(AUDIT_CHAIN, |t| drop(t.remove(7)))?;
    assert_eq!(log.failure_at(None)?, Some(7));

    // MACs stripped from the start, to pass the records off as written before chaining.
    let log = Log::with(10)?;
    log.edit(AUDIT_CHAIN, |t| {
        let _ = t.remove(1);
        let _ = t.remove(2);
    })?;
    assert_eq!(log.failure_at(None)?, Some(3));

    // The tail cut off: invisible without an anchor, found with one.
    let log = Log::with(10)?;
    let head = log.store.verify_audit(None)?.head;
    log.edit(AUDIT, |t| {
        let _ = t.remove(9);
        let _ = t.remove(10);
    })?;
    log.edit(AUDIT_CHAIN, |t| {
        let _ = t.remove(9);
        let _ = t.remove(10);
    })?;
    assert_eq!(log.failure_at(None)?, None);
    assert_eq!(log.failure_at(head)?, Some(10));
    Ok(())
}

#[test]
fn records_from_before_the_chain_form_an_unchained_prefix() -> anyhow::Result<()> {
    let log = Log::with(4)?;
    // As a keystore written before chaining looks: records without MACs.
    log.edit(AUDIT_CHAIN, |t| {
        for seq in 1..=4 {
            let _ = t.remove(seq);
        }
    })?;
    log.store.append_audit(&[entry(5), entry(6)])?;
    let v = log.store.verify_audit(None)?;
    assert!(v.is_intact(), "{v:?}");
    assert_eq!((v.records, v.unchained), (6, 4));
    assert_eq!(v.head.map(|h| h.sequence), Some(6));
    // The records themselves read back whole, context and source included.
    let read = log.store.read_audit(4, 10)?;
    assert_eq!(read.len(), 2);
    assert_eq!(read[0].1.source, "192.0.2.7");
    assert_eq!(read[0].1.context.get("bucket").map(String::as_str), Some("b"));
    Ok(())
}

#[test]
fn another_root_key_cannot_forge_the_chain() -> anyhow::Result<()> {
    let log = Log::with(3)?;
    let dir = tempfile::tempdir()?;
    let root = dir.path().join("root.key");
    RootKey::generate(&root)?;
    let forger = Keystore::open(&dir.path().join("keystore.redb"), RootKey::load(&root)?)?;
    forger.append_audit(&[entry(1)])?;
    let forged = (forger_value(&forger, AUDIT)?, forger_value(&forger, AUDIT_CHAIN)?);
    log.edit(AUDIT, |t| drop(t.insert(4, forged.0.as_slice())))?;
    log.edit(AUDIT_CHAIN, |t| drop(t.insert(4, forged.1.as_slice())))?;
    assert_eq!(log.failure_at(None)?, Some(4));
    Ok(())
}

fn forger_value(store: &Keystore, table: TableDefinition<u64, &[u8]>) -> anyhow::Result<Vec<u8>> {
    let txn = store.db.begin_read()?;
    let t = txn.open_table(table)?;
    let (_, v) = t.last()?.ok_or_else(|| anyhow::anyhow!("empty"))?;
    Ok(v.value().to_vec())
}
