//! The operations: one function per OSS endpoint, each turning a [`Call`] into a response. Operations never
//! import each other: what several share is here (request headers to stored records, response headers) or
//! below them in [`crate::pipeline`] (sealing and opening object bytes).

mod acl;
mod append;
mod bucket;
mod copy;
mod delete;
mod list;
mod multipart;
mod object;

use std::time::{Duration, SystemTime};

use bytes::Bytes;
use cang_meta_api::{Acl, ObjectInfo, ObjectMeta, ObjectSse, ObjectType};
use cang_oss::checksum::crc64_header_value;
use cang_oss::headers::meta::UserMetadata;
use cang_oss::model::CannedAcl;
use cang_oss::{Endpoint, OssError};
use http::request::Parts;
use http::{HeaderMap, HeaderValue, Response, StatusCode};
use http_body_util::BodyExt;

use crate::body::{BodyError, RequestBody, ResponseBody};
use crate::encryption::echo_of;
use crate::errors::Failure;
use crate::state::{Call, Gateway};

/// What every operation returns: its response, or a failure the request pipeline renders.
pub(crate) type Reply = Result<Response<ResponseBody>, Failure>;

/// Runs the operation of an authorised call.
pub(crate) async fn dispatch(gw: &Gateway, call: &Call, parts: Parts, body: RequestBody) -> Reply {
    let op = call.route.endpoint.clone();
    match op {
        Endpoint::ListBuckets(params) => bucket::list_buckets(gw, call, params).await,
        Endpoint::PutBucket { bucket } => bucket::put_bucket(gw, call, &bucket, &parts.headers, body).await,
        Endpoint::DeleteBucket { bucket } => bucket::delete_bucket(gw, &bucket).await,
        Endpoint::HeadBucket { .. } => Ok(empty(StatusCode::OK)),
        Endpoint::GetBucketInfo { .. } => bucket::get_bucket_info(gw, call).await,
        Endpoint::GetBucketLocation { .. } => bucket::get_bucket_location(gw, call),
        Endpoint::GetBucketAcl { .. } => bucket::get_bucket_acl(call),
        Endpoint::PutBucketAcl { bucket } => bucket::put_bucket_acl(gw, &bucket, &parts.headers, body).await,
        Endpoint::GetBucketStat { bucket } => bucket::get_bucket_stat(gw, &bucket).await,
        Endpoint::PutBucketEncryption { bucket } => {
            bucket::put_bucket_encryption(gw, call, &bucket, body).await
        }
        Endpoint::GetBucketEncryption { bucket } => bucket::get_bucket_encryption(call, &bucket),
        Endpoint::DeleteBucketEncryption { bucket } => bucket::delete_bucket_encryption(gw, &bucket).await,
        Endpoint::PutObject { bucket, key } => {
            object::put_object(gw, call, &bucket, &key, &parts.headers, body).await
        }
        Endpoint::GetObject {
            bucket,
            key,
            overrides,
        } => object::get_object(gw, call, &bucket, &key, &parts.headers, Some(overrides), true).await,
        Endpoint::HeadObject { bucket, key } => {
            object::get_object(gw, call, &bucket, &key, &parts.headers, None, false).await
        }
        Endpoint::GetObjectMeta { bucket, key } => object::get_object_meta(gw, &bucket, &key).await,
        Endpoint::DeleteObject { bucket, key } => object::delete_object(gw, &bucket, &key).await,
        Endpoint::ListObjects { bucket, params } => list::list_objects(gw, call, &bucket, params).await,
        Endpoint::ListObjectsV2 { bucket, params } => list::list_objects_v2(gw, call, &bucket, params).await,
        Endpoint::DeleteMultipleObjects { bucket, encoding_url } => {
            delete::delete_objects(gw, call, &bucket, encoding_url, &parts.headers, body).await
        }
        Endpoint::CopyObject { bucket, key, source } => {
            copy::copy_object(gw, call, &bucket, &key, &source, &parts.headers).await
        }
        Endpoint::AppendObject {
            bucket,
            key,
            position,
        } => append::append_object(gw, call, &bucket, &key, position, &parts.headers, body).await,
        Endpoint::GetObjectAcl { bucket, key } => acl::get_object_acl(gw, call, &bucket, &key).await,
        Endpoint::PutObjectAcl { bucket, key } => {
            acl::put_object_acl(gw, &bucket, &key, &parts.headers).await
        }
        Endpoint::InitiateMultipartUpload {
            bucket,
            key,
            encoding_url,
        } => multipart::initiate(gw, call, &bucket, &key, encoding_url, &parts.headers).await,
        Endpoint::UploadPart {
            bucket,
            key,
            upload_id,
            part_number,
        } => {
            let target = multipart::PartTarget {
                bucket: &bucket,
                key: &key,
                upload_id: &upload_id,
                part_number,
            };
            multipart::upload_part(gw, call, target, &parts.headers, body).await
        }
        Endpoint::UploadPartCopy {
            bucket,
            key,
            upload_id,
            part_number,
            source,
            source_range,
        } => {
            let target = multipart::PartTarget {
                bucket: &bucket,
                key: &key,
                upload_id: &upload_id,
                part_number,
            };
            let range = source_range.as_deref();
            multipart::upload_part_copy(gw, call, target, &source, range, &parts.headers).await
        }
        Endpoint::CompleteMultipartUpload {
            bucket,
            key,
            upload_id,
            encoding_url,
        } => {
            let target = (bucket.as_str(), key.as_str(), upload_id.as_str());
            multipart::complete(gw, call, target, encoding_url, &parts.headers, body).await
        }
        Endpoint::AbortMultipartUpload {
            bucket,
            key,
            upload_id,
        } => multipart::abort(gw, &bucket, &key, &upload_id).await,
        Endpoint::ListMultipartUploads { bucket, params } => {
            multipart::list_uploads(gw, &bucket, params).await
        }
        Endpoint::ListParts {
            bucket,
            key,
            upload_id,
            params,
        } => multipart::list_parts(gw, &bucket, &key, &upload_id, params).await,
    }
}

