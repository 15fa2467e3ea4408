//! What the fuzz targets share: the text form of a captured HTTP request that the route and signature
//! targets read (and that `fuzz/seeds/` holds, written from real SDK traffic by `tests/sdk/sig_capture.py`):
//!
//! ```text
//! 1733300000            the server's clock, Unix seconds
//! PUT                   method
//! /bucket/a%20b         raw path
//! acl&x-oss-expires=1   raw query (may be empty)
//! Host: bucket.sig.test one header per line, `name: value`
//! ```
//!
//! Lines are split on `\n`; a line that is not valid as its part is passed on as it is, so the parsers under
//! test see the bytes the fuzzer chose wherever the HTTP types allow them.

use http::{HeaderMap, HeaderName, HeaderValue, Method};

/// One request, as the gateway receives it.
#[derive(Debug)]
pub struct CapturedRequest {
    /// The server's clock, Unix seconds.
    pub now: u64,
    /// The method.
    pub method: Method,
    /// The path, still percent-encoded.
    pub raw_path: String,
    /// The query without `?`.
    pub raw_query: String,
    /// Headers as received (names the HTTP types refuse are dropped; values may be any bytes but CR/LF).
    pub headers: HeaderMap,
}

impl CapturedRequest {
    /// Reads the text form; `None` where the HTTP layer itself would refuse the request (no method, or a
    /// method token it cannot represent).
    pub fn parse(data: &[u8]) -> Option<Self> {
        let mut lines = data.split(|b| *b == b'\n');
        let now = std::str::from_utf8(lines.next()?).ok()?.trim().parse().unwrap_or(0);
        let method = Method::from_bytes(lines.next()?).ok()?;
        let raw_path = String::from_utf8_lossy(lines.next().unwrap_or(b"/")).into_owned();
        let raw_query = String::from_utf8_lossy(lines.next().unwrap_or(b"")).into_owned();
        let mut headers = HeaderMap::new();
        for line in lines {
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            let Some(colon) = line.iter().position(|b| *b == b':') else {
                continue;
            };
            let (name, value) = (&line[..colon], &line[colon + 1..]);
            let value = value.strip_prefix(b" ").unwrap_or(value);
            if let (Ok(name), Ok(value)) = (HeaderName::from_bytes(name), HeaderValue::from_bytes(value)) {
                headers.append(name, value);
            }
        }
        Some(Self {
            now,
            method,
            raw_path,
            raw_query,
            headers,
        })
    }
}
