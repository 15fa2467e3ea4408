//! The S3 dialect, pure: AWS Signature Version 4 as S3 checks it (the `Authorization` header, presigned
//! URLs, `UNSIGNED-PAYLOAD`, signed payload hashes and signed `aws-chunked` bodies with their trailers).
//! No I/O, no runtime: the gateway feeds it requests and bytes.
//!
//! - [`sigv4`]: claims, the canonical request, signing keys, verification.
//! - [`chunked`]: the signature chain of a chunked body.
//! - [`aws_chunked`]: the chunked framing, decoded incrementally, each chunk released once verified.

pub mod aws_chunked;
pub mod chunked;
pub mod sigv4;

/// Why a signature was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SigError {
    /// A required part is absent.
    #[error("{0} is missing")]
    Missing(&'static str),
    /// A part is malformed; the message says which.
    #[error("{0}")]
    Malformed(&'static str),
    /// The signature does not match (S3: `SignatureDoesNotMatch`).
    #[error("the request signature does not match")]
    Mismatch,
    /// The signed time is too far from the clock (S3: `RequestTimeTooSkewed`).
    #[error("the difference between the request time and the current time is too large")]
    Skewed,
    /// A presigned URL past its expiry (S3: `AccessDenied`, "Request has expired").
    #[error("request has expired")]
    Expired,
    /// The scope names another region (S3: `AuthorizationHeaderMalformed`).
    #[error("the region {0} is wrong")]
    WrongRegion(String),
}
