//! The gRPC API for applications, `cang.kms.app.v1.Kms` (`proto/cang/kms/app/v1/application.proto`):
//! envelope encryption with the same access keys, RAM decisions and audit as the OpenAPI, over TLS.
//!
//! A call is signed in its metadata with an access key pair: the HMAC-SHA256 of
//! `CANG-HMAC-SHA256\n<method path>\n<date>\n<nonce>` under the secret, in lower-case hex. The date
//! must be within the OpenAPI's skew window and the nonce is spent exactly as an OpenAPI nonce is,
//! so a captured call cannot be replayed. Each call is then authorised as `kms:<Method>` on the key's
//! ARN ([`crate::authorize`]) and run on a session bound to the end user, whose address the audit keeps.
//!
//! Refusals carry the Alibaba code at the start of the status message and in the
//! [`ERROR_CODE_METADATA`] trailer, with a gRPC status that says what kind of refusal it is.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use cang_kms_api::{
    EncryptionContext, KeyId, KeyRef, KmsApi, KmsForCaller, Page, SecretBytes, WrappedDataKey,
};
use cang_proto::cang::kms::app::v1 as pb;
use cang_proto::cang::kms::app::v1::kms_server::{Kms, KmsServer};
use hmac::{KeyInit, Mac};
use sha2::Sha256;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tonic::metadata::{AsciiMetadataValue, MetadataMap};
use tonic::transport::ServerTlsConfig;
use tonic::{Request, Response, Status};

use crate::authorize::Caller;
use crate::exec::Run;
use crate::{OpenApi, OpenApiError};

/// The signature algorithm named in the string to sign.
pub const SIGNATURE_ALGORITHM: &str = "CANG-HMAC-SHA256";
/// Metadata entry: the access key id.
pub const ACCESS_KEY_ID_METADATA: &str = "x-cang-access-key-id";
/// Metadata entry: the signing time, `YYYY-MM-DDThh:mm:ssZ`.
pub const DATE_METADATA: &str = "x-cang-date";
/// Metadata entry: the single-use nonce.
pub const NONCE_METADATA: &str = "x-cang-nonce";
/// Metadata entry: the signature, lower-case hex.
pub const SIGNATURE_METADATA: &str = "x-cang-signature";
/// Trailer naming the Alibaba error code of a refused call.
pub const ERROR_CODE_METADATA: &str = "x-cang-error-code";

/// The gRPC service's full name.
pub const SERVICE_NAME: &str = "cang.kms.app.v1.Kms";

/// What is signed for a call of `method_path` (e.g. `/cang.kms.app.v1.Kms/Decrypt`).
pub fn string_to_sign(method_path: &str, date: &str, nonce: &str) -> String {
    format!("{SIGNATURE_ALGORITHM}\n{method_path}\n{date}\n{nonce}")
}

fn mac(secret: &[u8]) -> hmac::Hmac<Sha256> {
    // HMAC accepts keys of any length.
    <hmac::Hmac<Sha256> as KeyInit>::new_from_slice(secret).unwrap_or_else(|_| unreachable!())
}

/// The signature of a call, lower-case hex (what a client puts in [`SIGNATURE_METADATA`]).
pub fn sign(secret: &[u8], method_path: &str, date: &str, nonce: &str) -> String {
    let mut m = mac(secret);
    m.update(string_to_sign(method_path, date, nonce).as_bytes());
    hex::encode(m.finalize().into_bytes())
}

/// Checks `signature` (hex) in constant time.
fn verify(
    secret: &[u8],
    method_path: &str,
    date: &str,
    nonce: &str,
    signature: &str,
) -> Result<(), OpenApiError> {
    let given = hex::decode(signature)
        .map_err(|_| OpenApiError::IncompleteSignature("The x-cang-signature entry is not hex."))?;
    let mut m = mac(secret);
    m.update(string_to_sign(method_path, date, nonce).as_bytes());
    m.verify_slice(&given)
        .map_err(|_| OpenApiError::SignatureDoesNotMatch)
}

