//! Generated protobuf messages and tonic services for Cang's internal gRPC APIs (`cang.kms.v1`,
//! `cang.meta.v1`, …). The module tree mirrors the proto packages, e.g. `cang_proto::cang::kms::v1`.
//!
//! Messages that carry plaintext key material or secrets have no `Debug` implementation (see `build.rs`),
//! so they cannot end up in a log line or an error message by accident.

#![allow(
    // Secret-bearing messages deliberately have no Debug impl.
    missing_debug_implementations,
    // Generated code: documented in the .proto files, which prost copies only where they have comments.
    missing_docs,
    // Generated code: prost emits large enums and doc comments we do not control.
    clippy::all
)]

include!(concat!(env!("OUT_DIR"), "/cang_protos.rs"));

/// Encoded `FileDescriptorSet` of the public application API (`cang.kms.app.v1`), for gRPC reflection.
pub const KMS_APP_FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/cang_kms_app_descriptor.bin"));
