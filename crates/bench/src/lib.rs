//! Load generator and measurements behind `cang bench`: OSS throughput and latency per SSE mode, KMS
//! call rates, and this machine's per-stream ceiling measured in the same run.
