//! `cang bench jobs`: how fast the key-maintenance jobs run against a `cang up` — rewrap of many small
//! objects after a rotation (objects per second, one `ReEncrypt` each), and encrypting an existing large
//! object in place (GB/s), beside a plain large PUT and this machine's PUT ceiling measured in the same run.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use cang_gateway::reseal::{self, ResealJob, Target};
use cang_gateway::rewrap::{self, RewrapJob};
use cang_kms_api::{AccountId, KeyRef, KmsApi};
use cang_meta_api::MetaApi;
use futures::StreamExt;
use serde::Serialize;

use crate::BenchError;
use crate::ceiling::{Ceiling, Cipher};
use crate::client::{BucketSse, OssClient};
use crate::instance::{self, DataDir};
use crate::payload::Payload;
use crate::progress::progress;

/// Concurrent writers that fill the rewrap bucket.
const WRITERS: usize = 32;
/// Bytes of each small object.
const SMALL: usize = 1024;

/// What one run measured.
#[derive(Debug, Clone, Serialize)]
pub struct JobsRow {
    /// Small objects rewrapped.
    pub objects: u64,
    /// Small PUTs per second while filling the bucket (32 clients), for scale.
    pub put_ops_per_s: f64,
    /// Objects moved to the new primary version per second.
    pub rewrap_objects_per_s: f64,
    /// `ReEncrypt` calls the rewrap made.
    pub reencrypt_calls: u64,
    /// Then encrypting the same small objects in place under AES256, objects per second.
    pub encrypt_small_objects_per_s: f64,
    /// Size of the large object, bytes.
    pub large_bytes: u64,
    /// One-stream PUT of it without SSE, GB/s.
    pub put_gbps: f64,
    /// Encrypting it in place under AES256, GB/s of plaintext.
    pub encrypt_aes256_gbps: f64,
    /// Then under KMS (the managed key), GB/s.
    pub encrypt_kms_gbps: f64,
    /// This machine's one-stream AES PUT bound from the ceiling measurement, GB/s.
    pub put_ceiling_gbps: f64,
}

fn gbps(bytes: u64, elapsed: Duration) -> f64 {
    bytes as f64 / elapsed.as_secs_f64().max(1e-9) / 1e9
}

fn kms_error(e: impl std::fmt::Display) -> BenchError {
    BenchError::Kms(e.to_string())
}

/// Fills a bucket with `objects` small objects under the account's managed key.
async fn fill(client: &OssClient, bucket: &str, objects: u64, payload: &Payload) -> Result<f64, BenchError> {
    let body = payload.prefix(SMALL);
    let crc = payload.crc64_of(SMALL as u64);
    let started = Instant::now();
    let puts = futures::stream::iter(0..objects).map(|i| {
        let body: Bytes = body.clone();
        async move { client.put_small(bucket, &format!("obj-{i:07}"), body, crc).await }
    });
    let mut results = puts.buffer_unordered(WRITERS);
    while let Some(result) = results.next().await {
        result?;
    }
    Ok(objects as f64 / started.elapsed().as_secs_f64().max(1e-9))
}

/// Runs both measurements against a fresh `cang up`.
pub async fn bench(exe: &std::path::Path, objects: u64, large_bytes: u64) -> Result<JobsRow, BenchError> {
    let payload = Payload::random(16 << 20)?;
    progress("measuring the ceiling");
    let p = payload.clone();
    let ceiling = tokio::task::spawn_blocking(move || Ceiling::measure(&p, 256 << 20))
        .await
        .map_err(|e| BenchError::Task(e.to_string()))??;
    let (_temp, up, data) = instance::start_temp_up(exe, Duration::from_secs(120)).await?;
    let outcome = measure(&data, objects, large_bytes, &payload, &ceiling).await;
    let stopped = up.stop(Duration::from_secs(15)).await;
    let row = outcome?;
    stopped?;
    Ok(row)
}

