//! First-start provisioning of `cang up` through the running services (admin identity): the first
//! account and its root access key, written to `credentials.env`; and the banner printed once all is up.

use std::net::SocketAddr;

use anyhow::Context;
use cang_kms_api::KmsGrpcClient;
use cang_meta_api::{IdentityStore, MetaError, MetaGrpcClient};
use tonic::transport::ClientTlsConfig;

use crate::cmd::instance::{Credentials, InstanceDir, InstanceState, new_account_id};

/// Name of the account created on first start.
pub const FIRST_ACCOUNT_NAME: &str = "default";

/// What the instance publishes in `credentials.env` besides the key: where to reach it.
#[derive(Debug, Clone)]
pub struct Published {
    /// `OSS_ENDPOINT`.
    pub endpoint: String,
    /// `KMS_ENDPOINT`.
    pub kms_endpoint: String,
    /// `KMS_GRPC_ENDPOINT` and `KMS_GRPC_CA`.
    pub kms_grpc: (String, String),
    /// `OSS_REGION`.
    pub region: String,
    /// `CONSOLE_URL`.
    pub console_url: String,
}

/// The instance's credentials: read back when they exist (the endpoints updated if the listen addresses
/// changed), else created. Returns them and whether they were created now.
pub async fn ensure_credentials(
    dir: &InstanceDir,
    state: &mut InstanceState,
    kms: SocketAddr,
    meta: SocketAddr,
    tls: &ClientTlsConfig,
    published: Published,
) -> anyhow::Result<(Credentials, bool)> {
    let Published {
        endpoint,
        kms_endpoint,
        kms_grpc,
        region,
        console_url,
    } = published;
    if let Some(mut existing) = dir.load_credentials()? {
        if existing.endpoint != endpoint
            || existing.region != region
            || existing.kms_endpoint.as_deref() != Some(kms_endpoint.as_str())
            || existing.kms_grpc.as_ref() != Some(&kms_grpc)
            || existing.console_url.as_deref() != Some(console_url.as_str())
        {
            existing.endpoint = endpoint;
            existing.region = region;
            existing.kms_endpoint = Some(kms_endpoint);
            existing.kms_grpc = Some(kms_grpc);
            existing.console_url = Some(console_url);
            dir.save_credentials(&existing)?;
        }
        return Ok((existing, false));
    }
    // Record the id before creating it, so an interrupted first start resumes with the same account.
    let account = match &state.account_id {
        Some(id) => id.clone(),
        None => {
            let id = new_account_id()?;
            state.account_id = Some(id.clone());
            dir.save_state(state)?;
            id
        }
    };
    let kms = KmsGrpcClient::connect_lazy(&kms.to_string(), tls.clone())?;
    let meta = MetaGrpcClient::connect_lazy(&meta.to_string(), tls.clone())?;
    match meta.create_account(&account, FIRST_ACCOUNT_NAME).await {
        Ok(_) | Err(MetaError::AlreadyExists(_)) => {}
        Err(e) => return Err(e).context("creating the first account"),
    }
    let key = cang_access_keys::create_access_key(&kms, &meta, &account, None)
        .await
        .context("creating the account's access key")?;
    let credentials = Credentials {
        endpoint,
        access_key_id: key.access_key_id,
        access_key_secret: key.access_key_secret,
        region,
        kms_endpoint: Some(kms_endpoint),
        kms_grpc: Some(kms_grpc),
        console_url: Some(console_url),
    };
    dir.save_credentials(&credentials)?;
    Ok((credentials, true))
}

/// What `cang up` prints once every service is healthy.
pub fn banner(dir: &InstanceDir, credentials: &Credentials, created: bool, account: Option<&str>) -> String {
    let root = dir.root().display();
    let first = if created { " (created now)" } else { "" };
    format!(
        "cang is up: {endpoint}  (region {region})\n\
         \x20 console        {console}  (sign in with OSS_ACCESS_KEY_ID and OSS_ACCESS_KEY_SECRET of credentials.env)\n\
         \x20 KMS OpenAPI    {kms}  (Alibaba KMS SDKs, protocol http)\n\
         \x20 KMS gRPC       {grpc}  (cang.kms.app.v1 over TLS; CA certificate {grpc_ca})\n\
         \n\
         \x20 account        {account}{first}\n\
         \x20 access key id  {key}\n\
         \x20 credentials    {creds}  (OSS_ENDPOINT, OSS_ACCESS_KEY_ID, OSS_ACCESS_KEY_SECRET, OSS_REGION, \
         KMS_ENDPOINT, KMS_GRPC_ENDPOINT, KMS_GRPC_CA, CONSOLE_URL)\n\
         \x20 logs           {logs}\n\
         \x20 admin          cang admin --data-dir {root} kms list-keys\n\
         \n\
         Python (pip install oss2), after `set -a; . {creds}; set +a`:\n\
         \x20 import os, oss2\n\
         \x20 oss2.Bucket(oss2.AuthV4(os.environ['OSS_ACCESS_KEY_ID'], os.environ['OSS_ACCESS_KEY_SECRET']), \
         '{endpoint}', 'demo', region='{region}').create_bucket()\n\
         \n\
         Ctrl-C stops all services.",
        endpoint = credentials.endpoint,
        region = credentials.region,
        console = credentials.console_url.as_deref().unwrap_or("-"),
        kms = credentials.kms_endpoint.as_deref().unwrap_or("-"),
        grpc = credentials.kms_grpc.as_ref().map_or("-", |(e, _)| e.as_str()),
        grpc_ca = credentials.kms_grpc.as_ref().map_or("-", |(_, ca)| ca.as_str()),
        account = account.unwrap_or("-"),
        key = credentials.access_key_id,
        creds = dir.credentials().display(),
        logs = dir.logs().display(),
    )
}
