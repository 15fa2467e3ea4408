//! The machine's ceiling, measured in the same run as the benchmark: each per-byte stage of the data
//! path (MD5, CRC-64, AES-256-GCM and SM4-GCM with Cang's own format code, a loopback TCP copy) over the
//! same random bytes the objects carry. One object stream runs its stages one after another, so its
//! bound is `1 / Σ (1 / stage rate)`.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::time::Instant;

use md5::{Digest, Md5};
use serde::Serialize;

use crate::BenchError;
use crate::payload::Payload;
use crate::stats::gb_per_s;

/// Segment size the gateway uses by default.
const SEGMENT: usize = 64 << 10;

/// Single-thread rates of each stage, GB/s.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Ceiling {
    /// MD5 (the `md-5` crate the gateway uses for ETags).
    pub md5_gbps: f64,
    /// CRC-64/XZ (`cang_oss::checksum`).
    pub crc64_gbps: f64,
    /// AES-256-GCM segments (`cang_sse`).
    pub aes_gcm_gbps: f64,
    /// SM4-GCM segments (`cang_sse`).
    pub sm4_gcm_gbps: f64,
    /// Whether SM4 ran on its vector path (AVX-512 and GFNI) rather than the portable one.
    pub sm4_vectorised: bool,
    /// Loopback TCP copy, one connection.
    pub loopback_gbps: f64,
    /// Logical CPUs of this machine.
    pub cpus: usize,
}

/// Which stages an object stream passes through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cipher {
    /// No encryption.
    None,
    /// AES-256-GCM.
    Aes,
    /// SM4-GCM.
    Sm4,
}

impl Ceiling {
    /// Measures every stage over `bytes` bytes of `payload` (SM4 over an eighth: it is 30× slower).
    pub fn measure(payload: &Payload, bytes: u64) -> Result<Self, BenchError> {
        let buffer = payload.buffer();
        let md5_gbps = timed(bytes, |len| {
            let mut md5 = Md5::new();
            for piece in payload.pieces(len) {
                md5.update(&piece);
            }
            std::hint::black_box(md5.finalize());
            Ok(())
        })?;
        let crc64_gbps = timed(bytes, |len| {
            let mut crc = cang_oss::checksum::Crc64::default();
            for piece in payload.pieces(len) {
                crc.update(&piece);
            }
            std::hint::black_box(crc.value());
            Ok(())
        })?;
        let mut scratch = buffer.to_vec();
        let aes_gcm_gbps = timed(bytes, |len| seal(cang_sse::Suite::Aes256Gcm, &mut scratch, len))?;
        let sm4_gcm_gbps = timed(bytes, |len| seal(cang_sse::Suite::Sm4Gcm, &mut scratch, len))?;
        let loopback_gbps = timed(bytes, |len| loopback_copy(payload, len))?;
        Ok(Self {
            md5_gbps,
            crc64_gbps,
            aes_gcm_gbps,
            sm4_gcm_gbps,
            sm4_vectorised: cang_sse::sm4_is_vectorised(),
            loopback_gbps,
            cpus: std::thread::available_parallelism().map_or(1, usize::from),
        })
    }

    fn cipher_rate(&self, cipher: Cipher) -> Option<f64> {
        match cipher {
            Cipher::None => None,
            Cipher::Aes => Some(self.aes_gcm_gbps),
            Cipher::Sm4 => Some(self.sm4_gcm_gbps),
        }
    }

    /// One PUT stream: receive (a loopback copy), MD5 + CRC-64 of the plaintext, encrypt.
    pub fn put_stream_bound(&self, cipher: Cipher) -> f64 {
        serial(&[
            Some(self.loopback_gbps),
            Some(self.md5_gbps),
            Some(self.crc64_gbps),
            self.cipher_rate(cipher),
        ])
    }

    /// One GET stream: decrypt (at the encrypt rate, as GCM is symmetric), CRC-64, send (a loopback copy).
    pub fn get_stream_bound(&self, cipher: Cipher) -> f64 {
        serial(&[
            Some(self.loopback_gbps),
            Some(self.crc64_gbps),
            self.cipher_rate(cipher),
        ])
    }

    /// `streams` parallel streams: at most one stream per CPU runs at the per-stream bound.
    pub fn parallel_bound(&self, per_stream: f64, streams: usize) -> f64 {
        per_stream * streams.clamp(1, self.cpus.max(1)) as f64
    }
}

