//! The timed phases over the OSS API: large-object throughput, small-object rates and latencies, and
//! range-read latency. Every phase is bounded by a duration (and runs each worker at least once), and
//! every PUT that succeeds is entered in the [`Ledger`] so disk use can be set against live bytes.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use serde::Serialize;

use crate::BenchError;
use crate::client::OssClient;
use crate::payload::Payload;
use crate::stats::{Latencies, LatencySummary, gb_per_s};

/// Logical size of every live object the bench wrote, by `bucket/key`.
#[derive(Debug, Default)]
pub struct Ledger {
    objects: Mutex<HashMap<String, u64>>,
}

impl Ledger {
    /// Records a successful PUT (an overwrite replaces the old size).
    pub fn put(&self, bucket: &str, key: &str, len: u64) {
        // A poisoned lock means another worker panicked; its entries are still valid sizes.
        let mut objects = self.objects.lock().unwrap_or_else(|p| p.into_inner());
        objects.insert(format!("{bucket}/{key}"), len);
    }

    /// Sum of live object sizes.
    pub fn live_bytes(&self) -> u64 {
        let objects = self.objects.lock().unwrap_or_else(|p| p.into_inner());
        objects.values().sum()
    }
}

/// Where a phase sends its requests: a client, a bucket, and the ledger of what was written.
#[derive(Debug, Clone, Copy)]
pub struct Target<'a> {
    /// The client (and so the gateway) to use.
    pub client: &'a OssClient,
    /// Records successful PUTs.
    pub ledger: &'a Arc<Ledger>,
    /// The bucket.
    pub bucket: &'a str,
}

/// PUT or GET.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Op {
    /// PutObject.
    Put,
    /// GetObject.
    Get,
}

impl std::fmt::Display for Op {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Put => "PUT",
            Self::Get => "GET",
        })
    }
}

/// What a throughput phase moved.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Throughput {
    /// Requests completed.
    pub ops: u64,
    /// Requests that failed (the phase fails only if none succeeded).
    pub errors: u64,
    /// Payload bytes moved.
    pub bytes: u64,
    /// Wall time of the phase, seconds.
    pub seconds: f64,
    /// Payload GB/s.
    pub gbps: f64,
}

/// The object a large-object worker owns: one key per stream, overwritten on every pass so disk use
/// stays bounded however long the phase runs.
pub fn large_key(prefix: &str, stream: usize) -> String {
    format!("{prefix}/large-{stream}")
}

/// `streams` workers each PUT (or GET) their own `size`-byte object until `duration` has passed.
pub async fn large(
    target: Target<'_>,
    prefix: &str,
    payload: &Payload,
    size: u64,
    streams: usize,
    op: Op,
    duration: Duration,
) -> Result<Throughput, BenchError> {
    let started = Instant::now();
    let mut workers = Vec::with_capacity(streams);
    for stream in 0..streams {
        let (client, ledger, payload) = (target.client.clone(), Arc::clone(target.ledger), payload.clone());
        let (bucket, key) = (target.bucket.to_owned(), large_key(prefix, stream));
        workers.push(tokio::spawn(async move {
            let crc = payload.crc64_of(size);
            let (mut ops, mut errors) = (0u64, 0u64);
            let mut last_error = None;
            while (ops == 0 && errors < MAX_ERRORS) || started.elapsed() < duration {
                let result = match op {
                    Op::Put => client.put(&bucket, &key, &payload, size).await,
                    Op::Get => client.get(&bucket, &key, None, size, crc).await.map(drop),
                };
                match result {
                    Ok(()) => {
                        if op == Op::Put {
                            ledger.put(&bucket, &key, size);
                        }
                        ops += 1;
                    }
                    Err(e) => {
                        errors += 1;
                        last_error = Some(e);
                    }
                }
            }
            match last_error {
                Some(e) if ops == 0 => Err(e),
                _ => Ok((ops, errors)),
            }
        }));
    }
    let (mut ops, mut errors) = (0, 0);
    for worker in workers {
        let (o, e) = worker.await.map_err(|e| BenchError::Task(e.to_string()))??;
        ops += o;
        errors += e;
    }
    let elapsed = started.elapsed();
    let bytes = ops * size;
    Ok(Throughput {
        ops,
        errors,
        bytes,
        seconds: elapsed.as_secs_f64(),
        gbps: gb_per_s(bytes, elapsed),
    })
}

/// Failed requests a worker tolerates before its first success.
const MAX_ERRORS: u64 = 3;

/// Small-object sizes, cycled by slot: 1, 2, 4, … 64 KiB.
pub fn small_size(slot: usize) -> usize {
    1024 << (slot % 7)
}

/// Slots per small-object worker; later PUTs overwrite, which keeps the dataset bounded.
const SMALL_SLOTS: usize = 64;

/// Rates and latencies of one small-object phase.
#[derive(Debug, Clone, Serialize)]
pub struct SmallResult {
    /// Requests that failed (the phase fails only if none succeeded).
    pub errors: u64,
    /// Slots each worker wrote (a PUT phase), which the matching GET phase reads.
    #[serde(skip)]
    pub slots_written: Vec<usize>,
    /// Requests completed.
    pub ops: u64,
    /// Requests per second.
    pub ops_per_s: f64,
    /// Latency percentiles.
    pub latency: LatencySummary,
}

