//! The order of a run: the ceiling first (on a quiet machine), then the instance under test, every
//! OSS phase per SSE mode, memory, ranges and disk, the instance stopped, and the crypto service last.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use crate::BenchError;
use crate::args::{BenchArgs, BenchCommand, Profile};
use crate::ceiling::{Ceiling, Cipher};
use crate::client::{BucketSse, Credentials, OssClient};
use crate::cpu::CpuMeter;
use crate::instance::{self, DataDir, Spawned};
use crate::interleave;
use crate::kms::{self, LocalKms};
use crate::payload::Payload;
use crate::phases::{self, Ledger, Op, Target};
use crate::progress::progress;
use crate::report::{DiskRow, KmsCallsRow, LargeRow, MemoryRow, RangeRow, Report, SmallRow};

const STARTUP: Duration = Duration::from_secs(180);
const STOP_GRACE: Duration = Duration::from_secs(30);

/// Runs the benchmark `args` ask for; `exe` is the `cang` binary used to start an instance.
pub async fn run(args: BenchArgs, exe: &Path) -> Result<Report, BenchError> {
    let profile = Profile::from_args(&args)?;
    let mut report = Report {
        profile: profile.name.to_owned(),
        ..Report::default()
    };
    if let Some(BenchCommand::Jobs { objects, object_mib }) = &args.command {
        let quick = profile.name == "quick";
        let objects = objects.unwrap_or(if quick { 500 } else { 100_000 });
        let mib = object_mib.unwrap_or(if quick { 16 } else { 1024 });
        report.jobs = Some(crate::jobs::bench(exe, objects, mib << 20).await?);
        return Ok(report);
    }
    if let Some(BenchCommand::Kms { data_dir }) = &args.command {
        kms_section(&mut report, data_dir.as_deref(), &profile).await?;
        report.evaluate_targets();
        report.targets.retain(|t| t.name.starts_with("KMS Decrypt"));
        return Ok(report);
    }
    let payload = Payload::random(profile.buffer)?;
    progress("measuring the ceiling");
    let (p, bytes) = (payload.clone(), profile.ceiling_bytes);
    let ceiling = tokio::task::spawn_blocking(move || Ceiling::measure(&p, bytes))
        .await
        .map_err(|e| BenchError::Task(e.to_string()))??;
    report.ceiling = Some(ceiling);

    let mut instance = Instance::open(&args, exe).await?;
    let outcome = oss_sections(&mut report, &mut instance, &profile, &payload, &ceiling).await;
    let stopped = instance.stop().await;
    outcome?;
    stopped?;
    kms_section(&mut report, None, &profile).await?;
    report.evaluate_targets();
    Ok(report)
}

/// Writes `--json` and `--svg` if asked for.
pub fn write_outputs(report: &Report, json: Option<&Path>, svg: Option<&Path>) -> Result<(), BenchError> {
    if let Some(path) = json {
        let text = serde_json::to_vec_pretty(report).map_err(|e| BenchError::Io(std::io::Error::other(e)))?;
        std::fs::write(path, text)?;
    }
    if let Some(path) = svg {
        std::fs::write(path, report.svg())?;
    }
    Ok(())
}

async fn kms_section(
    report: &mut Report,
    data_dir: Option<&Path>,
    profile: &Profile,
) -> Result<(), BenchError> {
    progress("crypto service: GenerateDataKey and Decrypt");
    match data_dir {
        Some(dir) => {
            let data = DataDir {
                root: dir.to_path_buf(),
            };
            let (kms_addr, _) = data.service_addresses()?;
            let client = kms::gateway_client(&data.tls(), &kms_addr.to_string())?;
            report.kms = kms::bench(&client, &profile.kms_callers, profile.duration).await?;
        }
        None => {
            let local = LocalKms::start().await?;
            let result = kms::bench(&local.client, &profile.kms_callers, profile.duration).await;
            local.stop().await?;
            report.kms = result?;
        }
    }
    Ok(())
}

/// The instance under test and what the bench may read of it.
struct Instance {
    client: OssClient,
    gateway: Option<SocketAddr>,
    data: Option<DataDir>,
    up: Option<Spawned>,
    bucket_key_gateway: Option<(Spawned, OssClient)>,
    _temp: Option<tempfile::TempDir>,
}

