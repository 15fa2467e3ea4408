//! A keystore snapshot streamed to the operator (the file removed once the stream ends or is dropped).

use cang_kms_api::{KmsError, SnapshotStream};
use futures::StreamExt;

use crate::key_use::KeyUse;

/// A snapshot being streamed; its audit record names no key.
pub(crate) struct Snapshot(pub SnapshotStream);

impl KeyUse for Snapshot {
    fn key_use(&self) -> (String, String) {
        (String::new(), String::new())
    }
}

/// The bytes of `path`, then the file is gone.
pub(crate) async fn stream_file(path: std::path::PathBuf) -> Result<SnapshotStream, KmsError> {
    let io = |e: std::io::Error| {
        tracing::error!(error = %e, "reading the keystore snapshot");
        KmsError::Internal
    };
    let stream = cang_tls::transient::stream_then_remove(path).await.map_err(io)?;
    Ok(stream.map(move |r| r.map_err(io)).boxed())
}
