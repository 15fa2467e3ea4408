//! `cang kms` startup refusals: one clear line on stderr, a non-zero exit, nothing created.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use common::{cang, run_bounded};

#[test]
fn a_world_readable_root_key_is_refused_with_a_clear_message() -> anyhow::Result<()> {
    let tmp = tempfile::tempdir()?;
    let key = tmp.path().join("root.key");
    std::fs::write(&key, "ab".repeat(32))?;
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644))?;
    cang_tls::write_dev_pki(&tmp.path().join("tls"))?;
    let data = tmp.path().join("kms");
    let mut command = cang();
    command
        .arg("kms")
        .arg("--data-dir")
        .arg(&data)
        .arg("--root-key-file")
        .arg(&key)
        .arg("--tls-dir")
        .arg(tmp.path().join("tls"))
        .arg("--listen")
        .arg("127.0.0.1:0");
    let out = run_bounded(command, Duration::from_secs(30))?;
    assert!(!out.status.success());
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        stderr.trim().lines().count(),
        1,
        "one line, no backtrace: {stderr}"
    );
    assert!(stderr.contains("root key file"), "{stderr}");
    assert!(stderr.contains("644"), "{stderr}");
    assert!(stderr.contains("chmod 600"), "{stderr}");
    assert!(!data.exists(), "nothing is created when the key is refused");

    // With the mode fixed, the same command gets past the key check (and is then stopped by SIGTERM).
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600))?;
    let mut command = cang();
    command
        .arg("kms")
        .arg("--data-dir")
        .arg(&data)
        .arg("--root-key-file")
        .arg(&key)
        .arg("--tls-dir")
        .arg(tmp.path().join("tls"))
        .arg("--listen")
        .arg("127.0.0.1:0")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped());
    let mut child = command.spawn()?;
    let keystore = data.join("keystore.redb");
    let started = std::time::Instant::now();
    while !keystore.exists() && started.elapsed() < Duration::from_secs(30) {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        keystore.exists(),
        "the keystore is created once the key is accepted"
    );
    let pid =
        rustix::process::Pid::from_raw(i32::try_from(child.id())?).ok_or_else(|| anyhow::anyhow!("pid 0"))?;
    rustix::process::kill_process(pid, rustix::process::Signal::TERM)?;
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        anyhow::ensure!(
            started.elapsed() < Duration::from_secs(60),
            "cang kms ignored SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "SIGTERM is a clean stop: {status}");
    Ok(())
}

#[test]
fn missing_tls_files_are_one_clear_line() -> anyhow::Result<()> {
    let tmp = tempfile::tempdir()?;
    let mut command = cang();
    command
        .arg("meta")
        .arg("--data-dir")
        .arg(tmp.path().join("meta"))
        .arg("--tls-dir")
        .arg(tmp.path().join("no-such-dir"))
        .arg("--listen")
        .arg("127.0.0.1:0");
    let out = run_bounded(command, Duration::from_secs(30))?;
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(stderr.contains("no-such-dir"), "{stderr}");
    Ok(())
}