/// Rate of stages run one after another on the same bytes: `1 / Σ 1/rate`.
pub fn serial(rates: &[Option<f64>]) -> f64 {
    let ns_per_byte: f64 = rates.iter().flatten().map(|r| 1.0 / r).sum();
    if ns_per_byte > 0.0 { 1.0 / ns_per_byte } else { 0.0 }
}

/// GB/s of `work(bytes)`.
fn timed(bytes: u64, mut work: impl FnMut(u64) -> Result<(), BenchError>) -> Result<f64, BenchError> {
    // A short warm-up brings the code and the buffer into cache.
    work((bytes / 16).max(1))?;
    let started = Instant::now();
    work(bytes)?;
    Ok(gb_per_s(bytes, started.elapsed()))
}

/// Seals `len` bytes as segments of `SEGMENT` bytes, cycling over `scratch` in place.
fn seal(suite: cang_sse::Suite, scratch: &mut [u8], len: u64) -> Result<(), BenchError> {
    let dek = cang_sse::DataKey::generate().map_err(|e| BenchError::Crypto(e.to_string()))?;
    let key = cang_sse::SegmentKey::derive(&dek, suite, SEGMENT as u32, &[7; 32], &[9; 7], b"bench/ceiling")
        .map_err(|e| BenchError::Crypto(e.to_string()))?;
    let segments_in_scratch = (scratch.len() / SEGMENT).max(1);
    let count = len.div_ceil(SEGMENT as u64);
    for index in 0..count {
        let slot = (index as usize) % segments_in_scratch;
        let end = ((slot + 1) * SEGMENT).min(scratch.len());
        let segment = scratch
            .get_mut(slot * SEGMENT..end)
            .ok_or(BenchError::Crypto("segment outside the buffer".into()))?;
        let tag = key
            .seal_in_place(index, index + 1 == count, segment)
            .map_err(|e| BenchError::Crypto(e.to_string()))?;
        std::hint::black_box(tag);
    }
    Ok(())
}

/// Sends `len` bytes of `payload` over one loopback connection and reads them back on another thread.
fn loopback_copy(payload: &Payload, len: u64) -> Result<(), BenchError> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
    let addr = listener.local_addr()?;
    let pieces: Vec<bytes::Bytes> = payload.pieces(len).collect();
    let sender = std::thread::spawn(move || -> std::io::Result<()> {
        let mut stream = TcpStream::connect(addr)?;
        stream.set_nodelay(true)?;
        for piece in pieces {
            stream.write_all(&piece)?;
        }
        Ok(())
    });
    let (mut stream, _) = listener.accept()?;
    let mut buf = vec![0u8; 1 << 20];
    let mut received = 0u64;
    loop {
        let n = stream.read(&mut buf)?;
        if n == 0 {
            break;
        }
        received += n as u64;
    }
    sender
        .join()
        .map_err(|_| BenchError::Io(std::io::Error::other("loopback sender panicked")))??;
    if received != len {
        return Err(BenchError::Integrity(format!(
            "loopback copy moved {received} of {len} bytes"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serial_rate_is_the_harmonic_combination() {
        // 1 ns/B + 1 ns/B = 2 ns/B = 0.5 GB/s; a missing stage adds nothing.
        assert!((serial(&[Some(1.0), Some(1.0), None]) - 0.5).abs() < 1e-12);
        assert!((serial(&[Some(2.0), Some(2.0)]) - 1.0).abs() < 1e-12);
        assert_eq!(serial(&[None]), 0.0);
    }

    #[test]
    fn bounds_follow_the_stages() -> Result<(), BenchError> {
        let payload = Payload::random(1 << 20)?;
        let c = Ceiling::measure(&payload, 4 << 20)?;
        for rate in [
            c.md5_gbps,
            c.crc64_gbps,
            c.aes_gcm_gbps,
            c.sm4_gcm_gbps,
            c.loopback_gbps,
        ] {
            assert!(rate > 0.0 && rate.is_finite());
        }
        assert!(c.put_stream_bound(Cipher::Aes) < c.put_stream_bound(Cipher::None));
        assert!(c.put_stream_bound(Cipher::Aes) < c.md5_gbps);
        assert!(c.get_stream_bound(Cipher::Aes) > c.put_stream_bound(Cipher::Aes));
        assert_eq!(c.parallel_bound(1.0, 64), c.cpus as f64);
        assert_eq!(c.parallel_bound(1.0, 1), 1.0);
        Ok(())
    }
}