/// The gRPC status of a refusal: its kind, with the Alibaba code in the message and a trailer.
pub fn status_of(e: &OpenApiError) -> Status {
    use tonic::Code;
    let code = match e {
        OpenApiError::IncompleteSignature(_)
        | OpenApiError::SignatureDoesNotMatch
        | OpenApiError::ContentSha256Mismatch
        | OpenApiError::AccessKeyNotFound
        | OpenApiError::IllegalTimestamp
        | OpenApiError::TimestampExpired
        | OpenApiError::NonceUsed => Code::Unauthenticated,
        OpenApiError::AccessKeyDisabled | OpenApiError::NoPermission => Code::PermissionDenied,
        OpenApiError::Unavailable => Code::Unavailable,
        OpenApiError::Internal => Code::Internal,
        OpenApiError::UnsupportedOperation(_) | OpenApiError::InvalidAction => Code::Unimplemented,
        _ => match e.status() {
            404 => Code::NotFound,
            409 => Code::FailedPrecondition,
            403 => Code::PermissionDenied,
            503 => Code::Unavailable,
            500 => Code::Internal,
            _ => Code::InvalidArgument,
        },
    };
    let mut status = Status::new(code, format!("{}: {e}", e.code()));
    status
        .metadata_mut()
        .insert(ERROR_CODE_METADATA, AsciiMetadataValue::from_static(e.code()));
    status
}

/// The application service over an OpenAPI edge (its access-key lookup, nonces, clock and region).
pub struct KmsApp<F> {
    edge: Arc<OpenApi<F>>,
}

impl<F> std::fmt::Debug for KmsApp<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KmsApp").finish_non_exhaustive()
    }
}

/// One authenticated call: its caller and a session bound to them.
struct Opened<A> {
    caller: Caller,
    api: A,
}

fn context(map: std::collections::HashMap<String, String>) -> EncryptionContext {
    EncryptionContext(map.into_iter().collect())
}

fn key_ref(raw: &str, name: &str) -> Result<KeyRef, OpenApiError> {
    if raw.is_empty() {
        return Err(OpenApiError::MissingParameter(name.to_owned()));
    }
    KeyRef::parse(raw).map_err(|_| OpenApiError::invalid(name))
}

/// `number_of_bytes`, 0 meaning 32.
fn data_key_bytes(n: u32) -> Result<u32, OpenApiError> {
    if n == 0 {
        Ok(32)
    } else {
        crate::action::number_of_bytes(n)
    }
}

impl<F: KmsForCaller> KmsApp<F> {
    /// The service over `edge`.
    pub fn new(edge: Arc<OpenApi<F>>) -> Self {
        Self { edge }
    }

    /// The tonic service.
    pub fn into_server(self) -> KmsServer<Self> {
        KmsServer::new(self)
    }

    /// Authenticates a call of `method`: signature, then signed time and nonce.
    async fn open<T>(&self, method: &str, request: &Request<T>) -> Result<Opened<F::Api>, OpenApiError> {
        let md = request.metadata();
        let access_key_id = entry(md, ACCESS_KEY_ID_METADATA)?;
        let date = entry(md, DATE_METADATA)?;
        let nonce = entry(md, NONCE_METADATA)?;
        let signature = entry(md, SIGNATURE_METADATA)?;
        let peer = request
            .remote_addr()
            .unwrap_or_else(|| SocketAddr::from(([0, 0, 0, 0], 0)));
        let key = self.edge.resolve(access_key_id, peer).await?;
        let path = format!("/{SERVICE_NAME}/{method}");
        verify(key.secret.as_bytes(), &path, date, nonce, signature)?;
        self.edge.check_time_and_nonce(&key.access_key_id, date, nonce)?;
        let agent = md.get("user-agent").and_then(|v| v.to_str().ok());
        let (caller, api) = self.edge.session(key, peer, agent)?;
        Ok(Opened { caller, api })
    }

