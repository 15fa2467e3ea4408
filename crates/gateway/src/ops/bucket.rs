//! Bucket operations: create, delete, list, info, location, ACL, stat and default encryption.

use std::time::{Duration, SystemTime};

use crate::body::RequestBody;
use cang_meta_api::{Acl, Bucket, ListBucketsQuery, NewBucket};
use cang_oss::OssError;
use cang_oss::headers::sse::{SSE, SSE_DATA, SSE_KEY_ID, SseRule};
use cang_oss::model::{CannedAcl, DataRedundancyType, StorageClass};
use cang_oss::route::endpoint::ListBucketsParams;
use cang_oss::xml::request::{
    CreateBucketConfiguration, bucket_encryption_xml, parse_access_control_policy, parse_bucket_encryption,
};
use cang_oss::xml::response::{
    BucketInfo, BucketStat, BucketSummary, ListBucketsResult, Owner, access_control_policy_xml,
    location_constraint_xml,
};
use http::{HeaderMap, StatusCode};

use super::{Reply, bucket_acl, canned_acl, empty, header_text, read_small_body, xml};
use crate::authorize::{authorize_kms, kms_key_arn};
use crate::encryption::{rule_from_bucket, rule_to_bucket};
use crate::state::{Call, Gateway};

fn owner(id: &str) -> Owner {
    Owner {
        id: id.to_owned(),
        display_name: id.to_owned(),
    }
}

fn acl_header(headers: &HeaderMap) -> Result<Acl, OssError> {
    match header_text(headers, "x-oss-acl") {
        None => Ok(Acl::Private),
        Some(value) => CannedAcl::parse(value)
            .map_err(|_| OssError::invalid_argument("no such bucket access control exists"))
            .and_then(bucket_acl),
    }
}

fn summary(gw: &Gateway, b: &Bucket) -> BucketSummary {
    BucketSummary {
        name: b.name.clone(),
        creation_date: SystemTime::UNIX_EPOCH + Duration::from_millis(b.created_ms),
        location: b.location.clone(),
        region: gw.config.region.clone(),
        extranet_endpoint: format!("{}.aliyuncs.com", b.location),
        intranet_endpoint: format!("{}-internal.aliyuncs.com", b.location),
        storage_class: StorageClass::Standard,
    }
}

/// A RAM user naming a customer key as a bucket default needs `kms:List*` and `kms:DescribeKey` on it.
async fn check_default_key(gw: &Gateway, call: &Call, rule: &SseRule) -> Result<(), OssError> {
    let Some(key) = rule.kms_key_id.as_deref() else {
        return Ok(());
    };
    if !matches!(call.principal, crate::authorize::Principal::RamUser { .. }) {
        return Ok(());
    }
    let arn = kms_key_arn(&gw.config.region, call.owner(), key);
    authorize_kms(
        &call.principal,
        &["kms:ListKeys", "kms:ListAliases", "kms:DescribeKey"],
        &arn,
        &call.context,
    )
}

/// ListBuckets: the caller's own buckets.
pub async fn list_buckets(gw: &Gateway, call: &Call, params: ListBucketsParams) -> Reply {
    let Some(account) = call.principal.account() else {
        return Err(OssError::access_denied("Anonymous access is forbidden for this operation.").into());
    };
    let max_keys = params.max_keys.unwrap_or(100);
    let page = gw
        .meta
        .list_buckets(ListBucketsQuery {
            owner: account.to_owned(),
            prefix: params.prefix.clone().unwrap_or_default(),
            marker: params.marker.clone().unwrap_or_default(),
            max_keys,
        })
        .await?;
    let result = ListBucketsResult {
        prefix: params.prefix,
        marker: params.marker,
        max_keys,
        is_truncated: page.is_truncated,
        next_marker: page.next_marker,
        owner: owner(account),
        buckets: page.buckets.iter().map(|b| summary(gw, b)).collect(),
    };
    Ok(xml(result.to_xml()))
}

