//! End-to-end tests of `cang kms` over real loopback sockets with mutual TLS: key lifecycle, errors
//! surviving the hop, rotation and rewrap, restart, root key and tamper checks, deletion, BYOK.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use aes_gcm::aead::{Aead, KeyInit, Payload};
use cang_kms::{KeyringConfig, ManualClock};
use cang_kms_api::{
    AccountId, AliasName, CreateKeyRequest, EncryptionContext, KeyOrigin, KeyRef, KeySpec, KeyState, KmsApi,
    KmsError, KmsGrpcClient, RotationPolicy, SecretBytes,
};
use cang_tls::TlsFiles;
use rsa::pkcs8::DecodePublicKey;
use tokio_util::sync::CancellationToken;

const T0: i64 = 1_800_000_000;

struct Kms {
    admin: KmsGrpcClient,
    gateway: KmsGrpcClient,
    clock: ManualClock,
    service: Arc<cang_kms::KmsService>,
    stop: CancellationToken,
}

async fn start(dir: &Path) -> anyhow::Result<Kms> {
    if !dir.join("ca.pem").exists() {
        cang_tls::write_dev_pki(&dir.join("tls"))?;
        std::fs::write(dir.join("ca.pem"), b"")?;
        cang_kms::RootKey::generate(&dir.join("root.key"))?;
    }
    let clock = ManualClock::new(T0);
    let service = cang_kms::open_service(
        &dir.join("data"),
        &dir.join("root.key"),
        Arc::new(clock.clone()),
        KeyringConfig::default(),
    )?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?.to_string();
    let stop = CancellationToken::new();
    let tls = TlsFiles::in_dir(&dir.join("tls"), "kms");
    let server = cang_kms::serve(
        service.clone(),
        tls,
        listener,
        Duration::from_secs(3600),
        stop.clone(),
    );
    tokio::spawn(async move {
        if let Err(e) = server.await {
            panic!("kms server failed: {e}");
        }
    });
    let client = |name: &str| -> anyhow::Result<KmsGrpcClient> {
        Ok(KmsGrpcClient::connect_lazy(
            &addr,
            TlsFiles::in_dir(&dir.join("tls"), name).client_config()?,
        )?)
    };
    Ok(Kms {
        admin: client("admin")?,
        gateway: client("gateway")?,
        clock,
        service,
        stop,
    })
}

fn acct() -> AccountId {
    AccountId::new("1234567890").unwrap_or_else(|_| unreachable!())
}

fn create(origin: KeyOrigin) -> CreateKeyRequest {
    CreateKeyRequest {
        account: acct(),
        description: "test".into(),
        spec: KeySpec::Aes256,
        origin,
        rotation: RotationPolicy {
            enabled: false,
            interval_seconds: 365 * 86_400,
        },
    }
}

fn ctx(object: &str) -> EncryptionContext {
    EncryptionContext::from([("bucket", "b1"), ("object", object)])
}

