//! A bounded, short-lived memory of resolved access keys, so that steady traffic costs no round trip to
//! meta and kms. An entry is served for its time to live and then resolved afresh: a disabled or
//! deleted key, or a changed policy, takes effect within that time. Only successes are kept.

use std::num::NonZeroUsize;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use lru::LruCache;

/// Resolved access keys (`V`: whatever the caller makes of one), by access key id.
pub struct KeyCache<V> {
    ttl: Duration,
    entries: Mutex<LruCache<String, (Instant, V)>>,
}

impl<V> std::fmt::Debug for KeyCache<V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyCache")
            .field("ttl", &self.ttl)
            .finish_non_exhaustive()
    }
}

impl<V: Clone> KeyCache<V> {
    /// At most `capacity` entries (least recently used go first), each served for `ttl`; a zero
    /// `ttl` keeps nothing.
    pub fn new(ttl: Duration, capacity: usize) -> Self {
        let capacity = NonZeroUsize::new(capacity.max(1)).unwrap_or(NonZeroUsize::MIN);
        Self {
            ttl,
            entries: Mutex::new(LruCache::new(capacity)),
        }
    }

    /// The entry for `access_key_id`, if it is younger than the time to live.
    pub fn get(&self, access_key_id: &str) -> Option<V> {
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        match entries.get(access_key_id) {
            Some((born, value)) if born.elapsed() < self.ttl => Some(value.clone()),
            Some(_) => {
                entries.pop(access_key_id);
                None
            }
            None => None,
        }
    }

    /// Remembers `value` for `access_key_id` from now.
    pub fn put(&self, access_key_id: &str, value: V) {
        if self.ttl.is_zero() {
            return;
        }
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        entries.put(access_key_id.to_owned(), (Instant::now(), value));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_live_for_their_ttl_within_the_capacity() {
        let cache = KeyCache::new(Duration::from_secs(60), 2);
        cache.put("a", 1);
        cache.put("b", 2);
        assert_eq!((cache.get("a"), cache.get("b")), (Some(1), Some(2)));
        cache.put("c", 3);
        assert_eq!(cache.get("a"), None, "the least recently used went");
        assert_eq!(cache.get("c"), Some(3));

        let expired = KeyCache::new(Duration::from_millis(1), 8);
        expired.put("a", 1);
        std::thread::sleep(Duration::from_millis(5));
        assert_eq!(expired.get("a"), None);

        let off = KeyCache::new(Duration::ZERO, 8);
        off.put("a", 1);
        assert_eq!(off.get("a"), None);
    }
}
