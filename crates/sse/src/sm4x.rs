//! SM4 (GB/T 32907-2016) as a block cipher for GCM, thirty-two blocks at a time where the CPU allows.
//!
//! The S-box is not a table of facts here but a formula: SM4's S-box is `A·inv(A·x ⊕ C) ⊕ C`, with `A`
//! the circulant bit matrix of `0xA7`, `C = 0xD3` and the inverse taken in GF(2⁸) modulo
//! `x⁸+x⁷+x⁶+x⁵+x⁴+x²+1`. A field isomorphism `φ` onto the AES field (modulo `x⁸+x⁴+x³+x+1`) turns that
//! into `(A·φ⁻¹)·inv_AES(φ·A·x ⊕ φ·C) ⊕ C`: one affine map, an AES-field inversion, another affine map —
//! exactly the two GFNI instructions `gf2p8affine` and `gf2p8affineinv`. The matrices are computed below
//! at compile time, and the portable path's table is built from the same two maps, so both paths share
//! one derivation; the tests hold them to the `sm4` crate and the standard's vectors.
//!
//! The vector path (AVX-512F/BW + GFNI, chosen at run time) keeps sixteen blocks per register set, one
//! 32-bit word of each block per lane, and runs two such sets side by side so the round's latency chain
//! is hidden. It is constant-time: no table lookups, no data-dependent branches. The portable path looks
//! its S-box up in a table, as the `sm4` crate does. This module is the workspace's one exception to
//! `unsafe_code`: the vector path needs a CPU check before its call and raw loads and stores.

use aes_gcm::aead::consts::{U16, U64};
use sm4::cipher::inout::InOutBuf;
use sm4::cipher::{
    Block, BlockCipherEncBackend, BlockCipherEncClosure, BlockCipherEncrypt, BlockSizeUser, InOut, Key,
    KeyInit, KeySizeUser, ParBlocks, ParBlocksSizeUser,
};
use zeroize::{Zeroize, ZeroizeOnDrop};

/// Sets of sixteen blocks the vector path keeps in flight, and the blocks per call.
const SETS: usize = 4;
const PAR: usize = 16 * SETS;

const fn aes_mul(mut a: u8, mut b: u8) -> u8 {
    let mut r = 0u8;
    while b != 0 {
        if b & 1 != 0 {
            r ^= a;
        }
        let carry = a & 0x80 != 0;
        a <<= 1;
        if carry {
            a ^= 0x1b;
        }
        b >>= 1;
    }
    r
}

/// The inverse in the AES field (`a²⁵⁴`), with 0 mapped to 0 as GFNI does.
const fn aes_inv(a: u8) -> u8 {
    let mut r = 1u8;
    let mut i = 0;
    while i < 254 {
        r = aes_mul(r, a);
        i += 1;
    }
    r
}

const fn parity(x: u8) -> u8 {
    (x.count_ones() & 1) as u8
}

/// SM4's linear map `A`: output bit `i` is the parity of `x` masked by `0xA7` rotated left by `i`.
const fn sm4_a(x: u8) -> u8 {
    let mut r = 0u8;
    let mut i = 0;
    while i < 8 {
        r |= parity(0xa7u8.rotate_left(i) & x) << i;
        i += 1;
    }
    r
}

/// A root of SM4's field polynomial in the AES field: the image of SM4's generator under `φ`.
const fn beta() -> u8 {
    let mut b = 2u8;
    loop {
        // x⁸+x⁷+x⁶+x⁵+x⁴+x²+1 evaluated at b.
        let mut power = 1u8;
        let mut value = 0u8;
        let mut k = 0;
        while k <= 8 {
            if (0b1_1111_0101u16 >> k) & 1 != 0 {
                value ^= power;
            }
            power = aes_mul(power, b);
            k += 1;
        }
        if value == 0 {
            return b;
        }
        b += 1;
    }
}

const BETA: u8 = beta();

