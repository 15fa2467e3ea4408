//! File modes at rest: `cang up`, `cang meta` and `cang kms` make their data directories 0700 and every
//! file in them 0600 on every start, also when the directory existed before (a volume mount, mode 0755)
//! and its files were left open to others between starts.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use common::{Up, cang, free_port};
use rustix::process::{Pid, Signal, kill_process};

fn mode(path: &Path) -> anyhow::Result<u32> {
    Ok(std::fs::symlink_metadata(path)
        .with_context(|| path.display().to_string())?
        .permissions()
        .mode()
        & 0o7777)
}

/// Every directory and file under `root` (itself included), depth first.
fn tree(root: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut all = vec![root.to_path_buf()];
    let mut i = 0;
    while i < all.len() {
        if std::fs::symlink_metadata(&all[i])?.is_dir() {
            for entry in std::fs::read_dir(&all[i])? {
                all.push(entry?.path());
            }
        }
        i += 1;
    }
    Ok(all)
}

/// Every directory under `root` is 0700 and every file 0600; returns the files seen.
fn assert_private(root: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for path in tree(root)? {
        let meta = std::fs::symlink_metadata(&path)?;
        if meta.is_dir() {
            assert_eq!(mode(&path)?, 0o700, "directory {}", path.display());
        } else {
            assert!(meta.is_file(), "only directories and files: {}", path.display());
            assert_eq!(mode(&path)?, 0o600, "file {}", path.display());
            files.push(path);
        }
    }
    Ok(files)
}

/// Opens everything under `root` to others again: directories 0755, files 0644.
fn loosen(root: &Path) -> anyhow::Result<()> {
    for path in tree(root)? {
        let open = if std::fs::symlink_metadata(&path)?.is_dir() {
            0o755
        } else {
            0o644
        };
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(open))?;
    }
    Ok(())
}

#[test]
fn up_makes_a_preexisting_open_directory_and_everything_in_it_private_on_every_start() -> anyhow::Result<()> {
    let tmp = tempfile::tempdir()?;
    let dir = tmp.path().join("volume");
    std::fs::create_dir(&dir)?;
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755))?;
    let port = free_port()?;

    let mut up = Up::start(&dir, port, "first")?;
    let files = assert_private(&dir)?;
    let names: Vec<String> = files
        .iter()
        .filter_map(|f| f.strip_prefix(&dir).ok())
        .map(|f| f.display().to_string())
        .collect();
    for expected in [
        "root.key",
        "credentials.env",
        "instance.json",
        "kms/keystore.redb",
        "meta/meta.redb",
        "tls/gateway-key.pem",
        "tls/admin-key.pem",
        "tls/ca.pem",
        "logs/meta.log",
    ] {
        assert!(
            names.iter().any(|n| n == expected),
            "{expected} missing: {names:?}"
        );
    }
    assert!(up.terminate()?.success(), "{}", up.errors());
    drop(up);

    // Opened up between starts (a copy, a restore, a kubelet applying fsGroup): narrowed again.
    loosen(&dir)?;
    let mut again = Up::start(&dir, port, "second")?;
    assert_private(&dir)?;
    assert!(again.terminate()?.success(), "{}", again.errors());
    Ok(())
}

/// A standalone service process, its output going to a file.
struct Service {
    child: Child,
    log: PathBuf,
}

impl Service {
    fn start(args: &[&std::ffi::OsStr], log: PathBuf) -> anyhow::Result<Self> {
        let out = std::fs::File::create(&log)?;
        let child = cang()
            .args(args)
            .arg("--log-format")
            .arg("json")
            .stdin(Stdio::null())
            .stdout(out.try_clone()?)
            .stderr(out)
            .spawn()?;
        Ok(Self { child, log })
    }

    /// Waits until the log says `needle` (the service has opened its store and serves).
    fn wait_for(&mut self, needle: &str) -> anyhow::Result<()> {
        let started = Instant::now();
        loop {
            let text = std::fs::read_to_string(&self.log).unwrap_or_default();
            if text.contains(needle) {
                return Ok(());
            }
            if let Some(status) = self.child.try_wait()? {
                bail!("exited early ({status}): {text}");
            }
            if started.elapsed() > common::STARTUP_DEADLINE {
                bail!("not serving within {:?}: {text}", common::STARTUP_DEADLINE);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn stop(mut self) -> anyhow::Result<()> {
        let pid = Pid::from_raw(i32::try_from(self.child.id())?).context("pid 0")?;
        kill_process(pid, Signal::TERM)?;
        let started = Instant::now();
        while self.child.try_wait()?.is_none() {
            if started.elapsed() > common::STOP_DEADLINE {
                self.child.kill()?;
                bail!("did not stop within {:?}", common::STOP_DEADLINE);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(())
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Runs a service twice on `data` (pre-created 0755, loosened again between the runs) and checks that
/// the directory and `store` in it are private after each start.
fn check_service(data: &Path, store: &str, args: &[&std::ffi::OsStr], serving: &str) -> anyhow::Result<()> {
    std::fs::create_dir(data)?;
    std::fs::set_permissions(data, std::fs::Permissions::from_mode(0o755))?;
    for run in ["first", "second"] {
        let mut service = Service::start(args, data.with_extension(format!("{run}.log")))?;
        service.wait_for(serving)?;
        let files = assert_private(data)?;
        assert!(
            files.iter().any(|f| f.ends_with(store)),
            "{run}: {store} missing: {files:?}"
        );
        service.stop()?;
        loosen(data)?;
    }
    Ok(())
}

#[test]
fn standalone_meta_makes_its_data_directory_and_store_private_on_every_start() -> anyhow::Result<()> {
    let tmp = tempfile::tempdir()?;
    let tls = tmp.path().join("tls");
    cang_tls::write_dev_pki(&tls)?;
    let data = tmp.path().join("meta");
    let listen = format!("127.0.0.1:{}", free_port()?);
    let args = [
        "meta".as_ref(),
        "--data-dir".as_ref(),
        data.as_os_str(),
        "--tls-dir".as_ref(),
        tls.as_os_str(),
        "--listen".as_ref(),
        listen.as_ref(),
    ];
    check_service(&data, "meta.redb", &args, "cang meta serving")
}

#[test]
fn standalone_kms_makes_its_data_directory_and_keystore_private_on_every_start() -> anyhow::Result<()> {
    let tmp = tempfile::tempdir()?;
    let tls = tmp.path().join("tls");
    cang_tls::write_dev_pki(&tls)?;
    let key = tmp.path().join("root.key");
    std::fs::write(&key, "cd".repeat(32))?;
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600))?;
    let data = tmp.path().join("kms");
    let listen = format!("127.0.0.1:{}", free_port()?);
    let args = [
        "kms".as_ref(),
        "--data-dir".as_ref(),
        data.as_os_str(),
        "--root-key-file".as_ref(),
        key.as_os_str(),
        "--tls-dir".as_ref(),
        tls.as_os_str(),
        "--listen".as_ref(),
        listen.as_ref(),
    ];
    check_service(&data, "keystore.redb", &args, "cang kms serving")
}
