//! The audit names the end user (account, RAM user, access key) on whose behalf the gateway used a key,
//! beside the gateway's own identity (DESIGN §8a), over real gRPC with mutual TLS and in process. The
//! claim is accepted from the gateway only; malformed claims are refused without harm.

mod common;

use std::time::Duration;

use cang_kms_api::{
    AuditRecord, END_USER_ACCESS_KEY_ID_METADATA, END_USER_ACCOUNT_METADATA, END_USER_USER_METADATA, EndUser,
    KeyOrigin, KeyRef, KmsApi, KmsError, KmsForCaller, ServiceKeySuite, WrappedDataKey, on_behalf_of,
};
use cang_proto::cang::kms::v1 as pb;
use cang_proto::cang::kms::v1::kms_client::KmsClient;
use cang_tls::ServiceIdentity;
use common::{acct, create, ctx, grpc, no_rotation};
use tonic::metadata::{AsciiMetadataValue, MetadataValue};

fn alice() -> EndUser {
    EndUser {
        account: acct().as_str().to_owned(),
        user: Some("alice".into()),
        access_key_id: "LTAI5tAliceKey".into(),
        source_ip: None,
    }
}

fn root() -> EndUser {
    EndUser {
        account: acct().as_str().to_owned(),
        user: None,
        access_key_id: "LTAI5tRootKey".into(),
        source_ip: None,
    }
}

/// A service on `dir` with one CMK of `acct()`, created by the admin.
async fn with_key(dir: &std::path::Path) -> anyhow::Result<(std::sync::Arc<cang_kms::KmsService>, KeyRef)> {
    let clock = cang_kms::ManualClock::new(common::T0);
    let service = common::open(dir, &clock, cang_kms::KeyringConfig::default())?;
    let key = KeyRef::Id(
        common::admin(&service)
            .create_key(create(KeyOrigin::AliyunKms, no_rotation()))
            .await?
            .key_id,
    );
    Ok((service, key))
}

/// Audit records are written by a background thread: polls until `count` records match `pred`.
async fn audited(
    admin: &impl KmsApi,
    count: usize,
    pred: impl Fn(&AuditRecord) -> bool,
) -> anyhow::Result<Vec<AuditRecord>> {
    for _ in 0..100 {
        let found: Vec<_> = admin
            .list_audit_records(0, 1000)
            .await?
            .into_iter()
            .filter(|r| pred(r))
            .collect();
        if found.len() >= count {
            return Ok(found);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    anyhow::bail!("fewer than {count} matching audit records")
}

fn raw_decrypt(blob: &WrappedDataKey) -> tonic::Request<pb::DecryptRequest> {
    tonic::Request::new(pb::DecryptRequest {
        account: acct().as_str().to_owned(),
        ciphertext_blob: blob.0.clone(),
        encryption_context: ctx("o").0.into_iter().collect(),
    })
}

#[tokio::test]
async fn gateway_key_use_is_audited_with_the_end_user() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let kms = grpc::start(dir.path()).await?;
    let (admin, gateway) = (kms.client("admin")?, kms.client("gateway")?);
    let key = KeyRef::Id(
        admin
            .create_key(create(KeyOrigin::AliyunKms, no_rotation()))
            .await?
            .key_id,
    );

    let dk = on_behalf_of(alice(), gateway.generate_data_key(&acct(), &key, 0, &ctx("o"))).await?;
    on_behalf_of(alice(), async {
        gateway.decrypt(&acct(), &dk.ciphertext_blob, &ctx("o")).await
    })
    .await?;
    on_behalf_of(
        root(),
        gateway.generate_service_data_key(ServiceKeySuite::Storage, &ctx("o")),
    )
    .await?;
    // Without a scope the gateway acts for nobody in particular (e.g. its own health probes).
    gateway.decrypt(&acct(), &dk.ciphertext_blob, &ctx("o")).await?;

    let records = audited(&admin, 4, |r| r.principal == "gateway").await?;
    let ops: Vec<(&str, Option<EndUser>)> = records
        .iter()
        .map(|r| (r.operation.as_str(), r.end_user.clone()))
        .collect();
    assert_eq!(
        ops,
        vec![
            ("GenerateDataKey", Some(alice())),
            ("Decrypt", Some(alice())),
            ("GenerateServiceDataKey", Some(root())),
            ("Decrypt", None),
        ]
    );
    let decrypt = &records[1];
    assert_eq!(
        (decrypt.key_id.as_str(), decrypt.result.as_str()),
        (dk.key_id.as_str(), "ok")
    );
    Ok(())
}

#[tokio::test]
async fn refused_gateway_calls_name_the_end_user_too() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let kms = grpc::start(dir.path()).await?;
    let (admin, gateway) = (kms.client("admin")?, kms.client("gateway")?);
    let refused = on_behalf_of(
        alice(),
        gateway.create_key(create(KeyOrigin::AliyunKms, no_rotation())),
    )
    .await;
    assert_eq!(refused.err(), Some(KmsError::AccessDenied));
    let records = audited(&admin, 1, |r| r.operation == "CreateKey").await?;
    assert_eq!(records[0].end_user, Some(alice()));
    assert_eq!(records[0].result, "Forbidden.NoPermission");
    Ok(())
}

