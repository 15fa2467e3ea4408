//! `cang admin root-key split | combine`: root-key escrow, offline. The root key seals every keystore record;
//! lose it and every object is gone for good. `split` writes `n` share files of which any `t` rebuild it
//! (`combine`); give them to different people or places. Neither command talks to a service.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;

use anyhow::{Context as _, bail};
use cang_kms::RootKey;
use cang_kms::escrow::{self, Share};
use clap::Subcommand;
use serde_json::json;

use super::Connection;

/// `cang admin root-key …`
#[derive(Debug, Subcommand)]
pub enum RootKeyCommand {
    /// Split the root key into share files, any THRESHOLD of which rebuild it.
    Split {
        /// The root key file (`root.key` in a `cang up` data directory; default: --data-dir's).
        #[arg(long)]
        root_key_file: Option<PathBuf>,
        /// Shares needed to rebuild the key.
        #[arg(long)]
        threshold: usize,
        /// Shares to write.
        #[arg(long)]
        shares: usize,
        /// Directory for `root-key-share-<i>.txt` (created 0700; files 0600; existing files are kept).
        #[arg(long)]
        out_dir: PathBuf,
    },
    /// Rebuild the root key from share files into a new key file (0600; never overwrites).
    Combine {
        /// The new root key file.
        #[arg(long)]
        out: PathBuf,
        /// Share files (at least the threshold they name).
        #[arg(required = true)]
        shares: Vec<PathBuf>,
    },
}

/// Runs one `cang admin root-key` command.
pub fn run(ctx: &Connection, data_dir: Option<&std::path::Path>, cmd: RootKeyCommand) -> anyhow::Result<()> {
    match cmd {
        RootKeyCommand::Split {
            root_key_file,
            threshold,
            shares,
            out_dir,
        } => {
            let path = match (root_key_file, data_dir) {
                (Some(p), _) => p,
                (None, Some(d)) => d.join("root.key"),
                (None, None) => bail!("pass --root-key-file (or --data-dir)"),
            };
            let key = RootKey::load(&path).with_context(|| format!("reading {}", path.display()))?;
            let parts = escrow::split(&key, threshold, shares)?;
            std::fs::create_dir_all(&out_dir).with_context(|| format!("creating {}", out_dir.display()))?;
            cang_tls::ensure_private_dir(&out_dir)?;
            let mut written = Vec::new();
            for share in &parts {
                let file = out_dir.join(format!("root-key-share-{}.txt", share.index));
                let mut f = std::fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .mode(0o600)
                    .open(&file)
                    .with_context(|| {
                        format!(
                            "writing {} (an existing share is never overwritten)",
                            file.display()
                        )
                    })?;
                f.write_all(share.to_text().as_bytes())
                    .and_then(|()| f.sync_all())
                    .with_context(|| format!("writing {}", file.display()))?;
                written.push(file.display().to_string());
            }
            super::render::show(ctx, json!({ "threshold": threshold, "shares": written }), || {
                format!(
                    "wrote {shares} shares of {}, any {threshold} of which rebuild it:\n  {}\nkeep them apart: \
                         {threshold} together are the root key",
                    path.display(),
                    written.join("\n  ")
                )
            })
        }
        RootKeyCommand::Combine { out, shares } => {
            let parsed = shares
                .iter()
                .map(|p| {
                    let text = zeroize::Zeroizing::new(
                        std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?,
                    );
                    Share::from_text(&text).with_context(|| p.display().to_string())
                })
                .collect::<anyhow::Result<Vec<_>>>()?;
            let key = escrow::combine(&parsed)?;
            key.write_new(&out).with_context(|| {
                format!(
                    "writing {} (an existing key file is never overwritten)",
                    out.display()
                )
            })?;
            super::render::show(ctx, json!({ "root_key_file": out.display().to_string() }), || {
                format!("rebuilt the root key into {}", out.display())
            })
        }
    }
}
