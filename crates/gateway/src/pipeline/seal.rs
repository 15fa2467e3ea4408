//! The upload pipeline: a request body becomes ciphertext chunks for the metadata service, while MD5 (the
//! ETag) and CRC-64 are computed over the plaintext.
//!
//! MD5 is the slowest stage (≈0.7 GB/s here, against 4.4 GB/s for AES-256-GCM), so each batch's MD5 runs on
//! one worker of the CPU pool beside its sealing on another, instead of in series; the next batch is read
//! from the client meanwhile; a batch of a few KiB (a small object) is hashed and sealed on the request's own
//! task, where it costs less than the hand-offs. No thread is held while the client is slow. Memory is
//! bounded by two batches and the sink's channel, whatever the object size. The plaintext size and the
//! number of segments sealed go on the request's span.

use std::sync::Arc;

use bytes::Bytes;
use cang_oss::checksum::Crc64;
use cang_sse::{DataKey, ObjectCipherParams, StreamEncryptor, Suite};
use cang_telemetry::attributes;
use md5::{Digest, Md5};
use opentelemetry::KeyValue;
use tokio::sync::mpsc;

use crate::pipeline::pool::CpuPool;

/// Ciphertext is handed to the metadata service in chunks of about this size.
pub const CHUNK_TARGET: usize = 1024 * 1024;

/// How to seal an upload: the data key, suite, segment size and the format's context bytes.
#[derive(Debug, Clone)]
pub struct SealSpec {
    /// The object's data key.
    pub dek: Arc<DataKey>,
    /// AEAD suite.
    pub suite: Suite,
    /// Plaintext segment size.
    pub segment_size: u32,
    /// The format's context (`bucket ‖ 0 ‖ key ‖ 0 ‖ u32be(part)`, docs/format.md §7).
    pub context: Vec<u8>,
}

impl SealSpec {
    /// The encryptor for this upload and the format header to store with it, known before any byte is sealed.
    pub fn start(&self) -> Result<(StreamEncryptor, Vec<u8>), cang_sse::SseError> {
        let enc = StreamEncryptor::new(&self.dek, self.suite, self.segment_size, &self.context)?;
        let header = enc.params().encode_header().to_vec();
        Ok((enc, header))
    }
}

/// The format context that binds a blob to where it was written (docs/format.md §7).
pub fn format_context(bucket: &str, key: &str, part_number: u32) -> Vec<u8> {
    let mut out = Vec::with_capacity(bucket.len() + key.len() + 6);
    out.extend_from_slice(bucket.as_bytes());
    out.push(0);
    out.extend_from_slice(key.as_bytes());
    out.push(0);
    out.extend_from_slice(&part_number.to_be_bytes());
    out
}

/// What an upload computed over its plaintext.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sealed {
    /// Plaintext bytes received.
    pub plaintext_len: u64,
    /// Ciphertext bytes produced.
    pub ciphertext_len: u64,
    /// MD5 of the plaintext.
    pub md5: [u8; 16],
    /// CRC-64/XZ of the plaintext.
    pub crc64: u64,
    /// The format parameters, when the upload was encrypted.
    pub params: Option<ObjectCipherParams>,
}

/// Why an upload did not complete.
#[derive(Debug, thiserror::Error)]
pub enum UploadError {
    /// The client's body failed (disconnect, bad chunked encoding, shorter than its Content-Length).
    #[error("request body: {0}")]
    Body(String),
    /// More bytes than allowed.
    #[error("body exceeds {limit} bytes")]
    TooLarge {
        /// The limit.
        limit: u64,
    },
    /// The body's length differs from its Content-Length.
    #[error("body length {received} differs from Content-Length {declared}")]
    LengthMismatch {
        /// Declared.
        declared: u64,
        /// Received.
        received: u64,
    },
    /// The client stopped sending before the body ended.
    #[error("the client sent nothing for too long")]
    IdleTimeout,
    /// The body is not the one its V4 signature covers.
    #[error("the body does not match its signed SHA-256")]
    PayloadDigestMismatch,
    /// The receiving side went away (the metadata stream failed).
    #[error("ciphertext consumer closed")]
    SinkClosed,
    /// Encryption failed (a bug or resource exhaustion; never the client's fault).
    #[error("encryption failed: {0}")]
    Seal(#[from] cang_sse::SseError),
    /// A worker thread died.
    #[error("upload worker failed")]
    Worker,
}

/// Body bytes gathered before they go to the CPU pool as one piece of work.
const BATCH_TARGET: usize = 256 * 1024;

/// A batch of at most this many bytes is hashed and sealed on the request's task instead (≈ 50 µs of MD5),
/// as is the last segment of an object no longer than this.
const INLINE_WORK: usize = 32 * 1024;

/// The sealing side of an upload, carried from one piece of work to the next: CRC-64, the encryptor and the
/// ciphertext not yet handed on.
struct Sealer {
    crc: Crc64,
    encryptor: Option<StreamEncryptor>,
    out: Vec<u8>,
}

const OUT_CAPACITY: usize = CHUNK_TARGET + 128 * 1024;

impl Sealer {
    /// Seals `batch`, returning the ciphertext chunks of about [`CHUNK_TARGET`] bytes that are complete.
    fn push(&mut self, batch: &[Bytes]) -> Result<Vec<Bytes>, UploadError> {
        let mut ready = Vec::new();
        for chunk in batch {
            self.crc.update(chunk);
            match self.encryptor.as_mut() {
                Some(enc) => enc.push(chunk, &mut self.out)?,
                None => self.out.extend_from_slice(chunk),
            }
            if self.out.len() >= CHUNK_TARGET {
                // Hand the buffer over without copying it.
                ready.push(Bytes::from(std::mem::replace(
                    &mut self.out,
                    Vec::with_capacity(OUT_CAPACITY),
                )));
            }
        }
        Ok(ready)
    }

