//! The data directory of a `cang up` instance: where the root key, certificates, stores, logs and
//! credentials live, all private to their owner, and `instance.json`, which records the account and the
//! addresses `cang admin` uses.

use std::io::Write;
use std::net::SocketAddr;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use cang_tls::Privacy;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

/// Paths inside one instance's data directory.
#[derive(Debug, Clone)]
pub struct InstanceDir {
    root: PathBuf,
}

impl InstanceDir {
    /// The layout rooted at `root`.
    pub fn new(root: &Path) -> Self {
        Self {
            root: root.to_path_buf(),
        }
    }

    /// The directory itself.
    pub fn root(&self) -> &Path {
        &self.root
    }
    /// The root key sealing the keystore.
    pub fn root_key(&self) -> PathBuf {
        self.root.join("root.key")
    }
    /// The dev PKI (CA and one certificate per identity).
    pub fn tls(&self) -> PathBuf {
        self.root.join("tls")
    }
    /// The crypto service's data directory.
    pub fn kms(&self) -> PathBuf {
        self.root.join("kms")
    }
    /// The metadata service's data directory.
    pub fn meta(&self) -> PathBuf {
        self.root.join("meta")
    }
    /// Log files of the child processes.
    pub fn logs(&self) -> PathBuf {
        self.root.join("logs")
    }
    /// The SDK settings of the first account.
    pub fn credentials(&self) -> PathBuf {
        self.root.join("credentials.env")
    }
    /// The key the gateway seals console sessions with.
    pub fn console_key(&self) -> PathBuf {
        self.root.join("console.key")
    }
    /// Recorded account and addresses.
    pub fn state_file(&self) -> PathBuf {
        self.root.join("instance.json")
    }

    /// Reads `instance.json`, or the empty state if there is none yet.
    pub fn load_state(&self) -> anyhow::Result<InstanceState> {
        let path = self.state_file();
        match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .with_context(|| format!("{} is not a valid instance file", path.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(InstanceState::default()),
            Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
        }
    }

    /// Reads `instance.json`, which must exist (i.e. `cang up` ran here).
    pub fn require_state(&self) -> anyhow::Result<InstanceState> {
        if !self.state_file().exists() {
            bail!(
                "{} has no instance.json: run `cang up --data-dir {}` first",
                self.root.display(),
                self.root.display()
            );
        }
        self.load_state()
    }

    /// Replaces `instance.json` atomically.
    pub fn save_state(&self, state: &InstanceState) -> anyhow::Result<()> {
        let text = serde_json::to_vec_pretty(state).context("encoding instance state")?;
        write_atomically(&self.state_file(), &text, cang_tls::PRIVATE_FILE_MODE)
    }

    /// Reads `credentials.env`, if present.
    pub fn load_credentials(&self) -> anyhow::Result<Option<Credentials>> {
        let path = self.credentials();
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => Zeroizing::new(text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
        };
        Credentials::parse(&text)
            .map(Some)
            .with_context(|| format!("{} is incomplete", path.display()))
    }

    /// Writes `credentials.env` (mode 0600) atomically.
    pub fn save_credentials(&self, credentials: &Credentials) -> anyhow::Result<()> {
        write_atomically(
            &self.credentials(),
            credentials.render().as_bytes(),
            cang_tls::PRIVATE_FILE_MODE,
        )
    }

    /// Makes the instance private, on every start: the directory (created if missing) and every
    /// directory under it at most 0700, every file at most 0600, whoever created them (a volume mount,
    /// a copy, an older version). Symbolic links are not followed. Returns what was left as it is
    /// because another user owns it (e.g. a root key mounted group-readable for this process).
    pub fn make_private(&self) -> anyhow::Result<Vec<(PathBuf, Privacy)>> {
        let mut foreign = Vec::new();
        let privacy = cang_tls::ensure_private_dir(&self.root)?;
        if matches!(privacy, Privacy::NotOwned { .. }) {
            foreign.push((self.root.clone(), privacy));
        }
        make_tree_private(&self.root, &mut foreign)?;
        Ok(foreign)
    }
}

/// Narrows everything under `dir` (see [`InstanceDir::make_private`]).
fn make_tree_private(dir: &Path, foreign: &mut Vec<(PathBuf, Privacy)>) -> anyhow::Result<()> {
    let entries = std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))?;
    for entry in entries {
        let entry = entry.with_context(|| format!("reading {}", dir.display()))?;
        let path = entry.path();
        let kind = entry
            .file_type()
            .with_context(|| format!("inspecting {}", path.display()))?;
        let privacy = if kind.is_dir() {
            let privacy = cang_tls::ensure_private_dir(&path)?;
            make_tree_private(&path, foreign)?;
            privacy
        } else if kind.is_file() {
            cang_tls::ensure_private_file(&path)?
        } else {
            continue;
        };
        if matches!(privacy, Privacy::NotOwned { .. }) {
            foreign.push((path, privacy));
        }
    }
    Ok(())
}

