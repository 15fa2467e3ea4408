//! Throughput of the format against raw AES-256-GCM over the same bytes (64 KiB segments).
//!
//! `cargo bench -p cang-sse`. `raw-aes-256-gcm` is the `aes-gcm` crate, which the format used before it moved
//! to ring's AES-256-GCM (`raw-ring-aes-256-gcm`). The format's overhead is the per-object HKDF, the nonce construction and the
//! segment bookkeeping; the target is ≤ 5 % below raw AES-256-GCM. The SM4 group sets the format's SM4-GCM
//! (vectorised where the CPU has AVX-512 and GFNI) beside GCM over the `sm4` crate's portable cipher.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test and benchmark code states its expectations this way

use std::hint::black_box;

use aes_gcm::aead::array::Array;
use aes_gcm::{AeadInOut, Aes256Gcm, KeyInit};
use cang_sse::{DataKey, RangeDecryptor, SegmentKey, StreamEncryptor, Suite};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

const SEGMENT: usize = 64 * 1024;
const OBJECT: usize = 16 * 1024 * 1024;

fn body() -> Vec<u8> {
    (0..OBJECT).map(|i| (i * 31 % 251) as u8).collect()
}

fn encrypt(c: &mut Criterion) {
    let mut group = c.benchmark_group("encrypt-16MiB");
    group.throughput(Throughput::Bytes(OBJECT as u64));
    group.sample_size(30);
    let dek = DataKey::from_bytes([7; 32]);
    let mut buf = body();

    let raw = Aes256Gcm::new_from_slice(&[9; 32]).expect("32-byte key");
    group.bench_function("raw-aes-256-gcm-in-place", |b| {
        b.iter(|| {
            for (i, seg) in buf.chunks_mut(SEGMENT).enumerate() {
                let mut nonce = [0u8; 12];
                nonce[4..8].copy_from_slice(&(i as u32).to_be_bytes());
                let tag = raw
                    .encrypt_inout_detached(&Array::from(nonce), &[], seg.into())
                    .expect("seal");
                black_box(tag);
            }
        })
    });
    let ring_key = ring::aead::LessSafeKey::new(
        ring::aead::UnboundKey::new(&ring::aead::AES_256_GCM, &[9; 32]).expect("32-byte key"),
    );
    group.bench_function("raw-ring-aes-256-gcm-in-place", |b| {
        b.iter(|| {
            for (i, seg) in buf.chunks_mut(SEGMENT).enumerate() {
                let mut nonce = [0u8; 12];
                nonce[4..8].copy_from_slice(&(i as u32).to_be_bytes());
                let tag = ring_key
                    .seal_in_place_separate_tag(
                        ring::aead::Nonce::assume_unique_for_key(nonce),
                        ring::aead::Aad::empty(),
                        seg,
                    )
                    .expect("seal");
                black_box(tag.as_ref()[0]);
            }
        })
    });
    group.bench_function("format-aes-256-gcm-in-place", |b| {
        b.iter(|| {
            // Includes the per-object HKDF derivation.
            let key = SegmentKey::derive(
                &dek,
                Suite::Aes256Gcm,
                SEGMENT as u32,
                &[1; 32],
                &[2; 7],
                b"bkt\0key",
            )
            .expect("derive");
            let n = buf.len().div_ceil(SEGMENT);
            for (i, seg) in buf.chunks_mut(SEGMENT).enumerate() {
                black_box(key.seal_in_place(i as u64, i + 1 == n, seg).expect("seal"));
            }
        })
    });
    let plain = body();
    let mut out = Vec::with_capacity(OBJECT + OBJECT / SEGMENT * 16 + 16);
    group.bench_function("format-stream-encryptor-1MiB-chunks", |b| {
        b.iter(|| {
            out.clear();
            let mut enc =
                StreamEncryptor::new(&dek, Suite::Aes256Gcm, SEGMENT as u32, b"bkt\0key").expect("encryptor");
            for chunk in plain.chunks(1 << 20) {
                enc.push(chunk, &mut out).expect("push");
            }
            black_box(enc.finish(&mut out).expect("finish"));
        })
    });
    group.finish();

    let mut sm4 = c.benchmark_group("encrypt-1MiB-sm4");
    sm4.throughput(Throughput::Bytes(1 << 20));
    sm4.sample_size(20);
    let mut small = vec![5u8; 1 << 20];
    sm4.bench_function("format-Sm4Gcm-in-place", |b| {
        b.iter(|| {
            let key = SegmentKey::derive(&dek, Suite::Sm4Gcm, SEGMENT as u32, &[1; 32], &[2; 7], b"")
                .expect("derive");
            for (i, seg) in small.chunks_mut(SEGMENT).enumerate() {
                black_box(key.seal_in_place(i as u64, i == 15, seg).expect("seal"));
            }
        })
    });
    // The same bytes through GCM over the `sm4` crate's portable cipher, for the ratio.
    let portable =
        aes_gcm::AesGcm::<sm4::Sm4, aes_gcm::aead::consts::U12>::new_from_slice(&[9; 16]).expect("key");
    sm4.bench_function("raw-sm4-gcm-portable-sm4-crate", |b| {
        b.iter(|| {
            for (i, seg) in small.chunks_mut(SEGMENT).enumerate() {
                let nonce = Array::from([i as u8; 12]);
                black_box(
                    portable
                        .encrypt_inout_detached(&nonce, &[], seg.into())
                        .expect("seal"),
                );
            }
        })
    });
    sm4.finish();
}

fn decrypt(c: &mut Criterion) {
    let mut group = c.benchmark_group("decrypt-16MiB");
    group.throughput(Throughput::Bytes(OBJECT as u64));
    group.sample_size(30);
    let dek = DataKey::from_bytes([7; 32]);

    // Raw: a 64 KiB buffer that alternates between two valid ciphertexts (CTR is an involution), so every
    // open authenticates and decrypts all its bytes.
    let raw = Aes256Gcm::new_from_slice(&[9; 32]).expect("32-byte key");
    let nonce = Array::from([3u8; 12]);
    let mut seg = vec![1u8; SEGMENT];
    let t1 = raw
        .encrypt_inout_detached(&nonce, &[], seg.as_mut_slice().into())
        .expect("seal");
    let mut alt = seg.clone();
    let t2 = raw
        .encrypt_inout_detached(&nonce, &[], alt.as_mut_slice().into())
        .expect("seal");
    group.bench_function("raw-aes-256-gcm-in-place", |b| {
        b.iter(|| {
            for i in 0..OBJECT / SEGMENT {
                let tag = if i % 2 == 0 { &t1 } else { &t2 };
                raw.decrypt_inout_detached(&nonce, &[], seg.as_mut_slice().into(), tag)
                    .expect("open");
            }
        })
    });

    let mut enc = StreamEncryptor::new(&dek, Suite::Aes256Gcm, SEGMENT as u32, b"ctx").expect("encryptor");
    let mut blob = Vec::new();
    enc.push(&body(), &mut blob).expect("push");
    let params = enc.finish(&mut blob).expect("finish");
    let mut out = Vec::with_capacity(OBJECT);
    group.bench_function("format-range-decryptor-whole-object", |b| {
        b.iter(|| {
            out.clear();
            let mut dec = RangeDecryptor::new(&dek, &params, params.whole(), b"ctx").expect("decryptor");
            for chunk in blob.chunks(1 << 20) {
                dec.push(chunk, &mut out).expect("open");
            }
            dec.finish().expect("complete");
        })
    });
    group.finish();
}

criterion_group!(benches, encrypt, decrypt);
criterion_main!(benches);
