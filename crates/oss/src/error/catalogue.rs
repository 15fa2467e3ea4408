//! Named constructors for every error of the §3.4 catalogue, carrying the extras and headers each one needs,
//! and the §8.3 mapping from a CMK's condition to the error an upload or download reports.

use super::{ErrorCode, OssError};

/// EC code real OSS sends with `NoSuchKey` (recorded by oss2's `test_exception_ec.py`).
const EC_NO_SUCH_KEY: &str = "0026-00000001";
/// EC code of the documented `KeyNotFound` troubleshooting page.
const EC_KEY_NOT_FOUND: &str = "0005-00000208";

impl OssError {
    /// `400 InvalidArgument` with a specific message.
    pub fn invalid_argument(message: impl Into<std::borrow::Cow<'static, str>>) -> Self {
        Self::with_message(ErrorCode::InvalidArgument, message)
    }

    /// `400 InvalidArgument` for an `x-oss-copy-source` that is not `/bucket/key`.
    pub fn invalid_copy_source() -> Self {
        Self::invalid_argument("Copy Source must mention the source bucket and key: /sourcebucket/sourcekey.")
    }

    /// `400 InvalidArgument` for SSE headers where they are not accepted (UploadPart, Complete).
    pub fn sse_header_not_allowed(header: &str) -> Self {
        Self::invalid_argument(format!("The header {header} is not allowed on this request."))
            .extra("ArgumentName", header.to_owned())
    }

    /// `400 InvalidArgument`: a KMS master key id given with an algorithm other than KMS.
    pub fn kms_master_key_id_not_applicable() -> Self {
        Self::invalid_argument("KMSMasterKeyID is not applicable if the default sse algorithm is not KMS")
    }

    /// `403 AccessDenied` with a specific message.
    pub fn access_denied(message: impl Into<std::borrow::Cow<'static, str>>) -> Self {
        Self::with_message(ErrorCode::AccessDenied, message)
    }

    /// `403 AccessDenied` because KMS refused the data-key call.
    pub fn kms_access_denied() -> Self {
        Self::access_denied("This request is forbidden by kms.")
    }

    /// `403 InvalidAccessKeyId`.
    pub fn invalid_access_key_id(access_key_id: &str) -> Self {
        Self::new(ErrorCode::InvalidAccessKeyId).extra("OSSAccessKeyId", access_key_id.to_owned())
    }

    /// `403 SignatureDoesNotMatch`.
    pub fn signature_does_not_match() -> Self {
        Self::new(ErrorCode::SignatureDoesNotMatch)
    }

    /// `403 RequestTimeTooSkewed`.
    pub fn request_time_too_skewed() -> Self {
        Self::new(ErrorCode::RequestTimeTooSkewed)
    }

    /// `400 NotImplemented` with a specific message (unknown sub-resource, `If-*` on PUT, …).
    pub fn not_implemented(message: impl Into<std::borrow::Cow<'static, str>>) -> Self {
        Self::with_message(ErrorCode::NotImplemented, message)
    }

    /// `411 MissingContentLength`.
    pub fn missing_content_length() -> Self {
        Self::new(ErrorCode::MissingContentLength)
    }

    /// `400 IncompleteBody`.
    pub fn incomplete_body() -> Self {
        Self::new(ErrorCode::IncompleteBody)
    }

    /// `400 RequestTimeout`.
    pub fn request_timeout() -> Self {
        Self::new(ErrorCode::RequestTimeout)
    }

    /// `400 InvalidDigest`.
    pub fn invalid_digest() -> Self {
        Self::new(ErrorCode::InvalidDigest)
    }

