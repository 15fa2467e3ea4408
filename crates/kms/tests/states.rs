//! The key state × operation table of Alibaba KMS ("Impact of CMK states on API calls", mirrored in
//! `docs/oss-api.md` §9.2): every operation is tried on a fresh key in every state, and both the
//! result (the exact `KmsError` variant) and the state the key is left in are checked.

mod common;

use cang_kms::{KeyringConfig, KmsSession, ManualClock};
use cang_kms_api::{
    AliasName, KeyOrigin, KeyRef, KeyState, KmsApi, KmsError, Page, Paged, SecretBytes, WrappedDataKey,
};
use common::{acct, admin, create, ctx, import, no_rotation, open, wrap_material};

use KeyState::{Disabled, Enabled, PendingDeletion, PendingImport};
use KmsError::{
    KeyDisabled, PendingDeletion as RejectedPendingDeletion, PendingImport as RejectedPendingImport,
    StateModifiedFailed,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    GenerateDataKey,
    GenerateDataKeyWithoutPlaintext,
    Encrypt,
    Decrypt,
    ReEncrypt,
    DescribeKey,
    ListKeys,
    ListAliases,
    ListAliasesByKeyId,
    DeleteAlias,
    EnableKey,
    DisableKey,
    ScheduleKeyDeletion,
    CancelKeyDeletion,
    CreateAlias,
    UpdateAlias,
    GetParametersForImport,
    ImportKeyMaterial,
    DeleteKeyMaterial,
}

impl Op {
    /// BYOK operations need a key of origin EXTERNAL.
    fn needs_external(self) -> bool {
        matches!(
            self,
            Op::GetParametersForImport | Op::ImportKeyMaterial | Op::DeleteKeyMaterial
        )
    }
}

/// (state before, operation, result, state after).
type Row = (KeyState, Op, Result<(), KmsError>, KeyState);

const OK: Result<(), KmsError> = Ok(());

