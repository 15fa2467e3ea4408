//! `cang up`: kms (with its KMS OpenAPI and gRPC API for applications on), meta and gateway as child processes on loopback, from one
//! data directory. The first start generates the root key, the dev PKI, the first account and its root
//! access key; later starts reuse all of it.

mod children;
mod health;
mod provision;

use std::ffi::OsString;
use std::future::Future;
use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow, bail};
use clap::Args;
use tokio::signal::unix::{Signal, SignalKind, signal};

use self::children::{Supervisor, log_tail};
use super::instance::{InstanceDir, InstanceState};
use super::output;

/// Flags of `cang up`.
#[derive(Debug, Args)]
pub struct UpArgs {
    /// Data directory (created if missing): keys, certificates, stores, logs, credentials.env.
    #[arg(long, env = "CANG_DATA_DIR")]
    pub data_dir: PathBuf,
    /// Where the OSS endpoint listens (default: the address of the previous start, else 127.0.0.1:9000).
    #[arg(long, env = "CANG_LISTEN")]
    pub listen: Option<SocketAddr>,
    /// Where the web console listens (default: the address of the previous start, else 127.0.0.1:9001).
    #[arg(long, env = "CANG_CONSOLE_LISTEN")]
    pub console_listen: Option<SocketAddr>,
    /// Region of the instance (SDK region, KMS ARNs).
    #[arg(long, env = "CANG_REGION", default_value = "cn-hangzhou")]
    pub region: String,
    /// How long the services may take to become healthy, seconds.
    #[arg(long, env = "CANG_STARTUP_TIMEOUT_SECS", default_value_t = 60)]
    pub startup_timeout_secs: u64,
    /// How long each service may take to stop before it is killed, seconds.
    #[arg(long, env = "CANG_STOP_TIMEOUT_SECS", default_value_t = 15)]
    pub stop_timeout_secs: u64,
    /// How long after a key version stops being primary `cang admin kms retire-version` may delete it, seconds
    /// (`cang kms --version-retire-grace-secs`). The gateway here caches bucket keys for 300 s.
    #[arg(long, env = "CANG_VERSION_RETIRE_GRACE_SECS", default_value_t = 600)]
    pub version_retire_grace_secs: u64,
}

