//! The contract of Cang's key-maintenance jobs: the [`JobsApi`] trait (no tonic types), the jobs it starts
//! ([`JobSpec`]) and reports ([`Job`]), the typed [`JobsError`], and the gRPC client ([`JobsGrpcClient`])
//! and server ([`JobsGrpcServer`]) adapters. A gateway runs the jobs; only the admin certificate reaches
//! them.

mod client;
mod convert;
mod server;

pub use client::JobsGrpcClient;
pub use server::{JOBS_CALLERS, JobsGrpcServer, serve};

use async_trait::async_trait;
use futures::stream::BoxStream;

/// A job to run.
#[derive(Debug, Clone, PartialEq)]
pub enum JobSpec {
    /// Re-wrap data keys under a key's current primary version.
    Rewrap(RewrapSpec),
    /// Copy objects in place under an encryption.
    EncryptExisting(EncryptExistingSpec),
}

impl JobSpec {
    /// The job's name in the audit log and in listings: `Rewrap` or `EncryptExisting`.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Rewrap(_) => "Rewrap",
            Self::EncryptExisting(_) => "EncryptExisting",
        }
    }
}

/// What `cang admin rewrap` takes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RewrapSpec {
    /// A CMK id or alias of `account`, or a service key id (`service-aes256`, …).
    pub key: String,
    /// The account that owns the CMK (ignored for service keys).
    pub account: String,
    /// Only this bucket.
    pub bucket: Option<String>,
    /// Only objects under this version.
    pub from_version: Option<String>,
}

/// What `cang admin encrypt-existing` takes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncryptExistingSpec {
    /// The bucket.
    pub bucket: String,
    /// Only keys starting with this.
    pub prefix: String,
    /// The encryption to bring them to.
    pub target: EncryptionTarget,
}

/// The encryption an encrypt-existing job brings objects to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EncryptionTarget {
    /// SSE-OSS AES256.
    Aes256,
    /// SSE-OSS SM4.
    Sm4,
    /// SSE-KMS under a CMK (id or alias; `None`: the managed key `alias/acs/oss`).
    Kms {
        /// The CMK.
        key: Option<String>,
        /// SM4 data encryption.
        sm4_data: bool,
    },
    /// The bucket's default encryption when the job starts.
    BucketDefault,
}

/// Where a job is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobState {
    /// Still working.
    Running,
    /// Done, every object dealt with.
    Succeeded,
    /// Stopped by an error (see [`Job::error`]); running it again resumes the work (both jobs skip what
    /// is already done).
    Failed,
    /// Stopped on request, or because the gateway shut down.
    Cancelled,
}

impl JobState {
    /// Whether the job has stopped.
    pub fn is_finished(self) -> bool {
        self != Self::Running
    }

    /// The word the CLI and the audit log use.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Running => "running",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
            Self::Cancelled => "cancelled",
        }
    }
}

/// Counts of a job so far (fields a kind does not use stay zero).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct JobProgress {
    /// Objects still to do when the job started, where the key inventory tells.
    pub total_objects: Option<u64>,
    /// Their plaintext bytes.
    pub total_bytes: Option<u64>,
    /// Objects re-wrapped or re-encrypted.
    pub processed: u64,
    /// Their plaintext bytes.
    pub processed_bytes: u64,
    /// Objects found already where the job brings them.
    pub current: u64,
    /// Objects overwritten or deleted meanwhile (left as the writer left them).
    pub changed: u64,
    /// Appendable objects, left as they are.
    pub appendable: u64,
    /// Unfinished multipart uploads re-wrapped.
    pub uploads: u64,
    /// Crypto-service calls made for re-wrapping.
    pub kms_calls: u64,
    /// Where objects were brought (a key version, or `ALGORITHM[/key id]`).
    pub target: String,
    /// The last object finished, `bucket/key`.
    pub cursor: String,
}

impl JobProgress {
    /// Objects dealt with, either way.
    pub fn done(&self) -> u64 {
        self.processed + self.current + self.changed + self.appendable
    }
}

