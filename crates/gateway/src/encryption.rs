//! Which encryption an object gets and how its key is obtained and recovered.
//!
//! Effective encryption = the request's SSE headers, else the bucket's default rule, else none. A copy never
//! inherits its source's encryption. "None" is what the API reports; at rest, such objects are sealed too,
//! under the instance storage key (a record with algorithm `None`). The stored record of an encrypted object is meta's `ObjectSse`, whose
//! `wrapped_key` holds one binding byte (0: the key is bound to the object, 1: a bucket key) followed by the
//! crypto service's ciphertext blob.
//!
//! Obtaining and recovering a key are spans of their own (`sse.protect`, `sse.recover_key`) carrying the
//! algorithm, the key id and version and whether a cache answered; never the key itself.

use bytes::Bytes;
use cang_kms_api::{AccountId, KeyRef, ServiceKeySuite, WrappedDataKey};
use cang_meta_api::{
    BucketEncryptionRule, DataEncryption as MetaDataEncryption, ObjectSse, SseAlgorithm as MetaAlgorithm,
    WrappingKey,
};
use cang_oss::OssError;
use cang_oss::headers::sse::{DataEncryption, SseAlgorithm, SseRule};
use cang_policy::ConditionContext;
use cang_sse::Suite;
use tracing::Instrument;

use crate::authorize::{Principal, authorize_kms, kms_key_arn};
use crate::errors::kms_error_for;
use crate::keys::{IssuedKey, KeyBinding, MasterKey};
use crate::state::Gateway;

const BINDING_OBJECT: u8 = 0;
const BINDING_BUCKET: u8 = 1;

/// The bucket default rule in protocol terms.
pub fn rule_from_bucket(rule: &BucketEncryptionRule) -> Option<SseRule> {
    let algorithm = match rule.algorithm {
        MetaAlgorithm::None => return None,
        MetaAlgorithm::Aes256 => SseAlgorithm::Aes256,
        MetaAlgorithm::Sm4 => SseAlgorithm::Sm4,
        MetaAlgorithm::Kms => SseAlgorithm::Kms,
    };
    Some(SseRule {
        algorithm,
        kms_key_id: rule.kms_key_id.clone(),
        data_encryption: rule.data_encryption.map(|_| DataEncryption::Sm4),
    })
}

/// The protocol rule as a stored bucket rule.
pub fn rule_to_bucket(rule: &SseRule) -> BucketEncryptionRule {
    BucketEncryptionRule {
        algorithm: meta_algorithm(rule.algorithm),
        kms_key_id: rule.kms_key_id.clone(),
        data_encryption: rule.data_encryption.map(|_| MetaDataEncryption::Sm4),
    }
}

/// The stored algorithm of a protocol one.
pub(crate) fn meta_algorithm(a: SseAlgorithm) -> MetaAlgorithm {
    match a {
        SseAlgorithm::Aes256 => MetaAlgorithm::Aes256,
        SseAlgorithm::Sm4 => MetaAlgorithm::Sm4,
        SseAlgorithm::Kms => MetaAlgorithm::Kms,
    }
}

/// Request headers win over the bucket default.
pub fn effective_rule(requested: Option<SseRule>, bucket: Option<&BucketEncryptionRule>) -> Option<SseRule> {
    requested.or_else(|| bucket.and_then(rule_from_bucket))
}

/// The master key of a rule for objects of `owner`.
pub fn master_key(rule: &SseRule, owner: &str) -> Result<MasterKey, OssError> {
    Ok(match rule.algorithm {
        SseAlgorithm::Aes256 => MasterKey::Service(ServiceKeySuite::Aes256),
        SseAlgorithm::Sm4 => MasterKey::Service(ServiceKeySuite::Sm4),
        SseAlgorithm::Kms => {
            let account = AccountId::new(owner).map_err(|e| kms_error_for(e, ""))?;
            let name = rule.kms_key_id.as_deref().unwrap_or("alias/acs/oss");
            let key = KeyRef::parse(name).map_err(|e| kms_error_for(e, name))?;
            MasterKey::Kms { account, key }
        }
    })
}

