//! The console's request sequencing over an in-memory backend: sign-in, CSRF, and a sign-out on one
//! replica refusing the cookie on another.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use cang_oss::auth::AccessKeySecret;
use futures::future::BoxFuture;
use http::{Request, Response, StatusCode, header};

use crate::{Backend, Body, Console, ConsoleConfig, SessionKey, Unavailable, empty_body, full_body};

/// Answers ListBuckets with no buckets, knows one access key, keeps sign-outs in a set both consoles share.
#[derive(Clone, Default)]
struct Memory {
    revoked: Arc<Mutex<HashSet<[u8; 16]>>>,
}

impl Backend for Memory {
    fn oss(&self, request: Request<Body>, _peer: SocketAddr) -> BoxFuture<'static, Response<Body>> {
        // Signed V1 with the one known key's secret, as the gateway would check it.
        let view = cang_oss::auth::RequestView {
            method: request.method(),
            raw_path: request.uri().path(),
            raw_query: request.uri().query().unwrap_or(""),
            headers: request.headers(),
            bucket: None,
            key: None,
        };
        let expected = cang_oss::auth::sign_v1_authorization(&view, "LTAItest", b"secret");
        let signed = request
            .headers()
            .get(header::AUTHORIZATION)
            .is_some_and(|v| v.as_bytes() == expected.as_bytes());
        Box::pin(async move {
            let mut answer = Response::new(if signed {
                full_body("<ListAllMyBucketsResult><Buckets/></ListAllMyBucketsResult>")
            } else {
                full_body("<Error><Code>InvalidAccessKeyId</Code><Message>no</Message></Error>")
            });
            if !signed {
                *answer.status_mut() = StatusCode::FORBIDDEN;
            }
            answer
        })
    }

    fn secret(
        &self,
        access_key_id: &str,
    ) -> BoxFuture<'static, Result<Option<AccessKeySecret>, Unavailable>> {
        let known = access_key_id == "LTAItest";
        Box::pin(async move { Ok(known.then(|| AccessKeySecret::new("secret"))) })
    }

    fn revoke_session(&self, id: [u8; 16], _until: u64) -> BoxFuture<'static, Result<(), Unavailable>> {
        self.revoked.lock().unwrap_or_else(|p| p.into_inner()).insert(id);
        Box::pin(async { Ok(()) })
    }

    fn session_revoked(&self, id: [u8; 16]) -> BoxFuture<'static, Result<bool, Unavailable>> {
        let revoked = self
            .revoked
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains(&id);
        Box::pin(async move { Ok(revoked) })
    }
}

const ORIGIN: &str = "http://console.test";

fn peer() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 50000))
}

fn request(method: &str, path: &str, cookie: Option<&str>, body: &str) -> Request<Body> {
    let mut builder = Request::builder()
        .method(method)
        .uri(path)
        .header(header::HOST, "console.test")
        .header(header::ORIGIN, ORIGIN)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
    if let Some(cookie) = cookie {
        builder = builder.header(header::COOKIE, cookie);
    }
    let body = if body.is_empty() {
        empty_body()
    } else {
        full_body(body.to_owned())
    };
    builder.body(body).unwrap_or_else(|e| panic!("{e}"))
}

async fn text(answer: Response<Body>) -> String {
    let bytes = crate::read_bounded(answer.into_body(), 1 << 20)
        .await
        .unwrap_or_default();
    String::from_utf8_lossy(&bytes).into_owned()
}

fn replicas() -> (Arc<Console<Memory>>, Arc<Console<Memory>>) {
    let key = SessionKey::from_bytes([9; 32]);
    let shared = Memory::default();
    (
        Console::new(ConsoleConfig::new(key.clone()), shared.clone()),
        Console::new(ConsoleConfig::new(key), shared),
    )
}

async fn sign_in(console: &Arc<Console<Memory>>, secret: &str) -> Response<Body> {
    let form = format!("access_key_id=LTAItest&access_key_secret={secret}");
    Arc::clone(console)
        .handle(request("POST", "/login", None, &form), peer())
        .await
}

#[tokio::test]
async fn a_sign_out_on_one_replica_ends_the_session_on_the_other() {
    let (a, b) = replicas();
    let signed_in = sign_in(&a, "secret").await;
    assert_eq!(signed_in.status(), StatusCode::SEE_OTHER);
    let cookie = signed_in.headers()[header::SET_COOKIE]
        .to_str()
        .unwrap_or_default()
        .split(';')
        .next()
        .unwrap_or_default()
        .to_owned();

    // The other replica opens the same cookie.
    let page = Arc::clone(&b)
        .handle(request("GET", "/", Some(&cookie), ""), peer())
        .await;
    assert_eq!(page.status(), StatusCode::OK);
    let html = text(page).await;
    let token = html
        .split("name=\"csrf-token\" content=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap_or_default()
        .to_owned();
    assert_eq!(token.len(), 32);

    // No token: refused, still signed in.
    let refused = Arc::clone(&a)
        .handle(request("POST", "/logout", Some(&cookie), "x=1"), peer())
        .await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);

    let out = Arc::clone(&a)
        .handle(
            request("POST", "/logout", Some(&cookie), &format!("csrf={token}")),
            peer(),
        )
        .await;
    assert_eq!(out.status(), StatusCode::SEE_OTHER);
    for replica in [&a, &b] {
        let after = Arc::clone(replica)
            .handle(request("GET", "/", Some(&cookie), ""), peer())
            .await;
        assert_eq!(after.status(), StatusCode::SEE_OTHER);
        assert_eq!(after.headers()[header::LOCATION], "/login?ended=1");
    }
}

#[tokio::test]
async fn a_wrong_secret_gets_no_session() {
    let (a, _) = replicas();
    let answer = sign_in(&a, "wrong").await;
    assert_eq!(answer.status(), StatusCode::UNAUTHORIZED);
    assert!(answer.headers().get(header::SET_COOKIE).is_none());
}
