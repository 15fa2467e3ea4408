//! What every page and action shares: the signed-in request ([`Signed`]), decoded forms and queries, the
//! cookies, and the answers with their security headers.

use bytes::Bytes;
use cang_oss::auth::AccessKeySecret;
use http::header::{self, HeaderValue};
use http::{HeaderMap, Response, StatusCode};
use maud::Markup;
use std::net::SocketAddr;

use crate::client::Caller;
use crate::kms::KmsCaller;
use crate::pages;
use crate::session::{COOKIE, Session};
use crate::text::{Lang, T, t};
use crate::{Backend, Body, Console, empty_body, full_body};

/// A request of a signed-in user, past every check.
pub(crate) struct Signed<'a, B> {
    pub(crate) console: &'a Console<B>,
    pub(crate) lang: Lang,
    pub(crate) session: Session,
    pub(crate) secret: AccessKeySecret,
    pub(crate) peer: SocketAddr,
    /// Path and query of the request (where the language switch returns).
    pub(crate) here: String,
}

impl<B: Backend> Signed<'_, B> {
    /// The user as an OSS client.
    pub(crate) fn oss(&self) -> Caller<'_, B> {
        Caller {
            backend: &self.console.backend,
            access_key_id: &self.session.access_key_id,
            secret: &self.secret,
            peer: self.peer,
        }
    }

    /// The user as a KMS client, when the console knows where KMS is.
    pub(crate) fn kms(&self) -> Option<KmsCaller<'_>> {
        Some(KmsCaller {
            authority: self.console.config.kms_authority.as_deref()?,
            access_key_id: &self.session.access_key_id,
            secret: &self.secret,
        })
    }

    /// A full page around `body`.
    pub(crate) fn page(&self, status: StatusCode, title: T, body: Markup) -> Response<Body> {
        let csrf = self.session.csrf_token();
        html(
            status,
            pages::page(&self.chrome(&csrf), t(self.lang, title), body),
        )
    }

    /// A page that only says what went wrong.
    pub(crate) fn problem(&self, status: StatusCode, message: &str) -> Response<Body> {
        let csrf = self.session.csrf_token();
        let body = pages::problem(&self.chrome(&csrf), message);
        self.page(status, T::Failed, body)
    }
}

/// The decoded pairs of a query string or form body.
#[derive(Debug, Default)]
pub(crate) struct Pairs(Vec<(String, String)>);

impl Pairs {
    pub(crate) fn parse(text: &str) -> Self {
        Self(
            text.split('&')
                .filter(|p| !p.is_empty())
                .filter_map(|pair| {
                    let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
                    Some((
                        cang_oss::percent::decode_form(name)?,
                        cang_oss::percent::decode_form(value)?,
                    ))
                })
                .collect(),
        )
    }

    /// The first value of `name`.
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }
}

impl<B: Backend> Signed<'_, B> {
    /// The page frame's settings, with the session's CSRF token `csrf`.
    pub(crate) fn chrome<'a>(&'a self, csrf: &'a str) -> pages::Chrome<'a> {
        pages::Chrome {
            lang: self.lang,
            access_key_id: Some(&self.session.access_key_id),
            csrf,
            here: &self.here,
        }
    }
}

/// The session cookie carrying `value` (`Secure` when the console is reached over HTTPS).
pub(crate) fn session_cookie(value: &str, secure: bool) -> String {
    format!(
        "{COOKIE}={value}; Path=/; HttpOnly; SameSite=Strict{}",
        secure_flag(secure)
    )
}

pub(crate) fn clear_cookie(secure: bool) -> String {
    format!(
        "{COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0{}",
        secure_flag(secure)
    )
}

pub(crate) fn secure_flag(secure: bool) -> &'static str {
    if secure { "; Secure" } else { "" }
}

pub(crate) fn set_cookie(answer: &mut Response<Body>, cookie: &str) {
    if let Ok(value) = HeaderValue::from_str(cookie) {
        answer.headers_mut().append(header::SET_COOKIE, value);
    }
}

/// Every answer's security headers; pages are never cached.
pub(crate) fn secure(mut answer: Response<Body>) -> Response<Body> {
    let headers = answer.headers_mut();
    let set = |headers: &mut HeaderMap, name: &'static str, value: &'static str| {
        headers.insert(name, HeaderValue::from_static(value));
    };
    set(
        headers,
        "content-security-policy",
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
         connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    );
    set(headers, "x-frame-options", "DENY");
    set(headers, "x-content-type-options", "nosniff");
    set(headers, "referrer-policy", "same-origin");
    if !headers.contains_key(header::CACHE_CONTROL) {
        set(headers, "cache-control", "no-store");
    }
    answer
}

/// An HTML page.
pub(crate) fn html(status: StatusCode, markup: Markup) -> Response<Body> {
    let mut answer = Response::new(full_body(markup.into_string()));
    *answer.status_mut() = status;
    answer.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    secure(answer)
}

/// A JSON answer for the page scripts.
pub(crate) fn json(status: StatusCode, value: &serde_json::Value) -> Response<Body> {
    let mut answer = Response::new(full_body(value.to_string()));
    *answer.status_mut() = status;
    answer
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    secure(answer)
}

/// A plain-text answer.
pub(crate) fn text(status: StatusCode, message: &'static str) -> Response<Body> {
    let mut answer = Response::new(full_body(Bytes::from_static(message.as_bytes())));
    *answer.status_mut() = status;
    answer.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    secure(answer)
}

/// `303 See Other` to `location`.
pub(crate) fn redirect(location: &str) -> Response<Body> {
    let mut answer = Response::new(empty_body());
    *answer.status_mut() = StatusCode::SEE_OTHER;
    if let Ok(value) = HeaderValue::from_str(location) {
        answer.headers_mut().insert(header::LOCATION, value);
    }
    secure(answer)
}