/// What `cang up` records for itself and for `cang admin`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstanceState {
    /// The first account, created on first start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_id: Option<String>,
    /// Where `cang kms` listens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kms: Option<SocketAddr>,
    /// Where `cang meta` listens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meta: Option<SocketAddr>,
    /// Where the gateway listens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gateway: Option<SocketAddr>,
    /// Where the crypto service's KMS OpenAPI listens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kms_openapi: Option<SocketAddr>,
    /// Where the crypto service's gRPC API for applications listens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kms_grpc: Option<SocketAddr>,
    /// Where the gateway serves key-maintenance jobs (gRPC, admin certificate only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jobs: Option<SocketAddr>,
    /// Where the gateway serves the web console.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub console: Option<SocketAddr>,
}

/// The SDK settings written to `credentials.env`.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// `OSS_ENDPOINT`.
    pub endpoint: String,
    /// `OSS_ACCESS_KEY_ID`.
    pub access_key_id: String,
    /// `OSS_ACCESS_KEY_SECRET`.
    pub access_key_secret: Zeroizing<String>,
    /// `OSS_REGION`.
    pub region: String,
    /// `KMS_ENDPOINT`: the KMS OpenAPI (absent from files written before it existed).
    pub kms_endpoint: Option<String>,
    /// `KMS_GRPC_ENDPOINT` (`host:port`) and `KMS_GRPC_CA` (the CA certificate its TLS chains to):
    /// the gRPC API for applications (absent from files written before it existed).
    pub kms_grpc: Option<(String, String)>,
    /// `CONSOLE_URL`: the web console (absent from files written before it existed).
    pub console_url: Option<String>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("endpoint", &self.endpoint)
            .field("access_key_id", &self.access_key_id)
            .field("access_key_secret", &"[REDACTED]")
            .field("region", &self.region)
            .field("kms_endpoint", &self.kms_endpoint)
            .field("kms_grpc", &self.kms_grpc)
            .field("console_url", &self.console_url)
            .finish()
    }
}

impl Credentials {
    /// The file's text: `KEY=value` lines.
    pub fn render(&self) -> Zeroizing<String> {
        let mut text = Zeroizing::new(format!(
            "OSS_ENDPOINT={}\nOSS_ACCESS_KEY_ID={}\nOSS_ACCESS_KEY_SECRET={}\nOSS_REGION={}\n",
            self.endpoint, self.access_key_id, *self.access_key_secret, self.region
        ));
        if let Some(kms) = &self.kms_endpoint {
            text.push_str(&format!("KMS_ENDPOINT={kms}\n"));
        }
        if let Some((endpoint, ca)) = &self.kms_grpc {
            text.push_str(&format!("KMS_GRPC_ENDPOINT={endpoint}\nKMS_GRPC_CA={ca}\n"));
        }
        if let Some(console) = &self.console_url {
            text.push_str(&format!("CONSOLE_URL={console}\n"));
        }
        text
    }

