//! The redb keystore. Every value is sealed with AES-256-GCM under the root key, with the table and
//! record key as associated data, so a tampered, swapped or foreign record is detected on load. A
//! sealed check record detects a wrong root key before anything is written.
//!
//! All methods are synchronous; callers run them in `spawn_blocking`.

use std::path::Path;

use cang_kms_api::KeySpec;
use redb::{Database, ReadableDatabase, ReadableTable, ReadableTableMetadata, TableDefinition};
use zeroize::Zeroizing;

use crate::StartupError;
use crate::audit_chain::{ChainKey, ChainMac, GENESIS, Verifier};
use crate::cipher::{self, NONCE_LEN};
use crate::record::{self, AliasRecord, AuditEntry, ImportTokenRecord, KeyRecord, RecordError};
use crate::rootkey::RootKey;

const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");
const KEYS: TableDefinition<&str, &[u8]> = TableDefinition::new("keys");
const ALIASES: TableDefinition<&str, &[u8]> = TableDefinition::new("aliases");
const AUDIT: TableDefinition<u64, &[u8]> = TableDefinition::new("audit");
/// The MAC chain over the sealed audit records (see `audit_chain`), by sequence number.
const AUDIT_CHAIN: TableDefinition<u64, &[u8]> = TableDefinition::new("audit_chain");
/// Outstanding BYOK import tokens, keyed by the hex SHA-256 of the token (the token itself is never
/// stored in the clear, not even as a table key).
const IMPORT_TOKENS: TableDefinition<&str, &[u8]> = TableDefinition::new("import_tokens");
const CHECK_KEY: &str = "root-key-check";
const CHECK_VALUE: &[u8] = b"cang-kms keystore v1";

/// A keystore failure after startup.
#[derive(Debug, thiserror::Error)]
pub(crate) enum StoreError {
    #[error("keystore database error: {0}")]
    Db(String),
    #[error("keystore record {table}/{key} failed authentication (tampered or foreign)")]
    Tampered { table: &'static str, key: String },
    #[error("keystore record encoding: {0}")]
    Encoding(#[from] serde_json::Error),
    #[error("random number generator failed")]
    Random,
}

fn db_err(e: impl std::fmt::Display) -> StoreError {
    StoreError::Db(e.to_string())
}

/// Logs what making the keystore's directory or file private changed, or why it could not.
pub(crate) fn report_privacy(path: &Path, privacy: cang_tls::Privacy) {
    match privacy {
        cang_tls::Privacy::Created | cang_tls::Privacy::AlreadyPrivate => {}
        cang_tls::Privacy::Tightened { was } => tracing::info!(
            path = %path.display(),
            was = format_args!("{was:o}"),
            "narrowed to owner-only access"
        ),
        cang_tls::Privacy::NotOwned { mode, owner } => tracing::warn!(
            path = %path.display(),
            mode = format_args!("{mode:o}"),
            owner,
            "owned by another user and open to others; left as it is"
        ),
    }
}

/// The key and alias tables as loaded at start.
#[derive(Debug, Default)]
pub(crate) struct Loaded {
    pub keys: Vec<KeyRecord>,
    pub aliases: Vec<AliasRecord>,
    /// Key records that authenticated but do not decode, by key id.
    pub corrupt_keys: Vec<(String, RecordError)>,
    /// Alias records that authenticated but do not decode, by storage key (`account\0name`).
    pub corrupt_aliases: Vec<(String, RecordError)>,
}

/// One change applied atomically by [`Keystore::apply`].
#[derive(Debug)]
pub(crate) enum Change {
    PutKey(KeyRecord),
    DeleteKey(String),
    PutAlias(AliasRecord),
    DeleteAlias { account: String, name: String },
}

/// The sealed redb keystore.
pub(crate) struct Keystore {
    db: Database,
    /// The keystore's file: snapshots are written beside it.
    path: std::path::PathBuf,
    root: RootKey,
    /// The audit chain's MAC key, derived from the root key once.
    chain: ChainKey,
}

impl std::fmt::Debug for Keystore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keystore").finish_non_exhaustive()
    }
}

fn aad(table: &str, key: &str) -> Vec<u8> {
    format!("cang-kms/{table}/{key}").into_bytes()
}

