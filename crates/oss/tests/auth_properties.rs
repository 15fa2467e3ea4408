//! Property tests for request authentication: random requests signed by a second, independent
//! implementation of `docs/oss-api.md` §2 (written here from the spec, sharing no code with the library)
//! must verify, must stop verifying after a one-byte change, and arbitrary input must never panic.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test and benchmark code states its expectations this way

use std::collections::HashMap;
use std::time::{Duration, UNIX_EPOCH};

use base64::Engine as _;
use cang_oss::auth::{
    AuthConfig, AuthError, Authentication, Credential, RequestView, SignatureScheme, authenticate,
};
use hmac::{KeyInit, Mac};
use http::{HeaderMap, HeaderName, HeaderValue, Method};
use proptest::prelude::*;
use sha2::Digest;

const NOW: u64 = 1_704_164_645; // 2024-01-02T03:04:05Z
const HTTP_DATE: &str = "Tue, 02 Jan 2024 03:04:05 GMT";
const ISO_DATE: &str = "20240102T030405Z";
const SECRET: &str = "secret/Key+With=Symbols";

/// A request as a client means it, before signing.
#[derive(Debug, Clone)]
struct Intent {
    method: Method,
    bucket: String,
    key: Option<String>,
    virtual_host: bool,
    /// oss2 sends `/` inside keys as `%2F`.
    encode_slash: bool,
    /// `+` or `%20` for spaces in the query.
    plus_for_space: bool,
    /// `name` or `name=` for empty values.
    bare_empty: bool,
    params: Vec<(String, String)>,
    headers: Vec<(String, String)>,
    additional: Vec<String>,
    scheme: SignatureScheme,
    oss2_layout: bool,
}

/// A signed request, in the shape the server receives it.
#[derive(Debug, Clone)]
struct Wire {
    method: Method,
    path: String,
    query: String,
    headers: HeaderMap,
    bucket: String,
    key: Option<String>,
}

fn hmac1(key: &[u8], msg: &[u8]) -> Vec<u8> {
    let mut mac = hmac::Hmac::<sha1::Sha1>::new_from_slice(key).unwrap();
    mac.update(msg);
    mac.finalize().into_bytes().to_vec()
}

fn hmac256(key: &[u8], msg: &[u8]) -> Vec<u8> {
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(key).unwrap();
    mac.update(msg);
    mac.finalize().into_bytes().to_vec()
}

