//! Tests of the error catalogue and its XML / `x-oss-err` rendering.

use base64::Engine as _;
use http::StatusCode;

use super::*;

#[test]
fn catalogue_statuses_match_the_pairs_oss2_maps() {
    let expected = [
        (ErrorCode::InvalidArgument, 400),
        (ErrorCode::AccessDenied, 403),
        (ErrorCode::InvalidAccessKeyId, 403),
        (ErrorCode::SignatureDoesNotMatch, 403),
        (ErrorCode::RequestTimeTooSkewed, 403),
        (ErrorCode::NotImplemented, 400),
        (ErrorCode::MissingContentLength, 411),
        (ErrorCode::InvalidDigest, 400),
        (ErrorCode::MalformedXML, 400),
        (ErrorCode::NoSuchBucket, 404),
        (ErrorCode::BucketNotEmpty, 409),
        (ErrorCode::NoSuchKey, 404),
        (ErrorCode::FileAlreadyExists, 409),
        (ErrorCode::ObjectNotAppendable, 409),
        (ErrorCode::PositionNotEqualToLength, 409),
        (ErrorCode::PreconditionFailed, 412),
        (ErrorCode::NotModified, 304),
        (ErrorCode::InvalidRange, 416),
        (ErrorCode::NoSuchUpload, 404),
        (ErrorCode::InvalidEncryptionAlgorithmError, 400),
        (ErrorCode::InvalidDataEncryptionAlgorithmError, 400),
        (ErrorCode::KeyNotFound, 404),
        (ErrorCode::KeyDisabled, 409),
        (ErrorCode::KeyPendingDeletion, 409),
        (ErrorCode::KeyPendingImport, 409),
        (ErrorCode::KmsServiceNotEnabled, 403),
        (ErrorCode::NoSuchServerSideEncryptionRule, 404),
        (ErrorCode::ServiceUnavailable, 503),
    ];
    for (code, status) in expected {
        assert_eq!(code.status().as_u16(), status, "{code}");
    }
}

#[test]
fn every_code_round_trips_through_its_string() {
    for &code in ErrorCode::ALL {
        assert_eq!(ErrorCode::from_code(code.as_str()), Some(code));
        assert!(code == ErrorCode::NotModified || !code.default_message().is_empty());
    }
    assert_eq!(ErrorCode::from_code("nosuchkey"), None);
}

#[test]
fn no_such_key_renders_the_documented_body() {
    let err = OssError::no_such_key("dir/a&b.txt")
        .request_id("5CAC0FEADE0170F6E2C01234")
        .host_id("bkt.localhost");
    assert_eq!(
        err.to_xml(),
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>NoSuchKey</Code>\
         <Message>The specified key does not exist.</Message><RequestId>5CAC0FEADE0170F6E2C01234</RequestId>\
         <HostId>bkt.localhost</HostId><Key>dir/a&amp;b.txt</Key><EC>0026-00000001</EC></Error>"
    );
    let rendered = err.render(false);
    assert_eq!(rendered.status, StatusCode::NOT_FOUND);
    assert_eq!(rendered.headers["content-type"], "application/xml");
    assert_eq!(rendered.headers["x-oss-request-id"], "5CAC0FEADE0170F6E2C01234");
    assert_eq!(rendered.headers["x-oss-ec"], "0026-00000001");
    assert!(rendered.headers.get("x-oss-err").is_none());
}

#[test]
fn head_errors_carry_the_body_in_x_oss_err() {
    let err = OssError::no_such_bucket("bkt").request_id("0123456789ABCDEF01234567");
    let rendered = err.render(true);
    assert!(rendered.body.is_empty());
    let header = rendered.headers["x-oss-err"]
        .to_str()
        .map(str::to_owned)
        .unwrap_or_default();
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(header)
        .unwrap_or_default();
    assert_eq!(String::from_utf8_lossy(&decoded), err.to_xml());
    assert!(err.to_xml().contains("<Code>NoSuchBucket</Code>"));
    assert!(err.to_xml().contains("<BucketName>bkt</BucketName>"));
}

