//! The one opening path of every read (GetObject, the source of a copy): the object's data key is recovered
//! (checking `kms:Decrypt` for the caller), the needed ciphertext is read from the same version of the object
//! the caller looked at, and a spawned task decrypts it on the CPU pool into the response channel.

use std::sync::Arc;

use bytes::Bytes;
use cang_meta_api::{CiphertextRange, ObjectInfo, ObjectType, Preconditions};
use cang_oss::OssError;
use cang_oss::headers::conditional::{ConditionTarget, Conditions};
use cang_oss::route::names::CopySource;
use cang_sse::DataKey;
use futures::StreamExt;
use http::HeaderMap;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

use crate::body::StreamAborted;
use crate::errors::Failure;
use crate::pipeline::extent::extents_of;
use crate::pipeline::open::{ExtentCipher, ExtentDecoder, ExtentRead, plan_read};
use crate::pipeline::pool::CpuPool;
use crate::pipeline::seal::UploadError;
use crate::pipeline::write::PlaintextSource;
use crate::state::{Call, Gateway, StoredWindow};

/// Starts streaming the plaintext bytes `start..end` of the object `info` (owned by `owner`) into `tx`: the
/// object's data key is recovered (checking `kms:Decrypt` for the caller), the needed ciphertext is read from
/// the same version of the object, and a spawned task decrypts it. A failure after this returns arrives as an
/// `Err` item.
pub(crate) async fn read_plaintext(
    gw: &Gateway,
    call: &Call,
    owner: &str,
    info: &ObjectInfo,
    start: u64,
    end: u64,
    tx: mpsc::Sender<Result<Bytes, StreamAborted>>,
) -> Result<ReadStart, Failure> {
    let (bucket, key) = (info.bucket.as_str(), info.key.as_str());
    let Opening { dek, extents, plan } = opening(gw, call, owner, info, start, end).await?;
    let (Some(first), Some(last)) = (plan.first(), plan.last()) else {
        return Ok(ReadStart::Streaming);
    };
    let span = CiphertextRange {
        start: first.stored_offset,
        end: last.stored_offset + last.stored_len,
    };
    let pinned = Preconditions {
        if_match: Some(info.etag.clone()),
        ..Preconditions::default()
    };
    if span.end - span.start <= u64::from(INLINE_READ_MAX) {
        let (current, stored) = gw
            .meta
            .get_small_object(bucket, key, Some(span), pinned, INLINE_READ_MAX)
            .await
            .map_err(|e| Failure::meta_at(e, bucket, key))?;
        if !same_ciphertext(info, &current) {
            return Ok(ReadStart::Changed(Box::new(current)));
        }
        let stored = stored.ok_or_else(|| unreadable(info, "small range not returned"))?;
        let plain = open_inline(info, &extents, &plan, dek.as_deref(), &stored, span.start)?;
        // The channel has room: the response has not started draining it yet, and this is its only item.
        let _ = tx.send(Ok(plain)).await;
        return Ok(ReadStart::Streaming);
    }
    let (current, mut stored) = gw
        .meta
        .read_object(bucket, key, Some(span), pinned)
        .await
        .map_err(|e| Failure::meta_at(e, bucket, key))?;
    // The ETag pins the content, not the ciphertext: an overwrite with the same bytes keeps the ETag but
    // seals them afresh. Only the snapshot the stream comes from may drive its decryption.
    if !same_ciphertext(info, &current) {
        return Ok(ReadStart::Changed(Box::new(current)));
    }
    let mut decoders = Vec::with_capacity(plan.len());
    for read in &plan {
        let decoder = ExtentDecoder::new(&extents[read.extent], read, dek.as_deref()).map_err(|e| {
            tracing::error!(bucket, key, error = %e, "extent cannot be decoded");
            OssError::internal_error()
        })?;
        decoders.push((read.stored_len, decoder));
    }
    let (bucket, key) = (bucket.to_owned(), key.to_owned());
    let pool = gw.cpu.clone();
    tokio::spawn(async move {
        if let Err(e) = pump(&pool, &mut stored, decoders, &tx).await {
            tracing::warn!(%bucket, %key, error = %e, "object read aborted");
            let _ = tx.send(Err(StreamAborted(e))).await;
        }
    });
    Ok(ReadStart::Streaming)
}

