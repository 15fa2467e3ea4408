//! Who may touch what, through the real services: multi-deletes that delete exactly the keys they name and
//! only those the caller may delete, object ACLs, anonymous response overrides, and the bucket resolved
//! before the signature.

use cang_oss::percent::{decode_path, encode_strict};
use cang_tests::Cluster;
use reqwest::StatusCode;

use crate::http::{Raw, all_keys, audit_once, create_bucket, header, op, tag, tags};

/// Keys that a decoding server confuses with their siblings (`a%2Fb` vs `a/b`, …).
const NAMED: [&str; 6] = ["p/a%2Fb", "p/c%25d", "p/e%20f", "p/g+h", "p/i&j", "p/k l"];
const SIBLINGS: [&str; 5] = ["p/a/b", "p/c%d", "p/e f", "p/g h", "p/ij"];

fn delete_document(keys: &[&str]) -> String {
    let mut doc = String::from("<Delete><Quiet>false</Quiet>");
    for key in keys {
        let escaped = key.replace('&', "&amp;").replace('<', "&lt;");
        doc.push_str(&format!("<Object><Key>{escaped}</Key></Object>"));
    }
    doc.push_str("</Delete>");
    doc
}

async fn keys_of(cluster: &Cluster, bucket: &str) -> Vec<String> {
    all_keys(&op(cluster, &cluster.root, bucket)).await
}

async fn seed(cluster: &Cluster, bucket: &str, keys: &[&str]) {
    let op = op(cluster, &cluster.root, bucket);
    for key in keys {
        op.write(key, key.as_bytes().to_vec()).await.expect("put");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn multi_delete_deletes_exactly_the_named_keys() {
    let cluster = Cluster::start().await.expect("cluster");
    create_bucket(&cluster, &cluster.root, "exact", &[]).await;
    let all: Vec<&str> = NAMED.iter().chain(SIBLINGS.iter()).copied().collect();
    seed(&cluster, "exact", &all).await;

    // OpenDAL's batch delete (no encoding-type).
    op(&cluster, &cluster.root, "exact")
        .delete_iter(NAMED[..3].iter().copied())
        .await
        .expect("opendal batch delete");
    // A raw request with encoding-type=url: the request's keys are still literal, the response's encoded.
    let doc = delete_document(&NAMED[3..]);
    let resp = Raw::new("POST", "/exact/?delete&encoding-type=url", "/exact/?delete")
        .body(doc)
        .send(&cluster, &cluster.root)
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let xml = resp.text().await.expect("body");
    assert_eq!(tag(&xml, "EncodingType").as_deref(), Some("url"));
    let reported: Vec<String> = tags(&xml, "Key")
        .iter()
        .map(|k| decode_path(k).expect("utf-8"))
        .collect();
    assert_eq!(reported, NAMED[3..]);
    assert_eq!(tags(&xml, "Key")[0], encode_strict(NAMED[3]), "strictly encoded");

    let mut survivors: Vec<String> = SIBLINGS.iter().map(|s| (*s).to_owned()).collect();
    survivors.sort();
    assert_eq!(
        keys_of(&cluster, "exact").await,
        survivors,
        "every sibling survives"
    );
}

const DENY_PROTECTED: &str = r#"{"Version":"1","Statement":[
    {"Effect":"Allow","Action":"oss:*","Resource":"*"},
    {"Effect":"Deny","Action":"oss:DeleteObject","Resource":"acs:oss:*:*:guarded/protected/*"}]}"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn multi_delete_is_authorised_per_key_and_a_denied_key_deletes_nothing() {
    let cluster = Cluster::start().await.expect("cluster");
    create_bucket(&cluster, &cluster.root, "guarded", &[]).await;
    seed(&cluster, "guarded", &["protected/a", "open/b", "open/c"]).await;
    let user = cluster
        .ram_user("cleaner", &[DENY_PROTECTED])
        .await
        .expect("user");

    let single = Raw::new("DELETE", "/guarded/protected/a", "/guarded/protected/a")
        .send(&cluster, &user)
        .await;
    assert_eq!(single.status(), StatusCode::FORBIDDEN, "DeleteObject is denied");

    let resp = Raw::new("POST", "/guarded/?delete", "/guarded/?delete")
        .body(delete_document(&["open/b", "protected/a"]))
        .send(&cluster, &user)
        .await;
    assert_eq!(
        resp.status(),
        StatusCode::FORBIDDEN,
        "the batch carrying a denied key is refused"
    );
    assert!(resp.text().await.expect("body").contains("AccessDenied"));
    assert_eq!(
        keys_of(&cluster, "guarded").await,
        ["open/b", "open/c", "protected/a"],
        "nothing deleted"
    );

    let resp = Raw::new("POST", "/guarded/?delete", "/guarded/?delete")
        .body(delete_document(&["open/b"]))
        .send(&cluster, &user)
        .await;
    assert_eq!(resp.status(), StatusCode::OK, "allowed keys delete");
    assert_eq!(keys_of(&cluster, "guarded").await, ["open/c", "protected/a"]);

    // Anonymous callers may batch-delete only where the effective ACL lets everyone write.
    let anonymous = reqwest::Client::new()
        .post(format!("{}/guarded/?delete", cluster.endpoint()))
        .body(delete_document(&["open/c"]))
        .send()
        .await
        .expect("request");
    assert_eq!(anonymous.status(), StatusCode::FORBIDDEN);
    assert_eq!(keys_of(&cluster, "guarded").await, ["open/c", "protected/a"]);
}

