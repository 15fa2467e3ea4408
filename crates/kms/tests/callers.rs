//! Least privilege between services, over real gRPC with mutual TLS: every operation is tried with the
//! certificate of every identity. `admin` may do everything, `gateway` may describe, list and use keys,
//! and `meta` and `kms` may call nothing (DESIGN §8a).

mod common;

use cang_kms_api::{
    AliasName, KeyOrigin, KeyRef, KmsApi, KmsError, KmsGrpcClient, Page, SecretBytes, ServiceKeySuite,
    WrappedDataKey,
};
use common::grpc::{self, GrpcKms};
use common::{acct, create, ctx, no_rotation, wrap_material};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    CreateKey,
    DescribeKey,
    ListKeys,
    EnableKey,
    DisableKey,
    ScheduleKeyDeletion,
    CancelKeyDeletion,
    CreateAlias,
    UpdateAlias,
    DeleteAlias,
    ListAliases,
    ListAliasesByKeyId,
    RotateKey,
    UpdateRotationPolicy,
    ListKeyVersions,
    GenerateDataKey,
    GenerateDataKeyWithoutPlaintext,
    GenerateServiceDataKey,
    Encrypt,
    Decrypt,
    ReEncrypt,
    GetParametersForImport,
    ImportKeyMaterial,
    DeleteKeyMaterial,
    TagResource,
    UntagResource,
    ListResourceTags,
    ListAuditRecords,
    VerifyAuditLog,
    RecordJob,
    Snapshot,
}

/// Who may call an operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    /// Gateway and admin.
    Gateway,
    /// Admin only.
    Admin,
}

#[rustfmt::skip]
const TABLE: &[(Op, Class)] = &[
    (Op::CreateKey,                       Class::Admin),
    (Op::DescribeKey,                     Class::Gateway),
    (Op::ListKeys,                        Class::Gateway),
    (Op::EnableKey,                       Class::Admin),
    (Op::DisableKey,                      Class::Admin),
    (Op::ScheduleKeyDeletion,             Class::Admin),
    (Op::CancelKeyDeletion,               Class::Admin),
    (Op::CreateAlias,                     Class::Admin),
    (Op::UpdateAlias,                     Class::Admin),
    (Op::DeleteAlias,                     Class::Admin),
    (Op::ListAliases,                     Class::Gateway),
    (Op::ListAliasesByKeyId,              Class::Gateway),
    (Op::RotateKey,                       Class::Admin),
    (Op::UpdateRotationPolicy,            Class::Admin),
    (Op::ListKeyVersions,                 Class::Gateway),
    (Op::GenerateDataKey,                 Class::Gateway),
    (Op::GenerateDataKeyWithoutPlaintext, Class::Gateway),
    (Op::GenerateServiceDataKey,          Class::Gateway),
    (Op::Encrypt,                         Class::Gateway),
    (Op::Decrypt,                         Class::Gateway),
    (Op::ReEncrypt,                       Class::Gateway),
    (Op::GetParametersForImport,          Class::Admin),
    (Op::ImportKeyMaterial,               Class::Admin),
    (Op::DeleteKeyMaterial,               Class::Admin),
    (Op::TagResource,                     Class::Admin),
    (Op::UntagResource,                   Class::Admin),
    (Op::ListResourceTags,                Class::Gateway),
    (Op::ListAuditRecords,                Class::Admin),
    (Op::VerifyAuditLog,                  Class::Admin),
    (Op::RecordJob,                       Class::Gateway),
    (Op::Snapshot,                        Class::Admin),
];

/// What one row needs, prepared by the admin: a key in the state the operation accepts, an alias of
/// it, a data key under it, and for BYOK an external key with import parameters.
struct Fixture {
    key: KeyRef,
    alias: AliasName,
    new_alias: AliasName,
    blob: WrappedDataKey,
    external: KeyRef,
    wrapped_material: Vec<u8>,
    import_token: Vec<u8>,
}

