//! Integrity values OSS returns: CRC-64/XZ as an unsigned decimal (`x-oss-hash-crc64ecma`, §6.7), its
//! combination across multipart parts, and the ETag formats of §6.6.

use std::fmt::Write as _;

use crc_fast::{CrcAlgorithm, Digest};
use md5::{Digest as _, Md5};

/// The `x-oss-hash-crc64ecma` header.
pub const CRC64_HEADER: &str = "x-oss-hash-crc64ecma";

/// CRC-64/XZ of `data` (poly 0x42F0E1EBA9EA3693, reflected, init and xor-out all ones).
pub fn crc64(data: &[u8]) -> u64 {
    crc_fast::checksum(CrcAlgorithm::Crc64Xz, data)
}

/// CRC-64/XZ of `a ‖ b`, given `crc64(a)`, `crc64(b)` and `b`'s length.
pub fn crc64_combine(crc_a: u64, crc_b: u64, len_b: u64) -> u64 {
    crc_fast::checksum_combine(CrcAlgorithm::Crc64Xz, crc_a, crc_b, len_b)
}

/// CRC-64/XZ of the concatenation of parts given as `(crc, length)` in part order: the value
/// CompleteMultipartUpload reports and the SDK uploaders recompute.
pub fn crc64_of_parts(parts: impl IntoIterator<Item = (u64, u64)>) -> u64 {
    parts
        .into_iter()
        .fold(0, |acc, (crc, len)| crc64_combine(acc, crc, len))
}

/// A streaming CRC-64/XZ over an object body.
#[derive(Clone)]
pub struct Crc64 {
    digest: Digest,
}

impl std::fmt::Debug for Crc64 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Crc64").field("value", &self.value()).finish()
    }
}

impl Default for Crc64 {
    fn default() -> Self {
        Self {
            digest: Digest::new(CrcAlgorithm::Crc64Xz),
        }
    }
}

impl Crc64 {
    /// Adds bytes.
    pub fn update(&mut self, data: &[u8]) {
        self.digest.update(data);
    }

    /// The CRC of everything so far.
    pub fn value(&self) -> u64 {
        self.digest.finalize()
    }
}

/// The header value: an unsigned decimal, never hex or signed.
pub fn crc64_header_value(crc: u64) -> String {
    crc.to_string()
}

/// The ETag of a normal object or a part: `"` + uppercase hex MD5 + `"`.
pub fn etag_from_md5(md5: &[u8; 16]) -> String {
    format!("\"{}\"", upper_hex(md5))
}

/// The ETag of a multipart object: `"<uppercase hex MD5 of the concatenated binary part MD5s>-<parts>"`.
pub fn multipart_etag(part_md5s: &[[u8; 16]]) -> String {
    let mut hasher = Md5::new();
    for md5 in part_md5s {
        hasher.update(md5);
    }
    let digest: [u8; 16] = hasher.finalize().into();
    format!("\"{}-{}\"", upper_hex(&digest), part_md5s.len())
}

/// The ETag without surrounding quotes, for comparisons (`"ABC"`, `ABC` and `W/"ABC"` compare equal).
pub fn etag_unquoted(etag: &str) -> &str {
    let etag = etag.trim();
    let etag = etag.strip_prefix("W/").unwrap_or(etag);
    etag.strip_prefix('"')
        .and_then(|e| e.strip_suffix('"'))
        .unwrap_or(etag)
}

/// Whether two ETags name the same content: quotes and case do not matter (§7.4).
pub fn etags_match(a: &str, b: &str) -> bool {
    etag_unquoted(a).eq_ignore_ascii_case(etag_unquoted(b))
}

fn upper_hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        // Writing into a String cannot fail.
        let _ = write!(out, "{b:02X}");
    }
    out
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn md5_of(data: &[u8]) -> [u8; 16] {
        Md5::digest(data).into()
    }

    #[test]
    fn crc64_check_values() {
        assert_eq!(crc64(b""), 0);
        assert_eq!(crc64_header_value(crc64(b"123456789")), "11051210869376104954");
        assert_eq!(crc64(b"hello world"), 5_981_764_153_023_615_706);
        let mut streaming = Crc64::default();
        streaming.update(b"1234");
        streaming.update(b"56789");
        assert_eq!(streaming.value(), 11_051_210_869_376_104_954);
    }

    #[test]
    fn combining_parts_equals_crc_of_the_whole() {
        let parts: [&[u8]; 3] = [b"hello ", b"", b"world"];
        let combined = crc64_of_parts(parts.iter().map(|p| (crc64(p), p.len() as u64)));
        assert_eq!(combined, crc64(b"hello world"));
        assert_eq!(crc64_of_parts([]), 0);
    }

    #[test]
    fn etag_formats() {
        assert_eq!(
            etag_from_md5(&md5_of(b"hello")),
            "\"5D41402ABC4B2A76B9719D911017C592\""
        );
        assert_eq!(
            etag_from_md5(&md5_of(b"")),
            "\"D41D8CD98F00B204E9800998ECF8427E\""
        );
        let multipart = multipart_etag(&[md5_of(b"a"), md5_of(b"b")]);
        assert!(multipart.starts_with('"') && multipart.ends_with("-2\""));
        assert_eq!(multipart.len(), 1 + 32 + 2 + 1);
        assert!(etags_match(
            "\"5d41402abc4b2a76b9719d911017c592\"",
            "5D41402ABC4B2A76B9719D911017C592"
        ));
        assert!(!etags_match("\"A\"", "\"B\""));
    }

    proptest! {
        #[test]
        fn crc_combination_matches_concatenation(a in prop::collection::vec(any::<u8>(), 0..300), b in prop::collection::vec(any::<u8>(), 0..300)) {
            let mut whole = a.clone();
            whole.extend_from_slice(&b);
            prop_assert_eq!(crc64_combine(crc64(&a), crc64(&b), b.len() as u64), crc64(&whole));
        }
    }
}
