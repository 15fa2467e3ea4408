//! The root key: read from a file no other user may read (its group only when a Kubernetes Secret
//! volume grants it), it seals every keystore record.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

use zeroize::Zeroizing;

use crate::StartupError;

/// 32 bytes of root key material.
pub struct RootKey(Zeroizing<[u8; 32]>);

impl std::fmt::Debug for RootKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RootKey([REDACTED])")
    }
}

impl RootKey {
    /// Reads the root key file: 32 raw bytes, or 64 hex digits (surrounding whitespace ignored).
    /// Refuses a file whose mode [`permitted_mode`] rejects.
    pub fn load(path: &Path) -> Result<Self, StartupError> {
        let meta = std::fs::metadata(path).map_err(|source| StartupError::RootKeyRead {
            path: path.to_path_buf(),
            source,
        })?;
        let mode = meta.permissions().mode() & 0o777;
        let owned_by_us = meta.uid() == rustix::process::geteuid().as_raw();
        if !permitted_mode(mode, owned_by_us) {
            return Err(StartupError::RootKeyPermissions {
                path: path.to_path_buf(),
                mode,
            });
        }
        let raw = Zeroizing::new(std::fs::read(path).map_err(|source| StartupError::RootKeyRead {
            path: path.to_path_buf(),
            source,
        })?);
        let mut key = Zeroizing::new([0u8; 32]);
        if raw.len() == 32 {
            key.copy_from_slice(&raw);
            return Ok(Self(key));
        }
        let text = std::str::from_utf8(&raw).map(str::trim).unwrap_or_default();
        if text.len() == 64 && hex::decode_to_slice(text, key.as_mut_slice()).is_ok() {
            return Ok(Self(key));
        }
        Err(StartupError::RootKeyFormat {
            path: path.to_path_buf(),
        })
    }

    /// Generates a new root key file (mode 0600, hex); fails if the file exists.
    pub fn generate(path: &Path) -> Result<(), StartupError> {
        let mut key = Zeroizing::new([0u8; 32]);
        getrandom::fill(key.as_mut_slice()).map_err(|_| StartupError::Random)?;
        Self(key).write_new(path)
    }

    /// Writes this key to a new file (mode 0600, hex, synced); fails if the file exists.
    pub fn write_new(&self, path: &Path) -> Result<(), StartupError> {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let text = Zeroizing::new(hex::encode(self.0.as_slice()));
        let err = |source| StartupError::RootKeyRead {
            path: path.to_path_buf(),
            source,
        };
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
            .map_err(err)?;
        f.write_all(text.as_bytes()).map_err(err)?;
        f.sync_all().map_err(err)
    }

    /// A key of these bytes.
    pub(crate) fn from_bytes(bytes: Zeroizing<[u8; 32]>) -> Self {
        Self(bytes)
    }

    /// The key bytes.
    pub(crate) fn bytes(&self) -> &[u8] {
        self.0.as_slice()
    }
}

/// Whether a root key file with permission bits `mode` may be used.
///
/// Others must have no access at all, and the group nothing beyond read. Group read is accepted only
/// on a file owned by another user than this process: that is how Kubernetes mounts a Secret for a
/// non-root container (owner root, group the pod's `fsGroup`, mode 0440 whatever `defaultMode`
/// says), where the group grant is the operator's deliberate way of giving this process access and
/// the process could not narrow it anyway. A file the process owns has no such excuse (its group may
/// hold other users, and the owner can `chmod 600` it), so there group read is refused as before.
pub(crate) fn permitted_mode(mode: u32, owned_by_us: bool) -> bool {
    const OTHERS: u32 = 0o007;
    const GROUP_WRITE_EXEC: u32 = 0o030;
    const GROUP_READ: u32 = 0o040;
    if mode & (OTHERS | GROUP_WRITE_EXEC) != 0 {
        return false;
    }
    mode & GROUP_READ == 0 || !owned_by_us
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mode_rule() {
        // (mode, owned by this process, accepted)
        let cases = [
            (0o600, true, true),
            (0o400, true, true),
            (0o600, false, true),
            (0o400, false, true),
            // Group read: only on a file of another user (Kubernetes Secret volume under fsGroup).
            (0o440, false, true),
            (0o640, false, true),
            (0o440, true, false),
            (0o640, true, false),
            // Group write or execute, or any access for others: never.
            (0o460, false, false),
            (0o450, false, false),
            (0o620, true, false),
            (0o444, false, false),
            (0o404, false, false),
            (0o402, false, false),
            (0o401, true, false),
            (0o604, true, false),
            (0o644, false, false),
        ];
        for (mode, owned_by_us, accepted) in cases {
            assert_eq!(
                permitted_mode(mode, owned_by_us),
                accepted,
                "mode {mode:o}, owned by this process: {owned_by_us}"
            );
        }
    }

    #[test]
    fn permissions_and_format_are_checked() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("root.key");
        RootKey::generate(&path)?;
        assert!(RootKey::load(&path).is_ok());
        // The file belongs to this process, so group read is refused, and so is any access for others.
        for mode in [0o640, 0o440, 0o604, 0o644] {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode))?;
            let refused = RootKey::load(&path);
            assert!(
                matches!(refused, Err(StartupError::RootKeyPermissions { mode: m, .. }) if m == mode),
                "mode {mode:o}: {refused:?}"
            );
        }
        let message = match RootKey::load(&path) {
            Err(e) => e.to_string(),
            Ok(_) => String::new(),
        };
        assert!(
            message.contains("chmod 600") && message.contains("fsGroup"),
            "{message}"
        );
        std::fs::write(&path, b"short")?;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
        assert!(matches!(
            RootKey::load(&path),
            Err(StartupError::RootKeyFormat { .. })
        ));
        assert!(RootKey::generate(&path).is_err(), "never overwrites");
        Ok(())
    }
}