/// Reads whose stored bytes are at most this long come with the object's record or in one unary call
/// (`get_small_object`) and are decrypted at once, instead of a read stream, a spawned task and the CPU
/// pool: 128 KiB and the tags of its segments, so any two 64 KiB segments.
pub(crate) const INLINE_READ_MAX: u32 = 129 * 1024;

/// The plaintext bytes `start..end` of an object from stored bytes that came with its record `info` from one
/// snapshot, or `None` (without a call to kms) when `stored` does not hold all the segments the range needs;
/// the data key is recovered as for any read, and the few segments are opened at once.
pub(crate) async fn read_inline(
    gw: &Gateway,
    call: &Call,
    owner: &str,
    info: &ObjectInfo,
    stored: &StoredWindow,
    start: u64,
    end: u64,
) -> Result<Option<Bytes>, Failure> {
    let (extents, plan) = plan_of(info, start, end)?;
    let stored_end = stored.start + stored.bytes.len() as u64;
    let covered = match (plan.first(), plan.last()) {
        (Some(first), Some(last)) => {
            first.stored_offset >= stored.start && last.stored_offset + last.stored_len <= stored_end
        }
        _ => true,
    };
    if !covered {
        return Ok(None);
    }
    let dek = data_key(gw, call, owner, info).await?;
    let plain = open_inline(info, &extents, &plan, dek.as_deref(), &stored.bytes, stored.start)?;
    Ok(Some(plain))
}

/// Where the stored bytes of `bytes=first-last` of an object written by this gateway lie, if its one extent
/// is sealed in segments of `segment_size`: a guess a lookup can fetch along with the record, which
/// [`read_inline`] checks against the record before it uses a byte. `None` when the request asks for
/// anything else (no range, a suffix or open range, several ranges) or the guess would be too long.
pub(crate) fn guess_window(headers: &HeaderMap, segment_size: u32) -> Option<CiphertextRange> {
    let spec = headers.get(http::header::RANGE)?.to_str().ok()?;
    let (first, last) = spec.trim().strip_prefix("bytes=")?.split_once('-')?;
    let (first, last): (u64, u64) = (first.trim().parse().ok()?, last.trim().parse().ok()?);
    if first > last || segment_size == 0 {
        return None;
    }
    let (plain, stored) = (
        u64::from(segment_size),
        u64::from(segment_size) + cang_sse::TAG_LEN as u64,
    );
    let window = CiphertextRange {
        start: (first / plain).checked_mul(stored)?,
        end: (last / plain).checked_add(1)?.checked_mul(stored)?,
    };
    (window.end - window.start <= u64::from(INLINE_READ_MAX)).then_some(window)
}

/// What opening `start..end` of an object takes: its data key (checking `kms:Decrypt` for the caller) and
/// the plan of stored bytes to decrypt.
struct Opening {
    dek: Option<Arc<DataKey>>,
    extents: Vec<ExtentCipher>,
    plan: Vec<ExtentRead>,
}

async fn opening(
    gw: &Gateway,
    call: &Call,
    owner: &str,
    info: &ObjectInfo,
    start: u64,
    end: u64,
) -> Result<Opening, Failure> {
    let (extents, plan) = plan_of(info, start, end)?;
    let dek = data_key(gw, call, owner, info).await?;
    Ok(Opening { dek, extents, plan })
}

/// The extents of `info` and the plan of the stored bytes `start..end` needs.
fn plan_of(
    info: &ObjectInfo,
    start: u64,
    end: u64,
) -> Result<(Vec<ExtentCipher>, Vec<ExtentRead>), OssError> {
    let extents = extents_of(info)?;
    let plan = plan_read(&extents, start, end).map_err(|e| unreadable(info, &e.to_string()))?;
    Ok((extents, plan))
}