impl Instance {
    async fn open(args: &BenchArgs, exe: &Path) -> Result<Self, BenchError> {
        let (credentials, data, up, temp) = match (&args.credentials, &args.data_dir) {
            (Some(file), _) => {
                let text = zeroize::Zeroizing::new(std::fs::read_to_string(file)?);
                let mut credentials = Credentials::parse_env(&text)?;
                if let Some(endpoint) = &args.endpoint {
                    credentials.endpoint = endpoint.trim_end_matches('/').to_owned();
                }
                (credentials, None, None, None)
            }
            (None, Some(dir)) => {
                let data = DataDir { root: dir.clone() };
                (data.credentials()?, Some(data), None, None)
            }
            (None, None) => {
                let (temp, up, data) = instance::start_temp_up(exe, STARTUP).await?;
                (data.credentials()?, Some(data), Some(up), Some(temp))
            }
        };
        let gateway = credentials
            .endpoint
            .strip_prefix("http://")
            .and_then(|a| a.parse::<SocketAddr>().ok());
        let client = OssClient::new(credentials)?;
        let mut instance = Self {
            client,
            gateway,
            data,
            up,
            bucket_key_gateway: None,
            _temp: temp,
        };
        if let Some(data) = instance.data.clone() {
            instance.bucket_key_gateway = Some(instance.start_bucket_key_gateway(exe, &data).await?);
        }
        Ok(instance)
    }

    /// A second gateway on the same kms and meta with bucket keys on for SSE-KMS: `cang up` runs its
    /// gateway with the default (one data key per KMS object) and has no flag for it.
    async fn start_bucket_key_gateway(
        &self,
        exe: &Path,
        data: &DataDir,
    ) -> Result<(Spawned, OssClient), BenchError> {
        let (kms, meta) = data.service_addresses()?;
        let port = instance::free_port()?;
        let log = data.root.join("logs").join("bench-gateway-bucket-keys.log");
        let argv: Vec<String> = vec![
            "gateway".into(),
            "--listen".into(),
            format!("127.0.0.1:{port}"),
            "--kms-endpoint".into(),
            kms.to_string(),
            "--meta-endpoint".into(),
            meta.to_string(),
            "--tls-dir".into(),
            data.tls().display().to_string(),
            "--bucket-keys-for-kms".into(),
            "true".into(),
            "--drain-secs".into(),
            "2".into(),
        ];
        let mut gateway = Spawned::start(exe, "bucket-key gateway", &argv, log)?;
        instance::wait_listening(&mut gateway, SocketAddr::from(([127, 0, 0, 1], port)), STARTUP).await?;
        let client = self.client.with_endpoint(&format!("http://127.0.0.1:{port}"));
        Ok((gateway, client))
    }

    /// The gateway, meta and kms processes this bench can see, for CPU accounting.
    fn cpu_meter(&self) -> CpuMeter {
        let mut procs = Vec::new();
        if let Some(pid) = self.gateway.and_then(instance::find_gateway_pid) {
            procs.push(("gateway", pid));
        }
        if let Some((kms, meta)) = self.data.as_ref().and_then(|d| d.service_addresses().ok()) {
            for (name, addr) in [("meta", meta), ("kms", kms)] {
                if let Some(pid) = instance::find_service_pid(name, addr) {
                    procs.push((name, pid));
                }
            }
        }
        CpuMeter::new(procs)
    }

    async fn stop(mut self) -> Result<(), BenchError> {
        let mut result = Ok(());
        if let Some((gateway, _)) = self.bucket_key_gateway.take() {
            result = gateway.stop(STOP_GRACE).await;
        }
        if let Some(up) = self.up.take() {
            progress("stopping cang up");
            result = result.and(up.stop(STOP_GRACE).await);
        }
        result
    }
}

/// One SSE mode: the bucket carrying it as default and the gateway to use.
struct Mode {
    label: &'static str,
    bucket: String,
    cipher: Cipher,
    client: OssClient,
    small: bool,
    cpu: CpuMeter,
}

