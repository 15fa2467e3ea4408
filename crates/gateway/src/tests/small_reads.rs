//! GetObject of objects at and around the size that comes back inline with the object's record (one call to
//! the metadata service, decrypted at once) reads the same bytes as the streamed path, whole and in ranges,
//! in every encryption mode; a small object with a flipped stored bit is an `InternalError`, never plaintext.

use http::{Method, StatusCode};

use crate::testing::Harness;

const SSE: &str = "x-oss-server-side-encryption";

fn body(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(29).wrapping_add(seed))
        .collect()
}

#[tokio::test]
async fn small_and_streamed_reads_agree_in_every_mode() {
    let h = Harness::start().await;
    h.bucket("small-reads", &[]).await;
    // Around the 32 KiB sealed on the request's task, 64 KiB segments, the 129 KiB inline limit of stored
    // bytes (a segment's tag is 16 bytes) and the 256 KiB batches of the CPU pool (a small last batch).
    let sizes = [
        0usize, 1, 4096, 32_768, 32_769, 65_536, 65_537, 130_000, 131_072, 131_073, 132_048, 132_049,
        200_000, 262_145, 294_913,
    ];
    let modes: [&[(&str, &str)]; 4] = [&[], &[(SSE, "AES256")], &[(SSE, "SM4")], &[(SSE, "KMS")]];
    for (m, mode) in modes.iter().enumerate() {
        for (i, &len) in sizes.iter().enumerate() {
            let path = format!("/small-reads/m{m}-{len}");
            let data = body(len, (m * 16 + i) as u8);
            let put = h.root(Method::PUT, &path, mode, data.clone()).await;
            assert_eq!(put.status, StatusCode::OK, "{path}: {:?}", put.code());
            // Hashed on the request's task (up to 32 KiB) or on the CPU pool, the ETag is the body's MD5.
            let md5 = {
                use md5::Digest;
                hex::encode_upper(md5::Md5::digest(&data))
            };
            assert_eq!(put.header("etag"), Some(format!("\"{md5}\"").as_str()), "{path}");
            let get = h.root(Method::GET, &path, &[], "").await;
            assert_eq!(get.status, StatusCode::OK, "{path}");
            assert_eq!(get.body.as_ref(), data.as_slice(), "{path}: whole");
            if len == 0 {
                continue;
            }
            for (start, end) in [(0, 0), (len / 3, len / 2), (len - 1, len - 1), (len / 2, len - 1)] {
                let range = format!("bytes={start}-{end}");
                let got = h.root(Method::GET, &path, &[("range", &range)], "").await;
                assert_eq!(got.status, StatusCode::PARTIAL_CONTENT, "{path} {range}");
                assert_eq!(got.body.as_ref(), &data[start..=end], "{path} {range}");
            }
        }
    }
}

/// Rewrites a stored object with one ciphertext bit flipped, as someone with the disk could.
async fn flip_a_stored_bit(h: &Harness, bucket: &str, key: &str) {
    use cang_meta_api::{Preconditions, PutObjectHeader, PutTrailer, write_body};
    use futures::StreamExt;
    let (info, mut stream) = h
        .meta_admin
        .read_object(bucket, key, None, Preconditions::default())
        .await
        .expect("stored object");
    let mut stored = Vec::new();
    while let Some(chunk) = stream.next().await {
        stored.extend_from_slice(&chunk.expect("stored bytes"));
    }
    let at = stored.len() / 2;
    stored[at] ^= 0x10;
    let header = PutObjectHeader {
        bucket: bucket.into(),
        key: key.into(),
        meta: info.meta.clone(),
        format: info.extents[0].format.clone(),
        forbid_overwrite: false,
        replaces: None,
    };
    let trailer = PutTrailer {
        plaintext_len: info.size,
        etag: info.etag.clone(),
        crc64: info.crc64,
    };
    h.meta_admin
        .put_object(header, write_body(vec![stored.into()], trailer))
        .await
        .expect("rewritten");
}

