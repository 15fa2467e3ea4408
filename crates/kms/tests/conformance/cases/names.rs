//! Cases on naming keys: unknown ids and aliases, alias management, `alias/acs/oss`, account
//! isolation and listing.

use cang_kms_api::{
    AliasName, KeyId, KeyOrigin, KeyRef, KeySpec, KeyState, KmsError, Page, RotationPolicy, SecretBytes,
};

use super::{Subject, alias, new_key, other_acct};
use crate::common::{DAY, T0, acct, create, ctx};

const YEAR: u64 = 365 * DAY as u64;

pub async fn unknown_keys_and_aliases(s: &Subject) -> anyhow::Result<()> {
    let kms = s.kms();
    let known = new_key(kms, KeyOrigin::AliyunKms).await?;
    let unknown = KeyRef::Id(KeyId::new("00000000-0000-4000-8000-000000000000")?);
    let missing = KeyRef::Alias(alias("missing")?);
    let (a, c, page) = (acct(), ctx("u"), Page::new(1, 10)?);
    let secret = SecretBytes::from(b"s".to_vec());
    for (key, err) in [
        (&unknown, KmsError::KeyNotFound),
        (&missing, KmsError::AliasNotFound),
    ] {
        let err = Err(err);
        assert_eq!(kms.describe_key(&a, key).await.map(drop), err);
        assert_eq!(kms.enable_key(&a, key).await.map(drop), err);
        assert_eq!(kms.disable_key(&a, key).await.map(drop), err);
        assert_eq!(kms.schedule_key_deletion(&a, key, 7).await.map(drop), err);
        assert_eq!(kms.cancel_key_deletion(&a, key).await.map(drop), err);
        assert_eq!(kms.rotate_key(&a, key).await.map(drop), err);
        assert_eq!(kms.list_key_versions(&a, key).await.map(drop), err);
        let policy = RotationPolicy::new(false, 0)?;
        assert_eq!(kms.update_rotation_policy(&a, key, policy).await.map(drop), err);
        assert_eq!(kms.generate_data_key(&a, key, 0, &c).await.map(drop), err);
        assert_eq!(kms.encrypt(&a, key, &secret, &c).await.map(drop), err);
        assert_eq!(kms.list_aliases_by_key_id(&a, key, page).await.map(drop), err);
        assert_eq!(kms.create_alias(&a, &alias("new")?, key).await, err);
        assert_eq!(kms.get_parameters_for_import(&a, key).await.map(drop), err);
        let dk = kms.generate_data_key(&a, &known, 0, &c).await?;
        assert_eq!(
            kms.re_encrypt(&a, &dk.ciphertext_blob, &c, Some(key), &c)
                .await
                .map(drop),
            err
        );
    }
    assert_eq!(
        kms.delete_alias(&a, &alias("missing")?).await,
        Err(KmsError::AliasNotFound)
    );
    assert_eq!(
        kms.update_alias(&a, &alias("missing")?, &known).await,
        Err(KmsError::AliasNotFound)
    );
    Ok(())
}

