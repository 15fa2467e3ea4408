//! Data keys of [`super::MemoryKms`]: real AEAD (AES-256-GCM, SM4-GCM for `Aliyun_SM4` keys) over the
//! key version's material, with the encryption context bound as associated data, so a wrong key,
//! version or context fails as it does in the keyring. Service keys are created on first use.
//!
//! Blob layout: `0x4D ‖ len ‖ key id ‖ len ‖ version id ‖ context check (8) ‖ nonce (12) ‖ AEAD`, the
//! AEAD's associated data being every byte before the nonce followed by the canonical context. The
//! leading byte differs from the keyring's blobs, so neither is ever taken for the other.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, AesGcm, Nonce};
use zeroize::Zeroizing;

use super::keys::{Key, SERVICE_KEY_ROTATION_SECONDS, State, Version, new_version, random_bytes};
use crate::{
    AccountId, DataKey, Decrypted, EncryptionContext, KeyId, KeyOrigin, KeyRef, KeySpec, KeyState, KmsError,
    RotationPolicy, SecretBytes, ServiceKeySuite, WrappedDataKey, WrappedKey,
};

type Sm4Gcm = AesGcm<sm4::Sm4, aes_gcm::aead::consts::U12>;

const FORMAT: u8 = 0x4D;
const CHECK_LEN: usize = 8;
const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;
/// Largest plaintext `Encrypt` takes (Alibaba: 6 KB).
const MAX_ENCRYPT_PLAINTEXT: usize = 6 * 1024;

fn context_check(ctx: &EncryptionContext) -> [u8; CHECK_LEN] {
    let mut out = [0u8; CHECK_LEN];
    out.copy_from_slice(&ctx.digest()[..CHECK_LEN]);
    out
}

fn aad(header: &[u8], ctx: &EncryptionContext) -> Vec<u8> {
    let mut aad = header.to_vec();
    aad.extend_from_slice(&ctx.canonical_bytes());
    aad
}

fn aead(
    spec: KeySpec,
    key: &[u8],
    nonce: &[u8; NONCE_LEN],
    msg: &[u8],
    aad: &[u8],
    seal: bool,
) -> Option<Vec<u8>> {
    let payload = Payload { msg, aad };
    let nonce = Nonce::from(*nonce);
    match (spec, seal) {
        (KeySpec::Aes256, true) => Aes256Gcm::new_from_slice(key).ok()?.encrypt(&nonce, payload),
        (KeySpec::Aes256, false) => Aes256Gcm::new_from_slice(key).ok()?.decrypt(&nonce, payload),
        (KeySpec::Sm4, true) => Sm4Gcm::new_from_slice(key).ok()?.encrypt(&nonce, payload),
        (KeySpec::Sm4, false) => Sm4Gcm::new_from_slice(key).ok()?.decrypt(&nonce, payload),
    }
    .ok()
}

/// A blob taken apart, not yet authenticated.
struct Parsed<'a> {
    key_id: &'a str,
    version_id: &'a str,
    check: &'a [u8],
    header: &'a [u8],
    nonce: [u8; NONCE_LEN],
    ciphertext: &'a [u8],
}

fn take<'a>(rest: &mut &'a [u8], n: usize) -> Option<&'a [u8]> {
    if rest.len() < n {
        return None;
    }
    let (head, tail) = rest.split_at(n);
    *rest = tail;
    Some(head)
}

fn take_str<'a>(rest: &mut &'a [u8]) -> Option<&'a str> {
    let len = usize::from(*take(rest, 1)?.first()?);
    std::str::from_utf8(take(rest, len)?)
        .ok()
        .filter(|s| !s.is_empty())
}

fn parse(bytes: &[u8]) -> Option<Parsed<'_>> {
    let mut rest = bytes;
    if take(&mut rest, 1)? != [FORMAT] {
        return None;
    }
    let key_id = take_str(&mut rest)?;
    let version_id = take_str(&mut rest)?;
    let check = take(&mut rest, CHECK_LEN)?;
    let header = &bytes[..bytes.len() - rest.len()];
    let nonce = take(&mut rest, NONCE_LEN)?.try_into().ok()?;
    (rest.len() >= TAG_LEN).then_some(Parsed {
        key_id,
        version_id,
        check,
        header,
        nonce,
        ciphertext: rest,
    })
}