/// `φ`: SM4's field onto the AES field (`Σ aₖ xᵏ ↦ Σ aₖ βᵏ`).
const fn phi(x: u8) -> u8 {
    let mut r = 0u8;
    let mut power = 1u8;
    let mut k = 0;
    while k < 8 {
        if (x >> k) & 1 != 0 {
            r ^= power;
        }
        power = aes_mul(power, BETA);
        k += 1;
    }
    r
}

const fn phi_inv(y: u8) -> u8 {
    let mut x = 0u8;
    loop {
        if phi(x) == y {
            return x;
        }
        x += 1;
    }
}

/// Packs a linear map, given by the images of the eight unit bytes, into GFNI's matrix operand: byte
/// `7 - i` of the quadword is the row that yields output bit `i`.
const fn gfni_matrix(images: [u8; 8]) -> u64 {
    let mut q = 0u64;
    let mut i = 0;
    while i < 8 {
        let mut row = 0u8;
        let mut k = 0;
        while k < 8 {
            row |= ((images[k] >> i) & 1) << k;
            k += 1;
        }
        q |= (row as u64) << (8 * (7 - i));
        i += 1;
    }
    q
}

const fn pre_images() -> [u8; 8] {
    let mut images = [0u8; 8];
    let mut k = 0;
    while k < 8 {
        images[k] = phi(sm4_a(1 << k));
        k += 1;
    }
    images
}

const fn post_images() -> [u8; 8] {
    let mut images = [0u8; 8];
    let mut k = 0;
    while k < 8 {
        images[k] = sm4_a(phi_inv(1 << k));
        k += 1;
    }
    images
}

/// Into the AES field: `φ·A`, then `⊕ φ(C)`.
const PRE: u64 = gfni_matrix(pre_images());
const PRE_C: u8 = phi(0xd3);
/// Out of it, after the inversion: `A·φ⁻¹`, then `⊕ C`.
const POST: u64 = gfni_matrix(post_images());
const POST_C: u8 = 0xd3;

/// `gf2p8affine` on one byte, as the instruction computes it.
const fn affine(matrix: u64, x: u8, c: u8) -> u8 {
    let mut r = 0u8;
    let mut i = 0;
    while i < 8 {
        let row = (matrix >> (8 * (7 - i))) as u8;
        r |= parity(row & x) << i;
        i += 1;
    }
    r ^ c
}

const fn sbox_table() -> [u8; 256] {
    let mut table = [0u8; 256];
    let mut x = 0;
    while x < 256 {
        table[x] = affine(POST, aes_inv(affine(PRE, x as u8, PRE_C)), POST_C);
        x += 1;
    }
    table
}

const SBOX: [u8; 256] = sbox_table();

const FK: [u32; 4] = [0xa3b1_bac6, 0x56aa_3350, 0x677d_9197, 0xb270_22dc];

/// `CKᵢ`: byte `j` of word `i` is `(4i + j)·7 mod 256`.
const fn ck(i: usize) -> u32 {
    let mut word = 0u32;
    let mut j = 0;
    while j < 4 {
        word = (word << 8) | (((4 * i + j) * 7) % 256) as u32;
        j += 1;
    }
    word
}

fn tau(a: u32) -> u32 {
    u32::from_be_bytes(a.to_be_bytes().map(|b| SBOX[usize::from(b)]))
}

fn round_t(a: u32) -> u32 {
    let b = tau(a);
    b ^ b.rotate_left(2) ^ b.rotate_left(10) ^ b.rotate_left(18) ^ b.rotate_left(24)
}

fn key_t(a: u32, vector: bool) -> u32 {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: `vector` is true only when the CPU reports GFNI (with AVX-512F and AVX-512BW).
    let b = if vector { unsafe { x86::tau(a) } } else { tau(a) };
    #[cfg(not(target_arch = "x86_64"))]
    let b = {
        let _ = vector;
        tau(a)
    };
    b ^ b.rotate_left(13) ^ b.rotate_left(23)
}