    /// Seals the final segment: the last ciphertext, the CRC and the format parameters.
    fn finish(mut self) -> Result<(Option<Bytes>, u64, Option<ObjectCipherParams>), UploadError> {
        let params = match self.encryptor.take() {
            Some(enc) => Some(enc.finish(&mut self.out)?),
            None => None,
        };
        let last = (!self.out.is_empty()).then(|| Bytes::from(self.out));
        Ok((last, self.crc.value(), params))
    }
}

/// One piece of work in flight: MD5 and sealing of a batch, side by side on two workers.
type Step = tokio::task::JoinHandle<Result<(Md5, Sealer, Vec<Bytes>), UploadError>>;

fn start_step(pool: &CpuPool, mut md5: Md5, mut sealer: Sealer, batch: Vec<Bytes>) -> Step {
    let pool = pool.clone();
    tokio::spawn(async move {
        let for_md5 = batch.clone();
        let hashing = pool.run(move || {
            for chunk in &for_md5 {
                md5.update(chunk);
            }
            md5
        });
        let sealing = pool.run(move || {
            let ready = sealer.push(&batch);
            (sealer, ready)
        });
        let (md5, sealed) = tokio::join!(hashing, sealing);
        let md5 = md5.map_err(|_| UploadError::Worker)?;
        let (sealer, ready) = sealed.map_err(|_| UploadError::Worker)?;
        Ok((md5, sealer, ready?))
    })
}

/// Reads `body` to the end, sending ciphertext (or the bytes as they are, when `encryptor` is `None`) to
/// `sink` in chunks of about [`CHUNK_TARGET`] bytes, and returns the digests. `declared` is the
/// Content-Length, if any. The CPU work runs on `pool` a batch at a time while the next batch is read, so no
/// thread waits for the client. A sink that takes nothing for `stall` (a hung metadata service) fails the
/// upload with [`UploadError::SinkClosed`].
pub async fn seal_body<S, E>(
    pool: &CpuPool,
    stall: std::time::Duration,
    mut body: S,
    encryptor: Option<StreamEncryptor>,
    sink: mpsc::Sender<Bytes>,
    declared: Option<u64>,
    max_len: u64,
) -> Result<Sealed, UploadError>
where
    S: futures::Stream<Item = Result<Bytes, E>> + Unpin,
    E: Into<UploadError>,
{
    use futures::StreamExt;

    let mut state = Some((
        Md5::new(),
        Sealer {
            crc: Crc64::default(),
            encryptor,
            out: Vec::with_capacity(OUT_CAPACITY),
        },
    ));
    let mut in_flight: Option<Step> = None;
    let mut received = 0u64;
    let mut produced = 0u64;
    let mut ended = false;
    while !ended {
        let mut batch = Vec::new();
        let mut batch_len = 0usize;
        while batch_len < BATCH_TARGET {
            let Some(chunk) = body.next().await else {
                ended = true;
                break;
            };
            let chunk = chunk.map_err(Into::into)?;
            received += chunk.len() as u64;
            if let Some(declared) = declared
                && received > declared
            {
                return Err(UploadError::LengthMismatch { declared, received });
            }
            if received > max_len {
                return Err(UploadError::TooLarge { limit: max_len });
            }
            batch_len += chunk.len();
            batch.push(chunk);
        }
        let ready = match in_flight.take() {
            Some(step) => {
                let (md5, sealer, ready) = step.await.map_err(|_| UploadError::Worker)??;
                state = Some((md5, sealer));
                ready
            }
            None => Vec::new(),
        };
        // The next batch goes to the workers before the previous one's ciphertext is handed on, so MD5 (the
        // slowest stage) never waits for the metadata service to take a chunk.
        if !batch.is_empty() {
            let (mut md5, mut sealer) = state.take().ok_or(UploadError::Worker)?;
            if batch_len > INLINE_WORK {
                in_flight = Some(start_step(pool, md5, sealer, batch));
            } else {
                // A few KiB cost less to hash and seal here than the hand-offs to two workers and back.
                for chunk in &batch {
                    md5.update(chunk);
                }
                let sealed = sealer.push(&batch)?;
                state = Some((md5, sealer));
                hand_on(ready, &sink, stall, &mut produced).await?;
                hand_on(sealed, &sink, stall, &mut produced).await?;
                continue;
            }
        }
        hand_on(ready, &sink, stall, &mut produced).await?;
    }
    if let Some(step) = in_flight.take() {
        let (md5, sealer, ready) = step.await.map_err(|_| UploadError::Worker)??;
        state = Some((md5, sealer));
        hand_on(ready, &sink, stall, &mut produced).await?;
    }
    if let Some(declared) = declared
        && declared != received
    {
        return Err(UploadError::LengthMismatch { declared, received });
    }
    let (md5, sealer) = state.ok_or(UploadError::Worker)?;
    // The last segment is at most one segment long; a small object's is sealed here.
    let (last, crc64, params) = if received <= INLINE_WORK as u64 {
        sealer.finish()?
    } else {
        pool.run(move || sealer.finish())
            .await
            .map_err(|_| UploadError::Worker)??
    };
    if let Some(last) = last {
        produced += last.len() as u64;
        send_within(&sink, last, stall).await?;
    }
    attributes::record_object_size(received);
    if let Some(params) = &params {
        attributes::set_attributes([KeyValue::new(
            attributes::CANG_SSE_SEGMENTS,
            i64::try_from(params.segment_count()).unwrap_or(i64::MAX),
        )]);
    }
    Ok(Sealed {
        plaintext_len: received,
        ciphertext_len: produced,
        md5: <[u8; 16]>::from(md5.finalize()),
        crc64,
        params,
    })
}

/// Hands finished ciphertext to the sink, whose bounded channel applies back-pressure to the client, and
/// counts the bytes.
async fn hand_on(
    ready: Vec<Bytes>,
    sink: &mpsc::Sender<Bytes>,
    stall: std::time::Duration,
    produced: &mut u64,
) -> Result<(), UploadError> {
    for chunk in ready {
        *produced += chunk.len() as u64;
        send_within(sink, chunk, stall).await?;
    }
    Ok(())
}

async fn send_within(
    sink: &mpsc::Sender<Bytes>,
    chunk: Bytes,
    stall: std::time::Duration,
) -> Result<(), UploadError> {
    match tokio::time::timeout(stall, sink.send(chunk)).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(_)) => Err(UploadError::SinkClosed),
        Err(_) => {
            tracing::warn!(
                ?stall,
                "the metadata service took no ciphertext for too long; upload abandoned"
            );
            Err(UploadError::SinkClosed)
        }
    }
}