/// Percent-encodes every byte outside `A-Z a-z 0-9 - _ . ~` (and `/` when kept).
fn pct(text: &str, keep_slash: bool) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            b'/' if keep_slash => "/".to_owned(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn query_string(params: &[(String, String)], intent: &Intent) -> String {
    params
        .iter()
        .map(|(name, value)| {
            let encode = |s: &str| {
                let e = pct(s, false);
                if intent.plus_for_space {
                    e.replace("%20", "+")
                } else {
                    e
                }
            };
            if value.is_empty() && intent.bare_empty {
                encode(name)
            } else {
                format!("{}={}", encode(name), encode(value))
            }
        })
        .collect::<Vec<_>>()
        .join("&")
}

const SUB_RESOURCES: &[&str] = &[
    "acl",
    "uploads",
    "uploadId",
    "partNumber",
    "encryption",
    "response-content-disposition",
    "x-oss-process",
];

fn v1_string_to_sign(intent: &Intent, date_line: &str) -> String {
    let header = |name: &str| {
        intent
            .headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map_or("", |(_, v)| v.as_str())
    };
    let mut oss: Vec<(String, &str)> = intent
        .headers
        .iter()
        .filter(|(n, _)| n.to_ascii_lowercase().starts_with("x-oss-"))
        .map(|(n, v)| (n.to_ascii_lowercase(), v.as_str()))
        .collect();
    oss.sort();
    let mut s = format!(
        "{}\n{}\n{}\n{date_line}\n",
        intent.method,
        header("content-md5"),
        header("content-type")
    );
    for (name, value) in oss {
        s += &format!("{name}:{value}\n");
    }
    s += &match &intent.key {
        Some(key) => format!("/{}/{key}", intent.bucket),
        None => format!("/{}/", intent.bucket),
    };
    let mut subs: Vec<&(String, String)> = intent
        .params
        .iter()
        .filter(|(n, _)| SUB_RESOURCES.contains(&n.as_str()))
        .collect();
    subs.sort();
    for (i, (name, value)) in subs.into_iter().enumerate() {
        s += if i == 0 { "?" } else { "&" };
        s += name;
        if !value.is_empty() {
            s += &format!("={value}");
        }
    }
    s
}

fn v4_signature(intent: &Intent, params: &[(String, String)], headers: &[(String, String)]) -> String {
    let uri = match &intent.key {
        Some(key) => format!("/{}/{}", pct(&intent.bucket, true), pct(key, true)),
        None => format!("/{}/", pct(&intent.bucket, true)),
    };
    let mut query: Vec<(String, String)> = params
        .iter()
        .map(|(n, v)| (pct(n, false), pct(v, false)))
        .collect();
    query.sort();
    let query: Vec<String> = query
        .into_iter()
        .map(|(n, v)| if v.is_empty() { n } else { format!("{n}={v}") })
        .collect();
    let mut signed: Vec<(String, &str)> = headers
        .iter()
        .map(|(n, v)| (n.to_ascii_lowercase(), v.as_str()))
        .filter(|(n, _)| {
            n.starts_with("x-oss-")
                || n == "content-type"
                || n == "content-md5"
                || intent.additional.contains(n)
        })
        .collect();
    signed.sort();
    let canonical_headers: String = signed.iter().map(|(n, v)| format!("{n}:{v}\n")).collect();
    let mut additional = intent.additional.clone();
    additional.sort();
    let canonical = format!(
        "{}\n{uri}\n{}\n{canonical_headers}\n{}\nUNSIGNED-PAYLOAD",
        intent.method,
        query.join("&"),
        additional.join(";")
    );
    let scope = "20240102/cn-hangzhou/oss/aliyun_v4_request";
    let to_sign = format!(
        "OSS4-HMAC-SHA256\n{ISO_DATE}\n{scope}\n{}",
        hex::encode(sha2::Sha256::digest(canonical.as_bytes()))
    );
    let mut key = hmac256(format!("aliyun_v4{SECRET}").as_bytes(), b"20240102");
    for part in ["cn-hangzhou", "oss", "aliyun_v4_request"] {
        key = hmac256(&key, part.as_bytes());
    }
    hex::encode(hmac256(&key, to_sign.as_bytes()))
}

/// Signs `intent` per its scheme; returns the wire request and where the signature sits.
fn sign(intent: &Intent) -> Wire {
    let mut headers = intent.headers.clone();
    let mut params = intent.params.clone();
    let b64 = |bytes: Vec<u8>| base64::engine::general_purpose::STANDARD.encode(bytes);
    match intent.scheme {
        SignatureScheme::V1Header => {
            headers.push(("Date".into(), HTTP_DATE.into()));
            let sig = b64(hmac1(
                SECRET.as_bytes(),
                v1_string_to_sign(intent, HTTP_DATE).as_bytes(),
            ));
            headers.push(("Authorization".into(), format!("OSS ak:{sig}")));
        }
        SignatureScheme::V1Presigned => {
            let expires = (NOW + 60).to_string();
            let sig = b64(hmac1(
                SECRET.as_bytes(),
                v1_string_to_sign(intent, &expires).as_bytes(),
            ));
            params.extend([
                ("OSSAccessKeyId".into(), "ak".into()),
                ("Expires".into(), expires),
                ("Signature".into(), sig),
            ]);
        }
        SignatureScheme::V4Header => {
            headers.push(("x-oss-date".into(), ISO_DATE.into()));
            headers.push(("x-oss-content-sha256".into(), "UNSIGNED-PAYLOAD".into()));
            let sig = v4_signature(intent, &params, &headers);
            let credential = "Credential=ak/20240102/cn-hangzhou/oss/aliyun_v4_request";
            let additional = intent.additional.join(";");
            let value = match (intent.oss2_layout, additional.is_empty()) {
                (true, _) => {
                    format!("OSS4-HMAC-SHA256 {credential}, Signature={sig}, AdditionalHeaders={additional}")
                }
                (false, true) => format!("OSS4-HMAC-SHA256 {credential},Signature={sig}"),
                (false, false) => {
                    format!("OSS4-HMAC-SHA256 {credential},AdditionalHeaders={additional},Signature={sig}")
                }
            };
            headers.push(("Authorization".into(), value));
        }
        _ => {
            params.extend([
                ("x-oss-signature-version".into(), "OSS4-HMAC-SHA256".into()),
                (
                    "x-oss-credential".into(),
                    "ak/20240102/cn-hangzhou/oss/aliyun_v4_request".into(),
                ),
                ("x-oss-date".into(), ISO_DATE.into()),
                ("x-oss-expires".into(), "600".into()),
            ]);
            if !intent.additional.is_empty() {
                params.push(("x-oss-additional-headers".into(), intent.additional.join(";")));
            }
            let sig = v4_signature(intent, &params, &headers);
            params.push(("x-oss-signature".into(), sig));
        }
    }
    let encoded_key = intent
        .key
        .as_deref()
        .map(|k| pct(k, !intent.encode_slash))
        .unwrap_or_default();
    let path = if intent.virtual_host {
        format!("/{encoded_key}")
    } else {
        format!("/{}/{encoded_key}", intent.bucket)
    };
    let mut map = HeaderMap::new();
    for (name, value) in headers {
        map.append(
            HeaderName::from_bytes(name.as_bytes()).unwrap(),
            HeaderValue::from_str(&value).unwrap(),
        );
    }
    Wire {
        method: intent.method.clone(),
        path,
        query: query_string(&params, intent),
        headers: map,
        bucket: intent.bucket.clone(),
        key: intent.key.clone(),
    }
}

fn check(wire: &Wire) -> Result<Authentication, AuthError> {
    let store = HashMap::from([("ak".to_owned(), Credential::new(SECRET))]);
    let view = RequestView {
        method: &wire.method,
        raw_path: &wire.path,
        raw_query: &wire.query,
        headers: &wire.headers,
        bucket: Some(&wire.bucket),
        key: wire.key.as_deref(),
    };
    authenticate(
        &view,
        &store,
        UNIX_EPOCH + Duration::from_secs(NOW),
        &AuthConfig::default(),
    )
}

fn text() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        "[a-zA-Z0-9]{1,3}",
        Just(" ".to_owned()),
        Just("+".to_owned()),
        Just("/".to_owned()),
        Just("%".to_owned()),
        Just("&=?#".to_owned()),
        Just("é".to_owned()),
        Just("中文".to_owned()),
        Just("🙂".to_owned()),
        Just("~*'()".to_owned()),
    ];
    proptest::collection::vec(piece, 1..8).prop_map(|p| p.concat())
}

