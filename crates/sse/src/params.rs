//! The per-object cipher parameters stored in metadata, and the arithmetic that maps plaintext byte ranges
//! onto ciphertext segments.

use crate::{SseError, Suite};

/// Format version written by this crate.
pub const FORMAT_VERSION: u8 = 1;
/// Bytes of random salt fed to HKDF for every object.
pub const SALT_LEN: usize = 32;
/// Bytes of random nonce prefix for every object.
pub const NONCE_PREFIX_LEN: usize = 7;
/// Bytes of authentication tag appended to every segment.
pub const TAG_LEN: usize = 16;
/// The default plaintext segment size, 64 KiB.
pub const DEFAULT_SEGMENT_SIZE: u32 = 64 * 1024;
/// Smallest segment size the format accepts.
pub const MIN_SEGMENT_SIZE: u32 = 16;
/// Largest segment size the format accepts (16 MiB).
pub const MAX_SEGMENT_SIZE: u32 = 16 * 1024 * 1024;
/// Segments are numbered by a 32-bit counter in the nonce.
pub const MAX_SEGMENTS: u64 = 1 << 32;
/// Length of [`ObjectCipherParams::encode`]'s output.
pub const ENCODED_LEN: usize = HEADER_LEN + 8 + 8;
/// Length of [`ObjectCipherParams::encode_header`]'s output: the record without its two length fields.
pub const HEADER_LEN: usize = 1 + 1 + 4 + SALT_LEN + NONCE_PREFIX_LEN;

/// Everything needed, besides the data key and the context, to decrypt an object's ciphertext.
///
/// Stored in the object's metadata record, never in the blob, so that ciphertext offsets are plain arithmetic.
/// The salt and nonce prefix are not secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectCipherParams {
    /// AEAD suite.
    pub suite: Suite,
    /// Plaintext bytes per segment (every segment but the last is exactly this long).
    pub segment_size: u32,
    /// HKDF salt, fresh for every object.
    pub salt: [u8; SALT_LEN],
    /// First seven bytes of every segment nonce, fresh for every object.
    pub nonce_prefix: [u8; NONCE_PREFIX_LEN],
    /// Plaintext length of the whole object.
    pub plaintext_len: u64,
}

/// A contiguous run of segments that covers a plaintext byte range, and where that range sits inside it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SegmentRange {
    /// First segment to read.
    pub first_segment: u64,
    /// Last segment to read (inclusive).
    pub last_segment: u64,
    /// Offset of the first segment's ciphertext in the object's ciphertext.
    pub ciphertext_offset: u64,
    /// Ciphertext bytes to read, starting at `ciphertext_offset`.
    pub ciphertext_len: u64,
    /// Plaintext bytes of the first segment to skip before the range starts.
    pub skip: u64,
    /// Plaintext bytes the range holds.
    pub len: u64,
}

impl ObjectCipherParams {
    /// Number of segments in the object: at least one, since an empty object is one empty final segment.
    pub fn segment_count(&self) -> u64 {
        segment_count(self.plaintext_len, self.segment_size)
    }

    /// Total ciphertext bytes of the object (plaintext plus one tag per segment).
    pub fn ciphertext_len(&self) -> u64 {
        self.plaintext_len + self.segment_count() * TAG_LEN as u64
    }

    /// Plaintext bytes in segment `index`.
    pub fn segment_plaintext_len(&self, index: u64) -> u64 {
        let size = u64::from(self.segment_size);
        let last = self.segment_count() - 1;
        if index < last {
            size
        } else {
            self.plaintext_len - last * size
        }
    }

    /// Offset of segment `index`'s ciphertext in the object's ciphertext.
    pub fn segment_ciphertext_offset(&self, index: u64) -> u64 {
        index * (u64::from(self.segment_size) + TAG_LEN as u64)
    }

    /// The segments holding plaintext bytes `start..end`. The range must be non-empty and inside the object.
    pub fn range(&self, start: u64, end: u64) -> Result<SegmentRange, SseError> {
        if start >= end || end > self.plaintext_len {
            return Err(SseError::RangeOutOfBounds {
                start,
                end,
                len: self.plaintext_len,
            });
        }
        let size = u64::from(self.segment_size);
        let first = start / size;
        let last = (end - 1) / size;
        Ok(self.span(first, last, start - first * size, end - start))
    }

    /// The segments of the whole object. For an empty object this is its one empty segment.
    pub fn whole(&self) -> SegmentRange {
        self.span(0, self.segment_count() - 1, 0, self.plaintext_len)
    }

