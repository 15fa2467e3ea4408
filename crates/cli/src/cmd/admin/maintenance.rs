//! `cang admin inventory`, `rewrap`, `kms retire-version` and `encrypt-existing`: which master-key versions
//! the stored objects depend on, moving them to the current primary version without rewriting any data,
//! deleting versions nothing depends on, and bringing existing objects under encryption.

use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use cang_gateway::reseal::{self, ResealJob, ResealProgress, Target};
use cang_gateway::rewrap::{self, RewrapCursor, RewrapJob, RewrapProgress};
use cang_kms_api::{AccountId, KeyRef, KmsApi, ServiceKeySuite};
use cang_meta_api::{InventoryEntry, InventoryQuery, ObjectStore};
use clap::Args;
use serde_json::{Value, json};

use super::Connection;
use crate::cmd::output::{self, Table};

/// `cang admin inventory`
#[derive(Debug, Args)]
pub struct InventoryArgs {
    /// Only this bucket.
    #[arg(long)]
    bucket: Option<String>,
    /// Only this wrapping key: a CMK id or alias of the account, or a service key id (`service-aes256`,
    /// `service-sm4`, `service-storage`).
    #[arg(long)]
    key: Option<String>,
}

/// What a rewrap moves.
#[derive(Debug, Args)]
pub struct RewrapScope {
    /// The master key: a CMK id or alias of the account, or a service key id (`service-aes256`, `service-sm4`,
    /// `service-storage`).
    #[arg(long)]
    pub key: String,
    /// Only this bucket.
    #[arg(long)]
    pub bucket: Option<String>,
    /// Only objects under this key version.
    #[arg(long)]
    pub from_version: Option<String>,
}

/// `cang admin rewrap`
#[derive(Debug, Args)]
pub struct RewrapArgs {
    #[command(flatten)]
    scope: RewrapScope,
    /// At most this many re-encryptions per second.
    #[arg(long)]
    rate: Option<f64>,
    /// Where the job's cursor is kept between runs (default: `jobs/` in --data-dir). A job killed midway
    /// resumes from it; it is removed when the job finishes.
    #[arg(long)]
    state: Option<PathBuf>,
    /// Start from the beginning even if a cursor was saved.
    #[arg(long)]
    restart: bool,
}

/// Resolves `--key` to the wrapping key id the inventory uses.
async fn wrapping_key_id(ctx: &Connection, key: &str) -> anyhow::Result<String> {
    let account = ctx.kms_account().ok();
    rewrap::wrapping_key_id(&ctx.kms()?, account.as_ref(), key)
        .await
        .with_context(|| format!("looking up key {key}"))
}

/// Each CMK's primary version, for the keys the rows name that belong to the account (service keys and
/// other accounts' keys are left out).
async fn primaries(ctx: &Connection, rows: &[InventoryEntry]) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let (Ok(kms), Ok(account)) = (ctx.kms(), ctx.kms_account()) else {
        return out;
    };
    for row in rows {
        let Some(w) = &row.wrapping else { continue };
        if out.contains_key(&w.key_id) || ServiceKeySuite::from_key_id(&w.key_id).is_some() {
            continue;
        }
        let Ok(id) = cang_kms_api::KeyId::new(w.key_id.clone()) else {
            continue;
        };
        if let Ok(meta) = kms.describe_key(&account, &KeyRef::Id(id)).await {
            out.insert(w.key_id.clone(), meta.primary_key_version);
        }
    }
    out
}

