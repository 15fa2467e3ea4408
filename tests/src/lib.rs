//! A Cang cluster in one test process: the real crypto, metadata and gateway services on loopback ports,
//! joined by mutual TLS with a throwaway CA, over real redb files in a temporary directory.
//!
//! [`Cluster::start_traced`] gives each service its own runtime whose threads all use that service's
//! tracing dispatcher, exporting over OTLP under its own `service.name`: three services in one process
//! look to a collector like three processes, and no process-wide subscriber is installed, so traced and
//! untraced clusters can share a test binary.

mod traced;

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use cang_access_keys::{NewCredentials, create_access_key};
use cang_gateway::{ConnectionLimits, GatewayConfig};
use cang_kms_api::{KmsApi, KmsGrpcClient};
use cang_meta_api::{MetaApi, MetaGrpcClient};
use cang_tls::TlsFiles;
use tokio::net::TcpListener;
use tokio::runtime::Handle;
use tokio_util::sync::CancellationToken;

use traced::ServiceRuntimes;

pub mod proxy;
pub mod sign;

/// A running cluster. Dropping it stops the services.
pub struct Cluster {
    /// The gateway's address.
    pub addr: SocketAddr,
    /// The first account's id.
    pub account: String,
    /// The first account's root access key.
    pub root: NewCredentials,
    /// The crypto service as an administrator sees it.
    pub kms_admin: Arc<dyn KmsApi>,
    /// The metadata service as an administrator sees it.
    pub meta_admin: Arc<dyn MetaApi>,
    /// Where the services keep their files.
    pub dir: tempfile::TempDir,
    /// The gateway's operations listener (`/metrics`, `/healthz`, `/readyz`).
    pub probes_addr: SocketAddr,
    /// The gateway's jobs listener (gRPC over mTLS, the admin certificate only).
    pub jobs_addr: SocketAddr,
    /// The crypto service's `/metrics` listener (traced clusters only).
    pub kms_metrics_addr: Option<SocketAddr>,
    /// The metadata service's `/metrics` listener (traced clusters only).
    pub meta_metrics_addr: Option<SocketAddr>,
    /// The proxy between the gateway and kms (clusters started with [`Cluster::start_behind_proxies`]).
    pub kms_proxy: Option<proxy::DelayProxy>,
    /// The proxy between the gateway and meta (clusters started with [`Cluster::start_behind_proxies`]).
    pub meta_proxy: Option<proxy::DelayProxy>,
    shutdown: CancellationToken,
    runtimes: Option<ServiceRuntimes>,
    kms: Service<cang_kms::KmsConfig>,
    kms_clock: Option<Arc<cang_kms::ManualClock>>,
    meta: Service<cang_meta::MetaConfig>,
}

/// How a cluster is started.
struct Setup {
    config: GatewayConfig,
    limits: ConnectionLimits,
    otlp_endpoint: Option<String>,
    kms_clock: Option<Arc<cang_kms::ManualClock>>,
    /// Delay proxies in front of kms and meta, and the gateway's deadlines for each.
    proxies: Option<(std::time::Duration, std::time::Duration)>,
}

impl Setup {
    fn new(config: GatewayConfig, limits: ConnectionLimits) -> Self {
        Self {
            config,
            limits,
            otlp_endpoint: None,
            kms_clock: None,
            proxies: None,
        }
    }
}

/// One backing service: its settings, port and the token that stops it.
struct Service<C> {
    config: C,
    port: u16,
    stop: CancellationToken,
    done: Option<tokio::task::JoinHandle<()>>,
}

impl<C> Service<C> {
    async fn halt(&mut self) {
        self.stop.cancel();
        if let Some(done) = self.done.take() {
            let _ = done.await;
        }
    }
}

