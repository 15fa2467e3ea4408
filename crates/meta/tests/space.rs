//! Storage efficiency: ciphertext packed just under power-of-two values keeps the file near the
//! data size, and freed chunks are reused instead of growing the file.
//!
//! "File bytes" are the blocks the file occupies on disk. redb doubles the file's apparent length
//! while it is below 4 GiB by extending it sparsely, so the apparent length of a young file can be
//! up to 2× its data without a single extra byte being stored; both are printed.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test and benchmark code states its expectations this way

mod support;

use support::{bucket, bytes, put, read_all, store};

const MIB: usize = 1024 * 1024;

/// (bytes allocated on disk, apparent length).
fn file_size(dir: &tempfile::TempDir) -> (u64, u64) {
    use std::os::unix::fs::MetadataExt;
    let m = std::fs::metadata(dir.path().join("meta.redb")).expect("stat");
    (m.blocks() * 512, m.len())
}

#[test]
fn a_16_mib_object_costs_at_most_1_10_times_its_ciphertext() {
    let (dir, s) = store();
    bucket(&s, "bkt");
    let data = bytes(16 * MIB, 5);
    put(&s, "bkt", "obj", &data, "E");
    let (disk, apparent) = file_size(&dir);
    let ratio = disk as f64 / data.len() as f64;
    eprintln!(
        "16 MiB object: disk/ciphertext {ratio:.3}, apparent length/ciphertext {:.3}",
        apparent as f64 / data.len() as f64
    );
    assert!(ratio <= 1.10, "file is {ratio:.3}× the ciphertext");
    assert_eq!(read_all(&s, "bkt", "obj"), data);
}

#[test]
fn overwriting_an_8_mib_object_200_times_reuses_space() {
    let (dir, s) = store();
    bucket(&s, "bkt");
    let data = bytes(8 * MIB, 1);
    put(&s, "bkt", "obj", &data, "E");
    let one_copy = file_size(&dir);
    for i in 0..200u32 {
        put(&s, "bkt", "obj", &data, &i.to_string());
    }
    let after = file_size(&dir);
    let (disk, apparent) = (
        after.0 as f64 / one_copy.0 as f64,
        after.1 as f64 / one_copy.1 as f64,
    );
    eprintln!("after 200 overwrites of 8 MiB, vs one copy: disk {disk:.3}, apparent length {apparent:.3}");
    assert!(disk < 3.0, "file grew to {disk:.3}× one copy on disk");
    assert!(apparent < 3.0, "file length grew to {apparent:.3}× one copy");
    assert_eq!(s.head_object("bkt", "obj").unwrap().etag, "199");
    assert_eq!(s.blob_usage().unwrap().blobs, 1);
}
