//! Jobs run by the gateway's [`JobRunner`] with the gateway's own identities on the real keyring and
//! metadata store: a rewrap and an encrypt-existing job run to the end and are audited before and after;
//! a cancelled job stops and says so; a job whose start cannot be audited touches nothing; the runner
//! refuses a fifth concurrent job, bad rates and unknown ids.

use std::sync::Arc;

use cang_jobs_api::{
    EncryptExistingSpec, EncryptionTarget, Job, JobSpec, JobState, JobsApi, JobsError, RewrapSpec,
};
use cang_kms_api::memory::MemoryKms;
use cang_kms_api::{AuditRecord, JobKind, JobPhase, KeySpec, KmsApi, KmsError};
use cang_meta_api::SseAlgorithm;
use futures::StreamExt;

use super::rewrap::{put_all, reads_back, rotate};
use crate::jobs::{JobRunner, MAX_RUNNING};
use crate::state::GatewayConfig;
use crate::testing::{ACCOUNT, Harness};

/// An encrypt-existing job over the whole of `bucket`.
fn encrypt(bucket: &str, target: EncryptionTarget) -> JobSpec {
    JobSpec::EncryptExisting(EncryptExistingSpec {
        bucket: bucket.to_owned(),
        prefix: String::new(),
        target,
    })
}

fn runner(h: &Harness) -> Arc<JobRunner> {
    JobRunner::new(
        GatewayConfig::default(),
        Arc::clone(&h.kms_gateway),
        Arc::clone(&h.meta_gateway),
    )
}

/// Follows a job to its end through the watch stream; every report but the last is running.
async fn watched(jobs: &JobRunner, id: &str) -> Job {
    let mut stream = jobs.watch_job(id).await.expect("watch");
    let mut last = None;
    while let Some(job) = stream.next().await {
        let job = job.expect("report");
        if let Some(previous) = &last {
            let previous: &Job = previous;
            assert_eq!(previous.state, JobState::Running, "nothing follows the end");
            assert!(
                job.progress.done() >= previous.progress.done(),
                "progress never goes back"
            );
        }
        last = Some(job);
    }
    last.expect("at least one report")
}

async fn audit(h: &Harness) -> Vec<AuditRecord> {
    let mut out = Vec::new();
    loop {
        // The audit writer persists in batches: records appear shortly after the call.
        let after = out.last().map_or(0, |r: &AuditRecord| r.sequence);
        let page = h.kms_admin.list_audit_records(after, 1000).await.expect("audit");
        if page.is_empty() {
            return out;
        }
        out.extend(page);
    }
}

