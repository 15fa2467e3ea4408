//! One suite of `MetaApi` behaviour, run over the in-process service (as the admin sees it) on a redb file
//! and held in memory, and over the gRPC client talking to a real `cang meta` on loopback mutual TLS. Every
//! case asserts exact results and exact error variants, so they can only pass together if nothing is lost.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code states its expectations this way

mod grpc_support;

use bytes::Bytes;
use cang_meta::{MetaService, Store};
use cang_meta_api::{
    AccessKeyStatus, Acl, AppendObjectHeader, BucketEncryptionRule, CiphertextRange, CompletedPart,
    CopyObjectRequest, ListBucketsQuery, ListObjectsQuery, ListUploadsQuery, MetaApi, MetaError,
    MetaForCaller, NewAccessKey, NewBucket, ObjectMeta, Preconditions, PutObjectHeader, PutTrailer,
    SealedSecret, SseAlgorithm, UploadPartHeader, WriteItem, write_body,
};
use cang_tls::ServiceIdentity;
use futures::StreamExt;

const OWNER: &str = "2000000000000001";
const MIB: usize = 1 << 20;

fn new_bucket(name: &str) -> NewBucket {
    NewBucket {
        name: name.into(),
        owner: OWNER.into(),
        location: "oss-cn-hangzhou".into(),
        acl: Acl::Private,
        encryption: None,
    }
}

fn trailer(len: usize, etag: &str) -> PutTrailer {
    PutTrailer {
        plaintext_len: len as u64,
        etag: etag.into(),
        crc64: Some(len as u64),
    }
}

fn put_header(bucket: &str, key: &str, forbid_overwrite: bool) -> PutObjectHeader {
    PutObjectHeader {
        bucket: bucket.into(),
        key: key.into(),
        meta: ObjectMeta {
            content_type: "application/octet-stream".into(),
            ..ObjectMeta::default()
        },
        format: vec![9],
        forbid_overwrite,
        replaces: None,
    }
}

fn data(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(13).wrapping_add(seed))
        .collect()
}

fn chunks(bytes: &[u8]) -> Vec<Bytes> {
    bytes.chunks(MIB).map(Bytes::copy_from_slice).collect()
}

async fn put(api: &dyn MetaApi, bucket: &str, key: &str, bytes: &[u8], etag: &str) {
    api.put_object(
        put_header(bucket, key, false),
        write_body(chunks(bytes), trailer(bytes.len(), etag)),
    )
    .await
    .unwrap();
}

async fn read(
    api: &dyn MetaApi,
    bucket: &str,
    key: &str,
    range: Option<CiphertextRange>,
) -> Result<Vec<u8>, MetaError> {
    let (_, mut stream) = api
        .read_object(bucket, key, range, Preconditions::default())
        .await?;
    let mut out = Vec::new();
    while let Some(chunk) = stream.next().await {
        out.extend_from_slice(&chunk?);
    }
    Ok(out)
}

async fn buckets(api: &dyn MetaApi) {
    api.create_bucket(new_bucket("conf-a")).await.unwrap();
    assert_eq!(
        api.create_bucket(new_bucket("conf-a")).await.err(),
        Some(MetaError::BucketAlreadyExists)
    );
    assert!(matches!(
        api.create_bucket(new_bucket("Bad_Name")).await,
        Err(MetaError::InvalidBucketName(_))
    ));
    api.create_bucket(new_bucket("conf-b")).await.unwrap();
    let page = api
        .list_buckets(ListBucketsQuery {
            owner: OWNER.into(),
            prefix: "conf-".into(),
            marker: String::new(),
            max_keys: 1,
        })
        .await
        .unwrap();
    assert_eq!(
        page.buckets.iter().map(|b| b.name.as_str()).collect::<Vec<_>>(),
        ["conf-a"]
    );
    assert!(page.is_truncated);
    let rule = BucketEncryptionRule {
        algorithm: SseAlgorithm::Kms,
        kms_key_id: Some("key-1".into()),
        data_encryption: None,
    };
    let updated = api
        .set_bucket_encryption("conf-a", Some(rule.clone()))
        .await
        .unwrap();
    assert_eq!(updated.encryption, Some(rule));
    api.set_bucket_acl("conf-a", Acl::PublicRead).await.unwrap();
    let bucket = api.get_bucket("conf-a").await.unwrap();
    assert_eq!((bucket.acl, bucket.owner.as_str()), (Acl::PublicRead, OWNER));
    assert_eq!(
        api.set_bucket_encryption("conf-a", None)
            .await
            .unwrap()
            .encryption,
        None
    );
    put(api, "conf-a", "k", b"x", "E").await;
    assert_eq!(api.bucket_stats("conf-a").await.unwrap().object_count, 1);
    assert_eq!(
        api.delete_bucket("conf-a").await.err(),
        Some(MetaError::BucketNotEmpty)
    );
    api.delete_objects("conf-a", vec!["k".into()]).await.unwrap();
    api.delete_bucket("conf-a").await.unwrap();
    assert_eq!(
        api.get_bucket("conf-a").await.err(),
        Some(MetaError::NoSuchBucket)
    );
}

