//! `cang admin`: the operator's client. Speaks gRPC over mTLS with the admin certificate to kms and meta,
//! found from a `cang up` data directory or given explicitly; prints tables, or JSON with `--json`.

mod audit;
mod backup;
mod byok;
mod escrow;
mod identity;
mod jobs;
mod kms;
mod maintenance;
mod render;

use std::path::PathBuf;

use anyhow::{Context, bail};
use cang_jobs_api::JobsGrpcClient;
use cang_kms_api::{AccountId, KmsGrpcClient};
use cang_meta_api::MetaGrpcClient;
use clap::{Args, Subcommand};
use tonic::transport::ClientTlsConfig;

use super::instance::InstanceDir;
use super::service::TlsArgs;

/// Flags of `cang admin`.
#[derive(Debug, Args)]
pub struct AdminArgs {
    /// Data directory of a `cang up` instance: its admin certificate, addresses and first account.
    #[arg(long, env = "CANG_DATA_DIR", global = true)]
    pub data_dir: Option<PathBuf>,
    /// The crypto service, `host:port` (default: the one recorded in --data-dir).
    #[arg(long = "kms", env = "CANG_KMS_ENDPOINT", global = true)]
    pub kms_endpoint: Option<String>,
    /// The metadata service, `host:port` (default: the one recorded in --data-dir).
    #[arg(long = "meta", env = "CANG_META_ENDPOINT", global = true)]
    pub meta_endpoint: Option<String>,
    /// A gateway's jobs listener, `host:port` (default: the one recorded in --data-dir).
    #[arg(long = "jobs", env = "CANG_JOBS_ENDPOINT", global = true)]
    pub jobs_endpoint: Option<String>,
    /// Account to act on (default: the first account of --data-dir).
    #[arg(long, env = "CANG_ACCOUNT", global = true)]
    pub account: Option<String>,
    /// Print JSON instead of tables.
    #[arg(long, global = true)]
    pub json: bool,
    #[command(flatten)]
    pub tls: TlsArgs,
    #[command(subcommand)]
    pub command: AdminCommand,
}

/// The resource groups of `cang admin`.
#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Accounts.
    #[command(subcommand)]
    Account(identity::AccountCommand),
    /// RAM users of the account.
    #[command(subcommand)]
    User(identity::UserCommand),
    /// Access keys of the account or of a RAM user.
    #[command(subcommand)]
    Key(identity::KeyCommand),
    /// RAM policies of the account.
    #[command(subcommand)]
    Policy(identity::PolicyCommand),
    /// Customer master keys, aliases, rotation, BYOK import and the audit trail.
    #[command(subcommand)]
    Kms(kms::KmsCommand),
    /// Objects, bytes and unfinished uploads per bucket, SSE mode and master key version.
    Inventory(maintenance::InventoryArgs),
    /// Move objects' data keys to their master key's primary version (no data is rewritten).
    Rewrap(maintenance::RewrapArgs),
    /// Encrypt the existing objects of a bucket in place (copy-in-place through the normal sealing path).
    EncryptExisting(maintenance::EncryptExistingArgs),
    /// Rewrap and encrypt-existing as audited jobs run by a gateway: start, list, watch, cancel.
    #[command(subcommand)]
    Jobs(jobs::JobsCommand),
    /// Root-key escrow, offline: split the root key into shares (any t of n rebuild it), or rebuild it.
    #[command(subcommand)]
    RootKey(escrow::RootKeyCommand),
    /// A consistent online copy of the metadata store and the keystore (the root key only if asked).
    Backup(backup::BackupArgs),
    /// A backup brought back as a new data directory (offline).
    Restore(backup::RestoreArgs),
    /// Check that every object still opens: its data key unwraps (and with --deep, every byte decrypts).
    Verify(maintenance::VerifyArgs),
}

/// Runs one admin command.
pub fn main(args: AdminArgs) -> anyhow::Result<()> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?
        .block_on(run(args))
}

async fn run(args: AdminArgs) -> anyhow::Result<()> {
    // Root-key escrow works on files alone, also on a machine where nothing else of the instance is left.
    let ctx = match &args.command {
        AdminCommand::RootKey(_) | AdminCommand::Restore(_) => Connection::offline(args.json),
        _ => Connection::new(&args)?,
    };
    match args.command {
        AdminCommand::Account(cmd) => identity::account(&ctx, cmd).await,
        AdminCommand::User(cmd) => identity::user(&ctx, cmd).await,
        AdminCommand::Key(cmd) => identity::key(&ctx, cmd).await,
        AdminCommand::Policy(cmd) => identity::policy(&ctx, cmd).await,
        AdminCommand::Kms(cmd) => kms::run(&ctx, cmd).await,
        AdminCommand::Inventory(cmd) => maintenance::inventory(&ctx, cmd).await,
        AdminCommand::Rewrap(cmd) => maintenance::rewrap(&ctx, args.data_dir.as_deref(), cmd).await,
        AdminCommand::EncryptExisting(cmd) => {
            maintenance::encrypt_existing(&ctx, args.data_dir.as_deref(), cmd).await
        }
        AdminCommand::Jobs(cmd) => jobs::run(&ctx, cmd).await,
        AdminCommand::RootKey(cmd) => escrow::run(&ctx, args.data_dir.as_deref(), cmd),
        AdminCommand::Backup(cmd) => backup::backup(&ctx, args.data_dir.as_deref(), cmd).await,
        AdminCommand::Restore(cmd) => backup::restore(&ctx, cmd),
        AdminCommand::Verify(cmd) => maintenance::verify(&ctx, cmd).await,
    }
}

