//! Rewrap: moves the data keys of stored objects from older versions of a master key to its current
//! primary version. Each object's wrapped key is re-encrypted by the crypto service (`ReEncrypt`, which
//! never hands the data key out) and swapped in by the metadata service only if the object still holds
//! the wrapped key that was re-encrypted, so the ciphertext is never touched and an object overwritten
//! meanwhile is skipped, never clobbered. Objects sharing one bucket key are re-encrypted once.
//!
//! The job walks the buckets the key inventory names, in name order, and each bucket's objects in key
//! order, so a cursor (bucket, last key) resumes it; an object already under the primary version is
//! skipped without a call to the crypto service, so a resumed job redoes nothing it committed.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures::StreamExt;
use tokio::sync::OnceCell;

use bytes::Bytes;
use cang_kms_api::{AccountId, KeyRef, KmsApi, KmsError, ServiceKeySuite, WrappedDataKey};
use cang_meta_api::{
    InventoryEntry, InventoryQuery, ListObjectsQuery, ListUploadsQuery, MetaApi, MetaError, MultipartUpload,
    ObjectInfo, ObjectSse, RewrapObject, RewrapOutcome, SseAlgorithm, WrappingKey,
};

use crate::encryption::{join_stored, split_stored};
use crate::keys::KeyBinding;

/// Objects listed per page.
const PAGE: u32 = 1000;

/// What to rewrap.
#[derive(Debug, Clone, PartialEq)]
pub struct RewrapJob {
    /// The wrapping key: a CMK id (not an alias) or a service key id (`service-aes256`, …).
    pub key_id: String,
    /// The account that owns the CMK (ignored for service keys).
    pub account: Option<AccountId>,
    /// Only this bucket.
    pub bucket: Option<String>,
    /// Only objects under this version.
    pub from_version: Option<String>,
    /// At most this many objects per second.
    pub rate: Option<f64>,
}

/// Where a job stands: it has finished every object of `bucket` up to and including `after`, and every
/// bucket before it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RewrapCursor {
    /// The bucket being walked.
    pub bucket: String,
    /// The last object key finished in it.
    pub after: String,
}

/// Counts of a job so far.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RewrapProgress {
    /// Objects the inventory showed under older (or unrecorded) versions of the key when the job started.
    pub total_objects: u64,
    /// Their plaintext bytes.
    pub total_bytes: u64,
    /// Objects whose wrapped key was swapped.
    pub rewrapped: u64,
    /// Plaintext bytes of those objects.
    pub rewrapped_bytes: u64,
    /// Objects found already under the primary version.
    pub current: u64,
    /// Objects overwritten or deleted between reading and swapping (left as the writer left them), and
    /// uploads finished meanwhile.
    pub changed: u64,
    /// Unfinished multipart uploads whose wrapped key was swapped (the object they complete into has it).
    pub uploads_rewrapped: u64,
    /// `ReEncrypt` calls made (one per object, one per shared bucket key).
    pub reencrypt_calls: u64,
    /// The primary version objects were moved to, once known.
    pub target_version: Option<String>,
    /// Where to resume.
    pub cursor: RewrapCursor,
    /// When the job (this run) started.
    pub started: Option<Instant>,
}

impl RewrapProgress {
    /// Objects dealt with, either way.
    pub fn done(&self) -> u64 {
        self.rewrapped + self.current + self.changed
    }
}

