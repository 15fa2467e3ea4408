//! Key-maintenance jobs run inside the gateway for the operator: [`JobRunner`] implements
//! [`JobsApi`] over [`crate::rewrap`] and [`crate::reseal`], with the gateway's own clients of the crypto
//! and metadata services. A job is audited before it touches anything (a job that cannot be recorded
//! does not run) and again when it ends, with its counts. Its state lives in this process: a job
//! interrupted by a restart is started again by hand, and both kinds skip what is already done.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use cang_jobs_api::{
    EncryptExistingSpec, EncryptionTarget, Job, JobProgress, JobSpec, JobState, JobStream, JobsApi,
    JobsError, RewrapSpec,
};
use cang_kms_api::{AccountId, JobAuditEvent, JobKind, JobPhase, KmsApi};
use cang_meta_api::MetaApi;
use futures::{FutureExt, StreamExt};
use tokio::sync::watch;

use crate::reseal::{self, ResealJob, ResealProgress};
use crate::rewrap::{self, RewrapJob, RewrapProgress};
use crate::state::GatewayConfig;

/// Jobs running at once, at most: each keeps a few objects in flight, and live traffic comes first.
pub const MAX_RUNNING: usize = 4;

/// Finished jobs remembered for `GetJob` and `ListJobs`, the most recent ones.
const KEEP_FINISHED: usize = 64;

/// The least time between two reports a watcher receives.
const WATCH_INTERVAL: Duration = Duration::from_millis(250);

/// How long [`JobRunner::shutdown`] waits for cancelled jobs to record their end.
const SHUTDOWN_WAIT: Duration = Duration::from_secs(10);

struct Entry {
    status: watch::Sender<Job>,
    cancel: watch::Sender<bool>,
    task: Option<tokio::task::JoinHandle<()>>,
}

/// Runs jobs; see the [module documentation](self).
pub struct JobRunner {
    /// This runner, for the tasks it spawns.
    me: std::sync::Weak<JobRunner>,
    kms: Arc<dyn KmsApi>,
    meta: Arc<dyn MetaApi>,
    /// Encrypt-existing jobs copy through one sealing path: one CPU pool for all of them.
    sealing: reseal::SealingPath,
    jobs: Mutex<BTreeMap<String, Entry>>,
    /// Set once shutdown began: no job starts after it.
    closing: std::sync::atomic::AtomicBool,
}

impl std::fmt::Debug for JobRunner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JobRunner").finish_non_exhaustive()
    }
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

fn new_id() -> Result<String, JobsError> {
    let mut id = [0u8; 16];
    getrandom::fill(&mut id).map_err(|e| JobsError::Unavailable(format!("no randomness: {e}")))?;
    Ok(hex::encode(id))
}

