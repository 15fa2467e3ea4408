//! Root-key escrow: the root key split into `n` shares of which any `t` rebuild it (Shamir's secret sharing
//! over GF(2^8), byte by byte), so that one lost file or one lost person is not the end of every object,
//! while fewer than `t` shares say nothing about the key.
//!
//! A share is a small text file:
//!
//! ```text
//! cang-root-key-share v1
//! set 3f9c0a1b22d4e5f6      which split it belongs to (random per split)
//! threshold 3               shares needed
//! index 2                   its x coordinate, 1..=255
//! check 9a8b7c6d5e4f3a2b    the first 8 bytes of SHA-256("cang/root-key-check" ‖ key): detects a wrong rebuild
//! share <64 hex digits>     the key's polynomials evaluated at `index`
//! ```
//!
//! Arithmetic is branch-free on secret data (no log tables), and every buffer holding key material or a
//! polynomial is wiped on drop.

use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::RootKey;

/// The first line of every share file.
const MAGIC: &str = "cang-root-key-share v1";

/// Why a split or a rebuild failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EscrowError {
    /// The threshold or share count is out of range.
    #[error("a split needs 1 <= threshold <= shares <= 255, not {threshold} of {shares}")]
    Parameters {
        /// Shares needed.
        threshold: usize,
        /// Shares made.
        shares: usize,
    },
    /// A share file is malformed.
    #[error("not a root-key share: {0}")]
    Malformed(String),
    /// The shares come from different splits, repeat an index, or are fewer than their threshold.
    #[error("{0}")]
    Mismatch(String),
    /// The rebuilt key does not match the check the shares carry: a share is damaged or forged.
    #[error("the shares rebuild a key that fails their check: a share is damaged")]
    Check,
    /// No randomness.
    #[error("the system random generator failed")]
    Random,
}

/// One share of a split root key.
pub struct Share {
    /// Which split it belongs to.
    pub set: [u8; 8],
    /// Shares needed to rebuild.
    pub threshold: u8,
    /// Its x coordinate (1..=255).
    pub index: u8,
    /// The key's check value.
    pub check: [u8; 8],
    value: Zeroizing<[u8; 32]>,
}

impl std::fmt::Debug for Share {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Share")
            .field("set", &hex::encode(self.set))
            .field("threshold", &self.threshold)
            .field("index", &self.index)
            .field("value", &"[REDACTED]")
            .finish()
    }
}

/// GF(2^8) with the AES polynomial x^8 + x^4 + x^3 + x + 1, in constant time.
fn mul(mut a: u8, mut b: u8) -> u8 {
    let mut product = 0u8;
    for _ in 0..8 {
        product ^= a & 0u8.wrapping_sub(b & 1);
        let carry = 0u8.wrapping_sub(a >> 7);
        a = (a << 1) ^ (0x1b & carry);
        b >>= 1;
    }
    product
}

/// The multiplicative inverse (a^254); 0 has none and maps to 0, which callers never pass.
fn inverse(a: u8) -> u8 {
    let mut result = 1u8;
    let mut base = a;
    let mut exponent = 254u8;
    while exponent > 0 {
        if exponent & 1 == 1 {
            result = mul(result, base);
        }
        base = mul(base, base);
        exponent >>= 1;
    }
    result
}

fn check_of(key: &[u8]) -> [u8; 8] {
    let digest = Sha256::new()
        .chain_update(b"cang/root-key-check")
        .chain_update(key)
        .finalize();
    let mut check = [0u8; 8];
    check.copy_from_slice(&digest[..8]);
    check
}

/// Splits `key` into `shares` shares, any `threshold` of which rebuild it.
pub fn split(key: &RootKey, threshold: usize, shares: usize) -> Result<Vec<Share>, EscrowError> {
    if threshold == 0 || threshold > shares || shares > 255 {
        return Err(EscrowError::Parameters { threshold, shares });
    }
    let secret = key.bytes();
    let mut set = [0u8; 8];
    getrandom::fill(&mut set).map_err(|_| EscrowError::Random)?;
    // For each key byte, a polynomial of degree threshold-1 whose constant term is that byte.
    let mut coefficients = Zeroizing::new(vec![0u8; 32 * (threshold - 1)]);
    getrandom::fill(coefficients.as_mut_slice()).map_err(|_| EscrowError::Random)?;
    let check = check_of(secret);
    let mut out = Vec::with_capacity(shares);
    for x in 1..=shares {
        let x = u8::try_from(x).map_err(|_| EscrowError::Parameters { threshold, shares })?;
        let mut value = Zeroizing::new([0u8; 32]);
        for (byte, y) in value.iter_mut().enumerate() {
            // Horner's rule, highest coefficient first.
            let mut acc = 0u8;
            for degree in (1..threshold).rev() {
                acc = mul(acc, x) ^ coefficients[(degree - 1) * 32 + byte];
            }
            *y = mul(acc, x) ^ secret[byte];
        }
        out.push(Share {
            set,
            threshold: u8::try_from(threshold).map_err(|_| EscrowError::Parameters { threshold, shares })?,
            index: x,
            check,
            value,
        });
    }
    Ok(out)
}

