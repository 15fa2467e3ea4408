//! The operations: one function per OSS endpoint, each turning a [`Call`] into a response.

mod acl;
mod append;
mod bucket;
mod copy;
mod delete;
mod extent;
mod list;
mod multipart;
mod object;

use bytes::Bytes;
use cang_oss::{Endpoint, OssError};
use http::request::Parts;
use http::{HeaderMap, HeaderValue, Response, StatusCode};
use http_body_util::BodyExt;

use crate::body::{BodyError, RequestBody, ResponseBody};
use crate::state::{Call, Gateway};

/// Runs the operation of an authorised call.
pub async fn dispatch(
    gw: &Gateway,
    call: Call,
    parts: Parts,
    body: RequestBody,
) -> Result<Response<ResponseBody>, OssError> {
    let op = call.route.endpoint.clone();
    match op {
        Endpoint::ListBuckets(params) => bucket::list_buckets(gw, &call, params).await,
        Endpoint::PutBucket { bucket } => bucket::put_bucket(gw, &call, &bucket, &parts.headers, body).await,
        Endpoint::DeleteBucket { bucket } => bucket::delete_bucket(gw, &bucket).await,
        Endpoint::HeadBucket { .. } => Ok(empty(StatusCode::OK)),
        Endpoint::GetBucketInfo { .. } => bucket::get_bucket_info(gw, &call).await,
        Endpoint::GetBucketLocation { .. } => bucket::get_bucket_location(gw, &call),
        Endpoint::GetBucketAcl { .. } => bucket::get_bucket_acl(&call),
        Endpoint::PutBucketAcl { bucket } => bucket::put_bucket_acl(gw, &bucket, &parts.headers, body).await,
        Endpoint::GetBucketStat { bucket } => bucket::get_bucket_stat(gw, &bucket).await,
        Endpoint::PutBucketEncryption { bucket } => {
            bucket::put_bucket_encryption(gw, &call, &bucket, body).await
        }
        Endpoint::GetBucketEncryption { bucket } => bucket::get_bucket_encryption(&call, &bucket),
        Endpoint::DeleteBucketEncryption { bucket } => bucket::delete_bucket_encryption(gw, &bucket).await,
        Endpoint::PutObject { bucket, key } => {
            object::put_object(gw, &call, &bucket, &key, &parts.headers, body).await
        }
        Endpoint::GetObject {
            bucket,
            key,
            overrides,
        } => object::get_object(gw, &call, &bucket, &key, &parts.headers, Some(overrides), true).await,
        Endpoint::HeadObject { bucket, key } => {
            object::get_object(gw, &call, &bucket, &key, &parts.headers, None, false).await
        }
        Endpoint::GetObjectMeta { bucket, key } => object::get_object_meta(gw, &bucket, &key).await,
        Endpoint::DeleteObject { bucket, key } => object::delete_object(gw, &bucket, &key).await,
        Endpoint::ListObjects { bucket, params } => list::list_objects(gw, &call, &bucket, params).await,
        Endpoint::ListObjectsV2 { bucket, params } => list::list_objects_v2(gw, &call, &bucket, params).await,
        Endpoint::DeleteMultipleObjects { bucket, encoding_url } => {
            delete::delete_objects(gw, &call, &bucket, encoding_url, &parts.headers, body).await
        }
        Endpoint::CopyObject { bucket, key, source } => {
            copy::copy_object(gw, &call, &bucket, &key, &source, &parts.headers).await
        }
        Endpoint::AppendObject {
            bucket,
            key,
            position,
        } => append::append_object(gw, &call, &bucket, &key, position, &parts.headers, body).await,
        Endpoint::GetObjectAcl { bucket, key } => acl::get_object_acl(gw, &call, &bucket, &key).await,
        Endpoint::PutObjectAcl { bucket, key } => {
            acl::put_object_acl(gw, &bucket, &key, &parts.headers).await
        }
        Endpoint::InitiateMultipartUpload {
            bucket,
            key,
            encoding_url,
        } => multipart::initiate(gw, &call, &bucket, &key, encoding_url, &parts.headers).await,
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
            multipart::upload_part(gw, &call, target, &parts.headers, body).await
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
            multipart::upload_part_copy(gw, &call, target, &source, range, &parts.headers).await
        }
        Endpoint::CompleteMultipartUpload {
            bucket,
            key,
            upload_id,
            encoding_url,
        } => {
            let target = (bucket.as_str(), key.as_str(), upload_id.as_str());
            multipart::complete(gw, &call, target, encoding_url, &parts.headers, body).await
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

/// An empty response with `status`.
pub fn empty(status: StatusCode) -> Response<ResponseBody> {
    let mut response = Response::new(ResponseBody::empty());
    *response.status_mut() = status;
    response
}

/// A 200 response carrying an XML document.
pub fn xml(document: String) -> Response<ResponseBody> {
    let mut response = Response::new(ResponseBody::full(document));
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/xml"),
    );
    response
}

/// Reads a small request body (XML documents), refusing more than `limit` bytes.
pub async fn read_small_body(body: RequestBody, limit: usize) -> Result<Bytes, OssError> {
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
pub fn payload_digest_mismatch() -> OssError {
    OssError::content_sha256_mismatch()
}

/// A header's value as text, if present and visible ASCII.
pub fn header_text<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok()).map(str::trim)
}
