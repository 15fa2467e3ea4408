//! Crash safety of the real `cang meta` process: workers stream puts (some large enough to be staged
//! in several transactions), multipart uploads and deletes over mTLS while the process is SIGKILLed
//! at random moments. After every restart each acknowledged object reads back bit-exact with its
//! metadata, an unacknowledged write is either absent or complete, listings agree with heads, and
//! acknowledged unfinished uploads survive.
//!
//! The `cang` binary is taken from `$CANG_BIN_DIR`, else from this test's own target directory
//! (`cargo build -p cang` builds it).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use bytes::Bytes;
use cang_meta_api::{
    Acl, CompletedPart, IdentityStore, ListObjectsQuery, ListUploadsQuery, MetaError, MetaGrpcClient,
    NewBucket, ObjectMeta, ObjectStore, Preconditions, PutObjectHeader, PutTrailer, UploadPartHeader,
    write_body,
};
use cang_tls::TlsFiles;
use futures::StreamExt;

const WORKERS: u64 = 3;
const KEYS_PER_WORKER: u64 = 4;
const MAX_ITERATIONS: u32 = 14;
const TIME_BUDGET: Duration = Duration::from_secs(40);

/// A version of an object: its bytes are derived from `seed`; a simple put's ETag names the seed,
/// a multipart object's is the three-part MD5 form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Version {
    seed: u64,
    len: usize,
    multipart: bool,
}