/// Bodies of every small size with their CRC-64s.
pub fn small_bodies(payload: &Payload) -> Arc<Vec<(Bytes, u64)>> {
    Arc::new(
        (0..7)
            .map(|slot| {
                let len = small_size(slot);
                (payload.prefix(len), payload.crc64_of(len as u64))
            })
            .collect(),
    )
}

/// `clients` workers PUT (then, for [`Op::Get`], read back) small objects under `prefix` for
/// `duration`. A GET phase reads back the slots `written` reports for each worker (from the PUT phase
/// with the same prefix and clients).
pub async fn small(
    target: Target<'_>,
    prefix: &str,
    bodies: &Arc<Vec<(Bytes, u64)>>,
    clients: usize,
    op: Op,
    written: &[usize],
    duration: Duration,
) -> Result<SmallResult, BenchError> {
    let started = Instant::now();
    let mut workers = Vec::with_capacity(clients);
    for worker in 0..clients {
        let (client, ledger, bodies) = (
            target.client.clone(),
            Arc::clone(target.ledger),
            Arc::clone(bodies),
        );
        let (bucket, prefix) = (target.bucket.to_owned(), prefix.to_owned());
        let cycle = match op {
            Op::Put => SMALL_SLOTS,
            Op::Get => written.get(worker).copied().unwrap_or(0),
        };
        if cycle == 0 {
            return Err(BenchError::Task(format!(
                "small GET: worker {worker} has nothing to read"
            )));
        }
        workers.push(tokio::spawn(async move {
            let mut latencies = Latencies::new();
            let mut n = 0usize;
            let (mut errors, mut last_error) = (0u64, None);
            while (n == 0 && errors < MAX_ERRORS) || started.elapsed() < duration {
                let slot = n % cycle;
                let key = format!("{prefix}/{worker}/{slot}");
                let (body, crc) = bodies
                    .get(slot % bodies.len())
                    .cloned()
                    .ok_or(BenchError::Task("no small bodies".into()))?;
                let t = Instant::now();
                let len = body.len() as u64;
                let result = match op {
                    Op::Put => client.put_small(&bucket, &key, body, crc).await,
                    Op::Get => client.get(&bucket, &key, None, len, crc).await.map(drop),
                };
                match result {
                    Ok(()) => {
                        if op == Op::Put {
                            ledger.put(&bucket, &key, len);
                        }
                        latencies.record(t.elapsed());
                        n += 1;
                    }
                    Err(e) => {
                        errors += 1;
                        last_error = Some(e);
                    }
                }
            }
            match last_error {
                Some(e) if n == 0 => Err(e),
                _ => Ok((latencies, n.min(cycle), errors)),
            }
        }));
    }
    let mut all = Latencies::new();
    let mut slots_written = Vec::with_capacity(clients);
    let mut errors = 0;
    for worker in workers {
        let (latencies, slots, failed) = worker.await.map_err(|e| BenchError::Task(e.to_string()))??;
        all.merge(latencies);
        slots_written.push(slots);
        errors += failed;
    }
    let elapsed = started.elapsed();
    let ops = all.len() as u64;
    let latency = all
        .summary()
        .ok_or(BenchError::Task("no small requests completed".into()))?;
    Ok(SmallResult {
        errors,
        slots_written,
        ops,
        ops_per_s: ops as f64 / elapsed.as_secs_f64().max(1e-9),
        latency,
    })
}

/// Reads `len`-byte ranges at pseudo-random offsets of a `size`-byte object, one at a time, for
/// `duration` (at most `max_requests`); returns the latency of whole requests.
pub async fn ranges(
    target: Target<'_>,
    key: &str,
    payload: &Payload,
    size: u64,
    len: u64,
    duration: Duration,
    max_requests: usize,
) -> Result<LatencySummary, BenchError> {
    let len = len.min(size).max(1);
    let mut latencies = Latencies::new();
    let mut state = 0x9E37_79B9_7F4A_7C15u64 ^ size ^ (len << 20);
    let started = Instant::now();
    while latencies.is_empty() || (started.elapsed() < duration && latencies.len() < max_requests) {
        state = splitmix(state);
        let start = state % (size - len + 1);
        let crc = payload.crc64_of_range(start, start + len);
        let t = Instant::now();
        target
            .client
            .get(target.bucket, key, Some((start, start + len)), len, crc)
            .await?;
        latencies.record(t.elapsed());
    }
    latencies
        .summary()
        .ok_or(BenchError::Task("no range requests completed".into()))
}

/// One step of SplitMix64: offsets spread over the whole object without a random-number crate.
fn splitmix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn small_sizes_span_one_to_sixty_four_kib() {
        let sizes: Vec<usize> = (0..7).map(small_size).collect();
        assert_eq!(sizes, vec![1024, 2048, 4096, 8192, 16384, 32768, 65536]);
        assert_eq!(small_size(7), 1024);
    }

    #[test]
    fn ledger_counts_overwrites_once() {
        let ledger = Ledger::default();
        ledger.put("b", "k", 10);
        ledger.put("b", "k", 30);
        ledger.put("b", "j", 5);
        ledger.put("c", "k", 1);
        assert_eq!(ledger.live_bytes(), 36);
    }

    proptest! {
        #[test]
        fn range_offsets_stay_inside_the_object(seed in any::<u64>(), size in 1u64..(8 << 30), len in 1u64..(2 << 20)) {
            let len = len.min(size);
            let start = splitmix(seed) % (size - len + 1);
            prop_assert!(start + len <= size);
        }
    }
}
