//! The product's permission model (DESIGN §8, oss-api §8.4), checked end to end through the public API.

use cang_policy::{ConditionContext, Decision, Policy, Request, StatementRef, evaluate, keys};

const KEY_ARN: &str = "acs:kms:cn-hangzhou:1234:key/0b5c7d2e-cmk";
const OBJECT_ARN: &str = "acs:oss:*:1234:vault/reports/q1.pdf";
const BUCKET_ARN: &str = "acs:oss:*:1234:vault";

fn policy(json: &str) -> Policy {
    Policy::parse(json).unwrap_or_else(|e| panic!("test policy rejected: {e}"))
}

fn at(policy: usize, statement: usize) -> StatementRef {
    StatementRef { policy, statement }
}

/// The gateway's rule (DESIGN §6): an SSE-KMS upload needs the OSS action and `kms:GenerateDataKey` on
/// the CMK; an SSE-KMS download needs the OSS action and `kms:Decrypt`.
fn kms_operation_allowed(
    policies: &[Policy],
    oss_action: &str,
    kms_action: &str,
    ctx: &ConditionContext,
) -> bool {
    evaluate(policies, &Request::new(oss_action, OBJECT_ARN, ctx)).is_allowed()
        && evaluate(policies, &Request::new(kms_action, KEY_ARN, ctx)).is_allowed()
}

/// A RAM user who may manage bucket encryption and look keys up, but not generate data keys.
fn key_browser() -> Policy {
    policy(
        r#"{"Version":"1","Statement":[
        {"Effect":"Allow","Action":["oss:PutObject","oss:GetObject"],"Resource":"acs:oss:*:1234:vault/*"},
        {"Effect":"Allow","Action":["oss:PutBucketEncryption","oss:GetBucketEncryption"],"Resource":"acs:oss:*:1234:vault"},
        {"Effect":"Allow","Action":["kms:List*","kms:DescribeKey"],"Resource":"acs:kms:*:1234:*"}]}"#,
    )
}

#[test]
fn without_generate_data_key_a_kms_upload_is_denied() {
    let policies = [key_browser()];
    let ctx = ConditionContext::new().with(keys::OSS_SERVER_SIDE_ENCRYPTION, "KMS");
    assert_eq!(
        evaluate(&policies, &Request::new("oss:PutObject", OBJECT_ARN, &ctx)),
        Decision::Allow(at(0, 0))
    );
    assert_eq!(
        evaluate(&policies, &Request::new("kms:GenerateDataKey", KEY_ARN, &ctx)),
        Decision::ImplicitDeny
    );
    assert!(!kms_operation_allowed(
        &policies,
        "oss:PutObject",
        "kms:GenerateDataKey",
        &ctx
    ));
}

#[test]
fn list_and_describe_suffice_to_set_bucket_encryption() {
    let policies = [key_browser()];
    let ctx = ConditionContext::new();
    let needed = [
        ("oss:PutBucketEncryption", BUCKET_ARN, at(0, 1)),
        ("oss:GetBucketEncryption", BUCKET_ARN, at(0, 1)),
        ("kms:ListKeys", "acs:kms:cn-hangzhou:1234:key", at(0, 2)),
        ("kms:ListAliases", "acs:kms:cn-hangzhou:1234:alias", at(0, 2)),
        ("kms:ListAliasesByKeyId", KEY_ARN, at(0, 2)),
        ("kms:DescribeKey", KEY_ARN, at(0, 2)),
    ];
    for (action, resource, by) in needed {
        assert_eq!(
            evaluate(&policies, &Request::new(action, resource, &ctx)),
            Decision::Allow(by),
            "{action}"
        );
    }
    // ... but the bucket-level grant is not an object-level one, nor another account's.
    assert_eq!(
        evaluate(
            &policies,
            &Request::new("oss:PutBucketEncryption", "acs:oss:*:1234:other", &ctx)
        ),
        Decision::ImplicitDeny
    );
    assert_eq!(
        evaluate(
            &policies,
            &Request::new("kms:DescribeKey", "acs:kms:cn-hangzhou:9999:key/x", &ctx)
        ),
        Decision::ImplicitDeny
    );
}

#[test]
fn download_under_a_cmk_needs_decrypt() {
    let ctx = ConditionContext::new();
    assert!(!kms_operation_allowed(
        &[key_browser()],
        "oss:GetObject",
        "kms:Decrypt",
        &ctx
    ));
    let with_decrypt = policy(
        r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"kms:Decrypt","Resource":"acs:kms:cn-hangzhou:1234:key/*"}]}"#,
    );
    let policies = [key_browser(), with_decrypt];
    assert!(kms_operation_allowed(
        &policies,
        "oss:GetObject",
        "kms:Decrypt",
        &ctx
    ));
    assert_eq!(
        evaluate(&policies, &Request::new("kms:Decrypt", KEY_ARN, &ctx)),
        Decision::Allow(at(1, 0))
    );
    // Decrypt does not imply GenerateDataKey.
    assert!(!kms_operation_allowed(
        &policies,
        "oss:PutObject",
        "kms:GenerateDataKey",
        &ctx
    ));
}

