//! The audit log's MAC chain, which makes it tamper-evident.
//!
//! Each record is sealed under the root key with its sequence number bound in (an edited or moved
//! record fails to open). On top, each record `n` gets a MAC, kept in a table of its own:
//!
//! `mac(n) = HMAC-SHA256(K, "cang/kms/audit/v1" ‖ u64_be(n) ‖ mac(n-1) ‖ SHA-256(sealed record n))`
//!
//! with `K = HMAC-SHA256(root key, "cang/kms/audit-chain/v1")` and `mac(0)` all zeros. Removing,
//! inserting or reordering records anywhere but at the end breaks the chain; removing records at the
//! end (or rolling the whole file back) is caught by verifying against an anchor, a `(n, mac(n))`
//! pair an operator kept from an earlier verification. Records written before the chain existed
//! form an unchained prefix: they still open under the root key, and the chain starts after them.
//!
//! [`Verifier`] is the pure walk, fed one row at a time by the store.

use cang_kms_api::{AuditAnchor, AuditVerification};
use hmac::{KeyInit, Mac};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

type HmacSha256 = hmac::Hmac<Sha256>;

/// A chain MAC.
pub(crate) type ChainMac = [u8; 32];

/// The MAC of the (absent) record 0, from which a chain starts.
pub(crate) const GENESIS: ChainMac = [0; 32];

/// The chain key, derived from the root key.
pub(crate) struct ChainKey(Zeroizing<[u8; 32]>);

impl std::fmt::Debug for ChainKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ChainKey(<redacted>)")
    }
}

fn hmac(key: &[u8]) -> HmacSha256 {
    // HMAC accepts keys of any length.
    <HmacSha256 as KeyInit>::new_from_slice(key).unwrap_or_else(|_| unreachable!())
}

impl ChainKey {
    /// Derives the chain key from the root key's bytes.
    pub(crate) fn derive(root: &[u8]) -> Self {
        let mut m = hmac(root);
        m.update(b"cang/kms/audit-chain/v1");
        Self(Zeroizing::new(m.finalize().into_bytes().into()))
    }

    /// The MAC of record `sequence`, sealed as `sealed`, following `previous`.
    pub(crate) fn link(&self, sequence: u64, previous: &ChainMac, sealed: &[u8]) -> ChainMac {
        let mut m = hmac(self.0.as_slice());
        m.update(b"cang/kms/audit/v1");
        m.update(&sequence.to_be_bytes());
        m.update(previous);
        m.update(&Sha256::digest(sealed));
        m.finalize().into_bytes().into()
    }
}

/// Walks the log in sequence order; the first problem stops the judgement (later rows are counted).
pub(crate) struct Verifier<'a> {
    key: &'a ChainKey,
    anchor: Option<AuditAnchor>,
    anchor_seen: bool,
    records: u64,
    unchained: u64,
    /// The last chain MAC, once the chain has started.
    previous: Option<ChainMac>,
    last_sequence: u64,
    failure: Option<(u64, String)>,
}

impl<'a> Verifier<'a> {
    pub(crate) fn new(key: &'a ChainKey, anchor: Option<AuditAnchor>) -> Self {
        Self {
            key,
            anchor,
            anchor_seen: false,
            records: 0,
            unchained: 0,
            previous: None,
            last_sequence: 0,
            failure: None,
        }
    }

    fn fail(&mut self, sequence: u64, why: String) {
        if self.failure.is_none() {
            self.failure = Some((sequence, why));
        }
    }

    /// One record: its sequence number, whether it opened under the root key, its sealed bytes and
    /// the MAC stored for it (if any).
    pub(crate) fn record(&mut self, sequence: u64, opens: bool, sealed: &[u8], mac: Option<ChainMac>) {
        self.records += 1;
        let expected = self.last_sequence + 1;
        self.last_sequence = sequence;
        if self.failure.is_some() {
            return;
        }
        if sequence != expected {
            return self.fail(
                expected,
                format!("records {expected} to {} are missing", sequence - 1),
            );
        }
        if !opens {
            return self.fail(
                sequence,
                "the record does not open under the root key (altered)".into(),
            );
        }
        let link = match (mac, self.previous) {
            (None, None) => {
                self.unchained += 1;
                return;
            }
            (None, Some(_)) => {
                return self.fail(sequence, "the record has no MAC although earlier ones do".into());
            }
            (Some(mac), previous) => (mac, previous.unwrap_or(GENESIS)),
        };
        let (mac, previous) = link;
        if self.key.link(sequence, &previous, sealed) != mac {
            return self.fail(
                sequence,
                "the MAC chain breaks here (a record was removed, added or changed)".into(),
            );
        }
        self.previous = Some(mac);
        if let Some(anchor) = self.anchor
            && anchor.sequence == sequence
        {
            self.anchor_seen = true;
            if anchor.mac != mac {
                self.fail(
                    sequence,
                    "the MAC differs from the anchor (the log was rewritten since)".into(),
                );
            }
        }
    }