    /// `400 InvalidDigest`: the body's SHA-256 differs from the `x-oss-content-sha256` a V4 signature
    /// covers ([`crate::auth::SignatureClaim::payload_sha256`]).
    ///
    /// S3 answers this case with `400 XAmzContentSHA256Mismatch`; OSS documents no code of its own for it
    /// (real OSS refuses any value but `UNSIGNED-PAYLOAD`, EC 0002-00000214). `InvalidDigest` is the OSS
    /// code for a body that does not match the digest the client declared (`Content-MD5`), and the one
    /// oss2 maps to its `InvalidDigest` exception, so clients see the familiar class of error with a
    /// message naming the header.
    pub fn content_sha256_mismatch() -> Self {
        Self::with_message(
            ErrorCode::InvalidDigest,
            "The x-oss-content-sha256 you specified did not match what we received.",
        )
    }

    /// `400 InvalidObjectName`.
    pub fn invalid_object_name(reason: &'static str) -> Self {
        Self::with_message(ErrorCode::InvalidObjectName, reason)
    }

    /// `400 InvalidBucketName` with `<BucketName>`.
    pub fn invalid_bucket_name(bucket: &str) -> Self {
        Self::new(ErrorCode::InvalidBucketName).extra("BucketName", bucket.to_owned())
    }

    /// `400 MalformedXML`; `detail` says what was wrong, without echoing the body.
    pub fn malformed_xml(detail: impl std::fmt::Display) -> Self {
        Self::with_message(
            ErrorCode::MalformedXML,
            format!("{} ({detail})", ErrorCode::MalformedXML.default_message()),
        )
    }

    /// `400 InvalidRequest` with a specific message.
    pub fn invalid_request(message: impl Into<std::borrow::Cow<'static, str>>) -> Self {
        Self::with_message(ErrorCode::InvalidRequest, message)
    }

    /// `400 OperationNotSupported` with a specific message.
    pub fn operation_not_supported(message: impl Into<std::borrow::Cow<'static, str>>) -> Self {
        Self::with_message(ErrorCode::OperationNotSupported, message)
    }

    /// `405 MethodNotAllowed`.
    pub fn method_not_allowed(method: &str) -> Self {
        Self::new(ErrorCode::MethodNotAllowed).extra("Method", method.to_owned())
    }

    /// `404 NoSuchBucket` with `<BucketName>`.
    pub fn no_such_bucket(bucket: &str) -> Self {
        Self::new(ErrorCode::NoSuchBucket).extra("BucketName", bucket.to_owned())
    }

    /// `409 BucketAlreadyExists` with `<BucketName>`.
    pub fn bucket_already_exists(bucket: &str) -> Self {
        Self::new(ErrorCode::BucketAlreadyExists).extra("BucketName", bucket.to_owned())
    }

    /// `409 BucketNotEmpty` with `<BucketName>`.
    pub fn bucket_not_empty(bucket: &str) -> Self {
        Self::new(ErrorCode::BucketNotEmpty).extra("BucketName", bucket.to_owned())
    }

    /// `400 TooManyBuckets`.
    pub fn too_many_buckets() -> Self {
        Self::new(ErrorCode::TooManyBuckets)
    }

    /// `404 NoSuchKey` with `<Key>` and the EC real OSS sends.
    pub fn no_such_key(key: &str) -> Self {
        Self::new(ErrorCode::NoSuchKey)
            .extra("Key", key.to_owned())
            .ec(EC_NO_SUCH_KEY)
    }

    /// `409 FileAlreadyExists`.
    pub fn file_already_exists(key: &str) -> Self {
        Self::new(ErrorCode::FileAlreadyExists).extra("Key", key.to_owned())
    }

    /// `409 ObjectNotAppendable`.
    pub fn object_not_appendable() -> Self {
        Self::new(ErrorCode::ObjectNotAppendable)
    }

    /// `409 PositionNotEqualToLength`, telling the client the position to use next.
    pub fn position_not_equal_to_length(length: u64) -> Self {
        Self::new(ErrorCode::PositionNotEqualToLength)
            .header("x-oss-next-append-position", length.to_string())
    }

    /// `412 PreconditionFailed`, naming the header whose condition failed.
    pub fn precondition_failed(condition: &str) -> Self {
        Self::new(ErrorCode::PreconditionFailed).extra("Condition", condition.to_owned())
    }

    /// `304` with no body.
    pub fn not_modified() -> Self {
        Self::new(ErrorCode::NotModified)
    }

