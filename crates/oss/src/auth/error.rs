//! Why a request failed authentication, as the OSS error code, HTTP status and a message that is safe to
//! show the client (it never contains a secret).

use std::fmt::Write as _;

/// An authentication failure. `code()` and `http_status()` give the OSS error pair the SDKs map on;
/// `Display` is the client-visible message; `extra_fields()` are the additional `<Error>` elements the
/// real service renders for some codes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// The Authorization header or a signature parameter is malformed, a signature is present both in the
    /// header and in the URL, or the V4 scope names a region this server does not serve.
    #[error("{message}")]
    InvalidArgument {
        /// Client-visible explanation.
        message: &'static str,
        /// The OSS "EC" detail code, where the service documents one.
        ec: Option<&'static str>,
    },
    /// The request carries no usable date, a presigned URL has expired or lacks parameters, or the
    /// security token does not belong to the access key.
    #[error("{message}")]
    AccessDenied {
        /// Client-visible explanation.
        message: &'static str,
    },
    /// The access key id is unknown (or disabled) in the credential store.
    #[error("The OSS Access Key Id you provided does not exist in our records.")]
    InvalidAccessKeyId {
        /// The id the client sent.
        access_key_id: String,
    },
    /// The signature the client sent differs from the one computed with the stored secret.
    #[error(
        "The request signature we calculated does not match the signature you provided. Check your key and signing method."
    )]
    SignatureDoesNotMatch(Box<SignatureMismatch>),
    /// The request time is further from the server clock than the allowed skew.
    #[error("The difference between the request time and the current time is too large.")]
    RequestTimeTooSkewed {
        /// The request time as the client sent it.
        request_time: String,
        /// The server time, ISO 8601 (`2024-01-02T03:04:05.000Z`).
        server_time: String,
    },
}

/// What the server signed when a signature did not match; the real service returns these fields so a
/// client can diff its own string-to-sign. None of them is secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureMismatch {
    /// The access key id from the request.
    pub access_key_id: String,
    /// The signature the client sent.
    pub signature_provided: String,
    /// The string the server signed (V1: the StringToSign; V4: the final StringToSign).
    pub string_to_sign: Vec<u8>,
    /// V4 only: the canonical request whose hash is the last line of the string to sign.
    pub canonical_request: Option<Vec<u8>>,
}

impl AuthError {
    /// The OSS error code (`<Code>`).
    pub fn code(&self) -> &'static str {
        match self {
            Self::InvalidArgument { .. } => "InvalidArgument",
            Self::AccessDenied { .. } => "AccessDenied",
            Self::InvalidAccessKeyId { .. } => "InvalidAccessKeyId",
            Self::SignatureDoesNotMatch(_) => "SignatureDoesNotMatch",
            Self::RequestTimeTooSkewed { .. } => "RequestTimeTooSkewed",
        }
    }

    /// The HTTP status the error is returned with.
    pub fn http_status(&self) -> u16 {
        match self {
            Self::InvalidArgument { .. } => 400,
            Self::AccessDenied { .. }
            | Self::InvalidAccessKeyId { .. }
            | Self::SignatureDoesNotMatch(_)
            | Self::RequestTimeTooSkewed { .. } => 403,
        }
    }

    /// The client-visible message (`<Message>`).
    pub fn message(&self) -> String {
        self.to_string()
    }

    /// The OSS "EC" detail code, when one is documented for this failure.
    pub fn ec(&self) -> Option<&'static str> {
        match self {
            Self::InvalidArgument { ec, .. } => *ec,
            // The EC real OSS sends for both V1 and V4 (the Java SDK's ErrorTest).
            Self::RequestTimeTooSkewed { .. } => Some("0002-00000504"),
            _ => None,
        }
    }

    /// Additional `<Error>` child elements, in the order the service renders them.
    pub fn extra_fields(&self) -> Vec<(&'static str, String)> {
        match self {
            Self::InvalidAccessKeyId { access_key_id } => vec![("OSSAccessKeyId", access_key_id.clone())],
            Self::SignatureDoesNotMatch(m) => {
                let mut fields = vec![
                    (
                        "StringToSign",
                        String::from_utf8_lossy(&m.string_to_sign).into_owned(),
                    ),
                    ("StringToSignBytes", spaced_hex(&m.string_to_sign)),
                    ("SignatureProvided", m.signature_provided.clone()),
                    ("OSSAccessKeyId", m.access_key_id.clone()),
                ];
                if let Some(canonical) = &m.canonical_request {
                    fields.push((
                        "CanonicalRequest",
                        String::from_utf8_lossy(canonical).into_owned(),
                    ));
                }
                fields
            }
            Self::RequestTimeTooSkewed {
                request_time,
                server_time,
            } => vec![
                ("RequestTime", request_time.clone()),
                ("ServerTime", server_time.clone()),
            ],
            Self::InvalidArgument { .. } | Self::AccessDenied { .. } => Vec::new(),
        }
    }

    pub(crate) fn invalid_argument(message: &'static str) -> Self {
        Self::InvalidArgument { message, ec: None }
    }

    pub(crate) fn access_denied(message: &'static str) -> Self {
        Self::AccessDenied { message }
    }

    pub(crate) fn malformed_authorization() -> Self {
        Self::invalid_argument("Authorization header is invalid.")
    }
}

/// `"50 55 54"` for `b"PUT"`: the service's `StringToSignBytes` rendering.
fn spaced_hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 3);
    for (i, b) in bytes.iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        // Writing to a String cannot fail.
        let _ = write!(out, "{b:02x}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_statuses_match_the_oss_catalogue() {
        let cases = [
            (AuthError::malformed_authorization(), "InvalidArgument", 400),
            (
                AuthError::access_denied("Request has expired."),
                "AccessDenied",
                403,
            ),
            (
                AuthError::InvalidAccessKeyId {
                    access_key_id: "ak".into(),
                },
                "InvalidAccessKeyId",
                403,
            ),
            (
                AuthError::RequestTimeTooSkewed {
                    request_time: "t".into(),
                    server_time: "s".into(),
                },
                "RequestTimeTooSkewed",
                403,
            ),
        ];
        for (err, code, status) in cases {
            assert_eq!(err.code(), code);
            assert_eq!(err.http_status(), status);
        }
    }

    #[test]
    fn mismatch_exposes_string_to_sign_and_its_bytes() {
        let err = AuthError::SignatureDoesNotMatch(Box::new(SignatureMismatch {
            access_key_id: "ak".into(),
            signature_provided: "sig".into(),
            string_to_sign: b"GET\n".to_vec(),
            canonical_request: None,
        }));
        assert_eq!(err.code(), "SignatureDoesNotMatch");
        assert_eq!(err.http_status(), 403);
        let fields = err.extra_fields();
        assert_eq!(fields[0], ("StringToSign", "GET\n".to_owned()));
        assert_eq!(fields[1], ("StringToSignBytes", "47 45 54 0a".to_owned()));
        assert_eq!(fields[2], ("SignatureProvided", "sig".to_owned()));
        assert_eq!(fields[3], ("OSSAccessKeyId", "ak".to_owned()));
        assert!(err.message().starts_with("The request signature we calculated"));
    }
}
