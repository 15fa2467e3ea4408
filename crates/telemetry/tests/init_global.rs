//! The real process-wide `init`: installs the global subscriber once, exports over OTLP/gRPC
//! from a multi-threaded runtime, and the guard's shutdown delivers the last spans.

mod support;

use std::time::Duration;

use anyhow::Result;
use cang_telemetry::TelemetryError;
use cang_telemetry::test_support::OtlpReceiver;

use support::{LogCapture, config};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn init_exports_until_shutdown_and_refuses_a_second_install() -> Result<()> {
    let receiver = OtlpReceiver::start().await?;
    let logs = LogCapture::default();
    let cfg = config("cang-meta", receiver.endpoint());
    let guard = cang_telemetry::init_with_writer(&cfg, logs.clone())?;

    {
        let span = tracing::info_span!("meta.commit", cang.meta.commit = "put_object");
        let _entered = span.enter();
        tracing::warn!(bucket = "photos", "slow commit");
    }
    // Spawned tasks on other workers use the same global subscriber.
    tokio::spawn(async { tracing::info_span!("meta.background").in_scope(|| {}) }).await?;

    assert!(matches!(
        cang_telemetry::init(&cfg),
        Err(TelemetryError::AlreadyInitialised)
    ));

    // No flush before shutdown: the guard alone must deliver the batch.
    guard.shutdown()?;
    let spans = receiver.wait_for(Duration::from_secs(10), |s| s.len() >= 2).await;
    let commit = spans
        .iter()
        .find(|s| s.name == "meta.commit")
        .unwrap_or_else(|| panic!("{spans:#?}"));
    assert_eq!(commit.attribute("cang.meta.commit"), Some("put_object"));
    assert_eq!(commit.resource["service.name"], "cang-meta");
    assert_eq!(commit.resource["service.instance.id"], "cang-meta-instance-1");
    assert!(spans.iter().any(|s| s.name == "meta.background"));

    let line = logs
        .json_lines()
        .into_iter()
        .find(|l| l["message"] == "slow commit")
        .expect("log line");
    assert_eq!(line["level"], "WARN");
    assert_eq!(line["fields"]["bucket"], "photos");
    assert_eq!(line["trace_id"], commit.trace_id.as_str());
    assert_eq!(line["span_id"], commit.span_id.as_str());
    Ok(())
}
