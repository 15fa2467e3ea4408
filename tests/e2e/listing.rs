//! ListObjects v1 and v2 (delimiters, pagination by marker and continuation token, URL encoding, owners),
//! OpenDAL listing and batch deletes, DeleteMultipleObjects in both modes, and object ACLs.

use std::collections::BTreeSet;

use cang_tests::Cluster;
use reqwest::StatusCode;

use crate::http::{Raw, all_keys, create_bucket, header, op, tag, tags};

const KEYS: [&str; 8] = ["a", "b/1", "b/2", "b/c/3", "c d+e", "dir/x", "dir/y/z", "zz"];

async fn seeded(cluster: &Cluster, bucket: &str) {
    create_bucket(
        cluster,
        &cluster.root,
        bucket,
        &[("x-oss-server-side-encryption", "AES256")],
    )
    .await;
    let op = op(cluster, &cluster.root, bucket);
    for key in KEYS {
        op.write(key, key.as_bytes().to_vec()).await.expect("put");
    }
}

async fn get(cluster: &Cluster, target: &str, resource: &str) -> String {
    let resp = Raw::new("GET", target, resource)
        .send(cluster, &cluster.root)
        .await;
    assert_eq!(resp.status(), StatusCode::OK, "{target}");
    resp.text().await.expect("body")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listings_page_through_keys_and_common_prefixes() {
    let cluster = Cluster::start().await.expect("cluster");
    seeded(&cluster, "lst").await;

    // V2, two entries a page, delimiter "/": every entry exactly once, in order.
    let mut entries = Vec::new();
    let mut token: Option<String> = None;
    let mut pages = 0;
    loop {
        // `continuation-token` is a signed sub-resource.
        let (target, resource) = match &token {
            None => (
                "/lst/?list-type=2&delimiter=/&max-keys=2".to_owned(),
                "/lst/".to_owned(),
            ),
            Some(t) => (
                format!("/lst/?list-type=2&delimiter=/&max-keys=2&continuation-token={t}"),
                format!("/lst/?continuation-token={t}"),
            ),
        };
        let xml = get(&cluster, &target, &resource).await;
        pages += 1;
        let (keys, prefixes) = (tags(&xml, "Key"), tags(&xml, "Prefix"));
        // The first <Prefix> is the request's; the rest are common prefixes.
        assert_eq!(
            tag(&xml, "KeyCount"),
            Some((keys.len() + prefixes.len() - 1).to_string())
        );
        entries.extend(keys);
        entries.extend(prefixes.into_iter().skip(1));
        assert!(!xml.contains("<Owner>"), "v2 has no owner without fetch-owner");
        if tag(&xml, "IsTruncated").as_deref() != Some("true") {
            break;
        }
        token = Some(tag(&xml, "NextContinuationToken").expect("token when truncated"));
    }
    let expected: BTreeSet<&str> = ["a", "b/", "c d+e", "dir/", "zz"].into();
    assert_eq!(
        entries.iter().map(String::as_str).collect::<BTreeSet<_>>(),
        expected
    );
    assert_eq!(
        entries.len(),
        expected.len(),
        "no entry repeats across pages: {entries:?}"
    );
    assert_eq!(pages, 3);

    // V1 with a prefix and marker.
    let xml = get(&cluster, "/lst/?prefix=b/&delimiter=/", "/lst/").await;
    assert_eq!(tags(&xml, "Key"), ["b/1", "b/2"]);
    assert_eq!(tags(&xml, "Prefix"), ["b/", "b/c/"]);
    assert!(xml.contains("<Owner><ID>"), "v1 contents carry the owner");
    assert!(xml.contains("<Type>Normal</Type>"));
    let xml = get(&cluster, "/lst/?max-keys=3", "/lst/").await;
    assert_eq!(tags(&xml, "Key"), ["a", "b/1", "b/2"]);
    assert_eq!(tag(&xml, "NextMarker").as_deref(), Some("b/2"));
    let xml = get(&cluster, "/lst/?marker=b/2&max-keys=3", "/lst/").await;
    assert_eq!(tags(&xml, "Key"), ["b/c/3", "c d+e", "dir/x"]);

    // URL encoding of keys, prefixes and delimiters; fetch-owner; start-after.
    let xml = get(
        &cluster,
        "/lst/?list-type=2&encoding-type=url&start-after=b/c/3&max-keys=1&fetch-owner=true",
        "/lst/",
    )
    .await;
    assert_eq!(tags(&xml, "Key"), ["c%20d%2Be"]);
    assert_eq!(tag(&xml, "EncodingType").as_deref(), Some("url"));
    assert!(xml.contains("<Owner><ID>"));
    let xml = get(
        &cluster,
        "/lst/?encoding-type=url&delimiter=/&prefix=dir/",
        "/lst/",
    )
    .await;
    assert_eq!(tags(&xml, "Key"), ["dir%2Fx"]);
    assert_eq!(tags(&xml, "Prefix"), ["dir%2F", "dir%2Fy%2F"]);

    let resp = Raw::new(
        "GET",
        "/lst/?list-type=2&continuation-token=%21%21",
        "/lst/?continuation-token=!!",
    )
    .send(&cluster, &cluster.root)
    .await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST, "a forged token");

    // OpenDAL lists (ListObjectsV2) both ways.
    let op = op(&cluster, &cluster.root, "lst");
    let shallow: BTreeSet<String> = op
        .list("b/")
        .await
        .expect("list")
        .into_iter()
        .map(|e| e.path().to_owned())
        .filter(|p| p != "b/")
        .collect();
    assert_eq!(
        shallow,
        ["b/1", "b/2", "b/c/"].into_iter().map(String::from).collect()
    );
    let deep: BTreeSet<String> = all_keys(&op).await.into_iter().collect();
    for key in KEYS {
        assert!(deep.contains(key), "{key} in {deep:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn multi_delete_reports_every_key_and_quiet_reports_none() {
    use base64::Engine;
    let cluster = Cluster::start().await.expect("cluster");
    seeded(&cluster, "del").await;
    let root = cluster.root.clone();

    let doc = "<Delete><Quiet>false</Quiet><Object><Key>a</Key></Object><Object><Key>c%20d%2Be</Key></Object>\
               <Object><Key>never-existed</Key></Object></Delete>";
    let md5 = base64::engine::general_purpose::STANDARD.encode(crate::http::md5_bytes(doc.as_bytes()));
    let resp = Raw::new("POST", "/del/?delete&encoding-type=url", "/del/?delete")
        .headers(&[("content-md5", &md5)])
        .body(doc)
        .send(&cluster, &root)
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let xml = resp.text().await.expect("body");
    // The request's keys are literal; only the response is URL-encoded.
    assert_eq!(tags(&xml, "Key"), ["a", "c%2520d%252Be", "never-existed"]);

    let bad_md5 = base64::engine::general_purpose::STANDARD.encode([0u8; 16]);
    let resp = Raw::new("POST", "/del/?delete", "/del/?delete")
        .headers(&[("content-md5", &bad_md5)])
        .body("<Delete><Object><Key>zz</Key></Object></Delete>")
        .send(&cluster, &root)
        .await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST, "Content-MD5 mismatch");

    let resp = Raw::new("POST", "/del/?delete", "/del/?delete")
        .body("<Delete><Quiet>true</Quiet><Object><Key>zz</Key></Object><Object><Key>b/1</Key></Object></Delete>")
        .send(&cluster, &root)
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(
        tags(&resp.text().await.expect("body"), "Key").is_empty(),
        "quiet mode lists nothing"
    );

    let op = op(&cluster, &root, "del");
    op.delete_iter(["b/2", "b/c/3", "dir/x"])
        .await
        .expect("opendal batch delete");
    let left = get(&cluster, "/del/", "/del/").await;
    // `c%20d%2Be` named a key of its own; `c d+e` is still there.
    assert_eq!(tags(&left, "Key"), ["c d+e", "dir/y/z"]);

    let resp = Raw::new("POST", "/del/?delete", "/del/?delete")
        .body("<Delete></Delete>")
        .send(&cluster, &root)
        .await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert!(resp.text().await.expect("body").contains("MalformedXML"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn object_acls_default_and_change_without_touching_the_bytes() {
    let cluster = Cluster::start().await.expect("cluster");
    seeded(&cluster, "acl").await;
    let root = cluster.root.clone();
    let xml = get(&cluster, "/acl/a?acl", "/acl/a?acl").await;
    assert_eq!(tag(&xml, "Grant").as_deref(), Some("default"));
    let resp = Raw::new("PUT", "/acl/a?acl", "/acl/a?acl")
        .headers(&[("x-oss-object-acl", "public-read")])
        .send(&cluster, &root)
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let xml = get(&cluster, "/acl/a?acl", "/acl/a?acl").await;
    assert_eq!(tag(&xml, "Grant").as_deref(), Some("public-read"));
    let head = Raw::new("HEAD", "/acl/a", "/acl/a").send(&cluster, &root).await;
    assert_eq!(
        header(&head, "x-oss-server-side-encryption").as_deref(),
        Some("AES256")
    );
    assert_eq!(
        op(&cluster, &root, "acl").read("a").await.expect("read").to_vec(),
        b"a"
    );
    let resp = Raw::new("PUT", "/acl/a?acl", "/acl/a?acl")
        .headers(&[("x-oss-object-acl", "everyone")])
        .send(&cluster, &root)
        .await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    let resp = Raw::new("GET", "/acl/missing?acl", "/acl/missing?acl")
        .send(&cluster, &root)
        .await;
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
}
