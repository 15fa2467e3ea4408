//! XML request bodies (parsed leniently, validated strictly) and response bodies (written the way the SDK
//! parsers require: no namespace, `.000Z` timestamps, quoted ETags).

mod dom;
pub mod request;
pub mod response;
pub(crate) mod write;

pub use dom::MAX_XML_BODY_BYTES;

#[cfg(test)]
mod tests;
