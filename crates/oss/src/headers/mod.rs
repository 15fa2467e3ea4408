//! Request and response headers with protocol meaning: server-side encryption, ranges, conditionals,
//! user metadata and `response-*` overrides.

pub mod conditional;
pub mod meta;
pub mod range;
pub mod sse;
