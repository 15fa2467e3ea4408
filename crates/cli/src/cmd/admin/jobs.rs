//! `cang admin jobs`: rewrap and encrypt-existing run by a gateway (its `--jobs-listen`), started, listed,
//! watched and cancelled over gRPC with the admin certificate. The gateway audits each run's start and end
//! in the crypto service's audit log. Unlike `cang admin rewrap`, nothing runs here: the job goes on if
//! this command is interrupted.

use std::io::{IsTerminal, Write};

use anyhow::{Context as _, bail};
use cang_jobs_api::{EncryptExistingSpec, Job, JobSpec, JobState, JobsApi, RewrapSpec};
use clap::{Args, Subcommand};
use futures::StreamExt;
use serde_json::{Value, json};

use super::Connection;
use super::maintenance::{RewrapScope, TargetArgs};
use super::render::ms_time;
use crate::cmd::output::{self, Table};

/// `cang admin jobs …`
#[derive(Debug, Subcommand)]
pub enum JobsCommand {
    /// Start a rewrap job (as `cang admin rewrap`) and watch it.
    Rewrap(StartRewrapArgs),
    /// Start an encrypt-existing job (as `cang admin encrypt-existing`) and watch it.
    EncryptExisting(StartEncryptArgs),
    /// Running jobs, then recently finished ones.
    List,
    /// One job.
    Show {
        /// The job id.
        id: String,
    },
    /// Follow a job until it finishes (a bar, or JSON lines with --json).
    Watch {
        /// The job id.
        id: String,
    },
    /// Stop a running job (what it did stays done).
    Cancel {
        /// The job id.
        id: String,
    },
}

/// Flags every job start takes.
#[derive(Debug, Args)]
pub struct StartArgs {
    /// At most this many objects per second.
    #[arg(long)]
    rate: Option<f64>,
    /// Print the started job and return at once, instead of watching it.
    #[arg(long)]
    detach: bool,
}

/// `cang admin jobs rewrap`
#[derive(Debug, Args)]
pub struct StartRewrapArgs {
    #[command(flatten)]
    scope: RewrapScope,
    #[command(flatten)]
    start: StartArgs,
}

/// `cang admin jobs encrypt-existing`
#[derive(Debug, Args)]
pub struct StartEncryptArgs {
    /// The bucket.
    #[arg(long)]
    bucket: String,
    /// Only keys starting with this.
    #[arg(long, default_value = "")]
    prefix: String,
    #[command(flatten)]
    target: TargetArgs,
    #[command(flatten)]
    start: StartArgs,
}

/// Runs one `cang admin jobs` command.
pub async fn run(ctx: &Connection, cmd: JobsCommand) -> anyhow::Result<()> {
    let jobs = ctx.jobs()?;
    match cmd {
        JobsCommand::Rewrap(args) => {
            let spec = JobSpec::Rewrap(RewrapSpec {
                key: args.scope.key,
                account: ctx.account().map(str::to_owned).unwrap_or_default(),
                bucket: args.scope.bucket,
                from_version: args.scope.from_version,
            });
            start(ctx, &jobs, spec, args.start).await
        }
        JobsCommand::EncryptExisting(args) => {
            let spec = JobSpec::EncryptExisting(EncryptExistingSpec {
                bucket: args.bucket,
                prefix: args.prefix,
                target: args.target.target()?,
            });
            start(ctx, &jobs, spec, args.start).await
        }
        JobsCommand::List => {
            let list = jobs.list_jobs().await.context("ListJobs")?;
            if ctx.json {
                return output::json(&json!({ "jobs": list.iter().map(job_json).collect::<Vec<_>>() }));
            }
            let mut table = Table::new(&["ID", "KIND", "STATE", "STARTED", "DONE", "TOTAL", "TARGET"]);
            for job in &list {
                table.row(vec![
                    job.id.clone(),
                    job.spec.kind().to_owned(),
                    job.state.as_str().to_owned(),
                    started(job),
                    job.progress.done().to_string(),
                    job.progress
                        .total_objects
                        .map_or_else(|| "-".to_owned(), |t| t.to_string()),
                    job.progress.target.clone(),
                ]);
            }
            output::line(table.render().trim_end())
        }
        JobsCommand::Show { id } => {
            let job = jobs.get_job(&id).await.context("GetJob")?;
            shown(ctx, &job)
        }
        JobsCommand::Watch { id } => watch(ctx, &jobs, &id).await,
        JobsCommand::Cancel { id } => {
            let job = jobs.cancel_job(&id).await.context("CancelJob")?;
            shown(ctx, &job)
        }
    }
}