#[tokio::test]
async fn the_same_claim_from_admin_does_not_impersonate() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let kms = grpc::start(dir.path()).await?;
    let admin = kms.client("admin")?;
    let key = on_behalf_of(
        alice(),
        admin.create_key(create(KeyOrigin::AliyunKms, no_rotation())),
    )
    .await?;
    let key = KeyRef::Id(key.key_id);
    let dk = on_behalf_of(alice(), admin.generate_data_key(&acct(), &key, 0, &ctx("o"))).await?;
    // Hand-made metadata, as a compromised admin host might send: ignored as well.
    let mut raw = KmsClient::new(kms.channel("admin")?);
    let mut req = raw_decrypt(&dk.ciphertext_blob);
    alice().to_metadata(req.metadata_mut())?;
    raw.decrypt(req).await?;

    let records = audited(&admin, 3, |r| r.principal == "admin").await?;
    assert!(records.iter().all(|r| r.end_user.is_none()), "{records:?}");
    assert!(records.iter().any(|r| r.operation == "Decrypt"));
    Ok(())
}

#[tokio::test]
async fn malformed_end_user_metadata_is_refused_from_the_gateway_and_ignored_from_admin() -> anyhow::Result<()>
{
    let dir = tempfile::tempdir()?;
    let kms = grpc::start(dir.path()).await?;
    let admin = kms.client("admin")?;
    let key = KeyRef::Id(
        admin
            .create_key(create(KeyOrigin::AliyunKms, no_rotation()))
            .await?
            .key_id,
    );
    let blob = admin
        .generate_data_key(&acct(), &key, 0, &ctx("o"))
        .await?
        .ciphertext_blob;

    let long = "9".repeat(129);
    let cases: Vec<(&str, Vec<(&str, AsciiMetadataValue)>)> = vec![
        (
            "account without access key",
            vec![(
                END_USER_ACCOUNT_METADATA,
                MetadataValue::from_static("1234567890"),
            )],
        ),
        (
            "user alone",
            vec![(END_USER_USER_METADATA, MetadataValue::from_static("alice"))],
        ),
        (
            "space in a field",
            vec![
                (END_USER_ACCOUNT_METADATA, MetadataValue::from_static("12 34")),
                (
                    END_USER_ACCESS_KEY_ID_METADATA,
                    MetadataValue::from_static("LTAI"),
                ),
            ],
        ),
        (
            "too long",
            vec![
                (
                    END_USER_ACCOUNT_METADATA,
                    AsciiMetadataValue::try_from(long.as_str())?,
                ),
                (
                    END_USER_ACCESS_KEY_ID_METADATA,
                    MetadataValue::from_static("LTAI"),
                ),
            ],
        ),
        (
            "not ASCII",
            vec![
                (
                    END_USER_ACCOUNT_METADATA,
                    MetadataValue::from_static("1234567890"),
                ),
                (
                    END_USER_USER_METADATA,
                    AsciiMetadataValue::try_from(b"b\xf6b".as_slice())?,
                ),
                (
                    END_USER_ACCESS_KEY_ID_METADATA,
                    MetadataValue::from_static("LTAI"),
                ),
            ],
        ),
        (
            "repeated",
            vec![
                (
                    END_USER_ACCOUNT_METADATA,
                    MetadataValue::from_static("1234567890"),
                ),
                (
                    END_USER_ACCESS_KEY_ID_METADATA,
                    MetadataValue::from_static("LTAI"),
                ),
                (
                    END_USER_ACCESS_KEY_ID_METADATA,
                    MetadataValue::from_static("LTAI2"),
                ),
            ],
        ),
    ];
    for identity in ["gateway", "admin"] {
        let mut raw = KmsClient::new(kms.channel(identity)?);
        for (what, entries) in &cases {
            let mut req = raw_decrypt(&blob);
            for (name, value) in entries {
                req.metadata_mut().append(*name, value.clone());
            }
            let got = raw.decrypt(req).await.map(drop).map_err(KmsError::from);
            if identity == "gateway" {
                assert!(
                    matches!(got, Err(KmsError::InvalidArgument(_))),
                    "gateway, {what}: {got:?}"
                );
            } else {
                assert_eq!(got, Ok(()), "admin, {what}");
            }
        }
    }
    // The service is unharmed and the gateway still works with a well-formed claim.
    let gateway = kms.client("gateway")?;
    on_behalf_of(alice(), gateway.decrypt(&acct(), &blob, &ctx("o"))).await?;
    // A client refuses to send an invalid end user rather than dropping it.
    let invalid = EndUser {
        user: Some("has space".into()),
        ..alice()
    };
    assert!(matches!(
        on_behalf_of(invalid, gateway.decrypt(&acct(), &blob, &ctx("o"))).await,
        Err(KmsError::InvalidArgument(_))
    ));
    // meta is refused whatever it claims.
    assert_eq!(
        on_behalf_of(alice(), kms.client("meta")?.decrypt(&acct(), &blob, &ctx("o")))
            .await
            .err(),
        Some(KmsError::AccessDenied)
    );
    Ok(())
}

