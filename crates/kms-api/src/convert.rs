//! Conversions between generated protobuf messages and domain types. Proto → domain is `TryFrom` and
//! validates (the receive edge); domain → proto is infallible.

use cang_proto::cang::kms::v1 as pb;

use crate::{
    AccountId, Alias, AliasName, AuditAnchor, AuditRecord, AuditVerification, DataKey, Decrypted,
    EncryptionContext, EndUser, ImportParameters, KeyId, KeyListEntry, KeyMetadata, KeyOrigin, KeySpec,
    KeyState, KeyVersion, KmsError, Page, Paged, RotationPolicy, ServiceKeySuite, Tag, WrappedDataKey,
    WrappedKey,
};

fn bad(msg: &str) -> KmsError {
    KmsError::InvalidArgument(msg.to_owned())
}

fn opt_time(t: i64) -> Option<i64> {
    (t != 0).then_some(t)
}

pub(crate) fn spec_to_pb(spec: KeySpec) -> pb::KeySpec {
    match spec {
        KeySpec::Aes256 => pb::KeySpec::AliyunAes256,
        KeySpec::Sm4 => pb::KeySpec::AliyunSm4,
    }
}

/// Unspecified means the Alibaba default, `Aliyun_AES_256`.
pub(crate) fn spec_from_pb(v: i32) -> Result<KeySpec, KmsError> {
    match pb::KeySpec::try_from(v).map_err(|_| bad("unknown KeySpec"))? {
        pb::KeySpec::Unspecified | pb::KeySpec::AliyunAes256 => Ok(KeySpec::Aes256),
        pb::KeySpec::AliyunSm4 => Ok(KeySpec::Sm4),
    }
}

pub(crate) fn origin_to_pb(origin: KeyOrigin) -> pb::KeyOrigin {
    match origin {
        KeyOrigin::AliyunKms => pb::KeyOrigin::AliyunKms,
        KeyOrigin::External => pb::KeyOrigin::External,
    }
}

/// Unspecified means the Alibaba default, `Aliyun_KMS`.
pub(crate) fn origin_from_pb(v: i32) -> Result<KeyOrigin, KmsError> {
    match pb::KeyOrigin::try_from(v).map_err(|_| bad("unknown Origin"))? {
        pb::KeyOrigin::Unspecified | pb::KeyOrigin::AliyunKms => Ok(KeyOrigin::AliyunKms),
        pb::KeyOrigin::External => Ok(KeyOrigin::External),
    }
}

fn state_to_pb(state: KeyState) -> pb::KeyState {
    match state {
        KeyState::Enabled => pb::KeyState::Enabled,
        KeyState::Disabled => pb::KeyState::Disabled,
        KeyState::PendingDeletion => pb::KeyState::PendingDeletion,
        KeyState::PendingImport => pb::KeyState::PendingImport,
    }
}

fn state_from_pb(v: i32) -> Result<KeyState, KmsError> {
    match pb::KeyState::try_from(v).map_err(|_| bad("unknown KeyState"))? {
        pb::KeyState::Unspecified => Err(bad("missing KeyState")),
        pb::KeyState::Enabled => Ok(KeyState::Enabled),
        pb::KeyState::Disabled => Ok(KeyState::Disabled),
        pb::KeyState::PendingDeletion => Ok(KeyState::PendingDeletion),
        pb::KeyState::PendingImport => Ok(KeyState::PendingImport),
    }
}

pub(crate) fn suite_to_pb(suite: ServiceKeySuite) -> pb::ServiceKeySuite {
    match suite {
        ServiceKeySuite::Aes256 => pb::ServiceKeySuite::Aes256,
        ServiceKeySuite::Sm4 => pb::ServiceKeySuite::Sm4,
        ServiceKeySuite::Storage => pb::ServiceKeySuite::Storage,
    }
}