#[rustfmt::skip]
const TABLE: &[Row] = &[
    // GenerateDataKey / Encrypt / Decrypt (and the variants built on them).
    (Enabled,         Op::GenerateDataKey, OK,                               Enabled),
    (Disabled,        Op::GenerateDataKey, Err(KeyDisabled),                 Disabled),
    (PendingDeletion, Op::GenerateDataKey, Err(RejectedPendingDeletion),     PendingDeletion),
    (PendingImport,   Op::GenerateDataKey, Err(RejectedPendingImport),       PendingImport),
    (Enabled,         Op::GenerateDataKeyWithoutPlaintext, OK,                           Enabled),
    (Disabled,        Op::GenerateDataKeyWithoutPlaintext, Err(KeyDisabled),             Disabled),
    (PendingDeletion, Op::GenerateDataKeyWithoutPlaintext, Err(RejectedPendingDeletion), PendingDeletion),
    (PendingImport,   Op::GenerateDataKeyWithoutPlaintext, Err(RejectedPendingImport),   PendingImport),
    (Enabled,         Op::Encrypt, OK,                           Enabled),
    (Disabled,        Op::Encrypt, Err(KeyDisabled),             Disabled),
    (PendingDeletion, Op::Encrypt, Err(RejectedPendingDeletion), PendingDeletion),
    (PendingImport,   Op::Encrypt, Err(RejectedPendingImport),   PendingImport),
    (Enabled,         Op::Decrypt, OK,                           Enabled),
    (Disabled,        Op::Decrypt, Err(KeyDisabled),             Disabled),
    (PendingDeletion, Op::Decrypt, Err(RejectedPendingDeletion), PendingDeletion),
    (PendingImport,   Op::Decrypt, Err(RejectedPendingImport),   PendingImport),
    (Enabled,         Op::ReEncrypt, OK,                           Enabled),
    (Disabled,        Op::ReEncrypt, Err(KeyDisabled),             Disabled),
    (PendingDeletion, Op::ReEncrypt, Err(RejectedPendingDeletion), PendingDeletion),
    (PendingImport,   Op::ReEncrypt, Err(RejectedPendingImport),   PendingImport),
    // DescribeKey / ListKeys / ListAliases / DeleteAlias: allowed in every state.
    (Enabled,         Op::DescribeKey, OK, Enabled),
    (Disabled,        Op::DescribeKey, OK, Disabled),
    (PendingDeletion, Op::DescribeKey, OK, PendingDeletion),
    (PendingImport,   Op::DescribeKey, OK, PendingImport),
    (Enabled,         Op::ListKeys, OK, Enabled),
    (Disabled,        Op::ListKeys, OK, Disabled),
    (PendingDeletion, Op::ListKeys, OK, PendingDeletion),
    (PendingImport,   Op::ListKeys, OK, PendingImport),
    (Enabled,         Op::ListAliases, OK, Enabled),
    (Disabled,        Op::ListAliases, OK, Disabled),
    (PendingDeletion, Op::ListAliases, OK, PendingDeletion),
    (PendingImport,   Op::ListAliases, OK, PendingImport),
    (Enabled,         Op::ListAliasesByKeyId, OK, Enabled),
    (Disabled,        Op::ListAliasesByKeyId, OK, Disabled),
    (PendingDeletion, Op::ListAliasesByKeyId, OK, PendingDeletion),
    (PendingImport,   Op::ListAliasesByKeyId, OK, PendingImport),
    (Enabled,         Op::DeleteAlias, OK, Enabled),
    (Disabled,        Op::DeleteAlias, OK, Disabled),
    (PendingDeletion, Op::DeleteAlias, OK, PendingDeletion),
    (PendingImport,   Op::DeleteAlias, OK, PendingImport),
    // EnableKey / DisableKey.
    (Enabled,         Op::EnableKey, OK,                       Enabled),
    (Disabled,        Op::EnableKey, OK,                       Enabled),
    (PendingDeletion, Op::EnableKey, Err(StateModifiedFailed), PendingDeletion),
    (PendingImport,   Op::EnableKey, Err(StateModifiedFailed), PendingImport),
    (Enabled,         Op::DisableKey, OK,                       Disabled),
    (Disabled,        Op::DisableKey, OK,                       Disabled),
    (PendingDeletion, Op::DisableKey, Err(StateModifiedFailed), PendingDeletion),
    (PendingImport,   Op::DisableKey, Err(StateModifiedFailed), PendingImport),
    // ScheduleKeyDeletion / CancelKeyDeletion.
    (Enabled,         Op::ScheduleKeyDeletion, OK,                       PendingDeletion),
    (Disabled,        Op::ScheduleKeyDeletion, OK,                       PendingDeletion),
    (PendingDeletion, Op::ScheduleKeyDeletion, Err(StateModifiedFailed), PendingDeletion),
    (PendingImport,   Op::ScheduleKeyDeletion, OK,                       PendingDeletion),
    (Enabled,         Op::CancelKeyDeletion, Err(StateModifiedFailed), Enabled),
    (Disabled,        Op::CancelKeyDeletion, Err(StateModifiedFailed), Disabled),
    (PendingDeletion, Op::CancelKeyDeletion, OK,                       Enabled),
    (PendingImport,   Op::CancelKeyDeletion, Err(StateModifiedFailed), PendingImport),
    // CreateAlias, and UpdateAlias governed by the state of the key it is pointed at.
    (Enabled,         Op::CreateAlias, OK,                       Enabled),
    (Disabled,        Op::CreateAlias, OK,                       Disabled),
    (PendingDeletion, Op::CreateAlias, Err(StateModifiedFailed), PendingDeletion),
    (PendingImport,   Op::CreateAlias, OK,                       PendingImport),
    (Enabled,         Op::UpdateAlias, OK,                       Enabled),
    (Disabled,        Op::UpdateAlias, OK,                       Disabled),
    (PendingDeletion, Op::UpdateAlias, Err(StateModifiedFailed), PendingDeletion),
    (PendingImport,   Op::UpdateAlias, OK,                       PendingImport),
    // BYOK (keys of origin EXTERNAL).
    (Enabled,         Op::GetParametersForImport, OK, Enabled),
    (Disabled,        Op::GetParametersForImport, OK, Disabled),
    (PendingDeletion, Op::GetParametersForImport, OK, PendingDeletion),
    (PendingImport,   Op::GetParametersForImport, OK, PendingImport),
    (Enabled,         Op::ImportKeyMaterial, OK,                       Enabled),
    (Disabled,        Op::ImportKeyMaterial, OK,                       Disabled),
    (PendingDeletion, Op::ImportKeyMaterial, Err(StateModifiedFailed), PendingDeletion),
    (PendingImport,   Op::ImportKeyMaterial, OK,                       Enabled),
    (Enabled,         Op::DeleteKeyMaterial, OK, PendingImport),
    (Disabled,        Op::DeleteKeyMaterial, OK, PendingImport),
    (PendingDeletion, Op::DeleteKeyMaterial, OK, PendingDeletion),
    (PendingImport,   Op::DeleteKeyMaterial, OK, PendingImport),
];

/// A key brought into a state, with what the operations need: a blob wrapped while it was enabled,
/// an alias on it, and (for EXTERNAL keys) its material.
struct Fixture {
    key: KeyRef,
    blob: WrappedDataKey,
    alias: AliasName,
    material: [u8; 32],
}

