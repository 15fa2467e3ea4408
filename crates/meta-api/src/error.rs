//! `MetaError`: every failure the metadata service reports, in the OSS vocabulary where one exists.

/// A failure of a metadata/blob operation.
///
/// Variants named after OSS error codes mean exactly what the OSS code means, so the gateway maps
/// them one to one. `Unavailable` and `Internal` carry a message for logs only; it is never shown to
/// an OSS client.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MetaError {
    /// The bucket does not exist.
    #[error("the specified bucket does not exist")]
    NoSuchBucket,
    /// The object does not exist.
    #[error("the specified key does not exist")]
    NoSuchKey,
    /// A bucket with this name already exists (buckets share one namespace).
    #[error("the requested bucket name is not available")]
    BucketAlreadyExists,
    /// The bucket still holds objects or unfinished multipart uploads.
    #[error("the bucket you tried to delete is not empty")]
    BucketNotEmpty,
    /// The bucket has no default encryption rule.
    #[error("the bucket has no server-side encryption configuration")]
    NoSuchEncryptionRule,
    /// The multipart upload does not exist (never initiated, completed or aborted).
    #[error("the specified upload does not exist")]
    NoSuchUpload,
    /// A part listed in CompleteMultipartUpload is missing or its ETag does not match.
    #[error("one or more of the specified parts could not be found or its ETag did not match")]
    InvalidPart,
    /// The part list of CompleteMultipartUpload is not in strictly ascending order.
    #[error("the list of parts was not in ascending order")]
    InvalidPartOrder,
    /// A part other than the last is smaller than the minimum part size.
    #[error("a part other than the last is smaller than the minimum allowed size")]
    EntityTooSmall,
    /// An append did not start at the object's current length.
    #[error("position is not equal to file length {next_position}")]
    PositionNotEqualToLength {
        /// The position the next append must use.
        next_position: u64,
    },
    /// An If-Match / If-Unmodified-Since condition failed.
    #[error("at least one of the preconditions you specified did not hold")]
    PreconditionFailed,
    /// An If-None-Match / If-Modified-Since condition says the client's copy is current.
    #[error("the object was not modified")]
    NotModified,
    /// `forbid-overwrite` was set and the object exists.
    #[error("the object you specified already exists and can not be overwritten")]
    FileAlreadyExists,
    /// Append to an object that was not created by append.
    #[error("the operation is not valid for the object's type")]
    ObjectNotAppendable,
    /// The bucket name breaks the naming rules.
    #[error("invalid bucket name: {0}")]
    InvalidBucketName(String),
    /// The object key is empty, too long or not valid.
    #[error("invalid object name: {0}")]
    InvalidObjectName(String),
    /// Any other malformed argument (part number, max-keys, range, stream order, ...).
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// The account does not exist.
    #[error("the specified account does not exist")]
    NoSuchAccount,
    /// The RAM user does not exist.
    #[error("the specified user does not exist")]
    NoSuchUser,
    /// The access key id is unknown.
    #[error("the specified access key does not exist")]
    NoSuchAccessKey,
    /// The policy does not exist.
    #[error("the specified policy does not exist")]
    NoSuchPolicy,
    /// An account, user, access key or policy with this identifier already exists.
    #[error("{0} already exists")]
    AlreadyExists(String),
    /// A policy that is still attached cannot be deleted, and similar ordering conflicts.
    #[error("conflict: {0}")]
    Conflict(String),
    /// The policy document was refused by the policy parser; the message is the parser's.
    #[error("malformed policy document: {0}")]
    MalformedPolicy(String),
    /// The caller's certificate does not name an identity this service serves.
    #[error("the caller is not allowed to use the metadata service")]
    AccessDenied,
    /// The caller's identity is served, but may not run this operation (identity writes are the
    /// admin's); the detail names the operation. For an OSS client this is a server fault: the
    /// gateway asked for something it has no business asking.
    #[error("the caller's identity may not call {0} on the metadata service")]
    NotPermitted(String),
    /// The writer of a streamed write gave up on it (its client went away, its digest did not match, its
    /// body timed out): nothing was committed. The writer knows why and reports that instead.
    #[error("the writer abandoned the write")]
    WriteAborted,
    /// The service could not be reached or is shutting down; the request may be retried.
    #[error("metadata service unavailable: {0}")]
    Unavailable(String),
    /// A storage or protocol failure inside the service.
    #[error("internal metadata service error: {0}")]
    Internal(String),
}

