//! Method + addressed resource + sub-resources → [`Endpoint`]. Sub-resources are the query names OSS signs
//! (§2.2.3); one that selects an operation this server does not implement is `NotImplemented`, never a
//! silent fallback to a different operation.

use http::{HeaderMap, Method};

use super::Query;
use super::endpoint::*;
use super::names::CopySource;
use crate::error::OssError;
use crate::headers::meta::ResponseOverrides;

/// What the host and path address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Target {
    Service,
    Bucket(String),
    Object(String, String),
}

/// Sub-resources that select one of the implemented operations.
const SELECTORS: &[&str] = &[
    "acl",
    "append",
    "bucketInfo",
    "delete",
    "encryption",
    "location",
    "objectMeta",
    "partNumber",
    "position",
    "stat",
    "uploadId",
    "uploads",
];

/// Signed query names that qualify a request without selecting an operation; accepted and ignored here.
const MODIFIERS: &[&str] = &[
    "security-token",
    "continuation-token",
    "x-oss-traffic-limit",
    "x-oss-request-payer",
    "response-content-type",
    "response-content-language",
    "response-expires",
    "response-cache-control",
    "response-content-disposition",
    "response-content-encoding",
];

/// The copy-source header names.
const COPY_SOURCE: &str = "x-oss-copy-source";
const COPY_SOURCE_RANGE: &str = "x-oss-copy-source-range";

/// Resolves the operation.
pub(crate) fn dispatch(
    method: &Method,
    target: Target,
    query: &Query,
    headers: &HeaderMap,
) -> Result<Endpoint, OssError> {
    let mut selectors: Vec<&str> = Vec::new();
    for name in query.names() {
        if SELECTORS.contains(&name) {
            if !selectors.contains(&name) {
                selectors.push(name);
            }
        } else if !MODIFIERS.contains(&name) && crate::auth::is_sub_resource(name.as_bytes()) {
            // Any other signed sub-resource OSS knows (§2.2.3) names a feature this server lacks.
            return Err(
                OssError::not_implemented(format!("The sub-resource {name} is not implemented."))
                    .extra("SubResource", name.to_owned()),
            );
        }
    }
    selectors.sort_unstable();
    match target {
        Target::Service => service(method, &selectors, query),
        Target::Bucket(bucket) => bucket_level(method, bucket, &selectors, query),
        Target::Object(bucket, key) => object_level(method, bucket, key, &selectors, query, headers),
    }
}

fn method_not_allowed(method: &Method) -> OssError {
    OssError::method_not_allowed(method.as_str())
}

fn bad_combination(selectors: &[&str]) -> OssError {
    OssError::invalid_request(format!(
        "The sub-resources [{}] do not name an operation on this resource.",
        selectors.join(", ")
    ))
}

fn count(query: &Query, name: &str, min: u64, max: u64) -> Result<Option<u32>, OssError> {
    // `max` never exceeds u32::MAX at any call site, so the conversion cannot fail.
    Ok(query.bounded(name, min, max)?.and_then(|n| u32::try_from(n).ok()))
}

/// Like [`count`], but values above `cap` are lowered to it instead of rejected.
fn capped(query: &Query, name: &str, cap: u32) -> Result<Option<u32>, OssError> {
    Ok(count(query, name, 1, u64::from(u32::MAX))?.map(|n| n.min(cap)))
}

fn service(method: &Method, selectors: &[&str], query: &Query) -> Result<Endpoint, OssError> {
    if !selectors.is_empty() {
        return Err(bad_combination(selectors));
    }
    if method != Method::GET {
        return Err(method_not_allowed(method));
    }
    Ok(Endpoint::ListBuckets(ListBucketsParams {
        prefix: query.owned("prefix"),
        marker: query.owned("marker"),
        max_keys: count(query, "max-keys", 1, 1000)?,
    }))
}

fn bucket_level(
    method: &Method,
    bucket: String,
    selectors: &[&str],
    query: &Query,
) -> Result<Endpoint, OssError> {
    let m = method.clone();
    let endpoint = match (selectors, m) {
        ([], Method::GET) => return list_objects(bucket, query),
        ([], Method::PUT) => Endpoint::PutBucket { bucket },
        ([], Method::DELETE) => Endpoint::DeleteBucket { bucket },
        ([], Method::HEAD) => Endpoint::HeadBucket { bucket },
        (["acl"], Method::GET) => Endpoint::GetBucketAcl { bucket },
        (["acl"], Method::PUT) => Endpoint::PutBucketAcl { bucket },
        (["bucketInfo"], Method::GET) => Endpoint::GetBucketInfo { bucket },
        (["location"], Method::GET) => Endpoint::GetBucketLocation { bucket },
        (["stat"], Method::GET) => Endpoint::GetBucketStat { bucket },
        (["encryption"], Method::GET) => Endpoint::GetBucketEncryption { bucket },
        (["encryption"], Method::PUT) => Endpoint::PutBucketEncryption { bucket },
        (["encryption"], Method::DELETE) => Endpoint::DeleteBucketEncryption { bucket },
        (["uploads"], Method::GET) => Endpoint::ListMultipartUploads {
            bucket,
            params: ListUploadsParams {
                prefix: query.owned("prefix"),
                delimiter: query.owned("delimiter"),
                key_marker: query.owned("key-marker"),
                upload_id_marker: query.owned("upload-id-marker"),
                max_uploads: capped(query, "max-uploads", 1000)?,
                encoding_url: query.encoding_url()?,
            },
        },
        (["delete"], Method::POST) => Endpoint::DeleteMultipleObjects {
            bucket,
            encoding_url: query.encoding_url()?,
        },
        (
            []
            | ["acl"]
            | ["bucketInfo"]
            | ["location"]
            | ["stat"]
            | ["encryption"]
            | ["uploads"]
            | ["delete"],
            _,
        ) => {
            return Err(method_not_allowed(method));
        }
        _ => return Err(bad_combination(selectors)),
    };
    Ok(endpoint)
}

