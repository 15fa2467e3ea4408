//! Objects through OpenDAL's OSS client and raw HTTP: every SSE mode, range reads at segment boundaries,
//! bucket defaults that change, RAM permissions on customer keys, key states, and nothing stored in plaintext.

use cang_access_keys::NewCredentials;
use cang_tests::Cluster;
use cang_tests::sign::v1_headers;

use crate::http::{body, create_bucket, op, raw};
use reqwest::StatusCode;

const S: usize = 64 * 1024;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_sse_mode_round_trips_with_ranges_at_segment_boundaries() {
    let cluster = Cluster::start().await.expect("cluster");
    let root = cluster.root.clone();
    let modes: [(&str, &[(&str, &str)]); 5] = [
        ("plain", &[]),
        ("aes", &[("x-oss-server-side-encryption", "AES256")]),
        ("sm4", &[("x-oss-server-side-encryption", "SM4")]),
        ("kms", &[("x-oss-server-side-encryption", "KMS")]),
        (
            "kms-sm4",
            &[
                ("x-oss-server-side-encryption", "KMS"),
                ("x-oss-server-side-data-encryption", "SM4"),
            ],
        ),
    ];
    for (name, sse) in modes {
        let bucket = format!("mode-{name}");
        create_bucket(&cluster, &root, &bucket, sse).await;
        let op = op(&cluster, &root, &bucket);
        for len in [0, 1, S - 1, S, S + 1, 3 * S + 5] {
            let data = body(len, len as u8);
            let path = format!("obj-{len}");
            op.write(&path, data.clone()).await.expect("write");
            let back = op.read(&path).await.expect("read").to_vec();
            assert_eq!(back.len(), len, "{name} {len}");
            assert!(back == data, "{name}: whole read of {len} bytes differs");
            assert_eq!(op.stat(&path).await.expect("stat").content_length(), len as u64);
            if len == 0 {
                continue;
            }
            let last = len as u64;
            let ranges = [
                (0, 1),
                (last - 1, last),
                (0, last),
                (last / 2, last),
                (S as u64 - 1, (S as u64 + 1).min(last)),
            ];
            for (a, b) in ranges {
                if a >= b {
                    continue;
                }
                let got = op
                    .read_with(&path)
                    .range(a..b)
                    .await
                    .expect("range read")
                    .to_vec();
                assert!(
                    got == data[a as usize..b as usize],
                    "{name} len {len} range {a}..{b}"
                );
            }
        }
        // The response echoes the encryption actually applied.
        let head = raw(
            &cluster,
            &root,
            "HEAD",
            &format!("/{bucket}/obj-1"),
            "",
            &format!("/{bucket}/obj-1"),
            &[],
            Vec::new(),
        )
        .await;
        let echoed = head
            .headers()
            .get("x-oss-server-side-encryption")
            .map(|v| v.to_str().unwrap_or("").to_owned());
        let expected = sse.first().map(|(_, v)| (*v).to_owned());
        assert_eq!(echoed, expected, "{name}");
        if name.starts_with("kms") {
            let key_id = head
                .headers()
                .get("x-oss-server-side-encryption-key-id")
                .expect("real key id echoed");
            assert!(
                !key_id.to_str().unwrap_or("").starts_with("alias/"),
                "the real key id, not the alias"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_is_stored_in_plaintext() {
    let cluster = Cluster::start().await.expect("cluster");
    let root = cluster.root.clone();
    create_bucket(
        &cluster,
        &root,
        "secret",
        &[("x-oss-server-side-encryption", "AES256")],
    )
    .await;
    let marker = b"CANG-PLAINTEXT-MARKER-7f3a9c1e5b2d4f6a8c0e";
    let data: Vec<u8> = marker.iter().copied().cycle().take(300_000).collect();
    op(&cluster, &root, "secret")
        .write("doc.txt", data)
        .await
        .expect("write");
    // Overwrite-free scan of every file the services wrote.
    let mut stack = vec![cluster.dir.path().to_path_buf()];
    let mut scanned = 0;
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("read dir") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            let bytes = std::fs::read(&path).expect("read file");
            scanned += bytes.len();
            assert!(
                !bytes.windows(marker.len()).any(|w| w == marker),
                "plaintext marker found in {}",
                path.display()
            );
        }
    }
    assert!(
        scanned > 300_000,
        "the scan saw the stored object ({scanned} bytes)"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changing_the_bucket_default_leaves_existing_objects_alone() {
    let cluster = Cluster::start().await.expect("cluster");
    let root = cluster.root.clone();
    create_bucket(
        &cluster,
        &root,
        "shifting",
        &[("x-oss-server-side-encryption", "AES256")],
    )
    .await;
    let op = op(&cluster, &root, "shifting");
    op.write("old", b"written under AES256".to_vec())
        .await
        .expect("write");
    let rule = "<ServerSideEncryptionRule><ApplyServerSideEncryptionByDefault><SSEAlgorithm>KMS</SSEAlgorithm>\
                </ApplyServerSideEncryptionByDefault></ServerSideEncryptionRule>";
    let resp = raw(
        &cluster,
        &root,
        "PUT",
        "/shifting/",
        "encryption",
        "/shifting/?encryption",
        &[],
        rule.into(),
    )
    .await;
    assert_eq!(resp.status(), StatusCode::OK);
    op.write("new", b"written under KMS".to_vec())
        .await
        .expect("write");
    let sse = |key: &'static str| {
        let (cluster, root) = (&cluster, &root);
        async move {
            let head = raw(
                cluster,
                root,
                "HEAD",
                &format!("/shifting/{key}"),
                "",
                &format!("/shifting/{key}"),
                &[],
                Vec::new(),
            )
            .await;
            head.headers()
                .get("x-oss-server-side-encryption")
                .map(|v| v.to_str().unwrap_or("").to_owned())
        }
    };
    assert_eq!(sse("old").await.as_deref(), Some("AES256"));
    assert_eq!(sse("new").await.as_deref(), Some("KMS"));
    assert_eq!(
        op.read("old").await.expect("old still reads").to_vec(),
        b"written under AES256"
    );
    let resp = raw(
        &cluster,
        &root,
        "DELETE",
        "/shifting/",
        "encryption",
        "/shifting/?encryption",
        &[],
        Vec::new(),
    )
    .await;
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    let again = raw(
        &cluster,
        &root,
        "DELETE",
        "/shifting/",
        "encryption",
        "/shifting/?encryption",
        &[],
        Vec::new(),
    )
    .await;
    assert_eq!(
        again.status(),
        StatusCode::NO_CONTENT,
        "deleting an absent rule also succeeds"
    );
    let get = raw(
        &cluster,
        &root,
        "GET",
        "/shifting/",
        "encryption",
        "/shifting/?encryption",
        &[],
        Vec::new(),
    )
    .await;
    assert_eq!(get.status(), StatusCode::NOT_FOUND);
    assert!(
        get.text()
            .await
            .unwrap_or_default()
            .contains("NoSuchServerSideEncryptionRule")
    );
    assert_eq!(
        op.read("new").await.expect("new still reads").to_vec(),
        b"written under KMS"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn customer_keys_need_kms_permissions_and_follow_key_state() {
    use cang_kms_api::{AccountId, KeyRef};
    let cluster = Cluster::start().await.expect("cluster");
    let root = cluster.root.clone();
    let account = AccountId::new(cluster.account.clone()).expect("account");
    let key = crate::http::customer_key(&cluster, "e2e").await;
    let key_id = key.key_id.as_str().to_owned();
    create_bucket(
        &cluster,
        &root,
        "vault",
        &[
            ("x-oss-server-side-encryption", "KMS"),
            ("x-oss-server-side-encryption-key-id", &key_id),
        ],
    )
    .await;

    let oss_only = r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"oss:*","Resource":"*"},
        {"Effect":"Allow","Action":["kms:List*","kms:DescribeKey"],"Resource":"*"}]}"#;
    let uploader = cluster.ram_user("no-gdk", &[oss_only]).await.expect("user");
    let err = op(&cluster, &uploader, "vault")
        .write("x", b"data".to_vec())
        .await
        .expect_err("denied without kms:GenerateDataKey");
    assert_eq!(err.kind(), opendal::ErrorKind::PermissionDenied, "{err}");

    let with_gdk = r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"oss:*","Resource":"*"},
        {"Effect":"Allow","Action":["kms:List*","kms:DescribeKey","kms:GenerateDataKey"],"Resource":"*"}]}"#;
    let writer = cluster.ram_user("gdk", &[with_gdk]).await.expect("user");
    let wop = op(&cluster, &writer, "vault");
    wop.write("x", b"secret data".to_vec())
        .await
        .expect("allowed with kms:GenerateDataKey");
    let err = wop.read("x").await.expect_err("download needs kms:Decrypt");
    assert_eq!(err.kind(), opendal::ErrorKind::PermissionDenied, "{err}");
    let reader_policy = r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":["oss:GetObject","kms:Decrypt"],"Resource":"*"}]}"#;
    let reader = cluster.ram_user("reader", &[reader_policy]).await.expect("user");
    assert_eq!(
        op(&cluster, &reader, "vault")
            .read("x")
            .await
            .expect("read")
            .to_vec(),
        b"secret data"
    );

    // A disabled key refuses uploads and downloads with 409 KeyDisabled; re-enabled, all works again.
    let key_ref = KeyRef::parse(&key_id).expect("key ref");
    cluster
        .kms_admin
        .disable_key(&account, &key_ref)
        .await
        .expect("disable");
    for (method, body) in [("PUT", b"more".to_vec()), ("GET", Vec::new())] {
        let resp = raw(&cluster, &root, method, "/vault/x", "", "/vault/x", &[], body).await;
        assert_eq!(resp.status(), StatusCode::CONFLICT, "{method}");
        assert!(
            resp.text()
                .await
                .unwrap_or_default()
                .contains("<Code>KeyDisabled</Code>"),
            "{method}"
        );
    }
    cluster
        .kms_admin
        .enable_key(&account, &key_ref)
        .await
        .expect("enable");
    let rop = op(&cluster, &root, "vault");
    assert_eq!(
        rop.read("x").await.expect("read after enable").to_vec(),
        b"secret data"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_gets_the_oss_error_and_leaves_nothing_behind() {
    let cluster = Cluster::start().await.expect("cluster");
    let root = cluster.root.clone();
    create_bucket(&cluster, &root, "strict", &[]).await;
    let resp = raw(
        &cluster,
        &root,
        "PUT",
        "/strict/a",
        "",
        "/strict/a",
        &[("x-oss-server-side-encryption", "DES")],
        b"x".to_vec(),
    )
    .await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert!(
        resp.text()
            .await
            .unwrap_or_default()
            .contains("InvalidEncryptionAlgorithmError")
    );

    // Content-MD5 that does not match: InvalidDigest, and no object.
    let client = reqwest::Client::new();
    let mut req = client
        .put(format!("{}/strict/b", cluster.endpoint()))
        .body(b"hello".to_vec());
    let md5 = "XrY7u+Ae7tCTyyK7j1rNww=="; // MD5 of "hello world"
    for (k, v) in v1_headers(
        &root.access_key_id,
        &root.access_key_secret,
        "PUT",
        md5,
        "",
        &[],
        "/strict/b",
    ) {
        req = req.header(k, v);
    }
    let resp = req.header("content-md5", md5).send().await.expect("send");
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert!(resp.text().await.unwrap_or_default().contains("InvalidDigest"));
    let head = raw(
        &cluster,
        &root,
        "HEAD",
        "/strict/b",
        "",
        "/strict/b",
        &[],
        Vec::new(),
    )
    .await;
    assert_eq!(
        head.status(),
        StatusCode::NOT_FOUND,
        "a failed upload leaves no object"
    );
    assert!(
        head.headers().contains_key("x-oss-err"),
        "HEAD errors carry x-oss-err"
    );
    assert_eq!(head.headers().get("x-oss-request-id").map(|v| v.len()), Some(24));

    // A wrong secret is SignatureDoesNotMatch; the server keeps serving.
    let wrong = NewCredentials {
        access_key_id: root.access_key_id.clone(),
        access_key_secret: "nope".to_owned().into(),
    };
    let resp = raw(
        &cluster,
        &wrong,
        "GET",
        "/strict/",
        "",
        "/strict/",
        &[],
        Vec::new(),
    )
    .await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    assert!(
        resp.text()
            .await
            .unwrap_or_default()
            .contains("SignatureDoesNotMatch")
    );
    op(&cluster, &root, "strict")
        .write("ok", b"still serving".to_vec())
        .await
        .expect("write");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_policy_can_refuse_uploads_without_sse_kms() {
    let cluster = Cluster::start().await.expect("cluster");
    let root = cluster.root.clone();
    create_bucket(&cluster, &root, "kms-only", &[]).await;
    let policy = r#"{"Version":"1","Statement":[
        {"Effect":"Allow","Action":["oss:*","kms:*"],"Resource":"*"},
        {"Effect":"Deny","Action":"oss:PutObject","Resource":"acs:oss:*:*:kms-only/*",
         "Condition":{"StringNotEquals":{"oss:x-oss-server-side-encryption":"KMS"}}}]}"#;
    let user = cluster
        .ram_user("kms-only-writer", &[policy])
        .await
        .expect("user");
    let plain = raw(
        &cluster,
        &user,
        "PUT",
        "/kms-only/a",
        "",
        "/kms-only/a",
        &[],
        b"x".to_vec(),
    )
    .await;
    assert_eq!(plain.status(), StatusCode::FORBIDDEN, "no SSE header: denied");
    let aes = [("x-oss-server-side-encryption", "AES256")];
    let aes = raw(
        &cluster,
        &user,
        "PUT",
        "/kms-only/a",
        "",
        "/kms-only/a",
        &aes,
        b"x".to_vec(),
    )
    .await;
    assert_eq!(aes.status(), StatusCode::FORBIDDEN, "AES256: denied");
    let kms = [("x-oss-server-side-encryption", "KMS")];
    let kms = raw(
        &cluster,
        &user,
        "PUT",
        "/kms-only/a",
        "",
        "/kms-only/a",
        &kms,
        b"x".to_vec(),
    )
    .await;
    assert_eq!(kms.status(), StatusCode::OK, "KMS: allowed");
}
