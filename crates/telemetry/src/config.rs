//! Typed telemetry configuration. The binary fills it from flags and the standard `OTEL_*`
//! variables; nothing below it reads the environment on its own.

use std::fmt;
use std::str::FromStr;

use crate::TelemetryError;

/// Endpoint for every OTLP signal, per the OpenTelemetry specification.
pub const ENV_OTLP_ENDPOINT: &str = "OTEL_EXPORTER_OTLP_ENDPOINT";
/// Endpoint for traces only; takes precedence over [`ENV_OTLP_ENDPOINT`].
pub const ENV_OTLP_TRACES_ENDPOINT: &str = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT";
/// Transport for every OTLP signal (`grpc`, `http/protobuf`, `http/json`).
pub const ENV_OTLP_PROTOCOL: &str = "OTEL_EXPORTER_OTLP_PROTOCOL";
/// Transport for traces only; takes precedence over [`ENV_OTLP_PROTOCOL`].
pub const ENV_OTLP_TRACES_PROTOCOL: &str = "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL";
/// `true` turns the SDK off entirely.
pub const ENV_SDK_DISABLED: &str = "OTEL_SDK_DISABLED";
/// `none` turns trace export off.
pub const ENV_TRACES_EXPORTER: &str = "OTEL_TRACES_EXPORTER";

/// Everything `init` needs to set up logs, traces and their export.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TelemetryConfig {
    /// Who emits the telemetry; becomes the OpenTelemetry resource.
    pub service: ServiceIdentity,
    /// How log lines are written.
    pub log_format: LogFormat,
    /// A `RUST_LOG`-style directive list (`info,cang_kms=debug`). It selects both the log lines
    /// written and the spans recorded (and so exported).
    pub filter: String,
    /// Where spans are exported; `None` keeps traces in-process (trace ids still reach logs and
    /// outgoing requests).
    pub otlp: Option<OtlpConfig>,
}

impl TelemetryConfig {
    /// A configuration with JSON logs at `info` and no export.
    pub fn new(service: ServiceIdentity) -> Self {
        Self {
            service,
            log_format: LogFormat::Json,
            filter: "info".to_owned(),
            otlp: None,
        }
    }
}

/// The OpenTelemetry resource attributes `service.name`, `service.version` and
/// `service.instance.id`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceIdentity {
    /// `service.name`, for example `cang-gateway`.
    pub name: String,
    /// `service.version`, normally `env!("CARGO_PKG_VERSION")` of the binary.
    pub version: String,
    /// `service.instance.id`: unique per running process (a pod name or a random UUID).
    pub instance_id: String,
}

/// Log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    /// One JSON object per line, with `trace_id` and `span_id` of the current span.
    #[default]
    Json,
    /// Human-readable multi-line output for a terminal.
    Pretty,
}

impl FromStr for LogFormat {
    type Err = TelemetryError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "json" => Ok(Self::Json),
            "pretty" | "text" => Ok(Self::Pretty),
            other => Err(TelemetryError::InvalidConfig {
                setting: "log format",
                reason: format!("expected `json` or `pretty`, got `{other}`"),
            }),
        }
    }
}

impl fmt::Display for LogFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Json => "json",
            Self::Pretty => "pretty",
        })
    }
}

/// OTLP transport. Only gRPC is built in; HTTP is refused at configuration time rather than
/// silently sending gRPC frames to an HTTP collector port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OtlpProtocol {
    /// OTLP/gRPC (collector port 4317), the default.
    #[default]
    Grpc,
}

impl FromStr for OtlpProtocol {
    type Err = TelemetryError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim() {
            "grpc" => Ok(Self::Grpc),
            other @ ("http/protobuf" | "http/json") => Err(TelemetryError::InvalidConfig {
                setting: ENV_OTLP_PROTOCOL,
                reason: format!("`{other}` is not supported by this build; use `grpc`"),
            }),
            other => Err(TelemetryError::InvalidConfig {
                setting: ENV_OTLP_PROTOCOL,
                reason: format!("unknown protocol `{other}`"),
            }),
        }
    }
}

/// Where and how spans are exported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OtlpConfig {
    /// Collector URI, for example `http://otel-collector:4317`.
    pub endpoint: String,
    /// Transport.
    pub protocol: OtlpProtocol,
}

