//! The HTTP edge of error mapping: crypto-service and metadata-service errors become OSS errors. Internal
//! detail goes to the log, never to the client.

use cang_kms_api::KmsError;
use cang_meta_api::MetaError;
use cang_oss::{CmkCondition, OssError};

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

/// [`kms_error_for`] when no key name is at hand.
pub fn kms_error(err: KmsError) -> OssError {
    kms_error_for(err, "")
}

/// The OSS error for a metadata-service failure, naming the bucket and key where the code needs them.
pub fn meta_error_for(err: MetaError, bucket: &str, key: &str) -> OssError {
    match err {
        MetaError::NoSuchBucket => OssError::no_such_bucket(bucket),
        MetaError::NoSuchKey => OssError::no_such_key(key),
        MetaError::BucketAlreadyExists => OssError::bucket_already_exists(bucket),
        MetaError::BucketNotEmpty => OssError::bucket_not_empty(bucket),
        MetaError::NoSuchEncryptionRule => OssError::no_such_server_side_encryption_rule(bucket),
        MetaError::NoSuchUpload => OssError::no_such_upload(""),
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
        MetaError::InvalidArgument(msg) => OssError::invalid_argument(msg),
        MetaError::Unavailable(detail) => {
            tracing::warn!(%detail, "metadata service unavailable");
            OssError::service_unavailable()
        }
        other => {
            tracing::error!(error = %other, "metadata service failed");
            OssError::internal_error()
        }
    }
}

/// [`meta_error_for`] without names.
pub fn meta_error(err: MetaError) -> OssError {
    meta_error_for(err, "", "")
}
