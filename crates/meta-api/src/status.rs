//! `MetaError` across the gRPC hop: the server edge turns it into a `Status` carrying the error's code
//! (and detail) in metadata; the client edge turns a `Status` back into the same variant, and transport
//! failures into `Unavailable`.

use tonic::metadata::MetadataValue;
use tonic::{Code, Status};

use crate::MetaError;

/// Metadata key carrying [`MetaError::code`].
const CODE_KEY: &str = "x-cang-meta-error";
/// Binary metadata key carrying [`MetaError::detail`] (keys and names may be any UTF-8).
const DETAIL_KEY: &str = "x-cang-meta-detail-bin";

impl MetaError {
    /// The gRPC status code this error travels as.
    pub fn grpc_code(&self) -> Code {
        match self {
            Self::NoSuchBucket
            | Self::NoSuchKey
            | Self::NoSuchEncryptionRule
            | Self::NoSuchUpload
            | Self::NoSuchAccount
            | Self::NoSuchUser
            | Self::NoSuchAccessKey
            | Self::NoSuchPolicy => Code::NotFound,
            Self::BucketAlreadyExists | Self::FileAlreadyExists | Self::AlreadyExists(_) => {
                Code::AlreadyExists
            }
            Self::BucketNotEmpty
            | Self::PositionNotEqualToLength { .. }
            | Self::PreconditionFailed
            | Self::NotModified
            | Self::ObjectNotAppendable
            | Self::Conflict(_) => Code::FailedPrecondition,
            Self::InvalidPart
            | Self::InvalidPartOrder
            | Self::EntityTooSmall
            | Self::InvalidBucketName(_)
            | Self::InvalidObjectName(_)
            | Self::InvalidArgument(_)
            | Self::MalformedPolicy(_) => Code::InvalidArgument,
            Self::AccessDenied | Self::NotPermitted(_) => Code::PermissionDenied,
            Self::WriteAborted => Code::Aborted,
            Self::Unavailable(_) => Code::Unavailable,
            Self::Internal(_) => Code::Internal,
        }
    }
}

impl From<MetaError> for Status {
    fn from(err: MetaError) -> Self {
        let internal = matches!(err, MetaError::Internal(_) | MetaError::Unavailable(_));
        if internal {
            // The detail may name files or storage states: it goes to the log, not to the caller.
            tracing::error!(error = %err, "metadata operation failed");
        }
        let message = if internal {
            err.code().to_owned()
        } else {
            err.to_string()
        };
        let mut status = Status::new(err.grpc_code(), message);
        // Codes are static ASCII, always valid metadata values.
        if let Ok(code) = err.code().parse() {
            status.metadata_mut().insert(CODE_KEY, code);
        }
        if !internal {
            let detail = err.detail();
            if !detail.is_empty() {
                status
                    .metadata_mut()
                    .insert_bin(DETAIL_KEY, MetadataValue::from_bytes(detail.as_bytes()));
            }
        }
        status
    }
}

impl From<Status> for MetaError {
    fn from(status: Status) -> Self {
        let detail = status
            .metadata()
            .get_bin(DETAIL_KEY)
            .and_then(|v| v.to_bytes().ok())
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default();
        if let Some(err) = status
            .metadata()
            .get(CODE_KEY)
            .and_then(|v| v.to_str().ok())
            .and_then(|code| Self::from_code(code, detail))
        {
            return match err {
                Self::Internal(d) if d.is_empty() => Self::Internal("the metadata service failed".into()),
                Self::Unavailable(d) if d.is_empty() => {
                    Self::Unavailable("the metadata service is unavailable".into())
                }
                other => other,
            };
        }
        match status.code() {
            // Our server attaches a code to every error it raises, so a codeless status is the
            // transport's: connection refused, TLS failure, timeout, overload.
            Code::Unavailable
            | Code::DeadlineExceeded
            | Code::Cancelled
            | Code::ResourceExhausted
            | Code::Unknown => Self::Unavailable(status.message().to_owned()),
            Code::OutOfRange => Self::InvalidArgument(status.message().to_owned()),
            Code::Unauthenticated | Code::PermissionDenied => Self::AccessDenied,
            _ => Self::Internal(format!("{:?}: {}", status.code(), status.message())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn all() -> Vec<MetaError> {
        vec![
            MetaError::NoSuchBucket,
            MetaError::NoSuchKey,
            MetaError::BucketAlreadyExists,
            MetaError::BucketNotEmpty,
            MetaError::NoSuchEncryptionRule,
            MetaError::NoSuchUpload,
            MetaError::InvalidPart,
            MetaError::InvalidPartOrder,
            MetaError::EntityTooSmall,
            MetaError::PositionNotEqualToLength { next_position: 12345 },
            MetaError::PreconditionFailed,
            MetaError::NotModified,
            MetaError::FileAlreadyExists,
            MetaError::ObjectNotAppendable,
            MetaError::InvalidBucketName("\"A\": bad".into()),
            MetaError::InvalidObjectName("键 too long".into()),
            MetaError::InvalidArgument("max-keys".into()),
            MetaError::NoSuchAccount,
            MetaError::NoSuchUser,
            MetaError::NoSuchAccessKey,
            MetaError::NoSuchPolicy,
            MetaError::AlreadyExists("user alice".into()),
            MetaError::Conflict("attached".into()),
            MetaError::MalformedPolicy("Statement[0].Effect".into()),
            MetaError::AccessDenied,
            MetaError::NotPermitted("create_account".into()),
            MetaError::WriteAborted,
        ]
    }

    #[test]
    fn every_error_survives_the_status_round_trip() {
        for err in all() {
            let status = Status::from(err.clone());
            assert_eq!(status.code(), err.grpc_code(), "{err:?}");
            assert_eq!(MetaError::from(status), err);
        }
    }

    #[test]
    fn internal_details_stay_on_the_server() {
        let status = Status::from(MetaError::Internal(
            "storage: /var/lib/cang/meta.redb corrupt".into(),
        ));
        assert!(!status.message().contains("redb"));
        assert!(matches!(MetaError::from(status), MetaError::Internal(_)));
        let status = Status::from(MetaError::Unavailable("writer stopped".into()));
        assert!(matches!(MetaError::from(status), MetaError::Unavailable(_)));
    }

    #[test]
    fn codes_are_unique() {
        let mut codes: Vec<_> = all().iter().map(MetaError::code).collect();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), all().len());
    }

    #[test]
    fn transport_failures_are_unavailable() {
        for status in [
            Status::unavailable("refused"),
            Status::unknown("not ready"),
            Status::deadline_exceeded("slow"),
        ] {
            assert!(matches!(MetaError::from(status), MetaError::Unavailable(_)));
        }
        assert!(matches!(
            MetaError::from(Status::internal("h2")),
            MetaError::Internal(_)
        ));
    }
}
