//! What a policy is asked about: one action on one resource, by one principal, with the request's facts.

use crate::context::ConditionContext;

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