impl Gateway {
    /// Obtains a data key for a new object (or a multipart upload) under `rule`, checking the caller's
    /// `kms:GenerateDataKey` permission on a customer key first.
    pub async fn protect(
        &self,
        principal: &Principal,
        context: &ConditionContext,
        rule: &SseRule,
        owner: &str,
        bucket: &str,
        key: &str,
    ) -> Result<(IssuedKey, ObjectSse, SseRule), OssError> {
        let master = master_key(rule, owner)?;
        let named = rule
            .kms_key_id
            .clone()
            .unwrap_or_else(|| "alias/acs/oss".to_owned());
        if let (
            MasterKey::Kms {
                account,
                key: key_ref,
            },
            Principal::RamUser { .. },
        ) = (&master, principal)
        {
            let meta = self
                .kms
                .describe_key(account, key_ref)
                .await
                .map_err(|e| kms_error_for(e, &named))?;
            let arn = kms_key_arn(&self.config.region, owner, meta.key_id.as_str());
            authorize_kms(principal, &["kms:GenerateDataKey"], &arn, context)?;
        }
        let bucket_key = match master {
            MasterKey::Service(_) => self.config.bucket_keys_for_sse_oss,
            MasterKey::Kms { .. } => self.config.bucket_keys_for_kms,
        };
        let span = tracing::info_span!("sse.protect", cang.sse.algorithm = rule.algorithm.as_str());
        let issued = self
            .keys
            .issue(&master, bucket, key, bucket_key)
            .instrument(span)
            .await
            .map_err(|e| kms_error_for(e, &named))?;
        let mut echo = rule.clone();
        let key_id = match rule.algorithm {
            SseAlgorithm::Kms => {
                echo.kms_key_id = Some(issued.key_id.as_str().to_owned());
                Some(issued.key_id.as_str().to_owned())
            }
            _ => None,
        };
        let record = ObjectSse {
            algorithm: meta_algorithm(rule.algorithm),
            key_id,
            data_encryption: echo.data_encryption.map(|_| MetaDataEncryption::Sm4),
            wrapped_key: stored_wrapped_key(&issued),
            wrapping: Some(wrapping_of(&issued)),
        };
        Ok((issued, record, echo))
    }

    /// Obtains a data key for a new object (or multipart upload) that has no server-side encryption: its
    /// bytes are still sealed at rest, under the instance storage key, so a stolen data directory reveals
    /// nothing. The record's algorithm stays `None`: reads report no SSE, as OSS does for such objects.
    pub async fn protect_at_rest(&self, bucket: &str, key: &str) -> Result<(IssuedKey, ObjectSse), OssError> {
        let master = MasterKey::Service(ServiceKeySuite::Storage);
        let span = tracing::info_span!("sse.protect", cang.sse.algorithm = "at-rest");
        let issued = self
            .keys
            .issue(&master, bucket, key, self.config.bucket_keys_for_sse_oss)
            .instrument(span)
            .await
            .map_err(|e| kms_error_for(e, ""))?;
        let record = ObjectSse {
            algorithm: MetaAlgorithm::None,
            key_id: None,
            data_encryption: None,
            wrapped_key: stored_wrapped_key(&issued),
            wrapping: Some(wrapping_of(&issued)),
        };
        Ok((issued, record))
    }