/// Why the instance stopped.
enum Stop {
    /// An operator's signal: a clean exit.
    Signal(&'static str),
    /// A failure: a child died, a probe timed out, provisioning failed.
    Failed(anyhow::Error),
}

impl From<anyhow::Error> for Stop {
    fn from(e: anyhow::Error) -> Self {
        Self::Failed(e)
    }
}

/// Runs the instance until SIGINT/SIGTERM or until a child dies.
pub fn main(args: UpArgs) -> anyhow::Result<()> {
    // One thread: children are spawned from it, so their parent-death signal fires only when `up` ends.
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?
        .block_on(run(args))
}

async fn run(args: UpArgs) -> anyhow::Result<()> {
    let dir = InstanceDir::new(&args.data_dir);
    prepare(&dir)?;
    let mut state = dir.load_state()?;
    let gateway = args
        .listen
        .or(state.gateway)
        .unwrap_or(SocketAddr::from((Ipv4Addr::LOCALHOST, 9000)));
    if gateway.port() == 0 {
        bail!("--listen needs a fixed port (SDKs and credentials.env must know it)");
    }
    TcpListener::bind(gateway).with_context(|| format!("cannot listen on {gateway}"))?;
    let console = args
        .console_listen
        .or(state.console)
        .unwrap_or(SocketAddr::from((Ipv4Addr::LOCALHOST, 9001)));
    if console.port() == 0 || console == gateway {
        bail!("--console-listen needs a fixed port of its own (its URL goes into credentials.env)");
    }
    TcpListener::bind(console).with_context(|| format!("cannot listen on {console}"))?;
    let mut signals = Signals::new()?;
    let mut attempt = 0;
    let outcome = loop {
        attempt += 1;
        let mut taken = vec![gateway, console];
        state.kms = Some(loopback_port(state.kms, &mut taken)?);
        state.meta = Some(loopback_port(state.meta, &mut taken)?);
        state.kms_openapi = Some(loopback_port(state.kms_openapi, &mut taken)?);
        state.kms_grpc = Some(loopback_port(state.kms_grpc, &mut taken)?);
        state.jobs = Some(loopback_port(state.jobs, &mut taken)?);
        state.gateway = Some(gateway);
        state.console = Some(console);
        dir.save_state(&state)?;

        let mut supervisor = Supervisor::new(&dir.logs())?;
        let mut up = Up {
            args: &args,
            dir: &dir,
            state: state.clone(),
            supervisor: &mut supervisor,
            signals: &mut signals,
        };
        let outcome = up.run().await;
        state = up.state.clone();
        supervisor
            .stop_all(Duration::from_secs(args.stop_timeout_secs))
            .await;
        // A port found free can be taken by another program before the service binds it: pick the
        // internal ports afresh and start again (the gateway's own port is the user's to choose).
        match outcome {
            Stop::Failed(e) if attempt < PORT_ATTEMPTS && lost_a_port_race(&e, gateway) => {
                eprintln!("an internal port was taken before a service could bind it; choosing new ports");
                state.kms = None;
                state.meta = None;
                state.kms_openapi = None;
                state.kms_grpc = None;
                state.jobs = None;
            }
            outcome => break outcome,
        }
    };
    match outcome {
        Stop::Signal(name) => {
            eprintln!("{name} received; all services stopped");
            Ok(())
        }
        Stop::Failed(e) => Err(e),
    }
}

/// Creates the data directory, the root key and the dev PKI if they are missing, and makes everything
/// in the directory private (0700 / 0600), also when it existed before (a volume mount, a copy).
fn prepare(dir: &InstanceDir) -> anyhow::Result<()> {
    // Keys and credentials live here: nobody else needs to look inside.
    cang_tls::ensure_private_dir(dir.root())?;
    if !dir.root_key().exists() {
        super::kms::generate_root_key(&dir.root_key())?;
    }
    if !dir.tls().join("ca.pem").exists() {
        cang_tls::write_dev_pki(&dir.tls()).context("generating the internal certificates")?;
    }
    if !dir.console_key().exists() {
        let mut key = zeroize::Zeroizing::new([0u8; 32]);
        getrandom::fill(key.as_mut()).map_err(|e| anyhow!("generating the console session key: {e}"))?;
        super::instance::write_atomically(&dir.console_key(), key.as_ref(), 0o600)?;
    }
    for (path, privacy) in dir.make_private()? {
        if let cang_tls::Privacy::NotOwned { mode, owner } = privacy {
            eprintln!(
                "warning: {} belongs to uid {owner} and has mode {mode:o}; left as it is",
                path.display()
            );
        }
    }
    Ok(())
}

/// How many times `cang up` picks internal ports before it gives up.
const PORT_ATTEMPTS: u32 = 3;

/// Whether a start failed because a service could not bind one of the internal ports (not the
/// gateway's, which a new attempt would not change).
fn lost_a_port_race(e: &anyhow::Error, gateway: SocketAddr) -> bool {
    let text = format!("{e:#}");
    text.contains("cannot listen on")
        && text.contains("Address already in use")
        && !text.contains(&format!("cannot listen on {gateway}"))
}

/// The recorded loopback address if it is still free, else a fresh ephemeral port.
fn loopback_port(recorded: Option<SocketAddr>, taken: &mut Vec<SocketAddr>) -> anyhow::Result<SocketAddr> {
    // A port is released as soon as it is found free, so the next search may find it again: each service
    // gets one no other service of this instance (or the gateway's own) was given.
    if let Some(addr) = recorded
        && !taken.contains(&addr)
        && TcpListener::bind(addr).is_ok()
    {
        taken.push(addr);
        return Ok(addr);
    }
    for _ in 0..64 {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).context("finding a free loopback port")?;
        let addr = listener.local_addr().context("finding a free loopback port")?;
        if !taken.contains(&addr) {
            taken.push(addr);
            return Ok(addr);
        }
    }
    bail!("no free loopback port found")
}

/// SIGINT and SIGTERM.
struct Signals {
    int: Signal,
    term: Signal,
}

impl Signals {
    fn new() -> anyhow::Result<Self> {
        Ok(Self {
            int: signal(SignalKind::interrupt()).context("installing the SIGINT handler")?,
            term: signal(SignalKind::terminate()).context("installing the SIGTERM handler")?,
        })
    }

    async fn recv(&mut self) -> &'static str {
        tokio::select! {
            _ = self.int.recv() => "SIGINT",
            _ = self.term.recv() => "SIGTERM",
        }
    }
}

