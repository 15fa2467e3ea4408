//! Validation rules for names and numeric arguments, shared by the store and the gRPC edge.

use crate::MetaError;

/// The largest `max-keys` / `max-uploads` / `max-parts` a listing accepts.
pub const MAX_KEYS_LIMIT: u32 = 1000;
/// The highest multipart part number.
pub const MAX_PART_NUMBER: u32 = 10_000;
/// Every part except the last must hold at least this many plaintext bytes (OSS: 100 KiB).
pub const MIN_PART_SIZE: u64 = 100 * 1024;
/// Longest object key, in bytes of UTF-8.
const MAX_KEY_BYTES: usize = 1023;

/// OSS bucket naming: 3–63 characters of lowercase letters, digits and hyphens, starting and ending
/// with a letter or digit.
pub fn validate_bucket_name(name: &str) -> Result<(), MetaError> {
    let bad = |why: &str| Err(MetaError::InvalidBucketName(format!("{name:?}: {why}")));
    if !(3..=63).contains(&name.len()) {
        return bad("must be 3 to 63 characters long");
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    {
        return bad("may contain only lowercase letters, digits and hyphens");
    }
    if name.starts_with('-') || name.ends_with('-') {
        return bad("must start and end with a letter or digit");
    }
    Ok(())
}

/// An object key is 1–1023 bytes of UTF-8 and does not start with `/` or `\`.
pub fn validate_object_key(key: &str) -> Result<(), MetaError> {
    if key.is_empty() || key.len() > MAX_KEY_BYTES {
        return Err(MetaError::InvalidObjectName(format!(
            "key length {} is outside 1..={MAX_KEY_BYTES} bytes",
            key.len()
        )));
    }
    if key.starts_with('/') || key.starts_with('\\') {
        return Err(MetaError::InvalidObjectName(
            "key must not start with '/' or '\\'".into(),
        ));
    }
    Ok(())
}

/// Part numbers run from 1 to [`MAX_PART_NUMBER`].
pub fn validate_part_number(part_number: u32) -> Result<(), MetaError> {
    if (1..=MAX_PART_NUMBER).contains(&part_number) {
        Ok(())
    } else {
        Err(MetaError::InvalidArgument(format!(
            "part number {part_number} is outside 1..={MAX_PART_NUMBER}"
        )))
    }
}

/// `max-keys` and its relatives accept 0 to [`MAX_KEYS_LIMIT`].
pub fn validate_max_keys(max_keys: u32) -> Result<(), MetaError> {
    if max_keys <= MAX_KEYS_LIMIT {
        Ok(())
    } else {
        Err(MetaError::InvalidArgument(format!(
            "max-keys {max_keys} exceeds {MAX_KEYS_LIMIT}"
        )))
    }
}

/// The common prefix `key` rolls up into when listed under `prefix` with `delimiter`: everything up to and
/// including the first `delimiter` after `prefix`. `None` when the delimiter is empty, the key does not start
/// with `prefix`, or no delimiter follows it. ListObjects and ListMultipartUploads group by this one rule.
pub fn common_prefix<'k>(key: &'k str, prefix: &str, delimiter: &str) -> Option<&'k str> {
    if delimiter.is_empty() {
        return None;
    }
    let rest = key.strip_prefix(prefix)?;
    rest.find(delimiter)
        .map(|i| &key[..prefix.len() + i + delimiter.len()])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_names_follow_oss_rules() {
        for ok in ["abc", "my-bucket-1", "0aa", &"a".repeat(63)] {
            assert!(validate_bucket_name(ok).is_ok(), "{ok}");
        }
        for bad in [
            "ab",
            "-abc",
            "abc-",
            "ABC",
            "a_b",
            "a.b",
            "",
            &"a".repeat(64),
            "ab c",
        ] {
            assert!(
                matches!(validate_bucket_name(bad), Err(MetaError::InvalidBucketName(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn object_keys_are_bounded_in_bytes_not_chars() {
        assert!(validate_object_key("a").is_ok());
        assert!(validate_object_key(&"x".repeat(1023)).is_ok());
        assert!(validate_object_key(&"x".repeat(1024)).is_err());
        // 341 three-byte characters = 1023 bytes; one more is 1026.
        assert!(validate_object_key(&"藏".repeat(341)).is_ok());
        assert!(validate_object_key(&"藏".repeat(342)).is_err());
        assert!(validate_object_key("").is_err());
        assert!(validate_object_key("/a").is_err());
    }

    #[test]
    fn numeric_ranges() {
        assert!(validate_part_number(0).is_err());
        assert!(validate_part_number(1).is_ok());
        assert!(validate_part_number(10_000).is_ok());
        assert!(validate_part_number(10_001).is_err());
        assert!(validate_max_keys(1000).is_ok());
        assert!(validate_max_keys(1001).is_err());
    }

    #[test]
    fn keys_roll_up_at_the_first_delimiter_after_the_prefix() {
        assert_eq!(common_prefix("a/b/c", "", "/"), Some("a/"));
        assert_eq!(common_prefix("a/b/c", "a/", "/"), Some("a/b/"));
        assert_eq!(common_prefix("a/b", "a/", "/"), None);
        assert_eq!(common_prefix("a/b/c", "", ""), None);
        assert_eq!(common_prefix("x--y--z", "x", "--"), Some("x--"));
        assert_eq!(
            common_prefix("b/c", "a/", "/"),
            None,
            "a key outside the prefix never rolls up"
        );
        assert_eq!(common_prefix("藏/x", "", "/"), Some("藏/"));
    }
}