#[tokio::test]
async fn data_keys_rotation_rewrap_and_errors_over_mtls() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let kms = start(dir.path()).await?;
    let key = KeyRef::Id(kms.admin.create_key(create(KeyOrigin::AliyunKms)).await?.key_id);

    // The gateway may use keys but not administer them.
    assert_eq!(
        kms.gateway.create_key(create(KeyOrigin::AliyunKms)).await,
        Err(KmsError::AccessDenied)
    );
    assert_eq!(
        kms.gateway.disable_key(&acct(), &key).await,
        Err(KmsError::AccessDenied)
    );

    let dk = kms
        .gateway
        .generate_data_key(&acct(), &key, 0, &ctx("o1"))
        .await?;
    assert_eq!(dk.plaintext.expose().len(), 32);
    let v1 = dk.key_version_id.clone();
    let back = kms
        .gateway
        .decrypt(&acct(), &dk.ciphertext_blob, &ctx("o1"))
        .await?;
    assert_eq!(back.plaintext, dk.plaintext);
    assert_eq!(
        kms.gateway
            .decrypt(&acct(), &dk.ciphertext_blob, &ctx("o2"))
            .await,
        Err(KmsError::ContextMismatch)
    );
    let mut tampered = dk.ciphertext_blob.0.to_vec();
    if let Some(b) = tampered.last_mut() {
        *b ^= 1;
    }
    let tampered = cang_kms_api::WrappedDataKey(tampered.into());
    assert_eq!(
        kms.gateway.decrypt(&acct(), &tampered, &ctx("o1")).await,
        Err(KmsError::InvalidCiphertext)
    );
    // Another account cannot use the blob.
    let other = AccountId::new("999")?;
    assert_eq!(
        kms.gateway.decrypt(&other, &dk.ciphertext_blob, &ctx("o1")).await,
        Err(KmsError::KeyNotFound)
    );

    // Rotation: v2 becomes primary, v1 blobs still decrypt, ReEncrypt moves them to v2.
    let v2 = kms.admin.rotate_key(&acct(), &key).await?.key_version_id;
    assert_ne!(v1, v2);
    assert_eq!(
        kms.admin.describe_key(&acct(), &key).await?.primary_key_version,
        v2
    );
    assert_eq!(
        kms.gateway
            .decrypt(&acct(), &dk.ciphertext_blob, &ctx("o1"))
            .await?
            .key_version_id,
        v1
    );
    let rewrapped = kms
        .gateway
        .re_encrypt(&acct(), &dk.ciphertext_blob, &ctx("o1"), None, &ctx("o1"))
        .await?;
    assert_eq!(rewrapped.key_version_id, v2);
    let again = kms
        .gateway
        .decrypt(&acct(), &rewrapped.ciphertext_blob, &ctx("o1"))
        .await?;
    assert_eq!(
        (again.key_version_id, again.plaintext),
        (v2, dk.plaintext.clone())
    );

    // States travel as the same error variant.
    kms.admin.disable_key(&acct(), &key).await?;
    assert_eq!(
        kms.gateway
            .decrypt(&acct(), &dk.ciphertext_blob, &ctx("o1"))
            .await,
        Err(KmsError::KeyDisabled)
    );
    assert_eq!(
        kms.gateway
            .generate_data_key(&acct(), &key, 0, &ctx("o"))
            .await
            .err(),
        Some(KmsError::KeyDisabled)
    );
    kms.admin.enable_key(&acct(), &key).await?;

    // Default OSS key is created on first use and is stable.
    let oss = KeyRef::Alias(AliasName::default_oss());
    let a = kms.gateway.generate_data_key(&acct(), &oss, 0, &ctx("o")).await?;
    let b = kms.gateway.generate_data_key(&acct(), &oss, 0, &ctx("o")).await?;
    assert_eq!(a.key_id, b.key_id);

    // Service keys decrypt for anyone the blob's context matches, and are not listed.
    let sk = kms
        .gateway
        .generate_service_data_key(cang_kms_api::ServiceKeySuite::Sm4, &ctx("s"))
        .await?;
    assert_eq!(
        kms.gateway
            .decrypt(&acct(), &sk.ciphertext_blob, &ctx("s"))
            .await?
            .plaintext,
        sk.plaintext
    );
    let listed = kms
        .gateway
        .list_keys(&acct(), cang_kms_api::Page::new(1, 100)?)
        .await?;
    assert_eq!(listed.total_count, 2, "the CMK and the default OSS key only");

    // Every use is audited, readable by admin only.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let audit = kms.admin.list_audit_records(0, 1000).await?;
    assert!(
        audit
            .iter()
            .any(|r| r.operation == "Decrypt" && r.result == "Rejected.Disabled" && r.principal == "gateway")
    );
    assert!(
        audit
            .iter()
            .any(|r| r.operation == "CreateKey" && r.result == "Forbidden.NoPermission")
    );
    assert!(audit.windows(2).all(|w| w[0].sequence < w[1].sequence));
    assert_eq!(
        kms.gateway.list_audit_records(0, 10).await,
        Err(KmsError::AccessDenied)
    );
    kms.stop.cancel();
    Ok(())
}

