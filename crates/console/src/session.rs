//! Sign-in sessions, held by the browser as one sealed cookie: the access key id the session acts for, a
//! random session id, the CSRF token its pages carry, when it began and when it was last used. Sealed with
//! AES-256-GCM under the console's session key, so any gateway holding that key opens it and none needs a
//! session table; the secret of the access key is never in it. A session ends when it has been idle too
//! long, when it reaches its lifetime, or on sign-out: remembered here, and by the metadata service for
//! every other replica, until the cookie would have expired anyway.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use zeroize::Zeroizing;

/// The cookie that carries the session.
pub const COOKIE: &str = "cang_console";

const VERSION: u8 = 1;
const AAD: &[u8] = b"cang/console/session/v1";
const NONCE_LEN: usize = 12;
/// Longest access key id a session may name.
const MAX_KEY_ID: usize = 128;
/// Longest cookie value opened (a sealed session is about 110 characters).
const MAX_COOKIE: usize = 512;

/// The 32-byte key sessions are sealed with. `Debug` prints a placeholder.
#[derive(Clone)]
pub struct SessionKey(Zeroizing<[u8; 32]>);

impl SessionKey {
    /// A key from its bytes (a file the gateways share).
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(Zeroizing::new(bytes))
    }

    /// A fresh random key: sessions then end with this process.
    pub fn random() -> Result<Self, getrandom::Error> {
        let mut bytes = Zeroizing::new([0u8; 32]);
        getrandom::fill(bytes.as_mut())?;
        Ok(Self(bytes))
    }
}

impl std::fmt::Debug for SessionKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SessionKey([REDACTED])")
    }
}

/// One signed-in session.
#[derive(Clone, PartialEq, Eq)]
pub struct Session {
    /// Random id, what sign-out revokes.
    pub id: [u8; 16],
    /// The CSRF token every state-changing request of this session must present.
    pub csrf: [u8; 16],
    /// The access key the session acts for.
    pub access_key_id: String,
    /// When it began, Unix seconds.
    pub issued: u64,
    /// When it was last used, Unix seconds.
    pub seen: u64,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("access_key_id", &self.access_key_id)
            .field("issued", &self.issued)
            .field("seen", &self.seen)
            .finish_non_exhaustive()
    }
}

impl Session {
    /// The CSRF token as pages carry it.
    pub fn csrf_token(&self) -> String {
        hex(&self.csrf)
    }

    /// Whether `presented` is this session's CSRF token (compared in constant time).
    pub fn csrf_matches(&self, presented: &str) -> bool {
        let expected = self.csrf_token();
        expected.len() == presented.len()
            && expected
                .bytes()
                .zip(presented.bytes())
                .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                == 0
    }

    fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(49 + self.access_key_id.len());
        out.push(VERSION);
        out.extend_from_slice(&self.id);
        out.extend_from_slice(&self.csrf);
        out.extend_from_slice(&self.issued.to_be_bytes());
        out.extend_from_slice(&self.seen.to_be_bytes());
        out.extend_from_slice(self.access_key_id.as_bytes());
        out
    }

    fn decode(bytes: &[u8]) -> Option<Self> {
        let (&version, rest) = bytes.split_first()?;
        if version != VERSION || rest.len() < 48 {
            return None;
        }
        let (id, rest) = rest.split_at(16);
        let (csrf, rest) = rest.split_at(16);
        let (issued, rest) = rest.split_at(8);
        let (seen, key) = rest.split_at(8);
        let access_key_id = std::str::from_utf8(key).ok()?;
        if access_key_id.is_empty() || access_key_id.len() > MAX_KEY_ID {
            return None;
        }
        Some(Self {
            id: id.try_into().ok()?,
            csrf: csrf.try_into().ok()?,
            issued: u64::from_be_bytes(issued.try_into().ok()?),
            seen: u64::from_be_bytes(seen.try_into().ok()?),
            access_key_id: access_key_id.to_owned(),
        })
    }
}

/// Why a cookie does not open a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// Not a session this console sealed (forged, altered, another key).
    Invalid,
    /// Idle past the limit, or past its lifetime.
    Expired,
    /// Signed out.
    SignedOut,
}

/// Session limits.
#[derive(Debug, Clone)]
pub struct SessionLimits {
    /// How long a session may go unused.
    pub idle: Duration,
    /// How long a session may last at most.
    pub lifetime: Duration,
}

impl Default for SessionLimits {
    fn default() -> Self {
        Self {
            idle: Duration::from_secs(30 * 60),
            lifetime: Duration::from_secs(12 * 3600),
        }
    }
}

/// Seals, opens and revokes sessions.
pub struct Sessions {
    cipher: Aes256Gcm,
    limits: SessionLimits,
    /// Signed-out session ids, each until the time its session could no longer be used anyway.
    revoked: Mutex<HashMap<[u8; 16], u64>>,
}

impl std::fmt::Debug for Sessions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sessions")
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

impl Sessions {
    /// Sessions sealed under `key`.
    pub fn new(key: &SessionKey, limits: SessionLimits) -> Self {
        Self {
            cipher: Aes256Gcm::new(&(*key.0).into()),
            limits,
            revoked: Mutex::new(HashMap::new()),
        }
    }

    /// The limits sessions run under.
    pub fn limits(&self) -> &SessionLimits {
        &self.limits
    }

    /// A new session for `access_key_id`, begun at `now`.
    pub fn begin(&self, access_key_id: &str, now: u64) -> Result<Session, getrandom::Error> {
        let mut id = [0u8; 16];
        let mut csrf = [0u8; 16];
        getrandom::fill(&mut id)?;
        getrandom::fill(&mut csrf)?;
        Ok(Session {
            id,
            csrf,
            access_key_id: access_key_id.to_owned(),
            issued: now,
            seen: now,
        })
    }

