//! What a signature binds a request to, against the real services with raw signed HTTP: a V1 signature
//! over an old `x-oss-date` cannot be replayed beside a fresh `Date`; a V4 signature scoped to another
//! region or product is refused; and the multipart listings carry `StorageClass` and honour
//! `encoding-type=url`.

use base64::Engine as _;
use cang_access_keys::NewCredentials;
use cang_oss::auth::{RequestView, sign_v4_authorization};
use cang_tests::Cluster;
use hmac::{Hmac, KeyInit, Mac};
use reqwest::StatusCode;
use reqwest::header::HeaderMap;

use crate::http::{Raw, create_bucket, tag, tags};

const OLD: &str = "Sat, 01 Jan 2000 00:00:00 GMT";

fn now_formatted(format: &[time::format_description::BorrowedFormatItem<'_>]) -> String {
    time::OffsetDateTime::now_utc()
        .format(format)
        .expect("format time")
}

fn http_date_now() -> String {
    now_formatted(time::macros::format_description!(
        "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
    ))
}

fn iso_now() -> String {
    now_formatted(time::macros::format_description!(
        "[year][month][day]T[hour][minute][second]Z"
    ))
}

/// `OSS ak:signature` over `string_to_sign`, computed here from the spec.
fn v1_authorization(creds: &NewCredentials, string_to_sign: &str) -> String {
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(creds.access_key_secret.as_bytes()).expect("hmac key");
    mac.update(string_to_sign.as_bytes());
    let signature = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    format!("OSS {}:{signature}", creds.access_key_id)
}

async fn get(cluster: &Cluster, target: &str, headers: &[(&str, String)]) -> (StatusCode, String) {
    let mut req = reqwest::Client::new().get(format!("{}{target}", cluster.endpoint()));
    for (name, value) in headers {
        req = req.header(*name, value);
    }
    let resp = req.send().await.expect("request");
    let status = resp.status();
    (status, resp.text().await.expect("body"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v1_signature_over_an_old_x_oss_date_cannot_be_replayed_with_a_fresh_date() {
    let cluster = Cluster::start().await.expect("cluster");
    let root = cluster.root.clone();
    create_bucket(&cluster, &root, "sig-v1", &[]).await;

    // oss2 and py-v2 sign x-oss-date as the date line when it is present; Date is then unsigned.
    let replay = v1_authorization(&root, &format!("GET\n\n\n{OLD}\nx-oss-date:{OLD}\n/sig-v1/?acl"));
    let (status, body) = get(
        &cluster,
        "/sig-v1/?acl",
        &[
            ("date", http_date_now()),
            ("x-oss-date", OLD.to_owned()),
            ("authorization", replay),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(tag(&body, "Code").as_deref(), Some("RequestTimeTooSkewed"));

    // The same request signed now verifies, with x-oss-date as the date line and without it.
    let fresh = http_date_now();
    let honest = v1_authorization(
        &root,
        &format!("GET\n\n\n{fresh}\nx-oss-date:{fresh}\n/sig-v1/?acl"),
    );
    let (status, body) = get(
        &cluster,
        "/sig-v1/?acl",
        &[
            ("date", fresh.clone()),
            ("x-oss-date", fresh.clone()),
            ("authorization", honest),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let plain = v1_authorization(&root, &format!("GET\n\n\n{fresh}\n/sig-v1/?acl"));
    let (status, body) = get(
        &cluster,
        "/sig-v1/?acl",
        &[("date", fresh), ("authorization", plain)],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

/// A V4 header-signed `GET /<bucket>/?acl`, scoped to `region` and `product`.
fn v4_headers(
    cluster: &Cluster,
    creds: &NewCredentials,
    bucket: &str,
    region: &str,
    product: &str,
) -> Vec<(&'static str, String)> {
    let mut headers = HeaderMap::new();
    headers.insert("x-oss-date", iso_now().parse().expect("header"));
    headers.insert(
        "x-oss-content-sha256",
        "UNSIGNED-PAYLOAD".parse().expect("header"),
    );
    headers.insert("host", cluster.addr.to_string().parse().expect("header"));
    let path = format!("/{bucket}/");
    let view = RequestView {
        method: &reqwest::Method::GET,
        raw_path: &path,
        raw_query: "acl",
        headers: &headers,
        bucket: Some(bucket),
        key: None,
    };
    let authorization = sign_v4_authorization(
        &view,
        &creds.access_key_id,
        creds.access_key_secret.as_bytes(),
        region,
        product,
        &["host"],
    )
    .expect("signable");
    vec![
        (
            "x-oss-date",
            headers["x-oss-date"].to_str().expect("ascii").to_owned(),
        ),
        ("x-oss-content-sha256", "UNSIGNED-PAYLOAD".to_owned()),
        ("authorization", authorization),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v4_signatures_for_another_region_or_product_are_refused() {
    let cluster = Cluster::start().await.expect("cluster");
    let root = cluster.root.clone();
    create_bucket(&cluster, &root, "sig-v4", &[]).await;

    let (status, body) = get(
        &cluster,
        "/sig-v4/?acl",
        &v4_headers(&cluster, &root, "sig-v4", "cn-hangzhou", "oss"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    for (region, product, message) in [
        (
            "us-west-1",
            "oss",
            "Invalid signing region in Authorization header.",
        ),
        (
            "cn-hangzhou",
            "ecs",
            "Invalid signing product in Authorization header.",
        ),
    ] {
        let headers = v4_headers(&cluster, &root, "sig-v4", region, product);
        let (status, body) = get(&cluster, "/sig-v4/?acl", &headers).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{region}/{product}: {body}");
        assert_eq!(tag(&body, "Code").as_deref(), Some("InvalidArgument"), "{body}");
        assert_eq!(tag(&body, "Message").as_deref(), Some(message), "{body}");
    }

    // Presigned URLs carry the scope in x-oss-credential; it is checked before the signature.
    let date = iso_now();
    for (scope, message) in [
        (
            "us-west-1%2Foss",
            "Invalid signing region in Authorization header.",
        ),
        (
            "cn-hangzhou%2Fecs",
            "Invalid signing product in Authorization header.",
        ),
    ] {
        let target = format!(
            "/sig-v4/?acl&x-oss-signature-version=OSS4-HMAC-SHA256&x-oss-date={date}&x-oss-expires=900\
             &x-oss-credential={}%2F{}%2F{scope}%2Faliyun_v4_request&x-oss-signature={}",
            root.access_key_id,
            &date[..8],
            "0".repeat(64)
        );
        let (status, body) = get(&cluster, &target, &[]).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{scope}: {body}");
        assert_eq!(tag(&body, "Message").as_deref(), Some(message), "{body}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn multipart_listings_carry_storage_class_and_honour_url_encoding() {
    let cluster = Cluster::start().await.expect("cluster");
    let root = cluster.root.clone();
    create_bucket(&cluster, &root, "sig-mp", &[]).await;

    let resp = Raw::new(
        "POST",
        "/sig-mp/dir/a%20b%2Bc.txt?uploads",
        "/sig-mp/dir/a b+c.txt?uploads",
    )
    .send(&cluster, &root)
    .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let upload_id = tag(&resp.text().await.expect("body"), "UploadId").expect("upload id");
    let target = format!("/sig-mp/dir/a%20b%2Bc.txt?partNumber=1&uploadId={upload_id}");
    let resource = format!("/sig-mp/dir/a b+c.txt?partNumber=1&uploadId={upload_id}");
    let resp = Raw::new("PUT", &target, &resource)
        .body(b"part one".to_vec())
        .send(&cluster, &root)
        .await;
    assert_eq!(resp.status(), StatusCode::OK);

    let resp = Raw::new(
        "GET",
        "/sig-mp/?uploads&encoding-type=url&prefix=dir%2F&delimiter=%2F",
        "/sig-mp/?uploads",
    )
    .send(&cluster, &root)
    .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let xml = resp.text().await.expect("body");
    assert_eq!(tag(&xml, "EncodingType").as_deref(), Some("url"), "{xml}");
    assert_eq!(tags(&xml, "Key"), vec!["dir%2Fa%20b%2Bc.txt".to_owned()], "{xml}");
    assert_eq!(tag(&xml, "Delimiter").as_deref(), Some("%2F"), "{xml}");
    assert_eq!(tags(&xml, "Prefix"), vec!["dir%2F".to_owned()], "{xml}");
    assert_eq!(tags(&xml, "StorageClass"), vec!["Standard".to_owned()], "{xml}");
    assert_eq!(tag(&xml, "UploadId"), Some(upload_id.clone()), "{xml}");

    let list_target = format!("/sig-mp/dir/a%20b%2Bc.txt?uploadId={upload_id}&encoding-type=url");
    let list_resource = format!("/sig-mp/dir/a b+c.txt?uploadId={upload_id}");
    let resp = Raw::new("GET", &list_target, &list_resource)
        .send(&cluster, &root)
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let xml = resp.text().await.expect("body");
    assert_eq!(tag(&xml, "EncodingType").as_deref(), Some("url"), "{xml}");
    assert_eq!(tag(&xml, "Key").as_deref(), Some("dir%2Fa%20b%2Bc.txt"), "{xml}");
    assert_eq!(tags(&xml, "StorageClass"), vec!["Standard".to_owned()], "{xml}");
    assert_eq!(tags(&xml, "PartNumber"), vec!["1".to_owned()], "{xml}");

    // Without encoding-type the key is written as it is, and there is no EncodingType.
    let plain_target = format!("/sig-mp/dir/a%20b%2Bc.txt?uploadId={upload_id}");
    let resp = Raw::new("GET", &plain_target, &list_resource)
        .send(&cluster, &root)
        .await;
    let xml = resp.text().await.expect("body");
    assert_eq!(tag(&xml, "Key").as_deref(), Some("dir/a b+c.txt"), "{xml}");
    assert_eq!(tag(&xml, "EncodingType"), None, "{xml}");
}
