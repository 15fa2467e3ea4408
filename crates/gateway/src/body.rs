//! Response bodies: empty, a fixed buffer (XML documents), or a stream of decrypted object bytes fed from a
//! channel. A stream that fails part-way ends with an error, which aborts the connection: a client never
//! mistakes a truncated object for a complete one.

use std::future::Future as _;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use hyper::body::{Body, Frame, SizeHint};
use tokio::sync::mpsc;

/// Why a streamed body stopped early.
#[derive(Debug, thiserror::Error)]
#[error("response stream aborted: {0}")]
pub struct StreamAborted(pub String);

/// The body of every gateway response.
#[derive(Debug)]
pub enum ResponseBody {
    /// No bytes.
    Empty,
    /// All bytes at once.
    Full(Option<Bytes>),
    /// Bytes from a producer task; an `Err` item aborts the response.
    Stream {
        /// Chunks in order.
        rx: mpsc::Receiver<Result<Bytes, StreamAborted>>,
        /// Bytes still expected (the Content-Length).
        remaining: u64,
    },
    /// A console page or download: the console's own body.
    Console(http_body_util::combinators::BoxBody<Bytes, StreamAborted>),
}

impl ResponseBody {
    /// An empty body.
    pub fn empty() -> Self {
        Self::Empty
    }

    /// A body of the given bytes.
    pub fn full(bytes: impl Into<Bytes>) -> Self {
        let bytes = bytes.into();
        if bytes.is_empty() {
            Self::Empty
        } else {
            Self::Full(Some(bytes))
        }
    }

    /// A streamed body of exactly `len` bytes and the sender its producer writes to.
    pub fn channel(len: u64, depth: usize) -> (mpsc::Sender<Result<Bytes, StreamAborted>>, Self) {
        let (tx, rx) = mpsc::channel(depth.max(1));
        (tx, Self::Stream { rx, remaining: len })
    }
}

impl Body for ResponseBody {
    type Data = Bytes;
    type Error = StreamAborted;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, StreamAborted>>> {
        match self.get_mut() {
            Self::Empty => Poll::Ready(None),
            Self::Full(bytes) => Poll::Ready(bytes.take().map(|b| Ok(Frame::data(b)))),
            Self::Stream { rx, remaining } => {
                if *remaining == 0 {
                    return Poll::Ready(None);
                }
                match rx.poll_recv(cx) {
                    Poll::Ready(Some(Ok(chunk))) => {
                        *remaining = remaining.saturating_sub(chunk.len() as u64);
                        Poll::Ready(Some(Ok(Frame::data(chunk))))
                    }
                    Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(e))),
                    Poll::Ready(None) => Poll::Ready(Some(Err(StreamAborted("producer ended early".into())))),
                    Poll::Pending => Poll::Pending,
                }
            }
            Self::Console(body) => Pin::new(body).poll_frame(cx),
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            Self::Empty => true,
            Self::Full(bytes) => bytes.is_none(),
            Self::Stream { remaining, .. } => *remaining == 0,
            Self::Console(body) => body.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            Self::Empty => SizeHint::with_exact(0),
            Self::Full(bytes) => SizeHint::with_exact(bytes.as_ref().map_or(0, |b| b.len() as u64)),
            Self::Stream { remaining, .. } => SizeHint::with_exact(*remaining),
            Self::Console(body) => body.size_hint(),
        }
    }
}

/// Why a request body could not be read to its end.
#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    /// The connection failed or the client sent a malformed body.
    #[error("request body: {0}")]
    Transport(String),
    /// The body's SHA-256 differs from the `x-oss-content-sha256` its V4 signature covers.
    #[error("the body does not match the signed x-oss-content-sha256")]
    PayloadDigestMismatch,
    /// The client sent nothing for longer than the idle timeout.
    #[error("no body bytes for {0:?}")]
    IdleTimeout(std::time::Duration),
}

/// A request body as the operations read it: the client's bytes, and — when a V4 signature covered a hex
/// `x-oss-content-sha256` — the check that the bytes are the ones signed. The digest is compared when the
/// body ends; a mismatch ends the body with [`BodyError::PayloadDigestMismatch`] instead, so whatever was
/// being written from it is abandoned and nothing is stored.
pub struct RequestBody {
    inner: http_body_util::combinators::UnsyncBoxBody<Bytes, BodyError>,
    signed_digest: Option<([u8; 32], sha2::Sha256)>,
    idle: Option<IdleTimer>,
}

/// Ends a body whose client stops sending: no request holds its connection, its meta stream or its place in
/// the upload pipeline forever.
struct IdleTimer {
    after: std::time::Duration,
    sleep: Pin<Box<tokio::time::Sleep>>,
}

impl std::fmt::Debug for RequestBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RequestBody")
            .field("verifies_digest", &self.signed_digest.is_some())
            .finish_non_exhaustive()
    }
}

