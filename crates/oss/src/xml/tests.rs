//! Snapshot tests of every response body, parser tests of every request body, and writer → parser round
//! trips.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use proptest::prelude::*;

use super::request::*;
use super::response::*;
use crate::error::ErrorCode;
use crate::headers::sse::{DataEncryption, SseAlgorithm, SseRule};
use crate::model::{CannedAcl, DataRedundancyType, ObjectType, StorageClass};

const PROLOG: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";

fn t(secs: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(secs)
}

fn owner() -> Owner {
    Owner {
        id: "1234567890".into(),
        display_name: "1234567890".into(),
    }
}

fn summary() -> BucketSummary {
    BucketSummary {
        name: "bkt".into(),
        creation_date: t(1_450_376_363),
        location: "oss-cn-hangzhou".into(),
        region: "cn-hangzhou".into(),
        extranet_endpoint: "oss-cn-hangzhou.aliyuncs.com".into(),
        intranet_endpoint: "oss-cn-hangzhou-internal.aliyuncs.com".into(),
        storage_class: StorageClass::Standard,
    }
}

fn object(key: &str) -> ObjectSummary {
    ObjectSummary {
        key: key.into(),
        last_modified: t(1_330_073_387),
        etag: "5B3C1A2E053D763E1B002CC607C5A0FE".into(),
        object_type: ObjectType::Normal,
        size: 344_606,
        storage_class: StorageClass::Standard,
        owner: Some(Owner {
            id: "0022012".into(),
            display_name: "0022012".into(),
        }),
    }
}

fn code<T: std::fmt::Debug>(r: Result<T, crate::OssError>) -> Option<ErrorCode> {
    r.err().map(|e| e.code())
}

#[test]
fn list_buckets_snapshot() {
    let xml = ListBucketsResult {
        prefix: None,
        marker: None,
        max_keys: 100,
        is_truncated: false,
        next_marker: None,
        owner: owner(),
        buckets: vec![summary()],
    }
    .to_xml();
    assert_eq!(
        xml,
        format!(
            "{PROLOG}<ListAllMyBucketsResult><Prefix></Prefix><Marker></Marker><MaxKeys>100</MaxKeys>\
             <IsTruncated>false</IsTruncated><NextMarker></NextMarker>\
             <Owner><ID>1234567890</ID><DisplayName>1234567890</DisplayName></Owner><Buckets><Bucket>\
             <CreationDate>2015-12-17T18:19:23.000Z</CreationDate>\
             <ExtranetEndpoint>oss-cn-hangzhou.aliyuncs.com</ExtranetEndpoint>\
             <IntranetEndpoint>oss-cn-hangzhou-internal.aliyuncs.com</IntranetEndpoint>\
             <Location>oss-cn-hangzhou</Location><Name>bkt</Name><Region>cn-hangzhou</Region>\
             <StorageClass>Standard</StorageClass></Bucket></Buckets></ListAllMyBucketsResult>"
        )
    );
}

#[test]
fn bucket_info_snapshots_with_and_without_rule() {
    let mut info = BucketInfo {
        summary: summary(),
        data_redundancy_type: DataRedundancyType::Lrs,
        owner: owner(),
        acl: CannedAcl::Private,
        comment: String::new(),
        encryption: None,
    };
    let expected_head = "<BucketInfo><Bucket><AccessMonitor>Disabled</AccessMonitor>\
         <CreationDate>2015-12-17T18:19:23.000Z</CreationDate>\
         <ExtranetEndpoint>oss-cn-hangzhou.aliyuncs.com</ExtranetEndpoint>\
         <IntranetEndpoint>oss-cn-hangzhou-internal.aliyuncs.com</IntranetEndpoint>\
         <Location>oss-cn-hangzhou</Location><StorageClass>Standard</StorageClass>\
         <TransferAcceleration>Disabled</TransferAcceleration><CrossRegionReplication>Disabled</CrossRegionReplication>\
         <DataRedundancyType>LRS</DataRedundancyType><Name>bkt</Name><Region>cn-hangzhou</Region>\
         <Owner><ID>1234567890</ID><DisplayName>1234567890</DisplayName></Owner>\
         <AccessControlList><Grant>private</Grant></AccessControlList><Comment></Comment>";
    assert_eq!(
        info.to_xml(),
        format!(
            "{PROLOG}{expected_head}<ServerSideEncryptionRule><SSEAlgorithm>None</SSEAlgorithm>\
             </ServerSideEncryptionRule></Bucket></BucketInfo>"
        )
    );
    info.encryption = Some(SseRule {
        algorithm: SseAlgorithm::Kms,
        kms_key_id: Some("9468da86-3509-4f8d-a61e-6eab1eac0000".into()),
        data_encryption: Some(DataEncryption::Sm4),
    });
    assert_eq!(
        info.to_xml(),
        format!(
            "{PROLOG}{expected_head}<ServerSideEncryptionRule><SSEAlgorithm>KMS</SSEAlgorithm>\
             <KMSMasterKeyID>9468da86-3509-4f8d-a61e-6eab1eac0000</KMSMasterKeyID>\
             <KMSDataEncryption>SM4</KMSDataEncryption></ServerSideEncryptionRule></Bucket></BucketInfo>"
        )
    );
}

