//! What the in-process edge tests stand on: the real keyring and metadata store in a temporary
//! directory, and the edge over them, seeing meta as the `kms` identity (so meta's per-caller rule is
//! exercised too).

use std::path::Path;
use std::sync::Arc;

use cang_kms::{KeyringConfig, KmsService, SystemClock};
use cang_kms_openapi::{OpenApi, OpenApiConfig};
use cang_meta::MetaService;
use cang_meta_api::{MetaApi, MetaForCaller};
use cang_tls::ServiceIdentity;

/// The crypto service and the metadata service, both on files below `dir`.
pub fn services(dir: &Path) -> anyhow::Result<(Arc<KmsService>, MetaService)> {
    let root = dir.join("root.key");
    cang_kms::RootKey::generate(&root)?;
    let kms = cang_kms::open_service(
        &dir.join("kms"),
        &root,
        Arc::new(SystemClock),
        KeyringConfig::default(),
    )?;
    let meta = MetaService::new(cang_meta::open_store(&dir.join("meta"))?);
    Ok((kms, meta))
}

/// The edge over `kms` with `config`, authenticating callers through `meta`.
pub fn edge(kms: &Arc<KmsService>, meta: &MetaService, config: OpenApiConfig) -> OpenApi<KmsService> {
    let edge_meta: Arc<dyn MetaApi> = Arc::new(meta.for_caller(ServiceIdentity::Kms));
    OpenApi::new(Arc::clone(kms), edge_meta, cang_kms::ciphertext_key_id, config)
}