fn header_value() -> impl Strategy<Value = String> {
    "[!-~]([ -~]{0,12}[!-~])?"
}

fn intent() -> impl Strategy<Value = Intent> {
    let method = prop_oneof![
        Just(Method::GET),
        Just(Method::PUT),
        Just(Method::POST),
        Just(Method::DELETE),
        Just(Method::HEAD)
    ];
    let key =
        proptest::option::of(text().prop_filter("keys do not start with a slash", |k| !k.starts_with('/')));
    let sub = prop_oneof![
        Just(("acl".to_owned(), String::new())),
        Just(("uploads".to_owned(), String::new())),
        Just(("encryption".to_owned(), String::new())),
        "[0-9A-F]{4,16}".prop_map(|id| ("uploadId".to_owned(), id)),
        (1u32..=10_000).prop_map(|n| ("partNumber".to_owned(), n.to_string())),
        text().prop_map(|v| ("response-content-disposition".to_owned(), v)),
        text().prop_map(|v| ("x-oss-process".to_owned(), v)),
        text().prop_map(|v| ("prefix".to_owned(), v)),
        (1u32..1000).prop_map(|n| ("max-keys".to_owned(), n.to_string())),
        Just(("list-type".to_owned(), "2".to_owned())),
        Just(("marker".to_owned(), String::new())),
    ];
    let params = proptest::collection::vec(sub, 0..4).prop_map(|mut p| {
        p.sort_by(|a, b| a.0.cmp(&b.0));
        p.dedup_by(|a, b| a.0 == b.0);
        p
    });
    let oss_header = (
        "x-oss-meta-[a-z0-9]{1,6}|X-Oss-Meta-[a-z]{1,4}|x-oss-server-side-encryption",
        header_value(),
    );
    let headers = (
        proptest::collection::vec(oss_header, 0..4),
        proptest::option::of(header_value()),
        proptest::option::of("[A-Za-z0-9+/]{22}=="),
        proptest::option::of(Just("bytes=0-9".to_owned())),
    )
        .prop_map(|(oss, content_type, md5, range)| {
            let mut headers: Vec<(String, String)> = Vec::new();
            for (name, value) in oss {
                if !headers.iter().any(|(n, _)| n.eq_ignore_ascii_case(&name)) {
                    headers.push((name, value));
                }
            }
            headers.extend(content_type.map(|v| ("Content-Type".to_owned(), v)));
            headers.extend(md5.map(|v| ("Content-MD5".to_owned(), v)));
            headers.extend(range.map(|v| ("Range".to_owned(), v)));
            headers.push(("Host".to_owned(), "127.0.0.1:9000".to_owned()));
            headers
        });
    let scheme = prop_oneof![
        Just(SignatureScheme::V1Header),
        Just(SignatureScheme::V1Presigned),
        Just(SignatureScheme::V4Header),
        Just(SignatureScheme::V4Presigned),
    ];
    (
        method,
        "[a-z0-9][a-z0-9-]{1,10}[a-z0-9]",
        key,
        any::<[bool; 5]>(),
        params,
        headers,
        scheme,
        any::<[bool; 2]>(),
    )
        .prop_map(|(method, bucket, key, flags, params, headers, scheme, extra)| {
            let mut additional = Vec::new();
            if extra[0] {
                additional.push("host".to_owned());
            }
            if extra[1] && headers.iter().any(|(n, _)| n == "Range") {
                additional.push("range".to_owned());
            }
            Intent {
                method,
                bucket,
                key,
                virtual_host: flags[0],
                encode_slash: flags[1],
                plus_for_space: flags[2],
                bare_empty: flags[3],
                params,
                headers,
                additional,
                scheme,
                oss2_layout: flags[4],
            }
        })
}

