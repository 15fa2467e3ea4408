//! The small-object SSE cost measured fairly: the modes run in short slices, one after another, for
//! several rounds, each round starting from the next mode (none, AES256, KMS → AES256, KMS, none → …).
//! A mode's ratio to no SSE is taken within each round, so a machine that slows down or speeds up
//! between phases moves every mode alike, and the report gives the median ratio with its spread.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use serde::Serialize;

use crate::BenchError;
use crate::client::OssClient;
use crate::phases::{self, Ledger, Op, Target};
use crate::stats::{Spread, spread};

/// One mode's bucket and gateway, and what its small PUT phase wrote (per client count).
#[derive(Debug)]
pub struct Subject<'a> {
    /// SSE mode label; `none` is the baseline.
    pub label: &'a str,
    /// The gateway to use.
    pub client: &'a OssClient,
    /// The bucket whose default is the mode.
    pub bucket: &'a str,
    /// Slots each worker wrote under `small-<clients>`, by client count.
    pub written: &'a HashMap<usize, Vec<usize>>,
}

/// How many rounds, and how long each slice runs.
#[derive(Debug, Clone, Copy)]
pub struct Plan {
    /// Rounds.
    pub rounds: usize,
    /// One mode's slice.
    pub slice: Duration,
}

/// The order of the modes in `round`: a rotation, so that no mode always runs first or after another.
pub fn order(modes: usize, round: usize) -> Vec<usize> {
    (0..modes).map(|i| (i + round) % modes.max(1)).collect()
}

/// One mode against no SSE, for one operation and client count.
#[derive(Debug, Clone, Serialize)]
pub struct InterleavedRow {
    /// SSE mode label.
    pub mode: String,
    /// PUT or GET.
    pub op: Op,
    /// Concurrent clients.
    pub clients: usize,
    /// Rounds measured.
    pub rounds: usize,
    /// The mode's ops/s over no SSE's in the same round.
    pub ratio: Spread,
    /// Median ops/s of the mode.
    pub ops_per_s: f64,
    /// Median ops/s without SSE.
    pub none_ops_per_s: f64,
}

/// Runs the interleaved slices for every operation and client count; a row per mode other than `none`.
pub async fn measure(
    subjects: &[Subject<'_>],
    ledger: &Arc<Ledger>,
    bodies: &Arc<Vec<(Bytes, u64)>>,
    clients: &[usize],
    plan: Plan,
    progress: &dyn Fn(&str),
) -> Result<Vec<InterleavedRow>, BenchError> {
    let Some(baseline) = subjects.iter().position(|s| s.label == "none") else {
        return Ok(Vec::new());
    };
    let mut rows = Vec::new();
    for op in [Op::Put, Op::Get] {
        for &c in clients {
            progress(&format!("interleaved small {op} x{c}"));
            // rates[mode][round]
            let mut rates = vec![Vec::with_capacity(plan.rounds); subjects.len()];
            for round in 0..plan.rounds {
                for i in order(subjects.len(), round) {
                    let s = &subjects[i];
                    let target = Target {
                        client: s.client,
                        ledger,
                        bucket: s.bucket,
                    };
                    let (prefix, slots) = match op {
                        // Fresh keys, so that no slice overwrites another's objects.
                        Op::Put => (format!("interleaved-{c}-{round}"), Vec::new()),
                        Op::Get => (
                            format!("small-{c}"),
                            s.written.get(&c).cloned().unwrap_or_default(),
                        ),
                    };
                    let result = phases::small(target, &prefix, bodies, c, op, &slots, plan.slice).await?;
                    rates[i].push(result.ops_per_s);
                }
            }
            for (i, s) in subjects.iter().enumerate() {
                if i == baseline {
                    continue;
                }
                let ratios: Vec<f64> = rates[i]
                    .iter()
                    .zip(&rates[baseline])
                    .filter(|&(_, &none)| none > 0.0)
                    .map(|(&mode, &none)| mode / none)
                    .collect();
                let (Some(ratio), Some(mine), Some(none)) =
                    (spread(&ratios), spread(&rates[i]), spread(&rates[baseline]))
                else {
                    continue;
                };
                rows.push(InterleavedRow {
                    mode: s.label.to_owned(),
                    op,
                    clients: c,
                    rounds: ratios.len(),
                    ratio,
                    ops_per_s: mine.median,
                    none_ops_per_s: none.median,
                });
            }
        }
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_round_rotates_the_start() {
        assert_eq!(order(3, 0), vec![0, 1, 2]);
        assert_eq!(order(3, 1), vec![1, 2, 0]);
        assert_eq!(order(3, 2), vec![2, 0, 1]);
        assert_eq!(order(3, 3), vec![0, 1, 2]);
        // Over `modes` rounds each mode runs once in every position.
        for pos in 0..4 {
            let mut seen: Vec<usize> = (0..4).map(|r| order(4, r)[pos]).collect();
            seen.sort_unstable();
            assert_eq!(seen, vec![0, 1, 2, 3]);
        }
        assert!(order(0, 5).is_empty());
    }
}
