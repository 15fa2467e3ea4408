//! Who may do what: the RAM actions and resources each OSS operation needs, and their evaluation against
//! the caller's policies.
//!
//! An account's root access key may do anything to the account's own resources. A RAM user may do what
//! its attached policies allow, within its account. Anonymous callers may read from public-read buckets and
//! also write to public-read-write ones. The KMS permissions of an encrypted upload (`kms:GenerateDataKey`)
//! or download (`kms:Decrypt`) are checked separately, once the key is known.

use std::sync::Arc;

use cang_oss::{Endpoint, OssError};
use cang_policy::{ConditionContext, Policy, Request, evaluate};

/// The authenticated caller of a request.
#[derive(Debug, Clone)]
pub enum Principal {
    /// No signature: the request relies on the bucket's ACL.
    Anonymous,
    /// An account's root access key.
    AccountRoot {
        /// The account.
        account: String,
        /// The access key id used.
        access_key_id: String,
    },
    /// A RAM user of an account.
    RamUser {
        /// The account the user belongs to.
        account: String,
        /// User name.
        user: String,
        /// The access key id used.
        access_key_id: String,
        /// Policies attached to the user.
        policies: Arc<Vec<Policy>>,
    },
}

impl Principal {
    /// The account the caller acts for, if any.
    pub fn account(&self) -> Option<&str> {
        match self {
            Self::Anonymous => None,
            Self::AccountRoot { account, .. } | Self::RamUser { account, .. } => Some(account),
        }
    }

    /// The principal id policies and audit records see (`<account>` or `<account>:<user>`).
    pub fn id(&self) -> String {
        match self {
            Self::Anonymous => "anonymous".to_owned(),
            Self::AccountRoot { account, .. } => account.clone(),
            Self::RamUser { account, user, .. } => format!("{account}:{user}"),
        }
    }
}

/// A bucket's canned ACL, as far as authorisation cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PublicAccess {
    /// Only the owner's principals.
    Private,
    /// Anyone may read objects.
    PublicRead,
    /// Anyone may read and write objects.
    PublicReadWrite,
}

/// One RAM permission a request needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Permission {
    /// `oss:PutObject`, `kms:Decrypt`, ….
    pub action: &'static str,
    /// The resource ARN.
    pub resource: String,
}

/// The OSS resource ARN of a bucket (`key = None`) or an object.
pub fn oss_arn(owner: &str, bucket: &str, key: Option<&str>) -> String {
    match key {
        Some(key) => format!("acs:oss:*:{owner}:{bucket}/{key}"),
        None => format!("acs:oss:*:{owner}:{bucket}"),
    }
}

/// The KMS resource ARN of a key.
pub fn kms_key_arn(region: &str, account: &str, key_id: &str) -> String {
    format!("acs:kms:{region}:{account}:key/{key_id}")
}

/// The RAM action an operation is authorised by (docs: OSS RAM overview).
pub fn oss_action(endpoint: &Endpoint) -> &'static str {
    match endpoint {
        Endpoint::ListBuckets(_) => "oss:ListBuckets",
        Endpoint::PutBucket { .. } => "oss:PutBucket",
        Endpoint::DeleteBucket { .. } => "oss:DeleteBucket",
        Endpoint::HeadBucket { .. } | Endpoint::GetBucketInfo { .. } => "oss:GetBucketInfo",
        Endpoint::GetBucketLocation { .. } => "oss:GetBucketLocation",
        Endpoint::GetBucketAcl { .. } => "oss:GetBucketAcl",
        Endpoint::PutBucketAcl { .. } => "oss:PutBucketAcl",
        Endpoint::GetBucketStat { .. } => "oss:GetBucketStat",
        Endpoint::PutBucketEncryption { .. } => "oss:PutBucketEncryption",
        Endpoint::GetBucketEncryption { .. } => "oss:GetBucketEncryption",
        Endpoint::DeleteBucketEncryption { .. } => "oss:DeleteBucketEncryption",
        Endpoint::ListObjects { .. } | Endpoint::ListObjectsV2 { .. } => "oss:ListObjects",
        Endpoint::ListMultipartUploads { .. } => "oss:ListMultipartUploads",
        Endpoint::DeleteMultipleObjects { .. } | Endpoint::DeleteObject { .. } => "oss:DeleteObject",
        Endpoint::PutObject { .. }
        | Endpoint::CopyObject { .. }
        | Endpoint::AppendObject { .. }
        | Endpoint::InitiateMultipartUpload { .. }
        | Endpoint::UploadPart { .. }
        | Endpoint::UploadPartCopy { .. }
        | Endpoint::CompleteMultipartUpload { .. } => "oss:PutObject",
        Endpoint::GetObject { .. } | Endpoint::HeadObject { .. } | Endpoint::GetObjectMeta { .. } => {
            "oss:GetObject"
        }
        Endpoint::GetObjectAcl { .. } => "oss:GetObjectAcl",
        Endpoint::PutObjectAcl { .. } => "oss:PutObjectAcl",
        Endpoint::AbortMultipartUpload { .. } => "oss:AbortMultipartUpload",
        Endpoint::ListParts { .. } => "oss:ListParts",
    }
}

