//! Real-socket mTLS tests: only clients with a certificate from our CA naming an allowed identity get
//! through; no certificate, a foreign CA, an unknown or a disallowed identity are all refused.

use std::net::SocketAddr;
use std::path::Path;

use cang_tls::{CertificateAuthority, ServiceIdentity, TlsFiles, identity_interceptor};
use tokio::net::TcpListener;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Certificate, ClientTlsConfig, Identity};
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;

static ALLOWED: &[ServiceIdentity] = &[ServiceIdentity::Gateway, ServiceIdentity::Admin];

async fn start_server(dir: &Path) -> anyhow::Result<(SocketAddr, tokio::sync::oneshot::Sender<()>)> {
    cang_tls::write_dev_pki(dir)?;
    let tls = TlsFiles::in_dir(dir, "kms").server_config()?;
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let (_reporter, health) = tonic_health::server::health_reporter();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let svc = InterceptedService::new(health, identity_interceptor(ALLOWED));
    tokio::spawn(
        cang_tls::server_builder(tls)?
            .add_service(svc)
            .serve_with_incoming_shutdown(cang_tls::incoming(listener), async {
                let _ = stopped.await;
            }),
    );
    Ok((addr, stop))
}

async fn check(addr: SocketAddr, tls: ClientTlsConfig) -> Result<(), tonic::Status> {
    let endpoint =
        cang_tls::endpoint(&addr.to_string(), tls).map_err(|e| tonic::Status::unknown(e.to_string()))?;
    let channel = endpoint
        .connect()
        .await
        .map_err(|e| tonic::Status::unavailable(e.to_string()))?;
    HealthClient::new(channel)
        .check(HealthCheckRequest {
            service: String::new(),
        })
        .await
        .map(|_| ())
}

fn ca_cert(dir: &Path) -> anyhow::Result<Certificate> {
    Ok(Certificate::from_pem(std::fs::read(dir.join("ca.pem"))?))
}

#[tokio::test]
async fn allowed_identities_pass() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let (addr, _stop) = start_server(dir.path()).await?;
    for name in ["gateway", "admin"] {
        check(addr, TlsFiles::in_dir(dir.path(), name).client_config()?).await?;
    }
    Ok(())
}

#[tokio::test]
async fn client_without_certificate_is_refused() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let (addr, _stop) = start_server(dir.path()).await?;
    let tls = ClientTlsConfig::new().ca_certificate(ca_cert(dir.path())?);
    assert!(check(addr, tls).await.is_err());
    Ok(())
}

#[tokio::test]
async fn certificate_from_another_ca_is_refused() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let (addr, _stop) = start_server(dir.path()).await?;
    let rogue_ca = CertificateAuthority::generate("rogue")?;
    let rogue = rogue_ca.issue("admin")?;
    let tls = ClientTlsConfig::new()
        .ca_certificate(ca_cert(dir.path())?)
        .identity(Identity::from_pem(rogue.cert_pem, rogue.key_pem.as_bytes()));
    assert!(check(addr, tls).await.is_err());
    Ok(())
}

#[tokio::test]
async fn unknown_and_disallowed_identities_are_refused() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let (addr, _stop) = start_server(dir.path()).await?;
    // An unknown name, signed by the right CA: the handshake succeeds, the call does not. There is no
    // CA key on disk, so build a second server whose CA we hold.
    let ca = CertificateAuthority::generate("test")?;
    let dir2 = tempfile::tempdir()?;
    let server = ca.issue("kms")?;
    std::fs::write(dir2.path().join("ca.pem"), ca.cert_pem())?;
    std::fs::write(dir2.path().join("kms.pem"), &server.cert_pem)?;
    std::fs::write(dir2.path().join("kms-key.pem"), server.key_pem.as_bytes())?;
    let tls = TlsFiles::in_dir(dir2.path(), "kms").server_config()?;
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr2 = listener.local_addr()?;
    let (_r, health) = tonic_health::server::health_reporter();
    let svc = InterceptedService::new(health, identity_interceptor(ALLOWED));
    tokio::spawn(
        cang_tls::server_builder(tls)?
            .add_service(svc)
            .serve_with_incoming(cang_tls::incoming(listener)),
    );

    let intruder = ca.issue("intruder")?;
    let tls = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(ca.cert_pem()))
        .identity(Identity::from_pem(
            &intruder.cert_pem,
            intruder.key_pem.as_bytes(),
        ));
    let status = check(addr2, tls)
        .await
        .err()
        .ok_or_else(|| anyhow::anyhow!("intruder admitted"))?;
    assert_eq!(status.code(), tonic::Code::Unauthenticated);

    // A known identity that this service does not accept.
    let status = check(addr, TlsFiles::in_dir(dir.path(), "meta").client_config()?)
        .await
        .err()
        .ok_or_else(|| anyhow::anyhow!("meta admitted"))?;
    assert_eq!(status.code(), tonic::Code::PermissionDenied);
    Ok(())
}
