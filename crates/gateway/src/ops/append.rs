//! AppendObject (§6.12). The first append (position 0 on a missing key) fixes the object's encryption and
//! data key exactly as a PutObject would; every later append recovers that data key from the object's record
//! and seals its bytes as one more extent, with the extent's sequence number in the format context. SSE headers
//! on later appends are ignored, as OSS does: the object keeps the encryption it was created with.

use cang_meta_api::{AppendObjectHeader, MetaError, ObjectInfo, ObjectType};
use cang_oss::OssError;
use cang_oss::checksum::crc64_header_value;
use cang_oss::headers::sse::{SseHeaderPolicy, sse_from_headers};
use http::{HeaderMap, StatusCode};

use super::{Reply, empty, insert, object_meta};
use crate::body::RequestBody;
use crate::encryption::{echo_of, effective_rule};
use crate::errors::Failure;
use crate::pipeline::write::{Upload, prepare_upload, request_source, seal_into, seal_under_record};
use crate::state::{Call, Gateway};

/// The object an append continues, or `None` when it creates one; position and type are checked here
/// (before any key is fetched) and again, atomically, by the metadata service.
async fn existing(
    gw: &Gateway,
    bucket: &str,
    key: &str,
    position: u64,
) -> Result<Option<ObjectInfo>, Failure> {
    match gw.meta.head_object(bucket, key).await {
        Ok(info) if info.object_type != ObjectType::Appendable => {
            Err(OssError::object_not_appendable().into())
        }
        Ok(info) if info.size != position => Err(OssError::position_not_equal_to_length(info.size).into()),
        Ok(info) => Ok(Some(info)),
        Err(MetaError::NoSuchKey) if position != 0 => Err(OssError::position_not_equal_to_length(0).into()),
        Err(MetaError::NoSuchKey) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// The number in the format context of the extent appended to `info` (0 for the first).
fn next_sequence(info: Option<&ObjectInfo>) -> Result<u32, OssError> {
    u32::try_from(info.map_or(0, |i| i.extents.len()))
        .map_err(|_| OssError::invalid_request("The object has too many appends."))
}

/// AppendObject.
pub async fn append_object(
    gw: &Gateway,
    call: &Call,
    bucket: &str,
    key: &str,
    position: u64,
    headers: &HeaderMap,
    body: RequestBody,
) -> Reply {
    let requested = sse_from_headers(headers, SseHeaderPolicy::Accept)?;
    let current = existing(gw, bucket, key, position).await?;
    let sequence = next_sequence(current.as_ref())?;
    let (encryptor, upload) = match &current {
        None => {
            let default = call.bucket.as_ref().and_then(|b| b.encryption.as_ref());
            prepare_upload(
                gw,
                call,
                effective_rule(requested, default),
                bucket,
                key,
                sequence,
            )
            .await?
        }
        Some(info) => {
            let record = info.meta.sse.as_ref();
            let (encryptor, format) = seal_under_record(gw, call, record, bucket, key, sequence).await?;
            let upload = Upload {
                format,
                sse: info.meta.sse.clone(),
                echo: record.and_then(echo_of),
            };
            (encryptor, upload)
        }
    };
    let header = AppendObjectHeader {
        bucket: bucket.to_owned(),
        key: key.to_owned(),
        position,
        meta: object_meta(headers, upload.sse)?,
        format: upload.format,
    };
    let meta = gw.meta.clone();
    let source = request_source(headers, body)?;
    let (info, _) = seal_into(gw, source, encryptor, |b| async move {
        meta.append_object(header, b).await
    })
    .await?;
    let mut response = empty(StatusCode::OK);
    let h = response.headers_mut();
    insert(h, "etag", &format!("\"{}\"", info.etag));
    insert(h, "x-oss-next-append-position", &info.size.to_string());
    if let Some(crc) = info.crc64 {
        insert(h, "x-oss-hash-crc64ecma", &crc64_header_value(crc));
    }
    if let Some(echo) = upload.echo {
        echo.write_headers(h);
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::open::{ExtentCipher, ExtentDecoder, plan_read};
    use bytes::Bytes;
    use cang_meta_api::{Extent, ObjectMeta};
    use cang_sse::{DataKey, Suite, encrypt_all};

    #[test]
    fn reads_across_an_empty_append_stay_contiguous_and_authenticated() {
        let dek = DataKey::generate().unwrap();
        let (mut extents, mut stored, mut plain) = (Vec::new(), Vec::new(), Vec::new());
        for (i, len) in [40usize, 0, 0, 25].into_iter().enumerate() {
            let data: Vec<u8> = (0..len).map(|j| (i * 50 + j) as u8).collect();
            let context = vec![i as u8];
            let (params, bytes) = encrypt_all(&dek, Suite::Aes256Gcm, 16, &context, &data).unwrap();
            extents.push(ExtentCipher {
                plaintext_offset: plain.len() as u64,
                plaintext_len: len as u64,
                stored_offset: stored.len() as u64,
                params: Some(params),
                context,
            });
            stored.extend_from_slice(&bytes);
            plain.extend_from_slice(&data);
        }
        let plan = plan_read(&extents, 30, 50).unwrap();
        assert_eq!(plan.iter().map(|r| r.extent).collect::<Vec<_>>(), [0, 1, 2, 3]);
        for pair in plan.windows(2) {
            assert_eq!(pair[0].stored_offset + pair[0].stored_len, pair[1].stored_offset);
        }
        let mut out = Vec::new();
        for read in &plan {
            let start = read.stored_offset as usize;
            let bytes = &stored[start..start + read.stored_len as usize];
            let mut decoder = ExtentDecoder::new(&extents[read.extent], read, Some(&dek)).unwrap();
            out.extend_from_slice(&decoder.push(Bytes::copy_from_slice(bytes)).unwrap());
            decoder.finish().unwrap();
        }
        assert_eq!(out, plain[30..50]);
        // A range inside one extent is left alone.
        let inside = plan_read(&extents, 1, 5).unwrap();
        assert_eq!(inside.iter().map(|r| r.extent).collect::<Vec<_>>(), [0]);
        // A range that ends where the empty extents sit does not need them.
        let before = plan_read(&extents, 1, 40).unwrap();
        assert_eq!(before.iter().map(|r| r.extent).collect::<Vec<_>>(), [0]);
    }

    #[test]
    fn the_sequence_number_is_the_count_of_earlier_extents() {
        let extent = Extent {
            ciphertext_offset: 0,
            ciphertext_len: 0,
            plaintext_offset: 0,
            plaintext_len: 0,
            format: Vec::new(),
        };
        let info = ObjectInfo {
            bucket: "b".into(),
            key: "k".into(),
            size: 0,
            ciphertext_size: 0,
            etag: String::new(),
            crc64: None,
            last_modified_ms: 0,
            object_type: ObjectType::Appendable,
            meta: ObjectMeta::default(),
            extents: vec![extent.clone(), extent],
        };
        assert_eq!(next_sequence(None).unwrap(), 0);
        assert_eq!(next_sequence(Some(&info)).unwrap(), 2);
    }
}
