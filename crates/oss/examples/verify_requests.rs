//! Runs the library's signature verification over requests captured from real SDKs.
//!
//! Reads JSON lines on stdin. `{"credential": {"access_key_id", "secret", "security_token"?}}` adds a key;
//! `{"request": {"method", "path", "query", "headers": [[name, value], ...], "bucket"?, "key"?, "now"}}`
//! is verified and answered with one JSON line on stdout: `{"ok": true, "access_key_id", "scheme"}` or
//! `{"ok": false, "code", "status", "message"}`. Header values are Latin-1 strings (one char per byte).

use std::collections::HashMap;
use std::io::{BufRead, Write};
use std::time::{Duration, UNIX_EPOCH};

use anyhow::{Context, bail};
use cang_oss::auth::{AuthConfig, Authentication, Credential, RequestView, authenticate};
use http::{HeaderMap, HeaderName, HeaderValue, Method};
use serde::Deserialize;
use serde_json::json;

#[derive(Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
enum Line {
    Credential {
        access_key_id: String,
        secret: String,
        security_token: Option<String>,
    },
    Request(CapturedRequest),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CapturedRequest {
    method: String,
    path: String,
    query: String,
    headers: Vec<(String, String)>,
    bucket: Option<String>,
    key: Option<String>,
    now: u64,
}

fn header_map(pairs: &[(String, String)]) -> anyhow::Result<HeaderMap> {
    let mut headers = HeaderMap::new();
    for (name, value) in pairs {
        let bytes = value
            .chars()
            .map(|c| u8::try_from(u32::from(c)).context("header value is not Latin-1"))
            .collect::<anyhow::Result<Vec<u8>>>()?;
        headers.append(
            HeaderName::from_bytes(name.as_bytes())?,
            HeaderValue::from_bytes(&bytes)?,
        );
    }
    Ok(headers)
}

fn verdict(
    request: &CapturedRequest,
    store: &HashMap<String, Credential>,
) -> anyhow::Result<serde_json::Value> {
    let method = Method::from_bytes(request.method.as_bytes())?;
    let headers = header_map(&request.headers)?;
    let view = RequestView {
        method: &method,
        raw_path: &request.path,
        raw_query: &request.query,
        headers: &headers,
        bucket: request.bucket.as_deref(),
        key: request.key.as_deref(),
    };
    let now = UNIX_EPOCH + Duration::from_secs(request.now);
    Ok(match authenticate(&view, store, now, &AuthConfig::default()) {
        Ok(Authentication::Signed(key)) => {
            json!({"ok": true, "access_key_id": key.access_key_id, "scheme": format!("{:?}", key.scheme)})
        }
        Ok(Authentication::Anonymous) => {
            json!({"ok": false, "code": "Anonymous", "status": 403, "message": ""})
        }
        Err(err) => json!({
            "ok": false,
            "code": err.code(),
            "status": err.http_status(),
            "message": err.message(),
            "extra": err.extra_fields().into_iter().collect::<HashMap<_, _>>(),
        }),
    })
}

fn main() -> anyhow::Result<()> {
    let mut store = HashMap::new();
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    for (number, line) in std::io::stdin().lock().lines().enumerate() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        let parsed: Line = serde_json::from_str(&line).with_context(|| format!("line {}", number + 1))?;
        match parsed {
            Line::Credential {
                access_key_id,
                secret,
                security_token,
            } => {
                let credential = match security_token {
                    Some(token) => Credential::with_security_token(secret, token),
                    None => Credential::new(secret),
                };
                store.insert(access_key_id, credential);
            }
            Line::Request(request) => {
                if store.is_empty() {
                    bail!("line {}: a request before any credential", number + 1);
                }
                let answer = verdict(&request, &store).with_context(|| format!("line {}", number + 1))?;
                writeln!(out, "{answer}")?;
                out.flush()?;
            }
        }
    }
    Ok(())
}
