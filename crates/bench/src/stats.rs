//! Latency samples and their percentiles, and throughput arithmetic. Pure, so the numbers every table
//! prints can be checked against hand-computed answers.

use std::time::Duration;

use serde::Serialize;

/// Latencies of one phase, in nanoseconds, in the order they were recorded.
#[derive(Debug, Clone, Default)]
pub struct Latencies {
    samples: Vec<u64>,
}

impl Latencies {
    /// An empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records one latency.
    pub fn record(&mut self, latency: Duration) {
        self.samples
            .push(u64::try_from(latency.as_nanos()).unwrap_or(u64::MAX));
    }

    /// Adds every sample of `other`.
    pub fn merge(&mut self, other: Latencies) {
        self.samples.extend(other.samples);
    }

    /// Number of samples.
    pub fn len(&self) -> usize {
        self.samples.len()
    }

    /// Whether nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.samples.is_empty()
    }

    /// The summary in microseconds; `None` when nothing was recorded.
    pub fn summary(&self) -> Option<LatencySummary> {
        let mut sorted = self.samples.clone();
        sorted.sort_unstable();
        let us = |q: f64| nearest_rank(&sorted, q).map(|ns| ns as f64 / 1e3);
        Some(LatencySummary {
            count: sorted.len(),
            p50_us: us(0.50)?,
            p99_us: us(0.99)?,
            p999_us: us(0.999)?,
            max_us: us(1.0)?,
        })
    }
}

/// Percentiles of one phase, microseconds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct LatencySummary {
    /// Number of samples.
    pub count: usize,
    /// Median.
    pub p50_us: f64,
    /// 99th percentile.
    pub p99_us: f64,
    /// 99.9th percentile.
    pub p999_us: f64,
    /// Largest sample.
    pub max_us: f64,
}

/// The nearest-rank percentile `q` (0 < q ≤ 1) of an ascending slice: the smallest sample such that at
/// least `q` of all samples are ≤ it. `None` for an empty slice.
pub fn nearest_rank(sorted: &[u64], q: f64) -> Option<u64> {
    if sorted.is_empty() {
        return None;
    }
    let n = sorted.len();
    // ceil(q·n) as a 1-based rank, clamped to [1, n]; the float product of a fraction and a count
    // below 2^53 is exact enough for ranks.
    let rank = ((q * n as f64).ceil() as usize).clamp(1, n);
    sorted.get(rank - 1).copied()
}

/// Bytes per second as GB/s (10^9 B/s); zero for an empty interval.
pub fn gb_per_s(bytes: u64, elapsed: Duration) -> f64 {
    let secs = elapsed.as_secs_f64();
    if secs <= 0.0 {
        0.0
    } else {
        bytes as f64 / secs / 1e9
    }
}

/// `a / b`, or `None` when `b` is not positive (a ratio against nothing is not a ratio).
pub fn ratio(a: f64, b: f64) -> Option<f64> {
    (b > 0.0 && a.is_finite()).then(|| a / b)
}

/// The median and range of a set of measurements (e.g. a ratio over interleaved rounds).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Spread {
    /// Median (the mean of the middle two for an even count).
    pub median: f64,
    /// Smallest value.
    pub min: f64,
    /// Largest value.
    pub max: f64,
}

/// The spread of `values`, ignoring non-finite ones; `None` when none is left.
pub fn spread(values: &[f64]) -> Option<Spread> {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    let median = if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    };
    Some(Spread {
        median,
        min: v[0],
        max: v[n - 1],
    })
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    #[test]
    fn spreads_are_hand_computable() {
        assert_eq!(spread(&[]), None);
        assert_eq!(spread(&[f64::NAN]), None);
        assert_eq!(
            spread(&[3.0, 1.0, 2.0]),
            Some(Spread {
                median: 2.0,
                min: 1.0,
                max: 3.0
            })
        );
        assert_eq!(
            spread(&[4.0, 1.0, 2.0, 3.0, f64::INFINITY]),
            Some(Spread {
                median: 2.5,
                min: 1.0,
                max: 4.0
            })
        );
    }

    use super::*;

    #[test]
    fn nearest_rank_matches_hand_computed_values() {
        let data: Vec<u64> = (1..=1000).collect();
        assert_eq!(nearest_rank(&data, 0.5), Some(500));
        assert_eq!(nearest_rank(&data, 0.99), Some(990));
        assert_eq!(nearest_rank(&data, 0.999), Some(999));
        assert_eq!(nearest_rank(&data, 1.0), Some(1000));
        assert_eq!(nearest_rank(&[7], 0.999), Some(7));
        assert_eq!(nearest_rank(&[1, 2], 0.5), Some(1));
        assert_eq!(nearest_rank(&[], 0.5), None);
    }

    #[test]
    fn summary_is_in_microseconds_and_ignores_recording_order() {
        let mut l = Latencies::new();
        for ms in [5u64, 1, 4, 2, 3] {
            l.record(Duration::from_millis(ms));
        }
        let s = l.summary().expect("five samples");
        assert_eq!(s.count, 5);
        assert_eq!(s.p50_us, 3000.0);
        assert_eq!(s.max_us, 5000.0);
        assert!(Latencies::new().summary().is_none());
    }

    #[test]
    fn throughput_and_ratios() {
        assert_eq!(gb_per_s(2_000_000_000, Duration::from_secs(2)), 1.0);
        assert_eq!(gb_per_s(5, Duration::ZERO), 0.0);
        assert_eq!(ratio(1.0, 4.0), Some(0.25));
        assert_eq!(ratio(1.0, 0.0), None);
    }

    proptest! {
        #[test]
        fn percentile_is_a_sample_with_enough_mass_below_it(
            mut data in proptest::collection::vec(0u64..1_000_000, 1..400),
            q in 0.001f64..=1.0,
        ) {
            data.sort_unstable();
            let p = nearest_rank(&data, q).expect("non-empty");
            prop_assert!(data.contains(&p));
            let at_or_below = data.iter().filter(|&&x| x <= p).count() as f64;
            prop_assert!(at_or_below >= q * data.len() as f64 - 1e-9);
            let below = data.iter().filter(|&&x| x < p).count() as f64;
            prop_assert!(below < q * data.len() as f64 + 1e-9);
        }

        #[test]
        fn percentiles_are_monotonic(mut data in proptest::collection::vec(any::<u64>(), 1..300)) {
            data.sort_unstable();
            let p50 = nearest_rank(&data, 0.5);
            let p99 = nearest_rank(&data, 0.99);
            let p999 = nearest_rank(&data, 0.999);
            prop_assert!(p50 <= p99 && p99 <= p999);
        }
    }
}