/// One block; `input` and `output` are 16 bytes long.
fn encrypt_portable(rk: &[u32; 32], input: &[u8], output: &mut [u8]) {
    let word =
        |i: usize| u32::from_be_bytes([input[4 * i], input[4 * i + 1], input[4 * i + 2], input[4 * i + 3]]);
    let mut x = [word(0), word(1), word(2), word(3)];
    for k in rk {
        let next = x[0] ^ round_t(x[1] ^ x[2] ^ x[3] ^ k);
        x = [x[1], x[2], x[3], next];
    }
    for (i, w) in x.iter().rev().enumerate() {
        output[4 * i..4 * i + 4].copy_from_slice(&w.to_be_bytes());
    }
}

/// SM4 with the vector path chosen once, when the key is set.
///
/// The round keys are wiped on drop and never printed.
#[derive(Clone)]
pub struct Sm4x {
    rk: [u32; 32],
    vector: bool,
}

impl std::fmt::Debug for Sm4x {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sm4x")
            .field("vector", &self.vector)
            .finish_non_exhaustive()
    }
}

impl Sm4x {
    /// The key schedule, with the vector path forced off.
    #[cfg(test)]
    pub fn portable(key: &[u8; 16]) -> Self {
        Self {
            rk: schedule(key, false),
            vector: false,
        }
    }

    /// Whether this key runs on the vector path.
    #[cfg(test)]
    pub fn is_vectorised(&self) -> bool {
        self.vector
    }

    /// Encrypts `input` into `output` (equal lengths). On the vector path every block, down to a lone
    /// one, goes through the vector code — a short run is padded into a scratch batch — so no key-dependent
    /// table lookup happens on such CPUs.
    fn encrypt_many(&self, input: &[Block<Self>], output: &mut [Block<Self>]) {
        debug_assert_eq!(input.len(), output.len());
        #[cfg(target_arch = "x86_64")]
        if self.vector {
            let mut full = input.chunks_exact(PAR).zip(output.chunks_exact_mut(PAR));
            for (i, o) in &mut full {
                // SAFETY: `vector` is set only when the CPU reports AVX-512F, AVX-512BW and GFNI, and both
                // chunks hold PAR whole blocks.
                unsafe { x86::encrypt::<SETS>(&self.rk, i.as_ptr().cast(), o.as_mut_ptr().cast()) };
            }
            let done = input.len() / PAR * PAR;
            let (input, output) = (&input[done..], &mut output[done..]);
            if !input.is_empty() {
                let mut scratch = [[0u8; 16]; PAR];
                for (b, i) in scratch.iter_mut().zip(input) {
                    b.copy_from_slice(i);
                }
                let ptr = scratch.as_mut_ptr().cast::<u8>();
                // SAFETY: as above; the scratch array holds PAR blocks, so also one set of sixteen, and it is
                // both the input and the output.
                unsafe {
                    if input.len() <= 16 {
                        x86::encrypt::<1>(&self.rk, ptr, ptr);
                    } else {
                        x86::encrypt::<SETS>(&self.rk, ptr, ptr);
                    }
                }
                for (o, b) in output.iter_mut().zip(&scratch) {
                    o.copy_from_slice(b);
                }
                scratch.zeroize();
            }
            return;
        }
        for (i, o) in input.iter().zip(output) {
            encrypt_portable(&self.rk, i, o);
        }
    }
}

/// The round keys; on the vector path the key schedule's S-box runs through GFNI as well.
fn schedule(key: &[u8; 16], vector: bool) -> [u32; 32] {
    let word = |i: usize| u32::from_be_bytes([key[4 * i], key[4 * i + 1], key[4 * i + 2], key[4 * i + 3]]);
    let mut k = [word(0) ^ FK[0], word(1) ^ FK[1], word(2) ^ FK[2], word(3) ^ FK[3]];
    let mut rk = [0u32; 32];
    for (i, slot) in rk.iter_mut().enumerate() {
        let next = k[0] ^ key_t(k[1] ^ k[2] ^ k[3] ^ ck(i), vector);
        k = [k[1], k[2], k[3], next];
        *slot = next;
    }
    k.zeroize();
    rk
}

