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
        let token = shutdown.clone();
        tokio::spawn(async move {
            if let Err(e) = cang_kms::run(kms_config, kms_listener, token).await {
                eprintln!("kms stopped: {e}");
            }
        });

        let (meta_listener, meta_addr) = bind().await?;
        let meta_config = cang_meta::MetaConfig {
            data_dir: dir.path().join("meta"),
            tls: TlsFiles::in_dir(&tls_dir, "meta"),
        };
        let token = shutdown.clone();
        tokio::spawn(async move {
            if let Err(e) = cang_meta::run(meta_config, meta_listener, token).await {
                eprintln!("meta stopped: {e}");
            }
        });

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
        })
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
