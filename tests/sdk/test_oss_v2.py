"""alibabacloud-oss-v2 (default V4 signer and signature_version v1) against `cang up`: the same surface as the oss2
suite — bucket default encryption, objects in every SSE mode, ranges, listing, multipart through the uploader,
copy, append, multi-delete, and the service errors, RAM and KMS denials as the SDK reports them.

CRC-64 checks stay on (put, upload part, uploader complete, get_object_to_file); tests also compare the server's
CRC and ETag with values computed here.
"""

import re

import alibabacloud_oss_v2 as oss
import pytest

from cang_up import PART_SIZE, Credentials
from oss_v2_calls import M, create_bucket, exists, get, head, put, service_error, sse_fields, unquote
from sse_cases import BUCKET_MODES, OBJECT_MODES, SSE, SSE_KEY_ID, assert_sse, crc64, etag_of, payload

SEGMENT = 64 * 1024  # the server's default SSE segment size: ranges below straddle its boundaries


@pytest.fixture
def client(oss_v2_factory):
    return oss_v2_factory()


@pytest.fixture
def bucket(client, bucket_name):
    return create_bucket(client, bucket_name)


# --- buckets and bucket encryption ------------------------------------------------------------------------------


def encryption_rule(algorithm, key_id=None, data=None):
    return M.ServerSideEncryptionRule(
        apply_server_side_encryption_by_default=M.ApplyServerSideEncryptionByDefault(
            sse_algorithm=algorithm, kms_master_key_id=key_id, kms_data_encryption=data
        )
    )


def read_rule(client, bucket):
    by_default = client.get_bucket_encryption(
        M.GetBucketEncryptionRequest(bucket=bucket)
    ).server_side_encryption_rule.apply_server_side_encryption_by_default
    return by_default.sse_algorithm, by_default.kms_master_key_id, by_default.kms_data_encryption


@pytest.mark.parametrize("mode", BUCKET_MODES, ids=str)
def test_create_bucket_with_sse_headers_sets_the_default_rule(client, bucket_name, cang, cmk, mode):
    create_bucket(client, bucket_name, mode.headers(cmk))

    rule = client.get_bucket_info(M.GetBucketInfoRequest(bucket=bucket_name)).bucket_info.sse_rule
    expected = (mode.algorithm, cmk if mode.with_cmk else None, mode.expect_data)
    assert (rule.sse_algorithm, rule.kms_master_key_id, rule.kms_data_encryption) == expected
    assert read_rule(client, bucket_name) == expected

    data = payload(1000, mode.name.encode())
    result = put(client, bucket_name, "defaulted", data)
    assert_sse(result.headers, mode, cang, cmk)
    assert get(client, bucket_name, "defaulted")[1] == data
    explicit = put(client, bucket_name, "explicit", data, server_side_encryption="AES256")
    assert explicit.headers.get(SSE) == "AES256" and SSE_KEY_ID not in explicit.headers


def test_bucket_encryption_put_get_delete(client, bucket, cmk):
    with pytest.raises(oss.exceptions.OperationError) as excinfo:
        read_rule(client, bucket)
    service_error(excinfo, 404, "NoSuchServerSideEncryptionRule")
    info = client.get_bucket_info(M.GetBucketInfoRequest(bucket=bucket)).bucket_info
    assert info.sse_rule.sse_algorithm == "None"
    assert info.name == bucket

    request = M.PutBucketEncryptionRequest(
        bucket=bucket, server_side_encryption_rule=encryption_rule("KMS", cmk, "SM4")
    )
    assert client.put_bucket_encryption(request).status_code == 200
    assert read_rule(client, bucket) == ("KMS", cmk, "SM4")
    put(client, bucket, "under-kms", b"written under the CMK")

    request = M.PutBucketEncryptionRequest(bucket=bucket, server_side_encryption_rule=encryption_rule("SM4"))
    assert client.put_bucket_encryption(request).status_code == 200
    assert read_rule(client, bucket) == ("SM4", None, None)
    assert put(client, bucket, "under-sm4", b"x").headers.get(SSE) == "SM4"

    deleted = client.delete_bucket_encryption(M.DeleteBucketEncryptionRequest(bucket=bucket))
    assert deleted.status_code == 204
    with pytest.raises(oss.exceptions.OperationError) as excinfo:
        read_rule(client, bucket)
    service_error(excinfo, 404, "NoSuchServerSideEncryptionRule")

    # Changing the default never touches existing objects.
    old = head(client, bucket, "under-kms")
    assert (old.server_side_encryption, old.server_side_encryption_key_id) == ("KMS", cmk)
    assert get(client, bucket, "under-kms")[1] == b"written under the CMK"
    assert SSE not in put(client, bucket, "after-delete", b"plain").headers

    # DeleteBucketEncryption answers 204 also when there is no rule (oss-api.md §5.3).
    again = client.delete_bucket_encryption(M.DeleteBucketEncryptionRequest(bucket=bucket))
    assert again.status_code == 204, "deleting an absent rule also succeeds"


