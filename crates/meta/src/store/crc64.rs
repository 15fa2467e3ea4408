//! CRC-64/XZ combination: the CRC of `A ‖ B` from `crc(A)`, `crc(B)` and `len(B)`, so appended and
//! multipart objects get a whole-object `x-oss-hash-crc64ecma` without reading their data.

/// The reflected CRC-64/XZ (ECMA-182) polynomial.
const POLY: u64 = 0xC96C_5795_D787_0F42;

/// Multiplies the 64×64 GF(2) matrix `mat` by the vector `vec`.
fn times(mat: &[u64; 64], mut vec: u64) -> u64 {
    let mut sum = 0;
    let mut i = 0;
    while vec != 0 {
        if vec & 1 != 0 {
            sum ^= mat[i];
        }
        vec >>= 1;
        i += 1;
    }
    sum
}

fn square(mat: &[u64; 64]) -> [u64; 64] {
    let mut out = [0; 64];
    for (o, &m) in out.iter_mut().zip(mat) {
        *o = times(mat, m);
    }
    out
}

/// `crc64(A ‖ B)` given `crc_a = crc64(A)`, `crc_b = crc64(B)` and `len_b = len(B)`.
pub(crate) fn combine(crc_a: u64, crc_b: u64, len_b: u64) -> u64 {
    if len_b == 0 {
        return crc_a;
    }
    // Operator for one zero bit, then squared to two and four bits.
    let mut odd = [0u64; 64];
    odd[0] = POLY;
    for (i, o) in odd.iter_mut().enumerate().skip(1) {
        *o = 1 << (i - 1);
    }
    let mut even = square(&odd);
    odd = square(&even);
    let mut crc = crc_a;
    let mut len = len_b;
    // Apply len_b zero bytes to crc_a, one bit of the length per squaring.
    loop {
        even = square(&odd);
        if len & 1 != 0 {
            crc = times(&even, crc);
        }
        len >>= 1;
        if len == 0 {
            break;
        }
        odd = square(&even);
        if len & 1 != 0 {
            crc = times(&odd, crc);
        }
        len >>= 1;
        if len == 0 {
            break;
        }
    }
    crc ^ crc_b
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Bitwise CRC-64/XZ, the definition itself.
    fn crc64(data: &[u8]) -> u64 {
        let mut crc = !0u64;
        for &b in data {
            crc ^= u64::from(b);
            for _ in 0..8 {
                crc = if crc & 1 != 0 { (crc >> 1) ^ POLY } else { crc >> 1 };
            }
        }
        !crc
    }

    #[test]
    fn known_answer() {
        assert_eq!(crc64(b"123456789"), 0x995D_C9BB_DF19_39FA);
        assert_eq!(combine(crc64(b"1234"), crc64(b"56789"), 5), 0x995D_C9BB_DF19_39FA);
        assert_eq!(combine(crc64(b""), crc64(b"123456789"), 9), 0x995D_C9BB_DF19_39FA);
        assert_eq!(combine(crc64(b"123456789"), crc64(b""), 0), 0x995D_C9BB_DF19_39FA);
    }

    proptest::proptest! {
        #[test]
        fn combine_matches_concatenation(a in proptest::collection::vec(0u8.., 0..300),
                                         b in proptest::collection::vec(0u8.., 0..300)) {
            let whole: Vec<u8> = a.iter().chain(&b).copied().collect();
            proptest::prop_assert_eq!(combine(crc64(&a), crc64(&b), b.len() as u64), crc64(&whole));
        }
    }
}
