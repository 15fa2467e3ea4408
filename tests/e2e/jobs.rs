//! Key-maintenance jobs through the gateway's jobs listener over real gRPC and mutual TLS: the admin starts a
//! rewrap job after a rotation and watches it to the end; every object then reads back through OpenDAL, and
//! the crypto service's audit log holds the job's start, one ReEncrypt per object asked by the gateway, and
//! the job's end with its counts. Every other certificate is refused at the listener.

use cang_jobs_api::{JobSpec, JobState, JobsApi, JobsError, JobsGrpcClient, RewrapSpec};
use cang_kms_api::{AccountId, KeyRef};
use cang_tests::Cluster;
use cang_tls::TlsFiles;
use futures::StreamExt;

use crate::http::{audit_once, create_bucket, customer_key, op};

fn jobs_client(cluster: &Cluster, identity: &str) -> JobsGrpcClient {
    let tls = TlsFiles::in_dir(&cluster.dir.path().join("tls"), identity)
        .client_config()
        .expect("client certificate");
    JobsGrpcClient::connect_lazy(&cluster.jobs_addr.to_string(), tls).expect("client")
}

fn body(i: usize) -> Vec<u8> {
    (0..(200 + i * 11)).map(|j| (j * 5 + i) as u8).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_admin_runs_an_audited_rewrap_job_on_the_gateway() {
    let cluster = Cluster::start().await.expect("cluster");
    let key = customer_key(&cluster, "jobs").await;
    let cmk = key.key_id.as_str().to_owned();
    let sse = [
        ("x-oss-server-side-encryption", "KMS"),
        ("x-oss-server-side-encryption-key-id", cmk.as_str()),
    ];
    create_bucket(&cluster, &cluster.root, "jobs", &sse).await;
    let bucket = op(&cluster, &cluster.root, "jobs");
    for i in 0..8 {
        bucket.write(&format!("k-{i}"), body(i)).await.expect("write");
    }
    let account = AccountId::new(cluster.account.clone()).expect("account");
    let newest = cluster
        .kms_admin
        .rotate_key(&account, &KeyRef::Id(key.key_id.clone()))
        .await
        .expect("rotate")
        .key_version_id;

    let admin = jobs_client(&cluster, "admin");
    let spec = JobSpec::Rewrap(RewrapSpec {
        key: cmk.clone(),
        account: cluster.account.clone(),
        bucket: Some("jobs".into()),
        from_version: None,
    });
    let started = admin.start_job(spec, None).await.expect("start");
    let mut reports = admin.watch_job(&started.id).await.expect("watch");
    let mut last = None;
    while let Some(job) = reports.next().await {
        last = Some(job.expect("report"));
    }
    let done = last.expect("a report");
    assert_eq!(done.state, JobState::Succeeded, "{:?}", done.error);
    assert_eq!((done.progress.processed, done.progress.kms_calls), (8, 8));
    assert_eq!(done.progress.target, newest);
    let listed = admin.list_jobs().await.expect("list");
    assert_eq!(
        listed.iter().map(|j| j.id.as_str()).collect::<Vec<_>>(),
        [started.id.as_str()]
    );
    for i in 0..8 {
        let read = bucket.read(&format!("k-{i}")).await.expect("read").to_vec();
        assert_eq!(read, body(i), "k-{i}");
    }

    // The audit: start, eight ReEncrypt calls by the gateway, end.
    let records = audit_once(&cluster, |records| {
        records.iter().filter(|r| r.operation == "RewrapJob").count() == 2
    })
    .await;
    let job: Vec<_> = records.iter().filter(|r| r.operation == "RewrapJob").collect();
    assert_eq!(
        job.iter().map(|r| r.result.as_str()).collect::<Vec<_>>(),
        ["started", "ok"]
    );
    for r in &job {
        assert_eq!(r.principal, "gateway");
        assert_eq!(r.key_id, cmk);
        assert_eq!(r.encryption_context.0.get("job_id"), Some(&started.id));
        assert_eq!(
            r.encryption_context.0.get("bucket").map(String::as_str),
            Some("jobs")
        );
    }
    assert_eq!(
        job[1].encryption_context.0.get("processed").map(String::as_str),
        Some("8")
    );
    let between = records
        .iter()
        .filter(|r| r.sequence > job[0].sequence && r.sequence < job[1].sequence)
        .filter(|r| r.operation == "ReEncrypt" && r.principal == "gateway" && r.result == "ok")
        .count();
    assert_eq!(between, 8);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_admin_certificate_reaches_the_jobs_listener() {
    let cluster = Cluster::start().await.expect("cluster");
    for identity in ["gateway", "kms", "meta"] {
        let client = jobs_client(&cluster, identity);
        assert_eq!(
            client.list_jobs().await,
            Err(JobsError::AccessDenied),
            "{identity}"
        );
        let spec = JobSpec::Rewrap(RewrapSpec {
            key: "service-aes256".into(),
            account: String::new(),
            bucket: None,
            from_version: None,
        });
        assert_eq!(
            client.start_job(spec, None).await,
            Err(JobsError::AccessDenied),
            "{identity}"
        );
    }
    // The admin is answered (and an unknown job is just that).
    let admin = jobs_client(&cluster, "admin");
    assert_eq!(admin.list_jobs().await, Ok(Vec::new()));
    assert!(matches!(admin.get_job("0000").await, Err(JobsError::NotFound(_))));
}