/// Why a job stopped.
#[derive(Debug, thiserror::Error)]
pub enum RewrapError {
    /// The metadata service failed.
    #[error("metadata service: {0}")]
    Meta(#[from] MetaError),
    /// The crypto service refused or failed (a disabled key stops the job; resume once it is enabled).
    #[error("crypto service, object {bucket}/{key}: {error}")]
    Kms {
        /// Bucket of the object.
        bucket: String,
        /// Key of the object.
        key: String,
        /// What the crypto service said.
        error: KmsError,
    },
    /// The key to rewrap does not exist.
    #[error("crypto service: {0}")]
    Key(KmsError),
    /// A lock was poisoned by a panicking task.
    #[error("internal: a job task panicked")]
    Poisoned,
    /// An object's stored encryption record is malformed.
    #[error("object {bucket}/{key} has a malformed encryption record")]
    Malformed {
        /// Bucket of the object.
        bucket: String,
        /// Key of the object.
        key: String,
    },
}

/// The wrapping key id the inventory and [`RewrapJob::key_id`] use for `key`: a service key id as it is,
/// a CMK id or alias of `account` resolved to its id.
pub async fn wrapping_key_id(
    kms: &dyn KmsApi,
    account: Option<&AccountId>,
    key: &str,
) -> Result<String, KmsError> {
    if ServiceKeySuite::from_key_id(key).is_some() {
        return Ok(key.to_owned());
    }
    let account = account.ok_or_else(|| KmsError::InvalidArgument("a CMK needs its account".into()))?;
    let meta = kms.describe_key(account, &KeyRef::parse(key)?).await?;
    Ok(meta.key_id.as_str().to_owned())
}

/// The service key that wraps the data keys of objects stored with `algorithm` (`None` for KMS: a CMK).
fn service_key_of(algorithm: SseAlgorithm) -> Option<&'static str> {
    let suite = match algorithm {
        SseAlgorithm::Kms => return None,
        SseAlgorithm::Aes256 => ServiceKeySuite::Aes256,
        SseAlgorithm::Sm4 => ServiceKeySuite::Sm4,
        SseAlgorithm::None => ServiceKeySuite::Storage,
    };
    Some(suite.key_id())
}

/// The key a record written before key versions were recorded was wrapped by, as far as the record says.
fn unrecorded_key(sse: &ObjectSse) -> Option<&str> {
    match sse.algorithm {
        SseAlgorithm::Kms => sse.key_id.as_deref(),
        other => service_key_of(other),
    }
}

/// Whether an inventory row may hold objects the job moves.
fn row_selected(job: &RewrapJob, target: Option<&str>, row: &InventoryEntry) -> bool {
    match &row.wrapping {
        Some(w) => {
            w.key_id == job.key_id
                && target.is_none_or(|t| t != w.version_id)
                && job.from_version.as_ref().is_none_or(|v| *v == w.version_id)
        }
        // An unrecorded version: a KMS row may be this CMK's; a service row is the service key's.
        None => {
            job.from_version.is_none()
                && match service_key_of(row.algorithm) {
                    None => ServiceKeySuite::from_key_id(&job.key_id).is_none(),
                    Some(service) => job.key_id == service,
                }
        }
    }
}

/// The objects and bytes the job would move, by the inventory, and the buckets holding them in name order.
async fn plan(
    meta: &dyn MetaApi,
    job: &RewrapJob,
    target: Option<&str>,
) -> Result<(u64, u64, Vec<String>), MetaError> {
    let rows = meta
        .key_inventory(InventoryQuery {
            bucket: job.bucket.clone(),
            key_id: None,
        })
        .await?;
    let (mut objects, mut bytes, mut buckets) = (0, 0, Vec::<String>::new());
    for row in rows.iter().filter(|r| row_selected(job, target, r)) {
        objects += row.objects;
        bytes += row.bytes;
        if !buckets.contains(&row.bucket) {
            buckets.push(row.bucket.clone());
        }
    }
    buckets.sort();
    Ok((objects, bytes, buckets))
}

/// Objects re-wrapped at once: the crypto service's round trip and the metadata service's durable commit
/// are latency, not work, and the metadata service commits concurrent swaps together.
const IN_FLIGHT: usize = 16;

/// What the job did with one object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Done {
    /// Not under the job's key (or version).
    NotSelected,
    /// Already under the primary version.
    Current,
    /// Swapped; its plaintext size.
    Rewrapped(u64),
    /// Overwritten or deleted meanwhile.
    Changed,
}

