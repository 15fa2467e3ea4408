//! Replay protection: the signed time must be within the allowed skew of the server's clock, and a
//! nonce may be used once per access key for as long as a request carrying it could still be accepted.
//! The memory of nonces is bounded; when it is full of live nonces new requests are turned away
//! (503) rather than letting any nonce be forgotten early.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::OpenApiError;

/// Longest nonce accepted, bytes.
pub const MAX_NONCE_LEN: usize = 128;

/// Parses a signed time: ISO 8601 / RFC 3339, e.g. `2024-05-01T08:00:00Z`; Unix seconds.
pub fn parse_timestamp(raw: &str) -> Result<i64, OpenApiError> {
    OffsetDateTime::parse(raw, &Rfc3339)
        .map(OffsetDateTime::unix_timestamp)
        .map_err(|_| OpenApiError::IllegalTimestamp)
}

/// Checks that `signed` is within `skew_secs` of `now`.
pub fn check_skew(signed: i64, now: i64, skew_secs: i64) -> Result<(), OpenApiError> {
    if signed.abs_diff(now) > skew_secs.unsigned_abs() {
        Err(OpenApiError::TimestampExpired)
    } else {
        Ok(())
    }
}

/// Why a nonce was not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NonceRefused {
    /// Seen before within its window.
    Used,
    /// Too many live nonces are remembered; try again later.
    Full,
}

/// Nonces seen, per access key, until the time after which their request would be refused anyway.
#[derive(Debug)]
pub struct NonceCache {
    capacity: usize,
    seen: Mutex<HashMap<(String, String), i64>>,
}

impl NonceCache {
    /// A cache remembering at most `capacity` nonces.
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity: capacity.max(1),
            seen: Mutex::new(HashMap::new()),
        }
    }

    /// Accepts `nonce` of `access_key_id` once: the request was signed at `signed` (already checked to
    /// be within `skew_secs` of `now`), so it could be replayed until `signed + skew_secs`.
    pub fn accept(
        &self,
        access_key_id: &str,
        nonce: &str,
        signed: i64,
        now: i64,
        skew_secs: i64,
    ) -> Result<(), NonceRefused> {
        let expires = signed.saturating_add(skew_secs);
        let mut seen = self.seen.lock().unwrap_or_else(PoisonError::into_inner);
        let key = (access_key_id.to_owned(), nonce.to_owned());
        if let Some(&until) = seen.get(&key)
            && until >= now
        {
            return Err(NonceRefused::Used);
        }
        if seen.len() >= self.capacity {
            seen.retain(|_, until| *until >= now);
            if seen.len() >= self.capacity {
                return Err(NonceRefused::Full);
            }
        }
        seen.insert(key, expires);
        Ok(())
    }

    /// How many nonces are remembered.
    pub fn len(&self) -> usize {
        self.seen.lock().unwrap_or_else(PoisonError::into_inner).len()
    }

    /// Whether none is.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const SKEW: i64 = 900;

    #[test]
    fn timestamps_parse_and_skew_is_bounded() -> Result<(), OpenApiError> {
        let t = parse_timestamp("2024-05-01T08:00:00Z")?;
        assert_eq!(t, 1_714_550_400);
        assert_eq!(parse_timestamp("yesterday"), Err(OpenApiError::IllegalTimestamp));
        check_skew(t, t + SKEW, SKEW)?;
        check_skew(t, t - SKEW, SKEW)?;
        assert_eq!(
            check_skew(t, t + SKEW + 1, SKEW),
            Err(OpenApiError::TimestampExpired)
        );
        assert_eq!(
            check_skew(t, t - SKEW - 1, SKEW),
            Err(OpenApiError::TimestampExpired)
        );
        assert_eq!(
            check_skew(i64::MIN, i64::MAX, SKEW),
            Err(OpenApiError::TimestampExpired)
        );
        Ok(())
    }

    #[test]
    fn a_nonce_is_single_use_per_key_within_its_window() {
        let cache = NonceCache::new(10);
        assert_eq!(cache.accept("ak", "n", 1000, 1000, SKEW), Ok(()));
        assert_eq!(cache.accept("ak", "n", 1000, 1500, SKEW), Err(NonceRefused::Used));
        assert_eq!(cache.accept("other", "n", 1000, 1000, SKEW), Ok(()));
        // Past its window the request itself would be refused for its time; the nonce may be forgotten.
        assert_eq!(cache.accept("ak", "n", 2000, 2000, SKEW), Ok(()));
    }

    #[test]
    fn a_full_cache_forgets_only_expired_nonces() {
        let cache = NonceCache::new(2);
        assert_eq!(cache.accept("ak", "a", 0, 0, SKEW), Ok(()));
        assert_eq!(cache.accept("ak", "b", 0, 0, SKEW), Ok(()));
        assert_eq!(cache.accept("ak", "c", 0, 100, SKEW), Err(NonceRefused::Full));
        assert_eq!(cache.accept("ak", "a", 0, 100, SKEW), Err(NonceRefused::Used));
        assert_eq!(cache.accept("ak", "c", 2000, 2000, SKEW), Ok(()));
        assert_eq!(cache.len(), 1);
    }

    proptest! {
        #[test]
        fn timestamp_parsing_never_panics(raw in ".{0,40}") {
            let _ = parse_timestamp(&raw);
        }

        #[test]
        fn the_second_use_within_the_window_is_refused(signed in -1_000_000i64..1_000_000, delay in 0i64..=SKEW) {
            let cache = NonceCache::new(4);
            prop_assert_eq!(cache.accept("ak", "n", signed, signed, SKEW), Ok(()));
            prop_assert_eq!(cache.accept("ak", "n", signed, signed + delay, SKEW), Err(NonceRefused::Used));
        }
    }
}
