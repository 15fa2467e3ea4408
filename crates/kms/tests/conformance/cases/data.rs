//! Cases on data keys: round trips, context binding, argument checks, service keys and BYOK.

use bytes::Bytes;
use cang_kms_api::{
    EncryptionContext, KeyOrigin, KeyRef, KeyState, KmsError, SecretBytes, ServiceKeySuite, WrappedDataKey,
};

use super::{Subject, new_key, other_acct};
use crate::common::{DAY, T0, acct, create, ctx, no_rotation, wrap_material};

pub async fn data_key_round_trip(s: &Subject) -> anyhow::Result<()> {
    let kms = s.kms();
    let meta = kms
        .create_key(create(KeyOrigin::AliyunKms, no_rotation()))
        .await?;
    let key = KeyRef::Id(meta.key_id.clone());

    let dk = kms.generate_data_key(&acct(), &key, 0, &ctx("o1")).await?;
    assert_eq!(dk.plaintext.expose().len(), 32);
    assert_eq!(dk.key_id, meta.key_id);
    assert_eq!(dk.key_version_id, meta.primary_key_version);
    let back = kms.decrypt(&acct(), &dk.ciphertext_blob, &ctx("o1")).await?;
    assert_eq!(back.plaintext, dk.plaintext);
    assert_eq!(
        (&back.key_id, &back.key_version_id),
        (&dk.key_id, &dk.key_version_id)
    );

    let again = kms.generate_data_key(&acct(), &key, 0, &ctx("o1")).await?;
    assert_ne!(again.plaintext, dk.plaintext, "every data key is fresh");
    assert_ne!(again.ciphertext_blob, dk.ciphertext_blob);

    let wrapped = kms
        .generate_data_key_without_plaintext(&acct(), &key, 64, &ctx("o2"))
        .await?;
    assert_eq!(wrapped.key_id, meta.key_id);
    let opened = kms.decrypt(&acct(), &wrapped.ciphertext_blob, &ctx("o2")).await?;
    assert_eq!(opened.plaintext.expose().len(), 64);

    let secret = SecretBytes::from(b"database password".to_vec());
    let none = EncryptionContext::default();
    let sealed = kms.encrypt(&acct(), &key, &secret, &none).await?;
    assert_eq!(
        kms.decrypt(&acct(), &sealed.ciphertext_blob, &none)
            .await?
            .plaintext,
        secret
    );

    let mut flipped = dk.ciphertext_blob.0.to_vec();
    if let Some(last) = flipped.last_mut() {
        *last ^= 1;
    }
    let truncated = dk.ciphertext_blob.0.slice(..dk.ciphertext_blob.0.len() - 1);
    for bad in [
        Bytes::from(flipped),
        truncated,
        Bytes::from_static(b"not a ciphertext blob at all"),
        Bytes::new(),
    ] {
        assert_eq!(
            kms.decrypt(&acct(), &WrappedDataKey(bad.clone()), &ctx("o1"))
                .await,
            Err(KmsError::InvalidCiphertext),
            "{bad:?}"
        );
    }
    Ok(())
}

pub async fn wrong_context_is_refused(s: &Subject) -> anyhow::Result<()> {
    let kms = s.kms();
    let key = new_key(kms, KeyOrigin::AliyunKms).await?;
    let dk = kms.generate_data_key(&acct(), &key, 0, &ctx("o1")).await?;
    let mut extended = ctx("o1");
    extended.0.insert("extra".into(), "x".into());
    for wrong in [ctx("o2"), EncryptionContext::default(), extended] {
        assert_eq!(
            kms.decrypt(&acct(), &dk.ciphertext_blob, &wrong).await,
            Err(KmsError::ContextMismatch),
            "{wrong:?}"
        );
        assert_eq!(
            kms.re_encrypt(&acct(), &dk.ciphertext_blob, &wrong, None, &ctx("o1"))
                .await,
            Err(KmsError::ContextMismatch)
        );
    }
    let unbound = kms
        .generate_data_key(&acct(), &key, 0, &EncryptionContext::default())
        .await?;
    assert_eq!(
        kms.decrypt(&acct(), &unbound.ciphertext_blob, &ctx("o1")).await,
        Err(KmsError::ContextMismatch)
    );
    Ok(())
}

