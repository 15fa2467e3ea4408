//! The instance under test: a `cang up` the bench starts in a temporary directory (and stops with
//! SIGTERM), or one already running. Also what the bench reads from outside the OSS API: the gateway's
//! memory from `/proc`, the data directory's size on disk, and the crypto service's audit trail.

use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use cang_kms_api::{KmsApi, KmsGrpcClient};
use rustix::process::{Pid, Signal, kill_process};
use tokio::process::{Child, Command};

use crate::BenchError;
use crate::client::Credentials;

/// A child process the bench started; SIGTERM on [`Spawned::stop`], SIGKILL if dropped unstopped.
#[derive(Debug)]
pub struct Spawned {
    child: Child,
    name: &'static str,
    log: PathBuf,
}

impl Spawned {
    /// Starts `cang <args…>` with stdout and stderr going to `log`, free of our own `CANG_*` settings.
    pub fn start(exe: &Path, name: &'static str, args: &[String], log: PathBuf) -> Result<Self, BenchError> {
        let file = std::fs::File::create(&log)?;
        let mut command = Command::new(exe);
        command
            .args(args)
            .stdin(Stdio::null())
            .stdout(file.try_clone()?)
            .stderr(file)
            .kill_on_drop(true);
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("CANG_") {
                command.env_remove(key);
            }
        }
        let child = command.spawn()?;
        Ok(Self { child, name, log })
    }

    /// The process id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    /// Fails with the log's tail if the process has exited.
    pub fn check_running(&mut self) -> Result<(), BenchError> {
        match self.child.try_wait()? {
            None => Ok(()),
            Some(status) => Err(BenchError::Instance(format!(
                "{} exited ({status}); last lines of {}:\n{}",
                self.name,
                self.log.display(),
                log_tail(&self.log, 8)
            ))),
        }
    }

    /// SIGTERM, then SIGKILL after `grace`.
    pub async fn stop(mut self, grace: Duration) -> Result<(), BenchError> {
        if let Some(pid) = self.child.id().and_then(|p| Pid::from_raw(p as i32)) {
            // Already gone is fine: the wait below reports how it ended.
            let _ = kill_process(pid, Signal::TERM);
        }
        match tokio::time::timeout(grace, self.child.wait()).await {
            Ok(status) => status.map(drop).map_err(BenchError::Io),
            Err(_) => {
                self.child.kill().await?;
                Err(BenchError::Instance(format!(
                    "{} ignored SIGTERM for {grace:?}",
                    self.name
                )))
            }
        }
    }
}

