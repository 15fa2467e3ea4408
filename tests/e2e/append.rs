//! AppendObject: positions, the encryption fixed by the first append, the whole object's CRC after every
//! append, reads across append boundaries, and OpenDAL's append writer.

use cang_oss::checksum::crc64;
use cang_tests::Cluster;
use reqwest::StatusCode;

use crate::http::{Raw, body, create_bucket, header, op};

const SSE: &str = "x-oss-server-side-encryption";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn appends_keep_the_first_encryption_and_check_positions() {
    let cluster = Cluster::start().await.expect("cluster");
    let root = cluster.root.clone();
    create_bucket(&cluster, &root, "app", &[]).await;
    let append = |position: usize, data: Vec<u8>, headers: &'static [(&'static str, &'static str)]| {
        let (cluster, root) = (&cluster, &root);
        async move {
            let target = format!("/app/log?append&position={position}");
            let resource = format!("/app/log?append&position={position}");
            Raw::new("POST", &target, &resource)
                .headers(headers)
                .body(data)
                .send(cluster, root)
                .await
        }
    };
    let pieces = [
        body(70_000, 1),
        body(1, 2),
        body(200_000, 3),
        body(0, 4),
        body(65_536, 5),
    ];
    let mut whole = Vec::new();
    let mut key_id = None;
    for (i, piece) in pieces.iter().enumerate() {
        // The first append asks for KMS; later ones ask for AES256, which is ignored.
        let headers: &'static [(&str, &str)] = if i == 0 {
            &[(SSE, "KMS")]
        } else {
            &[(SSE, "AES256")]
        };
        let resp = append(whole.len(), piece.clone(), headers).await;
        assert_eq!(resp.status(), StatusCode::OK, "append {i}");
        whole.extend_from_slice(piece);
        assert_eq!(
            header(&resp, "x-oss-next-append-position"),
            Some(whole.len().to_string())
        );
        assert_eq!(
            header(&resp, "x-oss-hash-crc64ecma"),
            Some(crc64(&whole).to_string()),
            "whole-object CRC"
        );
        assert_eq!(header(&resp, SSE).as_deref(), Some("KMS"), "append {i}");
        let id = header(&resp, "x-oss-server-side-encryption-key-id").expect("key id");
        assert_eq!(key_id.get_or_insert(id.clone()), &id);
    }

    let resp = append(5, b"x".to_vec(), &[]).await;
    assert_eq!(resp.status(), StatusCode::CONFLICT);
    assert_eq!(
        header(&resp, "x-oss-next-append-position"),
        Some(whole.len().to_string())
    );
    assert!(
        resp.text()
            .await
            .expect("body")
            .contains("PositionNotEqualToLength")
    );

    let op = op(&cluster, &root, "app");
    assert!(op.read("log").await.expect("read").to_vec() == whole);
    let edges = [70_000u64, 70_001, 270_001];
    for edge in edges {
        let got = op
            .read_with("log")
            .range(edge - 2..edge + 2)
            .await
            .expect("range")
            .to_vec();
        assert!(
            got == whole[edge as usize - 2..edge as usize + 2],
            "across the append at {edge}"
        );
    }
    let head = Raw::new("HEAD", "/app/log", "/app/log")
        .send(&cluster, &root)
        .await;
    assert_eq!(header(&head, "x-oss-object-type").as_deref(), Some("Appendable"));
    assert_eq!(
        header(&head, "x-oss-hash-crc64ecma"),
        Some(crc64(&whole).to_string())
    );

    // A missing key appended at a non-zero position, and a normal object, are refused.
    let resp = Raw::new("POST", "/app/new?append&position=3", "/app/new?append&position=3")
        .body(b"abc".to_vec())
        .send(&cluster, &root)
        .await;
    assert_eq!(resp.status(), StatusCode::CONFLICT);
    assert_eq!(header(&resp, "x-oss-next-append-position").as_deref(), Some("0"));
    op.write("normal", b"put".to_vec()).await.expect("put");
    let resp = Raw::new(
        "POST",
        "/app/normal?append&position=3",
        "/app/normal?append&position=3",
    )
    .body(b"abc".to_vec())
    .send(&cluster, &root)
    .await;
    assert_eq!(resp.status(), StatusCode::CONFLICT);
    assert!(resp.text().await.expect("body").contains("ObjectNotAppendable"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn opendal_append_writer_under_a_bucket_default() {
    let cluster = Cluster::start().await.expect("cluster");
    let root = cluster.root.clone();
    create_bucket(&cluster, &root, "app-sm4", &[(SSE, "SM4")]).await;
    let op = op(&cluster, &root, "app-sm4");
    let mut expected = Vec::new();
    for round in 0..3u8 {
        let piece = body(40_000 + usize::from(round), round);
        let mut w = op.writer_with("journal").append(true).await.expect("writer");
        w.write(piece.clone()).await.expect("append");
        w.close().await.expect("close");
        expected.extend_from_slice(&piece);
    }
    assert!(op.read("journal").await.expect("read").to_vec() == expected);
    let head = Raw::new("HEAD", "/app-sm4/journal", "/app-sm4/journal")
        .send(&cluster, &root)
        .await;
    assert_eq!(header(&head, SSE).as_deref(), Some("SM4"));
    assert_eq!(header(&head, "content-length"), Some(expected.len().to_string()));
}
