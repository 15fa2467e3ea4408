//! `KmsError`: every failure a KMS operation can report, with its Alibaba-style error code and the gRPC
//! status it travels as. Codes cross the wire in the `x-cang-kms-error` metadata entry.

use tonic::{Code, Status};

/// Metadata key carrying the machine-readable error code on a failed gRPC call.
pub const ERROR_CODE_METADATA: &str = "x-cang-kms-error";

/// An [`KmsError::InvalidArgument`] naming what is wrong.
pub(crate) fn invalid(msg: impl Into<String>) -> KmsError {
    KmsError::InvalidArgument(msg.into())
}

/// A KMS operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KmsError {
    /// The key id does not exist in this account (or has been deleted for good).
    #[error("The specified Key is not found.")]
    KeyNotFound,
    /// The alias does not exist in this account.
    #[error("The specified Alias is not found.")]
    AliasNotFound,
    /// The key version named by a ciphertext no longer exists.
    #[error("The specified key version is not found.")]
    KeyVersionNotFound,
    /// The key is disabled.
    #[error("The request was rejected because the key state is Disabled.")]
    KeyDisabled,
    /// The key is scheduled for deletion.
    #[error("The request was rejected because the key state is PendingDeletion.")]
    PendingDeletion,
    /// The key has no (valid) key material yet.
    #[error("The request was rejected because the key state is PendingImport.")]
    PendingImport,
    /// The key's state forbids this state change.
    #[error("The key state does not allow this operation.")]
    StateModifiedFailed,
    /// The ciphertext blob is malformed, truncated or fails authentication.
    #[error("The ciphertext is invalid.")]
    InvalidCiphertext,
    /// The ciphertext was bound to a different encryption context.
    #[error("The encryption context does not match the one used at encryption.")]
    ContextMismatch,
    /// The import token is invalid, expired or belongs to another key.
    #[error("The import token is invalid or expired.")]
    InvalidImportToken,
    /// The caller may not perform this operation.
    #[error("This request is forbidden by kms.")]
    AccessDenied,
    /// A request parameter is invalid; the message names it.
    #[error("{0}")]
    InvalidArgument(String),
    /// The alias already exists.
    #[error("The alias already exists.")]
    AlreadyExists,
    /// The service cannot be reached or is overloaded; the call may be retried.
    #[error("The KMS service is temporarily unavailable.")]
    Unavailable,
    /// An internal failure; details are in the server log, never in the message.
    #[error("Internal failure in the KMS service.")]
    Internal,
}

impl KmsError {
    /// The Alibaba KMS style error code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::KeyNotFound => "Forbidden.KeyNotFound",
            Self::AliasNotFound => "Forbidden.AliasNotFound",
            Self::KeyVersionNotFound => "Forbidden.KeyVersionNotFound",
            Self::KeyDisabled => "Rejected.Disabled",
            Self::PendingDeletion => "Rejected.PendingDeletion",
            Self::PendingImport => "Rejected.PendingImport",
            Self::StateModifiedFailed => "Rejected.StateModifiedFailed",
            Self::InvalidCiphertext => "InvalidCiphertext",
            Self::ContextMismatch => "InvalidCiphertext.ContextMismatch",
            Self::InvalidImportToken => "InvalidImportToken",
            Self::AccessDenied => "Forbidden.NoPermission",
            Self::InvalidArgument(_) => "InvalidParameter",
            Self::AlreadyExists => "Forbidden.AliasExists",
            Self::Unavailable => "ServiceUnavailableTemporary",
            Self::Internal => "InternalFailure",
        }
    }

    /// The HTTP status Alibaba KMS answers with.
    pub fn http_status(&self) -> u16 {
        match self {
            Self::KeyNotFound | Self::AliasNotFound | Self::KeyVersionNotFound => 404,
            Self::KeyDisabled | Self::PendingDeletion | Self::PendingImport | Self::StateModifiedFailed => {
                409
            }
            Self::AccessDenied => 403,
            Self::AlreadyExists => 409,
            Self::InvalidCiphertext
            | Self::ContextMismatch
            | Self::InvalidImportToken
            | Self::InvalidArgument(_) => 400,
            Self::Unavailable => 503,
            Self::Internal => 500,
        }
    }

    /// The gRPC status code this error travels as.
    pub fn grpc_code(&self) -> Code {
        match self {
            Self::KeyNotFound | Self::AliasNotFound | Self::KeyVersionNotFound => Code::NotFound,
            Self::KeyDisabled | Self::PendingDeletion | Self::PendingImport | Self::StateModifiedFailed => {
                Code::FailedPrecondition
            }
            Self::InvalidCiphertext
            | Self::ContextMismatch
            | Self::InvalidImportToken
            | Self::InvalidArgument(_) => Code::InvalidArgument,
            Self::AccessDenied => Code::PermissionDenied,
            Self::AlreadyExists => Code::AlreadyExists,
            Self::Unavailable => Code::Unavailable,
            Self::Internal => Code::Internal,
        }
    }

    /// Rebuilds the error from its code and message, as received from the server.
    fn from_code(code: &str, message: &str) -> Option<Self> {
        Some(match code {
            "Forbidden.KeyNotFound" => Self::KeyNotFound,
            "Forbidden.AliasNotFound" => Self::AliasNotFound,
            "Forbidden.KeyVersionNotFound" => Self::KeyVersionNotFound,
            "Rejected.Disabled" => Self::KeyDisabled,
            "Rejected.PendingDeletion" => Self::PendingDeletion,
            "Rejected.PendingImport" => Self::PendingImport,
            "Rejected.StateModifiedFailed" => Self::StateModifiedFailed,
            "InvalidCiphertext" => Self::InvalidCiphertext,
            "InvalidCiphertext.ContextMismatch" => Self::ContextMismatch,
            "InvalidImportToken" => Self::InvalidImportToken,
            "Forbidden.NoPermission" => Self::AccessDenied,
            "InvalidParameter" => Self::InvalidArgument(message.to_owned()),
            "Forbidden.AliasExists" => Self::AlreadyExists,
            "ServiceUnavailableTemporary" => Self::Unavailable,
            "InternalFailure" => Self::Internal,
            _ => return None,
        })
    }
}

