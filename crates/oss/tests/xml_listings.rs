//! Listing bodies through the public API: known answers for ListMultipartUploads and ListParts with and
//! without `encoding-type=url`, and the property that every key the router accepts renders into
//! well-formed XML 1.0 that a parser reads back to the same key.

use std::time::{Duration, UNIX_EPOCH};

use cang_oss::OssError;
use cang_oss::model::{ObjectType, StorageClass};
use cang_oss::route::validate_object_key;
use cang_oss::xml::response::{
    ListObjectsResult, ListPartsResult, ListUploadsResult, ObjectSummary, Owner, PartSummary, UploadSummary,
};
use proptest::prelude::*;
use quick_xml::Reader;
use quick_xml::events::Event;

const PROLOG: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";

fn at(unix: u64) -> std::time::SystemTime {
    UNIX_EPOCH + Duration::from_secs(unix)
}

fn uploads(encoding_url: bool, key: &str) -> ListUploadsResult {
    ListUploadsResult {
        bucket: "bkt".into(),
        key_marker: Some("a b".into()),
        upload_id_marker: Some("U+0".into()),
        next_key_marker: Some("z z".into()),
        next_upload_id_marker: Some("U+2".into()),
        delimiter: Some("/".into()),
        prefix: Some("dir/".into()),
        max_uploads: 2,
        is_truncated: true,
        encoding_url,
        uploads: vec![UploadSummary {
            key: key.to_owned(),
            upload_id: "U+1".into(),
            initiated: at(1_329_970_703),
            storage_class: StorageClass::Standard,
        }],
        common_prefixes: vec!["dir/x y/".into()],
    }
}

fn parts(encoding_url: bool, key: &str) -> ListPartsResult {
    ListPartsResult {
        bucket: "bkt".into(),
        key: key.to_owned(),
        upload_id: "U+1".into(),
        part_number_marker: 0,
        next_part_number_marker: 1,
        max_parts: 1000,
        is_truncated: false,
        encoding_url,
        storage_class: StorageClass::Standard,
        parts: vec![PartSummary {
            part_number: 1,
            last_modified: at(1_329_980_494),
            etag: "3349DC700140D7F86A0784842780000".into(),
            crc64: None,
            size: 6_291_456,
        }],
    }
}

#[test]
fn list_uploads_encodes_keys_markers_prefixes_and_delimiter_when_asked() {
    // oss2 decodes Key, NextKeyMarker and CommonPrefixes/Prefix; py-v2 decodes Key, KeyMarker,
    // NextKeyMarker, Prefix and Delimiter. Neither decodes UploadIdMarker or NextUploadIdMarker.
    assert_eq!(
        uploads(true, "dir/a b+c&<.txt").to_xml(),
        format!(
            "{PROLOG}<ListMultipartUploadsResult><Bucket>bkt</Bucket><KeyMarker>a%20b</KeyMarker>\
             <UploadIdMarker>U+0</UploadIdMarker><NextKeyMarker>z%20z</NextKeyMarker>\
             <NextUploadIdMarker>U+2</NextUploadIdMarker><Delimiter>%2F</Delimiter><Prefix>dir%2F</Prefix>\
             <MaxUploads>2</MaxUploads><IsTruncated>true</IsTruncated><EncodingType>url</EncodingType>\
             <Upload><Key>dir%2Fa%20b%2Bc%26%3C.txt</Key><UploadId>U+1</UploadId>\
             <Initiated>2012-02-23T04:18:23.000Z</Initiated><StorageClass>Standard</StorageClass></Upload>\
             <CommonPrefixes><Prefix>dir%2Fx%20y%2F</Prefix></CommonPrefixes></ListMultipartUploadsResult>"
        )
    );
    assert_eq!(
        uploads(false, "dir/a b+c&<.txt").to_xml(),
        format!(
            "{PROLOG}<ListMultipartUploadsResult><Bucket>bkt</Bucket><KeyMarker>a b</KeyMarker>\
             <UploadIdMarker>U+0</UploadIdMarker><NextKeyMarker>z z</NextKeyMarker>\
             <NextUploadIdMarker>U+2</NextUploadIdMarker><Delimiter>/</Delimiter><Prefix>dir/</Prefix>\
             <MaxUploads>2</MaxUploads><IsTruncated>true</IsTruncated>\
             <Upload><Key>dir/a b+c&amp;&lt;.txt</Key><UploadId>U+1</UploadId>\
             <Initiated>2012-02-23T04:18:23.000Z</Initiated><StorageClass>Standard</StorageClass></Upload>\
             <CommonPrefixes><Prefix>dir/x y/</Prefix></CommonPrefixes></ListMultipartUploadsResult>"
        )
    );
}

