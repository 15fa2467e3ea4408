//! The typed policy: [`Policy`], [`Statement`], [`Effect`], and when a statement applies to a request.

use crate::condition::Condition;
use crate::request::Request;
use crate::wildcard::{self, Case};

/// RAM's limit on the length of a custom policy document, in characters (RAM `Limits`; it was 2048
/// in older documentation). [`Policy::parse`] enforces it; [`Policy::parse_with_limit`] takes another.
pub const MAX_POLICY_DOCUMENT_CHARS: usize = 6144;

/// Whether a statement grants or refuses what it matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Effect {
    /// Grants access, unless some statement denies it.
    Allow,
    /// Refuses access, whatever any other statement grants.
    Deny,
}

/// `Action` / `NotAction` (or `Resource` / `NotResource`, `Principal`): which values a statement covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Patterns {
    /// `Action`: the value must match one of the patterns.
    Include(Vec<String>),
    /// `NotAction`: the value must match none of the patterns.
    Exclude(Vec<String>),
}

impl Patterns {
    fn covers(&self, value: &str, case: Case) -> bool {
        match self {
            Patterns::Include(p) => p.iter().any(|p| wildcard::matches(p, value, case)),
            Patterns::Exclude(p) => !p.iter().any(|p| wildcard::matches(p, value, case)),
        }
    }
}

/// One entry of a policy's `Statement` list.
#[derive(Debug, Clone, PartialEq)]
pub struct Statement {
    pub(crate) effect: Effect,
    pub(crate) actions: Patterns,
    pub(crate) resources: Patterns,
    pub(crate) principals: Option<Vec<String>>,
    pub(crate) conditions: Vec<Condition>,
}

impl Statement {
    /// `Allow` or `Deny`.
    pub fn effect(&self) -> Effect {
        self.effect
    }

    /// Whether this statement speaks about `request`: its action, resource, principal and every
    /// condition match. Action names compare without regard to ASCII case (RAM: "values of Action are
    /// generally case-insensitive"); resources and principals compare exactly.
    pub(crate) fn applies_to(&self, request: &Request<'_>) -> bool {
        self.actions.covers(request.action, Case::InsensitiveAscii)
            && self.resources.covers(request.resource, Case::Sensitive)
            && self.principals.as_ref().is_none_or(|principals| {
                // An anonymous request has no principal id; only the pattern `*` covers it.
                let id = request.principal.unwrap_or("");
                principals
                    .iter()
                    .any(|p| wildcard::matches(p, id, Case::Sensitive))
            })
            && self.conditions.iter().all(|c| c.holds(request.context))
    }
}

/// A validated RAM policy document (`"Version": "1"`).
#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    pub(crate) statements: Vec<Statement>,
}

impl Policy {
    /// The statements, in document order.
    pub fn statements(&self) -> &[Statement] {
        &self.statements
    }
}
