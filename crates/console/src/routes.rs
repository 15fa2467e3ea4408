//! Which page or action a request is, and the checks before it: a live session (else the sign-in page),
//! and for anything that changes state, a request from the console's own origin carrying the session's
//! CSRF token. Every answer carries the same security headers; pages are never cached.

use std::net::SocketAddr;
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http::header::{self, HeaderValue};
use http::{HeaderMap, Method, Request, Response, StatusCode};

use crate::pages;
use crate::session::{COOKIE, Refused};
use crate::site::{
    Pairs, Signed, clear_cookie, html, json, redirect, secure, secure_flag, session_cookie, set_cookie, text,
};
use crate::text::{Lang, T, t};
use crate::{Backend, Body, Console, actions, full_body, ram};

const CSS: &str = include_str!("assets/console.css");
const JS: &str = include_str!("assets/console.js");
/// Largest form body read.
const MAX_FORM: usize = 64 * 1024;
/// A session's last-use time is rewritten at most this often (seconds).
const REFRESH_EVERY: u64 = 60;
/// The header scripts send the CSRF token in.
const CSRF_HEADER: &str = "x-cang-csrf";

pub(crate) async fn handle<B: Backend>(
    console: &Console<B>,
    request: Request<Body>,
    peer: SocketAddr,
) -> Response<Body> {
    let now = unix_now();
    let secure = console.config.secure_cookies;
    let headers = request.headers();
    let lang = Lang::choose(
        cookie(headers, Lang::COOKIE),
        headers.get(header::ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok()),
    );
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let query = Pairs::parse(request.uri().query().unwrap_or(""));
    let here = request
        .uri()
        .path_and_query()
        .map_or("/".to_owned(), |p| p.as_str().to_owned());
    match (&method, path.as_str()) {
        (&Method::GET, "/assets/console.css") => return asset(CSS, "text/css; charset=utf-8"),
        (&Method::GET, "/assets/console.js") => return asset(JS, "text/javascript; charset=utf-8"),
        (&Method::GET, "/lang") => return switch_language(&query, secure),
        (&Method::GET, "/login") => {
            let ended = query.get("ended").map(|_| t(lang, T::SessionEnded));
            return html(StatusCode::OK, pages::sign_in(lang, ended));
        }
        (&Method::POST, "/login") => {
            if !same_origin(headers) {
                return refused_origin();
            }
            let form = match read_form(request).await {
                Ok(form) => form,
                Err(answer) => return answer,
            };
            return actions::sign_in(console, lang, &form, peer, now).await;
        }
        _ => {}
    }
    let api = path.starts_with("/api/");
    let session = match cookie(headers, COOKIE).map(|c| console.sessions.open(c, now)) {
        Some(Ok(session)) => session,
        Some(Err(Refused::Invalid | Refused::Expired | Refused::SignedOut)) | None => {
            return signed_out(api, secure);
        }
    };
    // Signed out on another replica: the shared record says so.
    match console.backend.session_revoked(session.id).await {
        Ok(false) => {}
        Ok(true) => {
            console.sessions.revoke(&session, now);
            return signed_out(api, secure);
        }
        Err(_) => return text(StatusCode::SERVICE_UNAVAILABLE, "Sessions cannot be checked now."),
    }
    let safe = method == Method::GET || method == Method::HEAD;
    if !safe && !same_origin(headers) {
        return refused_origin();
    }
    let is_form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    let header_token = headers
        .get(CSRF_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    // Pages post forms; the API paths take bodies of their own (files, JSON) and the token in a header.
    let (form, request) = if !safe && is_form && !api {
        match read_form(request).await {
            Ok(form) => (form, None),
            Err(answer) => return answer,
        }
    } else {
        (Pairs::default(), Some(request))
    };
    if !safe {
        let presented = if api {
            header_token
        } else {
            form.get("csrf").map(str::to_owned).or(header_token)
        };
        if !presented.is_some_and(|token| session.csrf_matches(&token)) {
            return text(
                StatusCode::FORBIDDEN,
                "The request does not carry this session's CSRF token.",
            );
        }
    }
    let secret = match console.backend.secret(&session.access_key_id).await {
        Ok(Some(secret)) => secret,
        Ok(None) => {
            console.sessions.revoke(&session, now);
            return signed_out(api, secure);
        }
        Err(_) => {
            return text(
                StatusCode::SERVICE_UNAVAILABLE,
                "Access keys cannot be checked now.",
            );
        }
    };
    let mut session = session;
    let refreshed = (now.saturating_sub(session.seen) >= REFRESH_EVERY).then(|| {
        session.seen = now;
        console.sessions.seal(&session).ok()
    });
    if path == "/logout" && method == Method::POST {
        console.sessions.revoke(&session, now);
        let until = session.issued + console.sessions.limits().lifetime.as_secs();
        if console.backend.revoke_session(session.id, until).await.is_err() {
            // This replica refuses the cookie already; the others would not know yet.
            return text(
                StatusCode::SERVICE_UNAVAILABLE,
                "The sign-out could not be recorded; try again.",
            );
        }
        let mut answer = redirect("/login");
        set_cookie(&mut answer, &clear_cookie(secure));
        return answer;
    }
    let signed = Signed {
        console,
        lang,
        session,
        secret,
        peer,
        here,
    };
    let mut answer = route(&signed, &method, &path, &query, &form, request).await;
    if let Some(Some(cookie)) = refreshed {
        set_cookie(&mut answer, &session_cookie(&cookie, secure));
    }
    answer
}

async fn route<B: Backend>(
    s: &Signed<'_, B>,
    method: &Method,
    path: &str,
    query: &Pairs,
    form: &Pairs,
    request: Option<Request<Body>>,
) -> Response<Body> {
    match (method, path) {
        (&Method::GET, "/") => return actions::buckets(s, None, None).await,
        (&Method::POST, "/buckets") => return actions::create_bucket(s, form).await,
        (&Method::GET, "/api/keys") => return actions::key_choices(s).await,
        (&Method::GET, "/keys") => return actions::keys_page(s).await,
        (&Method::POST, "/keys") => return actions::create_key(s, form).await,
        _ => {}
    }
    match (method, path) {
        (&Method::GET, "/ram") => return ram::ram_page(s).await,
        (&Method::POST, "/ram/users") => return ram::create_user(s, form).await,
        (&Method::POST, "/ram/policies") => return ram::create_policy(s, form).await,
        _ => {}
    }
    if let Some(rest) = path.strip_prefix("/ram/policies/")
        && let Some(policy) = rest.strip_suffix("/delete")
        && method == Method::POST
    {
        return match cang_oss::percent::decode_path(policy) {
            Some(policy) => ram::delete_policy(s, &policy).await,
            None => not_found(s),
        };
    }
    if let Some(rest) = path.strip_prefix("/ram/users/") {
        let (user, action) = rest.split_once('/').unwrap_or((rest, ""));
        let (Some(user), Some(action)) = (
            cang_oss::percent::decode_path(user),
            cang_oss::percent::decode_path(action),
        ) else {
            return not_found(s);
        };
        return match (method, action.as_str()) {
            (&Method::GET, "") => ram::user_page(s, &user).await,
            (&Method::POST, action) if !action.is_empty() => ram::user_action(s, &user, action, form).await,
            _ => not_found(s),
        };
    }
    if let Some(rest) = path.strip_prefix("/keys/") {
        let (key, action) = rest.split_once('/').unwrap_or((rest, ""));
        let Some(key) = cang_oss::percent::decode_path(key) else {
            return not_found(s);
        };
        return match (method, action) {
            (&Method::GET, "") => actions::key_page(s, &key, query.get("done").is_some()).await,
            (&Method::POST, action) if !action.is_empty() => actions::key_action(s, &key, action, form).await,
            _ => not_found(s),
        };
    }
    let (api, rest) = match (path.strip_prefix("/api/b/"), path.strip_prefix("/b/")) {
        (Some(rest), _) => (true, rest),
        (None, Some(rest)) => (false, rest),
        (None, None) => return not_found(s),
    };
    let Some((bucket, action)) = rest.split_once('/') else {
        return not_found(s);
    };
    let Some(bucket) = cang_oss::percent::decode_path(bucket) else {
        return not_found(s);
    };
    let key = query.get("key").unwrap_or_default();
    match (api, method, action, request) {
        (false, &Method::GET, "", _) => actions::objects(s, &bucket, query).await,
        (false, &Method::GET, "settings", _) => {
            actions::settings(s, &bucket, query.get("saved").is_some()).await
        }
        (false, &Method::POST, "encryption", _) => actions::set_encryption(s, &bucket, form).await,
        (false, &Method::GET, "object", _) => actions::download(s, &bucket, key).await,
        (false, &Method::POST, "delete", _) => actions::delete(s, &bucket, form).await,
        (true, &Method::PUT, "object", Some(request)) => {
            actions::upload(s, &bucket, key, None, request).await
        }
        (true, &Method::POST, "multipart", _) => actions::initiate(s, &bucket, key).await,
        (true, &Method::PUT, "part", Some(request)) => {
            let part = query.get("partNumber").unwrap_or_default();
            let upload = query.get("uploadId").unwrap_or_default();
            actions::upload(s, &bucket, key, Some((upload, part)), request).await
        }
        (true, &Method::POST, "complete", Some(request)) => {
            let upload = query.get("uploadId").unwrap_or_default();
            actions::complete(s, &bucket, key, upload, request).await
        }
        (true, &Method::DELETE, "multipart", _) => {
            let upload = query.get("uploadId").unwrap_or_default();
            actions::abort(s, &bucket, key, upload).await
        }
        _ => not_found(s),
    }
}

fn not_found<B: Backend>(s: &Signed<'_, B>) -> Response<Body> {
    s.problem(StatusCode::NOT_FOUND, "404")
}

/// The value of cookie `name`.
fn cookie<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v)
}