    /// Parses `KEY=value` lines (blank lines and `#` comments ignored); all four keys are required.
    pub fn parse(text: &str) -> anyhow::Result<Self> {
        let (mut endpoint, mut id, mut secret, mut region, mut kms) = (None, None, None, None, None);
        let (mut grpc, mut grpc_ca, mut console) = (None, None, None);
        for line in text.lines().map(str::trim) {
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let Some((key, value)) = line.split_once('=') else {
                bail!("line without `=`");
            };
            let value = value.trim().to_owned();
            match key.trim() {
                "OSS_ENDPOINT" => endpoint = Some(value),
                "OSS_ACCESS_KEY_ID" => id = Some(value),
                "OSS_ACCESS_KEY_SECRET" => secret = Some(Zeroizing::new(value)),
                "OSS_REGION" => region = Some(value),
                "KMS_ENDPOINT" => kms = Some(value),
                "KMS_GRPC_ENDPOINT" => grpc = Some(value),
                "KMS_GRPC_CA" => grpc_ca = Some(value),
                "CONSOLE_URL" => console = Some(value),
                _ => {}
            }
        }
        Ok(Self {
            endpoint: endpoint.context("OSS_ENDPOINT missing")?,
            access_key_id: id.context("OSS_ACCESS_KEY_ID missing")?,
            access_key_secret: secret.context("OSS_ACCESS_KEY_SECRET missing")?,
            region: region.context("OSS_REGION missing")?,
            kms_endpoint: kms,
            kms_grpc: grpc.zip(grpc_ca),
            console_url: console,
        })
    }
}

/// Writes `contents` to a temporary file with `mode`, syncs it, and renames it over `path`, so readers
/// see the old file or the new one and a secret is never briefly world-readable.
pub fn write_atomically(path: &Path, contents: &[u8], mode: u32) -> anyhow::Result<()> {
    let tmp = path.with_extension("tmp");
    let write = || -> std::io::Result<()> {
        // A stale temporary file from an interrupted run may carry another mode: start afresh.
        match std::fs::remove_file(&tmp) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(&tmp)?;
        file.set_permissions(std::fs::Permissions::from_mode(mode))?;
        file.write_all(contents)?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)
    };
    write().with_context(|| format!("writing {}", path.display()))
}