async fn objects(api: &dyn MetaApi) {
    api.create_bucket(new_bucket("conf-o")).await.unwrap();
    let big = data(3 * MIB + 17, 1);
    put(api, "conf-o", "dir/big", &big, "E1").await;
    let info = api.head_object("conf-o", "dir/big").await.unwrap();
    assert_eq!(
        (info.ciphertext_size, info.etag.as_str()),
        (big.len() as u64, "E1")
    );
    let range = CiphertextRange {
        start: MIB as u64 - 5,
        end: MIB as u64 + 5,
    };
    assert_eq!(
        read(api, "conf-o", "dir/big", Some(range)).await.unwrap(),
        &big[MIB - 5..MIB + 5]
    );
    assert_eq!(read(api, "conf-o", "dir/big", None).await.unwrap(), big);
    // A small read returns the record and, within the limit, the stored bytes asked for from the same snapshot.
    let any = Preconditions::default;
    let (small_info, none) = api
        .get_small_object("conf-o", "dir/big", None, any(), u32::MAX)
        .await
        .unwrap();
    assert_eq!(
        (small_info, none),
        (info.clone(), None),
        "3 MiB is over every limit"
    );
    let (_, piece) = api
        .get_small_object("conf-o", "dir/big", Some(range), any(), 10)
        .await
        .unwrap();
    assert_eq!(
        piece.as_deref(),
        Some(&big[MIB - 5..MIB + 5]),
        "a small range of a big object"
    );
    let (_, over) = api
        .get_small_object("conf-o", "dir/big", Some(range), any(), 9)
        .await
        .unwrap();
    assert_eq!(over, None, "one byte over the caller's limit");
    let outside = CiphertextRange {
        start: 0,
        end: big.len() as u64 + 1,
    };
    assert!(matches!(
        api.get_small_object("conf-o", "dir/big", Some(outside), any(), 10)
            .await,
        Err(MetaError::InvalidArgument(_))
    ));
    let pinned = |etag: &str| Preconditions {
        if_match: Some(etag.into()),
        ..Preconditions::default()
    };
    assert_eq!(
        api.get_small_object("conf-o", "dir/big", Some(range), pinned("other"), 10)
            .await
            .err(),
        Some(MetaError::PreconditionFailed)
    );
    assert!(
        api.get_small_object("conf-o", "dir/big", Some(range), pinned("E1"), 10)
            .await
            .is_ok()
    );
    put(api, "conf-o", "tiny", b"tiny bytes", "E9").await;
    let (tiny, bytes) = api
        .get_small_object("conf-o", "tiny", None, any(), 10)
        .await
        .unwrap();
    assert_eq!(
        (tiny.etag.as_str(), bytes.as_deref()),
        ("E9", Some(&b"tiny bytes"[..]))
    );
    assert_eq!(
        api.get_small_object("conf-o", "absent", None, any(), 10)
            .await
            .err(),
        Some(MetaError::NoSuchKey)
    );
    assert_eq!(
        api.get_small_object("conf-none", "k", None, any(), 10)
            .await
            .err(),
        Some(MetaError::NoSuchBucket)
    );
    // A small put in one message stores what a streamed one does, under the same checks.
    let small = api
        .put_small_object(
            put_header("conf-o", "one-message", false),
            Bytes::from_static(b"in one message"),
            trailer(14, "S1"),
        )
        .await
        .unwrap();
    assert_eq!((small.etag.as_str(), small.ciphertext_size), ("S1", 14));
    assert_eq!(
        read(api, "conf-o", "one-message", None).await.unwrap(),
        b"in one message"
    );
    assert_eq!(
        api.put_small_object(
            put_header("conf-o", "one-message", true),
            Bytes::from_static(b"other"),
            trailer(5, "S2"),
        )
        .await
        .err(),
        Some(MetaError::FileAlreadyExists)
    );
    assert_eq!(
        api.put_small_object(
            put_header("conf-none", "k", false),
            Bytes::from_static(b"x"),
            trailer(1, "S3"),
        )
        .await
        .err(),
        Some(MetaError::NoSuchBucket)
    );
    assert_eq!(
        read(api, "conf-o", "one-message", None).await.unwrap(),
        b"in one message",
        "a refused put changes nothing"
    );
    // A lookup answers with the bucket, and the object with its bytes when they fit; a missing object is
    // no error, a missing bucket is.
    let bucket = api.get_bucket("conf-o").await.unwrap();
    let found = api.lookup_object("conf-o", "tiny", None, 10).await.unwrap();
    assert_eq!(
        (
            &found.bucket,
            found.object.as_ref().map(|o| o.etag.as_str()),
            found.ciphertext.as_deref()
        ),
        (&bucket, Some("E9"), Some(&b"tiny bytes"[..]))
    );
    let over = api.lookup_object("conf-o", "tiny", None, 9).await.unwrap();
    assert_eq!(
        (over.object.is_some(), over.ciphertext),
        (true, None),
        "one byte over the limit"
    );
    let big_lookup = api
        .lookup_object("conf-o", "dir/big", None, u32::MAX)
        .await
        .unwrap();
    assert_eq!(
        (big_lookup.object, big_lookup.ciphertext),
        (Some(info.clone()), None),
        "3 MiB is over every limit"
    );
    // A window of the stored bytes comes cut at the object's end, and only within the limit.
    let window = |start, end| Some(CiphertextRange { start, end });
    let part = api
        .lookup_object("conf-o", "dir/big", window(MIB as u64 - 5, MIB as u64 + 5), 10)
        .await
        .unwrap();
    assert_eq!(part.ciphertext.as_deref(), Some(&big[MIB - 5..MIB + 5]));
    let tail = api
        .lookup_object(
            "conf-o",
            "dir/big",
            window(big.len() as u64 - 3, big.len() as u64 + 50),
            10,
        )
        .await
        .unwrap();
    assert_eq!(
        tail.ciphertext.as_deref(),
        Some(&big[big.len() - 3..]),
        "cut at the end"
    );
    let beyond = api
        .lookup_object(
            "conf-o",
            "dir/big",
            window(big.len() as u64 + 7, big.len() as u64 + 9),
            10,
        )
        .await
        .unwrap();
    assert_eq!(
        beyond.ciphertext.as_deref(),
        Some(&b""[..]),
        "nothing past the end"
    );
    let wide = api
        .lookup_object("conf-o", "dir/big", window(0, 11), 10)
        .await
        .unwrap();
    assert_eq!(
        (wide.object.is_some(), wide.ciphertext),
        (true, None),
        "over the limit"
    );
    let absent = api.lookup_object("conf-o", "absent", None, 10).await.unwrap();
    assert_eq!(
        (absent.bucket, absent.object, absent.ciphertext),
        (bucket, None, None)
    );
    assert_eq!(
        api.lookup_object("conf-none", "k", None, 10).await.err(),
        Some(MetaError::NoSuchBucket)
    );
    // Overwrite is atomic; a forbidden overwrite changes nothing.
    put(api, "conf-o", "dir/big", b"small", "E2").await;
    let refused = api
        .put_object(
            put_header("conf-o", "dir/big", true),
            write_body(vec![Bytes::from_static(b"no")], trailer(2, "E3")),
        )
        .await;
    assert_eq!(refused.err(), Some(MetaError::FileAlreadyExists));
    assert_eq!(read(api, "conf-o", "dir/big", None).await.unwrap(), b"small");
    // A body that ends without its trailer commits nothing.
    let truncated = Box::pin(futures::stream::iter([Ok(WriteItem::Chunk(Bytes::from_static(
        b"half",
    )))]));
    assert!(
        api.put_object(put_header("conf-o", "half", false), truncated)
            .await
            .is_err()
    );
    assert_eq!(
        api.head_object("conf-o", "half").await.err(),
        Some(MetaError::NoSuchKey)
    );
    assert_eq!(
        api.head_object("conf-none", "k").await.err(),
        Some(MetaError::NoSuchBucket)
    );
    assert!(matches!(
        api.put_object(
            put_header("conf-o", "/lead", false),
            write_body(vec![], trailer(0, "E"))
        )
        .await,
        Err(MetaError::InvalidObjectName(_))
    ));
    // Preconditions on the snapshot read.
    let conditions = Preconditions {
        if_match: Some("other".into()),
        ..Preconditions::default()
    };
    assert_eq!(
        api.read_object("conf-o", "dir/big", None, conditions).await.err(),
        Some(MetaError::PreconditionFailed)
    );
    // Copy shares the ciphertext and takes replaced metadata.
    let copied = api
        .copy_object(CopyObjectRequest {
            src_bucket: "conf-o".into(),
            src_key: "dir/big".into(),
            dst_bucket: "conf-o".into(),
            dst_key: "copy".into(),
            source_conditions: Preconditions::default(),
            replace_meta: Some(ObjectMeta {
                content_type: "text/plain".into(),
                ..ObjectMeta::default()
            }),
            forbid_overwrite: false,
        })
        .await
        .unwrap();
    assert_eq!(
        (copied.etag.as_str(), copied.meta.content_type.as_str()),
        ("E2", "text/plain")
    );
    assert_eq!(read(api, "conf-o", "copy", None).await.unwrap(), b"small");
    // Append: the position must be the current length.
    let append = |position| AppendObjectHeader {
        bucket: "conf-o".into(),
        key: "log".into(),
        position,
        meta: ObjectMeta::default(),
        format: vec![],
    };
    api.append_object(
        append(0),
        write_body(vec![Bytes::from_static(b"abc")], trailer(3, "A1")),
    )
    .await
    .unwrap();
    assert_eq!(
        api.append_object(
            append(1),
            write_body(vec![Bytes::from_static(b"d")], trailer(1, "A2"))
        )
        .await
        .err(),
        Some(MetaError::PositionNotEqualToLength { next_position: 3 })
    );
    api.append_object(
        append(3),
        write_body(vec![Bytes::from_static(b"de")], trailer(2, "A2")),
    )
    .await
    .unwrap();
    assert_eq!(read(api, "conf-o", "log", None).await.unwrap(), b"abcde");
    // A window is served only within the first extent (the first append's "abc").
    let in_first = api
        .lookup_object("conf-o", "log", Some(CiphertextRange { start: 1, end: 3 }), 10)
        .await
        .unwrap();
    assert_eq!(in_first.ciphertext.as_deref(), Some(&b"bc"[..]));
    let across = api
        .lookup_object("conf-o", "log", Some(CiphertextRange { start: 2, end: 4 }), 10)
        .await
        .unwrap();
    assert_eq!((across.object.is_some(), across.ciphertext), (true, None));
    let whole = api.lookup_object("conf-o", "log", None, 10).await.unwrap();
    assert_eq!(
        whole.ciphertext.as_deref(),
        Some(&b"abcde"[..]),
        "the whole object is not a window"
    );
    assert_eq!(
        api.append_object(
            AppendObjectHeader {
                key: "copy".into(),
                ..append(5)
            },
            write_body(vec![Bytes::from_static(b"x")], trailer(1, "A3"))
        )
        .await
        .err(),
        Some(MetaError::ObjectNotAppendable)
    );
    // Listing with a delimiter, in pages.
    for key in ["dir/a", "dir/sub/b", "dir/sub/c", "top"] {
        put(api, "conf-o", key, b"1", "L").await;
    }
    let list = |start_after: &str, max_keys| ListObjectsQuery {
        prefix: "dir/".into(),
        delimiter: "/".into(),
        start_after: start_after.into(),
        max_keys,
    };
    let page = api.list_objects("conf-o", list("", 1000)).await.unwrap();
    let keys: Vec<_> = page.objects.iter().map(|o| o.key.as_str()).collect();
    assert_eq!(
        (keys, page.common_prefixes.clone(), page.is_truncated),
        (vec!["dir/a", "dir/big"], vec!["dir/sub/".to_owned()], false)
    );
    let first = api.list_objects("conf-o", list("", 1)).await.unwrap();
    assert!(first.is_truncated);
    let rest = api
        .list_objects("conf-o", list(first.next_marker.as_deref().unwrap(), 1000))
        .await
        .unwrap();
    assert_eq!(
        first.objects.len() + rest.objects.len() + rest.common_prefixes.len(),
        3
    );
    // Multi-delete reports every key, existing or not.
    let outcome = api
        .delete_objects("conf-o", vec!["top".into(), "absent".into()])
        .await
        .unwrap();
    assert_eq!(
        outcome,
        vec![("top".into(), Ok(true)), ("absent".into(), Ok(false))]
    );
}