/// Whether the request comes from a page of this console: its `Origin` (or, without one, its `Referer`)
/// names the host it was sent to.
fn same_origin(headers: &HeaderMap) -> bool {
    let Some(host) = headers.get(header::HOST).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let ours = |origin: &str| origin == format!("http://{host}") || origin == format!("https://{host}");
    if let Some(origin) = headers.get(header::ORIGIN) {
        return origin.to_str().is_ok_and(ours);
    }
    headers
        .get(header::REFERER)
        .and_then(|v| v.to_str().ok())
        .and_then(|referer| {
            let rest = referer.split_once("://")?.1;
            let authority = rest.split('/').next()?;
            Some(authority == host && referer.starts_with("http"))
        })
        .unwrap_or(false)
}

async fn read_form(request: Request<Body>) -> Result<Pairs, Response<Body>> {
    let bytes = crate::read_bounded(request.into_body(), MAX_FORM)
        .await
        .map_err(|_| text(StatusCode::PAYLOAD_TOO_LARGE, "The form is too large."))?;
    let text = std::str::from_utf8(&bytes)
        .map_err(|_| self::text(StatusCode::BAD_REQUEST, "The form is not UTF-8."))?;
    Ok(Pairs::parse(text))
}

fn switch_language(query: &Pairs, secure: bool) -> Response<Body> {
    let to = match query.get("to") {
        Some("en") => "en",
        _ => "zh",
    };
    // Only a path of this console: never `//host` or a scheme.
    let next = query
        .get("next")
        .filter(|n| n.starts_with('/') && !n.starts_with("//") && !n.contains('\\'))
        .unwrap_or("/");
    let mut answer = redirect(next);
    set_cookie(
        &mut answer,
        &format!(
            "{}={to}; Path=/; SameSite=Strict; Max-Age=31536000{}",
            Lang::COOKIE,
            secure_flag(secure)
        ),
    );
    answer
}