#[test]
fn the_documented_sample_policy_allows_upload_and_download() {
    let sample = policy(
        r#"{ "Version": "1", "Statement": [ { "Effect": "Allow",
            "Action": [ "kms:List*", "kms:DescribeKey", "kms:GenerateDataKey", "kms:Decrypt" ],
            "Resource": [ "acs:kms:*:1416614965936597:*" ] } ] }"#,
    );
    let ctx = ConditionContext::new();
    for action in [
        "kms:ListKeys",
        "kms:DescribeKey",
        "kms:GenerateDataKey",
        "kms:Decrypt",
        "KMS:decrypt",
    ] {
        let req = Request::new(action, "acs:kms:cn-hangzhou:1416614965936597:key/k", &ctx);
        assert_eq!(
            evaluate(std::slice::from_ref(&sample), &req),
            Decision::Allow(at(0, 0)),
            "{action}"
        );
    }
    for (action, resource) in [
        ("kms:Encrypt", "acs:kms:cn-hangzhou:1416614965936597:key/k"),
        (
            "kms:ScheduleKeyDeletion",
            "acs:kms:cn-hangzhou:1416614965936597:key/k",
        ),
        ("kms:Decrypt", "acs:kms:cn-hangzhou:1416614965936598:key/k"),
    ] {
        let req = Request::new(action, resource, &ctx);
        assert_eq!(
            evaluate(std::slice::from_ref(&sample), &req),
            Decision::ImplicitDeny,
            "{action} {resource}"
        );
    }
}

#[test]
fn explicit_deny_beats_any_allow_in_any_order() {
    let admin = policy(r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#);
    let no_delete = policy(
        r#"{"Version":"1","Statement":[
        {"Effect":"Allow","Action":"oss:DeleteObject","Resource":"acs:oss:*:1234:vault/*"},
        {"Effect":"Deny","Action":"oss:Delete*","Resource":"acs:oss:*:1234:vault/*"}]}"#,
    );
    let ctx = ConditionContext::new();
    let delete = Request::new("oss:DeleteObject", OBJECT_ARN, &ctx);
    assert_eq!(
        evaluate(&[admin.clone(), no_delete.clone()], &delete),
        Decision::ExplicitDeny(at(1, 1))
    );
    assert_eq!(
        evaluate(&[no_delete.clone(), admin.clone()], &delete),
        Decision::ExplicitDeny(at(0, 1))
    );
    let read = Request::new("oss:GetObject", OBJECT_ARN, &ctx);
    assert_eq!(evaluate(&[no_delete, admin], &read), Decision::Allow(at(1, 0)));
    assert_eq!(evaluate(&[], &read), Decision::ImplicitDeny);
}

/// A bucket policy refusing uploads that do not ask for SSE-KMS, beside a user policy that allows them.
fn sse_required() -> [Policy; 2] {
    let user = policy(
        r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"oss:*","Resource":"acs:oss:*:1234:vault/*"}]}"#,
    );
    let bucket = policy(
        r#"{"Version":"1","Statement":[{"Effect":"Deny","Action":"oss:PutObject","Resource":"acs:oss:*:1234:vault/*",
        "Principal":["*"],
        "Condition":{"StringNotEquals":{"oss:x-oss-server-side-encryption":"KMS"}}}]}"#,
    );
    [user, bucket]
}

#[test]
fn bucket_policy_denies_uploads_without_the_sse_header() {
    let policies = sse_required();
    let cases: &[(Option<&str>, Decision)] = &[
        (Some("KMS"), Decision::Allow(at(0, 0))),
        (Some("AES256"), Decision::ExplicitDeny(at(1, 0))),
        (Some("kms"), Decision::ExplicitDeny(at(1, 0))),
        (Some("SM4"), Decision::ExplicitDeny(at(1, 0))),
        // No header at all: the negated operator holds for a missing key, so the Deny applies.
        (None, Decision::ExplicitDeny(at(1, 0))),
    ];
    for &(header, want) in cases {
        let mut ctx = ConditionContext::new();
        if let Some(h) = header {
            ctx.insert(keys::OSS_SERVER_SIDE_ENCRYPTION, h);
        }
        let req = Request::new("oss:PutObject", OBJECT_ARN, &ctx).by("27737962156157");
        assert_eq!(evaluate(&policies, &req), want, "header {header:?}");
    }
    // Reads are untouched by the upload rule.
    let ctx = ConditionContext::new();
    assert!(evaluate(&policies, &Request::new("oss:GetObject", OBJECT_ARN, &ctx)).is_allowed());
}

