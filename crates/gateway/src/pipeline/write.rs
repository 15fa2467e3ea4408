//! The one sealing path of every write (PutObject, AppendObject, UploadPart, the target of a copy): the
//! object's data key is obtained, the plaintext flows through MD5 + CRC-64 + encryption on the CPU pool, and
//! the ciphertext streams into one of the metadata service's streamed writes, which commits only once the
//! trailer arrives.

use bytes::Bytes;
use cang_meta_api::{MetaError, ObjectSse, PutTrailer, WriteBody, WriteItem};
use cang_oss::OssError;
use cang_oss::checksum::{etag_from_md5, etag_unquoted};
use cang_oss::headers::sse::SseRule;
use futures::StreamExt;
use http::HeaderMap;
use http_body_util::BodyDataStream;
use tokio::sync::{mpsc, oneshot};

use crate::body::RequestBody;
use crate::encryption::suite_of_record;
use crate::errors::Failure;
use crate::pipeline::extent::extent_format;
use crate::pipeline::seal::{SealSpec, Sealed, UploadError, format_context, seal_body};
use crate::state::{Call, Gateway};

/// How a new object or extent is sealed, and what the metadata service must record about it.
pub(crate) struct Upload {
    /// The format record of the extent (empty when unencrypted).
    pub format: Vec<u8>,
    /// The encryption record (every new object has one; `None` only for objects stored before at-rest
    /// sealing).
    pub sse: Option<ObjectSse>,
    /// The rule to echo in response headers.
    pub echo: Option<SseRule>,
}

/// The plaintext of a write: a request body, or the decrypted bytes of a stored object (a copy).
pub(crate) struct PlaintextSource<S> {
    /// The bytes, in order.
    pub body: S,
    /// How many bytes the source promises, if known (a short or long body fails the write).
    pub declared: Option<u64>,
    /// The MD5 the client declared (`Content-MD5`).
    pub expected_md5: Option<[u8; 16]>,
    /// How a failure of the pipeline is reported (a failing client body is the client's fault, a failing
    /// stored source is not).
    pub failure: fn(UploadError) -> OssError,
}

fn content_md5(headers: &HeaderMap) -> Result<Option<[u8; 16]>, OssError> {
    use base64::Engine;
    let Some(value) = headers.get("content-md5").and_then(|v| v.to_str().ok()) else {
        return Ok(None);
    };
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(value.trim())
        .map_err(|_| OssError::invalid_digest())?;
    bytes.try_into().map(Some).map_err(|_| OssError::invalid_digest())
}

fn declared_length(headers: &HeaderMap) -> Result<Option<u64>, OssError> {
    match headers.get(http::header::CONTENT_LENGTH) {
        None => Ok(None),
        Some(v) => v
            .to_str()
            .ok()
            .and_then(|s| s.parse().ok())
            .map(Some)
            .ok_or_else(|| OssError::invalid_argument("Content-Length is not a number.")),
    }
}

/// A request body as the plaintext of a write, with its declared length and `Content-MD5`.
pub(crate) fn request_source(
    headers: &HeaderMap,
    body: RequestBody,
) -> Result<PlaintextSource<BodyDataStream<RequestBody>>, OssError> {
    Ok(PlaintextSource {
        body: BodyDataStream::new(body),
        declared: declared_length(headers)?,
        expected_md5: content_md5(headers)?,
        failure: upload_error,
    })
}

/// Seals `source` under `encryptor` into the streamed write `write` performs: plaintext → MD5 + CRC-64 +
/// encryption → the write body, then the trailer. When the plaintext fails (a short, slow or mismatching
/// body) the write body ends with [`MetaError::WriteAborted`], so the metadata service commits nothing, and
/// the plaintext's failure is what the client hears.
pub(crate) async fn seal_into<S, E, T, F, Fut>(
    gw: &Gateway,
    source: PlaintextSource<S>,
    encryptor: Option<cang_sse::StreamEncryptor>,
    write: F,
) -> Result<(T, Sealed), Failure>
where
    S: futures::Stream<Item = Result<Bytes, E>> + Unpin,
    E: Into<UploadError>,
    F: FnOnce(WriteBody) -> Fut,
    Fut: std::future::Future<Output = Result<T, MetaError>>,
{
    let PlaintextSource {
        body,
        declared,
        expected_md5,
        failure,
    } = source;
    if declared.is_some_and(|d| d > gw.config.max_object_size) {
        return Err(OssError::entity_too_large().into());
    }
    let (chunk_tx, chunk_rx) = mpsc::channel::<Bytes>(4);
    let (trailer_tx, trailer_rx) = oneshot::channel::<Option<PutTrailer>>();
    let chunks = tokio_stream::wrappers::ReceiverStream::new(chunk_rx).map(|c| Ok(WriteItem::Chunk(c)));
    let trailer = futures::stream::once(async move {
        match trailer_rx.await {
            Ok(Some(trailer)) => Ok(WriteItem::Trailer(trailer)),
            Ok(None) | Err(_) => Err(MetaError::WriteAborted),
        }
    });
    let write_body: WriteBody = Box::pin(chunks.chain(trailer));
    let sealing = async {
        let result = seal_body(
            &gw.cpu,
            gw.config.body_idle_timeout,
            body,
            encryptor,
            chunk_tx,
            declared,
            gw.config.max_object_size,
        )
        .await;
        let trailer = match &result {
            Ok(sealed) if expected_md5.is_none_or(|m| m == sealed.md5) => Some(trailer_of(sealed)),
            _ => None,
        };
        let _ = trailer_tx.send(trailer);
        result
    };
    let (stored, sealed) = tokio::join!(write(write_body), sealing);
    let sealed = sealed.map_err(failure)?;
    if expected_md5.is_some_and(|m| m != sealed.md5) {
        return Err(OssError::invalid_digest().into());
    }
    Ok((stored?, sealed))
}

