//! `cang admin verify`: reads every object's record and checks that what it stands on still holds. Each
//! encrypted object's data key must unwrap (the master key and version it names exist, are enabled, and the
//! wrapped key authenticates under its context); with `deep`, every byte is read and decrypted through the
//! gateway's read path — every segment must authenticate — and the plaintext's CRC-64 must match the one
//! recorded at upload, and its MD5 the ETag of objects written whole. The plaintext never leaves the
//! process: it is hashed and dropped. Problems are collected, not fatal: the job reads on.

use std::sync::Arc;

use bytes::Bytes;
use cang_kms_api::KmsApi;
use cang_meta_api::{InventoryQuery, ListObjectsQuery, MetaApi, MetaError, ObjectInfo, ObjectType};
use futures::StreamExt;
use md5::{Digest, Md5};
use tokio::sync::mpsc;

use crate::pipeline::read::{ReadStart, read_plaintext};
use crate::reseal::owner_call;
use crate::state::{Gateway, GatewayConfig};

/// Objects listed per page.
const PAGE: u32 = 1000;
/// Objects checked at once.
const IN_FLIGHT: usize = 8;

/// What to check.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VerifyJob {
    /// Only this bucket.
    pub bucket: Option<String>,
    /// Read and decrypt every byte, not only unwrap every key.
    pub deep: bool,
}

/// One object that failed a check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Bucket.
    pub bucket: String,
    /// Key.
    pub key: String,
    /// What failed.
    pub what: String,
}

/// Counts so far.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VerifyProgress {
    /// Objects the inventory counted when the job started.
    pub total_objects: u64,
    /// Objects checked.
    pub objects: u64,
    /// Their plaintext bytes.
    pub bytes: u64,
    /// Data keys unwrapped.
    pub keys: u64,
    /// Plaintext bytes read and decrypted (deep).
    pub decrypted_bytes: u64,
    /// Objects overwritten or deleted while being checked (skipped).
    pub changed: u64,
    /// Objects that failed.
    pub problems: Vec<Problem>,
}

/// Why a job stopped before the end (a problem with an object does not stop it).
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    /// The metadata service failed.
    #[error("metadata service: {0}")]
    Meta(#[from] MetaError),
}

enum Checked {
    Fine { key: bool, decrypted: u64 },
    Changed,
    Problem(String),
}

/// Checks every object (of `job.bucket`, or of every bucket the key inventory names) with the given clients
/// (the admin's). `report` sees the progress after every object.
pub async fn run(
    kms: Arc<dyn KmsApi>,
    meta: Arc<dyn MetaApi>,
    job: &VerifyJob,
    report: &mut (dyn FnMut(&VerifyProgress) + Send),
) -> Result<VerifyProgress, VerifyError> {
    let rows = meta
        .key_inventory(InventoryQuery {
            bucket: job.bucket.clone(),
            key_id: None,
        })
        .await?;
    let mut buckets: Vec<String> = rows.iter().map(|r| r.bucket.clone()).collect();
    buckets.sort();
    buckets.dedup();
    let mut progress = VerifyProgress {
        total_objects: rows.iter().map(|r| r.objects).sum(),
        ..VerifyProgress::default()
    };
    let gw = Gateway::new(GatewayConfig::default(), kms, Arc::clone(&meta));
    for name in buckets {
        let bucket = match meta.get_bucket(&name).await {
            Ok(b) => b,
            Err(MetaError::NoSuchBucket) => continue,
            Err(e) => return Err(e.into()),
        };
        let call = owner_call(&bucket);
        let owner = bucket.owner.as_str().to_owned();
        let mut after = String::new();
        loop {
            let page = meta
                .list_objects(
                    &name,
                    ListObjectsQuery {
                        start_after: after.clone(),
                        max_keys: PAGE,
                        ..ListObjectsQuery::default()
                    },
                )
                .await?;
            let (gw, call, owner) = (&gw, &call, owner.as_str());
            let mut objects = page.objects.iter();
            let mut results = futures::stream::FuturesOrdered::new();
            loop {
                while results.len() < IN_FLIGHT {
                    let Some(info) = objects.next() else { break };
                    results.push_back(async move { (info, check(gw, call, owner, info, job.deep).await) });
                }
                let Some((info, checked)) = results.next().await else {
                    break;
                };
                match checked {
                    Checked::Fine { key, decrypted } => {
                        progress.objects += 1;
                        progress.bytes += info.size;
                        progress.keys += u64::from(key);
                        progress.decrypted_bytes += decrypted;
                    }
                    Checked::Changed => progress.changed += 1,
                    Checked::Problem(what) => {
                        progress.objects += 1;
                        progress.problems.push(Problem {
                            bucket: info.bucket.clone(),
                            key: info.key.clone(),
                            what,
                        });
                    }
                }
                report(&progress);
            }
            match (page.is_truncated, page.objects.last()) {
                (true, Some(last)) => after.clone_from(&last.key),
                _ => break,
            }
        }
    }
    Ok(progress)
}