def test_bucket_listing_and_deletion(client, bucket_name):
    create_bucket(client, bucket_name)
    names = [b.name for page in client.list_buckets_paginator().iter_page(M.ListBucketsRequest()) for b in page.buckets]
    assert bucket_name in names
    assert client.is_bucket_exist(bucket_name)
    assert client.delete_bucket(M.DeleteBucketRequest(bucket=bucket_name)).status_code == 204
    assert not client.is_bucket_exist(bucket_name)


# --- objects ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", OBJECT_MODES, ids=str)
def test_object_roundtrip_in_each_sse_mode(client, bucket, cang, cmk, mode, tmp_path):
    data = payload(3 * SEGMENT + 17, mode.name.encode())
    result = put(client, bucket, "obj", data, **sse_fields(mode, cmk))
    assert result.status_code == 200
    assert unquote(result.etag) == etag_of(data)
    assert result.hash_crc64 == str(crc64(data))
    assert_sse(result.headers, mode, cang, cmk)

    got, body = get(client, bucket, "obj")
    assert body == data
    assert got.hash_crc64 == str(crc64(data))
    assert unquote(got.etag) == etag_of(data)
    assert (got.content_length, got.object_type) == (len(data), "Normal")
    assert (got.server_side_encryption, got.server_side_data_encryption) == (mode.algorithm, mode.expect_data)
    assert got.server_side_encryption_key_id == mode.expected_key_id(cang, cmk)

    # get_object_to_file checks the whole-object CRC against x-oss-hash-crc64ecma.
    target = tmp_path / "obj"
    client.get_object_to_file(M.GetObjectRequest(bucket=bucket, key="obj"), str(target))
    assert target.read_bytes() == data

    meta = head(client, bucket, "obj")
    assert (meta.content_length, unquote(meta.etag), meta.hash_crc64) == (len(data), etag_of(data), str(crc64(data)))
    assert_sse(meta.headers, mode, cang, cmk)
    assert client.get_object_meta(M.GetObjectMetaRequest(bucket=bucket, key="obj")).content_length == len(data)

    deleted = client.delete_object(M.DeleteObjectRequest(bucket=bucket, key="obj"))
    assert deleted.status_code == 204
    assert not exists(client, bucket, "obj")
    with pytest.raises(oss.exceptions.OperationError) as excinfo:
        head(client, bucket, "obj")
    service_error(excinfo, 404, "NoSuchKey")  # the code travels in x-oss-err


@pytest.mark.parametrize("mode", [OBJECT_MODES[0], OBJECT_MODES[2], OBJECT_MODES[6]], ids=str)
def test_range_reads(client, bucket, cang, cmk, mode):
    data = payload(3 * SEGMENT + 100, b"ranges")
    size = len(data)
    put(client, bucket, "ranged", data, **sse_fields(mode, cmk))
    cases = [
        ("bytes=0-0", 0, 0),
        (f"bytes={SEGMENT - 1}-{SEGMENT}", SEGMENT - 1, SEGMENT),
        (f"bytes={SEGMENT - 10}-{2 * SEGMENT + 10}", SEGMENT - 10, 2 * SEGMENT + 10),
        (f"bytes={2 * SEGMENT}-", 2 * SEGMENT, size - 1),
        ("bytes=-10", size - 10, size - 1),
    ]
    for range_header, first, last in cases:
        got, body = get(client, bucket, "ranged", range_header=range_header, range_behavior="standard")
        assert got.status_code == 206, range_header
        assert got.content_range == f"bytes {first}-{last}/{size}"
        assert body == data[first : last + 1], range_header
        assert_sse(got.headers, mode, cang, cmk)

    clamped, body = get(
        client, bucket, "ranged", range_header=f"bytes={size - 5}-{size + 100}", range_behavior="standard"
    )
    assert (clamped.status_code, body) == (206, data[-5:])
    with pytest.raises(oss.exceptions.OperationError) as excinfo:
        get(client, bucket, "ranged", range_header=f"bytes={size}-", range_behavior="standard")
    service_error(excinfo, 416, "InvalidRange")
    # Without the standard behaviour an unsatisfiable range is ignored: the whole object, 200.
    whole, body = get(client, bucket, "ranged", range_header=f"bytes={size}-{size + 10}")
    assert (whole.status_code, body) == (200, data)


