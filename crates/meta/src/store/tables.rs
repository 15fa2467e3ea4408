//! redb table definitions, the versioned record codec, and the conversion of redb failures into
//! `MetaError::Internal`.

use cang_meta_api::MetaError;
use redb::TableDefinition;
use serde::Serialize;
use serde::de::DeserializeOwned;

/// Bucket name → `Bucket` record.
pub(crate) const BUCKETS: TableDefinition<&str, &[u8]> = TableDefinition::new("buckets");
/// (owner, bucket name) → (): ListBuckets index.
pub(crate) const BUCKETS_BY_OWNER: TableDefinition<(&str, &str), ()> =
    TableDefinition::new("buckets_by_owner");
/// Bucket name → (object count, plaintext bytes, unfinished uploads).
pub(crate) const BUCKET_STATS: TableDefinition<&str, (u64, u64, u64)> = TableDefinition::new("bucket_stats");
/// (bucket, key) → `StoredObject` record.
pub(crate) const OBJECTS: TableDefinition<(&str, &str), &[u8]> = TableDefinition::new("objects");
/// (bucket, key, upload id) → `MultipartUpload` record.
pub(crate) const UPLOADS: TableDefinition<(&str, &str, &str), &[u8]> = TableDefinition::new("uploads");
/// (upload id, part number) → `StoredPart` record.
pub(crate) const PARTS: TableDefinition<(&str, u32), &[u8]> = TableDefinition::new("parts");
/// Blob id → (ciphertext length, reference count) of committed blobs.
pub(crate) const BLOBS: TableDefinition<u64, (u64, u32)> = TableDefinition::new("blobs");
/// Blob id → (): blobs being written and not yet committed; reclaimed at open.
pub(crate) const PENDING_BLOBS: TableDefinition<u64, ()> = TableDefinition::new("pending_blobs");
/// (blob id, chunk index) → ciphertext bytes, each chunk [`CHUNK_SIZE`] except a blob's last.
pub(crate) const CHUNKS: TableDefinition<(u64, u32), &[u8]> = TableDefinition::new("chunks");
/// (bucket, SSE algorithm code, wrapping key id, version id) → (objects, plaintext bytes, unfinished
/// uploads): the key inventory, adjusted by every commit. Empty ids: recorded before versions were.
pub(crate) const INVENTORY: TableDefinition<InventoryRow, (u64, u64, u64)> =
    TableDefinition::new("inventory");
