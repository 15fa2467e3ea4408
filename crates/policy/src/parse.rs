//! Policy JSON → [`Policy`], rejecting anything RAM would not accept, with the offending element's
//! path in every error.
//!
//! Choices where RAM's documentation leaves room:
//! - Field names, `Effect` values and operator names are case-sensitive (the grammar quotes them as
//!   literal text); an error hints at the intended spelling when only case differs.
//! - `Statement` may be a single object: the grammar's notes say every element that takes a list also
//!   takes a single value.
//! - `Principal` (resource policies such as bucket policies) is accepted as a string or list of
//!   principal-id patterns. `Sid` and other fields are rejected.
//! - Duplicate fields, operators or condition keys are rejected rather than resolved silently.

use crate::condition::{Condition, OPERATORS, Operator};
use crate::context::normalize_key;
use crate::error::PolicyError;
use crate::json::Json;
use crate::policy::{Effect, MAX_POLICY_DOCUMENT_CHARS, Patterns, Policy, Statement};

/// Where in the document an element is, e.g. `Statement[2].Condition.IpAddress.acs:SourceIp[0]`.
#[derive(Debug, Clone)]
struct Path(String);

impl Path {
    fn root() -> Path {
        Path(String::new())
    }

    /// `parent.name`; names that would make the path ambiguous (empty, or with characters other than
    /// letters, digits and `:/_-`) are written `parent["name"]`.
    fn field(&self, name: &str) -> Path {
        let plain = !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, ':' | '/' | '_' | '-'));
        match (plain, self.0.is_empty()) {
            (true, true) => Path(name.to_owned()),
            (true, false) => Path(format!("{}.{name}", self.0)),
            (false, _) => Path(format!("{}[{}]", self.0, quote(name))),
        }
    }

    fn index(&self, i: usize) -> Path {
        Path(format!("{}[{i}]", self.0))
    }

    fn invalid(&self, reason: impl Into<String>) -> PolicyError {
        let path = if self.0.is_empty() {
            "(document)".to_owned()
        } else {
            self.0.clone()
        };
        PolicyError::Invalid {
            path,
            reason: reason.into(),
        }
    }
}

/// A user-supplied string for an error message: quoted, escaped, and cut short if long.
fn quote(s: &str) -> String {
    const MAX: usize = 64;
    match s.char_indices().nth(MAX) {
        Some((cut, _)) => format!("{:?}…", &s[..cut]),
        None => format!("{s:?}"),
    }
}

/// A value for an error message: strings quoted, everything else by its JSON type.
fn describe(value: &Json) -> String {
    match value {
        Json::String(s) => quote(s),
        other => other.kind().to_owned(),
    }
}

fn object<'a>(value: &'a Json, path: &Path) -> Result<&'a [(String, Json)], PolicyError> {
    match value {
        Json::Object(entries) => Ok(entries),
        other => Err(path.invalid(format!("expected an object, got {}", other.kind()))),
    }
}

/// The fields of an object, each at most once and each one of `allowed`.
struct Fields<'a> {
    found: Vec<(&'static str, &'a Json)>,
}

impl<'a> Fields<'a> {
    fn collect(value: &'a Json, path: &Path, allowed: &[&'static str]) -> Result<Self, PolicyError> {
        let mut found: Vec<(&'static str, &'a Json)> = Vec::new();
        for (name, field) in object(value, path)? {
            let Some(&known) = allowed.iter().find(|a| **a == name) else {
                let reason = match allowed.iter().find(|a| a.eq_ignore_ascii_case(name)) {
                    Some(intended) => {
                        format!(
                            "unknown field (field names are case-sensitive; did you mean \"{intended}\"?)"
                        )
                    }
                    None => format!("unknown field; expected one of {}", allowed.join(", ")),
                };
                return Err(path.field(name).invalid(reason));
            };
            if found.iter().any(|(n, _)| *n == known) {
                return Err(path.field(name).invalid("duplicate field"));
            }
            found.push((known, field));
        }
        Ok(Fields { found })
    }

    fn get(&self, name: &str) -> Option<&'a Json> {
        self.found.iter().find(|(n, _)| *n == name).map(|(_, v)| *v)
    }

    fn required(&self, name: &str, path: &Path) -> Result<&'a Json, PolicyError> {
        self.get(name)
            .ok_or_else(|| path.invalid(format!("missing required field \"{name}\"")))
    }
}