impl Drop for Sm4x {
    fn drop(&mut self) {
        self.rk.zeroize();
    }
}

impl ZeroizeOnDrop for Sm4x {}

impl KeySizeUser for Sm4x {
    type KeySize = U16;
}

impl KeyInit for Sm4x {
    fn new(key: &Key<Self>) -> Self {
        let key: &[u8; 16] = key.as_ref();
        let vector = vector_available();
        Self {
            rk: schedule(key, vector),
            vector,
        }
    }
}

impl BlockSizeUser for Sm4x {
    type BlockSize = U16;
}

impl ParBlocksSizeUser for Sm4x {
    type ParBlocksSize = U64;
}

impl BlockCipherEncrypt for Sm4x {
    fn encrypt_with_backend(&self, f: impl BlockCipherEncClosure<BlockSize = Self::BlockSize>) {
        f.call(self)
    }
}

impl BlockCipherEncBackend for Sm4x {
    fn encrypt_block(&self, mut block: InOut<'_, '_, Block<Self>>) {
        let input = block.clone_in();
        self.encrypt_many(
            std::slice::from_ref(&input),
            std::slice::from_mut(block.get_out()),
        );
    }

    fn encrypt_par_blocks(&self, mut blocks: InOut<'_, '_, ParBlocks<Self>>) {
        let input: ParBlocks<Self> = blocks.clone_in();
        self.encrypt_many(&input, blocks.get_out());
    }

    fn encrypt_tail_blocks(&self, mut blocks: InOutBuf<'_, '_, Block<Self>>) {
        let n = blocks.len();
        let mut input = [Block::<Self>::default(); PAR];
        input[..n].copy_from_slice(blocks.get_in());
        self.encrypt_many(&input[..n], blocks.get_out());
    }
}