impl Version {
    fn bytes(self) -> Vec<u8> {
        let mut x = self.seed | 1;
        (0..self.len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect()
    }

    fn etag(self) -> String {
        format!("{:016X}", self.seed)
    }

    fn etag_matches(self, etag: &str) -> bool {
        if self.multipart {
            etag.ends_with("-3")
        } else {
            etag == self.etag()
        }
    }
}

/// What the workers know: the last acknowledged state of each key (`None` = deleted or never
/// written) and, for a key with an operation in flight when the process died, the state it may
/// have reached instead.
#[derive(Debug, Default)]
struct Model {
    acked: BTreeMap<String, Option<Version>>,
    in_flight: BTreeMap<String, Option<Version>>,
    /// Upload ids whose initiation was acknowledged and that were not completed or aborted.
    open_uploads: BTreeSet<String>,
    /// Acknowledged operations so far.
    acks: u64,
}

fn cang_bin() -> anyhow::Result<PathBuf> {
    let path = match std::env::var_os("CANG_BIN_DIR") {
        Some(dir) => PathBuf::from(dir).join("cang"),
        None => {
            let exe = std::env::current_exe()?;
            // target/<profile>/deps/crash-<hash> → target/<profile>/cang
            exe.parent()
                .and_then(Path::parent)
                .context("test binary location")?
                .join("cang")
        }
    };
    ensure!(
        path.exists(),
        "{} not found: build it with `cargo build -p cang`",
        path.display()
    );
    Ok(path)
}

struct Process {
    child: Child,
    client: MetaGrpcClient,
}

async fn start(bin: &Path, data: &Path, pki: &Path) -> anyhow::Result<Process> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let child = Command::new(bin)
        .args(["meta", "--log", "warn", "--listen"])
        .arg(format!("127.0.0.1:{port}"))
        .arg("--data-dir")
        .arg(data)
        .arg("--tls-dir")
        .arg(pki)
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .context("spawn cang meta")?;
    let tls = TlsFiles::in_dir(pki, "gateway").client_config()?;
    let client = MetaGrpcClient::connect_lazy(&format!("localhost:{port}"), tls)?;
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut process = Process { child, client };
    loop {
        // The gateway's own readiness probe: an account lookup (listings are the admin's).
        match process.client.get_account("ready-probe").await {
            Ok(_) | Err(MetaError::NoSuchAccount) => return Ok(process),
            Err(MetaError::Unavailable(_)) if Instant::now() < deadline => {
                if let Some(status) = process.child.try_wait()? {
                    bail!("cang meta exited during startup: {status}");
                }
                tokio::time::sleep(Duration::from_millis(30)).await;
            }
            Err(e) => bail!("cang meta did not become ready: {e}"),
        }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        // A failed assertion must not leave the server running; after `kill` this is a no-op.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn kill(mut process: Process) -> anyhow::Result<()> {
    process.child.kill()?; // SIGKILL
    process.child.wait()?;
    Ok(())
}

async fn read_all(client: &MetaGrpcClient, key: &str) -> Result<Vec<u8>, MetaError> {
    let (info, mut stream) = client
        .read_object("crash", key, None, Preconditions::default())
        .await?;
    let mut out = Vec::with_capacity(info.ciphertext_size as usize);
    while let Some(chunk) = stream.next().await {
        out.extend_from_slice(&chunk?);
    }
    Ok(out)
}

/// Checks the restarted service against the model, then folds what it saw into `acked`.
async fn verify(client: &MetaGrpcClient, model: &Mutex<Model>) -> anyhow::Result<()> {
    let (acked, in_flight, open_uploads) = {
        let m = model.lock().map_err(|_| anyhow::anyhow!("model poisoned"))?;
        (m.acked.clone(), m.in_flight.clone(), m.open_uploads.clone())
    };
    let mut observed = BTreeMap::new();
    // A key whose first write was in flight has no acknowledged state yet: absent, or that write.
    let keys: BTreeSet<&String> = acked.keys().chain(in_flight.keys()).collect();
    for key in keys {
        let expected = acked.get(key).copied().flatten();
        let allowed: Vec<Option<Version>> = [Some(expected), in_flight.get(key).copied()]
            .into_iter()
            .flatten()
            .collect();
        let seen = match client.head_object("crash", key).await {
            Err(MetaError::NoSuchKey) => None,
            Err(e) => return Err(e.into()),
            Ok(info) => {
                ensure!(
                    info.meta.content_type == "application/x-crash",
                    "{key}: metadata lost"
                );
                let data = read_all(client, key).await?;
                ensure!(
                    data.len() as u64 == info.size,
                    "{key}: {} bytes read, size {}",
                    data.len(),
                    info.size
                );
                let version = allowed
                    .iter()
                    .flatten()
                    .find(|v| v.len == data.len() && v.etag_matches(&info.etag) && v.bytes() == data)
                    .copied()
                    .with_context(|| {
                        format!("{key}: ETag {} / bytes match none of {allowed:?}", info.etag)
                    })?;
                Some(version)
            }
        };
        ensure!(
            allowed.contains(&seen),
            "{key}: state {seen:?} is none of {allowed:?}"
        );
        observed.insert(key.clone(), seen);
    }
    // Listings agree with heads.
    let page = client
        .list_objects(
            "crash",
            ListObjectsQuery {
                max_keys: 1000,
                ..Default::default()
            },
        )
        .await?;
    let listed: BTreeSet<String> = page.objects.iter().map(|o| o.key.clone()).collect();
    let present: BTreeSet<String> = observed
        .iter()
        .filter(|(_, v)| v.is_some())
        .map(|(k, _)| k.clone())
        .collect();
    ensure!(listed == present, "listing {listed:?} != heads {present:?}");
    for o in &page.objects {
        ensure!(
            Some(o.size) == observed[&o.key].map(|v| v.len as u64),
            "{}: listed size differs",
            o.key
        );
    }
    // Acknowledged unfinished uploads survive; then all uploads are aborted (reclaiming their parts).
    let uploads = client
        .list_uploads(
            "crash",
            ListUploadsQuery {
                max_uploads: 1000,
                ..Default::default()
            },
        )
        .await?;
    let listed_uploads: BTreeSet<String> = uploads.uploads.iter().map(|u| u.upload_id.clone()).collect();
    ensure!(
        open_uploads.is_subset(&listed_uploads),
        "acknowledged uploads lost"
    );
    for u in uploads.uploads {
        client.abort_upload("crash", &u.key, &u.upload_id).await?;
    }
    let mut m = model.lock().map_err(|_| anyhow::anyhow!("model poisoned"))?;
    m.acked = observed;
    m.in_flight.clear();
    m.open_uploads.clear();
    Ok(())
}

fn meta() -> ObjectMeta {
    ObjectMeta {
        content_type: "application/x-crash".into(),
        ..ObjectMeta::default()
    }
}

fn chunks(data: &[u8]) -> Vec<Bytes> {
    data.chunks(1 << 20).map(Bytes::copy_from_slice).collect()
}

fn lock(model: &Mutex<Model>) -> Result<std::sync::MutexGuard<'_, Model>, MetaError> {
    model
        .lock()
        .map_err(|_| MetaError::Internal("model poisoned".into()))
}

