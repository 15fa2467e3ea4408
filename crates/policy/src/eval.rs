//! Evaluating a request against a principal's policies: explicit Deny wins, then Allow, else
//! nothing is allowed.

use crate::policy::{Effect, Policy};
use crate::request::Request;

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
