//! The gateway's per-extent format record: the object format's 45-byte header form (docs/format.md §6)
//! followed by `u32be(n)`, the number mixed into the format context (the part number of a multipart part,
//! the sequence number of an append, 0 for a simple object). Unencrypted extents store nothing.

use cang_meta_api::ObjectInfo;
use cang_oss::OssError;
use cang_sse::{HEADER_LEN, ObjectCipherParams};

use crate::pipeline::open::ExtentCipher;
use crate::pipeline::seal::format_context;

/// A decoded extent record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtentFormat {
    /// The format parameters.
    pub params: ObjectCipherParams,
    /// The number in the extent's format context.
    pub context_number: u32,
}

/// The stored record of an encrypted extent.
pub fn extent_format(header: &[u8], context_number: u32) -> Vec<u8> {
    let mut out = Vec::with_capacity(header.len() + 4);
    out.extend_from_slice(header);
    out.extend_from_slice(&context_number.to_be_bytes());
    out
}

fn decode(record: &[u8], plaintext_len: u64) -> Option<ExtentFormat> {
    if record.len() != HEADER_LEN + 4 {
        return None;
    }
    let params = ObjectCipherParams::decode_header(&record[..HEADER_LEN], plaintext_len).ok()?;
    let number = u32::from_be_bytes(record[HEADER_LEN..].try_into().ok()?);
    Some(ExtentFormat {
        params,
        context_number: number,
    })
}

/// The object's extents as the read path needs them. An encrypted object whose extent records do not decode
/// is corrupt: that is an internal error, never a read of wrong bytes.
pub fn extents_of(info: &ObjectInfo) -> Result<Vec<ExtentCipher>, OssError> {
    let encrypted = info.meta.sse.is_some();
    info.extents
        .iter()
        .map(|e| {
            let (params, context) = if encrypted {
                let f = decode(&e.format, e.plaintext_len).ok_or_else(|| {
                    tracing::error!(bucket = %info.bucket, key = %info.key, "extent format record is malformed");
                    OssError::internal_error()
                })?;
                (Some(f.params), format_context(&info.bucket, &info.key, f.context_number))
            } else {
                (None, Vec::new())
            };
            Ok(ExtentCipher {
                plaintext_offset: e.plaintext_offset,
                plaintext_len: e.plaintext_len,
                stored_offset: e.ciphertext_offset,
                params,
                context,
            })
        })
        .collect()
}
