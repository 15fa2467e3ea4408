//! Helpers for the binary's end-to-end tests: run `cang` as a real child process in a temp dir, wait for
//! `cang up` with a deadline, find its children through /proc, and sign a minimal OSS V1 request.

#![allow(dead_code)] // each test binary uses a different subset of these helpers

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use rustix::process::{Pid, Signal, kill_process};

/// How long a `cang up` may take to report ready in a debug build on a busy 2-core machine.
pub const STARTUP_DEADLINE: Duration = Duration::from_secs(120);
/// How long it may take to stop.
pub const STOP_DEADLINE: Duration = Duration::from_secs(40);

/// The binary under test.
pub fn cang() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_cang"));
    // Settings of the developer's shell must not change what is tested.
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("CANG_") {
            command.env_remove(key);
        }
    }
    command
}

/// Runs `cang admin --data-dir DIR <args>` to completion (bounded).
pub fn admin(dir: &Path, args: &[&str]) -> anyhow::Result<Output> {
    let mut command = cang();
    command.arg("admin").arg("--data-dir").arg(dir).args(args);
    run_bounded(command, Duration::from_secs(60))
}

/// Runs `cang admin … --json`, requires success, and parses stdout.
pub fn admin_json(dir: &Path, args: &[&str]) -> anyhow::Result<serde_json::Value> {
    let mut all = args.to_vec();
    all.push("--json");
    let out = admin(dir, &all)?;
    if !out.status.success() {
        bail!(
            "cang admin {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    serde_json::from_slice(&out.stdout).with_context(|| {
        format!(
            "cang admin {args:?} printed no JSON: {}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

/// Runs `command` with captured output, killing it after `deadline`.
pub fn run_bounded(mut command: Command, deadline: Duration) -> anyhow::Result<Output> {
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    let started = Instant::now();
    loop {
        if child.try_wait()?.is_some() {
            return Ok(child.wait_with_output()?);
        }
        if started.elapsed() > deadline {
            child.kill()?;
            bail!("command did not finish within {deadline:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A free loopback port (released at once; good enough for a test).
pub fn free_port() -> anyhow::Result<u16> {
    Ok(TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?.local_addr()?.port())
}

/// A running `cang up`, stopped (SIGTERM, then SIGKILL) on drop.
#[derive(Debug)]
pub struct Up {
    /// The `cang up` process.
    pub child: Child,
    /// Its data directory.
    pub dir: PathBuf,
    /// The gateway address.
    pub addr: SocketAddr,
    /// Where its stdout goes.
    pub stdout: PathBuf,
    /// Where its stderr goes.
    pub stderr: PathBuf,
}

impl Up {
    /// Starts `cang up --data-dir dir --listen 127.0.0.1:port` and waits until it reports ready.
    pub fn start(dir: &Path, port: u16, run: &str) -> anyhow::Result<Self> {
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        let stdout = dir.with_extension(format!("{run}.stdout"));
        let stderr = dir.with_extension(format!("{run}.stderr"));
        let mut command = cang();
        command
            .arg("up")
            .arg("--data-dir")
            .arg(dir)
            .arg("--listen")
            .arg(addr.to_string());
        // A console port of its own on the first start (tests run side by side); a restart keeps the
        // recorded one, as `cang up` does by default.
        let recorded = std::fs::read_to_string(dir.join("instance.json")).unwrap_or_default();
        if !recorded.contains("\"console\"") {
            command
                .arg("--console-listen")
                .arg(format!("127.0.0.1:{}", free_port()?));
        }
        let child = command
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&stdout)?)
            .stderr(std::fs::File::create(&stderr)?)
            .spawn()?;
        let mut up = Self {
            child,
            dir: dir.to_path_buf(),
            addr,
            stdout,
            stderr,
        };
        let started = Instant::now();
        loop {
            if up.output().contains("Ctrl-C stops all services.") {
                return Ok(up);
            }
            if let Some(status) = up.child.try_wait()? {
                bail!("cang up exited early ({status}): {}", up.errors());
            }
            if started.elapsed() > STARTUP_DEADLINE {
                bail!("cang up not ready within {STARTUP_DEADLINE:?}: {}", up.errors());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// What it printed on stdout so far.
    pub fn output(&self) -> String {
        std::fs::read_to_string(&self.stdout).unwrap_or_default()
    }

    /// What it printed on stderr so far.
    pub fn errors(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    /// The pid of `cang up`.
    pub fn pid(&self) -> anyhow::Result<Pid> {
        Pid::from_raw(i32::try_from(self.child.id())?).context("pid 0")
    }

    /// Sends SIGTERM and waits (bounded) for the exit status.
    pub fn terminate(&mut self) -> anyhow::Result<ExitStatus> {
        kill_process(self.pid()?, Signal::TERM)?;
        self.wait(STOP_DEADLINE)
    }

    /// Waits (bounded) for `cang up` to exit.
    pub fn wait(&mut self, deadline: Duration) -> anyhow::Result<ExitStatus> {
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait()? {
                return Ok(status);
            }
            if started.elapsed() > deadline {
                bail!("cang up did not exit within {deadline:?}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Up {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.terminate();
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Processes whose parent is `parent`, with their command lines.
pub fn children_of(parent: u32) -> Vec<(u32, String)> {
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return found;
    };
    for entry in entries.flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // Fields after the parenthesised command name: state, ppid, …
        let ppid = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(1))
            .and_then(|p| p.parse::<u32>().ok());
        if ppid == Some(parent) {
            found.push((pid, cmdline(pid)));
        }
    }
    found
}

/// A process's command line with NULs as spaces (empty if it is gone).
pub fn cmdline(pid: u32) -> String {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|b| String::from_utf8_lossy(&b).replace('\0', " "))
        .unwrap_or_default()
}

/// Whether any process still runs with `needle` on its command line.
pub fn processes_mentioning(needle: &str) -> Vec<(u32, String)> {
    let mut found = Vec::new();
    if let Ok(entries) = std::fs::read_dir("/proc") {
        for entry in entries.flatten() {
            if let Some(pid) = entry.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) {
                let line = cmdline(pid);
                let zombie = std::fs::read_to_string(format!("/proc/{pid}/stat"))
                    .map(|s| {
                        s.rsplit_once(')')
                            .is_some_and(|(_, r)| r.trim_start().starts_with('Z'))
                    })
                    .unwrap_or(false);
                if line.contains(needle) && !zombie {
                    found.push((pid, line));
                }
            }
        }
    }
    found
}

/// Sends one HTTP/1.1 request and returns the status code and the whole response text.
pub fn http(addr: SocketAddr, head: &str) -> anyhow::Result<(u16, String)> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    stream.write_all(head.as_bytes())?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    let status = response
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .with_context(|| format!("not an HTTP response: {response:?}"))?;
    Ok((status, response))
}

/// `GET /` (ListBuckets) signed with OSS signature V1 by `key_id`/`secret`.
pub fn signed_list_buckets(addr: SocketAddr, key_id: &str, secret: &str) -> anyhow::Result<(u16, String)> {
    use base64::Engine;
    use hmac::{KeyInit, Mac};
    let format = time::macros::format_description!(
        "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
    );
    let date = time::OffsetDateTime::now_utc().format(&format)?;
    let mut mac = <hmac::Hmac<sha1::Sha1> as KeyInit>::new_from_slice(secret.as_bytes())?;
    mac.update(format!("GET\n\n\n{date}\n/").as_bytes());
    let signature = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    http(
        addr,
        &format!(
            "GET / HTTP/1.1\r\nHost: {addr}\r\nDate: {date}\r\nAuthorization: OSS {key_id}:{signature}\r\n\
             Connection: close\r\n\r\n"
        ),
    )
}

/// `KEY=value` lines of an env file.
pub fn env_file(path: &Path) -> anyhow::Result<std::collections::BTreeMap<String, String>> {
    Ok(std::fs::read_to_string(path)?
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect())
}