fn wrap(
    key: &Key,
    version: &Version,
    plaintext: &[u8],
    ctx: &EncryptionContext,
) -> Result<WrappedKey, KmsError> {
    let mut header = vec![FORMAT];
    for part in [&key.id, &version.id] {
        header.push(u8::try_from(part.len()).map_err(|_| KmsError::Internal)?);
        header.extend_from_slice(part.as_bytes());
    }
    header.extend_from_slice(&context_check(ctx));
    let mut nonce = [0u8; NONCE_LEN];
    nonce.copy_from_slice(&random_bytes(NONCE_LEN)?);
    let sealed = aead(
        key.spec,
        &version.material,
        &nonce,
        plaintext,
        &aad(&header, ctx),
        true,
    )
    .ok_or(KmsError::Internal)?;
    let mut blob = header;
    blob.extend_from_slice(&nonce);
    blob.extend_from_slice(&sealed);
    Ok(WrappedKey {
        key_id: KeyId::new(key.id.clone())?,
        key_version_id: version.id.clone(),
        ciphertext_blob: WrappedDataKey(blob.into()),
    })
}

fn state_error(state: KeyState) -> KmsError {
    match state {
        KeyState::Enabled => KmsError::Internal,
        KeyState::Disabled => KmsError::KeyDisabled,
        KeyState::PendingDeletion => KmsError::PendingDeletion,
        KeyState::PendingImport => KmsError::PendingImport,
    }
}

fn data_key(w: WrappedKey, plaintext: Zeroizing<Vec<u8>>) -> DataKey {
    DataKey {
        key_id: w.key_id,
        key_version_id: w.key_version_id,
        plaintext: SecretBytes(plaintext),
        ciphertext_blob: w.ciphertext_blob,
    }
}

impl State {
    fn usable(&self, key: &Key) -> Result<(), KmsError> {
        match self.effective_state(key) {
            KeyState::Enabled => Ok(()),
            s => Err(state_error(s)),
        }
    }

    /// Wraps `plaintext` under the primary version of `key` (creating `alias/acs/oss` on first use).
    pub fn encrypt_under(
        &mut self,
        account: &AccountId,
        key: &KeyRef,
        plaintext: &[u8],
        ctx: &EncryptionContext,
    ) -> Result<WrappedKey, KmsError> {
        let id = self.resolve_or_default(account, key)?;
        let key = self.key(&id)?;
        self.usable(key)?;
        wrap(key, key.primary().ok_or(KmsError::PendingImport)?, plaintext, ctx)
    }

    pub fn generate(
        &mut self,
        account: &AccountId,
        key: &KeyRef,
        number_of_bytes: u32,
        ctx: &EncryptionContext,
    ) -> Result<DataKey, KmsError> {
        let dek = random_bytes(crate::data_key_len(number_of_bytes)?)?;
        let wrapped = self.encrypt_under(account, key, &dek, ctx)?;
        Ok(data_key(wrapped, dek))
    }

    pub fn encrypt(
        &mut self,
        account: &AccountId,
        key: &KeyRef,
        plaintext: &SecretBytes,
        ctx: &EncryptionContext,
    ) -> Result<WrappedKey, KmsError> {
        let len = plaintext.expose().len();
        if len == 0 || len > MAX_ENCRYPT_PLAINTEXT {
            return Err(KmsError::InvalidArgument("Plaintext must be 1-6144 bytes".into()));
        }
        self.encrypt_under(account, key, plaintext.expose(), ctx)
    }

    /// Decrypts a blob of `account`'s keys or of a service key; checks run in the keyring's order
    /// (blob, key, state, version, context, authentication).
    pub fn decrypt(
        &self,
        account: &AccountId,
        blob: &WrappedDataKey,
        ctx: &EncryptionContext,
    ) -> Result<Decrypted, KmsError> {
        let parsed = parse(&blob.0).ok_or(KmsError::InvalidCiphertext)?;
        let key = self.key(parsed.key_id)?;
        if !(key.service || key.account == account.as_str()) || self.is_purged(key) {
            return Err(KmsError::KeyNotFound);
        }
        self.usable(key)?;
        let version = key
            .versions
            .iter()
            .find(|v| v.id == parsed.version_id)
            .ok_or(KmsError::KeyVersionNotFound)?;
        if version.material.is_empty() {
            return Err(KmsError::PendingImport);
        }
        if parsed.check != context_check(ctx) {
            return Err(KmsError::ContextMismatch);
        }
        let aad = aad(parsed.header, ctx);
        let plaintext = aead(
            key.spec,
            &version.material,
            &parsed.nonce,
            parsed.ciphertext,
            &aad,
            false,
        )
        .ok_or(KmsError::InvalidCiphertext)?;
        Ok(Decrypted {
            key_id: KeyId::new(parsed.key_id)?,
            key_version_id: parsed.version_id.to_owned(),
            plaintext: SecretBytes(Zeroizing::new(plaintext)),
        })
    }

