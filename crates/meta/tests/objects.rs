//! Object and bucket behaviour of the store: atomic overwrite, ranges, copy, append, delete,
//! preconditions, bucket rules.

mod support;

use cang_meta::CHUNK_SIZE;
use cang_meta_api::{
    AppendObjectHeader, BucketEncryptionRule, CiphertextRange, CopyObjectRequest, MetaError, ObjectMeta,
    ObjectType, Preconditions, SseAlgorithm,
};
use support::{bucket, bytes, header, put, read_all, store, trailer};

#[test]
fn put_head_read_round_trip_across_chunk_boundaries() {
    let (_d, s) = store();
    bucket(&s, "bk1");
    let data = bytes(2 * CHUNK_SIZE + 1234, 7);
    let info = put(&s, "bk1", "dir/obj", &data, "E1");
    assert_eq!(info.ciphertext_size, data.len() as u64);
    assert_eq!(s.head_object("bk1", "dir/obj").unwrap(), info);
    assert_eq!(read_all(&s, "bk1", "dir/obj"), data);
    // A range straddling the first chunk boundary.
    let (start, end) = (CHUNK_SIZE as u64 - 10, CHUNK_SIZE as u64 + 20);
    let (_, r) = s
        .read_object(
            "bk1",
            "dir/obj",
            Some(CiphertextRange { start, end }),
            &Preconditions::default(),
        )
        .unwrap();
    let got: Vec<u8> = r.map(Result::unwrap).collect::<Vec<_>>().concat();
    assert_eq!(got, &data[start as usize..end as usize]);
    let bad = CiphertextRange {
        start: 0,
        end: data.len() as u64 + 1,
    };
    assert!(matches!(
        s.read_object("bk1", "dir/obj", Some(bad), &Preconditions::default()),
        Err(MetaError::InvalidArgument(_))
    ));
    assert_eq!(s.bucket_stats("bk1").unwrap().object_count, 1);
}

#[test]
fn missing_bucket_and_key_are_distinguished() {
    let (_d, s) = store();
    bucket(&s, "bk1");
    assert_eq!(s.head_object("bk1", "nope"), Err(MetaError::NoSuchKey));
    assert_eq!(s.head_object("nobucket", "k"), Err(MetaError::NoSuchBucket));
    let blob = s.stage_bytes(b"x").unwrap();
    assert_eq!(
        s.put_object(header("nobucket", "k"), blob, trailer(1, "e")),
        Err(MetaError::NoSuchBucket)
    );
}

#[test]
fn overwrite_is_atomic_and_an_open_reader_keeps_its_snapshot() {
    let (_d, s) = store();
    bucket(&s, "bk1");
    let old = bytes(3 * CHUNK_SIZE, 1);
    put(&s, "bk1", "k", &old, "OLD");
    let (info, mut reader) = s
        .read_object("bk1", "k", None, &Preconditions::default())
        .unwrap();
    assert_eq!(info.etag, "OLD");
    let first = reader.next().unwrap().unwrap();
    // Overwrite while the reader is mid-stream: the reader still sees only the old bytes.
    let new = bytes(CHUNK_SIZE / 2, 2);
    put(&s, "bk1", "k", &new, "NEW");
    let rest: Vec<u8> = reader.map(Result::unwrap).collect::<Vec<_>>().concat();
    assert_eq!([first, rest].concat(), old);
    assert_eq!(s.head_object("bk1", "k").unwrap().etag, "NEW");
    assert_eq!(read_all(&s, "bk1", "k"), new);
    let stats = s.bucket_stats("bk1").unwrap();
    assert_eq!((stats.object_count, stats.storage_bytes), (1, new.len() as u64));
}

#[test]
fn a_failed_commit_leaves_the_old_object_and_forbid_overwrite_holds() {
    let (_d, s) = store();
    bucket(&s, "bk1");
    put(&s, "bk1", "k", b"first", "A");
    let blob = s.stage_bytes(b"second").unwrap();
    let mut h = header("bk1", "k");
    h.forbid_overwrite = true;
    assert_eq!(
        s.put_object(h, blob, trailer(6, "B")),
        Err(MetaError::FileAlreadyExists)
    );
    assert_eq!(read_all(&s, "bk1", "k"), b"first");
    assert_eq!(s.head_object("bk1", "k").unwrap().etag, "A");
}

