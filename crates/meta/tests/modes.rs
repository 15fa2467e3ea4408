//! The store's directory and file are private (0700 / 0600) on every open, also when a volume mount or
//! an earlier start left them open to others.

use std::os::unix::fs::PermissionsExt;

fn mode(path: &std::path::Path) -> std::io::Result<u32> {
    Ok(std::fs::metadata(path)?.permissions().mode() & 0o7777)
}

#[test]
fn an_open_data_directory_and_store_are_narrowed_on_every_open() -> anyhow::Result<()> {
    let tmp = tempfile::tempdir()?;
    let data = tmp.path().join("volume");
    std::fs::create_dir(&data)?;
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755))?;
    let db = data.join(cang_meta::DB_FILE);
    drop(cang_meta::open_store(&data)?);
    assert_eq!(mode(&data)?, 0o700);
    assert_eq!(mode(&db)?, 0o600);

    // Loosened again between starts (as a kubelet applying fsGroup does): narrowed again.
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o2775))?;
    std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o664))?;
    let store = cang_meta::open_store(&data)?;
    assert_eq!(mode(&data)?, 0o700);
    assert_eq!(mode(&db)?, 0o600);
    assert!(store.stored_bytes().is_ok(), "the narrowed store still opens");

    let fresh = tmp.path().join("new/meta");
    drop(cang_meta::open_store(&fresh)?);
    assert_eq!(mode(&fresh)?, 0o700);
    assert_eq!(mode(&fresh.join(cang_meta::DB_FILE))?, 0o600);
    Ok(())
}