#[tokio::test]
async fn in_process_sessions_record_the_end_user_like_grpc() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let (service, key) = with_key(dir.path()).await?;
    let admin = common::admin(&service);

    let gateway = common::gateway(&service);
    on_behalf_of(alice(), gateway.generate_data_key(&acct(), &key, 0, &ctx("o"))).await?;
    let bound = service.for_end_user(ServiceIdentity::Gateway, Some(root()));
    bound.generate_data_key(&acct(), &key, 0, &ctx("o")).await?;
    on_behalf_of(alice(), admin.generate_data_key(&acct(), &key, 0, &ctx("o"))).await?;
    let ignored = service.for_end_user(ServiceIdentity::Admin, Some(alice()));
    ignored.generate_data_key(&acct(), &key, 0, &ctx("o")).await?;

    let records = audited(&admin, 4, |r| r.operation == "GenerateDataKey").await?;
    let seen: Vec<(&str, Option<EndUser>)> = records
        .iter()
        .map(|r| (r.principal.as_str(), r.end_user.clone()))
        .collect();
    assert_eq!(
        seen,
        vec![
            ("gateway", Some(alice())),
            ("gateway", Some(root())),
            ("admin", None),
            ("admin", None),
        ]
    );
    Ok(())
}

#[tokio::test]
async fn the_openapi_edge_acts_only_for_an_end_user_and_is_audited_with_them() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let clock = cang_kms::ManualClock::new(common::T0);
    let service = common::open(dir.path(), &clock, cang_kms::KeyringConfig::default())?;
    let admin = common::admin(&service);

    // Bound to an end user, the edge may administer (it has checked the user's RAM policies).
    let edge = service.for_end_user(ServiceIdentity::Kms, Some(alice()));
    let key = KeyRef::Id(
        edge.create_key(create(KeyOrigin::AliyunKms, no_rotation()))
            .await?
            .key_id,
    );
    edge.generate_data_key(&acct(), &key, 0, &ctx("o")).await?;
    // A task-local claim does not bind it: only the session's own end user counts.
    let bare = service.for_caller(ServiceIdentity::Kms);
    let refused = on_behalf_of(alice(), bare.describe_key(&acct(), &key)).await;
    assert_eq!(refused.err(), Some(KmsError::AccessDenied));
    assert_eq!(
        bare.disable_key(&acct(), &key).await.err(),
        Some(KmsError::AccessDenied)
    );
    // Without one it may still use keys: opening an access key's sealed secret before it knows who
    // signed.
    let sealed = admin
        .encrypt(
            &acct(),
            &key,
            &cang_kms_api::SecretBytes::from(b"s".to_vec()),
            &ctx("o"),
        )
        .await?;
    bare.decrypt(&acct(), &sealed.ciphertext_blob, &ctx("o")).await?;

    let records = audited(&admin, 1, |r| r.operation == "GenerateDataKey").await?;
    assert_eq!(records[0].principal, "kms");
    assert_eq!(records[0].end_user, Some(alice()));
    let refused = audited(&admin, 1, |r| r.operation == "DisableKey").await?;
    assert_eq!(
        (refused[0].principal.as_str(), refused[0].end_user.clone()),
        ("kms", None)
    );
    Ok(())
}

