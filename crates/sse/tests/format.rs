//! The format against its known-answer vectors (produced by the independent Python implementation), and
//! property tests: any range decrypts to the plaintext, and any tampering is an error, never wrong bytes.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test and benchmark code states its expectations this way

use cang_sse::{
    DataKey, ObjectCipherParams, RangeDecryptor, SseError, StreamEncryptor, Suite, decrypt_range, encrypt_all,
};
use proptest::prelude::*;
use sha2::{Digest, Sha256};

fn pattern(n: usize) -> Vec<u8> {
    (0..n).map(|i| ((i * 7 + 3) % 251) as u8).collect()
}

fn hex_field<const N: usize>(v: &serde_json::Value, field: &str) -> [u8; N] {
    let bytes = hex::decode(v[field].as_str().unwrap()).unwrap();
    bytes.try_into().unwrap()
}

#[test]
fn known_answer_vectors() {
    let vectors: Vec<serde_json::Value> =
        serde_json::from_str(include_str!("vectors.json")).expect("vectors.json parses");
    assert!(vectors.len() >= 7);
    for v in &vectors {
        let name = v["name"].as_str().unwrap();
        let suite = Suite::from_id(v["suite"].as_u64().unwrap() as u8).unwrap();
        let size = v["segment_size"].as_u64().unwrap() as u32;
        let dek = DataKey::from_bytes(hex_field(v, "dek"));
        let context = hex::decode(v["context"].as_str().unwrap()).unwrap();
        let plaintext = pattern(v["plaintext_len"].as_u64().unwrap() as usize);
        let mut enc = StreamEncryptor::with_nonce_material(
            &dek,
            suite,
            size,
            hex_field(v, "salt"),
            hex_field(v, "nonce_prefix"),
            &context,
        )
        .unwrap();
        let mut blob = Vec::new();
        // Feed in uneven chunks so the vector also exercises chunk reassembly.
        for chunk in plaintext.chunks(7919) {
            enc.push(chunk, &mut blob).unwrap();
        }
        let params = enc.finish(&mut blob).unwrap();
        assert_eq!(
            hex::encode(params.encode()),
            v["record"].as_str().unwrap(),
            "{name}: record"
        );
        assert_eq!(
            hex::encode(Sha256::digest(&blob)),
            v["blob_sha256"].as_str().unwrap(),
            "{name}: blob"
        );
        if let Some(expected) = v.get("blob") {
            assert_eq!(
                hex::encode(&blob),
                expected.as_str().unwrap(),
                "{name}: blob bytes"
            );
        }
        let decoded = ObjectCipherParams::decode(&params.encode()).unwrap();
        let back = decrypt_range(&dek, &decoded, &context, &blob, 0, decoded.plaintext_len).unwrap();
        assert_eq!(back, plaintext, "{name}: decrypt");
    }
}

fn suites() -> impl Strategy<Value = Suite> {
    prop_oneof![Just(Suite::Aes256Gcm), Just(Suite::Sm4Gcm)]
}

/// Lengths from empty to several segments plus one, with segment sizes small enough to make many segments.
fn object() -> impl Strategy<Value = (Suite, u32, Vec<u8>)> {
    (suites(), 16u32..48).prop_flat_map(|(suite, size)| {
        let max = size as usize * 5 + 1;
        (
            Just(suite),
            Just(size),
            proptest::collection::vec(any::<u8>(), 0..=max),
        )
    })
}

fn seal(suite: Suite, size: u32, plaintext: &[u8]) -> (DataKey, ObjectCipherParams, Vec<u8>) {
    let dek = DataKey::generate().unwrap();
    let (params, blob) = encrypt_all(&dek, suite, size, b"ctx", plaintext).unwrap();
    (dek, params, blob)
}

