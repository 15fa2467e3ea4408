//! Protobuf ↔ domain: decoding validates (a missing oneof or an unknown state is `InvalidArgument`), and a
//! [`JobsError`] crosses the hop as a `Status` whose code and message bring back the same variant.

use cang_proto::cang::jobs::v1 as pb;
use tonic::{Code, Status};

use crate::{
    EncryptExistingSpec, EncryptionTarget, Job, JobProgress, JobSpec, JobState, JobsError, RewrapSpec,
};

fn missing(what: &str) -> JobsError {
    JobsError::InvalidArgument(format!("message without {what}"))
}

impl From<&JobSpec> for pb::JobSpec {
    fn from(spec: &JobSpec) -> Self {
        use pb::job_spec::Kind;
        let kind = match spec {
            JobSpec::Rewrap(r) => Kind::Rewrap(pb::RewrapSpec {
                key: r.key.clone(),
                account: r.account.clone(),
                bucket: r.bucket.clone(),
                from_version: r.from_version.clone(),
            }),
            JobSpec::EncryptExisting(e) => Kind::EncryptExisting(pb::EncryptExistingSpec {
                bucket: e.bucket.clone(),
                prefix: e.prefix.clone(),
                target: Some((&e.target).into()),
            }),
        };
        Self { kind: Some(kind) }
    }
}

impl TryFrom<pb::JobSpec> for JobSpec {
    type Error = JobsError;

    fn try_from(spec: pb::JobSpec) -> Result<Self, JobsError> {
        use pb::job_spec::Kind;
        Ok(match spec.kind.ok_or_else(|| missing("a job kind"))? {
            Kind::Rewrap(r) => Self::Rewrap(RewrapSpec {
                key: r.key,
                account: r.account,
                bucket: r.bucket,
                from_version: r.from_version,
            }),
            Kind::EncryptExisting(e) => Self::EncryptExisting(EncryptExistingSpec {
                bucket: e.bucket,
                prefix: e.prefix,
                target: e.target.ok_or_else(|| missing("a target"))?.try_into()?,
            }),
        })
    }
}

impl From<&EncryptionTarget> for pb::EncryptionTarget {
    fn from(target: &EncryptionTarget) -> Self {
        use pb::encryption_target::Target;
        let target = match target {
            EncryptionTarget::Aes256 => Target::Aes256(pb::Empty {}),
            EncryptionTarget::Sm4 => Target::Sm4(pb::Empty {}),
            EncryptionTarget::Kms { key, sm4_data } => Target::Kms(pb::KmsTarget {
                key: key.clone(),
                sm4_data: *sm4_data,
            }),
            EncryptionTarget::BucketDefault => Target::BucketDefault(pb::Empty {}),
        };
        Self { target: Some(target) }
    }
}

impl TryFrom<pb::EncryptionTarget> for EncryptionTarget {
    type Error = JobsError;

    fn try_from(target: pb::EncryptionTarget) -> Result<Self, JobsError> {
        use pb::encryption_target::Target;
        Ok(match target.target.ok_or_else(|| missing("a target"))? {
            Target::Aes256(_) => Self::Aes256,
            Target::Sm4(_) => Self::Sm4,
            Target::Kms(k) => Self::Kms {
                key: k.key,
                sm4_data: k.sm4_data,
            },
            Target::BucketDefault(_) => Self::BucketDefault,
        })
    }
}

fn state_to_pb(state: JobState) -> pb::JobState {
    match state {
        JobState::Running => pb::JobState::Running,
        JobState::Succeeded => pb::JobState::Succeeded,
        JobState::Failed => pb::JobState::Failed,
        JobState::Cancelled => pb::JobState::Cancelled,
    }
}

fn state_from_pb(state: i32) -> Result<JobState, JobsError> {
    match pb::JobState::try_from(state) {
        Ok(pb::JobState::Running) => Ok(JobState::Running),
        Ok(pb::JobState::Succeeded) => Ok(JobState::Succeeded),
        Ok(pb::JobState::Failed) => Ok(JobState::Failed),
        Ok(pb::JobState::Cancelled) => Ok(JobState::Cancelled),
        Ok(pb::JobState::Unspecified) | Err(_) => {
            Err(JobsError::InvalidArgument(format!("unknown job state {state}")))
        }
    }
}

impl From<&Job> for pb::Job {
    fn from(job: &Job) -> Self {
        let p = &job.progress;
        Self {
            id: job.id.clone(),
            spec: Some((&job.spec).into()),
            rate: job.rate,
            state: state_to_pb(job.state).into(),
            error: job.error.clone().unwrap_or_default(),
            started_unix_ms: job.started_unix_ms,
            finished_unix_ms: job.finished_unix_ms.unwrap_or(0),
            progress: Some(pb::JobProgress {
                total_objects: p.total_objects,
                total_bytes: p.total_bytes,
                processed: p.processed,
                processed_bytes: p.processed_bytes,
                current: p.current,
                changed: p.changed,
                appendable: p.appendable,
                uploads: p.uploads,
                kms_calls: p.kms_calls,
                target: p.target.clone(),
                cursor: p.cursor.clone(),
            }),
        }
    }
}

impl TryFrom<pb::Job> for Job {
    type Error = JobsError;

