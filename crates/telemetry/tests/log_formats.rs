//! Log output without a collector: trace ids are still assigned (so logs correlate and
//! propagation works), the filter applies, and the pretty format is readable text.

mod support;

use cang_telemetry::{LogFormat, TelemetryConfig};

use support::{LogCapture, config};

fn local(format: LogFormat, filter: &str) -> TelemetryConfig {
    TelemetryConfig {
        log_format: format,
        filter: filter.to_owned(),
        otlp: None,
        ..config("cang-kms", "http://unused")
    }
}

#[test]
fn json_logs_without_export_still_carry_trace_ids_and_honour_the_filter() {
    let logs = LogCapture::default();
    let (dispatch, _guard) =
        cang_telemetry::build(&local(LogFormat::Json, "info,noisy=error"), logs.clone(), false).unwrap();
    tracing::dispatcher::with_default(&dispatch, || {
        tracing::info!("outside any span");
        tracing::info_span!("kms.generate_data_key", key_id = "k1").in_scope(|| {
            tracing::info!(count = 2u64, ok = true, "generated");
            tracing::debug!("below the filter");
            tracing::warn!(target: "noisy", "filtered by target");
        });
    });
    let lines = logs.json_lines();
    assert_eq!(lines.len(), 2, "{}", logs.text());
    assert!(lines[0].get("trace_id").is_none());
    assert_eq!(lines[1]["message"], "generated");
    assert_eq!(lines[1]["fields"]["count"], 2);
    assert_eq!(lines[1]["fields"]["ok"], true);
    assert_eq!(lines[1]["span"]["key_id"], "k1");
    assert_eq!(lines[1]["spans"], serde_json::json!(["kms.generate_data_key"]));
    let trace_id = lines[1]["trace_id"].as_str().unwrap();
    assert_eq!(trace_id.len(), 32);
    assert_ne!(trace_id, "0".repeat(32));
    assert_eq!(lines[1]["span_id"].as_str().unwrap().len(), 16);
}

#[test]
fn pretty_logs_are_text() {
    let logs = LogCapture::default();
    let (dispatch, _guard) =
        cang_telemetry::build(&local(LogFormat::Pretty, "info"), logs.clone(), false).unwrap();
    tracing::dispatcher::with_default(&dispatch, || tracing::info!(bucket = "b1", "hello"));
    let text = logs.text();
    assert!(text.contains("hello") && text.contains("b1"), "{text}");
    assert!(serde_json::from_str::<serde_json::Value>(text.lines().next().unwrap()).is_err());
}

#[test]
fn a_bad_filter_is_a_configuration_error() {
    let err = cang_telemetry::build(&local(LogFormat::Json, "info,[="), LogCapture::default(), false);
    assert!(matches!(
        err,
        Err(cang_telemetry::TelemetryError::InvalidConfig { .. })
    ));
}

#[test]
fn otlp_export_outside_a_runtime_is_an_error_not_a_panic() {
    let cfg = config("cang-kms", "http://127.0.0.1:4317");
    let err = cang_telemetry::build(&cfg, LogCapture::default(), false);
    assert!(matches!(
        err,
        Err(cang_telemetry::TelemetryError::InvalidConfig { .. })
    ));
}