#[test]
fn small_bucket_document_snapshots() {
    assert_eq!(
        location_constraint_xml("oss-cn-hangzhou"),
        format!("{PROLOG}<LocationConstraint>oss-cn-hangzhou</LocationConstraint>")
    );
    assert_eq!(
        access_control_policy_xml(&owner(), CannedAcl::Default),
        format!(
            "{PROLOG}<AccessControlPolicy><Owner><ID>1234567890</ID><DisplayName>1234567890</DisplayName></Owner>\
             <AccessControlList><Grant>default</Grant></AccessControlList></AccessControlPolicy>"
        )
    );
    assert_eq!(
        BucketStat {
            storage: 10,
            object_count: 2,
            multipart_upload_count: 1
        }
        .to_xml(),
        format!(
            "{PROLOG}<BucketStat><Storage>10</Storage><ObjectCount>2</ObjectCount>\
             <MultipartUploadCount>1</MultipartUploadCount></BucketStat>"
        )
    );
    let rule = SseRule {
        algorithm: SseAlgorithm::Aes256,
        kms_key_id: None,
        data_encryption: None,
    };
    assert_eq!(
        bucket_encryption_xml(&rule),
        format!(
            "{PROLOG}<ServerSideEncryptionRule><ApplyServerSideEncryptionByDefault><SSEAlgorithm>AES256</SSEAlgorithm>\
             </ApplyServerSideEncryptionByDefault></ServerSideEncryptionRule>"
        )
    );
}

#[test]
fn list_objects_v1_snapshot_with_url_encoding() {
    let result = ListObjectsResult {
        name: "bkt".into(),
        prefix: Some("fun/".into()),
        marker: None,
        max_keys: 1,
        delimiter: Some("/".into()),
        encoding_url: true,
        is_truncated: true,
        next_marker: Some("fun/a b+c".into()),
        contents: vec![object("fun/a b+c")],
        common_prefixes: vec!["fun/test/".into()],
    };
    assert_eq!(
        result.to_xml(),
        format!(
            "{PROLOG}<ListBucketResult><Name>bkt</Name><Prefix>fun%2F</Prefix><Marker></Marker><MaxKeys>1</MaxKeys>\
             <Delimiter>%2F</Delimiter><EncodingType>url</EncodingType><IsTruncated>true</IsTruncated>\
             <NextMarker>fun%2Fa%20b%2Bc</NextMarker><Contents><Key>fun%2Fa%20b%2Bc</Key>\
             <LastModified>2012-02-24T08:49:47.000Z</LastModified><ETag>\"5B3C1A2E053D763E1B002CC607C5A0FE\"</ETag>\
             <Type>Normal</Type><Size>344606</Size><StorageClass>Standard</StorageClass>\
             <Owner><ID>0022012</ID><DisplayName>0022012</DisplayName></Owner></Contents>\
             <CommonPrefixes><Prefix>fun%2Ftest%2F</Prefix></CommonPrefixes></ListBucketResult>"
        )
    );
}

