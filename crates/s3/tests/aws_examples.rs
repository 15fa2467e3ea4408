//! AWS's published Signature Version 4 examples for S3 (access key `AKIAIOSFODNN7EXAMPLE`, 24 May 2013),
//! each verified as a server would, and refused once any signed part changes.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::{HeaderMap, HeaderValue, Method};
use proptest::prelude::*;

use cang_s3::SigError;
use cang_s3::aws_chunked::{ChunkError, Decoder};
use cang_s3::chunked::ChunkChain;
use cang_s3::sigv4::*;

const SECRET: &[u8] = b"wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
const EMPTY: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

fn at_signing() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_369_353_600)
}

fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in pairs {
        map.append(
            *name,
            HeaderValue::from_str(value).unwrap_or_else(|e| panic!("{e}")),
        );
    }
    map
}

fn authorization(signed: &str, signature: &str) -> String {
    format!(
        "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,\
         SignedHeaders={signed},Signature={signature}"
    )
}

fn verify(method: &Method, path: &str, query: &str, map: &HeaderMap) -> Result<Verified, SigError> {
    let request = SignedRequest {
        method,
        raw_path: path,
        raw_query: query,
        headers: map,
    };
    let claim = read_claim(&request)?.ok_or(SigError::Missing("a signature"))?;
    assert_eq!(claim.access_key_id, "AKIAIOSFODNN7EXAMPLE");
    claim.verify(&request, SECRET, at_signing(), Some("us-east-1"))
}

fn claim_of(request: &SignedRequest<'_>) -> Claim {
    read_claim(request)
        .unwrap_or_else(|e| panic!("{e}"))
        .unwrap_or_else(|| panic!("no claim"))
}

fn get_object_headers(range: &str) -> HeaderMap {
    headers(&[
        ("host", "examplebucket.s3.amazonaws.com"),
        ("range", range),
        ("x-amz-content-sha256", EMPTY),
        ("x-amz-date", "20130524T000000Z"),
        (
            "authorization",
            &authorization(
                "host;range;x-amz-content-sha256;x-amz-date",
                "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41",
            ),
        ),
    ])
}

#[test]
fn get_object_with_a_range() {
    assert!(verify(&Method::GET, "/test.txt", "", &get_object_headers("bytes=0-9")).is_ok());
    assert_eq!(
        verify(&Method::GET, "/test.txt", "", &get_object_headers("bytes=0-10")).err(),
        Some(SigError::Mismatch)
    );
    assert_eq!(
        verify(&Method::GET, "/test2.txt", "", &get_object_headers("bytes=0-9")).err(),
        Some(SigError::Mismatch)
    );
}

#[test]
fn put_object_with_a_signed_body_hash() {
    let map = headers(&[
        ("host", "examplebucket.s3.amazonaws.com"),
        ("date", "Fri, 24 May 2013 00:00:00 GMT"),
        ("x-amz-date", "20130524T000000Z"),
        ("x-amz-storage-class", "REDUCED_REDUNDANCY"),
        (
            "x-amz-content-sha256",
            "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072",
        ),
        (
            "authorization",
            &authorization(
                "date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class",
                "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd",
            ),
        ),
    ]);
    assert!(verify(&Method::PUT, "/test%24file.text", "", &map).is_ok());
    let request = SignedRequest {
        method: &Method::PUT,
        raw_path: "/test%24file.text",
        raw_query: "",
        headers: &map,
    };
    let claim = read_claim(&request).ok().flatten();
    assert_eq!(
        claim.map(|c| c.payload),
        Some(Payload::Sha256(
            hex::decode("44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072")
                .ok()
                .and_then(|v| v.try_into().ok())
                .unwrap_or_default()
        ))
    );
}

fn bucket_get(query: &str, signature: &str) -> Result<Verified, SigError> {
    let map = headers(&[
        ("host", "examplebucket.s3.amazonaws.com"),
        ("x-amz-date", "20130524T000000Z"),
        ("x-amz-content-sha256", EMPTY),
        (
            "authorization",
            &authorization("host;x-amz-content-sha256;x-amz-date", signature),
        ),
    ]);
    verify(&Method::GET, "/", query, &map)
}

