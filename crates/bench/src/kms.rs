//! `cang bench kms`: GenerateDataKey and Decrypt rates and latencies over loopback mutual TLS, at
//! several numbers of concurrent callers sharing one channel (as the gateway does), against an
//! in-process crypto service or the crypto service of a `cang up` data directory.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use cang_kms_api::{AccountId, EncryptionContext, KeyRef, KmsApi, KmsGrpcClient, WrappedDataKey};
use serde::Serialize;
use tokio_util::sync::CancellationToken;

use crate::BenchError;
use crate::stats::{Latencies, LatencySummary};

/// Distinct wrapped keys the Decrypt callers cycle through.
const DECRYPT_POOL: usize = 64;

/// One (operation, callers) cell.
#[derive(Debug, Clone, Serialize)]
pub struct KmsResult {
    /// `GenerateDataKey` or `Decrypt`.
    pub operation: &'static str,
    /// Concurrent callers.
    pub callers: usize,
    /// Calls per second.
    pub ops_per_s: f64,
    /// Latency percentiles.
    pub latency: LatencySummary,
}

/// An in-process crypto service on a loopback port, with its own keystore and PKI in a temp dir.
#[derive(Debug)]
pub struct LocalKms {
    _dir: tempfile::TempDir,
    shutdown: CancellationToken,
    server: tokio::task::JoinHandle<Result<(), cang_kms::StartupError>>,
    /// A client with the gateway's identity.
    pub client: KmsGrpcClient,
}

impl LocalKms {
    /// Generates the PKI and a root key, opens the keystore and serves it.
    pub async fn start() -> Result<Self, BenchError> {
        let dir = tempfile::tempdir()?;
        let tls_dir = dir.path().join("tls");
        cang_tls::write_dev_pki(&tls_dir).map_err(|e| BenchError::Instance(e.to_string()))?;
        let root_key = dir.path().join("root.key");
        write_root_key(&root_key)?;
        let service = cang_kms::open_service(
            &dir.path().join("kms"),
            &root_key,
            Arc::new(cang_kms::SystemClock),
            cang_kms::KeyringConfig::default(),
        )
        .map_err(|e| BenchError::Instance(e.to_string()))?;
        let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
        let addr = listener.local_addr()?;
        let shutdown = CancellationToken::new();
        let server = tokio::spawn(cang_kms::serve(
            service,
            cang_tls::TlsFiles::in_dir(&tls_dir, "kms"),
            listener,
            Duration::from_secs(3600),
            shutdown.clone(),
        ));
        let client = gateway_client(&tls_dir, &addr.to_string())?;
        Ok(Self {
            _dir: dir,
            shutdown,
            server,
            client,
        })
    }

    /// Stops the server and waits for it.
    pub async fn stop(self) -> Result<(), BenchError> {
        self.shutdown.cancel();
        self.server
            .await
            .map_err(|e| BenchError::Task(e.to_string()))?
            .map_err(|e| BenchError::Instance(e.to_string()))
    }
}

/// A crypto-service client presenting the gateway identity from a dev PKI directory.
pub fn gateway_client(tls_dir: &Path, address: &str) -> Result<KmsGrpcClient, BenchError> {
    let tls = cang_tls::TlsFiles::in_dir(tls_dir, "gateway")
        .client_config()
        .map_err(|e| BenchError::Instance(e.to_string()))?;
    KmsGrpcClient::connect_lazy(address, tls).map_err(|e| BenchError::Instance(e.to_string()))
}

fn write_root_key(path: &Path) -> Result<(), BenchError> {
    use std::io::Write;
    let mut key = zeroize::Zeroizing::new([0u8; 32]);
    getrandom::fill(key.as_mut()).map_err(|_| BenchError::Random)?;
    let hex: zeroize::Zeroizing<String> =
        zeroize::Zeroizing::new(key.iter().map(|b| format!("{b:02x}")).collect());
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(hex.as_bytes())?;
    Ok(())
}

fn context(object: usize) -> EncryptionContext {
    EncryptionContext(BTreeMap::from([
        ("bucket".to_owned(), "bench".to_owned()),
        ("object".to_owned(), format!("obj-{object}")),
    ]))
}

/// Runs both operations at each number of callers for `duration` each.
pub async fn bench(
    client: &KmsGrpcClient,
    callers: &[usize],
    duration: Duration,
) -> Result<Vec<KmsResult>, BenchError> {
    let account = AccountId::new("bench").map_err(|e| BenchError::Kms(e.to_string()))?;
    let key = KeyRef::parse("alias/acs/oss").map_err(|e| BenchError::Kms(e.to_string()))?;
    // Creates the default key on first use, so its cost stays out of the timed calls.
    client
        .describe_key(&account, &key)
        .await
        .map_err(|e| BenchError::Kms(e.to_string()))?;
    let mut pool = Vec::with_capacity(DECRYPT_POOL);
    for i in 0..DECRYPT_POOL {
        let dk = client
            .generate_data_key(&account, &key, 32, &context(i))
            .await
            .map_err(|e| BenchError::Kms(e.to_string()))?;
        pool.push(dk.ciphertext_blob);
    }
    let pool = Arc::new(pool);
    let shared = Shared {
        client: client.clone(),
        account,
        key,
        pool,
    };
    let mut results = Vec::new();
    for &n in callers {
        for operation in ["GenerateDataKey", "Decrypt"] {
            results.push(run_cell(&shared, operation, n, duration).await?);
        }
    }
    Ok(results)
}

#[derive(Clone)]
struct Shared {
    client: KmsGrpcClient,
    account: AccountId,
    key: KeyRef,
    pool: Arc<Vec<WrappedDataKey>>,
}

async fn run_cell(
    shared: &Shared,
    operation: &'static str,
    callers: usize,
    duration: Duration,
) -> Result<KmsResult, BenchError> {
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(callers);
    for caller in 0..callers {
        let s = shared.clone();
        tasks.push(tokio::spawn(async move {
            let mut latencies = Latencies::new();
            let mut i = caller;
            while latencies.is_empty() || started.elapsed() < duration {
                let slot = i % s.pool.len().max(1);
                let t = Instant::now();
                let ok = if operation == "Decrypt" {
                    let blob = s.pool.get(slot).ok_or(BenchError::Kms("empty pool".into()))?;
                    s.client.decrypt(&s.account, blob, &context(slot)).await.map(drop)
                } else {
                    s.client
                        .generate_data_key(&s.account, &s.key, 32, &context(slot))
                        .await
                        .map(drop)
                };
                ok.map_err(|e| BenchError::Kms(format!("{operation}: {e}")))?;
                latencies.record(t.elapsed());
                i += callers;
            }
            Ok::<Latencies, BenchError>(latencies)
        }));
    }
    let mut all = Latencies::new();
    for task in tasks {
        all.merge(task.await.map_err(|e| BenchError::Task(e.to_string()))??);
    }
    let elapsed = started.elapsed().as_secs_f64();
    let latency = all
        .summary()
        .ok_or(BenchError::Kms("no calls completed".into()))?;
    Ok(KmsResult {
        operation,
        callers,
        ops_per_s: all.len() as f64 / elapsed.max(1e-9),
        latency,
    })
}