#[tokio::test]
async fn state_table_of_alibaba_kms() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let kms = start(dir.path()).await?;
    let a = acct();
    let enabled = KeyRef::Id(kms.admin.create_key(create(KeyOrigin::AliyunKms)).await?.key_id);
    let disabled = KeyRef::Id(kms.admin.create_key(create(KeyOrigin::AliyunKms)).await?.key_id);
    kms.admin.disable_key(&a, &disabled).await?;
    let pending_del = KeyRef::Id(kms.admin.create_key(create(KeyOrigin::AliyunKms)).await?.key_id);
    kms.admin.schedule_key_deletion(&a, &pending_del, 7).await?;
    let pending_imp = KeyRef::Id(kms.admin.create_key(create(KeyOrigin::External)).await?.key_id);
    assert_eq!(
        kms.admin.describe_key(&a, &pending_imp).await?.state,
        KeyState::PendingImport
    );

    use KmsError::*;
    let cases = [
        (&enabled, None, None, None, None),
        (&disabled, Some(KeyDisabled), None, None, None),
        (
            &pending_del,
            Some(PendingDeletion),
            Some(StateModifiedFailed),
            None,
            Some(StateModifiedFailed),
        ),
        (
            &pending_imp,
            Some(PendingImport),
            Some(StateModifiedFailed),
            Some(StateModifiedFailed),
            None,
        ),
    ];
    for (key, gen_err, enable_err, cancel_ok_err, alias_err) in cases {
        assert_eq!(
            kms.admin.generate_data_key(&a, key, 0, &ctx("x")).await.err(),
            gen_err,
            "GenerateDataKey {key}"
        );
        assert_eq!(
            kms.admin
                .encrypt(&a, key, &SecretBytes::from(vec![1]), &ctx("x"))
                .await
                .err(),
            gen_err
        );
        assert!(
            kms.admin.describe_key(&a, key).await.is_ok(),
            "DescribeKey always allowed"
        );
        let expect_enable = enable_err.clone();
        assert_eq!(
            kms.admin.enable_key(&a, key).await.err(),
            expect_enable.clone(),
            "EnableKey {key}"
        );
        if key != &pending_del {
            // Disable back where it was, so later rows are unaffected.
            if key == &disabled {
                kms.admin.disable_key(&a, key).await?;
            }
            assert_eq!(
                kms.admin.cancel_key_deletion(&a, key).await.err(),
                Some(StateModifiedFailed)
            );
        } else {
            let _ = cancel_ok_err;
        }
        let alias = AliasName::new(format!("alias/t-{key}"))?;
        assert_eq!(
            kms.admin.create_alias(&a, &alias, key).await.err(),
            alias_err,
            "CreateAlias {key}"
        );
    }
    assert_eq!(
        kms.admin.schedule_key_deletion(&a, &pending_del, 7).await.err(),
        Some(StateModifiedFailed)
    );
    assert!(kms.admin.schedule_key_deletion(&a, &pending_imp, 7).await.is_ok());
    assert_eq!(
        kms.admin
            .schedule_key_deletion(&a, &enabled, 6)
            .await
            .err()
            .map(|e| e.code()),
        Some("InvalidParameter")
    );
    assert_eq!(
        kms.admin.cancel_key_deletion(&a, &pending_del).await?.state,
        KeyState::Enabled
    );
    kms.stop.cancel();
    Ok(())
}

#[tokio::test]
async fn deletion_window_shreds_key_and_data_keys() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let kms = start(dir.path()).await?;
    let key = KeyRef::Id(kms.admin.create_key(create(KeyOrigin::AliyunKms)).await?.key_id);
    let alias = AliasName::new("alias/doomed")?;
    kms.admin.create_alias(&acct(), &alias, &key).await?;
    let dk = kms.gateway.generate_data_key(&acct(), &key, 0, &ctx("o")).await?;
    kms.admin.schedule_key_deletion(&acct(), &key, 7).await?;
    assert_eq!(
        kms.gateway
            .decrypt(&acct(), &dk.ciphertext_blob, &ctx("o"))
            .await
            .err(),
        Some(KmsError::PendingDeletion)
    );
    kms.clock.advance(7 * 86_400 + 1);
    kms.service.keyring().run_maintenance().await?;
    assert_eq!(
        kms.gateway
            .decrypt(&acct(), &dk.ciphertext_blob, &ctx("o"))
            .await
            .err(),
        Some(KmsError::KeyNotFound)
    );
    assert_eq!(
        kms.admin.describe_key(&acct(), &key).await.err(),
        Some(KmsError::KeyNotFound)
    );
    assert_eq!(
        kms.admin.cancel_key_deletion(&acct(), &key).await.err(),
        Some(KmsError::KeyNotFound)
    );
    assert_eq!(
        kms.admin.describe_key(&acct(), &KeyRef::Alias(alias)).await.err(),
        Some(KmsError::AliasNotFound)
    );
    kms.stop.cancel();
    Ok(())
}

