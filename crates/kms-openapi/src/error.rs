//! Every error the OpenAPI answers with: Alibaba KMS's code, HTTP status and message, rendered once as
//! the JSON body `{RequestId, HostId, Code, Message, Recommend}`. Crypto-service errors are mapped here
//! and nowhere else; no internal detail reaches a message.

use cang_kms_api::KmsError;

/// A refused or failed OpenAPI request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OpenApiError {
    /// A required parameter is absent.
    #[error("The parameter \"{0}\" is needed but not provided.")]
    MissingParameter(String),
    /// A parameter is malformed or out of range; the message says which.
    #[error("{0}")]
    InvalidParameter(String),
    /// The request carries no signature, or one whose parts are malformed.
    #[error("The request signature does not conform to Alibaba Cloud standards. {0}")]
    IncompleteSignature(&'static str),
    /// The signature is well-formed but wrong (wrong secret, altered request). Alibaba appends the
    /// server's string to sign; it can carry secret parameters (an `Encrypt` plaintext), so it is withheld,
    /// after a `:` all the same, which the legacy SDK splits the message on.
    #[error(
        "Specified signature is not matched with our calculation. Server string to sign: withheld, as it may carry secret parameters."
    )]
    SignatureDoesNotMatch,
    /// The ACS3 payload hash does not match the body received.
    #[error("The x-acs-content-sha256 header does not match the request body.")]
    ContentSha256Mismatch,
    /// No active access key has this id.
    #[error("The AccessKey ID provided does not exist in our records.")]
    AccessKeyNotFound,
    /// The access key is disabled.
    #[error("This AccessKey is not enabled.")]
    AccessKeyDisabled,
    /// The signed time is missing or unreadable.
    #[error(
        "The input parameter \"Timestamp\" that is mandatory for processing this request is not supplied."
    )]
    IllegalTimestamp,
    /// The signed time is too far from the server's clock.
    #[error("Specified time stamp or date value is expired.")]
    TimestampExpired,
    /// The nonce was seen before within the timestamp window: a replay.
    #[error("Specified signature nonce was used already.")]
    NonceUsed,
    /// The API version is not 2016-01-20.
    #[error("Specified parameter Version is not valid.")]
    InvalidVersion,
    /// No such action.
    #[error("Specified api is not found, please check your url and method.")]
    InvalidAction,
    /// Neither GET nor POST, or a path other than `/`.
    #[error("This http method is not supported.")]
    UnsupportedHttpMethod,
    /// A RAM policy refuses the action (explicit `Deny`, or no `Allow`).
    #[error("This operation is forbidden by permission system.")]
    NoPermission,
    /// An action of the API this service does not implement.
    #[error("Unsupported operation. {0}")]
    UnsupportedOperation(&'static str),
    /// A crypto-service error, with its Alibaba code.
    #[error("{0}")]
    Kms(KmsError),
    /// A RAM action's refusal: its Alibaba code, status and message.
    #[error("{message}")]
    Ram {
        /// The RAM error code (`EntityNotExist.User`).
        code: &'static str,
        /// The HTTP status.
        status: u16,
        /// What went wrong.
        message: String,
    },
    /// A service behind this one is unreachable; the request may be retried.
    #[error("Service Unavailable Temporary.")]
    Unavailable,
    /// An internal failure; the detail is in the server log.
    #[error("Internal Failure.")]
    Internal,
}

impl From<KmsError> for OpenApiError {
    fn from(e: KmsError) -> Self {
        match e {
            KmsError::AccessDenied => Self::NoPermission,
            KmsError::Unavailable => Self::Unavailable,
            KmsError::Internal => Self::Internal,
            KmsError::InvalidArgument(msg) => Self::InvalidParameter(msg),
            // The service cannot tell a wrong context from a damaged blob, and says neither.
            KmsError::InvalidCiphertext | KmsError::ContextMismatch => {
                Self::InvalidParameter(invalid_named("CiphertextBlob"))
            }
            other => Self::Kms(other),
        }
    }
}

/// The message of `InvalidParameter` for a named parameter.
pub(crate) fn invalid_named(name: &str) -> String {
    format!("The specified parameter \"{name}\" is not valid.")
}

impl OpenApiError {
    /// The `InvalidParameter` error for a named parameter.
    pub(crate) fn invalid(name: &str) -> Self {
        Self::InvalidParameter(invalid_named(name))
    }