#[test]
fn bucket_subresources_and_listing_parameters() {
    assert!(
        bucket_get(
            "lifecycle",
            "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543"
        )
        .is_ok()
    );
    assert!(
        bucket_get(
            "max-keys=2&prefix=J",
            "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7"
        )
        .is_ok()
    );
    // Query order does not matter; its content does.
    assert!(
        bucket_get(
            "prefix=J&max-keys=2",
            "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7"
        )
        .is_ok()
    );
    assert_eq!(
        bucket_get(
            "max-keys=3&prefix=J",
            "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7"
        )
        .err(),
        Some(SigError::Mismatch)
    );
}

const PRESIGNED: &str = "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404";

#[test]
fn a_presigned_url_until_it_expires() {
    let map = headers(&[("host", "examplebucket.s3.amazonaws.com")]);
    let request = SignedRequest {
        method: &Method::GET,
        raw_path: "/test.txt",
        raw_query: PRESIGNED,
        headers: &map,
    };
    let claim = claim_of(&request);
    assert_eq!(claim.expires, Some(86_400));
    let later = |secs| at_signing() + Duration::from_secs(secs);
    assert!(claim.verify(&request, SECRET, later(86_400), None).is_ok());
    assert_eq!(
        claim.verify(&request, SECRET, later(86_401), None).err(),
        Some(SigError::Expired)
    );
    assert_eq!(
        claim.verify(&request, b"other", at_signing(), None).err(),
        Some(SigError::Mismatch)
    );
    assert_eq!(
        claim
            .verify(&request, SECRET, at_signing(), Some("cn-hangzhou"))
            .err(),
        Some(SigError::WrongRegion("us-east-1".into()))
    );
}

#[test]
fn header_requests_must_be_recent() {
    let map = get_object_headers("bytes=0-9");
    let request = SignedRequest {
        method: &Method::GET,
        raw_path: "/test.txt",
        raw_query: "",
        headers: &map,
    };
    let claim = claim_of(&request);
    let skewed = at_signing() + MAX_SKEW + Duration::from_secs(1);
    assert_eq!(
        claim.verify(&request, SECRET, skewed, None).err(),
        Some(SigError::Skewed)
    );
}

#[test]
fn a_chunked_upload_chains_every_chunk_from_the_seed() {
    let map = headers(&[
        ("host", "s3.amazonaws.com"),
        ("x-amz-date", "20130524T000000Z"),
        ("x-amz-storage-class", "REDUCED_REDUNDANCY"),
        ("x-amz-content-sha256", STREAMING_PAYLOAD),
        ("content-encoding", "aws-chunked"),
        ("x-amz-decoded-content-length", "66560"),
        ("content-length", "66824"),
        (
            "authorization",
            &authorization(
                "content-encoding;content-length;host;x-amz-content-sha256;x-amz-date;\
                 x-amz-decoded-content-length;x-amz-storage-class",
                "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9",
            ),
        ),
    ]);
    let request = SignedRequest {
        method: &Method::PUT,
        raw_path: "/examplebucket/chunkObject.txt",
        raw_query: "",
        headers: &map,
    };
    let claim = claim_of(&request);
    assert_eq!(claim.payload, Payload::SignedChunks { trailer: false });
    let chunks = [
        (
            vec![b'a'; 65_536],
            "ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648",
        ),
        (
            vec![b'a'; 1_024],
            "0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497",
        ),
        (
            Vec::new(),
            "b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9",
        ),
    ];
    let fresh = || {
        let verified = claim
            .verify(&request, SECRET, at_signing(), None)
            .unwrap_or_else(|e| panic!("{e}"));
        ChunkChain::new(verified, &claim.amz_date, &claim.scope)
    };
    let mut chain = fresh();
    for (data, signature) in &chunks {
        assert_eq!(chain.chunk(data, signature), Ok(()));
    }
    // The second chunk first, an altered chunk, or a repeated one: refused.
    let mut chain = fresh();
    assert_eq!(chain.chunk(&chunks[1].0, chunks[1].1), Err(SigError::Mismatch));
    let mut chain = fresh();
    assert_eq!(chain.chunk(&[b'b'; 65_536], chunks[0].1), Err(SigError::Mismatch));
    let mut chain = fresh();
    assert_eq!(chain.chunk(&chunks[0].0, chunks[0].1), Ok(()));
    assert_eq!(chain.chunk(&chunks[0].0, chunks[0].1), Err(SigError::Mismatch));

    // The same chunks framed as the body travels: 66824 bytes, as Content-Length says, decoding to 66560.
    let mut body = Vec::new();
    for (data, signature) in &chunks {
        body.extend_from_slice(format!("{:x};chunk-signature={signature}\r\n", data.len()).as_bytes());
        body.extend_from_slice(data);
        body.extend_from_slice(b"\r\n");
    }
    assert_eq!(body.len(), 66_824);
    let decode = |body: &[u8]| {
        let mut decoder = Decoder::new(Some(fresh()), false);
        let mut out = Vec::new();
        for piece in body.chunks(1000) {
            decoder.feed(piece, &mut out)?;
        }
        decoder.finish().map(|(_, decoded)| (decoded, out))
    };
    let (decoded, out) = decode(&body).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((decoded, out.len()), (66_560, 66_560));
    let mut altered = body.clone();
    altered[100] = b'b';
    assert!(matches!(
        decode(&altered),
        Err(ChunkError::Signature(SigError::Mismatch))
    ));
}