/// The last `n` lines of a log file.
pub fn log_tail(path: &Path, n: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// A loopback port nobody listens on right now.
pub fn free_port() -> Result<u16, BenchError> {
    Ok(TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?.local_addr()?.port())
}

/// Waits until `addr` accepts connections while `process` keeps running.
pub async fn wait_listening(
    process: &mut Spawned,
    addr: SocketAddr,
    timeout: Duration,
) -> Result<(), BenchError> {
    let started = Instant::now();
    loop {
        process.check_running()?;
        if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
            return Ok(());
        }
        if started.elapsed() > timeout {
            return Err(BenchError::Instance(format!(
                "{} did not listen on {addr} within {timeout:?}",
                process.name
            )));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A `cang up` data directory: its credentials, service addresses and certificates.
#[derive(Debug, Clone)]
pub struct DataDir {
    /// The directory.
    pub root: PathBuf,
}

#[derive(serde::Deserialize)]
struct InstanceFile {
    kms: Option<SocketAddr>,
    meta: Option<SocketAddr>,
    account_id: Option<String>,
}

impl DataDir {
    /// The first account's endpoint and access key.
    pub fn credentials(&self) -> Result<Credentials, BenchError> {
        let path = self.root.join("credentials.env");
        let text = zeroize::Zeroizing::new(std::fs::read_to_string(&path)?);
        Credentials::parse_env(&text)
    }

    /// `(kms, meta)` addresses recorded by `cang up`.
    pub fn service_addresses(&self) -> Result<(SocketAddr, SocketAddr), BenchError> {
        let path = self.root.join("instance.json");
        let file: InstanceFile = serde_json::from_slice(&std::fs::read(&path)?)
            .map_err(|e| BenchError::Instance(format!("{}: {e}", path.display())))?;
        match (file.kms, file.meta) {
            (Some(k), Some(m)) => Ok((k, m)),
            _ => Err(BenchError::Instance(format!(
                "{} lacks service addresses",
                path.display()
            ))),
        }
    }

    /// The first account's id, as `cang up` recorded it.
    pub fn account_id(&self) -> Result<String, BenchError> {
        let path = self.root.join("instance.json");
        let file: InstanceFile = serde_json::from_slice(&std::fs::read(&path)?)
            .map_err(|e| BenchError::Instance(format!("{}: {e}", path.display())))?;
        file.account_id
            .ok_or_else(|| BenchError::Instance(format!("{} lacks the account id", path.display())))
    }

    /// An admin-identity client of the metadata service.
    pub fn meta_admin(&self) -> Result<cang_meta_api::MetaGrpcClient, BenchError> {
        let (_, meta) = self.service_addresses()?;
        let tls = cang_tls::TlsFiles::in_dir(&self.tls(), "admin")
            .client_config()
            .map_err(|e| BenchError::Instance(e.to_string()))?;
        cang_meta_api::MetaGrpcClient::connect_lazy(&meta.to_string(), tls)
            .map_err(|e| BenchError::Instance(e.to_string()))
    }

    /// The certificate directory.
    pub fn tls(&self) -> PathBuf {
        self.root.join("tls")
    }

    /// An admin-identity client of the crypto service (for the audit trail).
    pub fn kms_admin(&self) -> Result<KmsGrpcClient, BenchError> {
        let (kms, _) = self.service_addresses()?;
        let tls = cang_tls::TlsFiles::in_dir(&self.tls(), "admin")
            .client_config()
            .map_err(|e| BenchError::Instance(e.to_string()))?;
        KmsGrpcClient::connect_lazy(&kms.to_string(), tls).map_err(|e| BenchError::Instance(e.to_string()))
    }

    /// Bytes allocated on disk under the directory (what `du` reports).
    pub fn disk_usage(&self) -> Result<u64, BenchError> {
        disk_usage(&self.root)
    }
}

/// Allocated bytes of every file under `path`.
pub fn disk_usage(path: &Path) -> Result<u64, BenchError> {
    let meta = std::fs::symlink_metadata(path)?;
    if !meta.is_dir() {
        return Ok(meta.blocks() * 512);
    }
    let mut total = meta.blocks() * 512;
    for entry in std::fs::read_dir(path)? {
        total += disk_usage(&entry?.path())?;
    }
    Ok(total)
}

/// Counts of audit records past a sequence mark.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AuditCount {
    /// The last sequence number seen.
    pub last_sequence: u64,
    /// Every record.
    pub calls: u64,
    /// `GenerateDataKey*` and `GenerateServiceDataKey` records: data keys minted.
    pub data_keys: u64,
}

/// Reads the audit trail after `after` to its end.
pub async fn audit_since(kms: &KmsGrpcClient, after: u64) -> Result<AuditCount, BenchError> {
    let mut count = AuditCount {
        last_sequence: after,
        ..AuditCount::default()
    };
    loop {
        let page = kms
            .list_audit_records(count.last_sequence, 1000)
            .await
            .map_err(|e| BenchError::Instance(format!("reading the KMS audit trail: {e}")))?;
        let Some(last) = page.last() else {
            return Ok(count);
        };
        count.last_sequence = last.sequence;
        count.calls += page.len() as u64;
        count.data_keys += page
            .iter()
            .filter(|r| r.operation.starts_with("Generate"))
            .count() as u64;
    }
}

/// The pid of the `cang gateway` process listening on `listen`, found by its command line.
pub fn find_gateway_pid(listen: SocketAddr) -> Option<u32> {
    find_service_pid("gateway", listen)
}

/// The pid of the `cang SERVICE` process (`gateway`, `meta`, `kms`) listening on `listen`, found by its
/// command line.
pub fn find_service_pid(service: &str, listen: SocketAddr) -> Option<u32> {
    let wanted = listen.to_string();
    std::fs::read_dir("/proc").ok()?.flatten().find_map(|entry| {
        let pid: u32 = entry.file_name().to_str()?.parse().ok()?;
        let cmdline = std::fs::read(entry.path().join("cmdline")).ok()?;
        let args: Vec<&[u8]> = cmdline.split(|b| *b == 0).collect();
        let is_service = args.get(1).is_some_and(|a| *a == service.as_bytes());
        let listens = args
            .windows(2)
            .any(|w| w[0] == b"--listen" && w[1] == wanted.as_bytes());
        (is_service && listens).then_some(pid)
    })
}

/// Resident and peak-resident memory of a process, bytes (`VmRSS`, `VmHWM`).
pub fn memory(pid: u32) -> Option<(u64, u64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .map(|kib| kib * 1024)
    };
    Some((field("VmRSS:")?, field("VmHWM:")?))
}

/// Resets a process's peak-RSS mark to its current RSS (`clear_refs` 5); false when not permitted.
pub fn reset_peak_rss(pid: u32) -> bool {
    std::fs::write(format!("/proc/{pid}/clear_refs"), b"5").is_ok()
}

/// Waits for a path to appear while `process` runs.
pub async fn wait_for_file(process: &mut Spawned, path: &Path, timeout: Duration) -> Result<(), BenchError> {
    let started = Instant::now();
    while !path.exists() {
        process.check_running()?;
        if started.elapsed() > timeout {
            return Err(BenchError::Instance(format!(
                "{} did not appear within {timeout:?}",
                path.display()
            )));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(())
}

/// Starts `cang up` in a fresh temporary directory on a free loopback port and waits until it serves.
pub async fn start_temp_up(
    exe: &Path,
    timeout: Duration,
) -> Result<(tempfile::TempDir, Spawned, DataDir), BenchError> {
    let temp = tempfile::Builder::new().prefix("cang-bench-").tempdir()?;
    let root = temp.path().join("data");
    let port = free_port()?;
    crate::progress::progress(&format!("starting cang up in {} on port {port}", root.display()));
    let argv: Vec<String> = vec![
        "up".into(),
        "--data-dir".into(),
        root.display().to_string(),
        "--listen".into(),
        format!("127.0.0.1:{port}"),
    ];
    let mut up = Spawned::start(exe, "cang up", &argv, temp.path().join("up.log"))?;
    wait_for_file(&mut up, &root.join("credentials.env"), timeout).await?;
    wait_listening(&mut up, SocketAddr::from(([127, 0, 0, 1], port)), timeout).await?;
    Ok((temp, up, DataDir { root }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_memory_is_read_and_peak_is_at_least_current() {
        let (rss, hwm) = memory(std::process::id()).expect("/proc/self/status");
        assert!(rss > 0 && hwm >= rss);
    }

    #[test]
    fn disk_usage_counts_allocated_blocks() -> Result<(), BenchError> {
        let dir = tempfile::tempdir()?;
        std::fs::write(dir.path().join("a"), vec![1u8; 100_000])?;
        std::fs::create_dir(dir.path().join("sub"))?;
        std::fs::write(dir.path().join("sub/b"), vec![2u8; 50_000])?;
        let used = disk_usage(dir.path())?;
        assert!(used >= 150_000, "{used}");
        assert!(used < 400_000, "{used}");
        Ok(())
    }

    #[test]
    fn no_gateway_listens_on_a_fresh_port() -> Result<(), BenchError> {
        let port = free_port()?;
        assert_eq!(
            find_gateway_pid(SocketAddr::from((Ipv4Addr::LOCALHOST, port))),
            None
        );
        Ok(())
    }
}