/// Where the services are and who we act for; clients are made on first use, so commands that need
/// neither (e.g. `kms wrap-key-material`) work offline.
#[derive(Debug)]
pub struct Connection {
    kms: Option<String>,
    meta: Option<String>,
    jobs: Option<String>,
    account: Option<String>,
    tls: Option<anyhow::Result<ClientTlsConfig>>,
    /// `--json`.
    pub json: bool,
}

impl Connection {
    fn new(args: &AdminArgs) -> anyhow::Result<Self> {
        let instance = args.data_dir.as_deref().map(InstanceDir::new);
        let state = match &instance {
            Some(dir)
                if args.kms_endpoint.is_none() || args.meta_endpoint.is_none() || args.account.is_none() =>
            {
                Some(dir.require_state()?)
            }
            // The jobs listener's address alone is optional: read it if the directory recorded one.
            Some(dir) if args.jobs_endpoint.is_none() => dir.load_state().ok(),
            _ => None,
        };
        let mut tls_args = args.tls.clone();
        if tls_args.tls_dir.is_none()
            && let Some(dir) = &instance
        {
            tls_args.tls_dir = Some(dir.tls());
        }
        let tls = match tls_args.files("admin") {
            Ok(files) => Some(files.client_config().context("loading the admin certificate")),
            Err(_) => None,
        };
        let recorded = |f: fn(&super::instance::InstanceState) -> Option<std::net::SocketAddr>| {
            state.as_ref().and_then(f).map(|a| a.to_string())
        };
        Ok(Self {
            kms: args.kms_endpoint.clone().or_else(|| recorded(|s| s.kms)),
            meta: args.meta_endpoint.clone().or_else(|| recorded(|s| s.meta)),
            jobs: args.jobs_endpoint.clone().or_else(|| recorded(|s| s.jobs)),
            account: args
                .account
                .clone()
                .or_else(|| state.as_ref().and_then(|s| s.account_id.clone())),
            tls,
            json: args.json,
        })
    }

    /// No services at all: for commands that work on files.
    fn offline(json: bool) -> Self {
        Self {
            kms: None,
            meta: None,
            jobs: None,
            account: None,
            tls: None,
            json,
        }
    }

    fn tls(&self) -> anyhow::Result<ClientTlsConfig> {
        match &self.tls {
            Some(Ok(tls)) => Ok(tls.clone()),
            Some(Err(e)) => bail!("{e:#}"),
            None => {
                bail!("no admin certificate: pass --data-dir, --tls-dir, or --tls-ca/--tls-cert/--tls-key")
            }
        }
    }

    /// A client of the crypto service.
    pub fn kms(&self) -> anyhow::Result<KmsGrpcClient> {
        let addr = self
            .kms
            .as_deref()
            .context("no crypto service address: pass --data-dir or --kms")?;
        Ok(KmsGrpcClient::connect_lazy(addr, self.tls()?)?)
    }

    /// A client of the metadata service.
    pub fn meta(&self) -> anyhow::Result<MetaGrpcClient> {
        let addr = self
            .meta
            .as_deref()
            .context("no metadata service address: pass --data-dir or --meta")?;
        Ok(MetaGrpcClient::connect_lazy(addr, self.tls()?)?)
    }

    /// A client of a gateway's jobs listener.
    pub fn jobs(&self) -> anyhow::Result<JobsGrpcClient> {
        let addr = self
            .jobs
            .as_deref()
            .context("no jobs listener address: pass --data-dir or --jobs")?;
        Ok(JobsGrpcClient::connect_lazy(addr, self.tls()?)?)
    }

    /// The account acted on, as text.
    pub fn account(&self) -> anyhow::Result<&str> {
        self.account
            .as_deref()
            .context("no account: pass --account or --data-dir")
    }

    /// The account acted on, validated for the crypto service.
    pub fn kms_account(&self) -> anyhow::Result<AccountId> {
        Ok(AccountId::new(self.account()?)?)
    }
}
