//! Who may do what: the RAM actions and resources each OSS operation needs, and their evaluation against
//! the caller's policies.
//!
//! An account's root access key may do anything to the account's own resources. A RAM user may do what
//! its attached policies allow, within its account; an explicit Deny binds it everywhere. What identity
//! leaves undecided, the effective ACL decides: an object's own ACL unless it is `default`, else its
//! bucket's — for anonymous callers, other accounts and same-account RAM users alike. The KMS permissions of an encrypted upload (`kms:GenerateDataKey`)
//! or download (`kms:Decrypt`) are checked separately, once the key is known.

use std::sync::Arc;

use cang_meta_api::Acl;
use cang_oss::{Endpoint, OssError};
use cang_policy::{ConditionContext, Decision, Policy, Request, evaluate};

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

    /// The caller as the crypto service's audit names it; `None` for anonymous callers.
    pub fn end_user(&self) -> Option<cang_kms_api::EndUser> {
        match self {
            Self::Anonymous => None,
            Self::AccountRoot {
                account,
                access_key_id,
            } => Some(cang_kms_api::EndUser {
                account: account.clone(),
                user: None,
                access_key_id: access_key_id.clone(),
                source_ip: None,
            }),
            Self::RamUser {
                account,
                user,
                access_key_id,
                ..
            } => Some(cang_kms_api::EndUser {
                account: account.clone(),
                user: Some(user.clone()),
                access_key_id: access_key_id.clone(),
                source_ip: None,
            }),
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

/// A canned ACL as authorisation sees it: the bucket's, or an object's own when it is not `default`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PublicAccess {
    /// Only the owner's principals.
    Private,
    /// Anyone may read.
    PublicRead,
    /// Anyone may read and write.
    PublicReadWrite,
}

impl PublicAccess {
    /// A bucket's ACL (`default` does not apply to buckets and reads as private).
    pub fn of_bucket(acl: Acl) -> Self {
        match acl {
            Acl::PublicRead => Self::PublicRead,
            Acl::PublicReadWrite => Self::PublicReadWrite,
            Acl::Private | Acl::Default => Self::Private,
        }
    }

    /// The effective ACL of an object: its own, unless `default`, then its bucket's.
    pub fn of_object(object: Acl, bucket: Self) -> Self {
        match object {
            Acl::Default => bucket,
            Acl::Private => Self::Private,
            Acl::PublicRead => Self::PublicRead,
            Acl::PublicReadWrite => Self::PublicReadWrite,
        }
    }

    /// Whether this ACL grants everyone `need`.
    pub fn grants(self, need: AclNeed) -> bool {
        match (self, need) {
            (Self::Private, _) => false,
            (Self::PublicRead, AclNeed::Read) => true,
            (Self::PublicRead, AclNeed::Write) => false,
            (Self::PublicReadWrite, _) => true,
        }
    }
}

/// What a public ACL would have to grant for an operation to be allowed without a policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AclNeed {
    /// Reading an object or listing a bucket.
    Read,
    /// Writing or deleting an object.
    Write,
}

/// Where the ACL that decides an operation lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AclScope {
    /// The bucket's ACL (listings).
    Bucket,
    /// The addressed object's effective ACL.
    Object,
}

/// The ACL grant an operation can be allowed by, and whose ACL it is; `None` when no ACL grants it (only the
/// owner or a policy can). DeleteMultipleObjects is decided per key, as DeleteObject.
pub fn acl_need(endpoint: &Endpoint) -> Option<(AclNeed, AclScope)> {
    match endpoint {
        Endpoint::GetObject { .. } | Endpoint::HeadObject { .. } | Endpoint::GetObjectMeta { .. } => {
            Some((AclNeed::Read, AclScope::Object))
        }
        Endpoint::ListObjects { .. } | Endpoint::ListObjectsV2 { .. } => {
            Some((AclNeed::Read, AclScope::Bucket))
        }
        Endpoint::PutObject { .. }
        | Endpoint::AppendObject { .. }
        | Endpoint::DeleteObject { .. }
        | Endpoint::DeleteMultipleObjects { .. } => Some((AclNeed::Write, AclScope::Object)),
        _ => None,
    }
}