pub async fn invalid_arguments_are_refused_alike(s: &Subject) -> anyhow::Result<()> {
    let kms = s.kms();
    let key = new_key(kms, KeyOrigin::AliyunKms).await?;
    let bytes_refused = Err(KmsError::InvalidArgument("NumberOfBytes must be 1-1024".into()));
    assert_eq!(
        kms.generate_data_key(&acct(), &key, 1025, &ctx("o"))
            .await
            .map(drop),
        bytes_refused
    );
    assert_eq!(
        kms.generate_data_key_without_plaintext(&acct(), &key, 1025, &ctx("o"))
            .await
            .map(drop),
        bytes_refused
    );
    for n in [1, 1024] {
        let dk = kms.generate_data_key(&acct(), &key, n, &ctx("o")).await?;
        assert_eq!(dk.plaintext.expose().len(), n as usize);
    }

    let plaintext_refused = Err(KmsError::InvalidArgument("Plaintext must be 1-6144 bytes".into()));
    for len in [0, 6145] {
        let plaintext = SecretBytes::from(vec![1; len]);
        assert_eq!(
            kms.encrypt(&acct(), &key, &plaintext, &ctx("o")).await.map(drop),
            plaintext_refused,
            "{len} bytes"
        );
    }
    let largest = SecretBytes::from(vec![2; 6144]);
    let sealed = kms.encrypt(&acct(), &key, &largest, &ctx("o")).await?;
    assert_eq!(
        kms.decrypt(&acct(), &sealed.ciphertext_blob, &ctx("o"))
            .await?
            .plaintext,
        largest
    );

    let mut long = create(KeyOrigin::AliyunKms, no_rotation());
    long.description = "d".repeat(8193);
    assert_eq!(
        kms.create_key(long).await.map(drop),
        Err(KmsError::InvalidArgument(
            "Description must be at most 8192 characters".into()
        ))
    );
    Ok(())
}

pub async fn service_data_keys(s: &Subject) -> anyhow::Result<()> {
    let kms = s.kms();
    for (suite, id) in [
        (ServiceKeySuite::Aes256, "service-aes256"),
        (ServiceKeySuite::Sm4, "service-sm4"),
        (ServiceKeySuite::Storage, "service-storage"),
    ] {
        let dk = kms.generate_service_data_key(suite, &ctx("s")).await?;
        assert_eq!((dk.key_id.as_str(), dk.plaintext.expose().len()), (id, 32));
        let again = kms.generate_service_data_key(suite, &ctx("s")).await?;
        assert_eq!(
            (&again.key_id, &again.key_version_id),
            (&dk.key_id, &dk.key_version_id)
        );
        // Service keys belong to no account: any account may open their blobs.
        for account in [acct(), other_acct()] {
            let opened = kms.decrypt(&account, &dk.ciphertext_blob, &ctx("s")).await?;
            assert_eq!(opened.plaintext, dk.plaintext);
        }
        assert_eq!(
            kms.decrypt(&acct(), &dk.ciphertext_blob, &ctx("t")).await,
            Err(KmsError::ContextMismatch)
        );
        // ... but cannot name them.
        assert_eq!(
            kms.describe_key(&acct(), &KeyRef::parse(id)?).await,
            Err(KmsError::KeyNotFound)
        );
        // ReEncrypt without a destination keeps a service key's data key under that service key, at its
        // primary version: how rewrap moves SSE-OSS objects after a service key rotation.
        let kept = kms
            .re_encrypt(&acct(), &dk.ciphertext_blob, &ctx("s"), None, &ctx("s"))
            .await?;
        assert_eq!(
            (kept.key_id.as_str(), kept.key_version_id.as_str()),
            (id, dk.key_version_id.as_str())
        );
        let reopened = kms
            .decrypt(&other_acct(), &kept.ciphertext_blob, &ctx("s"))
            .await?;
        assert_eq!(reopened.plaintext, dk.plaintext);
    }
    let page = cang_kms_api::Page::new(1, 10)?;
    assert_eq!(kms.list_keys(&acct(), page).await?.total_count, 0);

    let key = new_key(kms, KeyOrigin::AliyunKms).await?;
    let dk = kms
        .generate_service_data_key(ServiceKeySuite::Aes256, &ctx("s"))
        .await?;
    let moved = kms
        .re_encrypt(&acct(), &dk.ciphertext_blob, &ctx("s"), Some(&key), &ctx("c"))
        .await?;
    assert_eq!(KeyRef::Id(moved.key_id), key);
    assert_eq!(
        kms.decrypt(&acct(), &moved.ciphertext_blob, &ctx("c"))
            .await?
            .plaintext,
        dk.plaintext
    );
    Ok(())
}

