//! `cang admin backup` and `restore`: a consistent online copy of an instance — the metadata store (objects'
//! records and ciphertext, identities) and the keystore (still sealed under the root key) — taken while it
//! serves, and brought back as a new data directory. The root key is copied only when asked, with a warning:
//! a backup without it (or its shares, `cang admin root-key split`) cannot be opened, which is the point.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use bytes::Bytes;
use cang_kms_api::KmsApi;
use cang_meta_api::ObjectStore;
use clap::Args;
use futures::{Stream, StreamExt};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::Connection;
use crate::cmd::instance::InstanceDir;

/// `cang admin backup`
#[derive(Debug, Args)]
pub struct BackupArgs {
    /// A new (or empty) directory for the backup (created 0700; its files 0600).
    #[arg(long)]
    to: PathBuf,
    /// Copy the root key too. Whoever holds the backup then holds every object: keep it offline.
    #[arg(long)]
    include_root_key: bool,
}

/// `cang admin restore`
#[derive(Debug, Args)]
pub struct RestoreArgs {
    /// The backup directory (`cang admin backup --to`).
    #[arg(long)]
    from: PathBuf,
    /// The new data directory to create (must not exist, or be empty); `cang up --data-dir` runs it.
    #[arg(long = "into")]
    into: PathBuf,
    /// The root key file, when the backup holds none (e.g. rebuilt by `cang admin root-key combine`).
    #[arg(long)]
    root_key_file: Option<PathBuf>,
}

const META_FILE: &str = "meta.redb";
const KEYSTORE_FILE: &str = "keystore.redb";
const MANIFEST: &str = "manifest.json";

fn private_dir(dir: &Path) -> anyhow::Result<()> {
    if dir.exists() && std::fs::read_dir(dir)?.next().is_some() {
        bail!("{} exists and is not empty", dir.display());
    }
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    cang_tls::ensure_private_dir(dir)?;
    Ok(())
}

fn new_private_file(path: &Path) -> anyhow::Result<std::fs::File> {
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("creating {}", path.display()))
}

/// Writes a stream to a new private file; its length and SHA-256.
async fn save<E: std::error::Error + Send + Sync + 'static>(
    mut stream: impl Stream<Item = Result<Bytes, E>> + Unpin,
    path: &Path,
) -> anyhow::Result<(u64, String)> {
    let mut file = new_private_file(path)?;
    let mut hash = Sha256::new();
    let mut len = 0u64;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.with_context(|| format!("receiving {}", path.display()))?;
        hash.update(&chunk);
        len += chunk.len() as u64;
        file.write_all(&chunk)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    file.sync_all()?;
    Ok((len, hex::encode(hash.finalize())))
}

fn sha256_of(path: &Path) -> anyhow::Result<String> {
    use std::io::Read;
    let mut file = std::fs::File::open(path).with_context(|| format!("reading {}", path.display()))?;
    let mut hash = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            return Ok(hex::encode(hash.finalize()));
        }
        hash.update(&buf[..n]);
    }
}

/// `cang admin backup`
pub async fn backup(ctx: &Connection, data_dir: Option<&Path>, args: BackupArgs) -> anyhow::Result<()> {
    private_dir(&args.to)?;
    // The keystore first: a key created after it but used by an object in the later metadata copy would
    // be missing; the other way round, a key no object uses yet is harmless.
    let keystore = ctx.kms()?.snapshot().await.context("kms snapshot")?;
    let (keystore_bytes, keystore_sha) = save(keystore, &args.to.join(KEYSTORE_FILE)).await?;
    let meta = ctx.meta()?.snapshot().await.context("meta snapshot")?;
    let (meta_bytes, meta_sha) = save(meta, &args.to.join(META_FILE)).await?;
    if let Some(dir) = data_dir.map(InstanceDir::new) {
        let state = dir.state_file();
        if state.is_file() {
            std::fs::copy(&state, args.to.join("instance.json")).context("copying instance.json")?;
        }
        if args.include_root_key {
            let mut out = new_private_file(&args.to.join("root.key"))?;
            out.write_all(&zeroize::Zeroizing::new(std::fs::read(dir.root_key())?))?;
            out.sync_all()?;
        }
    } else if args.include_root_key {
        bail!("--include-root-key needs --data-dir (the root key never leaves the crypto service otherwise)");
    }
    let manifest = json!({
        "format": 1,
        "created_unix": std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_secs(),
        "meta": { "file": META_FILE, "bytes": meta_bytes, "sha256": meta_sha },
        "keystore": { "file": KEYSTORE_FILE, "bytes": keystore_bytes, "sha256": keystore_sha },
        "root_key_included": args.include_root_key,
    });
    let mut out = new_private_file(&args.to.join(MANIFEST))?;
    out.write_all(serde_json::to_string_pretty(&manifest)?.as_bytes())?;
    out.sync_all()?;
    if args.include_root_key && !ctx.json {
        crate::cmd::output::line(
            "WARNING: this backup holds the root key: whoever reads it reads every object. Keep it offline.",
        )?;
    }
    super::render::show(ctx, manifest, || {
        format!(
            "backed up the metadata store ({meta_bytes} bytes) and the keystore ({keystore_bytes} bytes) into {}{}",
            args.to.display(),
            if args.include_root_key {
                ", with the root key"
            } else {
                "; the root key is not in it"
            }
        )
    })
}

/// `cang admin restore`
pub fn restore(ctx: &Connection, args: RestoreArgs) -> anyhow::Result<()> {
    let manifest: Value = serde_json::from_slice(
        &std::fs::read(args.from.join(MANIFEST)).with_context(|| format!("reading {MANIFEST}"))?,
    )
    .context("parsing the manifest")?;
    for part in ["meta", "keystore"] {
        let file = manifest[part]["file"]
            .as_str()
            .context("manifest without files")?;
        let expected = manifest[part]["sha256"].as_str().unwrap_or_default();
        if sha256_of(&args.from.join(file))? != expected {
            bail!("{file} does not match the manifest: the backup is damaged");
        }
    }
    let root_key = match (&args.root_key_file, args.from.join("root.key")) {
        (Some(file), _) => file.clone(),
        (None, in_backup) if in_backup.is_file() => in_backup,
        _ => bail!("the backup holds no root key: pass --root-key-file (or rebuild it from its shares)"),
    };
    // Refuses a key of the wrong format or with open permissions before anything is written.
    let key =
        cang_kms::RootKey::load(&root_key).with_context(|| format!("reading {}", root_key.display()))?;
    private_dir(&args.into)?;
    let dir = InstanceDir::new(&args.into);
    for (sub, file) in [(dir.meta(), META_FILE), (dir.kms(), KEYSTORE_FILE)] {
        std::fs::create_dir_all(&sub)?;
        cang_tls::ensure_private_dir(&sub)?;
        let mut out = new_private_file(&sub.join(file))?;
        std::io::copy(&mut std::fs::File::open(args.from.join(file))?, &mut out)?;
        out.sync_all()?;
    }
    key.write_new(&dir.root_key())?;
    let state = args.from.join("instance.json");
    if state.is_file() {
        std::fs::copy(&state, dir.state_file())?;
    }
    super::render::show(
        ctx,
        json!({ "data_dir": args.into.display().to_string() }),
        || {
            format!(
                "restored into {}; start it with `cang up --data-dir {}` (the crypto service refuses a wrong root key)",
                args.into.display(),
                args.into.display()
            )
        },
    )
}