#[tokio::test]
async fn restart_keeps_keys_and_checks_root_key_and_tampering() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let kms = start(dir.path()).await?;
    let key = KeyRef::Id(kms.admin.create_key(create(KeyOrigin::AliyunKms)).await?.key_id);
    let alias = AliasName::new("alias/kept")?;
    kms.admin.create_alias(&acct(), &alias, &key).await?;
    let v2 = kms.admin.rotate_key(&acct(), &key).await?.key_version_id;
    let dk = kms.gateway.generate_data_key(&acct(), &key, 0, &ctx("o")).await?;
    kms.stop.cancel();
    drop(kms);
    tokio::time::sleep(Duration::from_millis(200)).await;

    let kms = start(dir.path()).await?;
    let meta = kms
        .admin
        .describe_key(&acct(), &KeyRef::Alias(alias.clone()))
        .await?;
    assert_eq!(meta.primary_key_version, v2);
    assert_eq!(kms.admin.list_key_versions(&acct(), &key).await?.len(), 2);
    assert_eq!(
        kms.gateway
            .decrypt(&acct(), &dk.ciphertext_blob, &ctx("o"))
            .await?
            .plaintext,
        dk.plaintext
    );
    kms.stop.cancel();
    drop(kms);
    tokio::time::sleep(Duration::from_millis(200)).await;

    // A wrong root key is refused and the keystore is left untouched.
    let keystore = dir.path().join("data/keystore.redb");
    let before = std::fs::read(&keystore)?;
    let wrong = dir.path().join("wrong.key");
    cang_kms::RootKey::generate(&wrong)?;
    let err = cang_kms::open_service(
        &dir.path().join("data"),
        &wrong,
        Arc::new(cang_kms::SystemClock),
        KeyringConfig::default(),
    );
    assert!(
        matches!(err, Err(cang_kms::StartupError::WrongRootKey)),
        "{err:?}"
    );
    assert!(
        std::fs::read(&keystore)? == before,
        "keystore modified by a refused start"
    );

    // A flipped byte in a sealed key record is detected at load.
    {
        use redb::{ReadableDatabase, ReadableTable};
        const KEYS: redb::TableDefinition<&str, &[u8]> = redb::TableDefinition::new("keys");
        let db = redb::Database::open(&keystore)?;
        let txn = db.begin_write()?;
        {
            let mut t = txn.open_table(KEYS)?;
            let id = key.to_string();
            let mut v = t
                .get(id.as_str())?
                .map(|g| g.value().to_vec())
                .unwrap_or_default();
            let mid = v.len() / 2;
            v[mid] ^= 0x01;
            t.insert(id.as_str(), v.as_slice())?;
        }
        txn.commit()?;
        let _ = db.begin_read()?;
    }
    let err = cang_kms::open_service(
        &dir.path().join("data"),
        &dir.path().join("root.key"),
        Arc::new(cang_kms::SystemClock),
        KeyringConfig::default(),
    );
    assert!(matches!(err, Err(cang_kms::StartupError::Tampered(_))), "{err:?}");
    Ok(())
}

#[tokio::test]
async fn imported_key_matches_independent_aes_gcm() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let kms = start(dir.path()).await?;
    let key = KeyRef::Id(kms.admin.create_key(create(KeyOrigin::External)).await?.key_id);
    let params = kms.admin.get_parameters_for_import(&acct(), &key).await?;
    let public = rsa::PublicKey::from_public_key_der(&params.public_key)?;
    let material = [0x5Au8; 32];
    let wrapped = public.encrypt(&mut rand::rng(), rsa::Oaep::<sha2::Sha256>::new(), &material)?;
    assert_eq!(
        kms.admin
            .import_key_material(&acct(), &key, &wrapped, b"forged token", None)
            .await
            .err(),
        Some(KmsError::InvalidImportToken)
    );
    let meta = kms
        .admin
        .import_key_material(&acct(), &key, &wrapped, &params.import_token, None)
        .await?;
    assert_eq!(meta.state, KeyState::Enabled);

    let context = ctx("byok");
    let secret = SecretBytes::from(b"attack at dawn".to_vec());
    let blob = kms
        .gateway
        .encrypt(&acct(), &key, &secret, &context)
        .await?
        .ciphertext_blob
        .0;
    // Parse the documented layout and decrypt with an independent AES-256-GCM.
    let id_len = blob[1] as usize;
    let ver_len = blob[2 + id_len] as usize;
    let header_len = 3 + id_len + ver_len + 8;
    let nonce = &blob[header_len..header_len + 12];
    let mut aad = blob[..header_len].to_vec();
    aad.extend_from_slice(&context.canonical_bytes());
    let cipher = aes_gcm::Aes256Gcm::new_from_slice(&material)?;
    let nonce = aes_gcm::Nonce::try_from(nonce)?;
    let plain = cipher
        .decrypt(
            &nonce,
            Payload {
                msg: &blob[header_len + 12..],
                aad: &aad,
            },
        )
        .map_err(|_| anyhow::anyhow!("independent AES-GCM failed"))?;
    assert_eq!(plain, b"attack at dawn");

    kms.admin.delete_key_material(&acct(), &key).await?;
    let wrapped_blob = cang_kms_api::WrappedDataKey(blob.clone());
    assert_eq!(
        kms.gateway.decrypt(&acct(), &wrapped_blob, &context).await.err(),
        Some(KmsError::PendingImport)
    );
    kms.stop.cancel();
    Ok(())
}

#[tokio::test]
async fn unreachable_service_is_unavailable() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    cang_tls::write_dev_pki(dir.path())?;
    let port = tokio::net::TcpListener::bind("127.0.0.1:0").await?.local_addr()?;
    let client = KmsGrpcClient::connect_lazy(
        &port.to_string(),
        TlsFiles::in_dir(dir.path(), "gateway").client_config()?,
    )?;
    let r = client
        .decrypt(
            &acct(),
            &cang_kms_api::WrappedDataKey(vec![1u8; 40].into()),
            &ctx("o"),
        )
        .await;
    assert_eq!(r.err(), Some(KmsError::Unavailable));
    Ok(())
}
