//! XML request bodies (parsed leniently, validated strictly) and response bodies (written the way the SDK
//! parsers require: no namespace, `.000Z` timestamps, quoted ETags).

pub(crate) mod write;
