//! Admission: how many requests one caller may have in flight at once. A caller past its limit is answered
//! `503 SlowDown` at once, so a tenant that opens many slow requests cannot take every other tenant's share
//! of the gateway. Callers are told apart by principal (account root or RAM user), and anonymous callers by
//! source address.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError};

use cang_oss::OssError;

use crate::authorize::Principal;

/// Counts the requests in flight per caller.
#[derive(Debug)]
pub struct InFlightLimit {
    limit: usize,
    counts: Mutex<HashMap<String, usize>>,
}

/// One admitted request; the caller's count drops when it is dropped.
#[derive(Debug)]
pub struct Admitted {
    limit: Arc<InFlightLimit>,
    caller: String,
}

impl InFlightLimit {
    /// At most `limit` requests in flight per caller (at least one).
    pub fn new(limit: usize) -> Arc<Self> {
        Arc::new(Self {
            limit: limit.max(1),
            counts: Mutex::new(HashMap::new()),
        })
    }

    /// The key a caller is counted under.
    pub fn caller_key(principal: &Principal, peer: IpAddr) -> String {
        match principal {
            Principal::Anonymous => format!("anonymous@{peer}"),
            other => other.id(),
        }
    }

    /// Admits one more request of `caller`, or refuses it with `SlowDown`.
    pub fn admit(self: &Arc<Self>, caller: String) -> Result<Admitted, OssError> {
        let mut counts = self.counts.lock().unwrap_or_else(PoisonError::into_inner);
        let count = counts.entry(caller.clone()).or_insert(0);
        if *count >= self.limit {
            tracing::warn!(%caller, limit = self.limit, "in-flight limit reached; answering SlowDown");
            return Err(OssError::slow_down());
        }
        *count += 1;
        Ok(Admitted {
            limit: Arc::clone(self),
            caller,
        })
    }

    /// Requests in flight for `caller`.
    #[cfg(test)]
    pub fn in_flight(&self, caller: &str) -> usize {
        let counts = self.counts.lock().unwrap_or_else(PoisonError::into_inner);
        counts.get(caller).copied().unwrap_or(0)
    }
}

impl Drop for Admitted {
    fn drop(&mut self) {
        let mut counts = self.limit.counts.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(count) = counts.get_mut(&self.caller) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                counts.remove(&self.caller);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_caller_past_its_limit_is_refused_and_others_are_not() {
        let limit = InFlightLimit::new(2);
        let a1 = limit.admit("a".into()).unwrap();
        let _a2 = limit.admit("a".into()).unwrap();
        let refused = limit.admit("a".into()).unwrap_err();
        assert_eq!(refused.code(), cang_oss::ErrorCode::SlowDown);
        let _b = limit.admit("b".into()).expect("another caller has its own share");
        drop(a1);
        let _a3 = limit
            .admit("a".into())
            .expect("a finished request frees its place");
        assert_eq!(limit.in_flight("a"), 2);
    }

    #[test]
    fn anonymous_callers_are_counted_by_address() {
        let a = InFlightLimit::caller_key(&Principal::Anonymous, "10.0.0.1".parse().unwrap());
        let b = InFlightLimit::caller_key(&Principal::Anonymous, "10.0.0.2".parse().unwrap());
        assert_ne!(a, b);
        let root = Principal::AccountRoot {
            account: "1001".into(),
            access_key_id: "LTAIx".into(),
        };
        assert_eq!(
            InFlightLimit::caller_key(&root, "10.0.0.1".parse().unwrap()),
            "1001"
        );
    }
}