pub async fn alias_create_update_delete(s: &Subject) -> anyhow::Result<()> {
    let kms = s.kms();
    let (k1, k2) = (
        new_key(kms, KeyOrigin::AliyunKms).await?,
        new_key(kms, KeyOrigin::AliyunKms).await?,
    );
    let id = |k: &KeyRef| match k {
        KeyRef::Id(id) => id.clone(),
        KeyRef::Alias(_) => unreachable!("new_key names keys by id"),
    };
    let (data, other) = (alias("app/data")?, alias("app/other")?);
    let by_data = KeyRef::Alias(data.clone());
    kms.create_alias(&acct(), &data, &k1).await?;
    assert_eq!(kms.describe_key(&acct(), &by_data).await?.key_id, id(&k1));
    let dk = kms.generate_data_key(&acct(), &by_data, 0, &ctx("a")).await?;
    assert_eq!(dk.key_id, id(&k1));
    assert_eq!(
        kms.create_alias(&acct(), &data, &k2).await,
        Err(KmsError::AlreadyExists)
    );
    // An alias may be named by another alias: it points at that alias's key.
    kms.create_alias(&acct(), &other, &by_data).await?;
    kms.update_alias(&acct(), &data, &k2).await?;
    assert_eq!(kms.describe_key(&acct(), &by_data).await?.key_id, id(&k2));
    assert_eq!(
        kms.decrypt(&acct(), &dk.ciphertext_blob, &ctx("a")).await?.key_id,
        id(&k1)
    );

    let listed = kms.list_aliases(&acct(), Page::new(1, 10)?).await?;
    let names: Vec<_> = listed
        .items
        .iter()
        .map(|a| (a.name.as_str(), a.key_id.clone()))
        .collect();
    assert_eq!(
        names,
        vec![("alias/app/data", id(&k2)), ("alias/app/other", id(&k1))]
    );
    assert_eq!(listed.total_count, 2);
    assert_eq!(
        listed.items[0].arn,
        format!("acs:kms:cn-cang:{}:alias/app/data", acct())
    );
    let second = kms.list_aliases(&acct(), Page::new(2, 1)?).await?;
    assert_eq!((second.items.len(), second.total_count), (1, 2));
    assert_eq!(second.items[0].name, other);
    let of_k1 = kms
        .list_aliases_by_key_id(&acct(), &k1, Page::new(1, 10)?)
        .await?;
    assert_eq!(
        of_k1.items.iter().map(|a| &a.name).collect::<Vec<_>>(),
        vec![&other]
    );
    let of_data = kms
        .list_aliases_by_key_id(&acct(), &by_data, Page::new(1, 10)?)
        .await?;
    assert_eq!(
        of_data.items.iter().map(|a| &a.name).collect::<Vec<_>>(),
        vec![&data]
    );

    kms.delete_alias(&acct(), &data).await?;
    assert_eq!(
        kms.describe_key(&acct(), &by_data).await.map(drop),
        Err(KmsError::AliasNotFound)
    );
    assert_eq!(
        kms.delete_alias(&acct(), &data).await,
        Err(KmsError::AliasNotFound)
    );

    let reserved = Err(KmsError::InvalidArgument(
        "aliases under alias/acs/ are reserved".into(),
    ));
    assert_eq!(
        kms.create_alias(&acct(), &alias("acs/mine")?, &k1).await,
        reserved
    );
    assert_eq!(
        kms.update_alias(&acct(), &AliasName::default_oss(), &k1).await,
        reserved
    );
    Ok(())
}

pub async fn default_oss_alias_is_created_on_first_use(s: &Subject) -> anyhow::Result<()> {
    let kms = s.kms();
    let default = KeyRef::Alias(AliasName::default_oss());
    let page = Page::new(1, 10)?;
    // Only describing and using the alias creates the key; managing it first finds nothing.
    assert_eq!(
        kms.list_key_versions(&acct(), &default).await.map(drop),
        Err(KmsError::AliasNotFound)
    );
    assert_eq!(
        kms.enable_key(&acct(), &default).await.map(drop),
        Err(KmsError::AliasNotFound)
    );
    assert_eq!(kms.list_keys(&acct(), page).await?.total_count, 0);

    let meta = kms.describe_key(&acct(), &default).await?;
    assert_eq!(
        (meta.state, meta.spec, meta.origin, meta.rotation),
        (
            KeyState::Enabled,
            KeySpec::Aes256,
            KeyOrigin::AliyunKms,
            RotationPolicy {
                enabled: true,
                interval_seconds: YEAR
            }
        )
    );
    assert_eq!(meta.description, "Default key for OSS server-side encryption");
    assert_eq!((&meta.account, meta.creation_date), (&acct(), T0));
    assert_eq!(kms.describe_key(&acct(), &default).await?.key_id, meta.key_id);
    assert_eq!(kms.list_keys(&acct(), page).await?.total_count, 1);
    let aliases = kms.list_aliases(&acct(), page).await?;
    assert_eq!(aliases.items.len(), 1);
    assert_eq!(
        (aliases.items[0].name.as_str(), &aliases.items[0].key_id),
        ("alias/acs/oss", &meta.key_id)
    );
    let dk = kms.generate_data_key(&acct(), &default, 0, &ctx("o")).await?;
    assert_eq!(dk.key_id, meta.key_id);

    // Another account's first use is a GenerateDataKey: it gets a key of its own.
    let theirs = kms
        .generate_data_key(&other_acct(), &default, 0, &ctx("o"))
        .await?;
    assert_ne!(theirs.key_id, meta.key_id);
    assert_eq!(
        kms.describe_key(&other_acct(), &default).await?.key_id,
        theirs.key_id
    );
    Ok(())
}