impl RequestBody {
    /// Wraps any body; `signed_sha256` is the digest the request's signature declares, if any.
    pub fn new<B>(body: B, signed_sha256: Option<[u8; 32]>) -> Self
    where
        B: Body<Data = Bytes> + Send + 'static,
        B::Error: std::fmt::Display,
    {
        use http_body_util::BodyExt;
        use sha2::Digest;
        Self {
            inner: body
                .map_err(|e| BodyError::Transport(e.to_string()))
                .boxed_unsync(),
            signed_digest: signed_sha256.map(|d| (d, sha2::Sha256::new())),
            idle: None,
        }
    }

    /// Fails the body with [`BodyError::IdleTimeout`] when no bytes arrive for `after`.
    #[must_use]
    pub fn with_idle_timeout(mut self, after: std::time::Duration) -> Self {
        self.idle = Some(IdleTimer {
            after,
            sleep: Box::pin(tokio::time::sleep(after)),
        });
        self
    }
}

impl Body for RequestBody {
    type Data = Bytes;
    type Error = BodyError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        use sha2::Digest;
        let this = self.get_mut();
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                if let (Some(data), Some((_, hasher))) = (frame.data_ref(), this.signed_digest.as_mut()) {
                    hasher.update(data);
                }
                if let Some(idle) = this.idle.as_mut() {
                    let deadline = tokio::time::Instant::now() + idle.after;
                    idle.sleep.as_mut().reset(deadline);
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(None) => {
                let matches = this
                    .signed_digest
                    .take()
                    .is_none_or(|(expected, hasher)| <[u8; 32]>::from(hasher.finalize()) == expected);
                if matches {
                    Poll::Ready(None)
                } else {
                    Poll::Ready(Some(Err(BodyError::PayloadDigestMismatch)))
                }
            }
            Poll::Pending => {
                let fired = this
                    .idle
                    .as_mut()
                    .is_some_and(|idle| idle.sleep.as_mut().poll(cx).is_ready());
                match this.idle.take() {
                    Some(idle) if fired => Poll::Ready(Some(Err(BodyError::IdleTimeout(idle.after)))),
                    kept => {
                        this.idle = kept;
                        Poll::Pending
                    }
                }
            }
            other => other,
        }
    }

    fn is_end_stream(&self) -> bool {
        // Not at its end while a digest is still to be compared: the comparison is the last frame.
        self.signed_digest.is_none() && self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;
    use sha2::Digest;

    #[tokio::test]
    async fn a_signed_digest_passes_the_signed_bytes_and_fails_any_other() {
        let digest: [u8; 32] = sha2::Sha256::digest(b"signed bytes").into();
        let ok = RequestBody::new(
            http_body_util::Full::new(Bytes::from_static(b"signed bytes")),
            Some(digest),
        );
        assert_eq!(ok.collect().await.unwrap().to_bytes().as_ref(), b"signed bytes");
        let swapped = RequestBody::new(
            http_body_util::Full::new(Bytes::from_static(b"other bytes")),
            Some(digest),
        );
        assert!(matches!(
            swapped.collect().await,
            Err(BodyError::PayloadDigestMismatch)
        ));
        let unsigned = RequestBody::new(http_body_util::Full::new(Bytes::from_static(b"anything")), None);
        assert_eq!(unsigned.collect().await.unwrap().to_bytes().as_ref(), b"anything");
        let empty = RequestBody::new(http_body_util::Empty::<Bytes>::new(), Some(digest));
        assert!(matches!(
            empty.collect().await,
            Err(BodyError::PayloadDigestMismatch)
        ));
    }

    /// A body whose sender sends `first` and then nothing, keeping the body open.
    fn stalled(first: &'static [u8]) -> (tokio::sync::mpsc::Sender<Bytes>, RequestBody) {
        let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(1);
        use tokio_stream::StreamExt as _;
        let frames = tokio_stream::wrappers::ReceiverStream::new(rx)
            .map(|b| Ok::<_, std::convert::Infallible>(Frame::data(b)));
        let body = http_body_util::StreamBody::new(frames);
        let _ = tx.try_send(Bytes::from_static(first));
        (tx, RequestBody::new(body, None))
    }

    #[tokio::test(start_paused = true)]
    async fn a_silent_client_times_out_and_a_slow_one_does_not() {
        let (_keep_open, body) = stalled(b"head");
        let mut body = body.with_idle_timeout(std::time::Duration::from_secs(5));
        let first = body.frame().await.unwrap().unwrap();
        assert_eq!(first.into_data().unwrap().as_ref(), b"head");
        assert!(matches!(body.frame().await, Some(Err(BodyError::IdleTimeout(_)))));

        // Bytes every 4 s keep a 5 s timer from firing.
        let (tx, body) = stalled(b"0");
        let mut body = body.with_idle_timeout(std::time::Duration::from_secs(5));
        let sender = tokio::spawn(async move {
            for _ in 0..5 {
                tokio::time::sleep(std::time::Duration::from_secs(4)).await;
                tx.send(Bytes::from_static(b"x")).await.unwrap();
            }
        });
        let mut received = 0;
        while received < 6 {
            body.frame().await.unwrap().unwrap();
            received += 1;
        }
        sender.await.unwrap();
    }
}
