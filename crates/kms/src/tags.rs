//! Tags on CMKs: kept in the key's own record, so they are sealed, committed and loaded with it.

use cang_kms_api::{AccountId, KeyId, KeyRef, KmsError, Tag, apply_tags, tags_of, validate_tag_key};

use crate::keyring::Keyring;

impl Keyring {
    /// `TagResource` on an account's key.
    pub(crate) async fn tag(
        &self,
        account: &AccountId,
        key: &KeyRef,
        tags: &[Tag],
    ) -> Result<KeyId, KmsError> {
        let rec = self
            .update_key(account, key, |_, rec| apply_tags(&mut rec.tags, tags))
            .await?;
        KeyId::new(rec.id)
    }

    /// `UntagResource`: tag keys the key does not hold are ignored.
    pub(crate) async fn untag(
        &self,
        account: &AccountId,
        key: &KeyRef,
        tag_keys: &[String],
    ) -> Result<KeyId, KmsError> {
        for tag_key in tag_keys {
            validate_tag_key(tag_key)?;
        }
        let rec = self
            .update_key(account, key, |_, rec| {
                for tag_key in tag_keys {
                    rec.tags.remove(tag_key);
                }
                Ok(())
            })
            .await?;
        KeyId::new(rec.id)
    }

    /// `ListResourceTags`.
    pub(crate) fn tags(&self, account: &AccountId, key: &KeyRef) -> Result<(KeyId, Vec<Tag>), KmsError> {
        let rec = self.resolve(account, key)?;
        Ok((KeyId::new(rec.id.clone())?, tags_of(&rec.tags)))
    }
}
