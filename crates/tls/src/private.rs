//! Private files at rest: data directories at most 0700 and store files at most 0600, created that way
//! and tightened on every start (a volume mount or an earlier run may have left them open to others).
//! Paths owned by another user are left as they are: this process could not narrow them, and a grant
//! such as a Kubernetes Secret's group read is the operator's decision.

use std::fs::{DirBuilder, OpenOptions, Permissions};
use std::io;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// The most a data directory may grant: its owner only.
pub const PRIVATE_DIR_MODE: u32 = 0o700;
/// The most a store file may grant: read and write for its owner.
pub const PRIVATE_FILE_MODE: u32 = 0o600;

/// What [`ensure_private_dir`] or [`ensure_private_file`] found and did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Privacy {
    /// The path did not exist and was created private.
    Created,
    /// The path already granted nothing beyond the private mode.
    AlreadyPrivate,
    /// The path granted more; its mode was narrowed.
    Tightened {
        /// The permission bits it had.
        was: u32,
    },
    /// The path grants more, but belongs to another user, so it was left as it is.
    NotOwned {
        /// Its permission bits.
        mode: u32,
        /// Its owner's uid.
        owner: u32,
    },
}

/// A path could not be created, inspected or narrowed.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {source}")]
pub struct PrivatePathError {
    /// The directory or file.
    pub path: PathBuf,
    /// The I/O error.
    pub source: io::Error,
}

/// Creates `dir` (and missing parents, mode 0700) or narrows it to at most 0700 when this process owns it.
pub fn ensure_private_dir(dir: &Path) -> Result<Privacy, PrivatePathError> {
    let err = |source| PrivatePathError {
        path: dir.to_path_buf(),
        source,
    };
    let created = match std::fs::metadata(dir) {
        Ok(meta) if meta.is_dir() => false,
        Ok(_) => return Err(err(io::Error::from(io::ErrorKind::NotADirectory))),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            DirBuilder::new()
                .recursive(true)
                .mode(PRIVATE_DIR_MODE)
                .create(dir)
                .map_err(err)?;
            true
        }
        Err(e) => return Err(err(e)),
    };
    // The umask may have removed owner bits, never added others: narrow what is there either way.
    let meta = std::fs::metadata(dir).map_err(err)?;
    let privacy = narrow(meta.mode(), meta.uid(), PRIVATE_DIR_MODE, |mode| {
        std::fs::set_permissions(dir, Permissions::from_mode(mode))
    })
    .map_err(err)?;
    Ok(if created { Privacy::Created } else { privacy })
}

/// Creates `path` as an empty file of mode 0600, or narrows the existing file to at most 0600 when this
/// process owns it. The file is inspected and changed through one open handle, so a file swapped in
/// meanwhile is not the one changed. Existing contents are kept.
pub fn ensure_private_file(path: &Path) -> Result<Privacy, PrivatePathError> {
    let err = |source| PrivatePathError {
        path: path.to_path_buf(),
        source,
    };
    let existed = std::fs::symlink_metadata(path).is_ok();
    // Read-only access suffices for fchmod; a new file is created with the private mode from the start.
    let file = OpenOptions::new()
        .read(true)
        .write(!existed)
        .create(!existed)
        .mode(PRIVATE_FILE_MODE)
        .open(path)
        .map_err(err)?;
    let meta = file.metadata().map_err(err)?;
    if !meta.is_file() {
        return Err(err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "not a regular file",
        )));
    }
    let privacy = narrow(meta.mode(), meta.uid(), PRIVATE_FILE_MODE, |mode| {
        file.set_permissions(Permissions::from_mode(mode))
    })
    .map_err(err)?;
    Ok(if existed { privacy } else { Privacy::Created })
}

