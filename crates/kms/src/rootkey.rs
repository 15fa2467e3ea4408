//! The root key: read from a file that only its owner may read, it seals every keystore record.

use std::os::unix::fs::PermissionsExt;
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
    /// Refuses a file readable or writable by group or others.
    pub fn load(path: &Path) -> Result<Self, StartupError> {
        let meta = std::fs::metadata(path).map_err(|source| StartupError::RootKeyRead {
            path: path.to_path_buf(),
            source,
        })?;
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
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
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let mut key = Zeroizing::new([0u8; 32]);
        getrandom::fill(key.as_mut_slice()).map_err(|_| StartupError::Random)?;
        let text = Zeroizing::new(hex::encode(key.as_slice()));
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

    /// The key bytes.
    pub(crate) fn bytes(&self) -> &[u8] {
        self.0.as_slice()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permissions_and_format_are_checked() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("root.key");
        RootKey::generate(&path)?;
        assert!(RootKey::load(&path).is_ok());
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640))?;
        assert!(matches!(
            RootKey::load(&path),
            Err(StartupError::RootKeyPermissions { mode: 0o640, .. })
        ));
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
