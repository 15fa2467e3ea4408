//! Injectable time source, so deletion windows and rotation intervals can be tested without waiting.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

/// Current time in Unix milliseconds.
pub trait Clock: Send + Sync + std::fmt::Debug + 'static {
    /// Now, Unix milliseconds.
    fn now_ms(&self) -> i64;
    /// Now, Unix seconds.
    fn now(&self) -> i64 {
        self.now_ms().div_euclid(1000)
    }
}

/// The system clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        let d = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
    }
}

/// A clock that only moves when told to (tests).
#[derive(Debug, Clone)]
pub struct ManualClock(Arc<AtomicI64>);

impl ManualClock {
    /// Starts at `unix_seconds`.
    pub fn new(unix_seconds: i64) -> Self {
        Self(Arc::new(AtomicI64::new(unix_seconds * 1000)))
    }
    /// Moves forward by `seconds`.
    pub fn advance(&self, seconds: i64) {
        self.0.fetch_add(seconds * 1000, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now_ms(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
}