async fn oss_sections(
    report: &mut Report,
    instance: &mut Instance,
    profile: &Profile,
    payload: &Payload,
    ceiling: &Ceiling,
) -> Result<(), BenchError> {
    let mut tag = [0u8; 3];
    getrandom::fill(&mut tag).map_err(|_| BenchError::Random)?;
    let tag: String = tag.iter().map(|b| format!("{b:02x}")).collect();
    let main = instance.client.clone();
    let meter = instance.cpu_meter();
    let mut modes = Vec::new();
    for (label, slug, sse, cipher, small) in [
        ("none", "none", BucketSse::None, Cipher::None, true),
        ("AES256", "aes256", BucketSse::Aes256, Cipher::Aes, true),
        ("KMS", "kms", BucketSse::Kms, Cipher::Aes, true),
        ("KMS+bucket key", "kms-bk", BucketSse::Kms, Cipher::Aes, true),
        ("SM4", "sm4", BucketSse::Sm4, Cipher::Sm4, false),
    ] {
        let (client, cpu) = match (label, &instance.bucket_key_gateway) {
            ("KMS+bucket key", Some((gateway, client))) => {
                (client.clone(), meter.with_gateway(gateway.pid()))
            }
            ("KMS+bucket key", None) => {
                report.unavailable.push(
                    "KMS with bucket keys: needs --data-dir (a second gateway on the same services)".into(),
                );
                continue;
            }
            _ => (main.clone(), meter.clone()),
        };
        let bucket = format!("bench-{tag}-{slug}");
        main.create_bucket(&bucket, sse).await?;
        modes.push(Mode {
            label,
            bucket,
            cipher,
            client,
            small,
            cpu,
        });
    }
    let ledger = Arc::new(Ledger::default());
    let audit = match &instance.data {
        Some(data) => Some(data.kms_admin()?),
        None => {
            report
                .unavailable
                .push("KMS calls per PUT: needs the instance's data directory".into());
            None
        }
    };
    let mut mark = match &audit {
        Some(kms) => Some(instance::audit_since(kms, 0).await?.last_sequence),
        None => None,
    };
    let bodies = phases::small_bodies(payload);
    let mut written_by_mode: std::collections::HashMap<&str, std::collections::HashMap<usize, Vec<usize>>> =
        Default::default();
    for mode in &modes {
        let target = Target {
            client: &mode.client,
            ledger: &ledger,
            bucket: &mode.bucket,
        };
        let mut puts = 0;
        let mut written: std::collections::HashMap<usize, Vec<usize>> = Default::default();
        for op in [Op::Put, Op::Get] {
            for streams in [1, profile.streams] {
                progress(&format!("{} large {op} x{streams}", mode.label));
                let mark = mode.cpu.mark();
                let t = phases::large(
                    target,
                    "obj",
                    payload,
                    profile.large_size,
                    streams,
                    op,
                    profile.duration,
                )
                .await?;
                let per_stream = match op {
                    Op::Put => ceiling.put_stream_bound(mode.cipher),
                    Op::Get => ceiling.get_stream_bound(mode.cipher),
                };
                if op == Op::Put {
                    puts += t.ops;
                }
                report.large.push(LargeRow {
                    mode: mode.label.to_owned(),
                    op,
                    streams,
                    object_size: profile.large_size,
                    throughput: t,
                    bound_gbps: ceiling.parallel_bound(per_stream, streams),
                    cpu: mode.cpu.since(&mark, t.bytes),
                });
            }
            if !mode.small {
                continue;
            }
            for &clients in &profile.small_clients {
                progress(&format!("{} small {op} x{clients}", mode.label));
                let prefix = format!("small-{clients}");
                let slots = written.get(&clients).cloned().unwrap_or_default();
                let result =
                    phases::small(target, &prefix, &bodies, clients, op, &slots, profile.duration).await?;
                if op == Op::Put {
                    puts += result.ops;
                    written.insert(clients, result.slots_written.clone());
                }
                report.small.push(SmallRow {
                    mode: mode.label.to_owned(),
                    op,
                    clients,
                    result,
                });
            }
            if op == Op::Put
                && let (Some(kms), Some(after)) = (&audit, mark)
            {
                // Audit records are appended by a writer thread just behind the calls.
                tokio::time::sleep(Duration::from_millis(500)).await;
                let count = instance::audit_since(kms, after).await?;
                mark = Some(count.last_sequence);
                report.kms_calls.push(KmsCallsRow {
                    mode: mode.label.to_owned(),
                    puts,
                    calls: count.calls,
                    data_keys: count.data_keys,
                });
            }
        }
        if let (Some(kms), Some(_)) = (&audit, mark) {
            // Skip the GET phases' Decrypt calls.
            mark = Some(instance::audit_since(kms, mark.unwrap_or(0)).await?.last_sequence);
        }
        written_by_mode.insert(mode.label, written);
    }
    let subjects: Vec<interleave::Subject<'_>> = modes
        .iter()
        .filter(|m| m.small)
        .filter_map(|m| {
            written_by_mode.get(m.label).map(|written| interleave::Subject {
                label: m.label,
                client: &m.client,
                bucket: &m.bucket,
                written,
            })
        })
        .collect();
    let plan = interleave::Plan {
        rounds: profile.interleave_rounds,
        slice: profile.interleave_slice,
    };
    report.interleaved = interleave::measure(
        &subjects,
        &ledger,
        &bodies,
        &profile.small_clients,
        plan,
        &progress,
    )
    .await?;
    let aes = modes
        .iter()
        .find(|m| m.label == "AES256")
        .ok_or(BenchError::Task("no AES256 mode".into()))?;
    let target = Target {
        client: &aes.client,
        ledger: &ledger,
        bucket: &aes.bucket,
    };
    report.memory = Some(big_object(target, instance, profile, payload).await?);
    report.ranges = range_rows(target, profile, payload).await?;
    match &instance.data {
        Some(data) => {
            report.disk = Some(DiskRow {
                live_bytes: ledger.live_bytes(),
                meta_dir_bytes: instance::disk_usage(&data.root.join("meta"))?,
                data_dir_bytes: data.disk_usage()?,
            })
        }
        None => report
            .unavailable
            .push("disk use: needs the instance's data directory".into()),
    }
    Ok(())
}

