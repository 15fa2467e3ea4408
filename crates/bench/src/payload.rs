//! Object bodies: one pre-generated random buffer, streamed as `Bytes` slices of itself, so a 4 GiB
//! upload costs no more memory than the buffer. The expected CRC-64 of any length is derived from the
//! buffer's own, so every download is checked without keeping what was sent.

use bytes::Bytes;
use cang_oss::checksum::{crc64, crc64_combine};
use futures::Stream;

use crate::BenchError;

/// Size of one streamed piece.
const PIECE: usize = 1 << 20;

/// A random buffer, repeated to make bodies of any length.
#[derive(Debug, Clone)]
pub struct Payload {
    buffer: Bytes,
    buffer_crc: u64,
}

impl Payload {
    /// A payload over `len` fresh random bytes (incompressible, like real encrypted-at-rest data).
    pub fn random(len: usize) -> Result<Self, BenchError> {
        let mut buf = vec![0u8; len.max(1)];
        getrandom::fill(&mut buf).map_err(|_| BenchError::Random)?;
        Ok(Self::from_bytes(Bytes::from(buf)))
    }

    /// A payload repeating `buffer`, which must not be empty.
    pub fn from_bytes(buffer: Bytes) -> Self {
        let buffer_crc = crc64(&buffer);
        Self { buffer, buffer_crc }
    }

    /// The underlying buffer (what the ceiling measurement hashes and encrypts).
    pub fn buffer(&self) -> &Bytes {
        &self.buffer
    }

    /// The first `len` bytes of the repeated buffer, as `Bytes` pieces sharing the buffer.
    pub fn pieces(&self, len: u64) -> impl Iterator<Item = Bytes> + Send + 'static {
        let buffer = self.buffer.clone();
        let size = buffer.len() as u64;
        let mut at = 0u64;
        std::iter::from_fn(move || {
            if at >= len {
                return None;
            }
            // Both bounds are below `size`, a usize, so the casts are lossless.
            let start = (at % size) as usize;
            let take = (len - at).min((size - start as u64).min(PIECE as u64)) as usize;
            at += take as u64;
            Some(buffer.slice(start..start + take))
        })
    }

    /// The pieces of [`Payload::pieces`] as a stream for an HTTP body.
    pub fn stream(&self, len: u64) -> impl Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static {
        futures::stream::iter(self.pieces(len).map(Ok))
    }

    /// A contiguous copy of the first `len` bytes (for small objects only).
    pub fn prefix(&self, len: usize) -> Bytes {
        if len <= self.buffer.len() {
            return self.buffer.slice(..len);
        }
        let mut out = Vec::with_capacity(len);
        for piece in self.pieces(len as u64) {
            out.extend_from_slice(&piece);
        }
        Bytes::from(out)
    }

    /// CRC-64/XZ of the first `len` bytes, from the buffer's CRC without reading `len` bytes.
    pub fn crc64_of(&self, len: u64) -> u64 {
        let size = self.buffer.len() as u64;
        let whole = len / size;
        let rest = (len % size) as usize;
        let mut crc = 0u64;
        // Doubling: the CRC of 2^k buffers, combined for each set bit of `whole`.
        let mut block_crc = self.buffer_crc;
        let mut block_len = size;
        let mut n = whole;
        while n > 0 {
            if n & 1 == 1 {
                crc = crc64_combine(crc, block_crc, block_len);
            }
            block_crc = crc64_combine(block_crc, block_crc, block_len);
            block_len = block_len.saturating_mul(2);
            n >>= 1;
        }
        crc64_combine(crc, crc64(&self.buffer[..rest]), rest as u64)
    }

    /// CRC-64/XZ of bytes `[start, end)` of the repeated buffer (a range read's expected checksum).
    pub fn crc64_of_range(&self, start: u64, end: u64) -> u64 {
        let mut crc = cang_oss::checksum::Crc64::default();
        let size = self.buffer.len() as u64;
        let mut at = start;
        while at < end {
            let offset = (at % size) as usize;
            let take = (end - at).min(size - offset as u64) as usize;
            crc.update(&self.buffer[offset..offset + take]);
            at += take as u64;
        }
        crc.value()
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn payload() -> Payload {
        Payload::from_bytes(Bytes::from((0..=250u8).cycle().take(1000).collect::<Vec<_>>()))
    }

    fn materialise(p: &Payload, len: u64) -> Vec<u8> {
        p.pieces(len).flat_map(|b| b.to_vec()).collect()
    }

    #[test]
    fn pieces_repeat_the_buffer_and_stop_at_the_length() {
        let p = payload();
        let body = materialise(&p, 2500);
        assert_eq!(body.len(), 2500);
        assert_eq!(&body[..1000], &p.buffer()[..]);
        assert_eq!(&body[1000..2000], &p.buffer()[..]);
        assert_eq!(&body[2000..], &p.buffer()[..500]);
        assert!(p.pieces(0).next().is_none());
        assert_eq!(p.prefix(1500).to_vec(), body[..1500].to_vec());
    }

    #[test]
    fn known_answer_crc() {
        // CRC-64/XZ check value of "123456789".
        let p = Payload::from_bytes(Bytes::from_static(b"123456789"));
        assert_eq!(p.crc64_of(9), 0x995D_C9BB_DF19_39FA);
    }

    proptest! {
        #[test]
        fn derived_crc_equals_the_crc_of_the_bytes(len in 0u64..20_000) {
            let p = payload();
            prop_assert_eq!(p.crc64_of(len), crc64(&materialise(&p, len)));
        }

        #[test]
        fn range_crc_equals_the_crc_of_the_slice(a in 0u64..5000, b in 0u64..5000) {
            let (start, end) = (a.min(b), a.max(b));
            let p = payload();
            let body = materialise(&p, 5000);
            prop_assert_eq!(p.crc64_of_range(start, end), crc64(&body[start as usize..end as usize]));
        }
    }
}
