//! Building blocks shared by the V1 and V4 signers: query decoding (§1.3), RFC 3986 encoding, header
//! normalisation, the V1 sub-resource whitelist (§2.2.3) and the HMAC primitives.

use hmac::{KeyInit, Mac};
use http::HeaderMap;
use sha2::Digest;
use subtle::ConstantTimeEq;

/// One query parameter, name and value form-decoded (`+` is a space).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct QueryParam {
    pub(crate) name: Vec<u8>,
    pub(crate) value: Vec<u8>,
}

/// Splits a raw query string into decoded parameters. `uploads`, `uploads=` are both an empty value;
/// empty segments (`a&&b`, a trailing `&`) are skipped.
pub(crate) fn parse_query(raw: &str) -> Vec<QueryParam> {
    raw.split('&')
        .filter(|segment| !segment.is_empty())
        .map(|segment| {
            let (name, value) = segment.split_once('=').unwrap_or((segment, ""));
            QueryParam {
                name: form_decode(name.as_bytes()),
                value: form_decode(value.as_bytes()),
            }
        })
        .collect()
}

/// The first value of `name`, if the parameter is present.
pub(crate) fn query_value<'q>(params: &'q [QueryParam], name: &str) -> Option<&'q [u8]> {
    params
        .iter()
        .find(|p| p.name == name.as_bytes())
        .map(|p| p.value.as_slice())
}

/// Percent-decoding with `+` as space. A `%` not followed by two hex digits stays literal, as lenient
/// servers do; decoding never fails.
pub(crate) fn form_decode(input: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while i < input.len() {
        match input[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < input.len() => match (hex_digit(input[i + 1]), hex_digit(input[i + 2])) {
                (Some(hi), Some(lo)) => {
                    out.push(hi << 4 | lo);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            byte => out.push(byte),
        }
        i += 1;
    }
    out
}

fn hex_digit(byte: u8) -> Option<u8> {
    match byte {
        b'0'..=b'9' => Some(byte - b'0'),
        b'a'..=b'f' => Some(byte - b'a' + 10),
        b'A'..=b'F' => Some(byte - b'A' + 10),
        _ => None,
    }
}

/// RFC 3986 encoding: unreserved bytes (`A–Z a–z 0–9 - _ . ~`) stay, everything else becomes `%XX`
/// (uppercase). With `keep_slash`, `/` also stays (the V4 canonical URI).
pub(crate) fn rfc3986_encode(input: &[u8], keep_slash: bool, out: &mut Vec<u8>) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for &byte in input {
        if byte.is_ascii_alphanumeric()
            || matches!(byte, b'-' | b'_' | b'.' | b'~')
            || (keep_slash && byte == b'/')
        {
            out.push(byte);
        } else {
            out.extend_from_slice(&[b'%', HEX[usize::from(byte >> 4)], HEX[usize::from(byte & 0x0f)]]);
        }
    }
}

/// All values of header `name`, each trimmed of surrounding spaces and tabs, joined with `,`.
pub(crate) fn header_joined(headers: &HeaderMap, name: &str) -> Option<Vec<u8>> {
    let mut values = headers.get_all(name).iter();
    let first = values.next()?;
    let mut out = trim_ows(first.as_bytes()).to_vec();
    for value in values {
        out.push(b',');
        out.extend_from_slice(trim_ows(value.as_bytes()));
    }
    Some(out)
}

/// The single value of a header, trimmed; `None` when absent.
pub(crate) fn header_first<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h [u8]> {
    headers.get(name).map(|v| trim_ows(v.as_bytes()))
}

pub(crate) fn trim_ows(bytes: &[u8]) -> &[u8] {
    let is_ows = |b: &u8| *b == b' ' || *b == b'\t';
    let start = bytes.iter().position(|b| !is_ows(b)).unwrap_or(bytes.len());
    let end = bytes.iter().rposition(|b| !is_ows(b)).map_or(start, |i| i + 1);
    &bytes[start..end]
}

/// Names of every header starting with `x-oss-`, sorted (HeaderMap names are already lower case).
pub(crate) fn oss_header_names(headers: &HeaderMap) -> Vec<&str> {
    let mut names: Vec<&str> = headers
        .keys()
        .map(|k| k.as_str())
        .filter(|n| n.starts_with("x-oss-"))
        .collect();
    names.sort_unstable();
    names
}

/// Query parameters that take part in the V1 canonical resource: the union of every SDK's list (§2.2.3).
const SUB_RESOURCES: &[&str] = &[
    "acl",
    "uploads",
    "location",
    "cors",
    "logging",
    "website",
    "referer",
    "lifecycle",
    "delete",
    "append",
    "tagging",
    "objectMeta",
    "uploadId",
    "partNumber",
    "security-token",
    "position",
    "img",
    "style",
    "styleName",
    "replication",
    "replicationProgress",
    "replicationLocation",
    "cname",
    "bucketInfo",
    "comp",
    "qos",
    "live",
    "status",
    "vod",
    "startTime",
    "endTime",
    "symlink",
    "x-oss-process",
    "response-content-type",
    "response-content-language",
    "response-expires",
    "response-cache-control",
    "response-content-disposition",
    "response-content-encoding",
    "x-oss-traffic-limit",
    "udf",
    "udfName",
    "udfImage",
    "udfId",
    "udfImageDesc",
    "udfApplication",
    "udfApplicationLog",
    "restore",
    "callback",
    "callback-var",
    "qosInfo",
    "policy",
    "stat",
    "encryption",
    "versions",
    "versioning",
    "versionId",
    "requestPayment",
    "x-oss-request-payer",
    "sequential",
    "inventory",
    "inventoryId",
    "continuation-token",
    "asyncFetch",
    "worm",
    "wormId",
    "wormExtend",
    "withHashContext",
    "x-oss-enable-md5",
    "x-oss-enable-sha1",
    "x-oss-enable-sha256",
    "x-oss-hash-ctx",
    "x-oss-md5-ctx",
    "transferAcceleration",
    "regionList",
    "cloudboxes",
    "x-oss-ac-source-ip",
    "x-oss-ac-subnet-mask",
    "x-oss-ac-vpc-id",
    "x-oss-ac-forward-allow",
    "metaQuery",
    "resourceGroup",
    "rtc",
    "x-oss-async-process",
    "responseHeader",
    "bucketArchiveDirectRead",
    "httpsConfig",
    "redundancyTransition",
    "x-oss-target-redundancy-type",
    "x-oss-redundancy-transition-taskid",
    "accessPoint",
    "accessPointPolicy",
    "publicAccessBlock",
    "x-oss-access-point-name",
    "objectInfo",
    "group",
    "link",
    "qosRequester",
    "requesterQosInfo",
    "resourcePool",
    "resourcePoolInfo",
    "resourcePoolBuckets",
    "x-oss-write-get-object-response",
    "vpcip",
    "vip",
    "processConfiguration",
    "x-oss-dir",
    "x-oss-rename",
    "x-oss-delete",
    "policyStatus",
    "seal",
];

/// Whether a (decoded) query parameter name is a V1 sub-resource.
pub(crate) fn is_sub_resource(name: &[u8]) -> bool {
    SUB_RESOURCES.iter().any(|s| s.as_bytes() == name)
}

#[allow(clippy::expect_used)] // HMAC accepts keys of any length (longer keys are hashed): this cannot fail.
pub(crate) fn hmac_sha1(key: &[u8], message: &[u8]) -> [u8; 20] {
    let mut mac =
        <hmac::Hmac<sha1::Sha1> as KeyInit>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(message);
    mac.finalize().into_bytes().into()
}

#[allow(clippy::expect_used)] // HMAC accepts keys of any length (longer keys are hashed): this cannot fail.
pub(crate) fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    let mut mac =
        <hmac::Hmac<sha2::Sha256> as KeyInit>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(message);
    mac.finalize().into_bytes().into()
}

