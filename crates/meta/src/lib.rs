//! Cang's metadata/blob service: a redb store of buckets, objects, multipart uploads, ciphertext
//! blobs and identities ([`Store`]), the async [`MetaService`] over it, the per-caller rules
//! ([`MetaSession`]: identity writes are the admin's), and [`run`], which serves it over gRPC with
//! mutual TLS.

mod server;
mod service;
mod session;
mod store;

pub use server::{DB_FILE, MetaConfig, StartupError, open_store, run, serve};
pub use service::{MAX_CHUNK, MetaService};
pub use session::MetaSession;
pub use store::{
    BlobUsage, CHUNK_SIZE, ObjectReader, SnapshotRows, StagedBlob, StagedBlobWriter, Store,
    validate_policy_document,
};
