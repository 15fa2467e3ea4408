//! Known-answer vectors for ACS3-HMAC-SHA256 (computed by the vendor's Python SDK signer,
//! `alibabacloud-tea-openapi` 0.4.6, for the fixed requests below), coverage rules, and fuzzing of the
//! header parser.

use http::{HeaderMap, HeaderName, HeaderValue};
use proptest::prelude::*;

use super::*;

const SECRET: &[u8] = b"ExampleSecret123";
const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

fn headers(pairs: &[(&str, &str)]) -> Result<HeaderMap, Box<dyn std::error::Error>> {
    let mut map = HeaderMap::new();
    for (k, v) in pairs {
        map.append(HeaderName::from_bytes(k.as_bytes())?, HeaderValue::from_str(v)?);
    }
    Ok(map)
}

/// A Python-style request: every header signed, parameters in the query.
fn python_request() -> Result<(HeaderMap, Pairs, String), Box<dyn std::error::Error>> {
    let map = headers(&[
        ("host", "127.0.0.1:9310"),
        ("x-acs-version", "2016-01-20"),
        ("x-acs-action", "GenerateDataKey"),
        ("user-agent", "AlibabaCloud (Linux) Python/3.11"),
        ("x-acs-date", "2024-05-01T08:00:00Z"),
        ("x-acs-signature-nonce", "8f2c1e5b9d0a4c3e"),
        ("accept", "application/json"),
        ("x-acs-content-sha256", EMPTY_SHA256),
    ])?;
    let query =
        Pairs::parse("KeyId=alias%2Fdemo%20key&EncryptionContext=%7B%22k%22%3A%22v%22%7D&NumberOfBytes=32")?;
    let auth = "ACS3-HMAC-SHA256 Credential=LTAIEXAMPLEKEY,SignedHeaders=accept;host;user-agent;\
                x-acs-action;x-acs-content-sha256;x-acs-date;x-acs-signature-nonce;x-acs-version,\
                Signature=d16546a10d61e3bfb4f7e94564dcc5b23dba0f86c06819180ab77a487c4bde7b";
    Ok((map, query, auth.to_owned()))
}

#[test]
fn vendor_vector_with_every_header_signed() -> Result<(), Box<dyn std::error::Error>> {
    let (map, query, auth) = python_request()?;
    let auth = parse_authorization(&auth)?;
    assert_eq!(auth.access_key_id, "LTAIEXAMPLEKEY");
    let req = SignedRequest {
        method: "POST",
        path: "/",
        query: &query,
        headers: &map,
    };
    verify(&req, &auth, b"", SECRET)?;
    assert_eq!(
        verify(&req, &auth, b"", b"wrong secret"),
        Err(OpenApiError::SignatureDoesNotMatch)
    );
    let get = SignedRequest { method: "GET", ..req };
    assert_eq!(
        verify(&get, &auth, b"", SECRET),
        Err(OpenApiError::SignatureDoesNotMatch)
    );
    Ok(())
}

#[test]
fn vendor_vector_with_a_form_body() -> Result<(), Box<dyn std::error::Error>> {
    let body = b"Plaintext=hello%20world";
    let map = headers(&[
        ("host", "kms.example"),
        ("x-acs-version", "2016-01-20"),
        ("x-acs-action", "Encrypt"),
        ("x-acs-date", "2024-05-01T08:00:00Z"),
        ("x-acs-signature-nonce", "n2"),
        ("content-type", "application/x-www-form-urlencoded"),
        (
            "x-acs-content-sha256",
            "73141a18ce18a44cb8f3c97878311ff145a404958e263e9d2d79d85d926edbe6",
        ),
        // Not signed, and need not be: not an x-acs- header, host or content-type.
        ("content-length", "23"),
    ])?;
    let query = Pairs::default();
    let auth = parse_authorization(
        "ACS3-HMAC-SHA256 Credential=LTAIEXAMPLEKEY,SignedHeaders=content-type;host;x-acs-action;\
         x-acs-content-sha256;x-acs-date;x-acs-signature-nonce;x-acs-version,\
         Signature=8960fc5d3ad8279b0148dff4d1b0667ef56aaa37a42ac3aaf7809eccaef9f887",
    )?;
    let req = SignedRequest {
        method: "POST",
        path: "/",
        query: &query,
        headers: &map,
    };
    verify(&req, &auth, body, SECRET)?;
    // The same headers with another body: the payload hash gives it away before the signature does.
    assert_eq!(
        verify(&req, &auth, b"Plaintext=goodbye", SECRET),
        Err(OpenApiError::ContentSha256Mismatch)
    );
    Ok(())
}

