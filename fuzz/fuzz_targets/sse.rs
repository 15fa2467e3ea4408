//! The object decryptor on arbitrary records and ciphertext: a record header that decodes and any range of it
//! decrypt to an error, never a panic, unless the bytes are the genuine ciphertext; and genuine objects (any
//! plaintext, segment size, suite) read back exactly, whole and in any range, with their ciphertext changed
//! in any one byte refused.
#![no_main]

use cang_sse::{
    DataKey, HEADER_LEN, MIN_SEGMENT_SIZE, ObjectCipherParams, Suite, decrypt_range, encrypt_all,
};
use libfuzzer_sys::fuzz_target;

const CONTEXT: &[u8] = b"bucket/object";

fn u64_at(data: &[u8], at: usize) -> u64 {
    let mut bytes = [0u8; 8];
    for (i, b) in data.iter().skip(at).take(8).enumerate() {
        bytes[i] = *b;
    }
    u64::from_le_bytes(bytes)
}

fuzz_target!(|data: &[u8]| {
    let dek = DataKey::from_bytes([7; 32]);
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    if selector & 1 == 0 {
        // A stored record and ciphertext the fuzzer wrote.
        if rest.len() < HEADER_LEN + 24 {
            return;
        }
        let (header, rest) = rest.split_at(HEADER_LEN);
        let plaintext_len = u64_at(rest, 0) % (1 << 24);
        let (start, end) = (u64_at(rest, 8) % (plaintext_len + 1), u64_at(rest, 16) % (plaintext_len + 1));
        let ciphertext = &rest[24..];
        if let Ok(params) = ObjectCipherParams::decode_header(header, plaintext_len) {
            let (start, end) = (start.min(end), start.max(end));
            if let Ok(plain) = decrypt_range(&dek, &params, CONTEXT, ciphertext, start, end) {
                // (start == end is only the whole of an empty object.)
                // Only genuine ciphertext authenticates; a forgery here is a broken AEAD binding.
                assert_eq!(plain.len() as u64, end - start);
            }
        }
        return;
    }
    // A genuine object: the fuzzer picks suite, segment size, plaintext and a range.
    let suite = if selector & 2 == 0 { Suite::Aes256Gcm } else { Suite::Sm4Gcm };
    let segment_size = MIN_SEGMENT_SIZE + (u64_at(rest, 0) % 4096) as u32;
    let plaintext = rest.get(16..).unwrap_or_default();
    let Ok((params, ciphertext)) = encrypt_all(&dek, suite, segment_size, CONTEXT, plaintext) else {
        panic!("encrypting {} bytes failed", plaintext.len());
    };
    let len = plaintext.len() as u64;
    let whole = decrypt_range(&dek, &params, CONTEXT, &ciphertext, 0, len).expect("whole object");
    assert_eq!(whole, plaintext);
    let (a, b) = (u64_at(rest, 8) % (len + 1), (u64_at(rest, 8) >> 32) % (len + 1));
    let (start, end) = (a.min(b), a.max(b));
    if start < end {
        let part = decrypt_range(&dek, &params, CONTEXT, &ciphertext, start, end).expect("a range");
        assert_eq!(part, plaintext[start as usize..end as usize]);
    } else if len > 0 {
        // An empty range of a non-empty object is the caller's to avoid (the gateway never asks for one):
        // refused, not read. (Of an empty object it is the whole object, read above.)
        assert!(decrypt_range(&dek, &params, CONTEXT, &ciphertext, start, end).is_err());
    }
    if !ciphertext.is_empty() {
        let mut forged = ciphertext.clone();
        let at = (u64_at(rest, 0) as usize) % forged.len();
        forged[at] ^= 0x01;
        assert!(decrypt_range(&dek, &params, CONTEXT, &forged, 0, len).is_err(), "a flipped byte at {at}");
    }
    // Another object's context never opens it.
    assert!(decrypt_range(&dek, &params, b"bucket/other", &ciphertext, 0, len).is_err());
});