#[test]
fn read_preconditions() {
    let (_d, s) = store();
    bucket(&s, "bk1");
    put(&s, "bk1", "k", b"x", "ETAG1");
    let cond = |m: Option<&str>, nm: Option<&str>| Preconditions {
        if_match: m.map(Into::into),
        if_none_match: nm.map(Into::into),
        ..Preconditions::default()
    };
    assert!(
        s.read_object("bk1", "k", None, &cond(Some("\"ETAG1\""), None))
            .is_ok()
    );
    assert_eq!(
        s.read_object("bk1", "k", None, &cond(Some("X"), None)).err(),
        Some(MetaError::PreconditionFailed)
    );
    assert_eq!(
        s.read_object("bk1", "k", None, &cond(None, Some("ETAG1"))).err(),
        Some(MetaError::NotModified)
    );
}

#[test]
fn copy_shares_blobs_and_survives_source_delete() {
    let (_d, s) = store();
    bucket(&s, "bk1");
    bucket(&s, "bk2");
    let data = bytes(CHUNK_SIZE + 5, 3);
    let src = put(&s, "bk1", "src", &data, "S");
    let req = CopyObjectRequest {
        src_bucket: "bk1".into(),
        src_key: "src".into(),
        dst_bucket: "bk2".into(),
        dst_key: "dst".into(),
        source_conditions: Preconditions::default(),
        replace_meta: Some(ObjectMeta {
            content_type: "text/plain".into(),
            ..ObjectMeta::default()
        }),
        forbid_overwrite: false,
    };
    let copy = s.copy_object(req.clone()).unwrap();
    assert_eq!(copy.etag, src.etag);
    assert_eq!(copy.meta.content_type, "text/plain");
    assert_eq!(copy.extents, src.extents);
    assert!(s.delete_object("bk1", "src").unwrap());
    assert_eq!(read_all(&s, "bk2", "dst"), data);
    assert_eq!(s.copy_object(req).err(), Some(MetaError::NoSuchKey));
    // Copy onto itself (metadata replace) keeps the data readable.
    let mut same = CopyObjectRequest {
        src_bucket: "bk2".into(),
        src_key: "dst".into(),
        dst_bucket: "bk2".into(),
        dst_key: "dst".into(),
        source_conditions: Preconditions::default(),
        replace_meta: None,
        forbid_overwrite: false,
    };
    s.copy_object(same.clone()).unwrap();
    assert_eq!(read_all(&s, "bk2", "dst"), data);
    same.source_conditions.if_match = Some("nope".into());
    assert_eq!(s.copy_object(same).err(), Some(MetaError::PreconditionFailed));
}

#[test]
fn append_checks_position_and_type() {
    let (_d, s) = store();
    bucket(&s, "bk1");
    let append = |pos: u64, data: &[u8]| {
        let blob = s.stage_bytes(data).unwrap();
        let h = AppendObjectHeader {
            bucket: "bk1".into(),
            key: "log".into(),
            position: pos,
            meta: ObjectMeta::default(),
            format: vec![pos as u8],
        };
        s.append_object(h, blob, trailer(data.len(), "A"))
    };
    assert_eq!(
        append(3, b"abc").err(),
        Some(MetaError::PositionNotEqualToLength { next_position: 0 })
    );
    append(0, b"abc").unwrap();
    assert_eq!(
        append(2, b"d").err(),
        Some(MetaError::PositionNotEqualToLength { next_position: 3 })
    );
    let info = append(3, b"defg").unwrap();
    assert_eq!(info.object_type, ObjectType::Appendable);
    assert_eq!(info.size, 7);
    assert_eq!(info.extents.len(), 2);
    assert_eq!(
        (info.extents[1].ciphertext_offset, info.extents[1].format.clone()),
        (3, vec![3])
    );
    assert_eq!(read_all(&s, "bk1", "log"), b"abcdefg");
    put(&s, "bk1", "plain", b"x", "P");
    let blob = s.stage_bytes(b"y").unwrap();
    let h = AppendObjectHeader {
        bucket: "bk1".into(),
        key: "plain".into(),
        position: 1,
        meta: ObjectMeta::default(),
        format: vec![],
    };
    assert_eq!(
        s.append_object(h, blob, trailer(1, "A")).err(),
        Some(MetaError::ObjectNotAppendable)
    );
}