/// A fresh key in `state`. EXTERNAL keys are used where the row needs them (BYOK operations, and
/// `PendingImport`, which only they can reach); `PendingImport` is reached by deleting imported
/// material, so a blob made before still exists.
async fn fixture(kms: &KmsSession, state: KeyState, external: bool) -> anyhow::Result<Fixture> {
    let origin = if external {
        KeyOrigin::External
    } else {
        KeyOrigin::AliyunKms
    };
    let key = KeyRef::Id(kms.create_key(create(origin, no_rotation())).await?.key_id);
    let mut material = [0u8; 32];
    getrandom::fill(&mut material)?;
    if external {
        import(kms, &key, &material).await?;
    }
    let blob = kms
        .generate_data_key(&acct(), &key, 0, &ctx("row"))
        .await?
        .ciphertext_blob;
    let alias = AliasName::new(format!("alias/row-{key}"))?;
    kms.create_alias(&acct(), &alias, &key).await?;
    match state {
        Enabled => {}
        Disabled => {
            kms.disable_key(&acct(), &key).await?;
        }
        PendingDeletion => {
            kms.schedule_key_deletion(&acct(), &key, 7).await?;
        }
        PendingImport => {
            kms.delete_key_material(&acct(), &key).await?;
        }
    }
    anyhow::ensure!(kms.describe_key(&acct(), &key).await?.state == state);
    Ok(Fixture {
        key,
        blob,
        alias,
        material,
    })
}

/// Every item of a paged listing (the table creates more keys and aliases than one page holds).
async fn all_pages<T, F, Fut>(mut list: F) -> Result<Vec<T>, KmsError>
where
    F: FnMut(Page) -> Fut,
    Fut: std::future::Future<Output = Result<Paged<T>, KmsError>>,
{
    let mut items = Vec::new();
    for number in 1.. {
        let paged = list(Page::new(number, 100)?).await?;
        let done = paged.items.is_empty() || items.len() + paged.items.len() >= paged.total_count as usize;
        items.extend(paged.items);
        if done {
            break;
        }
    }
    Ok(items)
}

async fn run(kms: &KmsSession, op: Op, f: &Fixture) -> anyhow::Result<Result<(), KmsError>> {
    let a = acct();
    let page = Page::new(1, 100)?;
    let key_id = f.key.to_string();
    Ok(match op {
        Op::GenerateDataKey => kms.generate_data_key(&a, &f.key, 0, &ctx("o")).await.map(drop),
        Op::GenerateDataKeyWithoutPlaintext => kms
            .generate_data_key_without_plaintext(&a, &f.key, 0, &ctx("o"))
            .await
            .map(drop),
        Op::Encrypt => kms
            .encrypt(&a, &f.key, &SecretBytes::from(vec![7u8; 16]), &ctx("o"))
            .await
            .map(drop),
        Op::Decrypt => kms.decrypt(&a, &f.blob, &ctx("row")).await.map(drop),
        Op::ReEncrypt => kms
            .re_encrypt(&a, &f.blob, &ctx("row"), None, &ctx("moved"))
            .await
            .map(drop),
        Op::DescribeKey => kms.describe_key(&a, &f.key).await.map(drop),
        Op::ListKeys => all_pages(|page| kms.list_keys(&a, page)).await.map(|keys| {
            let listed = keys.iter().any(|k| k.key_id.as_str() == key_id);
            assert!(listed, "ListKeys omits {key_id}");
        }),
        Op::ListAliases => all_pages(|page| kms.list_aliases(&a, page)).await.map(|aliases| {
            let listed = aliases.iter().any(|x| x.name == f.alias);
            assert!(listed, "ListAliases omits {}", f.alias);
        }),
        Op::ListAliasesByKeyId => kms
            .list_aliases_by_key_id(&a, &f.key, page)
            .await
            .map(|p| assert_eq!(p.items.len(), 1, "the fixture's alias only")),
        Op::DeleteAlias => kms.delete_alias(&a, &f.alias).await,
        Op::EnableKey => kms.enable_key(&a, &f.key).await.map(drop),
        Op::DisableKey => kms.disable_key(&a, &f.key).await.map(drop),
        Op::ScheduleKeyDeletion => kms.schedule_key_deletion(&a, &f.key, 30).await.map(drop),
        Op::CancelKeyDeletion => kms.cancel_key_deletion(&a, &f.key).await.map(drop),
        Op::CreateAlias => {
            let alias = AliasName::new(format!("alias/new-{key_id}"))?;
            kms.create_alias(&a, &alias, &f.key).await
        }
        Op::UpdateAlias => {
            // The alias starts on another, enabled key; only the target's state may matter.
            let other = KeyRef::Id(
                kms.create_key(create(KeyOrigin::AliyunKms, no_rotation()))
                    .await?
                    .key_id,
            );
            let alias = AliasName::new(format!("alias/moved-{key_id}"))?;
            kms.create_alias(&a, &alias, &other).await?;
            kms.update_alias(&a, &alias, &f.key).await
        }
        Op::GetParametersForImport => kms.get_parameters_for_import(&a, &f.key).await.map(drop),
        Op::ImportKeyMaterial => {
            let params = kms.get_parameters_for_import(&a, &f.key).await?;
            let wrapped = wrap_material(&params.public_key, &f.material)?;
            kms.import_key_material(&a, &f.key, &wrapped, &params.import_token, None)
                .await
                .map(drop)
        }
        Op::DeleteKeyMaterial => kms.delete_key_material(&a, &f.key).await.map(drop),
    })
}

