//! CopyObject, and the copy-source reading UploadPartCopy shares with it.
//!
//! A copy re-encrypts: the format context and the crypto service's encryption context bind ciphertext to its
//! bucket and key, so the source is decrypted as a stream and sealed again through the same path as a
//! PutObject, under the encryption the copy request (or the target bucket's default) asks for. The source's
//! encryption is never inherited.

use cang_meta_api::{ObjectInfo, ObjectMeta, PutObjectHeader};
use cang_oss::OssError;
use cang_oss::checksum::crc64_header_value;
use cang_oss::headers::sse::{SseHeaderPolicy, sse_from_headers};
use cang_oss::route::names::CopySource;
use cang_oss::xml::response::copy_object_result_xml;
use http::HeaderMap;

use super::{Reply, forbids_overwrite, header_text, insert, object_meta, xml};
use crate::encryption::effective_rule;
use crate::pipeline::read::{open_source, source_plaintext};
use crate::pipeline::write::{prepare_upload, seal_into};
use crate::state::{Call, Gateway};

/// `x-oss-metadata-directive`: whether the copy takes the request's metadata (`REPLACE`) or the source's.
fn replaces_metadata(headers: &HeaderMap) -> Result<bool, OssError> {
    match header_text(headers, "x-oss-metadata-directive") {
        None => Ok(false),
        Some(v) if v.eq_ignore_ascii_case("COPY") => Ok(false),
        Some(v) if v.eq_ignore_ascii_case("REPLACE") => Ok(true),
        Some(_) => Err(OssError::invalid_argument(
            "x-oss-metadata-directive must be COPY or REPLACE.",
        )),
    }
}

/// The metadata of the copy: the request's with `REPLACE` (and always for a copy onto itself, which is how
/// clients update metadata), else the source's content headers and user metadata. The ACL comes from the
/// request either way; the encryption record is the copy's own.
fn copy_meta(
    headers: &HeaderMap,
    source: &ObjectInfo,
    onto_itself: bool,
    sse: Option<cang_meta_api::ObjectSse>,
) -> Result<ObjectMeta, OssError> {
    let requested = object_meta(headers, sse)?;
    if onto_itself || replaces_metadata(headers)? {
        return Ok(requested);
    }
    Ok(ObjectMeta {
        content_type: source.meta.content_type.clone(),
        user_meta: source.meta.user_meta.clone(),
        headers: source.meta.headers.clone(),
        ..requested
    })
}

/// CopyObject.
pub async fn copy_object(
    gw: &Gateway,
    call: &Call,
    bucket: &str,
    key: &str,
    source: &CopySource,
    headers: &HeaderMap,
) -> Reply {
    let requested = sse_from_headers(headers, SseHeaderPolicy::Accept)?;
    let onto_itself = source.bucket == bucket && source.key == key;
    replaces_metadata(headers)?;
    let forbid_overwrite = forbids_overwrite(headers);
    // Checked again atomically at commit; checking first saves reading and re-encrypting the source.
    if forbid_overwrite && gw.meta.head_object(bucket, key).await.is_ok() {
        return Err(OssError::file_already_exists(key).into());
    }
    let src = open_source(gw, call, source, headers).await?;
    if src.info.size > gw.config.max_object_size {
        return Err(OssError::entity_too_large().into());
    }
    // The source key is recovered (and kms:Decrypt checked) before a data key is issued for the copy.
    let plaintext = source_plaintext(gw, call, &src, 0, src.info.size).await?;
    let default = call.bucket.as_ref().and_then(|b| b.encryption.as_ref());
    let rule = effective_rule(requested, default);
    let (encryptor, upload) = prepare_upload(gw, call, rule, bucket, key, 0).await?;
    let header = PutObjectHeader {
        bucket: bucket.to_owned(),
        key: key.to_owned(),
        meta: copy_meta(headers, &src.info, onto_itself, upload.sse)?,
        format: upload.format,
        forbid_overwrite,
        replaces: None,
    };
    let meta = gw.meta.clone();
    let (info, sealed) = seal_into(gw, plaintext, encryptor, |b| async move {
        meta.put_object(header, b).await
    })
    .await?;
    let mut response = xml(copy_object_result_xml(&info.etag, info.last_modified()));
    let h = response.headers_mut();
    insert(h, "etag", &format!("\"{}\"", info.etag));
    insert(h, "x-oss-hash-crc64ecma", &crc64_header_value(sealed.crc64));
    if let Some(echo) = upload.echo {
        echo.write_headers(h);
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;
    use cang_meta_api::{Acl, ObjectType};

    fn source() -> ObjectInfo {
        ObjectInfo {
            bucket: "src".into(),
            key: "a".into(),
            size: 3,
            ciphertext_size: 3,
            etag: "E".into(),
            crc64: Some(1),
            last_modified_ms: 0,
            object_type: ObjectType::Normal,
            meta: ObjectMeta {
                content_type: "text/plain".into(),
                user_meta: vec![("colour".into(), "blue".into())],
                headers: vec![("cache-control".into(), "no-cache".into())],
                acl: Acl::Default,
                sse: None,
            },
            extents: Vec::new(),
        }
    }

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn copy_keeps_the_source_metadata_and_replace_takes_the_request() {
        let req = headers(&[
            ("content-type", "image/png"),
            ("x-oss-meta-colour", "red"),
            ("x-oss-object-acl", "private"),
        ]);
        let copied = copy_meta(&req, &source(), false, None).unwrap();
        assert_eq!(copied.content_type, "text/plain");
        assert_eq!(copied.user_meta, vec![("colour".to_owned(), "blue".to_owned())]);
        assert_eq!(copied.headers, source().meta.headers);
        assert_eq!(copied.acl, Acl::Private, "the ACL always comes from the request");

        let mut replace = req.clone();
        replace.insert("x-oss-metadata-directive", "REPLACE".parse().unwrap());
        let replaced = copy_meta(&replace, &source(), false, None).unwrap();
        assert_eq!(replaced.content_type, "image/png");
        assert_eq!(replaced.user_meta, vec![("colour".to_owned(), "red".to_owned())]);
        assert!(replaced.headers.is_empty());

        let itself = copy_meta(&req, &source(), true, None).unwrap();
        assert_eq!(
            itself.content_type, "image/png",
            "a copy onto itself updates metadata"
        );
    }

    #[test]
    fn the_copy_never_carries_the_source_encryption_record() {
        let mut src = source();
        src.meta.sse = Some(cang_meta_api::ObjectSse {
            algorithm: cang_meta_api::SseAlgorithm::Kms,
            key_id: Some("k".into()),
            data_encryption: None,
            wrapped_key: vec![0, 1, 2],
            wrapping: None,
        });
        assert_eq!(copy_meta(&HeaderMap::new(), &src, false, None).unwrap().sse, None);
    }

    #[test]
    fn unknown_directives_are_refused() {
        assert!(replaces_metadata(&headers(&[("x-oss-metadata-directive", "MERGE")])).is_err());
        assert!(!replaces_metadata(&headers(&[("x-oss-metadata-directive", "copy")])).unwrap());
    }
}
