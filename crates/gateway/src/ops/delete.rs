//! DeleteMultipleObjects (§6.10): up to 1000 keys in one request, every requested key reported as deleted
//! (whether or not it existed), nothing reported in quiet mode. The keys are validated before anything is
//! deleted, so a request with a bad key changes nothing.

use crate::body::RequestBody;
use cang_oss::OssError;
use cang_oss::route::names::validate_object_key;
use cang_oss::xml::request::DeleteRequest;
use cang_oss::xml::response::delete_result_xml;
use http::HeaderMap;
use md5::{Digest, Md5};

use super::{Reply, header_text, read_small_body, xml};
use crate::authorize::AclNeed;
use crate::errors::Failure;
use crate::state::{Call, Gateway};

/// Checks `Content-MD5` when present. The spec asks for it on this operation; being lenient when it is
/// absent is what OSS clients expect (§6.8).
fn check_content_md5(headers: &HeaderMap, body: &[u8]) -> Result<(), OssError> {
    use base64::Engine;
    let Some(declared) = header_text(headers, "content-md5") else {
        return Ok(());
    };
    let declared = base64::engine::general_purpose::STANDARD
        .decode(declared)
        .map_err(|_| OssError::invalid_digest())?;
    if declared.as_slice() == Md5::digest(body).as_slice() {
        Ok(())
    } else {
        Err(OssError::invalid_digest())
    }
}

/// The keys of a multi-delete, exactly as the body's XML text gives them. `encoding-type=url` applies to the
/// response only: the SDKs send the keys of the request unencoded, so decoding them here would delete other
/// objects than the ones named (`a%2Fb` is a key of its own, not `a/b`).
fn requested_keys(request: DeleteRequest) -> Result<Vec<String>, OssError> {
    request
        .objects
        .into_iter()
        .map(|o| {
            validate_object_key(&o.key)?;
            Ok(o.key)
        })
        .collect()
}

/// DeleteMultipleObjects.
pub async fn delete_objects(
    gw: &Gateway,
    call: &Call,
    bucket: &str,
    encoding_url: bool,
    headers: &HeaderMap,
    body: RequestBody,
) -> Reply {
    let document = read_small_body(body, gw.config.max_xml_body).await?;
    check_content_md5(headers, &document)?;
    let request = DeleteRequest::parse(&document)?;
    let quiet = request.quiet;
    let keys = requested_keys(request)?;
    // Each key is authorised as its own DeleteObject before anything is deleted: a key the caller may not
    // delete refuses the whole request and nothing changes (OSS's per-key answer is not documented;
    // refusing everything is the side that loses nothing).
    gw.authorize_keys(call, "oss:DeleteObject", AclNeed::Write, &keys)
        .await?;
    let outcome = gw.meta.delete_objects(bucket, keys).await?;
    let mut deleted = Vec::with_capacity(outcome.len());
    for (key, result) in outcome {
        if let Err(e) = result {
            return Err(Failure::meta_at(e, bucket, &key));
        }
        if !quiet {
            deleted.push(key);
        }
    }
    Ok(xml(delete_result_xml(&deleted, encoding_url)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use cang_oss::xml::request::DeleteEntry;

    fn request(keys: &[&str]) -> DeleteRequest {
        DeleteRequest {
            quiet: false,
            objects: keys
                .iter()
                .map(|k| DeleteEntry {
                    key: (*k).to_owned(),
                    version_id: None,
                })
                .collect(),
        }
    }

    #[test]
    fn request_keys_are_taken_literally_whatever_the_encoding_type() {
        let names = ["p/a%2Fb", "p/c%25d", "p/e%20f", "p/g+h", "p/i&j", "p/k l"];
        assert_eq!(requested_keys(request(&names)).unwrap(), names.map(str::to_owned));
    }

    #[test]
    fn an_invalid_key_refuses_the_whole_request() {
        let long = "k".repeat(1024);
        assert!(requested_keys(request(&["ok", &long])).is_err());
        assert!(requested_keys(request(&["ok", ""])).is_err());
    }

    #[test]
    fn content_md5_is_checked_when_present() {
        let mut h = HeaderMap::new();
        assert!(check_content_md5(&h, b"body").is_ok());
        h.insert("content-md5", "XrY7u+Ae7tCTyyK7j1rNww==".parse().unwrap()); // MD5("hello world")
        assert!(check_content_md5(&h, b"hello world").is_ok());
        assert!(check_content_md5(&h, b"hello").is_err());
        h.insert("content-md5", "!!".parse().unwrap());
        assert!(check_content_md5(&h, b"hello world").is_err());
    }
}