    /// Runs one call: authenticate, `body`, log, and map a refusal to its status.
    async fn call<T, R, Fut>(
        &self,
        method: &'static str,
        request: Request<T>,
        body: impl FnOnce(Opened<F::Api>, T) -> Fut,
    ) -> Result<Response<R>, Status>
    where
        Fut: Future<Output = Result<R, OpenApiError>>,
    {
        let started = Instant::now();
        let access_key_id = request
            .metadata()
            .get(ACCESS_KEY_ID_METADATA)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        let peer = request.remote_addr();
        let result = match self.open(method, &request).await {
            Ok(opened) => body(opened, request.into_inner()).await,
            Err(e) => Err(e),
        };
        let code = result.as_ref().err().map_or("", OpenApiError::code);
        tracing::info!(
            target: "cang::kms_app",
            method,
            access_key_id,
            code,
            peer = ?peer,
            millis = started.elapsed().as_millis() as u64,
            "kms application call"
        );
        result.map(Response::new).map_err(|e| status_of(&e))
    }
}

fn entry<'a>(md: &'a MetadataMap, name: &'static str) -> Result<&'a str, OpenApiError> {
    let value = md.get(name).ok_or(OpenApiError::IncompleteSignature(
        "The call lacks an x-cang-access-key-id, x-cang-date, x-cang-nonce or x-cang-signature entry.",
    ))?;
    value
        .to_str()
        .map_err(|_| OpenApiError::IncompleteSignature("An x-cang- entry is not printable ASCII."))
}

fn ciphertext(w: cang_kms_api::WrappedKey) -> pb::CiphertextResponse {
    pb::CiphertextResponse {
        key_id: w.key_id.to_string(),
        key_version_id: w.key_version_id,
        ciphertext_blob: w.ciphertext_blob.0,
    }
}

#[tonic::async_trait]
impl<F: KmsForCaller> Kms for KmsApp<F> {
    async fn generate_data_key(
        &self,
        request: Request<pb::GenerateDataKeyRequest>,
    ) -> Result<Response<pb::GenerateDataKeyResponse>, Status> {
        self.call("GenerateDataKey", request, |o, r| async move {
            let run = Run::new(&o.api, &o.caller);
            let key = KeyRef::Id(
                run.authorized("kms:GenerateDataKey", &key_ref(&r.key_id, "KeyId")?)
                    .await?,
            );
            let dk = o
                .api
                .generate_data_key(
                    o.caller.account(),
                    &key,
                    data_key_bytes(r.number_of_bytes)?,
                    &context(r.encryption_context),
                )
                .await?;
            Ok(pb::GenerateDataKeyResponse {
                key_id: dk.key_id.to_string(),
                key_version_id: dk.key_version_id.clone(),
                plaintext: dk.plaintext.expose().to_vec(),
                ciphertext_blob: dk.ciphertext_blob.0.to_vec(),
            })
        })
        .await
    }

    async fn generate_data_key_without_plaintext(
        &self,
        request: Request<pb::GenerateDataKeyRequest>,
    ) -> Result<Response<pb::CiphertextResponse>, Status> {
        self.call("GenerateDataKeyWithoutPlaintext", request, |o, r| async move {
            let run = Run::new(&o.api, &o.caller);
            let key = key_ref(&r.key_id, "KeyId")?;
            let key = KeyRef::Id(
                run.authorized("kms:GenerateDataKeyWithoutPlaintext", &key)
                    .await?,
            );
            let w = o
                .api
                .generate_data_key_without_plaintext(
                    o.caller.account(),
                    &key,
                    data_key_bytes(r.number_of_bytes)?,
                    &context(r.encryption_context),
                )
                .await?;
            Ok(ciphertext(w))
        })
        .await
    }

    async fn encrypt(
        &self,
        request: Request<pb::EncryptRequest>,
    ) -> Result<Response<pb::CiphertextResponse>, Status> {
        self.call("Encrypt", request, |o, r| async move {
            // The crypto service bounds the plaintext (1 B–6 KiB, as Alibaba KMS).
            let plaintext = SecretBytes::from(r.plaintext);
            let run = Run::new(&o.api, &o.caller);
            let key = KeyRef::Id(
                run.authorized("kms:Encrypt", &key_ref(&r.key_id, "KeyId")?)
                    .await?,
            );
            let w = o
                .api
                .encrypt(
                    o.caller.account(),
                    &key,
                    &plaintext,
                    &context(r.encryption_context),
                )
                .await?;
            Ok(ciphertext(w))
        })
        .await
    }