/// Stored request headers that come back on reads.
const KEPT_HEADERS: [&str; 4] = [
    "cache-control",
    "content-disposition",
    "content-encoding",
    "expires",
];

/// Metadata from the request headers of a write.
pub(crate) fn object_meta(headers: &HeaderMap, sse: Option<ObjectSse>) -> Result<ObjectMeta, OssError> {
    let user = UserMetadata::from_headers(headers)?;
    let acl = match header_text(headers, "x-oss-object-acl") {
        None => Acl::Default,
        Some(value) => object_acl(value)?,
    };
    Ok(ObjectMeta {
        content_type: header_text(headers, "content-type")
            .unwrap_or("application/octet-stream")
            .to_owned(),
        user_meta: user
            .iter()
            .map(|(k, v)| (k.to_owned(), String::from_utf8_lossy(v).into_owned()))
            .collect(),
        headers: KEPT_HEADERS
            .iter()
            .filter_map(|name| header_text(headers, name).map(|v| ((*name).to_owned(), v.to_owned())))
            .collect(),
        acl,
        sse,
    })
}

/// The canned ACL of a stored one, as GetBucketAcl, GetBucketInfo and GetObjectAcl report it.
pub(crate) fn canned_acl(acl: Acl) -> CannedAcl {
    match acl {
        Acl::Default => CannedAcl::Default,
        Acl::Private => CannedAcl::Private,
        Acl::PublicRead => CannedAcl::PublicRead,
        Acl::PublicReadWrite => CannedAcl::PublicReadWrite,
    }
}

/// The stored ACL of a canned one.
pub(crate) fn stored_acl(canned: CannedAcl) -> Acl {
    match canned {
        CannedAcl::Default => Acl::Default,
        CannedAcl::Private => Acl::Private,
        CannedAcl::PublicRead => Acl::PublicRead,
        CannedAcl::PublicReadWrite => Acl::PublicReadWrite,
    }
}

/// An object ACL as `x-oss-object-acl` names it (`default` included).
pub(crate) fn object_acl(value: &str) -> Result<Acl, OssError> {
    CannedAcl::parse(value)
        .map(stored_acl)
        .map_err(|_| OssError::invalid_argument("no such object access control exists"))
}

/// A bucket ACL as `x-oss-acl` or an `AccessControlPolicy` names it (never `default`).
pub(crate) fn bucket_acl(canned: CannedAcl) -> Result<Acl, OssError> {
    match canned {
        CannedAcl::Default => Err(OssError::invalid_argument("no such bucket access control exists")),
        other => Ok(stored_acl(other)),
    }
}