    /// A MAC stored for a sequence number that has no record.
    pub(crate) fn orphan_mac(&mut self, sequence: u64) {
        self.fail(sequence, "a MAC is stored for a record that is missing".into());
    }

    /// The judgement.
    pub(crate) fn finish(mut self) -> AuditVerification {
        if let Some(anchor) = self.anchor
            && !self.anchor_seen
            && self.failure.is_none()
        {
            let why = if anchor.sequence > self.last_sequence {
                format!(
                    "the log ends at {} before the anchor (truncated or rolled back)",
                    self.last_sequence
                )
            } else {
                "the anchored record is not chained".to_owned()
            };
            self.fail(anchor.sequence, why);
        }
        AuditVerification {
            records: self.records,
            unchained: self.unchained,
            head: self
                .previous
                .filter(|_| self.last_sequence > 0)
                .map(|mac| AuditAnchor {
                    sequence: self.last_sequence,
                    mac,
                }),
            failure: self.failure,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A chained log of `n` records (sealed bytes are stand-ins) after `legacy` unchained ones.
    fn log(key: &ChainKey, legacy: u64, n: u64) -> Vec<(u64, Vec<u8>, Option<ChainMac>)> {
        let mut out = Vec::new();
        let mut previous = GENESIS;
        for seq in 1..=legacy + n {
            let sealed = format!("sealed {seq}").into_bytes();
            let mac = (seq > legacy).then(|| {
                previous = key.link(seq, &previous, &sealed);
                previous
            });
            out.push((seq, sealed, mac));
        }
        out
    }

    fn verify(
        key: &ChainKey,
        rows: &[(u64, Vec<u8>, Option<ChainMac>)],
        anchor: Option<AuditAnchor>,
    ) -> AuditVerification {
        let mut v = Verifier::new(key, anchor);
        for (seq, sealed, mac) in rows {
            v.record(*seq, true, sealed, *mac);
        }
        v.finish()
    }

    #[test]
    fn an_intact_log_verifies_and_names_its_head() {
        let key = ChainKey::derive(&[7; 32]);
        let rows = log(&key, 2, 5);
        let v = verify(&key, &rows, None);
        assert!(v.is_intact(), "{v:?}");
        assert_eq!((v.records, v.unchained), (7, 2));
        let head = v.head.unwrap_or_else(|| unreachable!());
        assert_eq!(head.sequence, 7);
        assert_eq!(Some(head.mac), rows[6].2);
        let again = verify(&key, &rows, Some(head));
        assert!(again.is_intact());
        assert!(verify(&key, &[], None).is_intact());
        assert_eq!(verify(&key, &[], None).head, None);
    }

    #[test]
    fn every_kind_of_tampering_is_found_where_it_is() {
        let key = ChainKey::derive(&[7; 32]);
        let rows = log(&key, 1, 6);
        let at = |v: AuditVerification| v.failure.map(|(seq, _)| seq);

        let mut removed = rows.clone();
        removed.remove(3);
        assert_eq!(at(verify(&key, &removed, None)), Some(4), "a record removed");

        let mut swapped = rows.clone();
        swapped.swap(2, 3);
        assert!(
            verify(&key, &swapped, None).failure.is_some(),
            "two records swapped"
        );

        let mut changed = rows.clone();
        changed[4].1 = b"other".to_vec();
        assert_eq!(at(verify(&key, &changed, None)), Some(5), "a record replaced");

        let mut unmacked = rows.clone();
        unmacked[4].2 = None;
        assert_eq!(at(verify(&key, &unmacked, None)), Some(5), "a MAC removed");

        // Dropping the MACs of a chained prefix does not pass it off as unchained.
        let mut prefix = rows.clone();
        prefix[1].2 = None;
        prefix[2].2 = None;
        assert_eq!(at(verify(&key, &prefix, None)), Some(4), "chain prefix stripped");

        let other = ChainKey::derive(&[8; 32]);
        assert_eq!(at(verify(&other, &rows, None)), Some(2), "another root key");

        let head = verify(&key, &rows, None).head;
        let truncated = &rows[..5];
        assert!(
            verify(&key, truncated, None).is_intact(),
            "truncation alone is invisible"
        );
        assert_eq!(
            at(verify(&key, truncated, head)),
            head.map(|h| h.sequence),
            "but not past an anchor"
        );

        let mut v = Verifier::new(&key, None);
        v.record(1, false, b"x", None);
        assert_eq!(at(v.finish()), Some(1), "a record that does not open");
    }
}
