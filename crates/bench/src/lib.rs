//! Load generator and measurements behind `cang bench`: OSS throughput and latency per SSE mode, KMS
//! calls per PUT, gateway memory, disk use, the crypto service's call rates, and this machine's
//! per-stream ceiling measured in the same run so every throughput reads as a fraction of it.

mod args;
pub mod ceiling;
pub mod client;
pub mod cpu;
pub mod instance;
pub mod interleave;
pub mod jobs;
pub mod kms;
pub mod payload;
pub mod phases;
mod progress;
pub mod report;
mod run;
pub mod stats;

pub use args::{BenchArgs, BenchCommand, Profile};
pub use report::Report;
pub use run::{run, write_outputs};

/// Why a benchmark run failed.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    /// A file or socket operation failed.
    #[error("I/O: {0}")]
    Io(#[from] std::io::Error),
    /// The operating system's random generator failed.
    #[error("random number generator failed")]
    Random,
    /// The credentials file is incomplete.
    #[error("credentials: {0}")]
    Credentials(String),
    /// An HTTP exchange failed below the OSS layer.
    #[error("HTTP: {0}")]
    Http(String),
    /// The server answered with an error.
    #[error("{what} failed: HTTP {status} {code}")]
    Status {
        /// The request.
        what: String,
        /// HTTP status.
        status: u16,
        /// OSS error code, if the body had one.
        code: String,
    },
    /// Data came back different from what was sent.
    #[error("integrity: {0}")]
    Integrity(String),
    /// The ceiling's crypto failed.
    #[error("crypto: {0}")]
    Crypto(String),
    /// A crypto-service call failed.
    #[error("KMS: {0}")]
    Kms(String),
    /// The instance under test could not be started, found or stopped.
    #[error("instance: {0}")]
    Instance(String),
    /// A worker task failed.
    #[error("worker: {0}")]
    Task(String),
    /// The flags do not make sense together.
    #[error("usage: {0}")]
    Usage(String),
}
