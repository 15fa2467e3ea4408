//! The gRPC API for applications over a real TLS socket, in process: the real keyring and metadata
//! store behind the edge, calls signed with `app::sign` through tonic's generated client. Envelope round
//! trip and audit, a signature bound to its method, and the connection cap freeing its slots.

mod common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use cang_kms::KmsService;
use cang_kms_api::{AccountId, CreateKeyRequest, KeyOrigin, KeySpec, KmsApi, KmsForCaller, RotationPolicy};
use cang_kms_openapi::app::{self, AppLimits};
use cang_kms_openapi::iso_time;
use cang_meta_api::{IdentityStore, MetaForCaller};
use cang_proto::cang::kms::app::v1 as pb;
use cang_proto::cang::kms::app::v1::kms_client::KmsClient;
use cang_tls::{ServiceIdentity, TlsFiles};
use tokio::io::AsyncReadExt;
use tokio_util::sync::CancellationToken;
use tonic::transport::{Certificate, Channel, ClientTlsConfig};

const ACCOUNT: &str = "1000000000000001";

struct Served {
    dir: tempfile::TempDir,
    kms: Arc<KmsService>,
    addr: SocketAddr,
    key_id: String,
    id: String,
    secret: String,
    stop: CancellationToken,
}

impl Drop for Served {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

async fn serve(limits: AppLimits) -> anyhow::Result<Served> {
    let dir = tempfile::tempdir()?;
    cang_tls::write_dev_pki(&dir.path().join("tls"))?;
    let (kms, meta) = common::services(dir.path())?;
    let admin_meta = meta.for_caller(ServiceIdentity::Admin);
    admin_meta.create_account(ACCOUNT, "test").await?;
    let admin_kms = kms.for_caller(ServiceIdentity::Admin);
    let key = cang_access_keys::create_access_key(&admin_kms, &admin_meta, ACCOUNT, None).await?;
    let key_id = admin_kms
        .create_key(CreateKeyRequest {
            account: AccountId::new(ACCOUNT)?,
            description: "app".into(),
            spec: KeySpec::Aes256,
            origin: KeyOrigin::AliyunKms,
            rotation: RotationPolicy::new(false, 0)?,
        })
        .await?
        .key_id
        .to_string();
    let edge = Arc::new(common::edge(
        &kms,
        &meta,
        cang_kms_openapi::OpenApiConfig::default(),
    ));
    let tls = TlsFiles::in_dir(&dir.path().join("tls"), "kms").public_server_config()?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let stop = CancellationToken::new();
    tokio::spawn(app::serve_app(edge, tls, listener, limits, stop.clone()));
    Ok(Served {
        dir,
        kms,
        addr,
        key_id,
        id: key.access_key_id.clone(),
        secret: key.access_key_secret.to_string(),
        stop,
    })
}

impl Served {
    async fn client(&self) -> anyhow::Result<KmsClient<Channel>> {
        let ca = std::fs::read(self.dir.path().join("tls/ca.pem"))?;
        let channel = Channel::from_shared(format!("https://{}", self.addr))?
            .tls_config(
                ClientTlsConfig::new()
                    .ca_certificate(Certificate::from_pem(ca))
                    .domain_name("localhost"),
            )?
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(10))
            .connect()
            .await?;
        Ok(KmsClient::new(channel))
    }

    /// `message` with the four signed entries for `method`.
    fn signed<T>(&self, method: &str, message: T) -> anyhow::Result<tonic::Request<T>> {
        let date = iso_time(time::OffsetDateTime::now_utc().unix_timestamp());
        let nonce = uuid::Uuid::new_v4().to_string();
        let path = format!("/{}/{method}", app::SERVICE_NAME);
        let signature = app::sign(self.secret.as_bytes(), &path, &date, &nonce);
        let mut request = tonic::Request::new(message);
        let md = request.metadata_mut();
        md.insert(app::ACCESS_KEY_ID_METADATA, self.id.parse()?);
        md.insert(app::DATE_METADATA, date.parse()?);
        md.insert(app::NONCE_METADATA, nonce.parse()?);
        md.insert(app::SIGNATURE_METADATA, signature.parse()?);
        Ok(request)
    }
}

