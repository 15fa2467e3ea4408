//! Multipart uploads: Initiate, UploadPart, UploadPartCopy, Complete, Abort, ListMultipartUploads and
//! ListParts.
//!
//! The encryption is decided once, at Initiate: the data key is obtained there and its record stored with the
//! upload. Every part is sealed under that data key with its own salt and nonce prefix and with its part
//! number in the format context, so parts can neither be reordered nor moved into another upload. The
//! completed object is the listed parts, one extent each; nothing is re-encrypted.

use cang_meta_api::{
    CompletedPart, ListUploadsQuery, MetaError, MultipartUpload, ObjectSse, UploadPartHeader, common_prefix,
};
use cang_oss::OssError;
use cang_oss::checksum::crc64_header_value;
use cang_oss::headers::range::{RangeBehavior, resolve_range};
use cang_oss::headers::sse::{SseHeaderPolicy, sse_from_headers};
use cang_oss::route::endpoint::{ListPartsParams, ListUploadsParams};
use cang_oss::route::names::CopySource;
use cang_oss::xml::request::parse_complete_multipart_upload;
use cang_oss::xml::response::{
    ListPartsResult, ListUploadsResult, PartSummary, UploadSummary, complete_multipart_upload_result_xml,
    copy_part_result_xml, initiate_multipart_upload_xml,
};
use http::HeaderMap;
use http::StatusCode;

use super::{
    Reply, at, base64_md5, empty, forbids_overwrite, header_text, insert, object_meta, read_small_body, xml,
};
use crate::body::RequestBody;
use crate::encryption::{echo_of, effective_rule};
use crate::errors::Failure;
use crate::pipeline::read::{open_source, source_plaintext};
use crate::pipeline::write::{request_source, seal_into, seal_under_record};
use crate::state::{Call, Gateway};

fn echo_record(headers: &mut HeaderMap, record: Option<&ObjectSse>) {
    if let Some(echo) = record.and_then(echo_of) {
        echo.write_headers(headers);
    }
}

/// InitiateMultipartUpload: fixes the upload's encryption and obtains its data key.
pub async fn initiate(
    gw: &Gateway,
    call: &Call,
    bucket: &str,
    key: &str,
    encoding_url: bool,
    headers: &HeaderMap,
) -> Reply {
    let requested = sse_from_headers(headers, SseHeaderPolicy::Accept)?;
    if forbids_overwrite(headers) {
        match gw.meta.head_object(bucket, key).await {
            Ok(_) => return Err(OssError::file_already_exists(key).into()),
            Err(MetaError::NoSuchKey) => {}
            Err(e) => return Err(e.into()),
        }
    }
    let default = call.bucket.as_ref().and_then(|b| b.encryption.as_ref());
    let (record, echo) = match effective_rule(requested, default) {
        Some(rule) => {
            let (_, record, echo) = gw
                .protect(&call.principal, &call.context, &rule, call.owner(), bucket, key)
                .await?;
            (Some(record), Some(echo))
        }
        None => (Some(gw.protect_at_rest(bucket, key).await?.1), None),
    };
    let upload = gw
        .meta
        .initiate_upload(bucket, key, object_meta(headers, record)?)
        .await?;
    let mut response = xml(initiate_multipart_upload_xml(
        bucket,
        key,
        &upload.upload_id,
        encoding_url,
    ));
    if let Some(echo) = echo {
        echo.write_headers(response.headers_mut());
    }
    Ok(response)
}

async fn load_upload(
    gw: &Gateway,
    bucket: &str,
    key: &str,
    upload_id: &str,
) -> Result<MultipartUpload, Failure> {
    Ok(gw.meta.get_upload(bucket, key, upload_id).await?)
}

/// The part identity every part write needs.
pub struct PartTarget<'a> {
    /// Bucket.
    pub bucket: &'a str,
    /// Key.
    pub key: &'a str,
    /// Upload id.
    pub upload_id: &'a str,
    /// Part number.
    pub part_number: u32,
}

/// UploadPart.
pub async fn upload_part(
    gw: &Gateway,
    call: &Call,
    target: PartTarget<'_>,
    headers: &HeaderMap,
    body: RequestBody,
) -> Reply {
    sse_from_headers(headers, SseHeaderPolicy::Reject)?;
    let PartTarget {
        bucket,
        key,
        upload_id,
        part_number,
    } = target;
    let upload = load_upload(gw, bucket, key, upload_id).await?;
    let record = upload.meta.sse.as_ref();
    let (encryptor, format) = seal_under_record(gw, call, record, bucket, key, part_number).await?;
    let header = UploadPartHeader {
        bucket: bucket.to_owned(),
        key: key.to_owned(),
        upload_id: upload_id.to_owned(),
        part_number,
        format,
    };
    let meta = gw.meta.clone();
    let source = request_source(headers, body)?;
    let (part, sealed) = seal_into(gw, source, encryptor, |b| async move {
        meta.upload_part(header, b).await
    })
    .await?;
    let mut response = empty(StatusCode::OK);
    let h = response.headers_mut();
    insert(h, "etag", &format!("\"{}\"", part.etag));
    insert(h, "x-oss-hash-crc64ecma", &crc64_header_value(sealed.crc64));
    insert(h, "content-md5", &base64_md5(&sealed.md5));
    echo_record(h, record);
    Ok(response)
}

