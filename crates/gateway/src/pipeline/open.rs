//! The download pipeline: which ciphertext bytes a plaintext range needs across an object's extents (one
//! for a simple object, one per part or append), and their decryption into the response stream. A plan
//! names the number of segments it will decrypt on the request's span.

use bytes::Bytes;
use cang_sse::{DataKey, ObjectCipherParams, RangeDecryptor, SegmentRange, SseError};
use cang_telemetry::attributes;
use opentelemetry::KeyValue;

/// One extent of an object as the read path sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtentCipher {
    /// Offset of the extent's plaintext in the object.
    pub plaintext_offset: u64,
    /// Plaintext bytes in the extent.
    pub plaintext_len: u64,
    /// Offset of the extent's stored bytes in the object's stored bytes.
    pub stored_offset: u64,
    /// Format parameters; `None` for an unencrypted extent (stored bytes are the plaintext).
    pub params: Option<ObjectCipherParams>,
    /// The format context the extent was sealed with.
    pub context: Vec<u8>,
}

/// The stored bytes to fetch for one extent and how to turn them into plaintext.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtentRead {
    /// Index into the object's extents.
    pub extent: usize,
    /// Offset of the stored bytes to fetch, in the object's stored bytes.
    pub stored_offset: u64,
    /// Stored bytes to fetch.
    pub stored_len: u64,
    /// The segment range to decrypt (`None` for unencrypted extents: the fetched bytes are the output).
    pub segments: Option<SegmentRange>,
}

/// Why a read cannot be planned.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    /// The extents do not tile the object (a corrupt record).
    #[error("object extents are inconsistent")]
    Inconsistent,
    /// The format rejected a range.
    #[error(transparent)]
    Format(#[from] SseError),
}

/// Plans the read of plaintext bytes `start..end` (`end` exclusive; `start == end` only for the empty read of
/// an empty object, which still authenticates its one segment).
pub fn plan_read(extents: &[ExtentCipher], start: u64, end: u64) -> Result<Vec<ExtentRead>, PlanError> {
    let reads = plan_extents(extents, start, end)?;
    let segments: u64 = reads
        .iter()
        .filter_map(|r| r.segments)
        .map(|s| s.last_segment.saturating_sub(s.first_segment) + 1)
        .sum();
    if reads.iter().any(|r| r.segments.is_some()) {
        attributes::set_attributes([KeyValue::new(
            attributes::CANG_SSE_SEGMENTS,
            i64::try_from(segments).unwrap_or(i64::MAX),
        )]);
    }
    Ok(reads)
}

fn plan_extents(extents: &[ExtentCipher], start: u64, end: u64) -> Result<Vec<ExtentRead>, PlanError> {
    let mut reads = Vec::new();
    let mut expected_offset = 0;
    for (i, extent) in extents.iter().enumerate() {
        if extent.plaintext_offset != expected_offset {
            return Err(PlanError::Inconsistent);
        }
        expected_offset += extent.plaintext_len;
        if let Some(p) = &extent.params
            && p.plaintext_len != extent.plaintext_len
        {
            return Err(PlanError::Inconsistent);
        }
        let lo = start.max(extent.plaintext_offset);
        let hi = end.min(extent.plaintext_offset + extent.plaintext_len);
        let whole_empty = start == end && extent.plaintext_len == 0 && extents.len() == 1;
        // An empty encrypted extent (an append of zero bytes) inside the range holds no requested byte, but
        // its stored segment lies between ones that do: read and authenticate it, so the stored bytes of a
        // plan stay contiguous.
        let empty_between = extent.plaintext_len == 0
            && extent.params.is_some()
            && start < extent.plaintext_offset
            && extent.plaintext_offset < end;
        if lo >= hi && !whole_empty && !empty_between {
            continue;
        }
        let (local_lo, local_hi) = (lo - extent.plaintext_offset, hi.max(lo) - extent.plaintext_offset);
        reads.push(match &extent.params {
            Some(params) => {
                let segments = if whole_empty || (local_lo == 0 && local_hi == params.plaintext_len) {
                    params.whole()
                } else {
                    params.range(local_lo, local_hi)?
                };
                ExtentRead {
                    extent: i,
                    stored_offset: extent.stored_offset + segments.ciphertext_offset,
                    stored_len: segments.ciphertext_len,
                    segments: Some(segments),
                }
            }
            None => ExtentRead {
                extent: i,
                stored_offset: extent.stored_offset + local_lo,
                stored_len: local_hi - local_lo,
                segments: None,
            },
        });
    }
    Ok(reads)
}

/// Turns the fetched bytes of one [`ExtentRead`] into plaintext.
#[derive(Debug)]
pub enum ExtentDecoder {
    /// Bytes pass through unchanged.
    Plain,
    /// Bytes are opened segment by segment.
    Sealed(Box<RangeDecryptor>),
}

