//! The conformance cases, written once against `&dyn KmsApi` (through a [`Subject`]). Each starts
//! on an empty service at `T0` and asserts exact results and exact errors.

mod data;
mod names;
mod states;

pub use data::*;
pub use names::*;
pub use states::*;

use cang_kms_api::{AccountId, KeyOrigin, KeyRef, KmsApi, RotationPolicy};

pub use crate::subjects::Subject;

/// Another account than `common::acct()`.
pub fn other_acct() -> AccountId {
    AccountId::new("2222222222").unwrap_or_else(|_| unreachable!("a valid account id"))
}

/// A fresh key of `common::acct()`.
pub async fn new_key(kms: &dyn KmsApi, origin: KeyOrigin) -> anyhow::Result<KeyRef> {
    let rotation = RotationPolicy::new(false, 0)?;
    Ok(KeyRef::Id(
        kms.create_key(crate::common::create(origin, rotation))
            .await?
            .key_id,
    ))
}

/// `alias/<name>`.
pub fn alias(name: &str) -> anyhow::Result<cang_kms_api::AliasName> {
    Ok(cang_kms_api::AliasName::new(format!("alias/{name}"))?)
}