/// `cang admin inventory`
pub async fn inventory(ctx: &Connection, args: InventoryArgs) -> anyhow::Result<()> {
    let key_id = match &args.key {
        Some(k) => Some(wrapping_key_id(ctx, k).await?),
        None => None,
    };
    let rows = ctx
        .meta()?
        .key_inventory(InventoryQuery {
            bucket: args.bucket,
            key_id,
        })
        .await?;
    let primary = primaries(ctx, &rows).await;
    let is_primary = |row: &InventoryEntry| {
        row.wrapping
            .as_ref()
            .and_then(|w| primary.get(&w.key_id).map(|p| *p == w.version_id))
    };
    if ctx.json {
        let entries: Vec<Value> = rows
            .iter()
            .map(|r| {
                json!({
                    "bucket": r.bucket,
                    "sse": r.algorithm.as_str(),
                    "key_id": r.wrapping.as_ref().map(|w| w.key_id.clone()),
                    "key_version_id": r.wrapping.as_ref().map(|w| w.version_id.clone()),
                    "primary": is_primary(r),
                    "objects": r.objects,
                    "bytes": r.bytes,
                    "uploads": r.uploads,
                })
            })
            .collect();
        return output::json(&json!({ "entries": entries }));
    }
    let mut table = Table::new(&[
        "BUCKET", "SSE", "KEY", "VERSION", "PRIMARY", "OBJECTS", "BYTES", "UPLOADS",
    ]);
    for r in &rows {
        let (key, version) = r
            .wrapping
            .as_ref()
            .map_or(("(unrecorded)".to_owned(), String::new()), |w| {
                (w.key_id.clone(), w.version_id.clone())
            });
        let primary = match is_primary(r) {
            Some(true) => "yes",
            Some(false) => "no",
            None => "",
        };
        table.row(vec![
            r.bucket.clone(),
            r.algorithm.as_str().to_owned(),
            key,
            version,
            primary.to_owned(),
            r.objects.to_string(),
            r.bytes.to_string(),
            r.uploads.to_string(),
        ]);
    }
    output::line(table.render().trim_end())
}

/// The saved cursor of a job, in a small JSON file written by rename so a kill never leaves half of one.
#[derive(Debug)]
struct CursorFile {
    path: PathBuf,
    /// What the saved cursor belongs to; a cursor of another job is never resumed.
    job: Value,
}

impl CursorFile {
    /// The saved position of this job, if any.
    fn load_position(&self) -> anyhow::Result<Option<Value>> {
        let text = match std::fs::read_to_string(&self.path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e).with_context(|| format!("reading {}", self.path.display())),
        };
        let saved: Value =
            serde_json::from_str(&text).with_context(|| format!("parsing {}", self.path.display()))?;
        if saved.get("job") != Some(&self.job) {
            bail!(
                "{} holds the cursor of another job; pass --restart or another --state",
                self.path.display()
            );
        }
        Ok(saved.get("position").cloned())
    }

    fn load(&self) -> anyhow::Result<Option<RewrapCursor>> {
        Ok(self.load_position()?.map(|p| {
            let field = |name: &str| p.get(name).and_then(Value::as_str).unwrap_or_default().to_owned();
            RewrapCursor {
                bucket: field("bucket"),
                after: field("after"),
            }
        }))
    }

    fn save_position(&self, position: &Value) -> anyhow::Result<()> {
        let body = json!({ "job": self.job, "position": position });
        let tmp = self.path.with_extension("tmp");
        std::fs::write(&tmp, body.to_string()).with_context(|| format!("writing {}", tmp.display()))?;
        std::fs::rename(&tmp, &self.path).with_context(|| format!("writing {}", self.path.display()))
    }

    fn remove(&self) -> anyhow::Result<()> {
        match std::fs::remove_file(&self.path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                Err(e).with_context(|| format!("removing {}", self.path.display()))
            }
            _ => Ok(()),
        }
    }
}

/// A job's progress as the commands show and save it.
trait Shown {
    /// Where the job resumes from.
    fn position(&self) -> Value;
    /// One JSON progress line.
    fn json(&self, finished: bool) -> Value;
    /// The progress bar.
    fn bar(&self) -> String;
}

/// Seconds since a job run started.
fn elapsed(started: Option<Instant>) -> f64 {
    started.map_or(0.0, |s| s.elapsed().as_secs_f64())
}

/// `[####      ] done/total` and the seconds left for `left` more units at `rate` per second.
fn bar(done: u64, total: u64, left: f64, rate: f64) -> String {
    let fraction = if total == 0 {
        1.0
    } else {
        (done as f64 / total as f64).min(1.0)
    };
    let eta = if rate > 0.0 {
        format!("{:.0}s", left / rate)
    } else {
        "?".to_owned()
    };
    format!(
        "[{:<30}] {done}/{total}, ETA {eta}",
        "#".repeat((fraction * 30.0) as usize)
    )
}