#[test]
fn list_objects_v2_snapshot_raw_keys_are_escaped_not_encoded() {
    let mut obj = object("a&b<c");
    obj.etag = "\"ABC\"".into();
    let result = ListObjectsV2Result {
        name: "bkt".into(),
        prefix: None,
        start_after: None,
        continuation_token: Some("tok".into()),
        max_keys: 100,
        delimiter: None,
        encoding_url: false,
        fetch_owner: false,
        is_truncated: false,
        next_continuation_token: None,
        contents: vec![obj],
        common_prefixes: vec!["p/".into()],
    };
    assert_eq!(
        result.to_xml(),
        format!(
            "{PROLOG}<ListBucketResult><Name>bkt</Name><Prefix></Prefix><ContinuationToken>tok</ContinuationToken>\
             <MaxKeys>100</MaxKeys><Delimiter></Delimiter><IsTruncated>false</IsTruncated><KeyCount>2</KeyCount>\
             <Contents><Key>a&amp;b&lt;c</Key><LastModified>2012-02-24T08:49:47.000Z</LastModified>\
             <ETag>\"ABC\"</ETag><Type>Normal</Type><Size>344606</Size><StorageClass>Standard</StorageClass>\
             </Contents><CommonPrefixes><Prefix>p/</Prefix></CommonPrefixes></ListBucketResult>"
        )
    );
}

#[test]
fn object_and_multipart_result_snapshots() {
    assert_eq!(
        delete_result_xml(&["multipart.data".into(), "a b".into()], true),
        format!(
            "{PROLOG}<DeleteResult><EncodingType>url</EncodingType><Deleted><Key>multipart.data</Key></Deleted>\
             <Deleted><Key>a%20b</Key></Deleted></DeleteResult>"
        )
    );
    assert_eq!(
        delete_result_xml(&[], false),
        format!("{PROLOG}<DeleteResult></DeleteResult>")
    );
    assert_eq!(
        copy_object_result_xml("F2064A169EE92E9775EE5324D0B10000", t(1_545_990_116)),
        format!(
            "{PROLOG}<CopyObjectResult><ETag>\"F2064A169EE92E9775EE5324D0B10000\"</ETag>\
             <LastModified>2018-12-28T09:41:56.000Z</LastModified></CopyObjectResult>"
        )
    );
    assert_eq!(
        copy_part_result_xml("\"5B3C\"", t(1_405_578_474)),
        format!(
            "{PROLOG}<CopyPartResult><LastModified>2014-07-17T06:27:54.000Z</LastModified>\
             <ETag>\"5B3C\"</ETag></CopyPartResult>"
        )
    );
    assert_eq!(
        initiate_multipart_upload_xml("bkt", "dir/a b", "0004B9894A22E5B1888A1E29F8230000", true),
        format!(
            "{PROLOG}<InitiateMultipartUploadResult><EncodingType>url</EncodingType><Bucket>bkt</Bucket>\
             <Key>dir%2Fa%20b</Key><UploadId>0004B9894A22E5B1888A1E29F8230000</UploadId>\
             </InitiateMultipartUploadResult>"
        )
    );
    assert_eq!(
        complete_multipart_upload_result_xml(
            "http://bkt.localhost/multipart.data",
            "bkt",
            "multipart.data",
            "B864DB6A936D376F9F8D3ED3BBE50000-3",
            false
        ),
        format!(
            "{PROLOG}<CompleteMultipartUploadResult><Location>http://bkt.localhost/multipart.data</Location>\
             <Bucket>bkt</Bucket><Key>multipart.data</Key><ETag>\"B864DB6A936D376F9F8D3ED3BBE50000-3\"</ETag>\
             </CompleteMultipartUploadResult>"
        )
    );
}

