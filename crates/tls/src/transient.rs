//! Transient private files: a snapshot of a store written beside it (0600) only to be streamed to the
//! operator, then removed — when the stream ends, fails, or is dropped halfway (a cut connection), so an
//! interrupted backup leaves no copy of the store behind.

use bytes::Bytes;
use futures::StreamExt;
use futures::stream::BoxStream;
use tokio::io::AsyncReadExt;

/// Bytes per streamed chunk (within a gRPC message).
const CHUNK: usize = 1 << 20;

/// Removes the file when dropped.
struct Removed(std::path::PathBuf);

impl Drop for Removed {
    fn drop(&mut self) {
        if let Err(e) = std::fs::remove_file(&self.0)
            && e.kind() != std::io::ErrorKind::NotFound
        {
            tracing::warn!(path = %self.0.display(), error = %e, "transient file not removed");
        }
    }
}

/// The bytes of `path` in chunks; the file is removed once the stream ends or is dropped (and now, if it
/// cannot be opened).
pub async fn stream_then_remove(
    path: std::path::PathBuf,
) -> std::io::Result<BoxStream<'static, std::io::Result<Bytes>>> {
    let guard = Removed(path);
    let file = tokio::fs::File::open(&guard.0).await?;
    let stream = futures::stream::unfold(Some((file, guard)), |state| async move {
        let (mut file, guard) = state?;
        let mut buf = vec![0u8; CHUNK];
        let mut filled = 0;
        while filled < CHUNK {
            match file.read(&mut buf[filled..]).await {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) => return Some((Err(e), None)),
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

/// Removes the transient files named `<prefix>…<suffix>` in `dir` that a crash or a vanished reader left
/// behind (call it at start, before anything new is written there); how many.
pub fn sweep(dir: &std::path::Path, prefix: &str, suffix: &str) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    let mut removed = 0;
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with(prefix) && name.ends_with(suffix) {
            match std::fs::remove_file(entry.path()) {
                Ok(()) => {
                    tracing::info!(file = %name, "removed a transient file left behind");
                    removed += 1;
                }
                Err(e) => tracing::warn!(file = %name, error = %e, "transient file not removed"),
            }
        }
    }
    removed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_file_streams_whole_and_is_gone_after_or_when_dropped() -> std::io::Result<()> {
        let dir = std::env::temp_dir().join(format!("cang-transient-{}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        let whole = dir.join("whole");
        let data: Vec<u8> = (0..(CHUNK * 2 + 17)).map(|i| i as u8).collect();
        std::fs::write(&whole, &data)?;
        let mut stream = stream_then_remove(whole.clone()).await?;
        let mut read = Vec::new();
        while let Some(chunk) = stream.next().await {
            read.extend_from_slice(&chunk?);
        }
        assert_eq!(read, data);
        assert!(!whole.exists());
        let cut = dir.join("cut");
        std::fs::write(&cut, &data)?;
        let mut stream = stream_then_remove(cut.clone()).await?;
        let _first = stream.next().await;
        drop(stream);
        assert!(!cut.exists(), "a stream dropped halfway removes its file");
        std::fs::remove_dir_all(&dir)
    }
}