    /// Recovers the data key of a stored object (checking `kms:Decrypt` on a customer key for RAM users).
    pub async fn recover_key(
        &self,
        principal: &Principal,
        context: &ConditionContext,
        record: &ObjectSse,
        owner: &str,
        bucket: &str,
        key: &str,
    ) -> Result<std::sync::Arc<cang_sse::DataKey>, OssError> {
        let corrupt = || {
            tracing::error!(bucket, key, "stored encryption record is malformed");
            OssError::internal_error()
        };
        let (binding, blob) = split_stored(&record.wrapped_key, bucket, key).ok_or_else(corrupt)?;
        let kms_key = record.algorithm == MetaAlgorithm::Kms;
        let named = record.key_id.clone().unwrap_or_default();
        if kms_key {
            let arn = kms_key_arn(&self.config.region, owner, &named);
            authorize_kms(principal, &["kms:Decrypt"], &arn, context)?;
        }
        let account = AccountId::new(owner).map_err(|e| kms_error_for(e, &named))?;
        let wrapped = WrappedDataKey(Bytes::copy_from_slice(blob));
        let cacheable = !kms_key || matches!(binding, KeyBinding::Bucket { .. });
        let algorithm = echo_of(record).map_or("none", |rule| rule.algorithm.as_str());
        let span = tracing::info_span!("sse.recover_key", cang.sse.algorithm = algorithm);
        self.keys
            .unwrap(&account, &wrapped, &binding, cacheable)
            .instrument(span)
            .await
            .map_err(|e| kms_error_for(e, &named))
    }
}

/// The key version that wrapped an issued key, for the inventory.
fn wrapping_of(issued: &IssuedKey) -> WrappingKey {
    WrappingKey {
        key_id: issued.key_id.as_str().to_owned(),
        version_id: issued.key_version.clone(),
    }
}

fn binding_byte(binding: &KeyBinding) -> u8 {
    match binding {
        KeyBinding::Object { .. } => BINDING_OBJECT,
        KeyBinding::Bucket { .. } => BINDING_BUCKET,
    }
}

/// The stored form of an issued key: the binding byte, then the crypto service's ciphertext blob.
fn stored_wrapped_key(issued: &IssuedKey) -> Vec<u8> {
    join_stored(&issued.binding, &issued.wrapped.0)
}

/// A stored wrapped key made of what the key is bound to and the crypto service's blob.
pub(crate) fn join_stored(binding: &KeyBinding, blob: &[u8]) -> Vec<u8> {
    let mut wrapped = Vec::with_capacity(blob.len() + 1);
    wrapped.push(binding_byte(binding));
    wrapped.extend_from_slice(blob);
    wrapped
}

/// What the stored wrapped key of object `key` in `bucket` is bound to, and the crypto service's blob;
/// `None` if the record is malformed.
pub(crate) fn split_stored<'a>(wrapped: &'a [u8], bucket: &str, key: &str) -> Option<(KeyBinding, &'a [u8])> {
    let (&byte, blob) = wrapped.split_first()?;
    let binding = match byte {
        BINDING_OBJECT => KeyBinding::Object {
            bucket: bucket.to_owned(),
            object: key.to_owned(),
        },
        BINDING_BUCKET => KeyBinding::Bucket {
            bucket: bucket.to_owned(),
        },
        _ => return None,
    };
    Some((binding, blob))
}

/// The data cipher of a stored record (objects sealed only at rest use AES-256-GCM).
pub fn suite_of_record(record: &ObjectSse) -> Suite {
    match (record.algorithm, record.data_encryption) {
        (MetaAlgorithm::Sm4, _) | (MetaAlgorithm::Kms, Some(MetaDataEncryption::Sm4)) => Suite::Sm4Gcm,
        _ => Suite::Aes256Gcm,
    }
}

/// The rule a stored object's response headers echo.
pub fn echo_of(record: &ObjectSse) -> Option<SseRule> {
    let algorithm = match record.algorithm {
        MetaAlgorithm::None => return None,
        MetaAlgorithm::Aes256 => SseAlgorithm::Aes256,
        MetaAlgorithm::Sm4 => SseAlgorithm::Sm4,
        MetaAlgorithm::Kms => SseAlgorithm::Kms,
    };
    Some(SseRule {
        algorithm,
        kms_key_id: record.key_id.clone(),
        data_encryption: record.data_encryption.map(|_| DataEncryption::Sm4),
    })
}