impl Shown for RewrapProgress {
    fn position(&self) -> Value {
        json!({ "bucket": self.cursor.bucket, "after": self.cursor.after })
    }

    fn json(&self, finished: bool) -> Value {
        json!({
            "finished": finished,
            "total_objects": self.total_objects,
            "total_bytes": self.total_bytes,
            "rewrapped": self.rewrapped,
            "rewrapped_bytes": self.rewrapped_bytes,
            "already_current": self.current,
            "changed_meanwhile": self.changed,
            "uploads_rewrapped": self.uploads_rewrapped,
            "reencrypt_calls": self.reencrypt_calls,
            "target_version": self.target_version,
            "cursor": self.position(),
            "elapsed_seconds": elapsed(self.started),
        })
    }

    fn bar(&self) -> String {
        let done = self.done();
        let rate = done as f64 / elapsed(self.started).max(1e-9);
        let left = self.total_objects.saturating_sub(done) as f64;
        format!(
            "{} objects, {} bytes moved, {rate:.0}/s",
            bar(done, self.total_objects, left, rate),
            self.rewrapped_bytes
        )
    }
}

impl Shown for ResealProgress {
    fn position(&self) -> Value {
        json!({ "after": self.cursor })
    }

    fn json(&self, finished: bool) -> Value {
        json!({
            "finished": finished,
            "total_objects": self.total_objects,
            "total_bytes": self.total_bytes,
            "encrypted": self.resealed,
            "encrypted_bytes": self.resealed_bytes,
            "already_encrypted": self.current,
            "appendable_skipped": self.appendable,
            "changed_meanwhile": self.changed,
            "sse": self.target.as_ref().map(|(a, _)| a.as_str()),
            "key_id": self.target.as_ref().and_then(|(_, k)| k.clone()),
            "cursor": self.cursor,
            "elapsed_seconds": elapsed(self.started),
        })
    }

    fn bar(&self) -> String {
        let done = self.done();
        let mb_per_s = self.resealed_bytes as f64 / elapsed(self.started).max(1e-9) / 1e6;
        let progress = match (self.total_objects, self.total_bytes) {
            (Some(total), Some(bytes)) => {
                let left = bytes.saturating_sub(self.resealed_bytes) as f64 / 1e6;
                bar(done, total, left, mb_per_s)
            }
            _ => done.to_string(),
        };
        format!(
            "{progress} objects, {} bytes encrypted, {mb_per_s:.1} MB/s",
            self.resealed_bytes
        )
    }
}

/// Saves a running job's cursor and shows its progress (a bar on a terminal, JSON lines with `--json`), at
/// most every half second.
struct Reporter<'a> {
    cursor: &'a CursorFile,
    json: bool,
    bar: bool,
    last: Instant,
    failure: Option<anyhow::Error>,
}

impl<'a> Reporter<'a> {
    fn new(cursor: &'a CursorFile, json: bool) -> Self {
        Self {
            cursor,
            json,
            bar: !json && std::io::stderr().is_terminal(),
            last: Instant::now(),
            failure: None,
        }
    }

    fn tick(&mut self, p: &impl Shown) {
        if self.last.elapsed() < Duration::from_millis(500) {
            return;
        }
        self.last = Instant::now();
        if let Err(e) = self.cursor.save_position(&p.position()) {
            self.failure.get_or_insert(e);
        }
        let shown = if self.json {
            output::line(&p.json(false).to_string())
        } else if self.bar {
            let mut err = std::io::stderr().lock();
            write!(err, "\r{}", p.bar())
                .and_then(|()| err.flush())
                .context("writing to stderr")
        } else {
            Ok(())
        };
        if let Err(e) = shown {
            self.failure.get_or_insert(e);
        }
    }