/// The big object up and back while the gateway's peak RSS is watched.
async fn big_object(
    target: Target<'_>,
    instance: &Instance,
    profile: &Profile,
    payload: &Payload,
) -> Result<MemoryRow, BenchError> {
    let pid = instance.gateway.and_then(instance::find_gateway_pid);
    let reset = pid.is_some_and(instance::reset_peak_rss);
    let stop = tokio_util::sync::CancellationToken::new();
    let sampler = pid.map(|pid| {
        let stop = stop.clone();
        tokio::spawn(async move {
            let mut peak = 0u64;
            while !stop.is_cancelled() {
                if let Some((rss, _)) = instance::memory(pid) {
                    peak = peak.max(rss);
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            peak
        })
    });
    progress(&format!("big object: {} MiB up and back", profile.big_size >> 20));
    let put = phases::large(
        target,
        "big",
        payload,
        profile.big_size,
        1,
        Op::Put,
        Duration::ZERO,
    )
    .await?;
    let get = phases::large(
        target,
        "big",
        payload,
        profile.big_size,
        1,
        Op::Get,
        Duration::ZERO,
    )
    .await?;
    stop.cancel();
    let sampled = match sampler {
        Some(task) => task.await.map_err(|e| BenchError::Task(e.to_string()))?,
        None => 0,
    };
    let hwm = pid.and_then(instance::memory).map(|(_, hwm)| hwm);
    let (peak_rss, method) = match (pid, reset, hwm) {
        (None, _, _) => (0, "gateway process not found: not measured".to_owned()),
        (Some(_), true, Some(hwm)) => (hwm.max(sampled), "VmHWM after clear_refs".to_owned()),
        (Some(_), _, _) => (sampled, "VmRSS sampled every 20 ms".to_owned()),
    };
    Ok(MemoryRow {
        object_size: profile.big_size,
        peak_rss,
        method,
        put,
        get,
    })
}

async fn range_rows(
    target: Target<'_>,
    profile: &Profile,
    payload: &Payload,
) -> Result<Vec<RangeRow>, BenchError> {
    let mut rows = Vec::new();
    let mut objects: Vec<(u64, String)> = Vec::new();
    for &size in &profile.range_objects {
        let key = format!("range-{size}");
        target.client.put(target.bucket, &key, payload, size).await?;
        target.ledger.put(target.bucket, &key, size);
        objects.push((size, key));
    }
    objects.push((profile.big_size, phases::large_key("big", 0)));
    for (size, key) in &objects {
        for &len in &profile.range_lens {
            progress(&format!("range GET {len} B of {} MiB", size >> 20));
            let latency = phases::ranges(
                target,
                key,
                payload,
                *size,
                len,
                profile.duration,
                profile.range_requests,
            )
            .await?;
            rows.push(RangeRow {
                object_size: *size,
                range_len: len.min(*size),
                latency,
            });
        }
    }
    Ok(rows)
}