/// Whether this CPU runs SM4 on the vector path (AVX-512F, AVX-512BW and GFNI).
pub fn vector_available() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx512f")
            && std::arch::is_x86_feature_detected!("avx512bw")
            && std::arch::is_x86_feature_detected!("gfni")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::x86_64::*;

    use super::{POST, POST_C, PRE, PRE_C};

    #[target_feature(enable = "avx512f,avx512bw,gfni")]
    fn bswap32(v: __m512i) -> __m512i {
        let mask = _mm512_broadcast_i32x4(_mm_set_epi8(12, 13, 14, 15, 8, 9, 10, 11, 4, 5, 6, 7, 0, 1, 2, 3));
        _mm512_shuffle_epi8(v, mask)
    }

    /// Transposes 4×4 words within each 128-bit lane: rows of four blocks' words become columns.
    #[target_feature(enable = "avx512f,avx512bw,gfni")]
    fn transpose(r: [__m512i; 4]) -> [__m512i; 4] {
        let t0 = _mm512_unpacklo_epi32(r[0], r[1]);
        let t1 = _mm512_unpackhi_epi32(r[0], r[1]);
        let t2 = _mm512_unpacklo_epi32(r[2], r[3]);
        let t3 = _mm512_unpackhi_epi32(r[2], r[3]);
        [
            _mm512_unpacklo_epi64(t0, t2),
            _mm512_unpackhi_epi64(t0, t2),
            _mm512_unpacklo_epi64(t1, t3),
            _mm512_unpackhi_epi64(t1, t3),
        ]
    }

    /// SM4's S-box on the four bytes of one word.
    ///
    /// # Safety
    /// The CPU must support GFNI.
    #[target_feature(enable = "gfni")]
    pub(super) unsafe fn tau(a: u32) -> u32 {
        let x = _mm_cvtsi32_si128(a as i32);
        let s = _mm_gf2p8affineinv_epi64_epi8::<{ POST_C as i32 }>(
            _mm_gf2p8affine_epi64_epi8::<{ PRE_C as i32 }>(x, _mm_set1_epi64x(PRE as i64)),
            _mm_set1_epi64x(POST as i64),
        );
        _mm_cvtsi128_si32(s) as u32
    }

    /// One round on a set, `x₀ ⊕ L(τ(x₁ ⊕ x₂ ⊕ x₃ ⊕ rk))`, with the newest word `x₃` last on the path:
    /// `x₁ ⊕ x₂ ⊕ rk` does not wait for it, and `L`'s five terms and `x₀` fold in two ternary XORs and a
    /// plain one.
    #[target_feature(enable = "avx512f,avx512bw,gfni")]
    fn round(x0: __m512i, x1: __m512i, x2: __m512i, x3: __m512i, k: __m512i) -> __m512i {
        let pre = _mm512_set1_epi64(PRE as i64);
        let post = _mm512_set1_epi64(POST as i64);
        let input = _mm512_xor_si512(_mm512_ternarylogic_epi32::<0x96>(x1, x2, k), x3);
        let s = _mm512_gf2p8affineinv_epi64_epi8::<{ POST_C as i32 }>(
            _mm512_gf2p8affine_epi64_epi8::<{ PRE_C as i32 }>(input, pre),
            post,
        );
        let near = _mm512_ternarylogic_epi32::<0x96>(x0, s, _mm512_rol_epi32::<2>(s));
        let far = _mm512_ternarylogic_epi32::<0x96>(
            _mm512_rol_epi32::<10>(s),
            _mm512_rol_epi32::<18>(s),
            _mm512_rol_epi32::<24>(s),
        );
        _mm512_xor_si512(near, far)
    }

    /// Encrypts `SETS × 16` blocks from `input` to `output` (which may be the same memory).
    ///
    /// # Safety
    /// The CPU must support AVX-512F, AVX-512BW and GFNI; `input` and `output` must each be valid for
    /// `SETS × 256` bytes.
    #[target_feature(enable = "avx512f,avx512bw,gfni")]
    pub(super) unsafe fn encrypt<const SETS: usize>(rk: &[u32; 32], input: *const u8, output: *mut u8) {
        let mut x = [[_mm512_setzero_si512(); 4]; SETS];
        for (s, set) in x.iter_mut().enumerate() {
            let mut rows = [_mm512_setzero_si512(); 4];
            for (i, row) in rows.iter_mut().enumerate() {
                // SAFETY: the caller guarantees SETS × 256 readable bytes at `input`.
                *row = bswap32(unsafe { _mm512_loadu_si512(input.add(256 * s + 64 * i).cast()) });
            }
            *set = transpose(rows);
        }
        for k in rk.chunks_exact(4) {
            for (j, &kj) in k.iter().enumerate() {
                let kj = _mm512_set1_epi32(kj as i32);
                for set in x.iter_mut() {
                    let [a, b, c, d] = [set[j], set[(j + 1) % 4], set[(j + 2) % 4], set[(j + 3) % 4]];
                    set[j] = round(a, b, c, d, kj);
                }
            }
        }
        for (s, set) in x.iter().enumerate() {
            // The output is (X₃₅, X₃₄, X₃₃, X₃₂): the last four words, reversed.
            let rows = transpose([set[3], set[2], set[1], set[0]]);
            for (i, row) in rows.into_iter().enumerate() {
                // SAFETY: the caller guarantees SETS × 256 writable bytes at `output`; this set's input was
                // read before any output was written.
                unsafe { _mm512_storeu_si512(output.add(256 * s + 64 * i).cast(), bswap32(row)) };
            }
        }
    }
}

#[cfg(test)]
mod tests;
