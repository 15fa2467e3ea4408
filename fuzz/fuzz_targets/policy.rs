//! RAM policy documents: parsing any text returns a policy or an error, never a panic; a parsed policy
//! evaluates against any action and resource; and an explicit Deny of everything beside it always wins.
#![no_main]

use cang_policy::{ConditionContext, Decision, Policy, Request, evaluate};
use libfuzzer_sys::fuzz_target;

const DENY_ALL: &str = r#"{"Version":"1","Statement":[{"Effect":"Deny","Action":"*","Resource":"*"}]}"#;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    // The document, then (after a NUL) the action and resource to evaluate it against.
    let mut parts = text.splitn(3, '\0');
    let document = parts.next().unwrap_or_default();
    let action = parts.next().unwrap_or("oss:GetObject");
    let resource = parts.next().unwrap_or("acs:oss:*:1234567890123456:bucket/key");
    for parsed in [Policy::parse(document), Policy::parse_identity(document)] {
        let Ok(policy) = parsed else { continue };
        let context = ConditionContext::default();
        let request = Request::new(action, resource, &context);
        let _ = evaluate(std::slice::from_ref(&policy), &request);
        let deny = Policy::parse(DENY_ALL).expect("deny-all parses");
        let decision = evaluate(&[policy, deny], &request);
        assert!(matches!(decision, Decision::ExplicitDeny(_)), "{decision:?}");
    }
});