pub(crate) fn sha256_hex(message: &[u8]) -> String {
    hex::encode(sha2::Sha256::digest(message))
}

/// Constant-time equality of the expected and presented signature text (lengths are not secret).
pub(crate) fn signature_matches(expected: &[u8], presented: &[u8]) -> bool {
    bool::from(expected.ct_eq(presented))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_parsing_treats_bare_and_empty_values_alike_and_form_decodes() {
        let params = parse_query("uploads&encryption=&prefix=dir%2F+x&&a=%zz%4");
        assert_eq!(params.len(), 4);
        assert_eq!(
            params[0],
            QueryParam {
                name: b"uploads".to_vec(),
                value: vec![]
            }
        );
        assert_eq!(
            params[1],
            QueryParam {
                name: b"encryption".to_vec(),
                value: vec![]
            }
        );
        assert_eq!(query_value(&params, "prefix"), Some(&b"dir/ x"[..]));
        assert_eq!(query_value(&params, "a"), Some(&b"%zz%4"[..]));
        assert_eq!(query_value(&params, "missing"), None);
    }

    #[test]
    fn rfc3986_encoding_uses_uppercase_hex_and_optional_slash() {
        let mut out = Vec::new();
        rfc3986_encode("dir/a b+c~é".as_bytes(), true, &mut out);
        assert_eq!(out, b"dir/a%20b%2Bc~%C3%A9");
        out.clear();
        rfc3986_encode(b"ak/2024", false, &mut out);
        assert_eq!(out, b"ak%2F2024");
    }

    #[test]
    fn header_values_are_trimmed_and_duplicates_joined() {
        let mut headers = HeaderMap::new();
        headers.append("x-oss-meta-a", " one ".parse().unwrap());
        headers.append("x-oss-meta-a", "two\t".parse().unwrap());
        assert_eq!(header_joined(&headers, "x-oss-meta-a"), Some(b"one,two".to_vec()));
        assert_eq!(header_joined(&headers, "x-oss-meta-b"), None);
        assert_eq!(trim_ows(b"  "), b"");
    }

    #[test]
    fn whitelist_holds_sub_resources_but_not_listing_parameters() {
        for name in [
            "acl",
            "uploads",
            "uploadId",
            "partNumber",
            "encryption",
            "continuation-token",
            "seal",
        ] {
            assert!(is_sub_resource(name.as_bytes()), "{name}");
        }
        for name in [
            "prefix",
            "marker",
            "max-keys",
            "list-type",
            "encoding-type",
            "start-after",
            "Signature",
        ] {
            assert!(!is_sub_resource(name.as_bytes()), "{name}");
        }
    }

    #[test]
    fn hmac_known_answers() {
        // RFC 2202 test case 2 and RFC 4231 test case 2.
        assert_eq!(
            hex::encode(hmac_sha1(b"Jefe", b"what do ya want for nothing?")),
            "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79"
        );
        assert_eq!(
            hex::encode(hmac_sha256(b"Jefe", b"what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