/// The object's data key (checking `kms:Decrypt` for the caller); `None` for an object stored unencrypted.
async fn data_key(
    gw: &Gateway,
    call: &Call,
    owner: &str,
    info: &ObjectInfo,
) -> Result<Option<Arc<DataKey>>, Failure> {
    let Some(record) = &info.meta.sse else {
        return Ok(None);
    };
    let dek = gw
        .recover_key(
            &call.principal,
            &call.context,
            record,
            owner,
            &info.bucket,
            &info.key,
        )
        .await?;
    Ok(Some(dek))
}

fn unreadable(info: &ObjectInfo, what: &str) -> OssError {
    tracing::error!(bucket = %info.bucket, key = %info.key, what, "object cannot be read");
    OssError::internal_error()
}

/// Opens the planned reads from `stored`, the object's stored bytes from offset `base` on.
fn open_inline(
    info: &ObjectInfo,
    extents: &[ExtentCipher],
    plan: &[ExtentRead],
    dek: Option<&DataKey>,
    stored: &Bytes,
    base: u64,
) -> Result<Bytes, OssError> {
    let mut pieces = Vec::with_capacity(plan.len());
    for read in plan {
        let at = read
            .stored_offset
            .checked_sub(base)
            .and_then(|at| usize::try_from(at).ok())
            .ok_or_else(|| unreadable(info, "offset"))?;
        let len = usize::try_from(read.stored_len).map_err(|_| unreadable(info, "length"))?;
        if at.checked_add(len).is_none_or(|to| to > stored.len()) {
            return Err(unreadable(info, "extent beyond the stored bytes"));
        }
        let mut decoder = ExtentDecoder::new(&extents[read.extent], read, dek)
            .map_err(|e| unreadable(info, &e.to_string()))?;
        let plain = decoder
            .push(stored.slice(at..at + len))
            .map_err(|e| unreadable(info, &e.to_string()))?;
        decoder.finish().map_err(|e| unreadable(info, &e.to_string()))?;
        pieces.push(plain);
    }
    Ok(match pieces.len() {
        0 => Bytes::new(),
        1 => pieces.swap_remove(0),
        _ => Bytes::from(pieces.concat()),
    })
}

/// How a read began.
#[derive(Debug)]
pub(crate) enum ReadStart {
    /// The plaintext is streaming into the channel.
    Streaming,
    /// The object was replaced after it was looked up; nothing was sent. This is the current version.
    Changed(Box<ObjectInfo>),
}

/// Whether two looks at an object see the same stored bytes under the same keys.
fn same_ciphertext(a: &ObjectInfo, b: &ObjectInfo) -> bool {
    a.last_modified_ms == b.last_modified_ms && a.extents == b.extents && a.meta.sse == b.meta.sse
}

/// Feeds the stored bytes through the extent decoders into the response, splitting at extent boundaries.
async fn pump(
    pool: &CpuPool,
    stored: &mut cang_meta_api::ByteStream,
    decoders: Vec<(u64, ExtentDecoder)>,
    tx: &mpsc::Sender<Result<Bytes, StreamAborted>>,
) -> Result<(), String> {
    let mut decoders = decoders.into_iter();
    let mut current = decoders.next();
    let mut pending = Bytes::new();
    loop {
        let Some((remaining, decoder)) = current.as_mut() else {
            // Read the stream to its end so the gRPC call finishes with its status instead of being reset:
            // a burst of client resets looks like a rapid-reset attack to the server's HTTP/2 stack, which
            // then closes the whole connection and fails every call on it.
            return match stored.next().await {
                None => Ok(()),
                Some(Ok(extra)) if extra.is_empty() => Ok(()),
                Some(Ok(_)) => Err("stored bytes longer than the plan".into()),
                Some(Err(e)) => Err(e.to_string()),
            };
        };
        if *remaining == 0 {
            let (_, done) = current.take().ok_or("decoder missing")?;
            done.finish().map_err(|e| e.to_string())?;
            current = decoders.next();
            continue;
        }
        if pending.is_empty() {
            pending = match stored.next().await {
                Some(Ok(chunk)) => chunk,
                Some(Err(e)) => return Err(e.to_string()),
                None => return Err("stored bytes ended early".into()),
            };
            continue;
        }
        let take = (*remaining).min(pending.len() as u64) as usize;
        let piece = pending.split_to(take);
        *remaining -= take as u64;
        let plain = match decoder {
            ExtentDecoder::Plain => piece,
            ExtentDecoder::Sealed(_) => {
                // Opening a MiB costs ~0.25 ms with AES-GCM and ~8 ms with SM4: on the CPU pool.
                let (left, mut owned) = current.take().ok_or("decoder missing")?;
                let (owned, plain) = pool
                    .run(move || {
                        let plain = owned.push(piece);
                        (owned, plain)
                    })
                    .await
                    .map_err(|e| e.to_string())?;
                current = Some((left, owned));
                plain.map_err(|e| e.to_string())?
            }
        };
        if !plain.is_empty() && tx.send(Ok(plain)).await.is_err() {
            return Ok(()); // The client went away.
        }
    }
}

