//! The key inventory follows every commit exactly, and a rewrap swaps a wrapped key only while the
//! object still holds the one that was re-wrapped.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code states its expectations this way

mod support;

use cang_meta::Store;
use cang_meta_api::{
    AppendObjectHeader, CompletedPart, CopyObjectRequest, InventoryEntry, InventoryQuery, ObjectMeta,
    ObjectSse, RewrapObject, RewrapOutcome, SseAlgorithm, UploadPartHeader, WrappingKey,
};
use support::{bucket, bytes, header, store, trailer};

fn wrapping(key: &str, version: &str) -> WrappingKey {
    WrappingKey {
        key_id: key.into(),
        version_id: version.into(),
    }
}

fn sealed(algorithm: SseAlgorithm, key: &str, version: &str, wrapped: u8) -> ObjectMeta {
    ObjectMeta {
        sse: Some(ObjectSse {
            algorithm,
            key_id: (algorithm == SseAlgorithm::Kms).then(|| key.to_owned()),
            data_encryption: None,
            wrapped_key: vec![wrapped; 4],
            wrapping: Some(wrapping(key, version)),
        }),
        ..ObjectMeta::default()
    }
}

fn put_sealed(s: &Store, b: &str, k: &str, len: usize, meta: ObjectMeta) {
    let mut h = header(b, k);
    h.meta = meta;
    let data = bytes(len, 1);
    s.put_object(h, s.stage_bytes(&data).unwrap(), trailer(len, "E"))
        .unwrap();
}

/// (bucket, algorithm, key, version, objects, bytes, uploads) of every row.
fn rows(s: &Store, query: InventoryQuery) -> Vec<(String, SseAlgorithm, String, String, u64, u64, u64)> {
    s.key_inventory(&query)
        .unwrap()
        .into_iter()
        .map(|e: InventoryEntry| {
            let w = e.wrapping.unwrap_or(wrapping("?", "?"));
            (
                e.bucket,
                e.algorithm,
                w.key_id,
                w.version_id,
                e.objects,
                e.bytes,
                e.uploads,
            )
        })
        .collect()
}

fn row(
    b: &str,
    a: SseAlgorithm,
    k: &str,
    v: &str,
    o: u64,
    by: u64,
    u: u64,
) -> (String, SseAlgorithm, String, String, u64, u64, u64) {
    (b.into(), a, k.into(), v.into(), o, by, u)
}

