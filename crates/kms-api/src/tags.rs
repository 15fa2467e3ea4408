//! Tags on a CMK, as Alibaba KMS keeps them (`TagResource`, `UntagResource`, `ListResourceTags`): a
//! key holds at most [`MAX_TAGS_PER_KEY`] tags, each key unique, set again to change its value.

use std::collections::BTreeMap;

use crate::KmsError;

/// Most tags one CMK may hold.
pub const MAX_TAGS_PER_KEY: usize = 20;
/// Longest tag key or value, in characters.
pub const MAX_TAG_LEN: usize = 128;

/// One tag.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Tag {
    /// 1–128 characters; not starting with `aliyun` or `acs:` (reserved by the cloud).
    pub key: String,
    /// 0–128 characters.
    pub value: String,
}

impl Tag {
    /// Builds and validates a tag.
    pub fn new(key: impl Into<String>, value: impl Into<String>) -> Result<Self, KmsError> {
        let tag = Self {
            key: key.into(),
            value: value.into(),
        };
        tag.validate()?;
        Ok(tag)
    }

    /// Checks both parts.
    pub fn validate(&self) -> Result<(), KmsError> {
        validate_tag_key(&self.key)?;
        if self.value.chars().count() > MAX_TAG_LEN || self.value.chars().any(char::is_control) {
            return Err(KmsError::InvalidArgument(format!(
                "a tag value is at most {MAX_TAG_LEN} characters, without control characters"
            )));
        }
        Ok(())
    }
}

/// Checks a tag key: 1–128 characters without control characters, not reserved.
pub fn validate_tag_key(key: &str) -> Result<(), KmsError> {
    let len = key.chars().count();
    if len == 0 || len > MAX_TAG_LEN || key.chars().any(char::is_control) {
        return Err(KmsError::InvalidArgument(format!(
            "a tag key is 1-{MAX_TAG_LEN} characters, without control characters"
        )));
    }
    let lower = key.to_ascii_lowercase();
    if lower.starts_with("aliyun") || lower.starts_with("acs:") {
        return Err(KmsError::InvalidArgument(
            "a tag key may not start with \"aliyun\" or \"acs:\"".into(),
        ));
    }
    Ok(())
}

/// Adds `tags` to `held` (a later tag with the same key wins), or changes nothing and refuses when
/// the result would hold more than [`MAX_TAGS_PER_KEY`] tags or a tag is invalid.
pub fn apply_tags(held: &mut BTreeMap<String, String>, tags: &[Tag]) -> Result<(), KmsError> {
    let mut next = held.clone();
    for tag in tags {
        tag.validate()?;
        next.insert(tag.key.clone(), tag.value.clone());
    }
    if next.len() > MAX_TAGS_PER_KEY {
        return Err(KmsError::InvalidArgument(format!(
            "a key holds at most {MAX_TAGS_PER_KEY} tags"
        )));
    }
    *held = next;
    Ok(())
}

/// The tags of `held`, in key order.
pub fn tags_of(held: &BTreeMap<String, String>) -> Vec<Tag> {
    held.iter()
        .map(|(key, value)| Tag {
            key: key.clone(),
            value: value.clone(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn applying_replaces_values_and_caps_the_count() -> Result<(), KmsError> {
        let mut held = BTreeMap::new();
        apply_tags(&mut held, &[Tag::new("a", "1")?, Tag::new("b", "2")?])?;
        apply_tags(&mut held, &[Tag::new("a", "3")?])?;
        assert_eq!(tags_of(&held), vec![Tag::new("a", "3")?, Tag::new("b", "2")?]);
        let many = (0..MAX_TAGS_PER_KEY - 1)
            .map(|i| Tag::new(format!("k{i}"), "v"))
            .collect::<Result<Vec<_>, _>>()?;
        let before = held.clone();
        assert!(apply_tags(&mut held, &many).is_err(), "21 tags");
        assert_eq!(held, before, "a refused call changes nothing");
        apply_tags(&mut held, &many[1..])?;
        assert_eq!(held.len(), MAX_TAGS_PER_KEY);
        let invalid = Tag {
            key: "acs:x".into(),
            value: String::new(),
        };
        assert!(apply_tags(&mut BTreeMap::new(), &[invalid]).is_err());
        Ok(())
    }

    #[test]
    fn limits() {
        assert!(Tag::new("team", "storage").is_ok());
        assert!(Tag::new("team", "").is_ok());
        assert!(Tag::new("", "x").is_err());
        assert!(Tag::new("k".repeat(MAX_TAG_LEN), "v".repeat(MAX_TAG_LEN)).is_ok());
        assert!(Tag::new("k".repeat(MAX_TAG_LEN + 1), "v").is_err());
        assert!(Tag::new("k", "v".repeat(MAX_TAG_LEN + 1)).is_err());
        assert!(Tag::new("Aliyun-owner", "v").is_err());
        assert!(Tag::new("acs:x", "v").is_err());
        assert!(Tag::new("a\nb", "v").is_err());
        assert!(Tag::new("部门", "存储").is_ok());
    }
}