/// UploadPartCopy: a range of another object (decrypted under its own key) becomes a part sealed under the
/// upload's key. An absent or invalid `x-oss-copy-source-range` copies the whole source (§7.3).
pub async fn upload_part_copy(
    gw: &Gateway,
    call: &Call,
    target: PartTarget<'_>,
    source: &CopySource,
    source_range: Option<&str>,
    headers: &HeaderMap,
) -> Reply {
    sse_from_headers(headers, SseHeaderPolicy::Reject)?;
    let PartTarget {
        bucket,
        key,
        upload_id,
        part_number,
    } = target;
    let upload = load_upload(gw, bucket, key, upload_id).await?;
    let src = open_source(gw, call, source, headers).await?;
    let (start, end) = match resolve_range(source_range, RangeBehavior::Legacy, src.info.size)? {
        Some(r) => (r.start, r.end + 1),
        None => (0, src.info.size),
    };
    if end - start > gw.config.max_object_size {
        return Err(OssError::entity_too_large().into());
    }
    let plaintext = source_plaintext(gw, call, &src, start, end).await?;
    let record = upload.meta.sse.as_ref();
    let (encryptor, format) = seal_under_record(gw, call, record, bucket, key, part_number).await?;
    let header = UploadPartHeader {
        bucket: bucket.to_owned(),
        key: key.to_owned(),
        upload_id: upload_id.to_owned(),
        part_number,
        format,
    };
    let meta = gw.meta.clone();
    let (part, sealed) = seal_into(gw, plaintext, encryptor, |b| async move {
        meta.upload_part(header, b).await
    })
    .await?;
    let mut response = xml(copy_part_result_xml(&part.etag, at(part.last_modified_ms)));
    let h = response.headers_mut();
    insert(h, "etag", &format!("\"{}\"", part.etag));
    insert(h, "x-oss-hash-crc64ecma", &crc64_header_value(sealed.crc64));
    echo_record(h, record);
    Ok(response)
}

/// Every uploaded part, for `x-oss-complete-all: yes`.
async fn all_parts(
    gw: &Gateway,
    bucket: &str,
    key: &str,
    upload_id: &str,
) -> Result<Vec<CompletedPart>, Failure> {
    let mut parts = Vec::new();
    let mut marker = 0;
    loop {
        let page = gw.meta.list_parts(bucket, key, upload_id, marker, 1000).await?;
        parts.extend(page.parts.iter().map(|p| CompletedPart {
            part_number: p.part_number,
            etag: p.etag.clone(),
        }));
        match page.next_part_number_marker {
            Some(next) if page.is_truncated => marker = next,
            _ => return Ok(parts),
        }
    }
}

/// CompleteMultipartUpload: the ETag (`<MD5 of the part MD5s>-<count>`) and the combined CRC-64 are the
/// metadata service's, computed from the parts it holds.
pub async fn complete(
    gw: &Gateway,
    call: &Call,
    target: (&str, &str, &str),
    encoding_url: bool,
    headers: &HeaderMap,
    body: RequestBody,
) -> Reply {
    let (bucket, key, upload_id) = target;
    sse_from_headers(headers, SseHeaderPolicy::Reject)?;
    let document = read_small_body(body, gw.config.max_xml_body).await?;
    let complete_all =
        header_text(headers, "x-oss-complete-all").is_some_and(|v| v.eq_ignore_ascii_case("yes"));
    let parts = if complete_all {
        if !document.is_empty() {
            return Err(OssError::invalid_argument("x-oss-complete-all does not take a part list.").into());
        }
        all_parts(gw, bucket, key, upload_id).await?
    } else {
        parse_complete_multipart_upload(&document)?
            .into_iter()
            .map(|p| CompletedPart {
                part_number: p.part_number,
                etag: cang_oss::checksum::etag_unquoted(&p.etag).to_owned(),
            })
            .collect()
    };
    let info = gw
        .meta
        .complete_upload(bucket, key, upload_id, parts, forbids_overwrite(headers))
        .await?;
    let location = format!(
        "http://{bucket}.{}.aliyuncs.com/{}",
        call.bucket
            .as_ref()
            .map_or(gw.config.location.as_str(), |b| b.location.as_str()),
        cang_oss::percent::encode_strict(key).replace("%2F", "/")
    );
    let mut response = xml(complete_multipart_upload_result_xml(
        &location,
        bucket,
        key,
        &info.etag,
        encoding_url,
    ));
    let h = response.headers_mut();
    insert(h, "etag", &format!("\"{}\"", info.etag));
    if let Some(crc) = info.crc64 {
        insert(h, "x-oss-hash-crc64ecma", &crc64_header_value(crc));
    }
    echo_record(h, info.meta.sse.as_ref());
    Ok(response)
}