    async fn decrypt(
        &self,
        request: Request<pb::DecryptRequest>,
    ) -> Result<Response<pb::DecryptResponse>, Status> {
        let names = self.edge.ciphertext_key();
        self.call("Decrypt", request, |o, r| async move {
            let id: KeyId =
                names(&r.ciphertext_blob).ok_or_else(|| OpenApiError::invalid("CiphertextBlob"))?;
            o.caller.authorize("kms:Decrypt", &o.caller.key_arn(&id))?;
            let blob = WrappedDataKey(r.ciphertext_blob);
            let opened = o
                .api
                .decrypt(o.caller.account(), &blob, &context(r.encryption_context))
                .await?;
            Ok(pb::DecryptResponse {
                key_id: opened.key_id.to_string(),
                key_version_id: opened.key_version_id.clone(),
                plaintext: opened.plaintext.expose().to_vec(),
            })
        })
        .await
    }

    async fn re_encrypt(
        &self,
        request: Request<pb::ReEncryptRequest>,
    ) -> Result<Response<pb::CiphertextResponse>, Status> {
        let names = self.edge.ciphertext_key();
        self.call("ReEncrypt", request, |o, r| async move {
            let source = names(&r.ciphertext_blob).ok_or_else(|| OpenApiError::invalid("CiphertextBlob"))?;
            o.caller
                .authorize("kms:ReEncryptFrom", &o.caller.key_arn(&source))?;
            let run = Run::new(&o.api, &o.caller);
            let destination = if r.destination_key_id.is_empty() {
                KeyRef::Id(source)
            } else {
                key_ref(&r.destination_key_id, "DestinationKeyId")?
            };
            let destination = KeyRef::Id(run.authorized("kms:ReEncryptTo", &destination).await?);
            let w = o
                .api
                .re_encrypt(
                    o.caller.account(),
                    &WrappedDataKey(r.ciphertext_blob),
                    &context(r.source_encryption_context),
                    Some(&destination),
                    &context(r.destination_encryption_context),
                )
                .await?;
            Ok(ciphertext(w))
        })
        .await
    }

    async fn describe_key(
        &self,
        request: Request<pb::DescribeKeyRequest>,
    ) -> Result<Response<pb::KeyMetadata>, Status> {
        self.call("DescribeKey", request, |o, r| async move {
            let run = Run::new(&o.api, &o.caller);
            let id = run
                .authorized("kms:DescribeKey", &key_ref(&r.key_id, "KeyId")?)
                .await?;
            let m = o.api.describe_key(o.caller.account(), &KeyRef::Id(id)).await?;
            Ok(pb::KeyMetadata {
                key_id: m.key_id.to_string(),
                arn: m.arn,
                description: m.description,
                key_spec: m.spec.as_str().to_owned(),
                key_state: m.state.as_str().to_owned(),
                origin: m.origin.as_str().to_owned(),
                primary_key_version: m.primary_key_version,
                creation_date: m.creation_date,
            })
        })
        .await
    }

    async fn list_keys(
        &self,
        request: Request<pb::ListKeysRequest>,
    ) -> Result<Response<pb::ListKeysResponse>, Status> {
        self.call("ListKeys", request, |o, r| async move {
            o.caller.authorize("kms:ListKeys", &o.caller.key_container())?;
            let page =
                Page::new(r.page_number, r.page_size).map_err(|_| OpenApiError::invalid("PageSize"))?;
            let listed = o.api.list_keys(o.caller.account(), page).await?;
            Ok(pb::ListKeysResponse {
                keys: listed
                    .items
                    .into_iter()
                    .map(|k| pb::KeyListEntry {
                        key_id: k.key_id.to_string(),
                        key_arn: k.arn,
                    })
                    .collect(),
                total_count: listed.total_count,
            })
        })
        .await
    }
}