/// What one re-wrap moves: an object, or an unfinished multipart upload of a key.
#[derive(Debug, Clone, Copy)]
struct Item<'a> {
    bucket: &'a str,
    key: &'a str,
    upload_id: Option<&'a str>,
    size: u64,
    sse: Option<&'a ObjectSse>,
}

impl<'a> Item<'a> {
    fn object(info: &'a ObjectInfo) -> Self {
        Self {
            bucket: &info.bucket,
            key: &info.key,
            upload_id: None,
            size: info.size,
            sse: info.meta.sse.as_ref(),
        }
    }

    fn upload(upload: &'a MultipartUpload) -> Self {
        Self {
            bucket: &upload.bucket,
            key: &upload.key,
            upload_id: Some(&upload.upload_id),
            size: 0,
            sse: upload.meta.sse.as_ref(),
        }
    }
}

/// A new wrapped key and the version that wrapped it.
type Rewrapped = (Vec<u8>, WrappingKey);

/// A running job's state that is not progress: caches and pacing, shared by the objects in flight.
struct Walk<'a> {
    meta: &'a dyn MetaApi,
    kms: &'a dyn KmsApi,
    job: &'a RewrapJob,
    /// Bucket keys re-encrypted in this bucket: old stored wrapped key → the one re-encryption of it.
    shared: std::sync::Mutex<HashMap<Vec<u8>, Arc<OnceCell<Rewrapped>>>>,
    /// `ReEncrypt` calls made.
    calls: AtomicU64,
    started: Instant,
    paced: AtomicU64,
}

/// Runs (or resumes, from `resume`) a job. `report` sees the progress after every object, in key order;
/// return from it quickly (save the cursor, draw a bar).
pub async fn run(
    meta: &dyn MetaApi,
    kms: &dyn KmsApi,
    job: &RewrapJob,
    resume: Option<RewrapCursor>,
    report: &mut (dyn FnMut(&RewrapProgress) + Send),
) -> Result<RewrapProgress, RewrapError> {
    let target = match (ServiceKeySuite::from_key_id(&job.key_id), &job.account) {
        (None, Some(account)) => Some(
            kms.describe_key(
                account,
                &KeyRef::Id(cang_kms_api::KeyId::new(job.key_id.clone()).map_err(RewrapError::Key)?),
            )
            .await
            .map_err(RewrapError::Key)?
            .primary_key_version,
        ),
        // A service key's primary version is learnt from the first re-encryption.
        _ => None,
    };
    let (total_objects, total_bytes, buckets) = plan(meta, job, target.as_deref()).await?;
    let started = Instant::now();
    let mut progress = RewrapProgress {
        total_objects,
        total_bytes,
        target_version: target,
        started: Some(started),
        ..RewrapProgress::default()
    };
    let walk = Walk {
        meta,
        kms,
        job,
        shared: std::sync::Mutex::new(HashMap::new()),
        calls: AtomicU64::new(0),
        started,
        paced: AtomicU64::new(0),
    };
    for bucket in buckets {
        let mut after = String::new();
        if let Some(cursor) = &resume {
            if bucket < cursor.bucket {
                continue;
            }
            if bucket == cursor.bucket {
                after.clone_from(&cursor.after);
            }
        }
        let owner = match meta.get_bucket(&bucket).await {
            Ok(b) => b.owner,
            Err(MetaError::NoSuchBucket) => continue,
            Err(e) => return Err(e.into()),
        };
        let account = AccountId::new(owner.as_str()).map_err(RewrapError::Key)?;
        walk.forget_bucket_keys();
        loop {
            let page = meta
                .list_objects(
                    &bucket,
                    ListObjectsQuery {
                        start_after: after.clone(),
                        max_keys: PAGE,
                        ..ListObjectsQuery::default()
                    },
                )
                .await?;
            let mut objects = page.objects.iter();
            // Until a service key's primary version is known, one object at a time: it is learnt from the
            // first re-encryption, and objects already under it must not be re-encrypted for nothing.
            while progress.target_version.is_none() {
                let Some(object) = objects.next() else { break };
                let done = walk.object(&account, Item::object(object), None).await?;
                record(&mut progress, &walk, object, done);
                report(&progress);
            }
            let target = progress.target_version.clone();
            // Queued one by one rather than through a mapped stream: the job's future must be `Send` to run
            // on a spawned task, which a stream of closures over borrowed objects cannot be shown to be.
            let (walk, account, target) = (&walk, &account, target.as_deref());
            let mut results = futures::stream::FuturesOrdered::new();
            loop {
                while results.len() < IN_FLIGHT {
                    let Some(object) = objects.next() else { break };
                    results.push_back(async move {
                        (object, walk.object(account, Item::object(object), target).await)
                    });
                }
                let Some((object, done)) = results.next().await else {
                    break;
                };
                record(&mut progress, walk, object, done?);
                report(&progress);
            }
            match (page.is_truncated, page.objects.last()) {
                (true, Some(last)) => after.clone_from(&last.key),
                _ => break,
            }
        }
        walk.uploads(&account, &bucket, &mut progress).await?;
        report(&progress);
    }
    Ok(progress)
}