    fn span(&self, first: u64, last: u64, skip: u64, len: u64) -> SegmentRange {
        let offset = self.segment_ciphertext_offset(first);
        let end = self.segment_ciphertext_offset(last) + self.segment_plaintext_len(last) + TAG_LEN as u64;
        SegmentRange {
            first_segment: first,
            last_segment: last,
            ciphertext_offset: offset,
            ciphertext_len: end - offset,
            skip,
            len,
        }
    }

    /// Checks the invariants a decoder relies on.
    pub fn validate(&self) -> Result<(), SseError> {
        validate_segment_size(self.segment_size)?;
        if self.segment_count() > MAX_SEGMENTS {
            return Err(SseError::TooLarge);
        }
        Ok(())
    }

    /// The fixed 61-byte big-endian encoding documented in `docs/format.md`.
    pub fn encode(&self) -> [u8; ENCODED_LEN] {
        let mut out = [0u8; ENCODED_LEN];
        out[0] = FORMAT_VERSION;
        out[1] = self.suite.id();
        out[2..6].copy_from_slice(&self.segment_size.to_be_bytes());
        out[6..38].copy_from_slice(&self.salt);
        out[38..45].copy_from_slice(&self.nonce_prefix);
        out[45..53].copy_from_slice(&self.plaintext_len.to_be_bytes());
        out[53..61].copy_from_slice(&self.segment_count().to_be_bytes());
        out
    }

    /// The first 45 bytes of the record (version, suite, segment size, salt, nonce prefix): everything that
    /// is fixed before the first byte is sealed. A store that records the plaintext length elsewhere keeps
    /// only this and rebuilds the record with [`ObjectCipherParams::decode_header`].
    pub fn encode_header(&self) -> [u8; HEADER_LEN] {
        let mut out = [0u8; HEADER_LEN];
        out.copy_from_slice(&self.encode()[..HEADER_LEN]);
        out
    }

    /// Rebuilds and validates the parameters from [`ObjectCipherParams::encode_header`]'s output and the
    /// plaintext length recorded beside it.
    pub fn decode_header(bytes: &[u8], plaintext_len: u64) -> Result<Self, SseError> {
        if bytes.len() != HEADER_LEN {
            return Err(SseError::InvalidParams("wrong encoded length"));
        }
        let mut record = [0u8; ENCODED_LEN];
        record[..HEADER_LEN].copy_from_slice(bytes);
        record[45..53].copy_from_slice(&plaintext_len.to_be_bytes());
        let size = u32::from_be_bytes(array(&bytes[2..6]));
        validate_segment_size(size)?;
        record[53..61].copy_from_slice(&segment_count(plaintext_len, size).to_be_bytes());
        Self::decode(&record)
    }

    /// Parses and validates [`ObjectCipherParams::encode`]'s output.
    pub fn decode(bytes: &[u8]) -> Result<Self, SseError> {
        let bytes: &[u8; ENCODED_LEN] = bytes
            .try_into()
            .map_err(|_| SseError::InvalidParams("wrong encoded length"))?;
        if bytes[0] != FORMAT_VERSION {
            return Err(SseError::InvalidParams("unsupported format version"));
        }
        let suite = Suite::from_id(bytes[1]).ok_or(SseError::InvalidParams("unknown suite"))?;
        let params = Self {
            suite,
            segment_size: u32::from_be_bytes(array(&bytes[2..6])),
            salt: array(&bytes[6..38]),
            nonce_prefix: array(&bytes[38..45]),
            plaintext_len: u64::from_be_bytes(array(&bytes[45..53])),
        };
        params.validate()?;
        if u64::from_be_bytes(array(&bytes[53..61])) != params.segment_count() {
            return Err(SseError::InvalidParams("segment count does not match length"));
        }
        Ok(params)
    }
}

/// Segments needed for `plaintext_len` bytes: `max(1, ceil(len / size))`.
pub fn segment_count(plaintext_len: u64, segment_size: u32) -> u64 {
    plaintext_len.div_ceil(u64::from(segment_size)).max(1)
}

pub(crate) fn validate_segment_size(segment_size: u32) -> Result<(), SseError> {
    if (MIN_SEGMENT_SIZE..=MAX_SEGMENT_SIZE).contains(&segment_size) {
        Ok(())
    } else {
        Err(SseError::InvalidParams("segment size out of range"))
    }
}

