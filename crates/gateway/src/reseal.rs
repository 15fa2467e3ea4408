//! Encrypting existing objects: each object of a bucket (under a prefix) that is not yet under the requested
//! server-side encryption is re-encrypted in place through the same path as a CopyObject onto itself —
//! its stored plaintext is decrypted as a stream and sealed afresh under a new data key — and committed only
//! over the exact version that was read, so an object a client overwrites meanwhile keeps the client's data.
//!
//! What OSS copy-in-place keeps is kept: content, Content-Type and the other stored headers, user metadata,
//! the object ACL, and the ETag of objects written by PutObject (an MD5 of the content; a multipart object's
//! ETag becomes the MD5 of its content, as a copy's does). Last-Modified moves to the re-encryption's time.
//! Appendable objects are left alone and counted: re-sealing would end their appendability.
//!
//! The job walks keys in order and reports a cursor (the last key finished), which resumes it; objects
//! already under the requested encryption are skipped without reading them.

use std::sync::Arc;

use futures::StreamExt;
use std::time::Instant;

use cang_kms_api::{KmsApi, KmsError};
use cang_meta_api::{
    Bucket, ExpectedObject, InventoryQuery, ListObjectsQuery, MetaApi, MetaError, ObjectInfo, ObjectMeta,
    ObjectSse, ObjectType, PutObjectHeader, SseAlgorithm as MetaAlgorithm,
};
use cang_oss::headers::sse::{DataEncryption, SseAlgorithm, SseRule};
use cang_oss::route::{Addressing, Endpoint, Route};
use cang_policy::ConditionContext;

use crate::authorize::Principal;
use crate::encryption::{master_key, meta_algorithm, rule_from_bucket};
use crate::errors::Failure;
use crate::keys::MasterKey;
use crate::pipeline::read::{Source, stored_plaintext};
use crate::pipeline::write::{prepare_upload, seal_into};
use crate::state::{Call, Gateway, GatewayConfig, KnownObject};

/// Objects listed per page.
const PAGE: u32 = 1000;

/// Objects re-encrypted at once.
const IN_FLIGHT: usize = 4;

/// What the job did with one object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Done {
    Appendable,
    Current,
    Resealed,
    Changed,
}

/// The encryption to bring objects to (the jobs service's own type, so a job runs as it was asked).
pub use cang_jobs_api::EncryptionTarget as Target;

/// What to re-encrypt.
#[derive(Debug, Clone, PartialEq)]
pub struct ResealJob {
    /// The bucket.
    pub bucket: String,
    /// Only keys starting with this.
    pub prefix: String,
    /// The encryption to bring them to.
    pub target: Target,
    /// At most this many objects per second.
    pub rate: Option<f64>,
}

/// Counts of a job so far.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ResealProgress {
    /// Objects of the bucket not yet under the target when the job started, by the key inventory (the
    /// whole bucket, appendable objects included; `None` when a prefix narrows the job).
    pub total_objects: Option<u64>,
    /// Their plaintext bytes (likewise).
    pub total_bytes: Option<u64>,
    /// Objects re-encrypted.
    pub resealed: u64,
    /// Their plaintext bytes.
    pub resealed_bytes: u64,
    /// Objects already under the target.
    pub current: u64,
    /// Appendable objects, left as they are.
    pub appendable: u64,
    /// Objects overwritten or deleted while being re-encrypted (they keep what the writer wrote).
    pub changed: u64,
    /// The target as applied: algorithm, CMK id.
    pub target: Option<(MetaAlgorithm, Option<String>)>,
    /// The last key finished: where to resume.
    pub cursor: String,
    /// When this run started.
    pub started: Option<Instant>,
}

impl ResealProgress {
    /// Objects dealt with, either way.
    pub fn done(&self) -> u64 {
        self.resealed + self.current + self.appendable + self.changed
    }
}