#[test]
fn delete_and_multi_delete() {
    let (_d, s) = store();
    bucket(&s, "bk1");
    put(&s, "bk1", "a", b"1", "1");
    put(&s, "bk1", "b", b"22", "2");
    assert!(!s.delete_object("bk1", "missing").unwrap());
    let results = s
        .delete_objects("bk1", vec!["a".into(), "b".into(), "c".into(), String::new()])
        .unwrap();
    assert_eq!(results[0], ("a".into(), Ok(true)));
    assert_eq!(results[1], ("b".into(), Ok(true)));
    assert_eq!(results[2], ("c".into(), Ok(false)));
    assert!(matches!(results[3].1, Err(MetaError::InvalidObjectName(_))));
    assert_eq!(s.head_object("bk1", "a"), Err(MetaError::NoSuchKey));
    let stats = s.bucket_stats("bk1").unwrap();
    assert_eq!((stats.object_count, stats.storage_bytes), (0, 0));
}

#[test]
fn buckets_names_owners_encryption_and_emptiness() {
    let (_d, s) = store();
    bucket(&s, "bk1");
    assert!(matches!(
        s.create_bucket(cang_meta_api::NewBucket {
            name: "Bad_Name".into(),
            owner: "1".into(),
            location: String::new(),
            acl: Default::default(),
            encryption: None
        }),
        Err(MetaError::InvalidBucketName(_))
    ));
    assert_eq!(
        s.create_bucket(cang_meta_api::NewBucket {
            name: "bk1".into(),
            owner: "other".into(),
            location: String::new(),
            acl: Default::default(),
            encryption: None
        })
        .err(),
        Some(MetaError::BucketAlreadyExists)
    );
    for n in ["bk2", "ck1", "bk3"] {
        bucket(&s, n);
    }
    let q = |prefix: &str, marker: &str, max| cang_meta_api::ListBucketsQuery {
        owner: "1001".into(),
        prefix: prefix.into(),
        marker: marker.into(),
        max_keys: max,
    };
    let names = |p: cang_meta_api::ListBucketsPage| p.buckets.into_iter().map(|b| b.name).collect::<Vec<_>>();
    assert_eq!(
        names(s.list_buckets(&q("bk", "", 1000)).unwrap()),
        ["bk1", "bk2", "bk3"]
    );
    let page = s.list_buckets(&q("", "bk1", 2)).unwrap();
    assert!(page.is_truncated);
    assert_eq!(page.next_marker.as_deref(), Some("bk3"));
    assert_eq!(names(page), ["bk2", "bk3"]);
    assert_eq!(
        s.get_bucket_encryption("bk1"),
        Err(MetaError::NoSuchEncryptionRule)
    );
    let rule = BucketEncryptionRule {
        algorithm: SseAlgorithm::Kms,
        kms_key_id: Some("key-1".into()),
        data_encryption: None,
    };
    s.set_bucket_encryption("bk1", Some(rule.clone())).unwrap();
    assert_eq!(s.get_bucket_encryption("bk1").unwrap(), rule);
    put(&s, "bk1", "k", b"x", "1");
    assert_eq!(s.delete_bucket("bk1"), Err(MetaError::BucketNotEmpty));
    let upload = s.initiate_upload("bk2", "k", ObjectMeta::default()).unwrap();
    assert_eq!(s.delete_bucket("bk2"), Err(MetaError::BucketNotEmpty));
    s.abort_upload("bk2", "k", &upload.upload_id).unwrap();
    s.delete_bucket("bk2").unwrap();
    assert_eq!(s.get_bucket("bk2"), Err(MetaError::NoSuchBucket));
    s.delete_object("bk1", "k").unwrap();
    s.set_bucket_encryption("bk1", None).unwrap();
    s.delete_bucket("bk1").unwrap();
    assert_eq!(s.delete_bucket("bk1"), Err(MetaError::NoSuchBucket));
}

