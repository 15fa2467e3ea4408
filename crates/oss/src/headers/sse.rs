//! Server-side encryption on the wire: the `x-oss-server-side-*` request headers (§6.1), the bucket default
//! rule (§5) and the response headers that echo the encryption actually applied.

use http::{HeaderMap, HeaderValue};

use crate::error::OssError;

/// `x-oss-server-side-encryption`.
pub const SSE: &str = "x-oss-server-side-encryption";
/// `x-oss-server-side-encryption-key-id`.
pub const SSE_KEY_ID: &str = "x-oss-server-side-encryption-key-id";
/// `x-oss-server-side-data-encryption`.
pub const SSE_DATA: &str = "x-oss-server-side-data-encryption";
/// `x-oss-server-side-encryption-context` (BYOK only; rejected where SSE headers are).
pub const SSE_CONTEXT: &str = "x-oss-server-side-encryption-context";

/// The SSE algorithm, as spelled on the wire (case-sensitive).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SseAlgorithm {
    /// `AES256`: SSE-OSS with AES-256.
    Aes256,
    /// `KMS`: SSE-KMS with a CMK.
    Kms,
    /// `SM4`: SSE-OSS with SM4.
    Sm4,
}

impl SseAlgorithm {
    /// Parses `AES256`, `KMS` or `SM4`; anything else is `400 InvalidEncryptionAlgorithmError`.
    pub fn parse(value: &str) -> Result<Self, OssError> {
        match value {
            "AES256" => Ok(Self::Aes256),
            "KMS" => Ok(Self::Kms),
            "SM4" => Ok(Self::Sm4),
            _ => Err(OssError::invalid_encryption_algorithm()),
        }
    }

    /// The wire spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Aes256 => "AES256",
            Self::Kms => "KMS",
            Self::Sm4 => "SM4",
        }
    }
}

/// The data cipher of SSE-KMS when it is not AES-256.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DataEncryption {
    /// `SM4`.
    Sm4,
}

impl DataEncryption {
    /// Parses `SM4`; anything else is `400 InvalidDataEncryptionAlgorithmError`.
    pub fn parse(value: &str) -> Result<Self, OssError> {
        match value {
            "SM4" => Ok(Self::Sm4),
            _ => Err(OssError::invalid_data_encryption_algorithm()),
        }
    }

    /// The wire spelling.
    pub fn as_str(self) -> &'static str {
        "SM4"
    }
}

/// An encryption choice: the bucket default rule, what a request asked for, or what an object was stored
/// with. `kms_key_id` and `data_encryption` are only ever set with [`SseAlgorithm::Kms`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SseRule {
    /// The algorithm.
    pub algorithm: SseAlgorithm,
    /// The CMK id; `None` means the account's default OSS CMK (`alias/acs/oss`).
    pub kms_key_id: Option<String>,
    /// The data cipher when it is SM4.
    pub data_encryption: Option<DataEncryption>,
}

impl SseRule {
    /// Validates a bucket default rule (§5): the algorithm must be known; a non-empty key id is only
    /// allowed with KMS; `KMSDataEncryption` must be `SM4` and is dropped for non-KMS algorithms.
    pub fn bucket_default(
        algorithm: &str,
        kms_key_id: Option<&str>,
        data_encryption: Option<&str>,
    ) -> Result<Self, OssError> {
        let algorithm = SseAlgorithm::parse(algorithm)?;
        let kms_key_id = kms_key_id.filter(|k| !k.is_empty());
        let data_encryption = data_encryption
            .filter(|d| !d.is_empty())
            .map(DataEncryption::parse)
            .transpose()?;
        if algorithm != SseAlgorithm::Kms && kms_key_id.is_some() {
            return Err(OssError::kms_master_key_id_not_applicable());
        }
        Ok(Self::normalised(algorithm, kms_key_id, data_encryption))
    }

    fn normalised(
        algorithm: SseAlgorithm,
        kms_key_id: Option<&str>,
        data_encryption: Option<DataEncryption>,
    ) -> Self {
        let kms = algorithm == SseAlgorithm::Kms;
        Self {
            algorithm,
            kms_key_id: kms_key_id.filter(|_| kms).map(str::to_owned),
            data_encryption: data_encryption.filter(|_| kms),
        }
    }