    /// The cookie value of `session`.
    pub fn seal(&self, session: &Session) -> Result<String, getrandom::Error> {
        let mut nonce = [0u8; NONCE_LEN];
        getrandom::fill(&mut nonce)?;
        let plain = Zeroizing::new(session.encode());
        let sealed = self
            .cipher
            .encrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: &plain,
                    aad: AAD,
                },
            )
            // AES-GCM only fails on inputs of gigabytes.
            .unwrap_or_default();
        let mut out = nonce.to_vec();
        out.extend_from_slice(&sealed);
        Ok(B64.encode(out))
    }

    /// The session a cookie value holds, if it is still live at `now`.
    pub fn open(&self, cookie: &str, now: u64) -> Result<Session, Refused> {
        if cookie.len() > MAX_COOKIE {
            return Err(Refused::Invalid);
        }
        let raw = B64.decode(cookie).map_err(|_| Refused::Invalid)?;
        if raw.len() < NONCE_LEN + 16 {
            return Err(Refused::Invalid);
        }
        let (nonce, sealed) = raw.split_at(NONCE_LEN);
        let nonce: [u8; NONCE_LEN] = nonce.try_into().map_err(|_| Refused::Invalid)?;
        let plain = self
            .cipher
            .decrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: sealed,
                    aad: AAD,
                },
            )
            .map(Zeroizing::new)
            .map_err(|_| Refused::Invalid)?;
        let session = Session::decode(&plain).ok_or(Refused::Invalid)?;
        if now.saturating_sub(session.seen) > self.limits.idle.as_secs()
            || now.saturating_sub(session.issued) > self.limits.lifetime.as_secs()
        {
            return Err(Refused::Expired);
        }
        let revoked = self.revoked.lock().unwrap_or_else(|p| p.into_inner());
        if revoked.contains_key(&session.id) {
            return Err(Refused::SignedOut);
        }
        Ok(session)
    }

    /// Ends `session` at `now`: its cookie opens nothing from then on.
    pub fn revoke(&self, session: &Session, now: u64) {
        let until = session.issued + self.limits.lifetime.as_secs();
        let mut revoked = self.revoked.lock().unwrap_or_else(|p| p.into_inner());
        revoked.retain(|_, &mut expires| expires > now);
        revoked.insert(session.id, until);
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn sessions() -> Sessions {
        Sessions::new(&SessionKey::from_bytes([7; 32]), SessionLimits::default())
    }

    #[test]
    fn a_sealed_session_opens_until_idle_or_old() {
        let s = sessions();
        let session = s.begin("LTAIkey", 1000).unwrap_or_else(|e| panic!("{e}"));
        let cookie = s.seal(&session).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(s.open(&cookie, 1000), Ok(session.clone()));
        assert_eq!(s.open(&cookie, 1000 + 30 * 60), Ok(session.clone()));
        assert_eq!(s.open(&cookie, 1001 + 30 * 60), Err(Refused::Expired));
        let mut fresh = session.clone();
        fresh.seen = 1000 + 12 * 3600;
        let cookie = s.seal(&fresh).unwrap_or_else(|e| panic!("{e}"));
        assert!(s.open(&cookie, 1000 + 12 * 3600).is_ok());
        assert_eq!(s.open(&cookie, 1001 + 12 * 3600), Err(Refused::Expired));
    }

    #[test]
    fn another_key_or_a_changed_byte_opens_nothing() {
        let s = sessions();
        let session = s.begin("LTAIkey", 1000).unwrap_or_else(|e| panic!("{e}"));
        let cookie = s.seal(&session).unwrap_or_else(|e| panic!("{e}"));
        let other = Sessions::new(&SessionKey::from_bytes([8; 32]), SessionLimits::default());
        assert_eq!(other.open(&cookie, 1000), Err(Refused::Invalid));
        let mut raw = B64.decode(&cookie).unwrap_or_default();
        let last = raw.len() - 1;
        raw[last] ^= 1;
        assert_eq!(s.open(&B64.encode(raw), 1000), Err(Refused::Invalid));
        assert_eq!(s.open("", 1000), Err(Refused::Invalid));
        assert_eq!(s.open(&"A".repeat(4096), 1000), Err(Refused::Invalid));
    }

    #[test]
    fn a_revoked_session_is_dead() {
        let s = sessions();
        let session = s.begin("LTAIkey", 1000).unwrap_or_else(|e| panic!("{e}"));
        let cookie = s.seal(&session).unwrap_or_else(|e| panic!("{e}"));
        s.revoke(&session, 1001);
        assert_eq!(s.open(&cookie, 1002), Err(Refused::SignedOut));
    }

    #[test]
    fn csrf_tokens_compare_exactly() {
        let s = sessions();
        let session = s.begin("LTAIkey", 1000).unwrap_or_else(|e| panic!("{e}"));
        assert!(session.csrf_matches(&session.csrf_token()));
        assert!(!session.csrf_matches(""));
        assert!(!session.csrf_matches(&"0".repeat(32)));
    }

    proptest! {
        #[test]
        fn no_cookie_value_panics_or_opens(cookie in ".{0,600}") {
            prop_assert!(sessions().open(&cookie, 1000).is_err());
        }

        #[test]
        fn sessions_round_trip(key in "[A-Za-z0-9]{1,128}", issued in 0u64..1 << 40) {
            let s = sessions();
            let session = s.begin(&key, issued).unwrap_or_else(|e| panic!("{e}"));
            let cookie = s.seal(&session).unwrap_or_else(|e| panic!("{e}"));
            prop_assert_eq!(s.open(&cookie, issued), Ok(session));
        }
    }
}