    /// Ends the bar; the finished job's progress (its cursor removed), or why it stopped (its cursor kept).
    fn finish<P: Shown, E>(self, outcome: Result<P, E>, what: &str) -> anyhow::Result<P>
    where
        E: std::error::Error + Send + Sync + 'static,
    {
        if self.bar {
            let _ = writeln!(std::io::stderr());
        }
        if let Some(e) = self.failure {
            return Err(e);
        }
        let progress = outcome
            .map_err(|e| anyhow::Error::new(e).context(format!("{what} stopped; run it again to resume")))?;
        self.cursor.remove()?;
        if self.json {
            output::line(&progress.json(true).to_string())?;
        }
        Ok(progress)
    }
}

fn state_path(data_dir: Option<&Path>, explicit: Option<PathBuf>, name: &str) -> anyhow::Result<PathBuf> {
    if let Some(p) = explicit {
        return Ok(p);
    }
    let Some(dir) = data_dir else {
        bail!("pass --state FILE (or --data-dir) to keep the job's cursor");
    };
    let jobs = dir.join("jobs");
    std::fs::create_dir_all(&jobs).with_context(|| format!("creating {}", jobs.display()))?;
    Ok(jobs.join(format!("{name}.json")))
}

/// `cang admin rewrap`
pub async fn rewrap(ctx: &Connection, data_dir: Option<&Path>, args: RewrapArgs) -> anyhow::Result<()> {
    let RewrapScope {
        key,
        bucket,
        from_version,
    } = args.scope;
    let key_id = wrapping_key_id(ctx, &key).await?;
    let account = match ServiceKeySuite::from_key_id(&key_id) {
        Some(_) => None,
        None => Some(AccountId::new(ctx.account()?)?),
    };
    let job = RewrapJob {
        key_id: key_id.clone(),
        account,
        bucket: bucket.clone(),
        from_version: from_version.clone(),
        rate: args.rate,
    };
    let cursor_file = CursorFile {
        path: state_path(data_dir, args.state, &format!("rewrap-{key_id}"))?,
        job: json!({ "key": key_id, "bucket": bucket, "from_version": from_version }),
    };
    if args.restart {
        cursor_file.remove()?;
    }
    let resume = cursor_file.load()?;
    let (meta, kms) = (ctx.meta()?, ctx.kms()?);
    let mut reporter = Reporter::new(&cursor_file, ctx.json);
    let outcome = rewrap::run(&meta, &kms, &job, resume, &mut |p| reporter.tick(p)).await;
    let progress = reporter.finish(outcome, "rewrap")?;
    if ctx.json {
        return Ok(());
    }
    output::line(&format!(
        "rewrapped {} objects ({} bytes) and {} unfinished uploads to version {} with {} ReEncrypt calls; {} already \
         current, {} changed meanwhile",
        progress.rewrapped,
        progress.rewrapped_bytes,
        progress.uploads_rewrapped,
        progress.target_version.as_deref().unwrap_or("-"),
        progress.reencrypt_calls,
        progress.current,
        progress.changed,
    ))
}