/// A failure as the OSS error a client would have seen: `Code: message`.
fn described(failure: crate::errors::Failure, bucket: &str, key: &str) -> String {
    let oss = failure.render_at(bucket, key);
    format!("{}: {}", oss.code(), oss.message_text())
}

/// Checks one object.
async fn check(
    gw: &Gateway,
    call: &crate::state::Call,
    owner: &str,
    info: &ObjectInfo,
    deep: bool,
) -> Checked {
    let (bucket, key) = (info.bucket.as_str(), info.key.as_str());
    if !deep {
        let Some(record) = &info.meta.sse else {
            return Checked::Fine {
                key: false,
                decrypted: 0,
            };
        };
        return match gw
            .recover_key(&call.principal, &call.context, record, owner, bucket, key)
            .await
        {
            Ok(_) => Checked::Fine {
                key: true,
                decrypted: 0,
            },
            Err(f) => Checked::Problem(format!(
                "its data key does not unwrap: {}",
                described(f.into(), bucket, key)
            )),
        };
    }
    let (tx, mut rx) = mpsc::channel::<Result<Bytes, crate::body::StreamAborted>>(4);
    let started = read_plaintext(gw, call, owner, info, 0, info.size, tx).await;
    match started {
        Ok(ReadStart::Changed(_)) => return Checked::Changed,
        Ok(ReadStart::Streaming) => {}
        Err(f) => {
            let what = described(f, bucket, key);
            // Deleted, or overwritten (the read is pinned to the listed ETag), since it was listed.
            if what.starts_with("NoSuchKey:") || what.starts_with("PreconditionFailed:") {
                return Checked::Changed;
            }
            return Checked::Problem(format!("cannot be read: {what}"));
        }
    }
    let (mut md5, mut crc, mut read) = (Md5::new(), cang_oss::checksum::Crc64::default(), 0u64);
    while let Some(chunk) = rx.recv().await {
        match chunk {
            Ok(bytes) => {
                md5.update(&bytes);
                crc.update(&bytes);
                read += bytes.len() as u64;
            }
            Err(e) => return Checked::Problem(format!("does not decrypt: {e}")),
        }
    }
    if read != info.size {
        return Checked::Problem(format!("{read} bytes decrypted, {} recorded", info.size));
    }
    if let Some(recorded) = info.crc64
        && recorded != crc.value()
    {
        return Checked::Problem("its plaintext's CRC-64 differs from the one recorded at upload".into());
    }
    let whole = info.object_type == ObjectType::Normal && !info.etag.contains('-');
    if whole {
        let etag = cang_oss::checksum::etag_from_md5(&md5.finalize().into());
        if !etag
            .trim_matches('"')
            .eq_ignore_ascii_case(info.etag.trim_matches('"'))
        {
            return Checked::Problem("its plaintext's MD5 differs from its ETag".into());
        }
    }
    Checked::Fine {
        key: info.meta.sse.is_some(),
        decrypted: read,
    }
}