/// Runs the crypto service on `runtime`; the listener is registered with that runtime's reactor.
fn spawn_kms(
    runtime: &Handle,
    config: cang_kms::KmsConfig,
    clock: Option<Arc<cang_kms::ManualClock>>,
    listener: std::net::TcpListener,
    stop: CancellationToken,
) -> tokio::task::JoinHandle<()> {
    runtime.spawn(async move {
        let served = match (TcpListener::from_std(listener), clock) {
            (Ok(listener), None) => cang_kms::run(config, listener, stop)
                .await
                .map_err(anyhow::Error::from),
            // A test clock: the service runs its key maintenance (rotation, deletion) every 50 ms.
            (Ok(listener), Some(clock)) => async {
                let service =
                    cang_kms::open_service(&config.data_dir, &config.root_key_file, clock, config.keyring)?;
                let tick = std::time::Duration::from_millis(50);
                cang_kms::serve(service, config.tls, listener, tick, stop).await
            }
            .await
            .map_err(anyhow::Error::from),
            (Err(e), _) => Err(e.into()),
        };
        if let Err(e) = served {
            eprintln!("kms stopped: {e}");
        }
    })
}

/// Runs the metadata service on `runtime`.
fn spawn_meta(
    runtime: &Handle,
    config: cang_meta::MetaConfig,
    listener: std::net::TcpListener,
    stop: CancellationToken,
) -> tokio::task::JoinHandle<()> {
    runtime.spawn(async move {
        let served = match TcpListener::from_std(listener) {
            Ok(listener) => cang_meta::run(config, listener, stop)
                .await
                .map_err(anyhow::Error::from),
            Err(e) => Err(e.into()),
        };
        if let Err(e) = served {
            eprintln!("meta stopped: {e}");
        }
    })
}

/// A loopback listener not yet tied to any runtime.
fn bind_std(port: u16) -> std::io::Result<std::net::TcpListener> {
    let listener = std::net::TcpListener::bind(("127.0.0.1", port))?;
    listener.set_nonblocking(true)?;
    Ok(listener)
}

/// Binds the port a stopped service had, retrying while the old socket lingers.
async fn rebind(port: u16) -> anyhow::Result<std::net::TcpListener> {
    for _ in 0..100 {
        if let Ok(listener) = bind_std(port) {
            return Ok(listener);
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    anyhow::bail!("port {port} did not become free")
}

/// A free loopback port for a service that binds its own metrics listener.
fn free_port() -> anyhow::Result<SocketAddr> {
    Ok(bind_std(0)?.local_addr()?)
}

impl std::fmt::Debug for Cluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cluster")
            .field("addr", &self.addr)
            .field("account", &self.account)
            .finish_non_exhaustive()
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        self.shutdown.cancel();
        if let Some(runtimes) = self.runtimes.take() {
            runtimes.shut_down();
        }
    }
}

fn bind() -> anyhow::Result<(std::net::TcpListener, String)> {
    let listener = bind_std(0)?;
    let addr = format!("https://127.0.0.1:{}", listener.local_addr()?.port());
    Ok((listener, addr))
}

impl Cluster {
    /// Starts a cluster with the default gateway settings.
    pub async fn start() -> anyhow::Result<Self> {
        Self::start_with(GatewayConfig::default()).await
    }

    /// Starts a cluster with the given gateway settings.
    pub async fn start_with(config: GatewayConfig) -> anyhow::Result<Self> {
        Self::start_inner(config, ConnectionLimits::default(), None, None).await
    }

    /// Starts a cluster with the given gateway settings and connection limits.
    pub async fn start_with_limits(config: GatewayConfig, limits: ConnectionLimits) -> anyhow::Result<Self> {
        Self::start_inner(config, limits, None, None).await
    }

    /// Starts a cluster whose gateway reaches kms and meta through delay proxies ([`Cluster::kms_proxy`],
    /// [`Cluster::meta_proxy`]), with the given per-call deadlines on its clients.
    pub async fn start_behind_proxies(
        config: GatewayConfig,
        kms_deadline: std::time::Duration,
        meta_deadline: std::time::Duration,
    ) -> anyhow::Result<Self> {
        let mut setup = Setup::new(config, ConnectionLimits::default());
        setup.proxies = Some((kms_deadline, meta_deadline));
        Self::start_setup(setup).await
    }