pub(crate) fn parse_policy(document: &str, max_chars: usize) -> Result<Policy, PolicyError> {
    // Byte length bounds the character count from above, and from below within a factor of 4.
    if document.len() > max_chars
        && (document.len() > max_chars.saturating_mul(4) || document.chars().count() > max_chars)
    {
        return Err(PolicyError::TooLarge { limit: max_chars });
    }
    let json: Json = serde_json::from_str(document).map_err(|e| PolicyError::Json(e.to_string()))?;
    let root = Path::root();
    let fields = Fields::collect(&json, &root, &["Version", "Statement"])?;
    match fields.required("Version", &root)? {
        Json::String(v) if v == "1" => {}
        other => {
            let reason = format!("expected \"1\", got {}", describe(other));
            return Err(root.field("Version").invalid(reason));
        }
    }
    let path = root.field("Statement");
    let statements = match fields.required("Statement", &root)? {
        Json::Array(items) if items.is_empty() => {
            return Err(path.invalid("expected at least one statement, got an empty array"));
        }
        Json::Array(items) => items
            .iter()
            .enumerate()
            .map(|(i, item)| parse_statement(item, &path.index(i)))
            .collect::<Result<Vec<_>, _>>()?,
        single @ Json::Object(_) => vec![parse_statement(single, &path)?],
        other => {
            return Err(path.invalid(format!("expected an array of statements, got {}", other.kind())));
        }
    };
    Ok(Policy { statements })
}

const STATEMENT_FIELDS: &[&str] = &[
    "Effect",
    "Action",
    "NotAction",
    "Resource",
    "NotResource",
    "Principal",
    "Condition",
];

fn parse_statement(value: &Json, path: &Path) -> Result<Statement, PolicyError> {
    let fields = Fields::collect(value, path, STATEMENT_FIELDS)?;
    let effect = match fields.required("Effect", path)? {
        Json::String(s) if s == "Allow" => Effect::Allow,
        Json::String(s) if s == "Deny" => Effect::Deny,
        other => {
            let mut reason = format!("expected \"Allow\" or \"Deny\", got {}", describe(other));
            if matches!(other, Json::String(s) if s.eq_ignore_ascii_case("allow") || s.eq_ignore_ascii_case("deny"))
            {
                reason.push_str(" (values are case-sensitive)");
            }
            return Err(path.field("Effect").invalid(reason));
        }
    };
    let actions = either(&fields, path, "Action", "NotAction", check_action)?;
    let resources = either(&fields, path, "Resource", "NotResource", check_resource)?;
    let principals = fields
        .get("Principal")
        .map(|v| strings(v, &path.field("Principal"), check_principal))
        .transpose()?;
    let conditions = match fields.get("Condition") {
        Some(v) => parse_conditions(v, &path.field("Condition"))?,
        None => Vec::new(),
    };
    Ok(Statement {
        effect,
        actions,
        resources,
        principals,
        conditions,
    })
}

/// Exactly one of `positive` (e.g. `Action`) and `negative` (`NotAction`).
fn either(
    fields: &Fields<'_>,
    path: &Path,
    positive: &str,
    negative: &str,
    check: fn(&str) -> Result<(), String>,
) -> Result<Patterns, PolicyError> {
    match (fields.get(positive), fields.get(negative)) {
        (Some(_), Some(_)) => Err(path.invalid(format!("has both {positive} and {negative}; use one"))),
        (None, None) => Err(path.invalid(format!(
            "missing required field \"{positive}\" (or \"{negative}\")"
        ))),
        (Some(v), None) => Ok(Patterns::Include(strings(v, &path.field(positive), check)?)),
        (None, Some(v)) => Ok(Patterns::Exclude(strings(v, &path.field(negative), check)?)),
    }
}