#[test]
fn ip_conditions_v4_and_v6() {
    let office = policy(
        r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"oss:GetObject","Resource":"acs:oss:*:1234:vault/*",
        "Condition":{"IpAddress":{"acs:SourceIp":["192.0.2.0/24","2001:db8:42::/48","198.51.100.7"]}}}]}"#,
    );
    let block = policy(
        r#"{"Version":"1","Statement":[{"Effect":"Deny","Action":"*","Resource":"*",
        "Condition":{"IpAddress":{"acs:SourceIp":"192.0.2.66"}}}]}"#,
    );
    let policies = [office, block];
    let cases: &[(Option<&str>, Decision)] = &[
        (Some("192.0.2.1"), Decision::Allow(at(0, 0))),
        (Some("192.0.2.66"), Decision::ExplicitDeny(at(1, 0))),
        (Some("192.0.3.1"), Decision::ImplicitDeny),
        (Some("198.51.100.7"), Decision::Allow(at(0, 0))),
        (Some("198.51.100.8"), Decision::ImplicitDeny),
        (Some("::ffff:192.0.2.9"), Decision::Allow(at(0, 0))),
        (Some("2001:db8:42:ffff::1"), Decision::Allow(at(0, 0))),
        (Some("2001:db8:43::1"), Decision::ImplicitDeny),
        (Some("not-an-ip"), Decision::ImplicitDeny),
        (None, Decision::ImplicitDeny),
    ];
    for &(ip, want) in cases {
        let ctx = match ip {
            Some(ip) => ConditionContext::new().with(keys::SOURCE_IP, ip),
            None => ConditionContext::new(),
        };
        let req = Request::new("oss:GetObject", OBJECT_ARN, &ctx);
        assert_eq!(evaluate(&policies, &req), want, "source ip {ip:?}");
    }
}

#[test]
fn deny_outside_an_address_range() {
    let policies = [
        policy(r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"oss:*","Resource":"*"}]}"#),
        policy(
            r#"{"Version":"1","Statement":[{"Effect":"Deny","Action":"oss:*","Resource":"*",
            "Condition":{"NotIpAddress":{"acs:SourceIp":["10.0.0.0/8","fd00::/8"]}}}]}"#,
        ),
    ];
    for (ip, allowed) in [
        ("10.1.2.3", true),
        ("fd12::1", true),
        ("203.0.113.5", false),
        ("2001:db8::1", false),
    ] {
        let ctx = ConditionContext::new().with_source_ip(ip.parse().unwrap());
        let got = evaluate(&policies, &Request::new("oss:ListObjects", BUCKET_ARN, &ctx)).is_allowed();
        assert_eq!(got, allowed, "{ip}");
    }
}

#[test]
fn conditions_and_across_keys_and_operators_or_across_values() {
    let p = policy(
        r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"oss:ListObjects","Resource":"acs:oss:*:1234:vault",
        "Condition":{"StringLike":{"oss:Prefix":["reports/*","shared/*"],"oss:Delimiter":"/"},
                     "Bool":{"acs:SecureTransport":"true"},
                     "DateLessThan":{"acs:CurrentTime":"2030-01-01T00:00:00Z"}}}]}"#,
    );
    let now = time::OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap();
    let full = |prefix: &str, delimiter: &str, tls: bool, now: time::OffsetDateTime| {
        ConditionContext::new()
            .with(keys::OSS_PREFIX, prefix)
            .with(keys::OSS_DELIMITER, delimiter)
            .with_secure_transport(tls)
            .with_current_time(now)
    };
    let later = time::OffsetDateTime::from_unix_timestamp(1_900_000_000).unwrap();
    let cases = [
        (full("reports/2024/", "/", true, now), true),
        (full("shared/", "/", true, now), true),
        (full("private/", "/", true, now), false),
        (full("reports/", "-", true, now), false),
        (full("reports/", "/", false, now), false),
        (full("reports/", "/", true, later), false),
        (ConditionContext::new().with(keys::OSS_PREFIX, "reports/x"), false),
    ];
    for (i, (ctx, want)) in cases.iter().enumerate() {
        let got = evaluate(
            std::slice::from_ref(&p),
            &Request::new("oss:ListObjects", BUCKET_ARN, ctx),
        );
        assert_eq!(got.is_allowed(), *want, "case {i}");
    }
}