/// Why a job stopped.
#[derive(Debug, thiserror::Error)]
pub enum ResealError {
    /// The metadata service failed.
    #[error("metadata service: {0}")]
    Meta(#[from] MetaError),
    /// The bucket has no default encryption to bring objects to.
    #[error("bucket {0} has no default encryption")]
    NoDefault(String),
    /// The target key cannot be used.
    #[error("crypto service: {0}")]
    Key(KmsError),
    /// One object could not be re-encrypted (the job stops; it resumes from before this object).
    #[error("object {bucket}/{key}: {code}: {message}")]
    Object {
        /// Bucket.
        bucket: String,
        /// Key.
        key: String,
        /// The OSS error code a client would have seen.
        code: String,
        /// Its message.
        message: String,
    },
}

/// Whether a stored record is already what the rule (with its CMK resolved to `key_id`) would write.
fn already(record: Option<&ObjectSse>, rule: &SseRule, key_id: Option<&str>) -> bool {
    let Some(record) = record else { return false };
    record.algorithm == meta_algorithm(rule.algorithm)
        && record.data_encryption.is_some() == rule.data_encryption.is_some()
        && (rule.algorithm != SseAlgorithm::Kms || record.key_id.as_deref() == key_id)
}

/// A call acting as the bucket owner's root for the operations the job performs.
pub(crate) fn owner_call(bucket: &Bucket) -> Call {
    Call {
        route: Route {
            endpoint: Endpoint::PutObject {
                bucket: bucket.name.clone(),
                key: String::new(),
            },
            addressing: Addressing::PathStyle {
                trailing_slash: false,
            },
            query: cang_oss::route::Query::default(),
        },
        principal: Principal::AccountRoot {
            account: bucket.owner.clone(),
            access_key_id: String::new(),
        },
        context: ConditionContext::default(),
        bucket: Some(bucket.clone()),
        object: KnownObject::Unknown,
    }
}

/// The sealing path jobs copy objects through: one gateway's state (its CPU pool, data-key caches and
/// configuration), shared by every job run on it.
pub struct SealingPath {
    gw: Gateway,
    meta: Arc<dyn MetaApi>,
}

impl std::fmt::Debug for SealingPath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SealingPath").finish_non_exhaustive()
    }
}

impl SealingPath {
    /// A sealing path with `config` over the two services.
    pub fn new(config: GatewayConfig, kms: Arc<dyn KmsApi>, meta: Arc<dyn MetaApi>) -> Self {
        Self {
            gw: Gateway::new(config, kms, Arc::clone(&meta)),
            meta,
        }
    }
}

/// Runs (or resumes after key `resume`) a job with the given clients of the crypto and metadata services
/// (the admin's), on a sealing path of its own. `report` sees the progress after every object.
pub async fn run(
    kms: Arc<dyn KmsApi>,
    meta: Arc<dyn MetaApi>,
    job: &ResealJob,
    resume: Option<String>,
    report: &mut (dyn FnMut(&ResealProgress) + Send),
) -> Result<ResealProgress, ResealError> {
    run_on(
        &SealingPath::new(GatewayConfig::default(), kms, meta),
        job,
        resume,
        report,
    )
    .await
}