async fn anonymous_get(cluster: &Cluster, target: &str) -> reqwest::Response {
    reqwest::Client::new()
        .get(format!("{}{target}", cluster.endpoint()))
        .send()
        .await
        .expect("request")
}

async fn set_acl(cluster: &Cluster, target: &str, header: &str, acl: &str) {
    let resp = Raw::new("PUT", target, target)
        .headers(&[(header, acl)])
        .send(cluster, &cluster.root)
        .await;
    assert_eq!(resp.status(), StatusCode::OK, "{target} {acl}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn object_acls_decide_for_anonymous_callers_and_policy_less_users() {
    let cluster = Cluster::start().await.expect("cluster");
    create_bucket(
        &cluster,
        &cluster.root,
        "pub",
        &[("x-oss-server-side-encryption", "AES256")],
    )
    .await;
    create_bucket(&cluster, &cluster.root, "priv", &[]).await;
    set_acl(&cluster, "/pub/?acl", "x-oss-acl", "public-read").await;
    seed(&cluster, "pub", &["open", "secret"]).await;
    seed(&cluster, "priv", &["shared", "hidden"]).await;
    set_acl(&cluster, "/pub/secret?acl", "x-oss-object-acl", "private").await;
    set_acl(&cluster, "/priv/shared?acl", "x-oss-object-acl", "public-read").await;

    let open = anonymous_get(&cluster, "/pub/open").await;
    assert_eq!(open.status(), StatusCode::OK);
    assert_eq!(open.bytes().await.expect("body").as_ref(), b"open");
    assert_eq!(
        anonymous_get(&cluster, "/pub/secret").await.status(),
        StatusCode::FORBIDDEN
    );
    let shared = anonymous_get(&cluster, "/priv/shared").await;
    assert_eq!(
        shared.status(),
        StatusCode::OK,
        "a public-read object in a private bucket"
    );
    assert_eq!(shared.bytes().await.expect("body").as_ref(), b"shared");
    assert_eq!(
        anonymous_get(&cluster, "/priv/hidden").await.status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        anonymous_get(&cluster, "/priv/never").await.status(),
        StatusCode::FORBIDDEN,
        "a missing key of a private bucket does not reveal itself"
    );
    assert_eq!(
        anonymous_get(&cluster, "/pub/never").await.status(),
        StatusCode::NOT_FOUND
    );

    let listing = anonymous_get(&cluster, "/pub/").await;
    assert_eq!(
        listing.status(),
        StatusCode::OK,
        "anonymous ListObjects of a public-read bucket"
    );
    assert_eq!(
        tags(&listing.text().await.expect("body"), "Key"),
        ["open", "secret"]
    );
    assert_eq!(
        anonymous_get(&cluster, "/priv/").await.status(),
        StatusCode::FORBIDDEN
    );

    // A same-account RAM user without any policy gets what everyone gets, no more.
    let nobody = cluster.ram_user("nobody", &[]).await.expect("user");
    let get = |target: &'static str| Raw::new("GET", target, target).send(&cluster, &nobody);
    assert_eq!(get("/pub/open").await.status(), StatusCode::OK);
    assert_eq!(get("/pub/secret").await.status(), StatusCode::FORBIDDEN);
    assert_eq!(get("/priv/shared").await.status(), StatusCode::OK);
    assert_eq!(get("/priv/hidden").await.status(), StatusCode::FORBIDDEN);

    // A private object in a public-read-write bucket cannot be overwritten or deleted anonymously.
    set_acl(&cluster, "/pub/?acl", "x-oss-acl", "public-read-write").await;
    let client = reqwest::Client::new();
    let put = |key: &str| {
        client
            .put(format!("{}/pub/{key}", cluster.endpoint()))
            .body("mine")
            .send()
    };
    assert_eq!(put("secret").await.expect("put").status(), StatusCode::FORBIDDEN);
    assert_eq!(put("fresh").await.expect("put").status(), StatusCode::OK);
    let delete = client
        .delete(format!("{}/pub/secret", cluster.endpoint()))
        .send()
        .await
        .expect("delete");
    assert_eq!(delete.status(), StatusCode::FORBIDDEN);
    let owner_read = Raw::new("GET", "/pub/secret", "/pub/secret")
        .send(&cluster, &cluster.root)
        .await;
    assert_eq!(
        owner_read.bytes().await.expect("body").as_ref(),
        b"secret",
        "untouched"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn response_overrides_need_a_signature() {
    let cluster = Cluster::start().await.expect("cluster");
    create_bucket(&cluster, &cluster.root, "site", &[]).await;
    set_acl(&cluster, "/site/?acl", "x-oss-acl", "public-read").await;
    seed(&cluster, "site", &["note.txt"]).await;
    let query = "response-content-type=text%2Fhtml&response-content-disposition=inline";

    let anonymous = anonymous_get(&cluster, &format!("/site/note.txt?{query}")).await;
    assert_eq!(anonymous.status(), StatusCode::BAD_REQUEST);
    assert!(anonymous.text().await.expect("body").contains("InvalidRequest"));
    let plain = anonymous_get(&cluster, "/site/note.txt").await;
    assert_eq!(plain.status(), StatusCode::OK);
    assert_ne!(header(&plain, "content-type").as_deref(), Some("text/html"));

    let target = format!("/site/note.txt?{query}");
    let signed = Raw::new(
        "GET",
        &target,
        "/site/note.txt?response-content-disposition=inline&response-content-type=text/html",
    )
    .send(&cluster, &cluster.root)
    .await;
    assert_eq!(signed.status(), StatusCode::OK);
    assert_eq!(header(&signed, "content-type").as_deref(), Some("text/html"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_bucket_is_404_before_the_signature_is_checked() {
    let cluster = Cluster::start().await.expect("cluster");
    let mut forged = cluster.root.clone();
    forged.access_key_secret = zeroize::Zeroizing::new("not-the-secret".to_owned());
    let resp = Raw::new("GET", "/no-such-bucket/k", "/no-such-bucket/k")
        .send(&cluster, &forged)
        .await;
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    let body = resp.text().await.expect("body");
    assert!(body.contains("NoSuchBucket"));
    let host = cluster.endpoint().trim_start_matches("http://").to_owned();
    assert_eq!(
        tag(&body, "HostId"),
        Some(host),
        "error bodies name the host addressed"
    );
    create_bucket(&cluster, &cluster.root, "real", &[]).await;
    let resp = Raw::new("GET", "/real/k", "/real/k")
        .send(&cluster, &forged)
        .await;
    assert_eq!(
        resp.status(),
        StatusCode::FORBIDDEN,
        "an existing bucket still needs a valid signature"
    );
    assert!(resp.text().await.expect("body").contains("SignatureDoesNotMatch"));
}

/// A V4-signed PutObject whose `x-oss-content-sha256` declares `declared` and whose body is `body`.
async fn v4_put(cluster: &Cluster, key: &str, declared: &str, body: &'static [u8]) -> reqwest::Response {
    use cang_oss::auth::{RequestView, sign_v4_authorization};
    let now = time::OffsetDateTime::now_utc();
    let stamp = format!(
        "{:04}{:02}{:02}T{:02}{:02}{:02}Z",
        now.year(),
        u8::from(now.month()),
        now.day(),
        now.hour(),
        now.minute(),
        now.second()
    );
    let mut headers = http::HeaderMap::new();
    headers.insert("x-oss-date", stamp.parse().expect("date"));
    headers.insert("x-oss-content-sha256", declared.parse().expect("digest"));
    let path = format!("/signed/{key}");
    let method = http::Method::PUT;
    let view = RequestView {
        method: &method,
        raw_path: &path,
        raw_query: "",
        headers: &headers,
        bucket: Some("signed"),
        key: Some(key),
    };
    let creds = &cluster.root;
    let authorization = sign_v4_authorization(
        &view,
        &creds.access_key_id,
        creds.access_key_secret.as_bytes(),
        "cn-hangzhou",
        "oss",
        &[],
    )
    .expect("signable");
    let mut request = reqwest::Client::new()
        .put(format!("{}{path}", cluster.endpoint()))
        .header("authorization", authorization)
        .body(body);
    for (name, value) in &headers {
        request = request.header(name.as_str(), value.to_str().expect("ascii"));
    }
    request.send().await.expect("request")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signed_payload_hash_is_checked_against_the_body() {
    let cluster = Cluster::start().await.expect("cluster");
    create_bucket(&cluster, &cluster.root, "signed", &[]).await;
    let digest = hex::encode(sha2_digest(b"the signed body"));
    let ok = v4_put(&cluster, "good", &digest, b"the signed body").await;
    assert_eq!(ok.status(), StatusCode::OK);
    let swapped = v4_put(&cluster, "bad", &digest, b"another body!!!").await;
    assert_eq!(swapped.status(), StatusCode::BAD_REQUEST);
    assert!(swapped.text().await.expect("body").contains("InvalidDigest"));
    let unsigned = v4_put(&cluster, "free", "UNSIGNED-PAYLOAD", b"anything").await;
    assert_eq!(unsigned.status(), StatusCode::OK);
    assert_eq!(
        keys_of(&cluster, "signed").await,
        ["free", "good"],
        "the mismatched body stored nothing"
    );
}

fn sha2_digest(data: &[u8]) -> [u8; 32] {
    use sha2::Digest as _;
    sha2::Sha256::digest(data).into()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn objects_without_sse_are_still_sealed_at_rest() {
    let cluster = Cluster::start().await.expect("cluster");
    create_bucket(&cluster, &cluster.root, "plain", &[]).await;
    let marker: Vec<u8> = b"CANG-AT-REST-MARKER-"
        .iter()
        .copied()
        .cycle()
        .take(256 * 1024)
        .collect();
    let op = op(&cluster, &cluster.root, "plain");
    op.write("doc", marker.clone()).await.expect("put");
    let mut writer = op
        .writer_with("multi")
        .chunk(5 * 1024 * 1024)
        .await
        .expect("writer");
    for _ in 0..3 {
        writer.write(marker.repeat(21)).await.expect("part");
    }
    writer.close().await.expect("complete");

    assert_eq!(op.read("doc").await.expect("read").to_vec(), marker);
    let head = Raw::new("HEAD", "/plain/doc", "/plain/doc")
        .send(&cluster, &cluster.root)
        .await;
    assert_eq!(head.status(), StatusCode::OK);
    assert_eq!(
        header(&head, "x-oss-server-side-encryption"),
        None,
        "no SSE is reported"
    );
    let rule = Raw::new("GET", "/plain/?encryption", "/plain/?encryption")
        .send(&cluster, &cluster.root)
        .await;
    assert_eq!(rule.status(), StatusCode::NOT_FOUND);

    let needle = &marker[..64];
    let mut files = vec![cluster.dir.path().to_path_buf()];
    let mut scanned = 0usize;
    while let Some(path) = files.pop() {
        if path.is_dir() {
            files.extend(
                std::fs::read_dir(&path)
                    .expect("dir")
                    .map(|e| e.expect("entry").path()),
            );
            continue;
        }
        let bytes = std::fs::read(&path).expect("file");
        scanned += bytes.len();
        assert!(
            !bytes.windows(needle.len()).any(|w| w == needle),
            "plaintext found in {}",
            path.display()
        );
    }
    assert!(
        scanned > marker.len() * 60,
        "the stores were scanned ({scanned} bytes)"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_kms_audit_names_the_end_user_behind_each_key_use() {
    const KMS_USER: &str = r#"{"Version":"1","Statement":[
        {"Effect":"Allow","Action":["oss:*","kms:*"],"Resource":"*"}]}"#;
    let cluster = Cluster::start().await.expect("cluster");
    create_bucket(
        &cluster,
        &cluster.root,
        "audited",
        &[("x-oss-server-side-encryption", "KMS")],
    )
    .await;
    let user = cluster.ram_user("auditee", &[KMS_USER]).await.expect("user");
    let put = Raw::new("PUT", "/audited/secret", "/audited/secret")
        .body("classified")
        .send(&cluster, &user)
        .await;
    assert_eq!(put.status(), StatusCode::OK);
    let get = Raw::new("GET", "/audited/secret", "/audited/secret")
        .send(&cluster, &user)
        .await;
    assert_eq!(get.bytes().await.expect("body").as_ref(), b"classified");

    // Wait (bounded) until the read's record landed.
    let records = audit_once(&cluster, |records| {
        let landed = |operation: &str| {
            records
                .iter()
                .any(|r| r.operation == operation && r.end_user.as_ref().is_some_and(|u| u.user.is_some()))
        };
        landed("GenerateDataKey") && landed("Decrypt")
    })
    .await;
    let on_behalf = |operation: &str| {
        records
            .iter()
            .filter(|r| r.operation == operation && r.result == "ok")
            .filter_map(|r| r.end_user.as_ref().map(|u| (r.principal.as_str(), u)))
            .find(|(_, u)| u.user.as_deref() == Some("auditee"))
            .map(|(principal, u)| (principal.to_owned(), u.account.clone(), u.access_key_id.clone()))
    };
    for operation in ["GenerateDataKey", "Decrypt"] {
        let (principal, account, access_key_id) = on_behalf(operation)
            .unwrap_or_else(|| panic!("no {operation} record names the user: {records:#?}"));
        assert_eq!(principal, "gateway", "the service that asked");
        assert_eq!(account, cluster.account);
        assert_eq!(access_key_id, user.access_key_id);
    }
    // The OSS caller's address, and the object the key was bound to.
    let decrypt = records
        .iter()
        .rev()
        .find(|r| {
            r.operation == "Decrypt"
                && r.end_user
                    .as_ref()
                    .is_some_and(|u| u.user.as_deref() == Some("auditee"))
        })
        .expect("a Decrypt record");
    assert_eq!(decrypt.source, "127.0.0.1");
    assert_eq!(
        decrypt.encryption_context.0.get("bucket").map(String::as_str),
        Some("audited"),
        "{decrypt:?}"
    );
    // Administration is recorded with the admin's own socket address.
    let admin_records: Vec<_> = records.iter().filter(|r| r.principal == "admin").collect();
    assert!(
        !admin_records.is_empty() && admin_records.iter().all(|r| r.source == "127.0.0.1"),
        "{admin_records:#?}"
    );
    let verified = cluster.kms_admin.verify_audit_log(None).await.expect("verify");
    assert!(verified.is_intact(), "{verified:?}");
}
