//! The crypto service's shared state, and the sessions it hands each caller.

use std::net::SocketAddr;
use std::sync::Arc;

use cang_kms_api::{EndUser, KmsForCaller};
use cang_telemetry::Metrics;
use cang_tls::ServiceIdentity;

use crate::audit::AuditLog;
use crate::keyring::Keyring;
use crate::session::KmsSession;

/// Shared service state: the keyring, its audit log and the service's metrics.
#[derive(Debug)]
pub struct KmsService {
    pub(crate) keyring: Arc<Keyring>,
    pub(crate) audit: AuditLog,
    pub(crate) metrics: Arc<Metrics>,
}

impl KmsService {
    /// The keyring (for maintenance).
    pub fn keyring(&self) -> &Arc<Keyring> {
        &self.keyring
    }

    /// The service's metrics (gRPC calls and audit records).
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }
}

impl KmsForCaller for KmsService {
    type Api = KmsSession;
    fn for_caller(&self, caller: ServiceIdentity) -> KmsSession {
        self.for_end_user(caller, None)
    }
    fn for_end_user(&self, caller: ServiceIdentity, end_user: Option<EndUser>) -> KmsSession {
        self.for_request(caller, end_user, None)
    }
    fn for_request(
        &self,
        caller: ServiceIdentity,
        end_user: Option<EndUser>,
        peer: Option<SocketAddr>,
    ) -> KmsSession {
        KmsSession {
            keyring: self.keyring.clone(),
            audit: self.audit.clone(),
            caller,
            end_user,
            peer,
        }
    }
}