/// Copies every row of `table` between two transactions; a table the source never created is skipped.
fn copy_table<K: redb::Key + 'static, V: redb::Value + 'static>(
    from: &redb::ReadTransaction,
    to: &redb::WriteTransaction,
    table: TableDefinition<K, V>,
) -> Result<u64, redb::Error> {
    let source = match from.open_table(table) {
        Ok(t) => t,
        Err(redb::TableError::TableDoesNotExist(_)) => return Ok(0),
        Err(e) => return Err(e.into()),
    };
    let mut target = to.open_table(table)?;
    let mut rows = 0;
    for entry in source.iter()? {
        let (k, v) = entry?;
        target.insert(k.value(), v.value())?;
        rows += 1;
    }
    Ok(rows)
}

impl Keystore {
    /// Writes a consistent copy of the keystore (as of one commit; its records stay sealed under the root
    /// key) to a new private file beside it, and returns that file's path.
    pub(crate) fn snapshot(&self) -> Result<std::path::PathBuf, StoreError> {
        use std::os::unix::fs::OpenOptionsExt;
        let dir = self
            .path
            .parent()
            .map_or_else(std::env::temp_dir, Path::to_path_buf);
        let mut id = [0u8; 8];
        getrandom::fill(&mut id).map_err(|_| StoreError::Random)?;
        let to = dir.join(format!(".snapshot-{}.redb", hex::encode(id)));
        let failed = |e: String| {
            let _ = std::fs::remove_file(&to);
            StoreError::Db(format!("snapshot: {e}"))
        };
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&to)
            .map_err(|e| failed(e.to_string()))?;
        let copied = (|| -> Result<(), redb::Error> {
            let from = self.db.begin_read()?;
            let copy = Database::create(&to)?;
            let txn = copy.begin_write()?;
            for table in [META, KEYS, ALIASES, IMPORT_TOKENS] {
                copy_table(&from, &txn, table)?;
            }
            for table in [AUDIT, AUDIT_CHAIN] {
                copy_table(&from, &txn, table)?;
            }
            txn.commit()?;
            Ok(())
        })();
        copied.map_err(|e| failed(e.to_string()))?;
        Ok(to)
    }

    /// Opens (or creates) the keystore. With an existing keystore, a root key that does not open the
    /// check record is refused before any write.
    pub fn open(path: &Path, root: RootKey) -> Result<Self, StartupError> {
        if let Some(dir) = path.parent() {
            cang_tls::transient::sweep(dir, ".snapshot-", ".redb");
        }
        // Verify through a read-only handle first: opening read-write may rewrite the header. A keystore
        // that was not closed cleanly (a killed process) cannot be opened read-only until redb repairs it;
        // the read-write open below repairs it and the same root-key check runs there.
        let read_only = if path.exists() {
            match redb::ReadOnlyDatabase::open(path) {
                Ok(ro) => Some(ro),
                Err(redb::DatabaseError::RepairAborted) => {
                    tracing::warn!(path = %path.display(), "keystore was not closed cleanly; repairing it");
                    None
                }
                Err(e) => return Err(StartupError::Keystore(e.to_string())),
            }
        } else {
            None
        };
        if let Some(ro) = read_only {
            let txn = ro
                .begin_read()
                .map_err(|e| StartupError::Keystore(e.to_string()))?;
            let sealed = match txn.open_table(META) {
                Ok(t) => t
                    .get(CHECK_KEY)
                    .map_err(|e| StartupError::Keystore(e.to_string()))?
                    .map(|v| v.value().to_vec()),
                Err(redb::TableError::TableDoesNotExist(_)) => None,
                Err(e) => return Err(StartupError::Keystore(e.to_string())),
            };
            if let Some(sealed) = sealed {
                let probe = Self::unseal_with(&root, "meta", CHECK_KEY, &sealed)
                    .map_err(|_| StartupError::WrongRootKey)?;
                if probe.as_slice() != CHECK_VALUE {
                    return Err(StartupError::WrongRootKey);
                }
            }
        }
        // Created empty and private (0600) before redb opens it, or narrowed to 0600 if an earlier start
        // or a volume mount left it open to others; redb initialises an empty file as a new database.
        match cang_tls::ensure_private_file(path) {
            Ok(privacy) => report_privacy(path, privacy),
            Err(e) => return Err(StartupError::Keystore(e.to_string())),
        }
        let db = Database::create(path).map_err(|e| StartupError::Keystore(e.to_string()))?;
        let chain = ChainKey::derive(root.bytes());
        let store = Self {
            db,
            path: path.to_path_buf(),
            root,
            chain,
        };
        let existing = {
            let txn = store
                .db
                .begin_read()
                .map_err(|e| StartupError::Keystore(e.to_string()))?;
            match txn.open_table(META) {
                Ok(t) => t
                    .get(CHECK_KEY)
                    .map_err(|e| StartupError::Keystore(e.to_string()))?
                    .map(|v| v.value().to_vec()),
                Err(redb::TableError::TableDoesNotExist(_)) => None,
                Err(e) => return Err(StartupError::Keystore(e.to_string())),
            }
        };
        match existing {
            Some(sealed) => {
                let plain = store
                    .unseal("meta", CHECK_KEY, &sealed)
                    .map_err(|_| StartupError::WrongRootKey)?;
                if plain.as_slice() != CHECK_VALUE {
                    return Err(StartupError::WrongRootKey);
                }
            }
            None => {
                let sealed = store
                    .seal("meta", CHECK_KEY, CHECK_VALUE)
                    .map_err(|_| StartupError::Random)?;
                let txn = store
                    .db
                    .begin_write()
                    .map_err(|e| StartupError::Keystore(e.to_string()))?;
                {
                    let mut t = txn
                        .open_table(META)
                        .map_err(|e| StartupError::Keystore(e.to_string()))?;
                    t.insert(CHECK_KEY, sealed.as_slice())
                        .map_err(|e| StartupError::Keystore(e.to_string()))?;
                    txn.open_table(KEYS)
                        .map_err(|e| StartupError::Keystore(e.to_string()))?;
                    txn.open_table(ALIASES)
                        .map_err(|e| StartupError::Keystore(e.to_string()))?;
                    txn.open_table(AUDIT)
                        .map_err(|e| StartupError::Keystore(e.to_string()))?;
                    txn.open_table(AUDIT_CHAIN)
                        .map_err(|e| StartupError::Keystore(e.to_string()))?;
                    txn.open_table(IMPORT_TOKENS)
                        .map_err(|e| StartupError::Keystore(e.to_string()))?;
                }
                txn.commit().map_err(|e| StartupError::Keystore(e.to_string()))?;
            }
        }
        Ok(store)
    }

    fn seal(&self, table: &str, key: &str, plaintext: &[u8]) -> Result<Vec<u8>, StoreError> {
        let nonce = cipher::random_nonce().map_err(|_| StoreError::Random)?;
        let ct = cipher::seal(
            KeySpec::Aes256,
            self.root.bytes(),
            &nonce,
            plaintext,
            &aad(table, key),
        )
        .map_err(|_| StoreError::Random)?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&ct);
        Ok(out)
    }

    fn unseal(
        &self,
        table: &'static str,
        key: &str,
        sealed: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, StoreError> {
        Self::unseal_with(&self.root, table, key, sealed)
    }

    fn unseal_with(
        root: &RootKey,
        table: &'static str,
        key: &str,
        sealed: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, StoreError> {
        let tampered = || StoreError::Tampered {
            table,
            key: key.to_owned(),
        };
        if sealed.len() < NONCE_LEN {
            return Err(tampered());
        }
        let (nonce, ct) = sealed.split_at(NONCE_LEN);
        let mut n = [0u8; NONCE_LEN];
        n.copy_from_slice(nonce);
        cipher::open(KeySpec::Aes256, root.bytes(), &n, ct, &aad(table, key)).map_err(|_| tampered())
    }

    /// Every key and alias record, authenticated. A record that fails authentication fails the load;
    /// one that authenticates but does not decode is returned apart, by its table key, to be refused.
    pub fn load_all(&self) -> Result<Loaded, StoreError> {
        let txn = self.db.begin_read().map_err(db_err)?;
        let mut loaded = Loaded::default();
        for row in txn.open_table(KEYS).map_err(db_err)?.iter().map_err(db_err)? {
            let (k, v) = row.map_err(db_err)?;
            let plain = self.unseal("keys", k.value(), v.value())?;
            match record::decode_key(k.value(), &plain) {
                Ok(rec) => loaded.keys.push(rec),
                Err(e) => loaded.corrupt_keys.push((k.value().to_owned(), e)),
            }
        }
        for row in txn.open_table(ALIASES).map_err(db_err)?.iter().map_err(db_err)? {
            let (k, v) = row.map_err(db_err)?;
            let plain = self.unseal("aliases", k.value(), v.value())?;
            match record::decode_alias(k.value(), &plain) {
                Ok(rec) => loaded.aliases.push(rec),
                Err(e) => loaded.corrupt_aliases.push((k.value().to_owned(), e)),
            }
        }
        Ok(loaded)
    }

    /// Seals and stores `json` as the record `key` of the `keys` or `aliases` table, bypassing the
    /// record types: how tests plant a record that authenticates but does not decode.
    #[cfg(test)]
    pub fn put_sealed_for_test(&self, table: &'static str, key: &str, json: &[u8]) -> Result<(), StoreError> {
        let sealed = self.seal(table, key, json)?;
        let def = if table == "aliases" { ALIASES } else { KEYS };
        let txn = self.db.begin_write().map_err(db_err)?;
        txn.open_table(def)
            .map_err(db_err)?
            .insert(key, sealed.as_slice())
            .map_err(db_err)?;
        txn.commit().map_err(db_err)
    }

    /// Applies `changes` in one durable transaction.
    pub fn apply(&self, changes: &[Change]) -> Result<(), StoreError> {
        let txn = self.db.begin_write().map_err(db_err)?;
        {
            let mut keys = txn.open_table(KEYS).map_err(db_err)?;
            let mut aliases = txn.open_table(ALIASES).map_err(db_err)?;
            for change in changes {
                match change {
                    Change::PutKey(rec) => {
                        let json = Zeroizing::new(serde_json::to_vec(rec)?);
                        let sealed = self.seal("keys", &rec.id, &json)?;
                        keys.insert(rec.id.as_str(), sealed.as_slice()).map_err(db_err)?;
                    }
                    Change::DeleteKey(id) => {
                        keys.remove(id.as_str()).map_err(db_err)?;
                    }
                    Change::PutAlias(rec) => {
                        let k = AliasRecord::storage_key(&rec.account, &rec.name);
                        let sealed = self.seal("aliases", &k, &serde_json::to_vec(rec)?)?;
                        aliases.insert(k.as_str(), sealed.as_slice()).map_err(db_err)?;
                    }
                    Change::DeleteAlias { account, name } => {
                        aliases
                            .remove(AliasRecord::storage_key(account, name).as_str())
                            .map_err(db_err)?;
                    }
                }
            }
        }
        txn.commit().map_err(db_err)
    }

    /// Stores an issued import token under `digest` and drops every token expired at `now`, in one
    /// durable transaction.
    pub fn put_import_token(
        &self,
        digest: &str,
        rec: &ImportTokenRecord,
        now: i64,
    ) -> Result<(), StoreError> {
        let json = Zeroizing::new(serde_json::to_vec(rec)?);
        let sealed = self.seal("import_tokens", digest, &json)?;
        let txn = self.db.begin_write().map_err(db_err)?;
        {
            // Created on first use: keystores made before tokens were persisted lack the table.
            let mut t = txn.open_table(IMPORT_TOKENS).map_err(db_err)?;
            let mut expired = Vec::new();
            for row in t.iter().map_err(db_err)? {
                let (k, v) = row.map_err(db_err)?;
                let plain = self.unseal("import_tokens", k.value(), v.value())?;
                let old: ImportTokenRecord = serde_json::from_slice(&plain)?;
                if old.expires <= now {
                    expired.push(k.value().to_owned());
                }
            }
            for k in expired {
                t.remove(k.as_str()).map_err(db_err)?;
            }
            t.insert(digest, sealed.as_slice()).map_err(db_err)?;
        }
        txn.commit().map_err(db_err)
    }

    /// The import token stored under `digest`, authenticated; `None` when there is none.
    pub fn get_import_token(&self, digest: &str) -> Result<Option<ImportTokenRecord>, StoreError> {
        let txn = self.db.begin_read().map_err(db_err)?;
        let t = match txn.open_table(IMPORT_TOKENS) {
            Ok(t) => t,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(None),
            Err(e) => return Err(db_err(e)),
        };
        let Some(sealed) = t.get(digest).map_err(db_err)? else {
            return Ok(None);
        };
        let plain = self.unseal("import_tokens", digest, sealed.value())?;
        Ok(Some(serde_json::from_slice(&plain)?))
    }

    /// Forgets the import token stored under `digest` (used, or no longer wanted).
    pub fn remove_import_token(&self, digest: &str) -> Result<(), StoreError> {
        let txn = self.db.begin_write().map_err(db_err)?;
        txn.open_table(IMPORT_TOKENS)
            .map_err(db_err)?
            .remove(digest)
            .map_err(db_err)?;
        txn.commit().map_err(db_err)
    }

    /// Appends audit entries, numbered after the last one, each sealed and linked into the MAC chain;
    /// returns the first sequence number used.
    pub fn append_audit(&self, entries: &[AuditEntry]) -> Result<u64, StoreError> {
        let txn = self.db.begin_write().map_err(db_err)?;
        let first;
        {
            let mut t = txn.open_table(AUDIT).map_err(db_err)?;
            let mut macs = txn.open_table(AUDIT_CHAIN).map_err(db_err)?;
            let last = t.last().map_err(db_err)?.map_or(0, |(k, _)| k.value());
            // The chain goes on from the last MAC; a log without one (new, or written before the
            // chain existed) starts it afresh.
            let mut previous: ChainMac = match macs.last().map_err(db_err)? {
                Some((_, v)) => ChainMac::try_from(v.value()).unwrap_or(GENESIS),
                None => GENESIS,
            };
            first = last + 1;
            for (i, e) in entries.iter().enumerate() {
                let seq = first + i as u64;
                let sealed = self.seal("audit", &seq.to_string(), &serde_json::to_vec(e)?)?;
                previous = self.chain.link(seq, &previous, &sealed);
                t.insert(seq, sealed.as_slice()).map_err(db_err)?;
                macs.insert(seq, previous.as_slice()).map_err(db_err)?;
            }
        }
        txn.commit().map_err(db_err)?;
        Ok(first)
    }

    /// Walks every audit record in one read transaction: each must open under the root key and,
    /// after the unchained prefix, carry the chain's MAC.
    pub fn verify_audit(
        &self,
        anchor: Option<cang_kms_api::AuditAnchor>,
    ) -> Result<cang_kms_api::AuditVerification, StoreError> {
        let mut verifier = Verifier::new(&self.chain, anchor);
        let txn = self.db.begin_read().map_err(db_err)?;
        let records = txn.open_table(AUDIT).map_err(db_err)?;
        let macs = match txn.open_table(AUDIT_CHAIN) {
            Ok(t) => Some(t),
            Err(redb::TableError::TableDoesNotExist(_)) => None,
            Err(e) => return Err(db_err(e)),
        };
        let mut chained = 0u64;
        for row in records.iter().map_err(db_err)? {
            let (k, v) = row.map_err(db_err)?;
            let seq = k.value();
            let mac = match &macs {
                Some(t) => t.get(seq).map_err(db_err)?.map(|g| {
                    // A MAC of the wrong length cannot match; it fails as a broken link.
                    ChainMac::try_from(g.value()).unwrap_or(GENESIS)
                }),
                None => None,
            };
            chained += u64::from(mac.is_some());
            let opens = self.unseal("audit", &seq.to_string(), v.value()).is_ok();
            verifier.record(seq, opens, v.value(), mac);
        }
        // A MAC left behind by a removed record: only looked for when the counts disagree.
        if let Some(t) = &macs
            && t.len().map_err(db_err)? != chained
        {
            for row in t.iter().map_err(db_err)? {
                let seq = row.map_err(db_err)?.0.value();
                if records.get(seq).map_err(db_err)?.is_none() {
                    verifier.orphan_mac(seq);
                    break;
                }
            }
        }
        Ok(verifier.finish())
    }

    /// Audit entries with sequence > `after`, at most `limit`.
    pub fn read_audit(&self, after: u64, limit: usize) -> Result<Vec<(u64, AuditEntry)>, StoreError> {
        let txn = self.db.begin_read().map_err(db_err)?;
        let t = txn.open_table(AUDIT).map_err(db_err)?;
        let mut out = Vec::new();
        for row in t.range(after.saturating_add(1)..).map_err(db_err)?.take(limit) {
            let (k, v) = row.map_err(db_err)?;
            let seq = k.value();
            let plain = self.unseal("audit", &seq.to_string(), v.value())?;
            out.push((seq, serde_json::from_slice(&plain)?));
        }
        Ok(out)
    }
}

#[cfg(test)]
#[path = "audit_tamper_tests.rs"]
mod audit_tamper_tests;