pub(crate) fn suite_from_pb(v: i32) -> Result<ServiceKeySuite, KmsError> {
    match pb::ServiceKeySuite::try_from(v).map_err(|_| bad("unknown suite"))? {
        pb::ServiceKeySuite::Unspecified => Err(bad("missing suite")),
        pb::ServiceKeySuite::Aes256 => Ok(ServiceKeySuite::Aes256),
        pb::ServiceKeySuite::Sm4 => Ok(ServiceKeySuite::Sm4),
        pb::ServiceKeySuite::Storage => Ok(ServiceKeySuite::Storage),
    }
}

pub(crate) fn context_from_pb(map: std::collections::HashMap<String, String>) -> EncryptionContext {
    EncryptionContext(map.into_iter().collect())
}

pub(crate) fn context_to_pb(ctx: &EncryptionContext) -> std::collections::HashMap<String, String> {
    ctx.0.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
}

impl From<KeyMetadata> for pb::KeyMetadata {
    fn from(m: KeyMetadata) -> Self {
        Self {
            key_id: m.key_id.as_str().to_owned(),
            account: m.account.as_str().to_owned(),
            arn: m.arn,
            description: m.description,
            key_spec: spec_to_pb(m.spec).into(),
            origin: origin_to_pb(m.origin).into(),
            key_state: state_to_pb(m.state).into(),
            creation_date: m.creation_date,
            delete_date: m.delete_date.unwrap_or(0),
            material_expire_time: m.material_expire_time.unwrap_or(0),
            automatic_rotation: m.rotation.enabled,
            rotation_interval_seconds: m.rotation.interval_seconds,
            last_rotation_date: m.last_rotation_date,
            next_rotation_date: m.next_rotation_date.unwrap_or(0),
            primary_key_version: m.primary_key_version,
        }
    }
}

impl TryFrom<pb::KeyMetadata> for KeyMetadata {
    type Error = KmsError;
    fn try_from(m: pb::KeyMetadata) -> Result<Self, KmsError> {
        Ok(Self {
            key_id: KeyId::new(m.key_id)?,
            account: AccountId::new(m.account)?,
            arn: m.arn,
            description: m.description,
            spec: spec_from_pb(m.key_spec)?,
            origin: origin_from_pb(m.origin)?,
            state: state_from_pb(m.key_state)?,
            creation_date: m.creation_date,
            delete_date: opt_time(m.delete_date),
            material_expire_time: opt_time(m.material_expire_time),
            rotation: RotationPolicy {
                enabled: m.automatic_rotation,
                interval_seconds: m.rotation_interval_seconds,
            },
            last_rotation_date: m.last_rotation_date,
            next_rotation_date: opt_time(m.next_rotation_date),
            primary_key_version: m.primary_key_version,
        })
    }
}

impl From<KeyVersion> for pb::KeyVersion {
    fn from(v: KeyVersion) -> Self {
        Self {
            key_id: v.key_id.as_str().to_owned(),
            key_version_id: v.key_version_id,
            creation_date: v.creation_date,
        }
    }
}

impl TryFrom<pb::KeyVersion> for KeyVersion {
    type Error = KmsError;
    fn try_from(v: pb::KeyVersion) -> Result<Self, KmsError> {
        Ok(Self {
            key_id: KeyId::new(v.key_id)?,
            key_version_id: v.key_version_id,
            creation_date: v.creation_date,
        })
    }
}

impl From<Alias> for pb::Alias {
    fn from(a: Alias) -> Self {
        Self {
            alias_name: a.name.as_str().to_owned(),
            alias_arn: a.arn,
            key_id: a.key_id.as_str().to_owned(),
        }
    }
}

impl TryFrom<pb::Alias> for Alias {
    type Error = KmsError;
    fn try_from(a: pb::Alias) -> Result<Self, KmsError> {
        Ok(Self {
            name: AliasName::new(a.alias_name)?,
            arn: a.alias_arn,
            key_id: KeyId::new(a.key_id)?,
        })
    }
}

