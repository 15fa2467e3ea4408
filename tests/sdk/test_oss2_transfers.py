"""oss2 (V1 and V4) beyond single requests: part copies into an upload whose SSE comes from the bucket default,
multi-threaded ranged downloads, presigned URLs, request conditions (Content-MD5, forbid-overwrite, If-*), user
metadata, and a CMK scheduled for deletion.
"""

import hashlib
import base64

import oss2
import pytest
import requests
from oss2.models import PartInfo

from cang_up import PART_SIZE
from oss2_calls import expect_error
from sse_cases import OBJECT_MODES, SSE, SSE_KEY_ID, assert_sse, crc64, etag_of, payload


@pytest.fixture
def bucket(oss2_factory, bucket_name):
    b = oss2_factory(bucket_name)
    b.create_bucket()
    return b


def test_upload_part_copy_takes_the_uploads_encryption(oss2_factory, bucket_name, cang, cmk):
    sm4 = OBJECT_MODES[2]
    b = oss2_factory(bucket_name)
    b.create_bucket(headers={SSE: "SM4"})
    source = payload(2 * PART_SIZE + 50, b"part-copy source")
    b.put_object("src", source, headers={SSE: "KMS", SSE_KEY_ID: cmk})

    init = b.init_multipart_upload("assembled")  # no header: the bucket default (SM4) is frozen here
    assert_sse(init.headers, sm4, cang, cmk)
    copied = b.upload_part_copy(b.bucket_name, "src", (PART_SIZE, 2 * PART_SIZE - 1), "assembled", init.upload_id, 1)
    assert copied.etag == etag_of(source[PART_SIZE : 2 * PART_SIZE])
    tail = b"tail written directly"
    uploaded = b.upload_part("assembled", init.upload_id, 2, tail)
    parts = [PartInfo(1, copied.etag), PartInfo(2, uploaded.etag, size=len(tail), part_crc=uploaded.crc)]
    done = b.complete_multipart_upload("assembled", init.upload_id, parts)

    expected = source[PART_SIZE : 2 * PART_SIZE] + tail
    assert done.crc == crc64(expected)
    got = b.get_object("assembled")
    assert got.read() == expected
    assert got.server_crc == crc64(expected)
    assert_sse(got.headers, sm4, cang, cmk)


def test_resumable_download_in_ranged_parts(bucket, cang, cmk, tmp_path):
    kms = OBJECT_MODES[6]
    data = payload(3 * PART_SIZE + 333, b"download")
    bucket.put_object("big", data, headers=kms.headers(cmk))
    target = tmp_path / "big.out"
    oss2.resumable_download(
        bucket,
        "big",
        str(target),
        multiget_threshold=PART_SIZE,
        part_size=PART_SIZE,
        num_threads=2,
        store=oss2.ResumableDownloadStore(root=str(tmp_path)),
    )
    assert target.read_bytes() == data


def test_presigned_urls(bucket, oss2_version):
    data = b"through a presigned URL"
    headers = {"Content-Type": "text/plain", "x-oss-server-side-encryption": "AES256"}
    put_url = bucket.sign_url("PUT", "signed", 300, headers=headers)
    answer = requests.put(put_url, data=data, headers=headers, timeout=10)
    assert answer.status_code == 200, answer.text
    assert answer.headers["ETag"].strip('"') == etag_of(data)
    assert answer.headers[SSE] == "AES256"

    answer = requests.get(bucket.sign_url("GET", "signed", 300), timeout=10)
    assert (answer.status_code, answer.content) == (200, data)
    assert answer.headers["x-oss-hash-crc64ecma"] == str(crc64(data))
    assert answer.headers["Content-Type"] == "text/plain"

    tampered = bucket.sign_url("GET", "signed", 300).replace("signed?", "other?", 1)
    answer = requests.get(tampered, timeout=10)
    assert answer.status_code == 403, f"{oss2_version}: {answer.text}"
    assert "<Code>SignatureDoesNotMatch</Code>" in answer.text


def test_request_conditions_and_metadata(bucket):
    data = b"conditions"
    wrong_md5 = base64.b64encode(hashlib.md5(b"something else").digest()).decode()
    with pytest.raises(oss2.exceptions.InvalidDigest) as excinfo:
        bucket.put_object("k", data, headers={"Content-MD5": wrong_md5})
    expect_error(excinfo, 400, "InvalidDigest")
    assert not bucket.object_exists("k")

    right_md5 = base64.b64encode(hashlib.md5(data).digest()).decode()
    put = bucket.put_object("k", data, headers={"Content-MD5": right_md5, "x-oss-meta-Owner": "Alice"})
    assert put.etag == etag_of(data)
    with pytest.raises(oss2.exceptions.ServerError) as excinfo:
        bucket.put_object("k", b"other", headers={"x-oss-forbid-overwrite": "true"})
    expect_error(excinfo, 409, "FileAlreadyExists")
    assert bucket.get_object("k").read() == data

    head = bucket.head_object("k")
    assert head.headers["x-oss-meta-owner"] == "Alice", "user metadata names are stored lower-cased"
    with pytest.raises(oss2.exceptions.NotModified) as excinfo:
        bucket.get_object("k", headers={"If-None-Match": f'"{put.etag}"'})
    assert excinfo.value.status == 304
    with pytest.raises(oss2.exceptions.PreconditionFailed) as excinfo:
        bucket.get_object("k", headers={"If-Match": '"00000000000000000000000000000000"'})
    expect_error(excinfo, 412, "PreconditionFailed")
    assert bucket.get_object("k", headers={"If-Match": f'"{put.etag}"'}).read() == data


def test_cmk_pending_deletion_refuses_use_until_cancelled(oss2_factory, bucket_name, cang):
    key = cang.create_key()
    b = oss2_factory(bucket_name)
    b.create_bucket(headers={SSE: "KMS", SSE_KEY_ID: key})
    b.put_object("k", b"kept if the deletion is cancelled")

    cang.admin("kms", "schedule-key-deletion", key, "--pending-window-in-days", "7")
    try:
        for call in (lambda: b.put_object("k2", b"v"), lambda: b.get_object("k")):
            with pytest.raises(oss2.exceptions.ServerError) as excinfo:
                call()
            expect_error(excinfo, 409, "KeyPendingDeletion")
    finally:
        cang.admin("kms", "cancel-key-deletion", key)
    assert b.get_object("k").read() == b"kept if the deletion is cancelled"