async fn fixture(admin: &KmsGrpcClient, op: Op, row: usize) -> anyhow::Result<Fixture> {
    let a = acct();
    let key = KeyRef::Id(
        admin
            .create_key(create(KeyOrigin::AliyunKms, no_rotation()))
            .await?
            .key_id,
    );
    let alias = AliasName::new(format!("alias/row-{row}"))?;
    admin.create_alias(&a, &alias, &key).await?;
    let blob = admin
        .generate_data_key(&a, &key, 0, &ctx("o"))
        .await?
        .ciphertext_blob;
    if op == Op::CancelKeyDeletion {
        admin.schedule_key_deletion(&a, &key, 7).await?;
    }
    let external = KeyRef::Id(
        admin
            .create_key(create(KeyOrigin::External, no_rotation()))
            .await?
            .key_id,
    );
    // RSA key generation is slow in debug builds: only the import row gets parameters.
    let (wrapped_material, import_token) = if op == Op::ImportKeyMaterial {
        let params = admin.get_parameters_for_import(&a, &external).await?;
        (
            wrap_material(&params.public_key, &[0x42; 32])?,
            params.import_token.to_vec(),
        )
    } else {
        (Vec::new(), Vec::new())
    };
    Ok(Fixture {
        key,
        alias,
        new_alias: AliasName::new(format!("alias/new-{row}"))?,
        blob,
        external,
        wrapped_material,
        import_token,
    })
}

async fn call(kms: &KmsGrpcClient, op: Op, f: &Fixture) -> Result<(), KmsError> {
    let a = acct();
    let page = Page::new(1, 10)?;
    match op {
        Op::CreateKey => kms
            .create_key(create(KeyOrigin::AliyunKms, no_rotation()))
            .await
            .map(drop),
        Op::DescribeKey => kms.describe_key(&a, &f.key).await.map(drop),
        Op::ListKeys => kms.list_keys(&a, page).await.map(drop),
        Op::EnableKey => kms.enable_key(&a, &f.key).await.map(drop),
        Op::DisableKey => kms.disable_key(&a, &f.key).await.map(drop),
        Op::ScheduleKeyDeletion => kms.schedule_key_deletion(&a, &f.key, 7).await.map(drop),
        Op::CancelKeyDeletion => kms.cancel_key_deletion(&a, &f.key).await.map(drop),
        Op::CreateAlias => kms.create_alias(&a, &f.new_alias, &f.key).await,
        Op::UpdateAlias => kms.update_alias(&a, &f.alias, &f.key).await,
        Op::DeleteAlias => kms.delete_alias(&a, &f.alias).await,
        Op::ListAliases => kms.list_aliases(&a, page).await.map(drop),
        Op::ListAliasesByKeyId => kms.list_aliases_by_key_id(&a, &f.key, page).await.map(drop),
        Op::RotateKey => kms.rotate_key(&a, &f.key).await.map(drop),
        Op::UpdateRotationPolicy => kms
            .update_rotation_policy(&a, &f.key, no_rotation())
            .await
            .map(drop),
        Op::ListKeyVersions => kms.list_key_versions(&a, &f.key).await.map(drop),
        Op::GenerateDataKey => kms.generate_data_key(&a, &f.key, 0, &ctx("o")).await.map(drop),
        Op::GenerateDataKeyWithoutPlaintext => kms
            .generate_data_key_without_plaintext(&a, &f.key, 0, &ctx("o"))
            .await
            .map(drop),
        Op::GenerateServiceDataKey => kms
            .generate_service_data_key(ServiceKeySuite::Aes256, &ctx("o"))
            .await
            .map(drop),
        Op::Encrypt => kms
            .encrypt(&a, &f.key, &SecretBytes::from(vec![7; 16]), &ctx("o"))
            .await
            .map(drop),
        Op::Decrypt => kms.decrypt(&a, &f.blob, &ctx("o")).await.map(drop),
        Op::ReEncrypt => kms
            .re_encrypt(&a, &f.blob, &ctx("o"), None, &ctx("p"))
            .await
            .map(drop),
        Op::GetParametersForImport => kms.get_parameters_for_import(&a, &f.external).await.map(drop),
        Op::ImportKeyMaterial => kms
            .import_key_material(&a, &f.external, &f.wrapped_material, &f.import_token, None)
            .await
            .map(drop),
        Op::DeleteKeyMaterial => kms.delete_key_material(&a, &f.external).await.map(drop),
        Op::TagResource => {
            kms.tag_resource(&a, &f.key, &[cang_kms_api::Tag::new("team", "storage")?])
                .await
        }
        Op::UntagResource => kms.untag_resource(&a, &f.key, &["team".to_owned()]).await,
        Op::ListResourceTags => kms.list_resource_tags(&a, &f.key).await.map(drop),
        Op::ListAuditRecords => kms.list_audit_records(0, 10).await.map(drop),
        Op::VerifyAuditLog => kms.verify_audit_log(None).await.map(drop),
        Op::Snapshot => {
            use futures::StreamExt;
            let mut stream = kms.snapshot().await?;
            let mut bytes = 0;
            while let Some(chunk) = stream.next().await {
                bytes += chunk?.len();
            }
            assert!(bytes > 0, "a keystore snapshot holds the keystore");
            Ok(())
        }
        Op::RecordJob => {
            kms.record_job(cang_kms_api::JobAuditEvent {
                kind: cang_kms_api::JobKind::Rewrap,
                phase: cang_kms_api::JobPhase::Started,
                account: a.to_string(),
                key_id: String::new(),
                details: [("job_id".to_owned(), "j".to_owned())].into(),
            })
            .await
        }
    }
}

