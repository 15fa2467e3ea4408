//! Shared fixtures of the in-process keyring tests: a service opened on a temporary directory with a
//! manual clock, sessions acting as a given identity, and the BYOK wrapping done by a key owner.

// Each test binary uses a different subset of these helpers.
#![allow(dead_code)]

pub mod grpc;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use cang_kms::{KeyringConfig, KmsService, KmsSession, ManualClock, StartupError};
use cang_kms_api::{
    AccountId, CreateKeyRequest, EncryptionContext, KeyOrigin, KeyRef, KeySpec, KmsApi, KmsForCaller,
    RotationPolicy,
};
use cang_tls::ServiceIdentity;
use rsa::pkcs8::DecodePublicKey;

/// A fixed start time (2027-01-15), far from the Unix epoch so "in the past" is meaningful.
pub const T0: i64 = 1_800_000_000;

pub const DAY: i64 = 86_400;

/// Opens the service under `dir` (creating the root key on first use) with `clock`.
pub fn open(dir: &Path, clock: &ManualClock, config: KeyringConfig) -> Result<Arc<KmsService>, StartupError> {
    let root = dir.join("root.key");
    if !root.exists() {
        cang_kms::RootKey::generate(&root)?;
    }
    cang_kms::open_service(&dir.join("data"), &root, Arc::new(clock.clone()), config)
}

/// Reopens the service after `previous` is dropped: the audit writer thread owns a handle on the
/// keystore until it has drained, so the database lock is released shortly after the drop.
pub async fn reopen(
    dir: &Path,
    clock: &ManualClock,
    previous: Arc<KmsService>,
) -> anyhow::Result<Arc<KmsService>> {
    drop(previous);
    let mut last = None;
    for _ in 0..50 {
        match open(dir, clock, KeyringConfig::default()) {
            Ok(service) => return Ok(service),
            Err(StartupError::Keystore(e)) => {
                last = Some(e);
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => return Err(e.into()),
        }
    }
    anyhow::bail!("keystore still locked after restart: {last:?}")
}

pub fn admin(service: &KmsService) -> KmsSession {
    service.for_caller(ServiceIdentity::Admin)
}

pub fn gateway(service: &KmsService) -> KmsSession {
    service.for_caller(ServiceIdentity::Gateway)
}

pub fn acct() -> AccountId {
    AccountId::new("1234567890").unwrap_or_else(|_| unreachable!("a valid account id"))
}

pub fn ctx(object: &str) -> EncryptionContext {
    EncryptionContext::from([("bucket", "b1"), ("object", object)])
}

pub fn create(origin: KeyOrigin, rotation: RotationPolicy) -> CreateKeyRequest {
    CreateKeyRequest {
        account: acct(),
        description: "test".into(),
        spec: KeySpec::Aes256,
        origin,
        rotation,
    }
}

pub fn no_rotation() -> RotationPolicy {
    RotationPolicy {
        enabled: false,
        interval_seconds: 365 * DAY as u64,
    }
}

/// Wraps `material` with the public key of an import parameter set, as a key owner does.
pub fn wrap_material(public_key_der: &[u8], material: &[u8]) -> anyhow::Result<Vec<u8>> {
    let public = rsa::PublicKey::from_public_key_der(public_key_der)?;
    Ok(public.encrypt(&mut rand::rng(), rsa::Oaep::<sha2::Sha256>::new(), material)?)
}

/// Runs the whole import flow for `key` with `material`.
pub async fn import(kms: &impl KmsApi, key: &KeyRef, material: &[u8]) -> anyhow::Result<()> {
    let params = kms.get_parameters_for_import(&acct(), key).await?;
    let wrapped = wrap_material(&params.public_key, material)?;
    kms.import_key_material(&acct(), key, &wrapped, &params.import_token, None)
        .await?;
    Ok(())
}
