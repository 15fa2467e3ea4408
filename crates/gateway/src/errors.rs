//! The HTTP edge of error mapping, the only place in the gateway where crypto-service and metadata-service
//! errors become OSS errors. Operations return a [`Failure`] and use `?` on every service call; the request
//! pipeline renders it once ([`Failure::render`]), taking the bucket, key and upload id the message names from
//! the route. Internal detail (a meta `InvalidArgument`, an internal error's text) goes to the log, never to
//! the client.

use cang_kms_api::KmsError;
use cang_meta_api::MetaError;
use cang_oss::{CmkCondition, Endpoint, OssError, Route};

/// Why an operation failed, before it is rendered as an OSS error.
#[derive(Debug)]
pub enum Failure {
    /// An OSS error already decided (a protocol refusal, or a service error mapped where the names it needs
    /// were at hand).
    Oss(OssError),
    /// A metadata-service error about the route's own bucket, key or upload.
    Meta(MetaError),
    /// A metadata-service error about another object (a copy source).
    MetaAt {
        /// The error.
        error: MetaError,
        /// The bucket it concerns.
        bucket: String,
        /// The key it concerns.
        key: String,
    },
    /// A crypto-service error that names no key the client asked for.
    Kms(KmsError),
}

impl From<OssError> for Failure {
    fn from(e: OssError) -> Self {
        Self::Oss(e)
    }
}

impl From<MetaError> for Failure {
    fn from(e: MetaError) -> Self {
        Self::Meta(e)
    }
}

impl From<KmsError> for Failure {
    fn from(e: KmsError) -> Self {
        Self::Kms(e)
    }
}

impl Failure {
    /// A metadata-service error about `bucket/key` rather than the route's object.
    pub fn meta_at(error: MetaError, bucket: &str, key: &str) -> Self {
        Self::MetaAt {
            error,
            bucket: bucket.to_owned(),
            key: key.to_owned(),
        }
    }

    /// The OSS error a client sees, with the names taken from `names`.
    pub fn render(self, names: &Names) -> OssError {
        match self {
            Self::Oss(e) => e,
            Self::Meta(e) => meta_error(e, &names.bucket, &names.key, &names.upload_id),
            Self::MetaAt { error, bucket, key } => meta_error(error, &bucket, &key, ""),
            Self::Kms(e) => kms_error_for(e, ""),
        }
    }

    /// The OSS error a client would see for object `key` of `bucket` (for jobs, which have no route).
    pub fn render_at(self, bucket: &str, key: &str) -> OssError {
        self.render(&Names {
            bucket: bucket.to_owned(),
            key: key.to_owned(),
            upload_id: String::new(),
        })
    }

    /// The OSS error code this failure renders as (for tests and logs).
    #[cfg(test)]
    pub fn code(self) -> cang_oss::ErrorCode {
        self.render(&Names::default()).code()
    }
}

/// The names an error message may carry, from the request's route.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Names {
    /// The bucket the request addressed.
    pub bucket: String,
    /// The object key the request addressed.
    pub key: String,
    /// The multipart upload the request addressed.
    pub upload_id: String,
}

impl Names {
    /// The names of `route`.
    pub fn of(route: &Route) -> Self {
        let upload_id = match &route.endpoint {
            Endpoint::UploadPart { upload_id, .. }
            | Endpoint::UploadPartCopy { upload_id, .. }
            | Endpoint::CompleteMultipartUpload { upload_id, .. }
            | Endpoint::AbortMultipartUpload { upload_id, .. }
            | Endpoint::ListParts { upload_id, .. } => upload_id.clone(),
            _ => String::new(),
        };
        Self {
            bucket: route.bucket().unwrap_or_default().to_owned(),
            key: route.key().unwrap_or_default().to_owned(),
            upload_id,
        }
    }
}

/// The OSS error for a crypto-service failure on the data path (`key` is the key the request named).
pub fn kms_error_for(err: KmsError, key: &str) -> OssError {
    match err {
        KmsError::KeyDisabled => CmkCondition::Disabled.into(),
        KmsError::PendingDeletion => CmkCondition::PendingDeletion.into(),
        KmsError::PendingImport => CmkCondition::PendingImport.into(),
        KmsError::KeyNotFound | KmsError::KeyVersionNotFound => CmkCondition::NotFound(key.to_owned()).into(),
        KmsError::AliasNotFound => CmkCondition::AliasNotFound(key.to_owned()).into(),
        KmsError::InvalidArgument(_) => CmkCondition::MalformedKeyId.into(),
        KmsError::AccessDenied => CmkCondition::Forbidden.into(),
        KmsError::Unavailable => OssError::service_unavailable(),
        other => {
            tracing::error!(error = %other, "crypto service failed");
            OssError::internal_error()
        }
    }
}

