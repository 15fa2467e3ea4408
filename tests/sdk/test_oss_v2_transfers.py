"""alibabacloud-oss-v2 (V4 and V1) beyond single requests: part copies into an upload whose SSE comes from the
bucket default, the downloader's parallel ranged reads (checked against the HEAD CRC), presigned URLs, request
conditions (Content-MD5, forbid-overwrite, If-*), user metadata, and a CMK scheduled for deletion.
"""

import base64
import datetime
import hashlib

import alibabacloud_oss_v2 as oss
import pytest
import requests

from cang_up import PART_SIZE
from oss_v2_calls import M, create_bucket, exists, get, head, put, service_error, unquote
from sse_cases import OBJECT_MODES, SSE, SSE_KEY_ID, assert_sse, crc64, etag_of, payload


@pytest.fixture
def client(oss_v2_factory):
    return oss_v2_factory()


@pytest.fixture
def bucket(client, bucket_name):
    return create_bucket(client, bucket_name)


def test_upload_part_copy_takes_the_uploads_encryption(client, bucket_name, cang, cmk):
    sm4 = OBJECT_MODES[2]
    create_bucket(client, bucket_name, {SSE: "SM4"})
    source = payload(2 * PART_SIZE + 50, b"part-copy source")
    put(client, bucket_name, "src", source, server_side_encryption="KMS", server_side_encryption_key_id=cmk)

    # No header: the bucket default (SM4) is frozen at initiation.
    init = client.initiate_multipart_upload(M.InitiateMultipartUploadRequest(bucket=bucket_name, key="assembled"))
    assert_sse(init.headers, sm4, cang, cmk)
    copied = client.upload_part_copy(
        M.UploadPartCopyRequest(
            bucket=bucket_name,
            key="assembled",
            upload_id=init.upload_id,
            part_number=1,
            source_bucket=bucket_name,
            source_key="src",
            source_range=f"bytes={PART_SIZE}-{2 * PART_SIZE - 1}",
        )
    )
    assert unquote(copied.etag) == etag_of(source[PART_SIZE : 2 * PART_SIZE])
    tail = b"tail written directly"
    uploaded = client.upload_part(
        M.UploadPartRequest(bucket=bucket_name, key="assembled", upload_id=init.upload_id, part_number=2, body=tail)
    )
    parts = [M.UploadPart(part_number=1, etag=copied.etag), M.UploadPart(part_number=2, etag=uploaded.etag)]
    done = client.complete_multipart_upload(
        M.CompleteMultipartUploadRequest(
            bucket=bucket_name,
            key="assembled",
            upload_id=init.upload_id,
            complete_multipart_upload=M.CompleteMultipartUpload(parts=parts),
        )
    )

    expected = source[PART_SIZE : 2 * PART_SIZE] + tail
    assert done.hash_crc64 == str(crc64(expected))
    got, body = get(client, bucket_name, "assembled")
    assert body == expected
    assert got.hash_crc64 == str(crc64(expected))
    assert_sse(got.headers, sm4, cang, cmk)


def test_downloader_in_ranged_parts(client, bucket, cmk, tmp_path):
    data = payload(3 * PART_SIZE + 333, b"download")
    put(client, bucket, "big", data, server_side_encryption="KMS", server_side_encryption_key_id=cmk)
    target = tmp_path / "big.out"
    # The downloader reads with x-oss-range-behavior: standard and compares the combined part CRCs with HEAD's.
    result = client.downloader(part_size=PART_SIZE, parallel_num=2).download_file(
        M.GetObjectRequest(bucket=bucket, key="big"), str(target)
    )
    assert result.written == len(data)
    assert target.read_bytes() == data


def test_presigned_urls(client, bucket, oss_v2_version):
    data = b"through a presigned URL"
    expires = datetime.timedelta(minutes=5)
    signed_put = client.presign(
        M.PutObjectRequest(bucket=bucket, key="signed", content_type="text/plain", server_side_encryption="AES256"),
        expires=expires,
    )
    answer = requests.put(signed_put.url, data=data, headers=signed_put.signed_headers, timeout=10)
    assert answer.status_code == 200, answer.text
    assert unquote(answer.headers["ETag"]) == etag_of(data)
    assert answer.headers[SSE] == "AES256"

    signed_get = client.presign(M.GetObjectRequest(bucket=bucket, key="signed"), expires=expires)
    answer = requests.get(signed_get.url, headers=signed_get.signed_headers, timeout=10)
    assert (answer.status_code, answer.content) == (200, data)
    assert answer.headers["x-oss-hash-crc64ecma"] == str(crc64(data))
    assert answer.headers["Content-Type"] == "text/plain"

    tampered = signed_get.url.replace("/signed?", "/other?", 1)
    answer = requests.get(tampered, headers=signed_get.signed_headers, timeout=10)
    assert answer.status_code == 403, f"{oss_v2_version}: {answer.text}"
    assert "<Code>SignatureDoesNotMatch</Code>" in answer.text


def test_request_conditions_and_metadata(client, bucket):
    data = b"conditions"
    wrong_md5 = base64.b64encode(hashlib.md5(b"something else").digest()).decode()
    with pytest.raises(oss.exceptions.OperationError) as excinfo:
        put(client, bucket, "k", data, content_md5=wrong_md5)
    service_error(excinfo, 400, "InvalidDigest")
    assert not exists(client, bucket, "k")

    result = put(client, bucket, "k", data, metadata={"Owner": "Alice"})
    with pytest.raises(oss.exceptions.OperationError) as excinfo:
        put(client, bucket, "k", b"other", forbid_overwrite=True)
    service_error(excinfo, 409, "FileAlreadyExists")
    assert get(client, bucket, "k")[1] == data

    assert head(client, bucket, "k").metadata == {"owner": "Alice"}, "user metadata names are stored lower-cased"
    with pytest.raises(oss.exceptions.OperationError) as excinfo:
        get(client, bucket, "k", if_none_match=result.etag)
    assert excinfo.value.unwrap().status_code == 304
    with pytest.raises(oss.exceptions.OperationError) as excinfo:
        get(client, bucket, "k", if_match='"00000000000000000000000000000000"')
    service_error(excinfo, 412, "PreconditionFailed")
    assert get(client, bucket, "k", if_match=result.etag)[1] == data


def test_cmk_pending_deletion_refuses_use_until_cancelled(client, bucket_name, cang):
    key = cang.create_key()
    create_bucket(client, bucket_name, {SSE: "KMS", SSE_KEY_ID: key})
    put(client, bucket_name, "k", b"kept if the deletion is cancelled")

    cang.admin("kms", "schedule-key-deletion", key, "--pending-window-in-days", "7")
    try:
        for call in (lambda: put(client, bucket_name, "k2", b"v"), lambda: get(client, bucket_name, "k")):
            with pytest.raises(oss.exceptions.OperationError) as excinfo:
                call()
            service_error(excinfo, 409, "KeyPendingDeletion")
    finally:
        cang.admin("kms", "cancel-key-deletion", key)
    assert get(client, bucket_name, "k")[1] == b"kept if the deletion is cancelled"