#[tokio::test]
async fn a_tampered_small_object_is_an_error_not_plaintext() {
    let h = Harness::start().await;
    h.bucket("small-tamper", &[]).await;
    for (i, mode) in [&[][..], &[(SSE, "AES256")], &[(SSE, "SM4")]]
        .into_iter()
        .enumerate()
    {
        let path = format!("/small-tamper/t{i}");
        let data = body(5000, i as u8);
        assert_eq!(
            h.root(Method::PUT, &path, mode, data.clone()).await.status,
            StatusCode::OK
        );
        flip_a_stored_bit(&h, "small-tamper", &format!("t{i}")).await;
        let get = h.root(Method::GET, &path, &[], "").await;
        assert_eq!(get.status, StatusCode::INTERNAL_SERVER_ERROR, "{path}");
        assert_eq!(get.code().as_deref(), Some("InternalError"), "{path}");
        let leaked = data
            .chunks(64)
            .any(|piece| get.body.windows(64).any(|w| w == piece));
        assert!(!leaked, "{path}: plaintext in the error");
        // The gateway keeps serving.
        let other = format!("{path}-fine");
        assert_eq!(
            h.root(Method::PUT, &other, mode, data.clone()).await.status,
            StatusCode::OK
        );
        assert_eq!(
            h.root(Method::GET, &other, &[], "").await.body.as_ref(),
            data.as_slice()
        );
    }
}

#[tokio::test]
async fn a_small_object_opened_by_its_own_acl_reads_from_the_lookup() {
    use crate::testing::Caller;
    let h = Harness::start().await;
    h.bucket("small-acl", &[]).await;
    let data = body(3000, 7);
    for key in ["open", "closed"] {
        let put = h
            .root(
                Method::PUT,
                &format!("/small-acl/{key}"),
                &[(SSE, "AES256")],
                data.clone(),
            )
            .await;
        assert_eq!(put.status, StatusCode::OK);
    }
    let acl = h
        .root(
            Method::PUT,
            "/small-acl/open?acl",
            &[("x-oss-object-acl", "public-read")],
            "",
        )
        .await;
    assert_eq!(acl.status, StatusCode::OK, "{:?}", acl.code());
    // Anonymous reads are decided by the object's ACL, which authorisation looks up with the bytes.
    let open = h
        .send(&Caller::Anonymous, Method::GET, "/small-acl/open", &[], "")
        .await;
    assert_eq!(
        (open.status, open.body.as_ref()),
        (StatusCode::OK, data.as_slice())
    );
    let part = h
        .send(
            &Caller::Anonymous,
            Method::GET,
            "/small-acl/open",
            &[("range", "bytes=10-19")],
            "",
        )
        .await;
    assert_eq!(
        (part.status, part.body.as_ref()),
        (StatusCode::PARTIAL_CONTENT, &data[10..20])
    );
    let head = h
        .send(&Caller::Anonymous, Method::HEAD, "/small-acl/open", &[], "")
        .await;
    assert_eq!((head.status, head.body.len()), (StatusCode::OK, 0));
    let closed = h
        .send(&Caller::Anonymous, Method::GET, "/small-acl/closed", &[], "")
        .await;
    assert_eq!(closed.status, StatusCode::FORBIDDEN);
    assert!(
        !closed.body.windows(32).any(|w| w == &data[..32]),
        "no byte of a refused object"
    );
}