impl From<KmsError> for Status {
    fn from(err: KmsError) -> Self {
        let mut status = Status::new(err.grpc_code(), err.to_string());
        // Codes are static ASCII, always valid metadata values.
        if let Ok(value) = err.code().parse() {
            status.metadata_mut().insert(ERROR_CODE_METADATA, value);
        }
        status
    }
}

impl From<Status> for KmsError {
    /// Client edge: the server's code when present; otherwise transport-level failures (connection
    /// refused, TLS failure, timeouts, overload) are `Unavailable` and the rest `Internal`.
    fn from(status: Status) -> Self {
        if let Some(err) = status
            .metadata()
            .get(ERROR_CODE_METADATA)
            .and_then(|v| v.to_str().ok())
            .and_then(|code| Self::from_code(code, status.message()))
        {
            return err;
        }
        match status.code() {
            // Our server attaches a code to every error it raises, so a codeless `Unknown` is tonic
            // reporting a channel that could not become ready (connection refused, TLS failure).
            Code::Unavailable
            | Code::DeadlineExceeded
            | Code::Cancelled
            | Code::ResourceExhausted
            | Code::Unknown => Self::Unavailable,
            Code::Unauthenticated | Code::PermissionDenied => Self::AccessDenied,
            _ => Self::Internal,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all() -> Vec<KmsError> {
        vec![
            KmsError::KeyNotFound,
            KmsError::AliasNotFound,
            KmsError::KeyVersionNotFound,
            KmsError::KeyDisabled,
            KmsError::PendingDeletion,
            KmsError::PendingImport,
            KmsError::StateModifiedFailed,
            KmsError::InvalidCiphertext,
            KmsError::ContextMismatch,
            KmsError::InvalidImportToken,
            KmsError::AccessDenied,
            KmsError::InvalidArgument("PendingWindowInDays must be 7..=366".into()),
            KmsError::AlreadyExists,
            KmsError::Unavailable,
            KmsError::Internal,
        ]
    }

    #[test]
    fn every_error_survives_the_status_round_trip() {
        for err in all() {
            let status = Status::from(err.clone());
            assert_eq!(status.code(), err.grpc_code());
            assert_eq!(KmsError::from(status), err);
        }
    }

    #[test]
    fn codes_are_unique() {
        let mut codes: Vec<_> = all().iter().map(KmsError::code).collect();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), all().len());
    }

    #[test]
    fn statuses_without_code_map_by_grpc_code() {
        assert_eq!(
            KmsError::from(Status::unavailable("connection refused")),
            KmsError::Unavailable
        );
        assert_eq!(
            KmsError::from(Status::deadline_exceeded("slow")),
            KmsError::Unavailable
        );
        assert_eq!(
            KmsError::from(Status::unknown("Service was not ready")),
            KmsError::Unavailable
        );
        assert_eq!(
            KmsError::from(Status::internal("h2 protocol error")),
            KmsError::Internal
        );
        assert_eq!(
            KmsError::from(Status::permission_denied("meta")),
            KmsError::AccessDenied
        );
    }
}
