//! Signed `aws-chunked` bodies: every chunk's signature chains from the previous one, starting at the
//! request's own signature, so a chunk cannot be dropped, reordered, altered or replayed into another body;
//! a signed trailer closes the chain.

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::SigError;
use crate::sigv4::{Scope, Verified, hmac};

/// The hex SHA-256 of nothing, the fixed line of every chunk's string to sign.
const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/// Verifies the signatures of one body's chunks, in order.
#[derive(Debug)]
pub struct ChunkChain {
    key: Zeroizing<[u8; 32]>,
    amz_date: String,
    scope: String,
    previous: [u8; 32],
}

impl ChunkChain {
    /// The chain of the body of a request verified as `verified`, signed at `amz_date` in `scope`.
    pub fn new(verified: Verified, amz_date: &str, scope: &Scope) -> Self {
        Self {
            key: verified.key,
            amz_date: amz_date.to_owned(),
            scope: scope.line(),
            previous: verified.seed,
        }
    }

    /// Checks `presented` against the signature of `kind` over `tail` (the string to sign's last lines),
    /// chained from the previous signature; on success it becomes the previous one.
    fn advance(&mut self, kind: &str, tail: &str, presented: &str) -> Result<(), SigError> {
        let to_sign = format!(
            "{kind}\n{}\n{}\n{}\n{tail}",
            self.amz_date,
            self.scope,
            hex::encode(self.previous),
        );
        let expected = hmac(self.key.as_ref(), to_sign.as_bytes());
        let mut presented_bytes = [0u8; 32];
        if presented.len() != 64 || hex::decode_to_slice(presented, &mut presented_bytes).is_err() {
            return Err(SigError::Malformed("a chunk signature is not 64 hex digits"));
        }
        if !bool::from(expected.ct_eq(&presented_bytes)) {
            return Err(SigError::Mismatch);
        }
        self.previous = expected;
        Ok(())
    }

    /// Checks the signature of the next chunk (the last one is empty).
    pub fn chunk(&mut self, data: &[u8], presented: &str) -> Result<(), SigError> {
        let tail = format!("{EMPTY_SHA256}\n{}", hex::encode(Sha256::digest(data)));
        self.advance("AWS4-HMAC-SHA256-PAYLOAD", &tail, presented)
    }

    /// Checks the signature of the trailer (its header lines, each ending in `\n`, as sent).
    pub fn trailer(&mut self, trailer_lines: &[u8], presented: &str) -> Result<(), SigError> {
        let tail = hex::encode(Sha256::digest(trailer_lines));
        self.advance("AWS4-HMAC-SHA256-TRAILER", &tail, presented)
    }
}
