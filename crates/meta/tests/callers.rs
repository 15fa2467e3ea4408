//! Per-caller rules over real gRPC with mutual TLS: every identity write is refused to the gateway
//! certificate (typed, and without effect) and allowed to the admin certificate; the gateway keeps the
//! object store and the identity reads that authenticate a request, and nothing more.

use cang_meta_api::{
    AccessKeyStatus, Acl, IdentityStore, MetaError, MetaGrpcClient, NewAccessKey, NewBucket, ObjectStore,
    SealedSecret,
};
use futures::future::BoxFuture;

mod grpc_support;
use grpc_support::Server;

const ACCOUNT: &str = "1001";
const POLICY: &str = r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":["oss:GetObject"],"Resource":"acs:oss:*:1001:bkt/*"}]}"#;

/// One identity operation, run by the client it is given.
type Call = fn(MetaGrpcClient) -> BoxFuture<'static, Result<(), MetaError>>;

fn access_key(id: &str, user: Option<&str>) -> NewAccessKey {
    NewAccessKey {
        id: id.into(),
        account_id: ACCOUNT.into(),
        user: user.map(Into::into),
        sealed_secret: SealedSecret::new(vec![0xAA; 48]),
    }
}

/// Every identity write of the API, in an order in which each succeeds once (so an admin success also
/// proves that the gateway's refused attempt just before it changed nothing).
fn identity_writes() -> Vec<(&'static str, Call)> {
    vec![
        ("create_account", |c| {
            Box::pin(async move { c.create_account(ACCOUNT, "acme").await.map(drop) })
        }),
        ("create_user", |c| {
            Box::pin(async move { c.create_user(ACCOUNT, "alice").await.map(drop) })
        }),
        ("put_policy", |c| {
            Box::pin(async move { c.put_policy(ACCOUNT, "read", POLICY).await.map(drop) })
        }),
        ("attach_policy", |c| {
            Box::pin(async move { c.attach_policy(ACCOUNT, "alice", "read").await })
        }),
        ("create_access_key", |c| {
            Box::pin(async move {
                c.create_access_key(access_key("LTAIalice", Some("alice")))
                    .await
                    .map(drop)
            })
        }),
        ("set_access_key_status", |c| {
            Box::pin(async move {
                c.set_access_key_status("LTAIalice", AccessKeyStatus::Inactive)
                    .await
                    .map(drop)
            })
        }),
        ("delete_access_key", |c| {
            Box::pin(async move { c.delete_access_key("LTAIalice").await })
        }),
        ("detach_policy", |c| {
            Box::pin(async move { c.detach_policy(ACCOUNT, "alice", "read").await })
        }),
        ("delete_policy", |c| {
            Box::pin(async move { c.delete_policy(ACCOUNT, "read").await })
        }),
        ("delete_user", |c| {
            Box::pin(async move { c.delete_user(ACCOUNT, "alice").await })
        }),
    ]
}

#[tokio::test]
async fn identity_writes_are_the_admins_alone() -> anyhow::Result<()> {
    let server = Server::start().await?;
    let gateway = server.client("gateway")?;
    let admin = server.client("admin")?;
    let writes = identity_writes();
    assert_eq!(
        writes.len(),
        10,
        "every identity write of MetaApi is in the table"
    );
    for (operation, call) in writes {
        assert_eq!(
            call(gateway.clone()).await,
            Err(MetaError::NotPermitted(operation.to_owned())),
            "gateway {operation}"
        );
        assert_eq!(call(admin.clone()).await, Ok(()), "admin {operation}");
    }
    // The refused creations left nothing behind, the admin's deletions everything consistent.
    assert_eq!(admin.list_users(ACCOUNT).await?, vec![]);
    assert_eq!(admin.list_policies(ACCOUNT).await?, vec![]);
    assert_eq!(admin.list_access_keys(ACCOUNT, None).await?, vec![]);
    server.stop().await
}

#[tokio::test]
async fn the_gateway_keeps_the_store_and_the_reads_that_authenticate() -> anyhow::Result<()> {
    let server = Server::start().await?;
    let gateway = server.client("gateway")?;
    let admin = server.client("admin")?;
    admin.create_account(ACCOUNT, "acme").await?;
    admin.create_user(ACCOUNT, "alice").await?;
    admin.put_policy(ACCOUNT, "read", POLICY).await?;
    admin.attach_policy(ACCOUNT, "alice", "read").await?;
    admin
        .create_access_key(access_key("LTAIalice", Some("alice")))
        .await?;

    // What request authentication and the readiness probe read.
    let key = gateway.get_access_key("LTAIalice").await?;
    assert_eq!(key.user.as_deref(), Some("alice"));
    assert_eq!(key.sealed_secret.as_bytes(), &[0xAA; 48][..]);
    let policies = gateway.user_policies(ACCOUNT, "alice").await?;
    assert_eq!(policies.len(), 1);
    assert_eq!(gateway.get_account(ACCOUNT).await?.id, ACCOUNT);
    assert_eq!(
        gateway.get_account("999").await.err(),
        Some(MetaError::NoSuchAccount)
    );

    // Listings and policy documents are the admin's.
    let refused = [
        ("list_accounts", gateway.list_accounts().await.err()),
        ("list_users", gateway.list_users(ACCOUNT).await.err()),
        (
            "list_access_keys",
            gateway.list_access_keys(ACCOUNT, None).await.err(),
        ),
        ("get_policy", gateway.get_policy(ACCOUNT, "read").await.err()),
        ("list_policies", gateway.list_policies(ACCOUNT).await.err()),
    ];
    for (operation, err) in refused {
        assert_eq!(
            err,
            Some(MetaError::NotPermitted(operation.to_owned())),
            "gateway {operation}"
        );
    }
    assert_eq!(admin.list_accounts().await?.len(), 1);
    assert_eq!(admin.get_policy(ACCOUNT, "read").await?.name, "read");

    // The object store is the gateway's (and the admin's).
    let bucket = NewBucket {
        name: "bkt".into(),
        owner: ACCOUNT.into(),
        location: "local".into(),
        acl: Acl::Private,
        encryption: None,
    };
    gateway.create_bucket(bucket).await?;
    assert_eq!(gateway.get_bucket("bkt").await?.owner, ACCOUNT);
    assert_eq!(admin.bucket_stats("bkt").await?.object_count, 0);
    gateway.delete_bucket("bkt").await?;
    server.stop().await
}

#[tokio::test]
async fn the_meta_certificate_is_not_served_at_all() -> anyhow::Result<()> {
    let server = Server::start().await?;
    let client = server.client("meta")?;
    assert_eq!(
        client.get_access_key("LTAIalice").await.err(),
        Some(MetaError::AccessDenied)
    );
    server.stop().await
}

/// The kms certificate (the KMS OpenAPI authenticating its callers) is served the authentication reads
/// and refused everything else.
#[tokio::test]
async fn the_kms_certificate_may_only_authenticate_and_manage_identities_within_accounts()
-> anyhow::Result<()> {
    let server = Server::start().await?;
    let client = server.client("kms")?;
    assert_ne!(
        client.get_access_key("LTAIalice").await.err(),
        Some(MetaError::AccessDenied)
    );
    assert!(matches!(
        client.get_bucket("photos").await,
        Err(MetaError::NotPermitted(_))
    ));
    assert!(matches!(
        client.list_accounts().await,
        Err(MetaError::NotPermitted(_))
    ));
    assert!(matches!(
        client.create_account("acct2", "mallory").await,
        Err(MetaError::NotPermitted(_))
    ));
    // The RAM API's identity calls within an account pass the caller check (the account here does not exist).
    assert!(!matches!(
        client.create_user("acct", "mallory").await,
        Err(MetaError::NotPermitted(_) | MetaError::AccessDenied)
    ));
    server.stop().await
}