    /// Starts a cluster whose crypto service reads time from `clock` (and runs its key maintenance every
    /// 50 ms), so tests can pass rotation intervals and deletion windows.
    pub async fn start_with_kms_clock(clock: Arc<cang_kms::ManualClock>) -> anyhow::Result<Self> {
        Self::start_inner(
            GatewayConfig::default(),
            ConnectionLimits::default(),
            None,
            Some(clock),
        )
        .await
    }

    /// Starts a cluster whose services export their spans to the OTLP/gRPC collector at
    /// `otlp_endpoint` as `cang-kms`, `cang-meta` and `cang-gateway`, each on a runtime of its own, with
    /// `/metrics` listeners on the crypto and metadata services as well.
    pub async fn start_traced(config: GatewayConfig, otlp_endpoint: &str) -> anyhow::Result<Self> {
        Self::start_inner(config, ConnectionLimits::default(), Some(otlp_endpoint), None).await
    }

    /// Exports every span the services have finished so far (traced clusters; a no-op otherwise).
    pub fn flush_telemetry(&self) -> anyhow::Result<()> {
        if let Some(runtimes) = &self.runtimes {
            runtimes.flush()?;
        }
        Ok(())
    }

    async fn start_inner(
        config: GatewayConfig,
        limits: ConnectionLimits,
        otlp_endpoint: Option<&str>,
        kms_clock: Option<Arc<cang_kms::ManualClock>>,
    ) -> anyhow::Result<Self> {
        let mut setup = Setup::new(config, limits);
        setup.otlp_endpoint = otlp_endpoint.map(str::to_owned);
        setup.kms_clock = kms_clock;
        Self::start_setup(setup).await
    }