    /// Writes the response headers of §6.1 for an object stored with this rule. For KMS the key id is the
    /// one actually used (the resolved default CMK when none was asked for).
    pub fn write_headers(&self, headers: &mut HeaderMap) {
        headers.insert(SSE, HeaderValue::from_static(self.algorithm.as_str()));
        if self.algorithm == SseAlgorithm::Kms {
            if let Some(id) = self
                .kms_key_id
                .as_deref()
                .and_then(|id| HeaderValue::from_str(id).ok())
            {
                headers.insert(SSE_KEY_ID, id);
            }
            if let Some(data) = self.data_encryption {
                headers.insert(SSE_DATA, HeaderValue::from_static(data.as_str()));
            }
        }
    }
}

/// Whether an operation accepts SSE headers (§6.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SseHeaderPolicy {
    /// PutObject, AppendObject, CopyObject, InitiateMultipartUpload, PutBucket.
    Accept,
    /// UploadPart, UploadPartCopy, CompleteMultipartUpload: any SSE header is `400 InvalidArgument`.
    Reject,
}

fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Result<Option<&'a str>, OssError> {
    match headers.get(name) {
        None => Ok(None),
        Some(v) => v.to_str().map(|s| Some(s.trim())).map_err(|_| {
            OssError::invalid_argument("SSE header values must be ASCII.")
                .extra("ArgumentName", name.to_owned())
        }),
    }
}

