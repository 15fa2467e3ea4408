//! Multipart uploads through OpenDAL's chunked writer and raw HTTP: the encryption fixed at Initiate, parts
//! sealed under it, SSE headers refused on parts, ranges across part boundaries, part copies from encrypted
//! sources, listings and aborts.

use cang_oss::checksum::{crc64, multipart_etag};
use cang_tests::Cluster;
use reqwest::StatusCode;

use crate::http::{Raw, body, create_bucket, header, md5_bytes, md5_hex, op, tag, tags};

const KIB: usize = 1024;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn opendal_chunked_writes_become_encrypted_multipart_objects() {
    let cluster = Cluster::start().await.expect("cluster");
    let root = cluster.root.clone();
    create_bucket(
        &cluster,
        &root,
        "mp-kms",
        &[("x-oss-server-side-encryption", "KMS")],
    )
    .await;
    let op = op(&cluster, &root, "mp-kms");
    let part = 256 * KIB;
    let data = body(4 * part + 12_345, 7);
    let mut writer = op.writer_with("big.bin").chunk(part).await.expect("writer");
    // Irregular write sizes: the writer re-cuts them into parts of exactly `part` bytes.
    for piece in data.chunks(100_003) {
        writer.write(piece.to_vec()).await.expect("write");
    }
    writer.close().await.expect("close");

    let head = Raw::new("HEAD", "/mp-kms/big.bin", "/mp-kms/big.bin")
        .send(&cluster, &root)
        .await;
    assert_eq!(head.status(), StatusCode::OK);
    assert_eq!(header(&head, "x-oss-object-type").as_deref(), Some("Multipart"));
    assert_eq!(
        header(&head, "x-oss-server-side-encryption").as_deref(),
        Some("KMS")
    );
    assert!(header(&head, "x-oss-server-side-encryption-key-id").is_some());
    assert_eq!(header(&head, "content-length"), Some(data.len().to_string()));
    assert_eq!(
        header(&head, "x-oss-hash-crc64ecma"),
        Some(crc64(&data).to_string())
    );
    let part_md5s: Vec<[u8; 16]> = data.chunks(part).map(md5_bytes).collect();
    assert_eq!(header(&head, "etag"), Some(multipart_etag(&part_md5s)));

    assert!(op.read("big.bin").await.expect("read").to_vec() == data);
    let p = part as u64;
    let len = data.len() as u64;
    for (a, b) in [
        (p - 1, p + 1),
        (p - 100, 3 * p + 100),
        (0, p),
        (p, 2 * p),
        (len - 1, len),
        (2 * p - 7, len),
    ] {
        let got = op.read_with("big.bin").range(a..b).await.expect("range").to_vec();
        assert!(got == data[a as usize..b as usize], "range {a}..{b}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn raw_multipart_with_customer_choice_of_sse_parts_and_completion() {
    let cluster = Cluster::start().await.expect("cluster");
    let root = cluster.root.clone();
    create_bucket(&cluster, &root, "mp-raw", &[]).await;

    let resp = Raw::new("POST", "/mp-raw/dir/obj?uploads", "/mp-raw/dir/obj?uploads")
        .headers(&[
            ("x-oss-server-side-encryption", "KMS"),
            ("x-oss-meta-origin", "raw"),
        ])
        .send(&cluster, &root)
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(
        header(&resp, "x-oss-server-side-encryption").as_deref(),
        Some("KMS")
    );
    let key_id = header(&resp, "x-oss-server-side-encryption-key-id").expect("resolved key id echoed");
    let xml = resp.text().await.expect("body");
    let upload_id = tag(&xml, "UploadId").expect("upload id");
    let part_target = |n: u32| format!("/mp-raw/dir/obj?partNumber={n}&uploadId={upload_id}");

    // SSE headers on a part are refused and store nothing.
    let t = part_target(1);
    let resp = Raw::new("PUT", &t, &t)
        .headers(&[("x-oss-server-side-encryption", "AES256")])
        .body(body(200 * KIB, 1))
        .send(&cluster, &root)
        .await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert!(
        resp.text()
            .await
            .expect("body")
            .contains("<Code>InvalidArgument</Code>")
    );

    let parts = [body(200 * KIB, 1), body(150 * KIB, 2), body(33 * KIB + 5, 3)];
    for (i, data) in parts.iter().enumerate() {
        let t = part_target(i as u32 + 1);
        let resp = Raw::new("PUT", &t, &t)
            .body(data.clone())
            .send(&cluster, &root)
            .await;
        assert_eq!(resp.status(), StatusCode::OK, "part {}", i + 1);
        assert_eq!(header(&resp, "etag"), Some(format!("\"{}\"", md5_hex(data))));
        assert_eq!(
            header(&resp, "x-oss-hash-crc64ecma"),
            Some(crc64(data).to_string())
        );
        assert_eq!(
            header(&resp, "x-oss-server-side-encryption-key-id").as_deref(),
            Some(key_id.as_str())
        );
    }
    // A re-upload replaces the part.
    let t = part_target(2);
    let resp = Raw::new("PUT", &t, &t)
        .body(parts[1].clone())
        .send(&cluster, &root)
        .await;
    assert_eq!(resp.status(), StatusCode::OK);

    let t = format!("/mp-raw/dir/obj?uploadId={upload_id}");
    let listed = Raw::new("GET", &t, &t)
        .send(&cluster, &root)
        .await
        .text()
        .await
        .expect("parts");
    assert_eq!(tags(&listed, "PartNumber"), ["1", "2", "3"]);
    assert_eq!(
        tags(&listed, "Size"),
        parts.iter().map(|p| p.len().to_string()).collect::<Vec<_>>()
    );
    assert_eq!(tags(&listed, "HashCrc64ecma")[0], crc64(&parts[0]).to_string());
    let t = format!("/mp-raw/dir/obj?uploadId={upload_id}&max-parts=2");
    let r = format!("/mp-raw/dir/obj?uploadId={upload_id}");
    let page = Raw::new("GET", &t, &r)
        .send(&cluster, &root)
        .await
        .text()
        .await
        .expect("page");
    assert_eq!(tag(&page, "IsTruncated").as_deref(), Some("true"));
    assert_eq!(tag(&page, "NextPartNumberMarker").as_deref(), Some("2"));

    let complete = |list: &[(u32, String)]| {
        let mut xml = String::from("<CompleteMultipartUpload>");
        for (n, etag) in list {
            xml.push_str(&format!(
                "<Part><PartNumber>{n}</PartNumber><ETag>{etag}</ETag></Part>"
            ));
        }
        xml + "</CompleteMultipartUpload>"
    };
    let etag = |i: usize| format!("\"{}\"", md5_hex(&parts[i]));
    let resp = Raw::new("POST", &r, &r)
        .headers(&[("x-oss-server-side-encryption", "KMS")])
        .body(complete(&[(1, etag(0)), (3, etag(2))]))
        .send(&cluster, &root)
        .await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST, "SSE headers on Complete");
    let resp = Raw::new("POST", &r, &r)
        .body(complete(&[(1, etag(1)), (3, etag(2))]))
        .send(&cluster, &root)
        .await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert!(
        resp.text()
            .await
            .expect("body")
            .contains("<Code>InvalidPart</Code>")
    );

    // Only parts 1 and 3 make the object; ETags are compared without quotes and case.
    let resp = Raw::new("POST", &r, &r)
        .body(complete(&[(1, etag(0).to_lowercase()), (3, md5_hex(&parts[2]))]))
        .send(&cluster, &root)
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let whole: Vec<u8> = [parts[0].as_slice(), parts[2].as_slice()].concat();
    let expected_etag = multipart_etag(&[md5_bytes(&parts[0]), md5_bytes(&parts[2])]);
    assert_eq!(
        header(&resp, "x-oss-hash-crc64ecma"),
        Some(crc64(&whole).to_string())
    );
    assert_eq!(
        header(&resp, "x-oss-server-side-encryption").as_deref(),
        Some("KMS")
    );
    let xml = resp.text().await.expect("body");
    assert_eq!(tag(&xml, "ETag"), Some(expected_etag));
    assert_eq!(tag(&xml, "Key").as_deref(), Some("dir/obj"));

    let op = op(&cluster, &root, "mp-raw");
    assert!(op.read("dir/obj").await.expect("read").to_vec() == whole);
    let boundary = parts[0].len() as u64;
    let got = op
        .read_with("dir/obj")
        .range(boundary - 3..boundary + 3)
        .await
        .expect("range")
        .to_vec();
    assert!(got == whole[boundary as usize - 3..boundary as usize + 3]);
    let head = Raw::new("HEAD", "/mp-raw/dir/obj", "/mp-raw/dir/obj")
        .send(&cluster, &root)
        .await;
    assert_eq!(header(&head, "x-oss-meta-origin").as_deref(), Some("raw"));
    assert_eq!(header(&head, "x-oss-server-side-encryption-key-id"), Some(key_id));

    // The upload is gone.
    let resp = Raw::new("DELETE", &r, &r).send(&cluster, &root).await;
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    assert!(resp.text().await.expect("body").contains("NoSuchUpload"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn part_copies_reencrypt_ranges_of_encrypted_sources() {
    let cluster = Cluster::start().await.expect("cluster");
    let root = cluster.root.clone();
    create_bucket(
        &cluster,
        &root,
        "mp-src",
        &[("x-oss-server-side-encryption", "AES256")],
    )
    .await;
    create_bucket(
        &cluster,
        &root,
        "mp-dst",
        &[("x-oss-server-side-encryption", "SM4")],
    )
    .await;
    let source = body(400 * KIB + 17, 9);
    op(&cluster, &root, "mp-src")
        .write("src", source.clone())
        .await
        .expect("put source");

    let resp = Raw::new("POST", "/mp-dst/assembled?uploads", "/mp-dst/assembled?uploads")
        .send(&cluster, &root)
        .await;
    assert_eq!(
        header(&resp, "x-oss-server-side-encryption").as_deref(),
        Some("SM4"),
        "bucket default"
    );
    let upload_id = tag(&resp.text().await.expect("body"), "UploadId").expect("upload id");
    let (a, b) = (65_530usize, 65_530 + 150 * KIB);
    let range = format!("bytes={a}-{}", b - 1);
    let copies: [(u32, &[(&str, &str)]); 2] = [
        (
            1,
            &[
                ("x-oss-copy-source", "/mp-src/src"),
                ("x-oss-copy-source-range", &range),
            ],
        ),
        (
            2,
            &[
                ("x-oss-copy-source", "/mp-src/src"),
                ("x-oss-copy-source-range", "bytes=9-2"),
            ],
        ),
    ];
    let mut etags = Vec::new();
    for (n, headers) in copies {
        let t = format!("/mp-dst/assembled?partNumber={n}&uploadId={upload_id}");
        let resp = Raw::new("PUT", &t, &t)
            .headers(headers)
            .send(&cluster, &root)
            .await;
        assert_eq!(resp.status(), StatusCode::OK, "part copy {n}");
        let etag = header(&resp, "etag").expect("etag header");
        let xml = resp.text().await.expect("body");
        assert_eq!(tag(&xml, "ETag"), Some(etag.clone()));
        etags.push(etag);
    }
    // An invalid range copies the whole source.
    assert_eq!(etags[0], format!("\"{}\"", md5_hex(&source[a..b])));
    assert_eq!(etags[1], format!("\"{}\"", md5_hex(&source)));

    let t = format!("/mp-dst/assembled?partNumber=3&uploadId={upload_id}");
    let resp = Raw::new("PUT", &t, &t)
        .headers(&[
            ("x-oss-copy-source", "/mp-src/src"),
            ("x-oss-server-side-encryption", "KMS"),
        ])
        .send(&cluster, &root)
        .await;
    assert_eq!(
        resp.status(),
        StatusCode::BAD_REQUEST,
        "SSE headers on UploadPartCopy"
    );

    let r = format!("/mp-dst/assembled?uploadId={upload_id}");
    let doc = format!(
        "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>{}</ETag></Part>\
         <Part><PartNumber>2</PartNumber><ETag>{}</ETag></Part></CompleteMultipartUpload>",
        etags[0], etags[1]
    );
    let resp = Raw::new("POST", &r, &r).body(doc).send(&cluster, &root).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let whole: Vec<u8> = [&source[a..b], source.as_slice()].concat();
    let got = op(&cluster, &root, "mp-dst")
        .read("assembled")
        .await
        .expect("read")
        .to_vec();
    assert!(got == whole);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uploads_list_with_delimiters_and_abort_exactly_once() {
    let cluster = Cluster::start().await.expect("cluster");
    let root = cluster.root.clone();
    create_bucket(&cluster, &root, "mp-list", &[]).await;
    let mut ids = Vec::new();
    for key in ["a", "dir/x", "dir/y", "dir/y", "z"] {
        let t = format!("/mp-list/{key}?uploads");
        let resp = Raw::new("POST", &t, &t).send(&cluster, &root).await;
        ids.push((
            key,
            tag(&resp.text().await.expect("body"), "UploadId").expect("id"),
        ));
    }
    let listed = Raw::new("GET", "/mp-list/?uploads&delimiter=/", "/mp-list/?uploads")
        .send(&cluster, &root)
        .await
        .text()
        .await
        .expect("list");
    assert_eq!(tags(&listed, "Key"), ["a", "z"]);
    assert_eq!(tags(&listed, "Prefix"), ["", "dir/"]);
    assert_eq!(tag(&listed, "IsTruncated").as_deref(), Some("false"));

    // Pages of two: [a, dir/], then [z].
    let first = Raw::new(
        "GET",
        "/mp-list/?uploads&delimiter=/&max-uploads=2",
        "/mp-list/?uploads",
    )
    .send(&cluster, &root)
    .await
    .text()
    .await
    .expect("page");
    assert_eq!(tag(&first, "IsTruncated").as_deref(), Some("true"));
    assert_eq!(tag(&first, "NextKeyMarker").as_deref(), Some("dir/"));
    let second = Raw::new(
        "GET",
        "/mp-list/?uploads&delimiter=/&max-uploads=2&key-marker=dir/",
        "/mp-list/?uploads",
    )
    .send(&cluster, &root)
    .await
    .text()
    .await
    .expect("page");
    assert_eq!(tags(&second, "Key"), ["z"]);

    let all = Raw::new("GET", "/mp-list/?uploads&prefix=dir/", "/mp-list/?uploads")
        .send(&cluster, &root)
        .await
        .text()
        .await
        .expect("list");
    assert_eq!(tags(&all, "Key"), ["dir/x", "dir/y", "dir/y"]);

    let (key, id) = &ids[0];
    let t = format!("/mp-list/{key}?uploadId={id}");
    assert_eq!(
        Raw::new("DELETE", &t, &t).send(&cluster, &root).await.status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        Raw::new("DELETE", &t, &t).send(&cluster, &root).await.status(),
        StatusCode::NOT_FOUND
    );
    let t = format!("/mp-list/{key}?partNumber=1&uploadId={id}");
    let resp = Raw::new("PUT", &t, &t)
        .body(b"late".to_vec())
        .send(&cluster, &root)
        .await;
    assert_eq!(resp.status(), StatusCode::NOT_FOUND, "no parts after an abort");
}
