//! Helpers shared by the store's integration tests: a store in a temp dir and one-call writes.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test and benchmark code states its expectations this way
#![allow(dead_code, reason = "each test file uses a different subset of these helpers")]

use cang_meta::Store;
use cang_meta_api::{Acl, NewBucket, ObjectInfo, ObjectMeta, PutObjectHeader, PutTrailer};

/// A store in a fresh temporary directory (kept alive by the returned guard).
pub fn store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(&dir.path().join("meta.redb")).expect("open store");
    (dir, store)
}

pub fn bucket(store: &Store, name: &str) {
    store
        .create_bucket(NewBucket {
            name: name.into(),
            owner: "1001".into(),
            location: "oss-cn-hangzhou".into(),
            acl: Acl::Private,
            encryption: None,
        })
        .expect("create bucket");
}

/// Deterministic bytes that differ per `seed`.
pub fn bytes(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

pub fn header(bucket: &str, key: &str) -> PutObjectHeader {
    PutObjectHeader {
        bucket: bucket.into(),
        key: key.into(),
        meta: ObjectMeta {
            content_type: "application/octet-stream".into(),
            ..ObjectMeta::default()
        },
        format: b"fmt".to_vec(),
        forbid_overwrite: false,
        replaces: None,
    }
}

pub fn trailer(len: usize, etag: &str) -> PutTrailer {
    PutTrailer {
        plaintext_len: len as u64,
        etag: etag.into(),
        crc64: Some(len as u64),
    }
}

/// Puts `data` as both ciphertext and (by length) plaintext.
pub fn put(store: &Store, bucket: &str, key: &str, data: &[u8], etag: &str) -> ObjectInfo {
    let blob = store.stage_bytes(data).expect("stage");
    store
        .put_object(header(bucket, key), blob, trailer(data.len(), etag))
        .expect("put")
}

/// Reads the whole ciphertext of an object.
pub fn read_all(store: &Store, bucket: &str, key: &str) -> Vec<u8> {
    let (_, reader) = store
        .read_object(bucket, key, None, &Default::default())
        .expect("read");
    reader.map(|c| c.expect("chunk")).collect::<Vec<_>>().concat()
}