pub async fn byok_import_lifecycle(s: &Subject) -> anyhow::Result<()> {
    let kms = s.kms();
    let meta = kms.create_key(create(KeyOrigin::External, no_rotation())).await?;
    let key = KeyRef::Id(meta.key_id.clone());
    assert_eq!(
        (meta.state, meta.origin, meta.primary_key_version.as_str()),
        (KeyState::PendingImport, KeyOrigin::External, "")
    );
    assert_eq!(
        kms.generate_data_key(&acct(), &key, 0, &ctx("b")).await.map(drop),
        Err(KmsError::PendingImport)
    );
    assert_eq!(
        kms.enable_key(&acct(), &key).await.map(drop),
        Err(KmsError::StateModifiedFailed)
    );
    let not_external = Err(KmsError::InvalidArgument(
        "the key's Origin is not EXTERNAL".into(),
    ));
    let generated = new_key(kms, KeyOrigin::AliyunKms).await?;
    assert_eq!(
        kms.get_parameters_for_import(&acct(), &generated).await.map(drop),
        not_external
    );
    assert_eq!(
        kms.delete_key_material(&acct(), &generated).await.map(drop),
        not_external
    );

    let params = kms.get_parameters_for_import(&acct(), &key).await?;
    assert_eq!(
        (&params.key_id, params.token_expire_time),
        (&meta.key_id, T0 + DAY)
    );
    let token = &params.import_token;
    let material = [7u8; 32];
    let wrapped = wrap_material(&params.public_key, &material)?;
    let import = |wrapped: Vec<u8>, token: Bytes, expire: Option<i64>| {
        let key = key.clone();
        async move {
            kms.import_key_material(&acct(), &key, &wrapped, &token, expire)
                .await
                .map(drop)
        }
    };
    assert_eq!(
        import(wrapped.clone(), Bytes::from_static(b"nope"), None).await,
        Err(KmsError::InvalidImportToken)
    );
    assert_eq!(
        import(wrapped.clone(), token.clone(), Some(T0 - 1)).await,
        Err(KmsError::InvalidArgument(
            "KeyMaterialExpireUnix must be in the future".into()
        ))
    );
    assert_eq!(
        import(
            wrap_material(&params.public_key, &[7u8; 16])?,
            token.clone(),
            None
        )
        .await,
        Err(KmsError::InvalidArgument(
            "key material must be 32 bytes for Aliyun_AES_256".into()
        ))
    );
    assert_eq!(
        import(vec![0; 256], token.clone(), None).await,
        Err(KmsError::InvalidCiphertext)
    );
    // A refused import leaves the token usable; a successful one uses it up.
    let imported = kms
        .import_key_material(&acct(), &key, &wrapped, token, None)
        .await?;
    assert_eq!(imported.state, KeyState::Enabled);
    assert!(!imported.primary_key_version.is_empty());
    assert_eq!(
        import(wrapped.clone(), token.clone(), None).await,
        Err(KmsError::InvalidImportToken)
    );

    let dk = kms.generate_data_key(&acct(), &key, 0, &ctx("b")).await?;
    let other = new_key(kms, KeyOrigin::External).await?;
    let foreign = kms.get_parameters_for_import(&acct(), &other).await?;
    let for_other = wrap_material(&foreign.public_key, &material)?;
    assert_eq!(
        import(for_other, foreign.import_token.clone(), None).await,
        Err(KmsError::InvalidImportToken)
    );

    let deleted = kms.delete_key_material(&acct(), &key).await?;
    assert_eq!(deleted.state, KeyState::PendingImport);
    assert_eq!(
        kms.decrypt(&acct(), &dk.ciphertext_blob, &ctx("b"))
            .await
            .map(drop),
        Err(KmsError::PendingImport)
    );
    let params = kms.get_parameters_for_import(&acct(), &key).await?;
    assert_eq!(
        import(
            wrap_material(&params.public_key, &[8u8; 32])?,
            params.import_token.clone(),
            None
        )
        .await,
        Err(KmsError::InvalidArgument(
            "re-imported key material differs".into()
        ))
    );
    let back = kms
        .import_key_material(
            &acct(),
            &key,
            &wrap_material(&params.public_key, &material)?,
            &params.import_token,
            Some(T0 + 100),
        )
        .await?;
    assert_eq!(
        (back.state, back.material_expire_time),
        (KeyState::Enabled, Some(T0 + 100))
    );
    assert_eq!(back.primary_key_version, imported.primary_key_version);
    assert_eq!(
        kms.decrypt(&acct(), &dk.ciphertext_blob, &ctx("b"))
            .await?
            .plaintext,
        dk.plaintext
    );

    s.advance(100);
    assert_eq!(
        kms.describe_key(&acct(), &key).await?.state,
        KeyState::PendingImport
    );
    assert_eq!(
        kms.decrypt(&acct(), &dk.ciphertext_blob, &ctx("b"))
            .await
            .map(drop),
        Err(KmsError::PendingImport)
    );
    Ok(())
}
