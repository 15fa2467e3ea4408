//! GetObjectAcl and PutObjectAcl (§6.16). New objects report `default` (they follow the bucket's ACL).
//!
//! The metadata service changes an object's metadata by a copy onto itself, which shares the stored
//! ciphertext and keeps the encryption record; the bucket and key do not change, so every extent's format
//! context and the data key's binding stay valid. That copy turns an appendable object into a normal one, so
//! the ACL of an appendable object cannot be changed here.

use cang_meta_api::{CopyObjectRequest, ObjectMeta, ObjectType, Preconditions};
use cang_oss::OssError;
use cang_oss::xml::response::{Owner, access_control_policy_xml};
use http::{HeaderMap, StatusCode};

use super::{Reply, canned_acl, empty, header_text, object_acl, xml};
use crate::state::{Call, Gateway};

/// GetObjectAcl.
pub async fn get_object_acl(gw: &Gateway, call: &Call, bucket: &str, key: &str) -> Reply {
    let info = gw.meta.head_object(bucket, key).await?;
    let owner = Owner {
        id: call.owner().to_owned(),
        display_name: call.owner().to_owned(),
    };
    Ok(xml(access_control_policy_xml(&owner, canned_acl(info.meta.acl))))
}

/// PutObjectAcl from `x-oss-object-acl`.
pub async fn put_object_acl(gw: &Gateway, bucket: &str, key: &str, headers: &HeaderMap) -> Reply {
    let acl = object_acl(
        header_text(headers, "x-oss-object-acl")
            .ok_or_else(|| OssError::invalid_argument("x-oss-object-acl is required."))?,
    )?;
    let info = gw.meta.head_object(bucket, key).await?;
    if info.meta.acl == acl {
        return Ok(empty(StatusCode::OK));
    }
    if info.object_type == ObjectType::Appendable {
        return Err(
            OssError::operation_not_supported("The ACL of an appendable object cannot be changed.").into(),
        );
    }
    let request = CopyObjectRequest {
        src_bucket: bucket.to_owned(),
        src_key: key.to_owned(),
        dst_bucket: bucket.to_owned(),
        dst_key: key.to_owned(),
        // Only the version just read is changed; a concurrent overwrite wins instead of losing its ACL.
        source_conditions: Preconditions {
            if_match: Some(info.etag.clone()),
            ..Preconditions::default()
        },
        replace_meta: Some(ObjectMeta { acl, ..info.meta }),
        forbid_overwrite: false,
    };
    gw.meta.copy_object(request).await?;
    Ok(empty(StatusCode::OK))
}
