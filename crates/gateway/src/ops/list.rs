//! ListObjects (v1) and ListObjectsV2: one page from the metadata service's listing, rendered in each
//! version's shape. V2 continuation tokens are the base64url form of the key the next page starts after, so
//! they survive `encoding-type=url` decoding in every SDK.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use cang_meta_api::{ListObjectsPage, ListObjectsQuery, ObjectInfo};
use cang_oss::OssError;
use cang_oss::model::{ObjectType, StorageClass};
use cang_oss::route::endpoint::{ListObjectsParams, ListObjectsV2Params};
use cang_oss::xml::response::{ListObjectsResult, ListObjectsV2Result, ObjectSummary, Owner};

use super::{Reply, xml};
use crate::errors::Failure;
use crate::state::{Call, Gateway};

/// Page size when the request names none.
const DEFAULT_MAX_KEYS: u32 = 100;

fn summary(info: &ObjectInfo, owner: Option<&Owner>) -> ObjectSummary {
    ObjectSummary {
        key: info.key.clone(),
        last_modified: info.last_modified(),
        etag: info.etag.clone(),
        object_type: match info.object_type {
            cang_meta_api::ObjectType::Normal => ObjectType::Normal,
            cang_meta_api::ObjectType::Multipart => ObjectType::Multipart,
            cang_meta_api::ObjectType::Appendable => ObjectType::Appendable,
        },
        size: info.size,
        storage_class: StorageClass::Standard,
        owner: owner.cloned(),
    }
}

fn bucket_owner(call: &Call) -> Owner {
    let id = call.owner().to_owned();
    Owner {
        display_name: id.clone(),
        id,
    }
}

async fn page(gw: &Gateway, bucket: &str, query: ListObjectsQuery) -> Result<ListObjectsPage, Failure> {
    Ok(gw.meta.list_objects(bucket, query).await?)
}

/// The continuation token that resumes a listing after `key`.
pub fn continuation_token(key: &str) -> String {
    URL_SAFE_NO_PAD.encode(key.as_bytes())
}

/// The key a continuation token resumes after.
pub fn resume_after(token: &str) -> Result<String, OssError> {
    URL_SAFE_NO_PAD
        .decode(token.as_bytes())
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .ok_or_else(|| OssError::invalid_argument("The continuation token provided is incorrect."))
}

/// ListObjects (v1).
pub async fn list_objects(gw: &Gateway, call: &Call, bucket: &str, params: ListObjectsParams) -> Reply {
    let max_keys = params.max_keys.unwrap_or(DEFAULT_MAX_KEYS);
    let query = ListObjectsQuery {
        prefix: params.prefix.clone().unwrap_or_default(),
        delimiter: params.delimiter.clone().unwrap_or_default(),
        start_after: params.marker.clone().unwrap_or_default(),
        max_keys,
    };
    let page = page(gw, bucket, query).await?;
    let owner = bucket_owner(call);
    let result = ListObjectsResult {
        name: bucket.to_owned(),
        prefix: params.prefix,
        marker: params.marker,
        max_keys,
        delimiter: params.delimiter,
        encoding_url: params.encoding_url,
        is_truncated: page.is_truncated,
        next_marker: page.next_marker,
        contents: page.objects.iter().map(|o| summary(o, Some(&owner))).collect(),
        common_prefixes: page.common_prefixes,
    };
    Ok(xml(result.to_xml()))
}

/// ListObjectsV2.
pub async fn list_objects_v2(gw: &Gateway, call: &Call, bucket: &str, params: ListObjectsV2Params) -> Reply {
    let max_keys = params.max_keys.unwrap_or(DEFAULT_MAX_KEYS);
    let resumed = params
        .continuation_token
        .as_deref()
        .map(resume_after)
        .transpose()?
        .unwrap_or_default();
    let start_after = params.start_after.clone().unwrap_or_default().max(resumed);
    let query = ListObjectsQuery {
        prefix: params.prefix.clone().unwrap_or_default(),
        delimiter: params.delimiter.clone().unwrap_or_default(),
        start_after,
        max_keys,
    };
    let page = page(gw, bucket, query).await?;
    let owner = params.fetch_owner.then(|| bucket_owner(call));
    let result = ListObjectsV2Result {
        name: bucket.to_owned(),
        prefix: params.prefix,
        start_after: params.start_after,
        continuation_token: params.continuation_token,
        max_keys,
        delimiter: params.delimiter,
        encoding_url: params.encoding_url,
        fetch_owner: params.fetch_owner,
        is_truncated: page.is_truncated,
        next_continuation_token: page.next_marker.as_deref().map(continuation_token),
        contents: page.objects.iter().map(|o| summary(o, owner.as_ref())).collect(),
        common_prefixes: page.common_prefixes,
    };
    Ok(xml(result.to_xml()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn tokens_are_url_safe_and_bad_tokens_are_refused() {
        let token = continuation_token("dir/a b+c?&=é");
        assert!(
            token
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        );
        assert_eq!(resume_after(&token).unwrap(), "dir/a b+c?&=é");
        assert!(resume_after("not base64!").is_err());
        assert!(resume_after(&URL_SAFE_NO_PAD.encode([0xff, 0xfe])).is_err());
    }

    proptest! {
        #[test]
        fn every_key_round_trips_through_a_token(key in "\\PC{0,64}") {
            prop_assert_eq!(resume_after(&continuation_token(&key)).unwrap(), key);
        }
    }
}