/// Reads the SSE request headers. `Ok(None)` means "no SSE header": the bucket default applies.
///
/// Rules (§6.1): the algorithm must be `AES256`, `KMS` or `SM4`; a key id is only allowed with `KMS`
/// (`400 InvalidArgument`); the data cipher is validated with `KMS` and silently ignored otherwise.
pub fn sse_from_headers(headers: &HeaderMap, policy: SseHeaderPolicy) -> Result<Option<SseRule>, OssError> {
    if policy == SseHeaderPolicy::Reject {
        return match [SSE, SSE_KEY_ID, SSE_DATA, SSE_CONTEXT]
            .into_iter()
            .find(|h| headers.contains_key(*h))
        {
            Some(header) => Err(OssError::sse_header_not_allowed(header)),
            None => Ok(None),
        };
    }
    let algorithm = header_str(headers, SSE)?;
    let key_id = header_str(headers, SSE_KEY_ID)?.filter(|k| !k.is_empty());
    let data = header_str(headers, SSE_DATA)?;
    let Some(algorithm) = algorithm else {
        if key_id.is_some() {
            return Err(OssError::invalid_argument(
                "x-oss-server-side-encryption-key-id requires x-oss-server-side-encryption: KMS",
            ));
        }
        return Ok(None);
    };
    let algorithm = SseAlgorithm::parse(algorithm)?;
    if algorithm != SseAlgorithm::Kms {
        if key_id.is_some() {
            return Err(OssError::invalid_argument(
                "x-oss-server-side-encryption-key-id is not applicable if the sse algorithm is not KMS",
            ));
        }
        return Ok(Some(SseRule::normalised(algorithm, None, None)));
    }
    let data = data
        .filter(|d| !d.is_empty())
        .map(DataEncryption::parse)
        .transpose()?;
    Ok(Some(SseRule::normalised(algorithm, key_id, data)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, HeaderValue::from_static(value));
        }
        map
    }

    fn accept(pairs: &[(&'static str, &'static str)]) -> Result<Option<SseRule>, Option<ErrorCode>> {
        sse_from_headers(&headers(pairs), SseHeaderPolicy::Accept).map_err(|e| Some(e.code()))
    }

    #[test]
    fn accepted_combinations() {
        assert_eq!(accept(&[]), Ok(None));
        assert_eq!(accept(&[(SSE_DATA, "SM4")]), Ok(None));
        let kms = accept(&[(SSE, "KMS"), (SSE_KEY_ID, "9468da86"), (SSE_DATA, "SM4")]);
        assert_eq!(
            kms,
            Ok(Some(SseRule {
                algorithm: SseAlgorithm::Kms,
                kms_key_id: Some("9468da86".into()),
                data_encryption: Some(DataEncryption::Sm4)
            }))
        );
        let aes = accept(&[(SSE, "AES256"), (SSE_DATA, "SM4")]);
        assert_eq!(
            aes,
            Ok(Some(SseRule {
                algorithm: SseAlgorithm::Aes256,
                kms_key_id: None,
                data_encryption: None
            }))
        );
        let sm4 = accept(&[(SSE, "SM4")]);
        assert_eq!(sm4.ok().flatten().map(|r| r.algorithm), Some(SseAlgorithm::Sm4));
    }

    #[test]
    fn rejected_combinations_have_the_documented_codes() {
        assert_eq!(
            accept(&[(SSE, "aes256")]),
            Err(Some(ErrorCode::InvalidEncryptionAlgorithmError))
        );
        assert_eq!(
            accept(&[(SSE, "DES")]),
            Err(Some(ErrorCode::InvalidEncryptionAlgorithmError))
        );
        assert_eq!(
            accept(&[(SSE, "KMS"), (SSE_DATA, "AES")]),
            Err(Some(ErrorCode::InvalidDataEncryptionAlgorithmError))
        );
        assert_eq!(
            accept(&[(SSE, "AES256"), (SSE_KEY_ID, "k")]),
            Err(Some(ErrorCode::InvalidArgument))
        );
        assert_eq!(
            accept(&[(SSE_KEY_ID, "k")]),
            Err(Some(ErrorCode::InvalidArgument))
        );
        for h in [SSE, SSE_KEY_ID, SSE_DATA] {
            let err = sse_from_headers(&headers(&[(h, "KMS")]), SseHeaderPolicy::Reject)
                .err()
                .map(|e| e.code());
            assert_eq!(err, Some(ErrorCode::InvalidArgument));
        }
        assert_eq!(
            sse_from_headers(&HeaderMap::new(), SseHeaderPolicy::Reject).ok(),
            Some(None)
        );
    }

    #[test]
    fn bucket_default_rule_validation_follows_section_5() {
        let rule = |a, k, d| SseRule::bucket_default(a, k, d).map_err(|e| e.code());
        assert_eq!(
            rule("random", None, None).err(),
            Some(ErrorCode::InvalidEncryptionAlgorithmError)
        );
        assert_eq!(
            rule("AES256", Some("k"), None).err(),
            Some(ErrorCode::InvalidArgument)
        );
        assert!(rule("AES256", Some(""), None).is_ok());
        assert_eq!(
            rule("SM4", None, Some("SM4"))
                .ok()
                .and_then(|r| r.data_encryption),
            None
        );
        assert_eq!(
            rule("KMS", Some("test_wrong"), None)
                .ok()
                .and_then(|r| r.kms_key_id)
                .as_deref(),
            Some("test_wrong")
        );
        assert_eq!(rule("KMS", Some(""), None).ok().and_then(|r| r.kms_key_id), None);
        assert_eq!(
            rule("KMS", None, Some("AES")).err(),
            Some(ErrorCode::InvalidDataEncryptionAlgorithmError)
        );
    }

    #[test]
    fn response_headers_follow_the_echo_table() {
        let mut h = HeaderMap::new();
        SseRule {
            algorithm: SseAlgorithm::Aes256,
            kms_key_id: None,
            data_encryption: None,
        }
        .write_headers(&mut h);
        assert_eq!(h[SSE], "AES256");
        assert!(!h.contains_key(SSE_KEY_ID) && !h.contains_key(SSE_DATA));
        let mut h = HeaderMap::new();
        SseRule {
            algorithm: SseAlgorithm::Kms,
            kms_key_id: Some("cmk-1".into()),
            data_encryption: Some(DataEncryption::Sm4),
        }
        .write_headers(&mut h);
        assert_eq!(h[SSE], "KMS");
        assert_eq!(h[SSE_KEY_ID], "cmk-1");
        assert_eq!(h[SSE_DATA], "SM4");
    }
}