    async fn start_setup(setup: Setup) -> anyhow::Result<Self> {
        let Setup {
            config,
            limits,
            otlp_endpoint,
            kms_clock,
            proxies,
        } = setup;
        let otlp_endpoint = otlp_endpoint.as_deref();
        // The test binary links two rustls providers (ring for the services, aws-lc-rs through OpenDAL's HTTP
        // client); name one so neither side has to guess. A second install in the same process is a no-op.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let dir = tempfile::tempdir()?;
        let tls_dir = dir.path().join("tls");
        cang_tls::write_dev_pki(&tls_dir).context("writing the test PKI")?;
        let root_key = dir.path().join("root.key");
        cang_kms::RootKey::generate(&root_key).context("writing the root key")?;
        let shutdown = CancellationToken::new();
        let runtimes = otlp_endpoint.map(ServiceRuntimes::start).transpose()?;
        let current = Handle::current();
        let (kms_rt, meta_rt, gateway_rt) = match &runtimes {
            Some(r) => (
                r.kms.handle().clone(),
                r.meta.handle().clone(),
                r.gateway.handle().clone(),
            ),
            None => (current.clone(), current.clone(), current),
        };
        let service_metrics = |traced: bool| traced.then(free_port).transpose();

        let (kms_listener, kms_addr) = bind()?;
        let kms_config = cang_kms::KmsConfig {
            data_dir: dir.path().join("kms"),
            root_key_file: root_key,
            tls: TlsFiles::in_dir(&tls_dir, "kms"),
            keyring: cang_kms::KeyringConfig::default(),
            maintenance_interval: std::time::Duration::from_secs(3600),
            metrics_listen: service_metrics(runtimes.is_some())?,
        };
        let kms_port = kms_listener.local_addr()?.port();
        let stop = shutdown.child_token();
        let done = spawn_kms(
            &kms_rt,
            kms_config.clone(),
            kms_clock.clone(),
            kms_listener,
            stop.clone(),
        );
        let kms_service = Service {
            config: kms_config,
            port: kms_port,
            stop,
            done: Some(done),
        };

        let (meta_listener, meta_addr) = bind()?;
        let meta_config = cang_meta::MetaConfig {
            data_dir: dir.path().join("meta"),
            tls: TlsFiles::in_dir(&tls_dir, "meta"),
            metrics_listen: service_metrics(runtimes.is_some())?,
        };
        let meta_port = meta_listener.local_addr()?.port();
        let stop = shutdown.child_token();
        let done = spawn_meta(&meta_rt, meta_config.clone(), meta_listener, stop.clone());
        let meta_service = Service {
            config: meta_config,
            port: meta_port,
            stop,
            done: Some(done),
        };

        let client = |name: &str| TlsFiles::in_dir(&tls_dir, name).client_config();
        let kms_admin: Arc<dyn KmsApi> = Arc::new(KmsGrpcClient::connect_lazy(&kms_addr, client("admin")?)?);
        let meta_admin: Arc<dyn MetaApi> =
            Arc::new(MetaGrpcClient::connect_lazy(&meta_addr, client("admin")?)?);
        let (kms_proxy, meta_proxy) = match proxies {
            Some(_) => {
                let kms =
                    proxy::DelayProxy::start(([127, 0, 0, 1], kms_port).into(), shutdown.clone()).await?;
                let meta =
                    proxy::DelayProxy::start(([127, 0, 0, 1], meta_port).into(), shutdown.clone()).await?;
                (Some(kms), Some(meta))
            }
            None => (None, None),
        };
        let (gateway_kms_addr, gateway_meta_addr) = match (&kms_proxy, &meta_proxy) {
            (Some(k), Some(m)) => (format!("https://{}", k.addr), format!("https://{}", m.addr)),
            _ => (kms_addr.clone(), meta_addr.clone()),
        };
        // The gateway's channels run their connections on the gateway's runtime.
        let (kms, meta): (Arc<dyn KmsApi>, Arc<dyn MetaApi>) = {
            let _on_gateway = gateway_rt.enter();
            let mut kms = KmsGrpcClient::connect_lazy(&gateway_kms_addr, client("gateway")?)?;
            let mut meta = MetaGrpcClient::connect_lazy(&gateway_meta_addr, client("gateway")?)?;
            if let Some((kms_deadline, meta_deadline)) = proxies {
                kms = kms.with_deadline(kms_deadline);
                meta = meta.with_deadline(meta_deadline);
            }
            (Arc::new(kms), Arc::new(meta))
        };

        let account = "1234567890123456".to_owned();
        let mut attempts = 0;
        loop {
            match meta_admin.create_account(&account, "default").await {
                Ok(_) => break,
                Err(e) if attempts < 50 => {
                    attempts += 1;
                    let _ = e;
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                }
                Err(e) => return Err(e).context("creating the first account"),
            }
        }
        let root = create_access_key(kms_admin.as_ref(), meta_admin.as_ref(), &account, None).await?;

        let listener = bind_std(0)?;
        let addr = listener.local_addr()?;
        let probes = bind_std(0)?;
        let probes_addr = probes.local_addr()?;
        let jobs_listener = bind_std(0)?;
        let jobs_addr = jobs_listener.local_addr()?;
        let jobs_tls = TlsFiles::in_dir(&tls_dir, "gateway").server_config()?;
        let runner = cang_gateway::jobs::JobRunner::new(config.clone(), Arc::clone(&kms), Arc::clone(&meta));
        let token = shutdown.clone();
        gateway_rt.spawn(async move {
            match TcpListener::from_std(jobs_listener) {
                Ok(listener) => {
                    if let Err(e) =
                        cang_jobs_api::serve(runner, jobs_tls, listener, token.cancelled_owned()).await
                    {
                        eprintln!("jobs listener failed: {e}");
                    }
                }
                Err(e) => eprintln!("jobs listener not started: {e}"),
            }
        });
        let token = shutdown.clone();
        gateway_rt.spawn(async move {
            let listeners =
                TcpListener::from_std(listener).and_then(|l| Ok((l, TcpListener::from_std(probes)?)));
            match listeners {
                Ok((listener, probes)) => {
                    cang_gateway::run_with_probes(
                        config,
                        limits,
                        listener,
                        Some(probes),
                        kms,
                        meta,
                        token.cancelled_owned(),
                    )
                    .await;
                }
                Err(e) => eprintln!("gateway not started: {e}"),
            }
        });
        Ok(Self {
            addr,
            account,
            root,
            kms_admin,
            meta_admin,
            dir,
            probes_addr,
            jobs_addr,
            kms_metrics_addr: kms_service.config.metrics_listen,
            meta_metrics_addr: meta_service.config.metrics_listen,
            kms_proxy,
            meta_proxy,
            shutdown,
            runtimes,
            kms: kms_service,
            kms_clock,
            meta: meta_service,
        })
    }