/// Rebuilds the root key from at least `threshold` shares of one split (extra shares are ignored).
pub fn combine(shares: &[Share]) -> Result<RootKey, EscrowError> {
    let first = shares
        .first()
        .ok_or_else(|| EscrowError::Mismatch("no shares given".into()))?;
    if shares
        .iter()
        .any(|s| s.set != first.set || s.threshold != first.threshold || s.check != first.check)
    {
        return Err(EscrowError::Mismatch(
            "the shares come from different splits".into(),
        ));
    }
    let mut indices: Vec<u8> = shares.iter().map(|s| s.index).collect();
    indices.sort_unstable();
    if indices.windows(2).any(|w| w[0] == w[1]) {
        return Err(EscrowError::Mismatch("a share is given twice".into()));
    }
    let needed = usize::from(first.threshold);
    if shares.len() < needed {
        return Err(EscrowError::Mismatch(format!(
            "{} shares given, {needed} needed",
            shares.len()
        )));
    }
    let used = &shares[..needed];
    let mut key = Zeroizing::new([0u8; 32]);
    for (i, share) in used.iter().enumerate() {
        // The Lagrange basis polynomial of share i, at x = 0: the product of x_j / (x_j - x_i), j != i.
        let mut basis = 1u8;
        for (j, other) in used.iter().enumerate() {
            if i != j {
                basis = mul(basis, mul(other.index, inverse(other.index ^ share.index)));
            }
        }
        for (k, y) in key.iter_mut().zip(share.value.iter()) {
            *k ^= mul(basis, *y);
        }
    }
    if check_of(key.as_slice()) != first.check {
        return Err(EscrowError::Check);
    }
    Ok(RootKey::from_bytes(key))
}

impl Share {
    /// The share file's text.
    pub fn to_text(&self) -> Zeroizing<String> {
        Zeroizing::new(format!(
            "{MAGIC}\nset {}\nthreshold {}\nindex {}\ncheck {}\nshare {}\n",
            hex::encode(self.set),
            self.threshold,
            self.index,
            hex::encode(self.check),
            Zeroizing::new(hex::encode(self.value.as_slice())).as_str(),
        ))
    }