/// Counts one finished object and moves the cursor past it (objects finish in key order).
fn record(progress: &mut RewrapProgress, walk: &Walk<'_>, object: &ObjectInfo, done: (Done, Option<String>)) {
    count(progress, walk, done);
    progress.cursor = RewrapCursor {
        bucket: object.bucket.clone(),
        after: object.key.clone(),
    };
}

/// Counts one finished object or upload.
fn count(progress: &mut RewrapProgress, walk: &Walk<'_>, done: (Done, Option<String>)) {
    let (done, learnt) = done;
    match done {
        Done::NotSelected => {}
        Done::Current => progress.current += 1,
        Done::Rewrapped(size) => {
            progress.rewrapped += 1;
            progress.rewrapped_bytes += size;
        }
        Done::Changed => progress.changed += 1,
    }
    if progress.target_version.is_none() {
        progress.target_version = learnt;
    }
    progress.reencrypt_calls = walk.calls.load(Ordering::Relaxed);
}

impl Walk<'_> {
    /// Whether the job moves this object, and from which version (`None`: unrecorded).
    fn selects<'o>(&self, sse: &'o ObjectSse) -> Option<Option<&'o str>> {
        let (key_id, version) = match &sse.wrapping {
            Some(w) => (w.key_id.as_str(), Some(w.version_id.as_str())),
            None => (unrecorded_key(sse)?, None),
        };
        if key_id != self.job.key_id {
            return None;
        }
        match &self.job.from_version {
            Some(from) if version != Some(from.as_str()) => None,
            _ => Some(version),
        }
    }

    fn forget_bucket_keys(&self) {
        if let Ok(mut shared) = self.shared.lock() {
            shared.clear();
        }
    }

    /// Moves one object if the job selects it; also returns the version its re-encryption produced.
    async fn object(
        &self,
        account: &AccountId,
        object: Item<'_>,
        target: Option<&str>,
    ) -> Result<(Done, Option<String>), RewrapError> {
        let Some(sse) = object.sse else {
            return Ok((Done::NotSelected, None));
        };
        let Some(old_version) = self.selects(sse) else {
            return Ok((Done::NotSelected, None));
        };
        if old_version.is_some() && old_version == target {
            return Ok((Done::Current, None));
        }
        let malformed = || RewrapError::Malformed {
            bucket: object.bucket.to_owned(),
            key: object.key.to_owned(),
        };
        let (binding, blob) =
            split_stored(&sse.wrapped_key, object.bucket, object.key).ok_or_else(malformed)?;
        let reencrypt = || async {
            self.pace().await;
            let context = binding.context();
            let wrapped = WrappedDataKey(Bytes::copy_from_slice(blob));
            self.calls.fetch_add(1, Ordering::Relaxed);
            let fresh = self
                .kms
                .re_encrypt(account, &wrapped, &context, None, &context)
                .await
                .map_err(|error| RewrapError::Kms {
                    bucket: object.bucket.to_owned(),
                    key: object.key.to_owned(),
                    error,
                })?;
            let wrapping = WrappingKey {
                key_id: fresh.key_id.as_str().to_owned(),
                version_id: fresh.key_version_id.clone(),
            };
            Ok::<_, RewrapError>((join_stored(&binding, &fresh.ciphertext_blob.0), wrapping))
        };
        let (wrapped_key, wrapping) = if matches!(binding, KeyBinding::Bucket { .. }) {
            let cell = {
                let mut shared = self.shared.lock().map_err(|_| RewrapError::Poisoned)?;
                Arc::clone(shared.entry(sse.wrapped_key.clone()).or_default())
            };
            cell.get_or_try_init(reencrypt).await?.clone()
        } else {
            reencrypt().await?
        };
        let learnt = Some(wrapping.version_id.clone());
        if old_version == Some(wrapping.version_id.as_str()) {
            // Already under the primary version (found out by re-encrypting: a service key's first object).
            return Ok((Done::Current, learnt));
        }
        let outcome = self
            .meta
            .rewrap_object(RewrapObject {
                bucket: object.bucket.to_owned(),
                key: object.key.to_owned(),
                upload_id: object.upload_id.map(str::to_owned),
                expected_wrapped_key: sse.wrapped_key.clone(),
                wrapped_key,
                wrapping,
            })
            .await?;
        Ok(match outcome {
            RewrapOutcome::Rewrapped => (Done::Rewrapped(object.size), learnt),
            RewrapOutcome::Changed => (Done::Changed, learnt),
        })
    }

    /// Moves the bucket's unfinished multipart uploads (after its objects; a resumed job looks at all of them
    /// again, and those already moved are current).
    async fn uploads(
        &self,
        account: &AccountId,
        bucket: &str,
        progress: &mut RewrapProgress,
    ) -> Result<(), RewrapError> {
        let mut query = ListUploadsQuery {
            max_uploads: PAGE,
            ..ListUploadsQuery::default()
        };
        loop {
            let page = self.meta.list_uploads(bucket, query.clone()).await?;
            for upload in &page.uploads {
                let target = progress.target_version.clone();
                let (done, learnt) = self
                    .object(account, Item::upload(upload), target.as_deref())
                    .await?;
                if matches!(done, Done::Rewrapped(_)) {
                    progress.uploads_rewrapped += 1;
                    count(progress, self, (Done::NotSelected, learnt));
                } else {
                    count(progress, self, (done, learnt));
                }
            }
            match page.next_markers.filter(|_| page.is_truncated) {
                Some((key, id)) => {
                    query.key_marker = key;
                    query.upload_id_marker = id;
                }
                None => return Ok(()),
            }
        }
    }

    /// Waits so that calls to the crypto service stay within the job's rate.
    async fn pace(&self) {
        let Some(rate) = self.job.rate.filter(|r| *r > 0.0) else {
            return;
        };
        let n = self.paced.fetch_add(1, Ordering::Relaxed) + 1;
        tokio::time::sleep_until(due(self.started, n, rate).into()).await;
    }
}

/// When the `n`th object of a job started at `started` and paced at `rate` objects per second may go:
/// `n / rate` seconds in, at most a century (so no rate, however small, overflows the clock).
pub(crate) fn due(started: Instant, n: u64, rate: f64) -> Instant {
    const CENTURY: f64 = 100.0 * 365.25 * 86_400.0;
    let seconds = (n as f64 / rate).clamp(0.0, CENTURY);
    started + Duration::try_from_secs_f64(seconds).unwrap_or(Duration::ZERO)
}
