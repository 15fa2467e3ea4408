//! The decoded query string (§1.3): form-decoded names and values, with `name`, `name=` and an absent
//! parameter told apart only where OSS tells them apart.

use crate::error::OssError;
use crate::percent::decode_form;

/// Query parameters in request order, decoded. The first occurrence of a name wins.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Query {
    params: Vec<(String, String)>,
}

impl Query {
    /// Parses a raw query string (without `?`). A name or value that is not UTF-8 after decoding, or that
    /// holds a character XML 1.0 cannot carry, is a `400 InvalidArgument`: listings and error bodies echo
    /// query values (`Prefix`, `Marker`, `ArgumentValue`), and an echo must never make them ill-formed.
    pub fn parse(raw: &str) -> Result<Self, OssError> {
        let mut params = Vec::new();
        for pair in raw.split('&').filter(|p| !p.is_empty()) {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            let decode = |s: &str| {
                let decoded = decode_form(s)
                    .ok_or_else(|| OssError::invalid_argument("Query parameters must be valid UTF-8."))?;
                if decoded.chars().all(crate::route::names::is_xml_char) {
                    Ok(decoded)
                } else {
                    Err(OssError::invalid_argument(
                        "Query parameters must not contain control characters.",
                    ))
                }
            };
            params.push((decode(name)?, decode(value)?));
        }
        Ok(Self { params })
    }

    /// Whether `name` is present, with or without a value.
    pub fn has(&self, name: &str) -> bool {
        self.params.iter().any(|(n, _)| n == name)
    }

    /// The value of `name` (`""` for a valueless parameter), if present.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The value of `name` when present and non-empty: an empty `prefix=` means the same as no prefix.
    pub fn non_empty(&self, name: &str) -> Option<&str> {
        self.get(name).filter(|v| !v.is_empty())
    }

    /// Owned [`Query::non_empty`].
    pub(crate) fn owned(&self, name: &str) -> Option<String> {
        self.non_empty(name).map(str::to_owned)
    }

    /// All names, in request order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.params.iter().map(|(n, _)| n.as_str())
    }

    /// All `(name, value)` pairs, in request order.
    pub fn pairs(&self) -> impl Iterator<Item = (&str, &str)> {
        self.params.iter().map(|(n, v)| (n.as_str(), v.as_str()))
    }

    /// Parses a non-empty numeric parameter within `min..=max`; an empty or absent one is `None`.
    pub(crate) fn bounded(&self, name: &str, min: u64, max: u64) -> Result<Option<u64>, OssError> {
        let Some(raw) = self.non_empty(name) else {
            return Ok(None);
        };
        match raw.parse::<u64>() {
            Ok(n) if (min..=max).contains(&n) => Ok(Some(n)),
            _ => Err(
                OssError::invalid_argument(format!("Argument {name} must be between {min} and {max}."))
                    .extra("ArgumentName", name.to_owned())
                    .extra("ArgumentValue", raw.to_owned()),
            ),
        }
    }

    /// `encoding-type`: `url` → true; absent or empty → false; anything else is `400 InvalidArgument`.
    pub(crate) fn encoding_url(&self) -> Result<bool, OssError> {
        match self.non_empty("encoding-type") {
            None => Ok(false),
            Some("url") => Ok(true),
            Some(other) => Err(OssError::invalid_argument("The encoding-type must be url.")
                .extra("ArgumentName", "encoding-type")
                .extra("ArgumentValue", other.to_owned())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valueless_and_empty_parameters_are_present_with_empty_value() {
        let q = Query::parse("uploads&encryption=&prefix=dir%2F+x&continuation-token=&start-after=")
            .unwrap_or_default();
        assert!(q.has("uploads") && q.has("encryption"));
        assert_eq!(q.get("uploads"), Some(""));
        assert_eq!(q.get("encryption"), Some(""));
        assert_eq!(q.non_empty("prefix"), Some("dir/ x"));
        assert_eq!(q.non_empty("continuation-token"), None);
        assert!(!q.has("marker"));
    }

    #[test]
    fn names_are_case_sensitive_and_first_occurrence_wins() {
        let q = Query::parse("uploadId=a&uploadid=b&uploadId=c").unwrap_or_default();
        assert_eq!(q.get("uploadId"), Some("a"));
        assert_eq!(q.get("uploadid"), Some("b"));
    }

    #[test]
    fn values_xml_cannot_carry_are_refused() {
        for bad in ["prefix=%01", "marker=a%00b", "delimiter=%EF%BF%BE", "%07=x"] {
            assert!(Query::parse(bad).is_err(), "{bad}");
        }
        assert!(Query::parse("prefix=tab%09and%0Anewline").is_ok());
    }

    #[test]
    fn bounded_numbers() {
        let q = Query::parse("max-keys=1000&a=0&b=x&c=").unwrap_or_default();
        assert_eq!(q.bounded("max-keys", 1, 1000).ok(), Some(Some(1000)));
        assert!(q.bounded("a", 1, 1000).is_err());
        assert!(q.bounded("b", 1, 1000).is_err());
        assert_eq!(q.bounded("c", 1, 1000).ok(), Some(None));
    }

    #[test]
    fn non_utf8_is_rejected() {
        assert!(Query::parse("prefix=%FF").is_err());
    }
}
