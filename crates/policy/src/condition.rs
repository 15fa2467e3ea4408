//! `Condition` operators: their names, how policy values are typed at parse time, and how a request's
//! context satisfies them.
//!
//! Semantics (RAM, `Policy elements` / `Conditional operators`): the values listed for one key are
//! OR'ed; keys under one operator and the operators of one statement are AND'ed (the AND is in
//! [`crate::Statement`]). A context key with several values satisfies a positive operator when any
//! pair (context value, policy value) does.
//!
//! Negated operators (`StringNotEquals`, `StringNotEqualsIgnoreCase`, `StringNotLike`,
//! `NumericNotEquals`, `DateNotEquals`, `NotIpAddress`) are the exact complement of their positive
//! form. In particular, **a key missing from the request satisfies every negated operator and no
//! positive one**. RAM's documentation does not say what a missing key does; the complement is what
//! makes the documented use "deny uploads unless `x-oss-server-side-encryption` is `KMS`" deny an
//! upload that carries no header at all. Context values that do not parse as the operator's type (an
//! IP operator on `"localhost"`) never match, so they too satisfy only the negated operators.

use std::cmp::Ordering;
use std::net::IpAddr;

use ipnet::IpNet;
use time::OffsetDateTime;
use time::format_description::well_known::{Iso8601, Rfc3339};

use crate::context::{ConditionContext, normalize_key};
use crate::wildcard::{self, Case};

/// The comparison a numeric or date operator performs, context value on the left.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Cmp {
    Eq,
    Lt,
    Le,
    Gt,
    Ge,
}

impl Cmp {
    fn holds(self, ord: Ordering) -> bool {
        match self {
            Cmp::Eq => ord == Ordering::Equal,
            Cmp::Lt => ord == Ordering::Less,
            Cmp::Le => ord != Ordering::Greater,
            Cmp::Gt => ord == Ordering::Greater,
            Cmp::Ge => ord != Ordering::Less,
        }
    }
}

/// Operator families: how values are typed and compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    StringEquals,
    StringEqualsIgnoreCase,
    StringLike,
    Numeric(Cmp),
    Date(Cmp),
    Bool,
    IpAddress,
}

/// A condition operator as written in a policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Operator {
    pub(crate) name: &'static str,
    kind: Kind,
    negated: bool,
}

const fn op(name: &'static str, kind: Kind, negated: bool) -> Operator {
    Operator { name, kind, negated }
}

/// Every operator RAM documents. Names are case-sensitive, like the rest of the grammar.
pub(crate) const OPERATORS: &[Operator] = &[
    op("StringEquals", Kind::StringEquals, false),
    op("StringNotEquals", Kind::StringEquals, true),
    op("StringEqualsIgnoreCase", Kind::StringEqualsIgnoreCase, false),
    op("StringNotEqualsIgnoreCase", Kind::StringEqualsIgnoreCase, true),
    op("StringLike", Kind::StringLike, false),
    op("StringNotLike", Kind::StringLike, true),
    op("NumericEquals", Kind::Numeric(Cmp::Eq), false),
    op("NumericNotEquals", Kind::Numeric(Cmp::Eq), true),
    op("NumericLessThan", Kind::Numeric(Cmp::Lt), false),
    op("NumericLessThanEquals", Kind::Numeric(Cmp::Le), false),
    op("NumericGreaterThan", Kind::Numeric(Cmp::Gt), false),
    op("NumericGreaterThanEquals", Kind::Numeric(Cmp::Ge), false),
    op("DateEquals", Kind::Date(Cmp::Eq), false),
    op("DateNotEquals", Kind::Date(Cmp::Eq), true),
    op("DateLessThan", Kind::Date(Cmp::Lt), false),
    op("DateLessThanEquals", Kind::Date(Cmp::Le), false),
    op("DateGreaterThan", Kind::Date(Cmp::Gt), false),
    op("DateGreaterThanEquals", Kind::Date(Cmp::Ge), false),
    op("Bool", Kind::Bool, false),
    op("IpAddress", Kind::IpAddress, false),
    op("NotIpAddress", Kind::IpAddress, true),
];

impl Operator {
    pub(crate) fn from_name(name: &str) -> Option<Operator> {
        OPERATORS.iter().copied().find(|o| o.name == name)
    }
}

/// A number from a policy or a request: integers compare exactly, anything else as `f64`.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Number {
    Int(i64),
    Float(f64),
}