pub(crate) fn insert(headers: &mut HeaderMap, name: &'static str, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        headers.insert(name, v);
    }
}

/// A stored time (milliseconds since the epoch).
pub(crate) fn at(ms: u64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_millis(ms)
}

pub(crate) fn base64_md5(md5: &[u8; 16]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(md5)
}

/// Response headers that describe a stored object.
pub(crate) fn object_headers(info: &ObjectInfo, h: &mut HeaderMap) {
    insert(h, "etag", &format!("\"{}\"", info.etag));
    insert(
        h,
        "last-modified",
        &cang_oss::date::http_date(info.last_modified()),
    );
    insert(h, "content-type", &info.meta.content_type);
    for (name, value) in &info.meta.headers {
        if let (Ok(name), Ok(v)) = (
            http::HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            h.insert(name, v);
        }
    }
    UserMetadata::from_entries(
        info.meta
            .user_meta
            .iter()
            .map(|(k, v)| (k.clone(), v.as_bytes().to_vec())),
    )
    .write_headers(h);
    insert(
        h,
        "x-oss-object-type",
        match info.object_type {
            ObjectType::Normal => "Normal",
            ObjectType::Multipart => "Multipart",
            ObjectType::Appendable => "Appendable",
        },
    );
    if info.object_type == ObjectType::Appendable {
        insert(h, "x-oss-next-append-position", &info.size.to_string());
    }
    insert(h, "x-oss-storage-class", "Standard");
    if let Some(crc) = info.crc64 {
        insert(h, "x-oss-hash-crc64ecma", &crc64_header_value(crc));
    }
    if let Some(echo) = info.meta.sse.as_ref().and_then(echo_of) {
        echo.write_headers(h);
    }
    h.insert("accept-ranges", HeaderValue::from_static("bytes"));
}

/// `x-oss-forbid-overwrite: true`.
pub(crate) fn forbids_overwrite(headers: &HeaderMap) -> bool {
    header_text(headers, "x-oss-forbid-overwrite").is_some_and(|v| v.eq_ignore_ascii_case("true"))
}

/// An empty response with `status`.
pub(crate) fn empty(status: StatusCode) -> Response<ResponseBody> {
    let mut response = Response::new(ResponseBody::empty());
    *response.status_mut() = status;
    response
}

/// A 200 response carrying an XML document.
pub(crate) fn xml(document: String) -> Response<ResponseBody> {
    let mut response = Response::new(ResponseBody::full(document));
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/xml"),
    );
    response
}

/// Reads a small request body (XML documents), refusing more than `limit` bytes.
pub(crate) async fn read_small_body(body: RequestBody, limit: usize) -> Result<Bytes, OssError> {
    let limited = http_body_util::Limited::new(body, limit);
    match limited.collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if e.downcast_ref::<http_body_util::LengthLimitError>().is_some() => Err(
            OssError::malformed_xml(format!("the request body exceeds {limit} bytes")),
        ),
        Err(e) => Err(match e.downcast_ref::<BodyError>() {
            Some(BodyError::PayloadDigestMismatch) => payload_digest_mismatch(),
            Some(BodyError::IdleTimeout(_)) => OssError::request_timeout(),
            _ => OssError::incomplete_body(),
        }),
    }
}

/// The refusal of a body that is not the one its V4 signature covers (`x-oss-content-sha256`).
pub(crate) fn payload_digest_mismatch() -> OssError {
    OssError::content_sha256_mismatch()
}

/// A header's value as text, if present and visible ASCII.
pub(crate) fn header_text<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok()).map(str::trim)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_acl_round_trips_through_its_wire_name() {
        for acl in [Acl::Default, Acl::Private, Acl::PublicRead, Acl::PublicReadWrite] {
            assert_eq!(object_acl(canned_acl(acl).as_str()).unwrap(), acl);
        }
        assert!(object_acl("public").is_err());
        assert!(
            bucket_acl(CannedAcl::Default).is_err(),
            "a bucket has no default ACL"
        );
        assert_eq!(bucket_acl(CannedAcl::PublicRead).unwrap(), Acl::PublicRead);
    }
}