impl ExtentDecoder {
    /// The decoder for `read` of `extent`, under the object's data key (`None` for an unencrypted object).
    pub fn new(extent: &ExtentCipher, read: &ExtentRead, dek: Option<&DataKey>) -> Result<Self, SseError> {
        match (&extent.params, read.segments, dek) {
            (Some(params), Some(segments), Some(dek)) => Ok(Self::Sealed(Box::new(RangeDecryptor::new(
                dek,
                params,
                segments,
                &extent.context,
            )?))),
            (None, None, _) => Ok(Self::Plain),
            _ => Err(SseError::InvalidParams(
                "extent encryption does not match the object record",
            )),
        }
    }

    /// Decodes a fetched chunk.
    pub fn push(&mut self, chunk: Bytes) -> Result<Bytes, SseError> {
        match self {
            Self::Plain => Ok(chunk),
            Self::Sealed(dec) => {
                let mut out = Vec::with_capacity(chunk.len());
                dec.push(&chunk, &mut out)?;
                Ok(Bytes::from(out))
            }
        }
    }

    /// Checks that everything arrived.
    pub fn finish(self) -> Result<(), SseError> {
        match self {
            Self::Plain => Ok(()),
            Self::Sealed(dec) => dec.finish(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cang_sse::{Suite, encrypt_all};
    use proptest::prelude::*;

    fn object(parts: &[usize], encrypted: bool) -> (DataKey, Vec<ExtentCipher>, Vec<u8>, Vec<u8>) {
        let dek = DataKey::generate().unwrap();
        let (mut extents, mut stored, mut plain) = (Vec::new(), Vec::new(), Vec::new());
        for (i, &len) in parts.iter().enumerate() {
            let body: Vec<u8> = (0..len).map(|j| (i * 31 + j * 7) as u8).collect();
            let context = format!("part{i}").into_bytes();
            let (params, bytes) = if encrypted {
                let (p, b) = encrypt_all(&dek, Suite::Aes256Gcm, 16, &context, &body).unwrap();
                (Some(p), b)
            } else {
                (None, body.clone())
            };
            extents.push(ExtentCipher {
                plaintext_offset: plain.len() as u64,
                plaintext_len: len as u64,
                stored_offset: stored.len() as u64,
                params,
                context,
            });
            stored.extend_from_slice(&bytes);
            plain.extend_from_slice(&body);
        }
        (dek, extents, stored, plain)
    }

    fn read(dek: &DataKey, extents: &[ExtentCipher], stored: &[u8], start: u64, end: u64) -> Vec<u8> {
        let mut out = Vec::new();
        for r in plan_read(extents, start, end).unwrap() {
            let bytes = &stored[r.stored_offset as usize..(r.stored_offset + r.stored_len) as usize];
            let mut dec = ExtentDecoder::new(&extents[r.extent], &r, Some(dek)).unwrap();
            for piece in bytes.chunks(13) {
                out.extend_from_slice(&dec.push(Bytes::copy_from_slice(piece)).unwrap());
            }
            dec.finish().unwrap();
        }
        out
    }

    #[test]
    fn empty_object_reads_its_one_segment() {
        let (dek, extents, stored, _) = object(&[0], true);
        let plan = plan_read(&extents, 0, 0).unwrap();
        assert_eq!(plan.len(), 1);
        assert_eq!(plan[0].stored_len, 16);
        assert!(read(&dek, &extents, &stored, 0, 0).is_empty());
    }

    #[test]
    fn inconsistent_extents_are_refused() {
        let (_, mut extents, _, _) = object(&[10, 10], true);
        extents[1].plaintext_offset = 11;
        assert_eq!(plan_read(&extents, 0, 20), Err(PlanError::Inconsistent));
    }

    proptest! {
        #[test]
        fn any_range_across_parts(
            parts in proptest::collection::vec(prop_oneof![Just(0usize), 1usize..100], 1..6),
            encrypted in any::<bool>(),
            a in any::<u64>(), b in any::<u64>()
        ) {
            let (dek, extents, stored, plain) = object(&parts, encrypted);
            let len = plain.len() as u64;
            prop_assume!(len > 0);
            let (x, y) = (a % len, b % len);
            let (start, end) = (x.min(y), x.max(y) + 1);
            prop_assert_eq!(read(&dek, &extents, &stored, start, end), plain[start as usize..end as usize].to_vec());
            // The stored bytes of a plan are one contiguous span (the read path fetches them in one call).
            let plan = plan_read(&extents, start, end).unwrap();
            for pair in plan.windows(2) {
                prop_assert_eq!(pair[0].stored_offset + pair[0].stored_len, pair[1].stored_offset);
            }
            // Only extents that hold requested bytes, or lie between ones that do, are fetched.
            for r in plan {
                let e = &extents[r.extent];
                prop_assert!(e.plaintext_offset < end && start < e.plaintext_offset + e.plaintext_len);
            }
        }
    }
}