#[test]
fn list_uploads_and_parts_snapshots() {
    let uploads = ListUploadsResult {
        bucket: "bkt".into(),
        key_marker: None,
        upload_id_marker: None,
        next_key_marker: None,
        next_upload_id_marker: None,
        delimiter: None,
        prefix: None,
        max_uploads: 1000,
        is_truncated: false,
        encoding_url: false,
        uploads: vec![UploadSummary {
            key: "multipart.data".into(),
            upload_id: "U1".into(),
            initiated: t(1_329_970_703),
            storage_class: StorageClass::Standard,
        }],
        common_prefixes: vec![],
    };
    assert_eq!(
        uploads.to_xml(),
        format!(
            "{PROLOG}<ListMultipartUploadsResult><Bucket>bkt</Bucket><KeyMarker></KeyMarker>\
             <UploadIdMarker></UploadIdMarker><NextKeyMarker></NextKeyMarker><NextUploadIdMarker></NextUploadIdMarker>\
             <Delimiter></Delimiter><Prefix></Prefix><MaxUploads>1000</MaxUploads><IsTruncated>false</IsTruncated>\
             <Upload><Key>multipart.data</Key><UploadId>U1</UploadId><Initiated>2012-02-23T04:18:23.000Z</Initiated>\
             <StorageClass>Standard</StorageClass></Upload></ListMultipartUploadsResult>"
        )
    );
    let parts = ListPartsResult {
        bucket: "bkt".into(),
        key: "multipart.data".into(),
        upload_id: "U1".into(),
        part_number_marker: 0,
        next_part_number_marker: 1,
        max_parts: 1000,
        is_truncated: false,
        encoding_url: false,
        storage_class: StorageClass::Standard,
        parts: vec![PartSummary {
            part_number: 1,
            last_modified: t(1_329_980_494),
            etag: "3349DC700140D7F86A0784842780000".into(),
            crc64: Some(1_234_567_890),
            size: 6_291_456,
        }],
    };
    assert_eq!(
        parts.to_xml(),
        format!(
            "{PROLOG}<ListPartsResult><Bucket>bkt</Bucket><Key>multipart.data</Key><UploadId>U1</UploadId>\
             <PartNumberMarker>0</PartNumberMarker><NextPartNumberMarker>1</NextPartNumberMarker>\
             <MaxParts>1000</MaxParts><IsTruncated>false</IsTruncated><StorageClass>Standard</StorageClass>\
             <Part><PartNumber>1</PartNumber>\
             <LastModified>2012-02-23T07:01:34.000Z</LastModified><ETag>\"3349DC700140D7F86A0784842780000\"</ETag>\
             <HashCrc64ecma>1234567890</HashCrc64ecma><Size>6291456</Size></Part></ListPartsResult>"
        )
    );
}

#[test]
fn bucket_encryption_bodies_from_sdks() {
    let oss2 = b"<?xml version='1.0' encoding='utf-8'?>\n<ServerSideEncryptionRule><ApplyServerSideEncryptionByDefault>\
        <SSEAlgorithm>KMS</SSEAlgorithm><KMSMasterKeyID>123</KMSMasterKeyID><KMSDataEncryption>SM4</KMSDataEncryption>\
        </ApplyServerSideEncryptionByDefault></ServerSideEncryptionRule>";
    let rule = parse_bucket_encryption(oss2).ok();
    assert_eq!(
        rule,
        Some(SseRule {
            algorithm: SseAlgorithm::Kms,
            kms_key_id: Some("123".into()),
            data_encryption: Some(DataEncryption::Sm4)
        })
    );
    let docs = b"<ServerSideEncryptionRule>\n  <ApplyServerSideEncryptionByDefault>\n    <SSEAlgorithm>AES256</SSEAlgorithm>\n    \
        <KMSMasterKeyID></KMSMasterKeyID>\n  </ApplyServerSideEncryptionByDefault>\n</ServerSideEncryptionRule>";
    assert_eq!(
        parse_bucket_encryption(docs).ok().map(|r| r.algorithm),
        Some(SseAlgorithm::Aes256)
    );
    let bad = |alg: &str, key: &str| {
        let body = format!(
            "<ServerSideEncryptionRule><ApplyServerSideEncryptionByDefault><SSEAlgorithm>{alg}</SSEAlgorithm>\
             <KMSMasterKeyID>{key}</KMSMasterKeyID></ApplyServerSideEncryptionByDefault></ServerSideEncryptionRule>"
        );
        code(parse_bucket_encryption(body.as_bytes()))
    };
    assert_eq!(
        bad("random", ""),
        Some(ErrorCode::InvalidEncryptionAlgorithmError)
    );
    assert_eq!(bad("AES256", "k"), Some(ErrorCode::InvalidArgument));
    assert_eq!(
        code(parse_bucket_encryption(b"<ServerSideEncryptionRule/>")),
        Some(ErrorCode::MalformedXML)
    );
    assert_eq!(
        code(parse_bucket_encryption(b"<Other/>")),
        Some(ErrorCode::MalformedXML)
    );
    assert_eq!(
        code(parse_bucket_encryption(b"not xml")),
        Some(ErrorCode::MalformedXML)
    );
}

