//! Malformed policy documents are rejected, and the error names the offending element.

use cang_policy::{MAX_POLICY_DOCUMENT_CHARS, Policy, PolicyError};

/// A one-statement document around `statement` (a JSON object body without braces).
fn doc(statement: &str) -> String {
    format!(r#"{{"Version":"1","Statement":[{{{statement}}}]}}"#)
}

const OK: &str = r#""Effect":"Allow","Action":"oss:GetObject","Resource":"*""#;

fn rejected(document: &str) -> (String, String) {
    match Policy::parse(document) {
        Err(PolicyError::Invalid { path, reason }) => (path, reason),
        other => panic!("expected an Invalid error for {document}, got {other:?}"),
    }
}

#[test]
fn the_reference_document_parses() {
    assert!(Policy::parse(&doc(OK)).is_ok());
}

#[test]
fn effect_is_case_sensitive_and_the_message_says_where() {
    let document = format!(
        r#"{{"Version":"1","Statement":[{{{OK}}},{{{OK}}},{{"Effect":"allow","Action":"*","Resource":"*"}}]}}"#
    );
    let err = Policy::parse(&document).unwrap_err();
    assert_eq!(
        err.to_string(),
        r#"Statement[2].Effect: expected "Allow" or "Deny", got "allow" (values are case-sensitive)"#
    );
    assert_eq!(err.path(), Some("Statement[2].Effect"));
}

#[test]
fn table_of_malformed_documents() {
    let cases: Vec<(String, &str, &str)> = vec![
        (
            r#"["Version"]"#.into(),
            "(document)",
            "expected an object, got an array",
        ),
        (
            r#"{"Statement":[]}"#.into(),
            "(document)",
            "missing required field \"Version\"",
        ),
        (
            r#"{"Version":"2","Statement":[]}"#.into(),
            "Version",
            "expected \"1\", got \"2\"",
        ),
        (
            r#"{"Version":1,"Statement":[]}"#.into(),
            "Version",
            "expected \"1\", got a number",
        ),
        (
            r#"{"Version":"1"}"#.into(),
            "(document)",
            "missing required field \"Statement\"",
        ),
        (
            r#"{"Version":"1","Statement":[]}"#.into(),
            "Statement",
            "at least one statement",
        ),
        (
            r#"{"Version":"1","Statement":"x"}"#.into(),
            "Statement",
            "expected an array of statements",
        ),
        (
            r#"{"Version":"1","Statement":[],"Id":"x"}"#.into(),
            "Id",
            "unknown field; expected one of Version",
        ),
        (
            r#"{"Version":"1","statement":[]}"#.into(),
            "statement",
            "did you mean \"Statement\"",
        ),
        (
            r#"{"Version":"1","Version":"1","Statement":[]}"#.into(),
            "Version",
            "duplicate field",
        ),
        (
            r#"{"Version":"1","Statement":[7]}"#.into(),
            "Statement[0]",
            "expected an object, got a number",
        ),
        (
            doc(r#""Action":"*","Resource":"*""#),
            "Statement[0]",
            "missing required field \"Effect\"",
        ),
        (
            doc(r#""Effect":true,"Action":"*","Resource":"*""#),
            "Statement[0].Effect",
            "got a boolean",
        ),
        (
            doc(&format!(r#"{OK},"Effect":"Deny""#)),
            "Statement[0].Effect",
            "duplicate field",
        ),
        (
            doc(&format!(r#"{OK},"Sid":"s1""#)),
            "Statement[0].Sid",
            "unknown field",
        ),
        (
            doc(&format!(r#"{OK},"action":"*""#)),
            "Statement[0].action",
            "did you mean \"Action\"",
        ),
        (
            doc(&format!(r#"{OK},"NotAction":"oss:PutObject""#)),
            "Statement[0]",
            "has both Action and NotAction",
        ),
        (
            doc(r#""Effect":"Allow","Resource":"*""#),
            "Statement[0]",
            "missing required field \"Action\"",
        ),
        (
            doc(r#""Effect":"Allow","Action":[],"Resource":"*""#),
            "Statement[0].Action",
            "empty array",
        ),
        (
            doc(r#""Effect":"Allow","NotAction":[],"Resource":"*""#),
            "Statement[0].NotAction",
            "empty array",
        ),
        (
            doc(r#""Effect":"Allow","Action":["oss:GetObject",5],"Resource":"*""#),
            "Statement[0].Action[1]",
            "got a number",
        ),
        (
            doc(r#""Effect":"Allow","Action":{},"Resource":"*""#),
            "Statement[0].Action",
            "got an object",
        ),
        (
            doc(r#""Effect":"Allow","Action":"GetObject","Resource":"*""#),
            "Statement[0].Action",
            "<service>:<action>",
        ),
        (
            doc(r#""Effect":"Allow","Action":["oss:"],"Resource":"*""#),
            "Statement[0].Action[0]",
            "got \"oss:\"",
        ),
        (
            doc(r#""Effect":"Allow","Action":"*""#),
            "Statement[0]",
            "missing required field \"Resource\"",
        ),
        (
            doc(r#""Effect":"Allow","Action":"*","Resource":"b/*""#),
            "Statement[0].Resource",
            "an ARN",
        ),
        (
            doc(r#""Effect":"Allow","Action":"*","Resource":"*","NotResource":"*""#),
            "Statement[0]",
            "has both Resource",
        ),
        (
            doc(&format!(r#"{OK},"Principal":[]"#)),
            "Statement[0].Principal",
            "empty array",
        ),
        (
            doc(&format!(r#"{OK},"Principal":[""]"#)),
            "Statement[0].Principal[0]",
            "empty string",
        ),
        (
            doc(&format!(r#"{OK},"Condition":[]"#)),
            "Statement[0].Condition",
            "expected an object, got an array",
        ),
        (
            doc(&format!(r#"{OK},"Condition":{{"StringEqual":{{"k":"v"}}}}"#)),
            "Statement[0].Condition.StringEqual",
            "unknown condition operator; expected one of StringEquals",
        ),
        (
            doc(&format!(r#"{OK},"Condition":{{"stringequals":{{"k":"v"}}}}"#)),
            "Statement[0].Condition.stringequals",
            "did you mean \"StringEquals\"",
        ),
        (
            doc(&format!(
                r#"{OK},"Condition":{{"StringEqualsIfExists":{{"k":"v"}}}}"#
            )),
            "Statement[0].Condition.StringEqualsIfExists",
            "unknown condition operator",
        ),
        (
            doc(&format!(r#"{OK},"Condition":{{"Bool":{{}}}}"#)),
            "Statement[0].Condition.Bool",
            "at least one condition key",
        ),
        (
            doc(&format!(
                r#"{OK},"Condition":{{"Bool":{{"a":"true"}},"Bool":{{"b":"true"}}}}"#
            )),
            "Statement[0].Condition.Bool",
            "duplicate condition operator",
        ),
        (
            doc(&format!(
                r#"{OK},"Condition":{{"Bool":{{"acs:MFAPresent":"true","acs:mfapresent":"true"}}}}"#
            )),
            "Statement[0].Condition.Bool.acs:mfapresent",
            "duplicate condition key",
        ),
        (
            doc(&format!(
                r#"{OK},"Condition":{{"IpAddress":{{"acs:SourceIp":["10.0.0.0/8","10.0.0.0/33"]}}}}"#
            )),
            "Statement[0].Condition.IpAddress.acs:SourceIp[1]",
            "expected an IPv4/IPv6 address or CIDR block, got \"10.0.0.0/33\"",
        ),
        (
            doc(&format!(
                r#"{OK},"Condition":{{"NotIpAddress":{{"acs:SourceIp":"2001:db8::/129"}}}}"#
            )),
            "Statement[0].Condition.NotIpAddress.acs:SourceIp",
            "CIDR block",
        ),
        (
            doc(&format!(
                r#"{OK},"Condition":{{"DateLessThan":{{"acs:CurrentTime":"2024-02-30T00:00:00Z"}}}}"#
            )),
            "Statement[0].Condition.DateLessThan.acs:CurrentTime",
            "RFC 3339",
        ),
        (
            doc(&format!(
                r#"{OK},"Condition":{{"NumericLessThan":{{"n":["1","ten"]}}}}"#
            )),
            "Statement[0].Condition.NumericLessThan.n[1]",
            "finite decimal number, got \"ten\"",
        ),
        (
            doc(&format!(
                r#"{OK},"Condition":{{"Bool":{{"acs:SecureTransport":"yes"}}}}"#
            )),
            "Statement[0].Condition.Bool.acs:SecureTransport",
            "expected \"true\" or \"false\"",
        ),
        (
            doc(&format!(
                r#"{OK},"Condition":{{"StringEquals":{{"k":{{"v":1}}}}}}"#
            )),
            "Statement[0].Condition.StringEquals.k",
            "expected a string, number or boolean, got an object",
        ),
        (
            doc(&format!(r#"{OK},"Condition":{{"StringEquals":{{"k":[]}}}}"#)),
            "Statement[0].Condition.StringEquals.k",
            "empty array",
        ),
        (
            doc(&format!(r#"{OK},"Condition":{{"StringEquals":{{"":"v"}}}}"#)),
            r#"Statement[0].Condition.StringEquals[""]"#,
            "condition key must not be empty",
        ),
        (
            doc(&format!(
                r#"{OK},"Condition":{{"NumericEquals":{{"a.b[0]":"x"}}}}"#
            )),
            r#"Statement[0].Condition.NumericEquals["a.b[0]"]"#,
            "finite decimal number",
        ),
        (
            r#"{"Version":"1","Statement":[],"":1}"#.into(),
            r#"[""]"#,
            "unknown field",
        ),
    ];
    for (document, want_path, want_reason) in cases {
        let (path, reason) = rejected(&document);
        assert_eq!(path, want_path, "path for {document}");
        assert!(
            reason.contains(want_reason),
            "reason for {document}: {reason:?} lacks {want_reason:?}"
        );
    }
}

#[test]
fn not_json_is_a_json_error_with_position() {
    let err = Policy::parse(r#"{"Version":"1","Statement":[}"#).unwrap_err();
    assert!(
        matches!(&err, PolicyError::Json(m) if m.contains("line 1")),
        "{err:?}"
    );
    assert!(matches!(Policy::parse(""), Err(PolicyError::Json(_))));
    assert!(matches!(
        Policy::parse(&format!("{} x", doc(OK))),
        Err(PolicyError::Json(_))
    ));
}

#[test]
fn long_values_are_truncated_in_messages() {
    let long = "x".repeat(1000);
    let (_, reason) = rejected(&doc(&format!(r#""Effect":"{long}","Action":"*","Resource":"*""#)));
    assert!(reason.len() < 200, "{reason}");
    assert!(reason.ends_with('…'), "{reason}");
}

#[test]
fn size_bound_counts_characters() {
    let base = doc(OK);
    let pad = |n: usize, c: char| format!("{base}{}", c.to_string().repeat(n - base.chars().count()));
    // JSON allows trailing whitespace, so padding keeps the document valid.
    assert!(Policy::parse(&pad(MAX_POLICY_DOCUMENT_CHARS, ' ')).is_ok());
    assert_eq!(
        Policy::parse(&pad(MAX_POLICY_DOCUMENT_CHARS + 1, ' ')),
        Err(PolicyError::TooLarge {
            limit: MAX_POLICY_DOCUMENT_CHARS
        })
    );
    // Multi-byte characters count once each: 6144 "é" inside a string is over the limit only by the
    // surrounding document, never by a factor of two.
    let inner = "é".repeat(100);
    let wide = doc(&format!(
        r#""Effect":"Allow","Action":"oss:GetObject","Resource":"acs:oss:*:*:{inner}""#
    ));
    assert!(wide.len() > wide.chars().count());
    assert!(Policy::parse_with_limit(&wide, wide.chars().count()).is_ok());
    assert!(Policy::parse_with_limit(&wide, wide.chars().count() - 1).is_err());
    assert_eq!(
        Policy::parse_with_limit(&base, 10),
        Err(PolicyError::TooLarge { limit: 10 })
    );
    let huge = " ".repeat(10 << 20);
    assert_eq!(
        Policy::parse(&huge),
        Err(PolicyError::TooLarge {
            limit: MAX_POLICY_DOCUMENT_CHARS
        })
    );
}

#[test]
fn accepted_variants() {
    // A single statement object, scalar and JSON-typed condition values, NotAction/NotResource, Principal.
    let single = r#"{"Version":"1","Statement":{"Effect":"Deny","NotAction":["oss:Get*"],"NotResource":"acs:oss:*:*:pub/*",
        "Principal":"*","Condition":{"Bool":{"acs:SecureTransport":false},"NumericLessThan":{"n":10},
        "DateGreaterThan":{"acs:CurrentTime":["2019-08-12T17:00:00+08:00",1565600400,"20190812T090000Z"]},
        "IpAddress":{"acs:SourceIp":["192.0.2.1","2001:db8::/48"]}}}}"#;
    let policy = Policy::parse(single).unwrap();
    assert_eq!(policy.statements().len(), 1);
    assert_eq!(policy.statements()[0].effect(), cang_policy::Effect::Deny);
    let empty_condition = doc(&format!(r#"{OK},"Condition":{{}}"#));
    assert!(Policy::parse(&empty_condition).is_ok());
}
