//! Authorisation against stored state: an object's effective ACL, looked up in the metadata service, and
//! the key-by-key check of batch operations. The decisions themselves are `authorize`'s.

use cang_meta_api::{MetaError, Preconditions};

use crate::authorize::{AclNeed, Permission, PublicAccess, Verdict, decide, oss_arn, policy_verdict};
use crate::errors::Failure;
use crate::state::{Call, Gateway, KnownObject, StoredWindow};

impl Gateway {
    /// Looks up `bucket/key` for its ACL; with `reads`, also its stored bytes when they are small enough to
    /// come with the record, so a GetObject needs no second lookup.
    pub(crate) async fn look_up_object(
        &self,
        bucket: &str,
        key: &str,
        reads: bool,
    ) -> Result<KnownObject, Failure> {
        let found = if reads {
            let limit = crate::pipeline::read::INLINE_READ_MAX;
            self.meta
                .get_small_object(bucket, key, None, Preconditions::default(), limit)
                .await
        } else {
            self.meta.head_object(bucket, key).await.map(|info| (info, None))
        };
        match found {
            Ok((info, bytes)) => Ok(KnownObject::Found(
                Box::new(info),
                bytes.map(|bytes| StoredWindow { start: 0, bytes }),
            )),
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
                    .look_up_object(&bucket.name, key, false)
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
