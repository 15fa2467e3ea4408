//! Property tests: parsing never panics on hostile input, and evaluation obeys RAM's combining rules
//! for any set of valid policies.

use cang_policy::{ConditionContext, Decision, Policy, Request, evaluate, keys};
use proptest::prelude::*;
use serde_json::{Map, Value, json};

/// Words a policy is made of, so random documents get deep into the parser, not just past `{`.
const WORDS: &[&str] = &[
    "Version",
    "Statement",
    "Effect",
    "Action",
    "NotAction",
    "Resource",
    "NotResource",
    "Principal",
    "Condition",
    "Allow",
    "Deny",
    "allow",
    "1",
    "2",
    "*",
    "?",
    "oss:*",
    "oss:GetObject",
    "kms:Decrypt",
    "acs:oss:*:1234:b/*",
    "acs:kms:*:1234:*",
    "StringEquals",
    "StringNotLike",
    "NumericLessThan",
    "DateGreaterThan",
    "Bool",
    "IpAddress",
    "NotIpAddress",
    "acs:SourceIp",
    "acs:CurrentTime",
    "acs:SecureTransport",
    "10.0.0.0/8",
    "10.0.0.0/33",
    "::1",
    "2001:db8::/32",
    "true",
    "yes",
    "2024-01-01T00:00:00Z",
    "2024-13-01",
    "1704067200",
    "1e400",
    "NaN",
    "",
    "é",
    "a.b",
];

fn word() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => proptest::sample::select(WORDS).prop_map(str::to_owned),
        1 => "\\PC{0,12}",
    ]
}

