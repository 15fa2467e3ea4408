//! Bucket and object naming rules (§1.2) and the `x-oss-copy-source` header that names a source object.

use crate::error::OssError;
use crate::percent::decode_path;

/// Longest object key, in bytes.
pub const MAX_KEY_BYTES: usize = 1023;

/// Checks a bucket name: 3–63 characters of `a-z`, `0-9` and `-`, starting and ending with a letter or digit.
pub fn validate_bucket_name(name: &str) -> Result<(), OssError> {
    let bytes = name.as_bytes();
    let allowed = |b: &u8| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-';
    let edge = |b: Option<&u8>| b.is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
    if (3..=63).contains(&bytes.len())
        && bytes.iter().all(allowed)
        && edge(bytes.first())
        && edge(bytes.last())
    {
        Ok(())
    } else {
        Err(OssError::invalid_bucket_name(name))
    }
}

/// Whether `c` may appear in an XML 1.0 document (the `Char` production), literally or as a reference.
/// Surrogates cannot occur in a Rust `char`.
pub fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r') || (c >= '\u{20}' && !matches!(c, '\u{fffe}' | '\u{ffff}'))
}

/// Checks an object key: 1–1023 bytes of UTF-8, not starting with `/` or `\`, and only characters that
/// XML 1.0 can carry.
///
/// The last rule is Cang's, not OSS's (OSS stores such keys and relies on `encoding-type=url`): a key
/// with NUL, another C0 control other than tab, line feed and carriage return, U+FFFE or U+FFFF would make
/// every listing without `encoding-type=url` that contains it ill-formed, which strict parsers (expat
/// under oss2 and py-v2, Java's) reject as a whole. Refusing it on write keeps every listing well formed.
pub fn validate_object_key(key: &str) -> Result<(), OssError> {
    if key.is_empty() {
        return Err(OssError::invalid_object_name("The object key must not be empty."));
    }
    if key.len() > MAX_KEY_BYTES {
        return Err(OssError::invalid_object_name(
            "The object key must be at most 1023 bytes long.",
        ));
    }
    if key.starts_with('/') || key.starts_with('\\') {
        return Err(OssError::invalid_object_name(
            "The object key must not start with '/' or '\\'.",
        ));
    }
    if !key.chars().all(is_xml_char) {
        return Err(OssError::invalid_object_name(
            "The object key must not contain control characters other than tab, line feed and carriage return, nor U+FFFE or U+FFFF.",
        ));
    }
    Ok(())
}

/// Decodes a raw (still percent-encoded) key taken from a path and checks it.
pub(crate) fn decode_object_key(raw: &str) -> Result<String, OssError> {
    let key = decode_path(raw)
        .ok_or_else(|| OssError::invalid_object_name("The object key must be valid UTF-8."))?;
    validate_object_key(&key)?;
    Ok(key)
}

/// The object named by `x-oss-copy-source`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopySource {
    /// Source bucket.
    pub bucket: String,
    /// Decoded source key.
    pub key: String,
    /// `?versionId=` suffix, if any.
    pub version_id: Option<String>,
}