    /// The Alibaba error code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::MissingParameter(_) => "MissingParameter",
            Self::InvalidParameter(_) => "InvalidParameter",
            Self::IncompleteSignature(_) => "IncompleteSignature",
            Self::SignatureDoesNotMatch | Self::ContentSha256Mismatch => "SignatureDoesNotMatch",
            Self::AccessKeyNotFound => "InvalidAccessKeyId.NotFound",
            Self::AccessKeyDisabled => "Forbidden.AccessKey",
            Self::IllegalTimestamp => "IllegalTimestamp",
            Self::TimestampExpired => "InvalidTimeStamp.Expired",
            Self::NonceUsed => "SignatureNonceUsed",
            Self::InvalidVersion => "InvalidVersion",
            Self::InvalidAction => "InvalidAction.NotFound",
            Self::UnsupportedHttpMethod => "UnsupportedHTTPMethod",
            Self::NoPermission => "Forbidden.NoPermission",
            Self::UnsupportedOperation(_) => "Rejected.UnsupportedOperation",
            Self::Unavailable => "ServiceUnavailableTemporary",
            Self::Internal => "InternalFailure",
            Self::Ram { code, .. } => code,
            Self::Kms(e) => match e {
                KmsError::KeyNotFound => "Forbidden.KeyNotFound",
                KmsError::AliasNotFound => "Forbidden.AliasNotFound",
                KmsError::KeyVersionNotFound => "Forbidden.KeyVersionNotFound",
                KmsError::KeyDisabled => "Rejected.Disabled",
                KmsError::PendingDeletion => "Rejected.PendingDeletion",
                KmsError::PendingImport => "Rejected.PendingImport",
                KmsError::StateModifiedFailed => "Rejected.StateModifiedFailed",
                KmsError::InvalidImportToken => "InvalidImportToken",
                KmsError::AlreadyExists => "AliasAlreadyExists",
                KmsError::InvalidCiphertext | KmsError::ContextMismatch | KmsError::InvalidArgument(_) => {
                    "InvalidParameter"
                }
                KmsError::AccessDenied => "Forbidden.NoPermission",
                KmsError::Unavailable => "ServiceUnavailableTemporary",
                KmsError::Internal => "InternalFailure",
            },
        }
    }

    /// The HTTP status Alibaba KMS answers with.
    pub fn status(&self) -> u16 {
        match self {
            Self::AccessKeyNotFound | Self::InvalidAction => 404,
            Self::AccessKeyDisabled | Self::NoPermission | Self::UnsupportedHttpMethod => 403,
            Self::Unavailable => 503,
            Self::Internal => 500,
            Self::Ram { status, .. } => *status,
            Self::Kms(e) => match e {
                KmsError::KeyNotFound | KmsError::AliasNotFound | KmsError::KeyVersionNotFound => 404,
                KmsError::KeyDisabled
                | KmsError::PendingDeletion
                | KmsError::PendingImport
                | KmsError::StateModifiedFailed => 409,
                KmsError::AccessDenied => 403,
                KmsError::Unavailable => 503,
                KmsError::Internal => 500,
                KmsError::InvalidImportToken
                | KmsError::AlreadyExists
                | KmsError::InvalidCiphertext
                | KmsError::ContextMismatch
                | KmsError::InvalidArgument(_) => 400,
            },
            _ => 400,
        }
    }

    /// What the caller can do about it.
    pub fn recommend(&self) -> &'static str {
        match self {
            Self::SignatureDoesNotMatch | Self::ContentSha256Mismatch => {
                "Check the AccessKey secret and that nothing altered the request after it was signed."
            }
            Self::TimestampExpired | Self::IllegalTimestamp => {
                "Sign with the current UTC time; the server accepts 15 minutes of clock skew."
            }
            Self::NonceUsed => "Sign every request with a fresh nonce; this one was a replay.",
            Self::AccessKeyNotFound | Self::AccessKeyDisabled => "Use an active AccessKey of this instance.",
            Self::NoPermission => "Attach a RAM policy allowing this action on the resource.",
            Self::InvalidAction | Self::UnsupportedOperation(_) => {
                "See docs/kms.md for the supported operations."
            }
            Self::Unavailable => "Retry the request.",
            _ => "See docs/kms.md, section Errors.",
        }
    }

    /// The JSON error body.
    pub fn to_json(&self, request_id: &str, host_id: &str) -> String {
        serde_json::json!({
            "RequestId": request_id,
            "HostId": host_id,
            "Code": self.code(),
            "Message": self.to_string(),
            "Recommend": self.recommend(),
        })
        .to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_statuses_follow_alibaba_kms() {
        let cases = [
            (
                OpenApiError::Kms(KmsError::KeyNotFound),
                "Forbidden.KeyNotFound",
                404,
            ),
            (OpenApiError::Kms(KmsError::KeyDisabled), "Rejected.Disabled", 409),
            (
                OpenApiError::Kms(KmsError::PendingDeletion),
                "Rejected.PendingDeletion",
                409,
            ),
            (
                OpenApiError::AccessKeyNotFound,
                "InvalidAccessKeyId.NotFound",
                404,
            ),
            (OpenApiError::IncompleteSignature("x"), "IncompleteSignature", 400),
            (OpenApiError::SignatureDoesNotMatch, "SignatureDoesNotMatch", 400),
            (OpenApiError::NonceUsed, "SignatureNonceUsed", 400),
            (OpenApiError::TimestampExpired, "InvalidTimeStamp.Expired", 400),
            (
                OpenApiError::MissingParameter("KeyId".into()),
                "MissingParameter",
                400,
            ),
            (OpenApiError::InvalidAction, "InvalidAction.NotFound", 404),
            (OpenApiError::NoPermission, "Forbidden.NoPermission", 403),
            (
                OpenApiError::from(KmsError::AccessDenied),
                "Forbidden.NoPermission",
                403,
            ),
            (
                OpenApiError::from(KmsError::AlreadyExists),
                "AliasAlreadyExists",
                400,
            ),
            (
                OpenApiError::from(KmsError::Unavailable),
                "ServiceUnavailableTemporary",
                503,
            ),
        ];
        for (err, code, status) in cases {
            assert_eq!((err.code(), err.status()), (code, status), "{err:?}");
        }
    }

    #[test]
    fn bad_ciphertexts_and_contexts_look_alike() {
        assert_eq!(
            OpenApiError::from(KmsError::ContextMismatch),
            OpenApiError::from(KmsError::InvalidCiphertext)
        );
    }

    #[test]
    fn the_body_has_the_five_fields() -> Result<(), serde_json::Error> {
        let body = OpenApiError::MissingParameter("KeyId".into()).to_json("rid", "host");
        let v: serde_json::Value = serde_json::from_str(&body)?;
        assert_eq!(v["RequestId"], "rid");
        assert_eq!(v["HostId"], "host");
        assert_eq!(v["Code"], "MissingParameter");
        assert_eq!(
            v["Message"],
            "The parameter \"KeyId\" is needed but not provided."
        );
        assert!(v["Recommend"].is_string());
        Ok(())
    }
}
