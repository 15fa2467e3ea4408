//! Cang's metadata/blob service: a redb store of buckets, objects, multipart uploads, ciphertext
//! blobs and identities.

mod store;

pub use store::{
    BlobUsage, CHUNK_SIZE, DeleteOutcome, ObjectReader, StagedBlob, StagedBlobWriter, Store,
    validate_policy_document,
};