/// Every way of reading an object must fail; returns the first success, if any, for the assertion message.
fn every_read_fails(dek: &DataKey, params: &ObjectCipherParams, blob: &[u8]) -> Result<(), String> {
    if let Ok(bytes) = decrypt_range(dek, params, b"ctx", blob, 0, params.plaintext_len) {
        return Err(format!("whole read returned {} bytes", bytes.len()));
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn any_range_decrypts_to_the_plaintext(
        (suite, size, plaintext) in object(), a in any::<usize>(), b in any::<usize>(), chunk in 1usize..200
    ) {
        let (dek, params, blob) = seal(suite, size, &plaintext);
        prop_assert_eq!(blob.len() as u64, params.ciphertext_len());
        let whole = decrypt_range(&dek, &params, b"ctx", &blob, 0, plaintext.len() as u64).unwrap();
        prop_assert_eq!(&whole, &plaintext);
        if plaintext.is_empty() {
            return Ok(());
        }
        let (x, y) = (a % plaintext.len(), b % plaintext.len());
        let (start, end) = (x.min(y), x.max(y) + 1);
        let range = params.range(start as u64, end as u64).unwrap();
        // Stream exactly the ciphertext the range asks for, in arbitrary chunks.
        let from = range.ciphertext_offset as usize;
        let wanted = &blob[from..from + range.ciphertext_len as usize];
        let mut dec = RangeDecryptor::new(&dek, &params, range, b"ctx").unwrap();
        let mut out = Vec::new();
        for piece in wanted.chunks(chunk) {
            dec.push(piece, &mut out).unwrap();
        }
        dec.finish().unwrap();
        prop_assert_eq!(&out[..], &plaintext[start..end]);
    }

    #[test]
    fn flipping_any_bit_fails((suite, size, plaintext) in object(), pos in any::<usize>(), bit in 0u8..8) {
        let (dek, params, mut blob) = seal(suite, size, &plaintext);
        let pos = pos % blob.len();
        blob[pos] ^= 1 << bit;
        prop_assert!(every_read_fails(&dek, &params, &blob).is_ok());
        // The segment holding the flipped bit fails on its own, too.
        let segment = pos as u64 / (u64::from(size) + 16);
        let plain_start = segment * u64::from(size);
        if plain_start < params.plaintext_len {
            let end = (plain_start + u64::from(size)).min(params.plaintext_len);
            let err = decrypt_range(&dek, &params, b"ctx", &blob, plain_start, end).unwrap_err();
            prop_assert_eq!(err, SseError::SegmentAuthentication { segment });
        }
    }

    #[test]
    fn segment_surgery_fails(
        (suite, size, plaintext) in object(), i in any::<usize>(), j in any::<usize>(), op in 0u8..4
    ) {
        let (dek, params, blob) = seal(suite, size, &plaintext);
        let seg = size as usize + 16;
        let segments: Vec<&[u8]> = blob.chunks(seg).collect();
        let n = segments.len();
        let (i, j) = (i % n, j % n);
        let mut parts = segments.clone();
        match op {
            0 => { parts.remove(i); }
            1 => { parts.insert(i, segments[i]); }
            2 => {
                prop_assume!(i != j && segments[i] != segments[j]);
                parts.swap(i, j);
            }
            _ => { parts.truncate(i); }
        }
        let tampered: Vec<u8> = parts.concat();
        prop_assume!(tampered != blob);
        prop_assert!(every_read_fails(&dek, &params, &tampered).is_ok());
        // An attacker who also rewrites the length in the metadata to match gets nowhere either.
        let total: u64 = parts.iter().map(|p| p.len() as u64 - 16).sum();
        let forged = ObjectCipherParams { plaintext_len: total, ..params.clone() };
        if forged.ciphertext_len() == tampered.len() as u64 {
            prop_assert!(every_read_fails(&dek, &forged, &tampered).is_ok());
        }
    }

    #[test]
    fn splicing_from_another_object_under_the_same_key_fails(
        suite in suites(), size in 16u32..48, len in 1usize..200, pick in any::<usize>()
    ) {
        let dek = DataKey::generate().unwrap();
        let a = pattern(len);
        let b: Vec<u8> = a.iter().map(|x| x ^ 0x5A).collect();
        let (pa, blob_a) = encrypt_all(&dek, suite, size, b"ctx", &a).unwrap();
        let (_, blob_b) = encrypt_all(&dek, suite, size, b"ctx", &b).unwrap();
        let seg = size as usize + 16;
        let k = pick % blob_a.chunks(seg).count();
        let mut spliced = blob_a.clone();
        let from = k * seg;
        let to = (from + seg).min(spliced.len());
        spliced[from..to].copy_from_slice(&blob_b[from..to]);
        prop_assert!(every_read_fails(&dek, &pa, &spliced).is_ok());
    }

    #[test]
    fn changing_any_metadata_field_fails(
        (suite, size, plaintext) in object(), field in 0usize..6, delta in 1u64..1000
    ) {
        let (dek, params, blob) = seal(suite, size, &plaintext);
        let mut forged = params.clone();
        match field {
            0 => forged.suite = if suite == Suite::Aes256Gcm { Suite::Sm4Gcm } else { Suite::Aes256Gcm },
            1 => forged.segment_size = 16 + ((u64::from(size) - 16 + delta) % 32) as u32,
            2 => forged.salt[(delta % 32) as usize] ^= 1,
            3 => forged.nonce_prefix[(delta % 7) as usize] ^= 1,
            4 => forged.plaintext_len = params.plaintext_len + delta,
            _ => forged.plaintext_len = params.plaintext_len.saturating_sub(delta),
        }
        prop_assume!(forged != params);
        prop_assert!(every_read_fails(&dek, &forged, &blob).is_ok());
        // Through the encoded record as well: decoding may refuse it outright, or the read fails.
        if let Ok(decoded) = ObjectCipherParams::decode(&forged.encode()) {
            prop_assert!(every_read_fails(&dek, &decoded, &blob).is_ok());
        }
        // A wrong data key or context fails just the same.
        let other = DataKey::generate().unwrap();
        prop_assert!(every_read_fails(&other, &params, &blob).is_ok());
        prop_assert!(decrypt_range(&dek, &params, b"ctY", &blob, 0, params.plaintext_len).is_err());
    }

    #[test]
    fn arbitrary_ciphertext_never_panics(
        (suite, size, plaintext) in object(), junk in proptest::collection::vec(any::<u8>(), 0..400),
        a in any::<u64>(), b in any::<u64>()
    ) {
        let (dek, params, _) = seal(suite, size, &plaintext);
        let _ = decrypt_range(&dek, &params, b"ctx", &junk, a.min(b), a.max(b));
        let _ = decrypt_range(&dek, &params, b"ctx", &junk, 0, params.plaintext_len);
    }
}

#[test]
fn streamed_output_equals_one_shot_output_for_any_chunking() {
    let dek = DataKey::from_bytes([3; 32]);
    let body = pattern(100_003);
    let mut reference = Vec::new();
    let mut enc =
        StreamEncryptor::with_nonce_material(&dek, Suite::Aes256Gcm, 4096, [1; 32], [2; 7], b"c").unwrap();
    enc.push(&body, &mut reference).unwrap();
    enc.finish(&mut reference).unwrap();
    for chunk in [1, 15, 4095, 4096, 4097, 65536] {
        let mut enc =
            StreamEncryptor::with_nonce_material(&dek, Suite::Aes256Gcm, 4096, [1; 32], [2; 7], b"c")
                .unwrap();
        let mut out = Vec::new();
        for piece in body.chunks(chunk) {
            enc.push(piece, &mut out).unwrap();
        }
        enc.finish(&mut out).unwrap();
        assert_eq!(out, reference, "chunk size {chunk}");
    }
}

#[test]
fn truncated_range_stream_is_reported() {
    let dek = DataKey::generate().unwrap();
    let (params, blob) = encrypt_all(&dek, Suite::Aes256Gcm, 16, b"", &pattern(100)).unwrap();
    let range = params.range(10, 90).unwrap();
    let mut dec = RangeDecryptor::new(&dek, &params, range, b"").unwrap();
    let mut out = Vec::new();
    let from = range.ciphertext_offset as usize;
    dec.push(&blob[from..from + 40], &mut out).unwrap();
    assert!(matches!(dec.finish(), Err(SseError::Truncated { .. })));
}

#[test]
fn salts_and_nonce_prefixes_are_fresh_per_object() {
    let dek = DataKey::generate().unwrap();
    let (a, blob_a) = encrypt_all(&dek, Suite::Aes256Gcm, 64, b"", b"same bytes").unwrap();
    let (b, blob_b) = encrypt_all(&dek, Suite::Aes256Gcm, 64, b"", b"same bytes").unwrap();
    assert_ne!(a.salt, b.salt);
    assert_ne!(a.nonce_prefix, b.nonce_prefix);
    assert_ne!(blob_a, blob_b);
}