impl From<crate::body::BodyError> for UploadError {
    fn from(e: crate::body::BodyError) -> Self {
        match e {
            crate::body::BodyError::PayloadDigestMismatch => Self::PayloadDigestMismatch,
            crate::body::BodyError::IdleTimeout(_) => Self::IdleTimeout,
            crate::body::BodyError::Transport(detail) => Self::Body(detail),
        }
    }
}

impl From<crate::body::StreamAborted> for UploadError {
    fn from(e: crate::body::StreamAborted) -> Self {
        Self::Body(e.0)
    }
}

#[cfg(test)]
impl From<std::io::Error> for UploadError {
    fn from(e: std::io::Error) -> Self {
        Self::Body(e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::stream;
    use md5::{Digest, Md5};

    const STALL: std::time::Duration = std::time::Duration::from_secs(30);

    fn body(chunks: Vec<Vec<u8>>) -> impl futures::Stream<Item = Result<Bytes, std::io::Error>> + Unpin {
        stream::iter(chunks.into_iter().map(|c| Ok(Bytes::from(c))))
    }

    async fn run(
        chunks: Vec<Vec<u8>>,
        spec: Option<SealSpec>,
        declared: Option<u64>,
        max: u64,
    ) -> (Result<Sealed, UploadError>, Vec<u8>) {
        let (tx, mut rx) = mpsc::channel::<Bytes>(4);
        let collector = tokio::spawn(async move {
            let mut all = Vec::new();
            while let Some(chunk) = rx.recv().await {
                assert!(chunk.len() <= CHUNK_TARGET + 128 * 1024);
                all.extend_from_slice(&chunk);
            }
            all
        });
        let encryptor = spec.map(|s| s.start().unwrap().0);
        let result = seal_body(
            &CpuPool::new(2, 4),
            STALL,
            body(chunks),
            encryptor,
            tx,
            declared,
            max,
        )
        .await;
        (result, collector.await.unwrap())
    }

    fn spec() -> SealSpec {
        SealSpec {
            dek: Arc::new(DataKey::generate().unwrap()),
            suite: Suite::Aes256Gcm,
            segment_size: 65536,
            context: format_context("bkt", "k", 0),
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sealed_stream_decrypts_and_digests_match() {
        let plain: Vec<u8> = (0..3_000_001u32).map(|i| (i % 251) as u8).collect();
        let chunks: Vec<Vec<u8>> = plain.chunks(70_001).map(<[u8]>::to_vec).collect();
        let spec = spec();
        let (sealed, stored) = run(chunks, Some(spec.clone()), Some(plain.len() as u64), u64::MAX).await;
        let sealed = sealed.unwrap();
        let params = sealed.params.clone().unwrap();
        assert_eq!(sealed.plaintext_len, plain.len() as u64);
        assert_eq!(sealed.ciphertext_len, stored.len() as u64);
        assert_eq!(sealed.md5, <[u8; 16]>::from(Md5::digest(&plain)));
        assert_eq!(sealed.crc64, cang_oss::checksum::crc64(&plain));
        let back = cang_sse::decrypt_range(&spec.dek, &params, &spec.context, &stored, 0, plain.len() as u64);
        assert_eq!(back.unwrap(), plain);
        assert!(
            !stored.windows(64).any(|w| w == &plain[1000..1064]),
            "plaintext leaked into the stored bytes"
        );
    }

    #[tokio::test]
    async fn unencrypted_upload_passes_bytes_through() {
        let (sealed, stored) = run(vec![b"hello ".to_vec(), b"world".to_vec()], None, None, 100).await;
        let sealed = sealed.unwrap();
        assert_eq!(stored, b"hello world");
        assert_eq!(sealed.params, None);
        assert_eq!(sealed.crc64, cang_oss::checksum::crc64(b"hello world"));
    }

    #[tokio::test]
    async fn length_and_size_limits() {
        let (r, _) = run(vec![vec![1; 10]], Some(spec()), Some(11), 100).await;
        assert!(matches!(
            r,
            Err(UploadError::LengthMismatch {
                declared: 11,
                received: 10
            })
        ));
        let (r, _) = run(vec![vec![1; 10], vec![1; 10]], Some(spec()), Some(15), 100).await;
        assert!(matches!(r, Err(UploadError::LengthMismatch { declared: 15, .. })));
        let (r, _) = run(vec![vec![1; 60], vec![1; 60]], None, None, 100).await;
        assert!(matches!(r, Err(UploadError::TooLarge { limit: 100 })));
    }

    #[tokio::test]
    async fn a_failing_body_is_reported() {
        let chunks = stream::iter(vec![
            Ok(Bytes::from_static(b"abc")),
            Err(std::io::Error::other("reset")),
        ]);
        let (tx, mut rx) = mpsc::channel::<Bytes>(4);
        let drain = tokio::spawn(async move { while rx.recv().await.is_some() {} });
        let r = seal_body(
            &CpuPool::new(1, 1),
            STALL,
            chunks,
            Some(spec().start().unwrap().0),
            tx,
            None,
            100,
        )
        .await;
        drain.await.unwrap();
        assert!(matches!(r, Err(UploadError::Body(msg)) if msg.contains("reset")));
    }

    #[tokio::test(start_paused = true)]
    async fn a_sink_that_takes_nothing_fails_the_upload_after_the_stall_timeout() {
        let (tx, _held) = mpsc::channel(1);
        let chunks = vec![vec![0u8; CHUNK_TARGET]; 4];
        let r = seal_body(&CpuPool::new(1, 1), STALL, body(chunks), None, tx, None, u64::MAX).await;
        assert!(matches!(r, Err(UploadError::SinkClosed)), "{r:?}");
    }

    #[tokio::test]
    async fn a_closed_sink_stops_the_upload() {
        let (tx, rx) = mpsc::channel(1);
        drop(rx);
        let chunks = vec![vec![0u8; 3 * CHUNK_TARGET]];
        let r = seal_body(
            &CpuPool::new(1, 1),
            STALL,
            body(chunks),
            Some(spec().start().unwrap().0),
            tx,
            None,
            u64::MAX,
        )
        .await;
        assert!(matches!(r, Err(UploadError::SinkClosed)));
    }
}