#[tokio::test]
async fn every_operation_in_every_state() -> anyhow::Result<()> {
    // The table is complete: every operation appears once per state.
    let states = [Enabled, Disabled, PendingDeletion, PendingImport];
    for &(_, op, _, _) in TABLE {
        for state in states {
            let rows = TABLE.iter().filter(|r| r.0 == state && r.1 == op).count();
            assert_eq!(rows, 1, "{op:?} in {state:?} has {rows} rows");
        }
    }

    let dir = tempfile::tempdir()?;
    let service = open(
        dir.path(),
        &ManualClock::new(common::T0),
        KeyringConfig::default(),
    )?;
    let kms = admin(&service);
    let mut failures = Vec::new();
    for (state, op, expected, after) in TABLE {
        let external = op.needs_external() || *state == PendingImport;
        let f = fixture(&kms, *state, external).await?;
        let got = run(&kms, *op, &f).await?;
        let now = kms.describe_key(&acct(), &f.key).await?.state;
        if &got != expected || now != *after {
            failures.push(format!(
                "{state:?} × {op:?} (external: {external}): got {got:?} → {now:?}, want {expected:?} → {after:?}"
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    Ok(())
}

/// Keys of origin Aliyun_KMS follow the same table in the three states they can reach (the BYOK
/// operations refuse them whatever the state).
#[tokio::test]
async fn generated_keys_follow_the_same_table() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let service = open(
        dir.path(),
        &ManualClock::new(common::T0),
        KeyringConfig::default(),
    )?;
    let kms = admin(&service);
    for (state, op, expected, after) in TABLE {
        if *state == PendingImport || op.needs_external() {
            continue;
        }
        let f = fixture(&kms, *state, false).await?;
        assert_eq!(&run(&kms, *op, &f).await?, expected, "{state:?} × {op:?}");
        assert_eq!(
            kms.describe_key(&acct(), &f.key).await?.state,
            *after,
            "{state:?} × {op:?}"
        );
    }
    for state in [Enabled, Disabled, PendingDeletion] {
        let f = fixture(&kms, state, false).await?;
        for op in [Op::GetParametersForImport, Op::DeleteKeyMaterial] {
            let got = run(&kms, op, &f).await?;
            assert!(
                matches!(got, Err(KmsError::InvalidArgument(_))),
                "{state:?} × {op:?}: {got:?}"
            );
        }
    }
    Ok(())
}

/// Imported material that reaches its expiry time reads as `PendingImport` without any call, and
/// follows that column of the table.
#[tokio::test]
async fn expired_material_is_pending_import() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let clock = ManualClock::new(common::T0);
    let service = open(dir.path(), &clock, KeyringConfig::default())?;
    let kms = admin(&service);
    let key = KeyRef::Id(
        kms.create_key(create(KeyOrigin::External, no_rotation()))
            .await?
            .key_id,
    );
    let material = [0x42u8; 32];
    let params = kms.get_parameters_for_import(&acct(), &key).await?;
    let wrapped = wrap_material(&params.public_key, &material)?;
    kms.import_key_material(
        &acct(),
        &key,
        &wrapped,
        &params.import_token,
        Some(common::T0 + 3600),
    )
    .await?;
    let blob = kms
        .generate_data_key(&acct(), &key, 0, &ctx("e"))
        .await?
        .ciphertext_blob;
    clock.advance(3600);
    assert_eq!(kms.describe_key(&acct(), &key).await?.state, PendingImport);
    assert_eq!(
        kms.decrypt(&acct(), &blob, &ctx("e")).await.err(),
        Some(RejectedPendingImport)
    );
    assert_eq!(
        kms.generate_data_key(&acct(), &key, 0, &ctx("e")).await.err(),
        Some(RejectedPendingImport)
    );
    assert_eq!(
        kms.enable_key(&acct(), &key).await.err(),
        Some(StateModifiedFailed)
    );
    // Importing the same material again (no expiry) brings it back, old blobs included.
    import(&kms, &key, &material).await?;
    assert_eq!(kms.describe_key(&acct(), &key).await?.state, Enabled);
    assert!(kms.decrypt(&acct(), &blob, &ctx("e")).await.is_ok());
    Ok(())
}