async fn multipart(api: &dyn MetaApi) {
    api.create_bucket(new_bucket("conf-m")).await.unwrap();
    let upload = api
        .initiate_upload("conf-m", "mp", ObjectMeta::default())
        .await
        .unwrap();
    let id = upload.upload_id.clone();
    let part = |n: u32| UploadPartHeader {
        bucket: "conf-m".into(),
        key: "mp".into(),
        upload_id: id.clone(),
        part_number: n,
        format: vec![n as u8],
    };
    let one = data(100 * 1024, 1);
    let two = data(10, 2);
    let p1 = api
        .upload_part(part(1), write_body(chunks(&one), trailer(one.len(), "P1")))
        .await
        .unwrap();
    let p2 = api
        .upload_part(part(2), write_body(chunks(&two), trailer(two.len(), "P2")))
        .await
        .unwrap();
    assert_eq!((p1.part_number, p2.size), (1, 10));
    let parts = api.list_parts("conf-m", "mp", &id, 0, 1).await.unwrap();
    assert_eq!(
        (
            parts.parts.len(),
            parts.is_truncated,
            parts.next_part_number_marker
        ),
        (1, true, Some(1))
    );
    let uploads = api
        .list_uploads(
            "conf-m",
            ListUploadsQuery {
                max_uploads: 10,
                ..ListUploadsQuery::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(
        uploads
            .uploads
            .iter()
            .map(|u| u.upload_id.as_str())
            .collect::<Vec<_>>(),
        [id.as_str()]
    );
    assert_eq!(api.get_upload("conf-m", "mp", &id).await.unwrap().upload_id, id);
    let completed = |n: u32, etag: &str| CompletedPart {
        part_number: n,
        etag: etag.into(),
    };
    assert_eq!(
        api.complete_upload(
            "conf-m",
            "mp",
            &id,
            vec![completed(2, "P2"), completed(1, "P1")],
            false
        )
        .await
        .err(),
        Some(MetaError::InvalidPartOrder)
    );
    assert_eq!(
        api.complete_upload("conf-m", "mp", &id, vec![completed(1, "wrong")], false)
            .await
            .err(),
        Some(MetaError::InvalidPart)
    );
    let info = api
        .complete_upload(
            "conf-m",
            "mp",
            &id,
            vec![completed(1, "P1"), completed(2, "P2")],
            false,
        )
        .await
        .unwrap();
    assert_eq!(info.size, (one.len() + two.len()) as u64);
    assert_eq!(
        read(api, "conf-m", "mp", None).await.unwrap(),
        [one, two].concat()
    );
    assert_eq!(
        api.abort_upload("conf-m", "mp", &id).await.err(),
        Some(MetaError::NoSuchUpload)
    );
    let other = api
        .initiate_upload("conf-m", "gone", ObjectMeta::default())
        .await
        .unwrap();
    api.abort_upload("conf-m", "gone", &other.upload_id)
        .await
        .unwrap();
    assert_eq!(
        api.get_upload("conf-m", "gone", &other.upload_id).await.err(),
        Some(MetaError::NoSuchUpload)
    );
}

async fn identities(api: &dyn MetaApi) {
    let account = api.create_account(OWNER, "conformance").await.unwrap();
    assert_eq!(api.get_account(OWNER).await.unwrap(), account);
    assert!(matches!(
        api.create_account(OWNER, "again").await,
        Err(MetaError::AlreadyExists(_))
    ));
    assert_eq!(
        api.get_account("2999999999999999").await.err(),
        Some(MetaError::NoSuchAccount)
    );
    api.create_user(OWNER, "alice").await.unwrap();
    assert_eq!(api.list_users(OWNER).await.unwrap().len(), 1);
    let key = api
        .create_access_key(NewAccessKey {
            id: "LTAICONFORMANCE00000001".into(),
            account_id: OWNER.into(),
            user: Some("alice".into()),
            sealed_secret: SealedSecret::new(b"sealed".to_vec()),
        })
        .await
        .unwrap();
    assert_eq!(api.get_access_key(&key.id).await.unwrap(), key);
    let inactive = api
        .set_access_key_status(&key.id, AccessKeyStatus::Inactive)
        .await
        .unwrap();
    assert_eq!(inactive.status, AccessKeyStatus::Inactive);
    assert_eq!(
        api.list_access_keys(OWNER, Some("alice")).await.unwrap(),
        vec![inactive]
    );
    let document =
        r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"oss:GetObject","Resource":"*"}]}"#;
    api.put_policy(OWNER, "read", document).await.unwrap();
    assert!(matches!(
        api.put_policy(OWNER, "bad", "{not json").await,
        Err(MetaError::MalformedPolicy(_))
    ));
    api.attach_policy(OWNER, "alice", "read").await.unwrap();
    assert_eq!(
        api.user_policies(OWNER, "alice").await.unwrap()[0].document,
        document
    );
    assert!(matches!(
        api.delete_policy(OWNER, "read").await,
        Err(MetaError::Conflict(_))
    ));
    api.detach_policy(OWNER, "alice", "read").await.unwrap();
    api.delete_policy(OWNER, "read").await.unwrap();
    assert_eq!(
        api.get_policy(OWNER, "read").await.err(),
        Some(MetaError::NoSuchPolicy)
    );
    api.delete_user(OWNER, "alice").await.unwrap();
    assert_eq!(
        api.get_access_key(&key.id).await.err(),
        Some(MetaError::NoSuchAccessKey)
    );
    assert_eq!(
        api.delete_user(OWNER, "alice").await.err(),
        Some(MetaError::NoSuchUser)
    );
}

async fn suite(api: &dyn MetaApi) {
    buckets(api).await;
    objects(api).await;
    multipart(api).await;
    identities(api).await;
}

#[tokio::test]
async fn the_in_process_service_passes_the_suite() {
    let dir = tempfile::tempdir().unwrap();
    let service = MetaService::new(Store::open(&dir.path().join("meta.redb")).unwrap());
    suite(&service.for_caller(ServiceIdentity::Admin)).await;
}

#[tokio::test]
async fn the_in_memory_store_passes_the_suite() {
    let service = MetaService::new(Store::in_memory().unwrap());
    suite(&service.for_caller(ServiceIdentity::Admin)).await;
}

#[tokio::test]
async fn the_grpc_client_passes_the_suite() {
    let server = grpc_support::Server::start().await.unwrap();
    suite(&server.client("admin").unwrap()).await;
    server.stop().await.unwrap();
}