/// A string or a non-empty array of strings, each passing `check`.
fn strings(
    value: &Json,
    path: &Path,
    check: fn(&str) -> Result<(), String>,
) -> Result<Vec<String>, PolicyError> {
    match value {
        Json::String(s) => {
            check(s).map_err(|reason| path.invalid(reason))?;
            Ok(vec![s.clone()])
        }
        Json::Array(items) if items.is_empty() => {
            Err(path.invalid("expected at least one value, got an empty array"))
        }
        Json::Array(items) => items
            .iter()
            .enumerate()
            .map(|(i, item)| match item {
                Json::String(s) => check(s)
                    .map(|()| s.clone())
                    .map_err(|reason| path.index(i).invalid(reason)),
                other => Err(path
                    .index(i)
                    .invalid(format!("expected a string, got {}", other.kind()))),
            })
            .collect(),
        other => Err(path.invalid(format!(
            "expected a string or an array of strings, got {}",
            other.kind()
        ))),
    }
}

fn check_action(s: &str) -> Result<(), String> {
    match s.split_once(':') {
        _ if s == "*" => Ok(()),
        Some((service, name)) if !service.is_empty() && !name.is_empty() => Ok(()),
        _ => Err(format!(
            "expected \"*\" or \"<service>:<action>\", got {}",
            quote(s)
        )),
    }
}

fn check_resource(s: &str) -> Result<(), String> {
    if s == "*" || s.starts_with("acs:") {
        Ok(())
    } else {
        Err(format!(
            "expected \"*\" or an ARN \"acs:<service>:<region>:<account>:<resource>\", got {}",
            quote(s)
        ))
    }
}

fn check_principal(s: &str) -> Result<(), String> {
    if s.is_empty() {
        Err("expected a principal id or \"*\", got an empty string".to_owned())
    } else {
        Ok(())
    }
}

fn unknown_operator(name: &str) -> String {
    if let Some(intended) = OPERATORS.iter().find(|o| o.name.eq_ignore_ascii_case(name)) {
        return format!(
            "unknown condition operator (names are case-sensitive; did you mean \"{}\"?)",
            intended.name
        );
    }
    let names: Vec<&str> = OPERATORS.iter().map(|o| o.name).collect();
    format!("unknown condition operator; expected one of {}", names.join(", "))
}

fn parse_conditions(value: &Json, path: &Path) -> Result<Vec<Condition>, PolicyError> {
    let mut conditions = Vec::new();
    let mut operators_seen: Vec<&str> = Vec::new();
    for (name, block) in object(value, path)? {
        let op_path = path.field(name);
        if operators_seen.contains(&name.as_str()) {
            return Err(op_path.invalid("duplicate condition operator"));
        }
        operators_seen.push(name);
        let operator = Operator::from_name(name).ok_or_else(|| op_path.invalid(unknown_operator(name)))?;
        let keys = object(block, &op_path)?;
        if keys.is_empty() {
            return Err(op_path.invalid("expected at least one condition key, got an empty object"));
        }
        let mut keys_seen: Vec<String> = Vec::new();
        for (key, values) in keys {
            let key_path = op_path.field(key);
            if key.is_empty() {
                return Err(key_path.invalid("condition key must not be empty"));
            }
            let normalized = normalize_key(key);
            if keys_seen.contains(&normalized) {
                return Err(key_path.invalid("duplicate condition key (keys are case-insensitive)"));
            }
            keys_seen.push(normalized);
            let (raw, is_list) = scalars(values, &key_path)?;
            let condition =
                Condition::new(operator, key, raw.iter().map(String::as_str)).map_err(|(i, why)| {
                    let at = if is_list {
                        key_path.index(i)
                    } else {
                        key_path.clone()
                    };
                    at.invalid(format!("{why}, got {}", quote(&raw[i])))
                })?;
            conditions.push(condition);
        }
    }
    Ok(conditions)
}

