//! Authorisation against stored state: an object's effective ACL, looked up in the metadata service, and
//! the key-by-key check of batch operations. The decisions themselves are `authorize`'s.

use cang_meta_api::MetaError;

use crate::authorize::{AclNeed, Permission, PublicAccess, Verdict, decide, oss_arn, policy_verdict};
use crate::errors::Failure;
use crate::state::{Call, Gateway, KnownObject};

impl Gateway {
    /// Looks up `bucket/key` for its ACL.
    pub(crate) async fn look_up_object(&self, bucket: &str, key: &str) -> Result<KnownObject, Failure> {
        match self.meta.head_object(bucket, key).await {
            Ok(info) => Ok(KnownObject::Found(Box::new(info), None)),
            Err(MetaError::NoSuchKey) => Ok(KnownObject::Absent),
            Err(e) => Err(Failure::meta_at(e, bucket, key)),
        }
    }

    /// Authorises `action` on each of `keys` of the call's bucket (DeleteMultipleObjects): every key is
    /// decided as its single-object operation would be, object ACLs included, before anything changes.
    pub(crate) async fn authorize_keys(
        &self,
        call: &Call,
        action: &'static str,
        need: AclNeed,
        keys: &[String],
    ) -> Result<(), Failure> {
        let Some(bucket) = call.bucket.as_ref() else {
            return Err(cang_oss::OssError::internal_error().into());
        };
        let bucket_access = PublicAccess::of_bucket(bucket.acl);
        for key in keys {
            let needed = [Permission {
                action,
                resource: oss_arn(&bucket.owner, &bucket.name, Some(key)),
            }];
            let access = match policy_verdict(&call.principal, &needed, &bucket.owner, &call.context) {
                Verdict::Implicit => self
                    .look_up_object(&bucket.name, key)
                    .await?
                    .access(bucket_access),
                Verdict::Allow | Verdict::ExplicitDeny => bucket_access,
            };
            decide(
                &call.principal,
                &needed,
                Some(need),
                &bucket.owner,
                access,
                &call.context,
            )?;
        }
        Ok(())
    }
}