/// The OSS error for a metadata-service failure about `bucket/key` (and `upload_id`).
fn meta_error(err: MetaError, bucket: &str, key: &str, upload_id: &str) -> OssError {
    match err {
        MetaError::NoSuchBucket => OssError::no_such_bucket(bucket),
        MetaError::NoSuchKey => OssError::no_such_key(key),
        MetaError::BucketAlreadyExists => OssError::bucket_already_exists(bucket),
        MetaError::BucketNotEmpty => OssError::bucket_not_empty(bucket),
        MetaError::NoSuchEncryptionRule => OssError::no_such_server_side_encryption_rule(bucket),
        MetaError::NoSuchUpload => OssError::no_such_upload(upload_id),
        MetaError::InvalidPart => OssError::invalid_part(0),
        MetaError::InvalidPartOrder => OssError::invalid_part_order(),
        MetaError::EntityTooSmall => OssError::entity_too_small(),
        MetaError::PositionNotEqualToLength { next_position } => {
            OssError::position_not_equal_to_length(next_position)
        }
        MetaError::PreconditionFailed => OssError::precondition_failed("If-Match"),
        MetaError::NotModified => OssError::not_modified(),
        MetaError::FileAlreadyExists => OssError::file_already_exists(key),
        MetaError::ObjectNotAppendable => OssError::object_not_appendable(),
        MetaError::InvalidBucketName(_) => OssError::invalid_bucket_name(bucket),
        MetaError::InvalidObjectName(_) => OssError::invalid_object_name("The object name is not valid."),
        MetaError::Unavailable(detail) => {
            tracing::warn!(%detail, "metadata service unavailable");
            OssError::service_unavailable()
        }
        // Everything a client can get wrong is refused before meta is asked; what meta still refuses is the
        // gateway's fault, and meta's wording is not part of the OSS contract.
        other => {
            tracing::error!(error = %other, "metadata service failed");
            OssError::internal_error()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cang_oss::ErrorCode;

    fn names() -> Names {
        Names {
            bucket: "photos".into(),
            key: "a/b.jpg".into(),
            upload_id: "U1".into(),
        }
    }

    #[test]
    fn meta_errors_name_the_route_and_hide_internal_text() {
        let cases: Vec<(MetaError, ErrorCode)> = vec![
            (MetaError::NoSuchBucket, ErrorCode::NoSuchBucket),
            (MetaError::NoSuchKey, ErrorCode::NoSuchKey),
            (MetaError::NoSuchUpload, ErrorCode::NoSuchUpload),
            (MetaError::BucketNotEmpty, ErrorCode::BucketNotEmpty),
            (MetaError::FileAlreadyExists, ErrorCode::FileAlreadyExists),
            (MetaError::PreconditionFailed, ErrorCode::PreconditionFailed),
            (
                MetaError::Unavailable("conn refused 10.0.0.1".into()),
                ErrorCode::ServiceUnavailable,
            ),
            (
                MetaError::InvalidArgument("ciphertext range 5..9 is outside 0..3".into()),
                ErrorCode::InternalError,
            ),
            (
                MetaError::Internal("redb: page 7 corrupt".into()),
                ErrorCode::InternalError,
            ),
            (
                MetaError::NotPermitted("create_account".into()),
                ErrorCode::InternalError,
            ),
            (MetaError::WriteAborted, ErrorCode::InternalError),
        ];
        for (error, code) in cases {
            let text = error.to_string();
            let rendered = Failure::Meta(error).render(&names());
            assert_eq!(rendered.code(), code, "{text}");
            let body = rendered.render(false).body;
            for secret in ["10.0.0.1", "ciphertext range", "redb", "create_account"] {
                assert!(!body.contains(secret), "{text} leaked into {body}");
            }
        }
        let body = Failure::Meta(MetaError::NoSuchKey)
            .render(&names())
            .render(false)
            .body;
        assert!(body.contains("<Key>a/b.jpg</Key>"), "{body}");
        let body = Failure::Meta(MetaError::NoSuchUpload)
            .render(&names())
            .render(false)
            .body;
        assert!(body.contains("U1"), "{body}");
    }

    #[test]
    fn a_copy_source_error_names_the_source() {
        let failure = Failure::meta_at(MetaError::NoSuchKey, "src", "original.txt");
        let body = failure.render(&names()).render(false).body;
        assert!(
            body.contains("original.txt") && !body.contains("a/b.jpg"),
            "{body}"
        );
    }

    #[test]
    fn kms_errors_become_cmk_conditions_or_503() {
        for (error, code) in [
            (KmsError::KeyDisabled, ErrorCode::KeyDisabled),
            (KmsError::Unavailable, ErrorCode::ServiceUnavailable),
            (KmsError::AccessDenied, ErrorCode::AccessDenied),
        ] {
            assert_eq!(Failure::Kms(error).code(), code);
        }
    }
}