/// A condition value or non-empty list of them, as text: strings as is, numbers and booleans in their
/// JSON spelling (`"Bool": {"acs:SecureTransport": true}` means the same as `"true"`).
fn scalars(value: &Json, path: &Path) -> Result<(Vec<String>, bool), PolicyError> {
    fn scalar(value: &Json, path: &Path) -> Result<String, PolicyError> {
        match value {
            Json::String(s) => Ok(s.clone()),
            Json::Number(n) => Ok(n.to_string()),
            Json::Bool(b) => Ok(b.to_string()),
            other => Err(path.invalid(format!(
                "expected a string, number or boolean, got {}",
                other.kind()
            ))),
        }
    }
    match value {
        Json::Array(items) if items.is_empty() => {
            Err(path.invalid("expected at least one value, got an empty array"))
        }
        Json::Array(items) => {
            let values = items
                .iter()
                .enumerate()
                .map(|(i, v)| scalar(v, &path.index(i)))
                .collect::<Result<_, _>>()?;
            Ok((values, true))
        }
        single => Ok((vec![scalar(single, path)?], false)),
    }
}

// Parsing is how a `Policy` comes to be; it lives here so that `policy` (the types) depends on nothing
// that builds them.
impl Policy {
    /// Parses and validates a policy document of at most [`MAX_POLICY_DOCUMENT_CHARS`] characters.
    pub fn parse(document: &str) -> Result<Policy, PolicyError> {
        Self::parse_with_limit(document, MAX_POLICY_DOCUMENT_CHARS)
    }

    /// Parses and validates a policy document of at most `max_chars` characters.
    pub fn parse_with_limit(document: &str, max_chars: usize) -> Result<Policy, PolicyError> {
        parse_policy(document, max_chars)
    }

    /// Parses a policy to attach to a RAM user (an identity policy). Such a policy speaks for the user it
    /// is attached to, so a `Principal` element has no meaning there and is refused: RAM rejects it too,
    /// and accepting it would turn a `Deny` that names another principal into a statement that never
    /// applies.
    pub fn parse_identity(document: &str) -> Result<Policy, PolicyError> {
        let policy = Self::parse(document)?;
        if let Some(at) = policy.statements.iter().position(|s| s.principals.is_some()) {
            return Err(PolicyError::Invalid {
                path: format!("Statement[{at}].Principal"),
                reason: "a policy attached to a user must not name a Principal (Principal belongs in \
                         resource policies such as bucket policies)"
                    .to_owned(),
            });
        }
        Ok(policy)
    }
}

impl std::str::FromStr for Policy {
    type Err = PolicyError;

    fn from_str(document: &str) -> Result<Policy, PolicyError> {
        Policy::parse(document)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_unambiguous() {
        let root = Path::root();
        assert_eq!(
            root.field("Statement").index(2).field("Effect").0,
            "Statement[2].Effect"
        );
        assert_eq!(
            root.field("Condition").field("IpAddress").field("acs:SourceIp").0,
            "Condition.IpAddress.acs:SourceIp"
        );
        assert_eq!(root.field("Condition").field("a.b").0, r#"Condition["a.b"]"#);
        assert_eq!(root.field("").0, r#"[""]"#);
        assert!(matches!(root.invalid("x"), PolicyError::Invalid { path, .. } if path == "(document)"));
    }

    #[test]
    fn quotes_escape_and_truncate() {
        assert_eq!(quote("allow"), r#""allow""#);
        assert_eq!(quote("a\"b\n"), r#""a\"b\n""#);
        let long = "é".repeat(100);
        let q = quote(&long);
        assert_eq!(q.chars().filter(|c| *c == 'é').count(), 64);
        assert!(q.ends_with("\"…"));
    }
}
