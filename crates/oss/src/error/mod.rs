//! `OssError`: the one error type that reaches an OSS client, with the §3.4 code catalogue and its rendering
//! as the `<Error>` XML body and, for HEAD responses, the base64 `x-oss-err` header.

use std::borrow::Cow;

use base64::Engine as _;
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode};

use crate::xml::write::XmlWriter;

macro_rules! error_codes {
    ($( $(#[$doc:meta])* $variant:ident = ($status:literal, $message:literal), )*) => {
        /// An OSS error code with its HTTP status and the message the real service sends.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum ErrorCode {
            $( $(#[$doc])* $variant, )*
        }

        impl ErrorCode {
            /// Every code of the catalogue, for tables and tests.
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$variant,)*];

            /// The `<Code>` string, e.g. `NoSuchKey`.
            pub const fn as_str(self) -> &'static str {
                match self { $(ErrorCode::$variant => stringify!($variant),)* }
            }

            /// The HTTP status OSS answers with, as oss2 maps `(status, code)` pairs exactly.
            pub fn status(self) -> StatusCode {
                let code = match self { $(ErrorCode::$variant => $status,)* };
                // Every literal in the table is a valid status code; 500 is an unreachable fallback.
                StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
            }

            /// The message the real service sends for this code when nothing more specific is known.
            pub const fn default_message(self) -> &'static str {
                match self { $(ErrorCode::$variant => $message,)* }
            }

            /// Looks a code up by its `<Code>` string.
            pub fn from_code(code: &str) -> Option<Self> {
                match code { $(stringify!($variant) => Some(ErrorCode::$variant),)* _ => None }
            }
        }
    };
}