#[tokio::test]
async fn an_object_looked_up_with_its_bucket_is_told_apart_only_after_authorisation() {
    use crate::testing::Caller;
    let h = Harness::start().await;
    h.bucket("lookup-private", &[]).await;
    h.bucket("lookup-public", &[("x-oss-acl", "public-read")]).await;
    let denied = h
        .ram_user(
            "no-reads",
            r#"{"Version":"1","Statement":[{"Effect":"Deny","Action":"oss:GetObject","Resource":"*"}]}"#,
        )
        .await;
    let data = body(2000, 3);
    for bucket in ["lookup-private", "lookup-public"] {
        let put = h
            .root(Method::PUT, &format!("/{bucket}/here"), &[], data.clone())
            .await;
        assert_eq!(put.status, StatusCode::OK);
    }
    // (caller, method, path, status, code): absence is told only to whoever may read the object.
    let rows = [
        (
            Caller::Root,
            Method::GET,
            "/lookup-private/absent",
            StatusCode::NOT_FOUND,
            Some("NoSuchKey"),
        ),
        (
            Caller::Root,
            Method::HEAD,
            "/lookup-private/absent",
            StatusCode::NOT_FOUND,
            None,
        ),
        (
            Caller::Root,
            Method::HEAD,
            "/lookup-private/here",
            StatusCode::OK,
            None,
        ),
        (
            Caller::Anonymous,
            Method::GET,
            "/lookup-private/absent",
            StatusCode::FORBIDDEN,
            Some("AccessDenied"),
        ),
        (
            Caller::Anonymous,
            Method::HEAD,
            "/lookup-private/absent",
            StatusCode::FORBIDDEN,
            None,
        ),
        (
            Caller::Anonymous,
            Method::GET,
            "/lookup-private/here",
            StatusCode::FORBIDDEN,
            Some("AccessDenied"),
        ),
        (
            Caller::Anonymous,
            Method::GET,
            "/lookup-public/absent",
            StatusCode::NOT_FOUND,
            Some("NoSuchKey"),
        ),
        (
            Caller::Anonymous,
            Method::GET,
            "/lookup-public/here",
            StatusCode::OK,
            None,
        ),
        (
            denied.clone(),
            Method::GET,
            "/lookup-public/here",
            StatusCode::FORBIDDEN,
            Some("AccessDenied"),
        ),
        (
            denied.clone(),
            Method::GET,
            "/lookup-public/absent",
            StatusCode::FORBIDDEN,
            Some("AccessDenied"),
        ),
        (
            Caller::Anonymous,
            Method::GET,
            "/lookup-none/absent",
            StatusCode::NOT_FOUND,
            Some("NoSuchBucket"),
        ),
        (
            Caller::Root,
            Method::HEAD,
            "/lookup-none/absent",
            StatusCode::NOT_FOUND,
            None,
        ),
    ];
    for (caller, method, path, status, code) in rows {
        let got = h.send(&caller, method.clone(), path, &[], "").await;
        assert_eq!(got.status, status, "{method} {path} as {caller:?}");
        if let Some(code) = code {
            assert_eq!(got.code().as_deref(), Some(code), "{method} {path} as {caller:?}");
        }
        if status != StatusCode::OK {
            assert!(
                !got.body.windows(32).any(|w| w == &data[..32]),
                "no byte of a refused object"
            );
        }
    }
    let read = h
        .send(&Caller::Anonymous, Method::GET, "/lookup-public/here", &[], "")
        .await;
    assert_eq!(read.body.as_ref(), data.as_slice());
}

#[tokio::test]
async fn ranges_read_from_the_window_the_lookup_guessed_or_else_stream() {
    let h = Harness::start().await;
    h.bucket("windows", &[]).await;
    let len = (1 << 20) + 17;
    let modes: [&[(&str, &str)]; 4] = [&[], &[(SSE, "AES256")], &[(SSE, "SM4")], &[(SSE, "KMS")]];
    // One extent per object (the guess holds), and an appendable object of three extents (it does not: the
    // read falls back to the stored record's plan).
    for (m, mode) in modes.iter().enumerate() {
        let data = body(len, m as u8);
        let path = format!("/windows/one-{m}");
        assert_eq!(
            h.root(Method::PUT, &path, mode, data.clone()).await.status,
            StatusCode::OK
        );
        let log = format!("/windows/log-{m}");
        let mut position = 0;
        for piece in data[..210_000].chunks(70_000) {
            let append = format!("{log}?append&position={position}");
            let put = h.root(Method::POST, &append, mode, piece.to_vec()).await;
            assert_eq!(put.status, StatusCode::OK, "{append}: {:?}", put.code());
            position += piece.len();
        }
        let segment = 65_536;
        let ranges = [
            (0, 0),
            (segment - 1, segment),
            (len / 2, len / 2 + 100_000),
            (len - 1, len - 1),
            (len - 10, len - 1),
            (69_999, 140_001),
            (3 * segment, 5 * segment - 1),
        ];
        for (start, end) in ranges {
            let range = format!("bytes={start}-{end}");
            let got = h.root(Method::GET, &path, &[("range", &range)], "").await;
            assert_eq!(got.status, StatusCode::PARTIAL_CONTENT, "{path} {range}");
            assert_eq!(got.body.as_ref(), &data[start..=end], "{path} {range}");
            if end < 210_000 {
                let got = h.root(Method::GET, &log, &[("range", &range)], "").await;
                assert_eq!(got.status, StatusCode::PARTIAL_CONTENT, "{log} {range}");
                assert_eq!(got.body.as_ref(), &data[start..=end], "{log} {range}");
            }
        }
        // Ranges the guess does not cover, or that OSS answers with the whole object.
        for (range, status, want) in [
            (
                "bytes=-5".to_owned(),
                StatusCode::PARTIAL_CONTENT,
                &data[len - 5..],
            ),
            (
                format!("bytes={}-", len - 3),
                StatusCode::PARTIAL_CONTENT,
                &data[len - 3..],
            ),
            (
                format!("bytes={}-{}", len + 10, len + 20),
                StatusCode::OK,
                &data[..],
            ),
            ("bytes=9-3".to_owned(), StatusCode::OK, &data[..]),
        ] {
            let got = h.root(Method::GET, &path, &[("range", &range)], "").await;
            assert_eq!(got.status, status, "{path} {range}");
            assert!(got.body.as_ref() == want, "{path} {range}");
        }
    }
}

