//! Object reads and writes: PutObject, GetObject, HeadObject, GetObjectMeta and DeleteObject.

use std::time::{Duration, SystemTime};

use crate::body::RequestBody;
use bytes::Bytes;
use cang_meta_api::{
    Acl, CiphertextRange, MetaError, ObjectInfo, ObjectMeta, ObjectSse, ObjectType, Preconditions,
    PutObjectHeader, PutTrailer, WriteBody, WriteItem,
};
use cang_oss::OssError;
use cang_oss::checksum::{crc64_header_value, etag_from_md5, etag_unquoted};
use cang_oss::headers::conditional::{ConditionTarget, Conditions};
use cang_oss::headers::meta::{ResponseOverrides, UserMetadata};
use cang_oss::headers::range::{RangeBehavior, resolve_range};
use cang_oss::headers::sse::{SseHeaderPolicy, sse_from_headers};
use futures::StreamExt;
use http::{HeaderMap, HeaderValue, Response, StatusCode};
use http_body_util::BodyDataStream;
use tokio::sync::{mpsc, oneshot};

use super::extent::{extent_format, extents_of};
use super::{empty, header_text};
use crate::authorize::Principal;
use crate::body::{ResponseBody, StreamAborted};
use crate::download::{ExtentDecoder, plan_read};
use crate::encryption::{echo_of, effective_rule, suite_of_record};
use crate::errors::meta_error_for;
use crate::pool::CpuPool;
use crate::state::{Call, Gateway};
use crate::upload::{SealSpec, Sealed, UploadError, format_context, seal_body};

/// Stored request headers that come back on reads.
const KEPT_HEADERS: [&str; 4] = [
    "cache-control",
    "content-disposition",
    "content-encoding",
    "expires",
];

/// Where the bytes of a write go and what the write computed, ready for the metadata service.
pub(crate) struct Upload {
    /// The format record of the extent (empty when unencrypted).
    pub format: Vec<u8>,
    /// The encryption record (every new object has one; `None` only for objects stored before at-rest
    /// sealing).
    pub sse: Option<ObjectSse>,
    /// The rule to echo in response headers.
    pub echo: Option<cang_oss::headers::sse::SseRule>,
}

/// Metadata from the request headers of a write.
pub(crate) fn object_meta(headers: &HeaderMap, sse: Option<ObjectSse>) -> Result<ObjectMeta, OssError> {
    let user = UserMetadata::from_headers(headers)?;
    let acl = match header_text(headers, "x-oss-object-acl") {
        None | Some("default") => Acl::Default,
        Some("private") => Acl::Private,
        Some("public-read") => Acl::PublicRead,
        Some("public-read-write") => Acl::PublicReadWrite,
        Some(_) => return Err(OssError::invalid_argument("no such object access control exists")),
    };
    Ok(ObjectMeta {
        content_type: header_text(headers, "content-type")
            .unwrap_or("application/octet-stream")
            .to_owned(),
        user_meta: user
            .iter()
            .map(|(k, v)| (k.to_owned(), String::from_utf8_lossy(v).into_owned()))
            .collect(),
        headers: KEPT_HEADERS
            .iter()
            .filter_map(|name| header_text(headers, name).map(|v| ((*name).to_owned(), v.to_owned())))
            .collect(),
        acl,
        sse,
    })
}