async fn start(ctx: &Connection, jobs: &impl JobsApi, spec: JobSpec, args: StartArgs) -> anyhow::Result<()> {
    let job = jobs.start_job(spec, args.rate).await.context("StartJob")?;
    if args.detach {
        return shown(ctx, &job);
    }
    if !ctx.json {
        output::line(&format!(
            "job {} started; `cang admin jobs watch {}` follows it",
            job.id, job.id
        ))?;
    }
    watch(ctx, jobs, &job.id).await
}

fn started(job: &Job) -> String {
    ms_time(u64::try_from(job.started_unix_ms).unwrap_or(0))
}

fn job_json(job: &Job) -> Value {
    let p = &job.progress;
    let spec = match &job.spec {
        JobSpec::Rewrap(r) => json!({
            "key": r.key, "account": r.account, "bucket": r.bucket, "from_version": r.from_version,
        }),
        JobSpec::EncryptExisting(e) => json!({
            "bucket": e.bucket, "prefix": e.prefix, "target": format!("{:?}", e.target),
        }),
    };
    json!({
        "id": job.id,
        "kind": job.spec.kind(),
        "spec": spec,
        "rate": job.rate,
        "state": job.state.as_str(),
        "error": job.error,
        "started": started(job),
        "finished": job.finished_unix_ms.map(|t| ms_time(u64::try_from(t).unwrap_or(0))),
        "progress": {
            "total_objects": p.total_objects,
            "total_bytes": p.total_bytes,
            "processed": p.processed,
            "processed_bytes": p.processed_bytes,
            "current": p.current,
            "changed": p.changed,
            "appendable": p.appendable,
            "uploads": p.uploads,
            "kms_calls": p.kms_calls,
            "target": p.target,
            "cursor": p.cursor,
        },
    })
}

/// One line about a job: where it is and what it did.
fn summary(job: &Job) -> String {
    let p = &job.progress;
    let total = p.total_objects.map_or_else(String::new, |t| format!("/{t}"));
    let mut line = format!(
        "job {} ({}) {}: {}{total} objects done — {} processed ({} bytes), {} already current, {} changed \
         meanwhile",
        job.id,
        job.spec.kind(),
        job.state.as_str(),
        p.done(),
        p.processed,
        p.processed_bytes,
        p.current,
        p.changed,
    );
    if p.appendable > 0 {
        line.push_str(&format!(", {} appendable left alone", p.appendable));
    }
    if p.uploads > 0 {
        line.push_str(&format!(", {} uploads", p.uploads));
    }
    if !p.target.is_empty() {
        line.push_str(&format!("; target {}", p.target));
    }
    if let Some(e) = &job.error {
        line.push_str(&format!("; error: {e}"));
    }
    line
}

fn shown(ctx: &Connection, job: &Job) -> anyhow::Result<()> {
    super::render::show(ctx, job_json(job), || summary(job))
}

/// Follows a job to its end; fails if the job did not succeed.
async fn watch(ctx: &Connection, jobs: &impl JobsApi, id: &str) -> anyhow::Result<()> {
    let mut stream = jobs.watch_job(id).await.context("WatchJob")?;
    let bar = !ctx.json && std::io::stderr().is_terminal();
    let mut last = None;
    while let Some(job) = stream.next().await {
        let job = job.context("watching the job")?;
        if ctx.json {
            output::line(&job_json(&job).to_string())?;
        } else if bar {
            let mut err = std::io::stderr().lock();
            write!(err, "\r{}", summary(&job))
                .and_then(|()| err.flush())
                .context("writing to stderr")?;
        }
        last = Some(job);
    }
    if bar {
        let _ = writeln!(std::io::stderr());
    }
    let Some(job) = last else {
        bail!("the gateway sent nothing about job {id}");
    };
    if !ctx.json {
        output::line(&summary(&job))?;
    }
    match job.state {
        JobState::Succeeded => Ok(()),
        JobState::Running => bail!("the gateway stopped reporting job {id} before it finished"),
        JobState::Failed | JobState::Cancelled => bail!("job {id} {}", job.state.as_str()),
    }
}