pub async fn other_accounts_keys_are_invisible(s: &Subject) -> anyhow::Result<()> {
    let kms = s.kms();
    let (mine, theirs, page) = (acct(), other_acct(), Page::new(1, 10)?);
    let key = new_key(kms, KeyOrigin::AliyunKms).await?;
    let dk = kms.generate_data_key(&mine, &key, 0, &ctx("x")).await?;
    let not_found = Err(KmsError::KeyNotFound);
    assert_eq!(kms.describe_key(&theirs, &key).await.map(drop), not_found);
    assert_eq!(
        kms.generate_data_key(&theirs, &key, 0, &ctx("x")).await.map(drop),
        not_found
    );
    assert_eq!(
        kms.decrypt(&theirs, &dk.ciphertext_blob, &ctx("x"))
            .await
            .map(drop),
        not_found
    );
    assert_eq!(
        kms.re_encrypt(&theirs, &dk.ciphertext_blob, &ctx("x"), None, &ctx("x"))
            .await
            .map(drop),
        not_found
    );
    assert_eq!(kms.disable_key(&theirs, &key).await.map(drop), not_found);
    assert_eq!(
        kms.schedule_key_deletion(&theirs, &key, 7).await.map(drop),
        not_found
    );
    assert_eq!(kms.create_alias(&theirs, &alias("x")?, &key).await, not_found);
    assert_eq!(kms.list_keys(&theirs, page).await?.total_count, 0);

    // Alias names are per account.
    let shared = alias("shared")?;
    kms.create_alias(&mine, &shared, &key).await?;
    let by_alias = KeyRef::Alias(shared.clone());
    assert_eq!(
        kms.describe_key(&theirs, &by_alias).await.map(drop),
        Err(KmsError::AliasNotFound)
    );
    let mut req = create(KeyOrigin::AliyunKms, RotationPolicy::new(false, 0)?);
    req.account = theirs.clone();
    let their_key = KeyRef::Id(kms.create_key(req).await?.key_id);
    kms.create_alias(&theirs, &shared, &their_key).await?;
    assert_eq!(KeyRef::Id(kms.describe_key(&mine, &by_alias).await?.key_id), key);
    assert_eq!(
        KeyRef::Id(kms.describe_key(&theirs, &by_alias).await?.key_id),
        their_key
    );
    assert_eq!(kms.list_aliases(&theirs, page).await?.total_count, 1);
    let their_dk = kms.generate_data_key(&theirs, &by_alias, 0, &ctx("x")).await?;
    assert_eq!(
        kms.decrypt(&mine, &their_dk.ciphertext_blob, &ctx("x"))
            .await
            .map(drop),
        not_found
    );
    Ok(())
}