impl CopySource {
    /// Parses `/<bucket>/<url-encoded key>[?versionId=<id>]` (§6.11). `/` in the key may be literal or
    /// `%2F`; `+` is a literal plus.
    pub fn parse(header: &str) -> Result<Self, OssError> {
        let (path, version_id) = match header.split_once("?versionId=") {
            Some((path, version)) if !version.is_empty() => (path, Some(version.to_owned())),
            Some(_) => return Err(OssError::invalid_copy_source()),
            None => (header, None),
        };
        let path = path.strip_prefix('/').unwrap_or(path);
        let (bucket, raw_key) = path.split_once('/').ok_or_else(OssError::invalid_copy_source)?;
        if bucket.is_empty() || raw_key.is_empty() {
            return Err(OssError::invalid_copy_source());
        }
        validate_bucket_name(bucket)?;
        let key = decode_object_key(raw_key)?;
        Ok(Self {
            bucket: bucket.to_owned(),
            key,
            version_id,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;

    #[test]
    fn bucket_names() {
        for ok in ["bkt", "a-1", "0ab", &"a".repeat(63)] {
            assert!(validate_bucket_name(ok).is_ok(), "{ok}");
        }
        for bad in [
            "ab",
            "-ab",
            "ab-",
            "Abc",
            "a_b",
            "a.b",
            "",
            &"a".repeat(64),
            "ab\u{e9}",
        ] {
            let err = validate_bucket_name(bad).err().map(|e| e.code());
            assert_eq!(err, Some(ErrorCode::InvalidBucketName), "{bad}");
        }
    }

    #[test]
    fn object_keys() {
        assert!(validate_object_key("a").is_ok());
        assert!(validate_object_key(&"k".repeat(1023)).is_ok());
        for ok in [
            "a\tb",
            "a\nb",
            "a\rb",
            "\u{7f}\u{80}\u{9f}",
            "\u{fffd}",
            "\u{10ffff}",
            "\u{e000}",
        ] {
            assert!(validate_object_key(ok).is_ok(), "{ok:?}");
        }
        for bad in [
            "",
            "/a",
            "\\invalid-object-name",
            &"k".repeat(1024),
            "a\0b",
            "a\u{1}",
            "\u{1f}x",
            "a\u{b}",
            "a\u{c}",
            "x\u{fffe}",
            "x\u{ffff}",
        ] {
            let err = validate_object_key(bad).err().map(|e| e.code());
            assert_eq!(err, Some(ErrorCode::InvalidObjectName));
        }
        assert_eq!(
            decode_object_key("%FF").err().map(|e| e.code()),
            Some(ErrorCode::InvalidObjectName)
        );
        assert_eq!(
            decode_object_key("%5Cx").err().map(|e| e.code()),
            Some(ErrorCode::InvalidObjectName)
        );
        for raw in ["a%00b", "a%01", "x%EF%BF%BE", "x%EF%BF%BF"] {
            assert_eq!(
                decode_object_key(raw).err().map(|e| e.code()),
                Some(ErrorCode::InvalidObjectName),
                "{raw}"
            );
        }
        assert_eq!(decode_object_key("a%0D%0Ab%09").ok().as_deref(), Some("a\r\nb\t"));
    }

    #[test]
    fn copy_source_forms_from_each_sdk() {
        let oss2 = CopySource::parse("/src/dir%2Fa%20b%2Bc.txt").ok();
        assert_eq!(oss2.as_ref().map(|s| s.key.as_str()), Some("dir/a b+c.txt"));
        let v2 = CopySource::parse("/src/dir/a+b.txt?versionId=CAEQ").ok();
        assert_eq!(
            v2.as_ref().map(|s| (s.key.as_str(), s.version_id.as_deref())),
            Some(("dir/a+b.txt", Some("CAEQ")))
        );
        let no_slash = CopySource::parse("src/k").ok();
        assert_eq!(no_slash.map(|s| s.bucket), Some("src".to_owned()));
        let unicode =
            "/src/%E9%98%BF%E9%87%8C%E4%BA%91%2F%3A%3F%3B%40%26%3D%2B%24%2C%20%2F%3C%3E%7B%7D%5B%5D%7C%2F";
        assert_eq!(
            CopySource::parse(unicode).ok().map(|s| s.key),
            Some("阿里云/:?;@&=+$, /<>{}[]|/".to_owned())
        );
    }

    #[test]
    fn malformed_copy_sources() {
        for bad in ["", "/", "/src", "/src/", "//k", "/src/k?versionId="] {
            let err = CopySource::parse(bad).err();
            assert_eq!(err.map(|e| e.code()), Some(ErrorCode::InvalidArgument), "{bad:?}");
        }
        assert_eq!(
            CopySource::parse("/Bad_/k").err().map(|e| e.code()),
            Some(ErrorCode::InvalidBucketName)
        );
    }
}