impl From<Paged<KeyListEntry>> for pb::ListKeysResponse {
    fn from(p: Paged<KeyListEntry>) -> Self {
        Self {
            keys: p
                .items
                .into_iter()
                .map(|k| pb::KeyListEntry {
                    key_id: k.key_id.as_str().to_owned(),
                    key_arn: k.arn,
                })
                .collect(),
            total_count: p.total_count,
            page_number: p.page.number,
            page_size: p.page.size,
        }
    }
}

impl TryFrom<pb::ListKeysResponse> for Paged<KeyListEntry> {
    type Error = KmsError;
    fn try_from(r: pb::ListKeysResponse) -> Result<Self, KmsError> {
        Ok(Self {
            items: r
                .keys
                .into_iter()
                .map(|k| {
                    Ok(KeyListEntry {
                        key_id: KeyId::new(k.key_id)?,
                        arn: k.key_arn,
                    })
                })
                .collect::<Result<_, KmsError>>()?,
            total_count: r.total_count,
            page: Page::new(r.page_number, r.page_size)?,
        })
    }
}

impl From<Paged<Alias>> for pb::ListAliasesResponse {
    fn from(p: Paged<Alias>) -> Self {
        Self {
            aliases: p.items.into_iter().map(Into::into).collect(),
            total_count: p.total_count,
            page_number: p.page.number,
            page_size: p.page.size,
        }
    }
}

impl TryFrom<pb::ListAliasesResponse> for Paged<Alias> {
    type Error = KmsError;
    fn try_from(r: pb::ListAliasesResponse) -> Result<Self, KmsError> {
        Ok(Self {
            items: r
                .aliases
                .into_iter()
                .map(TryInto::try_into)
                .collect::<Result<_, _>>()?,
            total_count: r.total_count,
            page: Page::new(r.page_number, r.page_size)?,
        })
    }
}

impl From<DataKey> for pb::GenerateDataKeyResponse {
    fn from(d: DataKey) -> Self {
        Self {
            key_id: d.key_id.as_str().to_owned(),
            key_version_id: d.key_version_id,
            // The Zeroizing buffer is cleared on drop; prost needs its own Vec.
            plaintext: d.plaintext.expose().to_vec(),
            ciphertext_blob: d.ciphertext_blob.0.to_vec(),
        }
    }
}

impl TryFrom<pb::GenerateDataKeyResponse> for DataKey {
    type Error = KmsError;
    fn try_from(mut r: pb::GenerateDataKeyResponse) -> Result<Self, KmsError> {
        let plaintext = std::mem::take(&mut r.plaintext).into();
        Ok(Self {
            key_id: KeyId::new(std::mem::take(&mut r.key_id))?,
            key_version_id: std::mem::take(&mut r.key_version_id),
            plaintext,
            ciphertext_blob: WrappedDataKey(std::mem::take(&mut r.ciphertext_blob).into()),
        })
    }
}

impl From<WrappedKey> for pb::WrappedKeyResponse {
    fn from(w: WrappedKey) -> Self {
        Self {
            key_id: w.key_id.as_str().to_owned(),
            key_version_id: w.key_version_id,
            ciphertext_blob: w.ciphertext_blob.0,
        }
    }
}

impl TryFrom<pb::WrappedKeyResponse> for WrappedKey {
    type Error = KmsError;
    fn try_from(r: pb::WrappedKeyResponse) -> Result<Self, KmsError> {
        Ok(Self {
            key_id: KeyId::new(r.key_id)?,
            key_version_id: r.key_version_id,
            ciphertext_blob: WrappedDataKey(r.ciphertext_blob),
        })
    }
}

impl From<Decrypted> for pb::DecryptResponse {
    fn from(d: Decrypted) -> Self {
        Self {
            key_id: d.key_id.as_str().to_owned(),
            key_version_id: d.key_version_id,
            plaintext: d.plaintext.expose().to_vec(),
        }
    }
}

