//! Conversions between the inventory and rewrap domain types and their protobuf messages.

use cang_proto::cang::meta::v1 as pb;

use crate::convert::{algorithm_from_pb, algorithm_to_pb, bad};
use crate::{InventoryEntry, InventoryQuery, MetaError, RewrapObject, WrappingKey};

impl From<WrappingKey> for pb::WrappingKey {
    fn from(w: WrappingKey) -> Self {
        Self {
            key_id: w.key_id,
            version_id: w.version_id,
        }
    }
}

impl TryFrom<pb::WrappingKey> for WrappingKey {
    type Error = MetaError;
    fn try_from(w: pb::WrappingKey) -> Result<Self, MetaError> {
        if w.key_id.is_empty() || w.version_id.is_empty() {
            return Err(bad("wrapping key"));
        }
        Ok(Self {
            key_id: w.key_id,
            version_id: w.version_id,
        })
    }
}

impl From<InventoryQuery> for pb::KeyInventoryRequest {
    fn from(q: InventoryQuery) -> Self {
        Self {
            bucket: q.bucket,
            key_id: q.key_id,
        }
    }
}

impl From<pb::KeyInventoryRequest> for InventoryQuery {
    fn from(q: pb::KeyInventoryRequest) -> Self {
        Self {
            bucket: q.bucket,
            key_id: q.key_id,
        }
    }
}

impl From<InventoryEntry> for pb::InventoryEntry {
    fn from(e: InventoryEntry) -> Self {
        Self {
            bucket: e.bucket,
            algorithm: algorithm_to_pb(e.algorithm),
            wrapping: e.wrapping.map(Into::into),
            objects: e.objects,
            bytes: e.bytes,
            uploads: e.uploads,
        }
    }
}

impl TryFrom<pb::InventoryEntry> for InventoryEntry {
    type Error = MetaError;
    fn try_from(e: pb::InventoryEntry) -> Result<Self, MetaError> {
        Ok(Self {
            bucket: e.bucket,
            algorithm: algorithm_from_pb(e.algorithm)?,
            wrapping: e.wrapping.map(TryInto::try_into).transpose()?,
            objects: e.objects,
            bytes: e.bytes,
            uploads: e.uploads,
        })
    }
}

impl From<RewrapObject> for pb::RewrapObjectRequest {
    fn from(r: RewrapObject) -> Self {
        Self {
            bucket: r.bucket,
            key: r.key,
            expected_wrapped_key: r.expected_wrapped_key.into(),
            wrapped_key: r.wrapped_key.into(),
            wrapping: Some(r.wrapping.into()),
            upload_id: r.upload_id,
        }
    }
}

impl TryFrom<pb::RewrapObjectRequest> for RewrapObject {
    type Error = MetaError;
    fn try_from(r: pb::RewrapObjectRequest) -> Result<Self, MetaError> {
        if r.expected_wrapped_key.is_empty() || r.wrapped_key.is_empty() {
            return Err(bad("wrapped key"));
        }
        Ok(Self {
            bucket: r.bucket,
            key: r.key,
            upload_id: r.upload_id,
            expected_wrapped_key: r.expected_wrapped_key.to_vec(),
            wrapped_key: r.wrapped_key.to_vec(),
            wrapping: r.wrapping.ok_or_else(|| bad("wrapping key"))?.try_into()?,
        })
    }
}