#[test]
fn every_commit_moves_the_counts_and_nothing_else_does() {
    use SseAlgorithm::{Aes256, Kms, None as Plain};
    let (_d, s) = store();
    bucket(&s, "bk1");
    bucket(&s, "bk2");
    put_sealed(&s, "bk1", "a", 10, sealed(Kms, "cmk-1", "v1", 1));
    put_sealed(&s, "bk1", "b", 20, sealed(Kms, "cmk-1", "v1", 2));
    put_sealed(&s, "bk1", "c", 5, sealed(Aes256, "service-aes256", "s1", 3));
    put_sealed(&s, "bk2", "a", 7, sealed(Plain, "service-storage", "t1", 4));
    assert_eq!(
        rows(&s, InventoryQuery::default()),
        vec![
            row("bk1", Aes256, "service-aes256", "s1", 1, 5, 0),
            row("bk1", Kms, "cmk-1", "v1", 2, 30, 0),
            row("bk2", Plain, "service-storage", "t1", 1, 7, 0),
        ]
    );
    // Overwrite under a newer version: the old row shrinks, the new one appears.
    put_sealed(&s, "bk1", "b", 3, sealed(Kms, "cmk-1", "v2", 5));
    // Delete, and delete of a missing key.
    s.delete_objects("bk1", vec!["c".into(), "nope".into()]).unwrap();
    assert_eq!(
        rows(
            &s,
            InventoryQuery {
                bucket: Some("bk1".into()),
                key_id: None
            }
        ),
        vec![
            row("bk1", Kms, "cmk-1", "v1", 1, 10, 0),
            row("bk1", Kms, "cmk-1", "v2", 1, 3, 0)
        ]
    );
    // Appends grow the bytes of the first append's row; the object is counted once.
    let append = |pos: u64, len: usize| {
        let h = AppendObjectHeader {
            bucket: "bk2".into(),
            key: "log".into(),
            position: pos,
            meta: sealed(Kms, "cmk-2", "w1", 9),
            format: vec![],
        };
        s.append_object(h, s.stage_bytes(&bytes(len, 2)).unwrap(), trailer(len, "A"))
            .unwrap();
    };
    append(0, 4);
    append(4, 6);
    // A copy counts under its own record (the source's, for a store-level copy).
    s.copy_object(CopyObjectRequest {
        src_bucket: "bk2".into(),
        src_key: "log".into(),
        dst_bucket: "bk1".into(),
        dst_key: "copy".into(),
        source_conditions: Default::default(),
        replace_meta: None,
        forbid_overwrite: false,
    })
    .unwrap();
    assert_eq!(
        rows(
            &s,
            InventoryQuery {
                bucket: None,
                key_id: Some("cmk-2".into())
            }
        ),
        vec![
            row("bk1", Kms, "cmk-2", "w1", 1, 10, 0),
            row("bk2", Kms, "cmk-2", "w1", 1, 10, 0)
        ]
    );
    // Uploads count while unfinished; completing turns one into an object, aborting removes it.
    let up = s
        .initiate_upload("bk2", "big", sealed(Kms, "cmk-3", "x1", 7))
        .unwrap();
    let gone = s
        .initiate_upload("bk2", "other", sealed(Kms, "cmk-3", "x1", 8))
        .unwrap();
    assert_eq!(
        rows(
            &s,
            InventoryQuery {
                bucket: None,
                key_id: Some("cmk-3".into())
            }
        ),
        vec![row("bk2", Kms, "cmk-3", "x1", 0, 0, 2)]
    );
    let part = s
        .upload_part(
            UploadPartHeader {
                bucket: "bk2".into(),
                key: "big".into(),
                upload_id: up.upload_id.clone(),
                part_number: 1,
                format: vec![],
            },
            s.stage_bytes(&bytes(11, 3)).unwrap(),
            trailer(11, "0cc175b9c0f1b6a831c399e269772661"),
        )
        .unwrap();
    s.complete_upload(
        "bk2",
        "big",
        &up.upload_id,
        vec![CompletedPart {
            part_number: 1,
            etag: part.etag,
        }],
        false,
    )
    .unwrap();
    s.abort_upload("bk2", "other", &gone.upload_id).unwrap();
    assert_eq!(
        rows(
            &s,
            InventoryQuery {
                bucket: None,
                key_id: Some("cmk-3".into())
            }
        ),
        vec![row("bk2", Kms, "cmk-3", "x1", 1, 11, 0)]
    );
    // Emptied rows disappear: deleting everything leaves nothing.
    for (b, keys) in [("bk1", vec!["a", "b", "copy"]), ("bk2", vec!["a", "log", "big"])] {
        s.delete_objects(b, keys.into_iter().map(String::from).collect())
            .unwrap();
    }
    assert_eq!(rows(&s, InventoryQuery::default()), vec![]);
}

