//! The three implementations the conformance cases run over, each fresh per test and starting at
//! [`T0`]: the keyring in process (an admin session), the gRPC client talking to a `cang kms` served
//! over loopback with mutual TLS, and `MemoryKms`.

use std::sync::Arc;

use cang_kms::{KeyringConfig, KmsService, ManualClock};
use cang_kms_api::KmsApi;
use cang_kms_api::memory::MemoryKms;

use crate::common::{self, T0, grpc::GrpcKms};

enum Backend {
    Keyring {
        service: Arc<KmsService>,
        clock: ManualClock,
        _dir: tempfile::TempDir,
    },
    Grpc {
        server: GrpcKms,
        _dir: tempfile::TempDir,
    },
    Memory(Arc<MemoryKms>),
}

/// One implementation under test, with the hooks a case needs besides the API: time and maintenance.
pub struct Subject {
    kms: Arc<dyn KmsApi>,
    backend: Backend,
}

impl Subject {
    /// The API under test.
    pub fn kms(&self) -> &dyn KmsApi {
        &*self.kms
    }

    /// Moves the implementation's clock forward.
    pub fn advance(&self, seconds: i64) {
        match &self.backend {
            Backend::Keyring { clock, .. } => clock.advance(seconds),
            Backend::Grpc { server, .. } => server.clock.advance(seconds),
            Backend::Memory(memory) => memory.advance(seconds),
        }
    }

    /// Runs the periodic maintenance now (deletion windows, automatic rotation).
    pub async fn maintain(&self) -> anyhow::Result<()> {
        match &self.backend {
            Backend::Keyring { service, .. } => service.keyring().run_maintenance().await?,
            Backend::Grpc { server, .. } => server.service.keyring().run_maintenance().await?,
            Backend::Memory(memory) => memory.run_maintenance()?,
        }
        Ok(())
    }
}

/// The keyring of `cang-kms`, called in process through an admin session.
pub async fn keyring() -> anyhow::Result<Subject> {
    let dir = tempfile::tempdir()?;
    let clock = ManualClock::new(T0);
    let service = common::open(dir.path(), &clock, KeyringConfig::default())?;
    Ok(Subject {
        kms: Arc::new(common::admin(&service)),
        backend: Backend::Keyring {
            service,
            clock,
            _dir: dir,
        },
    })
}

/// `KmsGrpcClient` with the admin certificate, over mutual TLS on a loopback socket.
pub async fn grpc() -> anyhow::Result<Subject> {
    let dir = tempfile::tempdir()?;
    let server = common::grpc::start(dir.path()).await?;
    Ok(Subject {
        kms: Arc::new(server.client("admin")?),
        backend: Backend::Grpc { server, _dir: dir },
    })
}

/// The in-memory double of `cang-kms-api`.
pub async fn memory() -> anyhow::Result<Subject> {
    let memory = Arc::new(MemoryKms::starting_at(T0));
    Ok(Subject {
        kms: memory.clone(),
        backend: Backend::Memory(memory),
    })
}