/// What the caller's identity (account ownership and RAM policies) says about a request, before ACLs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// The owner's root, or a RAM user of the owner whose policies allow every needed permission.
    Allow,
    /// A RAM policy explicitly denies one of the permissions: nothing else can allow it.
    ExplicitDeny,
    /// Nothing decided: only an ACL can still allow it.
    Implicit,
}

/// Decides `needed` by identity alone. A RAM user's explicit Deny binds it even on another account's
/// resources; its Allow only grants within its own account.
pub fn policy_verdict(
    principal: &Principal,
    needed: &[Permission],
    owner: &str,
    context: &ConditionContext,
) -> Verdict {
    match principal {
        Principal::Anonymous => Verdict::Implicit,
        Principal::AccountRoot { account, .. } if account == owner => Verdict::Allow,
        Principal::AccountRoot { .. } => Verdict::Implicit,
        Principal::RamUser {
            account, policies, ..
        } => {
            let id = principal.id();
            let mut all_allowed = true;
            for permission in needed {
                let request = Request::new(permission.action, &permission.resource, context).by(&id);
                match evaluate(policies, &request) {
                    Decision::ExplicitDeny(_) => return Verdict::ExplicitDeny,
                    Decision::Allow(_) => {}
                    Decision::ImplicitDeny => all_allowed = false,
                }
            }
            if all_allowed && account == owner {
                Verdict::Allow
            } else {
                Verdict::Implicit
            }
        }
    }
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

/// Checks `needed` for `principal` on resources owned by `owner`. `access` is the effective ACL of what the
/// operation addresses (the object's for object operations, the bucket's otherwise; private for service
/// operations). Order: identity (explicit Deny wins, then Allow), then the ACL for a single-permission
/// operation an ACL can grant.
pub fn authorize(
    principal: &Principal,
    endpoint: &Endpoint,
    needed: &[Permission],
    owner: &str,
    access: PublicAccess,
    context: &ConditionContext,
) -> Result<(), OssError> {
    let need = acl_need(endpoint).map(|(need, _)| need);
    decide(principal, needed, need, owner, access, context)
}

/// [`authorize`] for a request whose ACL need is known (e.g. one key of a DeleteMultipleObjects).
pub fn decide(
    principal: &Principal,
    needed: &[Permission],
    need: Option<AclNeed>,
    owner: &str,
    access: PublicAccess,
    context: &ConditionContext,
) -> Result<(), OssError> {
    match policy_verdict(principal, needed, owner, context) {
        Verdict::Allow => Ok(()),
        Verdict::ExplicitDeny => Err(policy_denied()),
        Verdict::Implicit => {
            let granted = needed.len() == 1 && need.is_some_and(|need| access.grants(need));
            match principal {
                _ if granted => Ok(()),
                Principal::RamUser { account, .. } if account == owner => Err(policy_denied()),
                _ => Err(acl_denied()),
            }
        }
    }
}

/// The refusal of a RAM policy.
pub fn policy_denied() -> OssError {
    OssError::access_denied("You are forbidden to perform this operation because of the RAM policy.")
}

/// The refusal of an ACL.
pub fn acl_denied() -> OssError {
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
    let id = principal.id();
    for action in actions {
        if !evaluate(policies, &Request::new(action, key_arn, context).by(&id)).is_allowed() {
            return Err(OssError::kms_access_denied());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use cang_oss::headers::meta::ResponseOverrides;

    const OWNER: &str = "1001";
    const OTHER: &str = "2002";

    fn ram(account: &str, documents: &[&str]) -> Principal {
        Principal::RamUser {
            account: account.to_owned(),
            user: "alice".to_owned(),
            access_key_id: "LTAIalice".to_owned(),
            policies: Arc::new(
                documents
                    .iter()
                    .map(|d| Policy::parse(d).unwrap_or_else(|e| panic!("{e}")))
                    .collect(),
            ),
        }
    }

    fn root(account: &str) -> Principal {
        Principal::AccountRoot {
            account: account.to_owned(),
            access_key_id: format!("LTAI{account}"),
        }
    }

    const ALLOW_ALL: &str =
        r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"oss:*","Resource":"*"}]}"#;
    const DENY_PROTECTED: &str = r#"{"Version":"1","Statement":[
        {"Effect":"Allow","Action":"oss:*","Resource":"*"},
        {"Effect":"Deny","Action":"oss:DeleteObject","Resource":"acs:oss:*:*:b/protected/*"}]}"#;
    const READ_ONLY: &str = r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":["oss:GetObject","oss:ListObjects"],"Resource":"*"}]}"#;
    const DENY_READS: &str =
        r#"{"Version":"1","Statement":[{"Effect":"Deny","Action":"oss:GetObject","Resource":"*"}]}"#;

    fn get(key: &str) -> Endpoint {
        Endpoint::GetObject {
            bucket: "b".into(),
            key: key.into(),
            overrides: ResponseOverrides::default(),
        }
    }
    fn put(key: &str) -> Endpoint {
        Endpoint::PutObject {
            bucket: "b".into(),
            key: key.into(),
        }
    }
    fn delete(key: &str) -> Endpoint {
        Endpoint::DeleteObject {
            bucket: "b".into(),
            key: key.into(),
        }
    }
    fn list() -> Endpoint {
        Endpoint::ListObjects {
            bucket: "b".into(),
            params: Default::default(),
        }
    }
    fn put_acl() -> Endpoint {
        Endpoint::PutBucketAcl { bucket: "b".into() }
    }

    /// Runs the decision of the gateway for a bucket owned by `OWNER` with the given effective ACL.
    fn allowed(principal: &Principal, endpoint: &Endpoint, access: PublicAccess) -> bool {
        let needed = oss_permissions(endpoint, OWNER, None);
        authorize(
            principal,
            endpoint,
            &needed,
            OWNER,
            access,
            &ConditionContext::new(),
        )
        .is_ok()
    }

    #[test]
    fn effective_acl_is_the_objects_unless_default() {
        use PublicAccess::*;
        assert_eq!(PublicAccess::of_object(Acl::Default, PublicRead), PublicRead);
        assert_eq!(PublicAccess::of_object(Acl::Private, PublicRead), Private);
        assert_eq!(PublicAccess::of_object(Acl::PublicRead, Private), PublicRead);
        assert_eq!(
            PublicAccess::of_object(Acl::PublicReadWrite, Private),
            PublicReadWrite
        );
        assert_eq!(PublicAccess::of_bucket(Acl::Default), Private);
    }

    #[test]
    fn decision_table() {
        use PublicAccess::*;
        let anonymous = Principal::Anonymous;
        let owner = root(OWNER);
        let stranger = root(OTHER);
        let no_policy = ram(OWNER, &[]);
        let full = ram(OWNER, &[ALLOW_ALL]);
        let guarded = ram(OWNER, &[DENY_PROTECTED]);
        let reader = ram(OWNER, &[READ_ONLY]);
        let barred = ram(OWNER, &[DENY_READS]);
        let foreign = ram(OTHER, &[ALLOW_ALL]);
        let foreign_barred = ram(OTHER, &[DENY_READS]);
        #[rustfmt::skip]
        let table: Vec<(&str, &Principal, Endpoint, PublicAccess, bool)> = vec![
            // The owner's root may do anything, whatever the ACL.
            ("owner get private", &owner, get("k"), Private, true),
            ("owner put-acl", &owner, put_acl(), Private, true),
            // Anonymous callers get exactly what the effective ACL grants.
            ("anon get private", &anonymous, get("k"), Private, false),
            ("anon get public-read", &anonymous, get("k"), PublicRead, true),
            ("anon list public-read", &anonymous, list(), PublicRead, true),
            ("anon list private", &anonymous, list(), Private, false),
            ("anon put public-read", &anonymous, put("k"), PublicRead, false),
            ("anon put public-read-write", &anonymous, put("k"), PublicReadWrite, true),
            ("anon delete public-read-write", &anonymous, delete("k"), PublicReadWrite, true),
            ("anon put-acl public-read-write", &anonymous, put_acl(), PublicReadWrite, false),
            // Another account's root: only the ACL.
            ("stranger get private", &stranger, get("k"), Private, false),
            ("stranger get public-read", &stranger, get("k"), PublicRead, true),
            ("stranger put public-read", &stranger, put("k"), PublicRead, false),
            // Same-account RAM users: policy first, then the ACL.
            ("no policy get private", &no_policy, get("k"), Private, false),
            ("no policy get public-read", &no_policy, get("k"), PublicRead, true),
            ("full get private", &full, get("k"), Private, true),
            ("full put-acl", &full, put_acl(), Private, true),
            ("guarded delete protected", &guarded, delete("protected/x"), PublicReadWrite, false),
            ("guarded delete elsewhere", &guarded, delete("open/x"), Private, true),
            ("reader put private", &reader, put("k"), Private, false),
            ("reader put public-read-write", &reader, put("k"), PublicReadWrite, true),
            ("reader get", &reader, get("k"), Private, true),
            // An explicit Deny beats any ACL.
            ("barred get public-read", &barred, get("k"), PublicRead, false),
            ("foreign barred get public-read", &foreign_barred, get("k"), PublicRead, false),
            // A foreign user's Allow grants nothing on this account's resources.
            ("foreign get private", &foreign, get("k"), Private, false),
            ("foreign get public-read", &foreign, get("k"), PublicRead, true),
        ];
        for (name, principal, endpoint, access, expected) in table {
            assert_eq!(allowed(principal, &endpoint, access), expected, "{name}");
        }
    }

    #[test]
    fn a_copy_needs_both_permissions_and_no_acl_can_stand_in() {
        let copy = Endpoint::CopyObject {
            bucket: "b".into(),
            key: "dst".into(),
            source: cang_oss::route::names::CopySource {
                bucket: "b".into(),
                key: "src".into(),
                version_id: None,
            },
        };
        let needed = oss_permissions(&copy, OWNER, None);
        assert_eq!(needed.len(), 2);
        let ctx = ConditionContext::new();
        let writer = ram(
            OWNER,
            &[r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"oss:PutObject","Resource":"*"}]}"#],
        );
        assert!(
            authorize(
                &writer,
                &copy,
                &needed,
                OWNER,
                PublicAccess::PublicReadWrite,
                &ctx
            )
            .is_err()
        );
        assert!(
            authorize(
                &ram(OWNER, &[ALLOW_ALL]),
                &copy,
                &needed,
                OWNER,
                PublicAccess::Private,
                &ctx
            )
            .is_ok()
        );
        assert!(
            authorize(
                &Principal::Anonymous,
                &copy,
                &needed,
                OWNER,
                PublicAccess::PublicReadWrite,
                &ctx
            )
            .is_err()
        );
    }

    #[test]
    fn a_principal_element_binds_the_caller_it_names() {
        // A stored policy from before identity policies refused `Principal`: its Deny still applies.
        let named = ram(
            OWNER,
            &[r#"{"Version":"1","Statement":[
                {"Effect":"Allow","Action":"oss:*","Resource":"*"},
                {"Effect":"Deny","Action":"oss:DeleteObject","Resource":"*","Principal":"1001:alice"}]}"#],
        );
        assert!(!allowed(&named, &delete("k"), PublicAccess::Private));
        assert!(allowed(&named, &get("k"), PublicAccess::Private));
    }

    #[test]
    fn kms_permissions_apply_to_ram_users_only() {
        let ctx = ConditionContext::new();
        let arn = kms_key_arn("cn-hangzhou", OWNER, "key-1");
        let none = ram(OWNER, &[ALLOW_ALL]);
        assert!(authorize_kms(&none, &["kms:Decrypt"], &arn, &ctx).is_err());
        let decrypt = ram(
            OWNER,
            &[
                r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"kms:Decrypt","Resource":"acs:kms:*:1001:key/*"}]}"#,
            ],
        );
        assert!(authorize_kms(&decrypt, &["kms:Decrypt"], &arn, &ctx).is_ok());
        assert!(authorize_kms(&decrypt, &["kms:GenerateDataKey"], &arn, &ctx).is_err());
        assert!(authorize_kms(&root(OWNER), &["kms:Decrypt"], &arn, &ctx).is_ok());
    }
}