/// Narrows permission bits `mode` of a path owned by `owner` to `allowed` through `chmod`.
fn narrow(
    mode: u32,
    owner: u32,
    allowed: u32,
    chmod: impl FnOnce(u32) -> io::Result<()>,
) -> io::Result<Privacy> {
    let mode = mode & 0o7777;
    if mode & !allowed == 0 {
        return Ok(Privacy::AlreadyPrivate);
    }
    if owner != rustix::process::geteuid().as_raw() {
        return Ok(Privacy::NotOwned { mode, owner });
    }
    chmod(mode & allowed)?;
    Ok(Privacy::Tightened { was: mode })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode_of(path: &Path) -> io::Result<u32> {
        Ok(std::fs::metadata(path)?.permissions().mode() & 0o7777)
    }

    #[test]
    fn an_open_directory_is_narrowed_and_a_new_one_is_private() -> anyhow::Result<()> {
        let tmp = tempfile::tempdir()?;
        let open = tmp.path().join("volume");
        std::fs::create_dir(&open)?;
        std::fs::set_permissions(&open, Permissions::from_mode(0o755))?;
        assert_eq!(ensure_private_dir(&open)?, Privacy::Tightened { was: 0o755 });
        assert_eq!(mode_of(&open)?, 0o700);
        assert_eq!(ensure_private_dir(&open)?, Privacy::AlreadyPrivate);

        // Group bits and setgid, as a kubelet leaves an fsGroup volume.
        std::fs::set_permissions(&open, Permissions::from_mode(0o2775))?;
        assert_eq!(ensure_private_dir(&open)?, Privacy::Tightened { was: 0o2775 });
        assert_eq!(mode_of(&open)?, 0o700);

        let new = tmp.path().join("a/b/c");
        assert_eq!(ensure_private_dir(&new)?, Privacy::Created);
        assert_eq!(mode_of(&new)?, 0o700);
        assert_eq!(mode_of(&tmp.path().join("a"))?, 0o700);

        // Narrower than the limit stays as it is.
        std::fs::set_permissions(&new, Permissions::from_mode(0o500))?;
        assert_eq!(ensure_private_dir(&new)?, Privacy::AlreadyPrivate);
        assert_eq!(mode_of(&new)?, 0o500);
        Ok(())
    }

    #[test]
    fn an_open_file_is_narrowed_keeping_its_contents_and_a_new_one_is_private() -> anyhow::Result<()> {
        let tmp = tempfile::tempdir()?;
        let store = tmp.path().join("meta.redb");
        std::fs::write(&store, b"records")?;
        for open in [0o644, 0o660, 0o666, 0o755] {
            std::fs::set_permissions(&store, Permissions::from_mode(open))?;
            assert_eq!(ensure_private_file(&store)?, Privacy::Tightened { was: open });
            assert_eq!(mode_of(&store)?, 0o600, "from {open:o}");
        }
        assert_eq!(ensure_private_file(&store)?, Privacy::AlreadyPrivate);
        assert_eq!(std::fs::read(&store)?, b"records");

        std::fs::set_permissions(&store, Permissions::from_mode(0o400))?;
        assert_eq!(ensure_private_file(&store)?, Privacy::AlreadyPrivate);
        assert_eq!(mode_of(&store)?, 0o400);

        let new = tmp.path().join("keystore.redb");
        assert_eq!(ensure_private_file(&new)?, Privacy::Created);
        assert_eq!(mode_of(&new)?, 0o600);
        assert_eq!(std::fs::metadata(&new)?.len(), 0);
        Ok(())
    }

    #[test]
    fn wrong_kinds_are_refused() -> anyhow::Result<()> {
        let tmp = tempfile::tempdir()?;
        let file = tmp.path().join("file");
        std::fs::write(&file, b"")?;
        assert!(ensure_private_dir(&file).is_err());
        assert!(ensure_private_file(tmp.path()).is_err());
        Ok(())
    }

    #[test]
    fn a_path_of_another_user_is_left_alone() -> io::Result<()> {
        let us = rustix::process::geteuid().as_raw();
        let other = us.wrapping_add(1);
        let mut called = false;
        let privacy = narrow(0o100440, other, PRIVATE_FILE_MODE, |_| {
            called = true;
            Ok(())
        })?;
        assert_eq!(
            privacy,
            Privacy::NotOwned {
                mode: 0o440,
                owner: other
            }
        );
        assert!(!called, "another user's file is never changed");
        let privacy = narrow(0o100440, us, PRIVATE_FILE_MODE, |mode| {
            assert_eq!(mode, 0o400);
            Ok(())
        })?;
        assert_eq!(privacy, Privacy::Tightened { was: 0o440 });
        Ok(())
    }
}