fn content_md5(headers: &HeaderMap) -> Result<Option<[u8; 16]>, OssError> {
    use base64::Engine;
    let Some(value) = header_text(headers, "content-md5") else {
        return Ok(None);
    };
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(value)
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

/// Streams a request body into one of the metadata service's streamed writes. `write` receives the write
/// body and performs the call; the body yields the sealed chunks, then the trailer, or an error that makes
/// the metadata service discard everything.
pub(crate) async fn stream_write<T, F, Fut>(
    gw: &Gateway,
    headers: &HeaderMap,
    body: RequestBody,
    encryptor: Option<cang_sse::StreamEncryptor>,
    write: F,
) -> Result<(T, Sealed), OssError>
where
    F: FnOnce(WriteBody) -> Fut,
    Fut: std::future::Future<Output = Result<T, MetaError>>,
{
    let source = PlaintextSource {
        body: BodyDataStream::new(body),
        declared: declared_length(headers)?,
        expected_md5: content_md5(headers)?,
        failure: upload_error,
    };
    seal_into(gw, source, encryptor, write).await
}

/// The one sealing path of every write: plaintext from `source` → MD5 + CRC-64 + encryption → `write`.
pub(crate) async fn seal_into<S, E, T, F, Fut>(
    gw: &Gateway,
    source: PlaintextSource<S>,
    encryptor: Option<cang_sse::StreamEncryptor>,
    write: F,
) -> Result<(T, Sealed), OssError>
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
        return Err(OssError::entity_too_large());
    }
    let (chunk_tx, chunk_rx) = mpsc::channel::<Bytes>(4);
    let (trailer_tx, trailer_rx) = oneshot::channel::<Result<PutTrailer, MetaError>>();
    let chunks = tokio_stream::wrappers::ReceiverStream::new(chunk_rx).map(|c| Ok(WriteItem::Chunk(c)));
    let trailer = futures::stream::once(async move {
        match trailer_rx.await {
            Ok(Ok(trailer)) => Ok(WriteItem::Trailer(trailer)),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(MetaError::InvalidArgument("upload abandoned".into())),
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
        let verdict = match &result {
            Ok(sealed) if expected_md5.is_some_and(|m| m != sealed.md5) => {
                Err(MetaError::InvalidArgument("Content-MD5 mismatch".into()))
            }
            Ok(sealed) => Ok(PutTrailer {
                plaintext_len: sealed.plaintext_len,
                etag: etag_unquoted(&etag_from_md5(&sealed.md5)).to_owned(),
                crc64: Some(sealed.crc64),
            }),
            Err(e) => Err(MetaError::InvalidArgument(e.to_string())),
        };
        let _ = trailer_tx.send(verdict);
        result
    };
    let (stored, sealed) = tokio::join!(write(write_body), sealing);
    let sealed = sealed.map_err(failure)?;
    if expected_md5.is_some_and(|m| m != sealed.md5) {
        return Err(OssError::invalid_digest());
    }
    Ok((stored.map_err(|e| meta_error_for(e, "", ""))?, sealed))
}

pub(crate) fn upload_error(e: UploadError) -> OssError {
    match e {
        UploadError::Body(_) | UploadError::LengthMismatch { .. } => OssError::incomplete_body(),
        UploadError::TooLarge { .. } => OssError::entity_too_large(),
        UploadError::PayloadDigestMismatch => super::payload_digest_mismatch(),
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

/// Picks the encryption of a new object or part and obtains its key: returns the encryptor, the format
/// record, the encryption record and the rule to echo. Without a rule the bytes are sealed at rest only.
pub(crate) async fn prepare_upload(
    gw: &Gateway,
    call: &Call,
    rule: Option<cang_oss::headers::sse::SseRule>,
    bucket: &str,
    key: &str,
    context_number: u32,
) -> Result<(Option<cang_sse::StreamEncryptor>, Upload), OssError> {
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
    let (encryptor, header) = spec.start().map_err(|_| OssError::internal_error())?;
    Ok((
        Some(encryptor),
        Upload {
            format: extent_format(&header, context_number),
            sse: Some(record),
            echo,
        },
    ))
}

/// PutObject.
pub async fn put_object(
    gw: &Gateway,
    call: &Call,
    bucket: &str,
    key: &str,
    headers: &HeaderMap,
    body: RequestBody,
) -> Result<Response<ResponseBody>, OssError> {
    let requested = sse_from_headers(headers, SseHeaderPolicy::Accept)?;
    let default = call.bucket.as_ref().and_then(|b| b.encryption.as_ref());
    let rule = effective_rule(requested, default);
    let (encryptor, upload) = prepare_upload(gw, call, rule, bucket, key, 0).await?;
    let header = PutObjectHeader {
        bucket: bucket.to_owned(),
        key: key.to_owned(),
        meta: object_meta(headers, upload.sse)?,
        format: upload.format,
        forbid_overwrite: header_text(headers, "x-oss-forbid-overwrite")
            .is_some_and(|v| v.eq_ignore_ascii_case("true")),
    };
    let meta = gw.meta.clone();
    let (info, sealed) = stream_write(gw, headers, body, encryptor, |b| async move {
        meta.put_object(header, b).await
    })
    .await
    .map_err(|e| with_names(e, bucket, key))?;
    let mut response = empty(StatusCode::OK);
    let h = response.headers_mut();
    insert(h, "etag", &format!("\"{}\"", info.etag));
    insert(h, "x-oss-hash-crc64ecma", &crc64_header_value(sealed.crc64));
    insert(h, "content-md5", &base64_md5(&sealed.md5));
    if let Some(echo) = upload.echo {
        echo.write_headers(h);
    }
    Ok(response)
}

pub(crate) fn base64_md5(md5: &[u8; 16]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(md5)
}

/// Fills in bucket and key names an error reported by a lower layer could not know.
pub(crate) fn with_names(e: OssError, bucket: &str, key: &str) -> OssError {
    use cang_oss::ErrorCode;
    match e.code() {
        ErrorCode::NoSuchKey => OssError::no_such_key(key),
        ErrorCode::NoSuchBucket => OssError::no_such_bucket(bucket),
        ErrorCode::FileAlreadyExists => OssError::file_already_exists(key),
        _ => e,
    }
}

pub(crate) fn insert(headers: &mut HeaderMap, name: &'static str, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        headers.insert(name, v);
    }
}

pub(crate) fn modified(info: &ObjectInfo) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_millis(info.last_modified_ms)
}

/// Response headers that describe a stored object.
pub(crate) fn object_headers(info: &ObjectInfo, h: &mut HeaderMap) {
    insert(h, "etag", &format!("\"{}\"", info.etag));
    insert(h, "last-modified", &cang_oss::date::http_date(modified(info)));
    insert(h, "content-type", &info.meta.content_type);
    for (name, value) in &info.meta.headers {
        if let (Ok(name), Ok(v)) = (
            http::HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            h.insert(name, v);
        }
    }
    UserMetadata::from_entries(
        info.meta
            .user_meta
            .iter()
            .map(|(k, v)| (k.clone(), v.as_bytes().to_vec())),
    )
    .write_headers(h);
    insert(
        h,
        "x-oss-object-type",
        match info.object_type {
            ObjectType::Normal => "Normal",
            ObjectType::Multipart => "Multipart",
            ObjectType::Appendable => "Appendable",
        },
    );
    if info.object_type == ObjectType::Appendable {
        insert(h, "x-oss-next-append-position", &info.size.to_string());
    }
    insert(h, "x-oss-storage-class", "Standard");
    if let Some(crc) = info.crc64 {
        insert(h, "x-oss-hash-crc64ecma", &crc64_header_value(crc));
    }
    if let Some(echo) = info.meta.sse.as_ref().and_then(echo_of) {
        echo.write_headers(h);
    }
    h.insert("accept-ranges", HeaderValue::from_static("bytes"));
}

/// GetObject (`with_body`) and HeadObject.
pub async fn get_object(
    gw: &Gateway,
    call: &Call,
    bucket: &str,
    key: &str,
    headers: &HeaderMap,
    overrides: Option<ResponseOverrides>,
    with_body: bool,
) -> Result<Response<ResponseBody>, OssError> {
    // Overrides let the caller choose how the storage origin labels the bytes (`text/html`, `inline`): only a
    // signed request may, as with S3, so an anonymous reader cannot turn an uploaded text into a page.
    if matches!(call.principal, Principal::Anonymous) && overrides.as_ref().is_some_and(|o| !o.is_empty()) {
        return Err(OssError::invalid_request(
            "Request specific response headers cannot be used for anonymous GET requests.",
        ));
    }
    let mut info = match &call.object {
        Some(info) => info.clone(),
        None => gw
            .meta
            .head_object(bucket, key)
            .await
            .map_err(|e| meta_error_for(e, bucket, key))?,
    };
    // An object overwritten between the lookup and the read is answered from its new version.
    for _ in 0..MAX_READ_ATTEMPTS {
        Conditions::from_headers(headers, ConditionTarget::Object).evaluate(&info.etag, modified(&info))?;
        let range = resolve_range(
            header_text(headers, "range"),
            RangeBehavior::from_headers(headers),
            info.size,
        )?;
        let (status, start, end) = match range {
            Some(r) => (StatusCode::PARTIAL_CONTENT, r.start, r.end + 1),
            None => (StatusCode::OK, 0, info.size),
        };
        let mut response = empty(status);
        let h = response.headers_mut();
        object_headers(&info, h);
        if let Some(r) = range {
            insert(h, "content-range", &r.content_range());
        }
        insert(h, "content-length", &(end - start).to_string());
        if let Some(overrides) = &overrides {
            overrides.apply(h);
        }
        if !with_body {
            return Ok(response);
        }
        let (tx, body) = ResponseBody::channel(end - start, 4);
        *response.body_mut() = body;
        match read_plaintext(gw, call, call.owner(), &info, start, end, tx).await? {
            ReadStart::Streaming => return Ok(response),
            ReadStart::Changed(current) => info = *current,
        }
    }
    tracing::warn!(bucket, key, "object kept changing while it was read");
    Err(OssError::service_unavailable())
}

/// Reads of an object that is overwritten again and again give up after this many attempts.
const MAX_READ_ATTEMPTS: usize = 5;

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
) -> Result<ReadStart, OssError> {
    let (bucket, key) = (info.bucket.as_str(), info.key.as_str());
    let dek = match &info.meta.sse {
        Some(record) => Some(
            gw.recover_key(&call.principal, &call.context, record, owner, bucket, key)
                .await?,
        ),
        None => None,
    };
    let extents = extents_of(info)?;
    let plan = plan_read(&extents, start, end).map_err(|e| {
        tracing::error!(bucket, key, error = %e, "object record cannot be read");
        OssError::internal_error()
    })?;
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
    let (current, mut stored) = gw
        .meta
        .read_object(bucket, key, Some(span), pinned)
        .await
        .map_err(|e| meta_error_for(e, bucket, key))?;
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

/// GetObjectMeta: size, ETag, CRC and modification time only.
pub async fn get_object_meta(
    gw: &Gateway,
    bucket: &str,
    key: &str,
) -> Result<Response<ResponseBody>, OssError> {
    let info = gw
        .meta
        .head_object(bucket, key)
        .await
        .map_err(|e| meta_error_for(e, bucket, key))?;
    let mut response = empty(StatusCode::OK);
    let h = response.headers_mut();
    insert(h, "etag", &format!("\"{}\"", info.etag));
    insert(h, "last-modified", &cang_oss::date::http_date(modified(&info)));
    insert(h, "content-length", &info.size.to_string());
    if let Some(crc) = info.crc64 {
        insert(h, "x-oss-hash-crc64ecma", &crc64_header_value(crc));
    }
    Ok(response)
}

/// DeleteObject: 204 whether or not the object existed.
pub async fn delete_object(
    gw: &Gateway,
    bucket: &str,
    key: &str,
) -> Result<Response<ResponseBody>, OssError> {
    let outcome = gw
        .meta
        .delete_objects(bucket, vec![key.to_owned()])
        .await
        .map_err(|e| meta_error_for(e, bucket, key))?;
    if let Some((_, Err(e))) = outcome.into_iter().next() {
        return Err(meta_error_for(e, bucket, key));
    }
    Ok(empty(StatusCode::NO_CONTENT))
}