struct Up<'a> {
    args: &'a UpArgs,
    dir: &'a InstanceDir,
    state: InstanceState,
    supervisor: &'a mut Supervisor,
    signals: &'a mut Signals,
}

impl Up<'_> {
    async fn run(&mut self) -> Stop {
        match self.start().await {
            Ok(()) => {}
            Err(stop) => return stop,
        }
        match self.guarded(std::future::pending::<anyhow::Result<()>>()).await {
            Ok(()) => Stop::Failed(anyhow!("supervision ended unexpectedly")),
            Err(stop) => stop,
        }
    }

    async fn start(&mut self) -> Result<(), Stop> {
        let (kms, meta, gateway) = self.addresses()?;
        let (kms_openapi, kms_grpc) = self
            .state
            .kms_openapi
            .zip(self.state.kms_grpc)
            .ok_or_else(|| anyhow!("instance addresses were not assigned"))?;
        let jobs = self
            .state
            .jobs
            .ok_or_else(|| anyhow!("instance addresses were not assigned"))?;
        let dir = self.dir;
        let tls = os(dir.tls());
        let region = OsString::from(&self.args.region);
        self.supervisor.spawn(
            "kms",
            vec![
                "kms".into(),
                "--data-dir".into(),
                os(dir.kms()),
                "--root-key-file".into(),
                os(dir.root_key()),
                "--listen".into(),
                kms.to_string().into(),
                "--tls-dir".into(),
                tls.clone(),
                "--region".into(),
                region.clone(),
                "--openapi-listen".into(),
                kms_openapi.to_string().into(),
                "--app-grpc-listen".into(),
                kms_grpc.to_string().into(),
                "--meta-endpoint".into(),
                meta.to_string().into(),
                "--version-retire-grace-secs".into(),
                self.args.version_retire_grace_secs.to_string().into(),
            ],
        )?;
        self.supervisor.spawn(
            "meta",
            vec![
                "meta".into(),
                "--data-dir".into(),
                os(dir.meta()),
                "--listen".into(),
                meta.to_string().into(),
                "--tls-dir".into(),
                tls.clone(),
            ],
        )?;
        let admin_tls = cang_tls::TlsFiles::in_dir(&dir.tls(), "admin")
            .client_config()
            .context("loading the admin certificate")?;
        self.wait_healthy("kms", || health::grpc_serving(kms, &admin_tls))
            .await?;
        self.wait_healthy("meta", || health::grpc_serving(meta, &admin_tls))
            .await?;

        let endpoint = format!("http://{}", probe_address(gateway));
        let console = self
            .state
            .console
            .ok_or_else(|| anyhow!("instance addresses were not assigned"))?;
        let provisioning = provision::ensure_credentials(
            dir,
            &mut self.state,
            kms,
            meta,
            &admin_tls,
            provision::Published {
                endpoint: endpoint.clone(),
                kms_endpoint: format!("http://{kms_openapi}"),
                kms_grpc: (
                    kms_grpc.to_string(),
                    dir.tls().join("ca.pem").display().to_string(),
                ),
                region: self.args.region.clone(),
                console_url: format!("http://{}/", probe_address(console)),
            },
        );
        let (credentials, created) = guard(self.supervisor, self.signals, provisioning).await?;

        self.supervisor.spawn(
            "gateway",
            vec![
                "gateway".into(),
                "--listen".into(),
                gateway.to_string().into(),
                "--kms-endpoint".into(),
                kms.to_string().into(),
                "--meta-endpoint".into(),
                meta.to_string().into(),
                "--tls-dir".into(),
                tls,
                "--region".into(),
                region,
                "--drain-secs".into(),
                "5".into(),
                "--jobs-listen".into(),
                jobs.to_string().into(),
                "--console-listen".into(),
                console.to_string().into(),
                "--console-key-file".into(),
                os(dir.console_key()),
                "--console-kms-endpoint".into(),
                kms_openapi.to_string().into(),
            ],
        )?;
        self.wait_healthy("gateway", || health::http_answers(probe_address(gateway)))
            .await?;
        output::line(&provision::banner(
            dir,
            &credentials,
            created,
            self.state.account_id.as_deref(),
        ))?;
        Ok(())
    }

    fn addresses(&self) -> anyhow::Result<(SocketAddr, SocketAddr, SocketAddr)> {
        match (self.state.kms, self.state.meta, self.state.gateway) {
            (Some(k), Some(m), Some(g)) => Ok((k, m, g)),
            _ => bail!("instance addresses were not assigned"),
        }
    }

    /// Probes `name` until it answers, a child dies, a signal arrives, or the startup timeout passes.
    async fn wait_healthy<F, Fut>(&mut self, name: &str, probe: F) -> Result<(), Stop>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = anyhow::Result<()>>,
    {
        let timeout = Duration::from_secs(self.args.startup_timeout_secs);
        let started = Instant::now();
        let wait = async {
            loop {
                let last = match probe().await {
                    Ok(()) => return Ok(()),
                    Err(e) => e,
                };
                if started.elapsed() > timeout {
                    return Err(last.context(format!("{name} did not become healthy within {timeout:?}")));
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        };
        guard(self.supervisor, self.signals, wait).await
    }

    async fn guarded<T>(&mut self, fut: impl Future<Output = anyhow::Result<T>>) -> Result<T, Stop> {
        guard(self.supervisor, self.signals, fut).await
    }
}

/// Runs `fut` unless a signal arrives or a child dies first.
async fn guard<T>(
    supervisor: &mut Supervisor,
    signals: &mut Signals,
    fut: impl Future<Output = anyhow::Result<T>>,
) -> Result<T, Stop> {
    tokio::select! {
        result = fut => result.map_err(Stop::Failed),
        name = signals.recv() => Err(Stop::Signal(name)),
        exit = supervisor.next_exit() => {
            let mut message = format!("{} exited unexpectedly ({})", exit.name, exit.status);
            let tail = log_tail(&exit.log, 5);
            if !tail.is_empty() {
                message.push_str(&format!("; last lines of {}:\n  {}", exit.log.display(), tail.join("\n  ")));
            }
            Err(Stop::Failed(anyhow!(message)))
        }
    }
}

/// Where to reach a listener locally: an unspecified address (0.0.0.0) is reached on loopback.
fn probe_address(addr: SocketAddr) -> SocketAddr {
    if addr.ip().is_unspecified() {
        SocketAddr::from((Ipv4Addr::LOCALHOST, addr.port()))
    } else {
        addr
    }
}

fn os(path: PathBuf) -> OsString {
    path.into_os_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_lost_internal_port_is_retried() {
        let gateway = SocketAddr::from((Ipv4Addr::LOCALHOST, 9000));
        let lost = anyhow!(
            "kms exited unexpectedly (exit code 1); last lines of kms.log:\n  cang kms: error: cannot listen on \
             127.0.0.1:39621: Address already in use (os error 98)"
        );
        assert!(lost_a_port_race(&lost, gateway));
        let gateway_taken =
            anyhow!("gateway exited: cannot listen on 127.0.0.1:9000: Address already in use");
        assert!(!lost_a_port_race(&gateway_taken, gateway));
        assert!(!lost_a_port_race(
            &anyhow!("kms exited: the root key does not open this keystore"),
            gateway
        ));
    }

    #[test]
    fn unspecified_listen_addresses_are_probed_on_loopback() -> anyhow::Result<()> {
        assert_eq!(probe_address("0.0.0.0:9000".parse()?), "127.0.0.1:9000".parse()?);
        assert_eq!(probe_address("127.0.0.2:80".parse()?), "127.0.0.2:80".parse()?);
        Ok(())
    }

    #[test]
    fn a_recorded_port_is_kept_while_free_and_replaced_when_taken() -> anyhow::Result<()> {
        let taken = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
        let taken_addr = taken.local_addr()?;
        let replaced = loopback_port(Some(taken_addr), &mut Vec::new())?;
        assert_ne!(replaced, taken_addr);
        drop(taken);
        assert_eq!(loopback_port(Some(taken_addr), &mut Vec::new())?, taken_addr);
        Ok(())
    }

    #[test]
    fn no_two_services_of_an_instance_are_given_one_port() -> anyhow::Result<()> {
        let gateway: SocketAddr = "127.0.0.1:9000".parse()?;
        let mut taken = vec![gateway];
        // A recorded port another service already has is not handed out twice, even while it is free.
        let first = loopback_port(None, &mut taken)?;
        let second = loopback_port(Some(first), &mut taken)?;
        assert_ne!(first, second);
        for _ in 0..20 {
            loopback_port(None, &mut taken)?;
        }
        let mut unique = taken.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), taken.len(), "{taken:?}");
        Ok(())
    }
}