#[tokio::test]
async fn only_gateway_and_admin_may_call_kms_and_only_admin_administers() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let kms: GrpcKms = grpc::start(dir.path()).await?;
    let admin = kms.client("admin")?;
    let callers = [
        ("admin", kms.client("admin")?),
        ("gateway", kms.client("gateway")?),
        ("meta", kms.client("meta")?),
        ("kms", kms.client("kms")?),
    ];
    let mut row = 0;
    for (op, class) in TABLE {
        for (name, client) in &callers {
            row += 1;
            let f = fixture(&admin, *op, row).await?;
            let allowed = match *name {
                "admin" => true,
                "gateway" => *class == Class::Gateway,
                _ => false,
            };
            let got = call(client, *op, &f).await;
            if allowed {
                assert_eq!(got, Ok(()), "{name} {op:?} must be allowed");
            } else {
                assert_eq!(got, Err(KmsError::AccessDenied), "{name} {op:?} must be refused");
            }
        }
    }
    Ok(())
}

#[tokio::test]
async fn a_refused_call_changes_nothing() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let kms = grpc::start(dir.path()).await?;
    let admin = kms.client("admin")?;
    let f = fixture(&admin, Op::DisableKey, 0).await?;
    for name in ["gateway", "meta"] {
        let client = kms.client(name)?;
        assert_eq!(
            client.disable_key(&acct(), &f.key).await.err(),
            Some(KmsError::AccessDenied)
        );
    }
    assert_eq!(
        admin.describe_key(&acct(), &f.key).await?.state,
        cang_kms_api::KeyState::Enabled
    );
    Ok(())
}

#[tokio::test]
async fn a_job_record_lands_in_the_audit_log_as_sent_and_an_oversized_one_is_refused() -> anyhow::Result<()> {
    use cang_kms_api::{JobAuditEvent, JobKind, JobPhase};
    let dir = tempfile::tempdir()?;
    let kms = grpc::start(dir.path()).await?;
    let admin = kms.client("admin")?;
    let gateway = kms.client("gateway")?;
    let event = JobAuditEvent {
        kind: JobKind::EncryptExisting,
        phase: JobPhase::Succeeded,
        account: acct().to_string(),
        key_id: String::new(),
        details: [("job_id", "ab12"), ("bucket", "b"), ("processed", "3")]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect(),
    };
    gateway.record_job(event.clone()).await?;
    let mut found = None;
    for _ in 0..100 {
        let records = admin.list_audit_records(0, 1000).await?;
        found = records.into_iter().find(|r| r.operation == "EncryptExistingJob");
        if found.is_some() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let record = found.expect("the job record");
    assert_eq!(record.result, "ok");
    assert_eq!(record.principal, "gateway");
    assert_eq!(record.end_user, None);
    assert_eq!(record.encryption_context.0, event.details);

    let mut oversized = event;
    oversized.details = (0..=cang_kms_api::JOB_DETAILS_MAX)
        .map(|i| (format!("k{i}"), "v".to_owned()))
        .collect();
    assert!(matches!(
        gateway.record_job(oversized.clone()).await,
        Err(KmsError::InvalidArgument(_))
    ));
    oversized.details = [(
        "job_id".to_owned(),
        "x".repeat(cang_kms_api::JOB_DETAIL_MAX_LEN + 1),
    )]
    .into();
    assert!(matches!(
        gateway.record_job(oversized.clone()).await,
        Err(KmsError::InvalidArgument(_))
    ));
    // Only a job's own details, printable, for a real account.
    for (key, value) in [("operation", "Decrypt"), ("job_id", "a\nforged line")] {
        oversized.details = [
            ("job_id".to_owned(), "j".to_owned()),
            (key.to_owned(), value.to_owned()),
        ]
        .into();
        assert!(
            matches!(
                gateway.record_job(oversized.clone()).await,
                Err(KmsError::InvalidArgument(_))
            ),
            "{key}"
        );
    }
    oversized.details = [("job_id".to_owned(), "j".to_owned())].into();
    oversized.account = "not an account".into();
    assert!(gateway.record_job(oversized).await.is_err());
    Ok(())
}