/// One worker's operations on its own keys, sequentially, until the process dies.
async fn work(
    client: MetaGrpcClient,
    model: Arc<Mutex<Model>>,
    worker: u64,
    mut rng: u64,
) -> Result<(), MetaError> {
    let mut next = move || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    loop {
        let key = format!("w{worker}/k{}", next() % KEYS_PER_WORKER);
        let roll = next() % 100;
        let seed = next();
        if roll < 12 {
            lock(&model)?.in_flight.insert(key.clone(), None);
            client.delete_objects("crash", vec![key.clone()]).await?;
            let mut m = lock(&model)?;
            m.acked.insert(key.clone(), None);
            m.in_flight.remove(&key);
            m.acks += 1;
        } else if roll < 30 {
            let upload = client.initiate_upload("crash", &key, meta()).await?;
            lock(&model)?.open_uploads.insert(upload.upload_id.clone());
            let sizes = [
                100 * 1024 + (next() % 50_000) as usize,
                100 * 1024,
                (next() % 300_000) as usize,
            ];
            let version = Version {
                seed,
                len: sizes.iter().sum(),
                multipart: true,
            };
            let whole = version.bytes();
            let mut parts = Vec::new();
            let mut offset = 0;
            for (i, size) in sizes.iter().enumerate() {
                let data = &whole[offset..offset + size];
                offset += size;
                let part_number = i as u32 + 1;
                let header = UploadPartHeader {
                    bucket: "crash".into(),
                    key: key.clone(),
                    upload_id: upload.upload_id.clone(),
                    part_number,
                    format: vec![],
                };
                let etag = format!("{:032x}", seed ^ u64::from(part_number));
                let trailer = PutTrailer {
                    plaintext_len: *size as u64,
                    etag: etag.clone(),
                    crc64: None,
                };
                client
                    .upload_part(header, write_body(chunks(data), trailer))
                    .await?;
                parts.push(CompletedPart { part_number, etag });
            }
            {
                // From here the upload may vanish (completed) without an acknowledgement.
                let mut m = lock(&model)?;
                m.in_flight.insert(key.clone(), Some(version));
                m.open_uploads.remove(&upload.upload_id);
            }
            client
                .complete_upload("crash", &key, &upload.upload_id, parts, false)
                .await?;
            let mut m = lock(&model)?;
            m.acked.insert(key.clone(), Some(version));
            m.in_flight.remove(&key);
            m.acks += 1;
        } else {
            // Mostly small and medium objects; sometimes 9 MiB, staged in several transactions.
            let len = if next() % 10 == 0 {
                9 << 20
            } else {
                (next() % (3 << 20)) as usize
            };
            let version = Version {
                seed,
                len,
                multipart: false,
            };
            lock(&model)?.in_flight.insert(key.clone(), Some(version));
            let header = PutObjectHeader {
                bucket: "crash".into(),
                key: key.clone(),
                meta: meta(),
                format: vec![7],
                forbid_overwrite: false,
                replaces: None,
            };
            let trailer = PutTrailer {
                plaintext_len: len as u64,
                etag: version.etag(),
                crc64: None,
            };
            client
                .put_object(header, write_body(chunks(&version.bytes()), trailer))
                .await?;
            let mut m = lock(&model)?;
            m.acked.insert(key.clone(), Some(version));
            m.in_flight.remove(&key);
            m.acks += 1;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_writes_survive_sigkill_and_nothing_half_written_is_visible() -> anyhow::Result<()> {
    let bin = cang_bin()?;
    let dir = tempfile::tempdir()?;
    let (data, pki) = (dir.path().join("data"), dir.path().join("pki"));
    cang_tls::write_dev_pki(&pki)?;
    let model = Arc::new(Mutex::new(Model::default()));
    let started = Instant::now();
    let mut rng = 0x9E37_79B9_7F4A_7C15_u64;
    let mut iterations = 0;
    let mut acknowledged_total = 0;
    while iterations < MAX_ITERATIONS && started.elapsed() < TIME_BUDGET {
        let process = start(&bin, &data, &pki).await?;
        if iterations == 0 {
            let new = NewBucket {
                name: "crash".into(),
                owner: "1".into(),
                location: String::new(),
                acl: Acl::Private,
                encryption: None,
            };
            process.client.create_bucket(new).await?;
        } else {
            verify(&process.client, &model)
                .await
                .with_context(|| format!("after kill #{iterations}"))?;
        }
        let before = count_acks(&model);
        let workers: Vec<_> = (0..WORKERS)
            .map(|w| {
                rng = rng
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1_442_695_040_888_963_407);
                tokio::spawn(work(process.client.clone(), Arc::clone(&model), w, rng | 1))
            })
            .collect();
        // Kill at a random moment between 30 and 600 ms into the workload.
        rng = rng
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        tokio::time::sleep(Duration::from_millis(30 + (rng >> 33) % 570)).await;
        kill(process)?;
        for w in workers {
            // Every worker ends with the failure the dead process caused.
            match w.await? {
                Err(MetaError::Unavailable(_) | MetaError::Internal(_)) => {}
                other => bail!("worker ended with {other:?}"),
            }
        }
        acknowledged_total += count_acks(&model).saturating_sub(before);
        iterations += 1;
    }
    let process = start(&bin, &data, &pki).await?;
    verify(&process.client, &model).await.context("final restart")?;
    kill(process)?;
    eprintln!(
        "{iterations} SIGKILL cycles in {:.1} s; {acknowledged_total} acknowledged puts, multipart completes and deletes",
        started.elapsed().as_secs_f64()
    );
    ensure!(
        iterations >= 5,
        "only {iterations} kill cycles fit the time budget"
    );
    ensure!(
        acknowledged_total > 0 || count_acks(&model) > 0,
        "no write was acknowledged"
    );
    Ok(())
}

/// Acknowledged operations so far.
fn count_acks(model: &Mutex<Model>) -> u64 {
    model.lock().map(|m| m.acks).unwrap_or(0)
}
