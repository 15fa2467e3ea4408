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
                self.done = true;
                if let Ok(mut slot) = self.failure.lock() {
                    *slot = Some(e);
                }
                Poll::Ready(None)
            }
            Poll::Ready(None) => {
                self.done = true;
                Poll::Ready(None)
            }
        }
    }
}

pub(crate) fn outbound<M>(
    first: M,
    body: WriteBody,
    wrap: fn(WriteItem) -> M,
) -> (Outbound<M>, Arc<Mutex<Option<MetaError>>>) {
    let failure = Arc::new(Mutex::new(None));
    (
        Outbound {
            first: Some(first),
            body,
            wrap,
            failure: Arc::clone(&failure),
            done: false,
        },
        failure,
    )
}

/// The body's own error if it failed, else the server's.
pub(crate) fn write_error(status: tonic::Status, failure: &Mutex<Option<MetaError>>) -> MetaError {
    failure
        .lock()
        .ok()
        .and_then(|mut f| f.take())
        .unwrap_or_else(|| status.into())
}