/// Replaces the character at `index` (mod length) with a different one from `alphabet`.
fn change_one(text: &str, index: usize, alphabet: &str) -> String {
    let mut chars: Vec<char> = text.chars().collect();
    let i = index % chars.len();
    chars[i] = alphabet.chars().find(|c| *c != chars[i]).unwrap_or('a');
    chars.into_iter().collect()
}

fn is_mismatch(result: &Result<Authentication, AuthError>) -> bool {
    matches!(result, Err(e) if e.code() == "SignatureDoesNotMatch")
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn independently_signed_requests_verify(intent in intent()) {
        let wire = sign(&intent);
        let result = check(&wire);
        prop_assert!(matches!(&result, Ok(Authentication::Signed(k)) if k.scheme == intent.scheme && k.access_key_id == "ak"),
            "{result:?}\n{wire:?}");
    }

    #[test]
    fn a_one_byte_change_to_the_signature_is_rejected(intent in intent(), index in any::<usize>()) {
        let mut wire = sign(&intent);
        match intent.scheme {
            SignatureScheme::V1Header | SignatureScheme::V4Header => {
                let value = wire.headers.remove("authorization").unwrap();
                let value = value.to_str().unwrap();
                let marker = if intent.scheme == SignatureScheme::V1Header { "OSS ak:" } else { "Signature=" };
                let (head, sig) = value.split_at(value.find(marker).unwrap() + marker.len());
                let sig_len = sig.find(',').unwrap_or(sig.len());
                let new_sig = change_one(&sig[..sig_len], index, "0123456789abcdefABCDEF");
                let changed = format!("{head}{new_sig}{}", &sig[sig_len..]);
                wire.headers.insert("authorization", HeaderValue::from_str(&changed).unwrap());
            }
            _ => {
                let name = if intent.scheme == SignatureScheme::V1Presigned { "Signature=" } else { "x-oss-signature=" };
                let start = wire.query.find(name).unwrap() + name.len();
                let end = wire.query[start..].find('&').map_or(wire.query.len(), |e| start + e);
                // Change a character outside any %XX escape so the decoded value changes by exactly one byte.
                let sig = &wire.query[start..end];
                let plain: Vec<usize> = (0..sig.len()).filter(|&i| {
                    let before = |k: usize| i >= k && sig.as_bytes()[i - k] == b'%';
                    sig.as_bytes()[i] != b'%' && !before(1) && !before(2)
                }).collect();
                let at = plain[index % plain.len()];
                let new_sig = change_one(sig, at, "0123456789abcdefABCDEF");
                wire.query = format!("{}{new_sig}{}", &wire.query[..start], &wire.query[end..]);
            }
        }
        let result = check(&wire);
        prop_assert!(is_mismatch(&result), "{result:?}");
    }

    #[test]
    fn a_one_byte_change_to_a_signed_header_is_rejected(intent in intent(), index in any::<usize>()) {
        let mut intent = intent;
        intent.headers.push(("x-oss-meta-signed".to_owned(), "value-to-change".to_owned()));
        let mut wire = sign(&intent);
        let value = wire.headers.get("x-oss-meta-signed").unwrap().to_str().unwrap().to_owned();
        let changed = change_one(&value, index, "xyz");
        wire.headers.insert("x-oss-meta-signed", HeaderValue::from_str(&changed).unwrap());
        prop_assert!(is_mismatch(&check(&wire)));
    }

    #[test]
    fn a_one_byte_change_to_the_path_is_rejected(intent in intent(), index in any::<usize>()) {
        let mut wire = sign(&intent);
        // Routing derives bucket and key from the path; a changed path means a changed key (or bucket).
        match &wire.key {
            Some(key) => wire.key = Some(change_one(key, index, "qz")),
            None => wire.bucket = change_one(&wire.bucket, index, "qz"),
        }
        prop_assert!(is_mismatch(&check(&wire)));
    }

    #[test]
    fn arbitrary_input_never_panics(
        path in any::<String>(),
        query_prefix in prop_oneof![
            Just(""),
            Just("OSSAccessKeyId=ak&Expires="),
            Just("x-oss-signature-version=OSS4-HMAC-SHA256&x-oss-credential=ak%2F"),
        ],
        query_rest in any::<String>(),
        auth_prefix in prop_oneof![Just(""), Just("OSS "), Just("OSS4-HMAC-SHA256 "), Just("OSS2 ")],
        auth_rest in proptest::collection::vec(prop_oneof![Just(9u8), 0x20u8..0x7f, 0x80u8..=0xff], 0..80),
        header_bytes in proptest::collection::vec(proptest::collection::vec(prop_oneof![Just(9u8), 0x20u8..0x7f, 0x80u8..=0xff], 0..40), 0..5),
        key in proptest::option::of(any::<String>()),
        with_auth in any::<bool>(),
    ) {
        let mut headers = HeaderMap::new();
        let names = ["date", "x-oss-date", "x-oss-meta-a", "content-type", "x-oss-security-token"];
        for (name, bytes) in names.iter().zip(&header_bytes) {
            headers.insert(*name, HeaderValue::from_bytes(bytes).unwrap());
        }
        if with_auth {
            let mut value = auth_prefix.as_bytes().to_vec();
            value.extend_from_slice(&auth_rest);
            headers.insert("authorization", HeaderValue::from_bytes(&value).unwrap());
        }
        let query = format!("{query_prefix}{query_rest}");
        let wire = Wire { method: Method::GET, path, query, headers, bucket: "bkt".to_owned(), key };
        if let Err(err) = check(&wire) {
            prop_assert!(matches!(err.http_status(), 400 | 403));
            prop_assert!(!err.message().is_empty());
        }
    }
}