impl Number {
    fn parse(s: &str) -> Option<Number> {
        if let Ok(i) = s.parse::<i64>() {
            return Some(Number::Int(i));
        }
        // `f64::from_str` also accepts "inf" and "NaN", which no policy means.
        let f = s.parse::<f64>().ok()?;
        f.is_finite().then_some(Number::Float(f))
    }

    fn compare(self, other: Number) -> Option<Ordering> {
        match (self, other) {
            (Number::Int(a), Number::Int(b)) => Some(a.cmp(&b)),
            _ => self.as_f64().partial_cmp(&other.as_f64()),
        }
    }

    // Precision loss above 2^53 is inherent to comparing an integer with a fraction; two integers
    // never come here (see `compare`).
    fn as_f64(self) -> f64 {
        match self {
            Number::Int(i) => i as f64,
            Number::Float(f) => f,
        }
    }
}

/// A date as whole seconds since the Unix epoch: RFC 3339 / ISO 8601 date-times with an offset, or
/// plain (optionally negative) epoch seconds. Comparisons are to the second.
fn parse_date(s: &str) -> Option<i64> {
    let digits = s.strip_prefix('-').unwrap_or(s);
    if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        return s.parse().ok();
    }
    OffsetDateTime::parse(s, &Rfc3339)
        .or_else(|_| OffsetDateTime::parse(s, &Iso8601::DEFAULT))
        .ok()
        .map(OffsetDateTime::unix_timestamp)
}

fn parse_bool(s: &str) -> Option<bool> {
    if s.eq_ignore_ascii_case("true") {
        Some(true)
    } else if s.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
}

/// A policy's CIDR block, or a single address (a /32 or /128 block).
fn parse_network(s: &str) -> Option<IpNet> {
    if s.contains('/') {
        s.parse::<IpNet>().ok()
    } else {
        s.parse::<IpAddr>().ok().map(IpNet::from)
    }
}

/// A request's address. IPv4-mapped IPv6 addresses (what a dual-stack listener reports for IPv4
/// clients) are compared as the IPv4 address they carry.
fn parse_client_ip(s: &str) -> Option<IpAddr> {
    s.parse::<IpAddr>().ok().map(|ip| ip.to_canonical())
}

/// The typed values one condition key lists in a policy.
#[derive(Debug, Clone, PartialEq)]
enum Values {
    Exact(Vec<String>),
    /// Stored lower-cased.
    IgnoreCase(Vec<String>),
    Like(Vec<String>),
    Number(Cmp, Vec<Number>),
    Date(Cmp, Vec<i64>),
    Bool(Vec<bool>),
    Ip(Vec<IpNet>),
}

impl Values {
    fn empty(kind: Kind) -> Values {
        match kind {
            Kind::StringEquals => Values::Exact(Vec::new()),
            Kind::StringEqualsIgnoreCase => Values::IgnoreCase(Vec::new()),
            Kind::StringLike => Values::Like(Vec::new()),
            Kind::Numeric(cmp) => Values::Number(cmp, Vec::new()),
            Kind::Date(cmp) => Values::Date(cmp, Vec::new()),
            Kind::Bool => Values::Bool(Vec::new()),
            Kind::IpAddress => Values::Ip(Vec::new()),
        }
    }

    /// Adds one policy value, or says why it is not of the operator's type.
    fn push(&mut self, raw: &str) -> Result<(), &'static str> {
        match self {
            Values::Exact(v) | Values::Like(v) => v.push(raw.to_owned()),
            Values::IgnoreCase(v) => v.push(raw.to_lowercase()),
            Values::Number(_, v) => v.push(Number::parse(raw).ok_or("expected a finite decimal number")?),
            Values::Date(_, v) => v.push(
                parse_date(raw)
                    .ok_or("expected an RFC 3339 / ISO 8601 date-time with offset, or epoch seconds")?,
            ),
            Values::Bool(v) => v.push(parse_bool(raw).ok_or("expected \"true\" or \"false\"")?),
            Values::Ip(v) => v.push(parse_network(raw).ok_or("expected an IPv4/IPv6 address or CIDR block")?),
        }
        Ok(())
    }

    /// Whether one context value satisfies the positive form of the operator for any policy value.
    fn matched_by(&self, value: &str) -> bool {
        match self {
            Values::Exact(v) => v.iter().any(|p| p == value),
            Values::IgnoreCase(v) => {
                let value = value.to_lowercase();
                v.contains(&value)
            }
            Values::Like(v) => v.iter().any(|p| wildcard::matches(p, value, Case::Sensitive)),
            Values::Number(cmp, v) => Number::parse(value)
                .is_some_and(|n| v.iter().any(|p| n.compare(*p).is_some_and(|ord| cmp.holds(ord)))),
            Values::Date(cmp, v) => parse_date(value).is_some_and(|d| v.iter().any(|p| cmp.holds(d.cmp(p)))),
            Values::Bool(v) => parse_bool(value).is_some_and(|b| v.contains(&b)),
            Values::Ip(v) => parse_client_ip(value).is_some_and(|ip| v.iter().any(|net| net.contains(&ip))),
        }
    }
}