fn list_objects(bucket: String, query: &Query) -> Result<Endpoint, OssError> {
    let max_keys = count(query, "max-keys", 1, 1000)?;
    let encoding_url = query.encoding_url()?;
    match query.non_empty("list-type") {
        None => Ok(Endpoint::ListObjects {
            bucket,
            params: ListObjectsParams {
                prefix: query.owned("prefix"),
                delimiter: query.owned("delimiter"),
                marker: query.owned("marker"),
                max_keys,
                encoding_url,
            },
        }),
        Some("2") => Ok(Endpoint::ListObjectsV2 {
            bucket,
            params: ListObjectsV2Params {
                prefix: query.owned("prefix"),
                delimiter: query.owned("delimiter"),
                continuation_token: query.owned("continuation-token"),
                start_after: query.owned("start-after"),
                max_keys,
                fetch_owner: query.get("fetch-owner") == Some("true"),
                encoding_url,
            },
        }),
        Some(_) => {
            Err(OssError::invalid_argument("The list-type must be 2.").extra("ArgumentName", "list-type"))
        }
    }
}

fn upload_id(query: &Query) -> Result<String, OssError> {
    query
        .owned("uploadId")
        .ok_or_else(|| OssError::invalid_argument("The uploadId must not be empty."))
}

fn part_number(query: &Query) -> Result<u32, OssError> {
    count(query, "partNumber", 1, 10_000)?.ok_or_else(|| {
        OssError::invalid_argument("Part number must be an integer between 1 and 10000, inclusive.")
    })
}

fn copy_source(headers: &HeaderMap) -> Result<Option<CopySource>, OssError> {
    let Some(value) = headers.get(COPY_SOURCE) else {
        return Ok(None);
    };
    let value = value.to_str().map_err(|_| OssError::invalid_copy_source())?;
    CopySource::parse(value).map(Some)
}

fn object_level(
    method: &Method,
    bucket: String,
    key: String,
    selectors: &[&str],
    query: &Query,
    headers: &HeaderMap,
) -> Result<Endpoint, OssError> {
    let m = method.clone();
    let endpoint = match (selectors, m) {
        ([], Method::GET) => Endpoint::GetObject {
            bucket,
            key,
            overrides: ResponseOverrides::from_query(query)?,
        },
        ([], Method::HEAD) => Endpoint::HeadObject { bucket, key },
        ([], Method::PUT) => match copy_source(headers)? {
            Some(source) => Endpoint::CopyObject { bucket, key, source },
            None => Endpoint::PutObject { bucket, key },
        },
        ([], Method::DELETE) => Endpoint::DeleteObject { bucket, key },
        (["acl"], Method::GET) => Endpoint::GetObjectAcl { bucket, key },
        (["acl"], Method::PUT) => Endpoint::PutObjectAcl { bucket, key },
        (["objectMeta"], Method::HEAD | Method::GET) => Endpoint::GetObjectMeta { bucket, key },
        (["append", "position"] | ["append"], Method::POST) => {
            let position = query.bounded("position", 0, u64::MAX)?.ok_or_else(|| {
                OssError::invalid_argument("The position of an append must be a non-negative integer.")
            })?;
            Endpoint::AppendObject {
                bucket,
                key,
                position,
            }
        }
        (["uploads"], Method::POST) => Endpoint::InitiateMultipartUpload {
            bucket,
            key,
            encoding_url: query.encoding_url()?,
        },
        (["uploadId"], Method::POST) => Endpoint::CompleteMultipartUpload {
            bucket,
            key,
            upload_id: upload_id(query)?,
            encoding_url: query.encoding_url()?,
        },
        (["uploadId"], Method::DELETE) => Endpoint::AbortMultipartUpload {
            bucket,
            key,
            upload_id: upload_id(query)?,
        },
        (["uploadId"], Method::GET) => Endpoint::ListParts {
            bucket,
            key,
            upload_id: upload_id(query)?,
            params: ListPartsParams {
                max_parts: capped(query, "max-parts", 1000)?,
                part_number_marker: count(query, "part-number-marker", 0, 10_000)?,
                encoding_url: query.encoding_url()?,
            },
        },
        (["partNumber", "uploadId"], Method::PUT) => {
            let upload_id = upload_id(query)?;
            let part_number = part_number(query)?;
            match copy_source(headers)? {
                Some(source) => Endpoint::UploadPartCopy {
                    bucket,
                    key,
                    upload_id,
                    part_number,
                    source,
                    source_range: headers
                        .get(COPY_SOURCE_RANGE)
                        .and_then(|v| v.to_str().ok())
                        .map(str::to_owned),
                },
                None => Endpoint::UploadPart {
                    bucket,
                    key,
                    upload_id,
                    part_number,
                },
            }
        }
        (["partNumber"], Method::PUT) => {
            return Err(OssError::invalid_argument("The uploadId must not be empty."));
        }
        (["partNumber"], Method::GET | Method::HEAD) => {
            return Err(OssError::not_implemented(
                "Reading a single part of an object is not implemented.",
            ));
        }
        (
            []
            | ["acl"]
            | ["objectMeta"]
            | ["append", "position"]
            | ["append"]
            | ["uploads"]
            | ["uploadId"]
            | ["partNumber", "uploadId"],
            _,
        ) => return Err(method_not_allowed(method)),
        _ => return Err(bad_combination(selectors)),
    };
    Ok(endpoint)
}
