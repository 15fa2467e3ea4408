//! RAM policy documents: parsing, validation and evaluation.
//!
//! A pure library (no I/O, no runtime) for the permission model of DESIGN §8: RAM users carry policy
//! documents; every OSS request, and the KMS calls an encrypted upload or download implies
//! (`kms:GenerateDataKey` on upload, `kms:Decrypt` on download), is checked against them.
//!
//! - [`Policy::parse`] validates a document (`Version` `"1"`, `Statement`, `Effect`,
//!   `Action`/`NotAction`, `Resource`/`NotResource`, optional `Principal` and `Condition`) and reports
//!   the first problem with its path, e.g. `Statement[2].Effect: expected "Allow" or "Deny", got
//!   "allow" (values are case-sensitive)`. Documents are bounded to [`MAX_POLICY_DOCUMENT_CHARS`].
//! - [`evaluate`] decides a [`Request`] (action, resource ARN, optional principal,
//!   [`ConditionContext`]) against a set of policies: any matching `Deny` wins, else any matching
//!   `Allow`, else [`Decision::ImplicitDeny`]. The [`Decision`] names the deciding statement.
//! - `*` and `?` wildcards work in actions (ASCII case-insensitive), resources and principals
//!   (case-sensitive), and `StringLike` values; matching is linear-time-ish, never exponential.
//! - Conditions: RAM's 21 operators (`String*`, `Numeric*`, `Date*`, `Bool`, `IpAddress`,
//!   `NotIpAddress`). Values listed for one key are OR'ed; keys and operators are AND'ed.
//!
//! # Semantics where RAM's documentation is silent
//!
//! - **Missing keys.** A key absent from the request makes every positive operator false and every
//!   negated one (`StringNotEquals`, `StringNotEqualsIgnoreCase`, `StringNotLike`,
//!   `NumericNotEquals`, `DateNotEquals`, `NotIpAddress`) true: each negated operator is the exact
//!   complement of its positive form. Without this, a bucket policy "deny `oss:PutObject` unless
//!   `oss:x-oss-server-side-encryption` is `KMS`" would let through exactly the uploads it exists to
//!   stop, those with no header. Context values of the wrong type (an IP test on `"localhost"`) match
//!   nothing, and so likewise satisfy only negated operators.
//! - **Case.** Field names, `Effect` values and operator names are case-sensitive; errors hint at
//!   the intended spelling. Action matching ignores ASCII case; resources, principals and `String*`
//!   values (except the `IgnoreCase` operators) are case-sensitive; condition key names are not.
//! - **Shapes.** `Statement` may be a single object. Condition values may be JSON strings, numbers
//!   or booleans. Duplicate fields, operators or keys are errors, not last-one-wins. `Sid` and other
//!   unlisted fields are rejected. `Principal` is a string or list of principal-id patterns.
//! - **Types.** Numbers are decimal (integers compare exactly); dates are RFC 3339 / ISO 8601 with
//!   an offset, or epoch seconds, compared to the second; IP values are single IPv4/IPv6 addresses
//!   or CIDR blocks, and a request from an IPv4-mapped IPv6 address is tested as its IPv4 address.
//! - **SSE key.** RAM names no condition key for the SSE header; Cang uses
//!   [`keys::OSS_SERVER_SIDE_ENCRYPTION`] (`oss:x-oss-server-side-encryption`).
//!
//! ```
//! use cang_policy::{ConditionContext, Decision, Policy, Request, StatementRef, evaluate, keys};
//!
//! // Uploads to the bucket need SSE-KMS; the user may otherwise write objects and use one CMK.
//! let user = Policy::parse(r#"{
//!   "Version": "1",
//!   "Statement": [
//!     { "Effect": "Allow", "Action": "oss:PutObject", "Resource": "acs:oss:*:1234:photos/*" },
//!     { "Effect": "Allow", "Action": ["kms:List*", "kms:DescribeKey", "kms:GenerateDataKey"],
//!       "Resource": "acs:kms:cn-hangzhou:1234:key/k-1" }
//!   ]
//! }"#)?;
//! let bucket = Policy::parse(r#"{
//!   "Version": "1",
//!   "Statement": [{
//!     "Effect": "Deny", "Action": "oss:PutObject", "Resource": "acs:oss:*:1234:photos/*",
//!     "Condition": { "StringNotEquals": { "oss:x-oss-server-side-encryption": "KMS" } }
//!   }]
//! }"#)?;
//! let policies = [user, bucket];
//!
//! let encrypted = ConditionContext::new().with(keys::OSS_SERVER_SIDE_ENCRYPTION, "KMS");
//! let put = Request::new("oss:PutObject", "acs:oss:*:1234:photos/cat.jpg", &encrypted);
//! assert_eq!(evaluate(&policies, &put), Decision::Allow(StatementRef { policy: 0, statement: 0 }));
//! let key = Request::new("kms:GenerateDataKey", "acs:kms:cn-hangzhou:1234:key/k-1", &encrypted);
//! assert!(evaluate(&policies, &key).is_allowed());
//!
//! let plain = ConditionContext::new();
//! let put = Request::new("oss:PutObject", "acs:oss:*:1234:photos/cat.jpg", &plain);
//! assert_eq!(evaluate(&policies, &put), Decision::ExplicitDeny(StatementRef { policy: 1, statement: 0 }));
//!
//! let err = Policy::parse(r#"{"Version":"1","Statement":[{"Effect":"allow","Action":"*","Resource":"*"}]}"#)
//!     .unwrap_err();
//! assert_eq!(err.path(), Some("Statement[0].Effect"));
//! # Ok::<(), cang_policy::PolicyError>(())
//! ```

mod condition;
mod context;
mod error;
mod eval;
mod json;
mod parse;
mod policy;
mod request;
mod wildcard;

pub use context::{ConditionContext, keys};
pub use error::PolicyError;
pub use eval::{Decision, StatementRef, evaluate};
pub use policy::{Effect, MAX_POLICY_DOCUMENT_CHARS, Policy, Statement};
pub use request::Request;
