//! Multipart uploads: complete stitches parts without copying, validates the part list, and abort
//! and complete free every part they drop.

mod support;

use cang_meta::Store;
use cang_meta_api::{
    CompletedPart, ListUploadsQuery, MIN_PART_SIZE, MetaError, ObjectMeta, ObjectType, PutTrailer,
    UploadPartHeader,
};
use support::{bucket, bytes, read_all, store};

fn upload_part(
    s: &Store,
    upload: &str,
    n: u32,
    data: &[u8],
    etag: &str,
) -> Result<cang_meta_api::PartInfo, MetaError> {
    let blob = s.stage_bytes(data)?;
    let header = UploadPartHeader {
        bucket: "bkt".into(),
        key: "big".into(),
        upload_id: upload.into(),
        part_number: n,
        format: vec![n as u8],
    };
    s.upload_part(
        header,
        blob,
        PutTrailer {
            plaintext_len: data.len() as u64,
            etag: etag.into(),
            crc64: None,
        },
    )
}

fn part(n: u32, etag: &str) -> CompletedPart {
    CompletedPart {
        part_number: n,
        etag: etag.into(),
    }
}

const A: &str = "0cc175b9c0f1b6a831c399e269772661";
const B: &str = "92eb5ffee6ae2fec3ad71c777531578f";
const C: &str = "4a8a08f09d37b73795649038408b5f33";

#[test]
fn complete_stitches_parts_in_order_and_frees_unlisted_ones() {
    let (_d, s) = store();
    bucket(&s, "bkt");
    let meta = ObjectMeta {
        content_type: "video/mp4".into(),
        ..ObjectMeta::default()
    };
    let up = s.initiate_upload("bkt", "big", meta).unwrap().upload_id;
    let p1 = bytes(MIN_PART_SIZE as usize, 1);
    let p2 = bytes(MIN_PART_SIZE as usize + 10, 2);
    let p3 = bytes(7, 3);
    upload_part(&s, &up, 2, &bytes(5, 9), "stale").unwrap();
    upload_part(&s, &up, 1, &p1, A).unwrap();
    upload_part(&s, &up, 2, &p2, B).unwrap(); // replaces the stale part 2
    upload_part(&s, &up, 3, &p3, C).unwrap();
    upload_part(&s, &up, 4, &bytes(MIN_PART_SIZE as usize, 4), C).unwrap(); // never listed
    let parts = s.list_parts("bkt", "big", &up, 0, 2).unwrap();
    assert_eq!(
        parts.parts.iter().map(|p| p.part_number).collect::<Vec<_>>(),
        [1, 2]
    );
    assert_eq!(parts.next_part_number_marker, Some(2));
    assert_eq!(parts.parts[1].etag, B);
    assert_eq!(s.bucket_stats("bkt").unwrap().multipart_upload_count, 1);

    let info = s
        .complete_upload(
            "bkt",
            "big",
            &up,
            vec![part(1, A), part(2, &format!("\"{B}\"")), part(3, C)],
            false,
        )
        .unwrap();
    assert_eq!(info.object_type, ObjectType::Multipart);
    assert_eq!(info.etag, format!("{}-3", info.etag.split('-').next().unwrap()));
    assert_eq!(info.size, (p1.len() + p2.len() + p3.len()) as u64);
    assert_eq!(info.meta.content_type, "video/mp4");
    assert_eq!(
        info.extents.iter().map(|e| e.format.clone()).collect::<Vec<_>>(),
        [vec![1], vec![2], vec![3]]
    );
    assert_eq!(read_all(&s, "bkt", "big"), [p1, p2, p3].concat());
    // Only the three listed parts' blobs remain; the stale part 2 and part 4 were freed.
    assert_eq!(s.blob_usage().unwrap().blobs, 3);
    assert_eq!(
        s.list_parts("bkt", "big", &up, 0, 10).err(),
        Some(MetaError::NoSuchUpload)
    );
    assert_eq!(
        s.complete_upload("bkt", "big", &up, vec![part(1, A)], false)
            .err(),
        Some(MetaError::NoSuchUpload)
    );
    assert_eq!(s.bucket_stats("bkt").unwrap().multipart_upload_count, 0);
}

#[test]
fn complete_validates_the_part_list() {
    let (_d, s) = store();
    bucket(&s, "bkt");
    let up = s
        .initiate_upload("bkt", "big", ObjectMeta::default())
        .unwrap()
        .upload_id;
    upload_part(&s, &up, 1, &bytes(10, 1), A).unwrap();
    upload_part(&s, &up, 2, &bytes(10, 2), B).unwrap();
    let complete = |parts| s.complete_upload("bkt", "big", &up, parts, false).err();
    assert_eq!(
        complete(vec![part(2, B), part(1, A)]),
        Some(MetaError::InvalidPartOrder)
    );
    assert_eq!(
        complete(vec![part(1, A), part(1, A)]),
        Some(MetaError::InvalidPartOrder)
    );
    assert_eq!(
        complete(vec![part(1, A), part(3, C)]),
        Some(MetaError::InvalidPart)
    );
    assert_eq!(complete(vec![part(1, B)]), Some(MetaError::InvalidPart));
    assert_eq!(
        complete(vec![part(1, A), part(2, B)]),
        Some(MetaError::EntityTooSmall)
    );
    // A single small part is fine: it is the last one.
    let info = s
        .complete_upload("bkt", "big", &up, vec![part(2, B)], false)
        .unwrap();
    assert_eq!(info.size, 10);
    assert!(matches!(
        upload_part(&s, &up, 0, b"x", A),
        Err(MetaError::InvalidArgument(_))
    ));
    assert_eq!(
        upload_part(&s, "nope", 1, b"x", A).err(),
        Some(MetaError::NoSuchUpload)
    );
    // A refused part upload left no staged data behind.
    s.delete_object("bkt", "big").unwrap();
    let usage = s.blob_usage().unwrap();
    assert_eq!((usage.staged_blobs, usage.blobs), (0, 0));
}

#[test]
fn abort_frees_every_part_and_uploads_are_listed_in_order() {
    let (_d, s) = store();
    bucket(&s, "bkt");
    let u1 = s
        .initiate_upload("bkt", "big", ObjectMeta::default())
        .unwrap()
        .upload_id;
    let u2 = s
        .initiate_upload("bkt", "a-first", ObjectMeta::default())
        .unwrap()
        .upload_id;
    let page = s
        .list_uploads(
            "bkt",
            &ListUploadsQuery {
                max_uploads: 1,
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(page.uploads[0].key, "a-first");
    assert!(page.is_truncated);
    let (km, um) = page.next_markers.unwrap();
    let page = s
        .list_uploads(
            "bkt",
            &ListUploadsQuery {
                key_marker: km,
                upload_id_marker: um,
                max_uploads: 10,
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(
        page.uploads
            .iter()
            .map(|u| u.upload_id.as_str())
            .collect::<Vec<_>>(),
        [u1.as_str()]
    );
    upload_part(&s, &u1, 1, &bytes(3 * cang_meta::CHUNK_SIZE, 1), A).unwrap();
    upload_part(&s, &u1, 2, &bytes(100, 2), B).unwrap();
    assert_eq!(s.blob_usage().unwrap().chunks, 4);
    s.abort_upload("bkt", "big", &u1).unwrap();
    assert_eq!(s.blob_usage().unwrap().chunks, 0);
    assert_eq!(
        s.abort_upload("bkt", "big", &u1).err(),
        Some(MetaError::NoSuchUpload)
    );
    s.abort_upload("bkt", "a-first", &u2).unwrap();
    s.delete_bucket("bkt").unwrap();
}