/// Runs (or resumes after key `resume`) a job on `path`. `report` sees the progress after every object.
pub async fn run_on(
    path: &SealingPath,
    job: &ResealJob,
    resume: Option<String>,
    report: &mut (dyn FnMut(&ResealProgress) + Send),
) -> Result<ResealProgress, ResealError> {
    let (meta, kms) = (&path.meta, &path.gw.kms);
    let bucket = meta.get_bucket(&job.bucket).await?;
    let rule = match &job.target {
        Target::Aes256 => SseRule {
            algorithm: SseAlgorithm::Aes256,
            kms_key_id: None,
            data_encryption: None,
        },
        Target::Sm4 => SseRule {
            algorithm: SseAlgorithm::Sm4,
            kms_key_id: None,
            data_encryption: None,
        },
        Target::Kms { key, sm4_data } => SseRule {
            algorithm: SseAlgorithm::Kms,
            kms_key_id: key.clone(),
            data_encryption: sm4_data.then_some(DataEncryption::Sm4),
        },
        Target::BucketDefault => bucket
            .encryption
            .as_ref()
            .and_then(rule_from_bucket)
            .ok_or_else(|| ResealError::NoDefault(bucket.name.clone()))?,
    };
    let key_id = match master_key(&rule, &bucket.owner) {
        Ok(MasterKey::Kms { account, key }) => Some(
            kms.describe_key(&account, &key)
                .await
                .map_err(ResealError::Key)?
                .key_id
                .as_str()
                .to_owned(),
        ),
        Ok(MasterKey::Service(_)) => None,
        Err(e) => return Err(object_error(&bucket.name, "", e.into())),
    };
    let (total_objects, total_bytes) = if job.prefix.is_empty() {
        let rows = meta
            .key_inventory(InventoryQuery {
                bucket: Some(bucket.name.clone()),
                key_id: None,
            })
            .await?;
        let moving = rows.iter().filter(|r| {
            let algorithm = meta_algorithm(rule.algorithm);
            let same_key = rule.algorithm != SseAlgorithm::Kms
                || r.wrapping.as_ref().map(|w| w.key_id.as_str()) == key_id.as_deref();
            !(r.algorithm == algorithm && same_key)
        });
        let (o, b) = moving.fold((0, 0), |(o, b), r| (o + r.objects, b + r.bytes));
        (Some(o), Some(b))
    } else {
        (None, None)
    };
    let started = Instant::now();
    let mut progress = ResealProgress {
        total_objects,
        total_bytes,
        target: Some((meta_algorithm(rule.algorithm), key_id.clone())),
        started: Some(started),
        ..ResealProgress::default()
    };
    let gw = &path.gw;
    let call = owner_call(&bucket);
    let mut after = resume.unwrap_or_default();
    let paced = std::sync::atomic::AtomicU64::new(0);
    loop {
        let page = meta
            .list_objects(
                &bucket.name,
                ListObjectsQuery {
                    prefix: job.prefix.clone(),
                    start_after: after.clone(),
                    max_keys: PAGE,
                    ..ListObjectsQuery::default()
                },
            )
            .await?;
        // A few objects at once (each one streamed, its memory bounded): small objects are latency-bound.
        // Results are taken in key order, so the cursor only ever passes finished objects.
        // Queued one by one rather than through a mapped stream: the job's future must be `Send` to run on a
        // spawned task, which a stream of closures over borrowed objects cannot be shown to be.
        let (gw, call, rule, key_id, paced, owner) = (
            &gw,
            &call,
            &rule,
            key_id.as_deref(),
            &paced,
            bucket.owner.as_str(),
        );
        let mut objects = page.objects.iter();
        let mut results = futures::stream::FuturesOrdered::new();
        loop {
            while results.len() < IN_FLIGHT {
                let Some(info) = objects.next() else { break };
                results.push_back(async move {
                    let done = if info.object_type == ObjectType::Appendable {
                        Ok(Done::Appendable)
                    } else if already(info.meta.sse.as_ref(), rule, key_id) {
                        Ok(Done::Current)
                    } else {
                        if let Some(rate) = job.rate.filter(|r| *r > 0.0) {
                            let n = paced.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
                            tokio::time::sleep_until(crate::rewrap::due(started, n, rate).into()).await;
                        }
                        match reseal(gw, call, owner, info, rule).await {
                            Ok(true) => Ok(Done::Resealed),
                            Ok(false) => Ok(Done::Changed),
                            Err(e) => Err(object_error(&info.bucket, &info.key, e)),
                        }
                    };
                    (info, done)
                });
            }
            let Some((info, done)) = results.next().await else {
                break;
            };
            match done? {
                Done::Appendable => progress.appendable += 1,
                Done::Current => progress.current += 1,
                Done::Resealed => {
                    progress.resealed += 1;
                    progress.resealed_bytes += info.size;
                }
                Done::Changed => progress.changed += 1,
            }
            progress.cursor.clone_from(&info.key);
            report(&progress);
        }
        match (page.is_truncated, page.objects.last()) {
            (true, Some(last)) => after.clone_from(&last.key),
            _ => break,
        }
    }
    Ok(progress)
}

fn object_error(bucket: &str, key: &str, failure: Failure) -> ResealError {
    let oss = failure.render_at(bucket, key);
    ResealError::Object {
        bucket: bucket.to_owned(),
        key: key.to_owned(),
        code: oss.code().to_string(),
        message: oss.message_text().to_owned(),
    }
}

/// Re-encrypts one object version under `rule`; `false` if the key holds another version by the time the
/// new one would commit (then nothing was written).
pub(crate) async fn reseal(
    gw: &Gateway,
    call: &Call,
    owner: &str,
    info: &ObjectInfo,
    rule: &SseRule,
) -> Result<bool, Failure> {
    let source = Source {
        info: info.clone(),
        owner: owner.to_owned(),
    };
    let plaintext = match stored_plaintext(gw, call, &source, 0, info.size).await {
        Ok(Some(plaintext)) => plaintext,
        // Replaced (its ETag changed, or its ciphertext under the same ETag) or deleted since it was listed.
        Ok(None)
        | Err(Failure::MetaAt {
            error: MetaError::PreconditionFailed | MetaError::NoSuchKey,
            ..
        }) => return Ok(false),
        Err(e) => return Err(e),
    };
    let (encryptor, upload) =
        prepare_upload(gw, call, Some(rule.clone()), &info.bucket, &info.key, 0).await?;
    let header = PutObjectHeader {
        bucket: info.bucket.clone(),
        key: info.key.clone(),
        meta: ObjectMeta {
            sse: upload.sse,
            ..info.meta.clone()
        },
        format: upload.format,
        forbid_overwrite: false,
        replaces: Some(ExpectedObject::of(info)),
    };
    let store = Arc::clone(&gw.meta);
    let (committed, _) = seal_into(gw, plaintext, encryptor, |body| async move {
        Ok::<_, MetaError>(store.put_object(header, body).await)
    })
    .await?;
    match committed {
        Ok(_) => Ok(true),
        Err(MetaError::PreconditionFailed | MetaError::NoSuchKey) => Ok(false),
        Err(e) => Err(Failure::Meta(e)),
    }
}