LIST_KEYS = ["a/1", "a/2", "a/b/3", "a/x y+z", "c", "d/4"]


def test_list_objects_v1_and_v2(client, bucket):
    for i, key in enumerate(LIST_KEYS):
        put(client, bucket, key, payload(i + 1, key.encode()))

    v1 = client.list_objects(M.ListObjectsRequest(bucket=bucket, prefix="a/", delimiter="/", encoding_type="url"))
    assert [o.key for o in v1.contents] == ["a/1", "a/2", "a/x y+z"]
    assert [p.prefix for p in v1.common_prefixes] == ["a/b/"]
    assert v1.is_truncated is False
    first = v1.contents[0]
    assert (first.size, unquote(first.etag), first.object_type) == (1, etag_of(payload(1, b"a/1")), "Normal")
    top = client.list_objects(M.ListObjectsRequest(bucket=bucket, delimiter="/"))
    assert [o.key for o in top.contents] == ["c"]
    assert [p.prefix for p in top.common_prefixes] == ["a/", "d/"]
    pages = list(client.list_objects_paginator(limit=2).iter_page(M.ListObjectsRequest(bucket=bucket)))
    assert [len(p.contents) for p in pages] == [2, 2, 2]
    assert [o.key for p in pages for o in p.contents] == LIST_KEYS

    v2 = client.list_objects_v2(M.ListObjectsV2Request(bucket=bucket, prefix="a/", delimiter="/", encoding_type="url"))
    assert [o.key for o in v2.contents] == ["a/1", "a/2", "a/x y+z"]
    assert [p.prefix for p in v2.common_prefixes] == ["a/b/"]
    assert v2.key_count == 4
    pages = list(client.list_objects_v2_paginator(limit=4).iter_page(M.ListObjectsV2Request(bucket=bucket)))
    assert [o.key for p in pages for o in p.contents] == LIST_KEYS
    assert pages[0].is_truncated and pages[0].next_continuation_token
    after = client.list_objects_v2(M.ListObjectsV2Request(bucket=bucket, start_after="a/b/3"))
    assert [o.key for o in after.contents] == LIST_KEYS[3:]
    sizes = {o.key: o.size for o in client.list_objects_v2(M.ListObjectsV2Request(bucket=bucket, prefix="a/")).contents}
    assert sizes == {"a/1": 1, "a/2": 2, "a/b/3": 3, "a/x y+z": 4}


def test_multipart_upload_with_sse(client, bucket, cang, cmk):
    mode = OBJECT_MODES[5]  # KMS with SM4 data encryption under the default CMK
    data = payload(2 * PART_SIZE + 1234, b"multipart")
    init = client.initiate_multipart_upload(
        M.InitiateMultipartUploadRequest(bucket=bucket, key="mp", **sse_fields(mode, cmk))
    )
    assert_sse(init.headers, mode, cang, cmk)
    upload_id = init.upload_id

    parts = []
    for number, start in enumerate(range(0, len(data), PART_SIZE), start=1):
        chunk = data[start : start + PART_SIZE]
        result = client.upload_part(
            M.UploadPartRequest(bucket=bucket, key="mp", upload_id=upload_id, part_number=number, body=chunk)
        )
        assert unquote(result.etag) == etag_of(chunk)
        assert result.hash_crc64 == str(crc64(chunk))
        assert_sse(result.headers, mode, cang, cmk)
        parts.append(M.UploadPart(part_number=number, etag=result.etag))
    listed = client.list_parts(M.ListPartsRequest(bucket=bucket, key="mp", upload_id=upload_id))
    assert [(p.part_number, unquote(p.etag), p.size) for p in listed.parts] == [
        (1, etag_of(data[:PART_SIZE]), PART_SIZE),
        (2, etag_of(data[PART_SIZE : 2 * PART_SIZE]), PART_SIZE),
        (3, etag_of(data[2 * PART_SIZE :]), 1234),
    ]

    complete = M.CompleteMultipartUploadRequest(
        bucket=bucket, key="mp", upload_id=upload_id, complete_multipart_upload=M.CompleteMultipartUpload(parts=parts)
    )
    with pytest.raises(oss.exceptions.OperationError) as excinfo:
        client.complete_multipart_upload(
            M.CompleteMultipartUploadRequest(
                bucket=bucket,
                key="mp",
                upload_id=upload_id,
                complete_multipart_upload=M.CompleteMultipartUpload(parts=parts),
                headers={SSE: "AES256"},
            )
        )
    service_error(excinfo, 400, "InvalidArgument")
    done = client.complete_multipart_upload(complete)
    assert re.fullmatch(r"[0-9A-F]{32}-3", unquote(done.etag)), done.etag
    assert done.hash_crc64 == str(crc64(data))
    assert_sse(done.headers, mode, cang, cmk)

    meta = head(client, bucket, "mp")
    assert (meta.content_length, meta.object_type, meta.hash_crc64) == (len(data), "Multipart", str(crc64(data)))
    assert_sse(meta.headers, mode, cang, cmk)
    assert get(client, bucket, "mp")[1] == data
    across = get(client, bucket, "mp", range_header=f"bytes={PART_SIZE - 3}-{PART_SIZE + 2}", range_behavior="standard")
    assert across[1] == data[PART_SIZE - 3 : PART_SIZE + 3]
    with pytest.raises(oss.exceptions.OperationError) as excinfo:
        client.list_parts(M.ListPartsRequest(bucket=bucket, key="mp", upload_id=upload_id))
    service_error(excinfo, 404, "NoSuchUpload")


