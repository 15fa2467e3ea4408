//! `cang_kms::run` returns only once the keystore is closed: the audit writer has persisted every queued
//! record and released the file, so the same process can open it again at once (no polling of the file).

use std::sync::Arc;
use std::time::Duration;

use cang_kms::{KeyringConfig, KmsConfig, SystemClock};
use cang_kms_api::{EncryptionContext, KmsApi, KmsForCaller, KmsGrpcClient, ServiceKeySuite};
use cang_tls::{ServiceIdentity, TlsFiles};
use tokio_util::sync::CancellationToken;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_returns_with_the_keystore_closed_and_every_audit_record_kept() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let tls_dir = dir.path().join("tls");
    cang_tls::write_dev_pki(&tls_dir)?;
    let root = dir.path().join("root.key");
    cang_kms::RootKey::generate(&root)?;
    let config = KmsConfig {
        data_dir: dir.path().join("data"),
        root_key_file: root.clone(),
        tls: TlsFiles::in_dir(&tls_dir, "kms"),
        keyring: KeyringConfig::default(),
        maintenance_interval: Duration::from_secs(3600),
        metrics_listen: None,
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = format!("https://{}", listener.local_addr()?);
    let stop = CancellationToken::new();
    let server = tokio::spawn(cang_kms::run(config, listener, stop.clone()));

    let gateway = KmsGrpcClient::connect_lazy(&addr, TlsFiles::in_dir(&tls_dir, "gateway").client_config()?)?;
    let context = EncryptionContext::from([("bucket", "b")]);
    let mut uses = 0u64;
    for _ in 0..200 {
        gateway
            .generate_service_data_key(ServiceKeySuite::Aes256, &context)
            .await?;
        uses += 1;
    }
    drop(gateway);
    stop.cancel();
    tokio::time::timeout(Duration::from_secs(30), server).await???;

    // Reopening straight away succeeds: nothing of the stopped service holds the file.
    let service = cang_kms::open_service(
        &dir.path().join("data"),
        &root,
        Arc::new(SystemClock),
        KeyringConfig::default(),
    )?;
    let admin = service.for_caller(ServiceIdentity::Admin);
    let records = admin.list_audit_records(0, 1000).await?;
    let persisted = records
        .iter()
        .filter(|r| r.operation == "GenerateServiceDataKey")
        .count();
    assert_eq!(
        persisted as u64, uses,
        "every key use before the stop is in the audit"
    );
    Ok(())
}
