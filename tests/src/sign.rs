//! A small OSS signature V1 signer for raw HTTP tests (edge cases no SDK will send), written from the spec.

use base64::Engine;
use hmac::{Hmac, KeyInit, Mac};
use sha1::Sha1;

/// Headers to add to a request so it carries a valid V1 signature.
///
/// `resource` is the canonicalized resource (`/bucket/key?acl`), `oss_headers` the `x-oss-*` headers the
/// request will carry (lower-case names).
pub fn v1_headers(
    access_key_id: &str,
    secret: &str,
    method: &str,
    content_md5: &str,
    content_type: &str,
    oss_headers: &[(&str, &str)],
    resource: &str,
) -> Vec<(String, String)> {
    let date = httpdate_now();
    let mut canonical: Vec<(String, String)> = oss_headers
        .iter()
        .map(|(k, v)| (k.to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    canonical.sort();
    let mut to_sign = format!("{method}\n{content_md5}\n{content_type}\n{date}\n");
    for (k, v) in &canonical {
        to_sign.push_str(&format!("{k}:{v}\n"));
    }
    to_sign.push_str(resource);
    // HMAC accepts keys of any length.
    let mut mac = Hmac::<Sha1>::new_from_slice(secret.as_bytes()).unwrap_or_else(|_| unreachable!());
    mac.update(to_sign.as_bytes());
    let signature = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    vec![
        ("date".to_owned(), date),
        (
            "authorization".to_owned(),
            format!("OSS {access_key_id}:{signature}"),
        ),
    ]
}

fn httpdate_now() -> String {
    let now = time::OffsetDateTime::now_utc();
    let format = time::macros::format_description!(
        "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
    );
    now.format(&format).unwrap_or_default()
}
