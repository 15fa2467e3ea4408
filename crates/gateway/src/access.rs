//! Authorisation against stored state: an object's effective ACL, looked up in the metadata service, and
//! the key-by-key check of batch operations. The decisions themselves are `authorize`'s.

use bytes::Bytes;
use cang_meta_api::{MetaError, ObjectInfo, Preconditions};

use crate::authorize::{AclNeed, Permission, PublicAccess, Verdict, decide, oss_arn, policy_verdict};
use crate::errors::Failure;
use crate::state::{Call, Gateway};

impl Gateway {
    /// The effective ACL of `bucket/key` (its own unless `default`, else `bucket_access`) and the object, when
    /// it exists; with `reads`, also its stored bytes when they are small enough to come with the record, so a
    /// GetObject needs no second lookup.
    pub(crate) async fn object_access(
        &self,
        bucket: &str,
        key: &str,
        bucket_access: PublicAccess,
        reads: bool,
    ) -> Result<(PublicAccess, Option<ObjectInfo>, Option<Bytes>), Failure> {
        let found = if reads {
            let limit = crate::pipeline::read::INLINE_READ_MAX;
            self.meta
                .get_small_object(bucket, key, None, Preconditions::default(), limit)
                .await
        } else {
            self.meta.head_object(bucket, key).await.map(|info| (info, None))
        };
        match found {
            Ok((info, bytes)) => Ok((
                PublicAccess::of_object(info.meta.acl, bucket_access),
                Some(info),
                bytes,
            )),
            Err(MetaError::NoSuchKey) => Ok((bucket_access, None, None)),
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
                Verdict::Implicit => {
                    self.object_access(&bucket.name, key, bucket_access, false)
                        .await?
                        .0
                }
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
