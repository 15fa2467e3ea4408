//! Streams a keystore snapshot file in chunks and removes it once the stream ends or is dropped, so an
//! interrupted backup leaves nothing behind.

use bytes::Bytes;
use cang_kms_api::{KmsError, SnapshotStream};
use futures::StreamExt;
use tokio::io::AsyncReadExt;

use crate::key_use::KeyUse;

/// Bytes per streamed chunk (within the gRPC message limit).
const CHUNK: usize = 1 << 20;

/// A snapshot being streamed; its audit record names no key.
pub(crate) struct Snapshot(pub SnapshotStream);

impl KeyUse for Snapshot {
    fn key_use(&self) -> (String, String) {
        (String::new(), String::new())
    }
}

/// Removes the file when dropped.
struct Removed(std::path::PathBuf);

impl Drop for Removed {
    fn drop(&mut self) {
        if let Err(e) = std::fs::remove_file(&self.0)
            && e.kind() != std::io::ErrorKind::NotFound
        {
            tracing::warn!(path = %self.0.display(), error = %e, "snapshot file not removed");
        }
    }
}

/// The bytes of `path`, then the file is gone.
pub(crate) async fn stream_file(path: std::path::PathBuf) -> Result<SnapshotStream, KmsError> {
    let io = |e: std::io::Error| {
        tracing::error!(error = %e, "reading the keystore snapshot");
        KmsError::Internal
    };
    let guard = Removed(path);
    let file = tokio::fs::File::open(&guard.0).await.map_err(io)?;
    let stream = futures::stream::unfold(Some((file, guard)), move |state| async move {
        let (mut file, guard) = state?;
        let mut buf = vec![0u8; CHUNK];
        let mut filled = 0;
        while filled < CHUNK {
            match file.read(&mut buf[filled..]).await {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) => return Some((Err(io(e)), None)),
            }
        }
        if filled == 0 {
            drop(guard);
            return None;
        }
        buf.truncate(filled);
        Some((Ok(Bytes::from(buf)), Some((file, guard))))
    });
    Ok(stream.boxed())
}