    pub fn re_encrypt(
        &mut self,
        account: &AccountId,
        blob: &WrappedDataKey,
        src: &EncryptionContext,
        destination: Option<&KeyRef>,
        dst: &EncryptionContext,
    ) -> Result<WrappedKey, KmsError> {
        let plain = self.decrypt(account, blob, src)?;
        if destination.is_none()
            && let Some(key) = self.keys.get(plain.key_id.as_str()).filter(|k| k.service)
        {
            // A service key's data keys move to its own primary version (it belongs to no account).
            self.usable(key)?;
            return wrap(
                key,
                key.primary().ok_or(KmsError::Internal)?,
                plain.plaintext.expose(),
                dst,
            );
        }
        let dest = destination.cloned().unwrap_or(KeyRef::Id(plain.key_id.clone()));
        self.encrypt_under(account, &dest, plain.plaintext.expose(), dst)
    }

    /// A 32-byte data key under the service key of `suite`, created on first use with the keyring's
    /// ids (`service-aes256`, `service-sm4`, `service-storage`).
    pub fn generate_service(
        &mut self,
        suite: ServiceKeySuite,
        ctx: &EncryptionContext,
    ) -> Result<DataKey, KmsError> {
        let id = suite.key_id();
        let (spec, description) = match suite {
            ServiceKeySuite::Aes256 => (KeySpec::Aes256, "SSE-OSS service key (AES256)"),
            ServiceKeySuite::Sm4 => (KeySpec::Sm4, "SSE-OSS service key (SM4)"),
            ServiceKeySuite::Storage => (KeySpec::Aes256, "Instance storage key (objects without SSE)"),
        };
        if !self.keys.contains_key(id) {
            let key = Key {
                id: id.to_owned(),
                account: "acs".to_owned(),
                description: description.to_owned(),
                spec,
                origin: KeyOrigin::AliyunKms,
                state: KeyState::Enabled,
                created: self.now,
                delete_date: None,
                material_expire: None,
                rotation: RotationPolicy {
                    enabled: true,
                    interval_seconds: SERVICE_KEY_ROTATION_SECONDS,
                },
                versions: vec![new_version(spec, self.now)?],
                service: true,
                material_digest: None,
                tags: std::collections::BTreeMap::new(),
            };
            self.keys.insert(id.to_owned(), key);
        }
        let key = self.key(id)?;
        self.usable(key)?;
        let dek = random_bytes(32)?;
        let wrapped = wrap(key, key.primary().ok_or(KmsError::Internal)?, &dek, ctx)?;
        Ok(data_key(wrapped, dek))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sm4_and_aes_seal_and_refuse_a_wrong_key_or_aad() {
        for spec in [KeySpec::Aes256, KeySpec::Sm4] {
            let key = vec![3u8; spec.material_len()];
            let other = vec![4u8; spec.material_len()];
            let ct = aead(spec, &key, &[1; 12], b"dek", b"ctx", true).unwrap_or_default();
            assert_eq!(
                aead(spec, &key, &[1; 12], &ct, b"ctx", false),
                Some(b"dek".to_vec())
            );
            assert_eq!(aead(spec, &key, &[1; 12], &ct, b"xtc", false), None);
            assert_eq!(aead(spec, &other, &[1; 12], &ct, b"ctx", false), None);
        }
    }

    #[test]
    fn truncated_blobs_do_not_parse() {
        let mut blob = vec![FORMAT, 1, b'k', 1, b'v'];
        blob.extend_from_slice(&[0; CHECK_LEN + NONCE_LEN + TAG_LEN]);
        assert!(parse(&blob).is_some());
        for n in 0..blob.len() {
            assert!(parse(&blob[..n]).is_none(), "prefix {n}");
        }
        blob[0] = 1;
        assert!(parse(&blob).is_none(), "a keyring blob is not taken for ours");
    }
}
