//! Shared helpers for the telemetry integration tests: a log capture and service identities.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test and benchmark code states its expectations this way

use std::io::Write;
use std::sync::{Arc, Mutex};

use cang_telemetry::{LogFormat, OtlpConfig, OtlpProtocol, ServiceIdentity, TelemetryConfig};
use tracing_subscriber::fmt::MakeWriter;

/// Collects every log line written through it.
#[derive(Clone, Default)]
pub struct LogCapture(Arc<Mutex<Vec<u8>>>);

impl LogCapture {
    pub fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }

    /// Every line parsed as JSON.
    pub fn json_lines(&self) -> Vec<serde_json::Value> {
        self.text()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON: {l}: {e}")))
            .collect()
    }
}

impl Write for LogCapture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .map_err(|_| std::io::Error::other("log capture poisoned"))?
            .extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for LogCapture {
    type Writer = LogCapture;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

/// A JSON-logging configuration exporting to `endpoint`.
pub fn config(name: &str, endpoint: &str) -> TelemetryConfig {
    TelemetryConfig {
        service: ServiceIdentity {
            name: name.to_owned(),
            version: "9.8.7".to_owned(),
            instance_id: format!("{name}-instance-1"),
        },
        log_format: LogFormat::Json,
        filter: "info".to_owned(),
        otlp: Some(OtlpConfig {
            endpoint: endpoint.to_owned(),
            protocol: OtlpProtocol::Grpc,
        }),
    }
}