#[test]
fn the_guessed_window_covers_the_segments_of_a_simple_range() {
    use super::super::pipeline::read::guess_window;
    let with = |range: &str| {
        let mut headers = http::HeaderMap::new();
        headers.insert(
            http::header::RANGE,
            http::HeaderValue::from_str(range).expect("header"),
        );
        guess_window(&headers, 65_536).map(|w| (w.start, w.end))
    };
    let seg = 65_536 + 16;
    assert_eq!(with("bytes=0-0"), Some((0, seg)));
    assert_eq!(with("bytes=65535-65536"), Some((0, 2 * seg)));
    assert_eq!(with("bytes=1000000-1000099"), Some((15 * seg, 16 * seg)));
    assert_eq!(with("bytes=0-131071"), Some((0, 2 * seg)), "any two segments");
    assert_eq!(with("bytes=0-131072"), None, "three segments are too long");
    for other in [
        "bytes=-5",
        "bytes=5-",
        "bytes=1-2,4-5",
        "bytes=9-3",
        "items=1-2",
        "bytes=0-200000",
    ] {
        assert_eq!(with(other), None, "{other}");
    }
    assert_eq!(with(&format!("bytes={}-{}", u64::MAX - 1, u64::MAX)), None);
}

proptest::proptest! {
    /// Whatever the range header says, the guess never panics; when it guesses, the window holds every stored
    /// byte the format's own plan reads for that range of a one-extent object long enough to have it.
    #[test]
    fn a_guessed_window_holds_what_the_format_plans(
        first in 0u64..(1 << 36),
        span in 0u64..200_000,
        extra in 1u64..(1 << 20),
        segment_size in proptest::sample::select(vec![16u32, 4096, 65_536, 1 << 20]),
        noise in "[ -~]{0,24}",
    ) {
        use super::super::pipeline::read::guess_window;
        let header = |text: &str| {
            let mut headers = http::HeaderMap::new();
            if let Ok(value) = http::HeaderValue::from_str(text) {
                headers.insert(http::header::RANGE, value);
            }
            headers
        };
        let _ = guess_window(&header(&noise), segment_size);
        let last = first + span;
        let Some(window) = guess_window(&header(&format!("bytes={first}-{last}")), segment_size) else {
            return Ok(());
        };
        let params = cang_sse::ObjectCipherParams {
            suite: cang_sse::Suite::Aes256Gcm,
            segment_size,
            salt: [0; cang_sse::SALT_LEN],
            nonce_prefix: [0; cang_sse::NONCE_PREFIX_LEN],
            plaintext_len: last + extra,
        };
        let Ok(plan) = params.range(first, last + 1) else {
            return Ok(()); // more segments than the format allows
        };
        proptest::prop_assert!(window.start <= plan.ciphertext_offset);
        proptest::prop_assert!(plan.ciphertext_offset + plan.ciphertext_len <= window.end);
        proptest::prop_assert!(window.end - window.start <= u64::from(super::super::pipeline::read::INLINE_READ_MAX));
    }
}

#[tokio::test]
async fn a_small_put_in_one_message_stores_nothing_when_its_body_is_wrong() {
    use base64::Engine;
    let h = Harness::start().await;
    h.bucket("small-puts", &[]).await;
    let data = body(1000, 9);
    let wrong_md5 = base64::engine::general_purpose::STANDARD.encode([0u8; 16]);
    let rows: [(&[(&str, &str)], &str); 3] = [
        (&[("content-length", "1001")], "IncompleteBody"),
        (&[("content-length", "999")], "IncompleteBody"),
        (&[("content-md5", wrong_md5.as_str())], "InvalidDigest"),
    ];
    for (headers, code) in rows {
        let put = h.root(Method::PUT, "/small-puts/k", headers, data.clone()).await;
        assert_eq!(put.code().as_deref(), Some(code), "{headers:?}");
        let get = h.root(Method::GET, "/small-puts/k", &[], "").await;
        assert_eq!(
            get.code().as_deref(),
            Some("NoSuchKey"),
            "{headers:?}: nothing stored"
        );
    }
    let put = h
        .root(Method::PUT, "/small-puts/k", &[(SSE, "KMS")], data.clone())
        .await;
    assert_eq!(put.status, StatusCode::OK);
    assert_eq!(
        h.root(Method::GET, "/small-puts/k", &[], "").await.body.as_ref(),
        data.as_slice()
    );
}