#[tokio::test]
async fn service_key_blobs_never_open_through_the_crypto_services_own_edges() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let (service, own) = with_key(dir.path()).await?;
    let gateway = service.for_caller(ServiceIdentity::Gateway);
    for suite in [
        ServiceKeySuite::Aes256,
        ServiceKeySuite::Sm4,
        ServiceKeySuite::Storage,
    ] {
        // What an SSE-OSS object (or one stored without SSE) keeps beside its ciphertext.
        let blob = gateway
            .generate_service_data_key(suite, &ctx("victim"))
            .await?
            .ciphertext_blob;
        for edge in [
            service.for_end_user(ServiceIdentity::Kms, Some(alice())),
            service.for_caller(ServiceIdentity::Kms),
        ] {
            assert_eq!(
                edge.decrypt(&acct(), &blob, &ctx("victim")).await.map(drop),
                Err(KmsError::KeyNotFound),
                "{suite:?}"
            );
            assert_eq!(
                edge.re_encrypt(&acct(), &blob, &ctx("victim"), Some(&own), &ctx("mine"))
                    .await
                    .map(drop),
                Err(KmsError::KeyNotFound),
                "{suite:?}"
            );
        }
        // The gateway, which authorises each object read, still opens them.
        gateway.decrypt(&acct(), &blob, &ctx("victim")).await?;
    }
    Ok(())
}

#[tokio::test]
async fn access_key_secrets_open_only_while_authenticating() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let (service, key) = with_key(dir.path()).await?;
    let admin = common::admin(&service);
    // Sealed as cang-access-keys seals a secret.
    let context = cang_kms_api::EncryptionContext::from([
        ("purpose", "access-key-secret"),
        ("access_key_id", "LTAI5tBob"),
    ]);
    let sealed = admin
        .encrypt(
            &acct(),
            &key,
            &cang_kms_api::SecretBytes::from(b"bob's secret".to_vec()),
            &context,
        )
        .await?
        .ciphertext_blob;
    let gateway = service.for_caller(ServiceIdentity::Gateway);
    let refused = Err(KmsError::KeyNotFound);
    // For an end user (an application through the edges, or the gateway serving a request): refused.
    let edge = service.for_end_user(ServiceIdentity::Kms, Some(alice()));
    assert_eq!(edge.decrypt(&acct(), &sealed, &context).await.map(drop), refused);
    assert_eq!(
        edge.re_encrypt(&acct(), &sealed, &context, None, &ctx("mine"))
            .await
            .map(drop),
        refused
    );
    assert_eq!(
        on_behalf_of(alice(), gateway.decrypt(&acct(), &sealed, &context))
            .await
            .map(drop),
        refused
    );
    // Authenticating a request (on behalf of nobody yet), and the admin: opened.
    for opener in [service.for_caller(ServiceIdentity::Kms), gateway, admin] {
        let opened = opener.decrypt(&acct(), &sealed, &context).await?;
        assert_eq!(opened.plaintext.expose(), b"bob's secret");
    }
    Ok(())
}