#[tokio::test]
async fn envelope_round_trip_over_tls_is_audited_with_the_callers_address() -> anyhow::Result<()> {
    let s = serve(AppLimits::default()).await?;
    let mut client = s.client().await?;
    let context = std::collections::HashMap::from([("record".to_owned(), "42".to_owned())]);
    let request = pb::GenerateDataKeyRequest {
        key_id: s.key_id.clone(),
        number_of_bytes: 0,
        encryption_context: context.clone(),
    };
    let dk = client
        .generate_data_key(s.signed("GenerateDataKey", request)?)
        .await?
        .into_inner();
    assert_eq!(dk.plaintext.len(), 32);
    let opened = client
        .decrypt(s.signed(
            "Decrypt",
            pb::DecryptRequest {
                ciphertext_blob: dk.ciphertext_blob.clone().into(),
                encryption_context: context,
            },
        )?)
        .await?
        .into_inner();
    assert_eq!(opened.plaintext, dk.plaintext);

    // Signed for another method, the same call is refused.
    let misdirected = s.signed(
        "Encrypt",
        pb::DecryptRequest {
            ciphertext_blob: dk.ciphertext_blob.into(),
            encryption_context: Default::default(),
        },
    )?;
    let refused = client.decrypt(misdirected).await.err();
    assert_eq!(
        refused.as_ref().map(tonic::Status::code),
        Some(tonic::Code::Unauthenticated)
    );
    assert_eq!(
        refused
            .as_ref()
            .and_then(|e| e.metadata().get(app::ERROR_CODE_METADATA))
            .and_then(|v| v.to_str().ok()),
        Some("SignatureDoesNotMatch")
    );

    let admin = s.kms.for_caller(ServiceIdentity::Admin);
    for _ in 0..100 {
        let records = admin.list_audit_records(0, 1000).await?;
        // (The edge's own Decrypt of the access key's sealed secret acts for nobody: not this one.)
        let mine = |r: &&cang_kms_api::AuditRecord| {
            r.operation == "Decrypt" && r.principal == "kms" && r.end_user.is_some()
        };
        let opening = records
            .iter()
            .find(|r| r.operation == "Decrypt" && r.principal == "kms" && r.end_user.is_none());
        if let (Some(r), Some(opening)) = (records.iter().find(mine), opening) {
            assert_eq!(
                opening.source, "127.0.0.1",
                "the access key's secret opened for this caller"
            );
            assert_eq!(r.source, "127.0.0.1");
            assert_eq!(
                r.end_user.as_ref().map(|u| u.access_key_id.as_str()),
                Some(s.id.as_str())
            );
            assert_eq!(
                r.encryption_context.0.get("record").map(String::as_str),
                Some("42")
            );
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    anyhow::bail!("no Decrypt record from the application edge")
}

#[tokio::test]
async fn connections_beyond_the_cap_are_closed_and_slots_come_back() -> anyhow::Result<()> {
    let s = serve(AppLimits {
        max_connections: 2,
        ..AppLimits::default()
    })
    .await?;
    let first = tokio::net::TcpStream::connect(s.addr).await?;
    let second = tokio::net::TcpStream::connect(s.addr).await?;
    // Give the listener time to take both slots.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut third = tokio::net::TcpStream::connect(s.addr).await?;
    let mut byte = [0u8; 1];
    let read = tokio::time::timeout(Duration::from_secs(5), third.read(&mut byte)).await?;
    assert!(
        matches!(read, Ok(0) | Err(_)),
        "the third connection is closed at once: {read:?}"
    );
    // Once the idle connections go, a real client gets in.
    drop((first, second));
    let mut served = false;
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let Ok(mut client) = s.client().await else {
            continue;
        };
        let listed = client
            .list_keys(s.signed("ListKeys", pb::ListKeysRequest::default())?)
            .await;
        if let Ok(listed) = listed {
            assert!(listed.into_inner().keys.iter().any(|k| k.key_id == s.key_id));
            served = true;
            break;
        }
    }
    assert!(served, "slots were not given back");
    Ok(())
}

#[tokio::test]
async fn a_handshake_that_never_comes_gives_its_slot_back() -> anyhow::Result<()> {
    let s = serve(AppLimits {
        max_connections: 1,
        handshake_timeout: Duration::from_millis(300),
        ..AppLimits::default()
    })
    .await?;
    // Connected, then silent: no ClientHello ever. It is kept open on this side throughout.
    let mut silent = tokio::net::TcpStream::connect(s.addr).await?;
    let mut byte = [0u8; 1];
    let closed = tokio::time::timeout(Duration::from_secs(5), silent.read(&mut byte)).await?;
    assert!(
        matches!(closed, Ok(0) | Err(_)),
        "the server drops it: {closed:?}"
    );
    let mut client = s.client().await?;
    let listed = client
        .list_keys(s.signed("ListKeys", pb::ListKeysRequest::default())?)
        .await?;
    assert!(listed.into_inner().keys.iter().any(|k| k.key_id == s.key_id));
    drop(silent);
    Ok(())
}
