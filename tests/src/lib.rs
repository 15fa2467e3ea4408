//! A Cang cluster in one test process: the real crypto, metadata and gateway services on loopback ports,
//! joined by mutual TLS with a throwaway CA, over real redb files in a temporary directory.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use cang_gateway::principal::{NewCredentials, create_access_key};
use cang_gateway::{GatewayConfig, server::ConnectionLimits};
use cang_kms_api::{KmsApi, KmsGrpcClient};
use cang_meta_api::{MetaApi, MetaGrpcClient};
use cang_tls::TlsFiles;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

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
    shutdown: CancellationToken,
    kms: Service<cang_kms::KmsConfig>,
    meta: Service<cang_meta::MetaConfig>,
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

fn spawn_kms(
    config: cang_kms::KmsConfig,
    listener: TcpListener,
    stop: CancellationToken,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        if let Err(e) = cang_kms::run(config, listener, stop).await {
            eprintln!("kms stopped: {e}");
        }
    })
}

fn spawn_meta(
    config: cang_meta::MetaConfig,
    listener: TcpListener,
    stop: CancellationToken,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        if let Err(e) = cang_meta::run(config, listener, stop).await {
            eprintln!("meta stopped: {e}");
        }
    })
}

/// Binds the port a stopped service had, retrying while the old socket lingers.
async fn rebind(port: u16) -> anyhow::Result<TcpListener> {
    for _ in 0..100 {
        if let Ok(listener) = TcpListener::bind(("127.0.0.1", port)).await {
            return Ok(listener);
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    anyhow::bail!("port {port} did not become free")
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
    }
}

async fn bind() -> anyhow::Result<(TcpListener, String)> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
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
        // The test binary links two rustls providers (ring for the services, aws-lc-rs through OpenDAL's HTTP
        // client); name one so neither side has to guess. A second install in the same process is a no-op.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let dir = tempfile::tempdir()?;
        let tls_dir = dir.path().join("tls");
        cang_tls::write_dev_pki(&tls_dir).context("writing the test PKI")?;
        let root_key = dir.path().join("root.key");
        cang_kms::RootKey::generate(&root_key).context("writing the root key")?;
        let shutdown = CancellationToken::new();

        let (kms_listener, kms_addr) = bind().await?;
        let kms_config = cang_kms::KmsConfig {
            data_dir: dir.path().join("kms"),
            root_key_file: root_key,
            tls: TlsFiles::in_dir(&tls_dir, "kms"),
            keyring: cang_kms::KeyringConfig::default(),
            maintenance_interval: std::time::Duration::from_secs(3600),
        };
        let kms_port = kms_listener.local_addr()?.port();
        let stop = shutdown.child_token();
        let done = spawn_kms(kms_config.clone(), kms_listener, stop.clone());
        let kms_service = Service {
            config: kms_config,
            port: kms_port,
            stop,
            done: Some(done),
        };

        let (meta_listener, meta_addr) = bind().await?;
        let meta_config = cang_meta::MetaConfig {
            data_dir: dir.path().join("meta"),
            tls: TlsFiles::in_dir(&tls_dir, "meta"),
        };
        let meta_port = meta_listener.local_addr()?.port();
        let stop = shutdown.child_token();
        let done = spawn_meta(meta_config.clone(), meta_listener, stop.clone());
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
        let kms: Arc<dyn KmsApi> = Arc::new(KmsGrpcClient::connect_lazy(&kms_addr, client("gateway")?)?);
        let meta: Arc<dyn MetaApi> = Arc::new(MetaGrpcClient::connect_lazy(&meta_addr, client("gateway")?)?);

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

        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let token = shutdown.clone();
        tokio::spawn(cang_gateway::run(
            config,
            ConnectionLimits::default(),
            listener,
            kms,
            meta,
            token.cancelled_owned(),
        ));
        Ok(Self {
            addr,
            account,
            root,
            kms_admin,
            meta_admin,
            dir,
            shutdown,
            kms: kms_service,
            meta: meta_service,
        })
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
            self.kms.config.clone(),
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