def test_uploader_and_abort(client, bucket, cang, cmk, tmp_path):
    mode = OBJECT_MODES[1]  # AES256
    data = payload(3 * PART_SIZE + 7, b"uploader")
    source = tmp_path / "big.bin"
    source.write_bytes(data)
    uploader = client.uploader(part_size=PART_SIZE, parallel_num=2)
    # The uploader checks the CRC of the completed object against the combination of the part CRCs.
    result = uploader.upload_file(
        M.PutObjectRequest(bucket=bucket, key="uploaded", **sse_fields(mode, cmk)), str(source)
    )
    assert re.fullmatch(r"[0-9A-F]{32}-4", unquote(result.etag)), result.etag
    assert result.hash_crc64 == str(crc64(data))
    meta = head(client, bucket, "uploaded")
    assert (meta.object_type, meta.content_length) == ("Multipart", len(data))
    assert_sse(meta.headers, mode, cang, cmk)
    target = tmp_path / "back.bin"
    client.get_object_to_file(M.GetObjectRequest(bucket=bucket, key="uploaded"), str(target))
    assert target.read_bytes() == data

    upload_id = client.initiate_multipart_upload(
        M.InitiateMultipartUploadRequest(bucket=bucket, key="aborted")
    ).upload_id
    with pytest.raises(oss.exceptions.OperationError) as excinfo:
        client.upload_part(
            M.UploadPartRequest(
                bucket=bucket, key="aborted", upload_id=upload_id, part_number=1, body=b"x", headers={SSE: "KMS"}
            )
        )
    service_error(excinfo, 400, "InvalidArgument")
    listed = client.list_multipart_uploads(M.ListMultipartUploadsRequest(bucket=bucket))
    assert [(u.key, u.upload_id) for u in listed.uploads] == [("aborted", upload_id)]
    aborted = client.abort_multipart_upload(
        M.AbortMultipartUploadRequest(bucket=bucket, key="aborted", upload_id=upload_id)
    )
    assert aborted.status_code == 204
    assert not client.list_multipart_uploads(M.ListMultipartUploadsRequest(bucket=bucket)).uploads
    assert not exists(client, bucket, "aborted")