/// Decrypted chunks of a copy source, in order.
pub(crate) type SourceStream = ReceiverStream<Result<Bytes, StreamAborted>>;

/// The source object of a copy, after its `x-oss-copy-source-if-*` conditions passed.
pub(crate) struct Source {
    /// The source object.
    pub info: ObjectInfo,
    /// The account that owns the source bucket (its keys are that account's keys).
    pub owner: String,
}

/// Loads the copy source and checks the copy-source conditions. Appendable objects cannot be copied
/// (§6.11, §7.3).
pub(crate) async fn open_source(
    gw: &Gateway,
    call: &Call,
    source: &CopySource,
    headers: &HeaderMap,
) -> Result<Source, Failure> {
    let at_source = |e| Failure::meta_at(e, &source.bucket, &source.key);
    let owner = match &call.bucket {
        Some(b) if b.name == source.bucket => b.owner.clone(),
        _ => gw.meta.get_bucket(&source.bucket).await.map_err(at_source)?.owner,
    };
    let info = gw
        .meta
        .head_object(&source.bucket, &source.key)
        .await
        .map_err(at_source)?;
    Conditions::from_headers(headers, ConditionTarget::CopySource)
        .evaluate(&info.etag, info.last_modified())?;
    if info.object_type == ObjectType::Appendable {
        return Err(OssError::invalid_request("An appendable object cannot be copied.").into());
    }
    Ok(Source { info, owner })
}

/// The plaintext bytes `start..end` of a copy source as the input of a write.
pub(crate) async fn source_plaintext(
    gw: &Gateway,
    call: &Call,
    source: &Source,
    start: u64,
    end: u64,
) -> Result<PlaintextSource<SourceStream>, Failure> {
    match stored_plaintext(gw, call, source, start, end).await? {
        Some(plaintext) => Ok(plaintext),
        None => {
            // The source was replaced after its conditions were checked; the client retries a 503.
            tracing::warn!(bucket = %source.info.bucket, key = %source.info.key, "copy source changed during the copy");
            Err(OssError::service_unavailable().into())
        }
    }
}

/// The plaintext bytes `start..end` of the stored object version `source.info` as the input of a write;
/// `None` if the key holds another version by now.
pub(crate) async fn stored_plaintext(
    gw: &Gateway,
    call: &Call,
    source: &Source,
    start: u64,
    end: u64,
) -> Result<Option<PlaintextSource<SourceStream>>, Failure> {
    let (tx, rx) = mpsc::channel(4);
    if let ReadStart::Changed(_) =
        read_plaintext(gw, call, &source.owner, &source.info, start, end, tx).await?
    {
        return Ok(None);
    }
    Ok(Some(PlaintextSource {
        body: ReceiverStream::new(rx),
        declared: Some(end - start),
        expected_md5: None,
        failure: source_failure,
    }))
}

/// A copy whose stored source fails part-way is the service's fault, never the client's.
fn source_failure(e: UploadError) -> OssError {
    match e {
        UploadError::TooLarge { .. } => OssError::entity_too_large(),
        UploadError::SinkClosed => OssError::service_unavailable(),
        other => {
            tracing::error!(error = %other, "copy source could not be re-encrypted");
            OssError::internal_error()
        }
    }
}