    fn kms_runtime(&self) -> Handle {
        self.runtimes
            .as_ref()
            .map_or_else(Handle::current, |r| r.kms.handle().clone())
    }

    fn meta_runtime(&self) -> Handle {
        self.runtimes
            .as_ref()
            .map_or_else(Handle::current, |r| r.meta.handle().clone())
    }

    /// Stops the crypto service (its port stays reserved for [`Cluster::start_kms`]).
    pub async fn stop_kms(&mut self) {
        self.kms.halt().await;
    }

    /// Starts the crypto service again on its old port, over the same keystore.
    pub async fn start_kms(&mut self) -> anyhow::Result<()> {
        let listener = rebind(self.kms.port).await?;
        self.kms.stop = self.shutdown.child_token();
        self.kms.done = Some(spawn_kms(
            &self.kms_runtime(),
            self.kms.config.clone(),
            self.kms_clock.clone(),
            listener,
            self.kms.stop.clone(),
        ));
        Ok(())
    }

    /// Stops the metadata service.
    pub async fn stop_meta(&mut self) {
        self.meta.halt().await;
    }

    /// Starts the metadata service again on its old port, over the same database.
    pub async fn start_meta(&mut self) -> anyhow::Result<()> {
        let listener = rebind(self.meta.port).await?;
        self.meta.stop = self.shutdown.child_token();
        self.meta.done = Some(spawn_meta(
            &self.meta_runtime(),
            self.meta.config.clone(),
            listener,
            self.meta.stop.clone(),
        ));
        Ok(())
    }

    /// A request signed with V1 by `creds`. `path` is `/bucket/key` (percent-encoded as it goes on the wire),
    /// `query` the raw query string (may be empty), `resource` the canonicalized resource to sign, and
    /// `oss_headers` the `x-oss-*` headers to send and sign.
    pub fn signed(
        &self,
        creds: &NewCredentials,
        method: &str,
        path_and_query: &str,
        resource: &str,
        oss_headers: &[(&str, &str)],
    ) -> reqwest::RequestBuilder {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap_or(reqwest::Method::GET);
        let mut req =
            reqwest::Client::new().request(method.clone(), format!("{}{path_and_query}", self.endpoint()));
        let signed = sign::v1_headers(
            &creds.access_key_id,
            &creds.access_key_secret,
            method.as_str(),
            "",
            "",
            oss_headers,
            resource,
        );
        for (k, v) in signed {
            req = req.header(k, v);
        }
        for (k, v) in oss_headers {
            req = req.header(*k, *v);
        }
        req
    }

    /// `http://127.0.0.1:<port>`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// A RAM user of the first account with an access key and the given policy documents attached.
    pub async fn ram_user(&self, name: &str, policies: &[&str]) -> anyhow::Result<NewCredentials> {
        self.meta_admin.create_user(&self.account, name).await?;
        for (i, document) in policies.iter().enumerate() {
            let policy = format!("{name}-policy-{i}");
            self.meta_admin
                .put_policy(&self.account, &policy, document)
                .await?;
            self.meta_admin
                .attach_policy(&self.account, name, &policy)
                .await?;
        }
        Ok(create_access_key(
            self.kms_admin.as_ref(),
            self.meta_admin.as_ref(),
            &self.account,
            Some(name),
        )
        .await?)
    }
}