#[test]
fn not_modified_has_no_body_even_for_get() {
    let rendered = OssError::not_modified().render(false);
    assert_eq!(rendered.status, StatusCode::NOT_MODIFIED);
    assert!(rendered.body.is_empty());
    assert!(rendered.headers.get("content-type").is_none());
}

#[test]
fn append_position_error_tells_the_next_position() {
    let rendered = OssError::position_not_equal_to_length(42).render(false);
    assert_eq!(rendered.status, StatusCode::CONFLICT);
    assert_eq!(rendered.headers["x-oss-next-append-position"], "42");
}

#[test]
fn cmk_conditions_map_to_section_8_3() {
    let cases = [
        (CmkCondition::Disabled, ErrorCode::KeyDisabled, 409),
        (CmkCondition::PendingDeletion, ErrorCode::KeyPendingDeletion, 409),
        (CmkCondition::PendingImport, ErrorCode::KeyPendingImport, 409),
        (CmkCondition::NotFound("k".into()), ErrorCode::KeyNotFound, 404),
        (
            CmkCondition::AliasNotFound("alias/x".into()),
            ErrorCode::AliasNotFound,
            404,
        ),
        (CmkCondition::MalformedKeyId, ErrorCode::InvalidParameter, 400),
        (
            CmkCondition::ServiceNotEnabled,
            ErrorCode::KmsServiceNotEnabled,
            403,
        ),
        (CmkCondition::Forbidden, ErrorCode::AccessDenied, 403),
    ];
    for (condition, code, status) in cases {
        let err = OssError::from(condition);
        assert_eq!(err.code(), code);
        assert_eq!(err.http_status().as_u16(), status);
    }
    assert_eq!(
        OssError::from(CmkCondition::Forbidden).message_text(),
        "This request is forbidden by kms."
    );
}

#[test]
fn malformed_xml_keeps_the_standard_sentence_and_adds_detail() {
    let err = OssError::malformed_xml("missing <Part>");
    assert!(
        err.message_text()
            .starts_with("The XML you provided was not well-formed")
    );
    assert!(err.message_text().contains("missing <Part>"));
    assert!(err.to_xml().contains("missing &lt;Part&gt;"));
}

#[test]
fn auth_errors_keep_code_status_and_extras() {
    let err = OssError::from(crate::auth::AuthError::InvalidAccessKeyId {
        access_key_id: "ak1".into(),
    });
    assert_eq!(err.code(), ErrorCode::InvalidAccessKeyId);
    assert_eq!(err.http_status(), StatusCode::FORBIDDEN);
    assert!(err.to_xml().contains("<OSSAccessKeyId>ak1</OSSAccessKeyId>"));
    let err = OssError::from(crate::auth::AuthError::AccessDenied {
        message: "Request has expired.",
    });
    assert_eq!(err.code(), ErrorCode::AccessDenied);
    assert_eq!(err.message_text(), "Request has expired.");
}

#[test]
fn host_id_is_escaped_and_omitted_when_unknown() {
    let err = OssError::access_denied("no").host_id("127.0.0.1:9000");
    assert!(err.to_xml().contains("<HostId>127.0.0.1:9000</HostId>"));
    let err = OssError::no_such_bucket("bkt").host_id("bkt.oss-cn-hangzhou.aliyuncs.com<&>");
    assert!(
        err.to_xml()
            .contains("<HostId>bkt.oss-cn-hangzhou.aliyuncs.com&lt;&amp;&gt;</HostId>")
    );
    // HEAD errors carry the same document, HostId included.
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(err.x_oss_err())
        .unwrap_or_default();
    assert!(String::from_utf8_lossy(&decoded).contains("<HostId>bkt.oss-cn-hangzhou.aliyuncs.com&lt;"));
    assert!(!OssError::access_denied("no").to_xml().contains("HostId"));
}

#[test]
fn payload_digest_mismatch_is_invalid_digest() {
    let err = OssError::content_sha256_mismatch();
    assert_eq!(
        (err.code(), err.http_status()),
        (ErrorCode::InvalidDigest, StatusCode::BAD_REQUEST)
    );
    assert!(err.message_text().contains("x-oss-content-sha256"));
}
