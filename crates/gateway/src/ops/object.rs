//! Object reads and writes: PutObject, GetObject, HeadObject, GetObjectMeta and DeleteObject.

use cang_meta_api::{MetaError, PutObjectHeader};
use cang_oss::OssError;
use cang_oss::checksum::crc64_header_value;
use cang_oss::headers::conditional::{ConditionTarget, Conditions};
use cang_oss::headers::meta::ResponseOverrides;
use cang_oss::headers::range::{RangeBehavior, resolve_range};
use cang_oss::headers::sse::{SseHeaderPolicy, sse_from_headers};
use http::{HeaderMap, StatusCode};

use super::{Reply, base64_md5, empty, forbids_overwrite, header_text, insert, object_headers, object_meta};
use crate::authorize::Principal;
use crate::body::{RequestBody, ResponseBody};
use crate::encryption::effective_rule;
use crate::pipeline::read::{ReadStart, read_inline, read_plaintext};
use crate::pipeline::write::{SMALL_PUT_MAX, prepare_upload, request_source, seal_into, seal_small};
use crate::state::{Call, Gateway, KnownObject};

/// PutObject.
pub async fn put_object(
    gw: &Gateway,
    call: &Call,
    bucket: &str,
    key: &str,
    headers: &HeaderMap,
    body: RequestBody,
) -> Reply {
    let requested = sse_from_headers(headers, SseHeaderPolicy::Accept)?;
    let default = call.bucket.as_ref().and_then(|b| b.encryption.as_ref());
    let rule = effective_rule(requested, default);
    let (encryptor, upload) = prepare_upload(gw, call, rule, bucket, key, 0).await?;
    let header = PutObjectHeader {
        bucket: bucket.to_owned(),
        key: key.to_owned(),
        meta: object_meta(headers, upload.sse)?,
        format: upload.format,
        forbid_overwrite: forbids_overwrite(headers),
        replaces: None,
    };
    let meta = gw.meta.clone();
    let source = request_source(headers, body)?;
    let (info, sealed) = if source.declared.is_some_and(|len| len <= SMALL_PUT_MAX) {
        seal_small(gw, source, encryptor, |ciphertext, trailer| async move {
            meta.put_small_object(header, ciphertext, trailer).await
        })
        .await?
    } else {
        seal_into(gw, source, encryptor, |b| async move {
            meta.put_object(header, b).await
        })
        .await?
    };
    let mut response = empty(StatusCode::OK);
    let h = response.headers_mut();
    insert(h, "etag", &format!("\"{}\"", info.etag));
    insert(h, "x-oss-hash-crc64ecma", &crc64_header_value(sealed.crc64));
    insert(h, "content-md5", &base64_md5(&sealed.md5));
    if let Some(echo) = upload.echo {
        echo.write_headers(h);
    }
    Ok(response)
}

/// GetObject (`with_body`) and HeadObject.
pub async fn get_object(
    gw: &Gateway,
    call: &Call,
    bucket: &str,
    key: &str,
    headers: &HeaderMap,
    overrides: Option<ResponseOverrides>,
    with_body: bool,
) -> Reply {
    // Overrides let the caller choose how the storage origin labels the bytes (`text/html`, `inline`): only a
    // signed request may, as with S3, so an anonymous reader cannot turn an uploaded text into a page.
    if matches!(call.principal, Principal::Anonymous) && overrides.as_ref().is_some_and(|o| !o.is_empty()) {
        return Err(OssError::invalid_request(
            "Request specific response headers cannot be used for anonymous GET requests.",
        )
        .into());
    }
    // A request arrives with its object looked up along with the bucket (and a GET with the stored bytes it
    // needs, when they are few); a caller without that lookup makes it here.
    let (mut info, mut inline) = match &call.object {
        KnownObject::Found(info, bytes) => ((**info).clone(), bytes.clone().filter(|_| with_body)),
        KnownObject::Absent => return Err(MetaError::NoSuchKey.into()),
        KnownObject::Unknown => (gw.meta.head_object(bucket, key).await?, None),
    };
    // An object overwritten between the lookup and the read is answered from its new version.
    for _ in 0..MAX_READ_ATTEMPTS {
        Conditions::from_headers(headers, ConditionTarget::Object)
            .evaluate(&info.etag, info.last_modified())?;
        let range = resolve_range(
            header_text(headers, "range"),
            RangeBehavior::from_headers(headers),
            info.size,
        )?;
        let (status, start, end) = match range {
            Some(r) => (StatusCode::PARTIAL_CONTENT, r.start, r.end + 1),
            None => (StatusCode::OK, 0, info.size),
        };
        let mut response = empty(status);
        let h = response.headers_mut();
        object_headers(&info, h);
        if let Some(r) = range {
            insert(h, "content-range", &r.content_range());
        }
        insert(h, "content-length", &(end - start).to_string());
        if let Some(overrides) = &overrides {
            overrides.apply(h);
        }
        if !with_body {
            return Ok(response);
        }
        // Stored bytes that came with the record serve the read when they hold what it needs.
        if let Some(stored) = inline.take()
            && let Some(plain) = read_inline(gw, call, call.owner(), &info, &stored, start, end).await?
        {
            *response.body_mut() = ResponseBody::full(plain);
            return Ok(response);
        }
        let (tx, body) = ResponseBody::channel(end - start, 4);
        *response.body_mut() = body;
        match read_plaintext(gw, call, call.owner(), &info, start, end, tx).await? {
            ReadStart::Streaming => return Ok(response),
            ReadStart::Changed(current) => info = *current,
        }
    }
    tracing::warn!(bucket, key, "object kept changing while it was read");
    Err(OssError::service_unavailable().into())
}

/// Reads of an object that is overwritten again and again give up after this many attempts.
const MAX_READ_ATTEMPTS: usize = 5;

/// GetObjectMeta: size, ETag, CRC and modification time only.
pub async fn get_object_meta(gw: &Gateway, bucket: &str, key: &str) -> Reply {
    let info = gw.meta.head_object(bucket, key).await?;
    let mut response = empty(StatusCode::OK);
    let h = response.headers_mut();
    insert(h, "etag", &format!("\"{}\"", info.etag));
    insert(
        h,
        "last-modified",
        &cang_oss::date::http_date(info.last_modified()),
    );
    insert(h, "content-length", &info.size.to_string());
    if let Some(crc) = info.crc64 {
        insert(h, "x-oss-hash-crc64ecma", &crc64_header_value(crc));
    }
    Ok(response)
}

/// DeleteObject: 204 whether or not the object existed.
pub async fn delete_object(gw: &Gateway, bucket: &str, key: &str) -> Reply {
    let outcome = gw.meta.delete_objects(bucket, vec![key.to_owned()]).await?;
    if let Some((_, Err(e))) = outcome.into_iter().next() {
        return Err(e.into());
    }
    Ok(empty(StatusCode::NO_CONTENT))
}
