//! The real service over loopback mTLS: streamed writes and reads through the gRPC adapters, typed
//! errors preserved across the hop, stream-order rules, and caller admission.

use std::sync::Arc;

use bytes::Bytes;
use cang_meta_api::{
    Acl, AppendObjectHeader, CiphertextRange, IdentityStore, MetaError, MetaGrpcClient, NewBucket,
    ObjectMeta, ObjectStore, Preconditions, PutObjectHeader, PutTrailer, WriteItem, write_body,
};
use futures::StreamExt;

mod grpc_support;
use grpc_support::Server;

fn header(key: &str) -> PutObjectHeader {
    PutObjectHeader {
        bucket: "bkt".into(),
        key: key.into(),
        meta: ObjectMeta {
            content_type: "text/plain".into(),
            ..ObjectMeta::default()
        },
        format: vec![1, 2, 3],
        forbid_overwrite: false,
        replaces: None,
    }
}

fn trailer(len: usize) -> PutTrailer {
    PutTrailer {
        plaintext_len: len as u64,
        etag: "E".into(),
        crc64: Some(7),
    }
}

async fn read(
    client: &MetaGrpcClient,
    key: &str,
    range: Option<CiphertextRange>,
) -> Result<Vec<u8>, MetaError> {
    let (_, mut stream) = client
        .read_object("bkt", key, range, Preconditions::default())
        .await?;
    let mut out = Vec::new();
    while let Some(chunk) = stream.next().await {
        out.extend_from_slice(&chunk?);
    }
    Ok(out)
}

#[tokio::test]
async fn streamed_objects_round_trip_and_errors_keep_their_type() -> anyhow::Result<()> {
    let server = Server::start().await?;
    let client = server.client("gateway")?;
    let new = NewBucket {
        name: "bkt".into(),
        owner: "1".into(),
        location: "local".into(),
        acl: Acl::Private,
        encryption: None,
    };
    client.create_bucket(new.clone()).await?;
    assert_eq!(
        client.create_bucket(new).await.err(),
        Some(MetaError::BucketAlreadyExists)
    );

    // 20 MiB in 1 MiB messages: crosses several staging batches and chunk boundaries.
    let data: Vec<u8> = (0..20u32 << 20).map(|i| (i % 251) as u8).collect();
    let chunks: Vec<Bytes> = data.chunks(1 << 20).map(Bytes::copy_from_slice).collect();
    let info = client
        .put_object(header("big"), write_body(chunks, trailer(data.len())))
        .await?;
    assert_eq!(info.ciphertext_size, data.len() as u64);
    assert_eq!(info.extents[0].format, [1, 2, 3]);
    assert_eq!(client.head_object("bkt", "big").await?, info);
    assert_eq!(read(&client, "big", None).await?, data);
    let range = CiphertextRange {
        start: 3 << 20,
        end: (3 << 20) + 100,
    };
    assert_eq!(
        read(&client, "big", Some(range)).await?,
        &data[3 << 20..(3 << 20) + 100]
    );

    assert_eq!(
        client.head_object("bkt", "nope").await.err(),
        Some(MetaError::NoSuchKey)
    );
    assert_eq!(
        client.head_object("zzz", "k").await.err(),
        Some(MetaError::NoSuchBucket)
    );
    let append = AppendObjectHeader {
        bucket: "bkt".into(),
        key: "log".into(),
        position: 5,
        meta: ObjectMeta::default(),
        format: vec![],
    };
    let err = client
        .append_object(append, write_body(vec![Bytes::from_static(b"x")], trailer(1)))
        .await
        .err();
    assert_eq!(
        err,
        Some(MetaError::PositionNotEqualToLength { next_position: 0 })
    );
    let err = client
        .put_object(header("/bad"), write_body(vec![], trailer(0)))
        .await
        .err();
    assert!(matches!(err, Some(MetaError::InvalidObjectName(_))), "{err:?}");
    server.stop().await
}

#[tokio::test]
async fn a_stream_without_trailer_or_with_a_failing_body_commits_nothing() -> anyhow::Result<()> {
    let server = Server::start().await?;
    let client = server.client("gateway")?;
    client
        .create_bucket(NewBucket {
            name: "bkt".into(),
            owner: "1".into(),
            location: String::new(),
            acl: Acl::Private,
            encryption: None,
        })
        .await?;
    let no_trailer =
        futures::stream::iter(vec![Ok(WriteItem::Chunk(Bytes::from(vec![1u8; 3 << 20])))]).boxed();
    let err = client.put_object(header("k"), no_trailer).await.err();
    assert!(matches!(err, Some(MetaError::InvalidArgument(_))), "{err:?}");
    let failing = futures::stream::iter(vec![
        Ok(WriteItem::Chunk(Bytes::from(vec![1u8; 1 << 20]))),
        Err(MetaError::Unavailable("client went away".into())),
    ])
    .boxed();
    let err = client.put_object(header("k"), failing).await.err();
    assert_eq!(err, Some(MetaError::Unavailable("client went away".into())));
    let twice = futures::stream::iter(vec![
        Ok(WriteItem::Trailer(trailer(0))),
        Ok(WriteItem::Trailer(trailer(0))),
    ])
    .boxed();
    assert!(matches!(
        client.put_object(header("k"), twice).await.err(),
        Some(MetaError::InvalidArgument(_))
    ));
    assert_eq!(
        client.head_object("bkt", "k").await.err(),
        Some(MetaError::NoSuchKey)
    );
    assert_eq!(client.bucket_stats("bkt").await?.object_count, 0);
    server.stop().await
}

#[tokio::test]
async fn the_meta_certificate_is_refused_and_kms_may_not_list_accounts() -> anyhow::Result<()> {
    let server = Server::start().await?;
    assert!(server.client("admin")?.list_accounts().await?.is_empty());
    assert_eq!(
        server.client("meta")?.list_accounts().await.err(),
        Some(MetaError::AccessDenied)
    );
    assert!(matches!(
        server.client("kms")?.list_accounts().await,
        Err(MetaError::NotPermitted(_))
    ));
    server.stop().await
}

#[tokio::test]
async fn transport_failures_are_unavailable() -> anyhow::Result<()> {
    let server = Server::start().await?;
    let client = server.client("gateway")?;
    server.stop().await?;
    let err = client.list_accounts().await.err();
    assert!(matches!(err, Some(MetaError::Unavailable(_))), "{err:?}");
    Ok(())
}

#[tokio::test]
async fn the_store_is_usable_directly_while_served() -> anyhow::Result<()> {
    // The same MetaService behind Arc can be served and called in-process.
    let dir = tempfile::tempdir()?;
    let store = cang_meta::open_store(dir.path())?;
    let service = Arc::new(cang_meta::MetaService::new(store));
    service.create_account("1001", "acme").await?;
    assert_eq!(service.get_account("1001").await?.name, "acme");
    Ok(())
}