/// PutBucket, honouring SSE headers as the bucket's default rule. Re-creating one's own bucket succeeds.
pub async fn put_bucket(
    gw: &Gateway,
    call: &Call,
    bucket: &str,
    headers: &HeaderMap,
    body: RequestBody,
) -> Reply {
    let Some(account) = call.principal.account() else {
        return Err(OssError::access_denied("Anonymous access is forbidden for this operation.").into());
    };
    let acl = acl_header(headers)?;
    let config = CreateBucketConfiguration::parse(&read_small_body(body, gw.config.max_xml_body).await?)?;
    if config
        .data_redundancy_type
        .is_some_and(|d| d != DataRedundancyType::Lrs && d != DataRedundancyType::Zrs)
    {
        return Err(OssError::invalid_argument("No such data redundancy type exists.").into());
    }
    let encryption = match header_text(headers, SSE) {
        Some(algorithm) => {
            let rule = SseRule::bucket_default(
                algorithm,
                header_text(headers, SSE_KEY_ID),
                header_text(headers, SSE_DATA),
            )?;
            check_default_key(gw, call, &rule).await?;
            Some(rule_to_bucket(&rule))
        }
        None => None,
    };
    let new = NewBucket {
        name: bucket.to_owned(),
        owner: account.to_owned(),
        location: gw.config.location.clone(),
        acl,
        encryption,
    };
    match gw.meta.create_bucket(new).await {
        Ok(_) => Ok(empty(StatusCode::OK)),
        Err(cang_meta_api::MetaError::BucketAlreadyExists) => {
            let existing = gw.meta.get_bucket(bucket).await?;
            if existing.owner == account {
                Ok(empty(StatusCode::OK))
            } else {
                Err(OssError::bucket_already_exists(bucket).into())
            }
        }
        Err(e) => Err(e.into()),
    }
}

/// DeleteBucket.
pub async fn delete_bucket(gw: &Gateway, bucket: &str) -> Reply {
    gw.meta.delete_bucket(bucket).await?;
    Ok(empty(StatusCode::NO_CONTENT))
}

fn loaded(call: &Call) -> Result<&Bucket, OssError> {
    call.bucket
        .as_ref()
        .ok_or_else(|| OssError::no_such_bucket(call.route.bucket().unwrap_or("")))
}

/// GetBucketInfo, with the default encryption rule.
pub async fn get_bucket_info(gw: &Gateway, call: &Call) -> Reply {
    let b = loaded(call)?;
    let info = BucketInfo {
        summary: summary(gw, b),
        data_redundancy_type: DataRedundancyType::Lrs,
        owner: owner(&b.owner),
        acl: canned_acl(b.acl),
        comment: String::new(),
        encryption: b.encryption.as_ref().and_then(rule_from_bucket),
    };
    Ok(xml(info.to_xml()))
}

/// GetBucketLocation.
pub fn get_bucket_location(_gw: &Gateway, call: &Call) -> Reply {
    Ok(xml(location_constraint_xml(&loaded(call)?.location)))
}

/// GetBucketAcl.
pub fn get_bucket_acl(call: &Call) -> Reply {
    let b = loaded(call)?;
    Ok(xml(access_control_policy_xml(
        &owner(&b.owner),
        canned_acl(b.acl),
    )))
}

/// PutBucketAcl: from `x-oss-acl`, or an `AccessControlPolicy` body.
pub async fn put_bucket_acl(gw: &Gateway, bucket: &str, headers: &HeaderMap, body: RequestBody) -> Reply {
    let acl = if headers.contains_key("x-oss-acl") {
        acl_header(headers)?
    } else {
        bucket_acl(parse_access_control_policy(
            &read_small_body(body, gw.config.max_xml_body).await?,
        )?)?
    };
    gw.meta.set_bucket_acl(bucket, acl).await?;
    Ok(empty(StatusCode::OK))
}

/// GetBucketStat.
pub async fn get_bucket_stat(gw: &Gateway, bucket: &str) -> Reply {
    let stats = gw.meta.bucket_stats(bucket).await?;
    let stat = BucketStat {
        storage: stats.storage_bytes,
        object_count: stats.object_count,
        multipart_upload_count: stats.multipart_upload_count,
    };
    Ok(xml(stat.to_xml()))
}

/// PutBucketEncryption. The key is not checked against the KMS (as OSS does); uploads surface its state.
pub async fn put_bucket_encryption(gw: &Gateway, call: &Call, bucket: &str, body: RequestBody) -> Reply {
    let rule = parse_bucket_encryption(&read_small_body(body, gw.config.max_xml_body).await?)?;
    check_default_key(gw, call, &rule).await?;
    gw.meta
        .set_bucket_encryption(bucket, Some(rule_to_bucket(&rule)))
        .await?;
    Ok(empty(StatusCode::OK))
}

/// GetBucketEncryption: 404 `NoSuchServerSideEncryptionRule` without a rule.
pub fn get_bucket_encryption(call: &Call, bucket: &str) -> Reply {
    match loaded(call)?.encryption.as_ref().and_then(rule_from_bucket) {
        Some(rule) => Ok(xml(bucket_encryption_xml(&rule))),
        None => Err(OssError::no_such_server_side_encryption_rule(bucket).into()),
    }
}

/// DeleteBucketEncryption: 204 whether or not a rule existed.
pub async fn delete_bucket_encryption(gw: &Gateway, bucket: &str) -> Reply {
    match gw.meta.set_bucket_encryption(bucket, None).await {
        Ok(_) | Err(cang_meta_api::MetaError::NoSuchEncryptionRule) => Ok(empty(StatusCode::NO_CONTENT)),
        Err(e) => Err(e.into()),
    }
}
