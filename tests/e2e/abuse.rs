//! Hostile or broken clients: a body shorter than its Content-Length, a client that disconnects mid-upload,
//! invalid UTF-8 in a key, malformed XML, an oversized header block. Each gets the OSS error or a clean
//! abort, leaves no object behind, and the server keeps serving.

use cang_tests::Cluster;
use reqwest::StatusCode;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::http::{create_bucket, op, raw};

/// Sends raw bytes on a fresh connection and returns whatever comes back before the server closes it (or
/// after `wait`).
async fn exchange(cluster: &Cluster, bytes: &[u8], close_write: bool) -> String {
    let mut stream = tokio::net::TcpStream::connect(cluster.addr)
        .await
        .expect("connect");
    stream.write_all(bytes).await.expect("send");
    if close_write {
        stream.shutdown().await.expect("half-close");
    }
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(std::time::Duration::from_secs(5), stream.read_to_end(&mut answer)).await;
    String::from_utf8_lossy(&answer).into_owned()
}

fn signed_head(cluster: &Cluster, method: &str, path: &str, extra: &str) -> String {
    let root = &cluster.root;
    let signed = cang_tests::sign::v1_headers(
        &root.access_key_id,
        &root.access_key_secret,
        method,
        "",
        "",
        &[],
        path,
    );
    let mut head = format!("{method} {path} HTTP/1.1\r\nhost: {}\r\n", cluster.addr);
    for (k, v) in signed {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str(extra);
    head.push_str("\r\n");
    head
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broken_uploads_leave_nothing_and_the_server_keeps_serving() {
    let cluster = Cluster::start().await.expect("cluster");
    let root = cluster.root.clone();
    create_bucket(
        &cluster,
        &root,
        "abuse",
        &[("x-oss-server-side-encryption", "AES256")],
    )
    .await;

    // A body shorter than its Content-Length, then the client goes away.
    let mut request =
        signed_head(&cluster, "PUT", "/abuse/short", "content-length: 1000000\r\n").into_bytes();
    request.extend_from_slice(&vec![7u8; 300_000]);
    let _ = exchange(&cluster, &request, true).await;

    // A client that disconnects abruptly in the middle of a large upload.
    let mut request = signed_head(&cluster, "PUT", "/abuse/cut", "content-length: 8000000\r\n").into_bytes();
    request.extend_from_slice(&vec![9u8; 2_000_000]);
    {
        let mut stream = tokio::net::TcpStream::connect(cluster.addr)
            .await
            .expect("connect");
        stream.write_all(&request).await.expect("send");
        drop(stream);
    }
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    for key in ["short", "cut"] {
        let head = raw(
            &cluster,
            &root,
            "HEAD",
            &format!("/abuse/{key}"),
            "",
            &format!("/abuse/{key}"),
            &[],
            Vec::new(),
        )
        .await;
        assert_eq!(
            head.status(),
            StatusCode::NOT_FOUND,
            "{key}: no half-written object"
        );
    }

    // Invalid UTF-8 in the key: InvalidObjectName (400), no panic.
    let answer = exchange(
        &cluster,
        signed_head(&cluster, "GET", "/abuse/%FF%FE", "connection: close\r\n").as_bytes(),
        false,
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    assert!(
        answer.contains("InvalidObjectName") || answer.contains("InvalidArgument"),
        "{answer}"
    );

    // A request head larger than the server accepts: refused, connection closed.
    let huge = format!("connection: close\r\nx-oss-meta-big: {}\r\n", "a".repeat(200_000));
    let answer = exchange(
        &cluster,
        signed_head(&cluster, "GET", "/abuse/x", &huge).as_bytes(),
        false,
    )
    .await;
    assert!(
        answer.is_empty() || answer.starts_with("HTTP/1.1 431") || answer.starts_with("HTTP/1.1 400"),
        "{answer}"
    );

    // Malformed XML: MalformedXML.
    let resp = raw(
        &cluster,
        &root,
        "PUT",
        "/abuse/",
        "encryption",
        "/abuse/?encryption",
        &[],
        b"<not-xml".to_vec(),
    )
    .await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert!(resp.text().await.unwrap_or_default().contains("MalformedXML"));

    // An unimplemented sub-resource is NotImplemented, not some other operation.
    let resp = raw(
        &cluster,
        &root,
        "GET",
        "/abuse/",
        "website",
        "/abuse/?website",
        &[],
        Vec::new(),
    )
    .await;
    let status = resp.status();
    let text = resp.text().await.unwrap_or_default();
    // OSS answers NotImplemented with status 400 (oss-api.md §3.4).
    assert_eq!(status, StatusCode::BAD_REQUEST, "{text}");
    assert!(text.contains("<Code>NotImplemented</Code>"), "{text}");

    // Still serving.
    op(&cluster, &root, "abuse")
        .write("fine", b"after all that".to_vec())
        .await
        .expect("write");
    assert_eq!(
        op(&cluster, &root, "abuse")
            .read("fine")
            .await
            .expect("read")
            .to_vec(),
        b"after all that"
    );
}
