//! One Tokio runtime per service, each thread of which uses that service's tracing dispatcher, and a
//! small runtime of their own for the OTLP exporters. Spans are created on the thread that runs the
//! code creating them, so a service's spans land in its own dispatcher, with its own resource.

use std::cell::RefCell;

use anyhow::Context;
use cang_telemetry::{LogFormat, OtlpConfig, OtlpProtocol, ServiceIdentity, TelemetryConfig, TelemetryGuard};
use tokio::runtime::Runtime;
use tracing::Dispatch;
use tracing::dispatcher::DefaultGuard;

thread_local! {
    /// The dispatcher this runtime thread reports to, for as long as the thread lives.
    static THREAD_DISPATCH: RefCell<Option<DefaultGuard>> = const { RefCell::new(None) };
}

/// The runtimes of a traced cluster.
pub(crate) struct ServiceRuntimes {
    pub(crate) kms: Runtime,
    pub(crate) meta: Runtime,
    pub(crate) gateway: Runtime,
    exporters: Runtime,
    guards: Vec<TelemetryGuard>,
}

impl ServiceRuntimes {
    /// Builds the exporters (one per service, all to `endpoint`) and the three service runtimes.
    pub(crate) fn start(endpoint: &str) -> anyhow::Result<Self> {
        let exporters = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("otlp-export")
            .enable_all()
            .build()?;
        let mut guards = Vec::new();
        let mut runtime_for = |name: &str| -> anyhow::Result<Runtime> {
            let config = TelemetryConfig {
                otlp: Some(OtlpConfig {
                    endpoint: endpoint.to_owned(),
                    protocol: OtlpProtocol::Grpc,
                }),
                log_format: LogFormat::Json,
                filter: "info".to_owned(),
                ..TelemetryConfig::new(ServiceIdentity {
                    name: format!("cang-{name}"),
                    version: env!("CARGO_PKG_VERSION").to_owned(),
                    instance_id: format!("{name}-0"),
                })
            };
            // The exporter's channel lives on the exporters' runtime, not on the service's.
            let (dispatch, guard) = {
                let _on_exporters = exporters.enter();
                cang_telemetry::build(&config, std::io::sink, false)
                    .with_context(|| format!("telemetry for {name}"))?
            };
            guards.push(guard);
            service_runtime(name, dispatch)
        };
        let kms = runtime_for("kms")?;
        let meta = runtime_for("meta")?;
        let gateway = runtime_for("gateway")?;
        Ok(Self {
            kms,
            meta,
            gateway,
            exporters,
            guards,
        })
    }

    /// Exports every finished span now.
    pub(crate) fn flush(&self) -> anyhow::Result<()> {
        for guard in &self.guards {
            guard.force_flush()?;
        }
        Ok(())
    }

    /// Stops the services' runtimes without waiting for their tasks, then flushes and stops export.
    /// Safe inside an async test (dropping a runtime there would panic).
    pub(crate) fn shut_down(self) {
        self.gateway.shutdown_background();
        self.meta.shutdown_background();
        self.kms.shutdown_background();
        drop(self.guards);
        self.exporters.shutdown_background();
    }
}

/// A runtime whose worker and blocking threads all report to `dispatch`.
fn service_runtime(name: &str, dispatch: Dispatch) -> anyhow::Result<Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name(format!("cang-{name}"))
        .enable_all()
        .on_thread_start(move || {
            let guard = tracing::dispatcher::set_default(&dispatch);
            THREAD_DISPATCH.with(|slot| *slot.borrow_mut() = Some(guard));
        })
        .on_thread_stop(|| {
            // Released while the thread's tracing state still exists.
            THREAD_DISPATCH.with(|slot| slot.borrow_mut().take());
        })
        .build()?)
}