/// One `operator: { key: values }` test of a statement.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Condition {
    operator: Operator,
    key: String,
    values: Values,
}

impl Condition {
    /// Builds the test for `key`, typing each raw value; on failure returns the index of the bad
    /// value and the reason.
    pub(crate) fn new<'a>(
        operator: Operator,
        key: &str,
        raw_values: impl IntoIterator<Item = &'a str>,
    ) -> Result<Condition, (usize, &'static str)> {
        let mut values = Values::empty(operator.kind);
        for (i, raw) in raw_values.into_iter().enumerate() {
            values.push(raw).map_err(|reason| (i, reason))?;
        }
        Ok(Condition {
            operator,
            key: normalize_key(key),
            values,
        })
    }

    /// Whether the request's context satisfies this test.
    pub(crate) fn holds(&self, context: &ConditionContext) -> bool {
        let matched = context
            .get_normalized(&self.key)
            .is_some_and(|values| values.iter().any(|v| self.values.matched_by(v)));
        matched != self.operator.negated
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cond(op: &str, key: &str, values: &[&str]) -> Condition {
        Condition::new(Operator::from_name(op).unwrap(), key, values.iter().copied()).unwrap()
    }

    fn ctx(pairs: &[(&str, &str)]) -> ConditionContext {
        pairs
            .iter()
            .fold(ConditionContext::new(), |c, (k, v)| c.with(k, *v))
    }

    /// (operator, key, policy values, request context, expected result)
    type Row<'a> = (&'a str, &'a str, &'a [&'a str], &'a [(&'a str, &'a str)], bool);

    #[test]
    fn table() {
        let ip = "acs:SourceIp";
        let cases: &[Row<'_>] = &[
            ("StringEquals", "k", &["a", "b"], &[("k", "b")], true),
            ("StringEquals", "k", &["a"], &[("k", "A")], false),
            ("StringEquals", "k", &["a"], &[], false),
            ("StringNotEquals", "k", &["a"], &[("k", "a")], false),
            ("StringNotEquals", "k", &["a"], &[("k", "b")], true),
            ("StringNotEquals", "k", &["a"], &[], true),
            ("StringEqualsIgnoreCase", "k", &["KMS"], &[("k", "kms")], true),
            ("StringNotEqualsIgnoreCase", "k", &["KMS"], &[("k", "Kms")], false),
            (
                "StringLike",
                "oss:Prefix",
                &["photos/*"],
                &[("oss:prefix", "photos/2015/")],
                true,
            ),
            (
                "StringLike",
                "oss:Prefix",
                &["photos/*"],
                &[("oss:prefix", "Photos/")],
                false,
            ),
            (
                "StringNotLike",
                "oss:Prefix",
                &["photos/*"],
                &[("oss:prefix", "docs/")],
                true,
            ),
            ("NumericLessThan", "n", &["10"], &[("n", "9")], true),
            ("NumericLessThan", "n", &["10"], &[("n", "10")], false),
            ("NumericLessThanEquals", "n", &["10"], &[("n", "10.0")], true),
            ("NumericGreaterThan", "n", &["1.5"], &[("n", "2")], true),
            (
                "NumericGreaterThanEquals",
                "n",
                &["9007199254740993"],
                &[("n", "9007199254740992")],
                false,
            ),
            ("NumericEquals", "n", &["1", "2"], &[("n", "2")], true),
            ("NumericEquals", "n", &["1"], &[("n", "one")], false),
            ("NumericNotEquals", "n", &["1"], &[("n", "2")], true),
            ("NumericNotEquals", "n", &["1"], &[("n", "1")], false),
            (
                "DateLessThan",
                "t",
                &["2024-01-01T00:00:00Z"],
                &[("t", "2023-12-31T23:59:59Z")],
                true,
            ),
            (
                "DateLessThan",
                "t",
                &["2024-01-01T00:00:00Z"],
                &[("t", "2024-01-01T08:00:00+08:00")],
                false,
            ),
            (
                "DateLessThanEquals",
                "t",
                &["2024-01-01T00:00:00Z"],
                &[("t", "1704067200")],
                true,
            ),
            (
                "DateGreaterThan",
                "t",
                &["1704067200"],
                &[("t", "2024-01-01T00:00:01Z")],
                true,
            ),
            (
                "DateGreaterThanEquals",
                "t",
                &["2024-01-01T00:00:00Z"],
                &[("t", "1704067199")],
                false,
            ),
            (
                "DateEquals",
                "t",
                &["2024-01-01T00:00:00.9Z"],
                &[("t", "1704067200")],
                true,
            ),
            (
                "DateNotEquals",
                "t",
                &["2024-01-01T00:00:00Z"],
                &[("t", "not a date")],
                true,
            ),
            (
                "Bool",
                "acs:SecureTransport",
                &["true"],
                &[("acs:securetransport", "TRUE")],
                true,
            ),
            (
                "Bool",
                "acs:SecureTransport",
                &["true"],
                &[("acs:securetransport", "false")],
                false,
            ),
            ("Bool", "acs:SecureTransport", &["false"], &[], false),
            ("IpAddress", ip, &["10.0.0.0/8"], &[(ip, "10.255.0.1")], true),
            ("IpAddress", ip, &["10.0.0.0/8"], &[(ip, "11.0.0.1")], false),
            ("IpAddress", ip, &["192.0.2.7"], &[(ip, "192.0.2.7")], true),
            ("IpAddress", ip, &["192.0.2.7"], &[(ip, "192.0.2.8")], false),
            ("IpAddress", ip, &["10.0.0.0/8"], &[(ip, "::ffff:10.1.2.3")], true),
            (
                "IpAddress",
                ip,
                &["2001:db8::/32"],
                &[(ip, "2001:db8:1::5")],
                true,
            ),
            ("IpAddress", ip, &["2001:db8::/32"], &[(ip, "2001:db9::5")], false),
            ("IpAddress", ip, &["2001:db8::1"], &[(ip, "2001:db8::1")], true),
            ("IpAddress", ip, &["0.0.0.0/0"], &[(ip, "::1")], false),
            ("IpAddress", ip, &["10.0.0.0/8"], &[(ip, "localhost")], false),
            (
                "NotIpAddress",
                ip,
                &["10.0.0.0/8", "2001:db8::/32"],
                &[(ip, "203.0.113.9")],
                true,
            ),
            (
                "NotIpAddress",
                ip,
                &["10.0.0.0/8", "2001:db8::/32"],
                &[(ip, "2001:db8::9")],
                false,
            ),
            ("NotIpAddress", ip, &["10.0.0.0/8"], &[], true),
        ];
        for &(op, key, values, context, want) in cases {
            let got = cond(op, key, values).holds(&ctx(context));
            assert_eq!(got, want, "{op} {key} {values:?} with {context:?}");
        }
    }

    #[test]
    fn several_context_values_match_if_any_does() {
        let c = cond("StringEquals", "oss:RequestObjectTag/env", &["prod"]);
        let context = ctx(&[
            ("oss:RequestObjectTag/env", "dev"),
            ("oss:RequestObjectTag/env", "prod"),
        ]);
        assert!(c.holds(&context));
        let c = cond("StringNotEquals", "oss:RequestObjectTag/env", &["prod"]);
        assert!(!c.holds(&context));
    }

    #[test]
    fn bad_policy_values_are_rejected_with_their_index() {
        let bad: &[(&str, &[&str], usize)] = &[
            ("IpAddress", &["10.0.0.0/8", "10.0.0.0/33"], 1),
            ("IpAddress", &["300.1.1.1"], 0),
            ("NumericEquals", &["1", "2", "NaN"], 2),
            ("NumericEquals", &["inf"], 0),
            ("NumericEquals", &["1e400"], 0),
            ("DateLessThan", &["2024-13-01T00:00:00Z"], 0),
            ("DateLessThan", &["yesterday"], 0),
            ("Bool", &["yes"], 0),
        ];
        for &(op, values, index) in bad {
            let err =
                Condition::new(Operator::from_name(op).unwrap(), "k", values.iter().copied()).unwrap_err();
            assert_eq!(err.0, index, "{op} {values:?}");
        }
    }

    #[test]
    fn operator_names_are_exact() {
        assert!(Operator::from_name("StringEquals").is_some());
        assert!(Operator::from_name("stringequals").is_none());
        assert!(Operator::from_name("StringEqualsIfExists").is_none());
        assert_eq!(OPERATORS.len(), 21);
    }
}