def test_copy_object_does_not_inherit_sse(client, bucket, cmk):
    data = payload(SEGMENT + 5, b"copy")
    put(client, bucket, "src", data, server_side_encryption="KMS", server_side_encryption_key_id=cmk)

    def copy(dest_bucket, key, **fields):
        return client.copy_object(
            M.CopyObjectRequest(bucket=dest_bucket, key=key, source_bucket=bucket, source_key="src", **fields)
        )

    plain = copy(bucket, "plain-copy")
    assert unquote(plain.etag) == etag_of(data)
    assert plain.server_side_encryption is None
    meta = head(client, bucket, "plain-copy")
    assert meta.server_side_encryption is None and meta.hash_crc64 == str(crc64(data))
    assert get(client, bucket, "plain-copy")[1] == data

    aes = copy(bucket, "aes-copy", server_side_encryption="AES256")
    assert (aes.server_side_encryption, aes.server_side_encryption_key_id) == ("AES256", None)
    assert get(client, bucket, "aes-copy")[1] == data

    # Into another bucket whose default is SM4: the destination's default applies.
    dest = create_bucket(client, f"{bucket}-d", {SSE: "SM4"})
    copied = copy(dest, "dir/copied")
    assert copied.server_side_encryption == "SM4"
    got, body = get(client, dest, "dir/copied")
    assert body == data
    assert (got.server_side_encryption, got.hash_crc64) == ("SM4", str(crc64(data)))

    with pytest.raises(oss.exceptions.OperationError) as excinfo:
        client.copy_object(M.CopyObjectRequest(bucket=bucket, key="never", source_bucket=bucket, source_key="missing"))
    service_error(excinfo, 404, "NoSuchKey")


def test_append_object(client, bucket, cang, cmk):
    kms = OBJECT_MODES[4]

    def append(position, body, **fields):
        return client.append_object(
            M.AppendObjectRequest(bucket=bucket, key="log", position=position, body=body, **fields)
        )

    first = append(0, b"abc", **sse_fields(kms, cmk))
    assert (first.next_position, first.hash_crc64) == (3, str(crc64(b"abc")))
    assert_sse(first.headers, kms, cang, cmk)
    # SSE is fixed by the first append; a later header does not change it.
    second = append(3, b"defg", server_side_encryption="AES256")
    assert (second.next_position, second.hash_crc64) == (7, str(crc64(b"abcdefg")))
    assert_sse(second.headers, kms, cang, cmk)

    with pytest.raises(oss.exceptions.OperationError) as excinfo:
        append(5, b"x")
    err = service_error(excinfo, 409, "PositionNotEqualToLength")
    assert err.headers.get("x-oss-next-append-position") == "7"

    got, body = get(client, bucket, "log")
    assert body == b"abcdefg"
    assert (got.object_type, got.next_append_position) == ("Appendable", 7)
    assert_sse(got.headers, kms, cang, cmk)

    put(client, bucket, "normal", b"n")
    with pytest.raises(oss.exceptions.OperationError) as excinfo:
        client.append_object(M.AppendObjectRequest(bucket=bucket, key="normal", position=1, body=b"more"))
    service_error(excinfo, 409, "ObjectNotAppendable")


def test_delete_multiple_objects(client, bucket):
    keys = ["one", "dir/two", "three four+five"]
    for key in keys:
        put(client, bucket, key, b"x")
    objects = [M.ObjectIdentifier(key=k) for k in keys + ["never-existed"]]
    result = client.delete_multiple_objects(
        M.DeleteMultipleObjectsRequest(
            bucket=bucket, encoding_type="url", delete=M.Delete(objects=objects, quiet=False)
        )
    )
    assert sorted(d.key for d in result.deleted_objects) == sorted(keys + ["never-existed"])
    assert not client.list_objects_v2(M.ListObjectsV2Request(bucket=bucket)).contents


# --- errors, RAM and KMS ----------------------------------------------------------------------------------------


def test_missing_key_and_bucket(client, bucket):
    with pytest.raises(oss.exceptions.OperationError) as excinfo:
        get(client, bucket, "absent")
    service_error(excinfo, 404, "NoSuchKey")
    assert not exists(client, bucket, "absent")

    missing = f"{bucket}-none"
    with pytest.raises(oss.exceptions.OperationError) as excinfo:
        get(client, missing, "k")
    service_error(excinfo, 404, "NoSuchBucket")
    with pytest.raises(oss.exceptions.OperationError) as excinfo:
        put(client, missing, "k", b"v")
    service_error(excinfo, 404, "NoSuchBucket")
    with pytest.raises(oss.exceptions.OperationError) as excinfo:
        head(client, missing, "k")
    service_error(excinfo, 404, "NoSuchBucket")
    assert not client.is_bucket_exist(missing)


def test_invalid_sse_algorithm(client, bucket):
    with pytest.raises(oss.exceptions.OperationError) as excinfo:
        put(client, bucket, "k", b"v", server_side_encryption="DES")
    service_error(excinfo, 400, "InvalidEncryptionAlgorithmError")
    assert not exists(client, bucket, "k")

    request = M.PutBucketEncryptionRequest(bucket=bucket, server_side_encryption_rule=encryption_rule("random"))
    with pytest.raises(oss.exceptions.OperationError) as excinfo:
        client.put_bucket_encryption(request)
    service_error(excinfo, 400, "InvalidEncryptionAlgorithmError")

    with pytest.raises(oss.exceptions.OperationError) as excinfo:
        create_bucket(client, f"{bucket}-bad", {SSE: "aes256"})
    service_error(excinfo, 400, "InvalidEncryptionAlgorithmError")


