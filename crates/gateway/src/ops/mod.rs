//! The operations: one function per OSS endpoint, each turning a [`Call`] into a response.

mod bucket;
mod extent;
mod object;

use bytes::Bytes;
use cang_oss::{Endpoint, OssError};
use http::request::Parts;
use http::{HeaderMap, HeaderValue, Response, StatusCode};
use http_body_util::BodyExt;
use hyper::body::Incoming;

use crate::body::ResponseBody;
use crate::gateway::{Call, Gateway};

/// Runs the operation of an authorised call.
pub async fn dispatch(
    gw: &Gateway,
    call: Call,
    parts: Parts,
    body: Incoming,
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
        other => Err(OssError::not_implemented(format!(
            "{} is not supported yet.",
            other.name()
        ))),
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
pub async fn read_small_body(body: Incoming, limit: usize) -> Result<Bytes, OssError> {
    let limited = http_body_util::Limited::new(body, limit);
    match limited.collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if e.downcast_ref::<http_body_util::LengthLimitError>().is_some() => Err(
            OssError::malformed_xml(format!("the request body exceeds {limit} bytes")),
        ),
        Err(_) => Err(OssError::incomplete_body()),
    }
}

/// A header's value as text, if present and visible ASCII.
pub fn header_text<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok()).map(str::trim)
}