async fn measure(
    data: &DataDir,
    objects: u64,
    large_bytes: u64,
    payload: &Payload,
    ceiling: &Ceiling,
) -> Result<JobsRow, BenchError> {
    let client = OssClient::new(data.credentials()?)?;
    let kms: Arc<dyn KmsApi> = Arc::new(data.kms_admin()?);
    let meta: Arc<dyn MetaApi> = Arc::new(data.meta_admin()?);
    let account = AccountId::new(data.account_id()?).map_err(kms_error)?;

    client.create_bucket("bench-rewrap", BucketSse::Kms).await?;
    progress(&format!("writing {objects} small objects under the managed key"));
    let put_ops_per_s = fill(&client, "bench-rewrap", objects, payload).await?;
    let managed = KeyRef::parse("alias/acs/oss").map_err(kms_error)?;
    let key = kms
        .describe_key(&account, &managed)
        .await
        .map_err(kms_error)?
        .key_id;
    kms.rotate_key(&account, &KeyRef::Id(key.clone()))
        .await
        .map_err(kms_error)?;
    progress("rewrapping them under the new version");
    let job = RewrapJob {
        key_id: key.as_str().to_owned(),
        account: Some(account),
        bucket: Some("bench-rewrap".into()),
        from_version: None,
        rate: None,
    };
    let started = Instant::now();
    let moved = rewrap::run(meta.as_ref(), kms.as_ref(), &job, None, &mut |_| {})
        .await
        .map_err(kms_error)?;
    let rewrap_time = started.elapsed();
    if moved.rewrapped != objects {
        return Err(BenchError::Integrity(format!(
            "rewrap moved {} of {objects} objects",
            moved.rewrapped
        )));
    }

    progress("encrypting them in place under AES256");
    let to_aes = ResealJob {
        bucket: "bench-rewrap".into(),
        prefix: String::new(),
        target: Target::Aes256,
        rate: None,
    };
    let started = Instant::now();
    let resealed = reseal::run(Arc::clone(&kms), Arc::clone(&meta), &to_aes, None, &mut |_| {})
        .await
        .map_err(kms_error)?;
    let encrypt_small_objects_per_s = objects as f64 / started.elapsed().as_secs_f64().max(1e-9);
    if resealed.resealed != objects {
        return Err(BenchError::Integrity(format!("encrypt-existing: {resealed:?}")));
    }

    client.create_bucket("bench-reseal", BucketSse::None).await?;
    progress(&format!("writing a {} MiB object without SSE", large_bytes >> 20));
    let started = Instant::now();
    client.put("bench-reseal", "large", payload, large_bytes).await?;
    let put_gbps = gbps(large_bytes, started.elapsed());
    let encrypt = |target: Target| {
        let (kms, meta) = (Arc::clone(&kms), Arc::clone(&meta));
        async move {
            let job = ResealJob {
                bucket: "bench-reseal".into(),
                prefix: String::new(),
                target,
                rate: None,
            };
            let started = Instant::now();
            let done = reseal::run(kms, meta, &job, None, &mut |_| {})
                .await
                .map_err(kms_error)?;
            if done.resealed != 1 {
                return Err(BenchError::Integrity(format!("encrypt-existing: {done:?}")));
            }
            Ok::<_, BenchError>(gbps(large_bytes, started.elapsed()))
        }
    };
    progress("encrypting it in place under AES256, then KMS");
    let encrypt_aes256_gbps = encrypt(Target::Aes256).await?;
    let encrypt_kms_gbps = encrypt(Target::Kms {
        key: None,
        sm4_data: false,
    })
    .await?;
    Ok(JobsRow {
        objects,
        put_ops_per_s,
        rewrap_objects_per_s: objects as f64 / rewrap_time.as_secs_f64().max(1e-9),
        reencrypt_calls: moved.reencrypt_calls,
        encrypt_small_objects_per_s,
        large_bytes,
        put_gbps,
        encrypt_aes256_gbps,
        encrypt_kms_gbps,
        put_ceiling_gbps: ceiling.put_stream_bound(Cipher::Aes),
    })
}

impl JobsRow {
    /// The row as a Markdown section.
    pub fn markdown(&self) -> String {
        format!(
            "### Key maintenance jobs\n\n\
             | objects | small PUT/s (32 clients) | rewrap objects/s | ReEncrypt calls | encrypt-existing small objects/s | \
             large object | PUT GB/s (none) | encrypt-existing AES256 GB/s | encrypt-existing KMS GB/s | AES256 ÷ PUT | \
             AES256 ÷ PUT ceiling |\n\
             |---|---|---|---|---|---|---|---|---|---|---|\n\
             | {} | {:.0} | {:.0} | {} | {:.0} | {} MiB | {:.3} | {:.3} | {:.3} | {:.2} | {:.2} |\n",
            self.objects,
            self.put_ops_per_s,
            self.rewrap_objects_per_s,
            self.reencrypt_calls,
            self.encrypt_small_objects_per_s,
            self.large_bytes >> 20,
            self.put_gbps,
            self.encrypt_aes256_gbps,
            self.encrypt_kms_gbps,
            self.encrypt_aes256_gbps / self.put_gbps.max(1e-9),
            self.encrypt_aes256_gbps / self.put_ceiling_gbps.max(1e-9),
        )
    }
}