fn signed_out(api: bool, secure: bool) -> Response<Body> {
    if api {
        let mut answer = json(
            StatusCode::UNAUTHORIZED,
            &serde_json::json!({"error": "signed-out"}),
        );
        set_cookie(&mut answer, &clear_cookie(secure));
        return answer;
    }
    let mut answer = redirect("/login?ended=1");
    set_cookie(&mut answer, &clear_cookie(secure));
    answer
}

fn refused_origin() -> Response<Body> {
    text(
        StatusCode::FORBIDDEN,
        "The request does not come from this console.",
    )
}

fn asset(body: &'static str, content_type: &'static str) -> Response<Body> {
    let mut answer = Response::new(full_body(Bytes::from_static(body.as_bytes())));
    let headers = answer.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("max-age=300"));
    secure(answer)
}

pub(crate) fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, HeaderValue::from_static(value));
        }
        map
    }

    #[test]
    fn only_the_consoles_own_origin_passes() {
        let cases: [(&[(&'static str, &'static str)], bool); 6] = [
            (
                &[("host", "127.0.0.1:9001"), ("origin", "http://127.0.0.1:9001")],
                true,
            ),
            (
                &[("host", "127.0.0.1:9001"), ("origin", "http://evil.example")],
                false,
            ),
            (&[("host", "127.0.0.1:9001"), ("origin", "null")], false),
            (&[("host", "h:1"), ("referer", "http://h:1/b/x/")], true),
            (&[("host", "h:1"), ("referer", "http://h:1.evil/")], false),
            (&[("host", "h:1")], false),
        ];
        for (pairs, expected) in cases {
            assert_eq!(same_origin(&headers(pairs)), expected, "{pairs:?}");
        }
    }

    #[test]
    fn cookies_are_http_only_strict_and_secure_when_asked() {
        assert_eq!(
            session_cookie("v", false),
            "cang_console=v; Path=/; HttpOnly; SameSite=Strict"
        );
        assert!(session_cookie("v", true).ends_with("; Secure"));
        assert!(clear_cookie(true).contains("Max-Age=0; Secure"));
    }

    #[test]
    fn cookies_are_found_by_name() {
        let map = headers(&[("cookie", "a=1; cang_console=xyz; cang_lang=en")]);
        assert_eq!(cookie(&map, COOKIE), Some("xyz"));
        assert_eq!(cookie(&map, Lang::COOKIE), Some("en"));
        assert_eq!(cookie(&map, "b"), None);
    }

    proptest::proptest! {
        #[test]
        fn forms_decode_what_was_encoded(pairs in proptest::collection::vec(("[a-z_]{1,8}", ".{0,40}"), 0..8)) {
            let encoded: Vec<String> = pairs
                .iter()
                .map(|(k, v)| format!("{k}={}", cang_oss::percent::encode_strict(v)))
                .collect();
            let parsed = Pairs::parse(&encoded.join("&"));
            for (k, _) in &pairs {
                let first = pairs.iter().find(|(name, _)| name == k).map(|(_, v)| v.as_str());
                proptest::prop_assert_eq!(parsed.get(k), first);
            }
        }

        #[test]
        fn no_query_string_panics(text in ".{0,200}") {
            let _ = Pairs::parse(&text);
        }
    }

    #[test]
    fn the_language_switch_only_returns_within_the_console() {
        for (next, expected) in [
            ("%2Fb%2Fx%2F", "/b/x/"),
            ("%2F%2Fevil.example", "/"),
            ("https%3A%2F%2Fevil.example", "/"),
            ("%2F%5Cevil", "/"),
        ] {
            let answer = switch_language(&Pairs::parse(&format!("to=en&next={next}")), false);
            assert_eq!(answer.headers()[header::LOCATION], expected);
        }
    }
}