#[test]
fn not_action_and_not_resource() {
    let p = policy(
        r#"{"Version":"1","Statement":[
        {"Effect":"Allow","NotAction":["oss:Delete*","oss:Put*Acl"],"Resource":"acs:oss:*:1234:vault/*"},
        {"Effect":"Deny","Action":"oss:GetObject","NotResource":["acs:oss:*:1234:vault/public/*"]}]}"#,
    );
    let ctx = ConditionContext::new();
    let decide = |action: &str, resource: &str| {
        evaluate(std::slice::from_ref(&p), &Request::new(action, resource, &ctx))
    };
    assert_eq!(decide("oss:PutObject", OBJECT_ARN), Decision::Allow(at(0, 0)));
    assert_eq!(decide("oss:DeleteObject", OBJECT_ARN), Decision::ImplicitDeny);
    assert_eq!(decide("oss:PutObjectAcl", OBJECT_ARN), Decision::ImplicitDeny);
    assert_eq!(
        decide("oss:GetObject", OBJECT_ARN),
        Decision::ExplicitDeny(at(0, 1))
    );
    assert_eq!(
        decide("oss:GetObject", "acs:oss:*:1234:vault/public/logo.png"),
        Decision::Allow(at(0, 0))
    );
}

#[test]
fn actions_ignore_case_resources_do_not() {
    let p = policy(
        r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"oss:Get*","Resource":"acs:oss:*:1234:Vault/*"}]}"#,
    );
    let ctx = ConditionContext::new();
    let decide = |action: &str, resource: &str| {
        evaluate(std::slice::from_ref(&p), &Request::new(action, resource, &ctx)).is_allowed()
    };
    assert!(decide("OSS:getobject", "acs:oss:*:1234:Vault/a"));
    assert!(!decide("oss:GetObject", "acs:oss:*:1234:vault/a"));
    assert!(decide("oss:GetObject", "acs:oss:*:1234:Vault/文件?.txt"));
}

#[test]
fn principal_limits_a_bucket_policy_statement() {
    let p = policy(
        r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"oss:GetObject","Resource":"acs:oss:*:1234:vault/*",
        "Principal":["20214760404935","2021476040*"]}]}"#,
    );
    let ctx = ConditionContext::new();
    let req = Request::new("oss:GetObject", OBJECT_ARN, &ctx);
    let one = std::slice::from_ref(&p);
    assert!(evaluate(one, &req.by("20214760404935")).is_allowed());
    assert!(evaluate(one, &req.by("20214760409999")).is_allowed());
    assert!(!evaluate(one, &req.by("30000000000000")).is_allowed());
    assert!(
        !evaluate(one, &req).is_allowed(),
        "anonymous requests match only \"*\""
    );
    let public = policy(
        r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"oss:GetObject","Resource":"*","Principal":"*"}]}"#,
    );
    assert!(evaluate(&[public], &req).is_allowed());
}

#[test]
fn identity_policies_refuse_principal_and_name_the_statement() {
    let doc = r#"{"Version":"1","Statement":[
        {"Effect":"Allow","Action":"oss:*","Resource":"*"},
        {"Effect":"Deny","Action":"oss:DeleteObject","Resource":"*","Principal":"1234:alice"}]}"#;
    // As a resource policy the document is fine; attached to a user it is refused, naming the element.
    assert!(Policy::parse(doc).is_ok());
    let err = Policy::parse_identity(doc).unwrap_err();
    assert_eq!(err.path(), Some("Statement[1].Principal"));
    assert!(err.to_string().contains("must not name a Principal"), "{err}");
    assert!(
        Policy::parse_identity(
            r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"oss:*","Resource":"*"}]}"#
        )
        .is_ok()
    );
}

#[test]
fn a_principal_pattern_matches_the_caller_it_names() {
    // A stored document that predates the identity-policy check still denies the caller it names.
    let deny = policy(
        r#"{"Version":"1","Statement":[
        {"Effect":"Allow","Action":"oss:*","Resource":"*"},
        {"Effect":"Deny","Action":"oss:DeleteObject","Resource":"*","Principal":"1234:alice"}]}"#,
    );
    let ctx = ConditionContext::new();
    let request = Request::new("oss:DeleteObject", OBJECT_ARN, &ctx);
    assert_eq!(
        evaluate(std::slice::from_ref(&deny), &request.by("1234:alice")),
        Decision::ExplicitDeny(at(0, 1))
    );
    assert_eq!(
        evaluate(std::slice::from_ref(&deny), &request.by("1234:bob")),
        Decision::Allow(at(0, 0))
    );
}