#[test]
fn an_abandoned_stream_commits_nothing_and_its_chunks_are_freed() {
    let (_d, s) = store();
    bucket(&s, "bk1");
    put(&s, "bk1", "k", b"keep", "E");
    let before = s.blob_usage().unwrap();
    let mut w = s.stage_blob();
    w.write(&bytes(20 * CHUNK_SIZE, 9)).unwrap();
    assert!(
        s.blob_usage().unwrap().chunks >= before.chunks + 16,
        "full chunks are written while streaming"
    );
    assert_eq!(s.blob_usage().unwrap().staged_blobs, 1);
    drop(w);
    // A committed write after the drop is queued behind the reclaim job.
    put(&s, "bk1", "k2", b"x", "E");
    let after = s.blob_usage().unwrap();
    assert_eq!(after.staged_blobs, 0);
    assert_eq!(after.chunks, before.chunks + 1);
    assert_eq!(
        s.list_objects(
            "bk1",
            &cang_meta_api::ListObjectsQuery {
                max_keys: 10,
                ..Default::default()
            }
        )
        .unwrap()
        .objects
        .len(),
        2
    );
}

#[test]
fn an_append_sealed_under_another_record_is_refused() {
    use cang_meta_api::{ObjectSse, SseAlgorithm};
    let (_d, s) = store();
    bucket(&s, "bk1");
    let record = |key: u8| ObjectSse {
        algorithm: SseAlgorithm::Aes256,
        key_id: None,
        data_encryption: None,
        wrapped_key: vec![key; 8],
        wrapping: None,
    };
    let append = |pos: u64, data: &[u8], key: u8| {
        let blob = s.stage_bytes(data).unwrap();
        let meta = ObjectMeta {
            sse: Some(record(key)),
            ..ObjectMeta::default()
        };
        let h = AppendObjectHeader {
            bucket: "bk1".into(),
            key: "log".into(),
            position: pos,
            meta,
            format: vec![],
        };
        s.append_object(h, blob, trailer(data.len(), "A"))
    };
    // Two writers raced to create the object with an empty first append, each with its own data key.
    append(0, b"", 1).unwrap();
    assert_eq!(
        append(0, b"abc", 2).err(),
        Some(MetaError::PositionNotEqualToLength { next_position: 0 })
    );
    let info = append(0, b"abc", 1).unwrap();
    assert_eq!(info.size, 3);
    assert_eq!(info.meta.sse, Some(record(1)));
}

#[test]
fn a_write_that_replaces_one_version_commits_over_that_version_only() {
    use cang_meta_api::ExpectedObject;
    let (_d, s) = store();
    bucket(&s, "bk1");
    let first = put(&s, "bk1", "k", b"one", "E1");
    let write = |data: &[u8], etag: &str, replaces: Option<ExpectedObject>| {
        let mut h = header("bk1", "k");
        h.replaces = replaces;
        s.put_object(h, s.stage_bytes(data).unwrap(), trailer(data.len(), etag))
    };
    // Over the version it names: committed.
    let second = write(b"two", "E2", Some(ExpectedObject::of(&first))).unwrap();
    assert_eq!(read_all(&s, "bk1", "k"), b"two");
    // Naming a version that was replaced meanwhile: refused, the newer one stays, nothing is left staged.
    assert_eq!(
        write(b"three", "E3", Some(ExpectedObject::of(&first))).err(),
        Some(MetaError::PreconditionFailed)
    );
    assert_eq!(read_all(&s, "bk1", "k"), b"two");
    assert_eq!(s.head_object("bk1", "k").unwrap().etag, second.etag);
    // A deleted object is not recreated.
    s.delete_objects("bk1", vec!["k".into()]).unwrap();
    assert_eq!(
        write(b"four", "E4", Some(ExpectedObject::of(&second))).err(),
        Some(MetaError::PreconditionFailed)
    );
    assert!(s.head_object("bk1", "k").is_err());
    assert_eq!(s.blob_usage().unwrap().staged_blobs, 0);
}