/// `cang admin kms retire-version`: refused while the inventory shows anything under the version, or objects
/// whose version was never recorded (a rewrap of the key records them).
pub async fn retire_version(
    ctx: &Connection,
    kms: &cang_kms_api::KmsGrpcClient,
    account: &AccountId,
    key: &str,
    version: &str,
) -> anyhow::Result<()> {
    if ServiceKeySuite::from_key_id(key).is_some() {
        bail!("service key versions are retired by the crypto service itself, not by hand");
    }
    let described = kms
        .describe_key(account, &KeyRef::parse(key)?)
        .await
        .with_context(|| format!("looking up key {key}"))?;
    let key_id = described.key_id.as_str().to_owned();
    let key_ref = KeyRef::Id(described.key_id.clone());
    if described.primary_key_version == version {
        bail!(
            "refused: {version} is the primary version of {key_id}; rotate the key, rewrap, then retire it"
        );
    }
    let rows = ctx.meta()?.key_inventory(InventoryQuery::default()).await?;
    let (mut objects, mut bytes, mut uploads, mut buckets) = (0u64, 0u64, 0u64, Vec::new());
    let mut unrecorded = 0u64;
    for row in &rows {
        match &row.wrapping {
            Some(w) if w.key_id == key_id && w.version_id == version => {
                objects += row.objects;
                bytes += row.bytes;
                uploads += row.uploads;
                buckets.push(row.bucket.clone());
            }
            None if row.algorithm == cang_meta_api::SseAlgorithm::Kms => {
                unrecorded += row.objects + row.uploads
            }
            _ => {}
        }
    }
    if objects + uploads > 0 {
        bail!(
            "refused: {objects} objects ({bytes} bytes) and {uploads} unfinished uploads in {} still depend on \
             version {version}; move them with `cang admin rewrap --key {key_id}`",
            buckets.join(", ")
        );
    }
    if unrecorded > 0 {
        bail!(
            "refused: {unrecorded} KMS objects or uploads were stored before key versions were recorded; \
             `cang admin rewrap --key {key_id}` records theirs"
        );
    }
    kms.retire_key_version(account, &key_ref, version)
        .await
        .context("RetireKeyVersion")?;
    super::render::show(
        ctx,
        json!({ "KeyId": key_id, "KeyVersionId": version, "Retired": true }),
        || format!("retired version {version} of {key_id}: its material is deleted"),
    )
}

/// The encryption `encrypt-existing` brings objects to.
#[derive(Debug, Args)]
pub struct TargetArgs {
    /// The encryption to bring objects to: AES256, SM4 or KMS.
    #[arg(long, required_unless_present = "to_default", conflicts_with = "to_default")]
    sse: Option<String>,
    /// With `--sse KMS`: the CMK (id or alias; default: the managed key alias/acs/oss).
    #[arg(long, requires = "sse")]
    key: Option<String>,
    /// With `--sse KMS`: encrypt the data with SM4 (`x-oss-server-side-data-encryption: SM4`).
    #[arg(long, requires = "sse")]
    sm4_data: bool,
    /// Bring objects to the bucket's current default encryption.
    #[arg(long)]
    to_default: bool,
}

impl TargetArgs {
    /// The target the flags name.
    pub fn target(&self) -> anyhow::Result<Target> {
        Ok(
            match self.sse.as_deref().map(str::to_ascii_uppercase).as_deref() {
                None => Target::BucketDefault,
                Some("AES256") if self.key.is_none() && !self.sm4_data => Target::Aes256,
                Some("SM4") if self.key.is_none() && !self.sm4_data => Target::Sm4,
                Some("KMS") => Target::Kms {
                    key: self.key.clone(),
                    sm4_data: self.sm4_data,
                },
                Some("AES256" | "SM4") => bail!("--key and --sm4-data go with --sse KMS"),
                Some(other) => bail!("--sse must be AES256, SM4 or KMS, not {other}"),
            },
        )
    }
}

/// `cang admin encrypt-existing`
#[derive(Debug, Args)]
pub struct EncryptExistingArgs {
    /// The bucket.
    #[arg(long)]
    bucket: String,
    /// Only keys starting with this.
    #[arg(long, default_value = "")]
    prefix: String,
    #[command(flatten)]
    target: TargetArgs,
    /// At most this many objects per second.
    #[arg(long)]
    rate: Option<f64>,
    /// Where the job's cursor is kept between runs (default: `jobs/` in --data-dir).
    #[arg(long)]
    state: Option<PathBuf>,
    /// Start from the beginning even if a cursor was saved.
    #[arg(long)]
    restart: bool,
}