/// A new account id: 16 decimal digits, not starting with 0 (the shape of Alibaba Cloud account ids).
pub fn new_account_id() -> anyhow::Result<String> {
    let mut bytes = [0u8; 8];
    getrandom::fill(&mut bytes).map_err(|e| anyhow::anyhow!("random number generator: {e}"))?;
    const LOW: u64 = 1_000_000_000_000_000;
    Ok((LOW + u64::from_le_bytes(bytes) % (9 * LOW)).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Credentials {
        Credentials {
            endpoint: "http://127.0.0.1:9000".into(),
            access_key_id: "LTAIEXAMPLE".into(),
            access_key_secret: Zeroizing::new("s3cr=t".into()),
            region: "cn-hangzhou".into(),
            kms_endpoint: Some("http://127.0.0.1:9310".into()),
            kms_grpc: Some(("127.0.0.1:9311".into(), "/data/tls/ca.pem".into())),
            console_url: Some("http://127.0.0.1:9001/".into()),
        }
    }

    #[test]
    fn credentials_round_trip_and_keep_equals_signs_in_values() -> anyhow::Result<()> {
        let c = sample();
        assert_eq!(Credentials::parse(&c.render())?, c);
        assert!(!format!("{c:?}").contains("s3cr"));
        Ok(())
    }

    #[test]
    fn credentials_require_every_key() {
        let text = "OSS_ENDPOINT=x\nOSS_ACCESS_KEY_ID=y\nOSS_REGION=z\n";
        assert!(Credentials::parse(text).is_err());
        // KMS_ENDPOINT is optional: files from before the KMS OpenAPI still load.
        let old = "OSS_ENDPOINT=x\nOSS_ACCESS_KEY_ID=y\nOSS_ACCESS_KEY_SECRET=s\nOSS_REGION=z\n";
        assert!(Credentials::parse(old).is_ok_and(|c| c.kms_endpoint.is_none() && c.kms_grpc.is_none()));
        assert!(Credentials::parse("garbage\n").is_err());
    }

    #[test]
    fn account_ids_have_sixteen_digits() -> anyhow::Result<()> {
        for _ in 0..200 {
            let id = new_account_id()?;
            assert_eq!(id.len(), 16, "{id}");
            assert!(id.chars().all(|c| c.is_ascii_digit()));
            assert!(!id.starts_with('0'));
        }
        Ok(())
    }

    #[test]
    fn atomic_write_sets_mode_and_replaces() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let layout = InstanceDir::new(dir.path());
        layout.save_credentials(&sample())?;
        let mode = std::fs::metadata(layout.credentials())?.permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let mut changed = sample();
        changed.endpoint = "http://127.0.0.1:9999".into();
        layout.save_credentials(&changed)?;
        assert_eq!(layout.load_credentials()?, Some(changed));
        assert!(!dir.path().join("credentials.tmp").exists());
        Ok(())
    }

    #[test]
    fn an_open_instance_is_made_private_throughout() -> anyhow::Result<()> {
        let tmp = tempfile::tempdir()?;
        let root = tmp.path().join("data");
        let layout = InstanceDir::new(&root);
        let mode =
            |p: &Path| -> std::io::Result<u32> { Ok(std::fs::metadata(p)?.permissions().mode() & 0o7777) };
        std::fs::create_dir(&root)?;
        std::fs::create_dir_all(layout.meta())?;
        std::fs::create_dir_all(layout.tls())?;
        let files = [
            layout.root_key(),
            layout.credentials(),
            layout.meta().join("meta.redb"),
            layout.tls().join("gateway-key.pem"),
            layout.tls().join("ca.pem"),
        ];
        for file in &files {
            std::fs::write(file, b"x")?;
            std::fs::set_permissions(file, std::fs::Permissions::from_mode(0o644))?;
        }
        for dir in [&root, &layout.meta(), &layout.tls()] {
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755))?;
        }
        // A link out of the instance is not followed.
        let outside = tmp.path().join("outside");
        std::fs::write(&outside, b"")?;
        std::fs::set_permissions(&outside, std::fs::Permissions::from_mode(0o644))?;
        std::os::unix::fs::symlink(&outside, root.join("link"))?;

        assert!(layout.make_private()?.is_empty());
        for dir in [&root, &layout.meta(), &layout.tls()] {
            assert_eq!(mode(dir)?, 0o700, "{}", dir.display());
        }
        for file in &files {
            assert_eq!(mode(file)?, 0o600, "{}", file.display());
            assert_eq!(std::fs::read(file)?, b"x");
        }
        assert_eq!(mode(&outside)?, 0o644);

        let fresh = InstanceDir::new(&tmp.path().join("new"));
        assert!(fresh.make_private()?.is_empty());
        assert_eq!(mode(fresh.root())?, 0o700);
        Ok(())
    }

    #[test]
    fn the_state_file_is_private() -> anyhow::Result<()> {
        let tmp = tempfile::tempdir()?;
        let layout = InstanceDir::new(tmp.path());
        layout.save_state(&InstanceState::default())?;
        assert_eq!(
            std::fs::metadata(layout.state_file())?.permissions().mode() & 0o777,
            0o600
        );
        Ok(())
    }

    #[test]
    fn state_round_trips_and_absent_state_is_empty() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let layout = InstanceDir::new(dir.path());
        assert_eq!(layout.load_state()?, InstanceState::default());
        assert!(layout.require_state().is_err());
        let state = InstanceState {
            account_id: Some("1234567890123456".into()),
            kms: Some("127.0.0.1:1".parse()?),
            meta: None,
            gateway: Some("127.0.0.1:9000".parse()?),
            kms_openapi: Some("127.0.0.1:2".parse()?),
            kms_grpc: Some("127.0.0.1:3".parse()?),
            jobs: Some("127.0.0.1:4".parse()?),
            console: Some("127.0.0.1:5".parse()?),
        };
        layout.save_state(&state)?;
        assert_eq!(layout.require_state()?, state);
        Ok(())
    }
}