def test_wrong_secret_is_signature_mismatch(client, bucket, cang, oss_v2_factory):
    forged = oss_v2_factory(Credentials(cang.root.access_key_id, "not-the-secret"))
    with pytest.raises(oss.exceptions.OperationError) as excinfo:
        put(forged, bucket, "k", b"v")
    service_error(excinfo, 403, "SignatureDoesNotMatch")
    with pytest.raises(oss.exceptions.OperationError) as excinfo:
        forged.get_bucket_info(M.GetBucketInfoRequest(bucket=bucket))
    service_error(excinfo, 403, "SignatureDoesNotMatch")
    assert not exists(client, bucket, "k")


def test_ram_user_without_policy_is_denied(client, bucket, cang, oss_v2_factory, tmp_path):
    put(client, bucket, "k", b"v")
    nobody = oss_v2_factory(cang.ram_user([], tmp_path))
    for call in (
        lambda: get(nobody, bucket, "k"),
        lambda: put(nobody, bucket, "k2", b"v"),
        lambda: nobody.get_bucket_info(M.GetBucketInfoRequest(bucket=bucket)),
    ):
        with pytest.raises(oss.exceptions.OperationError) as excinfo:
            call()
        service_error(excinfo, 403, "AccessDenied")


def test_ram_kms_permissions_for_a_cmk_bucket(client, bucket_name, cang, cmk, oss_v2_factory, tmp_path):
    """The seed's RAM examples: upload under a CMK needs kms:GenerateDataKey, download needs kms:Decrypt."""
    create_bucket(client, bucket_name, {SSE: "KMS", SSE_KEY_ID: cmk})
    account = cang.account_id()
    oss_objects = {
        "Effect": "Allow",
        "Action": ["oss:PutObject", "oss:GetObject"],
        "Resource": [f"acs:oss:*:{account}:{bucket_name}/*"],
    }

    def kms(*actions):
        return {"Effect": "Allow", "Action": list(actions), "Resource": [f"acs:kms:*:{account}:*"]}

    no_gdk = oss_v2_factory(cang.ram_user([oss_objects, kms("kms:List*", "kms:DescribeKey")], tmp_path))
    with pytest.raises(oss.exceptions.OperationError) as excinfo:
        put(no_gdk, bucket_name, "secret", b"classified")
    assert "forbidden by kms" in service_error(excinfo, 403, "AccessDenied").message
    assert not exists(client, bucket_name, "secret")

    writer = oss_v2_factory(
        cang.ram_user([oss_objects, kms("kms:List*", "kms:DescribeKey", "kms:GenerateDataKey")], tmp_path)
    )
    result = put(writer, bucket_name, "secret", b"classified")
    assert (result.headers.get(SSE), result.headers.get(SSE_KEY_ID)) == ("KMS", cmk)
    with pytest.raises(oss.exceptions.OperationError) as excinfo:
        get(writer, bucket_name, "secret")
    assert "forbidden by kms" in service_error(excinfo, 403, "AccessDenied").message

    reader = oss_v2_factory(cang.ram_user([oss_objects, kms("kms:Decrypt")], tmp_path))
    assert get(reader, bucket_name, "secret")[1] == b"classified"


def test_disabled_cmk_is_key_disabled(client, bucket_name, cang):
    key = cang.create_key()
    create_bucket(client, bucket_name, {SSE: "KMS", SSE_KEY_ID: key})
    put(client, bucket_name, "k", b"under a key about to be disabled")

    cang.admin("kms", "disable-key", key)
    try:
        for call in (lambda: put(client, bucket_name, "k2", b"v"), lambda: get(client, bucket_name, "k")):
            with pytest.raises(oss.exceptions.OperationError) as excinfo:
                call()
            assert "Disabled" in service_error(excinfo, 409, "KeyDisabled").message
        assert not exists(client, bucket_name, "k2")
    finally:
        cang.admin("kms", "enable-key", key)
    assert get(client, bucket_name, "k")[1] == b"under a key about to be disabled"
    assert put(client, bucket_name, "k2", b"v").headers.get(SSE_KEY_ID) == key