/// `cang admin encrypt-existing`
pub async fn encrypt_existing(
    ctx: &Connection,
    data_dir: Option<&Path>,
    args: EncryptExistingArgs,
) -> anyhow::Result<()> {
    let target = args.target.target()?;
    let job = ResealJob {
        bucket: args.bucket.clone(),
        prefix: args.prefix.clone(),
        target: target.clone(),
        rate: args.rate,
    };
    let cursor_file = CursorFile {
        path: state_path(data_dir, args.state, &format!("encrypt-{}", args.bucket))?,
        job: json!({
            "bucket": args.bucket, "prefix": args.prefix, "target": format!("{target:?}"),
        }),
    };
    if args.restart {
        cursor_file.remove()?;
    }
    let resume = cursor_file
        .load_position()?
        .and_then(|p| p.get("after").and_then(Value::as_str).map(str::to_owned));
    let kms: std::sync::Arc<dyn KmsApi> = std::sync::Arc::new(ctx.kms()?);
    let meta: std::sync::Arc<dyn cang_meta_api::MetaApi> = std::sync::Arc::new(ctx.meta()?);
    let mut reporter = Reporter::new(&cursor_file, ctx.json);
    let outcome = reseal::run(kms, meta, &job, resume, &mut |p| reporter.tick(p)).await;
    let progress = reporter.finish(outcome, "encrypt-existing")?;
    if ctx.json {
        return Ok(());
    }
    output::line(&format!(
        "encrypted {} objects ({} bytes) under {}; {} already were, {} appendable left alone, {} changed meanwhile",
        progress.resealed,
        progress.resealed_bytes,
        progress.target.as_ref().map_or("-".to_owned(), |(a, k)| match k {
            Some(k) => format!("{} {k}", a.as_str()),
            None => a.as_str().to_owned(),
        }),
        progress.current,
        progress.appendable,
        progress.changed,
    ))
}

/// `cang admin verify`
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// Only this bucket.
    #[arg(long)]
    bucket: Option<String>,
    /// Read and decrypt every byte (every segment must authenticate; CRC-64 and MD5 must match what was
    /// recorded), not only unwrap every data key.
    #[arg(long)]
    deep: bool,
}

/// `cang admin verify`: fails (non-zero exit) if any object does not open.
pub async fn verify(ctx: &Connection, args: VerifyArgs) -> anyhow::Result<()> {
    use cang_gateway::verify::{self, VerifyJob, VerifyProgress};
    let job = VerifyJob {
        bucket: args.bucket,
        deep: args.deep,
    };
    let kms: std::sync::Arc<dyn KmsApi> = std::sync::Arc::new(ctx.kms()?);
    let meta: std::sync::Arc<dyn cang_meta_api::MetaApi> = std::sync::Arc::new(ctx.meta()?);
    let shown = !ctx.json && std::io::stderr().is_terminal();
    let (started, mut last) = (Instant::now(), Instant::now());
    let mut tick = |p: &VerifyProgress| {
        if shown && last.elapsed() >= Duration::from_millis(500) {
            last = Instant::now();
            let rate = p.objects as f64 / started.elapsed().as_secs_f64().max(1e-9);
            let left = p.total_objects.saturating_sub(p.objects + p.changed) as f64;
            let mut err = std::io::stderr().lock();
            let _ = write!(
                err,
                "\r{} objects, {} problems",
                bar(p.objects + p.changed, p.total_objects, left, rate),
                p.problems.len()
            )
            .and_then(|()| err.flush());
        }
    };
    let progress = verify::run(kms, meta, &job, &mut tick).await?;
    if shown {
        let _ = writeln!(std::io::stderr());
    }
    let problems: Vec<Value> = progress
        .problems
        .iter()
        .map(|p| json!({ "bucket": p.bucket, "key": p.key, "problem": p.what }))
        .collect();
    if ctx.json {
        output::json(&json!({
            "deep": job.deep,
            "objects": progress.objects,
            "bytes": progress.bytes,
            "keys_unwrapped": progress.keys,
            "decrypted_bytes": progress.decrypted_bytes,
            "changed_meanwhile": progress.changed,
            "problems": problems,
        }))?;
    } else {
        for p in &progress.problems {
            output::line(&format!("{}/{}: {}", p.bucket, p.key, p.what))?;
        }
        output::line(&format!(
            "checked {} objects ({} bytes): {} data keys unwrapped, {} bytes decrypted, {} changed meanwhile, {} \
             problems",
            progress.objects,
            progress.bytes,
            progress.keys,
            progress.decrypted_bytes,
            progress.changed,
            progress.problems.len()
        ))?;
    }
    if !progress.problems.is_empty() {
        bail!("{} objects do not open", progress.problems.len());
    }
    Ok(())
}
