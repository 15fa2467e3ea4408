//! The crypto service's API: the [`KmsApi`] trait (no tonic types), its domain types and the typed
//! [`KmsError`], plus the gRPC client ([`KmsGrpcClient`]) and server ([`KmsGrpcServer`]) adapters.
//! A `KeyDisabled` raised by the server is a `KeyDisabled` in the client; an outage is `Unavailable`.
//! The end user a call is made for travels with it ([`on_behalf_of`]) into the service's audit.
//! With the `memory` feature, `memory::MemoryKms` is an in-memory `KmsApi` for callers' tests.

mod api;
mod audit;
mod client;
mod convert;
mod data_keys;
mod end_user;
mod error;
mod ids;
mod keys;
mod listing;
#[cfg(feature = "memory")]
pub mod memory;
mod server;
mod tags;

pub use api::{KmsApi, KmsForCaller, SnapshotStream};
pub use audit::{
    AuditAnchor, AuditRecord, AuditVerification, JOB_DETAIL_KEYS, JOB_DETAIL_MAX_LEN, JOB_DETAILS_MAX,
    JobAuditEvent, JobKind, JobPhase,
};
pub use client::KmsGrpcClient;
pub use data_keys::{
    ACCESS_KEY_SECRET_PURPOSE, DataKey, Decrypted, EncryptionContext, SecretBytes, WrappedDataKey,
    WrappedKey, data_key_len,
};
pub use end_user::{
    END_USER_ACCESS_KEY_ID_METADATA, END_USER_ACCOUNT_METADATA, END_USER_FIELD_MAX_LEN,
    END_USER_SOURCE_IP_METADATA, END_USER_USER_METADATA, EndUser, current_end_user, on_behalf_of,
};
pub use error::KmsError;
pub use ids::{AccountId, AliasName, DEFAULT_OSS_ALIAS, KeyId, KeyRef};
pub use keys::{
    CreateKeyRequest, DEFAULT_ROTATION_INTERVAL_SECONDS, ImportParameters, KeyMetadata, KeyOrigin, KeySpec,
    KeyState, KeyVersion, RotationPolicy, ServiceKeySuite,
};
pub use listing::{Alias, KeyListEntry, Page, Paged};
pub use server::{KMS_CALLERS, KmsGrpcServer};
pub use tags::{MAX_TAG_LEN, MAX_TAGS_PER_KEY, Tag, apply_tags, tags_of, validate_tag_key};