#[test]
fn a_rewrap_swaps_only_the_wrapped_key_the_caller_saw() {
    use SseAlgorithm::Kms;
    let (_d, s) = store();
    bucket(&s, "bk1");
    put_sealed(&s, "bk1", "k", 10, sealed(Kms, "cmk-1", "v1", 1));
    let before = s.head_object("bk1", "k").unwrap();
    let rewrap = |expected: u8, new: u8, version: &str| {
        s.rewrap_object(RewrapObject {
            bucket: "bk1".into(),
            key: "k".into(),
            upload_id: None,
            expected_wrapped_key: vec![expected; 4],
            wrapped_key: vec![new; 4],
            wrapping: wrapping("cmk-1", version),
        })
        .unwrap()
    };
    assert_eq!(rewrap(1, 2, "v2"), RewrapOutcome::Rewrapped);
    let after = s.head_object("bk1", "k").unwrap();
    let sse = after.meta.sse.clone().unwrap();
    assert_eq!(
        (sse.wrapped_key, sse.wrapping),
        (vec![2; 4], Some(wrapping("cmk-1", "v2")))
    );
    // Nothing else about the object changed.
    assert_eq!(
        (after.etag.as_str(), after.last_modified_ms, &after.extents),
        (before.etag.as_str(), before.last_modified_ms, &before.extents)
    );
    assert_eq!(support::read_all(&s, "bk1", "k"), bytes(10, 1));
    assert_eq!(
        rows(&s, InventoryQuery::default()),
        vec![row("bk1", Kms, "cmk-1", "v2", 1, 10, 0)]
    );
    // Done again with the old expectation (a job resumed after its commit): nothing changes.
    assert_eq!(rewrap(1, 3, "v3"), RewrapOutcome::Changed);
    // An object overwritten meanwhile is never clobbered.
    put_sealed(&s, "bk1", "k", 4, sealed(Kms, "cmk-1", "v3", 7));
    assert_eq!(rewrap(2, 3, "v3"), RewrapOutcome::Changed);
    assert_eq!(
        s.head_object("bk1", "k").unwrap().meta.sse.unwrap().wrapped_key,
        vec![7; 4]
    );
    // Deleted meanwhile: nothing to do, and nothing recreated.
    s.delete_objects("bk1", vec!["k".into()]).unwrap();
    assert_eq!(rewrap(7, 3, "v3"), RewrapOutcome::Changed);
    assert!(s.head_object("bk1", "k").is_err());
    assert_eq!(rows(&s, InventoryQuery::default()), vec![]);
}

#[test]
fn the_inventory_survives_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("meta.redb");
    {
        let s = Store::open(&path).unwrap();
        bucket(&s, "bk1");
        put_sealed(
            &s,
            "bk1",
            "k",
            10,
            sealed(SseAlgorithm::Sm4, "service-sm4", "s1", 1),
        );
    }
    let s = Store::open(&path).unwrap();
    assert_eq!(
        rows(&s, InventoryQuery::default()),
        vec![row("bk1", SseAlgorithm::Sm4, "service-sm4", "s1", 1, 10, 0)]
    );
}

#[test]
fn an_upload_is_rewrapped_only_while_it_holds_the_expected_key() {
    use SseAlgorithm::Kms;
    let (_d, s) = store();
    bucket(&s, "bk1");
    let up = s
        .initiate_upload("bk1", "big", sealed(Kms, "cmk-1", "v1", 1))
        .unwrap();
    let rewrap = |expected: u8| {
        s.rewrap_object(RewrapObject {
            bucket: "bk1".into(),
            key: "big".into(),
            upload_id: Some(up.upload_id.clone()),
            expected_wrapped_key: vec![expected; 4],
            wrapped_key: vec![9; 4],
            wrapping: wrapping("cmk-1", "v2"),
        })
        .unwrap()
    };
    assert_eq!(rewrap(3), RewrapOutcome::Changed);
    assert_eq!(rewrap(1), RewrapOutcome::Rewrapped);
    let record = s.get_upload("bk1", "big", &up.upload_id).unwrap();
    assert_eq!(record.meta.sse.unwrap().wrapped_key, vec![9; 4]);
    assert_eq!(
        rows(&s, InventoryQuery::default()),
        vec![row("bk1", Kms, "cmk-1", "v2", 0, 0, 1)]
    );
    s.abort_upload("bk1", "big", &up.upload_id).unwrap();
    assert_eq!(rewrap(9), RewrapOutcome::Changed);
    assert_eq!(rows(&s, InventoryQuery::default()), vec![]);
}