/// Limits of the application listener.
#[derive(Debug, Clone)]
pub struct AppLimits {
    /// Connections open at once; a connection beyond it is closed as soon as it is accepted.
    pub max_connections: usize,
    /// How long a client may take over the TLS handshake before its connection (and slot) is dropped.
    pub handshake_timeout: Duration,
    /// Streams served at once per connection.
    pub max_concurrent_streams: u32,
    /// How long one call may take before it is cancelled.
    pub call_timeout: Duration,
    /// Largest request message, bytes (a 6 KiB plaintext with its context fits many times over).
    pub max_message_bytes: usize,
}

impl Default for AppLimits {
    fn default() -> Self {
        Self {
            max_connections: 1024,
            handshake_timeout: Duration::from_secs(10),
            max_concurrent_streams: 256,
            call_timeout: Duration::from_secs(30),
            max_message_bytes: 64 << 10,
        }
    }
}

/// Serves the application API on `listener` over TLS (`tls`: a server identity; client certificates
/// are not asked for), with the gRPC health service and reflection describing only this API, until
/// `shutdown`.
pub async fn serve_app<F: KmsForCaller>(
    edge: Arc<OpenApi<F>>,
    tls: ServerTlsConfig,
    listener: TcpListener,
    limits: AppLimits,
    shutdown: CancellationToken,
) -> Result<(), tonic::transport::Error> {
    let (health_reporter, health) = tonic_health::server::health_reporter();
    health_reporter.set_serving::<KmsServer<KmsApp<F>>>().await;
    // Reflection in both versions: grpcurl asks for v1, many clients (Python's among them) v1alpha.
    let described = || {
        tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(cang_proto::KMS_APP_FILE_DESCRIPTOR_SET)
    };
    let (reflection_v1, reflection_v1alpha) = match (described().build_v1(), described().build_v1alpha()) {
        (Ok(v1), Ok(v1alpha)) => (Some(v1), Some(v1alpha)),
        (Err(e), _) | (_, Err(e)) => {
            tracing::warn!(error = %e, "gRPC reflection is off: the API's descriptors do not load");
            (None, None)
        }
    };
    let app = KmsApp::new(edge)
        .into_server()
        .max_decoding_message_size(limits.max_message_bytes);
    tonic::transport::Server::builder()
        .tls_config(tls.timeout(limits.handshake_timeout))?
        .timeout(limits.call_timeout)
        .max_concurrent_streams(limits.max_concurrent_streams)
        // A peer that stops answering (gone, or holding the connection) is dropped, freeing its slot.
        .http2_keepalive_interval(Some(Duration::from_secs(30)))
        .http2_keepalive_timeout(Some(Duration::from_secs(10)))
        .layer(cang_telemetry::GrpcServerLayer)
        .add_service(health)
        .add_optional_service(reflection_v1)
        .add_optional_service(reflection_v1alpha)
        .add_service(app)
        .serve_with_incoming_shutdown(
            capped::incoming(listener, limits.max_connections),
            shutdown.cancelled_owned(),
        )
        .await
}

/// Accepted connections, at most a given number open at once.
mod capped {
    use std::pin::Pin;
    use std::sync::Arc;
    use std::task::{Context, Poll};
    use std::time::Duration;

    use futures::Stream;
    use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
    use tokio::net::{TcpListener, TcpStream};
    use tokio::sync::{OwnedSemaphorePermit, Semaphore};
    use tonic::transport::server::{Connected, TcpConnectInfo};

    /// A connection holding one of the listener's slots until it closes.
    pub(super) struct Capped {
        io: TcpStream,
        _slot: OwnedSemaphorePermit,
    }

    impl Connected for Capped {
        type ConnectInfo = TcpConnectInfo;
        fn connect_info(&self) -> TcpConnectInfo {
            self.io.connect_info()
        }
    }

    impl AsyncRead for Capped {
        fn poll_read(
            self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            buf: &mut ReadBuf<'_>,
        ) -> Poll<std::io::Result<()>> {
            Pin::new(&mut self.get_mut().io).poll_read(cx, buf)
        }
    }