/// AbortMultipartUpload: exactly 204.
pub async fn abort(gw: &Gateway, bucket: &str, key: &str, upload_id: &str) -> Reply {
    gw.meta.abort_upload(bucket, key, upload_id).await?;
    Ok(empty(StatusCode::NO_CONTENT))
}

/// The smallest key marker after every key starting with `prefix`.
fn past(prefix: &str) -> String {
    format!("{prefix}{}", char::MAX)
}

/// ListMultipartUploads. The metadata service pages by key and upload id; grouping under a delimiter is done
/// here, skipping past each common prefix once it is reported.
pub async fn list_uploads(gw: &Gateway, bucket: &str, params: ListUploadsParams) -> Reply {
    let max = params.max_uploads.unwrap_or(1000);
    let prefix = params.prefix.clone().unwrap_or_default();
    let delimiter = params.delimiter.clone().unwrap_or_default();
    let mut query = ListUploadsQuery {
        prefix: prefix.clone(),
        key_marker: params.key_marker.clone().unwrap_or_default(),
        upload_id_marker: params.upload_id_marker.clone().unwrap_or_default(),
        max_uploads: max,
    };
    // A key marker that is itself a common prefix resumes after everything under it.
    if common_prefix(&query.key_marker, &prefix, &delimiter) == Some(query.key_marker.as_str()) {
        query.key_marker = past(&query.key_marker);
        query.upload_id_marker.clear();
    }
    let (mut uploads, mut prefixes) = (Vec::new(), Vec::<String>::new());
    let mut next: Option<(String, String)> = None;
    let mut truncated = false;
    'pages: loop {
        let page = gw.meta.list_uploads(bucket, query.clone()).await?;
        for upload in page.uploads {
            if uploads.len() + prefixes.len() == max as usize {
                truncated = true;
                break 'pages;
            }
            match common_prefix(&upload.key, &prefix, &delimiter) {
                Some(cp) => {
                    prefixes.push(cp.to_owned());
                    next = Some((cp.to_owned(), String::new()));
                    query.key_marker = past(cp);
                    query.upload_id_marker.clear();
                    continue 'pages;
                }
                None => {
                    next = Some((upload.key.clone(), upload.upload_id.clone()));
                    uploads.push(UploadSummary {
                        key: upload.key,
                        upload_id: upload.upload_id,
                        initiated: at(upload.initiated_ms),
                        storage_class: cang_oss::model::StorageClass::Standard,
                    });
                }
            }
        }
        match page.next_markers {
            Some((k, id)) if page.is_truncated => {
                query.key_marker = k;
                query.upload_id_marker = id;
            }
            _ => break,
        }
    }
    let (next_key, next_id) = match next.filter(|_| truncated) {
        Some((k, id)) => (Some(k), Some(id)),
        None => (None, None),
    };
    let result = ListUploadsResult {
        bucket: bucket.to_owned(),
        key_marker: params.key_marker,
        upload_id_marker: params.upload_id_marker,
        next_key_marker: next_key,
        next_upload_id_marker: next_id,
        delimiter: params.delimiter,
        prefix: params.prefix,
        max_uploads: max,
        is_truncated: truncated,
        encoding_url: params.encoding_url,
        uploads,
        common_prefixes: prefixes,
    };
    Ok(xml(result.to_xml()))
}

/// ListParts.
pub async fn list_parts(
    gw: &Gateway,
    bucket: &str,
    key: &str,
    upload_id: &str,
    params: ListPartsParams,
) -> Reply {
    let max = params.max_parts.unwrap_or(1000);
    let marker = params.part_number_marker.unwrap_or(0);
    let page = gw.meta.list_parts(bucket, key, upload_id, marker, max).await?;
    let next = page
        .next_part_number_marker
        .or_else(|| page.parts.last().map(|p| p.part_number))
        .unwrap_or(marker);
    let result = ListPartsResult {
        bucket: bucket.to_owned(),
        key: key.to_owned(),
        upload_id: upload_id.to_owned(),
        part_number_marker: marker,
        next_part_number_marker: next,
        max_parts: max,
        is_truncated: page.is_truncated,
        encoding_url: params.encoding_url,
        storage_class: cang_oss::model::StorageClass::Standard,
        parts: page
            .parts
            .iter()
            .map(|p| PartSummary {
                part_number: p.part_number,
                last_modified: at(p.last_modified_ms),
                etag: p.etag.clone(),
                crc64: p.crc64,
                size: p.size,
            })
            .collect(),
    };
    Ok(xml(result.to_xml()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn past_a_prefix_is_after_every_key_under_it(prefix in "[a-z/]{0,6}", rest in "\\PC{0,12}") {
            let key = format!("{prefix}{rest}");
            prop_assert!(key.as_str() < past(&prefix).as_str());
        }
    }
}
