//! What an audit record says about the key a call used: its id and version, read off the result.

use cang_kms_api::{DataKey, Decrypted, ImportParameters, KeyId, KeyMetadata, KeyVersion, Tag, WrappedKey};

/// What the audit record says about the key a result used.
pub(crate) trait KeyUse {
    fn key_use(&self) -> (String, String);
}

macro_rules! key_use {
    ($t:ty, $id:ident, $ver:ident) => {
        impl KeyUse for $t {
            fn key_use(&self) -> (String, String) {
                (self.$id.to_string(), self.$ver.to_string())
            }
        }
    };
}
key_use!(DataKey, key_id, key_version_id);
key_use!(WrappedKey, key_id, key_version_id);
key_use!(Decrypted, key_id, key_version_id);
key_use!(KeyVersion, key_id, key_version_id);
key_use!(KeyMetadata, key_id, primary_key_version);
impl KeyUse for ImportParameters {
    fn key_use(&self) -> (String, String) {
        (self.key_id.to_string(), String::new())
    }
}
impl KeyUse for () {
    fn key_use(&self) -> (String, String) {
        (String::new(), String::new())
    }
}
impl KeyUse for KeyId {
    fn key_use(&self) -> (String, String) {
        (self.to_string(), String::new())
    }
}
impl KeyUse for (KeyId, Vec<Tag>) {
    fn key_use(&self) -> (String, String) {
        self.0.key_use()
    }
}

/// A listing: audited without a key.
pub(crate) struct Listed<T>(pub T);
impl<T> KeyUse for Listed<T> {
    fn key_use(&self) -> (String, String) {
        (String::new(), String::new())
    }
}