/// Bodies that declare at most this many bytes are sealed in memory and stored with one unary call
/// ([`seal_small`]).
pub(crate) const SMALL_PUT_MAX: u64 = 32 * 1024;

/// Seals `source`, which declares at most [`SMALL_PUT_MAX`] bytes, under `encryptor` in memory and hands the
/// whole ciphertext and its trailer to `write` at once: one message to the metadata service instead of a
/// stream. A failing or mismatching body writes nothing.
pub(crate) async fn seal_small<S, E, T, F, Fut>(
    gw: &Gateway,
    source: PlaintextSource<S>,
    encryptor: Option<cang_sse::StreamEncryptor>,
    write: F,
) -> Result<(T, Sealed), Failure>
where
    S: futures::Stream<Item = Result<Bytes, E>> + Unpin,
    E: Into<UploadError>,
    F: FnOnce(Bytes, PutTrailer) -> Fut,
    Fut: std::future::Future<Output = Result<T, MetaError>>,
{
    let PlaintextSource {
        body,
        declared,
        expected_md5,
        failure,
    } = source;
    let limit = declared.unwrap_or(0).min(SMALL_PUT_MAX);
    let (chunk_tx, mut chunk_rx) = mpsc::channel::<Bytes>(4);
    let sealing = seal_body(
        &gw.cpu,
        gw.config.body_idle_timeout,
        body,
        encryptor,
        chunk_tx,
        declared,
        limit,
    );
    let collecting = async {
        let mut stored = Vec::new();
        while let Some(chunk) = chunk_rx.recv().await {
            stored.extend_from_slice(&chunk);
        }
        stored
    };
    let (sealed, stored) = tokio::join!(sealing, collecting);
    let sealed = sealed.map_err(failure)?;
    if expected_md5.is_some_and(|m| m != sealed.md5) {
        return Err(OssError::invalid_digest().into());
    }
    let stored = write(Bytes::from(stored), trailer_of(&sealed)).await?;
    Ok((stored, sealed))
}

/// What the metadata service records of a sealed plaintext: its length, ETag (the MD5) and CRC-64.
fn trailer_of(sealed: &Sealed) -> PutTrailer {
    PutTrailer {
        plaintext_len: sealed.plaintext_len,
        etag: etag_unquoted(&etag_from_md5(&sealed.md5)).to_owned(),
        crc64: Some(sealed.crc64),
    }
}

/// How a failing request body is reported.
fn upload_error(e: UploadError) -> OssError {
    match e {
        UploadError::Body(_) | UploadError::LengthMismatch { .. } => OssError::incomplete_body(),
        UploadError::TooLarge { .. } => OssError::entity_too_large(),
        UploadError::PayloadDigestMismatch => OssError::content_sha256_mismatch(),
        UploadError::IdleTimeout => {
            tracing::info!("request body idle for longer than the timeout; upload abandoned");
            OssError::request_timeout()
        }
        UploadError::SinkClosed => OssError::service_unavailable(),
        UploadError::Seal(err) => {
            tracing::error!(error = %err, "sealing failed");
            OssError::internal_error()
        }
        UploadError::Worker => OssError::internal_error(),
    }
}

/// Picks up the encryption of a new object or upload and obtains its key: the encryptor of its first extent
/// (numbered `context_number` in the format context) and what meta records. Without a rule the bytes are
/// sealed at rest only.
pub(crate) async fn prepare_upload(
    gw: &Gateway,
    call: &Call,
    rule: Option<SseRule>,
    bucket: &str,
    key: &str,
    context_number: u32,
) -> Result<(Option<cang_sse::StreamEncryptor>, Upload), Failure> {
    let (issued, record, echo) = match rule {
        Some(rule) => {
            let (issued, record, echo) = gw
                .protect(&call.principal, &call.context, &rule, call.owner(), bucket, key)
                .await?;
            (issued, record, Some(echo))
        }
        None => {
            let (issued, record) = gw.protect_at_rest(bucket, key).await?;
            (issued, record, None)
        }
    };
    let spec = SealSpec {
        dek: issued.dek,
        suite: suite_of_record(&record),
        segment_size: gw.config.segment_size,
        context: format_context(bucket, key, context_number),
    };
    let (encryptor, header) = spec.start().map_err(|e| {
        tracing::error!(error = %e, "cannot start sealing");
        OssError::internal_error()
    })?;
    Ok((
        Some(encryptor),
        Upload {
            format: extent_format(&header, context_number),
            sse: Some(record),
            echo,
        },
    ))
}

/// The encryptor and extent format record of one more extent under an existing object's (or upload's)
/// encryption record: the data key is recovered from `record` (checking `kms:Decrypt` for a customer key),
/// and `context_number` goes into the format context. Without a record the extent is stored as is.
pub(crate) async fn seal_under_record(
    gw: &Gateway,
    call: &Call,
    record: Option<&ObjectSse>,
    bucket: &str,
    key: &str,
    context_number: u32,
) -> Result<(Option<cang_sse::StreamEncryptor>, Vec<u8>), Failure> {
    let Some(record) = record else {
        return Ok((None, Vec::new()));
    };
    let dek = gw
        .recover_key(&call.principal, &call.context, record, call.owner(), bucket, key)
        .await?;
    let spec = SealSpec {
        dek,
        suite: suite_of_record(record),
        segment_size: gw.config.segment_size,
        context: format_context(bucket, key, context_number),
    };
    let (encryptor, header) = spec.start().map_err(|e| {
        tracing::error!(error = %e, "cannot start sealing");
        OssError::internal_error()
    })?;
    Ok((Some(encryptor), extent_format(&header, context_number)))
}