fn json_shape() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        word().prop_map(Value::String),
    ];
    leaf.prop_recursive(5, 64, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            proptest::collection::vec((word(), inner), 0..6)
                .prop_map(|entries| Value::Object(entries.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// A structurally valid policy document with a skeleton the shape generator rarely finds.
fn valid_policy() -> impl Strategy<Value = String> {
    let patterns =
        |choices: &'static [&'static str]| proptest::sample::subsequence(choices, 1..=choices.len());
    let condition = prop_oneof![
        Just(Value::Null),
        Just(json!({"IpAddress": {"acs:SourceIp": ["10.0.0.0/8", "2001:db8::/32"]}})),
        Just(json!({"NotIpAddress": {"acs:SourceIp": "10.0.0.0/8"}})),
        Just(json!({"Bool": {"acs:SecureTransport": true}})),
        Just(json!({"StringNotEquals": {"oss:x-oss-server-side-encryption": "KMS"}})),
        Just(json!({"DateLessThan": {"acs:CurrentTime": "2030-01-01T00:00:00Z"}})),
    ];
    let statement = (
        any::<bool>(),
        any::<bool>(),
        patterns(&[
            "*",
            "oss:*",
            "oss:Get*",
            "oss:PutObject",
            "kms:?ecrypt",
            "kms:List*",
            "kms:GenerateDataKey",
        ]),
        any::<bool>(),
        patterns(&[
            "*",
            "acs:oss:*:1234:b/*",
            "acs:oss:*:1234:b",
            "acs:kms:*:1234:*",
            "acs:kms:*:1234:key/k?",
        ]),
        condition,
    )
        .prop_map(
            |(deny, not_action, actions, not_resource, resources, condition)| {
                let mut s = Map::new();
                s.insert("Effect".into(), json!(if deny { "Deny" } else { "Allow" }));
                s.insert(
                    (if not_action { "NotAction" } else { "Action" }).into(),
                    json!(actions),
                );
                s.insert(
                    (if not_resource { "NotResource" } else { "Resource" }).into(),
                    json!(resources),
                );
                if !condition.is_null() {
                    s.insert("Condition".into(), condition);
                }
                Value::Object(s)
            },
        );
    proptest::collection::vec(statement, 1..4)
        .prop_map(|statements| json!({"Version": "1", "Statement": statements}).to_string())
}

fn request_parts() -> impl Strategy<Value = (&'static str, &'static str, ConditionContext)> {
    let action = proptest::sample::select(
        &[
            "oss:GetObject",
            "oss:PutObject",
            "oss:DeleteObject",
            "kms:Decrypt",
            "kms:ListKeys",
            "kms:GenerateDataKey",
        ][..],
    );
    let resource = proptest::sample::select(
        &[
            "acs:oss:*:1234:b/x",
            "acs:oss:*:1234:b",
            "acs:kms:cn-hangzhou:1234:key/k1",
            "acs:kms:cn-hangzhou:9:key/k1",
        ][..],
    );
    let context = (
        proptest::option::of(proptest::sample::select(
            &["10.1.1.1", "192.0.2.1", "2001:db8::1", "::1"][..],
        )),
        proptest::option::of(any::<bool>()),
        proptest::option::of(proptest::sample::select(&["KMS", "AES256"][..])),
        proptest::option::of(1_000_000_000i64..2_000_000_000),
    )
        .prop_map(|(ip, tls, sse, now)| {
            let mut c = ConditionContext::new();
            if let Some(ip) = ip {
                c.insert(keys::SOURCE_IP, ip);
            }
            if let Some(tls) = tls {
                c.insert(keys::SECURE_TRANSPORT, tls.to_string());
            }
            if let Some(sse) = sse {
                c.insert(keys::OSS_SERVER_SIDE_ENCRYPTION, sse);
            }
            if let Some(now) = now {
                c.insert(keys::CURRENT_TIME, now.to_string());
            }
            c
        });
    (action, resource, context)
}

fn kind(d: Decision) -> u8 {
    match d {
        Decision::Allow(_) => 0,
        Decision::ExplicitDeny(_) => 1,
        Decision::ImplicitDeny => 2,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn parse_never_panics_on_arbitrary_text(text in "\\PC{0,300}") {
        let _ = Policy::parse(&text);
    }

    #[test]
    fn parse_never_panics_on_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        let _ = Policy::parse(&String::from_utf8_lossy(&bytes));
    }

    #[test]
    fn parse_never_panics_on_arbitrary_json(shape in json_shape()) {
        let text = shape.to_string();
        let _ = Policy::parse_with_limit(&text, usize::MAX);
        let _ = Policy::parse(&json!({"Version": "1", "Statement": [shape]}).to_string());
    }

    #[test]
    fn generated_policies_parse_and_combine_by_the_rules(
        docs in proptest::collection::vec(valid_policy(), 1..4),
        (action, resource, ctx) in request_parts(),
    ) {
        let policies: Vec<Policy> = docs.iter().map(|d| Policy::parse(d)).collect::<Result<_, _>>()
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        let req = Request::new(action, resource, &ctx);
        let decision = evaluate(&policies, &req);

        // The order of policies does not change the outcome's kind.
        let mut reversed = policies.clone();
        reversed.reverse();
        prop_assert_eq!(kind(evaluate(&reversed, &req)), kind(decision));

        // Whichever statement is reported did decide: it has the reported effect.
        match decision {
            Decision::Allow(at) | Decision::ExplicitDeny(at) => {
                let effect = policies[at.policy].statements()[at.statement].effect();
                prop_assert_eq!(effect == cang_policy::Effect::Deny, matches!(decision, Decision::ExplicitDeny(_)));
            }
            Decision::ImplicitDeny => {}
        }

        // A Deny-everything policy wins over whatever the others allow.
        let mut with_deny = policies.clone();
        with_deny.push(Policy::parse(r#"{"Version":"1","Statement":[{"Effect":"Deny","Action":"*","Resource":"*"}]}"#).unwrap());
        prop_assert_eq!(kind(evaluate(&with_deny, &req)), 1);

        // Policies with only Deny statements never allow.
        let denies_only: Vec<Policy> = docs.iter()
            .filter_map(|d| {
                let v: Value = serde_json::from_str(d).ok()?;
                let kept: Vec<Value> = v["Statement"].as_array()?.iter().filter(|s| s["Effect"] == "Deny").cloned().collect();
                (!kept.is_empty()).then(|| Policy::parse(&json!({"Version": "1", "Statement": kept}).to_string()).unwrap())
            })
            .collect();
        prop_assert!(!evaluate(&denies_only, &req).is_allowed());
    }
}
