//! Errors of the object encryption format.

/// Why an object could not be encrypted or decrypted.
///
/// Every failure to prove the ciphertext authentic is an error; the format never returns bytes it has not
/// authenticated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SseError {
    /// A segment's tag did not verify: the ciphertext, its position, the key or the metadata was altered.
    #[error("segment {segment} failed authentication")]
    SegmentAuthentication {
        /// Index of the segment that failed.
        segment: u64,
    },
    /// The ciphertext stream ended before the last segment the metadata promises.
    #[error("ciphertext truncated: expected {expected} bytes, got {received}")]
    Truncated {
        /// Ciphertext bytes the read should have delivered.
        expected: u64,
        /// Ciphertext bytes actually delivered.
        received: u64,
    },
    /// More ciphertext arrived than the metadata accounts for.
    #[error("ciphertext longer than its metadata allows")]
    TrailingCiphertext,
    /// The stored cipher parameters are malformed or inconsistent.
    #[error("invalid cipher parameters: {0}")]
    InvalidParams(&'static str),
    /// A byte range outside the object was requested.
    #[error("range {start}..{end} is outside an object of {len} bytes")]
    RangeOutOfBounds {
        /// First requested byte.
        start: u64,
        /// One past the last requested byte.
        end: u64,
        /// Plaintext length of the object.
        len: u64,
    },
    /// The object would need more segments than the nonce layout can number.
    #[error("object too large for the segment size")]
    TooLarge,
    /// The operating system's random number generator failed.
    #[error("random number generator unavailable")]
    Random,
}

impl SseError {
    /// True when the error means the stored bytes or metadata are not what was written: the caller must treat
    /// the object as corrupt or tampered with, never serve partial output as good.
    pub fn is_integrity_failure(&self) -> bool {
        matches!(
            self,
            Self::SegmentAuthentication { .. }
                | Self::Truncated { .. }
                | Self::TrailingCiphertext
                | Self::InvalidParams(_)
        )
    }
}