error_codes! {
    // Authentication and request level.
    /// Malformed request parameter or header.
    InvalidArgument = (400, "The argument you provided is invalid."),
    /// The request is not allowed (no credentials, expired URL, ACL or policy denial).
    AccessDenied = (403, "You have no right to access this object."),
    /// The access key id is unknown or disabled.
    InvalidAccessKeyId = (403, "The OSS Access Key Id you provided does not exist in our records."),
    /// The signature did not verify.
    SignatureDoesNotMatch = (403, "The request signature we calculated does not match the signature you provided. Check your key and signing method."),
    /// The request time is more than 15 minutes away from the server clock.
    RequestTimeTooSkewed = (403, "The difference between the request time and the current time is too large."),
    /// A header or sub-resource asks for something this server does not implement.
    NotImplemented = (400, "A header you provided implies functionality that is not implemented."),
    /// PUT without `Content-Length` and without chunked encoding.
    MissingContentLength = (411, "You must provide the Content-Length HTTP header."),
    /// The body was not received in time.
    RequestTimeout = (400, "Your socket connection to the server was not read from or written to within the timeout period."),
    /// The body was shorter than `Content-Length`.
    IncompleteBody = (400, "You did not provide the number of bytes specified by the Content-Length HTTP header."),
    /// `Content-MD5` does not match the body.
    InvalidDigest = (400, "The Content-MD5 you specified was invalid."),
    /// The object key breaks the naming rules.
    InvalidObjectName = (400, "The specified object is not valid."),
    /// The bucket name breaks the naming rules.
    InvalidBucketName = (400, "The specified bucket is not valid."),
    /// The XML body is not well formed or does not match the schema.
    MalformedXML = (400, "The XML you provided was not well-formed or did not validate against our published schema."),
    /// A request that is well formed but not allowed in this form.
    InvalidRequest = (400, "The request is not valid."),
    /// The operation is not supported on this resource.
    OperationNotSupported = (400, "The operation is not supported for this resource."),
    /// The HTTP method is not allowed on this resource.
    MethodNotAllowed = (405, "The specified method is not allowed against this resource."),
    // Bucket.
    /// The bucket does not exist.
    NoSuchBucket = (404, "The specified bucket does not exist."),
    /// The bucket name is taken, or the re-creation conflicts with the existing bucket.
    BucketAlreadyExists = (409, "The requested bucket name is not available. The bucket namespace is shared by all users of the system. Please select a different name and try again."),
    /// The bucket still holds objects or unfinished multipart uploads.
    BucketNotEmpty = (409, "The bucket you tried to delete is not empty."),
    /// The account already owns the maximum number of buckets.
    TooManyBuckets = (400, "You have attempted to create more buckets than allowed."),
    // Object and multipart.
    /// The object does not exist.
    NoSuchKey = (404, "The specified key does not exist."),
    /// `x-oss-forbid-overwrite: true` and the key exists.
    FileAlreadyExists = (409, "The object you specified already exists and can not be overwritten."),
    /// Append on an object that is not appendable.
    ObjectNotAppendable = (409, "The object is not appendable"),
    /// Append position differs from the object length.
    PositionNotEqualToLength = (409, "Position is not equal to file length"),
    /// An `If-Match` / `If-Unmodified-Since` condition failed.
    PreconditionFailed = (412, "At least one of the pre-conditions you specified did not hold."),
    /// An `If-None-Match` / `If-Modified-Since` condition held: 304 with no body and an empty code.
    NotModified = (304, ""),
    /// The range cannot be satisfied (only with `x-oss-range-behavior: standard`).
    InvalidRange = (416, "The requested range cannot be satisfied"),
    /// A non-last part of a multipart upload is below the minimum size.
    EntityTooSmall = (400, "Your proposed upload smaller than the minimum allowed size."),
    /// The body is larger than allowed.
    EntityTooLarge = (400, "Your proposed upload exceeds the maximum allowed size."),
    /// A listed part does not exist or its ETag differs.
    InvalidPart = (400, "One or more of the specified parts could not be found or the specified entity tag might not have matched the part's entity tag."),
    /// Parts are not in ascending order or a part number is out of range.
    InvalidPartOrder = (400, "The list of parts was not in ascending order. Parts list must specified in order by part number."),
    /// The upload id is unknown, aborted or already completed.
    NoSuchUpload = (404, "The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed."),
    // Encryption and KMS.
    /// The SSE algorithm is not one of AES256, KMS, SM4.
    InvalidEncryptionAlgorithmError = (400, "The Encryption request you specified is not valid. Supported value: AES256/SM4/KMS"),
    /// The data encryption algorithm is not SM4.
    InvalidDataEncryptionAlgorithmError = (400, "The KMS Data Encryption request you specified is not valid. Supported value:SM4"),
    /// An SSE combination that is not allowed.
    InvalidEncryptionRequest = (400, "The encryption request you specified is not valid."),
    /// A malformed CMK id.
    InvalidParameter = (400, "The specified parameter KMS keyId is not valid."),
    /// The CMK does not exist.
    KeyNotFound = (404, "The specified parameter KMS keyId is not found."),
    /// The CMK alias does not exist.
    AliasNotFound = (404, "The specified alias is not found."),
    /// The CMK is disabled.
    KeyDisabled = (409, "The request was rejected because the key state is Disabled."),
    /// The CMK is scheduled for deletion.
    KeyPendingDeletion = (409, "The request was rejected because the key state is PendingDeletion."),
    /// The external CMK has no key material.
    KeyPendingImport = (409, "The request was rejected because the key state is PendingImport."),
    /// KMS is not activated for the account.
    KmsServiceNotEnabled = (403, "This user does not turn on KMS service."),
    /// GetBucketEncryption on a bucket without a rule.
    NoSuchServerSideEncryptionRule = (404, "The server side encryption configuration was not found."),
    // Server side.
    /// An unexpected server failure; the message never carries internal detail.
    InternalError = (500, "We encountered an internal error. Please try again."),
    /// A dependency (KMS, metadata) is unavailable; nothing was written.
    ServiceUnavailable = (503, "Service is temporarily unavailable. Please try again."),
    /// The caller (or the whole gateway) has too many requests in flight; retry later.
    SlowDown = (503, "Please reduce your request rate."),
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Name of the header that carries the base64 error body on HEAD responses.
pub const X_OSS_ERR: &str = "x-oss-err";
/// Name of the header that carries the EC code.
pub const X_OSS_EC: &str = "x-oss-ec";
/// Name of the request id header.
pub const X_OSS_REQUEST_ID: &str = "x-oss-request-id";

/// An error as the client sees it: code, status, message and the optional extras of the `<Error>` body.
/// The details are boxed so that `Result<T, OssError>` stays one pointer wide on the error side.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{} ({}): {}", .inner.code, .inner.status, .inner.message)]
pub struct OssError {
    inner: Box<ErrorDetail>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct ErrorDetail {
    code: ErrorCode,
    status: StatusCode,
    message: Cow<'static, str>,
    request_id: Option<String>,
    host_id: Option<String>,
    ec: Option<String>,
    resource: Option<String>,
    extra: Vec<(&'static str, String)>,
    headers: Vec<(&'static str, String)>,
}

impl OssError {
    /// An error with the code's default status and message.
    pub fn new(code: ErrorCode) -> Self {
        let detail = ErrorDetail {
            code,
            status: code.status(),
            message: Cow::Borrowed(code.default_message()),
            request_id: None,
            host_id: None,
            ec: None,
            resource: None,
            extra: Vec::new(),
            headers: Vec::new(),
        };
        Self {
            inner: Box::new(detail),
        }
    }

    /// An error with a specific message.
    pub fn with_message(code: ErrorCode, message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(code).message(message)
    }

    /// Replaces the message.
    #[must_use]
    pub fn message(mut self, message: impl Into<Cow<'static, str>>) -> Self {
        self.inner.message = message.into();
        self
    }

    /// Overrides the HTTP status (for codes whose status differs between operations).
    #[must_use]
    pub fn status(mut self, status: StatusCode) -> Self {
        self.inner.status = status;
        self
    }

    /// Sets the request id (`<RequestId>` and `x-oss-request-id`).
    #[must_use]
    pub fn request_id(mut self, id: impl Into<String>) -> Self {
        self.inner.request_id = Some(id.into());
        self
    }

    /// Sets `<HostId>`, the host the request was addressed to.
    #[must_use]
    pub fn host_id(mut self, host: impl Into<String>) -> Self {
        self.inner.host_id = Some(host.into());
        self
    }

    /// Sets the EC code (`<EC>` and `x-oss-ec`).
    #[must_use]
    pub fn ec(mut self, ec: impl Into<String>) -> Self {
        self.inner.ec = Some(ec.into());
        self
    }

    /// Sets `<Resource>`, the resource the request addressed.
    #[must_use]
    pub fn resource(mut self, resource: impl Into<String>) -> Self {
        self.inner.resource = Some(resource.into());
        self
    }

    /// Adds an operation-specific element such as `BucketName`, `Key`, `Header` or `UploadId`.
    #[must_use]
    pub fn extra(mut self, element: &'static str, value: impl Into<String>) -> Self {
        self.inner.extra.push((element, value.into()));
        self
    }

    /// Adds a response header that belongs to this error (e.g. `x-oss-next-append-position`).
    #[must_use]
    pub fn header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.inner.headers.push((name, value.into()));
        self
    }

    /// The error code.
    pub fn code(&self) -> ErrorCode {
        self.inner.code
    }

    /// The HTTP status.
    pub fn http_status(&self) -> StatusCode {
        self.inner.status
    }

    /// The message.
    pub fn message_text(&self) -> &str {
        &self.inner.message
    }

    /// The operation-specific elements, in insertion order.
    pub fn extras(&self) -> &[(&'static str, String)] {
        &self.inner.extra
    }

    /// The EC code, if any.
    pub fn ec_code(&self) -> Option<&str> {
        self.inner.ec.as_deref()
    }

    /// Whether the response carries an `<Error>` body (a 304 carries none).
    pub fn has_body(&self) -> bool {
        self.inner.code != ErrorCode::NotModified
    }

    /// The `<Error>` document of §3.3.
    pub fn to_xml(&self) -> String {
        let mut w = XmlWriter::new();
        w.open("Error")
            .text("Code", self.inner.code.as_str())
            .text("Message", &self.inner.message)
            .text_opt("RequestId", self.inner.request_id.as_deref())
            .text_opt("HostId", self.inner.host_id.as_deref())
            .text_opt("Resource", self.inner.resource.as_deref());
        for (element, value) in &self.inner.extra {
            w.text(element, value);
        }
        w.text_opt("EC", self.inner.ec.as_deref()).close("Error");
        w.finish()
    }

    /// The `x-oss-err` header value: base64 of [`OssError::to_xml`].
    pub fn x_oss_err(&self) -> String {
        base64::engine::general_purpose::STANDARD.encode(self.to_xml())
    }

    /// Renders the status, headers and body of the error response. For HEAD the body is empty and the
    /// document travels base64-encoded in `x-oss-err`. The caller adds `Date` (this library reads no clock).
    pub fn render(&self, is_head: bool) -> RenderedError {
        let mut headers = HeaderMap::new();
        let mut insert = |name: &str, value: &str| {
            if let (Ok(name), Ok(value)) = (
                HeaderName::from_bytes(name.as_bytes()),
                HeaderValue::from_str(value),
            ) {
                headers.append(name, value);
            }
        };
        if let Some(id) = &self.inner.request_id {
            insert(X_OSS_REQUEST_ID, id);
        }
        if let Some(ec) = &self.inner.ec {
            insert(X_OSS_EC, ec);
        }
        for (name, value) in &self.inner.headers {
            insert(name, value);
        }
        let body = if !self.has_body() {
            String::new()
        } else if is_head {
            insert(X_OSS_ERR, &self.x_oss_err());
            String::new()
        } else {
            insert("content-type", "application/xml");
            self.to_xml()
        };
        RenderedError {
            status: self.inner.status,
            headers,
            body,
        }
    }
}

/// An error response ready to be sent.
#[derive(Debug, Clone)]
pub struct RenderedError {
    /// HTTP status.
    pub status: StatusCode,
    /// Headers (without `Date`).
    pub headers: HeaderMap,
    /// The body (empty for HEAD and 304).
    pub body: String,
}

impl From<crate::auth::AuthError> for OssError {
    /// Keeps the code, status, message, EC and extra elements the authentication layer chose.
    fn from(err: crate::auth::AuthError) -> Self {
        let code = ErrorCode::from_code(err.code()).unwrap_or(ErrorCode::AccessDenied);
        let status = StatusCode::from_u16(err.http_status()).unwrap_or_else(|_| code.status());
        let mut out = Self::with_message(code, err.message()).status(status);
        if let Some(ec) = err.ec() {
            out = out.ec(ec);
        }
        out.inner.extra.extend(err.extra_fields());
        out
    }
}

impl From<ErrorCode> for OssError {
    fn from(code: ErrorCode) -> Self {
        Self::new(code)
    }
}

mod catalogue;

pub use catalogue::CmkCondition;

#[cfg(test)]
mod tests;
