//! Evaluating a request against a principal's policies: explicit Deny wins, then Allow, else
//! nothing is allowed.

use crate::context::ConditionContext;
use crate::policy::{Effect, Policy};

/// What is being asked: one action on one resource, by one principal, with the request's facts.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// `<service>:<Action>`, e.g. `oss:PutObject` or `kms:GenerateDataKey`.
    pub action: &'a str,
    /// The resource ARN, e.g. `acs:oss:*:1234:bucket/object` or `acs:kms:cn-hangzhou:1234:key/<id>`.
    pub resource: &'a str,
    /// The caller's id, tested against `Principal` (bucket policies); `None` for anonymous requests.
    pub principal: Option<&'a str>,
    /// The condition keys' values.
    pub context: &'a ConditionContext,
}

impl<'a> Request<'a> {
    /// A request with no principal id.
    pub fn new(action: &'a str, resource: &'a str, context: &'a ConditionContext) -> Self {
        Request {
            action,
            resource,
            principal: None,
            context,
        }
    }

    /// The same request made by `principal`.
    #[must_use]
    pub fn by(self, principal: &'a str) -> Self {
        Request {
            principal: Some(principal),
            ..self
        }
    }
}

/// Which statement decided: indices into the `policies` slice given to [`evaluate`] and into that
/// policy's [`Policy::statements`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct StatementRef {
    /// Index of the policy.
    pub policy: usize,
    /// Index of the statement within the policy.
    pub statement: usize,
}

/// The outcome of [`evaluate`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Decision {
    /// An `Allow` statement matched and no `Deny` did; the first matching `Allow`.
    Allow(StatementRef),
    /// A `Deny` statement matched; the first one.
    ExplicitDeny(StatementRef),
    /// Nothing matched: denied by default.
    ImplicitDeny,
}

impl Decision {
    /// Whether the request may proceed.
    pub fn is_allowed(&self) -> bool {
        matches!(self, Decision::Allow(_))
    }
}

/// Decides `request` against every policy that applies to the caller (identity policies and the
/// bucket policy alike): any matching `Deny` refuses, else any matching `Allow` grants, else refused.
pub fn evaluate(policies: &[Policy], request: &Request<'_>) -> Decision {
    let mut allowed = None;
    for (p, policy) in policies.iter().enumerate() {
        for (s, statement) in policy.statements.iter().enumerate() {
            if !statement.applies_to(request) {
                continue;
            }
            let at = StatementRef {
                policy: p,
                statement: s,
            };
            match statement.effect {
                Effect::Deny => return Decision::ExplicitDeny(at),
                Effect::Allow => {
                    allowed.get_or_insert(at);
                }
            }
        }
    }
    allowed.map_or(Decision::ImplicitDeny, Decision::Allow)
}