    /// `416 InvalidRange`.
    pub fn invalid_range() -> Self {
        Self::new(ErrorCode::InvalidRange)
    }

    /// `400 EntityTooSmall`.
    pub fn entity_too_small() -> Self {
        Self::new(ErrorCode::EntityTooSmall)
    }

    /// `400 InvalidArgument` for a body above the 5 GiB single-request limit.
    pub fn entity_too_large() -> Self {
        Self::invalid_argument("Your proposed upload exceeds the maximum allowed size.")
    }

    /// `400 InvalidPart` with the part number.
    pub fn invalid_part(part_number: u32) -> Self {
        Self::new(ErrorCode::InvalidPart).extra("PartNumber", part_number.to_string())
    }

    /// `400 InvalidPartOrder`.
    pub fn invalid_part_order() -> Self {
        Self::new(ErrorCode::InvalidPartOrder)
    }

    /// `404 NoSuchUpload` with `<UploadId>`.
    pub fn no_such_upload(upload_id: &str) -> Self {
        Self::new(ErrorCode::NoSuchUpload).extra("UploadId", upload_id.to_owned())
    }

    /// `400 InvalidEncryptionAlgorithmError`.
    pub fn invalid_encryption_algorithm() -> Self {
        Self::new(ErrorCode::InvalidEncryptionAlgorithmError)
    }

    /// `400 InvalidDataEncryptionAlgorithmError`.
    pub fn invalid_data_encryption_algorithm() -> Self {
        Self::new(ErrorCode::InvalidDataEncryptionAlgorithmError)
    }

    /// `404 NoSuchServerSideEncryptionRule` with `<BucketName>`.
    pub fn no_such_server_side_encryption_rule(bucket: &str) -> Self {
        Self::new(ErrorCode::NoSuchServerSideEncryptionRule).extra("BucketName", bucket.to_owned())
    }

    /// `500 InternalError`; the message never carries internal detail.
    pub fn internal_error() -> Self {
        Self::new(ErrorCode::InternalError)
    }

    /// `503 ServiceUnavailable`: a dependency is down, nothing was written.
    pub fn service_unavailable() -> Self {
        Self::new(ErrorCode::ServiceUnavailable)
    }

    /// `503 SlowDown`: too many requests in flight for this caller or this gateway; nothing was done.
    pub fn slow_down() -> Self {
        Self::new(ErrorCode::SlowDown)
    }
}

/// Why KMS could not produce or open a data key (§8.3), as the gateway learns it from the crypto service.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CmkCondition {
    /// The key is disabled.
    Disabled,
    /// The key is scheduled for deletion.
    PendingDeletion,
    /// The external key has no (valid) key material.
    PendingImport,
    /// No key with this id.
    NotFound(String),
    /// No such alias.
    AliasNotFound(String),
    /// The key id is not syntactically valid.
    MalformedKeyId,
    /// KMS is not activated for the account.
    ServiceNotEnabled,
    /// A RAM or key policy denies the KMS call.
    Forbidden,
}

impl From<CmkCondition> for OssError {
    fn from(condition: CmkCondition) -> Self {
        match condition {
            CmkCondition::Disabled => Self::new(ErrorCode::KeyDisabled),
            CmkCondition::PendingDeletion => Self::new(ErrorCode::KeyPendingDeletion),
            CmkCondition::PendingImport => Self::new(ErrorCode::KeyPendingImport),
            CmkCondition::NotFound(id) => Self::new(ErrorCode::KeyNotFound)
                .extra("KeyId", id)
                .ec(EC_KEY_NOT_FOUND),
            CmkCondition::AliasNotFound(alias) => Self::new(ErrorCode::AliasNotFound).extra("Alias", alias),
            CmkCondition::MalformedKeyId => Self::new(ErrorCode::InvalidParameter),
            CmkCondition::ServiceNotEnabled => Self::new(ErrorCode::KmsServiceNotEnabled),
            CmkCondition::Forbidden => Self::kms_access_denied(),
        }
    }
}