fn array<const N: usize>(bytes: &[u8]) -> [u8; N] {
    let mut out = [0u8; N];
    out.copy_from_slice(bytes);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn params(len: u64, size: u32) -> ObjectCipherParams {
        ObjectCipherParams {
            suite: Suite::Aes256Gcm,
            segment_size: size,
            salt: [7; SALT_LEN],
            nonce_prefix: [9; NONCE_PREFIX_LEN],
            plaintext_len: len,
        }
    }

    #[test]
    fn empty_object_is_one_empty_segment() {
        let p = params(0, 64);
        assert_eq!(p.segment_count(), 1);
        assert_eq!(p.ciphertext_len(), 16);
        assert_eq!(
            p.whole(),
            SegmentRange {
                first_segment: 0,
                last_segment: 0,
                ciphertext_offset: 0,
                ciphertext_len: 16,
                skip: 0,
                len: 0
            }
        );
        assert!(p.range(0, 1).is_err());
    }

    #[test]
    fn exact_multiple_has_no_empty_trailer() {
        let p = params(128, 64);
        assert_eq!(p.segment_count(), 2);
        assert_eq!(p.segment_plaintext_len(1), 64);
        assert_eq!(p.ciphertext_len(), 160);
    }

    #[test]
    fn one_byte_of_a_huge_object_touches_one_segment() {
        let p = params(10 << 30, DEFAULT_SEGMENT_SIZE);
        let r = p.range(5 << 30, (5 << 30) + 1).unwrap();
        assert_eq!(r.first_segment, r.last_segment);
        assert_eq!(r.ciphertext_len, u64::from(DEFAULT_SEGMENT_SIZE) + 16);
        let straddle = p.range(65535, 65537).unwrap();
        assert_eq!(straddle.last_segment - straddle.first_segment, 1);
    }

    #[test]
    fn encoding_known_answer() {
        let p = params(70_000, 65_536);
        let enc = p.encode();
        assert_eq!(enc.len(), 61);
        assert_eq!(&enc[..6], &[1, 1, 0, 1, 0, 0]);
        assert_eq!(
            &enc[45..],
            &[0, 0, 0, 0, 0, 1, 0x11, 0x70, 0, 0, 0, 0, 0, 0, 0, 2]
        );
        assert_eq!(ObjectCipherParams::decode(&enc).unwrap(), p);
    }

    #[test]
    fn header_form_round_trips() {
        let p = params(70_000, 65_536);
        let header = p.encode_header();
        assert_eq!(&header[..], &p.encode()[..45]);
        assert_eq!(ObjectCipherParams::decode_header(&header, 70_000).unwrap(), p);
        assert!(ObjectCipherParams::decode_header(&header[..44], 70_000).is_err());
        let mut bad = header;
        bad[1] = 7;
        assert!(ObjectCipherParams::decode_header(&bad, 1).is_err());
    }

    #[test]
    fn decode_rejects_inconsistent_records() {
        let good = params(1000, 64).encode();
        let mut bad_version = good;
        bad_version[0] = 2;
        let mut bad_suite = good;
        bad_suite[1] = 9;
        let mut bad_size = good;
        bad_size[2..6].copy_from_slice(&3u32.to_be_bytes());
        let mut bad_count = good;
        bad_count[60] ^= 1;
        for bad in [&bad_version[..], &bad_suite, &bad_size, &bad_count, &good[..60]] {
            assert!(ObjectCipherParams::decode(bad).is_err());
        }
        let huge = params(u64::MAX / 2, 16).encode();
        assert_eq!(ObjectCipherParams::decode(&huge), Err(SseError::TooLarge));
    }

    proptest! {
        #[test]
        fn decode_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..80)) {
            let _ = ObjectCipherParams::decode(&bytes);
        }

        #[test]
        fn ranges_cover_exactly_the_requested_bytes(
            len in 1u64..5000, size in 16u32..300, a in any::<u64>(), b in any::<u64>()
        ) {
            let p = params(len, size);
            let (start, end) = { let x = a % len; let y = b % len; (x.min(y), x.max(y) + 1) };
            let r = p.range(start, end).unwrap();
            let s = u64::from(size);
            prop_assert_eq!(r.first_segment * s + r.skip, start);
            prop_assert_eq!(r.len, end - start);
            prop_assert!(r.first_segment * s <= start && start < (r.first_segment + 1) * s);
            prop_assert!(r.last_segment * s < end && end <= (r.last_segment + 1) * s);
            let plain: u64 = (r.first_segment..=r.last_segment).map(|i| p.segment_plaintext_len(i)).sum();
            prop_assert_eq!(r.ciphertext_len, plain + (r.last_segment - r.first_segment + 1) * 16);
            prop_assert!(r.ciphertext_offset + r.ciphertext_len <= p.ciphertext_len());
            prop_assert!(r.last_segment - r.first_segment <= (end - start - 1) / s + 1);
        }
    }
}