impl MetaError {
    /// A stable machine-readable code, used on the wire between services.
    pub fn code(&self) -> &'static str {
        match self {
            Self::NoSuchBucket => "NoSuchBucket",
            Self::NoSuchKey => "NoSuchKey",
            Self::BucketAlreadyExists => "BucketAlreadyExists",
            Self::BucketNotEmpty => "BucketNotEmpty",
            Self::NoSuchEncryptionRule => "NoSuchServerSideEncryptionRule",
            Self::NoSuchUpload => "NoSuchUpload",
            Self::InvalidPart => "InvalidPart",
            Self::InvalidPartOrder => "InvalidPartOrder",
            Self::EntityTooSmall => "EntityTooSmall",
            Self::PositionNotEqualToLength { .. } => "PositionNotEqualToLength",
            Self::PreconditionFailed => "PreconditionFailed",
            Self::NotModified => "NotModified",
            Self::FileAlreadyExists => "FileAlreadyExists",
            Self::ObjectNotAppendable => "ObjectNotAppendable",
            Self::InvalidBucketName(_) => "InvalidBucketName",
            Self::InvalidObjectName(_) => "InvalidObjectName",
            Self::InvalidArgument(_) => "InvalidArgument",
            Self::NoSuchAccount => "NoSuchAccount",
            Self::NoSuchUser => "NoSuchUser",
            Self::NoSuchAccessKey => "NoSuchAccessKey",
            Self::NoSuchPolicy => "NoSuchPolicy",
            Self::AlreadyExists(_) => "AlreadyExists",
            Self::Conflict(_) => "Conflict",
            Self::MalformedPolicy(_) => "MalformedPolicy",
            Self::AccessDenied => "AccessDenied",
            Self::NotPermitted(_) => "NotPermitted",
            Self::WriteAborted => "WriteAborted",
            Self::Unavailable(_) => "Unavailable",
            Self::Internal(_) => "Internal",
        }
    }

    /// The error's detail string, if the variant carries one (`""` otherwise).
    pub fn detail(&self) -> String {
        match self {
            Self::PositionNotEqualToLength { next_position } => next_position.to_string(),
            Self::InvalidBucketName(s)
            | Self::InvalidObjectName(s)
            | Self::InvalidArgument(s)
            | Self::AlreadyExists(s)
            | Self::Conflict(s)
            | Self::MalformedPolicy(s)
            | Self::NotPermitted(s)
            | Self::Unavailable(s)
            | Self::Internal(s) => s.clone(),
            _ => String::new(),
        }
    }

    /// Rebuilds an error from [`code`](Self::code) and [`detail`](Self::detail); `None` for an
    /// unknown code or a detail that does not parse.
    pub fn from_code(code: &str, detail: String) -> Option<Self> {
        Some(match code {
            "NoSuchBucket" => Self::NoSuchBucket,
            "NoSuchKey" => Self::NoSuchKey,
            "BucketAlreadyExists" => Self::BucketAlreadyExists,
            "BucketNotEmpty" => Self::BucketNotEmpty,
            "NoSuchServerSideEncryptionRule" => Self::NoSuchEncryptionRule,
            "NoSuchUpload" => Self::NoSuchUpload,
            "InvalidPart" => Self::InvalidPart,
            "InvalidPartOrder" => Self::InvalidPartOrder,
            "EntityTooSmall" => Self::EntityTooSmall,
            "PositionNotEqualToLength" => Self::PositionNotEqualToLength {
                next_position: detail.parse().ok()?,
            },
            "PreconditionFailed" => Self::PreconditionFailed,
            "NotModified" => Self::NotModified,
            "FileAlreadyExists" => Self::FileAlreadyExists,
            "ObjectNotAppendable" => Self::ObjectNotAppendable,
            "InvalidBucketName" => Self::InvalidBucketName(detail),
            "InvalidObjectName" => Self::InvalidObjectName(detail),
            "InvalidArgument" => Self::InvalidArgument(detail),
            "NoSuchAccount" => Self::NoSuchAccount,
            "NoSuchUser" => Self::NoSuchUser,
            "NoSuchAccessKey" => Self::NoSuchAccessKey,
            "NoSuchPolicy" => Self::NoSuchPolicy,
            "AlreadyExists" => Self::AlreadyExists(detail),
            "Conflict" => Self::Conflict(detail),
            "MalformedPolicy" => Self::MalformedPolicy(detail),
            "AccessDenied" => Self::AccessDenied,
            "NotPermitted" => Self::NotPermitted(detail),
            "WriteAborted" => Self::WriteAborted,
            "Unavailable" => Self::Unavailable(detail),
            "Internal" => Self::Internal(detail),
            _ => return None,
        })
    }
}
