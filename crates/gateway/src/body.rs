//! Response bodies: empty, a fixed buffer (XML documents), or a stream of decrypted object bytes fed from a
//! channel. A stream that fails part-way ends with an error, which aborts the connection: a client never
//! mistakes a truncated object for a complete one.

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
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            Self::Empty => true,
            Self::Full(bytes) => bytes.is_none(),
            Self::Stream { remaining, .. } => *remaining == 0,
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            Self::Empty => SizeHint::with_exact(0),
            Self::Full(bytes) => SizeHint::with_exact(bytes.as_ref().map_or(0, |b| b.len() as u64)),
            Self::Stream { remaining, .. } => SizeHint::with_exact(*remaining),
        }
    }
}
