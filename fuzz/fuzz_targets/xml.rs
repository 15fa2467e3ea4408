//! Every XML request body the gateway parses: each parser returns a value or an OSS error on any bytes, and
//! what it accepts survives a write-and-parse round trip where the format has a writer.
#![no_main]

use cang_oss::xml::request::{
    CreateBucketConfiguration, DeleteRequest, bucket_encryption_xml, complete_multipart_upload_xml,
    parse_access_control_policy, parse_bucket_encryption, parse_complete_multipart_upload,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(config) = CreateBucketConfiguration::parse(data) {
        let again = CreateBucketConfiguration::parse(config.to_xml().as_bytes());
        assert_eq!(again.ok(), Some(config));
    }
    if let Ok(rule) = parse_bucket_encryption(data) {
        let again = parse_bucket_encryption(bucket_encryption_xml(&rule).as_bytes());
        assert_eq!(again.ok(), Some(rule));
    }
    if let Ok(delete) = DeleteRequest::parse(data) {
        let again = DeleteRequest::parse(delete.to_xml().as_bytes());
        assert_eq!(again.ok(), Some(delete));
    }
    if let Ok(parts) = parse_complete_multipart_upload(data) {
        let again = parse_complete_multipart_upload(complete_multipart_upload_xml(&parts).as_bytes());
        assert_eq!(again.ok(), Some(parts));
    }
    let _ = parse_access_control_policy(data);
});
