//! The request side of a streamed write: the header message, then the body's items, ending early
//! (without a trailer, so the server commits nothing) if the body fails.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use futures::{Stream, StreamExt};

use crate::MetaError;
use crate::api::{WriteBody, WriteItem};

/// The request stream of a streamed write: `first`, then the body's items. An error in the body
/// ends the stream without a trailer (so the server commits nothing) and is kept to be returned.
pub(crate) struct Outbound<M> {
    first: Option<M>,
    body: WriteBody,
    wrap: fn(WriteItem) -> M,
    failure: Arc<Mutex<Option<MetaError>>>,
    done: bool,
    /// Told when the stream has handed over its last item: from then on, the commit is the server's alone.
    ended: Option<tokio::sync::oneshot::Sender<()>>,
}

impl<M> Outbound<M> {
    fn finish(&mut self) {
        self.done = true;
        if let Some(ended) = self.ended.take() {
            let _ = ended.send(());
        }
    }
}

impl<M: Unpin> Stream for Outbound<M> {
    type Item = M;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<M>> {
        if let Some(first) = self.first.take() {
            return Poll::Ready(Some(first));
        }
        if self.done {
            return Poll::Ready(None);
        }
        match self.body.poll_next_unpin(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Some(Ok(item))) => Poll::Ready(Some((self.wrap)(item))),
            Poll::Ready(Some(Err(e))) => {
                self.finish();
                if let Ok(mut slot) = self.failure.lock() {
                    *slot = Some(e);
                }
                Poll::Ready(None)
            }
            Poll::Ready(None) => {
                self.finish();
                Poll::Ready(None)
            }
        }
    }
}

/// The request stream, the slot of the body's own failure, and the signal that the stream has ended.
pub(crate) type OutboundParts<M> = (
    Outbound<M>,
    Arc<Mutex<Option<MetaError>>>,
    tokio::sync::oneshot::Receiver<()>,
);

pub(crate) fn outbound<M>(first: M, body: WriteBody, wrap: fn(WriteItem) -> M) -> OutboundParts<M> {
    let failure = Arc::new(Mutex::new(None));
    let (ended, ended_rx) = tokio::sync::oneshot::channel();
    (
        Outbound {
            first: Some(first),
            body,
            wrap,
            failure: Arc::clone(&failure),
            done: false,
            ended: Some(ended),
        },
        failure,
        ended_rx,
    )
}

/// Runs a streamed write's call, failing it with `DeadlineExceeded` when the server has not answered
/// `deadline` after the stream ended: a hung metadata service never holds a finished upload forever. While the
/// stream is still flowing, its pace is the client's (bounded by the gateway's own stall timeouts).
pub(crate) async fn within_deadline_after_end<T>(
    call: impl std::future::Future<Output = Result<T, tonic::Status>>,
    ended: tokio::sync::oneshot::Receiver<()>,
    deadline: std::time::Duration,
) -> Result<T, tonic::Status> {
    tokio::select! {
        result = call => result,
        () = async {
            let _ = ended.await;
            tokio::time::sleep(deadline).await;
        } => Err(tonic::Status::deadline_exceeded("the metadata service did not commit the write in time")),
    }
}

/// The body's own error if it failed, else the server's.
pub(crate) fn write_error(status: tonic::Status, failure: &Mutex<Option<MetaError>>) -> MetaError {
    failure
        .lock()
        .ok()
        .and_then(|mut f| f.take())
        .unwrap_or_else(|| status.into())
}