/// A job as its runner reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    /// Its id (32 hex digits).
    pub id: String,
    /// What it does.
    pub spec: JobSpec,
    /// Its pace limit, objects per second.
    pub rate: Option<f64>,
    /// Where it is.
    pub state: JobState,
    /// Why it failed.
    pub error: Option<String>,
    /// Unix milliseconds.
    pub started_unix_ms: i64,
    /// Unix milliseconds, once finished.
    pub finished_unix_ms: Option<i64>,
    /// Its counts.
    pub progress: JobProgress,
}

/// Why a jobs call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JobsError {
    /// No job has this id (on this gateway).
    #[error("no such job: {0}")]
    NotFound(String),
    /// The request is malformed.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// As many jobs run as the runner allows; start this one after one finishes.
    #[error("too many jobs running: at most {0} at once")]
    TooMany(usize),
    /// The caller may not reach the jobs service.
    #[error("access denied")]
    AccessDenied,
    /// The runner cannot be reached, or is shutting down.
    #[error("jobs service unavailable: {0}")]
    Unavailable(String),
}

/// A stream of a job's reports.
pub type JobStream = BoxStream<'static, Result<Job, JobsError>>;

/// Starting, watching and cancelling jobs.
#[async_trait]
pub trait JobsApi: Send + Sync {
    /// Starts a job (at most `rate` objects per second); returns it as it starts.
    async fn start_job(&self, spec: JobSpec, rate: Option<f64>) -> Result<Job, JobsError>;
    /// One job.
    async fn get_job(&self, id: &str) -> Result<Job, JobsError>;
    /// Running jobs, then the most recent finished ones.
    async fn list_jobs(&self) -> Result<Vec<Job>, JobsError>;
    /// Asks a running job to stop; returns it (stopped, or as it finished if it already had).
    async fn cancel_job(&self, id: &str) -> Result<Job, JobsError>;
    /// The job now and after each change (throttled), ending with it finished.
    async fn watch_job(&self, id: &str) -> Result<JobStream, JobsError>;
}

/// The slowest pace a job may be given, objects per second (one an hour is slower than anyone needs).
pub const MIN_RATE: f64 = 1.0 / 3600.0;
/// The fastest pace a job may be given, objects per second.
pub const MAX_RATE: f64 = 1e6;

/// Checks what a runner will be asked to do before it starts: names within OSS's limits and the rate
/// within [`MIN_RATE`]..=[`MAX_RATE`].
pub fn validate(spec: &JobSpec, rate: Option<f64>) -> Result<(), JobsError> {
    let invalid = |m: &str| Err(JobsError::InvalidArgument(m.to_owned()));
    let within = |s: &str, max: usize| !s.is_empty() && s.len() <= max;
    if let Some(rate) = rate
        && !(MIN_RATE..=MAX_RATE).contains(&rate)
    {
        return invalid("rate must be between one object an hour and 10^6 objects per second");
    }
    match spec {
        JobSpec::Rewrap(r) => {
            if !within(&r.key, 256) {
                return invalid("rewrap needs a key of at most 256 characters");
            }
            if !r.account.is_empty() && !within(&r.account, 64) {
                return invalid("an account id has at most 64 characters");
            }
            if r.bucket.as_deref().is_some_and(|b| !within(b, 63)) {
                return invalid("a bucket name has 3 to 63 characters");
            }
            if r.from_version.as_deref().is_some_and(|v| !within(v, 128)) {
                return invalid("a key version id has 1 to 128 characters");
            }
        }
        JobSpec::EncryptExisting(e) => {
            if !within(&e.bucket, 63) {
                return invalid("encrypt-existing needs a bucket name of 3 to 63 characters");
            }
            if e.prefix.len() > 1023 {
                return invalid("a prefix has at most 1023 bytes");
            }
            if let EncryptionTarget::Kms { key: Some(k), .. } = &e.target
                && !within(k, 256)
            {
                return invalid("a KMS key of at most 256 characters");
            }
        }
    }
    Ok(())
}