impl OtlpConfig {
    /// Reads the standard `OTEL_*` variables through `lookup` (the binary passes
    /// `|k| std::env::var(k).ok()`; tests pass a map). Returns `None` when no endpoint is set,
    /// when `OTEL_SDK_DISABLED=true`, or when `OTEL_TRACES_EXPORTER=none`.
    pub fn from_env(lookup: impl Fn(&str) -> Option<String>) -> Result<Option<Self>, TelemetryError> {
        let get = |key: &str| lookup(key).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
        if get(ENV_SDK_DISABLED).is_some_and(|v| v.eq_ignore_ascii_case("true")) {
            return Ok(None);
        }
        if let Some(exporter) = get(ENV_TRACES_EXPORTER) {
            match exporter.as_str() {
                "none" => return Ok(None),
                "otlp" => {}
                other => {
                    return Err(TelemetryError::InvalidConfig {
                        setting: ENV_TRACES_EXPORTER,
                        reason: format!("only `otlp` and `none` are supported, got `{other}`"),
                    });
                }
            }
        }
        let Some(endpoint) = get(ENV_OTLP_TRACES_ENDPOINT).or_else(|| get(ENV_OTLP_ENDPOINT)) else {
            return Ok(None);
        };
        if !(endpoint.starts_with("http://") || endpoint.starts_with("https://")) {
            return Err(TelemetryError::InvalidConfig {
                setting: ENV_OTLP_ENDPOINT,
                reason: format!("`{endpoint}` must start with http:// or https://"),
            });
        }
        let protocol = match get(ENV_OTLP_TRACES_PROTOCOL).or_else(|| get(ENV_OTLP_PROTOCOL)) {
            Some(p) => p.parse()?,
            None => OtlpProtocol::default(),
        };
        Ok(Some(Self { endpoint, protocol }))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn from(vars: &[(&str, &str)]) -> Result<Option<OtlpConfig>, TelemetryError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        OtlpConfig::from_env(|k| map.get(k).cloned())
    }

    #[test]
    fn no_endpoint_means_no_export() {
        assert_eq!(from(&[]).unwrap(), None);
        assert_eq!(from(&[(ENV_OTLP_PROTOCOL, "grpc")]).unwrap(), None);
        assert_eq!(from(&[(ENV_OTLP_ENDPOINT, "  ")]).unwrap(), None);
    }

    #[test]
    fn generic_endpoint_defaults_to_grpc() {
        let cfg = from(&[(ENV_OTLP_ENDPOINT, "http://collector:4317")])
            .unwrap()
            .unwrap();
        assert_eq!(cfg.endpoint, "http://collector:4317");
        assert_eq!(cfg.protocol, OtlpProtocol::Grpc);
    }

    #[test]
    fn traces_specific_variables_win() {
        let cfg = from(&[
            (ENV_OTLP_ENDPOINT, "http://generic:4317"),
            (ENV_OTLP_TRACES_ENDPOINT, "http://traces:4317"),
            (ENV_OTLP_PROTOCOL, "http/protobuf"),
            (ENV_OTLP_TRACES_PROTOCOL, "grpc"),
        ])
        .unwrap()
        .unwrap();
        assert_eq!(cfg.endpoint, "http://traces:4317");
        assert_eq!(cfg.protocol, OtlpProtocol::Grpc);
    }

    #[test]
    fn http_protocols_are_refused_not_ignored() {
        for p in ["http/protobuf", "http/json", "thrift"] {
            let err = from(&[(ENV_OTLP_ENDPOINT, "http://c:4318"), (ENV_OTLP_PROTOCOL, p)]);
            assert!(matches!(err, Err(TelemetryError::InvalidConfig { .. })), "{p}");
        }
    }

    #[test]
    fn disabled_sdk_or_none_exporter_turns_export_off() {
        let endpoint = (ENV_OTLP_ENDPOINT, "http://c:4317");
        assert_eq!(from(&[endpoint, (ENV_SDK_DISABLED, "TRUE")]).unwrap(), None);
        assert_eq!(from(&[endpoint, (ENV_TRACES_EXPORTER, "none")]).unwrap(), None);
        assert!(from(&[endpoint, (ENV_SDK_DISABLED, "false")]).unwrap().is_some());
        assert!(from(&[endpoint, (ENV_TRACES_EXPORTER, "zipkin")]).is_err());
    }

    #[test]
    fn endpoint_needs_a_scheme() {
        assert!(from(&[(ENV_OTLP_ENDPOINT, "collector:4317")]).is_err());
    }

    #[test]
    fn log_format_parses() {
        assert_eq!("JSON".parse::<LogFormat>().unwrap(), LogFormat::Json);
        assert_eq!("pretty".parse::<LogFormat>().unwrap(), LogFormat::Pretty);
        assert!("xml".parse::<LogFormat>().is_err());
    }
}