    fn try_from(job: pb::Job) -> Result<Self, JobsError> {
        let p = job.progress.unwrap_or_default();
        Ok(Self {
            id: job.id,
            spec: job.spec.ok_or_else(|| missing("a spec"))?.try_into()?,
            rate: job.rate,
            state: state_from_pb(job.state)?,
            error: Some(job.error).filter(|e| !e.is_empty()),
            started_unix_ms: job.started_unix_ms,
            finished_unix_ms: Some(job.finished_unix_ms).filter(|t| *t != 0),
            progress: JobProgress {
                total_objects: p.total_objects,
                total_bytes: p.total_bytes,
                processed: p.processed,
                processed_bytes: p.processed_bytes,
                current: p.current,
                changed: p.changed,
                appendable: p.appendable,
                uploads: p.uploads,
                kms_calls: p.kms_calls,
                target: p.target,
                cursor: p.cursor,
            },
        })
    }
}

/// Prefix of the message of a `ResourceExhausted` status: the limit follows.
const TOO_MANY: &str = "too many jobs running, at most ";

impl From<JobsError> for Status {
    fn from(err: JobsError) -> Self {
        match err {
            JobsError::NotFound(id) => Status::not_found(id),
            JobsError::InvalidArgument(m) => Status::invalid_argument(m),
            JobsError::TooMany(n) => Status::resource_exhausted(format!("{TOO_MANY}{n}")),
            JobsError::AccessDenied => Status::permission_denied("access denied"),
            JobsError::Unavailable(m) => Status::unavailable(m),
        }
    }
}

impl From<Status> for JobsError {
    fn from(status: Status) -> Self {
        let message = status.message().to_owned();
        match status.code() {
            Code::NotFound => Self::NotFound(message),
            Code::InvalidArgument => Self::InvalidArgument(message),
            Code::ResourceExhausted => Self::TooMany(
                message
                    .strip_prefix(TOO_MANY)
                    .and_then(|n| n.parse().ok())
                    .unwrap_or(0),
            ),
            Code::PermissionDenied | Code::Unauthenticated => Self::AccessDenied,
            _ => Self::Unavailable(message),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn target() -> impl Strategy<Value = EncryptionTarget> {
        prop_oneof![
            Just(EncryptionTarget::Aes256),
            Just(EncryptionTarget::Sm4),
            Just(EncryptionTarget::BucketDefault),
            (proptest::option::of(".{0,20}"), any::<bool>())
                .prop_map(|(key, sm4_data)| EncryptionTarget::Kms { key, sm4_data }),
        ]
    }

    fn spec() -> impl Strategy<Value = JobSpec> {
        prop_oneof![
            (
                ".{0,20}",
                ".{0,20}",
                proptest::option::of(".{0,20}"),
                proptest::option::of(".{0,20}")
            )
                .prop_map(|(key, account, bucket, from_version)| {
                    JobSpec::Rewrap(RewrapSpec {
                        key,
                        account,
                        bucket,
                        from_version,
                    })
                }),
            (".{0,20}", ".{0,20}", target()).prop_map(|(bucket, prefix, target)| {
                JobSpec::EncryptExisting(EncryptExistingSpec {
                    bucket,
                    prefix,
                    target,
                })
            }),
        ]
    }

    fn state() -> impl Strategy<Value = JobState> {
        prop_oneof![
            Just(JobState::Running),
            Just(JobState::Succeeded),
            Just(JobState::Failed),
            Just(JobState::Cancelled),
        ]
    }

    proptest! {
        #[test]
        fn jobs_survive_the_hop(
            spec in spec(),
            state in state(),
            error in proptest::option::of(".{1,20}"),
            counts in proptest::array::uniform9(any::<u64>()),
            total in proptest::option::of(any::<u64>()),
            finished in proptest::option::of(1i64..),
            rate in proptest::option::of(0.001f64..1e6),
        ) {
            let job = Job {
                id: "0123456789abcdef0123456789abcdef".into(),
                spec,
                rate,
                state,
                error,
                started_unix_ms: 1_700_000_000_000,
                finished_unix_ms: finished,
                progress: JobProgress {
                    total_objects: total,
                    total_bytes: total.map(|t| t / 2),
                    processed: counts[0],
                    processed_bytes: counts[1],
                    current: counts[2],
                    changed: counts[3],
                    appendable: counts[4],
                    uploads: counts[5],
                    kms_calls: counts[6],
                    target: counts[7].to_string(),
                    cursor: counts[8].to_string(),
                },
            };
            let back = Job::try_from(pb::Job::from(&job));
            prop_assert_eq!(back, Ok(job));
        }

        #[test]
        fn arbitrary_messages_decode_or_are_refused(state in any::<i32>(), with_spec in any::<bool>()) {
            let msg = pb::Job {
                state,
                spec: with_spec.then_some(pb::JobSpec { kind: None }),
                ..pb::Job::default()
            };
            // Never a panic; a job without a kind or with an unknown state is refused.
            prop_assert!(Job::try_from(msg).is_err());
        }

        #[test]
        fn errors_survive_the_hop(n in 0usize..1000, m in "[a-z ]{0,20}") {
            for err in [
                JobsError::NotFound(m.clone()),
                JobsError::InvalidArgument(m.clone()),
                JobsError::TooMany(n),
                JobsError::AccessDenied,
                JobsError::Unavailable(m.clone()),
            ] {
                prop_assert_eq!(JobsError::from(Status::from(err.clone())), err);
            }
        }
    }
}