pub async fn list_keys_pages_in_creation_order(s: &Subject) -> anyhow::Result<()> {
    let kms = s.kms();
    let mut ids = Vec::new();
    for _ in 0..3 {
        ids.push(new_key(kms, KeyOrigin::AliyunKms).await?);
        s.advance(1);
    }
    let listed = |n, size| async move {
        kms.list_keys(&acct(), Page::new(n, size)?)
            .await
            .map_err(anyhow::Error::from)
    };
    let first = listed(1, 2).await?;
    let second = listed(2, 2).await?;
    let past = listed(3, 2).await?;
    let refs = |p: &cang_kms_api::Paged<cang_kms_api::KeyListEntry>| {
        p.items
            .iter()
            .map(|e| KeyRef::Id(e.key_id.clone()))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        (refs(&first), first.total_count, first.page),
        (ids[..2].to_vec(), 3, Page::new(1, 2)?)
    );
    assert_eq!((refs(&second), second.total_count), (ids[2..].to_vec(), 3));
    assert_eq!((past.items.len(), past.total_count), (0, 3));
    assert_eq!(
        first.items[0].arn,
        format!("acs:kms:cn-cang:{}:key/{}", acct(), first.items[0].key_id)
    );
    // Pages built without `Page::new` are read as over gRPC: 0 is the default, over 100 refused.
    let unchecked = kms.list_keys(&acct(), Page { number: 0, size: 2 }).await?;
    assert_eq!(
        (refs(&unchecked), unchecked.page),
        (ids[..2].to_vec(), Page::new(1, 2)?)
    );
    let aliases = kms.list_aliases(&acct(), Page { number: 0, size: 0 }).await?;
    assert_eq!(aliases.page, Page::new(1, 10)?);
    assert_eq!(
        kms.list_aliases(&acct(), Page { number: 1, size: 101 })
            .await
            .map(drop),
        Err(KmsError::InvalidArgument("PageSize must be 1-100".into()))
    );
    assert_eq!(
        kms.list_keys(&acct(), Page { number: 1, size: 200 })
            .await
            .map(drop),
        Err(KmsError::InvalidArgument("PageSize must be 1-100".into()))
    );
    Ok(())
}

pub async fn tags_are_kept_per_key(s: &Subject) -> anyhow::Result<()> {
    use cang_kms_api::{MAX_TAGS_PER_KEY, Tag};
    let kms = s.kms();
    let a = acct();
    let key = new_key(kms, KeyOrigin::AliyunKms).await?;
    let other = new_key(kms, KeyOrigin::AliyunKms).await?;
    let id = match &key {
        KeyRef::Id(id) => id.clone(),
        KeyRef::Alias(_) => unreachable!("new_key names keys by id"),
    };
    assert_eq!(kms.list_resource_tags(&a, &key).await?, (id.clone(), Vec::new()));
    kms.tag_resource(
        &a,
        &key,
        &[Tag::new("team", "storage")?, Tag::new("env", "test")?],
    )
    .await?;
    kms.tag_resource(&a, &key, &[Tag::new("env", "prod")?]).await?;
    let expected = vec![Tag::new("env", "prod")?, Tag::new("team", "storage")?];
    assert_eq!(kms.list_resource_tags(&a, &key).await?, (id.clone(), expected));
    // Through an alias, the same key; the other key is untouched.
    kms.create_alias(&a, &alias("tagged")?, &key).await?;
    let via_alias = kms
        .list_resource_tags(&a, &KeyRef::Alias(alias("tagged")?))
        .await?;
    assert_eq!(via_alias.0, id);
    assert_eq!(kms.list_resource_tags(&a, &other).await?.1, Vec::new());
    kms.untag_resource(&a, &key, &["team".to_owned(), "absent".to_owned()])
        .await?;
    assert_eq!(
        kms.list_resource_tags(&a, &key).await?.1,
        vec![Tag::new("env", "prod")?]
    );
    // At most MAX_TAGS_PER_KEY, and a refused call changes nothing.
    let many = (0..MAX_TAGS_PER_KEY)
        .map(|i| Tag::new(format!("k{i}"), "v"))
        .collect::<Result<Vec<_>, _>>()?;
    assert!(matches!(
        kms.tag_resource(&a, &key, &many).await,
        Err(KmsError::InvalidArgument(_))
    ));
    assert_eq!(kms.list_resource_tags(&a, &key).await?.1.len(), 1);
    assert!(matches!(
        kms.untag_resource(&a, &key, &["acs:x".to_owned()]).await,
        Err(KmsError::InvalidArgument(_))
    ));
    // Unknown and foreign keys are not found.
    let unknown = KeyRef::Id(KeyId::new("00000000-0000-4000-8000-000000000000")?);
    assert_eq!(
        kms.list_resource_tags(&a, &unknown).await.map(drop),
        Err(KmsError::KeyNotFound)
    );
    assert_eq!(
        kms.tag_resource(&other_acct(), &key, &[Tag::new("x", "y")?])
            .await,
        Err(KmsError::KeyNotFound)
    );
    Ok(())
}