    /// Reads a share file's text.
    pub fn from_text(text: &str) -> Result<Self, EscrowError> {
        let bad = |m: &str| EscrowError::Malformed(m.to_owned());
        let mut lines = text.lines().map(str::trim).filter(|l| !l.is_empty());
        if lines.next() != Some(MAGIC) {
            return Err(bad("it does not start with the share header"));
        }
        let mut field = |name: &str| -> Result<String, EscrowError> {
            let line = lines.next().ok_or_else(|| bad(&format!("no {name} line")))?;
            line.strip_prefix(name)
                .and_then(|rest| rest.strip_prefix(' '))
                .map(str::to_owned)
                .ok_or_else(|| bad(&format!("expected a {name} line")))
        };
        let hex_array = |text: &str, out: &mut [u8], name: &str| {
            hex::decode_to_slice(text.trim(), out)
                .map_err(|_| bad(&format!("{name} is not hex of the right length")))
        };
        let mut set = [0u8; 8];
        hex_array(&field("set")?, &mut set, "set")?;
        let threshold: u8 = field("threshold")?
            .parse()
            .map_err(|_| bad("threshold is not 1..=255"))?;
        let index: u8 = field("index")?.parse().map_err(|_| bad("index is not 1..=255"))?;
        let mut check = [0u8; 8];
        hex_array(&field("check")?, &mut check, "check")?;
        let value_text = Zeroizing::new(field("share")?);
        let mut value = Zeroizing::new([0u8; 32]);
        hex_array(&value_text, value.as_mut_slice(), "share")?;
        if threshold == 0 || index == 0 {
            return Err(bad("threshold and index start at 1"));
        }
        Ok(Self {
            set,
            threshold,
            index,
            check,
            value,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn key(bytes: [u8; 32]) -> RootKey {
        RootKey::from_bytes(Zeroizing::new(bytes))
    }

    #[test]
    fn the_field_is_a_field() {
        for a in 1..=255u8 {
            assert_eq!(mul(a, inverse(a)), 1, "{a}");
            assert_eq!(mul(a, 1), a);
            assert_eq!(mul(a, 0), 0);
        }
        // The AES field's known product: {57} x {83} = {c1} (FIPS-197 §4.2).
        assert_eq!(mul(0x57, 0x83), 0xc1);
    }

    #[test]
    fn bad_parameters_and_bad_sets_are_refused() -> Result<(), EscrowError> {
        let k = key([9; 32]);
        for (t, n) in [(0, 3), (4, 3), (2, 256)] {
            assert!(matches!(split(&k, t, n), Err(EscrowError::Parameters { .. })));
        }
        let a = split(&k, 2, 3)?;
        let b = split(&k, 2, 3)?;
        let mixed = [
            Share::from_text(&a[0].to_text())?,
            Share::from_text(&b[1].to_text())?,
        ];
        assert!(matches!(combine(&mixed), Err(EscrowError::Mismatch(_))));
        let twice = [
            Share::from_text(&a[0].to_text())?,
            Share::from_text(&a[0].to_text())?,
        ];
        assert!(matches!(combine(&twice), Err(EscrowError::Mismatch(_))));
        assert!(matches!(combine(&a[..1]), Err(EscrowError::Mismatch(_))));
        assert!(matches!(combine(&[]), Err(EscrowError::Mismatch(_))));
        Ok(())
    }

    #[test]
    fn a_damaged_share_fails_the_check() -> Result<(), EscrowError> {
        let shares = split(&key([3; 32]), 2, 2)?;
        let text = shares[1].to_text();
        let tail = text
            .trim_end()
            .chars()
            .last()
            .map_or('0', |c| if c == '0' { '1' } else { '0' });
        let mut damaged = text.trim_end().to_owned();
        damaged.pop();
        damaged.push(tail);
        let pair = [
            Share::from_text(&shares[0].to_text())?,
            Share::from_text(&damaged)?,
        ];
        assert_eq!(combine(&pair).err(), Some(EscrowError::Check));
        Ok(())
    }

    #[test]
    fn the_debug_form_hides_the_share() -> Result<(), EscrowError> {
        let shares = split(&key([0xab; 32]), 1, 1)?;
        let shown = format!("{:?}", shares[0]);
        assert!(
            !shown.contains(&hex::encode([0xab; 32])) && shown.contains("REDACTED"),
            "{shown}"
        );
        Ok(())
    }

    proptest! {
        #[test]
        fn any_threshold_of_the_shares_rebuilds_the_key_and_fewer_do_not(
            secret in any::<[u8; 32]>(),
            threshold in 1usize..=5,
            extra in 0usize..=3,
            order in any::<u64>(),
        ) {
            let shares = split(&key(secret), threshold, threshold + extra)?;
            // A subset of `threshold` shares picked by `order`, through their text form.
            let mut picked: Vec<usize> = (0..shares.len()).collect();
            let mut seed = order;
            for i in (1..picked.len()).rev() {
                picked.swap(i, (seed % (i as u64 + 1)) as usize);
                seed = seed.rotate_left(7) ^ 0x9e37_79b9_7f4a_7c15;
            }
            let subset: Vec<Share> = picked[..threshold]
                .iter()
                .map(|&i| Share::from_text(&shares[i].to_text()))
                .collect::<Result<_, _>>()?;
            let rebuilt = combine(&subset)?;
            prop_assert_eq!(rebuilt.bytes(), secret.as_slice());
            if threshold > 1 {
                // One share short: refused (and the arithmetic alone would not give the key either).
                prop_assert!(combine(&subset[..threshold - 1]).is_err());
            }
        }

        #[test]
        fn share_text_never_panics_the_reader(text in "\\PC{0,200}") {
            let _ = Share::from_text(&text);
        }
    }
}
