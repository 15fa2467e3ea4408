//! Request parameters: the query string and an `application/x-www-form-urlencoded` body, decoded once
//! and bounded, and the RFC 3986 encoding both signatures canonicalise with.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};

use crate::OpenApiError;

/// Most parameters a request may carry (query and body together).
pub const MAX_PARAMS: usize = 256;

/// Bytes RFC 3986 leaves unencoded: letters, digits and `-_.~`.
const UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// Percent-encodes as both signature versions require: everything but `A-Za-z0-9-_.~`, UTF-8, upper-case
/// hex, a space as `%20`.
pub fn percent_encode(s: &str) -> String {
    utf8_percent_encode(s, UNRESERVED).to_string()
}

/// Decoded `name=value` pairs in the order received.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Pairs(pub Vec<(String, String)>);

impl Pairs {
    /// Parses `a=1&b=2` (query or form body): `+` is a space, `%XX` escapes must decode to UTF-8, a
    /// name without `=` has an empty value, empty segments are skipped.
    pub fn parse(raw: &str) -> Result<Self, OpenApiError> {
        let mut out = Vec::new();
        for segment in raw.split('&').filter(|s| !s.is_empty()) {
            if out.len() >= MAX_PARAMS {
                return Err(OpenApiError::InvalidParameter(format!(
                    "A request may carry at most {MAX_PARAMS} parameters."
                )));
            }
            let (name, value) = segment.split_once('=').unwrap_or((segment, ""));
            let name = decode(name)?;
            if name.is_empty() {
                return Err(OpenApiError::InvalidParameter(
                    "A request parameter has an empty name.".into(),
                ));
            }
            out.push((name, decode(value)?));
        }
        Ok(Self(out))
    }

    /// The value of `name`, if present once; an error if it is repeated.
    pub fn get(&self, name: &str) -> Result<Option<&str>, OpenApiError> {
        let mut found = self.0.iter().filter(|(n, _)| n == name).map(|(_, v)| v.as_str());
        let first = found.next();
        if found.next().is_some() {
            return Err(OpenApiError::InvalidParameter(format!(
                "The parameter \"{name}\" is given more than once."
            )));
        }
        Ok(first)
    }
}

fn decode(s: &str) -> Result<String, OpenApiError> {
    let spaced = s.replace('+', " ");
    percent_decode_str(&spaced)
        .decode_utf8()
        .map(|c| c.into_owned())
        .map_err(|_| OpenApiError::InvalidParameter("A request parameter is not valid UTF-8.".into()))
}

/// The parameters an action reads: the query string and the form body together. A name given in both
/// is refused rather than one silently winning.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Params {
    /// From the query string.
    pub query: Pairs,
    /// From a form body.
    pub form: Pairs,
}

impl Params {
    /// The value of `name`, from wherever it was given.
    pub fn get(&self, name: &str) -> Result<Option<&str>, OpenApiError> {
        match (self.query.get(name)?, self.form.get(name)?) {
            (Some(_), Some(_)) => Err(OpenApiError::InvalidParameter(format!(
                "The parameter \"{name}\" is given more than once."
            ))),
            (q, f) => Ok(q.or(f)),
        }
    }

    /// The value of a required parameter; absent or empty is `MissingParameter`.
    pub fn required(&self, name: &str) -> Result<&str, OpenApiError> {
        match self.get(name)? {
            Some(v) if !v.is_empty() => Ok(v),
            _ => Err(OpenApiError::MissingParameter(name.to_owned())),
        }
    }

    /// The value of an optional parameter; empty counts as absent (the SDKs send unset fields so).
    pub fn optional(&self, name: &str) -> Result<Option<&str>, OpenApiError> {
        Ok(self.get(name)?.filter(|v| !v.is_empty()))
    }

    /// Every pair, query first.
    pub fn all(&self) -> impl Iterator<Item = &(String, String)> {
        self.query.0.iter().chain(self.form.0.iter())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn decoding_follows_form_rules() -> Result<(), OpenApiError> {
        let p = Pairs::parse("A=1&B=a+b%20c&C&&D=%7B%22k%22%3A%22v%22%7D")?;
        assert_eq!(p.get("A")?, Some("1"));
        assert_eq!(p.get("B")?, Some("a b c"));
        assert_eq!(p.get("C")?, Some(""));
        assert_eq!(p.get("D")?, Some("{\"k\":\"v\"}"));
        assert_eq!(p.get("E")?, None);
        assert!(Pairs::parse("A=%FF").is_err());
        assert!(Pairs::parse("=x").is_err());
        assert!(Pairs::parse("A=1&A=2")?.get("A").is_err());
        Ok(())
    }

    #[test]
    fn a_name_in_query_and_body_is_refused() -> Result<(), OpenApiError> {
        let params = Params {
            query: Pairs::parse("KeyId=a")?,
            form: Pairs::parse("KeyId=b&Plaintext=x")?,
        };
        assert!(params.get("KeyId").is_err());
        assert_eq!(params.required("Plaintext")?, "x");
        assert_eq!(
            params.required("Missing"),
            Err(OpenApiError::MissingParameter("Missing".into()))
        );
        Ok(())
    }

    #[test]
    fn encoding_is_rfc3986() {
        assert_eq!(percent_encode("a b*~/:é"), "a%20b%2A~%2F%3A%C3%A9");
        assert_eq!(percent_encode("AZaz09-_.~"), "AZaz09-_.~");
    }

    #[test]
    fn too_many_parameters_are_refused() {
        let raw: Vec<String> = (0..=MAX_PARAMS).map(|i| format!("p{i}=v")).collect();
        assert!(Pairs::parse(&raw.join("&")).is_err());
    }

    proptest! {
        #[test]
        fn parsing_never_panics(raw in ".{0,200}") {
            let _ = Pairs::parse(&raw);
        }

        #[test]
        fn encode_then_parse_round_trips(
            pairs in proptest::collection::vec(("[A-Za-z][A-Za-z0-9]{0,8}", ".{0,16}"), 0..8)
        ) {
            let raw: Vec<String> = pairs.iter().map(|(k, v)| format!("{}={}", percent_encode(k), percent_encode(v))).collect();
            let parsed = Pairs::parse(&raw.join("&")).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(parsed.0, pairs);
        }
    }
}