#[test]
fn create_bucket_configuration() {
    assert_eq!(
        CreateBucketConfiguration::parse(b"").ok(),
        Some(CreateBucketConfiguration::default())
    );
    let body = b"<CreateBucketConfiguration><StorageClass>IA</StorageClass><DataRedundancyType>ZRS</DataRedundancyType></CreateBucketConfiguration>";
    assert_eq!(
        CreateBucketConfiguration::parse(body).ok(),
        Some(CreateBucketConfiguration {
            storage_class: Some(StorageClass::Ia),
            data_redundancy_type: Some(DataRedundancyType::Zrs)
        })
    );
    let bad = b"<CreateBucketConfiguration><StorageClass>Gold</StorageClass></CreateBucketConfiguration>";
    assert_eq!(
        code(CreateBucketConfiguration::parse(bad)),
        Some(ErrorCode::InvalidArgument)
    );
}

#[test]
fn multi_delete_bodies() {
    let opendal = "<Delete><Object><Key> spaced \u{1}ctl&amp;</Key></Object><Object><Key>b</Key><VersionId>v</VersionId></Object></Delete>";
    let parsed = DeleteRequest::parse(opendal.as_bytes()).ok();
    assert_eq!(
        parsed,
        Some(DeleteRequest {
            quiet: false,
            objects: vec![
                DeleteEntry {
                    key: " spaced \u{1}ctl&".into(),
                    version_id: None
                },
                DeleteEntry {
                    key: "b".into(),
                    version_id: Some("v".into())
                },
            ]
        })
    );
    let go = b"<Delete><Quiet>true</Quiet><Object><Key>&#x1F;&#01;x</Key></Object></Delete>";
    let parsed = DeleteRequest::parse(go).ok();
    assert_eq!(
        parsed.map(|d| (d.quiet, d.objects[0].key.clone())),
        Some((true, "\u{1f}\u{1}x".into()))
    );
    assert_eq!(
        code(DeleteRequest::parse(b"<Delete></Delete>")),
        Some(ErrorCode::MalformedXML)
    );
    assert_eq!(
        code(DeleteRequest::parse(
            b"<Delete><Object><Key></Key></Object></Delete>"
        )),
        Some(ErrorCode::MalformedXML)
    );
    assert_eq!(
        code(DeleteRequest::parse(
            b"<Delete><Quiet>yes</Quiet><Object><Key>a</Key></Object></Delete>"
        )),
        Some(ErrorCode::MalformedXML)
    );
    let many = format!(
        "<Delete>{}</Delete>",
        "<Object><Key>k</Key></Object>".repeat(1001)
    );
    assert_eq!(
        code(DeleteRequest::parse(many.as_bytes())),
        Some(ErrorCode::MalformedXML)
    );
}

#[test]
fn complete_multipart_upload_bodies() {
    let body =
        b"<CompleteMultipartUpload>\n<Part><PartNumber>1</PartNumber><ETag>\"3349DC70\"</ETag></Part>\n\
        <Part><PartNumber>5</PartNumber><ETag>\"8EFDA8BE\"</ETag></Part></CompleteMultipartUpload>";
    let parts = parse_complete_multipart_upload(body).unwrap_or_default();
    assert_eq!(
        parts.iter().map(|p| p.part_number).collect::<Vec<_>>(),
        vec![1, 5]
    );
    assert_eq!(parts[1].etag, "\"8EFDA8BE\"");
    let order = b"<CompleteMultipartUpload><Part><PartNumber>2</PartNumber><ETag>a</ETag></Part>\
        <Part><PartNumber>2</PartNumber><ETag>b</ETag></Part></CompleteMultipartUpload>";
    assert_eq!(
        code(parse_complete_multipart_upload(order)),
        Some(ErrorCode::InvalidPartOrder)
    );
    let range = b"<CompleteMultipartUpload><Part><PartNumber>10001</PartNumber><ETag>a</ETag></Part></CompleteMultipartUpload>";
    assert_eq!(
        code(parse_complete_multipart_upload(range)),
        Some(ErrorCode::InvalidPartOrder)
    );
    assert_eq!(
        code(parse_complete_multipart_upload(b"<CompleteMultipartUpload/>")),
        Some(ErrorCode::MalformedXML)
    );
    let no_etag =
        b"<CompleteMultipartUpload><Part><PartNumber>1</PartNumber></Part></CompleteMultipartUpload>";
    assert_eq!(
        code(parse_complete_multipart_upload(no_etag)),
        Some(ErrorCode::MalformedXML)
    );
}

