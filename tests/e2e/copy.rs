//! CopyObject across SSE modes: the copy takes the request's encryption or the target bucket's default,
//! never the source's, and echoes it; metadata directives, copy-source conditions, overwrite protection and
//! the source's KMS permission.

use cang_oss::checksum::crc64;
use cang_tests::Cluster;
use reqwest::StatusCode;

use crate::http::{Raw, body, create_bucket, header, md5_hex, op, tag};

const SSE: &str = "x-oss-server-side-encryption";

async fn head(cluster: &Cluster, creds: &cang_access_keys::NewCredentials, path: &str) -> reqwest::Response {
    Raw::new("HEAD", path, path).send(cluster, creds).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copies_take_the_target_encryption_never_the_source() {
    let cluster = Cluster::start().await.expect("cluster");
    let root = cluster.root.clone();
    create_bucket(&cluster, &root, "cp-aes", &[(SSE, "AES256")]).await;
    create_bucket(&cluster, &root, "cp-plain", &[]).await;
    create_bucket(&cluster, &root, "cp-kmsdef", &[(SSE, "KMS")]).await;
    let data = body(3 * 65_536 + 99, 4);
    op(&cluster, &root, "cp-aes")
        .write("src", data.clone())
        .await
        .expect("put");
    op(&cluster, &root, "cp-plain")
        .write("plain-src", data.clone())
        .await
        .expect("put");

    // AES256 source → KMS by request header.
    let resp = Raw::new("PUT", "/cp-plain/to-kms", "/cp-plain/to-kms")
        .headers(&[("x-oss-copy-source", "/cp-aes/src"), (SSE, "KMS")])
        .send(&cluster, &root)
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(header(&resp, SSE).as_deref(), Some("KMS"));
    let key_id = header(&resp, "x-oss-server-side-encryption-key-id").expect("key id echoed");
    assert_eq!(header(&resp, "etag"), Some(format!("\"{}\"", md5_hex(&data))));
    assert_eq!(
        header(&resp, "x-oss-hash-crc64ecma"),
        Some(crc64(&data).to_string())
    );
    let xml = resp.text().await.expect("body");
    assert_eq!(tag(&xml, "ETag"), Some(format!("\"{}\"", md5_hex(&data))));
    assert!(tag(&xml, "LastModified").is_some_and(|t| t.ends_with(".000Z")));
    let h = head(&cluster, &root, "/cp-plain/to-kms").await;
    assert_eq!(header(&h, SSE).as_deref(), Some("KMS"));
    assert_eq!(header(&h, "x-oss-server-side-encryption-key-id"), Some(key_id));

    // Plain source → SM4 by request header.
    let resp = Raw::new("PUT", "/cp-plain/to-sm4", "/cp-plain/to-sm4")
        .headers(&[("x-oss-copy-source", "/cp-plain/plain-src"), (SSE, "SM4")])
        .send(&cluster, &root)
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(header(&resp, SSE).as_deref(), Some("SM4"));

    // AES256 source → a bucket without a default and no header: unencrypted.
    let resp = Raw::new("PUT", "/cp-plain/unencrypted", "/cp-plain/unencrypted")
        .headers(&[("x-oss-copy-source", "/cp-aes/src")])
        .send(&cluster, &root)
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(header(&resp, SSE), None);
    assert_eq!(
        header(&head(&cluster, &root, "/cp-plain/unencrypted").await, SSE),
        None
    );

    // Plain source → a KMS-default bucket: the target's default applies.
    let resp = Raw::new("PUT", "/cp-kmsdef/by-default", "/cp-kmsdef/by-default")
        .headers(&[("x-oss-copy-source", "/cp-plain/plain-src")])
        .send(&cluster, &root)
        .await;
    assert_eq!(header(&resp, SSE).as_deref(), Some("KMS"));

    let plain = op(&cluster, &root, "cp-plain");
    for key in ["to-kms", "to-sm4", "unencrypted"] {
        assert!(plain.read(key).await.expect("read").to_vec() == data, "{key}");
        let got = plain
            .read_with(key)
            .range(65_530..65_545)
            .await
            .expect("range")
            .to_vec();
        assert!(
            got == data[65_530..65_545],
            "{key} range across a segment boundary"
        );
    }
    let kmsdef = op(&cluster, &root, "cp-kmsdef");
    assert!(kmsdef.read("by-default").await.expect("read").to_vec() == data);

    // OpenDAL's copy, and a copy of a multipart source.
    kmsdef.copy("by-default", "opendal-copy").await.expect("copy");
    assert!(kmsdef.read("opendal-copy").await.expect("read").to_vec() == data);
    let big = body(300 * 1024 + 3, 5);
    let mut w = kmsdef
        .writer_with("multi")
        .chunk(128 * 1024)
        .await
        .expect("writer");
    w.write(big.clone()).await.expect("write");
    w.close().await.expect("close");
    kmsdef.copy("multi", "multi-copy").await.expect("copy multipart");
    let h = head(&cluster, &root, "/cp-kmsdef/multi-copy").await;
    assert_eq!(header(&h, "x-oss-object-type").as_deref(), Some("Normal"));
    assert_eq!(header(&h, "etag"), Some(format!("\"{}\"", md5_hex(&big))));
    assert!(kmsdef.read("multi-copy").await.expect("read").to_vec() == big);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metadata_directives_conditions_and_overwrite_protection() {
    let cluster = Cluster::start().await.expect("cluster");
    let root = cluster.root.clone();
    create_bucket(&cluster, &root, "cp-meta", &[(SSE, "AES256")]).await;
    let resp = Raw::new("PUT", "/cp-meta/src", "/cp-meta/src")
        .headers(&[("content-type", "text/plain"), ("x-oss-meta-colour", "blue")])
        .body(b"source bytes".to_vec())
        .send(&cluster, &root)
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let etag = header(&resp, "etag").expect("etag");
    let copy = |dst: &'static str, extra: Vec<(&'static str, String)>| {
        let (cluster, root) = (&cluster, &root);
        async move {
            let mut headers: Vec<(&str, &str)> = vec![("x-oss-copy-source", "/cp-meta/src")];
            headers.extend(extra.iter().map(|(k, v)| (*k, v.as_str())));
            Raw::new("PUT", dst, dst)
                .headers(&headers)
                .send(cluster, root)
                .await
        }
    };

    let resp = copy("/cp-meta/copied", vec![("x-oss-meta-colour", "red".into())]).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let h = head(&cluster, &root, "/cp-meta/copied").await;
    assert_eq!(
        header(&h, "x-oss-meta-colour").as_deref(),
        Some("blue"),
        "COPY keeps the source's"
    );
    assert_eq!(header(&h, "content-type").as_deref(), Some("text/plain"));
    assert_eq!(
        header(&h, SSE),
        Some("AES256".into()),
        "the bucket default, not inheritance"
    );

    let resp = copy(
        "/cp-meta/replaced",
        vec![
            ("x-oss-metadata-directive", "REPLACE".into()),
            ("x-oss-meta-colour", "red".into()),
            ("content-type", "image/png".into()),
        ],
    )
    .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let h = head(&cluster, &root, "/cp-meta/replaced").await;
    assert_eq!(header(&h, "x-oss-meta-colour").as_deref(), Some("red"));
    assert_eq!(header(&h, "content-type").as_deref(), Some("image/png"));

    let resp = copy(
        "/cp-meta/x",
        vec![("x-oss-copy-source-if-match", "\"0000\"".into())],
    )
    .await;
    assert_eq!(resp.status(), StatusCode::PRECONDITION_FAILED);
    let resp = copy(
        "/cp-meta/x",
        vec![("x-oss-copy-source-if-none-match", etag.clone())],
    )
    .await;
    assert_eq!(resp.status(), StatusCode::NOT_MODIFIED);
    let resp = copy("/cp-meta/x", vec![("x-oss-copy-source-if-match", etag)]).await;
    assert_eq!(resp.status(), StatusCode::OK);

    let resp = copy("/cp-meta/copied", vec![("x-oss-forbid-overwrite", "true".into())]).await;
    assert_eq!(resp.status(), StatusCode::CONFLICT);
    assert!(resp.text().await.expect("body").contains("FileAlreadyExists"));
    let resp = copy("/cp-meta/y", vec![("x-oss-metadata-directive", "MERGE".into())]).await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    let resp = Raw::new("PUT", "/cp-meta/z", "/cp-meta/z")
        .headers(&[("x-oss-copy-source", "/cp-meta/missing")])
        .send(&cluster, &root)
        .await;
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);

    // A copy onto itself with REPLACE updates the metadata and keeps the bytes readable.
    let resp = Raw::new("PUT", "/cp-meta/src", "/cp-meta/src")
        .headers(&[
            ("x-oss-copy-source", "/cp-meta/src"),
            ("x-oss-metadata-directive", "REPLACE"),
            ("x-oss-meta-colour", "green"),
        ])
        .send(&cluster, &root)
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let h = head(&cluster, &root, "/cp-meta/src").await;
    assert_eq!(header(&h, "x-oss-meta-colour").as_deref(), Some("green"));
    let back = op(&cluster, &root, "cp-meta")
        .read("src")
        .await
        .expect("read")
        .to_vec();
    assert_eq!(back, b"source bytes");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copying_a_kms_source_needs_kms_decrypt() {
    let cluster = Cluster::start().await.expect("cluster");
    let root = cluster.root.clone();
    create_bucket(&cluster, &root, "cp-vault", &[(SSE, "KMS")]).await;
    op(&cluster, &root, "cp-vault")
        .write("secret", b"kms bytes".to_vec())
        .await
        .expect("put");
    let no_decrypt = r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"oss:*","Resource":"*"}]}"#;
    let user = cluster.ram_user("copier", &[no_decrypt]).await.expect("user");
    let resp = Raw::new("PUT", "/cp-vault/stolen", "/cp-vault/stolen")
        .headers(&[("x-oss-copy-source", "/cp-vault/secret"), (SSE, "AES256")])
        .send(&cluster, &user)
        .await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    let h = head(&cluster, &root, "/cp-vault/stolen").await;
    assert_eq!(h.status(), StatusCode::NOT_FOUND, "nothing written");
    let with_decrypt =
        r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":["oss:*","kms:Decrypt"],"Resource":"*"}]}"#;
    let user = cluster.ram_user("copier2", &[with_decrypt]).await.expect("user");
    let resp = Raw::new("PUT", "/cp-vault/allowed", "/cp-vault/allowed")
        .headers(&[("x-oss-copy-source", "/cp-vault/secret"), (SSE, "AES256")])
        .send(&cluster, &user)
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(header(&resp, SSE).as_deref(), Some("AES256"));
}