/// The job records of `id` in the audit log, waiting until `expected` have been persisted.
async fn job_records(h: &Harness, id: &str, expected: usize) -> Vec<AuditRecord> {
    for _ in 0..200 {
        let records: Vec<_> = audit(h)
            .await
            .into_iter()
            .filter(|r| r.encryption_context.0.get("job_id").map(String::as_str) == Some(id))
            .collect();
        if records.len() >= expected {
            return records;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("the audit log never showed {expected} records of job {id}");
}

#[tokio::test]
async fn a_rewrap_job_moves_every_object_and_is_audited_at_both_ends() {
    let h = Harness::start().await;
    let cmk = h.cmk(KeySpec::Aes256).await;
    h.bucket(
        "jobs",
        &[
            ("x-oss-server-side-encryption", "KMS"),
            ("x-oss-server-side-encryption-key-id", &cmk),
        ],
    )
    .await;
    put_all(&h, "jobs", 0..6).await;
    let newest = rotate(&h, &cmk).await;

    let jobs = runner(&h);
    let spec = JobSpec::Rewrap(RewrapSpec {
        key: cmk.clone(),
        account: ACCOUNT.to_owned(),
        bucket: None,
        from_version: None,
    });
    let started = jobs.start_job(spec.clone(), None).await.expect("start");
    assert_eq!(started.state, JobState::Running);
    assert_eq!(started.id.len(), 32);
    let done = watched(&jobs, &started.id).await;
    assert_eq!(done.state, JobState::Succeeded, "{:?}", done.error);
    assert_eq!(done.spec, spec);
    assert_eq!(
        (
            done.progress.total_objects,
            done.progress.processed,
            done.progress.kms_calls
        ),
        (Some(6), 6, 6)
    );
    assert_eq!(done.progress.target, newest);
    assert_eq!(done.progress.cursor, "jobs/k-05");
    assert!(done.finished_unix_ms.is_some());
    assert_eq!(jobs.get_job(&started.id).await.expect("get"), done);
    assert_eq!(jobs.list_jobs().await.expect("list"), vec![done.clone()]);
    reads_back(&h, "jobs", 0..6).await;

    let records = job_records(&h, &started.id, 2).await;
    let phases: Vec<_> = records.iter().map(|r| r.result.as_str()).collect();
    assert_eq!(phases, ["started", "ok"]);
    for r in &records {
        assert_eq!(r.operation, JobKind::Rewrap.operation());
        assert_eq!(r.principal, "gateway");
        assert_eq!(r.key_id, cmk);
        assert_eq!(r.account, ACCOUNT);
    }
    let end = &records[1].encryption_context.0;
    assert_eq!(end.get("processed").map(String::as_str), Some("6"));
    assert_eq!(end.get("brought_to"), Some(&newest));
    // Between the two: one ReEncrypt per object, asked by the gateway.
    let reencrypts = audit(&h)
        .await
        .into_iter()
        .filter(|r| {
            r.operation == "ReEncrypt"
                && r.principal == "gateway"
                && r.sequence > records[0].sequence
                && r.sequence < records[1].sequence
        })
        .count();
    assert_eq!(reencrypts, 6);
}

#[tokio::test]
async fn an_encrypt_existing_job_seals_plaintext_objects() {
    let h = Harness::start().await;
    h.bucket("plain", &[]).await;
    put_all(&h, "plain", 0..5).await;
    let jobs = runner(&h);
    let spec = encrypt("plain", EncryptionTarget::Aes256);
    let started = jobs.start_job(spec, None).await.expect("start");
    let done = watched(&jobs, &started.id).await;
    assert_eq!(done.state, JobState::Succeeded, "{:?}", done.error);
    assert_eq!((done.progress.processed, done.progress.current), (5, 0));
    assert_eq!(done.progress.target, "AES256");
    for i in 0..5 {
        let info = h
            .meta_admin
            .head_object("plain", &format!("k-{i:02}"))
            .await
            .expect("head");
        assert_eq!(info.meta.sse.expect("sealed").algorithm, SseAlgorithm::Aes256);
    }
    reads_back(&h, "plain", 0..5).await;
    let records = job_records(&h, &started.id, 2).await;
    assert_eq!(records[0].operation, "EncryptExistingJob");
    let start = &records[0].encryption_context.0;
    assert_eq!(start.get("bucket").map(String::as_str), Some("plain"));
    assert_eq!(start.get("target").map(String::as_str), Some("AES256"));
    assert_eq!(records[1].result, "ok");
}

#[tokio::test]
async fn a_cancelled_job_stops_and_the_audit_says_so() {
    let h = Harness::start().await;
    h.bucket("slow", &[]).await;
    put_all(&h, "slow", 0..20).await;
    let jobs = runner(&h);
    let spec = encrypt("slow", EncryptionTarget::Aes256);
    // Two objects a second: the job is far from done when it is cancelled.
    let started = jobs.start_job(spec, Some(2.0)).await.expect("start");
    let cancelled = jobs.cancel_job(&started.id).await.expect("cancel");
    assert_eq!(cancelled.state, JobState::Cancelled);
    assert!(cancelled.progress.processed < 20, "{:?}", cancelled.progress);
    let records = job_records(&h, &started.id, 2).await;
    assert_eq!(records[1].result, "cancelled");
    // Every object still reads, encrypted or not.
    reads_back(&h, "slow", 0..20).await;
    // Cancelling a finished job changes nothing.
    assert_eq!(jobs.cancel_job(&started.id).await.expect("again"), cancelled);
}

#[tokio::test]
async fn a_job_whose_start_cannot_be_audited_touches_nothing() {
    let kms = Arc::new(MemoryKms::new());
    let h = Harness::over(Arc::clone(&kms) as Arc<dyn KmsApi>, GatewayConfig::default()).await;
    h.bucket("unaudited", &[]).await;
    put_all(&h, "unaudited", 0..3).await;
    kms.fail_next_call_to("record_job", KmsError::Unavailable);
    let jobs = runner(&h);
    let spec = encrypt("unaudited", EncryptionTarget::Aes256);
    let started = jobs.start_job(spec, None).await.expect("start");
    let done = watched(&jobs, &started.id).await;
    assert_eq!(done.state, JobState::Failed);
    assert!(
        done.error.as_deref().unwrap_or_default().contains("audit"),
        "{:?}",
        done.error
    );
    assert_eq!(done.progress.processed, 0);
    for i in 0..3 {
        let info = h
            .meta_admin
            .head_object("unaudited", &format!("k-{i:02}"))
            .await
            .expect("head");
        assert_ne!(
            info.meta.sse.map(|s| s.algorithm),
            Some(SseAlgorithm::Aes256),
            "k-{i:02} was not touched"
        );
    }
    assert!(kms.job_records().is_empty());
}

#[tokio::test]
async fn the_runner_refuses_a_fifth_job_bad_rates_and_unknown_ids() {
    let kms = Arc::new(MemoryKms::new());
    let h = Harness::over(Arc::clone(&kms) as Arc<dyn KmsApi>, GatewayConfig::default()).await;
    h.bucket("busy", &[]).await;
    put_all(&h, "busy", 0..10).await;
    let jobs = runner(&h);
    let spec = encrypt("busy", EncryptionTarget::Sm4);
    let mut ids = Vec::new();
    for _ in 0..MAX_RUNNING {
        ids.push(jobs.start_job(spec.clone(), Some(0.5)).await.expect("start").id);
    }
    assert_eq!(
        jobs.start_job(spec.clone(), Some(0.5)).await,
        Err(JobsError::TooMany(MAX_RUNNING))
    );
    for bad in [0.0, -1.0, 1e-300, 1e7, f64::NAN, f64::INFINITY] {
        assert!(matches!(
            jobs.start_job(spec.clone(), Some(bad)).await,
            Err(JobsError::InvalidArgument(_))
        ));
    }
    for id in &ids {
        assert_eq!(
            jobs.cancel_job(id).await.expect("cancel").state,
            JobState::Cancelled
        );
    }
    // Room again once they stopped.
    let again = jobs
        .start_job(spec.clone(), Some(0.5))
        .await
        .expect("start after cancelling");
    jobs.shutdown().await;
    assert_eq!(
        jobs.get_job(&again.id).await.expect("get").state,
        JobState::Cancelled
    );
    // Once shutdown began, nothing starts.
    assert!(matches!(
        jobs.start_job(spec, None).await,
        Err(JobsError::Unavailable(_))
    ));
    assert!(matches!(jobs.get_job("nope").await, Err(JobsError::NotFound(_))));
    assert!(matches!(
        jobs.cancel_job("nope").await,
        Err(JobsError::NotFound(_))
    ));
    assert!(matches!(
        jobs.watch_job("nope").await,
        Err(JobsError::NotFound(_))
    ));
    // Every run was recorded at both ends.
    let records = kms.job_records();
    assert_eq!(records.len(), 2 * (MAX_RUNNING + 1));
    assert_eq!(
        records.iter().filter(|r| r.phase == JobPhase::Cancelled).count(),
        MAX_RUNNING + 1
    );
}

#[tokio::test]
async fn a_job_on_a_missing_bucket_fails_before_anything_is_recorded() {
    let kms = Arc::new(MemoryKms::new());
    let h = Harness::over(Arc::clone(&kms) as Arc<dyn KmsApi>, GatewayConfig::default()).await;
    let jobs = runner(&h);
    let spec = encrypt("no-such-bucket", EncryptionTarget::Aes256);
    let started = jobs.start_job(spec, None).await.expect("start");
    let done = watched(&jobs, &started.id).await;
    assert_eq!(done.state, JobState::Failed);
    assert!(
        done.error
            .as_deref()
            .unwrap_or_default()
            .contains("no-such-bucket"),
        "{:?}",
        done.error
    );
    assert!(kms.job_records().is_empty());
}