/// The key of an inventory row: (bucket, SSE algorithm code, wrapping key id, version id).
pub(crate) type InventoryRow = (&'static str, u8, &'static str, &'static str);
/// Account id → `Account`.
pub(crate) const ACCOUNTS: TableDefinition<&str, &[u8]> = TableDefinition::new("accounts");
/// (account id, user name) → `User`.
pub(crate) const USERS: TableDefinition<(&str, &str), &[u8]> = TableDefinition::new("users");
/// Access key id → `AccessKey`.
pub(crate) const ACCESS_KEYS: TableDefinition<&str, &[u8]> = TableDefinition::new("access_keys");
/// (account id, policy name) → `Policy`.
pub(crate) const POLICIES: TableDefinition<(&str, &str), &[u8]> = TableDefinition::new("policies");
/// (account id, user name, policy name) → ().
pub(crate) const ATTACHMENTS: TableDefinition<(&str, &str, &str), ()> = TableDefinition::new("attachments");
/// Signed-out console session id → when its cookie expires anyway (ms since epoch).
pub(crate) const CONSOLE_REVOCATIONS: TableDefinition<&[u8], u64> =
    TableDefinition::new("console_revocations");

/// Ciphertext bytes per chunk value. redb stores a value in a page run of the next power of two
/// above value + leaf overhead, so 1 MiB − 256 B keeps each chunk in a 1 MiB run instead of 2 MiB.
pub const CHUNK_SIZE: usize = 1024 * 1024 - 256;

/// Leading byte of every encoded record; bump it when a record's layout changes, and teach
/// [`Record::decode_v1`] (or its successor) the old layout.
///
/// 2: the encryption record names the key version that wrapped the data key (`ObjectSse::wrapping`).
const RECORD_VERSION: u8 = 2;

/// A stored record type: what it looked like under each older record version.
pub(crate) trait Record: Serialize + DeserializeOwned {
    /// Decodes a body written under record version 1. Types whose layout has not changed since use
    /// this default.
    fn decode_v1(body: &[u8]) -> postcard::Result<Self> {
        postcard::from_bytes(body)
    }
}

/// Encodes a record as its version byte followed by postcard.
pub(crate) fn encode<T: Record>(record: &T) -> Result<Vec<u8>, MetaError> {
    let mut out = vec![RECORD_VERSION];
    postcard::to_io(record, &mut out).map_err(|e| MetaError::Internal(format!("encode record: {e}")))?;
    Ok(out)
}

/// Decodes a record written by [`encode`], under this or an older record version.
pub(crate) fn decode<T: Record>(bytes: &[u8]) -> Result<T, MetaError> {
    let decoded = match bytes.split_first() {
        Some((&RECORD_VERSION, body)) => postcard::from_bytes(body),
        Some((1, body)) => T::decode_v1(body),
        Some((v, _)) => return Err(MetaError::Internal(format!("unknown record version {v}"))),
        None => return Err(MetaError::Internal("empty record".into())),
    };
    decoded.map_err(|e| MetaError::Internal(format!("decode record: {e}")))
}

/// Maps a redb failure to `MetaError::Unavailable` when the device failed (an I/O error such as a full disk,
/// or the refusal that follows one until the database is reopened), else to `MetaError::Internal`.
pub(crate) trait DbResult<T> {
    /// Converts the error side.
    fn db(self) -> Result<T, MetaError>;
}

impl<T, E: Into<redb::Error>> DbResult<T> for Result<T, E> {
    fn db(self) -> Result<T, MetaError> {
        self.map_err(|e| match e.into() {
            e @ (redb::Error::Io(_) | redb::Error::PreviousIo) => {
                MetaError::Unavailable(format!("{DEVICE_FAILURE}{e}"))
            }
            // A read on a handle closed by a reopen (see `slot`): try again.
            e @ redb::Error::DatabaseClosed => MetaError::Unavailable(format!("storage reopened: {e}")),
            e => MetaError::Internal(format!("storage: {e}")),
        })
    }
}

/// How the message of a device failure (see [`DbResult`]) begins.
const DEVICE_FAILURE: &str = "storage device: ";

/// Whether `e` is a device failure, after which the database must be reopened.
pub(crate) fn is_device_failure(e: &MetaError) -> bool {
    matches!(e, MetaError::Unavailable(m) if m.starts_with(DEVICE_FAILURE))
}

/// Milliseconds since the Unix epoch.
pub(crate) fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// Number of chunks a blob of `len` bytes occupies.
pub(crate) fn chunk_count(len: u64) -> u32 {
    u32::try_from(len.div_ceil(CHUNK_SIZE as u64)).unwrap_or(u32::MAX)
}

/// Opens every table once so that read transactions never meet a missing table.
pub(crate) fn create_all(txn: &redb::WriteTransaction) -> Result<(), MetaError> {
    txn.open_table(BUCKETS).db()?;
    txn.open_table(BUCKETS_BY_OWNER).db()?;
    txn.open_table(BUCKET_STATS).db()?;
    txn.open_table(OBJECTS).db()?;
    txn.open_table(UPLOADS).db()?;
    txn.open_table(PARTS).db()?;
    txn.open_table(BLOBS).db()?;
    txn.open_table(PENDING_BLOBS).db()?;
    txn.open_table(CHUNKS).db()?;
    txn.open_table(INVENTORY).db()?;
    txn.open_table(ACCOUNTS).db()?;
    txn.open_table(USERS).db()?;
    txn.open_table(ACCESS_KEYS).db()?;
    txn.open_table(POLICIES).db()?;
    txn.open_table(ATTACHMENTS).db()?;
    txn.open_table(CONSOLE_REVOCATIONS).db()?;
    Ok(())
}