/// Every OSS permission the operation needs: its own action on its bucket or object, plus `oss:GetObject` on
/// the source of a copy. `owner` is the bucket owner's account (the source bucket's owner for the source).
pub fn oss_permissions(endpoint: &Endpoint, owner: &str, source_owner: Option<&str>) -> Vec<Permission> {
    let mut needed = Vec::with_capacity(2);
    let resource = match endpoint.bucket() {
        Some(bucket) => oss_arn(owner, bucket, endpoint.key()),
        None => format!("acs:oss:*:{owner}:*"),
    };
    needed.push(Permission {
        action: oss_action(endpoint),
        resource,
    });
    if let Some(source) = endpoint.copy_source() {
        needed.push(Permission {
            action: "oss:GetObject",
            resource: oss_arn(source_owner.unwrap_or(owner), &source.bucket, Some(&source.key)),
        });
    }
    needed
}

/// Whether anonymous callers may perform the operation on a bucket with this ACL.
fn anonymous_allowed(endpoint: &Endpoint, access: PublicAccess) -> bool {
    let read = matches!(
        endpoint,
        Endpoint::GetObject { .. } | Endpoint::HeadObject { .. } | Endpoint::GetObjectMeta { .. }
    );
    let write = matches!(
        endpoint,
        Endpoint::PutObject { .. } | Endpoint::AppendObject { .. } | Endpoint::DeleteObject { .. }
    );
    match access {
        PublicAccess::Private => false,
        PublicAccess::PublicRead => read,
        PublicAccess::PublicReadWrite => read || write,
    }
}

/// Checks `needed` for `principal` on resources owned by `owner`. `access` is the bucket's ACL (private for
/// service-level operations).
pub fn authorize(
    principal: &Principal,
    endpoint: &Endpoint,
    needed: &[Permission],
    owner: &str,
    access: PublicAccess,
    context: &ConditionContext,
) -> Result<(), OssError> {
    match principal {
        Principal::Anonymous if anonymous_allowed(endpoint, access) && needed.len() == 1 => Ok(()),
        Principal::Anonymous => Err(acl_denied()),
        Principal::AccountRoot { account, .. } => {
            if account == owner || anonymous_allowed(endpoint, access) {
                Ok(())
            } else {
                Err(acl_denied())
            }
        }
        Principal::RamUser {
            account, policies, ..
        } => {
            if account != owner {
                // Another account's bucket: only what its ACL grants to everyone.
                return if anonymous_allowed(endpoint, access) {
                    Ok(())
                } else {
                    Err(acl_denied())
                };
            }
            for permission in needed {
                let request = Request::new(permission.action, &permission.resource, context);
                if !evaluate(policies, &request).is_allowed() {
                    return Err(OssError::access_denied(
                        "You are forbidden to perform this operation because of the RAM policy.",
                    ));
                }
            }
            Ok(())
        }
    }
}

fn acl_denied() -> OssError {
    OssError::access_denied("You have no right to access this object because of bucket acl.")
}

/// Checks a KMS permission (`kms:GenerateDataKey` on upload, `kms:Decrypt` on download, `kms:DescribeKey`
/// and `kms:List*` when setting a bucket default) for a RAM user; roots and anonymous readers of public
/// objects pass. The denial is OSS's KMS message.
pub fn authorize_kms(
    principal: &Principal,
    actions: &[&'static str],
    key_arn: &str,
    context: &ConditionContext,
) -> Result<(), OssError> {
    let Principal::RamUser { policies, .. } = principal else {
        return Ok(());
    };
    for action in actions {
        if !evaluate(policies, &Request::new(action, key_arn, context)).is_allowed() {
            return Err(OssError::kms_access_denied());
        }
    }
    Ok(())
}