#[test]
fn list_parts_encodes_only_the_key_and_reports_the_storage_class_once() {
    assert_eq!(
        parts(true, "dir/a b").to_xml(),
        format!(
            "{PROLOG}<ListPartsResult><EncodingType>url</EncodingType><Bucket>bkt</Bucket>\
             <Key>dir%2Fa%20b</Key><UploadId>U+1</UploadId><PartNumberMarker>0</PartNumberMarker>\
             <NextPartNumberMarker>1</NextPartNumberMarker><MaxParts>1000</MaxParts>\
             <IsTruncated>false</IsTruncated><StorageClass>Standard</StorageClass><Part>\
             <PartNumber>1</PartNumber><LastModified>2012-02-23T07:01:34.000Z</LastModified>\
             <ETag>\"3349DC700140D7F86A0784842780000\"</ETag><Size>6291456</Size></Part></ListPartsResult>"
        )
    );
    let plain = parts(false, "dir/a b").to_xml();
    assert!(plain.contains("<Key>dir/a b</Key>") && !plain.contains("EncodingType"));
}

/// Whether XML 1.0 allows `c` anywhere in a document.
fn xml10_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r') || (c >= ' ' && c != '\u{fffe}' && c != '\u{ffff}')
}

/// The texts of every `<name>` element, read the way a strict XML 1.0 parser does: line ends normalised,
/// references resolved, and any character XML 1.0 forbids (literal or referenced) an error.
fn texts(xml: &str, name: &str) -> Result<Vec<String>, String> {
    if let Some(c) = xml.chars().find(|c| !xml10_char(*c)) {
        return Err(format!("forbidden literal {c:?}"));
    }
    let mut reader = Reader::from_str(xml);
    let (mut out, mut current, mut depth_in) = (Vec::new(), String::new(), 0usize);
    loop {
        match reader.read_event().map_err(|e| e.to_string())? {
            Event::Start(s) if s.name().as_ref() == name => {
                depth_in += 1;
                current.clear();
            }
            Event::End(e) if e.name().as_ref() == name => {
                depth_in -= 1;
                out.push(std::mem::take(&mut current));
            }
            Event::Text(t) if depth_in > 0 => current.push_str(&t.xml10_content()),
            Event::GeneralRef(r) if depth_in > 0 => {
                let c = match r.resolve_char_ref().map_err(|e| e.to_string())? {
                    Some(c) => c,
                    None => match r.xml10_content().as_ref() {
                        "amp" => '&',
                        "lt" => '<',
                        "gt" => '>',
                        "quot" => '"',
                        "apos" => '\'',
                        other => return Err(format!("unknown entity {other}")),
                    },
                };
                if !xml10_char(c) {
                    return Err(format!("forbidden reference {c:?}"));
                }
                current.push(c);
            }
            Event::Eof => return Ok(out),
            _ => {}
        }
    }
}

/// `unquote`: `%XX` → byte, everything else as is.
fn unquote(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(b) = s.get(i + 1..i + 3).and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn objects(encoding_url: bool, key: &str) -> ListObjectsResult {
    ListObjectsResult {
        name: "bkt".into(),
        prefix: None,
        marker: None,
        max_keys: 100,
        delimiter: None,
        encoding_url,
        is_truncated: false,
        next_marker: None,
        contents: vec![ObjectSummary {
            key: key.to_owned(),
            last_modified: at(0),
            etag: "E".into(),
            object_type: ObjectType::Normal,
            size: 1,
            storage_class: StorageClass::Standard,
            owner: Some(Owner {
                id: "o".into(),
                display_name: "o".into(),
            }),
        }],
        common_prefixes: vec![],
    }
}

fn key_char() -> impl Strategy<Value = char> {
    prop_oneof![
        4 => any::<char>(),
        2 => prop::char::range('\0', '\u{1f}'),
        1 => prop::sample::select(vec!['\r', '\n', '\t', '&', '<', '>', '%', '+', ' ', '/', '\u{7f}',
            '\u{85}', '\u{fffd}', '\u{fffe}', '\u{ffff}', '\u{10ffff}']),
    ]
}

proptest! {
    #[test]
    fn every_accepted_key_reads_back_from_every_listing(chars in prop::collection::vec(key_char(), 1..40)) {
        let key: String = chars.into_iter().collect();
        let accepted = validate_object_key(&key).is_ok();
        prop_assert_eq!(
            accepted,
            key.len() <= 1023 && !key.starts_with(['/', '\\']) && key.chars().all(xml10_char)
        );
        if accepted {
            for url in [false, true] {
                let read = |xml: String, element: &str| -> Result<Vec<String>, TestCaseError> {
                    let found = texts(&xml, element).map_err(|e| TestCaseError::fail(format!("{e}: {xml}")))?;
                    Ok(found.into_iter().map(|t| if url { unquote(&t) } else { t }).collect())
                };
                prop_assert_eq!(read(objects(url, &key).to_xml(), "Key")?, vec![key.clone()]);
                prop_assert_eq!(read(uploads(url, &key).to_xml(), "Key")?, vec![key.clone()]);
                prop_assert_eq!(read(parts(url, &key).to_xml(), "Key")?, vec![key.clone()]);
            }
            let error = OssError::no_such_key(&key).to_xml();
            prop_assert_eq!(texts(&error, "Key").map_err(TestCaseError::fail)?, vec![key.clone()]);
        }
    }
}
