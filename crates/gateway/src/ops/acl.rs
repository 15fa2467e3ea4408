//! GetObjectAcl and PutObjectAcl (§6.16). New objects report `default` (they follow the bucket's ACL).
//!
//! The metadata service changes an object's metadata by a copy onto itself, which shares the stored
//! ciphertext and keeps the encryption record; the bucket and key do not change, so every extent's format
//! context and the data key's binding stay valid. That copy turns an appendable object into a normal one, so
//! the ACL of an appendable object cannot be changed here.

use cang_meta_api::{Acl, CopyObjectRequest, ObjectMeta, ObjectType, Preconditions};
use cang_oss::OssError;
use cang_oss::model::CannedAcl;
use cang_oss::xml::response::{Owner, access_control_policy_xml};
use http::{HeaderMap, Response, StatusCode};

use super::{empty, header_text, xml};
use crate::body::ResponseBody;
use crate::errors::meta_error_for;
use crate::state::{Call, Gateway};

fn canned(acl: Acl) -> CannedAcl {
    match acl {
        Acl::Default => CannedAcl::Default,
        Acl::Private => CannedAcl::Private,
        Acl::PublicRead => CannedAcl::PublicRead,
        Acl::PublicReadWrite => CannedAcl::PublicReadWrite,
    }
}

fn parse_acl(value: &str) -> Result<Acl, OssError> {
    match value {
        "default" => Ok(Acl::Default),
        "private" => Ok(Acl::Private),
        "public-read" => Ok(Acl::PublicRead),
        "public-read-write" => Ok(Acl::PublicReadWrite),
        _ => Err(OssError::invalid_argument("no such object access control exists")),
    }
}

/// GetObjectAcl.
pub async fn get_object_acl(
    gw: &Gateway,
    call: &Call,
    bucket: &str,
    key: &str,
) -> Result<Response<ResponseBody>, OssError> {
    let info = gw
        .meta
        .head_object(bucket, key)
        .await
        .map_err(|e| meta_error_for(e, bucket, key))?;
    let owner = Owner {
        id: call.owner().to_owned(),
        display_name: call.owner().to_owned(),
    };
    Ok(xml(access_control_policy_xml(&owner, canned(info.meta.acl))))
}

/// PutObjectAcl from `x-oss-object-acl`.
pub async fn put_object_acl(
    gw: &Gateway,
    bucket: &str,
    key: &str,
    headers: &HeaderMap,
) -> Result<Response<ResponseBody>, OssError> {
    let acl = parse_acl(
        header_text(headers, "x-oss-object-acl")
            .ok_or_else(|| OssError::invalid_argument("x-oss-object-acl is required."))?,
    )?;
    let info = gw
        .meta
        .head_object(bucket, key)
        .await
        .map_err(|e| meta_error_for(e, bucket, key))?;
    if info.meta.acl == acl {
        return Ok(empty(StatusCode::OK));
    }
    if info.object_type == ObjectType::Appendable {
        return Err(OssError::operation_not_supported(
            "The ACL of an appendable object cannot be changed.",
        ));
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
    gw.meta
        .copy_object(request)
        .await
        .map_err(|e| meta_error_for(e, bucket, key))?;
    Ok(empty(StatusCode::OK))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_acl_round_trips_through_its_wire_name() {
        for acl in [Acl::Default, Acl::Private, Acl::PublicRead, Acl::PublicReadWrite] {
            assert_eq!(parse_acl(canned(acl).as_str()).unwrap(), acl);
        }
        assert!(parse_acl("public").is_err());
    }
}
