//! The child processes of `cang up`: each service is this same binary run with its subcommand, in its own
//! process group (so a terminal's Ctrl-C reaches only `up`, which stops them in order), logging to a file
//! under the data directory.

use std::ffi::OsString;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use anyhow::Context;
use rustix::process::{Pid, Signal, kill_process};
use tokio::process::Command;
use tokio::sync::mpsc;

/// A running child.
#[derive(Debug)]
struct Running {
    name: &'static str,
    pid: Pid,
    log: PathBuf,
}

/// A child that ended, and how.
#[derive(Debug)]
pub struct Exit {
    /// The service name (`kms`, `meta`, `gateway`).
    pub name: &'static str,
    /// How it ended.
    pub status: String,
    /// Its log file.
    pub log: PathBuf,
}

/// Starts children and reports or ends them.
#[derive(Debug)]
pub struct Supervisor {
    log_dir: PathBuf,
    running: Vec<Running>,
    exits_tx: mpsc::UnboundedSender<(&'static str, String)>,
    exits_rx: mpsc::UnboundedReceiver<(&'static str, String)>,
}

impl Supervisor {
    /// A supervisor writing child logs into `log_dir`.
    pub fn new(log_dir: &Path) -> anyhow::Result<Self> {
        cang_tls::ensure_private_dir(log_dir)?;
        let (exits_tx, exits_rx) = mpsc::unbounded_channel();
        Ok(Self {
            log_dir: log_dir.to_path_buf(),
            running: Vec::new(),
            exits_tx,
            exits_rx,
        })
    }

    /// Runs `cang <args…>` as the child `name`.
    pub fn spawn(&mut self, name: &'static str, args: Vec<OsString>) -> anyhow::Result<()> {
        let exe = std::env::current_exe().context("locating the cang executable")?;
        let log = self.log_dir.join(format!("{name}.log"));
        // Logs name keys, accounts and paths: private like the rest of the instance.
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .mode(cang_tls::PRIVATE_FILE_MODE)
            .open(&log)
            .with_context(|| format!("opening {}", log.display()))?;
        let mut command = Command::new(&exe);
        command
            .args(&args)
            .arg("--parent-pid")
            .arg(std::process::id().to_string())
            .stdin(Stdio::null())
            .stdout(file.try_clone().context("duplicating the log file handle")?)
            .stderr(file)
            .process_group(0)
            .kill_on_drop(true);
        // The child's configuration is its command line; our own CANG_* settings must not leak into it.
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("CANG_") {
                command.env_remove(key);
            }
        }
        let mut child = command
            .spawn()
            .with_context(|| format!("starting {} {name}", exe.display()))?;
        let pid = child
            .id()
            .and_then(|id| i32::try_from(id).ok())
            .and_then(Pid::from_raw)
            .with_context(|| format!("{name} exited at once"))?;
        let exits = self.exits_tx.clone();
        tokio::spawn(async move {
            let status = match child.wait().await {
                Ok(status) => describe(status),
                Err(e) => format!("unknown status ({e})"),
            };
            // The receiver lives as long as the supervisor; after it is gone nobody needs to know.
            let _ = exits.send((name, status));
        });
        self.running.push(Running { name, pid, log });
        Ok(())
    }

    /// Waits until any child ends and reports which one. Pending forever if none runs.
    pub async fn next_exit(&mut self) -> Exit {
        loop {
            let Some((name, status)) = self.exits_rx.recv().await else {
                return std::future::pending().await;
            };
            if let Some(pos) = self.running.iter().position(|r| r.name == name) {
                let child = self.running.remove(pos);
                return Exit {
                    name,
                    status,
                    log: child.log,
                };
            }
        }
    }

    /// Stops every child, newest first (the gateway drains while its backends still serve): SIGTERM,
    /// then SIGKILL for any still running after `deadline`.
    pub async fn stop_all(&mut self, deadline: Duration) {
        while let Some(child) = self.running.last() {
            let name = child.name;
            // The child may have exited already; its status is then in the channel.
            let _ = kill_process(child.pid, Signal::TERM);
            if tokio::time::timeout(deadline, self.wait_for(name)).await.is_err() {
                if let Some(child) = self.running.iter().find(|r| r.name == name) {
                    eprintln!("{name} did not stop within {deadline:?}; killing it");
                    let _ = kill_process(child.pid, Signal::KILL);
                }
                // SIGKILL cannot be refused; the bound only guards against an unreapable child.
                let _ = tokio::time::timeout(Duration::from_secs(5), self.wait_for(name)).await;
                self.running.retain(|r| r.name != name);
            }
        }
    }

    async fn wait_for(&mut self, name: &'static str) {
        while self.running.iter().any(|r| r.name == name) {
            self.next_exit().await;
        }
    }
}

fn describe(status: ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exit code {code}"),
        (None, Some(signal)) => format!("killed by signal {signal}"),
        _ => status.to_string(),
    }
}

/// The last `n` non-empty lines of a log file (best effort: empty if unreadable).
pub fn log_tail(path: &Path, n: usize) -> Vec<String> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    lines[lines.len().saturating_sub(n)..]
        .iter()
        .map(|l| (*l).to_owned())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tail_keeps_the_last_non_empty_lines() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("x.log");
        std::fs::write(&path, "a\n\nb\nc\n\n")?;
        assert_eq!(log_tail(&path, 2), vec!["b", "c"]);
        assert_eq!(log_tail(&path, 10), vec!["a", "b", "c"]);
        assert!(log_tail(&dir.path().join("missing"), 3).is_empty());
        Ok(())
    }
}
