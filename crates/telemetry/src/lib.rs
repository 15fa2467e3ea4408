//! Telemetry for the Cang services: logs, traces and metrics.