impl JobRunner {
    /// A runner using these clients (the gateway's) and the gateway's configuration.
    pub fn new(config: GatewayConfig, kms: Arc<dyn KmsApi>, meta: Arc<dyn MetaApi>) -> Arc<Self> {
        Arc::new_cyclic(|me| Self {
            me: me.clone(),
            sealing: reseal::SealingPath::new(config, Arc::clone(&kms), Arc::clone(&meta)),
            kms,
            meta,
            jobs: Mutex::new(BTreeMap::new()),
            closing: std::sync::atomic::AtomicBool::new(false),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Entry>> {
        self.jobs.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn status(&self, id: &str) -> Result<watch::Receiver<Job>, JobsError> {
        self.lock()
            .get(id)
            .map(|e| e.status.subscribe())
            .ok_or_else(|| JobsError::NotFound(id.to_owned()))
    }

    /// Refuses new jobs, cancels every running one and waits (a bounded time) until each has recorded its
    /// end. Call it as soon as shutdown begins, beside draining the OSS listener.
    pub async fn shutdown(&self) {
        self.closing.store(true, std::sync::atomic::Ordering::SeqCst);
        let tasks: Vec<_> = self
            .lock()
            .values_mut()
            .filter_map(|e| {
                e.cancel.send_replace(true);
                e.task.take()
            })
            .collect();
        let all = futures::future::join_all(tasks);
        if tokio::time::timeout(SHUTDOWN_WAIT, all).await.is_err() {
            tracing::warn!("jobs still running at shutdown after {SHUTDOWN_WAIT:?}");
        }
    }

    /// Forgets the oldest finished jobs beyond [`KEEP_FINISHED`].
    fn prune(jobs: &mut BTreeMap<String, Entry>) {
        let mut finished: Vec<(i64, String)> = jobs
            .iter()
            .filter(|(_, e)| e.status.borrow().state.is_finished())
            .map(|(id, e)| (e.status.borrow().finished_unix_ms.unwrap_or(0), id.clone()))
            .collect();
        if finished.len() <= KEEP_FINISHED {
            return;
        }
        finished.sort();
        for (_, id) in &finished[..finished.len() - KEEP_FINISHED] {
            jobs.remove(id);
        }
    }
}

/// The job's parameters, as its audit records carry them.
fn describe(job: &Job) -> BTreeMap<String, String> {
    let mut details = BTreeMap::new();
    details.insert("job_id".to_owned(), job.id.clone());
    if let Some(rate) = job.rate {
        details.insert("rate".to_owned(), rate.to_string());
    }
    match &job.spec {
        JobSpec::Rewrap(r) => {
            if let Some(b) = &r.bucket {
                details.insert("bucket".to_owned(), b.clone());
            }
            if let Some(v) = &r.from_version {
                details.insert("from_version".to_owned(), v.clone());
            }
        }
        JobSpec::EncryptExisting(e) => {
            details.insert("bucket".to_owned(), e.bucket.clone());
            if !e.prefix.is_empty() {
                details.insert("prefix".to_owned(), e.prefix.clone());
            }
            let target = match &e.target {
                EncryptionTarget::Aes256 => "AES256",
                EncryptionTarget::Sm4 => "SM4",
                EncryptionTarget::Kms { sm4_data: true, .. } => "KMS+SM4",
                EncryptionTarget::Kms { sm4_data: false, .. } => "KMS",
                EncryptionTarget::BucketDefault => "bucket-default",
            };
            details.insert("target".to_owned(), target.to_owned());
        }
    }
    details
}

/// `text` on one line (control characters as spaces), cut to at most `max` bytes at a character boundary.
fn clip(text: &str, max: usize) -> String {
    let line: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let mut end = line.len().min(max);
    while !line.is_char_boundary(end) {
        end -= 1;
    }
    line[..end].to_owned()
}

fn audit_event(job: &Job, phase: JobPhase, subject: &Subject) -> JobAuditEvent {
    let mut details = describe(job);
    if phase != JobPhase::Started {
        let p = &job.progress;
        for (name, value) in [
            ("processed", p.processed),
            ("processed_bytes", p.processed_bytes),
            ("current", p.current),
            ("changed", p.changed),
            ("appendable", p.appendable),
            ("uploads", p.uploads),
            ("kms_calls", p.kms_calls),
        ] {
            details.insert(name.to_owned(), value.to_string());
        }
        if !p.target.is_empty() {
            details.insert("brought_to".to_owned(), p.target.clone());
        }
        if let Some(e) = &job.error {
            details.insert("error".to_owned(), clip(e, cang_kms_api::JOB_DETAIL_MAX_LEN));
        }
    }
    JobAuditEvent {
        kind: match job.spec {
            JobSpec::Rewrap(_) => JobKind::Rewrap,
            JobSpec::EncryptExisting(_) => JobKind::EncryptExisting,
        },
        phase,
        account: subject.account.clone(),
        key_id: subject.key_id.clone(),
        details,
    }
}

fn rewrap_progress(p: &RewrapProgress) -> JobProgress {
    JobProgress {
        total_objects: Some(p.total_objects),
        total_bytes: Some(p.total_bytes),
        processed: p.rewrapped,
        processed_bytes: p.rewrapped_bytes,
        current: p.current,
        changed: p.changed,
        appendable: 0,
        uploads: p.uploads_rewrapped,
        kms_calls: p.reencrypt_calls,
        target: p.target_version.clone().unwrap_or_default(),
        cursor: if p.cursor.bucket.is_empty() {
            String::new()
        } else {
            format!("{}/{}", p.cursor.bucket, p.cursor.after)
        },
    }
}

fn reseal_progress(bucket: &str, p: &ResealProgress) -> JobProgress {
    JobProgress {
        total_objects: p.total_objects,
        total_bytes: p.total_bytes,
        processed: p.resealed,
        processed_bytes: p.resealed_bytes,
        current: p.current,
        changed: p.changed,
        appendable: p.appendable,
        uploads: 0,
        kms_calls: 0,
        target: match &p.target {
            Some((algorithm, Some(key))) => format!("{}/{key}", algorithm.as_str()),
            Some((algorithm, None)) => algorithm.as_str().to_owned(),
            None => String::new(),
        },
        cursor: if p.cursor.is_empty() {
            String::new()
        } else {
            format!("{bucket}/{}", p.cursor)
        },
    }
}

/// Whose key or bucket a job concerns, as its audit records name them: the account that owns the CMK or the
/// bucket, and the wrapping key's id (resolved from an alias) or the CMK as asked.
struct Subject {
    account: String,
    key_id: String,
}

/// A job ready to run: names resolved, nothing touched yet.
enum Prepared {
    Rewrap(RewrapJob),
    Reseal(ResealJob),
}

impl JobRunner {
    /// Resolves what the job names (the key's id, the bucket's owner); the error text if it cannot.
    async fn prepare(&self, spec: &JobSpec, rate: Option<f64>) -> Result<(Prepared, Subject), String> {
        match spec {
            JobSpec::Rewrap(RewrapSpec {
                key,
                account,
                bucket,
                from_version,
            }) => {
                let account = (!account.is_empty())
                    .then(|| AccountId::new(account.as_str()))
                    .transpose()
                    .map_err(|e| e.to_string())?;
                let key_id = rewrap::wrapping_key_id(self.kms.as_ref(), account.as_ref(), key)
                    .await
                    .map_err(|e| format!("looking up key {key}: {e}"))?;
                let subject = Subject {
                    account: account
                        .as_ref()
                        .map(|a| a.as_str().to_owned())
                        .unwrap_or_default(),
                    key_id: key_id.clone(),
                };
                let job = RewrapJob {
                    key_id,
                    account,
                    bucket: bucket.clone(),
                    from_version: from_version.clone(),
                    rate,
                };
                Ok((Prepared::Rewrap(job), subject))
            }
            JobSpec::EncryptExisting(EncryptExistingSpec {
                bucket,
                prefix,
                target,
            }) => {
                let owner = self
                    .meta
                    .get_bucket(bucket)
                    .await
                    .map_err(|e| format!("bucket {bucket}: {e}"))?
                    .owner;
                let key_id = match target {
                    EncryptionTarget::Kms { key: Some(key), .. } => key.clone(),
                    _ => String::new(),
                };
                let job = ResealJob {
                    bucket: bucket.clone(),
                    prefix: prefix.clone(),
                    target: target.clone(),
                    rate,
                };
                let subject = Subject {
                    account: owner.as_str().to_owned(),
                    key_id,
                };
                Ok((Prepared::Reseal(job), subject))
            }
        }
    }

    /// The work of a prepared job, reporting into `status`; the error text on failure.
    async fn work(&self, prepared: &Prepared, status: &watch::Sender<Job>) -> Result<(), String> {
        match prepared {
            Prepared::Rewrap(job) => {
                let mut report = |p: &RewrapProgress| status.send_modify(|j| j.progress = rewrap_progress(p));
                rewrap::run(self.meta.as_ref(), self.kms.as_ref(), job, None, &mut report)
                    .await
                    .map(|p| status.send_modify(|j| j.progress = rewrap_progress(&p)))
                    .map_err(|e| e.to_string())
            }
            Prepared::Reseal(job) => {
                let bucket = job.bucket.as_str();
                let mut report =
                    |p: &ResealProgress| status.send_modify(|j| j.progress = reseal_progress(bucket, p));
                reseal::run_on(&self.sealing, job, None, &mut report)
                    .await
                    .map(|p| status.send_modify(|j| j.progress = reseal_progress(bucket, &p)))
                    .map_err(|e| e.to_string())
            }
        }
    }

    /// Runs a started job to its end: resolve, audit, work (until done, failed or cancelled), audit; only then
    /// does the job show as finished.
    async fn drive(self: Arc<Self>, status: watch::Sender<Job>, mut cancel: watch::Receiver<bool>) {
        let job = status.borrow().clone();
        let ended = |state: JobState, error: Option<String>| {
            let mut job = status.borrow().clone();
            job.state = state;
            job.error = error;
            job.finished_unix_ms = Some(now_ms());
            job
        };
        let (prepared, subject) = match self.prepare(&job.spec, job.rate).await {
            Ok(p) => p,
            Err(e) => {
                // Nothing was touched, and the lookups are audited on their own.
                self.finished(&status, ended(JobState::Failed, Some(e)));
                return;
            }
        };
        if let Err(e) = self
            .kms
            .record_job(audit_event(&job, JobPhase::Started, &subject))
            .await
        {
            // Nothing unaudited runs.
            tracing::error!(job = %job.id, error = %e, "job not started: its start could not be audited");
            let why = format!("the audit log refused the job's start: {e}");
            self.finished(&status, ended(JobState::Failed, Some(why)));
            return;
        }
        tracing::info!(job = %job.id, kind = job.spec.kind(), "job started");
        let work = std::panic::AssertUnwindSafe(self.work(&prepared, &status)).catch_unwind();
        let (state, error) = tokio::select! {
            biased;
            // Dropping the work mid-object is safe: every swap and every copy commits whole or not at all.
            _ = cancel.wait_for(|c| *c) => (JobState::Cancelled, None),
            result = work => match result {
                Ok(Ok(())) => (JobState::Succeeded, None),
                Ok(Err(e)) => (JobState::Failed, Some(e)),
                Err(_) => (JobState::Failed, Some("internal error: the job panicked".to_owned())),
            },
        };
        let end = ended(state, error);
        let phase = match state {
            JobState::Succeeded => JobPhase::Succeeded,
            JobState::Cancelled => JobPhase::Cancelled,
            JobState::Running | JobState::Failed => JobPhase::Failed,
        };
        tracing::info!(job = %end.id, kind = end.spec.kind(), state = state.as_str(), "job finished");
        if let Err(e) = self.kms.record_job(audit_event(&end, phase, &subject)).await {
            tracing::error!(job = %end.id, error = %e, "the end of a job could not be audited");
        }
        self.finished(&status, end);
    }

    /// Shows a job as finished and forgets the oldest finished ones.
    fn finished(&self, status: &watch::Sender<Job>, end: Job) {
        status.send_replace(end);
        Self::prune(&mut self.lock());
    }
}

#[async_trait]
impl JobsApi for JobRunner {
    async fn start_job(&self, spec: JobSpec, rate: Option<f64>) -> Result<Job, JobsError> {
        cang_jobs_api::validate(&spec, rate)?;
        if self.closing.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(JobsError::Unavailable("the gateway is shutting down".into()));
        }
        let job = Job {
            id: new_id()?,
            spec,
            rate,
            state: JobState::Running,
            error: None,
            started_unix_ms: now_ms(),
            finished_unix_ms: None,
            progress: JobProgress::default(),
        };
        let mut jobs = self.lock();
        let running = jobs
            .values()
            .filter(|e| !e.status.borrow().state.is_finished())
            .count();
        if running >= MAX_RUNNING {
            return Err(JobsError::TooMany(MAX_RUNNING));
        }
        Self::prune(&mut jobs);
        let (status, _) = watch::channel(job.clone());
        let (cancel, cancelled) = watch::channel(false);
        let me = self
            .me
            .upgrade()
            .ok_or_else(|| JobsError::Unavailable("the gateway is shutting down".into()))?;
        let task = tokio::spawn(me.drive(status.clone(), cancelled));
        jobs.insert(
            job.id.clone(),
            Entry {
                status,
                cancel,
                task: Some(task),
            },
        );
        Ok(job)
    }

    async fn get_job(&self, id: &str) -> Result<Job, JobsError> {
        Ok(self.status(id)?.borrow().clone())
    }

    async fn list_jobs(&self) -> Result<Vec<Job>, JobsError> {
        let mut jobs: Vec<Job> = self.lock().values().map(|e| e.status.borrow().clone()).collect();
        jobs.sort_by_key(|j| (j.state.is_finished(), std::cmp::Reverse(j.started_unix_ms)));
        Ok(jobs)
    }

    async fn cancel_job(&self, id: &str) -> Result<Job, JobsError> {
        let mut status = {
            let jobs = self.lock();
            let entry = jobs.get(id).ok_or_else(|| JobsError::NotFound(id.to_owned()))?;
            entry.cancel.send_replace(true);
            entry.status.subscribe()
        };
        // The job stops at its next await point; its end is what the caller sees.
        let finished = tokio::time::timeout(SHUTDOWN_WAIT, status.wait_for(|j| j.state.is_finished()))
            .await
            .map(|seen| seen.map(|job| job.clone()));
        Ok(match finished {
            Ok(Ok(job)) => job,
            _ => status.borrow().clone(),
        })
    }

    async fn watch_job(&self, id: &str) -> Result<JobStream, JobsError> {
        let status = self.status(id)?;
        // The job now; then, no more often than every WATCH_INTERVAL, the job as it is after a change; the
        // stream ends after the report that shows it finished.
        let stream = futures::stream::unfold((status, true, false), |(mut rx, first, ended)| async move {
            if ended {
                return None;
            }
            if !first {
                tokio::time::sleep(WATCH_INTERVAL).await;
                // A closed channel means the job is gone; what it last was is still reported.
                let _ = rx.changed().await;
            }
            let job = rx.borrow_and_update().clone();
            let ended = job.state.is_finished();
            Some((Ok(job), (rx, false, ended)))
        });
        Ok(stream.boxed())
    }
}