#[test]
fn malformed_claims_are_refused_not_guessed() {
    let cases: [(&'static str, &str); 5] = [
        (
            "authorization",
            "AWS4-HMAC-SHA256 Credential=AK/20130524/us-east-1/s3",
        ),
        (
            "authorization",
            "AWS4-HMAC-SHA256 Credential=AK/20130524/us-east-1/s3/aws4_request,SignedHeaders=date,Signature=00",
        ),
        (
            "authorization",
            "AWS4-HMAC-SHA512 Credential=AK/20130524/us-east-1/s3/aws4_request",
        ),
        (
            "authorization",
            "AWS4-HMAC-SHA256 Credential=AK/2013/us-east-1/s3/aws4_request,SignedHeaders=host,Signature=00",
        ),
        (
            "authorization",
            "AWS4-HMAC-SHA256 Credential=AK/20130524/us-east-1/s3/aws4_request,Credential=AK/20130524/us-east-1/s3/aws4_request",
        ),
    ];
    for (name, value) in cases {
        let map = headers(&[
            (name, value),
            ("x-amz-date", "20130524T000000Z"),
            ("x-amz-content-sha256", EMPTY),
        ]);
        let request = SignedRequest {
            method: &Method::GET,
            raw_path: "/",
            raw_query: "",
            headers: &map,
        };
        assert!(read_claim(&request).is_err(), "{value}");
    }
    let map = headers(&[("authorization", "AWS4-HMAC-SHA256 x")]);
    let both = SignedRequest {
        method: &Method::GET,
        raw_path: "/",
        raw_query: "X-Amz-Algorithm=AWS4-HMAC-SHA256",
        headers: &map,
    };
    assert!(read_claim(&both).is_err());
}

proptest! {
    #[test]
    fn no_header_or_query_panics(auth in ".{0,200}", query in ".{0,200}", path in "/.{0,40}") {
        let map = headers(&[("x-amz-date", "20130524T000000Z"), ("x-amz-content-sha256", EMPTY)]);
        let mut map = map;
        if let Ok(value) = HeaderValue::from_str(&auth) {
            map.insert("authorization", value);
        }
        let request = SignedRequest { method: &Method::GET, raw_path: &path, raw_query: &query, headers: &map };
        if let Ok(Some(claim)) = read_claim(&request) {
            let _ = claim.verify(&request, SECRET, at_signing(), None);
        }
    }

}