impl TryFrom<pb::DecryptResponse> for Decrypted {
    type Error = KmsError;
    fn try_from(mut r: pb::DecryptResponse) -> Result<Self, KmsError> {
        let plaintext = std::mem::take(&mut r.plaintext).into();
        Ok(Self {
            key_id: KeyId::new(std::mem::take(&mut r.key_id))?,
            key_version_id: std::mem::take(&mut r.key_version_id),
            plaintext,
        })
    }
}

impl From<ImportParameters> for pb::ImportParameters {
    fn from(p: ImportParameters) -> Self {
        Self {
            key_id: p.key_id.as_str().to_owned(),
            import_token: p.import_token,
            public_key: p.public_key,
            token_expire_time: p.token_expire_time,
        }
    }
}

impl TryFrom<pb::ImportParameters> for ImportParameters {
    type Error = KmsError;
    fn try_from(p: pb::ImportParameters) -> Result<Self, KmsError> {
        Ok(Self {
            key_id: KeyId::new(p.key_id)?,
            import_token: p.import_token,
            public_key: p.public_key,
            token_expire_time: p.token_expire_time,
        })
    }
}

impl From<Tag> for pb::Tag {
    fn from(t: Tag) -> Self {
        Self {
            key: t.key,
            value: t.value,
        }
    }
}

impl From<AuditVerification> for pb::VerifyAuditLogResponse {
    fn from(v: AuditVerification) -> Self {
        let (failed_sequence, failure) = v.failure.unwrap_or_default();
        Self {
            records: v.records,
            unchained: v.unchained,
            head_sequence: v.head.map_or(0, |h| h.sequence),
            head_mac: v
                .head
                .map(|h| bytes::Bytes::copy_from_slice(&h.mac))
                .unwrap_or_default(),
            failure,
            failed_sequence,
        }
    }
}

impl TryFrom<pb::VerifyAuditLogResponse> for AuditVerification {
    type Error = KmsError;
    fn try_from(v: pb::VerifyAuditLogResponse) -> Result<Self, KmsError> {
        let head = if v.head_mac.is_empty() {
            None
        } else {
            Some(AuditAnchor {
                sequence: v.head_sequence,
                mac: <[u8; 32]>::try_from(v.head_mac.as_ref()).map_err(|_| bad("a chain MAC is 32 bytes"))?,
            })
        };
        Ok(Self {
            records: v.records,
            unchained: v.unchained,
            head,
            failure: (!v.failure.is_empty()).then_some((v.failed_sequence, v.failure)),
        })
    }
}

impl From<EndUser> for pb::EndUser {
    fn from(u: EndUser) -> Self {
        Self {
            account: u.account,
            user: u.user,
            access_key_id: u.access_key_id,
        }
    }
}

impl From<pb::EndUser> for EndUser {
    /// Not validated: the audit reports what the service recorded.
    fn from(u: pb::EndUser) -> Self {
        Self {
            account: u.account,
            user: u.user,
            access_key_id: u.access_key_id,
            source_ip: None,
        }
    }
}

impl From<AuditRecord> for pb::AuditRecord {
    fn from(a: AuditRecord) -> Self {
        Self {
            sequence: a.sequence,
            time_unix_ms: a.time_unix_ms,
            principal: a.principal,
            end_user: a.end_user.map(Into::into),
            account: a.account,
            operation: a.operation,
            key_id: a.key_id,
            key_version_id: a.key_version_id,
            context_digest: a.context_digest,
            result: a.result,
            source: a.source,
            encryption_context: a.encryption_context.0.into_iter().collect(),
        }
    }
}

impl From<pb::AuditRecord> for AuditRecord {
    fn from(a: pb::AuditRecord) -> Self {
        Self {
            sequence: a.sequence,
            time_unix_ms: a.time_unix_ms,
            principal: a.principal,
            end_user: a.end_user.map(Into::into),
            account: a.account,
            operation: a.operation,
            key_id: a.key_id,
            key_version_id: a.key_version_id,
            context_digest: a.context_digest,
            result: a.result,
            source: a.source,
            encryption_context: EncryptionContext(a.encryption_context.into_iter().collect()),
        }
    }
}