#[test]
fn an_altered_parameter_or_header_fails() -> Result<(), Box<dyn std::error::Error>> {
    let (map, _, auth) = python_request()?;
    let auth = parse_authorization(&auth)?;
    let other_query =
        Pairs::parse("KeyId=alias%2Fother&EncryptionContext=%7B%22k%22%3A%22v%22%7D&NumberOfBytes=32")?;
    let req = SignedRequest {
        method: "POST",
        path: "/",
        query: &other_query,
        headers: &map,
    };
    assert_eq!(
        verify(&req, &auth, b"", SECRET),
        Err(OpenApiError::SignatureDoesNotMatch)
    );

    let (mut map, query, _) = python_request()?;
    map.insert("x-acs-action", HeaderValue::from_static("Decrypt"));
    let req = SignedRequest {
        method: "POST",
        path: "/",
        query: &query,
        headers: &map,
    };
    assert_eq!(
        verify(&req, &auth, b"", SECRET),
        Err(OpenApiError::SignatureDoesNotMatch)
    );
    Ok(())
}

#[test]
fn unsigned_x_acs_headers_and_missing_required_ones_are_refused() -> Result<(), Box<dyn std::error::Error>> {
    let (mut map, query, auth) = python_request()?;
    let auth = parse_authorization(&auth)?;
    map.insert("x-acs-extra", HeaderValue::from_static("1"));
    let req = SignedRequest {
        method: "POST",
        path: "/",
        query: &query,
        headers: &map,
    };
    assert!(matches!(
        verify(&req, &auth, b"", SECRET),
        Err(OpenApiError::IncompleteSignature(_))
    ));

    let (mut map, query, auth) = python_request()?;
    let auth = parse_authorization(&auth)?;
    map.remove("x-acs-signature-nonce");
    let req = SignedRequest {
        method: "POST",
        path: "/",
        query: &query,
        headers: &map,
    };
    assert!(matches!(
        verify(&req, &auth, b"", SECRET),
        Err(OpenApiError::IncompleteSignature(_))
    ));
    Ok(())
}

#[test]
fn authorization_headers_are_parsed_strictly() {
    let ok = "ACS3-HMAC-SHA256 Credential=AK,SignedHeaders=host;x-acs-date,Signature=".to_owned()
        + &"ab".repeat(32);
    assert!(parse_authorization(&ok).is_ok());
    for bad in [
        "",
        "ACS3-HMAC-SHA256",
        "ACS3-HMAC-SHA1 Credential=AK,SignedHeaders=host,Signature=00",
        "ACS3-HMAC-SHA256 Credential=AK,SignedHeaders=host",
        "ACS3-HMAC-SHA256 Credential=AK,SignedHeaders=Host,Signature=00",
        "ACS3-HMAC-SHA256 Credential=AK,SignedHeaders=host;host,Signature=00",
        "ACS3-HMAC-SHA256 Credential=AK,Credential=AK,SignedHeaders=host,Signature=00",
        "ACS3-HMAC-SHA256 Credential=AK,SignedHeaders=host,Signature=zz",
        "ACS3-HMAC-SHA256 Credential=,SignedHeaders=host,Signature=00",
    ] {
        assert!(
            matches!(
                parse_authorization(bad),
                Err(OpenApiError::IncompleteSignature(_))
            ),
            "{bad:?}"
        );
    }
}

proptest! {
    #[test]
    fn the_authorization_parser_never_panics(raw in ".{0,300}") {
        let _ = parse_authorization(&raw);
        let _ = parse_authorization(&format!("ACS3-HMAC-SHA256 {raw}"));
    }

    #[test]
    fn any_flipped_signature_bit_fails(byte in 0usize..32, bit in 0u8..8) {
        let (map, query, auth) = python_request().map_err(|e| TestCaseError::fail(e.to_string()))?;
        let mut auth = parse_authorization(&auth).map_err(|e| TestCaseError::fail(e.to_string()))?;
        auth.signature[byte] ^= 1 << bit;
        let req = SignedRequest { method: "POST", path: "/", query: &query, headers: &map };
        prop_assert_eq!(verify(&req, &auth, b"", SECRET), Err(OpenApiError::SignatureDoesNotMatch));
    }
}