    impl AsyncWrite for Capped {
        fn poll_write(
            self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            buf: &[u8],
        ) -> Poll<std::io::Result<usize>> {
            Pin::new(&mut self.get_mut().io).poll_write(cx, buf)
        }
        fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
            Pin::new(&mut self.get_mut().io).poll_flush(cx)
        }
        fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
            Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
        }
    }

    /// The listener's connections with `TCP_NODELAY`; one beyond `max` open is closed at once (and
    /// logged), so a flood of idle connections cannot grow without bound.
    pub(super) fn incoming(listener: TcpListener, max: usize) -> impl Stream<Item = std::io::Result<Capped>> {
        let slots = Arc::new(Semaphore::new(max.max(1)));
        futures::stream::unfold((listener, slots), |(listener, slots)| async move {
            loop {
                match listener.accept().await {
                    Ok((io, peer)) => {
                        let Ok(slot) = Arc::clone(&slots).try_acquire_owned() else {
                            tracing::warn!(%peer, "kms application gRPC: connection limit reached; closed a new one");
                            continue;
                        };
                        if let Err(e) = io.set_nodelay(true) {
                            tracing::debug!(error = %e, "TCP_NODELAY refused");
                        }
                        return Some((Ok(Capped { io, _slot: slot }), (listener, slots)));
                    }
                    Err(e) => {
                        // Out of descriptors or a reset before accept: wait a moment rather than spin.
                        tracing::warn!(error = %e, "kms application gRPC: accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_bind_method_date_and_nonce() {
        let path = "/cang.kms.app.v1.Kms/Decrypt";
        let s = sign(b"secret", path, "2026-12-03T10:00:00Z", "n1");
        // As `openssl dgst -sha256 -hmac secret` and Python's hmac compute it (docs/kms.md §5).
        assert_eq!(
            s,
            "ba40543377064a3f13d71bb56385559353df33c977ad91309556e3e07096fb7b"
        );
        assert!(verify(b"secret", path, "2026-12-03T10:00:00Z", "n1", &s).is_ok());
        for (secret, p, date, nonce) in [
            (&b"other"[..], path, "2026-12-03T10:00:00Z", "n1"),
            (
                b"secret",
                "/cang.kms.app.v1.Kms/Encrypt",
                "2026-12-03T10:00:00Z",
                "n1",
            ),
            (b"secret", path, "2026-12-03T10:00:01Z", "n1"),
            (b"secret", path, "2026-12-03T10:00:00Z", "n2"),
        ] {
            assert_eq!(
                verify(secret, p, date, nonce, &s),
                Err(OpenApiError::SignatureDoesNotMatch)
            );
        }
        assert!(matches!(
            verify(b"secret", path, "d", "n", "not hex"),
            Err(OpenApiError::IncompleteSignature(_))
        ));
        // The fixed string a client in another language can check itself against.
        assert_eq!(
            string_to_sign(path, "2026-12-03T10:00:00Z", "n1"),
            "CANG-HMAC-SHA256\n/cang.kms.app.v1.Kms/Decrypt\n2026-12-03T10:00:00Z\nn1"
        );
    }

    #[test]
    fn refusals_map_to_their_kind_and_keep_the_alibaba_code() {
        use tonic::Code;
        for (e, code) in [
            (OpenApiError::SignatureDoesNotMatch, Code::Unauthenticated),
            (OpenApiError::NonceUsed, Code::Unauthenticated),
            (OpenApiError::AccessKeyNotFound, Code::Unauthenticated),
            (OpenApiError::NoPermission, Code::PermissionDenied),
            (
                OpenApiError::Kms(cang_kms_api::KmsError::KeyNotFound),
                Code::NotFound,
            ),
            (
                OpenApiError::Kms(cang_kms_api::KmsError::KeyDisabled),
                Code::FailedPrecondition,
            ),
            (OpenApiError::invalid("KeyId"), Code::InvalidArgument),
            (OpenApiError::Unavailable, Code::Unavailable),
        ] {
            let status = status_of(&e);
            assert_eq!(status.code(), code, "{e:?}");
            assert!(status.message().starts_with(e.code()), "{}", status.message());
            assert_eq!(
                status
                    .metadata()
                    .get(ERROR_CODE_METADATA)
                    .and_then(|v| v.to_str().ok()),
                Some(e.code())
            );
        }
    }
}