#[test]
fn access_control_policy_body() {
    let body = b"<AccessControlPolicy><Owner><ID>1</ID></Owner><AccessControlList><Grant>public-read</Grant></AccessControlList></AccessControlPolicy>";
    assert_eq!(
        parse_access_control_policy(body).ok(),
        Some(CannedAcl::PublicRead)
    );
    let doc = access_control_policy_xml(&owner(), CannedAcl::PublicReadWrite);
    assert_eq!(
        parse_access_control_policy(doc.as_bytes()).ok(),
        Some(CannedAcl::PublicReadWrite)
    );
    assert!(parse_access_control_policy(b"<AccessControlPolicy/>").is_err());
}

fn key_strategy() -> impl Strategy<Value = String> {
    // Any non-empty key; XML 1.0 cannot carry NUL, which no SDK sends either.
    "[^\u{0}]{1,40}"
}

proptest! {
    #[test]
    fn delete_request_round_trips(
        quiet in any::<bool>(),
        objects in prop::collection::vec((key_strategy(), prop::option::of("[A-Za-z0-9]{1,10}")), 1..20),
    ) {
        let request = DeleteRequest {
            quiet,
            objects: objects.into_iter().map(|(key, version_id)| DeleteEntry { key, version_id }).collect(),
        };
        let parsed = DeleteRequest::parse(request.to_xml().as_bytes());
        // XML parsers turn a literal "\r\n" or "\r" into "\n"; the writer escapes "\r" so keys survive.
        prop_assert_eq!(parsed.ok(), Some(request));
    }

    #[test]
    fn complete_round_trips(numbers in prop::collection::btree_set(1u32..=10_000, 1..30), etag in "[0-9A-F]{32}") {
        let parts: Vec<CompletedPart> =
            numbers.into_iter().map(|part_number| CompletedPart { part_number, etag: format!("\"{etag}\"") }).collect();
        prop_assert_eq!(parse_complete_multipart_upload(complete_multipart_upload_xml(&parts).as_bytes()).ok(), Some(parts));
    }

    #[test]
    fn encryption_rule_round_trips(alg in 0usize..3, key in prop::option::of("[a-z0-9-]{1,36}"), sm4 in any::<bool>()) {
        let algorithm = [SseAlgorithm::Aes256, SseAlgorithm::Kms, SseAlgorithm::Sm4][alg];
        let kms = algorithm == SseAlgorithm::Kms;
        let rule = SseRule {
            algorithm,
            kms_key_id: key.filter(|_| kms),
            data_encryption: (sm4 && kms).then_some(DataEncryption::Sm4),
        };
        prop_assert_eq!(parse_bucket_encryption(bucket_encryption_xml(&rule).as_bytes()).ok(), Some(rule));
    }

    #[test]
    fn create_bucket_configuration_round_trips(class in prop::option::of(0usize..5), zrs in prop::option::of(any::<bool>())) {
        let config = CreateBucketConfiguration {
            storage_class: class.map(|i| StorageClass::ALL[i]),
            data_redundancy_type: zrs.map(|z| if z { DataRedundancyType::Zrs } else { DataRedundancyType::Lrs }),
        };
        prop_assert_eq!(CreateBucketConfiguration::parse(config.to_xml().as_bytes()).ok(), Some(config));
    }

    #[test]
    fn arbitrary_bodies_never_panic(body in prop::collection::vec(any::<u8>(), 0..400), text in ".{0,200}") {
        for input in [body.as_slice(), text.as_bytes()] {
            let _ = DeleteRequest::parse(input);
            let _ = parse_complete_multipart_upload(input);
            let _ = parse_bucket_encryption(input);
            let _ = CreateBucketConfiguration::parse(input);
            let _ = parse_access_control_policy(input);
        }
    }

    #[test]
    fn xml_shaped_garbage_never_panics(parts in prop::collection::vec(
        prop::sample::select(vec!["<Delete>", "</Delete>", "<Object>", "</Object>", "<Key>", "</Key>", "&amp;", "&#x1;",
            "&#0;", "&x;", "<![CDATA[a]]>", "<!--c-->", "<?pi?>", "<Quiet>true</Quiet>", "<a:Key/>", "x"]), 0..30)) {
        let body = parts.concat();
        let _ = DeleteRequest::parse(body.as_bytes());
    }
}
